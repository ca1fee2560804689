r"""Certify the inequality steps of the derivations over a stated box with ball arithmetic.

A derivation step of kind ``"le"`` (:class:`symforget.symbolic.derivation.Step`) claims
:math:`\mathrm{lhs} \le \mathrm{rhs}` for every point of its domain. When the step states a box
(``Step.box``: a closed interval per free symbol, exact rationals), :func:`certify_step` proves
:math:`M = \mathrm{rhs} - \mathrm{lhs} \ge 0` on the *whole* box:

1. **Translation.** :func:`compile_enclosure` turns the SymPy tree of M (Add, Mul, Pow with an
   integer or rational exponent, exp, log, erf, erfc, tanh, sinh, cosh, Abs, π, e, rational
   numbers and the box's symbols) into a function from a cell (a box with exact rational end
   points) to an :class:`Interval` that *contains the range* of M over the cell. Anything else
   (an unevaluated integral, a piecewise, an unknown function, a symbol the box does not bound)
   is refused with :class:`UnsupportedExpressionError`; strings are never parsed.
2. **Branch and bound.** :func:`certify` encloses M over a cell; the cell is certified when the
   enclosure's lower end is ≥ 0, it is a counterexample when the upper end is < 0 (M < 0 at
   every point of the cell), and otherwise its midpoint is tried as a degenerate cell (a
   counterexample point ends the search) and the cell is bisected along its widest direction
   (widths relative to the box, logarithmic for an axis whose box has 0 < lo and hi/lo ≥ 100),
   up to a cell budget (then the result is *undecided*, never certified).
3. **Mean-value form.** Where M vanishes at a point (``u − 1 − log u`` at u = 1), no enclosure
   of M over a cell around the point can be ≥ 0 by evaluation alone. For a cell with a corner c
   the enclosure :math:`M(c) + \sum_i \partial_i M(X)\,(X_i - c_i)` contains M(X) (mean value
   theorem on the segment from c, which stays in the convex cell), valid when every
   :math:`\partial_i M` (SymPy's derivative, translated the same way) has a finite enclosure on
   the cell — which forces M to be C¹ there: every supported function is analytic on the
   interior of its domain, a derivative through a square root, a fractional power, log or a
   reciprocal at a boundary point of its domain is a reciprocal of an interval containing 0 and
   has no finite enclosure, and Abs (not differentiable at 0) is refused in derivatives. The
   best of the corners is used (boxes of at most :data:`MEAN_VALUE_MAX_DIM` dimensions).
4. **Rewrites.** A margin that vanishes on a whole manifold (AM–GM at A = B) cannot be closed by
   either, nor can one that is a small difference of large terms over a wide box (the tilt
   steps, where rhs and lhs both grow like :math:`e^{u}`): there the step states an equivalent
   form (``Step.margin``) whose sign is visible factor by factor (e.g.
   :math:`\sqrt A(\sqrt A - \sqrt B)^2/(2\sqrt B(A + B))`); :func:`certify_step` requires
   ``sympy.simplify(form − (rhs − lhs)) == 0`` and then certifies the form. Because the box
   respects the symbols' assumptions (a positive symbol has lo > 0), SymPy's identity holds at
   every point of the box. Such a certificate assumes SymPy's ``simplify`` (a symbolic proof
   of the rewrite) besides Arb; the renderer says which steps rely on one.

**Why the enclosures are rigorous.** An :class:`Interval` holds two *exact* Arb numbers (radius
0) ``lo ≤ hi`` and stands for the real interval [lo, hi]. Every operation computes its result's
candidate end points with Arb from exact end points of its operands — each an Arb ball that
contains the exact value (Arb's guarantee, at :data:`PREC` bits) — and takes the lower end
(:meth:`arb.lower`, rounded down) of the smallest candidate and the upper end (rounded up) of the
largest. The candidates are the exact range's end points: for a sum, the sums of the end points;
for a product, the four end-point products (the range of xy over a rectangle is attained at a
corner); for a monotone function (exp, log, erf, erfc, tanh, sinh, a positive or negative power
of a non-negative base), its values at the end points; for an even power, |x|ⁿ and cosh, the
end points and 0; a reciprocal of an interval containing 0, a log of an interval reaching 0, a
fractional power of an interval reaching below 0 or a non-finite Arb result give *no* enclosure
(``None``), so such a cell is never certified. End-point arithmetic (not Arb's mid-radius
arithmetic on whole cells) keeps signs: [0, 1]·[10⁻⁶, 10⁶] stays ≥ 0, where the mid-radius
product would not.

What this does not decide: a step that states no box is checked only by the 50-digit
evaluation at fixed points (``Step.check``); :func:`certify_step` then says why (``Step.sampled``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import sympy as sp
from flint import arb, ctx, fmpq

from .enclose import rational

if TYPE_CHECKING:
    from ..symbolic.derivation import Step

__all__ = ["PREC", "DEFAULT_MAX_CELLS", "MEAN_VALUE_MAX_DIM", "UnsupportedExpressionError",
           "Interval", "Box", "compile_enclosure", "enclose", "certify", "Certification",
           "StepCertification", "certify_step", "parse_box", "LOG_AXIS_RATIO"]

#: working precision (bits) of every enclosure
PREC = 128
#: cell budget of one certification (certified + pending cells)
DEFAULT_MAX_CELLS = 4000
#: the mean-value form is tried on boxes of at most this many dimensions (2^d corners)
MEAN_VALUE_MAX_DIM = 3
#: an axis whose box has 0 < lo and hi/lo at least this is bisected at geometric means
LOG_AXIS_RATIO = 100

Box = tuple[tuple[str, Fraction, Fraction], ...]
Cell = dict[str, tuple[Fraction, Fraction]]


class UnsupportedExpressionError(ValueError):
    """The expression has a node the translator cannot enclose (it says which)."""


# --------------------------------------------------------------------------------------------
# intervals with exact Arb end points


@dataclass(frozen=True)
class Interval:
    """The real interval [lo, hi]; ``lo`` and ``hi`` are exact Arb numbers (radius 0)."""

    lo: arb
    hi: arb

    def __str__(self) -> str:
        return f"[{_num(self.lo)}, {_num(self.hi)}]"


def _num(x: arb) -> str:
    """A short decimal of an exact Arb number (display only)."""
    return x.str(10, radius=False)


def _exact_lo(b: arb) -> arb:
    return arb(b.lower())


def _exact_hi(b: arb) -> arb:
    return arb(b.upper())


def _hull(balls: Sequence[arb]) -> Interval | None:
    """The smallest interval with exact end points containing every ball (None if any ball is
    not finite)."""
    lo = hi = None
    for b in balls:
        if not b.is_finite():
            return None
        bl, bh = _exact_lo(b), _exact_hi(b)
        lo = bl if lo is None or bl < lo else lo
        hi = bh if hi is None or bh > hi else hi
    assert lo is not None and hi is not None
    return Interval(lo, hi)


def _point(b: arb) -> Interval | None:
    return _hull([b])


def _from_fractions(lo: Fraction, hi: Fraction) -> Interval:
    """[lo, hi] for exact rationals (rounded outward if not dyadic)."""
    a, b = rational(lo), rational(hi)
    return Interval(_exact_lo(a), _exact_hi(b))


Op = Callable[[dict[str, Interval]], Interval | None]


def _add(terms: list[Op]) -> Op:
    def f(env: dict[str, Interval]) -> Interval | None:
        lo = hi = None
        for t in terms:
            v = t(env)
            if v is None:
                return None
            lo = v.lo if lo is None else lo + v.lo
            hi = v.hi if hi is None else hi + v.hi
        assert lo is not None and hi is not None
        if not (lo.is_finite() and hi.is_finite()):
            return None
        return Interval(_exact_lo(lo), _exact_hi(hi))
    return f


def _mul2(a: Interval, b: Interval) -> Interval | None:
    return _hull([a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi])


def _mul(factors: list[Op]) -> Op:
    def f(env: dict[str, Interval]) -> Interval | None:
        acc: Interval | None = None
        for t in factors:
            v = t(env)
            if v is None:
                return None
            acc = v if acc is None else _mul2(acc, v)
            if acc is None:
                return None
        return acc
    return f


def _recip(a: Interval) -> Interval | None:
    if a.lo > 0 or a.hi < 0:
        return _hull([1 / a.lo, 1 / a.hi])
    return None


def _pow_int(a: Interval, n: int) -> Interval | None:
    if n == 0:
        return Interval(arb(1), arb(1))
    if n < 0:
        p = _pow_int(a, -n)
        return None if p is None else _recip(p)
    if n % 2 == 0:
        if a.lo < 0 < a.hi:  # straddles 0: [0, max |x|^n]
            m = a.hi if a.hi > -a.lo else -a.lo
            top = _hull([m**n])
            return None if top is None else Interval(arb(0), top.hi)
        return _hull([a.lo**n, a.hi**n])
    return _hull([a.lo**n, a.hi**n])  # odd power: increasing


def _pow_rat(a: Interval, r: Fraction) -> Interval | None:
    """x^r for a non-integer rational r on a base ≥ 0 (> 0 when r < 0): monotone."""
    if a.lo < 0 or (r < 0 and not a.lo > 0):
        return None
    if r == Fraction(1, 2):
        return _hull([a.lo.sqrt(), a.hi.sqrt()])
    e = arb(fmpq(r.numerator, r.denominator))

    def pw(x: arb) -> arb:
        return arb(0) if x == 0 else x**e  # 0^r = 0 for r > 0

    return _hull([pw(a.lo), pw(a.hi)])


def _monotone(fn: Callable[[arb], arb], increasing: bool = True,
              domain_lo: int | None = None) -> Callable[[Interval], Interval | None]:
    """A monotone function on the interval, from its values at the end points; with
    ``domain_lo`` the interval must lie strictly above it (log: > 0)."""
    def f(a: Interval) -> Interval | None:
        if domain_lo is not None and not a.lo > domain_lo:
            return None
        lo_v, hi_v = fn(a.lo), fn(a.hi)
        return _hull([lo_v, hi_v]) if increasing else _hull([hi_v, lo_v])
    return f


def _even_from_zero(fn: Callable[[arb], arb]) -> Callable[[Interval], Interval | None]:
    """An even function increasing in |x| (Abs, cosh): end points, and 0 if straddled."""
    def f(a: Interval) -> Interval | None:
        vals = [fn(a.lo), fn(a.hi)]
        if a.lo < 0 < a.hi:
            vals.append(fn(arb(0)))
        return _hull(vals)
    return f


_UNARY: dict[type, Callable[[Interval], Interval | None]] = {
    sp.exp: _monotone(lambda v: v.exp()),
    sp.log: _monotone(lambda v: v.log(), domain_lo=0),
    sp.erf: _monotone(lambda v: v.erf()),
    sp.erfc: _monotone(lambda v: v.erfc(), increasing=False),
    sp.tanh: _monotone(lambda v: v.tanh()),
    sp.sinh: _monotone(lambda v: v.sinh()),
    sp.cosh: _even_from_zero(lambda v: v.cosh()),
    sp.Abs: _even_from_zero(abs),
}
#: names of what the translator encloses (for error messages)
SUPPORTED = ("Add", "Mul", "Pow (integer or rational exponent)", "exp", "log", "erf", "erfc",
             "tanh", "sinh", "cosh", "Abs", "pi", "E", "rational numbers", "the box's symbols")


def _compile(e: sp.Basic, names: frozenset[str], derivative: bool) -> Op:
    if isinstance(e, sp.Symbol):
        if e.name not in names:
            raise UnsupportedExpressionError(f"symbol {e.name!r} has no interval in the box")
        name = e.name
        return lambda env: env[name]
    if isinstance(e, sp.Rational):  # Integer, Rational, Half, One …
        iv = _from_fractions(Fraction(int(e.p), int(e.q)), Fraction(int(e.p), int(e.q)))
        return lambda env: iv
    if isinstance(e, sp.Float):  # its exact binary value
        q = sp.Rational(e)
        iv = _from_fractions(Fraction(int(q.p), int(q.q)), Fraction(int(q.p), int(q.q)))
        return lambda env: iv
    if e is sp.pi:
        iv_pi = _point(arb.pi())
        return lambda env: iv_pi
    if e is sp.E:
        iv_e = _point(arb.const_e())
        return lambda env: iv_e
    if isinstance(e, sp.Add):
        return _add([_compile(a, names, derivative) for a in e.args])
    if isinstance(e, sp.Mul):
        return _mul([_compile(a, names, derivative) for a in e.args])
    if isinstance(e, sp.Pow):
        base, ex = e.args
        if not isinstance(ex, sp.Rational):
            raise UnsupportedExpressionError(f"power with a non-rational exponent: {e}")
        b = _compile(base, names, derivative)
        if ex.q == 1:
            n = int(ex.p)
            return lambda env: (None if (v := b(env)) is None else _pow_int(v, n))
        r = Fraction(int(ex.p), int(ex.q))
        return lambda env: (None if (v := b(env)) is None else _pow_rat(v, r))
    fn = _UNARY.get(type(e))
    if fn is not None and len(e.args) == 1:
        if derivative and isinstance(e, sp.Abs):
            raise UnsupportedExpressionError("Abs in a derivative (not differentiable at 0)")
        a = _compile(e.args[0], names, derivative)
        return lambda env: (None if (v := a(env)) is None else fn(v))
    raise UnsupportedExpressionError(
        f"cannot enclose {type(e).__name__} ({e}); supported: {', '.join(SUPPORTED)}")


def compile_enclosure(expr: sp.Basic, names: Sequence[str], *,
                      derivative: bool = False) -> Op:
    """A function mapping ``{name: Interval}`` to an :class:`Interval` containing the range of
    ``expr`` over that box (or None: no finite enclosure). Raises
    :class:`UnsupportedExpressionError` for a node outside :data:`SUPPORTED`; never parses strings.
    ``derivative=True`` also refuses Abs (see the module docstring, mean-value form)."""
    if isinstance(expr, str | bytes):
        raise TypeError("compile_enclosure takes a SymPy expression, not a string")
    if not isinstance(expr, sp.Basic):
        raise TypeError(f"compile_enclosure takes a SymPy expression, not {type(expr).__name__}")
    return _compile(expr, frozenset(names), derivative)


def _env(cell: Cell) -> dict[str, Interval]:
    return {k: _from_fractions(lo, hi) for k, (lo, hi) in cell.items()}


def enclose(expr: sp.Basic, cell: Cell) -> Interval | None:
    """An interval containing the range of ``expr`` over ``cell`` ({name: (lo, hi)} with exact
    rationals), or None when no finite enclosure exists (at :data:`PREC` bits).

    Examples
    --------
    >>> import sympy as sp
    >>> from fractions import Fraction
    >>> x = sp.Symbol("x", real=True)
    >>> print(enclose(sp.exp(x) - x, {"x": (Fraction(0), Fraction(1))}))  # [e⁰ − 1, e¹ − 0]
    [0, 2.718281828]
    >>> print(enclose(sp.log(x), {"x": (Fraction(-1), Fraction(1))}))  # log is not defined at 0
    None
    """
    with ctx.workprec(PREC):  # constants (π, 1/3 …) are enclosed at PREC bits too
        op = compile_enclosure(expr, list(cell))
        return op(_env(cell))


# --------------------------------------------------------------------------------------------
# boxes


def _bound(v: Any) -> Fraction:
    if isinstance(v, bool) or isinstance(v, float):
        raise TypeError(f"box bound {v!r}: give an exact rational, an int or a decimal string "
                        "(a float's binary value is rarely what was meant)")
    if isinstance(v, str):
        return Fraction(v.strip())  # decimal or p/q literal; ValueError otherwise
    if isinstance(v, int | Fraction):
        return Fraction(v)
    raise TypeError(f"box bound {v!r} must be a str, int or Fraction")


def parse_box(box: Sequence[tuple[str, Any, Any]]) -> Box:
    """``((name, lo, hi), …)`` with bounds as exact rationals, ints or decimal strings (parsed
    by :class:`fractions.Fraction`, never evaluated); checks lo ≤ hi and unique names."""
    out = []
    seen = set()
    for entry in box:
        if len(entry) != 3:
            raise ValueError(f"box entry {entry!r} must be (name, lo, hi)")
        name, lo, hi = entry
        if not isinstance(name, str) or not name:
            raise ValueError(f"box entry {entry!r}: the name must be a non-empty string")
        if name in seen:
            raise ValueError(f"box names {name!r} twice")
        seen.add(name)
        a, b = _bound(lo), _bound(hi)
        if a > b:
            raise ValueError(f"box entry {entry!r}: lo > hi")
        out.append((name, a, b))
    return tuple(out)


def _is_log_axis(lo: Fraction, hi: Fraction) -> bool:
    return lo > 0 and hi >= LOG_AXIS_RATIO * lo


def _sqrt_fraction(q: Fraction) -> Fraction | None:
    n, d = q.numerator, q.denominator
    rn, rd = math.isqrt(n), math.isqrt(d)
    return Fraction(rn, rd) if rn * rn == n and rd * rd == d else None


def _split_point(lo: Fraction, hi: Fraction, log_axis: bool) -> Fraction:
    """Where to bisect [lo, hi]: the geometric mean on a log axis (exact when it is rational,
    else rounded to 3 significant digits), the midpoint otherwise (or when the rounded mean is
    not strictly inside)."""
    if log_axis and lo > 0:
        g = _sqrt_fraction(lo * hi)
        if g is None:
            g = Fraction(f"{math.sqrt(float(lo)) * math.sqrt(float(hi)):.3g}")
        if lo < g < hi:
            return g
    return (lo + hi) / 2


def _centre(cell: Cell, box: Box) -> Cell:
    """The cell's centre as a degenerate cell (geometric centre on log axes)."""
    out = {}
    for name, blo, bhi in box:
        lo, hi = cell[name]
        c = lo if lo == hi else _split_point(lo, hi, _is_log_axis(blo, bhi))
        out[name] = (c, c)
    return out


