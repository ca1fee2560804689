"""Five-parameter runs of sdft, tttd and oapl (issue 14, deliverable 1: every method learns the
scales or keeps them fixed). The evidence does not come from the code under test:

1. **equal scales**: with one shared σ and fixed scales (oapl: learned, its map carries them)
   the five-parameter run equals the method's equal-scale run — the code verified by
   tests/test_sdft.py, test_tttd.py, test_oapl.py — over a few steps, as a population map and
   with the same draws of a finite batch;
2. **unequal scales**: every gradient entry, the scale entries in particular, against central
   differences of the method's objective integrated by ``scipy.integrate.quad`` with the
   densities typed here (the teacher normalised by quadrature, not by its closed form); a wrong
   variant (the −1/σ of the scale score dropped) is rejected by the same comparison; the tilt
   teacher's closed form and OAPL's tilted state against quadrature of q·e^{κR};
3. **sampled estimators**: the mean of many batches at one point within a Monte Carlo
   confidence interval of the exact direction (sdft: unbiased; tttd's leave-one-out groups:
   the exact direction times the positive factor E·E[1/Z₋ᵢ], estimated separately);
4. **command line**: ``simulate METHOD --learn-scales --sigma-old-star 0.7`` and
   ``compare --preset chen2025`` with all seven methods.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import expit, logit

from symforget.cli import main
from symforget.methods import get
from symforget.methods import oapl as O
from symforget.methods import sdft as S
from symforget.methods import tttd as T
from symforget.methods.base import Problem
from symforget.training.estimators import Target, rkl_exact
from symforget.training.stepping import Stepping

SQ2PI = math.sqrt(2.0 * math.pi)
#: an unequal-scale point: problem, student θ = (w, μo, σo, μn, σn), EMA teacher (logit w̄, …)
PB = Problem(alpha=0.3, mu_old_star=0.0, mu_new_star=3.0, sigma_old_star=0.8,
             sigma_new_star=0.6, s_old0=1.2, s_new0=0.9)
TH = np.array([0.35, -0.4, 0.7, 2.2, 1.3])
TEACHER = np.array([logit(0.45), -0.2, 0.9, 1.8, 1.1])
KAPPA = 1.5
H = 1e-4  # central-difference step; quad's 1e-13 error gives ~1e-9, truncation ~1e-8
TOL = 2e-6


def _phi(x: float, m: float, s: float) -> float:
    return math.exp(-0.5 * ((x - m) / s) ** 2) / (s * SQ2PI)


def _q(x: float, th: np.ndarray) -> float:
    return th[0] * _phi(x, th[1], th[2]) + (1.0 - th[0]) * _phi(x, th[3], th[4])


def _quad(f, pts=(-0.4, 0.0, 1.8, 2.2, 3.0)) -> float:
    lo, hi = min(pts) - 14.0, max(pts) + 14.0
    return integrate.quad(f, lo, hi, points=sorted(pts), limit=500, epsabs=1e-14,
                          epsrel=1e-13)[0]


def _fd(objective, th: np.ndarray) -> np.ndarray:
    out = np.empty(5)
    for i in range(5):
        e = np.zeros(5)
        e[i] = H
        out[i] = (objective(th + e) - objective(th - e)) / (2.0 * H)
    return out


# --- the tilt teacher of SDFT, normalised by quadrature (independent of tilt_teacher5) --------

_QBAR = np.array([expit(TEACHER[0]), *TEACHER[1:]])


def _tilt_unnorm(x: float) -> float:
    return _q(x, _QBAR) * math.exp(-KAPPA * (x - PB.mu_new_star) ** 2
                                   / (2.0 * PB.sigma_new_star ** 2))


_Z_TILT = _quad(_tilt_unnorm)


def _teacher_pdf(x: float) -> float:
    return _tilt_unnorm(x) / _Z_TILT


def _mix_pdf(x: float, comps) -> float:
    lw, mu, sc = comps
    return float(sum(math.exp(a) * _phi(x, m, s) for a, m, s in zip(lw, mu, sc, strict=True)))


def test_tilt_teacher_closed_form_against_quadrature():
    """T ∝ q̄·e^{κR} with per-component scales is again a two-component Gaussian mixture:
    tilt_teacher5's weights, means and scales give q̄e^{κR}/∫q̄e^{κR} to 1e-11 relative."""
    comps = S.tilt_teacher5(PB, TEACHER, tilt_strength=KAPPA)
    for x in np.linspace(-3.0, 6.0, 19):
        assert _mix_pdf(x, comps) == pytest.approx(_teacher_pdf(x), rel=1e-11)


