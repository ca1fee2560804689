r"""Independent references shared by claim checks.

Definitions typed from CLAIMS.md §0 (not from the SymPy layer) and integrated by QUADPACK, so a
check that compares the toolkit against them compares two independent routes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
from scipy import integrate

from ..errors import SymforgetError

__all__ = ["reference_log_normal", "reference_log_mixture", "reference_integral"]


_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def reference_log_normal(x: np.ndarray | float, m: float) -> np.ndarray:
    r"""log φ_m(x) = −(x − m)²/2 − ½ log 2π (σ = 1), typed from the definition."""
    return -0.5 * (np.asarray(x) - m) ** 2 - _LOG_SQRT_2PI


def reference_log_mixture(x: np.ndarray | float, w: float, m1: float, m2: float) -> np.ndarray:
    r"""log(w φ_{m1}(x) + (1 − w) φ_{m2}(x)), σ = 1, straight from the definition."""
    return np.logaddexp(np.log(w) + reference_log_normal(x, m1),
                        np.log1p(-w) + reference_log_normal(x, m2))


def reference_integral(f: Callable[[float], float], points: Sequence[float]) -> float:
    r"""∫_ℝ f by adaptive QUADPACK on [min − 14, max + 14] of ``points`` (also breakpoints).

    The integrands used here carry a Gaussian factor of unit scale centred within ``points``,
    so the truncated tails are below e^{−98}. Raises :class:`SymforgetError` if QUADPACK's error
    estimate exceeds 1e-13 + 1e-11·|value| (a reference must be trustworthy).
    """
    pts = sorted(float(p) for p in points)
    lo, hi = pts[0] - 14.0, pts[-1] + 14.0
    with warnings.catch_warnings():
        # QUADPACK warns when a value near 0 cannot reach epsabs; its error estimate decides
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        val, err = integrate.quad(f, lo, hi, points=pts, limit=400, epsabs=1e-15,
                                  epsrel=1e-13)
    if not err <= 1e-13 + 1e-11 * abs(val):
        raise SymforgetError(f"QUADPACK reference: error estimate {err:.3g} for value "
                             f"{val:.6g} is too large to serve as a reference")
    return float(val)
