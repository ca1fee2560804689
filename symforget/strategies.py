r"""Hypothesis strategies for the two-mode model, for users' own property tests.

A curated public module: every strategy draws parameters that the evaluators of
:mod:`symforget.model` accept, and leans towards the edges where numerics break (weights near
0 and 1, coincident means, separations far beyond where :math:`e^{-\Delta^2/8}` underflows).
Arguments are validated when the strategy is built; a bad argument raises
:class:`~symforget.errors.ParameterError` with a one-line ``name=value must be …`` message.

Hypothesis is a test extra (``pip install 'symforget[test]'``); this module imports it.

Strategies
----------
``weights``          w or α in a closed sub-interval of (0, 1), dense near both ends
``means``            a mean inside a box ``[min, max]``
``separations``      Δ ≥ 0, optionally with very large Δ (``large=True``)
``scales``           σ > 0, spread over orders of magnitude
``replay_fractions`` ρ ∈ [0, 1), with ρ = 0 drawn often
``students``         θ = (w, μo, μn)
``targets``          (α, νo, νn)
``covariances``      a d × d symmetric positive-definite Σ with bounded condition number
``collinear_means``  k points of ℝ^d on one line (the means that reduce to the 1-D model)

For metamorphic tests (an invariance of the model must hold *exactly* on the inputs, so the
transformed inputs must be exactly representable):

``exact_weights``    w with 1 − w exact, down to 2^-40 ≈ 9e-13 from 0 and 1
``grid_means``       k means on a dyadic grid with a spread up to a given edge
``shifts``           a translation S with S + m exact for grid means
``binary_scales``    a power of two (scaling by it is exact), across many decades

Examples
--------
>>> from hypothesis import given, settings
>>> from symforget import strategies as sfs
>>> @settings(max_examples=20, deadline=None)  # the first call compiles the evaluator
... @given(sfs.students(), sfs.targets())
... def test_rkl_grad_is_finite(theta, target):
...     import numpy as np
...     from symforget import rkl_grad
...     alpha, nu_o, nu_n = target
...     g = rkl_grad(*theta, alpha=alpha, target_old=nu_o, target_new=nu_n)
...     assert np.isfinite(g).all()
>>> test_rkl_grad_is_finite()
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .errors import ParameterError

__all__ = [
    "weights",
    "means",
    "separations",
    "scales",
    "replay_fractions",
    "students",
    "targets",
    "covariances",
    "collinear_means",
    "exact_weights",
    "grid_means",
    "shifts",
    "binary_scales",
    "LARGE_SEPARATION",
]

#: Separations at or beyond this are "large": e^{-Δ²/8} < 1e-86, and double precision
#: evaluations of overlaps must work in log space (STYLE.md asks for Δ ≥ 40 edge cases).
LARGE_SEPARATION = 40.0


def _real(name: str, value: Any) -> float:
    """``value`` as a finite float, or a one-line ParameterError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} must be a real number")
    out = float(value)
    if not math.isfinite(out):
        raise ParameterError(f"{name}={value!r} must be finite")
    return out


def _ordered(lo_name: str, lo: float, hi_name: str, hi: float) -> None:
    if lo > hi:
        raise ParameterError(f"{lo_name}={lo!r} must be <= {hi_name}={hi!r}")


def _floats(lo: float, hi: float) -> SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def _clamped(lo: float, hi: float) -> Any:
    return lambda v: min(max(v, lo), hi)


def weights(min: float = 1e-6, max: float = 1.0 - 1e-6) -> SearchStrategy[float]:
    r"""A weight (``w`` or ``alpha``) in ``[min, max]``, a closed sub-interval of (0, 1).

    Half of the draws are uniform in logit space, so values like 1e-5 and 1 − 1e-5 (where
    :math:`\log w` and :math:`\log(1-w)` matter) appear as often as 0.5; the ends ``min`` and
    ``max`` themselves are drawn too.

    Parameters
    ----------
    min, max : float
        Bounds, ``0 < min <= max < 1``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(weights(min=0.01, max=0.99))
    ... def test_in_box(w):
    ...     assert 0.01 <= w <= 0.99
    >>> test_in_box()
    """
    lo, hi = _real("min", min), _real("max", max)
    if not 0.0 < lo < 1.0:
        raise ParameterError(f"min={min!r} must lie in the open interval (0, 1)")
    if not 0.0 < hi < 1.0:
        raise ParameterError(f"max={max!r} must lie in the open interval (0, 1)")
    _ordered("min", lo, "max", hi)
    if lo == hi:
        return st.just(lo)
    u_lo, u_hi = math.log(lo / (1.0 - lo)), math.log(hi / (1.0 - hi))
    logit_uniform = _floats(u_lo, u_hi).map(lambda u: 1.0 / (1.0 + math.exp(-u)))
    return st.one_of(
        st.sampled_from([lo, hi]),
        _floats(lo, hi),
        logit_uniform.map(_clamped(lo, hi)),
    )


