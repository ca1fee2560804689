"""OAPL as an update map (symforget.methods.oapl) and its claims (symforget.claims.oapl)."""

from __future__ import annotations

import numpy as np
import pytest
from claim_cache import quick
from scipy import integrate
from scipy.special import expit

from symforget.claims import Context, get, run_claim
from symforget.errors import ParameterError, PrecisionError
from symforget.methods import oapl as O
from symforget.methods.base import MethodRun, Problem

PB = Problem()  # Δ = 4, new component starts 2σ short of μn*
#: the map the oapl.* claims were derived for (quadratic reward, lag 4, stratified batches)
QUAD = {"reward": "quadratic", "lag": 4, "batch_estimator": "stratified"}


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "name"), [
    ({"beta2": 0.0}, "beta2"), ({"beta2": -1.0}, "beta2"), ({"beta2": float("nan")}, "beta2"),
    ({"beta1": 0.0}, "beta1"), ({"beta": 1.0}, "beta"), ({"reward": "log"}, "reward"),
    ({"batch_estimator": "mle"}, "batch_estimator"), ({"group_size": 1}, "group_size"),
    ({"reward_width": 0.0}, "reward_width"),
    ({"beta2": float("inf")}, "beta2"),
    ({"lag": 0}, "lag"), ({"lag": 1.5}, "lag"), ({"lag": True}, "lag"),
    ({"eta": 0.0}, "eta"), ({"eta": 1.5}, "eta"), ({"eta": float("nan")}, "eta"),
    ({"visibility": -0.1}, "visibility"), ({"visibility": 1.01}, "visibility"),
    ({"gamma": 1.0}, "gamma"),
])
def test_parameter_errors_name_the_parameter(kwargs, name) -> None:
    with pytest.raises(ParameterError, match=name):
        O.run(PB, steps=3, **kwargs)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"steps": 0}, "steps"), ({"steps": 2.0}, "steps"), ({"steps": True}, "steps"),
    ({"steps": 3, "batch": 3}, "batch"), ({"steps": 3, "batch": True}, "batch"),
    ({"steps": 3, "batch": 10.0}, "batch"),
])
def test_steps_and_batch_validated(kwargs, name) -> None:
    with pytest.raises(ParameterError, match=name):
        O.run(PB, **kwargs)


def test_params_table_defaults_are_valid() -> None:
    defaults = {k: v[1] for k, v in O.PARAMS.items()}
    assert O.check_params(**defaults) == defaults
    assert O.NAME == "oapl" and O.DESCRIPTION


# ---------------------------------------------------------------------------------------------
# the population map
# ---------------------------------------------------------------------------------------------

def _quad_component(mu, s, m, kap, r0, tau):
    """log Z, mean, var of N(mu, s²)e^{(−κ(x−m)²/2 + r0)/τ} by plain quadrature (test's own)."""
    def f(x, n):
        return x**n * np.exp(-(x - mu) ** 2 / (2 * s * s) + (-kap * (x - m) ** 2 / 2 + r0) / tau) \
            / np.sqrt(2 * np.pi * s * s)
    lo, hi = min(mu, m) - 15 * s, max(mu, m) + 15 * s
    pts = np.linspace(lo, hi, 61)
    z = [integrate.quad(f, lo, hi, args=(n,), points=pts, limit=500, epsabs=0, epsrel=1e-12)[0]
         for n in range(3)]
    return np.log(z[0]), z[1] / z[0], z[2] / z[0] - (z[1] / z[0]) ** 2


