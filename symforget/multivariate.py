r"""Any dimension: shared covariance Σ, whitening, and reduction to the 1-D model.

Setting (CLAIMS.md §0): every Gaussian shares one covariance :math:`\Sigma` (d × d, symmetric
positive definite). With the Cholesky factor :math:`\Sigma = LL^\top` the map
:math:`z = L^{-1}x` sends :math:`\mathcal N(m, \Sigma)` to :math:`\mathcal N(L^{-1}m, I)`; the
Mahalanobis separation is :math:`\Delta(a, b) = \|L^{-1}(a-b)\|`.

**Reduction** (claim ``gauss.dimension_reduction``). Let the *relevant* whitened means
:math:`\tilde m_c = L^{-1}m_c` (student μo, μn and the target / training means) lie on one line
:math:`\tilde m_c = \tilde a + t_c e` (``e`` a unit vector). Write
:math:`z = \tilde a + s e + E_\perp u` with :math:`[e, E_\perp]` orthonormal. Then

.. math:: \|z - \tilde m_c\|^2 = (s - t_c)^2 + \|u\|^2, \qquad
          \mathcal N(z; \tilde m_c, I) = \varphi(s - t_c)\,\psi_{d-1}(u),

so every mixture of these components factorises as :math:`q(z) = q_1(s)\,\psi_{d-1}(u)` with
the *same* orthogonal factor :math:`\psi_{d-1}` (the standard normal density on
:math:`\mathbb R^{d-1}`). Log-ratios of mixtures depend on ``s`` only, and
:math:`\int\psi_{d-1} = 1`: every divergence (KL, BC, χ², the FKL and RKL losses) equals its
1-D value at the coordinates :math:`t_c`, and KL is invariant under the bijection
:math:`x \mapsto z` (Jacobians cancel in the ratio).

**Gradients.** Along the line (moving :math:`\tilde\mu_c` by :math:`\epsilon e` keeps the means
collinear) :math:`e^\top\nabla_{\tilde\mu_c}L = g_c`, the 1-D derivative in ``t_c``. Across the
line, let :math:`R = I - 2vv^\top` (affine, about :math:`\tilde a`) be the reflection in the
hyperplane through the line orthogonal to a unit :math:`v \perp e`. ``R`` is an isometry
fixing every collinear mean, and the losses are invariant under a common isometry of all means:
:math:`L(R\tilde\mu_o, R\tilde\mu_n) = L(\tilde\mu_o, \tilde\mu_n)` with targets fixed (they lie
on the line). Differentiating at the collinear point gives :math:`\nabla L = R^\top\nabla L`,
i.e. :math:`v^\top\nabla L = 0` for every :math:`v\perp e`: the orthogonal components vanish
(equivalently: :math:`\partial_u\log q = r_c(s)\,u` and :math:`\int u\,\psi(u)\,du = 0`). Hence
:math:`\nabla_{\tilde\mu_c}L = g_c\,e`, and by the chain rule for :math:`\tilde\mu = L^{-1}\mu`,

.. math:: \nabla_{\mu_c} L = L^{-\top}\nabla_{\tilde\mu_c} L = g_c\,L^{-\top}e .

The weight gradient is the 1-D one unchanged. Second-order quantities (:func:`fisher_matrix`,
:func:`rkl_hessian`, :func:`fkl_hessian`) add an orthogonal block per direction across the
axis, :math:`\mathbb E[r_a r_b]` (the score there is :math:`r_c(s)\,u`, and
:math:`\int(u^2-1)\psi = 0` removes the curvature of the log-densities).

Cost: one Cholesky factorisation of Σ (cached by *content* — a read-only copy is compared
with :func:`numpy.array_equal`, so mutating the caller's array afterwards is safe), then
triangular solves, :math:`O(d^2)` per distinct mean vector; the 1-D evaluation does not
depend on ``d``. Fisher/Hessian outputs are dense and need :math:`\Sigma^{-1}` (O(d³)).

Non-collinear means do not reduce (the orthogonal factor differs between components); they raise
:class:`~symforget.errors.ParameterError` saying what to do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg as sla

from . import equal
from .errors import ParameterError, PrecisionError
from .numeric import validate as V
from .numeric.compile import compile_spec
from .numeric.quadrature import expect
from .symbolic.dimension import orthogonal_fisher_spec, orthogonal_fkl_hessian_spec

__all__ = [
    "cholesky",
    "whiten",
    "separation",
    "Reduction",
    "reduce_means",
    "assemble",
    "rkl_grad",
    "rkl_loss",
    "fkl_grad",
    "fkl_loss",
    "fisher_matrix",
    "rkl_hessian",
    "fkl_hessian",
    "fkl_iw_grad",
    "em_step",
    "COLLINEAR_RTOL",
]

#: orthogonal offset of a mean from the separation axis, relative to the spread of the means,
#: above which the means count as non-collinear
COLLINEAR_RTOL = 1e-8
#: symmetry tolerance of Σ, relative to its largest diagonal entry
_SYM_RTOL = 1e-10
#: covariances of at least this dimension have their Cholesky factor cached (by content)
_CACHE_MIN_D = 32
_CACHE_SIZE = 4
_CACHE: list[tuple[np.ndarray, np.ndarray]] = []
_LOCK = threading.Lock()


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _factor(cov: np.ndarray) -> np.ndarray:
    """Validate ``cov`` and return its lower Cholesky factor (a read-only array)."""
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ParameterError(f"cov must be a square d×d matrix with d >= 1; got shape "
                             f"{cov.shape}")
    bad = ~np.isfinite(cov)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ParameterError(f"cov[{i}, {j}]={cov[i, j]!r} must be finite")
    diag = np.diagonal(cov)
    if (diag <= 0).any():
        i = int(np.argmax(diag <= 0))
        raise ParameterError(f"cov must be positive definite, but its diagonal entry "
                             f"cov[{i}, {i}]={diag[i]!r} is not > 0")
    asym = np.abs(cov - cov.T)
    scale = float(diag.max())
    if float(asym.max()) > _SYM_RTOL * scale:
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise ParameterError(
            f"cov must be symmetric: cov[{i}, {j}]={cov[i, j]!r} but cov[{j}, {i}]="
            f"{cov[j, i]!r} (allowed asymmetry {_SYM_RTOL:g} × max diagonal)")
    sym = (cov + cov.T) / 2
    try:
        low = np.linalg.cholesky(sym)
    except np.linalg.LinAlgError:
        detail = ""
        if cov.shape[0] <= 500:
            detail = f"; its smallest eigenvalue is {float(np.linalg.eigvalsh(sym)[0]):.6g}"
        raise ParameterError("cov must be positive definite (its Cholesky factorisation "
                             f"failed){detail}") from None
    if not (np.isfinite(low).all() and (np.diagonal(low) > 0).all()):
        raise ParameterError("cov must be positive definite (numerically singular: a Cholesky "
                             "pivot is not > 0)")
    return _readonly(low)


def cholesky(cov: Any) -> np.ndarray:
    r"""Validate a covariance and return its lower Cholesky factor :math:`L` (:math:`\Sigma =
    LL^\top`), a read-only ``(d, d)`` array.

    ``cov`` must be a finite, symmetric (to 1e-10 of its largest diagonal entry),
    positive-definite ``(d, d)`` matrix; otherwise :class:`~symforget.errors.ParameterError`
    names ``cov`` and what is wrong. Factors of ``d >= 32`` matrices are cached by content.

    >>> cholesky([[4.0]]).tolist()
    [[2.0]]
    """
    try:
        raw = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError):
        raw = None
    d = raw.shape[0] if raw is not None and raw.ndim == 2 else 0
    if d >= _CACHE_MIN_D:
        # a hit equals a validated matrix entry by entry (NaN never compares equal)
        with _LOCK:
            for i, (key, low) in enumerate(_CACHE):
                if key.shape == raw.shape and np.array_equal(key, raw):
                    _CACHE.insert(0, _CACHE.pop(i))
                    return low
    arr = V.as_array("cov", cov)
    low = _factor(arr)
    if d < _CACHE_MIN_D:
        return low
    with _LOCK:
        _CACHE.insert(0, (_readonly(arr.copy()), low))
        del _CACHE[_CACHE_SIZE:]
    return low


def _vector(name: str, value: Any, d: int) -> np.ndarray:
    arr = V.finite(name, value)
    if arr.ndim == 0 or arr.shape[-1] != d:
        got = "a scalar" if arr.ndim == 0 else f"shape {arr.shape}"
        raise ParameterError(f"{name} must have a trailing axis of length d={d} (the dimension "
                             f"of cov); got {got}")
    return arr


def _solve(low: np.ndarray, vecs: np.ndarray, trans: int = 0) -> np.ndarray:
    """``L⁻¹ v`` (``trans=0``) or ``L⁻ᵀ v`` (``trans=1``) for every vector on the last axis."""
    d = low.shape[0]
    flat = vecs.reshape(-1, d)
    out = sla.solve_triangular(low, flat.T, lower=True, trans=trans, check_finite=False)
    return out.T.reshape(vecs.shape)


def whiten(x: Any, cov: Any, *, name: str = "x") -> np.ndarray:
    r"""Whitened coordinates :math:`L^{-1}x` of points ``x`` of shape ``(..., d)``.

    >>> whiten([2.0, 3.0], [[4.0, 0.0], [0.0, 9.0]]).tolist()
    [1.0, 1.0]
    """
    low = cholesky(cov)
    return _solve(low, _vector(name, x, low.shape[0]))


def separation(a: Any, b: Any, *, cov: Any = None) -> np.ndarray:
    r"""Mahalanobis separation :math:`\Delta(a, b) = \|L^{-1}(a-b)\| =
    \sqrt{(a-b)^\top\Sigma^{-1}(a-b)}`.

    ``a`` and ``b`` broadcast; the trailing axis is the vector axis (length ``d``). With
    ``cov=None`` the covariance is the identity (whitened units) and scalars count as
    1-vectors, so ``separation(0.0, 3.0) == 3``. Feed the result to
    :func:`symforget.bhattacharyya` or :func:`symforget.kl_gauss` for d-D closed forms.

    Examples
    --------
    >>> float(separation([0.0, 0.0], [3.0, 4.0]))
    5.0
    >>> float(separation([0.0, 0.0], [2.0, 0.0], cov=[[4.0, 0.0], [0.0, 1.0]]))
    1.0
    """
    if cov is None:
        av, bv = V.finite("a", a), V.finite("b", b)
        if av.ndim == 0 and bv.ndim == 0:
            return np.abs(av - bv)
        av, bv = np.atleast_1d(av), np.atleast_1d(bv)
        if av.shape[-1] != bv.shape[-1]:
            raise ParameterError(f"a and b must have the same trailing length; got shapes "
                                 f"{av.shape} and {bv.shape}")
        diff = V.broadcast(a=av, b=bv)
        return np.linalg.norm(diff[0] - diff[1], axis=-1)
    low = cholesky(cov)
    d = low.shape[0]
    av, bv = _vector("a", a, d), _vector("b", b, d)
    av, bv = V.broadcast(a=av, b=bv)
    return np.linalg.norm(_solve(low, av - bv), axis=-1)


@dataclass(frozen=True)
class Reduction:
    """Collinear whitened means reduced to 1-D coordinates along a common axis.

    ``coords[name]`` has the broadcast shape ``B`` of the means' leading axes; ``axis`` is the
    unit whitened direction ``e`` and ``pullback`` is :math:`L^{-\\top}e` (both ``B + (d,)``);
    ``offset`` is the largest orthogonal distance of a mean from the axis relative to the spread
    (shape ``B``; a diagnostic, ≤ :data:`COLLINEAR_RTOL`).
    """

    coords: dict[str, np.ndarray]
    axis: np.ndarray
    pullback: np.ndarray
    offset: np.ndarray


#: largest whitened coordinate accepted (its square must stay far below 1.8e308)
_WHITE_MAX = 1e150


def reduce_means(means: dict[str, Any], cov: Any, *, rtol: float = COLLINEAR_RTOL) -> Reduction:
    r"""Whiten the named means, check they are collinear, and return 1-D coordinates.

    The axis runs from the first mean to the one farthest from it (in whitened space); the
    coordinates are :math:`t_c = e^\top(\tilde m_c - \tilde m_0)` (1-D quantities are
    translation invariant). A mean whose orthogonal distance from the axis exceeds
    ``rtol`` × spread (+ 1e-12 × the size of the whitened means, the rounding floor) raises
    :class:`~symforget.errors.ParameterError`. If all means coincide the axis is the first
    coordinate direction (every choice gives the same result).
    """
    low = cholesky(cov)
    d = low.shape[0]
    names = list(means)
    vecs = [_vector(n, means[n], d) for n in names]
    if d == 1:  # whitening is a division; every set of points on ℝ is collinear
        white = V.broadcast(**{n: v[..., 0] / low[0, 0] for n, v in zip(names, vecs,
                                                                        strict=True)})
        coords = {n: z - white[0] for n, z in zip(names, white, strict=True)}
        shape = white[0].shape
        return Reduction(coords, np.ones((*shape, 1)), np.full((*shape, 1), 1 / low[0, 0]),
                         np.zeros(shape))
    # whiten each mean at its own shape (shared means are solved once) in one triangular
    # solve, then broadcast
    flat = _solve(low, np.concatenate([v.reshape(-1, d) for v in vecs]))
    sizes = np.cumsum([v.size // d for v in vecs])[:-1]
    white = [z.reshape(v.shape) for z, v in zip(np.split(flat, sizes), vecs, strict=True)]
    white = V.broadcast(**dict(zip(names, white, strict=True)))
    for n, z in zip(names, white, strict=True):  # squared norms below must not overflow
        if not (np.isfinite(z).all() and np.abs(z).max(initial=0.0) <= _WHITE_MAX):
            raise PrecisionError(
                f"{n}: a whitened coordinate exceeds {_WHITE_MAX:g} (Mahalanobis units); "
                "beyond it distances overflow double precision")
    diffs = np.stack([z - white[0] for z in white])  # (k, B..., d)
    dist = np.linalg.norm(diffs, axis=-1)  # (k, B...)
    far = np.argmax(dist, axis=0)  # (B...)
    spread = np.take_along_axis(dist, far[None], axis=0)[0]
    ref = np.take_along_axis(diffs, far[None, ..., None], axis=0)[0]
    unit = np.zeros(d)
    unit[0] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        axis = np.where(spread[..., None] > 0, ref / np.where(spread > 0, spread, 1.0)[..., None],
                        unit)
    t = np.einsum("k...d,...d->k...", diffs, axis)
    resid = np.linalg.norm(diffs - t[..., None] * axis, axis=-1)  # (k, B...)
    size = np.max(np.stack([np.linalg.norm(z, axis=-1) for z in white]), axis=0)
    tol = rtol * spread + 1e-12 * size
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.where(spread > 0, resid.max(axis=0) / np.where(spread > 0, spread, 1.0), 0.0)
    bad = resid > tol
    if bad.any():
        k, *idx = np.argwhere(bad)[0]
        where = f" at index {tuple(int(i) for i in idx)}" if idx else ""
        raise ParameterError(
            f"the means {', '.join(names)} are not collinear in whitened coordinates "
            f"(Σ^(-1/2) x){where}: {names[k]} lies {resid[(k, *idx)]:.3g} (Mahalanobis) off the "
            f"line through {names[0]} and {names[int(far[tuple(idx)])]}, "
            f"{offset[tuple(idx)]:.3g} of "
            f"the spread (allowed {rtol:g}). Only collinear means reduce to the 1-D model "
            "(claim gauss.dimension_reduction). Place the means on one line (e.g. project them "
            "onto the line through the target means), or evaluate the d-dimensional integrals "
            "directly (e.g. by Monte Carlo).")
    pullback = _solve(low, axis, trans=1)
    coords = {n: t[i] for i, n in enumerate(names)}
    return Reduction(coords, axis, pullback, offset)


def assemble(grad1: np.ndarray, pullback: np.ndarray) -> np.ndarray:
    r"""d-D gradient ``(..., 1 + 2d)`` ordered ``[w, μo (d), μn (d)]`` from the 1-D gradient
    ``(..., 3)``: :math:`\nabla_{\mu_c}L = g_c\,L^{-\top}e` (``pullback`` = :math:`L^{-\top}e`)."""
    shape = np.broadcast_shapes(grad1.shape[:-1], pullback.shape[:-1])
    g = np.broadcast_to(grad1, (*shape, 3))
    v = np.broadcast_to(pullback, (*shape, pullback.shape[-1]))
    return np.concatenate([g[..., :1], g[..., 1:2] * v, g[..., 2:3] * v], axis=-1)


def _no_sigma(sigma: Any) -> None:
    if sigma is not None:
        raise ParameterError("give either sigma (1-D scale) or cov (d×d covariance), not both; "
                             "for d = 1 use cov=[[sigma**2]]")


def _rkl_reduce(mu_old, mu_new, target_old, target_new, cov) -> Reduction:
    return reduce_means({"mu_old": mu_old, "mu_new": mu_new, "target_old": target_old,
                         "target_new": target_new}, cov)


def rkl_grad(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    cov: Any, sigma: Any = None,
) -> np.ndarray:
    r"""d-D gradient of :math:`\mathrm{KL}(q_\theta\Vert p^*)`, shape ``(..., 1 + 2d)``
    ordered ``[w, μo, μn]``, for collinear whitened means (claim ``gauss.dimension_reduction``):
    the 1-D :func:`symforget.model.rkl_grad` at the whitened coordinates, mean gradients mapped
    back by :math:`L^{-\top}e`. Means have a trailing axis of length ``d``."""
    _no_sigma(sigma)
    red = _rkl_reduce(mu_old, mu_new, target_old, target_new, cov)
    c = red.coords
    g = equal.rkl_grad(w, c["mu_old"], c["mu_new"], alpha=alpha, target_old=c["target_old"],
                       target_new=c["target_new"])
    return assemble(g, red.pullback)


def rkl_loss(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    cov: Any, sigma: Any = None,
) -> np.ndarray:
    r""":math:`\mathrm{KL}(q_\theta\Vert p^*)` in d-D (collinear whitened means): the 1-D
    value at the whitened coordinates. Shape ``(...)``."""
    _no_sigma(sigma)
    c = _rkl_reduce(mu_old, mu_new, target_old, target_new, cov).coords
    return equal.rkl_loss(w, c["mu_old"], c["mu_new"], alpha=alpha, target_old=c["target_old"],
                          target_new=c["target_new"])


def _fkl_reduce(mu_old, mu_new, data_mean, replay_mean, cov) -> Reduction:
    means = {"mu_old": mu_old, "mu_new": mu_new, "data_mean": data_mean}
    if replay_mean is not None:
        means["replay_mean"] = replay_mean
    return reduce_means(means, cov)


def fkl_grad(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, cov: Any, replay: Any = 0.0,
    replay_mean: Any = None, sigma: Any = None,
) -> np.ndarray:
    r"""d-D gradient of :math:`\mathrm{KL}(P_{\rm train}\Vert q_\theta)`, shape
    ``(..., 1 + 2d)`` ordered ``[w, μo, μn]``, for collinear whitened means (μo, μn,
    ``data_mean`` and ``replay_mean`` when given): the 1-D :func:`symforget.model.fkl_grad`
    at the whitened coordinates, mean gradients mapped back by :math:`L^{-\top}e`."""
    _no_sigma(sigma)
    red = _fkl_reduce(mu_old, mu_new, data_mean, replay_mean, cov)
    c = red.coords
    g = equal.fkl_grad(w, c["mu_old"], c["mu_new"], data_mean=c["data_mean"], replay=replay,
                       replay_mean=c.get("replay_mean"))
    return assemble(g, red.pullback)


def fkl_iw_grad(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, replay: Any, replay_mean: Any,
    cov: Any, sigma: Any = None,
) -> np.ndarray:
    r"""d-D importance-weighted replay gradient (:func:`symforget.model.fkl_iw_grad`), shape
    ``(..., 1 + 2d)``: the 1-D one at the whitened coordinates, mapped back by
    :math:`L^{-\top}e` (the weight :math:`P_{\rm new}/P_{\rm train}` depends on ``s`` only)."""
    _no_sigma(sigma)
    red = _fkl_reduce(mu_old, mu_new, data_mean, replay_mean, cov)
    c = red.coords
    g = equal.fkl_iw_grad(w, c["mu_old"], c["mu_new"], data_mean=c["data_mean"], replay=replay,
                          replay_mean=c["replay_mean"])
    return assemble(g, red.pullback)


def em_step(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, cov: Any, replay: Any = 0.0,
    replay_mean: Any = None, sigma: Any = None,
) -> np.ndarray:
    r"""One population EM step in d-D (Σ fixed), shape ``(..., 1 + 2d)`` ordered
    ``[w', μo', μn']``, for collinear whitened means.

    In whitened coordinates :math:`\mathbb E_P[r_c(s)(\tilde m_0 + s e + E_\perp u)] =
    \mathbb E_P[r_c]\tilde m_0 + \mathbb E_P[r_c s]\,e` (:math:`\int u\,\psi = 0`), so the
    new means stay on the line at the 1-D EM coordinates :math:`t_c'`; mapped back,
    :math:`\mu_c' = \mu_o + t_c'\,Le` (points map with ``L``, gradients with
    :math:`L^{-\top}`)."""
    _no_sigma(sigma)
    red = _fkl_reduce(mu_old, mu_new, data_mean, replay_mean, cov)
    c = red.coords
    step = equal.em_step(w, c["mu_old"], c["mu_new"], data_mean=c["data_mean"], replay=replay,
                         replay_mean=c.get("replay_mean"))
    low = cholesky(cov)
    d = low.shape[0]
    direction = red.axis @ low.T  # L e for every point
    origin = _vector("mu_old", mu_old, d)
    shape = np.broadcast_shapes(step.shape[:-1], direction.shape[:-1], origin.shape[:-1])
    step = np.broadcast_to(step, (*shape, 3))
    direction = np.broadcast_to(direction, (*shape, d))
    origin = np.broadcast_to(origin, (*shape, d))
    return np.concatenate([step[..., :1], origin + step[..., 1:2] * direction,
                           origin + step[..., 2:3] * direction], axis=-1)


def fkl_loss(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, cov: Any, replay: Any = 0.0,
    replay_mean: Any = None, sigma: Any = None,
) -> np.ndarray:
    r""":math:`\mathrm{KL}(P_{\rm train}\Vert q_\theta)` in d-D (collinear whitened means): the
    1-D value at the whitened coordinates. Shape ``(...)``."""
    _no_sigma(sigma)
    c = _fkl_reduce(mu_old, mu_new, data_mean, replay_mean, cov).coords
    return equal.fkl_loss(w, c["mu_old"], c["mu_new"], data_mean=c["data_mean"], replay=replay,
                          replay_mean=c.get("replay_mean"))


def _matrix(h1: np.ndarray, m: np.ndarray, red: Reduction, low: np.ndarray) -> np.ndarray:
    r"""d-D ``(…, 1+2d, 1+2d)`` matrix in ``(w, μo, μn)`` from the 1-D one ``h1`` (on the axis)
    and the orthogonal 2×2 block ``m = (M_oo, M_on, M_nn)`` (per direction across the axis):
    :math:`H_{\mu_a\mu_b} = (H_{1,ab} - M_{ab})vv^\top + M_{ab}\Sigma^{-1}`,
    :math:`H_{w\mu_a} = H_{1,wa}v`, :math:`v = L^{-\top}e` (chain rule for
    :math:`\tilde\mu = L^{-1}\mu` applied on both sides)."""
    d = low.shape[0]
    shape = np.broadcast_shapes(h1.shape[:-2], m.shape[:-1], red.pullback.shape[:-1])
    h1 = np.broadcast_to(h1, (*shape, 3, 3))
    m = np.broadcast_to(m, (*shape, 3))
    v = np.broadcast_to(red.pullback, (*shape, d))
    inv = sla.cho_solve((low, True), np.eye(d), check_finite=False)
    vv = v[..., :, None] * v[..., None, :]
    out = np.empty((*shape, 1 + 2 * d, 1 + 2 * d))
    out[..., 0, 0] = h1[..., 0, 0]
    blocks = (slice(1, 1 + d), slice(1 + d, 1 + 2 * d))
    m_ab = {(0, 0): m[..., 0], (0, 1): m[..., 1], (1, 0): m[..., 1], (1, 1): m[..., 2]}
    for a in range(2):
        out[..., 0, blocks[a]] = h1[..., 0, 1 + a, None] * v
        out[..., blocks[a], 0] = h1[..., 1 + a, 0, None] * v
        for b in range(2):
            mab = m_ab[(a, b)][..., None, None]
            out[..., blocks[a], blocks[b]] = ((h1[..., 1 + a, 1 + b, None, None] - mab) * vv
                                              + mab * inv)
    return out


def fisher_matrix(w: Any, mu_old: Any, mu_new: Any, *, cov: Any,
                  sigma: Any = None) -> np.ndarray:
    r"""Fisher information :math:`\mathbb E_q[\nabla\log q\,\nabla\log q^\top]` of the d-D
    student in ``θ = (w, μo, μn)``, shape ``(..., 1 + 2d, 1 + 2d)``.

    Two means are always collinear. In whitened coordinates the score along the axis ``e`` is
    the 1-D score (giving the 1-D Fisher :math:`I_1` on ``(w, t_o, t_n)``) and across it
    :math:`r_c(s)\,u` (``u`` independent of ``s``), so the orthogonal block is
    :math:`M\otimes(I - ee^\top)` with :math:`M_{ab} = \mathbb E_{q_1}[r_a r_b]` and no
    coupling to the axis (reflection symmetry). Mapping back (:math:`\tilde\mu = L^{-1}\mu`,
    :math:`v = L^{-\top}e`):

    .. math:: I_{\mu_a\mu_b} = (I_{1,ab} - M_{ab})\,vv^\top + M_{ab}\,\Sigma^{-1},\qquad
              I_{w\mu_a} = I_{1,wa}\,v .

    Cost: one :math:`O(d^3)` inverse per call (the output itself is dense).
    """
    _no_sigma(sigma)
    red = reduce_means({"mu_old": mu_old, "mu_new": mu_new}, cov)
    so, sn = red.coords["mu_old"], red.coords["mu_new"]
    i1 = equal.fisher_matrix(w, so, sn)
    wv, so_, sn_ = V.broadcast(w=V.open_unit("w", w), mu_old=so, mu_new=sn)
    m = expect(compile_spec(orthogonal_fisher_spec()), [wv, so_, sn_, np.ones_like(wv)])
    return _matrix(i1, m, red, cholesky(cov))


def rkl_hessian(
    w: Any, mu_old: Any, mu_new: Any, *, alpha: Any, target_old: Any, target_new: Any,
    cov: Any, sigma: Any = None,
) -> np.ndarray:
    r"""d-D Hessian of :math:`\mathrm{KL}(q_\theta\Vert p^*)` in ``(w, μo, μn)``, shape
    ``(..., 1 + 2d, 1 + 2d)``, for collinear whitened means.

    Along the axis: the 1-D Hessian. Across it (per orthogonal direction, displacement η):
    :math:`\partial^2_{\eta_a\eta_b}L_R = \int\partial^2_{ab}q\,\log(q/p^*) +
    \int\partial_a q\,\partial_b q/q`; the first term is
    :math:`\delta_{ab}\pi_a\int\varphi_a\log(q_1/p_1)\,ds\int(u^2-1)\psi = 0`, the second
    the Fisher block :math:`\mathbb E_{q_1}[r_a r_b]`. Mapped back as in :func:`fisher_matrix`.
    """
    _no_sigma(sigma)
    red = _rkl_reduce(mu_old, mu_new, target_old, target_new, cov)
    c = red.coords
    h1 = equal.rkl_hessian(w, c["mu_old"], c["mu_new"], alpha=alpha, target_old=c["target_old"],
                           target_new=c["target_new"])
    wv, so_, sn_ = V.broadcast(w=V.open_unit("w", w), mu_old=c["mu_old"], mu_new=c["mu_new"])
    m = expect(compile_spec(orthogonal_fisher_spec()), [wv, so_, sn_, np.ones_like(wv)])
    return _matrix(h1, m, red, cholesky(cov))


def fkl_hessian(
    w: Any, mu_old: Any, mu_new: Any, *, data_mean: Any, cov: Any, replay: Any = 0.0,
    replay_mean: Any = None, sigma: Any = None,
) -> np.ndarray:
    r"""d-D Hessian of :math:`\mathrm{KL}(P_{\rm train}\Vert q_\theta)` in ``(w, μo, μn)``,
    shape ``(..., 1 + 2d, 1 + 2d)``, for collinear whitened means.

    Across the axis :math:`-\mathbb E_P[\partial^2_{ab}q/q] + \mathbb E_P[r_a r_b u^2] =
    \mathbb E_{P_1}[r_a r_b]` (the first term carries :math:`\int(u^2-1)\psi = 0`).
    """
    _no_sigma(sigma)
    red = _fkl_reduce(mu_old, mu_new, data_mean, replay_mean, cov)
    c = red.coords
    rm = c.get("replay_mean")
    h1 = equal.fkl_hessian(w, c["mu_old"], c["mu_new"], data_mean=c["data_mean"], replay=replay,
                           replay_mean=rm)
    p = V.broadcast(w=V.open_unit("w", w), mu_old=c["mu_old"], mu_new=c["mu_new"],
                    data_mean=c["data_mean"],
                    replay_mean=c["data_mean"] if rm is None else rm,
                    replay=V.half_open_unit("replay", replay))
    m = expect(compile_spec(orthogonal_fkl_hessian_spec()), [*p, np.ones_like(p[0])])
    return _matrix(h1, m, red, cholesky(cov))
