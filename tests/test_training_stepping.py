"""Stepping conventions of five-parameter runs (symforget.training.stepping)."""

import math

import numpy as np
import pytest

from symforget.errors import ParameterError, SymforgetError
from symforget.training.stepping import Stepping, descend, parse_clip, parse_lr_scale

TH = np.array([0.75, -3.5, 1.0, 0.5, 0.7])
G = np.array([4.0, 1.0, -2.0, -6.0, 3.0])


def test_raw_step_uses_multipliers_and_keeps_fixed_scales():
    st = Stepping(weight_param="raw", lr_scale={"w": 0.5, "mu_old": 0.1})
    new = st.step(TH, G, 0.01)
    assert new[0] == pytest.approx(0.75 - 0.01 * 0.5 * 4.0, abs=1e-15)
    assert new[1] == pytest.approx(-3.5 - 0.01 * 0.1 * 1.0, abs=1e-15)
    assert new[3] == pytest.approx(0.5 + 0.06, abs=1e-15)
    assert new[2] == 1.0 and new[4] == 0.7  # scales fixed by default


def test_learned_scales_and_floor():
    st = Stepping(learn_scales=True, scale_floor=0.5)
    new = st.step(TH, G, 0.1)
    assert new[2] == pytest.approx(1.2) and new[4] == 0.5  # 0.7 - 0.3 = 0.4 floored


def test_scale_without_floor_reaching_zero_raises():
    with pytest.raises(SymforgetError, match="sigma_new"):
        Stepping(learn_scales=True).step(TH, G, 1.0)


def test_logit_step_formula():
    new = Stepping(weight_param="logit").step(TH, G, 0.1)
    u = math.log(3.0) - 0.1 * 0.75 * 0.25 * 4.0
    assert new[0] == pytest.approx(1 / (1 + math.exp(-u)), rel=1e-14)


def test_raw_clip_and_no_clip():
    st = Stepping(weight_param="raw", clip=(0.1, 0.9))
    assert st.step(TH, G, 1.0)[0] == 0.1
    with pytest.raises(SymforgetError, match="left \\(0, 1\\)"):
        Stepping(weight_param="raw").step(TH, G, 1.0)


def test_nonfinite_gradient_is_refused():
    with pytest.raises(SymforgetError, match="finite"):
        Stepping().step(TH, np.array([np.nan, 0, 0, 0, 0]), 0.1)


@pytest.mark.parametrize("kw, msg", [
    ({"weight_param": "log"}, "weight_param"),
    ({"weight_param": "logit", "clip": (0.1, 0.9)}, "only used with"),
    ({"weight_param": "raw", "clip": (0.9, 0.1)}, "0 < lo < hi < 1"),
    ({"lr_scale": {"mu": 1.0}}, "unknown parameter 'mu'"),
    ({"lr_scale": {"w": 0.0}}, "must be > 0"),
    ({"lr_scale": {"w": "0.1"}}, "real number"),
    ({"scale_floor": -1.0}, "scale_floor"),
    ({"learn_scales": 1}, "learn_scales"),
])
def test_bad_stepping(kw, msg):
    with pytest.raises(ParameterError, match=msg):
        Stepping(**kw)


def test_parsers():
    assert parse_lr_scale("mu_old=0.005, sigma-old=0.005,w=1e-3") == {
        "mu_old": 0.005, "sigma_old": 0.005, "w": 1e-3}
    assert parse_clip("0.001,0.999") == (0.001, 0.999)
    for bad in ("mu_old", "x=1", "w=abc", "w=-1", "w=nan", "__import__('os')=1"):
        with pytest.raises(ParameterError):
            parse_lr_scale(bad)
    for bad in ("0.1", "a,b", "0.5,0.2", "0,1"):
        with pytest.raises(ParameterError):
            parse_clip(bad)


def test_descend_shape_and_validation():
    out = descend(lambda th, rng: np.zeros(5), TH, 0.1, 3, Stepping())
    assert out.shape == (4, 5) and np.all(out == TH)
    with pytest.raises(ParameterError, match="state"):
        descend(lambda th, rng: np.zeros(5), [0.5, 0, 1, 0], 0.1, 3, Stepping())
    with pytest.raises(ParameterError, match="eta"):
        descend(lambda th, rng: np.zeros(5), TH, 0.0, 3, Stepping())
