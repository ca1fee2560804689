"""Parameter validation shared by every public evaluator.

Validators convert their input to ``float64`` arrays and raise
:class:`~symforget.errors.ParameterError` with a message of the form
``"w=1.5 must lie in the open interval (0, 1)"`` — the parameter is always named.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = [
    "as_array",
    "real_scalar",
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


def _refuse_non_real(name: str, value: Any) -> None:
    """Strings, None, booleans and complex numbers are refused, never converted."""
    if value is None:
        raise ParameterError(f"{name}=None must be a real number (or an array of them)")
    if isinstance(value, (str, bytes)):
        raise ParameterError(f"{name}={value!r} must be a real number, not a string "
                             "(strings are never converted)")
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name}={value!r} must be a real number, not a boolean")
    if isinstance(value, (complex, np.complexfloating)):
        raise ParameterError(f"{name}={value!r} must be a real number, not complex")


def as_array(name: str, value: Any) -> np.ndarray:
    """Convert ``value`` to a float64 array, rejecting NaN and non-numeric input.

    Accepts Python and NumPy reals, ``Fraction``, ``Decimal`` and (nested) sequences or arrays
    of them. Refuses — with a :class:`ParameterError` naming the parameter — strings (also numeric
    ones, and inside sequences), ``None``, booleans, complex numbers and NaN.
    """
    _refuse_non_real(name, value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        raw = value
    else:
        try:
            raw = np.asarray(value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"{name}={value!r} must be a real number or an array of them") from exc
    kind = raw.dtype.kind
    if kind in "USV":
        raise ParameterError(f"{name}={value!r} must be a real number or an array of them, "
                             "not strings (strings are never converted)")
    if kind == "b":
        raise ParameterError(f"{name}={value!r} must be a real number or an array of them, "
                             "not booleans")
    if kind == "c":
        raise ParameterError(f"{name}={value!r} must be a real number or an array of them, "
                             "not complex")
    if kind == "O":
        for item in raw.ravel():
            _refuse_non_real(name, item)
            if not isinstance(item, (Real, Decimal)):
                raise ParameterError(
                    f"{name}={value!r} must be a real number or an array of them "
                    f"(it contains {item!r})")
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ParameterError(f"{name}={value!r} must be a real number or an array of them") from exc
    if _any(np.isnan(arr)):
        raise ParameterError(f"{name} contains NaN; every value must be a real number")
    return arr


def real_scalar(name: str, value: Any) -> float | Fraction:
    """One real number, exactly: a ``float`` (for binary floats of any width and integers that
    fit) or a ``Fraction`` (for ``Fraction``, ``Decimal`` and large integers), so a
    high-precision caller can convert it without rounding.

    Accepts ``int``, ``float``, NumPy integer and floating scalars (float32 included), 0-d
    NumPy arrays of them, ``Fraction`` and ``Decimal``. Refuses strings, ``None``, booleans,
    complex numbers, arrays with more than one element, NaN and ±inf with a
    :class:`ParameterError` naming the parameter.
    """
    _refuse_non_real(name, value)
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise ParameterError(f"{name} must be a single real number, got an array of shape "
                                 f"{value.shape}")
        _refuse_non_real(name, value[()])
        if value.dtype.kind not in "fiu":
            raise ParameterError(f"{name}={value!r} must be a real number")
        value = value[()]
    if isinstance(value, (Fraction, Decimal)):
        if isinstance(value, Decimal) and not value.is_finite():
            raise ParameterError(f"{name}={value!r} must be finite")
        return Fraction(value)
    if isinstance(value, (Integral, np.integer)):
        iv = int(value)
        return float(iv) if abs(iv) < 2**53 else Fraction(iv)
    if isinstance(value, (float, np.floating)):
        fv = float(value)  # exact for float16/32/64
        if not np.isfinite(fv):
            raise ParameterError(f"{name}={fv!r} must be finite")
        return fv
    raise ParameterError(f"{name}={value!r} must be a real number (int, float, Fraction or "
                         "Decimal)")


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