@pytest.mark.parametrize("v", [0.0, 0.4, 1.0])
def test_tilt_state_against_quadrature(v: float) -> None:
    """One tilt of the mixture: weights, means and std devs by direct integration, with the
    blended old reward written out by hand: v R_old + (1−v) R_new."""
    st = np.array([0.7, 0.3, 0.9, 2.6, 1.2])
    tau = 0.8
    mo_star, mn_star = PB.mu_old_star, PB.mu_new_star

    def blended(x):
        return v * (-(x - mo_star) ** 2 / 2) + (1 - v) * (-(x - mn_star) ** 2 / 2)

    def comp(mu, s, reward, n):
        f = lambda x: x**n * np.exp(-(x - mu) ** 2 / (2 * s * s) + reward(x) / tau) \
            / np.sqrt(2 * np.pi * s * s)  # noqa: E731
        return integrate.quad(f, -25, 25, points=np.linspace(-10, 10, 41), limit=500,
                              epsabs=0, epsrel=1e-12)[0]

    zo = [comp(st[1], st[2], blended, n) for n in range(3)]
    zn = [comp(st[3], st[4], lambda x: -(x - mn_star) ** 2 / 2, n) for n in range(3)]
    u = st[0] + np.log(zo[0]) - np.log(zn[0])
    mo, mn = zo[1] / zo[0], zn[1] / zn[0]
    so, sn = np.sqrt(zo[2] / zo[0] - mo**2), np.sqrt(zn[2] / zn[0] - mn**2)
    got = O.tilt_state(st, PB, tau=tau, visibility=v)
    np.testing.assert_allclose(got, [u, mo, so, mn, sn], rtol=1e-9, atol=1e-10)


def test_units_sigma_two() -> None:
    """σ = 2: rewards are the task log-densities −(x − μ*)²/(2σ²); quadrature by hand."""
    pb = Problem(sigma=2.0, mu_new_star=6.0, mu_new0=5.0)
    st = O.initial_state(pb)
    tau, v = 1.5, 0.6

    def old_reward(x):
        return (v * (-(x - pb.mu_old_star) ** 2) + (1 - v) * (-(x - pb.mu_new_star) ** 2)) / 8

    def comp(mu, s, reward, n):
        f = lambda x: x**n * np.exp(-(x - mu) ** 2 / (2 * s * s) + reward(x) / tau) \
            / np.sqrt(2 * np.pi * s * s)  # noqa: E731
        return integrate.quad(f, -40, 40, points=np.linspace(-15, 20, 36), limit=500,
                              epsabs=0, epsrel=1e-12)[0]

    zo = [comp(st[1], st[2], old_reward, n) for n in range(3)]
    zn = [comp(st[3], st[4], lambda x: -(x - pb.mu_new_star) ** 2 / 8, n) for n in range(3)]
    mo, mn = zo[1] / zo[0], zn[1] / zn[0]
    want = [st[0] + np.log(zo[0] / zn[0]), mo, np.sqrt(zo[2] / zo[0] - mo**2), mn,
            np.sqrt(zn[2] / zn[0] - mn**2)]
    np.testing.assert_allclose(O.tilt_state(st, pb, tau=tau, visibility=v), want, rtol=1e-9)


@pytest.mark.parametrize(("beta", "lag", "eta", "v"), [
    (1.0, 1, 1.0, 0.0), (0.5, 1, 0.3, 0.5), (2.0, 4, 0.5, 0.2), (0.7, 3, 1.0, 1.0),
    (1.3, 5, 0.15, 0.8),
])
def test_map_equals_closed_form_composition(beta, lag, eta, v) -> None:
    st0 = O.initial_state(PB)
    ts, rec = O.population_map(PB, st0, steps=23, beta=beta, lag=lag, eta=eta, visibility=v)
    cf = O.closed_form(PB, st0, ts, beta=beta, lag=lag, eta=eta, visibility=v)
    np.testing.assert_allclose(rec, cf, rtol=1e-10, atol=1e-10)


def test_exact_regression_lag_one_is_a_tilt_per_step() -> None:
    """η = 1, L = 1: each step is a tilt at β; 3 steps = one tilt at β/3 by quadrature."""
    st0 = O.initial_state(PB)
    _, rec = O.population_map(PB, st0, steps=3, beta=1.2, lag=1, eta=1.0, visibility=0.0)
    lzo, mo, vo = _quad_component(st0[1], st0[2], PB.mu_new_star, 1.0, 0.0, 1.2 / 3)
    lzn, mn, vn = _quad_component(st0[3], st0[4], PB.mu_new_star, 1.0, 0.0, 1.2 / 3)
    np.testing.assert_allclose(rec[-1], [st0[0] + lzo - lzn, mo, np.sqrt(vo), mn, np.sqrt(vn)],
                               rtol=1e-9, atol=1e-10)


def test_effective_temperature() -> None:
    assert O.effective_temperature(2.0, 3, 1.0) == pytest.approx(2.0)
    assert O.effective_temperature(2.0, 3, 0.5) == pytest.approx(2.0 / (1 - 0.5**3))