def _cell_around(op: Op, point: Cell, box: Box, levels: int = 40
                 ) -> tuple[Cell, Interval | None]:
    """A full-dimensional cell around a point where the margin is < 0 whose whole enclosure is
    < 0 (a counterexample cell): the point ± box width · 2⁻ᵏ on every axis (clipped to the box),
    for k = 4, 5, …; the point itself if none is found."""
    for k in range(4, 4 + levels):
        cell = {}
        for name, blo, bhi in box:
            c = point[name][0]
            h = (bhi - blo) / 2**k
            cell[name] = (max(blo, c - h), min(bhi, c + h))
        enc = op(_env(cell))
        if enc is not None and enc.hi < 0:
            return cell, enc
    return point, op(_env(point))


def _widest(cell: Cell, box: Box) -> str | None:
    """The axis of largest width relative to the box (log widths on log axes); None if the
    cell is a point."""
    best, best_w = None, Fraction(0)
    for name, blo, bhi in box:
        lo, hi = cell[name]
        if hi == lo or bhi == blo:
            continue
        if _is_log_axis(blo, bhi):
            w = Fraction(math.log(float(hi) / float(lo)) / math.log(float(bhi) / float(blo)))
        else:
            w = (hi - lo) / (bhi - blo)
        if best is None or w > best_w:
            best, best_w = name, w
    return best


