r"""Mixtures of K Gaussian components in 1-D and the gradients of KL between two of them.

:class:`Mixture` holds the weights, means and scales of a K-component mixture, with leading
batch axes (arrays of shape ``(..., K)``). :func:`kl_grad` evaluates the gradient of the reverse
or forward KL divergence in the *student's* parameters from the SymPy specs of
:mod:`symforget.symbolic.kmix` by the kink-aware quadrature
(:func:`symforget.numeric.quadrature.expect`;
both switch points of every pair of components are breakpoints).

Coordinates and domain as :mod:`symforget.general`: means standardised to :math:`(m - c)/s` with
c the midpoint of all means (student and target) and s the smallest scale, scales to
:math:`\sigma/s`; entries in a mean or a scale are divided by s on the way back. The spread of
the means may be at most 1e4 smallest scales and the ratio of the largest to the smallest scale
at most 1e4 (``PrecisionError`` beyond, :data:`symforget.numeric.frame.SCALE_RATIO_LIMIT`).

Reference components are chosen per point: under student component c (reverse) log q is
written relative to c and log p relative to the target component whose mean is nearest to
:math:`\mu_c`; under target component j (forward) log q is written relative to the student
component nearest to :math:`\nu_j`. The spec is written for the first component with the first
component of the other mixture as the reference, and each choice is made by *permuting the
parameters* passed to it (the formulas are symmetric under relabelling), so one compiled spec
per (K, J) serves every choice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError
from .numeric import validate as V
from .numeric.compile import compile_spec
from .numeric.frame import smallest_scale, standardize
from .numeric.quadrature import CHUNK, NODES_PER_PANEL, expect
from .symbolic import kmix as S

__all__ = ["Mixture", "MixtureGrad", "kl_grad", "MAX_COMPONENTS", "WEIGHT_SUM_TOL"]

#: largest number of components of a student or target handled by :func:`kl_grad`
MAX_COMPONENTS = S.MAX_COMPONENTS
#: the weights of a :class:`Mixture` must sum to 1 within this (relative) tolerance
WEIGHT_SUM_TOL = 1e-12
#: bound on (points × quadrature nodes) per call of the quadrature (memory of one temporary)
_NODE_BUDGET = 1_000_000


def _fmt(a: np.ndarray) -> str:
    return repr([float(v) for v in a]) if a.ndim == 1 else f"<array {a.shape}>"


class Mixture:
    r"""A mixture of K Gaussian components in 1-D:
    :math:`\sum_{k<K} \pi_k\,\mathcal N(\mu_k, \sigma_k^2)`.

    Parameters
    ----------
    weights : array_like, shape (..., K)
        Positive weights; along the last axis they must sum to 1 within
        :data:`WEIGHT_SUM_TOL` (1e-12). They are stored as given (not renormalised).
    means : array_like, shape (..., K)
        Finite means.
    scales : array_like, shape (..., K)
        Standard deviations, finite and > 0.

    The leading (batch) axes of the three arrays broadcast together; the last axis counts the
    components and must have the same length K ≥ 1 in all three. The stored arrays are read-only
    and broadcast to ``batch_shape + (K,)``.

    Raises
    ------
    ParameterError
        Naming the argument: a non-positive or non-finite weight or scale, a NaN or infinite
        mean, weights that do not sum to 1, a missing component axis, component counts that
        differ, or batch axes that do not broadcast.

    Examples
    --------
    >>> q = Mixture([0.2, 0.3, 0.5], [-2.0, 0.0, 2.0], [1.0, 0.5, 1.5])
    >>> q.K, len(q), q.batch_shape
    (3, 3, ())
    >>> Mixture([0.3, 0.7], [-2.0, 2.0], [1.0, 1.0])
    Mixture(weights=[0.3, 0.7], means=[-2.0, 2.0], scales=[1.0, 1.0])
    """

    __slots__ = ("_means", "_scales", "_weights")

    def __init__(self, weights: Any, means: Any, scales: Any) -> None:
        w = _component_axis("weights", V.positive("weights", weights))
        m = _component_axis("means", V.finite("means", means))
        s = _component_axis("scales", V.positive("scales", scales))
        k = w.shape[-1]
        for name, arr in (("means", m), ("scales", s)):
            if arr.shape[-1] != k:
                raise ParameterError(
                    f"{name} has {arr.shape[-1]} components (shape {arr.shape}) but weights has "
                    f"{k} (shape {w.shape}); the last axis counts the components")
        try:
            batch = np.broadcast_shapes(w.shape[:-1], m.shape[:-1], s.shape[:-1])
        except ValueError as exc:
            raise ParameterError(
                f"the batch axes of weights{w.shape}, means{m.shape} and scales{s.shape} do not "
                "broadcast together (the last axis counts the components)") from exc
        total = w.sum(axis=-1)
        bad = ~(np.abs(total - 1.0) <= WEIGHT_SUM_TOL)
        if np.any(bad):
            first = float(np.ravel(total)[np.argmax(np.ravel(bad))])
            raise ParameterError(
                f"weights must sum to 1 over the last axis (the components), within "
                f"{WEIGHT_SUM_TOL:g}; they sum to {first!r}")
        shape = (*batch, k)
        self._weights = np.broadcast_to(w, shape)
        self._means = np.broadcast_to(m, shape)
        self._scales = np.broadcast_to(s, shape)

    @property
    def weights(self) -> np.ndarray:
        """Weights π, shape ``batch_shape + (K,)`` (read-only)."""
        return self._weights

    @property
    def means(self) -> np.ndarray:
        """Means μ, shape ``batch_shape + (K,)`` (read-only)."""
        return self._means

    @property
    def scales(self) -> np.ndarray:
        """Scales σ, shape ``batch_shape + (K,)`` (read-only)."""
        return self._scales

    @property
    def K(self) -> int:
        """Number of components."""
        return self._weights.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading (batch) axes."""
        return self._weights.shape[:-1]

    def __len__(self) -> int:
        return self.K

    def __repr__(self) -> str:
        if self.batch_shape:
            return f"Mixture(K={self.K}, batch_shape={self.batch_shape})"
        return (f"Mixture(weights={_fmt(self.weights)}, means={_fmt(self.means)}, "
                f"scales={_fmt(self.scales)})")