def test_run_record_and_summary() -> None:
    r = O.run(PB, steps=1200, visibility=0.0, **QUAD)
    assert isinstance(r, MethodRun)
    assert r.steps[0] == 0 and r.steps[-1] == 1200 and len(r.steps) <= 500
    assert np.all(np.diff(r.steps) > 0)
    assert np.all((r.w > 0) & (r.w < 1)) and np.all(r.s_old > 0) and np.all(r.s_new > 0)
    # v = 0: odds limit by hand (equal unit variances): log odds_0 − Δ²/2 + (μn0 − μn*)²/2
    w0, mo0, mn0 = PB.theta0
    limit = np.log(w0 / (1 - w0)) - (mo0 - PB.mu_new_star) ** 2 / 2 \
        + (mn0 - PB.mu_new_star) ** 2 / 2
    tau = O.effective_temperature(1.0, 4, 0.5)
    k = 1200 // 4
    assert abs(np.log(r.w[-1] / (1 - r.w[-1])) - limit) < 16 * tau / k  # O(Δ²τ/(2K)) remainder
    assert r.w.min() >= expit(limit) * (1 - 1e-9)
    s = r.summary()
    assert s["final_old_drift"] > 0.95 * PB.delta  # the old component drifted onto μn*


def test_never_refreshed_reference_is_one_tilt() -> None:
    """L longer than the run (a fixed reference π₀): the policy converges to π₀e^{R/β} — one
    tilt, so the old mass stays at a positive level (quadrature by hand)."""
    r = O.run(PB, steps=200, lag=10**6, eta=0.5, beta2=1.5, visibility=0.0, reward="quadratic")
    w0, mo0, mn0 = PB.theta0
    lzo, mo, _ = _quad_component(mo0, 1.0, PB.mu_new_star, 1.0, 0.0, 1.5)
    lzn, _, _ = _quad_component(mn0, 1.0, PB.mu_new_star, 1.0, 0.0, 1.5)
    w_fix = expit(np.log(w0 / (1 - w0)) + lzo - lzn)
    assert r.w[-1] == pytest.approx(w_fix, rel=1e-9)
    assert r.mu_old[-1] == pytest.approx(mo, rel=1e-9)
    assert np.allclose(r.w[-50:], r.w[-1], rtol=1e-12)  # a fixed point


def test_visibility_one_keeps_the_old_mode() -> None:
    r = O.run(PB, steps=400, visibility=1.0, **QUAD)
    assert r.summary()["max_old_drift"] < 1e-12
    assert r.w.min() >= PB.w0 - 1e-12  # new component starts off-target: w can only grow


def test_intermediate_visibility_loses_mass_geometrically() -> None:
    r = O.run(PB, steps=400, visibility=0.5, lag=2, eta=1.0, beta2=1.0, reward="quadratic")
    u = np.log(r.w[-100:]) - np.log1p(-r.w[-100:])
    slope = np.polyfit(r.steps[-100:], u, 1)[0]
    # per step (L = 2, η = 1: τ_eff = β, one refresh every 2 steps): −v(1−v)Δ²/(2β)/2 by hand
    assert slope == pytest.approx(-0.25 * 16 / 2 / 2, rel=1e-3)


# ---------------------------------------------------------------------------------------------
# finite batch
# ---------------------------------------------------------------------------------------------

def test_finite_batch_converges_to_population_within_ci() -> None:
    params = {"beta": 1.0, "lag": 2, "eta": 0.5, "visibility": 0.3}
    pop = O.closed_form(PB, O.initial_state(PB), 6, **params)
    rparams = {"beta2": 1.0, "lag": 2, "eta": 0.5, "visibility": 0.3, "reward": "quadratic",
               "batch_estimator": "stratified"}
    finals = {}
    for b in (500, 8000):
        finals[b] = np.array([
            [np.log(r.w[-1] / (1 - r.w[-1])), r.mu_old[-1], r.s_old[-1], r.mu_new[-1],
             r.s_new[-1]]
            for r in (O.run(PB, steps=6, seed=seed, batch=b, **rparams) for seed in range(24))])
    est, sd = finals[8000].mean(0), finals[8000].std(0, ddof=1)
    se = sd / np.sqrt(len(finals[8000]))
    assert np.all(np.abs(est - pop) <= 4 * se + 1e-3 * np.abs(pop).clip(1.0)), (est, pop, se)
    rmse = {b: np.sqrt(((f - pop) ** 2).mean(0)) for b, f in finals.items()}
    assert np.all(rmse[8000] < 0.5 * rmse[500])  # error shrinks like 1/√B (expected ×0.25)


