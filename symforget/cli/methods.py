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
                    "tttd": "tttd", "oapl": "oapl"}
#: options every method command has (a method parameter with one of these names is renamed)
_COMMON = {"alpha", "delta", "mu_old_star", "mu_new_star", "sigma", "w0", "mu_old0", "mu_new0",
           "steps", "seed", "batch", "json", "plot", "help"}

_SIMULATE_EPILOG = """\
Exit code 0 on success, 2 for a usage error (a parameter out of range, an unknown method,
matplotlib missing for --plot).

examples:
  symforget simulate replay --w 0.05 --rho 0 0.1 0.3
  symforget simulate sdft --lam 0.5 --anchor target --alpha 0.3 --steps 300
  symforget simulate sdft --lam 0 --batch 32 --seed 1 --json sdft.json
  symforget simulate oapl --lag 4 --plot oapl.png
"""

_COMPARE_EPILOG = """\
Runs SFT, RKL, replay, SDFT, TTT-Discover and OAPL (each with its default parameters) on the
same problem and prints final/min old weight, max old-mean drift and new-task error. The same
seed gives the same table and byte-identical JSON. Exit code 0, or 2 for a usage error.

examples:
  symforget compare --alpha 0.3
  symforget compare --alpha 0.3 --steps 400 --json compare.json --plot compare.png
  symforget compare --batch 32 --seed 1
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
    r = p.add_argument_group("run")
    r.add_argument("--steps", type=int_option("steps", 1), default=200,
                   help="number of update steps (default 200)")
    r.add_argument("--seed", type=int_option("seed", 0), default=0,
                   help="seed of the finite-batch draws (default 0)")
    r.add_argument("--batch", type=int_option("batch", 1), default=None,
                   help="finite batches of B draws per step (default: population map)")
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
    from ..methods import NAMES, declared_params

    p = sub.add_parser("simulate", help="run a finite-batch experiment or one method",
                       description="'replay': finite-batch replay experiment (starvation of the "
                                   "old mode, estimator variance vs rho). A method name: run "
                                   "that method's update map on the two-mode problem and "
                                   "print its trajectory summary.",
                       epilog=_SIMULATE_EPILOG, formatter_class=fmt)
    exps = p.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    exps.required = True
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
                           type=_parse_bool if typ is bool else typ, default=default,
                           help=f"{helptext} (default {default})")
        _add_problem_options(q)
        q.set_defaults(func=_cmd_method, method=method, param_dests=dests)

    p = sub.add_parser("compare", help="run every method on one problem and tabulate",
                       description="Run SFT (forward KL), RKL, replay, SDFT, TTT-Discover and "
                                   "OAPL on the same problem and print the comparison table.",
                       epilog=_COMPARE_EPILOG, formatter_class=fmt)
    p.add_argument("--methods", nargs="+", metavar="NAME", default=None,
                   help=f"only these methods (default: all of {', '.join(NAMES)})")
    _add_problem_options(p)
    p.set_defaults(func=_cmd_compare)


def _problem(args: argparse.Namespace) -> Any:
    """The Problem from the options (ParameterError on a conflict or a bad value)."""
    from ..errors import ParameterError
    from ..methods.base import Problem

    base = Problem()
    kw: dict[str, Any] = {}
    for name in ("alpha", "sigma", "w0", "mu_old_star", "mu_new_star", "mu_old0", "mu_new0"):
        value = getattr(args, name)
        if value is not None:
            kw[name] = value
    if args.delta is not None:
        if args.mu_new_star is not None:
            raise ParameterError("give either --delta or --mu-new-star, not both")
        sig = kw.get("sigma", base.sigma)
        kw["mu_new_star"] = kw.get("mu_old_star", base.mu_old_star) + args.delta * sig
    return Problem(**kw)


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
    for opt, path in (("--json", args.json_path), ("--plot", getattr(args, "plot", None))):
        message = output_error(opt, path, "file")
        if message is not None:
            return message
    if getattr(args, "plot", None) is not None:
        from ..runners.report import MissingPlotExtraError, require_matplotlib

        try:
            require_matplotlib()
        except MissingPlotExtraError as exc:
            return f"--plot: {exc}"
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
    params = {name: getattr(args, dest) for name, dest in args.param_dests.items()}
    problem = _problem(args)  # a ParameterError is a usage error (cli.main)
    run = _run_with_progress(f"{args.method}", args.steps, lambda: get(args.method).run(
        problem, steps=args.steps, seed=args.seed, batch=args.batch, **params))
    print(trajectory_summary(run))
    if args.json_path is not None and not _write_json(args.json_path, run.as_dict()):
        return EXIT_USAGE
    if args.plot is not None and not _plot(args.plot, [run]):
        return EXIT_USAGE
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    import time

    from ..errors import ParameterError
    from ..methods import NAMES, compare, comparison_json, format_table

    problem_msg = _check_outputs(args)
    if problem_msg is not None:
        _err(problem_msg)
        return EXIT_USAGE
    problem = _problem(args)  # a ParameterError is a usage error (cli.main)
    names = list(NAMES) if args.methods is None else args.methods
    for name in names:  # refused before any (long) run
        if name not in NAMES:
            raise ParameterError(f"unknown method {name!r}; known: {', '.join(NAMES)}")
    runs = []
    for i, name in enumerate(names):
        label = f"[{i + 1}/{len(names)}] {name}"
        t0 = time.perf_counter()
        runs.extend(_run_with_progress(label, args.steps, lambda name=name: compare(
            problem, steps=args.steps, seed=args.seed, batch=args.batch, methods=[name])))
        STATUS.line(f"{label} done ({time.perf_counter() - t0:.1f} s)")
    print(format_table(runs))
    payload = comparison_json(runs, steps=args.steps, seed=args.seed, batch=args.batch)
    if args.json_path is not None and not _write_json(args.json_path, payload):
        return EXIT_USAGE
    if args.plot is not None and not _plot(args.plot, runs):
        return EXIT_USAGE
    return EXIT_OK


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
