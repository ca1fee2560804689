"""``symforget simulate`` and ``symforget compare``: finite-batch and method experiments.

Imports only the standard library at import time (``symforget --help`` stays fast); the
experiments are imported inside the commands. A method's options are generated from its
``PARAMS`` declaration, read from the module source without importing it
(:func:`symforget.methods.declared_params`).

``simulate replay`` is the finite-batch replay experiment (unchanged); the replay *method* (SFT
with a replay fraction) is ``simulate sft-replay``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .args import EXIT_OK, EXIT_USAGE, STATUS, Ticker, int_option, output_error
from .args import error as _err
from .args import progress_line as _progress_line

__all__ = ["register", "SIMULATE_ALIASES"]

#: CLI name → method name (``replay`` stays the replay experiment)
SIMULATE_ALIASES = {"sft": "sft", "rkl": "rkl", "sft-replay": "replay", "sdft": "sdft",
                    "tttd": "tttd", "oapl": "oapl", "chen-rl": "chen-rl"}
#: options every method command has (a method parameter with one of these names is renamed)
_COMMON = {"alpha", "delta", "mu_old_star", "mu_new_star", "sigma", "w0", "mu_old0", "mu_new0",
           "steps", "seed", "batch", "json", "plot", "help", "sigma_old_star", "sigma_new_star",
           "s_old0", "s_new0", "preset", "clip", "lr_scale", "weight_param", "learn_scales",
           "fixed_scales", "scale_floor", "density", "density_steps", "set", "list_presets",
           "estimator"}
#: the Problem fields settable from the command line (and by a preset)
_PROBLEM_FIELDS = ("alpha", "sigma", "w0", "mu_old_star", "mu_new_star", "mu_old0", "mu_new0",
                   "sigma_old_star", "sigma_new_star", "s_old0", "s_new0")

_SIMULATE_EPILOG = """\
Exit code 0 on success, 2 for a usage error (a parameter out of range, an unknown method,
matplotlib missing for --plot).

examples:
  symforget simulate replay --w 0.05 --rho 0 0.1 0.3
  symforget simulate sdft --teacher anchored --anchor-weight 0.5 --alpha 0.3 --steps 300
  symforget simulate sdft --ema 0 --batch 32 --seed 1 --json sdft.json
  symforget simulate tttd --kl-coef 0.1 --batch 32       # prints the starved-group fraction
  symforget simulate oapl --lag 100 --reward quadratic --plot oapl.png
  symforget simulate sdft --learn-scales --sigma-old-star 0.7   # five-parameter run
  symforget simulate tttd --preset chen2025 --batch 0           # Chen et al.'s problem, exact
"""

_COMPARE_EPILOG = """\
Runs SFT, RKL, replay, SDFT, TTT-Discover, OAPL and chen-rl (each with its default
parameters, the same as simulate's and the API's) on the same problem and prints final/min
old weight, max old-mean drift and new-task error. The same seed gives the same table and
byte-identical JSON. Exit code 0, or 2 for a usage error.

examples:
  symforget compare --alpha 0.3
  symforget compare --alpha 0.3 --steps 400 --json compare.json --plot compare.png
  symforget compare --batch 32 --seed 1
  symforget compare --variants                             # robustness of the conclusions
  symforget compare --preset chen2025                      # all seven on their problem
  symforget compare --preset chen2025 --set sft.eta=0.01 --set chen-rl.beta=0.2
