r"""Claims: an id, a one-line statement, its derivation(s), and a check that returns evidence.

A check is a function ``check(ctx, **variant) -> Evidence``. Its keyword arguments *are the
statement's constants* (a rate, a bound's prefactor, a curvature formula …) with the true values
as defaults; a claim's ``mutants`` are deliberately wrong values for them. The same checking
machinery must reject every mutant — that is how we know a check can fail (tests enforce it).

Checks follow DESIGN.md's verification method: symbolic identities, numeric sweeps (worst case
reported), precise points with error estimates, fitted rates with standard errors. Sub-checks are
recorded in a :class:`Checks` accumulator, which turns them into metrics and a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ..symbolic.derivation import Derivation

__all__ = ["Context", "Evidence", "Checks", "Claim", "ClaimResult", "fit_line",
           "record_derivation", "as_expr"]

Metric = float | int | str | bool | None


@dataclass(frozen=True)
class Context:
    """Run settings shared by all checks.

    Examples
    --------
    >>> from symforget.claims import Context
    >>> ctx = Context(profile="full", seed=3)
    >>> ctx.full, ctx.n(10, 1000)
    (True, 1000)
    >>> bool(ctx.rng(1).random() == Context(seed=3).rng(1).random())  # seeded streams
    True
    """

    profile: str = "quick"
    seed: int = 0
    dps: int = 30

    @property
    def full(self) -> bool:
        """True for the exhaustive profile."""
        return self.profile == "full"

    def rng(self, salt: int = 0) -> np.random.Generator:
        """A seeded generator (distinct streams per ``salt``)."""
        return np.random.default_rng([self.seed, salt])

    def n(self, quick: int, full: int) -> int:
        """Pick a size by profile."""
        return full if self.full else quick


@dataclass(frozen=True)
class Evidence:
    """What a check found: verdict, metrics, a one-line summary, a counterexample if it failed.

    Examples
    --------
    >>> from symforget.claims import Checks
    >>> chk = Checks()
    >>> chk.le("ratio", 1.2, 1.0)
    False
    >>> chk.evidence("m/bound above 1")
    Evidence(ok=False, metrics={'ratio': 1.2}, summary='m/bound above 1',
             counterexample='ratio=1.2 (must be <= 1)')
    """

    ok: bool
    metrics: dict[str, Metric]
    summary: str
    counterexample: str | None = None


def _clean(value: Any) -> Metric:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if value is None or isinstance(value, str):
        return value
    return str(value)


class Checks:
    """Accumulates sub-checks of one claim into metrics and a verdict.

    Every sub-check stores its measured value as a metric; failures are collected with a
    readable description (the counterexample).

    Examples
    --------
    >>> from symforget.claims import Checks
    >>> chk = Checks()
    >>> chk.close("slope", -0.12498, -0.125, rtol=1e-3)  # a fitted rate against -1/8
    True
    >>> chk.ok, chk.metrics
    (True, {'slope': -0.12498, 'slope_expected': -0.125})
    >>> chk.true("monotone", False, "w rose at step 3")
    False
    >>> chk.ok, chk.evidence("rate and monotonicity").counterexample
    (False, 'monotone: w rose at step 3')
    """

    def __init__(self) -> None:
        self.metrics: dict[str, Metric] = {}
        self.failures: list[str] = []
        self.passed: list[str] = []

    def metric(self, name: str, value: Any) -> None:
        """Record evidence that is not itself a pass/fail criterion."""
        self.metrics[name] = _clean(value)

    def true(self, name: str, condition: bool, detail: str = "") -> bool:
        """A boolean criterion."""
        cond = bool(condition)
        self.metrics[name] = cond
        msg = f"{name}: {detail}" if detail else name
        (self.passed if cond else self.failures).append(msg)
        return cond

    def le(self, name: str, value: float, bound: float, detail: str = "") -> bool:
        """``value <= bound``; the value is the metric."""
        self.metrics[name] = _clean(value)
        ok = bool(np.isfinite(value) and value <= bound)
        msg = f"{name}={value:.6g} (must be <= {bound:.3g})" + (f"; {detail}" if detail else "")
        (self.passed if ok else self.failures).append(msg)
        return ok

    def close(self, name: str, measured: float, expected: float, rtol: float,
              atol: float = 0.0, detail: str = "") -> bool:
        """``|measured − expected| <= atol + rtol·|expected|``; records both and the error."""
        err = abs(measured - expected)
        self.metrics[name] = _clean(measured)
        self.metrics[f"{name}_expected"] = _clean(expected)
        ok = bool(np.isfinite(measured) and err <= atol + rtol * abs(expected))
        msg = (f"{name}={measured:.10g} vs expected {expected:.10g} "
               f"(|err|={err:.3g}, tol={atol + rtol * abs(expected):.3g})")
        if detail:
            msg += f"; {detail}"
        (self.passed if ok else self.failures).append(msg)
        return ok

    @property
    def ok(self) -> bool:
        """True iff no sub-check failed (and at least one ran)."""
        return not self.failures and bool(self.passed)

    def evidence(self, summary: str) -> Evidence:
        """Freeze into :class:`Evidence`."""
        counter = "; ".join(self.failures) if self.failures else None
        if not self.passed and not self.failures:
            counter = "no sub-check ran"
        return Evidence(self.ok, dict(self.metrics), summary, counter)


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares slope, its standard error and the intercept of y against x.

    Examples
    --------
    >>> from symforget.claims import fit_line
    >>> slope, stderr, intercept = fit_line([0, 1, 2, 3], [1, 3, 5, 7])  # y = 2x + 1 exactly
    >>> round(slope, 12), stderr < 1e-12, round(intercept, 12)
    (2.0, True, 1.0)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3:
        raise ValueError("need at least three points to fit a line with a standard error")
    A = np.column_stack([x, np.ones_like(x)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = x.size - 2
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(A.T @ A)
    return float(coef[0]), float(math.sqrt(max(cov[0, 0], 0.0))), float(coef[1])


@dataclass(frozen=True)
class Claim:
    """A registered claim.

    ``check(ctx, **variant)`` returns :class:`Evidence`; ``mutants`` maps a name to the keyword
    arguments of a deliberately wrong statement that the check must reject; ``derivations``
    lazily builds the SymPy derivations rendered in proofs/.

    Examples
    --------
    A claim's check passes and each of its mutants is rejected:

    >>> from symforget import claims
    >>> from symforget.claims import Context
    >>> c = claims.get("replay.starvation")
    >>> c.family, sorted(c.mutants)
    ('replay', ['expected_old_on_policy', 'starve_factorised', 'starve_ignores_replay'])
    >>> c.check(Context()).ok
    True
    >>> c.check(Context(), **c.mutants["starve_ignores_replay"]).ok
    False
    """

    id: str
    statement: str
    check: Callable[..., Evidence]
    derivations: Callable[[], list] = field(default=lambda: [])
    assumptions: tuple[str, ...] = ()
    mutants: dict[str, dict[str, Any]] = field(default_factory=dict)
    issue: int | None = None

    @property
    def family(self) -> str:
        """The part of the id before the dot."""
        return self.id.split(".", 1)[0]


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of verifying one claim (the JSON record of ``symforget verify --json``).

    Examples
    --------
    >>> import symforget as sf
    >>> result = sf.verify("replay.starvation")["replay.starvation"]
    >>> result.status, result.ok
    ('pass', True)
    >>> sorted(result.to_json())
    ['counterexample', 'id', 'metrics', 'seconds', 'statement', 'status', 'summary']
    """

    id: str
    status: str  # "pass" | "fail" | "error"
    statement: str
    metrics: dict[str, Metric]
    seconds: float
    summary: str = ""
    counterexample: str | None = None

    @property
    def ok(self) -> bool:
        """True iff the claim passed."""
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        """The documented JSON record."""
        return {
            "id": self.id,
            "status": self.status,
            "statement": self.statement,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "counterexample": self.counterexample,
        }


def record_derivation(chk: Checks, name: str, derivation: Derivation) -> None:
    """Check every step of ``derivation`` into one sub-check ``name``; the methods that decided
    the steps (simplify, equals, numeric-50) become the metric ``<name>_decided_by``."""
    results = derivation.check()
    bad = [f"step {i + 1} ({s.rule}): {c.method} {c.detail}".strip()
           for i, (s, c) in enumerate(zip(derivation.steps, results, strict=True)) if not c.ok]
    methods: dict[str, int] = {}
    for c in results:
        methods[c.method] = methods.get(c.method, 0) + 1
    chk.metric(f"{name}_decided_by", ", ".join(f"{k}×{v}" for k, v in sorted(methods.items())))
    chk.true(name, not bad, "; ".join(bad) if bad else f"{len(results)} steps check")


def as_expr(value: Any) -> sp.Expr:
    """A statement constant (number or SymPy expression) as a SymPy expression.

    Strings are refused: ``sympify`` of a string runs SymPy's parser, which evaluates code.
    """
    if isinstance(value, str | bytes):
        raise TypeError(f"statement constant {value!r} must be a number or a SymPy expression, "
                        "not a string")
    return sp.sympify(value)  # safe: non-string (numbers and SymPy objects only)