class MixtureGrad:
    """A gradient in the parameters of a :class:`Mixture`: ``weights``, ``means``, ``scales``,
    each of shape ``batch_shape + (K,)`` (returned by :func:`kl_grad`).

    Examples
    --------
    At q = p the whole gradient vanishes; for K = 2 the difference of the weight entries is
    ∂/∂w of :func:`symforget.rkl_grad` (with per-component scales):

    >>> import numpy as np
    >>> import symforget as sf
    >>> q = sf.Mixture([0.3, 0.7], [-1.0, 2.0], [1.0, 0.5])
    >>> g = sf.kl_grad(q, q)
    >>> g.K, g.batch_shape, bool(max(abs(g.weights).max(), abs(g.means).max()) < 1e-12)
    (2, (), True)
    >>> p = sf.Mixture([0.5, 0.5], [-1.0, 2.0], [1.0, 0.5])
    >>> g = sf.kl_grad(q, p)
    >>> g5 = sf.rkl_grad(0.3, -1.0, 2.0, alpha=0.5, target_old=-1.0, target_new=2.0,
    ...                  sigma_new=0.5, target_sigma_new=0.5, with_scales=True)
    >>> bool(np.isclose(g.weights[0] - g.weights[1], g5[0], rtol=1e-12))
    True
    """

    __slots__ = ("direction", "means", "scales", "simplex", "weights")

    def __init__(self, weights: np.ndarray, means: np.ndarray, scales: np.ndarray,
                 direction: str, simplex: str) -> None:
        self.weights, self.means, self.scales = weights, means, scales
        self.direction, self.simplex = direction, simplex

    @property
    def K(self) -> int:
        """Number of components."""
        return self.weights.shape[-1]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading (batch) axes."""
        return self.weights.shape[:-1]

    def __len__(self) -> int:
        return self.K

    def as_array(self) -> np.ndarray:
        """All entries in one array ``(..., 3K)``, ordered (weights, means, scales)."""
        return np.concatenate([self.weights, self.means, self.scales], axis=-1)

    def __repr__(self) -> str:
        head = f"MixtureGrad(direction={self.direction!r}, simplex={self.simplex!r}, "
        if self.batch_shape:
            return head + f"K={self.K}, batch_shape={self.batch_shape})"
        return head + (f"weights={_fmt(self.weights)}, means={_fmt(self.means)}, "
                       f"scales={_fmt(self.scales)})")


def _component_axis(name: str, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ParameterError(f"{name} must be an array of shape (..., K) with K ≥ 1 components "
                             f"along its last axis; got shape {arr.shape}")
    return arr


def _mixture(name: str, value: Any) -> Mixture:
    if not isinstance(value, Mixture):
        raise ParameterError(f"{name}={value!r} must be a symforget.Mixture")
    if value.K > MAX_COMPONENTS:
        raise ParameterError(f"{name} has {value.K} components; kl_grad handles 1 to "
                             f"{MAX_COMPONENTS}")
    return value


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ParameterError(f"{name}={value!r} must be one of {', '.join(map(repr, allowed))}")
    return value


def _standard(q: list[np.ndarray], p: list[np.ndarray]):
    """Standard coordinates of flat (N, K) and (N, J) parameter arrays (module docstring)."""
    smin = smallest_scale(np.concatenate([q[2], p[2]], axis=1), "kl_grad", axis=1)
    names = ([f"student.means[{k}]" for k in range(q[1].shape[1])]
             + [f"target.means[{j}]" for j in range(p[1].shape[1])])
    cols = np.concatenate([q[1], p[1]], axis=1)
    std, frame = standardize({n: cols[:, i] for i, n in enumerate(names)}, smin,
                             family="general", function="kl_grad")
    k = q[1].shape[1]
    means = np.stack([std[n] for n in names], axis=1)
    qs = [q[0], means[:, :k], q[2] / smin[:, None]]
    ps = [p[0], means[:, k:], p[2] / smin[:, None]]
    return qs, ps, frame


def _nearest(m: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the candidate (N, C) nearest to m (N,) (the first on ties)."""
    return np.argmin(np.abs(candidates - m[:, None]), axis=1)


