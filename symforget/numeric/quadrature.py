r"""Gaussian expectations in double precision: composite Gauss–Legendre with kink-aware panels.

For a component :math:`\mathcal N(m, s^2)` we integrate in the standardised variable
:math:`y = (x-m)/s` against :math:`\phi(y) = e^{-y^2/2}/\sqrt{2\pi}`:

.. math:: \mathbb E[f(x)] = \int_{-L}^{L} f(m + s y)\,\phi(y)\,dy + O(e^{-L^2/2}).

The integrands (responsibilities, softplus log-ratios) switch over a width :math:`1/|\kappa|`
around the zero :math:`t` of each kink :math:`z = \kappa y + \beta` — often several σ into the
component's tail, where plain Gauss–Hermite is inaccurate (DESIGN.md, "Numerics"). Panels are
therefore split at :math:`t` and graded geometrically around it
(:math:`t \pm \{1, 4, 16, 64\}/|\kappa|`) so the nearest complex singularity of the sigmoid
(at :math:`z = \pm i\pi`) stays a fixed number of panel half-widths away — that keeps the
Gauss–Legendre error geometric on every panel — plus fixed panels at
:math:`\pm 1, \pm 2.5, \pm 5, \pm 7.5, \pm 10, \pm 15, \ldots, \pm 40` (those inside the
range) for the Gaussian itself. The range grows to
:math:`L = 10 + \max_j \min(|t_j|, |\kappa_j|)` so exponentially tilted tails (an integrand
:math:`\propto e^{\kappa y}` below the switch peaks near :math:`y = \kappa`) are covered.

No evaluation forms 0/0 or log 0 (the integrands are in stable form); a non-finite result raises
:class:`~symforget.errors.SymforgetError` rather than being returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from ..errors import SymforgetError
from ..symbolic.expectation import ExpectationSpec
from .compile import CompiledSpec, compile_spec

__all__ = ["expect", "expect_by_variant", "nearer_second", "gauss_legendre", "NODES_PER_PANEL",
           "CHUNK"]

#: Gauss–Legendre nodes per panel (measured: 16 reaches ~1e-14 relative on the test boxes)
NODES_PER_PANEL = 16
#: parameter points processed at once (bounds memory: CHUNK × nodes floats per temporary)
CHUNK = 2048
_BASE = np.array([1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 40.0])
_GRADING = np.array([0.0, 1.0, -1.0, 4.0, -4.0, 16.0, -16.0, 64.0, -64.0])
#: grading around a quadratic kink's root on the Gaussian tail scale 1/(|t| + 1)
_TAIL_GRADING = np.array([0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 4.0, -4.0, 8.0, -8.0, 16.0, -16.0,
                          32.0, -32.0])
_L0 = 10.0
_LMAX = 60.0
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@lru_cache(maxsize=8)
def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [−1, 1]."""
    u, g = np.polynomial.legendre.leggauss(n)
    return u, g


