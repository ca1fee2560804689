r"""Independent high-precision reference for the general two-component model (issue 13).

Shares no code with symforget (only mpmath and the standard library), so that it can referee
the per-component-scale evaluators. Notation, with φ(x; m, s) = exp(−(x−m)²/(2s²))/(s√(2π)):

* student   q(x) = w φ(x; μo, σo) + (1−w) φ(x; μn, σn),  parameters θ = (w, μo, σo, μn, σn);
* target   p*(x) = α φ(x; νo, τo) + (1−α) φ(x; νn, τn);
* training  P(x) = (1−ρ) φ(x; md, sd) + ρ φ(x; mr, sr).

Method. Every integral is a sum of mpmath tanh-sinh quadratures (``mpmath.quad``) over pieces
of [lo, hi]. Densities are handled in log space: a mixture's log-density is t_I + log1p(e^{t_J −
t_I}) with t_I the larger component log term, and a log-ratio such as log(q/p*) is
log(a_I/b_J) + log1p(…) − log1p(…) with log(a_I/b_J) written in differences of means and
scales, so neither q/p* nor a difference of two large log-densities is ever formed (matched
components, e.g. μo = νo, σo = τo, give exact zeros, not rounding noise of size |log q|·eps).

With unequal scales the log-odds of a pair,

    g(x) = log(w1 φ1(x)) − log(w2 φ2(x)) = A x² + B x + C,

is quadratic, so the responsibilities switch at up to two points per pair; a quadrature not
split there is silently wrong (issue 13: log m/Δ² = −0.0615 instead of −0.0561 at r = 2,
Δ = 80). The range is split at every component mean, every real root x* of g for each pair in
the integrand, and x* ± 1/|g'(x*)|, x* ± 4/|g'(x*)|; it is cut at the outermost split point
± 40 × the largest scale. mpmath's convergence test is absolute (error ≤ eps/8), so each
output is integrated relative to its largest |value| at the split points — otherwise an
integrand of size e^{−359} (m at Δ = 80) "converges" at the first degrees, 4e-4 off even with
the splits — and a piece that still does not converge is bisected.

Error estimate, per output: max(Σ over pieces of mpmath's own estimate at ``dps`` digits,
|value(dps) − value(dps + 15)|); :class:`ReferenceAccuracyError` is raised when it exceeds
10^(−dps/2)·max(|value|, 1e-30·Σ|piece|) (Σ|piece| is the cancellation scale: an output that
cancels to below ~1e-16 of it raises, e.g. ∂w KL(P‖q) at w = 1 − ρ with far-apart matched
components). The value returned is
the (dps + 15)-digit one rounded to ``dps`` digits. Precision is always scoped with
``mpmath.workdps``; nothing here sets ``mp.dps``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import mpmath

__all__ = [
    "Reference",
    "ReferenceAccuracyError",
    "bhattacharyya",
    "fkl_grad",
    "fkl_loss",
    "misassignment",
    "rkl_grad",
    "rkl_loss",
]

#: extra digits of the second evaluation whose difference enters the error estimate
GUARD_DIGITS = 15
#: the range is cut at the outermost split point ± TAIL_SCALES × the largest scale
TAIL_SCALES = 40
#: split points at root ± k/|slope| for these k
ROOT_OFFSETS = (1, 4)
#: bisections of pieces whose quadrature did not converge, per integral
MAX_BISECTIONS = 60


class ReferenceAccuracyError(ArithmeticError):
    """The error estimate exceeds 10^(−dps/2)·max(|value|, 1e-30·scale) for some output.

    ``reference`` holds every value and error estimate (the other outputs may be fine)."""

    def __init__(self, message: str, reference: Reference):
        super().__init__(message)
        self.reference = reference


class Reference(NamedTuple):
    """A value (mpf, or tuple of mpf for gradients) and its error estimate (same shape)."""

    value: Any
    error: Any


# ------------------------------------------------------------------ densities (log space) --

class _Gauss(NamedTuple):
    """Weighted Gaussian ω N(m, s²): k = 1/(2s²), c = log ω − log s − ½ log 2π, so that
    log(ω φ(x; m, s)) = c − k (x−m)²."""

    m: Any
    s: Any
    k: Any
    c: Any


def _gauss(m, s, weight=1) -> _Gauss:
    m, s = mpmath.mpf(m), mpmath.mpf(s)
    c = mpmath.log(weight) - mpmath.log(s) - mpmath.log(2 * mpmath.pi) / 2
    return _Gauss(m, s, 1 / (2 * s * s), c)


def _log_phi(x, g: _Gauss):
    """log(ω φ(x; m, s)) = log ω − (x−m)²/(2s²) − log s − ½ log 2π."""
    d = x - g.m
    return g.c - g.k * d * d


Mixture = list[_Gauss]  # weighted components; those of weight 0 are dropped


def _mixture(components) -> Mixture:
    """[(weight, mean, scale), ...] → weighted components, without the weight-0 ones."""
    return [_gauss(m, s, wt) for wt, m, s in components if wt != 0]


def _log1p(r):
    """log(1 + r), r ≥ 0, to full relative precision (1 + r formed exactly; r itself if r < eps)."""
    return r if r < mpmath.eps else mpmath.log(mpmath.fadd(1, r, exact=True))


def _log_mixture(x, mix: Mixture) -> tuple[int, Any, Any]:
    """log Σ_i ω_i φ_i(x) = t_I + log(1 + e^{t_J − t_I}) for the (one or) two terms
    t_i = log(ω_i φ_i(x)), t_I the larger; returns (I, t_I, the log1p term)."""
    t1 = _log_phi(x, mix[0])
    if len(mix) == 1:
        return 0, t1, 0
    t2 = _log_phi(x, mix[1])
    if t1 >= t2:
        return 0, t1, _log1p(mpmath.exp(t2 - t1))
    return 1, t2, _log1p(mpmath.exp(t1 - t2))


class _Quotient(NamedTuple):
    """log(ω_a φ_a(x)/(ω_b φ_b(x))) = (c_a − c_b) − (k_a − k_b)(x − m_a)²
                                      − k_b (m_b − m_a)((x − m_a) + (x − m_b)),
    in differences: never the difference of two large log-densities (0 when a = b)."""

    ma: Any
    mb: Any
    dc: Any  # c_a − c_b
    dk: Any  # k_a − k_b
    kdm: Any  # k_b (m_b − m_a)

    def __call__(self, x):
        d = x - self.ma
        return self.dc - self.dk * d * d - self.kdm * (d + x - self.mb)


def _quotients(num: Mixture, den: Mixture) -> list[list[_Quotient]]:
    """Table of log(num_i/den_j) for every pair of components."""
    return [[_Quotient(a.m, b.m, a.c - b.c, a.k - b.k, b.k * (b.m - a.m)) for b in den]
            for a in num]


def _log_ratio(x, num: Mixture, den: Mixture, table: list[list[_Quotient]]) -> tuple[Any, Any]:
    """(log Σ num, log(Σ num/Σ den)), the ratio as log(a_I/b_J) + log1p(…)_num − log1p(…)_den
    with a_I, b_J the largest terms, so that q ≈ p* gives a small number without cancellation."""
    i, log_a, rest_a = _log_mixture(x, num)
    j, _, rest_b = _log_mixture(x, den)
    return log_a + rest_a, table[i][j](x) + rest_a - rest_b


def _grad_q(x, w, go: _Gauss, gn: _Gauss) -> tuple:
    """∇θ q for θ = (w, μo, σo, μn, σn), written out by hand:

    ∂q/∂w = φo − φn,   ∂q/∂μo = w φo (x−μo)/σo²,   ∂q/∂σo = w φo ((x−μo)²/σo³ − 1/σo),
    ∂q/∂μn = (1−w) φn (x−μn)/σn²,   ∂q/∂σn = (1−w) φn ((x−μn)²/σn³ − 1/σn).
    """
    po = mpmath.exp(_log_phi(x, go))
    pn = mpmath.exp(_log_phi(x, gn))
    zo, zn = (x - go.m) / go.s, (x - gn.m) / gn.s  # z = (x−μ)/σ; go, gn unweighted
    return (po - pn,
            w * po * zo / go.s,
            w * po * (zo * zo - 1) / go.s,
            (1 - w) * pn * zn / gn.s,
            (1 - w) * pn * (zn * zn - 1) / gn.s)


# ------------------------------------------------------------------------- split points --

def _quadratic_roots(a, b, c) -> list:
    """Real roots of a x² + b x + c (the cancellation-free pair q/a, c/q)."""
    if a == 0:
        return [] if b == 0 else [-c / b]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    if disc == 0:
        return [-b / (2 * a)]
    q = -(b + (1 if b >= 0 else -1) * mpmath.sqrt(disc)) / 2
    return [q / a, c / q]


def _split_points(mix: Mixture) -> list:
    """Means of a (≤ 2)-component mixture, the real roots x* of its log-odds quadratic

        g(x) = log(w1 φ1) − log(w2 φ2) = A x² + B x + C,   k_i = 1/(2 s_i²),
        A = k2 − k1,  B = 2 (k1 m1 − k2 m2),  C = c1 − c2 − k1 m1² + k2 m2²,

    and x* ± k/|g'(x*)| for k in ROOT_OFFSETS, g'(x*) = 2A x* + B."""
    points = [g.m for g in mix]
    if len(mix) < 2:
        return points
    g1, g2 = mix
    a = g2.k - g1.k
    b = 2 * (g1.k * g1.m - g2.k * g2.m)
    c = g1.c - g2.c - g1.k * g1.m**2 + g2.k * g2.m**2
    for root in _quadratic_roots(a, b, c):
        points.append(root)
        slope = abs(2 * a * root + b)
        if slope:
            points += [root + sign * k / slope for k in ROOT_OFFSETS for sign in (-1, 1)]
    return points


# --------------------------------------------------------------------------- quadrature --

Integrand = Callable[[Any], tuple]
Builder = Callable[..., tuple[Integrand, list, Any]]


def _quad_piece(f: Integrand, a, b, sizes: list) -> tuple[list, list]:
    """∫_a^b of each output k of f, integrated as f_k/sizes[k] (mpmath's convergence test is
    absolute: an integrand of size 1e-157 would pass it at the first degree); f is evaluated
    once per node (memoised across outputs)."""
    memo: dict = {}

    def component(x, k):
        if x not in memo:
            memo[x] = f(x)
        return memo[x][k] / sizes[k]

    values, errors = [], []
    for k, size in enumerate(sizes):
        v, e = mpmath.quad(lambda x, k=k: component(x, k), [a, b], error=True)
        values.append(v * size)
        errors.append(e * size)
    return values, errors


def _integrate(f: Integrand, points: list, scale, n: int) -> tuple[list, list, list]:
    """Σ over pieces of ∫ f on [min(points) − 40·scale, max(points) + 40·scale] split at points.

    Each output is integrated relative to its largest |value| at the knots and mid-points; a
    piece where mpmath's estimate exceeds eps × that size (a layer of width ≪ the piece, e.g. the
    exponential rise towards a root from a knot 4/|g'| away, or a tail in a piece reaching a far
    root) is bisected, at most MAX_BISECTIONS times per integral.

    Returns per output: the value, the summed mpmath error estimates, Σ|piece value|."""
    lo = min(points) - TAIL_SCALES * scale
    hi = max(points) + TAIL_SCALES * scale
    knots = sorted({lo, hi, *points})
    samples = [*knots, *((a + b) / 2 for a, b in itertools.pairwise(knots))]
    sizes = [max(abs(y) for y in ys) or mpmath.mpf(1)
             for ys in zip(*(f(x) for x in samples), strict=True)]
    values, errors, magnitudes = [mpmath.mpf(0)] * n, [mpmath.mpf(0)] * n, [mpmath.mpf(0)] * n
    pieces, bisections = list(itertools.pairwise(knots))[::-1], MAX_BISECTIONS
    while pieces:
        a, b = pieces.pop()
        vs, es = _quad_piece(f, a, b, sizes)
        mid = (a + b) / 2
        converged = all(e <= mpmath.eps * size for e, size in zip(es, sizes, strict=True))
        if not converged and bisections and a < mid < b:
            bisections -= 1
            pieces += [(mid, b), (a, mid)]
            continue
        values = [t + v for t, v in zip(values, vs, strict=True)]
        errors = [t + e for t, e in zip(errors, es, strict=True)]
        magnitudes = [t + abs(v) for t, v in zip(magnitudes, vs, strict=True)]
    return values, errors, magnitudes


def _reference(build: Builder, args: Sequence, dps: int, n: int) -> Reference:
    """Evaluate at dps and dps + 15 digits; build(*mpf args) → (integrand, split points, scale)."""
    runs = []
    for prec in (dps, dps + GUARD_DIGITS):
        with mpmath.workdps(prec):
            f, points, scale = build(*(mpmath.mpf(a) for a in args))
            runs.append(_integrate(f, points, scale, n))
    (low, quad_err, sizes), (high, _, _) = runs
    with mpmath.workdps(dps):
        values = tuple(+v for v in high)
        errors = tuple(max(e, abs(v - u)) for e, v, u in zip(quad_err, high, low, strict=True))
        tol = mpmath.mpf(10) ** (-mpmath.mpf(dps) / 2)
        for k, (v, e, size) in enumerate(zip(values, errors, sizes, strict=True)):
            bound = tol * max(abs(v), mpmath.mpf("1e-30") * size)
            if e > bound:
                raise ReferenceAccuracyError(
                    f"output {k}: error estimate {mpmath.nstr(e, 3)} exceeds "
                    f"{mpmath.nstr(bound, 3)} (value {mpmath.nstr(v, 10)}, Σ|piece| "
                    f"{mpmath.nstr(size, 3)}, arguments {tuple(args)})",
                    Reference(values, errors))
    return Reference(values, errors)


def _scalar(ref: Reference) -> Reference:
    return Reference(ref.value[0], ref.error[0])


def _check(weights=(), scales=()) -> None:
    for wt in weights:
        if not 0 <= wt <= 1:
            raise ValueError(f"weight {wt} outside [0, 1]")
    for s in scales:
        if not s > 0:
            raise ValueError(f"scale {s} is not positive")


# ------------------------------------------------------------------------ reverse KL --

def _rkl_builder(grad: bool) -> Builder:
    def build(w, mo, so, mn, sn, alpha, no, to, nn, tn):
        student = _mixture([(w, mo, so), (1 - w, mn, sn)])
        target = _mixture([(alpha, no, to), (1 - alpha, nn, tn)])
        go, gn = _gauss(mo, so), _gauss(mn, sn)
        table = _quotients(student, target)

        def integrand(x):
            log_q, log_ratio = _log_ratio(x, student, target, table)
            if grad:
                return tuple(g * log_ratio for g in _grad_q(x, w, go, gn))
            return (mpmath.exp(log_q) * log_ratio,)

        points = [mo, mn, no, nn, *_split_points(student), *_split_points(target)]
        return integrand, points, max(so, sn, to, tn)
    return build


def rkl_loss(w, mo, so, mn, sn, alpha, no, to, nn, tn, dps: int = 30) -> Reference:
    """KL(q‖p*) = ∫ q log(q/p*) dx, log(q/p*) formed without cancellation (_log_ratio)."""
    args = (w, mo, so, mn, sn, alpha, no, to, nn, tn)
    _check((w, alpha), (so, sn, to, tn))
    return _scalar(_reference(_rkl_builder(False), args, dps, 1))


def rkl_grad(w, mo, so, mn, sn, alpha, no, to, nn, tn, dps: int = 30) -> Reference:
    """∇θ KL(q‖p*) = ∫ (∇θ q) log(q/p*) dx, θ = (w, μo, σo, μn, σn) (∫ ∇θ q dx = 0)."""
    args = (w, mo, so, mn, sn, alpha, no, to, nn, tn)
    _check((w, alpha), (so, sn, to, tn))
    return _reference(_rkl_builder(True), args, dps, 5)


# ------------------------------------------------------------------------ forward KL --

def _fkl_builder(grad: bool) -> Builder:
    def build(w, mo, so, mn, sn, md, sd, rho, mr, sr):
        student = _mixture([(w, mo, so), (1 - w, mn, sn)])
        training = _mixture([(1 - rho, md, sd), (rho, mr, sr)])
        go, gn = _gauss(mo, so), _gauss(mn, sn)
        table = _quotients(training, student)

        def integrand(x):
            log_p, log_ratio = _log_ratio(x, training, student, table)  # log P, log(P/q)
            if grad:
                ratio = mpmath.exp(log_ratio)
                return tuple(-ratio * g for g in _grad_q(x, w, go, gn))
            return (mpmath.exp(log_p) * log_ratio,)

        points = [mo, mn, *_split_points(student), *_split_points(training)]
        scales = (so, sn, sd, sr) if rho != 0 else (so, sn, sd)
        return integrand, points, max(scales)
    return build


def fkl_loss(w, mo, so, mn, sn, md, sd, rho, mr=0, sr=1, dps: int = 30) -> Reference:
    """KL(P‖q) = ∫ P log(P/q) dx; with rho = 0, P = N(md, sd²) and (mr, sr) are ignored."""
    args = (w, mo, so, mn, sn, md, sd, rho, mr, sr)
    _check((w, rho), (so, sn, sd) + ((sr,) if rho != 0 else ()))
    return _scalar(_reference(_fkl_builder(False), args, dps, 1))


def fkl_grad(w, mo, so, mn, sn, md, sd, rho, mr=0, sr=1, dps: int = 30) -> Reference:
    """∇θ KL(P‖q) = −∫ P ∇θ log q dx = −∫ (P/q) ∇θ q dx, θ = (w, μo, σo, μn, σn)."""
    args = (w, mo, so, mn, sn, md, sd, rho, mr, sr)
    _check((w, rho), (so, sn, sd) + ((sr,) if rho != 0 else ()))
    return _reference(_fkl_builder(True), args, dps, 5)


# ----------------------------------------------------------------- misassignment, BC --

def _misassignment_build(w, delta, ratio):
    student = _mixture([(w, 0, 1), (1 - w, delta, ratio)])
    old, new_over = _gauss(0, 1), _quotients(student, student)[1]

    def integrand(x):  # φ(x; 0, 1) r_n(x), log r_n = log((1−w) φn/(ω_I φ_I)) − log1p(…)
        top, _, rest = _log_mixture(x, student)
        return (mpmath.exp(_log_phi(x, old) + new_over[top](x) - rest),)

    return integrand, _split_points(student), max(1, ratio)


def misassignment(w, delta, ratio, dps: int = 30) -> Reference:
    """m = E_{x∼N(0,1)}[r_n(x)], r_n = (1−w) φ(x; Δ, r)/q(x), q = w φ(x; 0, 1) + (1−w) φ(x; Δ, r).

    (μo = 0, σo = 1, μn = Δ, σn = r = ``ratio``; 0 < w < 1.)"""
    if not 0 < w < 1:
        raise ValueError(f"weight {w} outside (0, 1)")
    _check((), (ratio,))
    return _scalar(_reference(_misassignment_build, (w, delta, ratio), dps, 1))


def _bhattacharyya_build(a, sa, b, sb):
    ga, gb = _gauss(a, sa), _gauss(b, sb)

    def integrand(x):
        return (mpmath.exp((_log_phi(x, ga) + _log_phi(x, gb)) / 2),)
    return integrand, [a, b], max(sa, sb)


def bhattacharyya(a, sa, b, sb, dps: int = 30) -> Reference:
    """BC = ∫ √(φ(x; a, sa) φ(x; b, sb)) dx, by quadrature."""
    _check((), (sa, sb))
    return _scalar(_reference(_bhattacharyya_build, (a, sa, b, sb), dps, 1))