def _orders(first: np.ndarray, n: int) -> np.ndarray:
    """(N, n) permutations that move component ``first`` (N,) to the front, keeping the order of
    the others."""
    table = np.array([[r, *(i for i in range(n) if i != r)] for r in range(n)], dtype=np.intp)
    return table[first]


def _take(arrays: list[np.ndarray], order: np.ndarray) -> list[np.ndarray]:
    """Columns of each (N, C) array in the per-point ``order`` (N, C), as a list of (N,)."""
    return [c for a in arrays for c in np.take_along_axis(a, order, axis=1).T]


def _expect(spec, params: list[np.ndarray]) -> np.ndarray:
    """:func:`expect` in slices small enough that one temporary stays within the node budget."""
    cs = compile_spec(spec)
    nodes = NODES_PER_PANEL * (20 + 27 * len(spec.kinks))
    step = int(min(CHUNK, max(8, _NODE_BUDGET // nodes)))
    n_pts = params[0].shape[0]
    return np.concatenate([expect(cs, [p[i:i + step] for p in params])
                           for i in range(0, n_pts, step)], axis=0)


def _rkl(q: list[np.ndarray], p: list[np.ndarray]) -> np.ndarray:
    n_pts, k = q[0].shape
    j = p[0].shape[1]
    spec = S.rkl_grad_spec(k, j)
    out = np.empty((n_pts, 3 * k))
    for c in range(k):
        q_order = _orders(np.full(n_pts, c), k)
        p_order = _orders(_nearest(q[1][:, c], p[1]), j)
        val = _expect(spec, _take(q, q_order) + _take(p, p_order))
        out[:, [c, k + c, 2 * k + c]] = val
    return out


def _fkl(q: list[np.ndarray], p: list[np.ndarray]) -> np.ndarray:
    n_pts, k = q[0].shape
    spec = S.fkl_grad_spec(k)
    out = np.zeros((n_pts, 3 * k))
    for j in range(p[0].shape[1]):
        q_order = _orders(_nearest(p[1][:, j], q[1]), k)
        val = _expect(spec, [*_take(q, q_order), p[0][:, j], p[1][:, j], p[2][:, j]])
        back = np.argsort(q_order, axis=1)  # position of each original component
        for b in range(3):
            out[:, b * k:(b + 1) * k] += np.take_along_axis(val[:, b * k:(b + 1) * k], back,
                                                            axis=1)
    return out


def kl_grad(student: Mixture, target: Mixture, direction: str = "reverse", *,
            simplex: str = "free") -> MixtureGrad:
    r"""Gradient of KL between two K-component mixtures in the *student's* parameters.

    With :math:`q = \sum_k \pi_k\varphi_k` (student, :math:`\varphi_k = \mathcal N(\mu_k,
    \sigma_k^2)`) and p (target):

    * ``direction="reverse"``: :math:`\nabla\,\mathrm{KL}(q\Vert p) = \sum_c
      \mathbb E_{\varphi_c}[g_c\,\ell]`, :math:`\ell = \log(q/p)`,
      :math:`g_c = \nabla(\pi_c\varphi_c)/\varphi_c`; by Stein's identities
      :math:`\partial_{\pi_c} = \mathbb E_{\varphi_c}[\ell]`,
      :math:`\partial_{\mu_c} = \pi_c\,\mathbb E_{\varphi_c}[\ell']`,
      :math:`\partial_{\sigma_c} = \pi_c\sigma_c\,\mathbb E_{\varphi_c}[\ell'']`;
    * ``direction="forward"``: :math:`\nabla\,\mathrm{KL}(p\Vert q) =
      -\mathbb E_p[\nabla\log q] + \nabla\sum_k\pi_k`, i.e.
      :math:`\partial_{\pi_k} = 1 - \mathbb E_p[\varphi_k/q]`,
      :math:`\partial_{\mu_k} = -\mathbb E_p[r_k (x-\mu_k)/\sigma_k^2]`,
      :math:`\partial_{\sigma_k} = -\mathbb E_p[r_k((x-\mu_k)^2/\sigma_k^3 - 1/\sigma_k)]`,
      :math:`r_k = \pi_k\varphi_k/q`.

    **The simplex.** ``simplex="free"`` (default): the weights are free coordinates and the
    entries are the partial derivatives of the generalised KL
    :math:`D(f\Vert g) = \int f\log(f/g) - \int f + \int g` (equal to KL on the simplex) with
    :math:`q = \sum_k\pi_k\varphi_k` unnormalised; the whole gradient vanishes at q = p. Any
    extension of KL off the simplex has the same weight gradient up to a multiple of
    (1, …, 1), so only differences of weight entries are intrinsic: for K = 2 with
    w = π_0, 1 − w = π_1, :math:`\partial_w` = ``weights[..., 0] − weights[..., 1]``.
    ``simplex="tangent"``: the weight entries projected onto the tangent space of the simplex,
    :math:`g_k - \frac1K\sum_l g_l` (they sum to zero; the direction of steepest ascent within
    the simplex in the Euclidean metric). Means and scales are unaffected.

    Parameters
    ----------
    student, target : Mixture
        K and J components (1 to :data:`MAX_COMPONENTS` each; K ≠ J allowed); their batch
        shapes broadcast together.
    direction : ``"reverse"`` or ``"forward"``
        KL(student ‖ target) or KL(target ‖ student).
    simplex : ``"free"`` or ``"tangent"``
        Treatment of the weight entries (see above).

    Returns
    -------
    MixtureGrad
        ``.weights``, ``.means``, ``.scales``, each of shape ``batch_shape + (K,)``.

    Raises
    ------
    ParameterError
        A non-``Mixture`` argument, more than :data:`MAX_COMPONENTS` components, batch shapes
        that do not broadcast, or an unknown ``direction``/``simplex`` (the argument is named).
    PrecisionError
        Means more than 1e4 smallest scales apart, or scales differing by more than a factor
        1e4 (the domain of the general evaluators).

    Notes
    -----
    Every integrand comes from SymPy (:mod:`symforget.symbolic.kmix`): log-mixtures are written
    relative to a reference component with a stable log-sum-exp
    (:class:`~symforget.symbolic.functions.LogSumExp1`). Accuracy (tests/test_kmix.py): for
    K = J = 2 the result equals ``rkl_grad``/``fkl_grad(..., with_scales=True)`` to ≤ 1e-13
    relative (550 points of the issue-13 box; tested at 1e-11); for K, J up to 6 it agrees
    with finite differences of an adaptive scipy quadrature of the divergence to ≤ 2e-8 of the
    largest entry (the differences' own error). Cost grows with the number of pairwise kinks:
    about 1.4, 7 and 60 ms per point (reverse) and 0.2, 1.2 and 12 ms (forward) for
    K = J = 2, 3, 5 (one core, batches of 400), plus a one-off SymPy build and compile of
    0.1–2 s per (K, J).

    Examples
    --------
    >>> q = Mixture([0.2, 0.3, 0.5], [-2.0, 0.0, 2.0], [1.0, 0.5, 1.5])
    >>> p = Mixture([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
    >>> g = kl_grad(q, p)                 # ∇ KL(q ‖ p)
    >>> g.means.shape, g.K
    ((3,), 3)

    For K = 2, ``weights[0] − weights[1]`` is the w entry of :func:`symforget.rkl_grad`
    (central differences of a QUADPACK integral of KL(q ‖ p): −0.78773323501), and the whole
    gradient vanishes at q = p:

    >>> q2 = Mixture([0.3, 0.7], [-2.0, 2.0], [1.0, 1.0])
    >>> p2 = Mixture([0.5, 0.5], [-2.0, 2.0], [1.0, 1.0])
    >>> g = kl_grad(q2, p2)
    >>> round(float(g.weights[0] - g.weights[1]), 7)
    -0.7877332
    >>> bool(abs(kl_grad(q2, q2).as_array()).max() < 1e-12)
    True
    """
    q_mix, p_mix = _mixture("student", student), _mixture("target", target)
    direction = _choice("direction", direction, ("reverse", "forward"))
    simplex = _choice("simplex", simplex, ("free", "tangent"))
    try:
        batch = np.broadcast_shapes(q_mix.batch_shape, p_mix.batch_shape)
    except ValueError as exc:
        raise ParameterError(f"the batch shapes of student {q_mix.batch_shape} and target "
                             f"{p_mix.batch_shape} do not broadcast together") from exc
    k, j = q_mix.K, p_mix.K
    n_pts = int(np.prod(batch))

    def flat(a: np.ndarray, c: int) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(a, (*batch, c)).reshape(n_pts, c))

    q = [flat(a, k) for a in (q_mix.weights, q_mix.means, q_mix.scales)]
    p = [flat(a, j) for a in (p_mix.weights, p_mix.means, p_mix.scales)]
    if n_pts == 0:
        g = np.zeros((0, 3 * k))
    else:
        qs, ps, frame = _standard(q, p)
        g = _rkl(qs, ps) if direction == "reverse" else _fkl(qs, ps)
        g = frame.gradient(g, mean_slots=tuple(range(k, 3 * k)), function="kl_grad")
    g = g.reshape(*batch, 3 * k)
    weights = g[..., :k]
    if simplex == "tangent":
        weights = weights - weights.mean(axis=-1, keepdims=True)
    return MixtureGrad(weights, g[..., k:2 * k], g[..., 2 * k:], direction, simplex)
