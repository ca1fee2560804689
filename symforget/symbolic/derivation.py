r"""Derivations as frozen records of steps that can check themselves.

A :class:`Derivation` is an ordered list of :class:`Step` s. Each step states an expression
``lhs`` and what it becomes, ``rhs``, with the rule applied and a one-line justification. A step of
kind ``"eq"`` claims ``lhs = rhs``; :meth:`Step.check` decides it and records *what* decided it:

1. ``simplify``: ``sp.simplify(lhs − rhs) == 0``;
2. ``equals``: SymPy's ``(lhs − rhs).equals(0)``;
3. ``numeric-50``: a 50-digit evaluation at several fixed pseudo-random points of the domain
   (used only when SymPy cannot decide; the check says so).

``"le"`` steps claim ``lhs ≤ rhs`` and are checked at 50 digits on the same points. An ``"le"``
step may also state a *domain* (``box``: a closed interval per free symbol, exact rationals or
decimal strings) and, where the margin ``rhs − lhs`` vanishes on a whole set, an equivalent form
of the margin (``margin``) whose sign is visible factor by factor; the renderer then certifies
the step on the whole box with ball arithmetic (:mod:`symforget.certified.steps`; this layer only
records the domain, it does not import the prover). A step without a box says why in ``sampled``.

A step shows what it claims: a side that SymPy would evaluate on construction (a derivative, a
substitution, the model's own expression) is *held* — ``sp.Derivative``, ``sp.Subs``,
``sp.Sum``, ``sp.UnevaluatedExpr``, :class:`Named` (a quantity printed by its name) or
:class:`Mean` (an expectation taken by linearity) — and every check releases the held forms
first (:func:`evaluate_held`), so the check is the same as if the step had been written out.

Three kinds of step are not checked here, and each says why (``reason``, rendered beside it):

* ``"def"``: a definition or notation;
* ``"cas"``: the output of a SymPy algorithm (e.g. ``integrate``) whose numeric confirmation is
  done by the claim's own check (independent quadrature) — re-integrating at 50 digits here would
  cost seconds per point;
* ``"argued"``: a step justified by an argument in words (integration by parts, Gibbs'
  inequality, identifiability …); the reason names the argument and what confirms the result.

Rendering lives in :mod:`symforget.runners.render`; this module only records and checks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import mpmath
import sympy as sp
from sympy.core.symbol import Str

from .functions import expand_special

__all__ = ["Step", "Derivation", "StepCheck", "Named", "Mean", "evaluate_held", "spot_values",
           "UNCHECKED_KINDS"]


class Named(sp.Expr):
    r"""A quantity shown by its name and checked through its value.

    ``Named(r"g_o^{(w)}", expr)`` prints as :math:`g_o^{(w)}` (the name is raw LaTeX) and stands
    for ``expr``: a step ``Named(name, model_expr) = formula`` shows *which* quantity is claimed to
    equal the formula, and its check uses ``model_expr`` itself (:func:`evaluate_held`).
    """

    is_commutative = True
    #: between Mul (50) and Pow (60): a power of a name is parenthesised, a product is not
    precedence = 55

    def __new__(cls, name: str | Str, value: sp.Expr) -> Named:
        if isinstance(name, Str):  # rebuilt by SymPy (subs, xreplace) from its own args
            name = name.name
        if not isinstance(name, str) or not name:
            raise TypeError("Named takes a non-empty LaTeX name and a SymPy expression")
        if isinstance(value, str | bytes):  # never parse strings: SymPy's parser evaluates code
            raise TypeError("Named takes a SymPy expression as its value, not a string")
        return sp.Expr.__new__(cls, Str(name), sp.sympify(value))  # safe: non-string

    @property
    def name(self) -> str:
        """The LaTeX name."""
        return self.args[0].name

    @property
    def value(self) -> sp.Expr:
        """The expression the name stands for."""
        return self.args[1]

    def doit(self, **hints):
        """The value (SymPy's ``doit`` protocol)."""
        return self.value.doit(**hints) if hints.get("deep", True) else self.value

    def _latex(self, printer):
        return self.name

    def _sympystr(self, printer):
        return self.name


class Mean(sp.Expr):
    r"""A held expectation :math:`\mathbb E_{\rm under}[\mathrm{expr}]` taken by linearity only.

    ``expr`` must be affine in the random quantities ``means`` maps to their means, with
    coefficients free of them and of the data variable ``variable``; releasing the held form
    (:func:`evaluate_held`) replaces each random quantity by its mean and raises ``ValueError``
    if ``expr`` is not of that form — so a step using it checks the linearity it relies on.
    """

    is_commutative = True

    def __new__(cls, expr: sp.Expr, means: dict[sp.Symbol, sp.Expr] | sp.Tuple, under: str | Str,
                variable: sp.Symbol | sp.Tuple | None = None) -> Mean:
        # (SymPy rebuilds the object from its own args: Tuple, Str, Tuple)
        pairs = means if isinstance(means, sp.Tuple) else sp.Tuple(
            *(sp.Tuple(k, v) for k, v in means.items()))
        if not pairs:
            raise ValueError("Mean needs at least one random quantity")
        if isinstance(variable, sp.Tuple):
            var = variable
        else:
            var = sp.Tuple() if variable is None else sp.Tuple(variable)
        label = under if isinstance(under, Str) else Str(under)
        return sp.Expr.__new__(cls, sp.sympify(expr), pairs, label, var)  # safe: internal

    @property
    def body(self) -> sp.Expr:
        """The expression under the expectation."""
        return self.args[0]

    def linear_value(self) -> sp.Expr:
        """The expectation by linearity (``ValueError`` if ``body`` is not affine as required)."""
        body, pairs, _, var = self.args
        rvs = [p[0] for p in pairs]
        try:
            poly = sp.Poly(sp.expand(body), *rvs)
        except sp.PolynomialError as exc:
            raise ValueError(f"E[{body}] is not polynomial in {rvs}: linearity does not apply"
                             ) from exc
        if poly.total_degree() > 1:
            raise ValueError(f"E[{body}] is not affine in {rvs}: linearity does not apply")
        for coeff in poly.coeffs():
            bad = [v for v in (*rvs, *var) if coeff.has(v)]
            if bad:
                raise ValueError(f"coefficient {coeff} of E[{body}] depends on {bad}")
        return body.xreplace({p[0]: p[1] for p in pairs})

    def doit(self, **hints):
        """The value by linearity (SymPy's ``doit`` protocol)."""
        return self.linear_value()

    def _latex(self, printer):
        return (r"\mathbb{E}_{" + self.args[2].name + r"}\left[" + printer._print(self.body)
                + r"\right]")


#: held forms released before every check (innermost first)
_HELD = (Named, Mean, sp.UnevaluatedExpr, sp.Subs, sp.Derivative, sp.Sum)


def _release(e: sp.Basic) -> sp.Basic:
    if isinstance(e, Named):
        return e.value
    if isinstance(e, Mean):
        return e.linear_value()
    if isinstance(e, sp.UnevaluatedExpr):
        return e.args[0]
    if isinstance(e, sp.Subs):  # simultaneous, as the notation |_{a=b, b=a} reads
        return e.expr.subs(dict(zip(e.variables, e.point, strict=True)), simultaneous=True)
    return e.doit(deep=False)  # Derivative, Sum: integrals inside stay unevaluated


def evaluate_held(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every held form carried out: :class:`Named` replaced by its value,
    ``UnevaluatedExpr`` unwrapped, ``Derivative``, ``Subs`` and ``Sum`` evaluated (inner ones
    first; a ``Subs`` substitutes simultaneously). ``Integral`` is left to the check itself
    (SymPy's ``simplify`` or 50-digit quadrature)."""
    return sp.sympify(expr).replace(lambda e: isinstance(e, _HELD), _release)  # safe: internal


def _prepared(expr: sp.Expr) -> sp.Expr:
    """Held forms carried out and stable functions rewritten to exp/log."""
    return expand_special(evaluate_held(expr))


Kind = Literal["eq", "le", "def", "cas", "argued"]
#: kinds that are not checked here, and the reason rendered when a step gives none
UNCHECKED_KINDS = {
    "def": "a definition or notation",
    "cas": "the output of a SymPy algorithm, confirmed numerically by the claim's own check",
    "argued": "",  # an argument in words: the step must say which, and what confirms it
}

#: symbols whose name marks a probability/weight: sampled in (0, 1)
_UNIT_NAMES = {"w", "alpha", "rho", "lambda", "beta", "p"}


def _bound(v: object) -> Fraction:
    """An exact box bound: int, Fraction or a decimal/ratio string (``Fraction`` parses it)."""
    if isinstance(v, bool) or not isinstance(v, str | int | Fraction):
        raise TypeError(f"box bound {v!r} must be an int, a Fraction or a decimal string")
    return Fraction(v.strip()) if isinstance(v, str) else Fraction(v)


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
    """One step of a derivation: ``lhs`` ⟶ ``rhs`` by ``rule`` because ``why``.

    ``reason`` says what an unchecked step (kind ``"def"``, ``"cas"``, ``"argued"``) is and what
    confirms it instead; it is required for ``"argued"`` and refused for checked kinds.
    ``relation`` (LaTeX, e.g. ``\\implies``) replaces the rendered ``=`` of an ``"argued"`` step
    whose sides are statements.

    Only for ``"le"`` steps: ``box`` is the domain on which ``lhs ≤ rhs`` is certified with ball
    arithmetic, ``((name, lo, hi), …)`` with one closed interval per free symbol (bounds exact:
    ``int``, :class:`~fractions.Fraction` or a decimal string such as ``"1e-6"``, parsed by
    ``Fraction``, never evaluated; it must respect the symbols' assumptions, e.g. lo > 0 for a
    positive symbol); ``margin`` is an optional expression equal to ``rhs − lhs`` (SymPy must
    prove it) in which the sign is visible, for a margin that vanishes on a whole set;
    ``sampled`` says why a step without a box is only checked at sample points.
    """

    lhs: sp.Expr
    rhs: sp.Expr
    rule: str
    why: str
    kind: Kind = "eq"
    #: symbolic check skipped (expensive or not decidable); go straight to 50-digit spot checks
    numeric_only: bool = False
    reason: str = ""
    relation: str = ""
    box: tuple[tuple[str, str | int | Fraction, str | int | Fraction], ...] = ()
    margin: sp.Expr | None = None
    sampled: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("eq", "le", *UNCHECKED_KINDS):
            raise ValueError(f"kind={self.kind!r} must be one of eq, le, "
                             f"{', '.join(UNCHECKED_KINDS)}")
        if self.kind in UNCHECKED_KINDS:
            if not (self.reason or UNCHECKED_KINDS[self.kind]):
                raise ValueError(f"step {self.rule!r} of kind {self.kind!r} must say why it is "
                                 "not checked (reason=...)")
        elif self.reason:
            raise ValueError(f"step {self.rule!r} is checked ({self.kind}); reason= is only for "
                             "steps that are not")
        if self.relation and self.kind != "argued":
            raise ValueError("relation= is only for argued steps (statements in words)")
        if (self.box or self.margin is not None or self.sampled) and self.kind != "le":
            raise ValueError(f"step {self.rule!r}: box=, margin= and sampled= are only for "
                             "inequality steps (kind 'le')")
        if self.box and self.sampled:
            raise ValueError(f"step {self.rule!r}: a step with a box is certified, not sampled")
        if self.margin is not None and not self.box:
            raise ValueError(f"step {self.rule!r}: margin= needs a box to certify it on")
        if isinstance(self.margin, str | bytes):  # never parse strings
            raise TypeError("margin= takes a SymPy expression, not a string")
        names = set()
        for entry in self.box:
            if not (isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str)):
                raise ValueError(f"step {self.rule!r}: box entry {entry!r} must be "
                                 "(name, lo, hi)")
            name, lo, hi = entry
            if name in names:
                raise ValueError(f"step {self.rule!r}: box names {name!r} twice")
            names.add(name)
            if _bound(lo) > _bound(hi):
                raise ValueError(f"step {self.rule!r}: box entry {entry!r} has lo > hi")

    def prepared_sides(self) -> tuple[sp.Expr, sp.Expr]:
        """``(lhs, rhs)`` as checked: held forms carried out, special functions expanded."""
        return _prepared(self.lhs), _prepared(self.rhs)

    def prepared_margin(self) -> sp.Expr | None:
        """The stated form of ``rhs − lhs`` (``margin``), prepared like the sides."""
        return None if self.margin is None else _prepared(self.margin)

    @property
    def checked(self) -> bool:
        """True iff :meth:`check` decides the step (kinds ``"eq"`` and ``"le"``)."""
        return self.kind in ("eq", "le")

    @property
    def unchecked_reason(self) -> str:
        """What an unchecked step is and what confirms it (empty for checked steps)."""
        if self.checked:
            return ""
        return self.reason or UNCHECKED_KINDS[self.kind]

    def check(self, points: int = 4) -> StepCheck:
        """Decide the step; return which method decided it (unchecked kinds: the kind)."""
        if not self.checked:
            method = {"def": "definition", "cas": "sympy-output", "argued": "argued"}[self.kind]
            return StepCheck(True, method, self.unchecked_reason)
        try:
            lhs, rhs = _prepared(self.lhs), _prepared(self.rhs)
        except ValueError as exc:  # a held form that does not apply (e.g. Mean not affine)
            return StepCheck(False, "held form", str(exc))
        if self.kind == "eq" and not self.numeric_only:
            diff = lhs - rhs
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
        if lhs.has(sp.Integral) or rhs.has(sp.Integral):
            points = min(points, 2)  # SymPy's 50-digit quadrature costs seconds per point
        return self._numeric(lhs, rhs, points)

    def _numeric(self, lhs_expr: sp.Expr, rhs_expr: sp.Expr, points: int) -> StepCheck:
        """50-digit evaluation of the prepared sides at ``points`` fixed points."""
        free = lhs_expr.free_symbols | rhs_expr.free_symbols
        worst = mpmath.mpf(0)
        with mpmath.workdps(50):
            for seed in range(points):
                vals = spot_values(free, seed)
                # lhs and rhs separately: evalf of a cancelling difference retries at rising
                # precision (3-4x slower); each side is good to 50 digits, so is |lhs - rhs|
                lhs = sp.N(lhs_expr.subs(vals), 50)
                rhs = sp.N(rhs_expr.subs(vals), 50)
                if not all(v.is_number and v.is_finite for v in (lhs, rhs)) or (
                        self.kind == "le" and not (lhs.is_real and rhs.is_real)):
                    return StepCheck(False, "numeric-50",
                                     f"a side does not evaluate to a finite number: lhs={lhs}, "
                                     f"rhs={rhs}")
                if self.kind == "le":
                    if not (lhs <= rhs * (1 + sp.Float("1e-40"))):
                        return StepCheck(False, "numeric-50", f"lhs={lhs} > rhs={rhs} at {vals}")
                    continue
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