def _kl_objective(kind: str, b: float = 0.3):
    def obj(th: np.ndarray) -> float:
        def f(x: float) -> float:
            q, t = _q(x, th), _teacher_pdf(x)
            if kind == "reverse":
                return q * math.log(q / t)
            if kind == "forward":
                return t * math.log(t / q)
            m = b * t + (1.0 - b) * q
            return b * t * math.log(t / m) + (1.0 - b) * q * math.log(q / m)
        return _quad(f)
    return obj


@pytest.mark.parametrize("kind", ["reverse", "forward", "jsd"])
def test_sdft_gradient_with_scales_against_quadrature(kind):
    """∇_θ D(q_θ, T) in all five entries (T the tilt teacher, fixed) against central
    differences of D integrated by quad: reverse KL(q‖T), forward KL(T‖q), JSD_0.3."""
    comps = S.tilt_teacher5(PB, TEACHER, tilt_strength=KAPPA)
    g = S.five_kl_grad(TH, comps, kl=kind, jsd_beta=0.3)
    fd = _fd(_kl_objective(kind), TH)
    assert np.max(np.abs(g - fd)) < TOL, (g, fd)
    assert abs(g[2]) > 1e-3 and abs(g[4]) > 1e-3  # the scale entries are not trivially 0


def test_sdft_wrong_scale_score_is_rejected():
    """The σo entry with the −1/σo of ∂σ log φ dropped, ∫wφ_o(x−μo)²/σo³·log(q/T), misses the
    central difference by far more than the tolerance the right entry meets."""
    w, mo, so = TH[0], TH[1], TH[2]
    wrong = _quad(lambda x: w * _phi(x, mo, so) * (x - mo) ** 2 / so ** 3
                  * math.log(_q(x, TH) / _teacher_pdf(x)))
    fd = _fd(_kl_objective("reverse"), TH)[2]
    assert abs(wrong - fd) > 1e3 * TOL


def test_sdft_anchored_teacher_with_target_scales():
    """Anchored teacher (1 − λ)q̄ + λp* with p*'s own scales σo*, σn*: the reverse-KL gradient
    against central differences of the quad integral."""
    lam = 0.4
    w_bar = expit(TEACHER[0])

    def t_pdf(x: float) -> float:
        qbar = w_bar * _phi(x, TEACHER[1], TEACHER[2]) + (1 - w_bar) * _phi(x, TEACHER[3],
                                                                           TEACHER[4])
        p = PB.alpha * _phi(x, PB.mu_old_star, 0.8) + (1 - PB.alpha) * _phi(x, PB.mu_new_star,
                                                                          0.6)
        return (1 - lam) * qbar + lam * p

    comps = S.anchored_teacher5(PB, TEACHER, lam=lam, anchor="target")
    assert _mix_pdf(0.7, comps) == pytest.approx(t_pdf(0.7), rel=1e-13)
    g = S.five_kl_grad(TH, comps, kl="reverse")
    fd = _fd(lambda th: _quad(lambda x: _q(x, th) * math.log(_q(x, th) / t_pdf(x))), TH)
    assert np.max(np.abs(g - fd)) < TOL, (g, fd)


# --- TTT-Discover -------------------------------------------------------------------------

BETA = 1.7


def _log_e(th: np.ndarray, beta: float = BETA) -> float:
    return math.log(_quad(lambda x: _q(x, th) * math.exp(-beta * (x - PB.mu_new_star) ** 2 / 2)))


def test_tttd_log_e_and_gradient_against_quadrature():
    """log E_q[e^{βR}] (R = −(x − μn*)²/2) and its gradient in all five entries against quad
    and central differences of quad; the normaliser's −βσ/(1 + βσ²) dropped from ∂σ is
    rejected."""
    m = PB.mu_new_star
    assert T.log_e5(TH, beta=BETA, m=m) == pytest.approx(_log_e(TH), rel=1e-12)
    g = T.grad_log_e5(TH, beta=BETA, m=m)
    fd = _fd(_log_e, TH)
    assert np.max(np.abs(g - fd)) < TOL, (g, fd)
    e = math.exp(_log_e(TH))
    for i, (wc, mu, s) in ((2, (TH[0], TH[1], TH[2])), (4, (1 - TH[0], TH[3], TH[4]))):
        wrong = _quad(lambda x, wc=wc, mu=mu, s=s: wc * _phi(x, mu, s) * (x - mu) ** 2 / s ** 3
                      * math.exp(-BETA * (x - m) ** 2 / 2)) / e
        assert abs(wrong - fd[i]) > 1e3 * TOL