"""


def _add_problem_options(p: argparse.ArgumentParser) -> None:
    """Problem, run-length and output options shared by the method commands and compare."""
    g = p.add_argument_group("problem (default: symforget.methods.base.Problem())")
    g.add_argument("--alpha", type=float, default=None, help="old mass alpha in (0, 1) of p*")
    g.add_argument("--delta", type=float, default=None,
                   help="separation: mu_new* = mu_old* + delta*sigma (excludes --mu-new-star)")
    g.add_argument("--mu-old-star", type=float, default=None, help="old-task mean mu_old*")
    g.add_argument("--mu-new-star", type=float, default=None, help="new-task mean mu_new*")
    g.add_argument("--sigma", type=float, default=None, help="shared scale sigma > 0")
    g.add_argument("--w0", type=float, default=None, help="initial old weight in (0, 1)")
    g.add_argument("--mu-old0", type=float, default=None,
                   help="initial old mean (default mu_old*: old task known)")
    g.add_argument("--mu-new0", type=float, default=None,
                   help="initial new mean (default mu_new* - 2 sigma: new task not learned)")
    g.add_argument("--sigma-old-star", type=float, default=None,
                   help="scale of the target's old component (default sigma)")
    g.add_argument("--sigma-new-star", type=float, default=None,
                   help="scale of the target's new component (default sigma)")
    g.add_argument("--s-old0", type=float, default=None,
                   help="initial scale of the student's old component (default sigma)")
    g.add_argument("--s-new0", type=float, default=None,
                   help="initial scale of the student's new component (default sigma)")
    s = p.add_argument_group(
        "stepping (five-parameter runs of every method: w, mu_old, sigma_old, mu_new, "
        "sigma_new)")
    s.add_argument("--preset", metavar="NAME", default=None,
                   help="a named experiment (problem, start, stepping, batch, steps, method "
                        "parameters); options given here override it; see simulate "
                        "--list-presets")
    s.add_argument("--learn-scales", dest="learn_scales", action="store_const", const=True,
                   default=None, help="the component scales take gradient steps too")
    s.add_argument("--fixed-scales", dest="learn_scales", action="store_const", const=False,
                   help="the component scales stay at their start values (default; oapl "
                        "without stepping options learns them: its map carries them)")
    s.add_argument("--weight-param", choices=("raw", "logit"), default=None,
                   help="coordinate of the weight's gradient step (default logit)")
    s.add_argument("--clip", metavar="LO,HI", default=None,
                   help="with --weight-param raw: clip w to [LO, HI] after each step "
                        "(default: a step leaving (0, 1) is an error)")
    s.add_argument("--lr-scale", metavar="NAME=F,...", default=None,
                   help="per-parameter learning-rate multipliers, NAME in w, mu_old, "
                        "sigma_old, mu_new, sigma_new (e.g. mu_old=0.005,sigma_old=0.005,"
                        "w=0.005)")
    s.add_argument("--estimator", default=None,
                   choices=("exact", "mc", "score", "pathwise", "chen"),
                   help="gradient estimator (default: exact with --batch 0, else mc for sft, "
                        "score for rkl, chen for chen-rl; rkl also takes pathwise; sdft, tttd "
                        "and oapl take exact only: with a batch their own estimator, "
                        "kl_estimator, leave-one-out groups, batch_estimator)")
    s.add_argument("--scale-floor", type=float, default=None,
                   help="floor of learned scales (default: a scale reaching <= 0 is an error)")
    s.add_argument("--density", metavar="FILE.png", default=None,
                   help="also draw q_t over the target p* at --density-steps (needs "
                        "matplotlib: pip install 'symforget[plot]')")
    s.add_argument("--density-steps", metavar="T,T,...", default=None,
                   help="steps drawn by --density (default: 0, a quarter, half, the end)")
    r = p.add_argument_group("run")
    r.add_argument("--steps", type=int_option("steps", 1), default=None,
                   help="number of update steps (default 200, or the preset's)")
    r.add_argument("--seed", type=int_option("seed", 0), default=0,
                   help="seed of the finite-batch draws (default 0)")
    r.add_argument("--batch", type=int_option("batch", 0), default=None,
                   help="finite batches of B draws per step; 0: exact expectations "
                        "(population map; the default unless a preset sets a batch)")
    r.add_argument("--json", metavar="PATH", dest="json_path",
                   help="also write the result as JSON to PATH (written atomically)")
    r.add_argument("--plot", metavar="FILE.png", default=None,
                   help="also draw old weight / old-mean drift / new-task error vs step "
                        "(needs matplotlib: pip install 'symforget[plot]')")


def _parse_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} must be true or false")


def _option_name(name: str) -> str:
    return f"--param-{name}" if name in _COMMON else "--" + name.replace("_", "-")


def register(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``simulate`` and ``compare`` sub-commands to the sub-parser collection ``sub``."""
    from ..methods import DEFAULT_COMPARE, NAMES, declared_params

    p = sub.add_parser("simulate", help="run a finite-batch experiment or one method",
                       description="'replay': finite-batch replay experiment (starvation of the "
                                   "old mode, estimator variance vs rho). A method name: run "
                                   "that method's update map on the two-mode problem and "
                                   "print its trajectory summary.",
                       epilog=_SIMULATE_EPILOG, formatter_class=fmt)
    p.add_argument("--list-presets", action="store_true",
                   help="list the named presets (--preset) with their sources and exit")
    p.set_defaults(func=_cmd_simulate_root)
    exps = p.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    q = exps.add_parser("replay", help="finite-batch replay experiment",
                        description="Finite-batch replay experiment: starvation of the old "
                                    "mode and estimator variance vs the replay fraction rho.",
                        formatter_class=fmt)
    q.add_argument("--w", type=float, default=0.05, help="old weight w in (0, 1) (default 0.05)")
    q.add_argument("--rho", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5],
                   help="replay fractions in [0, 1) (default 0 0.1 0.3 0.5)")
    q.add_argument("--batch", type=int_option("batch", 1), default=8,
                   help="batch size B >= 1 (default 8)")
    q.add_argument("--steps", type=int_option("steps", 1), default=2000,
                   help="batches / SGD steps per rho (default 2000)")
    q.add_argument("--seed", type=int_option("seed", 0), default=0, help="seed (default 0)")
    q.add_argument("--json", metavar="PATH", dest="json_path",
                   help="also write the result as JSON to PATH (written atomically)")
    q.set_defaults(func=_cmd_simulate)

    for cli_name, method in SIMULATE_ALIASES.items():
        if method not in NAMES:  # pragma: no cover - aliases list only registry names
            continue
        params = declared_params(method)
        q = exps.add_parser(cli_name, help=f"method {method}",
                            description=f"Run the {method} update map on the two-mode "
                                        "problem and print the trajectory summary.",
                            epilog=_SIMULATE_EPILOG, formatter_class=fmt)
        g = q.add_argument_group(f"{method} parameters")
        dests = {}
        for name, (typ, default, helptext) in params.items():
            dest = f"param__{name}"
            dests[name] = dest
            g.add_argument(_option_name(name), dest=dest, metavar=name.upper(),
                           type=_parse_bool if typ is bool else typ, default=None,
                           help=f"{helptext} (default {default}, or the preset's)")
        _add_problem_options(q)
        q.set_defaults(func=_cmd_method, method=method, param_dests=dests)

    p = sub.add_parser("compare", help="run every method on one problem and tabulate",
                       description="Run SFT (forward KL), RKL, replay, SDFT, TTT-Discover and "
                                   "OAPL on the same problem and print the comparison table.",
                       epilog=_COMPARE_EPILOG, formatter_class=fmt)
    p.add_argument("--methods", nargs="+", metavar="NAME", default=None,
                   help=f"only these methods (default: {', '.join(DEFAULT_COMPARE)}, with "
                        f"or without --preset); known: {', '.join(NAMES)}")
    p.add_argument("--variants", action="store_true",
                   help="also run sdft, tttd and oapl (those compared) under their named "
                        "modelling choices and print whether 'old mass kept' and 'drift "
                        "small' survive them (robustness table; in the JSON as 'variants')")
    p.add_argument("--set", dest="set_params", action="append", default=[],
                   metavar="METHOD.PARAM=VALUE",
                   help="set one method parameter (repeatable), e.g. --set sft.eta=0.01")
    _add_problem_options(p)
    p.set_defaults(func=_cmd_compare)


