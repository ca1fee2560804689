"""Parameter validation shared by every public evaluator.

Validators convert their input to ``float64`` arrays and raise
:class:`~symforget.errors.ParameterError` with a message of the form
``"w=1.5 must lie in the open interval (0, 1)"`` — the parameter is always named.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = [
    "as_array",
    "open_unit",
    "half_open_unit",
    "positive",
    "finite",
    "nonnegative",
    "broadcast",
]


def _show(values: np.ndarray, bad: np.ndarray) -> str:
    """Return the first offending value, formatted for a message."""
    first = values[bad].ravel()[0] if values.ndim else values
    return f"{float(first)!r}"


def _any(mask: np.ndarray) -> bool:
    """``mask.any()``, without the ufunc-reduce overhead for 0-d masks (scalar calls)."""
    return bool(mask) if mask.ndim == 0 else bool(mask.any())


def as_array(name: str, value: Any) -> np.ndarray:
    """Convert ``value`` to a float64 array, rejecting NaN and non-numeric input."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}={value!r} must be a real number or an array of them") from exc
    if _any(np.isnan(arr)):
        raise ParameterError(f"{name} contains NaN; every value must be a real number")
    return arr


def finite(name: str, value: Any) -> np.ndarray:
    """A finite real array (no NaN, no ±inf)."""
    arr = as_array(name, value)
    bad = ~np.isfinite(arr)
    if _any(bad):
        raise ParameterError(f"{name}={_show(arr, bad)} must be finite")
    return arr


def open_unit(name: str, value: Any) -> np.ndarray:
    """An array with every entry in the open interval (0, 1)."""
    arr = as_array(name, value)
    bad = ~((arr > 0.0) & (arr < 1.0))
    if _any(bad):
        raise ParameterError(f"{name}={_show(arr, bad)} must lie in the open interval (0, 1)")
    return arr


def half_open_unit(name: str, value: Any) -> np.ndarray:
    """An array with every entry in [0, 1)."""
    arr = as_array(name, value)
    bad = ~((arr >= 0.0) & (arr < 1.0))
    if _any(bad):
        raise ParameterError(f"{name}={_show(arr, bad)} must lie in the interval [0, 1)")
    return arr


def positive(name: str, value: Any) -> np.ndarray:
    """A finite array with every entry > 0."""
    arr = as_array(name, value)
    bad = ~((arr > 0.0) & np.isfinite(arr))
    if _any(bad):
        raise ParameterError(f"{name}={_show(arr, bad)} must be a finite number > 0")
    return arr


def nonnegative(name: str, value: Any) -> np.ndarray:
    """A finite array with every entry >= 0."""
    arr = as_array(name, value)
    bad = ~((arr >= 0.0) & np.isfinite(arr))
    if _any(bad):
        raise ParameterError(f"{name}={_show(arr, bad)} must be a finite number >= 0")
    return arr


def broadcast(**arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast named arrays together; a shape mismatch names the parameters and their shapes."""
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError as exc:
        shapes = ", ".join(f"{k}{tuple(np.shape(v))}" for k, v in arrays.items())
        raise ParameterError(f"parameter shapes do not broadcast together: {shapes}") from exc
