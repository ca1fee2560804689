"""SDFT (issue 5): the K-component reverse-KL gradient, the update map, its claims.

Independent routes: the gradient against a K-component teacher is compared with scipy quad of a
hand-written integrand ∫∇_θ q · log(q/T), with a finite difference of the loss spec, with
``model.rkl_grad`` when the teacher is p* (split into duplicate components), and the REINFORCE
terms with Monte Carlo.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from claim_cache import quick
from scipy import integrate
from scipy.special import expit, logit, logsumexp

from symforget import model
from symforget.claims import Context, get, run_claim
from symforget.errors import ParameterError
from symforget.methods import sdft as M
from symforget.methods.base import Problem
from symforget.numeric.compile import compile_exprs, compile_spec
from symforget.numeric.quadrature import expect
from symforget.symbolic import sdft as S
from symforget.symbolic.symbols import x

SQ2PI = math.sqrt(2 * math.pi)


def _phi(t: float, m: float, s: float) -> float:
    return math.exp(-0.5 * ((t - m) / s) ** 2) / (s * SQ2PI)


def _hand_grad(theta: tuple[float, float, float], pis: list[float], ms: list[float],
               s: float) -> np.ndarray:
    """∫ ∇_θ q · log(q/T) dx by scipy quad, densities typed by hand (independent route)."""
    w, mo, mn = theta

    def log_ratio(t: float) -> float:
        q = w * _phi(t, mo, s) + (1 - w) * _phi(t, mn, s)
        tt = sum(p * _phi(t, m, s) for p, m in zip(pis, ms, strict=True))
        return math.log(q) - math.log(tt)

    parts = [
        lambda t: (_phi(t, mo, s) - _phi(t, mn, s)) * log_ratio(t),
        lambda t: w * _phi(t, mo, s) * (t - mo) / s**2 * log_ratio(t),
        lambda t: (1 - w) * _phi(t, mn, s) * (t - mn) / s**2 * log_ratio(t),
    ]
    pts = sorted({mo, mn, *ms})
    lo, hi = min(pts) - 12 * s, max(pts) + 12 * s
    return np.array([integrate.quad(f, lo, hi, points=pts, limit=400, epsabs=1e-13,
                                    epsrel=1e-12)[0] for f in parts])


def _grad(theta, pis, ms, s=1.0) -> np.ndarray:
    th = np.asarray(theta, dtype=float)[None, :]
    ells = [np.array([math.log(p)]) for p in pis]
    return M.kl_grad(th, ells, [np.array([m]) for m in ms], s)[0]


@pytest.mark.parametrize(("theta", "pis", "ms", "s"), [
    ((0.4, 0.3, 3.5), [0.2, 0.3, 0.15, 0.35], [0.1, 4.2, 0.0, 4.0], 1.0),
    ((0.1, -0.5, 2.0), [0.5, 0.25, 0.25], [0.0, 1.0, 3.0], 1.0),
    ((0.7, 1.0, 6.0), [0.05, 0.3, 0.4, 0.25], [-1.0, 0.5, 5.0, 7.0], 1.7),
    ((0.3, 0.0, 4.0), [0.9], [4.0], 1.0),
])
def test_k_component_gradient_vs_hand_quadrature(theta, pis, ms, s) -> None:
    got = _grad(theta, pis, ms, s)
    ref = _hand_grad(theta, pis, ms, s)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10)


def test_k_component_gradient_reduces_to_rkl_grad() -> None:
    rng = np.random.default_rng(3)
    th = np.column_stack([rng.uniform(0.05, 0.95, 12), rng.uniform(-1, 1, 12),
                          rng.uniform(2, 6, 12)])
    alpha, to, tn = 0.3, 0.0, 4.0
    ref = model.rkl_grad(th[:, 0], th[:, 1], th[:, 2], alpha=alpha, target_old=to, target_new=tn)
    one = np.ones(12)
    # two distinct components (K = 2) and p* split into four duplicate components (K = 4)
    k2 = M.kl_grad(th, [math.log(alpha) * one, math.log(1 - alpha) * one], [to * one, tn * one])
    halves = [math.log(alpha / 2), math.log(alpha / 2), math.log((1 - alpha) / 2),
              math.log((1 - alpha) / 2)]
    k4 = M.kl_grad(th, [h * one for h in halves], [to * one, to * one, tn * one, tn * one])
    np.testing.assert_allclose(k2, ref, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(k4, ref, rtol=1e-10, atol=1e-13)


def test_gradient_is_derivative_of_loss() -> None:
    cs = compile_spec(S.target_loss_spec(3))
    ells, ms, sig = [math.log(0.2), math.log(0.5), math.log(0.3)], [0.0, 2.0, 4.5], 1.0
    th0 = np.array([0.35, 0.4, 3.2])

    def loss(th: np.ndarray) -> float:
        args = [np.array([v]) for v in (*th, *ells, *ms, sig)]
        return float(expect(cs, args)[0, 0])

    h = 1e-5
    fd = np.array([(loss(th0 + h * e) - loss(th0 - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(_grad(th0, np.exp(ells), ms, sig), fd, rtol=1e-7, atol=1e-9)


def test_stable_log_teacher() -> None:
    fn = compile_exprs(S.log_teacher(4), (x, *S.teacher_args(4)))
    ells = [-700.0, math.log(0.3), -3.0, math.log(0.5)]
    ms = [0.0, 1.0, 5.0, -2.0]
    xs = np.array([-1e3, -30.0, 0.0, 2.5, 40.0, 1e3])
    got = np.asarray(fn(xs, 0.5, 0.0, 1.0, *ells, *ms, 1.0))
    ref = logsumexp([[e - 0.5 * (t - m) ** 2 - 0.5 * math.log(2 * math.pi)
                      for e, m in zip(ells, ms, strict=True)] for t in xs], axis=1)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_reinforce_terms_unbiased() -> None:
    th = (0.35, 0.2, 3.6)
    ells, ms = [math.log(0.4), math.log(0.6)], [0.0, 4.0]
    fn = compile_exprs(S.reinforce_terms(2), (x, *S.teacher_args(2)))
    rng = np.random.default_rng(11)
    n = 200_000
    old = rng.random(n) < th[0]
    xs = np.where(old, th[1], th[2]) + rng.standard_normal(n)
    terms = np.stack([np.broadcast_to(v, xs.shape) for v in fn(xs, *th, *ells, *ms, 1.0)], 1)
    mean, se = terms.mean(0), terms.std(0, ddof=1) / math.sqrt(n)
    ref = _grad(th, np.exp(ells), ms)
    assert np.all(np.abs(mean - ref) <= 5 * se), (mean, ref, se)


# ---------------------------------------------------------------------------------------------
# the map


def _pb() -> Problem:
    return Problem(alpha=0.3, mu_old_star=0.0, mu_new_star=4.0, w0=0.5, mu_old0=0.0,
                   mu_new0=4.0)


def test_fixed_points_at_rest() -> None:
    pb = _pb()
    star = np.array([[0.3, 0.0, 4.0]])
    ub = star.copy()
    ub[:, 0] = logit(ub[:, 0])
    for lam in (0.2, 0.7, 1.0):
        ells, ms = M.teacher(pb, ub, lam=lam, anchor="target")
        assert np.abs(M.kl_grad(star, ells, ms)).max() < 1e-13
    rng = np.random.default_rng(0)
    th = np.column_stack([rng.uniform(0.05, 0.95, 8), rng.uniform(-2, 2, 8),
                          rng.uniform(2, 6, 8)])
    ub = th.copy()
    ub[:, 0] = logit(th[:, 0])
    ells, ms = M.teacher(pb, ub, lam=0.0, anchor="target")
    assert len(ells) == 2
    assert np.abs(M.kl_grad(th, ells, ms)).max() < 1e-13
    # A = P_new, λ = 1: T = P_new, one component; θ* is not a fixed point (w is pushed down)
    ells, ms = M.teacher(pb, np.array([[logit(0.3), 0.0, 4.0]]), lam=1.0, anchor="new")
    assert len(ells) == 1
    assert M.kl_grad(star, ells, ms)[0, 0] > 0


def test_teacher_lam_array_must_share_structure() -> None:
    with pytest.raises(ParameterError, match="lam"):
        M.teacher(_pb(), np.zeros((2, 3)), lam=np.array([0.0, 0.5]), anchor="target")


def test_observations_of_claims_md() -> None:
    """CLAIMS.md §5 leads (α = 0.3, Δ = 4, β = 0.1, logit steps, means at the truth)."""
    pb = _pb()
    th0 = np.array([[0.6, 0.0, 4.0]])
    kw = dict(steps=80, beta=0.1, eta=2.0, free=(True, False, False))
    w = {}
    for lam, anchor in ((0.0, "target"), (0.3, "target"), (0.8, "target"), (0.3, "new"),
                        (0.8, "new")):
        _, rec = M.run_chains(pb, th0, lam=lam, anchor=anchor, **kw)
        w[(lam, anchor)] = rec[:, 0, 0]
    assert np.allclose(w[(0.0, "target")], 0.6, atol=1e-12)  # λ = 0: w stays where it started
    d3, d8 = abs(w[(0.3, "target")][-1] - 0.3), abs(w[(0.8, "target")][-1] - 0.3)
    assert d8 < d3 < 0.3  # returns to α, faster for larger λ
    assert w[(0.8, "new")][-1] < w[(0.3, "new")][-1] < 0.3  # A = P_new: towards 0, faster


def test_run_records_and_validation() -> None:
    # λ = 1: T = p* (K = 2, cheap steps)
    run = M.run(Problem(), steps=520, teacher="anchored", anchor_weight=1.0)
    assert run.steps[0] == 0 and run.steps[-1] == 520 and len(run.steps) <= 501
    assert run.params["anchor_weight"] == 1.0 and run.params["batch"] is None
    bad = [({"anchor_weight": 1.5}, "anchor_weight"), ({"ema": -0.1}, "ema"),
           ({"ema": 1.5}, "ema"), ({"eta": -1.0}, "eta"),
           ({"anchor": "both"}, "anchor"), ({"gamma": 1.0}, "gamma"),
           ({"lam": 0.5}, "lam"), ({"teacher": "blend"}, "teacher"), ({"kl": "tv"}, "kl"),
           ({"jsd_beta": 1.0}, "jsd_beta"),
           ({"kl_estimator": "pathwise"}, "kl_estimator"),
           ({"tilt_strength": 0.0}, "tilt_strength"),
           ({"kl_estimator": "reinforce"}, "reinforce")]
    for kw, name in bad:
        with pytest.raises(ParameterError, match=name):
            M.run(Problem(), steps=3, **kw)
    with pytest.raises(ParameterError, match="steps"):
        M.run(Problem(), steps=0)
    with pytest.raises(ParameterError, match="batch"):
        M.run(Problem(), steps=3, batch=0)


def test_batch_runs_are_seeded() -> None:
    kw = dict(teacher="anchored", anchor_weight=0.0, kl_estimator="reinforce", ema=0.1)
    a = M.run(Problem(), steps=30, batch=8, seed=4, **kw)
    b = M.run(Problem(), steps=30, batch=8, seed=4, **kw)
    c = M.run(Problem(), steps=30, batch=8, seed=5, **kw)
    np.testing.assert_array_equal(a.w, b.w)
    assert not np.array_equal(a.w, c.w)
    assert np.ptp(a.w) > 0  # λ = 0 with finite batches: w moves (unanchored)


def test_logit_step_stable_where_raw_w_is_not() -> None:
    """Near w → 0 the raw-w RKL step explodes (∂_w L grows like log w); the logit step stays in
    (0, 1). Independent statement of CLAIMS.md's pitfall."""
    pb = _pb()
    th = np.array([[1e-6, 0.0, 4.0]])
    ub = th.copy()
    ub[:, 0] = logit(th[:, 0])
    ells, ms = M.teacher(pb, ub, lam=1.0, anchor="target")
    g = M.kl_grad(th, ells, ms)[0, 0]
    assert g < -5  # strongly negative: a raw step with η = 0.5 throws w far past 1
    assert 1e-6 - 0.5 * g > 1.0
    new, _ = M.sdft_step(pb, th, ub, lam=1.0, beta=0.1, eta=0.5, anchor="target")
    assert 1e-6 < new[0, 0] < 1e-5
    assert float(expit(logit(new[0, 0]))) == pytest.approx(new[0, 0])