def _problem(args: argparse.Namespace) -> Any:
    """The Problem from the options (ParameterError on a conflict or a bad value)."""
    from ..errors import ParameterError
    from ..methods.base import Problem

    base = Problem()
    preset = _preset(args)
    kw: dict[str, Any] = dict(preset.problem) if preset is not None else {}
    for name in _PROBLEM_FIELDS:
        value = getattr(args, name)
        if value is not None:
            kw[name] = value
    if args.delta is not None:
        if args.mu_new_star is not None:
            raise ParameterError("give either --delta or --mu-new-star, not both")
        sig = kw.get("sigma", base.sigma)
        kw["mu_new_star"] = kw.get("mu_old_star", base.mu_old_star) + args.delta * sig
    return Problem(**kw)


def _preset(args: argparse.Namespace) -> Any:
    """The preset named by --preset (None without one; ParameterError for an unknown name)."""
    name = getattr(args, "preset", None)
    if name is None:
        return None
    from ..training.presets import get_preset

    return get_preset(name)


def _stepping(args: argparse.Namespace) -> Any:
    """The Stepping from the preset and the stepping options (None if neither is given: the
    method's own equal-scale path)."""
    from ..training.stepping import Stepping, parse_clip, parse_lr_scale

    preset = _preset(args)
    kw: dict[str, Any] = dict(preset.stepping) if preset is not None else {}
    given = False
    if args.weight_param is not None:
        given = True
        if args.weight_param != kw.get("weight_param", "logit"):
            kw.pop("clip", None)  # a preset's clip belongs to its raw parametrisation
        kw["weight_param"] = args.weight_param
    if args.clip is not None:
        given = True
        kw["clip"] = parse_clip(args.clip)
    if args.lr_scale is not None:
        given = True
        kw["lr_scale"] = parse_lr_scale(args.lr_scale)
    if args.learn_scales is not None:
        given = True
        kw["learn_scales"] = args.learn_scales
    if args.scale_floor is not None:
        given = True
        kw["scale_floor"] = args.scale_floor
    if preset is None and not given:
        return None
    return Stepping(**kw)