def _breakpoints(kappa: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Sorted breakpoints (N, B) in y for kinks κ y + β (κ, β of shape (J, N))."""
    n_pts = kappa.shape[1] if kappa.ndim == 2 else 1
    kappa = np.where(np.abs(kappa) < 1e-150, 0.0, kappa)  # switch wider than 1e150σ: no kink
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(kappa != 0.0, -beta / np.where(kappa != 0.0, kappa, 1.0), 0.0)
        width = np.where(kappa != 0.0, 1.0 / np.abs(kappa), 0.0)
    return _assemble(t, width, np.abs(kappa), n_pts)


def _assemble(t: np.ndarray, width: np.ndarray, kappa: np.ndarray, n_pts: int,
              extra: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Sorted breakpoints (N, B): the range ±L (L grows with the kinks' reach so exponentially
    tilted tails are covered), the Gaussian base panels, each switch t graded on its width, and
    ``extra`` columns; everything clipped to ±L."""
    reach = np.minimum(np.abs(t), kappa).max(axis=0) if len(t) else np.zeros(n_pts)
    L = np.minimum(_L0 + reach, _LMAX)  # (N,)
    # Gaussian-tail panels: every base point below the chunk's largest range (a panel [5, L]
    # with L ≫ 10 is far too wide for 16 nodes once a far kink stretches the range)
    pos = _BASE[_BASE < L.max()]
    base = np.concatenate([-pos[::-1], pos])
    pieces = [np.broadcast_to(-L, (n_pts,))[:, None], np.broadcast_to(L, (n_pts,))[:, None],
              np.broadcast_to(base, (n_pts, base.size)), *extra]
    for j in range(len(t)):
        pieces.append(t[j][:, None] + width[j][:, None] * _GRADING[None, :])
    bp = np.concatenate(pieces, axis=1)
    bp = np.clip(bp, -L[:, None], L[:, None])
    bp.sort(axis=1)
    return bp


def _breakpoints_quadratic(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> np.ndarray:
    r"""Sorted breakpoints (N, B) in y for quadratic kinks :math:`z(y) = Ay^2 + By + C`.

    Each real root :math:`y_r` (up to two per kink, computed without cancellation) is a switch
    of width :math:`\min(1/|z'(y_r)|, 1/\sqrt{|A|})` (:math:`|z'(y_r)| = \sqrt{B^2 - 4AC}`)
    and is graded like a linear kink. A kink whose extremum comes within 40 of zero (the sigmoid
    is not saturated there), with or without real roots, is also graded around its vertex on
    the scale :math:`1/\sqrt{|A|}`: where the curvature dominates, the root width alone is too
    coarse (a narrow target inside a wide component gave 1e-7 errors). For A = 0 this is
    exactly the linear rule of :func:`_breakpoints`.
    """
    n_pts = A.shape[1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = B * B - 4.0 * A * C
        sq = np.sqrt(np.maximum(disc, 0.0))
        lin = A == 0.0
        qq = -0.5 * (B + np.where(B >= 0.0, sq, -sq))  # stable: no B − √disc cancellation
        r1 = np.where(lin, np.where(B != 0.0, -C / np.where(B != 0, B, 1.0), np.nan),
                      np.where(disc >= 0.0, qq / np.where(lin, 1.0, A), np.nan))
        r2 = np.where(~lin & (disc > 0.0) & (qq != 0.0), C / np.where(qq != 0.0, qq, 1.0),
                      np.nan)
        slope = np.where(lin, np.abs(B), sq)
        w12 = np.where(slope > 0.0, 1.0 / slope, 0.0)
        vertex = np.where(~lin, -B / np.where(lin, 1.0, 2.0 * A), np.nan)
        zv = C - np.where(~lin, B * B / np.where(lin, 1.0, 4.0 * A), 0.0)
        # graded around the vertex on 1/√|A| whenever the extremum comes within 40 of zero,
        # roots or not: where the curvature dominates, a root's own width 1/|z'| is too coarse
        # (1e-7 errors of the reverse-KL Hessian with a narrow target inside a wide component)
        near = ~lin & (np.abs(zv) < 40.0)
        vertex = np.where(near, vertex, np.nan)
        wv = np.where(near, 1.0 / np.sqrt(np.abs(np.where(lin, 1.0, A))), 0.0)
        w12 = np.where(near & (w12 > 0.0), np.minimum(w12, wv), w12)
    ts, ws = [], []
    for r, wd in ((r1, w12), (r2, w12), (vertex, wv)):
        ok = np.isfinite(r) & (np.abs(r) < 1e150) & (wd > 1e-150)
        ts.append(np.where(ok, r, 0.0))
        ws.append(np.where(ok, wd, 0.0))
    t, width = np.concatenate(ts), np.concatenate(ws)  # (3J, N); unused slots: 0, width 0
    with np.errstate(divide="ignore"):
        kappa = np.where(width > 0.0, 1.0 / np.where(width > 0.0, width, 1.0), 0.0)
    # a switch far in the tail carries the Gaussian's own decay scale 1/|t| with it (the
    # integrand peaks at the switch when the value is tiny): grade on that scale too, where it is
    # finer than the base panels (|t| > 3)
    tails = []
    for j in range(len(t)):
        tail = np.where((width[j] > 0.0) & (np.abs(t[j]) > 3.0), 1.0 / (np.abs(t[j]) + 1.0), 0.0)
        tails.append(t[j][:, None] + tail[:, None] * _TAIL_GRADING[None, :])
    return _assemble(t, width, kappa, n_pts, tails)


def _quadratic_kinks_at(cs: CompiledSpec, m: np.ndarray, s: np.ndarray,
                        col: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """(A, B, C) of every kink in the standardised variable y of a component N(m, s²):
    C = z(m), B = s z'(m), A = s² z''/2 (z evaluated at the mean: no expanded coefficients)."""
    vals = cs.qkinks(m, *[c[:, 0] for c in col])
    n_pts = m.shape[0]
    vals = [np.broadcast_to(np.asarray(v, dtype=np.float64), (n_pts,)) for v in vals]
    C = np.array(vals[0::3])
    B = np.array(vals[1::3]) * s[None, :]
    A = np.array(vals[2::3]) * (s * s)[None, :]
    return A, B, C


def _nodes(bp: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes y (N, K) and weights (N, K) including φ(y), for panels between breakpoints."""
    u, g = gauss_legendre(n)
    lo, hi = bp[:, :-1], bp[:, 1:]
    # zero-width panels (coincident or clipped breakpoints) add nothing: move them to the end
    # of each row and drop the columns that are empty in every row
    empty = hi <= lo
    if empty.any():
        order = np.argsort(empty, axis=1, kind="stable")
        keep = int((~empty).sum(axis=1).max())
        lo = np.take_along_axis(lo, order, axis=1)[:, :keep]
        hi = np.take_along_axis(hi, order, axis=1)[:, :keep]
    mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0
    y = mid[:, :, None] + half[:, :, None] * u[None, None, :]
    wts = half[:, :, None] * g[None, None, :] * np.exp(-0.5 * y * y) * _INV_SQRT_2PI
    n_pts = bp.shape[0]
    return y.reshape(n_pts, -1), wts.reshape(n_pts, -1)


def _expect_flat(cs: CompiledSpec, params: list[np.ndarray], n: int) -> np.ndarray:
    n_pts = params[0].shape[0]
    k = cs.size
    out = np.zeros((n_pts, k))
    weights = [np.broadcast_to(v, (n_pts,)) for v in cs.weights(*params)]
    means = [np.broadcast_to(v, (n_pts,)) for v in cs.means(*params)]
    scales = [np.broadcast_to(v, (n_pts,)) for v in cs.scales(*params)]
    if cs.kinks is not None:
        coeffs = [np.broadcast_to(v, (n_pts,)) for v in cs.kinks(*params)]
        a_ = np.array(coeffs[0::2])
        b_ = np.array(coeffs[1::2])
    else:
        a_ = b_ = np.zeros((0, n_pts))
    col = [p[:, None] for p in params]
    for c, f in enumerate(cs.integrands):
        pi_c = weights[c]
        active = pi_c != 0.0
        if not active.any():
            continue
        m, s = means[c], scales[c]
        if cs.qkinks is not None:
            bp = _breakpoints_quadratic(*_quadratic_kinks_at(cs, m, s, col))
        else:
            kappa = a_ * s[None, :]
            beta = a_ * m[None, :] + b_
            bp = _breakpoints(kappa, beta)
        y, wts = _nodes(bp, n)
        xs = m[:, None] + s[:, None] * y
        vals = f(xs, *col)
        for i, v in enumerate(vals):
            v = np.broadcast_to(v, xs.shape)
            out[:, i] += np.where(active, pi_c * np.einsum("nk,nk->n", v, wts), 0.0)
    return out


def expect(cs: CompiledSpec, params: list[np.ndarray], n: int = NODES_PER_PANEL) -> np.ndarray:
    """Evaluate the compiled expectation at broadcast parameter arrays.

    Parameters
    ----------
    cs : CompiledSpec
        A NumPy-compiled :class:`~symforget.symbolic.expectation.ExpectationSpec`.
    params : list of ndarray
        One array per ``cs.spec.params`` entry, already validated and broadcast together.
    n : int
        Gauss–Legendre nodes per panel.

    Returns
    -------
    ndarray of shape ``params[0].shape + (k,)``
    """
    shape = np.shape(params[0])
    flat = [np.ascontiguousarray(p, dtype=np.float64).reshape(-1) for p in params]
    n_pts = flat[0].size
    out = np.empty((n_pts, cs.size))
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        for start in range(0, n_pts, CHUNK):
            sl = slice(start, start + CHUNK)
            try:
                out[sl] = _expect_flat(cs, [p[sl] for p in flat], n)
            except FloatingPointError as exc:
                raise SymforgetError(
                    f"{cs.spec.name}: floating-point failure ({exc}) at parameters "
                    f"{[float(p[sl][0]) for p in flat]} ..."
                ) from exc
    if not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0][0]
        where = {s.name: float(p[bad]) for s, p in zip(cs.spec.params, flat, strict=True)}
        raise SymforgetError(f"{cs.spec.name}: non-finite value at {where}")
    return out.reshape(*shape, cs.size)


def nearer_second(m: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """0 where ``first`` is at least as close to ``m`` as ``second``, else 1 (int8)."""
    return (np.abs(m - second) < np.abs(m - first)).astype(np.int8)


def expect_by_variant(spec_of: Callable[..., ExpectationSpec], keys: list[np.ndarray],
                      params: list[np.ndarray]) -> np.ndarray:
    """Evaluate ``spec_of(*key)`` (compiled) on the points of each distinct key combination.

    For integrands written relative to a reference component chosen per point (the component
    nearest the one integrated, so no value is the difference of two numbers of size Δ²/2):
    ``keys`` hold the integer choices, broadcast against ``params``.
    """
    shape = np.shape(params[0])
    stacked = np.stack([np.broadcast_to(k, shape).reshape(-1) for k in keys], axis=1)
    flat = [np.broadcast_to(q, shape).reshape(-1) for q in params]
    combos, index = np.unique(stacked, axis=0, return_inverse=True)
    out: np.ndarray | None = None
    for i, combo in enumerate(combos):
        sel = np.flatnonzero(index.reshape(-1) == i)
        cs = compile_spec(spec_of(*(int(c) for c in combo)))
        val = expect(cs, [q[sel] for q in flat])
        if out is None:
            out = np.empty((flat[0].size, cs.size))
        out[sel] = val
    assert out is not None
    return out.reshape(*shape, out.shape[-1])
