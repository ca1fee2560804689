"""TTT-Discover: closed forms vs independent quadrature, gradient vs finite differences, the
adaptive-β rule, validation, the claims and their mutants, finite batch vs population."""

from __future__ import annotations

import math

import numpy as np
import pytest
from claim_cache import quick as _quick
from scipy import integrate
from scipy.special import expit, logit

from symforget.claims import Context, get, run_claim
from symforget.errors import ParameterError
from symforget.methods import tttd as M
from symforget.methods.base import Problem
from symforget.symbolic import tttd as T

IDS = ("tttd.mass_forgetting", "tttd.kl_retains", "tttd.adaptive_beta", "tttd.drift_gating")
POINTS = [  # (u, mu_old, mu_new, beta, m)
    (0.0, 0.0, 2.0, 1.0, 4.0),
    (-2.5, 0.7, 3.1, 0.3, 4.0),
    (1.2, -1.0, 5.0, 3.0, 4.5),
    (-6.0, 0.0, 4.0, 0.05, 4.0),
]


def _q(x: np.ndarray, u: float, mo: float, mn: float) -> np.ndarray:
    w = expit(u)
    return (w * np.exp(-(x - mo) ** 2 / 2) + (1 - w) * np.exp(-(x - mn) ** 2 / 2)) / math.sqrt(
        2 * math.pi)


def _quad(f, pts) -> float:
    val, _ = integrate.quad(f, -30, 30, points=sorted(pts), epsabs=0.0, epsrel=1e-12, limit=400)
    return float(val)


@pytest.mark.parametrize("pt", POINTS)
def test_log_z_matches_quadrature(pt) -> None:
    u, mo, mn, b, m = pt
    direct = _quad(lambda x: _q(x, u, mo, mn) * math.exp(-b * (x - m) ** 2 / 2), [mo, mn, m])
    cf = float(M.log_z(u, mo, mn, beta=b, m=m))
    assert abs(cf - math.log(direct)) <= 1e-10 * max(1.0, abs(cf))


def test_log_z_stable_far_from_reward() -> None:
    # both components far from m: the naive log(w Z_o + (1-w) Z_n) underflows to log 0
    val = float(M.log_z(0.0, -40.0, -35.0, beta=50.0, m=10.0))
    expected = -0.5 * math.log(51.0) - 50 * 45.0**2 / (2 * 51.0) + math.log(0.5)  # μn dominates
    assert math.isfinite(val) and abs(val - expected) < 1e-9 * abs(expected)


@pytest.mark.parametrize("pt", POINTS[:3])
def test_gradient_taylor_remainder_slope_two(pt) -> None:
    u, mo, mn, b, m = pt
    th = np.array([u, mo, mn])
    g = M.entropic_grad(u, mo, mn, beta=b, m=m)
    d = np.array([0.6, -0.8, 0.5])
    e0 = float(M.log_z(*th, beta=b, m=m)) / b
    hs = np.array([1e-1, 5e-2, 2.5e-2, 1.25e-2, 6.25e-3])
    rem = [abs(float(M.log_z(*(th + h * d), beta=b, m=m)) / b - e0 - h * float(g @ d)) for h in hs]
    slope = np.polyfit(np.log(hs), np.log(rem), 1)[0]
    assert abs(slope - 2.0) < 0.1, (slope, rem)


def test_gradient_vs_score_function_quadrature() -> None:
    u, mo, mn, b, m = 0.3, 0.5, 2.0, 0.7, 4.0
    w = expit(u)
    z = _quad(lambda x: _q(x, u, mo, mn) * math.exp(-b * (x - m) ** 2 / 2), [mo, mn, m])

    def comp(mean):
        return lambda x: math.exp(-(x - mean) ** 2 / 2 - b * (x - m) ** 2 / 2) / math.sqrt(
            2 * math.pi)

    zo, zn = _quad(comp(mo), [mo, m]), _quad(comp(mn), [mn, m])
    gmo = w * _quad(lambda x: comp(mo)(x) * (x - mo), [mo, m]) / (b * z)
    gmn = (1 - w) * _quad(lambda x: comp(mn)(x) * (x - mn), [mn, m]) / (b * z)
    gu = w * (1 - w) * (zo - zn) / (b * z)
    g = M.entropic_grad(u, mo, mn, beta=b, m=m)
    np.testing.assert_allclose(g, [gu, gmo, gmn], rtol=1e-9)