def _run_options(args: argparse.Namespace) -> tuple[int, int | None, Any, Any]:
    """(steps, batch, stepping, overlap grid): options first, then the preset, then defaults;
    ``--batch 0`` means exact expectations (batch None)."""
    preset = _preset(args)
    run = preset.run if preset is not None else {}
    steps = args.steps if args.steps is not None else run.get("steps", 200)
    batch = args.batch if args.batch is not None else run.get("batch", 0)
    grid = preset.grid if preset is not None else None
    return steps, (None if batch == 0 else batch), _stepping(args), grid


def _method_params(method: str, given: dict[str, Any], preset: Any) -> dict[str, Any]:
    """A method's parameters: given on the command line, else the preset's, else defaults."""
    from ..methods import declared_params

    out = {}
    for name, (_typ, default, _help) in declared_params(method).items():
        if given.get(name) is not None:
            out[name] = given[name]
        elif preset is not None and name in preset.method_params.get(method, {}):
            out[name] = preset.method_params[method][name]
        else:
            out[name] = default
    return out


def _parse_set(items: list[str]) -> dict[str, dict[str, Any]]:
    """``--set METHOD.PARAM=VALUE`` items → {method: {param: value}}, each value converted
    with the parameter's declared type (never evaluated)."""
    from ..errors import ParameterError
    from ..methods import NAMES, declared_params

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, text = item.partition("=")
        method, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise ParameterError(f"--set {item!r} must be METHOD.PARAM=VALUE (e.g. sft.eta=0.01)")
        if method not in NAMES:
            raise ParameterError(f"--set {item!r}: unknown method {method!r}; known: "
                                 f"{', '.join(NAMES)}")
        params = declared_params(method)
        if name not in params:
            raise ParameterError(f"--set {item!r}: {method} has no parameter {name!r}; known: "
                                 f"{', '.join(params) or 'none'}")
        typ = params[name][0]
        try:
            value = _parse_bool(text) if typ is bool else typ(text.strip())
        except (ValueError, argparse.ArgumentTypeError):
            raise ParameterError(f"--set {item!r}: {text!r} is not a {typ.__name__}") from None
        out.setdefault(method, {})[name] = value
    return out