# --------------------------------------------------------------------------------------------
# branch and bound


@dataclass
class Certification:
    """Outcome of :func:`certify`.

    ``status``: ``"certified"`` (every cell's enclosure ≥ 0), ``"refuted"`` (``counterexample``
    holds a cell or point whose enclosure is < 0) or ``"undecided"`` (the budget ran out).
    ``cells`` counts the certified cells, ``mean_value_cells`` those closed by the mean-value
    form, ``evaluations`` every enclosure computed; ``seconds`` is wall time (not rendered).
    """

    status: str
    box: Box
    cells: int = 0
    mean_value_cells: int = 0
    evaluations: int = 0
    counterexample: dict[str, Any] | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True iff the whole box is certified."""
        return self.status == "certified"


def _cell_text(cell: Cell) -> dict[str, str]:
    from .prover import frac_str

    return {k: frac_str(lo) if lo == hi else f"[{frac_str(lo)}, {frac_str(hi)}]"
            for k, (lo, hi) in cell.items()}


class _MeanValue:
    """The mean-value enclosure M(c) + Σ ∂ᵢM(X)(Xᵢ − cᵢ) at the corners of a cell."""

    def __init__(self, expr: sp.Expr, box: Box, value: Op) -> None:
        self.names = [n for n, lo, hi in box if lo != hi]
        self.value = value
        syms = {s.name: s for s in expr.free_symbols if isinstance(s, sp.Symbol)}
        self.grads: list[tuple[str, Op]] = []
        for n in self.names:
            g = sp.diff(expr, syms[n]) if n in syms else sp.S.Zero
            self.grads.append((n, compile_enclosure(g, [b[0] for b in box], derivative=True)))

    def lower(self, cell: Cell, env: dict[str, Interval]) -> tuple[arb | None, int]:
        """The best lower bound over the corners (None if a derivative has no finite
        enclosure on the cell), and the number of enclosures computed."""
        grads = []
        for n, g in self.grads:
            v = g(env)
            if v is None:
                return None, len(grads) + 1
            grads.append((n, v))
        count = len(grads)
        best: arb | None = None
        for corner in itertools.product((0, 1), repeat=len(self.names)):
            c_cell = dict(cell)
            for n, side in zip(self.names, corner, strict=True):
                q = cell[n][side]
                c_cell[n] = (q, q)
            m_c = self.value(_env(c_cell))
            count += 1
            if m_c is None:
                continue
            lo = m_c.lo
            for (n, g), side in zip(grads, corner, strict=True):
                a, b = cell[n]
                step = _from_fractions(Fraction(0), b - a) if side == 0 else \
                    _from_fractions(a - b, Fraction(0))
                prod = _mul2(g, step)
                if prod is None:
                    lo = None
                    break
                lo = _exact_lo(lo + prod.lo)
            if lo is not None and (best is None or lo > best):
                best = lo
        return best, count


def certify(expr: sp.Expr, box: Box | Sequence[tuple[str, Any, Any]], *,
            max_cells: int = DEFAULT_MAX_CELLS, mean_value: bool = True) -> Certification:
    """Prove ``expr ≥ 0`` on every point of ``box`` by branch and bound (module docstring), or
    find a cell or point where it is < 0, or give up after ``max_cells`` cells (undecided).

    The cells are processed breadth first (largest first), so the result — status, number of
    cells — is deterministic for a given expression, box and precision.

    Examples
    --------
    >>> import sympy as sp
    >>> u = sp.Symbol("u", positive=True)
    >>> cert = certify(u - sp.log(u) - 1, [("u", "1e-6", "1e6")])  # = 0 at u = 1
    >>> cert.status, cert.cells, cert.mean_value_cells
    ('certified', 2, 2)
    >>> bad = certify(u - sp.log(u) - sp.Rational(11, 10), [("u", "1e-6", "1e6")])
    >>> bad.status, bad.counterexample["cell"]["u"].startswith("[")
    ('refuted', True)
    """
    t0 = time.perf_counter()
    box = parse_box(box)
    names = [b[0] for b in box]
    mv: _MeanValue | None = None
    mv_error = ""
    result = Certification("undecided", box)
    with ctx.workprec(PREC):
        op = compile_enclosure(expr, names)  # constants (π, 1/3 …) enclosed at PREC bits
        if mean_value and len([b for b in box if b[1] != b[2]]) <= MEAN_VALUE_MAX_DIM:
            try:
                mv = _MeanValue(expr, box, op)
            except UnsupportedExpressionError as exc:
                mv_error = str(exc)
        queue: deque[Cell] = deque([{n: (lo, hi) for n, lo, hi in box}])
        while queue:
            cell = queue.popleft()
            env = _env(cell)
            enc = op(env)
            result.evaluations += 1
            if enc is not None and enc.lo >= 0:
                result.cells += 1
                continue
            if enc is not None and enc.hi < 0:
                result.status = "refuted"
                result.counterexample = {"cell": _cell_text(cell), "enclosure": str(enc)}
                break
            if mv is not None:
                low, n_enc = mv.lower(cell, env)
                result.evaluations += n_enc
                if low is not None and low >= 0:
                    result.cells += 1
                    result.mean_value_cells += 1
                    continue
            axis = _widest(cell, box)
            if axis is None:  # a point that is not decided (an enclosure straddling 0)
                result.reason = (f"a point's enclosure straddles 0 at {_cell_text(cell)}: "
                                 f"{enc}")
                break
            mid = _centre(cell, box)
            m_enc = op(_env(mid))
            result.evaluations += 1
            if m_enc is not None and m_enc.hi < 0:
                result.status = "refuted"
                bad, bad_enc = _cell_around(op, mid, box)
                result.evaluations += 1
                result.counterexample = {"cell": _cell_text(bad), "enclosure": str(bad_enc)}
                break
            if result.cells + len(queue) + 2 > max_cells:
                result.reason = (f"branch and bound did not close within {max_cells} cells "
                                 f"({result.cells} certified, {len(queue) + 1} open)")
                break
            lo, hi = cell[axis]
            blo, bhi = next((b[1], b[2]) for b in box if b[0] == axis)
            s = _split_point(lo, hi, _is_log_axis(blo, bhi))
            queue.append({**cell, axis: (lo, s)})
            queue.append({**cell, axis: (s, hi)})
        else:
            result.status = "certified"
    if result.status == "undecided" and mv_error:
        result.reason += f"; mean-value form unavailable: {mv_error}"
    result.seconds = time.perf_counter() - t0
    return result


# --------------------------------------------------------------------------------------------
# derivation steps


@dataclass
class StepCertification:
    """Outcome of :func:`certify_step` for one ``"le"`` step.

    ``status``: ``"certified"``, ``"refuted"``, ``"undecided"`` or ``"sampled"`` (no box: the
    step is checked only at sample points; ``reason`` says why). ``form`` is the stated
    equivalent margin (``Step.margin``) and ``form_ok`` whether SymPy proved it equal to
    rhs − lhs (None without a form); when it did not, the stated rhs − lhs itself is searched
    (so a wrong step still yields its counterexample) and the step counts as failed.
    """

    status: str
    box: Box = ()
    cells: int = 0
    mean_value_cells: int = 0
    form: sp.Expr | None = None
    form_ok: bool | None = None
    counterexample: dict[str, Any] | None = None
    reason: str = ""
    seconds: float = 0.0
    certification: Certification | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True iff certified (with a proved form, if one is stated)."""
        return self.status == "certified" and self.form_ok is not False