def test_tttd_adaptive_beta_and_full_direction_with_kl_penalty():
    """β* with KL(q_β‖q) = ln 2: the KL integrated by quad at β* is ln 2; the full descent
    direction −∇[log E − λ KL(q‖q_ref)] (q_ref = the initial five-parameter student, its own
    scales) against central differences of the quad objective."""
    m = PB.mu_new_star
    b = T.adaptive_beta5(TH, eps=math.log(2.0), m=m)
    le = _log_e(TH, b)
    e_r = _quad(lambda x: _q(x, TH) * math.exp(-b * (x - m) ** 2 / 2 - le)
                * (-(x - m) ** 2 / 2))
    assert b * e_r - le == pytest.approx(math.log(2.0), abs=1e-10)
    lam = 0.4
    p = T.check_params(kl_coef=lam, kl_budget=0.0, beta=BETA)
    direction = T.five_direction(PB, p, batch=None)
    ref = np.array(PB.state0)

    def objective(th: np.ndarray) -> float:
        kl = _quad(lambda x: _q(x, th) * math.log(_q(x, th) / _q(x, ref)))
        return -(_log_e(th) - lam * kl)

    g = direction.exact(TH, BETA)
    fd = _fd(objective, TH)
    assert np.max(np.abs(g - fd)) < TOL, (g, fd)


# --- OAPL ---------------------------------------------------------------------------------


def _tilt_moments(mu: float, s: float, reward, tau: float) -> tuple[float, float, float]:
    """log Z, mean, variance of N(μ, s²)·e^{R/τ} by quad."""
    pts = (mu, PB.mu_old_star, PB.mu_new_star)
    z = _quad(lambda x: _phi(x, mu, s) * math.exp(reward(x) / tau), pts)
    m1 = _quad(lambda x: x * _phi(x, mu, s) * math.exp(reward(x) / tau), pts) / z
    m2 = _quad(lambda x: (x - m1) ** 2 * _phi(x, mu, s) * math.exp(reward(x) / tau), pts) / z
    return math.log(z), m1, m2


@pytest.mark.parametrize("v", [0.0, 0.4])
def test_oapl_tilt_with_task_scales_against_quadrature(v):
    """OAPL's tilted state with per-task rewards R_new = −(x − μn*)²/(2σn*²), old behaviour
    scored by vR_old + (1 − v)R_new, R_old = −(x − μo*)²/(2σo*²): log-odds, means and scales
    against quad moments of N(μ_c, s_c²)e^{R_c/τ}; the one-σ reward (κ = 1/σ²) is rejected."""
    tau = 1.3
    st = np.array([logit(TH[0]), *TH[1:]])

    def r_new(x: float) -> float:
        return -(x - PB.mu_new_star) ** 2 / (2 * 0.6 ** 2)

    def r_old(x: float) -> float:
        return v * -(x - PB.mu_old_star) ** 2 / (2 * 0.8 ** 2) + (1 - v) * r_new(x)

    lzo, mo, vo = _tilt_moments(st[1], st[2], r_old, tau)
    lzn, mn, vn = _tilt_moments(st[3], st[4], r_new, tau)
    ref = np.array([st[0] + lzo - lzn, mo, math.sqrt(vo), mn, math.sqrt(vn)])
    got = O.tilt_state(st, PB, tau=tau, visibility=v)
    assert np.max(np.abs(got - ref)) < 1e-9, (got, ref)
    one_sigma = Problem(alpha=0.3, mu_old_star=0.0, mu_new_star=3.0)
    assert np.max(np.abs(O.tilt_state(st, one_sigma, tau=tau, visibility=v) - ref)) > 1e-2