def _density_steps(args: argparse.Namespace, steps: int) -> list[int]:
    from ..errors import ParameterError

    if args.density_steps is None:
        return sorted({0, steps // 4, steps // 2, steps})
    out = []
    for part in filter(None, (t.strip() for t in args.density_steps.split(","))):
        try:
            value = int(part)
        except ValueError:
            raise ParameterError(f"--density-steps {args.density_steps!r}: {part!r} is not an "
                                 "integer") from None
        if not 0 <= value <= steps:
            raise ParameterError(f"--density-steps: step {value} must lie in [0, {steps}]")
        out.append(value)
    if not out:
        raise ParameterError("--density-steps: give at least one step")
    return out


def five_report(run: Any) -> str:
    """The measurements and theory of a five-parameter run (empty for the other runs)."""
    rep = run.report
    if not rep:
        return ""
    lines = [f"estimator {rep['estimator']}; {rep['stepping_text']}",
             f"overlap old {rep['overlap_old0']:.4f} -> {rep['overlap_old']:.4f} "
             f"(drop {rep['drop']:.4f}), new {rep['overlap_new0']:.4f} -> "
             f"{rep['overlap_new']:.4f} (gain {rep['gain']:.4f}); grid "
             f"linspace({rep['overlap_grid'][0]:g}, {rep['overlap_grid'][1]:g}, "
             f"{int(rep['overlap_grid'][2])})",
             _at_gain_line(rep.get("at_gain_0.9")),
             f"old mean moved {run.mu_old[-1] - run.mu_old[0]:+.6f} from its start "
             f"(max |move| {run.summary()['max_old_move']:.6f} sigma)"]
    th = rep.get("theory", {})
    law = th.get("mass_law")
    if law:
        line = (f"theory (fkl.em_identity, old responsibilities -> 0): w_T {law['w_T_map']:.6f} "
                f"by the mass-law map vs simulated {law['w_T_simulated']:.6f} (rel. gap "
                f"{_fmt_gap(law['relative_gap_map'])})")
        if "w_T_flow" in law:
            line += (f"; flow closed form 1 - sqrt((1-w0)^2 + 2 eta m_w T) = "
                     f"{law['w_T_flow']:.6f} (rel. gap {_fmt_gap(law['relative_gap_flow'])})")
        lines.append(line)
        lines.append(f"  largest mean old responsibility E_P[r_o] along the run: "
                     f"{law['max_mean_old_responsibility']:.2e}")
    mv = th.get("old_mean_move")
    if mv and mv["predicted_by_exact_force"] is None:
        lines.append(f"theory: {mv.get('predicted_by', 'the exact expected force')} could not be "
                     f"evaluated at {mv.get('unavailable_steps', '?')} steps of the run (it left "
                     "the evaluators' domain); simulated old-mean move "
                     f"{mv['simulated']:+.6f}")
    elif mv and rep.get("estimator") == "exact":
        # the run steps along this very force: a consistency check, not a prediction
        lines.append(f"consistency (exact run, so the update is "
                     f"{mv.get('predicted_by', 'the exact expected force')} itself): summed "
                     f"along the run {mv['predicted_by_exact_force']:+.6f} vs simulated "
                     f"{mv['simulated']:+.6f} (rel. gap {_fmt_gap(mv['relative_gap'])})")
    elif mv:
        lines.append(f"theory: old-mean move predicted by "
                     f"{mv.get('predicted_by', 'the exact expected force')} along the "
                     f"run {mv['predicted_by_exact_force']:+.6f} vs simulated "
                     f"{mv['simulated']:+.6f} (rel. gap {_fmt_gap(mv['relative_gap'])})")
    if mv and "predicted_by_exact_rkl_force" in mv:
        lines.append(f"theory: exact reverse-KL misassignment force towards p* along the run: "
                     f"{mv['predicted_by_exact_rkl_force']:+.6f} (rel. gap "
                     f"{_fmt_gap(mv['relative_gap_rkl'])})")
    return "\n".join(lines)


def _at_gain_line(at: dict[str, Any] | None) -> str:
    if not at or at["step"] is None:
        return "gain never reaches 0.9 (Chen et al.'s figure shows the last step then)"
    return (f"first step with gain >= 0.9 (Chen et al.'s figure): {at['step']}, drop "
            f"{at['drop']:.4f}, gain {at['gain']:.4f}")


def _fmt_gap(gap: float | None) -> str:
    return "n/a" if gap is None else f"{gap:.2e}"


def _density(path: str, runs: list[Any], steps: list[int]) -> bool:
    from pathlib import Path

    from ..runners.density import figure_density
    from ..runners.report import MissingPlotExtraError

    try:
        figure_density(Path(path), runs, steps)
    except MissingPlotExtraError as exc:
        _err(f"--density: {exc}")
        return False
    except OSError as exc:
        _err(f"--density {path}: cannot write ({exc.strerror or exc})")
        return False
    _progress_line(f"wrote {path}\n")
    return True


def _write_json(path: str, payload: dict[str, Any]) -> bool:
    from ..runners.render import atomic_write_text

    try:
        atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        _err(f"--json {path}: cannot write ({exc.strerror or exc})")
        return False
    _progress_line(f"wrote {path}\n")
    return True


def _plot(path: str, runs: list[Any]) -> bool:
    from pathlib import Path

    from ..runners.report import MissingPlotExtraError, figure_methods, require_matplotlib

    try:
        require_matplotlib()
    except MissingPlotExtraError as exc:
        _err(f"--plot: {exc}")
        return False
    try:
        figure_methods(Path(path), runs)
    except OSError as exc:
        _err(f"--plot {path}: cannot write ({exc.strerror or exc})")
        return False
    _progress_line(f"wrote {path}\n")
    return True


def _check_outputs(args: argparse.Namespace) -> str | None:
    """Fail early (before computing) on an unwritable --json/--plot target or no matplotlib."""
    for opt, path in (("--json", args.json_path), ("--plot", getattr(args, "plot", None)),
                      ("--density", getattr(args, "density", None))):
        message = output_error(opt, path, "file")
        if message is not None:
            return message
    for opt in ("plot", "density"):
        if getattr(args, opt, None) is not None:
            from ..runners.report import MissingPlotExtraError, require_matplotlib

            try:
                require_matplotlib()
            except MissingPlotExtraError as exc:
                return f"--{opt}: {exc}"
    return None


def trajectory_summary(run: Any, checkpoints: int = 6) -> str:
    """Old weight, old-mean drift and new-task fit at a few recorded steps, then the summary."""
    import numpy as np

    from ..methods import key_params

    pb = run.problem
    n = len(run.steps)
    idx = sorted(set(np.linspace(0, n - 1, min(checkpoints, n)).round().astype(int).tolist()))
    lines = [f"{run.method} ({key_params(run)}) on alpha={pb.alpha:g}, Delta={pb.delta:g}, "
             f"start (w, mu_o, mu_n)=({', '.join(f'{v:g}' for v in pb.theta0)}), "
             + ("population map" if run.params.get("batch") is None else
                f"batches of {run.params['batch']}, seed {run.params.get('seed')}"),
             f"{'step':>6}  {'old w':>8}  {'old drift':>9}  {'new error':>9}  {'s_old':>6}  "
             f"{'s_new':>6}"]
    for i in idx:
        lines.append(f"{int(run.steps[i]):>6}  {run.w[i]:>8.4f}  "
                     f"{abs(run.mu_old[i] - pb.mu_old_star) / pb.sigma:>9.4f}  "
                     f"{abs(run.mu_new[i] - pb.mu_new_star) / pb.sigma:>9.4f}  "
                     f"{run.s_old[i] / pb.sigma:>6.3f}  {run.s_new[i] / pb.sigma:>6.3f}")
    s = run.summary()
    lines.append(f"final w {s['final_w']:.4f} (min {s['min_w']:.4f}), max old-mean drift "
                 f"{s['max_old_drift']:.4f} sigma, new-task error {s['new_error']:.4f} sigma")
    for key, what in (("starved_group_fraction", "groups"), ("starved_batch_fraction",
                                                             "batches")):
        if key in run.extra:
            lines.append(f"starved {what} (no old-component draw): {run.extra[key]:.4f}")
    return "\n".join(lines)


def _run_with_progress(label: str, steps: int, run: Any) -> Any:
    """``run()`` with a progress line on stderr for long runs: steps done when the method's
    loop reports them (:func:`symforget.methods.base.report_steps`), else the elapsed time."""
    from ..methods.base import step_progress

    with Ticker(label, steps) as ticker, step_progress(ticker.update):
        return run()


def _cmd_method(args: argparse.Namespace) -> int:
    from ..methods import get

    problem_msg = _check_outputs(args)
    if problem_msg is not None:
        _err(problem_msg)
        return EXIT_USAGE
    from ..errors import ParameterError
    from ..methods import FIVE_PARAMETER

    given = {name: getattr(args, dest) for name, dest in args.param_dests.items()}
    params = _method_params(args.method, given, _preset(args))
    problem = _problem(args)  # a ParameterError is a usage error (cli.main)
    steps, batch, stepping, grid = _run_options(args)
    five: dict[str, Any] = {}
    if stepping is not None or grid is not None or args.estimator is not None:
        if args.method not in FIVE_PARAMETER:
            raise ParameterError(f"stepping options, estimators and presets are supported by "
                                 f"{', '.join(FIVE_PARAMETER)}, not {args.method}")
        five = {"stepping": stepping, "grid": grid, "estimator": args.estimator}
    density_steps = _density_steps(args, steps) if args.density is not None else []
    run = _run_with_progress(f"{args.method}", steps, lambda: get(args.method).run(
        problem, steps=steps, seed=args.seed, batch=batch, **five, **params))
    print(trajectory_summary(run))
    if run.report:
        print(five_report(run))
    if args.json_path is not None and not _write_json(args.json_path, run.as_dict()):
        return EXIT_USAGE
    if args.plot is not None and not _plot(args.plot, [run]):
        return EXIT_USAGE
    if args.density is not None and not _density(args.density, [run], density_steps):
        return EXIT_USAGE
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    import time

    from ..errors import ParameterError
    from ..methods import DEFAULT_COMPARE, NAMES, compare, comparison_json, format_table

    problem_msg = _check_outputs(args)
    if problem_msg is not None:
        _err(problem_msg)
        return EXIT_USAGE
    problem = _problem(args)  # a ParameterError is a usage error (cli.main)
    preset = _preset(args)
    steps, batch, stepping, grid = _run_options(args)
    names = args.methods if args.methods is not None else list(DEFAULT_COMPARE)
    for name in names:  # refused before any (long) run
        if name not in NAMES:
            raise ParameterError(f"unknown method {name!r}; known: {', '.join(NAMES)}")
    overrides = _parse_set(args.set_params)
    for name in overrides:
        if name not in names:
            raise ParameterError(f"--set given for {name!r}, which is not being compared")
    five: dict[str, Any] = {} if stepping is None and grid is None else {
        "stepping": stepping, "grid": grid}
    if args.estimator is not None:
        raise ParameterError("compare: --estimator names one method's estimator; use "
                             "simulate METHOD --estimator NAME")
    density_steps = _density_steps(args, steps) if args.density is not None else []
    runs = []
    for i, name in enumerate(names):
        label = f"[{i + 1}/{len(names)}] {name}"
        t0 = time.perf_counter()
        params = {}
        if preset is not None or name in overrides:
            params = {name: {**_method_params(name, {}, preset), **overrides.get(name, {})}}
        runs.extend(_run_with_progress(label, steps, lambda name=name, params=params: compare(
            problem, steps=steps, seed=args.seed, batch=batch, methods=[name], params=params,
            **five)))
        STATUS.line(f"{label} done ({time.perf_counter() - t0:.1f} s)")
    print(format_table(runs))
    payload = comparison_json(runs, steps=steps, seed=args.seed, batch=batch)
    if args.variants:
        from ..methods import VARIANTS, FailedVariant, compare_variants, format_variants, verdict

        which = [n for n in names if n in VARIANTS]
        if not which:
            raise ParameterError(f"--variants: none of {', '.join(names)} has named variants "
                                 f"({', '.join(VARIANTS)})")
        base = {n: {**_method_params(n, {}, preset), **overrides.get(n, {})} for n in which
                if preset is not None or n in overrides}
        if base or five:
            rows = _run_with_progress("variants", steps, lambda: _variants_from(
                problem, steps=steps, seed=args.seed, batch=batch, methods=which, base=base,
                five=five))
        else:
            rows = _run_with_progress("variants", steps, lambda: compare_variants(
                problem, steps=steps, seed=args.seed, batch=batch, methods=which,
                keep_going=True))
        print(format_variants(rows))
        payload["variants"] = [
            {"variant": label, "method": r.method, "error": r.error}
            if isinstance(r, FailedVariant) else
            {"variant": label, "old_mass": verdict(r)[0], "drift": verdict(r)[1],
             **r.as_dict()} for label, r in rows]
    if args.json_path is not None and not _write_json(args.json_path, payload):
        return EXIT_USAGE
    if args.plot is not None and not _plot(args.plot, runs):
        return EXIT_USAGE
    if args.density is not None and not _density(args.density, runs, density_steps):
        return EXIT_USAGE
    return EXIT_OK


def _variants_from(problem: Any, *, steps: int, seed: int, batch: int | None,
                   methods: list[str], base: dict[str, dict[str, Any]],
                   five: dict[str, Any]) -> list[tuple[str, Any]]:
    """:func:`symforget.methods.compare_variants` with a base: each method first at its
    parameters from the preset and ``--set`` (label ``defaults``, or ``preset/--set`` when a
    base is given), then each named variant applied on top of that base, with the run's
    stepping and overlap grid."""
    from ..methods import BATCH_VARIANTS, VARIANTS, get, run_variant

    rows: list[tuple[str, Any]] = []
    for name in methods:
        mod, start = get(name), base.get(name, {})
        rows.append(("preset/--set" if start else "defaults",
                     mod.run(problem, steps=steps, seed=seed, batch=batch, **five, **start)))
        for label, over in VARIANTS.get(name, ()) + (BATCH_VARIANTS.get(name, ()) if batch
                                                     else ()):
            rows.append((label, run_variant(mod, name, True, problem, steps=steps, seed=seed,
                                            batch=batch, **five, **{**start, **over})))
    return rows


def _cmd_simulate_root(args: argparse.Namespace) -> int:
    """``simulate --list-presets`` (and ``simulate`` without an experiment: a usage error)."""
    if args.list_presets:
        from ..training.presets import format_presets

        print(format_presets())
        return EXIT_OK
    _err("simulate: choose an experiment (replay, or a method: "
         f"{', '.join(SIMULATE_ALIASES)}), or give --list-presets")
    return EXIT_USAGE


def _cmd_simulate(args: argparse.Namespace) -> int:
    from ..training.simulate import format_table, replay_experiment

    message = output_error("--json", args.json_path, "file")
    if message is not None:
        _err(message)
        return EXIT_USAGE
    n = len(args.rho)
    with Ticker("replay experiment", n, unit="replay fractions") as ticker:
        result = replay_experiment(w=args.w, rhos=tuple(args.rho), batch=args.batch,
                                   steps=args.steps, seed=args.seed,
                                   progress=lambda i: ticker.update(i, n))
    print(format_table(result))
    if args.json_path is not None and not _write_json(args.json_path, result):
        return EXIT_USAGE
    return EXIT_OK
