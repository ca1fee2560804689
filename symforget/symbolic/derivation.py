r"""Derivations as frozen records of steps that can check themselves.

A :class:`Derivation` is an ordered list of :class:`Step` s. Each step states an expression
``lhs`` and what it becomes, ``rhs``, with the rule applied and a one-line justification. A step of
kind ``"eq"`` claims ``lhs = rhs``; :meth:`Step.check` decides it and records *what* decided it:

1. ``simplify``: ``sp.simplify(lhs − rhs) == 0``;
2. ``equals``: SymPy's ``(lhs − rhs).equals(0)``;
3. ``numeric-50``: a 50-digit evaluation at several fixed pseudo-random points of the domain
   (used only when SymPy cannot decide; the check says so).

``"le"`` steps claim ``lhs ≤ rhs`` and are checked at 50 digits on the same points;
``"def"`` steps introduce notation and are not checked; ``"cas"`` steps record the output of a
SymPy algorithm (e.g. ``integrate``) whose numeric confirmation is done by the claim's own check
(independent mpmath quadrature on a parameter ladder) — re-integrating at 50 digits here would
cost seconds per point. Rendering lives in
:mod:`symforget.render`; this module only records and checks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

import mpmath
import sympy as sp

from .functions import expand_special

__all__ = ["Step", "Derivation", "StepCheck", "spot_values"]


def _prepared(expr: sp.Expr) -> sp.Expr:
    """Stable functions rewritten to exp/log and pending substitutions (``Subs``) carried out."""
    out = expand_special(sp.sympify(expr))  # safe: internal expressions only, never user text
    return out.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit())

Kind = Literal["eq", "le", "def", "cas"]

#: symbols whose name marks a probability/weight: sampled in (0, 1)
_UNIT_NAMES = {"w", "alpha", "rho", "lambda", "beta", "p"}


def spot_values(symbols: set[sp.Symbol], seed: int) -> dict[sp.Symbol, sp.Float]:
    """Deterministic sample points that respect the symbols' assumptions.

    Weights (``w``, ``alpha``, ``rho`` …) lie in (0.05, 0.95); positive symbols in (0.3, 3);
    other real symbols in (−3, 3). Values are exact 50-digit Floats.
    """
    rng = random.Random(seed)
    out: dict[sp.Symbol, sp.Float] = {}
    for sym in sorted(symbols, key=lambda s_: s_.name):
        if sym.name in _UNIT_NAMES:
            val = rng.uniform(0.05, 0.95)
        elif sym.is_positive or sym.is_nonnegative:
            val = rng.uniform(0.3, 3.0)
        else:
            val = rng.uniform(-3.0, 3.0)
        out[sym] = sp.Float(repr(val), 50)
    return out


@dataclass(frozen=True)
class StepCheck:
    """Outcome of checking one step: ``ok`` and the method that decided it."""

    ok: bool
    method: str
    detail: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a derivation: ``lhs`` ⟶ ``rhs`` by ``rule`` because ``why``."""

    lhs: sp.Expr
    rhs: sp.Expr
    rule: str
    why: str
    kind: Kind = "eq"
    #: symbolic check skipped (expensive or not decidable); go straight to 50-digit spot checks
    numeric_only: bool = False

    def check(self, points: int = 4) -> StepCheck:
        """Decide the step; return which method decided it."""
        if self.kind == "def":
            return StepCheck(True, "definition")
        if self.kind == "cas":
            return StepCheck(True, "computed by SymPy; confirmed numerically by the claim check")
        diff = _prepared(self.lhs) - _prepared(self.rhs)
        if self.kind == "eq" and not self.numeric_only:
            try:
                if sp.simplify(diff) == 0:
                    return StepCheck(True, "simplify")
                decided = diff.equals(0)
            except (TypeError, ValueError, NotImplementedError):  # pragma: no cover - SymPy quirk
                decided = None
            if decided is True:
                return StepCheck(True, "equals")
            if decided is False:
                return StepCheck(False, "equals", "SymPy decided lhs - rhs != 0")
        if self.lhs.has(sp.Integral) or self.rhs.has(sp.Integral):
            points = min(points, 2)  # SymPy's 50-digit quadrature costs seconds per point
        return self._numeric(diff, points)

    def _numeric(self, diff: sp.Expr, points: int) -> StepCheck:
        lhs_, rhs_ = sp.sympify(self.lhs), sp.sympify(self.rhs)  # safe: internal
        free = lhs_.free_symbols | rhs_.free_symbols
        worst = mpmath.mpf(0)
        with mpmath.workdps(50):
            for seed in range(points):
                vals = spot_values(free, seed)
                if self.kind == "le":
                    lhs = sp.N(_prepared(self.lhs).subs(vals), 50)
                    rhs = sp.N(_prepared(self.rhs).subs(vals), 50)
                    if not (lhs <= rhs * (1 + sp.Float("1e-40"))):
                        return StepCheck(False, "numeric-50", f"lhs={lhs} > rhs={rhs} at {vals}")
                    continue
                # lhs and rhs separately: evalf of a cancelling difference retries at rising
                # precision (3-4x slower); each side is good to 50 digits, so is |lhs - rhs|
                lhs = sp.N(_prepared(self.lhs).subs(vals), 50)
                rhs = sp.N(_prepared(self.rhs).subs(vals), 50)
                rel = abs(lhs - rhs) / max(abs(lhs), sp.Float(1))
                worst = max(worst, mpmath.mpf(str(rel)))
        if self.kind == "le":
            return StepCheck(True, "numeric-50", f"lhs <= rhs at {points} points")
        ok = worst < mpmath.mpf("1e-40")
        return StepCheck(ok, "numeric-50", f"max |lhs-rhs|/max(|lhs|,1) = {mpmath.nstr(worst, 3)}")


@dataclass(frozen=True)
class Derivation:
    """An ordered derivation attached to a claim.

    ``assumptions`` are stated in words (they are rendered in proofs/), ``steps`` are checked by
    :meth:`check`, ``result`` is the final expression the claim's numeric checks use.
    """

    title: str
    assumptions: tuple[str, ...]
    steps: tuple[Step, ...]
    result: sp.Expr | None = None
    notes: tuple[str, ...] = field(default=())

    def check(self) -> list[StepCheck]:
        """Check every step, in order."""
        return [step.check() for step in self.steps]

    @property
    def ok(self) -> bool:
        """True iff every step checks."""
        return all(c.ok for c in self.check())