def _kl_tilt_quad(u: float, mo: float, mn: float, b: float, m: float) -> float:
    z = _quad(lambda x: _q(x, u, mo, mn) * math.exp(-b * (x - m) ** 2 / 2), [mo, mn, m])
    return _quad(lambda x: _q(x, u, mo, mn) * math.exp(-b * (x - m) ** 2 / 2) / z
                 * (-b * (x - m) ** 2 / 2 - math.log(z)), [mo, mn, m])


@pytest.mark.parametrize("pt", POINTS[:3])
def test_tilt_kl_closed_form_vs_quadrature(pt) -> None:
    u, mo, mn, b, m = pt
    assert float(M.tilt_kl(u, mo, mn, beta=b, m=m)) == pytest.approx(
        _kl_tilt_quad(u, mo, mn, b, m), rel=1e-9)


@pytest.mark.parametrize("eps", [0.01, 0.3, 2.0])
def test_adaptive_beta_hits_budget(eps: float) -> None:
    u, mo, mn, m = -0.5, 0.2, 2.5, 4.0
    b = M.adaptive_beta(u, mo, mn, eps=eps, m=m)
    assert _kl_tilt_quad(u, mo, mn, b, m) == pytest.approx(eps, rel=1e-8)
    # vectorised routes: bisection and warm-started Newton agree with brentq
    bv = M.adaptive_beta_vec(np.array([u]), mo, mn, eps=eps, m=m)
    bn = M.adaptive_beta_vec(np.array([u]), mo, mn, eps=eps, m=m, guess=np.array([3 * b]))
    np.testing.assert_allclose([bv[0], bn[0]], [b, b], rtol=1e-9)


def test_tilt_kl_increasing_in_beta() -> None:
    bs = np.geomspace(1e-3, 1e3, 40)
    kl = M.tilt_kl(0.4, 0.0, 3.0, beta=bs, m=4.0)
    assert np.all(np.diff(kl) > 0)


def test_batch_beta_rule() -> None:
    rng = np.random.default_rng(3)
    r = -0.5 * rng.normal(size=64) ** 2
    b = M.batch_beta(r, 0.4)
    a = np.exp(b * (r - r.max()))
    a /= a.sum()
    assert float(np.sum(a * np.log(a * 64))) == pytest.approx(0.4, rel=1e-9)
    with pytest.raises(ParameterError, match="eps"):
        M.batch_beta(r, math.log(64))


@pytest.mark.parametrize(("kw", "name"), [
    ({"beta": 0.0}, "beta"), ({"beta": -1.0}, "beta"), ({"kl_budget": -0.1}, "kl_budget"),
    ({"kl_coef": -1.0}, "kl_coef"), ({"eta": 0.0}, "eta"), ({"eta": float("nan")}, "eta"),
    ({"objective": "linear"}, "objective"), ({"reference": "old"}, "reference"),
    ({"group_size": 1}, "group_size"), ({"group_size": 2.5}, "group_size"),
])
def test_validation(kw, name) -> None:
    with pytest.raises(ParameterError, match=name):
        M.check_params(**kw)
    with pytest.raises(ParameterError, match=name):
        M.run(Problem(), steps=2, **kw)


def test_run_rejects_unknown_and_bad_counts() -> None:
    with pytest.raises(ParameterError, match="lam"):
        M.run(Problem(), steps=2, lam=0.5)
    with pytest.raises(ParameterError, match="steps"):
        M.run(Problem(), steps=-1)
    with pytest.raises(ParameterError, match="batch"):
        M.run(Problem(), steps=2, batch=0)
    with pytest.raises(ParameterError, match="kl_budget"):
        M.run(Problem(), steps=2, batch=4, group_size=4, kl_budget=2.0)  # >= log 4
    with pytest.raises(ParameterError, match="multiple of group_size"):
        M.run(Problem(), steps=2, batch=12)  # group_size 8