def test_oapl_indicator_tilt_uses_task_widths():
    """Indicator reward with half-widths h_c = width·σc*: the projected tilt's new component
    against quad moments of N(μn, σn²)e^{1{|x − μn*| ≤ h_n}/τ}."""
    tau, width = 0.8, 1.5
    st = np.array([logit(TH[0]), *TH[1:]])
    hn = width * 0.6

    def r_new(x: float) -> float:
        return 1.0 if abs(x - PB.mu_new_star) <= hn else 0.0

    pts = (PB.mu_new_star - hn, PB.mu_new_star + hn, st[3])
    z = _quad(lambda x: _phi(x, st[3], st[4]) * math.exp(r_new(x) / tau), pts)
    m1 = _quad(lambda x: x * _phi(x, st[3], st[4]) * math.exp(r_new(x) / tau), pts) / z
    m2 = _quad(lambda x: (x - m1) ** 2 * _phi(x, st[3], st[4]) * math.exp(r_new(x) / tau),
               pts) / z
    got = O.indicator_tilt_state(st, PB, tau=tau, visibility=0.0, width=width)
    assert got[3] == pytest.approx(m1, abs=1e-9) and got[4] == pytest.approx(math.sqrt(m2),
                                                                              abs=1e-9)


def test_oapl_stepping_moves_each_parameter_by_its_multiple_of_the_map():
    """One step with raw w, fixed scales and multipliers: w' = w + m_w(w_Φ − w),
    μ' = μ + m_μ(μ_Φ − μ), σ' = σ, Φ = interpolate(θ, tilt(θ), η) (the lag state is θ_0)."""
    p = O.check_params(reward="quadratic", eta=0.5, visibility=0.4)
    st0 = np.array(PB.state0)
    u0 = np.array([logit(st0[0]), *st0[1:]])
    phi = O.interpolate(u0, O.tilt_state(u0, PB, tau=1.0, visibility=0.4), 0.5)
    stepping = Stepping(weight_param="raw", lr_scale={"w": 0.5, "mu_old": 0.2})
    run = get("oapl").run(PB, steps=1, stepping=stepping, **{k: p[k] for k in
                                                              ("reward", "eta", "visibility")})
    assert run.w[1] == pytest.approx(st0[0] + 0.5 * (expit(phi[0]) - st0[0]), rel=1e-14)
    assert run.mu_old[1] == pytest.approx(st0[1] + 0.2 * (phi[1] - st0[1]), rel=1e-14)
    assert run.mu_new[1] == pytest.approx(phi[3], rel=1e-14)
    assert (run.s_old[1], run.s_new[1]) == (st0[2], st0[4])


# --- 1. equal scales: the five-parameter run is the verified equal-scale run ---------------

EQUAL = Problem(alpha=0.3)
CASES = [("sdft", {}), ("sdft", {"teacher": "anchored", "anchor": "new"}),
         ("sdft", {"kl": "jsd"}), ("tttd", {}), ("tttd", {"kl_coef": 0.5}),
         ("oapl", {}), ("oapl", {"reward": "quadratic", "lag": 3, "visibility": 0.5})]


@pytest.mark.parametrize("method, params", CASES)
def test_equal_scales_population_run_is_the_equal_scale_run(method, params):
    old = get(method).run(EQUAL, steps=8, **params)
    new = get(method).run(EQUAL, steps=8, stepping=Stepping(learn_scales=method == "oapl"),
                          **params)
    for name in ("w", "mu_old", "mu_new", "s_old", "s_new"):
        assert np.max(np.abs(getattr(old, name) - getattr(new, name))) < 1e-10, name
    assert new.report["estimator"] == "exact"


@pytest.mark.parametrize("method, params, name", [
    ("sdft", {}, "analytic"),
    ("sdft", {"teacher": "anchored", "kl_estimator": "reinforce"}, "reinforce"),
    ("tttd", {"kl_coef": 0.5}, "loo"),
    ("oapl", {}, "regression"),
    ("oapl", {"batch_estimator": "stratified"}, "stratified")])
def test_equal_scales_batch_run_is_the_equal_scale_run(method, params, name):
    """Same seed, same draws: the sampled five-parameter estimators reproduce the verified
    equal-scale finite-batch runs."""
    old = get(method).run(EQUAL, steps=6, batch=16, seed=5, **params)
    new = get(method).run(EQUAL, steps=6, batch=16, seed=5,
                          stepping=Stepping(learn_scales=method == "oapl"), **params)
    assert new.report["estimator"] == name
    for attr in ("w", "mu_old", "mu_new", "s_old", "s_new"):
        assert np.max(np.abs(getattr(old, attr) - getattr(new, attr))) < 1e-10, attr