# ---------------------------------------------------------------------------------------------
# claims (specific evidence; every mutant is also run by tests/test_claims_all.py)


def test_anchor_retains_evidence() -> None:
    res = quick("sdft.anchor_retains")
    assert res.status == "pass", res.counterexample
    m = res.metrics
    assert abs(m["gating_slope"] + 0.125) < 0.01
    assert m["return_rate_rel_err"] < 2e-3
    assert m["return_rate_lam_0.1"] < m["return_rate_lam_0.5"] < m["return_rate_lam_0.9"]
    assert m["fixed_point_grad_max"] < 1e-12
    # step-size condition a = ηI_u < (4 − 2β)/(2 − 2β + βλ): 2.054 at β = 0.1, λ = 0.5
    assert m["stability_bound_a"] == pytest.approx(3.8 / 1.85)
    assert m["deviation_ratio_below_bound"] < 1.0 < m["deviation_ratio_above_bound"]


def test_no_anchor_neutral_evidence() -> None:
    res = quick("sdft.no_anchor_neutral")
    assert res.status == "pass", res.counterexample
    assert abs(res.metrics["variance_growth_exponent"] - 1.0) < 0.2


def test_wrong_anchor_evidence() -> None:
    res = quick("sdft.wrong_anchor")
    assert res.status == "pass", res.counterexample
    assert res.metrics["w_final_max"] < 0.2


def test_acceptance_mutant_no_anchor_is_not_certified() -> None:
    """Issue 5 acceptance: 'SDFT with λ = 0 retains mass' must be rejected."""
    claim = get("sdft.anchor_retains")
    res = run_claim(claim, Context(profile="quick"), lam=0.0)
    assert res.status == "fail"
    assert "return_to_alpha_ratio" in (res.counterexample or "")


@pytest.mark.parametrize("cid", ["sdft.anchor_retains", "sdft.no_anchor_neutral",
                                 "sdft.wrong_anchor"])
def test_derivations_check(cid: str) -> None:
    for d in get(cid).derivations():
        assert all(c.ok for c in d.check()), d.title
