r"""Logistic moments of a quadratic under the standard normal.

For :math:`z(t) = At^2 + Bt + C` and :math:`t\sim\mathcal N(0,1)`,

.. math:: F_k = \mathbb E[t^k\operatorname{softplus}(z(t))],\qquad
          G_k = \mathbb E[t^k\sigma(z(t))],\qquad k = 0, 1, 2,

the only integrals left in the reduced per-component-scale gradients
(:mod:`symforget.symbolic.general_reduced`). Method:

* **split** :math:`\operatorname{softplus}(z) = \max(z,0) + \log(1+e^{-|z|})` and
  :math:`\sigma(z) = [z>0] - \operatorname{sign}(z)\,\sigma(-|z|)`. The step parts are closed
  forms: :math:`\{z>0\}` is at most two intervals bounded by the roots of z (computed without
  cancellation), and :math:`\int_a^b t^j\varphi` for j ≤ 4 are combinations of
  :math:`\Phi` and :math:`\varphi` at a and b, taken from the nearer tail (``erfc``), so no
  difference of two numbers near 1 is formed.
* the **remainders** :math:`\rho(z) = \log(1+e^{-|z|})` and :math:`-\operatorname{sign}(z)
  \sigma(-|z|)` are below :math:`e^{-36}` once :math:`|z| > 36`; they are integrated by
  Gauss–Legendre panels whose breakpoints are the level sets :math:`z(t) = \pm L` for
  L ∈ :data:`LEVELS` (L = 0: the roots, where ρ has its kink or jump) and the vertex (graded on
  the scale :math:`1/\sqrt{|A|}` when :math:`|z_v| \le 36`: there z is quadratic in t and the
  complex singularities z = ±iπ of ρ come close); every panel longer than 2 is split evenly
  (the Gaussian's resolution); all inside the window where :math:`|z| \le 36` and
  :math:`|t| \le 8.5` (the step parts are exact on the whole line, so cutting the remainders at
  :math:`|t| = 8.5` costs at most :math:`\log 2\,\mathbb E[t^2; |t|>8.5] < 2\cdot10^{-15}`).
  Between two levels the remainder varies by a bounded factor, so a fixed rule per panel
  resolves it whether z is nearly linear (long panels in t) or dominated by its curvature. A
  panel gets 10 nodes where |z| < 5 on it and fewer further out (the remainder is below
  :math:`e^{-|z|}` there and needs only the relative accuracy that keeps its absolute error
  near 1e-16). Panels are flattened across the batch, so a row pays only for its own panels
  (~150 nodes per row on the issue-13 box).

Accuracy: against 22-digit mpmath quadrature (``tests/test_logistic.py``: random and edge-case
(A, B, C) — A = 0, B = 0, double roots, far roots, |C| up to 50) absolute error ≤ 1e-14·(1 + |A|
+ |B| + |C|) for F and ≤ 5e-14 for G; on a 30,000-row stress set (|A| up to ~60, |B| up to
~40, |C| up to ~80) against a dense rule (24 nodes per panel, twice the levels) the worst is
3e-14·(1 + |A| + |B| + |C|) for F and 3e-13 for G (a sharply curved z whose vertex sits near
|z| = 20).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.special import erfc

__all__ = ["softplus_moments", "sigmoid_moments", "LEVELS", "NORMAL_MOMENTS"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_INV_SQRT2 = 1.0 / np.sqrt(2.0)
#: |z| levels whose level sets are breakpoints of the remainder panels
LEVELS = (0.0, 2.5, 5.0, 9.0, 14.0, 20.0, 27.0, 36.0)
#: the level values z = ±L in one array (0 once), the last two ±36
_SIGNED_LEVELS = np.array([0.0, *[v for L in LEVELS[1:] for v in (L, -L)]])
#: points around a vertex with |z_v| ≤ 36, in units of 1/√|A| (near the vertex z is quadratic
#: in t, so a level panel there is Gaussian-shaped, not exponential, and needs this cut)
_VERTEX_GRADING = np.array([-1.0, 1.0])
_VERTEX_ZMAX = 36.0
#: half-width of the t-window of the remainders, and the Gaussian base points inside it
_T = 8.5
#: longest panel in t (longer ones are split evenly: the Gaussian factor is resolved by 10
#: Gauss–Legendre nodes on length 2 to 1e-16)
_MAX_WIDTH = 2.0
#: Gauss–Legendre nodes per panel, by the smallest |z| on the panel (the remainder is below
#: e^{-|z|} there, so far panels need only the relative accuracy that keeps their absolute
#: error under ~1e-16): |z| < 5: 10 nodes, [5, 9): 9, [9, 14): 8, [14, 20): 7, [20, 27): 6,
#: ≥ 27: 4; a
#: panel with |z|_min + t_min²/2 ≥ 40 (remainder times Gaussian below e^{-40}) is skipped
_CLASS_Z = np.array([0.0, 5.0, 9.0, 14.0, 20.0, 27.0])
_CLASS_N = (10, 9, 8, 7, 6, 4)
_SKIP = 40.0
#: moments of N(0, 1): E t^j, j = 0..4
NORMAL_MOMENTS = np.array([1.0, 0.0, 1.0, 0.0, 3.0])
_MOM = NORMAL_MOMENTS


@cache
def _gl(n: int) -> tuple[np.ndarray, np.ndarray]:
    u, g = np.polynomial.legendre.leggauss(n)
    return u, g


def _tail(x: np.ndarray) -> np.ndarray:
    r""":math:`J_j(x) = \int_x^\infty t^j\varphi(t)\,dt`, j = 0..4, shape (5,) + x.shape;
    x may be ±inf."""
    fin = np.isfinite(x)
    xf = np.where(fin, x, 0.0)
    phi = np.where(fin, np.exp(-0.5 * xf * xf) * _INV_SQRT_2PI, 0.0)
    q = 0.5 * erfc(x * _INV_SQRT2)
    return np.stack([q, phi, q + xf * phi, (xf * xf + 2.0) * phi,
                     3.0 * q + (xf * xf * xf + 3.0 * xf) * phi])


def _interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r""":math:`\int_a^b t^j\varphi`, j = 0..4 (a ≤ b, ±inf allowed), each from the nearer tail."""
    sign = np.array([1.0, -1.0, 1.0, -1.0, 1.0])[:, None]
    with np.errstate(invalid="ignore"):
        right = _tail(a) - _tail(b)                       # a ≥ 0
        left = sign * (_tail(-b) - _tail(-a))             # b ≤ 0
        mid = _MOM[:, None] - sign * _tail(-a) - _tail(b)  # a < 0 < b
    out = np.where(a >= 0.0, right, np.where(b <= 0.0, left, mid))
    return np.where(b > a, out, 0.0)


def _roots(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real roots r1 ≤ r2 of At² + Bt + C (NaN where absent; a linear z has r1 = r2)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lin = A == 0.0
        disc = B * B - 4.0 * A * C
        sq = np.sqrt(np.where(disc >= 0.0, disc, np.nan))
        q = -0.5 * (B + np.where(B >= 0.0, sq, -sq))
        ra = q / A
        rb = C / q
        r_lin = np.where(B != 0.0, -C / np.where(B != 0.0, B, 1.0), np.nan)
        r1 = np.where(lin, r_lin, np.fmin(ra, rb))
        r2 = np.where(lin, r_lin, np.fmax(ra, rb))
        # a double root (q = 0 needs B = 0 = C): both at 0
        dbl = ~lin & (q == 0.0)
        r1 = np.where(dbl, 0.0, r1)
        r2 = np.where(dbl, 0.0, r2)
    return r1, r2


def _positive_set(A, B, C) -> tuple[np.ndarray, ...]:
    """{z > 0} as two intervals (lo1, hi1), (lo2, hi2) (empty: lo = hi)."""
    inf = np.inf
    r1, r2 = _roots(A, B, C)
    real = np.isfinite(r1)
    zero = np.zeros_like(A)
    # A > 0: (−inf, r1] ∪ [r2, inf), or everything without real roots
    lo1 = np.where(A > 0, -inf, zero)
    hi1 = np.where(A > 0, np.where(real, r1, inf), zero)
    lo2 = np.where(A > 0, np.where(real, r2, zero), zero)
    hi2 = np.where(A > 0, np.where(real, inf, zero), zero)
    # A < 0: [r1, r2] or nothing
    neg = A < 0
    lo1 = np.where(neg, np.where(real, r1, zero), lo1)
    hi1 = np.where(neg, np.where(real, r2, zero), hi1)
    lo2 = np.where(neg, zero, lo2)
    hi2 = np.where(neg, zero, hi2)
    # A = 0: a half-line, everything, or nothing
    lin = A == 0
    half_lo = np.where(B > 0, r1, -inf)
    half_hi = np.where(B > 0, inf, r1)
    const = B == 0
    lo1 = np.where(lin, np.where(const, np.where(C > 0, -inf, zero), half_lo), lo1)
    hi1 = np.where(lin, np.where(const, np.where(C > 0, inf, zero), half_hi), hi1)
    lo2 = np.where(lin, zero, lo2)
    hi2 = np.where(lin, zero, hi2)
    return lo1, hi1, lo2, hi2


def _step_moments(A, B, C) -> np.ndarray:
    r""":math:`\int_{z>0} t^j\varphi`, j = 0..4, shape (5, N)."""
    lo1, hi1, lo2, hi2 = _positive_set(A, B, C)
    return _interval(lo1, hi1) + _interval(lo2, hi2)


def _level_points(A, B, C) -> np.ndarray:
    """Breakpoints (N, P): level sets z = ±L, the vertex, the window ends and the base points,
    clipped to the window where |z| ≤ 36 and |t| ≤ 9; NaN marks an absent point."""
    r1, r2 = _roots(A[:, None], B[:, None], C[:, None] - _SIGNED_LEVELS[None, :])
    lev_pts = np.concatenate([r1, r2], axis=1)  # the ±36 points are columns 2J-2, 2J-1, 4J-2..
    with np.errstate(divide="ignore", invalid="ignore"):
        vert = np.where(A != 0.0, -B / np.where(A != 0.0, 2.0 * A, 1.0), np.nan)
        zv = C - np.where(A != 0.0, B * B / np.where(A != 0.0, 4.0 * A, 1.0), 0.0)
    vert = np.where(np.abs(zv) <= LEVELS[-1], vert, np.nan)
    # near a vertex with |z_v| small the remainder's complex singularities (z = ±iπ) sit at
    # |t − v| ~ √(π/|A|): grade the vertex on that scale
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where((A != 0.0) & (np.abs(zv) <= _VERTEX_ZMAX),
                         1.0 / np.sqrt(np.abs(np.where(A != 0.0, A, 1.0))), np.nan)
    vgrade = vert[:, None] + scale[:, None] * _VERTEX_GRADING[None, :]
    # the window: |z| ≤ 36 is bounded by the ±36 level points (and is everything in t when z
    # is a constant of modulus ≤ 36)
    edge = np.concatenate([r1[:, -2:], r2[:, -2:]], axis=1)
    with np.errstate(invalid="ignore"):
        lo = np.fmin(np.nanmin(np.where(np.isfinite(edge), edge, np.inf), axis=1), vert)
        hi = np.fmax(np.nanmax(np.where(np.isfinite(edge), edge, -np.inf), axis=1), vert)
    flat = (A == 0.0) & (B == 0.0)  # constant z: exact values, set by the callers
    lo = np.where(flat, np.nan, lo)
    hi = np.where(flat, np.nan, hi)
    lo = np.clip(lo, -_T, _T)
    hi = np.clip(hi, -_T, _T)
    allp = np.concatenate([lev_pts, vert[:, None], vgrade, lo[:, None], hi[:, None]], axis=1)
    inside = (allp >= lo[:, None]) & (allp <= hi[:, None])
    allp = np.where(inside, allp, np.nan)
    allp.sort(axis=1)  # NaN last
    return allp


#: rows per block (keeps the node temporaries in cache)
_BLOCK = 512


def _remainder(A, B, C, kind: str) -> np.ndarray:
    r""":math:`\int t^k\varphi(t)\rho(z(t))\,dt`, k = 0..2, shape (3, N)."""
    n = A.shape[0]
    if n <= _BLOCK:
        return _remainder_block(A, B, C, kind)
    return np.concatenate([_remainder_block(A[i:i + _BLOCK], B[i:i + _BLOCK], C[i:i + _BLOCK],
                                            kind) for i in range(0, n, _BLOCK)], axis=1)


def _remainder_block(A, B, C, kind: str) -> np.ndarray:
    n_rows = A.shape[0]
    bp = _level_points(A, B, C)
    lo, hi = bp[:, :-1], bp[:, 1:]
    with np.errstate(invalid="ignore"):
        ok = hi > lo  # NaN compares False
    rows, cols = np.nonzero(ok)
    out = np.zeros((3, n_rows))
    if rows.size == 0:
        return out
    a, b = lo[rows, cols], hi[rows, cols]
    # the Gaussian is resolved by splitting every panel longer than _MAX_WIDTH into equal parts
    parts = np.ceil((b - a) / _MAX_WIDTH).astype(np.int64)
    if parts.max() > 1:
        rows = np.repeat(rows, parts)
        start = np.repeat(a, parts)
        step = np.repeat((b - a) / parts, parts)
        first = np.repeat(np.cumsum(parts) - parts, parts)
        j = np.arange(rows.size) - first
        a = start + j * step
        b = np.where(j == np.repeat(parts, parts) - 1, np.repeat(b, parts), a + step)
    Ar, Br, Cr = A[rows], B[rows], C[rows]
    # z is monotone on a panel and does not change sign inside it (the vertex and the roots are
    # breakpoints): its smallest modulus is at an end, and e^{-|z|} bounds the remainder there;
    # with the Gaussian weight at the panel's point nearest 0, the panel's contribution is below
    # e^{-(|z|_min + t_min²/2)} times its length and t^k ≤ 81
    zmin = np.minimum(np.abs((Ar * a + Br) * a + Cr), np.abs((Ar * b + Br) * b + Cr))
    tmin = np.where((a < 0.0) & (b > 0.0), 0.0, np.minimum(np.abs(a), np.abs(b)))
    cls = np.searchsorted(_CLASS_Z, zmin, side="right") - 1
    cls = np.where(zmin + 0.5 * tmin * tmin >= _SKIP, len(_CLASS_N), cls)
    sums = np.zeros((3, rows.size))
    for j, n_nodes in enumerate(_CLASS_N):
        sel = np.nonzero(cls == j)[0]
        if sel.size == 0:
            continue
        u, g = _gl(n_nodes)
        aa, bb = a[sel], b[sel]
        half = 0.5 * (bb - aa)
        tt = half[:, None] * u[None, :]
        tt += (0.5 * (aa + bb))[:, None]
        # in place: a few (panels × nodes) buffers instead of one per operation
        wt = tt * tt
        wt *= -0.5
        np.exp(wt, out=wt)
        wt *= half[:, None] * (g * _INV_SQRT_2PI)[None, :]
        z = Ar[sel][:, None] * tt
        z += Br[sel][:, None]
        z *= tt
        z += Cr[sel][:, None]
        e = np.abs(z)
        e *= -1.0
        np.exp(e, out=e)
        if kind == "softplus":
            np.log1p(e, out=e)
        else:
            den = e + 1.0
            e /= den
            e *= np.sign(z)
            e *= -1.0
        e *= wt
        sums[0, sel] = e.sum(axis=1)
        e *= tt
        sums[1, sel] = e.sum(axis=1)
        e *= tt
        sums[2, sel] = e.sum(axis=1)
    s0, s1, s2 = sums
    for k, s in enumerate((s0, s1, s2)):
        out[k] = np.bincount(rows, weights=s, minlength=n_rows)
    return out


def softplus_moments(A, B, C) -> np.ndarray:
    r""":math:`F_k = \mathbb E[t^k\operatorname{softplus}(At^2+Bt+C)]`, k = 0, 1, 2: shape
    (3,) + the broadcast shape of A, B, C (float arrays)."""
    A, B, C = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(A, B, C))
    shape = A.shape
    A, B, C = A.ravel(), B.ravel(), C.ravel()
    m = _step_moments(A, B, C)
    # ∫_{z>0} t^k z φ = A m_{k+2} + B m_{k+1} + C m_k
    step = np.stack([A * m[k + 2] + B * m[k + 1] + C * m[k] for k in range(3)])
    out = step + _remainder(A, B, C, "softplus")
    const = (A == 0.0) & (B == 0.0)
    if const.any():  # z ≡ C: softplus(C) E t^k
        sp_c = np.maximum(C, 0.0) + np.log1p(np.exp(-np.abs(C)))
        out[:, const] = _MOM[:3, None] * sp_c[const]
    return out.reshape((3, *shape))


def sigmoid_moments(A, B, C) -> tuple[np.ndarray, np.ndarray]:
    r"""(:math:`G_k(z)`, :math:`G_k(-z)`), k = 0, 1, 2, with
    :math:`G_k(z) = \mathbb E[t^k\sigma(At^2+Bt+C)]`: each of shape (3,) + the broadcast
    shape. :math:`G_k(-z)` is formed from its own step part ({z < 0}) and the negated remainder,
    never as :math:`\mathbb E t^k - G_k(z)`."""
    A, B, C = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(A, B, C))
    shape = A.shape
    A, B, C = A.ravel(), B.ravel(), C.ravel()
    pos = _step_moments(A, B, C)[:3]
    neg = _step_moments(-A, -B, -C)[:3]
    rem = _remainder(A, B, C, "sigmoid")
    gp, gm = pos + rem, neg - rem
    const = (A == 0.0) & (B == 0.0)
    if const.any():  # z ≡ C: σ(±C) E t^k (σ(0) = 1/2, which the split cannot see)
        e = np.exp(-np.abs(C[const]))
        big, small = 1.0 / (1.0 + e), e / (1.0 + e)
        gp[:, const] = _MOM[:3, None] * np.where(C[const] >= 0, big, small)
        gm[:, const] = _MOM[:3, None] * np.where(C[const] >= 0, small, big)
    return gp.reshape((3, *shape)), gm.reshape((3, *shape))
