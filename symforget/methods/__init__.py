"""Post-training methods as explicit update maps on mixture parameters (CLAIMS.md §5).

Every method module (``sft``, ``rkl``, ``replay``, ``sdft``, ``tttd``, ``oapl``, ``chen-rl`` in
``chen_rl.py``) exposes ``NAME``,
``DESCRIPTION``, ``PARAMS`` (``{name: (type, default, help)}``), the population update map and
``run(problem, *, steps, seed=0, batch=None, **params) -> MethodRun``.

:data:`METHODS` maps a name to its module, imported lazily on first access (this package imports
only the standard library, so the command line stays fast). :func:`declared_params` reads a
method's ``PARAMS`` from its source without importing it (for building CLI options).
:func:`compare` runs several methods on one :class:`~symforget.methods.base.Problem`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError, SymforgetError

if TYPE_CHECKING:
    from .base import MethodRun, Problem

__all__ = ["NAMES", "DEFAULT_COMPARE", "FIVE_PARAMETER", "METHODS", "get", "declared_params",
           "FailedVariant", "run_variant", "compare", "format_table", "comparison_json",
           "key_params", "VARIANTS", "BATCH_VARIANTS", "compare_variants", "verdict",
           "format_variants"]

#: every method name, in the order of the comparison table
NAMES: tuple[str, ...] = ("sft", "rkl", "replay", "sdft", "tttd", "oapl", "chen-rl")
#: the methods :func:`compare` runs when none are named (all of them)
DEFAULT_COMPARE: tuple[str, ...] = NAMES
#: the methods with a five-parameter run (learned scales, stepping conventions, overlaps): all
#: of them (sdft, tttd and oapl step along a stateful direction, symforget.training.runs)
FIVE_PARAMETER: tuple[str, ...] = NAMES


#: named modelling choices of the near-on-policy methods, each a change from the faithful
#: defaults (``PARAMS``): the robustness view of ``symforget compare --variants``
VARIANTS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "sdft": (("teacher=anchored, A=p*", {"teacher": "anchored"}),
             ("teacher=anchored, A=P_new", {"teacher": "anchored", "anchor": "new"}),
             ("frozen teacher (ema=0)", {"ema": 0.0}),
             ("kl=forward", {"kl": "forward"})),
    "tttd": (("objective=entropic", {"objective": "entropic"}),
             ("fixed beta=2 (kl_budget=0)", {"kl_budget": 0.0}),
             ("kl_coef=0.1", {"kl_coef": 0.1}),
             ("kl_coef=1", {"kl_coef": 1.0})),
    "oapl": (("reward=quadratic", {"reward": "quadratic"}),
             ("visibility=1", {"visibility": 1.0}),
             ("lag=4", {"lag": 4}),
             ("reward=quadratic, lag=4", {"reward": "quadratic", "lag": 4})),
}
#: variants that only exist with finite batches (estimators)
BATCH_VARIANTS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "sdft": (("anchored, kl_estimator=reinforce",
              {"teacher": "anchored", "kl_estimator": "reinforce"}),),
    "oapl": (("batch_estimator=stratified", {"batch_estimator": "stratified"}),),
}
#: thresholds of :func:`verdict`
_MASS_KEPT, _DRIFT_SMALL = 0.5, 0.5


def _module(name: str) -> str:
    """Module name of method ``name`` (a hyphen becomes an underscore)."""
    return name.replace("-", "_")

_TYPES: dict[str, type] = {"float": float, "int": int, "str": str, "bool": bool}


class _Registry(Mapping[str, ModuleType]):
    """Read-only ``{name: module}``; a module is imported when first looked up."""

    def __getitem__(self, name: str) -> ModuleType:
        if name not in NAMES:
            raise KeyError(name)
        return importlib.import_module(f"{__name__}.{_module(name)}")

    def __iter__(self) -> Iterator[str]:
        return iter(NAMES)

    def __len__(self) -> int:
        return len(NAMES)


METHODS: Mapping[str, ModuleType] = _Registry()


def get(name: str) -> ModuleType:
    """The module of method ``name``; an unknown method raises ParameterError.

    Examples
    --------
    >>> from symforget.methods import get
    >>> get("rkl").NAME, sorted(get("replay").PARAMS)
    ('rkl', ['eta', 'rho'])
    >>> get("ppo")
    Traceback (most recent call last):
    ...
    symforget.errors.ParameterError: unknown method 'ppo'; known: sft, rkl, replay, sdft, ...
    """
    if name not in NAMES:
        raise ParameterError(f"unknown method {name!r}; known: {', '.join(NAMES)}")
    return METHODS[name]


def _literal_params(source: str) -> dict[str, tuple[type, Any, str]] | None:
    """``PARAMS`` from module source if it is a literal dict of (type name, constant, help)."""
    for node in ast.parse(source).body:
        target = None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            target, value = node.targets[0].id, node.value
        if target != "PARAMS":
            continue
        if not isinstance(value, ast.Dict):
            return None
        out: dict[str, tuple[type, Any, str]] = {}
        for key, val in zip(value.keys, value.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)
                    and isinstance(val, ast.Tuple) and len(val.elts) == 3):
                return None
            typ, default, helptext = val.elts
            if not (isinstance(typ, ast.Name) and typ.id in _TYPES):
                return None
            try:
                dv, hv = ast.literal_eval(default), ast.literal_eval(helptext)
            except ValueError:
                return None
            out[key.value] = (_TYPES[typ.id], dv, str(hv))
        return out
    return None


def declared_params(name: str) -> dict[str, tuple[type, Any, str]]:
    """``PARAMS`` of method ``name`` without importing it when the declaration is a literal
    (falls back to importing the module otherwise). Raises ParameterError for an unknown
    method.

    Examples
    --------
    >>> from symforget.methods import declared_params
    >>> {name: default for name, (typ, default, _) in declared_params("replay").items()}
    {'rho': 0.2, 'eta': 0.5}
    """
    if name not in NAMES:
        raise ParameterError(f"unknown method {name!r}; known: {', '.join(NAMES)}")
    spec = importlib.util.find_spec(f"{__name__}.{_module(name)}")
    assert spec is not None and spec.origin is not None, name  # every name has its module
    with open(spec.origin, encoding="utf-8") as fh:
        found = _literal_params(fh.read())
    if found is not None:
        return found
    return dict(get(name).PARAMS)


# --------------------------------------------------------------------------------------------
# the comparison (kept here, stdlib-only: a submodule named ``compare`` would shadow the function)
#
# For each method the table shows what a reader of the paper wants (units of σ): final and
# minimal old weight w, maximal old-mean drift max_t |μo_t − μo*|/σ, the new-task error
# |μn_T − μn*|/σ, and the final component scales (tilt-based maps change them). Everything is
# deterministic for a fixed seed (population maps use no randomness; finite-batch runs use
# numpy.random.default_rng(seed)), so the JSON of two runs is identical.


def compare(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
            methods: str | Sequence[str] | None = None,
            params: Mapping[str, Mapping[str, Any]] | None = None,
            stepping: Any = None, grid: tuple[float, float, int] | None = None,
            estimator: Mapping[str, str] | None = None) -> list[MethodRun]:
    """Run ``methods`` (default: :data:`DEFAULT_COMPARE`, in that order) on ``problem``.

    ``methods`` is a method name or a sequence of them. ``params`` optionally overrides method
    parameters, ``{method: {name: value}}``; every method otherwise uses its PARAMS defaults.
    ``stepping`` (a :class:`symforget.training.stepping.Stepping`) and ``grid`` (overlap grid)
    select the five-parameter runs, available for :data:`FIVE_PARAMETER`; ``estimator``
    optionally names an estimator per method, ``{method: name}``.
    A bad argument or a method that cannot run (e.g. no finite-batch version) raises
    ParameterError naming the parameter.

    Examples
    --------
    Population maps (deterministic): reverse KL returns w to α = 0.3 (claim
    ``rkl.weight_convergence``), replay holds it at ρ = 0.2 (claim ``replay.fkl_optimum``),
    SFT forgets:

    >>> from symforget.methods import compare
    >>> from symforget.methods.base import Problem
    >>> runs = compare(Problem(alpha=0.3), steps=200, methods=["sft", "rkl", "replay"])
    >>> [(r.method, round(r.summary()["final_w"], 4)) for r in runs]
    [('sft', 0.016), ('rkl', 0.3), ('replay', 0.2)]
    """
    import numbers

    from .base import Problem

    if not isinstance(problem, Problem):
        raise ParameterError(f"problem must be a symforget.methods.base.Problem, not "
                             f"{type(problem).__name__} (e.g. Problem(alpha=0.3))")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be an integer >= 0")
    if methods is None:
        names = list(DEFAULT_COMPARE)
    elif isinstance(methods, str):
        names = [methods]
    else:
        try:
            names = list(methods)
        except TypeError:
            raise ParameterError(f"methods={methods!r} must be a method name or a list of "
                                 f"them ({', '.join(NAMES)})") from None
    if not names:
        raise ParameterError("methods: give at least one method")
    for name in names:
        if not isinstance(name, str) or name not in NAMES:
            raise ParameterError(f"unknown method {name!r}; known: {', '.join(NAMES)}")
    if params is not None and not isinstance(params, Mapping):
        raise ParameterError(f"params={params!r} must be a mapping {{method: {{name: value}}}}")
    extra = dict(params or {})
    for name, overrides in extra.items():
        if name not in names:
            raise ParameterError(f"params given for {name!r}, which is not being compared")
        if not isinstance(overrides, Mapping):
            raise ParameterError(f"params[{name!r}]={overrides!r} must be a mapping "
                                 "{name: value}")
    est = dict(estimator or {})
    for name in est:
        if name not in names or name not in FIVE_PARAMETER:
            raise ParameterError(f"estimator given for {name!r}, which is not a compared "
                                 f"five-parameter method ({', '.join(FIVE_PARAMETER)})")
    five: dict[str, Any] = {}
    if stepping is not None or grid is not None:
        other = [n for n in names if n not in FIVE_PARAMETER]
        if other:
            raise ParameterError(f"stepping conventions / overlap grid are supported by "
                                 f"{', '.join(FIVE_PARAMETER)} only, not {', '.join(other)}")
        five = {"stepping": stepping, "grid": grid}
    return [get(name).run(problem, steps=steps, seed=seed, batch=batch, **five,
                          **({"estimator": est[name]} if name in est else {}),
                          **extra.get(name, {}))
            for name in names]


def key_params(run: MethodRun) -> str:
    """The run's method parameters as ``k=v`` text (batch, seed and steps left out).

    Examples
    --------
    >>> from symforget.methods import get, key_params
    >>> from symforget.methods.base import Problem
    >>> key_params(get("replay").run(Problem(), steps=1, rho=0.1))
    'rho=0.1 eta=0.5'
    """
    items = [(k, v) for k, v in run.params.items() if k not in ("batch", "seed", "steps")]
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in items)


def format_table(runs: Sequence[MethodRun]) -> str:
    """A fixed-width text table: method, key params, final/min old weight, max old-mean drift,
    new-task error, final component scales.

    Examples
    --------
    >>> from symforget.methods import compare, format_table
    >>> from symforget.methods.base import Problem
    >>> print(format_table(compare(Problem(alpha=0.3), steps=200, methods=["rkl", "replay"])))
    problem: alpha=0.3, mu_old*=0, mu_new*=4, sigma=1 (Delta=4), start (w, mu_o, mu_n)=(0.5, 0, 2)
    method  params           final w   min w  max old drift  new error  s_old/s_new
    ------  ---------------  -------  ------  -------------  ---------  -----------
    rkl     eta=0.5           0.3000  0.3000         0.1525     0.0000  1.000/1.000
    replay  rho=0.2 eta=0.5   0.2000  0.2000         0.0422     0.0000  1.000/1.000
    200 steps, population maps; drift and errors in units of sigma
    """
    if not runs:
        return "(no runs)"
    pb = runs[0].problem
    head = (f"problem: alpha={pb.alpha:g}, mu_old*={pb.mu_old_star:g}, "
            f"mu_new*={pb.mu_new_star:g}, sigma={pb.sigma:g} (Delta={pb.delta:g}), "
            f"start (w, mu_o, mu_n)=({', '.join(f'{v:g}' for v in pb.theta0)})")
    rows = [("method", "params", "final w", "min w", "max old drift", "new error",
             "s_old/s_new")]
    for r in runs:
        s = r.summary()
        rows.append((r.method, key_params(r), f"{s['final_w']:.4f}", f"{s['min_w']:.4f}",
                     f"{s['max_old_drift']:.4f}", f"{s['new_error']:.4f}",
                     f"{s['final_s_old']:.3f}/{s['final_s_new']:.3f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [head]
    for j, row in enumerate(rows):
        cells = [c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * wd for wd in widths))
    five = [r for r in runs if r.report]
    if five:
        lines.append("five-parameter runs: estimator, overlaps (old, new) start -> end, drop, "
                     "gain, old-mean move from its start (units of sigma)")
        for r in five:
            rep = r.report
            lines.append(f"  {r.method:<8} {rep['estimator']:<6} old {rep['overlap_old0']:.4f} "
                         f"-> {rep['overlap_old']:.4f}  new {rep['overlap_new0']:.4f} -> "
                         f"{rep['overlap_new']:.4f}  drop {rep['drop']:.4f}  gain "
                         f"{rep['gain']:.4f}  move {r.summary()['max_old_move']:.4f}")
    batch = runs[0].params.get("batch")
    steps = int(runs[0].steps[-1])
    lines.append(f"{steps} steps, " + ("population maps" if batch is None else
                                       f"finite batches of {batch}, seed "
                                       f"{runs[0].params.get('seed')}")
                 + "; drift and errors in units of sigma")
    return "\n".join(lines)


def comparison_json(runs: Sequence[MethodRun], *, steps: int, seed: int,
                    batch: int | None) -> dict[str, Any]:
    """JSON-ready record of a comparison (deterministic: no timings).

    Examples
    --------
    >>> import json
    >>> from symforget.methods import compare, comparison_json
    >>> from symforget.methods.base import Problem
    >>> runs = compare(Problem(), steps=10, methods="rkl")
    >>> record = comparison_json(runs, steps=10, seed=0, batch=None)
    >>> sorted(record), record["runs"][0]["method"], len(record["runs"][0]["trajectory"]["w"])
    (['batch', 'command', 'problem', 'runs', 'seed', 'steps'], 'rkl', 11)
    >>> json.loads(json.dumps(record)) == record
    True
    """
    return {
        "command": "compare",
        "steps": steps,
        "seed": seed,
        "batch": batch,
        "problem": runs[0].problem.as_dict() if runs else None,
        "runs": [r.as_dict() for r in runs],
    }


def verdict(run: MethodRun) -> tuple[str, str]:
    r"""("kept"/"falling"/"lost", "small"/"large"): old mass lost when the final old weight is
    below half of min(w0, alpha), falling when above it, below min(w0, alpha) and down by more
    than 2 % over the second half of the run (the run is too short to tell), kept otherwise;
    old-mean drift small when :math:`\max_t |\mu_{o,t} - \mu_o^*| < \sigma/2`.

    Examples
    --------
    >>> from symforget.methods import compare, verdict
    >>> from symforget.methods.base import Problem
    >>> [verdict(r) for r in compare(Problem(alpha=0.3), steps=200, methods=["sft", "rkl"])]
    [('lost', 'large'), ('kept', 'small')]
    """
    s = run.summary()
    pb = run.problem
    mass = "kept" if s["final_w"] >= _MASS_KEPT * min(pb.w0, pb.alpha) else "lost"
    last = run.w[(len(run.w) - 1) // 2]
    if mass == "kept" and run.w[-1] < 0.98 * last and run.w[-1] < min(pb.w0, pb.alpha):
        mass = "falling"
    drift = "small" if s["max_old_drift"] < _DRIFT_SMALL else "large"
    return mass, drift


@dataclass(frozen=True)
class FailedVariant:
    """A variant run that stopped with an error (kept in the robustness table with its
    reason, so one unstable variant does not hide the others).

    Examples
    --------
    >>> FailedVariant("tttd", "beta=2: leave-one-out advantages overflow").method
    'tttd'
    """

    method: str
    error: str


def compare_variants(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
                     methods: Sequence[str] = ("sdft", "tttd", "oapl"),
                     keep_going: bool = False
                     ) -> list[tuple[str, MethodRun | FailedVariant]]:
    """For each method: its run at the faithful defaults (label ``defaults``), then one run per
    named variant in :data:`VARIANTS` (and :data:`BATCH_VARIANTS` with finite batches).
    ``keep_going=True``: a variant that stops with a :class:`~symforget.errors.SymforgetError`
    is recorded as a :class:`FailedVariant` and the others still run (the defaults run must
    succeed).

    Examples
    --------
    TTT-Discover at the reference defaults forgets (claim ``tttd.paper_defaults_forget``); a KL
    weight λ = 1 keeps the mass (claim ``tttd.kl_retains``):

    >>> from symforget.methods import compare_variants, verdict
    >>> from symforget.methods.base import Problem
    >>> rows = compare_variants(Problem(alpha=0.3), steps=200, methods=["tttd"])
    >>> [(label, verdict(r)[0]) for label, r in rows if label in ("defaults", "kl_coef=1")]
    [('defaults', 'lost'), ('kl_coef=1', 'kept')]
    """
    out: list[tuple[str, MethodRun]] = []
    for name in methods:
        if name not in NAMES:
            raise ParameterError(f"unknown method {name!r}; known: {', '.join(NAMES)}")
        mod = get(name)
        out.append(("defaults", mod.run(problem, steps=steps, seed=seed, batch=batch)))
        extra = VARIANTS.get(name, ()) + (BATCH_VARIANTS.get(name, ()) if batch else ())
        for label, over in extra:
            out.append((label, run_variant(mod, name, keep_going, problem, steps=steps,
                                           seed=seed, batch=batch, **over)))
    return out


def run_variant(mod: ModuleType, name: str, keep_going: bool, problem: Problem,
                **kwargs: Any) -> MethodRun | FailedVariant:
    """``mod.run(problem, **kwargs)``; with ``keep_going`` a SymforgetError becomes a
    :class:`FailedVariant` (the one-line reason) instead of stopping the comparison.

    Examples
    --------
    A refused parameter is recorded, not raised, with ``keep_going``:

    >>> from symforget.methods import get, run_variant
    >>> from symforget.methods.base import Problem
    >>> r = run_variant(get("tttd"), "tttd", True, Problem(), steps=5, group_size=0)
    >>> type(r).__name__, "group_size" in r.error
    ('FailedVariant', True)"""
    try:
        return mod.run(problem, **kwargs)
    except SymforgetError as exc:
        if not keep_going:
            raise
        return FailedVariant(name, str(exc))


def format_variants(rows: Sequence[tuple[str, MethodRun]]) -> str:
    """The robustness table: method, variant, final w, max old drift, new error, and the
    verdicts of :func:`verdict` (starved-batch fraction when a finite-batch run records it).

    Examples
    --------
    >>> from symforget.methods import compare_variants, format_variants
    >>> from symforget.methods.base import Problem
    >>> rows = compare_variants(Problem(alpha=0.3), steps=200, methods=["tttd"])
    >>> print(format_variants(rows))
    robustness: each method at its faithful defaults and under named modelling choices
    method  variant                     final w  max old drift  new error  old mass  drift  starved
    ------  --------------------------  -------  -------------  ---------  --------  -----  -------
    tttd    defaults                    ...      lost  small        -
    ...
    tttd    kl_coef=1                   ...      kept  small        -
    old mass lost: ...
    """
    if not rows:
        return "(no runs)"
    table = [("method", "variant", "final w", "max old drift", "new error", "old mass",
              "drift", "starved")]
    failed: list[str] = []
    for label, r in rows:
        if isinstance(r, FailedVariant):
            table.append((r.method, label, "failed", "-", "-", "-", "-", "-"))
            failed.append(f"{r.method} {label} failed: {r.error}")
            continue
        s = r.summary()
        mass, drift = verdict(r)
        starved = r.extra.get("starved_group_fraction",
                              r.extra.get("starved_batch_fraction"))
        table.append((r.method, label, f"{s['final_w']:.4f}", f"{s['max_old_drift']:.4f}",
                      f"{s['new_error']:.4f}", mass, drift,
                      "-" if starved is None else f"{starved:.2f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["robustness: each method at its faithful defaults and under named modelling choices"]
    for j, row in enumerate(table):
        lines.append("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i])
                               for i, c in enumerate(row)).rstrip())
        if j == 0:
            lines.append("  ".join("-" * wd for wd in widths))
    lines.append(f"old mass lost: final w < {_MASS_KEPT:g} min(w0, alpha); falling: above that, "
                 "below min(w0, alpha) and down > 2% over the second half of the run; drift "
                 f"small: max |mu_o - mu_o*| < {_DRIFT_SMALL:g} sigma (also counts a "
                 "component that has lost its mass); starved: fraction of batches (tttd: of "
                 "groups) without an old-component draw")
    lines.extend(failed)
    return "\n".join(lines)