def test_finite_batch_is_seeded() -> None:
    a = O.run(PB, steps=5, seed=7, batch=64, **QUAD)
    b = O.run(PB, steps=5, seed=7, batch=64, **QUAD)
    c = O.run(PB, steps=5, seed=8, batch=64, **QUAD)
    np.testing.assert_array_equal(a.w, b.w)
    assert not np.array_equal(a.mu_old, c.mu_old)


def test_finite_batch_refuses_collapsed_weights() -> None:
    with pytest.raises(PrecisionError, match="collapsed"):
        O.run(PB, steps=3, batch=4, beta2=1e-9, **QUAD)


# ---------------------------------------------------------------------------------------------
# claims
# ---------------------------------------------------------------------------------------------

OAPL_CLAIMS = ("oapl.refresh_odds", "oapl.visibility_retention", "oapl.drift_gating",
               "oapl.logp_reward")


@pytest.mark.parametrize("cid", OAPL_CLAIMS)
def test_claim_passes(cid: str) -> None:
    res = quick(cid)
    assert res.status == "pass", res.counterexample


def test_refresh_odds_evidence() -> None:
    m = quick("oapl.refresh_odds").metrics
    assert m["windows_vs_quad_max_rel"] < 1e-9
    assert m["decrement_loglog_slope"] == pytest.approx(-2.0, abs=0.05)
    assert 0 < m["w_limit"] < 1


def test_logp_reward_evidence() -> None:
    """log p* reward: the α = 0.3 slope is close to log(α/(1−α))/τ_eff (well-separated modes;
    computed here by hand) and the α = 1/2 run keeps its mass."""
    m = quick("oapl.logp_reward").metrics
    tau = 1.0 / (1 - 0.5**2)
    assert m["slope_a0.3"] == pytest.approx(np.log(0.3 / 0.7) / tau, rel=2e-3)
    assert m["final_w_a0.5"] > 0.5 and m["final_w_a0.3"] < 1e-30


def test_retention_evidence() -> None:
    m = quick("oapl.visibility_retention").metrics
    assert m["retained_v0"] and m["retained_v1"]
    assert m["final_w_v0.5"] < 1e-50 and m["final_old_drift_v1"] < 1e-12


#: each mutant and the sub-check that must reject it
MUTANT_FAILS = {
    ("oapl.refresh_odds", "lead_geometric_decay"): "long_run_log_odds_max_abs_err",
    ("oapl.refresh_odds", "composition_tau_times_K"): "windows_vs_quad_max_rel",
    ("oapl.refresh_odds", "odds_without_sqrt_factor"): "odds_factor_max_abs_err",
    ("oapl.visibility_retention", "retains_at_v0.5"): "retained_v0.5",
    ("oapl.visibility_retention", "rate_without_(1-v)"): "slope_v0.25",
    ("oapl.visibility_retention", "rate_at_beta_not_tau_eff"): "slope_v0.5",
    ("oapl.drift_gating", "bc_gated_exponent_-1/8"): "gating_exponent_K1",
    ("oapl.drift_gating", "reward_contrast_gated_-beta/2"): "gating_exponent_K10",
    ("oapl.drift_gating", "odds_gate_without_offset"): "odds_gate_slope",
    ("oapl.logp_reward", "rate_at_beta_not_tau_eff"): "slope_a0.3",
    ("oapl.logp_reward", "retains_at_alpha0.3"): "retained_a0.3",
    ("oapl.logp_reward", "old_mode_ungated"): "peak_offset_exponent",
}


def test_every_mutant_listed() -> None:
    listed = {(cid, name) for cid in OAPL_CLAIMS for name in get(cid).mutants}
    assert listed == set(MUTANT_FAILS)


@pytest.mark.parametrize(("cid", "name"), sorted(MUTANT_FAILS))
def test_mutant_rejected_by_its_subcheck(cid: str, name: str) -> None:
    claim = get(cid)
    res = run_claim(claim, Context(profile="quick"), **claim.mutants[name])
    assert res.status == "fail"
    assert MUTANT_FAILS[(cid, name)] in (res.counterexample or "")
