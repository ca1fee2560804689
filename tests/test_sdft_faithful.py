"""SDFT as its paper and reference code define it (issue 15): EMA rate and frozen teacher, the
teacher as a named choice (tilt, anchored), the KL direction, and the analytic finite-batch
estimator (no noise when teacher = student) beside REINFORCE."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import logit

from symforget.methods import sdft as M
from symforget.methods.base import Problem


def _net(th: np.ndarray) -> np.ndarray:
    ub = np.array(th, dtype=float)
    ub[..., 0] = logit(ub[..., 0])
    return ub


def test_defaults() -> None:
    d = {k: v[1] for k, v in M.PARAMS.items()}
    assert d["ema"] == 0.01 and d["kl"] == "reverse" and d["kl_estimator"] == "analytic"
    assert d["teacher"] == "tilt"


def test_general_gradient_matches_compiled_anchored() -> None:
    pb = Problem()
    th = np.array([[0.3, 0.2, 2.5], [0.05, -0.4, 3.0], [1e-6, 0.1, 3.9]])
    ub = _net(th)
    ub[:, 1] += 0.3
    ells, ms = M.teacher(pb, ub, lam=0.5, anchor="target")
    a = M.kl_grad(th, ells, ms, 1.0)
    b = M.general_kl_grad(th, M.anchored_components(pb, ub, lam=0.5, anchor="target"),
                          sigma=1.0)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def _div_quad(th, comps, kl: str, b: float = 0.3) -> float:
    """KL(q||T), KL(T||q) or b KL(T||M) + (1-b) KL(q||M), M = b T + (1-b) q, by quad."""
    w, mo, mn = th
    lw, mu, sc = comps

    def q(x):
        return (w * np.exp(-(x - mo) ** 2 / 2) + (1 - w) * np.exp(-(x - mn) ** 2 / 2)) \
            / math.sqrt(2 * math.pi)

    def t(x):
        return np.sum(np.exp(lw - (x - mu) ** 2 / (2 * sc**2)) / sc) / math.sqrt(2 * math.pi)

    def f(x):
        qx, tx = q(x), t(x)
        if kl == "reverse":
            return qx * math.log(qx / tx)
        if kl == "forward":
            return tx * math.log(tx / qx)
        mx = b * tx + (1 - b) * qx
        return b * tx * math.log(tx / mx) + (1 - b) * qx * math.log(qx / mx)

    return integrate.quad(f, -25, 30, points=[mo, mn, *mu], limit=400, epsabs=0,
                          epsrel=1e-12)[0]


def _kl_quad(th, comps, forward: bool) -> float:
    w, mo, mn = th
    lw, mu, sc = comps

    def logq(x):
        return np.logaddexp(np.log(w) - (x - mo) ** 2 / 2, np.log1p(-w) - (x - mn) ** 2 / 2) \
            - 0.5 * math.log(2 * math.pi)

    def logt(x):
        return np.logaddexp.reduce(lw - (x - mu) ** 2 / (2 * sc**2) - np.log(sc)) \
            - 0.5 * math.log(2 * math.pi)

    def f(x):
        a, b = (logt(x), logq(x)) if forward else (logq(x), logt(x))
        return math.exp(a) * (a - b)

    return integrate.quad(f, -25, 30, points=[mo, mn, *mu], limit=400, epsabs=0,
                          epsrel=1e-12)[0]


@pytest.mark.parametrize("kl", ["reverse", "forward", "jsd"])
def test_tilt_gradient_vs_finite_differences(kl: str) -> None:
    pb = Problem()
    th = np.array([0.35, 0.3, 2.6])
    comps = tuple(c[0] for c in M.tilt_teacher(pb, _net(th)[None] + [0, 0.2, 0],
                                              tilt_strength=0.7))
    g = M.general_kl_grad(th, comps, sigma=1.0, kl=kl, jsd_beta=0.3)
    h = 1e-5
    fd = [(_div_quad(th + h * e, comps, kl) - _div_quad(th - h * e, comps, kl)) / (2 * h)
          for e in np.eye(3)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_tilt_teacher_is_the_normalised_tilt() -> None:
    pb = Problem()
    ub = _net(np.array([0.4, 0.5, 2.0]))
    lw, mu, sc = M.tilt_teacher(pb, ub, tilt_strength=1.3)
    xs = np.linspace(-6, 10, 7)
    w = 0.4
    q = w * np.exp(-(xs - 0.5) ** 2 / 2) + (1 - w) * np.exp(-(xs - 2.0) ** 2 / 2)
    tilted = q * np.exp(-1.3 * (xs - 4.0) ** 2 / 2)
    t = np.exp(lw - (xs[:, None] - mu) ** 2 / (2 * sc**2)) / sc
    ratio = t.sum(axis=1) / tilted
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert math.isclose(np.exp(lw).sum(), 1.0, rel_tol=1e-14)


def test_analytic_estimator_has_no_noise_when_teacher_is_student() -> None:
    pb = Problem()
    th = np.array([[0.4, 0.2, 2.5]] * 3)
    comps = M.anchored_components(pb, _net(th), lam=0.0, anchor="target")  # T = q
    rng = np.random.default_rng(0)
    for kl in ("reverse", "forward", "jsd"):
        g = M.analytic_batch_grad(rng, th, comps, 16, sigma=1.0, kl=kl)
        assert np.max(np.abs(g)) < 1e-12, g
    # REINFORCE with its +1 term is noisy there
    g = M._reinforce_grad(rng, pb, th, _net(th), 16, 0.0, "target")
    assert np.max(np.abs(g)) > 1e-3
    # so a run with a neutral teacher does not move under the analytic estimator
    r = M.run(pb, steps=20, batch=8, teacher="anchored", anchor_weight=0.0, ema=1.0)
    np.testing.assert_allclose(r.w, r.w[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kl", ["reverse", "forward", "jsd"])
def test_analytic_estimator_is_unbiased(kl: str) -> None:
    pb = Problem()
    th = np.array([[0.35, 0.3, 2.6]])
    comps = M.tilt_teacher(pb, _net(th), tilt_strength=0.7)
    pop = M.general_kl_grad(th, comps, sigma=1.0, kl=kl)[0]
    rng = np.random.default_rng(7)
    thn = np.repeat(th, 400, axis=0)
    compsn = tuple(np.repeat(c, 400, axis=0) for c in comps)
    g = M.analytic_batch_grad(rng, thn, compsn, 64, sigma=1.0, kl=kl)
    z = np.abs(g.mean(axis=0) - pop) / (g.std(axis=0, ddof=1) / math.sqrt(len(g)))
    assert np.all(z < 4.5), (z, g.mean(axis=0), pop)


def test_frozen_teacher_retains_more_than_ema_under_tilt() -> None:
    # tilt teacher: each EMA refresh tilts the teacher again, so the old weight keeps falling;
    # a frozen teacher (ema = 0) is one tilt of the initial student: w stops near it
    pb = Problem()
    frozen = M.run(pb, steps=600, ema=0.0)
    ema = M.run(pb, steps=600, ema=0.01)
    assert ema.w[-1] < frozen.w[-1] < pb.w0
    fast = M.run(pb, steps=600, ema=0.1)
    assert fast.w[-1] < ema.w[-1]


def test_teacher_choice_decides_retention() -> None:
    pb = Problem()
    anchored = M.run(pb, steps=300, teacher="anchored", ema=0.1)  # A = p*: retains by design
    tilt = M.run(pb, steps=300)
    assert abs(anchored.w[-1] - pb.alpha) < 0.05
    assert tilt.w[-1] < 0.5 * pb.alpha  # the tilt teacher forgets old mass
    assert tilt.summary()["max_old_drift"] > 2.0  # and drags the old component (quadratic R)


def test_tilt_frozen_claim_and_mutants() -> None:
    from symforget.claims import Context, get, run_claim

    claim = get("sdft.tilt_frozen_merges")
    assert run_claim(claim, Context(profile="quick")).status == "pass"
    for name, kw in claim.mutants.items():
        assert run_claim(claim, Context(profile="quick"), **kw).status == "fail", name
