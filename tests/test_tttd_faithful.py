"""TTT-Discover as its paper and reference code define it (issue 15): the defaults, the
leave-one-out group advantages, the per-group adaptive β at the KL budget, the objective scale,
the KL penalty towards the initial model, and old-mode starvation of groups."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logit, softmax

from symforget.methods import tttd as M
from symforget.methods.base import Problem


def test_defaults_are_the_reference_codes() -> None:
    d = {k: v[1] for k, v in M.PARAMS.items()}
    assert d["objective"] == "log"  # J = log E e^{beta R}: advantages e^{beta r}/Z - 1
    assert d["kl_budget"] == math.log(2)  # rl/train.py entropic_adaptive_beta: delta = ln 2
    assert d["beta"] == 2.0  # adv_estimator_beta
    assert d["kl_coef"] == 0.0  # kl_penalty_coef ("lambda in paper")
    assert d["group_size"] == 8
    assert d["reference"] == "initial"  # the base model


def test_loo_advantages_formula_and_properties() -> None:
    rng = np.random.default_rng(0)
    r = rng.normal(size=8)
    b = 1.7
    e = np.exp(b * r)
    direct = np.array([e[i] / np.mean(np.delete(e, i)) - 1.0 for i in range(8)])
    np.testing.assert_allclose(M.loo_advantages(r, b), direct, rtol=1e-13, atol=1e-14)
    # equal rewards: no signal
    np.testing.assert_array_equal(M.loo_advantages(np.full(5, 0.3), 4.0), np.zeros(5))
    # LOO advantages are > -1 and need not sum to zero (unlike self-normalised ones)
    a = M.loo_advantages(np.log([1.0, 0.5, 0.5]), 1.0)
    np.testing.assert_allclose(a, [1.0, -1 / 3, -1 / 3], rtol=1e-14)
    assert a.sum() == pytest.approx(1 / 3)
    assert np.all(M.loo_advantages(rng.normal(size=(50, 8)), 3.0) > -1.0)
    # self-normalised advantages (the estimator before issue 15) do sum to zero
    sn = softmax(b * r) * 8 - 1.0
    assert abs(sn.sum()) < 1e-12


def test_group_beta_hits_the_kl_budget() -> None:
    rng = np.random.default_rng(1)
    for _ in range(5):
        r = rng.normal(size=8)
        b = M.batch_beta(r, math.log(2))
        a = softmax(b * r)
        assert float(np.sum(a * np.log(a * 8))) == pytest.approx(math.log(2), abs=1e-10)


def test_loo_direction_is_the_population_gradient() -> None:
    # E[A_i grad log q(x_i)] = E[e^{beta R} grad log q] E[1/Z_-i]: parallel to the population
    # gradient of log E e^{beta R}, for any group size
    st = np.array([logit(0.4), 0.3, 2.5])
    ref, m = (0.5, 0.0, 2.0), 4.0
    pop = M.tttd_step(st[None], beta=1.0, gamma=0.0, eta=1.0, m=m, ref=ref, scale="log")[0] - st
    rng = np.random.default_rng(3)
    g = np.array([M.batch_gradient(rng, st, 4096, beta=1.0, eps=0.0, gamma=0.0, m=m, ref=ref,
                                   group_size=8)[0] for _ in range(40)]).mean(axis=0)
    cos = float(g @ pop / np.linalg.norm(g) / np.linalg.norm(pop))
    assert cos > 0.999, (g, pop)
    # the factor E[1/Z_-i] E[e^{beta R}] >= 1 (Jensen; 1.7 here for G = 8)
    assert 1.0 < np.linalg.norm(g) / np.linalg.norm(pop) < 3.0


def test_objective_scale_changes_the_forgetting_rate() -> None:
    # slope of the logit of w: eta (1 - rho) on the paper's scale, eta (1 - rho)/beta on the
    # entropic scale: with beta = 2 the log objective forgets faster
    pb = Problem()
    kw = dict(steps=60, kl_budget=0.0, beta=2.0)
    log = M.run(pb, objective="log", **kw)
    ent = M.run(pb, objective="entropic", **kw)
    assert log.w[-1] < ent.w[-1] < pb.w0


def test_kl_coef_retains_mass_and_default_forgets() -> None:
    pb = Problem()
    free = M.run(pb, steps=300)  # paper defaults: lambda = 0
    kept = M.run(pb, steps=300, kl_coef=1.0)
    assert free.w[-1] < 0.05 * pb.w0
    assert kept.w[-1] > 5 * free.w[-1]


def test_adaptive_beta_keeps_population_kl_at_budget() -> None:
    pb = Problem()
    r = M.run(pb, steps=5)
    assert len(r.extra["beta"]) == 5
    u, mo, mn = logit(r.w[0]), r.mu_old[0], r.mu_new[0]
    kl = float(M.tilt_kl(u, mo, mn, beta=r.extra["beta"][0], m=pb.mu_new_star))
    assert kl == pytest.approx(math.log(2), abs=1e-9)


def test_groups_starve_the_old_mode() -> None:
    # once w is small most groups of 8 hold no old draw: starvation is visible and grows
    pb = Problem(w0=0.05)
    r = M.run(pb, steps=40, batch=64, seed=2)
    frac = r.extra["starved_group_fraction"]
    assert frac >= (1 - 0.05) ** 8 - 0.1
    assert 0.0 <= r.extra["starved_batch_fraction"] <= frac
    r2 = M.run(pb, steps=40, batch=64, seed=2)
    assert r2.extra == r.extra  # seeded


def test_paper_defaults_claim_and_mutants() -> None:
    from symforget.claims import Context, get, run_claim

    claim = get("tttd.paper_defaults_forget")
    assert run_claim(claim, Context(profile="quick")).status == "pass"
    for name, kw in claim.mutants.items():
        assert run_claim(claim, Context(profile="quick"), **kw).status == "fail", name


@pytest.mark.parametrize("g, b, spread", [(2, 1.0, 1.0), (8, 3.0, 2.0), (64, 0.5, 1.0),
                                          (4000, 1.0, 3.0), (16, 1.0, 300.0)])
def test_loo_advantages_match_the_direct_leave_one_out_means(g, b, spread) -> None:
    """The O(G) form (S − e_i, the argmax's others by their own log-sum-exp) against the
    definition e^{βr_i}/mean_{j≠i} e^{βr_j} − 1 computed by deleting r_i (float64, rewards
    shifted by the group's maximum); the widest spread makes the top reward dominate its group
    by e^{22} to e^{140} (where S − e_i would cancel completely in the argmax's row)."""
    rng = np.random.default_rng(g)
    r = rng.normal(size=(3, g)) * spread / max(1.0, b * spread / 200)
    z = b * (r - r.max(axis=-1, keepdims=True))
    direct = np.array([[np.exp(z[k, i]) / np.mean(np.exp(np.delete(z[k], i))) - 1.0
                        for i in range(g)] for k in range(3)])
    got = M.loo_advantages(r, b)
    np.testing.assert_allclose(got, direct, rtol=g * 1e-15, atol=1e-300)