def means(min: float = -8.0, max: float = 8.0) -> SearchStrategy[float]:
    """A mean in the box ``[min, max]`` (whitened units unless you scale it by σ).

    The default box ±8 is the acceptance box of the gradients (±8σ). The corners and 0 are
    drawn as well.

    Parameters
    ----------
    min, max : float
        Finite bounds, ``min <= max``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(means(min=-3.0, max=3.0))
    ... def test_in_box(m):
    ...     assert -3.0 <= m <= 3.0
    >>> test_in_box()
    """
    lo, hi = _real("min", min), _real("max", max)
    _ordered("min", lo, "max", hi)
    if lo == hi:
        return st.just(lo)
    special = sorted({lo, hi, *([0.0] if lo <= 0.0 <= hi else [])})
    return st.one_of(st.sampled_from(special), _floats(lo, hi))


def separations(
    min: float = 0.0, max: float = 16.0, *, large: bool = False,
    large_max: float = 1000.0,
) -> SearchStrategy[float]:
    r"""A Mahalanobis separation :math:`\Delta \ge 0` in ``[min, max]``.

    Δ = 0 (coincident means) is drawn whenever ``min == 0``. With ``large=True`` the strategy
    also draws from ``[max(LARGE_SEPARATION, min), large_max]`` — the regime where
    :math:`e^{-\Delta^2/8}` underflows double precision (Δ ≳ 77) and only log-space values
    survive.

    Parameters
    ----------
    min, max : float
        Bounds of the ordinary range, ``0 <= min <= max``.
    large : bool
        Also draw large separations.
    large_max : float
        Upper end of the large range, ``>= max(LARGE_SEPARATION, min)``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(separations(max=4.0, large=True))
    ... def test_nonnegative(d):
    ...     assert d == 0.0 or 0.0 < d <= 4.0 or 40.0 <= d <= 1000.0
    >>> test_nonnegative()
    """
    lo, hi = _real("min", min), _real("max", max)
    if lo < 0.0:
        raise ParameterError(f"min={min!r} must be >= 0 (a separation is a distance)")
    _ordered("min", lo, "max", hi)
    if not isinstance(large, bool):
        raise ParameterError(f"large={large!r} must be True or False")
    big_hi = _real("large_max", large_max)
    parts: list[SearchStrategy[float]] = [st.sampled_from(sorted({lo, hi})), _floats(lo, hi)]
    if large:
        big_lo = LARGE_SEPARATION if lo < LARGE_SEPARATION else lo  # (min/max are shadowed)
        if big_hi < big_lo:
            raise ParameterError(f"large_max={large_max!r} must be >= {big_lo!r}")
        parts.append(_floats(big_lo, big_hi))
        parts.append(st.sampled_from(sorted({big_lo, big_hi})))
    return st.one_of(*parts)


def scales(min: float = 0.01, max: float = 100.0) -> SearchStrategy[float]:
    r"""A scale :math:`\sigma > 0` in ``[min, max]``, half of the draws log-uniform.

    Parameters
    ----------
    min, max : float
        Bounds, ``0 < min <= max`` (finite).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(scales(min=0.5, max=2.0))
    ... def test_positive(s):
    ...     assert 0.5 <= s <= 2.0
    >>> test_positive()
    """
    lo, hi = _real("min", min), _real("max", max)
    if not lo > 0.0:
        raise ParameterError(f"min={min!r} must be > 0 (a scale is positive)")
    _ordered("min", lo, "max", hi)
    if lo == hi:
        return st.just(lo)
    log_uniform = _floats(math.log(lo), math.log(hi)).map(math.exp)
    return st.one_of(st.sampled_from([lo, hi]), _floats(lo, hi),
                     log_uniform.map(_clamped(lo, hi)))