def test_run_records_and_modes() -> None:
    pb = Problem()
    r = M.run(pb, steps=1200, kl_coef=0.0, kl_budget=0.0, beta=1.0, objective="entropic")
    assert len(r.steps) <= 501 and r.steps[0] == 0 and r.steps[-1] == 1200
    assert r.w[-1] < 0.05 * r.w[0]  # λ = 0: mass forgetting
    kept = M.run(pb, steps=300, kl_coef=2.0, kl_budget=0.0, beta=1.0, objective="entropic")
    assert kept.w[-1] > 10 * r.w[-1]
    ad = M.run(pb, steps=20, kl_budget=0.5)
    assert len(ad.extra["beta"]) == 20 and min(ad.extra["beta"]) > 0
    fb = M.run(pb, steps=30, batch=32, kl_budget=0.5, seed=4)
    fb2 = M.run(pb, steps=30, batch=32, kl_budget=0.5, seed=4)
    np.testing.assert_array_equal(fb.w, fb2.w)  # seeded
    assert 0.0 <= fb.extra["starved_group_fraction"] <= 1.0
    assert r.as_dict()["method"] == "tttd"


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_finite_batch_matches_population(gamma: float) -> None:
    st = np.array([logit(0.4), 0.3, 2.5])
    ref, m = (0.5, 0.0, 2.0), 4.0
    pop = M.tttd_step(st[None], beta=1.0, gamma=gamma, eta=1.0, m=m, ref=ref)[0] - st
    rng = np.random.default_rng(11)
    g = np.array([M.batch_gradient(rng, st, 4000, beta=1.0, eps=0.0, gamma=gamma, m=m,
                                   ref=ref, scale="entropic")[0] for _ in range(120)])
    se = g.std(axis=0, ddof=1) / math.sqrt(len(g))
    z = np.abs(g.mean(axis=0) - pop) / se
    assert np.all(z < 4.0), (z, g.mean(axis=0), pop)


def test_late_rate_limit_formula() -> None:
    # the symbolic late rate equals η(1 − Z_o/Z_n)/β with Z by quadrature
    from symforget.numeric.compile import compile_exprs
    from symforget.symbolic.symbols import sigma

    fn = compile_exprs(T.late_rate(), (T.mu_o, T.mu_n, T.beta, T.m, sigma, T.eta))
    b, m = 0.8, 4.0

    def z(mean):
        return _quad(lambda x: math.exp(-(x - mean) ** 2 / 2 - b * (x - m) ** 2 / 2)
                     / math.sqrt(2 * math.pi), [mean, m])

    assert float(fn(0.5, 3.7, b, m, 1.0, 0.3)) == pytest.approx(
        0.3 * (1 - z(0.5) / z(3.7)) / b, rel=1e-10)


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes(cid: str) -> None:
    res = _quick(cid)
    assert res.status == "pass", res.counterexample or res.summary


def test_claim_evidence_numbers() -> None:
    mf = _quick("tttd.mass_forgetting").metrics
    assert mf["rho_quad_rel_err"] <= 1e-9
    kr = _quick("tttd.kl_retains").metrics
    assert kr["min_w_limit"] > kr["min_w_bound"] > 0
    assert kr["stationary_logit_err"] <= 5e-3
    dg = _quick("tttd.drift_gating").metrics
    assert dg["gating_slope_beta1"] == pytest.approx(-0.25, rel=1e-6)


@pytest.mark.parametrize(("cid", "name"), [(c, n) for c in IDS for n in get(c).mutants])
def test_mutant_rejected(cid: str, name: str) -> None:
    claim = get(cid)
    res = run_claim(claim, Context(profile="quick"), **claim.mutants[name])
    assert res.status == "fail", (name, res.status, res.summary)
    assert res.counterexample


def test_derivations_check() -> None:
    for name, d in T.derivations().items():
        bad = [(i, c) for i, c in enumerate(d.check()) if not c.ok]
        assert not bad, (name, bad)


def test_batch_beta_rule_tends_to_population_rule() -> None:
    # KL(softmax(βR) ‖ uniform) over B draws of q → KL(q_β ‖ q) as B → ∞: the per-batch rule of
    # the paper and the population rule pick the same β up to Monte Carlo error
    u, mo, mn, m, eps = 0.2, 0.0, 2.5, 4.0, 0.3
    from symforget.training.sampling import sample_mixture

    xs, _ = sample_mixture(np.random.default_rng(5), 400_000, float(expit(u)), mo, mn)
    b_batch = M.batch_beta(-0.5 * (xs - m) ** 2, eps)
    assert b_batch == pytest.approx(M.adaptive_beta(u, mo, mn, eps=eps, m=m), rel=0.02)
