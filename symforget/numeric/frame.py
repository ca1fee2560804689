r"""Problem-centred coordinates for the 1-D evaluators, and their declared domain (issue 12).

Every quantity of the model is equivariant under the affine maps :math:`x \mapsto c + s x` of
the data space: a KL divergence is invariant, a gradient in a mean scales by :math:`1/s`, a
Hessian entry by :math:`1/s` per mean index, an EM mean maps as :math:`c + s\mu'`. So each public
evaluator first moves to *standard coordinates*

.. math:: \tilde m = (m - c)/\sigma, \qquad c = \tfrac12(\max_i m_i + \min_i m_i),\quad
          \tilde\sigma = 1,

evaluates there, and maps back exactly. This removes the two failure modes found in issue 12:
absolute positions (a common shift S = 10⁸ changed ``rkl_loss`` from 0.133 to 0.671, because
:math:`(x - \mu)^2` was formed at x ≈ S) and extreme scales (σ = 10⁻³⁰⁰ or 10³⁰⁰ overflowed
inside generated code).

What remains is the **spread** :math:`D = (\max_i m_i - \min_i m_i)/\sigma` — the largest
separation of the problem in units of σ. Each evaluator declares the spread up to which it is
accurate (``SPREAD_LIMIT``, measured against 30-digit mpmath in ``tests/test_domain.py``) and
raises :class:`~symforget.errors.PrecisionError` beyond it instead of returning a number it
cannot vouch for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PrecisionError

__all__ = ["Frame", "standardize", "smallest_scale", "SPREAD_LIMIT", "SCALE_RATIO_LIMIT"]

#: largest spread (max mean − min mean)/σ at which each evaluator family is accurate
#: (see the module docstring and the "Accuracy and domains" table of docs/guide/precision.md)
SPREAD_LIMIT: dict[str, float] = {
    "grad": 1e8,  # reduced-form rkl_grad / fkl_grad (symforget.numeric.fastgrad)
    "quadrature": 1e7,  # kink-aware Gauss–Legendre: losses, Hessians, Fisher, EM, IW gradient
    "general": 1e4,  # unequal scales (symforget.general), in units of the smallest scale
}


#: largest ratio of two scales of one problem accepted by the per-component-scale evaluators
SCALE_RATIO_LIMIT = 1e4


def smallest_scale(scales: np.ndarray, function: str, axis: int = 0) -> np.ndarray:
    """The smallest scale along ``axis`` (the unit of standard coordinates); refuses with
    :class:`~symforget.errors.PrecisionError` where two scales differ by more than
    :data:`SCALE_RATIO_LIMIT`."""
    smin, smax = scales.min(axis=axis), scales.max(axis=axis)
    if np.any(~(smax <= SCALE_RATIO_LIMIT * smin)):
        raise PrecisionError(
            f"{function}: the scales differ by a factor {float(np.max(smax / smin)):.3g}; "
            f"evaluators with per-component scales are accurate for scale ratios up to "
            f"{SCALE_RATIO_LIMIT:g}")
    return smin


@dataclass(frozen=True)
class Frame:
    """The affine map to standard coordinates: ``m = centre + scale · m̃``."""

    centre: np.ndarray
    scale: np.ndarray

    def means(self, standard: np.ndarray) -> np.ndarray:
        """Back from standard coordinates: ``centre + scale · m̃``."""
        return self.centre + self.scale * standard

    def gradient(self, g: np.ndarray, mean_slots: tuple[int, ...] = (1, 2),
                 function: str = "gradient") -> np.ndarray:
        """Map a gradient ``(..., k)`` back: entries in ``mean_slots`` are divided by σ."""
        out = np.array(g, dtype=np.float64, copy=True)
        with np.errstate(over="ignore"):
            for i in mean_slots:
                out[..., i] = out[..., i] / self.scale
        return _finite(out, function)

    def hessian(self, h: np.ndarray, mean_slots: tuple[int, ...] = (1, 2),
                function: str = "Hessian") -> np.ndarray:
        """Map a Hessian ``(..., k, k)`` back: each mean index contributes a factor 1/σ."""
        out = np.array(h, dtype=np.float64, copy=True)
        with np.errstate(over="ignore"):
            for i in mean_slots:
                out[..., i, :] = out[..., i, :] / self.scale[..., None]
                out[..., :, i] = out[..., :, i] / self.scale[..., None]
        return _finite(out, function)


def _finite(out: np.ndarray, function: str) -> np.ndarray:
    """Refuse a result that overflowed when mapped back (σ so small that 1/σ² > 1.8e308)."""
    if not np.isfinite(out).all():
        raise PrecisionError(f"{function}: the result overflows double precision (an entry "
                             "scales like 1/sigma or 1/sigma², and sigma is too small)")
    return out


def standardize(means: dict[str, np.ndarray], sigma: np.ndarray, *, family: str,
                function: str) -> tuple[dict[str, np.ndarray], Frame]:
    """Standard coordinates of broadcast mean arrays (see the module docstring).

    Parameters
    ----------
    means : dict of name → ndarray
        The location parameters, validated (finite) and broadcast to one shape.
    sigma : ndarray
        The shared scale (> 0), broadcast to the same shape.
    family : ``"grad"`` or ``"quadrature"``
        Selects the declared spread limit (:data:`SPREAD_LIMIT`).
    function : str
        The public function's name, for the error message.

    Raises
    ------
    PrecisionError
        If the spread (max − min)/σ exceeds the family's limit (or overflows), naming the two
        parameters that span it.
    """
    names = list(means)
    stack = np.stack([np.asarray(means[k], dtype=np.float64) for k in names])
    hi, lo = stack.max(axis=0), stack.min(axis=0)
    centre = 0.5 * hi + 0.5 * lo  # no overflow even for means near ±1.8e308
    with np.errstate(over="ignore", invalid="ignore"):
        standard = (stack - centre) / sigma
        spread = 0.5 * hi / sigma - 0.5 * lo / sigma
    limit = SPREAD_LIMIT[family]
    bad = ~(np.abs(standard) <= limit / 2.0).all(axis=0) | ~(spread <= limit / 2.0)
    if np.any(bad):
        idx = np.argwhere(np.atleast_1d(bad))[0]
        sub = tuple(idx) if np.ndim(bad) else ()
        col = stack[(slice(None), *sub)]
        i_hi, i_lo = int(np.argmax(col)), int(np.argmin(col))
        sg = float(np.asarray(sigma)[sub]) if np.ndim(sigma) else float(sigma)
        width = 2.0 * float(spread[sub]) if np.ndim(spread) else 2.0 * float(spread)
        raise PrecisionError(
            f"{function}: {names[i_hi]}={float(col[i_hi])!r} and {names[i_lo]}="
            f"{float(col[i_lo])!r} are {width:.3g}σ apart (sigma={sg!r}); {function} is "
            f"accurate in double precision only for means within {limit:g}σ of each other")
    return {k: standard[i] for i, k in enumerate(names)}, Frame(centre, np.asarray(sigma))