def replay_fractions(min: float = 0.0, max: float = 0.99) -> SearchStrategy[float]:
    """A replay fraction ρ in ``[min, max]`` ⊂ [0, 1); ρ = ``min`` (often 0) is drawn often.

    Parameters
    ----------
    min, max : float
        Bounds, ``0 <= min <= max < 1``.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(replay_fractions(max=0.5))
    ... def test_half_open(r):
    ...     assert 0.0 <= r <= 0.5
    >>> test_half_open()
    """
    lo, hi = _real("min", min), _real("max", max)
    if not 0.0 <= lo < 1.0:
        raise ParameterError(f"min={min!r} must lie in the interval [0, 1)")
    if not 0.0 <= hi < 1.0:
        raise ParameterError(f"max={max!r} must lie in the interval [0, 1)")
    _ordered("min", lo, "max", hi)
    if lo == hi:
        return st.just(lo)
    return st.one_of(st.sampled_from([lo, hi]), _floats(lo, hi))


def _strategy(name: str, value: Any) -> SearchStrategy:
    if not isinstance(value, SearchStrategy):
        raise ParameterError(f"{name}={value!r} must be a Hypothesis strategy")
    return value


def students(
    weight: SearchStrategy[float] | None = None,
    mean: SearchStrategy[float] | None = None,
) -> SearchStrategy[tuple[float, float, float]]:
    r"""Student parameters :math:`\theta = (w, \mu_o, \mu_n)` as a tuple of floats.

    Defaults: ``weights(0.01, 0.99)`` and ``means(-8, 8)`` — the acceptance box of
    :func:`symforget.fkl_grad` / :func:`symforget.rkl_grad`. Coincident means (Δ = 0) are
    drawn on purpose.

    Parameters
    ----------
    weight, mean : SearchStrategy, optional
        Strategies for w and for each mean.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(students(weight=weights(0.2, 0.8), mean=means(-1.0, 1.0)))
    ... def test_theta(theta):
    ...     w, mu_o, mu_n = theta
    ...     assert 0.2 <= w <= 0.8 and abs(mu_o) <= 1.0 and abs(mu_n) <= 1.0
    >>> test_theta()
    """
    ws = _strategy("weight", weight) if weight is not None else weights(0.01, 0.99)
    ms = _strategy("mean", mean) if mean is not None else means()
    pair = st.one_of(st.tuples(ms, ms), ms.map(lambda m: (m, m)))
    return st.builds(lambda w, mm: (w, mm[0], mm[1]), ws, pair)


def targets(
    alpha: SearchStrategy[float] | None = None,
    mean: SearchStrategy[float] | None = None,
) -> SearchStrategy[tuple[float, float, float]]:
    r"""Target parameters :math:`(\alpha, \nu_o, \nu_n)` of :math:`p^* = \alpha\varphi_{\nu_o}
    + (1-\alpha)\varphi_{\nu_n}`, as a tuple of floats.

    Same defaults and edge cases as :func:`students`.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(targets())
    ... def test_target(t):
    ...     alpha, nu_o, nu_n = t
    ...     assert 0.0 < alpha < 1.0 and abs(nu_o) <= 8.0 and abs(nu_n) <= 8.0
    >>> test_target()
    """
    return students(weight=_strategy("alpha", alpha) if alpha is not None else None, mean=mean)


def _dim(d: Any) -> int:
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ParameterError(f"d={d!r} must be an integer >= 1")
    return int(d)


def covariances(d: int, max_condition: float = 1e3,
                scale: SearchStrategy[float] | None = None) -> SearchStrategy[np.ndarray]:
    r"""A symmetric positive-definite :math:`\Sigma = s\,Q\,\mathrm{diag}(\lambda)\,Q^\top`
    of shape ``(d, d)``: Q orthogonal (QR of a Gaussian-like matrix drawn by Hypothesis),
    eigenvalues :math:`\lambda_i \in [1, \kappa]` with κ = ``max_condition`` (both ends drawn on
    purpose), overall scale s from ``scale`` (default :func:`scales` (0.1, 10)).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(covariances(3))
    ... def test_spd(cov):
    ...     assert np.allclose(cov, cov.T) and np.linalg.eigvalsh(cov).min() > 0
    >>> test_spd()
    """
    d = _dim(d)
    kappa = _real("max_condition", max_condition)
    if not kappa >= 1.0:
        raise ParameterError(f"max_condition={max_condition!r} must be >= 1")
    sc = _strategy("scale", scale) if scale is not None else scales(0.1, 10.0)
    entries = st.lists(_floats(-1.0, 1.0), min_size=d * d, max_size=d * d)
    top = math.log(kappa)
    log_eig = st.one_of(st.sampled_from([0.0, top]), _floats(0.0, top)) if top > 0 else st.just(0.0)
    eig = st.lists(log_eig, min_size=d, max_size=d)

    def build(a: list[float], log_eig: list[float], s: float) -> np.ndarray:
        m = np.asarray(a, dtype=float).reshape(d, d) + 2.0 * np.eye(d)  # well conditioned
        q, r = np.linalg.qr(m)
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # unique (Haar-like) orientation
        cov = s * (q * np.exp(np.asarray(log_eig))) @ q.T
        return (cov + cov.T) / 2

    return st.builds(build, entries, eig, sc)


