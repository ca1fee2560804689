"""K-component training states (symforget.training.kstate): for K = 2 the Mixture descent is the
five-parameter descent (two routes, one truth); for K = 3 the KL decreases along small steps."""

import itertools

import numpy as np
import pytest

from symforget.errors import ParameterError, SymforgetError
from symforget.kmix import Mixture, kl_grad
from symforget.training import estimators as E
from symforget.training.kstate import descend_mixture
from symforget.training.stepping import Stepping, descend

START = Mixture([0.75, 0.25], [-3.5, 0.5], [1.0, 0.7])
CHEN = dict(weight_param="raw", clip=(1e-3, 1 - 1e-3),
            lr_scale={"weights": 0.005, "means": [0.005, 1.0], "scales": [0.005, 1.0]},
            learn_scales=True, scale_floor=1e-3)
STEP5 = Stepping(weight_param="raw", clip=(1e-3, 1 - 1e-3),
                 lr_scale={"w": 0.005, "mu_old": 0.005, "sigma_old": 0.005},
                 learn_scales=True, scale_floor=1e-3)
TH0 = [0.75, -3.5, 1.0, 0.5, 0.7]


def _as5(m: Mixture) -> np.ndarray:
    return np.array([m.weights[0], m.means[0], m.scales[0], m.means[1], m.scales[1]])


def test_k2_forward_is_the_five_parameter_sft_run():
    k = descend_mixture(START, Mixture([1.0], [3.5], [0.7]), 0.15, 40, direction="forward",
                        **CHEN)
    five = descend(E.estimator("exact", batch=None, data=(3.5, 0.7)), TH0, 0.15, 40, STEP5)
    np.testing.assert_allclose(np.array([_as5(m) for m in k]), five, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("param", ["raw", "logit"])
def test_k2_reverse_is_the_five_parameter_rkl_run(param):
    tgt = E.Target(0.75, -3.0, 1.0, 3.5, 0.7)
    target = Mixture([0.75, 0.25], [-3.0, 3.5], [1.0, 0.7])
    kw = dict(CHEN, weight_param=param)
    st = Stepping(**{**STEP5.as_dict(), "clip": None if param == "logit" else (1e-3, 1 - 1e-3),
                     "weight_param": param})
    if param == "logit":
        kw.pop("clip")
    k = descend_mixture(START, target, 0.05, 15, direction="reverse", **kw)
    five = descend(E.estimator("exact", batch=None, target=tgt), TH0, 0.05, 15, st)
    np.testing.assert_allclose(np.array([_as5(m) for m in k]), five, rtol=1e-8, atol=1e-9)


def test_k3_reverse_kl_decreases():
    from scipy.integrate import quad

    target = Mixture([0.5, 0.3, 0.2], [-3.0, 0.0, 3.0], [1.0, 0.8, 1.2])
    start = Mixture([0.2, 0.3, 0.5], [-2.0, 0.5, 2.0], [1.0, 1.0, 1.0])

    def kl(m):
        def pdf(x, mx):
            return float(np.sum(mx.weights * np.exp(-0.5 * ((x - mx.means) / mx.scales) ** 2)
                                / (mx.scales * np.sqrt(2 * np.pi))))
        return quad(lambda x: pdf(x, m) * np.log(pdf(x, m) / pdf(x, target)), -15, 15,
                    limit=200)[0]

    out = descend_mixture(start, target, 0.2, 10, learn_scales=True)
    kls = [kl(m) for m in out]
    assert all(b < a for a, b in itertools.pairwise(kls))
    assert all(abs(m.weights.sum() - 1) < 1e-12 for m in out)
    g = kl_grad(out[-1], target)
    assert np.all(np.isfinite(g.as_array()))


def test_errors():
    t = Mixture([1.0], [0.0], [1.0])
    with pytest.raises(ParameterError, match="weight_param"):
        descend_mixture(START, t, 0.1, 1, weight_param="soft")
    with pytest.raises(ParameterError, match="only used with"):
        descend_mixture(START, t, 0.1, 1, clip=(0.1, 0.9))
    with pytest.raises(ParameterError, match="lr_scale"):
        descend_mixture(START, t, 0.1, 1, lr_scale={"means": [1.0, 2.0, 3.0]})
    with pytest.raises(ParameterError, match="unknown kind"):
        descend_mixture(START, t, 0.1, 1, lr_scale={"w": 1.0})
    with pytest.raises(SymforgetError, match="left \\(0, 1\\)"):
        descend_mixture(START, Mixture([1.0], [3.5], [0.7]), 5.0, 1, direction="forward",
                        weight_param="raw")