# --- 3. sampled estimators at one point -----------------------------------------------------


def _batch_means(draw, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20251205)
    g = np.array([draw(rng) for _ in range(k)])
    return g.mean(axis=0), g.std(axis=0, ddof=1) / math.sqrt(k)


@pytest.mark.parametrize("teacher, kl, est", [("tilt", "reverse", "analytic"),
                                              ("tilt", "forward", "analytic"),
                                              ("anchored", "reverse", "reinforce")])
def test_sdft_batch_estimator_is_unbiased(teacher, kl, est):
    comps = (S.tilt_teacher5(PB, TEACHER, tilt_strength=KAPPA) if teacher == "tilt" else
             S.anchored_teacher5(PB, TEACHER, lam=0.4, anchor="target"))
    exact = S.five_kl_grad(TH, comps, kl=kl)
    mean, se = _batch_means(lambda rng: S.five_batch_grad(rng, TH, comps, 200, kl=kl,
                                                          estimator=est), 600)
    assert np.all(np.abs(mean - exact) < 4.5 * se + 1e-12), (mean, exact, se)


def test_tttd_leave_one_out_mean_is_the_exact_direction_times_its_factor():
    """Fixed β, kl_coef γ, groups of G: E[ĝ] = −E·E[1/Z₋ᵢ]·∇log E + γ(1 − 1/B)∇KL(q‖q_ref)
    (Z₋ᵢ independent of x_i; the batch-centred penalty loses its own 1/B), with
    E = E_q[e^{βR}] closed form and E[1/Z₋ᵢ] from separate draws of G − 1 rewards."""
    th = np.array([0.35, 0.5, 0.9, 2.6, 1.1])
    beta, gamma, g_size, batch, m = 0.5, 0.4, 8, 64, PB.mu_new_star
    ref = np.array(PB.state0)
    rng = np.random.default_rng(7)
    n = 400_000
    old = rng.random((n, g_size - 1)) < th[0]
    xs = np.where(old, th[1], th[3]) + np.where(old, th[2], th[4]) * rng.standard_normal(
        (n, g_size - 1))
    inv_z = 1.0 / np.exp(-beta * (xs - m) ** 2 / 2).mean(axis=1)
    factor = math.exp(T.log_e5(th, beta=beta, m=m)) * inv_z.mean()
    factor_se = math.exp(T.log_e5(th, beta=beta, m=m)) * inv_z.std() / math.sqrt(n)
    glog = T.grad_log_e5(th, beta=beta, m=m)
    expected = -factor * glog + gamma * (1 - 1 / batch) * rkl_exact(th, Target(*ref))
    mean, se = _batch_means(lambda r: T.five_batch_gradient(
        r, th, batch, beta=beta, eps=0.0, gamma=gamma, m=m, ref=ref,
        group_size=g_size)[0], 3000)
    tol = 4.5 * se + 4.5 * factor_se * np.abs(glog)
    assert np.all(np.abs(mean - expected) < tol), (mean, expected, tol)
    assert factor > 1.0  # Jensen: E[1/Z] > 1/E[Z]; the estimator overshoots the log objective


# --- 4. the command line ------------------------------------------------------------------


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("method, extra", [
    ("sdft", ()), ("tttd", ("--scale-floor", "0.01")),
    ("oapl", ("--weight-param", "raw", "--clip", "0.001,0.999", "--lr-scale", "mu_old=0.5"))])
def test_cli_simulate_learns_scales(capsys, method, extra):
    rc, out, err = _cli(capsys, "simulate", method, "--learn-scales", "--sigma-old-star", "0.7",
                        "--steps", "20", *extra)
    assert rc == 0, err
    assert "scales learned" in out and "overlap old" in out and "drop" in out
    assert "consistency (exact run" in out  # exact run: no independent prediction exists


def test_cli_tttd_collapse_is_named_without_a_floor(capsys):
    """TTT-Discover's objective shrinks σn towards 0 (the log-moment of e^{βR} grows as the
    policy concentrates on the reward's maximum; β adapts upwards): without a floor the run
    stops with a usage error naming the remedy, never a NaN."""
    rc, _, err = _cli(capsys, "simulate", "tttd", "--learn-scales", "--steps", "40")
    assert rc == 2 and "sigma_new reached" in err and "scale floor" in err