def collinear_means(d: int, k: int, coordinate: SearchStrategy[float] | None = None,
                    ) -> SearchStrategy[np.ndarray]:
    r"""``k`` points :math:`m_j = c + t_j u` of :math:`\mathbb R^d` on one line (array
    ``(k, d)``): base point c and unit direction u drawn by Hypothesis, coordinates t_j from
    ``coordinate`` (default :func:`means`; coincident points are possible). Collinear in any
    metric, so they reduce to the 1-D model for every Σ (claim ``gauss.dimension_reduction``).

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(collinear_means(3, 4))
    ... def test_line(m):
    ...     assert np.linalg.matrix_rank(m[1:] - m[0], tol=1e-8) <= 1
    >>> test_line()
    """
    d = _dim(d)
    k = _dim(k)
    ts = _strategy("coordinate", coordinate) if coordinate is not None else means()
    vec = st.lists(_floats(-1.0, 1.0), min_size=d, max_size=d)

    def build(base: list[float], direction: list[float], t: list[float]) -> np.ndarray:
        u = np.asarray(direction, dtype=float)
        norm = float(np.linalg.norm(u))
        u = u / norm if norm > 1e-3 else np.eye(d)[0]
        return np.asarray(base, dtype=float) * 4.0 + np.outer(np.asarray(t, dtype=float), u)

    return st.builds(build, vec, vec, st.lists(ts, min_size=k, max_size=k))


# ------------------------------------------------------------------ metamorphic strategies

#: spacing of :func:`grid_means` (a power of two: sums with :func:`shifts` stay exact)
GRID = 2.0**-8


def exact_weights(min_exponent: int = 40) -> SearchStrategy[float]:
    r"""A weight w ∈ (0, 1) such that ``1 - w`` is exact in double precision.

    Dyadic values :math:`k\,2^{-e}` with e ≤ ``min_exponent`` (default 40: w down to
    :math:`2^{-40} \approx 9.1\cdot10^{-13}` from 0 and from 1), so the label swap
    w ↦ 1 − w ↦ w returns the same float. The extremes :math:`2^{-e}` and
    :math:`1 - 2^{-e}` are drawn often.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=20)
    ... @given(exact_weights())
    ... def test_exact(w):
    ...     assert 0 < w < 1 and 1 - (1 - w) == w
    >>> test_exact()
    """
    e_max = int(_real("min_exponent", min_exponent))
    if not 1 <= e_max <= 52:
        raise ParameterError(f"min_exponent={min_exponent!r} must lie in [1, 52]")

    def dyadic(pair: tuple[int, int]) -> float:
        e, k = pair
        return (k % (2**e - 1) + 1) / 2.0**e

    edges = st.integers(1, e_max).flatmap(
        lambda e: st.sampled_from([2.0**-e, 1.0 - 2.0**-e]))
    return st.one_of(edges, st.tuples(st.integers(1, e_max), st.integers(0, 2**52)).map(dyadic))