def _check_assumptions(box: Box, symbols: set[sp.Symbol]) -> None:
    """The box must respect each symbol's assumptions (so SymPy identities hold on it)."""
    by_name = {s.name: s for s in symbols}
    for name, lo, _ in box:
        s = by_name.get(name)
        if s is None:
            continue
        if s.is_positive and not lo > 0:
            raise ValueError(f"box: {name} is a positive symbol, its interval must have lo > 0")
        if s.is_nonnegative and not lo >= 0:
            raise ValueError(f"box: {name} is non-negative, its interval must have lo >= 0")


def certify_step(step: Step, *, max_cells: int = DEFAULT_MAX_CELLS) -> StepCertification:
    """Certify ``step.lhs ≤ step.rhs`` (held forms released, special functions expanded, as
    :meth:`Step.check` does) on ``step.box``; see the module docstring.

    Examples
    --------
    >>> import sympy as sp
    >>> from symforget.symbolic.derivation import Step
    >>> A, B = sp.symbols("A B", positive=True)
    >>> amgm = Step(A / (A + B), sp.sqrt(A / B) / 2, "AM-GM", "A + B ≥ 2√(AB)", kind="le",
    ...             box=(("A", "1e-6", "1e6"), ("B", "1e-6", "1e6")),
    ...             margin=sp.sqrt(A) * (sp.sqrt(A) - sp.sqrt(B))**2
    ...             / (2 * sp.sqrt(B) * (A + B)))
    >>> c = certify_step(amgm)
    >>> c.status, c.cells, c.form_ok
    ('certified', 1, True)
    """
    t0 = time.perf_counter()
    if step.kind != "le":
        raise ValueError(f"certify_step takes an inequality step (kind 'le'), not {step.kind!r}")
    if not step.box:
        return StepCertification("sampled", reason=step.sampled or "no domain is stated")
    box = parse_box(step.box)
    lhs, rhs = step.prepared_sides()
    margin = rhs - lhs
    symbols = margin.free_symbols
    _check_assumptions(box, symbols)
    missing = sorted(s.name for s in symbols if s.name not in {b[0] for b in box})
    if missing:
        raise UnsupportedExpressionError(f"step {step.rule!r}: the box does not bound {missing}")
    form, form_ok, target = None, None, margin
    if step.margin is not None:
        form = step.margin
        prepared = step.prepared_margin()
        _check_assumptions(box, prepared.free_symbols)
        form_ok = bool(sp.simplify(prepared - margin) == 0)
        if form_ok:
            target = prepared
    cert = certify(target, box, max_cells=max_cells)
    reason = cert.reason
    if form_ok is False:
        reason = ("the stated form of the margin is not equal to rhs − lhs (sympy.simplify); "
                  "searched rhs − lhs itself" + (f": {reason}" if reason else ""))
    return StepCertification(cert.status, box, cert.cells, cert.mean_value_cells, form, form_ok,
                             cert.counterexample, reason, time.perf_counter() - t0, cert)
