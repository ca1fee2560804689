"""Validators: every accept/reject case, messages that name the parameter (instant)."""

from __future__ import annotations

import numpy as np
import pytest

from symforget.errors import ParameterError, SymforgetError
from symforget.numeric import validate as val

NAN, INF = float("nan"), float("inf")

# validator → (values it accepts, values it rejects, a phrase of its range message)
CASES = {
    val.open_unit: ([1e-300, 0.5, 1 - 1e-16, [0.1, 0.9]],
                    [0.0, 1.0, -0.1, 1.5, INF, -INF, [0.5, 1.0]], "open interval (0, 1)"),
    val.half_open_unit: ([0.0, 0.5, 1 - 1e-16, [0.0, 0.9]], [1.0, -1e-300, 2.0, INF, [0.0, 1.0]],
                       "interval [0, 1)"),
    val.positive: ([1e-300, 1.0, 1e300, [1.0, 2.0]], [0.0, -1.0, INF, -INF, [1.0, 0.0]], "> 0"),
    val.nonnegative: ([0.0, 1.0, 1e300, [0.0, 2.0]], [-1e-300, -1.0, INF, -INF, [1.0, -1.0]],
                    ">= 0"),
    val.finite: ([0.0, -1e300, 1e300, [1.0, -2.0]], [INF, -INF, [1.0, INF]], "finite"),
}


@pytest.mark.parametrize("fn", list(CASES), ids=lambda f: f.__name__)
def test_accepts_and_returns_float64(fn):
    for value in CASES[fn][0]:
        out = fn("p", value)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64
        np.testing.assert_array_equal(out, np.asarray(value, dtype=np.float64))


@pytest.mark.parametrize("fn", list(CASES), ids=lambda f: f.__name__)
def test_rejects_with_named_parameter_and_range(fn):
    phrase = CASES[fn][2]
    for value in CASES[fn][1]:
        with pytest.raises(ParameterError) as info:
            fn("my_param", value)
        msg = str(info.value)
        assert msg.startswith("my_param"), msg
        assert phrase in msg, msg
        assert "\n" not in msg


@pytest.mark.parametrize("fn", [*CASES, val.as_array], ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad", [NAN, [0.5, NAN], np.array([[0.5], [NAN]])])
def test_nan_always_rejected(fn, bad):
    with pytest.raises(ParameterError, match=r"^sigma contains NaN"):
        fn("sigma", bad)


def test_offending_value_is_the_first_bad_entry():
    with pytest.raises(ParameterError, match=r"^w=1\.5 must"):
        val.open_unit("w", [0.5, 1.5, 2.5])
    with pytest.raises(ParameterError, match=r"^sigma=-2\.0 must"):
        val.positive("sigma", np.array([[1.0, -2.0], [0.0, 3.0]]))


@pytest.mark.parametrize("bad", ["abc", 1j, [1, "a"], object(), {"a": 1}])
def test_non_numeric_rejected(bad):
    with pytest.raises(ParameterError, match=r"^mu_old=.* must be a real number"):
        val.as_array("mu_old", bad)


def test_as_array_keeps_infinity_other_validators_decide():
    assert val.as_array("x", INF) == INF


def test_parameter_error_is_value_error_and_symforget_error():
    assert issubclass(ParameterError, ValueError)
    assert issubclass(ParameterError, SymforgetError)


def test_broadcast_ok_and_mismatch_names_every_parameter():
    a, b = val.broadcast(w=np.zeros((2, 1)), mu_old=np.zeros(3))
    assert a.shape == b.shape == (2, 3)
    with pytest.raises(ParameterError) as info:
        val.broadcast(w=np.zeros(2), mu_old=np.zeros(3), sigma=np.ones(1))
    msg = str(info.value)
    assert "w(2,)" in msg and "mu_old(3,)" in msg and "sigma(1,)" in msg
    assert "broadcast" in msg