def test_cli_compare_preset_runs_every_method(capsys):
    rc, out, err = _cli(capsys, "compare", "--preset", "chen2025", "--steps", "4")
    assert rc == 0, err
    rows = out.split("five-parameter runs")[1]
    for name in ("sft", "rkl", "replay", "sdft", "tttd", "oapl", "chen-rl"):
        assert f"\n  {name} " in rows
    assert "analytic" in rows and "loo" in rows and "regression" in rows


def test_cli_compare_variants_under_the_preset(capsys):
    """With --preset, each named variant is applied on top of the preset's parameters and
    stepping (sdft at the preset's η = 0.01, learned scales), not the bare defaults."""
    rc, out, err = _cli(capsys, "compare", "--preset", "chen2025", "--variants", "--steps", "3",
                        "--methods", "sdft", "oapl")
    assert rc == 0, err
    table = out.split("robustness:")[1]
    assert "preset/--set" in table and "teacher=anchored, A=p*" in table
    assert "lag=4" in table


def test_logit_step_keeps_w_below_one_and_theory_does_not_stop_a_sampled_run():
    """A huge weight gradient: the logit step clips u at 36, so w = expit(36) < 1 (at u = 600,
    the old clip, w rounds to 1.0 and log(1 − w) fails). A sampled run whose exact direction
    leaves the evaluators' domain records the theory as unavailable instead of stopping."""
    st = Stepping()
    new = st.step(np.array([0.5, 0.0, 1.0, 1.0, 1.0]), np.array([-1e300, 0, 0, 0, 0]), 1.0)
    assert 0.5 < new[0] < 1.0
    from symforget.training.runs import expected_direction

    def boom() -> np.ndarray:
        raise ArithmeticError("outside the domain")

    assert np.all(np.isnan(expected_direction(boom, True)))
    with pytest.raises(ArithmeticError):
        expected_direction(boom, False)


def test_oapl_stratified_batch_target_uses_task_scales():
    """OAPL's weighted-MLE batch target at unequal task scales (σo* = 1.5, σn* = 0.5) estimates
    the tilted state with the per-task rewards (checked against quad above): 20,000 draws per
    behaviour land within 0.02 of it, while the one-σ reward's tilt is ≥ 0.2 away."""
    pb = Problem(alpha=0.3, mu_old_star=0.0, mu_new_star=3.0, sigma_old_star=1.5,
                 sigma_new_star=0.5)
    st = np.array([logit(0.35), -0.4, 0.7, 2.2, 1.3])
    exact = O.tilt_state(st, pb, tau=1.3, visibility=0.4)
    est = O.batch_target(np.random.default_rng(11), st, pb, beta=1.3, visibility=0.4,
                         batch=40_000, reward="quadratic")
    assert np.max(np.abs(est - exact)) < 0.02, (est, exact)
    wrong = O.tilt_state(st, Problem(alpha=0.3, mu_old_star=0.0, mu_new_star=3.0), tau=1.3,
                         visibility=0.4)
    assert np.max(np.abs(wrong - exact)) > 0.2


def test_cli_compare_variants_keeps_going_past_a_failed_variant(capsys, tmp_path):
    """TTT-Discover's fixed β = 2 variant overflows its leave-one-out advantages on Chen et
    al.'s problem; the robustness table records it (and the JSON names the error) and the
    other variants still run, instead of the whole comparison stopping with exit 2."""
    out_json = tmp_path / "v.json"
    rc, out, err = _cli(capsys, "compare", "--preset", "chen2025", "--variants", "--methods",
                        "tttd", "--steps", "60", "--json", str(out_json))
    assert rc == 0, err
    assert "fixed beta=2 (kl_budget=0) failed: beta=2: leave-one-out advantages overflow" in out
    assert "kl_coef=1" in out  # a variant after the failed one ran
    rows = json.loads(out_json.read_text())["variants"]
    failed = [r for r in rows if "error" in r]
    assert [r["variant"] for r in failed] == ["fixed beta=2 (kl_budget=0)"]
    assert all("old_mass" in r for r in rows if "error" not in r)