def grid_means(k: int, max_spread: float = 12.0) -> SearchStrategy[tuple[float, ...]]:
    r"""k means on the grid :math:`2^{-8}\mathbb Z` whose spread (max − min) is ≤ ``max_spread``.

    The spread is drawn log-uniformly from [2^-8, max_spread] half of the time (so separations
    across many decades, up to the edge of an evaluator's domain) and the means are placed in
    it; coincident means occur. Every mean is exactly representable together with any
    :func:`shifts` translation.

    Examples
    --------
    Translation invariance checked exactly: the old weight's gradient entry is unchanged when
    every mean moves by the same grid shift:

    >>> import math
    >>> from hypothesis import given, settings
    >>> import symforget as sf
    >>> from symforget import strategies as sfs
    >>> @settings(max_examples=20, deadline=None)
    ... @given(sfs.grid_means(2, max_spread=6.0), sfs.shifts(1e6))
    ... def test_translation(means, s):
    ...     assert max(means) - min(means) <= 6.0
    ...     assert all(m % 2.0**-8 == 0 for m in means)  # on the grid 2^-8 Z
    ...     a = sf.fkl_loss(0.3, *means, data_mean=means[1])
    ...     b = sf.fkl_loss(0.3, means[0] + s, means[1] + s, data_mean=means[1] + s)
    ...     assert math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
    >>> test_translation()
    """
    k = int(_real("k", k))
    edge = _real("max_spread", max_spread)
    if k < 1:
        raise ParameterError(f"k={k!r} must be >= 1")
    if not GRID <= edge <= 2.0**40:
        raise ParameterError(f"max_spread={max_spread!r} must lie in [2^-8, 2^40]")
    n_max = int(edge / GRID)

    def place(spread_units: int) -> SearchStrategy[tuple[float, ...]]:
        half = spread_units // 2
        pts = st.integers(-half, spread_units - half).map(lambda j: j * GRID)
        return st.tuples(*[pts] * k)

    log_spread = _floats(0.0, math.log(n_max) if n_max > 1 else 0.0).map(
        lambda u: max(1, int(math.exp(u))))
    return st.one_of(st.integers(1, min(n_max, 4096)), log_spread,
                     st.just(n_max)).flatmap(place)


def shifts(max_abs: float = 2.0**40) -> SearchStrategy[float]:
    r"""A translation S with \|S\| ≤ ``max_abs`` on the grid of :func:`grid_means`.

    S is a multiple of the grid spacing with at most 48 significant bits above it, so
    S + m is exact for grid means up to 2^40 in size and S ≤ 2^40 ≈ 1.1e12. Large \|S\| (far from
    the origin, where absolute positions used to cost accuracy) are drawn often.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from symforget import strategies as sfs
    >>> @settings(max_examples=30)
    ... @given(sfs.shifts(1e6))
    ... def test_exact(s):
    ...     assert abs(s) <= 1e6 and s % 2.0**-8 == 0
    ...     assert (s + 1.5) - s == 1.5  # adding a grid mean is exact
    >>> test_exact()
    """
    edge = _real("max_abs", max_abs)
    if not 0.0 <= edge <= 2.0**40:
        raise ParameterError(f"max_abs={max_abs!r} must lie in [0, 2^40]")
    n_max = int(edge / GRID)
    big = st.integers(0, 40).map(lambda e: float(min(2.0**e, edge)))
    signs = st.sampled_from([-1.0, 1.0])
    return st.one_of(
        st.tuples(signs, big).map(lambda t: t[0] * t[1]),
        st.integers(-n_max, n_max).map(lambda j: j * GRID),
    )


def binary_scales(min_exponent: int = -900, max_exponent: int = 900) -> SearchStrategy[float]:
    r"""A power of two :math:`2^j`, j ∈ [``min_exponent``, ``max_exponent``].

    Multiplying means and σ by it is exact, so a scale-equivariant evaluator must give the same
    result up to the Jacobian factors. The default range covers σ from 1e-271 to 1e271.

    Examples
    --------
    >>> import math
    >>> from hypothesis import given, settings
    >>> from symforget import strategies as sfs
    >>> @settings(max_examples=30)
    ... @given(sfs.binary_scales(-50, 50))
    ... def test_power_of_two(c):
    ...     mantissa, exponent = math.frexp(c)
    ...     assert mantissa == 0.5 and -50 <= exponent - 1 <= 50
    ...     assert (3.1 * c) / c == 3.1  # multiplying by c is exact
    >>> test_power_of_two()
    """
    lo, hi = int(_real("min_exponent", min_exponent)), int(_real("max_exponent", max_exponent))
    _ordered("min_exponent", lo, "max_exponent", hi)
    if lo < -1000 or hi > 1000:
        raise ParameterError("exponents must lie in [-1000, 1000]")
    return st.integers(lo, hi).map(lambda j: math.ldexp(1.0, j))
