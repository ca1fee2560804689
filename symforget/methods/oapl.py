r"""OAPL — off-policy advantage regression with a lagged inference policy (arXiv 2602.19362).

OAPL regresses :math:`\beta_2\log(\pi_\theta/\pi_{lag})` onto the advantage
:math:`\hat A = r - \hat V^*`, :math:`\hat V^* = \beta_1\log\frac1G\sum_j e^{r_j/\beta_1}` over
the G completions of a prompt, by least squares on samples of an inference policy
:math:`\pi_{lag}` whose weights are synchronised every ``lag`` = L steps (:data:`PARAMS`:
``beta1``, ``beta2``, ``lag``, ``group_size``). The population solution is
:math:`\pi \propto \pi_{lag}\,e^{r/\beta_2}` (β₂ is the KL coefficient, i.e. the temperature of
the tilt). Rewards are verifiable: ``reward="indicator"`` (default) is 1 on an interval of
half-width ``reward_width``·σ around a task's mean, 0 elsewhere; ``reward="quadratic"`` is the
tasks' log-density on the whole line (the reward the ``oapl.*`` claims were derived for; it
drags the old component onto the new mode). The lower-level functions keep the internal name
``beta`` (= beta2).

**Abstraction** (two-mode problem of :mod:`symforget.methods.base`, whitened by σ):

* the policy is the joint law of the behaviour c ∈ {old, new} and the output x:
  :math:`\pi(c, x) = w_c N(x; \mu_c, s_c^2)` with *per-component* std devs (tilts shrink them);
* rewards are the tasks' log-densities up to constants, :math:`R_{new}(x) = -\kappa(x-\mu_n^*)^2/2`,
  :math:`R_{old}(x) = -\kappa(x-\mu_o^*)^2/2`, κ = 1/σ². **Visibility** v ∈ [0, 1] of past
  behaviour: samples of the new behaviour are scored by :math:`R_{new}`, samples of the old
  behaviour by the blend :math:`vR_{old} + (1-v)R_{new}` — a quadratic centred at
  :math:`m_o = v\mu_o^* + (1-v)\mu_n^*` with offset :math:`r_o = -v(1-v)\kappa\Delta^{*2}/2`
  (:func:`symforget.symbolic.tilt.blend_derivation`). v = 0 is post-training on the new task
  only (an x-only reward: the pure OAPL setting); v = 1 is a reward that judges old behaviour by
  the old task (e.g. the old task's verifier still in the prompt mix). The advantage baseline is
  shared by both behaviours (one prompt, two behaviours) — a per-behaviour baseline would make
  the weight map the identity;
* the tilt acts component-wise and exactly (Gaussian × exp(quadratic) is Gaussian,
  :func:`symforget.symbolic.tilt.quadratic_tilt`): :math:`w_c \to w_c Z_c/\sum_d w_d Z_d`,
  :math:`\mu_c, s_c` → tilted mean and std dev;
* one OAPL step moves :math:`\log\pi_\theta` the fraction η of the way to the population
  solution (geometric interpolation of the joint densities, which interpolates precisions,
  precision-means and log-masses linearly: :func:`symforget.symbolic.tilt.geometric_interpolation`);
  η = 1 is the exact regression. Every L steps :math:`\pi_{lag} \leftarrow \pi_\theta`.

Consequence (:func:`symforget.symbolic.tilt.window_derivation`): after t steps the policy is
*one* tilt of :math:`\pi_0` at temperature :math:`\beta/\rho(t)`,
:math:`\rho(t) = \lfloor t/L\rfloor\rho_L + \rho_{t \bmod L}`, :math:`\rho_j = 1-(1-\eta)^j`
(:func:`closed_form`); each refresh is one tilt at :math:`\tau_{eff} = \beta/\rho_L`
(:func:`effective_temperature`).

A fixed reference (``lag`` longer than the run) is one tilt of :math:`\pi_0`: a fixed point
with positive old mass. An x-only reward that values old behaviour, :math:`R = \log p^*`, takes
the policy out of the Gaussian-mixture family (no closed form); claim ``oapl.logp_reward``
analyses it numerically.

With the indicator reward the tilt leaves the Gaussian family; the population map projects it
back by matching each component's mean and variance (:func:`indicator_tilt_state`: the
population limit of the weighted maximum-likelihood fit).

Five-parameter runs (a :class:`~symforget.training.stepping.Stepping`, an overlap grid or
per-component scales; :class:`FiveDirection`): the same map on (logit w, μo, σo, μn, σn) with
per-task rewards (:func:`task_rewards`: curvatures 1/σc*², indicator half-widths
``reward_width``·σc*), handed to the Stepping as a displacement (per-parameter multipliers,
raw or logit weight, clipping, learned or fixed scales).

Finite batches (``batch_estimator``):

* ``"regression"`` (default, OAPL's loss): B samples (c_i, x_i) of the lagged mixture (no
  stratification: when w is small most batches hold no old-behaviour sample — the old-mode
  starvation the analysis paper stresses; :func:`run` records its frequency), groups of G
  with the value estimate V̂*, least-squares fit of the log-ratio (:func:`regression_target`);
* ``"stratified"``: weighted maximum likelihood (self-normalised importance weights
  :math:`\propto e^{R_c(x_i)/\beta_2}`) on ``batch // 2`` samples per behaviour
  (:func:`batch_target`) — symforget's earlier estimator; stratification removes starvation by
  construction. Consistent (bias O(1/batch)); in the population limit it equals the exact map.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.optimize import least_squares
from scipy.special import expit, log_expit, logsumexp, ndtr
from scipy.stats import truncnorm

from ..errors import ParameterError, PrecisionError
from ..numeric import validate as V
from ..numeric.compile import compile_exprs
from ..numeric.progress import report_steps
from ..symbolic import tilt as T
from ..symbolic.symbols import x as _X
from .base import MethodRun, Problem, renamed_hint

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "STATE", "check_params", "reward_centres",
           "effective_temperature", "tilt_fraction", "tilt_state", "interpolate", "oapl_step",
           "population_map", "closed_form", "batch_target", "log_odds", "initial_state", "run",
           "REWARDS", "BATCH_ESTIMATORS", "indicator_reward", "indicator_tilt_state",
           "regression_target", "task_rewards", "FiveDirection", "five_direction"]

NAME = "oapl"
DESCRIPTION = ("OAPL: least-squares regression of beta2 log(pi/pi_lag) on r - V*(beta1) over "
               "samples of a lagged policy (sync every lag steps); population solution "
               "pi_lag e^{r/beta2}")
#: The defaults and where they come from: lag 50 = the sync interval of NeMo-RL's OAPL example
#: (METHODS.md; the paper reports lags above 400); reward indicator = OAPL's verifiable 0/1
#: rewards; group_size 8 completions per prompt; beta1 = 1 as in NeMo-RL's tests; beta2 = 1
#: is symforget's (NeMo-RL's tests use 1e-3, not checked against the paper: on a 0/1 reward it
#: would make each refresh a rejection step). reward_width, visibility and eta are symforget's
#: own abstractions.
PARAMS: dict[str, tuple[type, Any, str]] = {
    "beta2": (float, 1.0, "KL coefficient beta2 > 0 of the regression = temperature of the "
                          "tilt pi_lag e^{r/beta2} (larger: weaker tilt)"),
    "beta1": (float, 1.0, "value temperature beta1 > 0 of V*(x) = beta1 log mean_j "
                          "e^{r_j/beta1} over a group (finite batches)"),
    "lag": (int, 50, "sync interval L >= 1: pi_lag <- pi_theta every L steps"),
    "group_size": (int, 8, "completions per prompt G >= 2 sharing V* (finite batches; batch "
                           "= groups x G)"),
    "reward": (str, "indicator", "indicator (verifiable 0/1: |x - centre| <= reward_width "
                                 "sigma) or quadratic (-(x - centre)^2 / (2 sigma^2), on the "
                                 "whole line)"),
    "reward_width": (float, 1.0, "reward=indicator: half-width h > 0 of the accepted interval "
                                 "in units of sigma (symforget's own)"),
    "batch_estimator": (str, "regression", "finite batches: regression (OAPL's least squares "
                                           "on lagged samples of the mixture) or stratified "
                                           "(weighted MLE, batch/2 per behaviour: no "
                                           "starvation by construction)"),
    "eta": (float, 0.5, "fraction eta in (0, 1] of the way to the fitted target per step "
                        "(1 = exact regression; symforget's own)"),
    "visibility": (float, 0.0, "analysis abstraction v in [0, 1] (not an OAPL parameter): "
                               "old-behaviour samples scored by v R_old + (1-v) R_new"),
}
#: parameters renamed in issue 15 (old name → new name), named in the error for an old name
RENAMED: dict[str, str] = {"beta": "beta2"}
REWARDS = ("indicator", "quadratic")
BATCH_ESTIMATORS = ("regression", "stratified")
#: order of the state vector: log-odds u = log(w/(1−w)) (kept instead of w: no underflow)
STATE = ("u", "mu_old", "s_old", "mu_new", "s_new")
_MAX_RECORDS = 500


def check_params(beta2: Any = PARAMS["beta2"][1], beta1: Any = PARAMS["beta1"][1],
                 lag: Any = PARAMS["lag"][1], group_size: Any = PARAMS["group_size"][1],
                 reward: Any = PARAMS["reward"][1],
                 reward_width: Any = PARAMS["reward_width"][1],
                 batch_estimator: Any = PARAMS["batch_estimator"][1],
                 eta: Any = PARAMS["eta"][1],
                 visibility: Any = PARAMS["visibility"][1]) -> dict[str, Any]:
    """Validate the OAPL parameters (ParameterError naming the parameter and its range).

    Defaults: :data:`PARAMS` (the one source of defaults)."""
    out: dict[str, Any] = {"beta2": float(V.positive("beta2", beta2).reshape(())),
                           "beta1": float(V.positive("beta1", beta1).reshape(()))}
    if isinstance(lag, bool) or not isinstance(lag, int | np.integer) or lag < 1:
        raise ParameterError(f"lag={lag!r} must be an integer >= 1 (sync interval L)")
    out["lag"] = int(lag)
    if isinstance(group_size, bool) or not isinstance(group_size, int | np.integer) \
            or group_size < 2:
        raise ParameterError(f"group_size={group_size!r} must be an integer >= 2")
    out["group_size"] = int(group_size)
    if reward not in REWARDS:
        raise ParameterError(f"reward={reward!r} must be one of {', '.join(REWARDS)}")
    out["reward"] = reward
    out["reward_width"] = float(V.positive("reward_width", reward_width).reshape(()))
    if batch_estimator not in BATCH_ESTIMATORS:
        raise ParameterError(f"batch_estimator={batch_estimator!r} must be one of "
                             f"{', '.join(BATCH_ESTIMATORS)}")
    out["batch_estimator"] = batch_estimator
    eta_ = float(V.finite("eta", eta).reshape(()))
    if not 0.0 < eta_ <= 1.0:
        raise ParameterError(f"eta={eta_!r} must lie in (0, 1]")
    out["eta"] = eta_
    vis = float(V.finite("visibility", visibility).reshape(()))
    if not 0.0 <= vis <= 1.0:
        raise ParameterError(f"visibility={vis!r} must lie in [0, 1]")
    out["visibility"] = vis
    return out


@lru_cache(maxsize=1)
def _fns() -> dict[str, Any]:
    """Compiled evaluators (built once; the compile layer caches the lambdified code)."""
    return {
        "tilt": compile_exprs(T.quadratic_tilt().as_tuple(), T.QUAD_ARGS),
        "interp": compile_exprs(T.geometric_interpolation().as_tuple(), T.INTERP_ARGS),
        "blend": compile_exprs((T.blend_centre(), T.blend_offset()),
                               (T.v, T.nu_o, T.nu_n, T.kappa)),
        "rho": compile_exprs(T.window_fraction(), (T.eta, T.j)),
        "reward": compile_exprs(T.reward_quadratic(_X), (_X, T.m, T.kappa, T.r0)),
    }


def reward_centres(problem: Problem, visibility: float) -> tuple[tuple[float, float],
                                                                 tuple[float, float], float]:
    r"""``((m_o, r_o), (m_n, r_n), κ)``: centre and offset of each behaviour's reward.

    :math:`m_o = v\mu_o^* + (1-v)\mu_n^*`, :math:`r_o = -v(1-v)\kappa(\mu_o^*-\mu_n^*)^2/2`,
    :math:`m_n = \mu_n^*`, :math:`r_n = 0`, :math:`\kappa = 1/\sigma^2`.
    """
    kap = 1.0 / problem.sigma**2
    mo, ro = _fns()["blend"](visibility, problem.mu_old_star, problem.mu_new_star, kap)
    return (float(mo), float(ro)), (float(problem.mu_new_star), 0.0), kap


def task_rewards(problem: Problem, visibility: float, width: float = 1.0
                 ) -> tuple[tuple[tuple[float, float, float], tuple[float, float, float]],
                            tuple[float, float]]:
    r"""Each behaviour's quadratic reward ``(centre, curvature, offset)`` and each task's
    indicator half-width, with the problem's per-task scales σo*, σn* (σ unless given).

    Task rewards are the tasks' log-densities up to constants,
    :math:`R_{old} = -\kappa_o(x-\mu_o^*)^2/2`, :math:`R_{new} = -\kappa_n(x-\mu_n^*)^2/2`,
    κ_c = 1/σc*²; the old behaviour's blend :math:`vR_{old} + (1-v)R_{new}` is quadratic with
    curvature :math:`\kappa_b = v\kappa_o + (1-v)\kappa_n`, centre
    :math:`(v\kappa_o\mu_o^* + (1-v)\kappa_n\mu_n^*)/\kappa_b` and offset
    :math:`-v(1-v)\kappa_o\kappa_n(\mu_o^*-\mu_n^*)^2/(2\kappa_b)` (completing the square);
    with σo* = σn* = σ these are :func:`reward_centres` (used then, so that equal scales give
    the numbers of the one-σ map exactly). Indicator half-widths h_c = ``width``·σc*.
    """
    so, sn = problem.scales[:2]
    if so == sn == problem.sigma:
        (mo, ro), (mn, rn), kap = reward_centres(problem, visibility)
        h = width * problem.sigma
        return ((mo, kap, ro), (mn, kap, rn)), (h, h)
    ko, kn = 1.0 / (so * so), 1.0 / (sn * sn)
    v = float(visibility)
    kb = v * ko + (1.0 - v) * kn
    mb = (v * ko * problem.mu_old_star + (1.0 - v) * kn * problem.mu_new_star) / kb
    rb = -v * (1.0 - v) * ko * kn * (problem.mu_old_star - problem.mu_new_star) ** 2 / (2 * kb)
    return ((mb, kb, rb), (problem.mu_new_star, kn, 0.0)), (width * so, width * sn)


def tilt_fraction(t: Any, *, lag: int, eta: float) -> np.ndarray:
    r""":math:`\rho(t) = \lfloor t/L\rfloor\rho_L + \rho_{t \bmod L}`,
    :math:`\rho_j = 1-(1-\eta)^j`: the policy after t steps is
    :math:`\pi_0 e^{\rho(t)R/\beta}` (normalised)."""
    t = np.asarray(t)
    rho = _fns()["rho"]
    return (t // lag) * np.asarray(rho(eta, lag), dtype=float) + np.asarray(
        rho(eta, t % lag), dtype=float)


def effective_temperature(beta: float, lag: int, eta: float) -> float:
    r"""Temperature of the one tilt a full refresh window performs:
    :math:`\tau_{eff} = \beta/(1-(1-\eta)^L)` (= β for exact regression η = 1)."""
    return float(beta / float(_fns()["rho"](eta, lag)))


def initial_state(problem: Problem) -> np.ndarray:
    """State (u, μo, s_o, μn, s_n) of the problem's initial student (both std devs σ)."""
    w0, mo, mn = problem.theta0
    return np.array([np.log(w0) - np.log1p(-w0), mo, problem.sigma, mn, problem.sigma])


def log_odds(state: np.ndarray) -> np.ndarray:
    """Old/new log-odds u = log(w/(1−w)) of a state (..., 5)."""
    return np.asarray(state)[..., 0]


def tilt_state(state: np.ndarray, problem: Problem, *, tau: Any, visibility: float) -> np.ndarray:
    r"""One exact tilt of the mixture by :math:`e^{R_c/\tau}` (τ > 0 broadcasts).

    :math:`u \to u + \log Z_o - \log Z_n`; each (μ_c, s_c) → tilted mean and std dev
    (compiled from :func:`symforget.symbolic.tilt.quadratic_tilt`), each behaviour's reward
    with its own curvature (:func:`task_rewards`).
    """
    st = np.asarray(state, dtype=float)
    ((mo, ko, ro), (mn, kn, rn)), _ = task_rewards(problem, visibility)
    tilt = _fns()["tilt"]
    lzo, mean_o, var_o = tilt(st[..., 1], st[..., 2], mo, ko, ro, tau)
    lzn, mean_n, var_n = tilt(st[..., 3], st[..., 4], mn, kn, rn, tau)
    return np.stack(np.broadcast_arrays(st[..., 0] + lzo - lzn, mean_o, np.sqrt(var_o),
                                        mean_n, np.sqrt(var_n)), axis=-1)


def interpolate(state: np.ndarray, target: np.ndarray, eta: float) -> np.ndarray:
    r"""Geometric interpolation :math:`\pi^{1-\eta}(\pi^\star)^\eta` (normalised), component-wise.

    Log-masses :math:`\log w_o = \log\sigma(u)`, :math:`\log w_n = \log\sigma(-u)`; the result's
    log-odds is the difference of the interpolated log-masses.
    """
    a, b = np.asarray(state, dtype=float), np.asarray(target, dtype=float)
    f = _fns()["interp"]
    lo, mo, vo = f(log_expit(a[..., 0]), a[..., 1], a[..., 2], log_expit(b[..., 0]), b[..., 1],
                   b[..., 2], eta)
    ln, mn, vn = f(log_expit(-a[..., 0]), a[..., 3], a[..., 4], log_expit(-b[..., 0]),
                   b[..., 3], b[..., 4], eta)
    return np.stack(np.broadcast_arrays(lo - ln, mo, np.sqrt(vo), mn, np.sqrt(vn)), axis=-1)


def oapl_step(state: np.ndarray, lag_state: np.ndarray, problem: Problem, *, beta: float,
              eta: float, visibility: float, target: np.ndarray | None = None) -> np.ndarray:
    r"""One population OAPL step.

    .. math::
       \pi^\star \propto \pi_{lag}\,e^{R_c/\beta}, \qquad
       \log\pi_{t+1} = (1-\eta)\log\pi_t + \eta\log\pi^\star + \text{const}.

    ``target`` replaces :math:`\pi^\star` (the finite-batch version passes its estimate).
    """
    if target is None:
        target = tilt_state(lag_state, problem, tau=beta, visibility=visibility)
    if eta == 1.0:
        return np.array(target, dtype=float)
    return interpolate(state, target, eta)


def batch_target(rng: np.random.Generator, lag_state: np.ndarray, problem: Problem, *,
                 beta: float, visibility: float, batch: int, reward: str = "quadratic",
                 width: float = 1.0) -> np.ndarray:
    r"""Weighted-MLE estimate of :math:`\pi_{lag}e^{R/\beta}` from ``batch`` samples of
    :math:`\pi_{lag}` (``batch // 2`` per behaviour): self-normalised weights p_i, weighted
    mean, and the weighted variance divided by (1 − Σp_i²) (unbiased for reliability weights);
    raises PrecisionError if the importance weights collapse (all mass on one sample)."""
    ((mo, ko, ro), (mn, kn, rn)), _ = task_rewards(problem, visibility)
    quad = _fns()["reward"]
    n = batch // 2
    out = np.empty(5)
    lz = []
    for idx, (cm, kap, cr) in ((1, (mo, ko, ro)), (3, (mn, kn, rn))):
        mu, s = lag_state[idx], lag_state[idx + 1]
        xs = rng.normal(mu, s, n)
        if reward == "indicator":
            rx = indicator_reward(xs, np.full(n, idx == 1), problem, visibility=visibility,
                                  width=width)
        else:
            rx = np.asarray(quad(xs, cm, kap, cr), dtype=float)
        logw = rx / beta
        lz.append(float(logsumexp(logw) - np.log(n)))
        p = np.exp(logw - logsumexp(logw))
        mean = float(p @ xs)
        # reliability-weights correction: E[Σp(x − x̄_p)²] = (1 − Σp²)·Var for fixed weights
        # (to first order for self-normalised importance weights); without it the per-step
        # downward bias compounds over steps. Small batches still shrink s over many steps
        # (log ŝ² has a negative drift by Jensen's inequality: recursive fitting to one's own
        # samples, cf. model collapse); not quantified by a claim.
        shrink = 1.0 - float(p @ p)
        var = float(p @ (xs - mean) ** 2) / shrink if shrink > 0.0 else 0.0
        if not (np.isfinite(var) and var > 0.0):
            raise PrecisionError(f"OAPL batch: importance weights collapsed (weighted variance "
                                 f"{var!r}); increase batch={batch} or beta={beta}")
        out[idx], out[idx + 1] = mean, np.sqrt(var)
    out[0] = lag_state[0] + lz[0] - lz[1]
    return out


def _indicator_pieces(problem: Problem, visibility: float, width: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breakpoints and the piecewise-constant 0/1-type rewards of both behaviours.

    Returns (edges (P+1,), rewards of the old behaviour (P,), of the new behaviour (P,)) on the
    pieces between consecutive edges (−∞ and +∞ included). The new behaviour earns
    1{|x − μn*| ≤ h_n}; the old behaviour v·1{|x − μo*| ≤ h_o} + (1 − v)·1{|x − μn*| ≤ h_n},
    h_c = width·σc* (:func:`task_rewards`; h = width·σ for equal scales)."""
    ho, hn = task_rewards(problem, visibility, width)[1]
    mo, mn = problem.mu_old_star, problem.mu_new_star
    inner = np.unique([mo - ho, mo + ho, mn - hn, mn + hn])
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    mid = np.concatenate([[inner[0] - 1.0], 0.5 * (inner[1:] + inner[:-1]), [inner[-1] + 1.0]])
    in_o = (np.abs(mid - mo) <= ho).astype(float)
    in_n = (np.abs(mid - mn) <= hn).astype(float)
    return edges, visibility * in_o + (1.0 - visibility) * in_n, in_n


def indicator_reward(x: np.ndarray, old: np.ndarray, problem: Problem, *, visibility: float,
                     width: float) -> np.ndarray:
    """The verifiable reward of samples ``x`` with behaviour labels ``old`` (True = old);
    half-widths h_c = width·σc* (:func:`task_rewards`)."""
    ho, hn = task_rewards(problem, visibility, width)[1]
    in_o = (np.abs(x - problem.mu_old_star) <= ho).astype(float)
    in_n = (np.abs(x - problem.mu_new_star) <= hn).astype(float)
    return np.where(old, visibility * in_o + (1.0 - visibility) * in_n, in_n)


def _tilt_component(mu: float, s: float, edges: np.ndarray, rewards: np.ndarray,
                    tau: float) -> tuple[float, float, float]:
    r"""log Z, mean and variance of :math:`N(\mu, s^2)\,e^{r(x)/\tau}` (normalised), r
    piecewise constant: sums of truncated-normal moments (scipy.stats.truncnorm)."""
    a, b = (edges[:-1] - mu) / s, (edges[1:] - mu) / s
    # log P(a < Z < b) without cancellation: use the upper tail where a > 0
    with np.errstate(divide="ignore"):
        logp = np.where(a > 0, np.log(np.maximum(ndtr(-a) - ndtr(-b), 0.0)),
                        np.log(np.maximum(ndtr(b) - ndtr(a), 0.0)))
    lw = logp + rewards / tau
    log_z = float(logsumexp(lw))
    om = np.exp(lw - log_z)
    ok = om > 0.0
    m_k = np.zeros_like(om)
    v_k = np.zeros_like(om)
    if np.any(ok):
        m_t, v_t = truncnorm.stats(a[ok], b[ok], moments="mv")
        m_k[ok], v_k[ok] = mu + s * np.asarray(m_t), s * s * np.asarray(v_t)
    mean = float(om @ m_k)
    var = float(om @ (v_k + (m_k - mean) ** 2))
    return log_z, mean, var


def indicator_tilt_state(state: np.ndarray, problem: Problem, *, tau: float, visibility: float,
                         width: float) -> np.ndarray:
    r"""The tilt :math:`\pi_{lag}e^{r_c/\tau}` under the verifiable (indicator) reward,
    projected back onto the mixture family by matching each component's mean and variance
    (the population limit of the weighted maximum-likelihood fit; exact for the quadratic
    reward, where :func:`tilt_state` is used). Log-odds: :math:`u + \log Z_o - \log Z_n`."""
    st = np.asarray(state, dtype=float)
    edges, r_old, r_new = _indicator_pieces(problem, visibility, width)
    lzo, mo, vo = _tilt_component(st[1], st[2], edges, r_old, tau)
    lzn, mn, vn = _tilt_component(st[3], st[4], edges, r_new, tau)
    out = np.array([st[0] + lzo - lzn, mo, math.sqrt(vo), mn, math.sqrt(vn)])
    if not np.all(np.isfinite(out)) or out[2] <= 0.0 or out[4] <= 0.0:
        raise PrecisionError(f"OAPL indicator tilt left the mixture family (state {out})")
    return out


def regression_target(rng: np.random.Generator, lag_state: np.ndarray, problem: Problem, *,
                      beta1: float, beta2: float, visibility: float, reward: str, width: float,
                      batch: int, group_size: int) -> tuple[np.ndarray, int]:
    r"""OAPL's finite-batch fit: least squares on B samples of the lagged mixture policy.

    Samples (c_i, x_i) ∼ π_lag (no stratification: a rare behaviour may get no samples),
    grouped by ``group_size`` G (one prompt per group); per group
    :math:`\hat V^* = \beta_1\log\frac1G\sum_j e^{r_j/\beta_1}`, :math:`\hat A_i = r_i -
    \hat V^*`; then

    .. math::
       \hat\theta = \arg\min_\theta\sum_i\big(\beta_2[\log\pi_\theta(c_i, x_i)
       - \log\pi_{lag}(c_i, x_i)] - \hat A_i\big)^2,

    :math:`\log\pi(c, x) = \log w_c + \log N(x;\mu_c, s_c^2)`, over (u, μo, log s_o, μn,
    log s_n) by ``scipy.optimize.least_squares`` from θ_lag. A behaviour with fewer than 3
    samples cannot identify its mean and scale (the fit would be exact and degenerate): they
    are kept at π_lag's (symforget's choice), only its weight is fitted. Returns (θ̂ as a
    state (u, μo, s_o, μn, s_n), number of old-behaviour samples).
    """
    lag_state = np.asarray(lag_state, dtype=float)
    u0 = lag_state[0]
    old = rng.random(batch) < expit(u0)
    mu = np.where(old, lag_state[1], lag_state[3])
    sd = np.where(old, lag_state[2], lag_state[4])
    xs = mu + sd * rng.standard_normal(batch)
    if reward == "indicator":
        r = indicator_reward(xs, old, problem, visibility=visibility, width=width)
    else:
        ((cmo, kao, cro), (cmn, kan, crn)), _ = task_rewards(problem, visibility)
        fn = _fns()["reward"]
        r = np.where(old, np.asarray(fn(xs, cmo, kao, cro), dtype=float),
                     np.asarray(fn(xs, cmn, kan, crn), dtype=float))
    rg = r.reshape(-1, group_size)
    v = beta1 * (logsumexp(rg / beta1, axis=1, keepdims=True) - math.log(group_size))
    adv = (rg - v).reshape(-1)
    n_old = int(old.sum())
    fit_o, fit_n = n_old >= 3, batch - n_old >= 3

    def unpack(p: np.ndarray) -> tuple[float, float, float, float, float]:
        return (p[0], p[1] if fit_o else lag_state[1],
                math.exp(p[2]) if fit_o else lag_state[2],
                p[3] if fit_n else lag_state[3], math.exp(p[4]) if fit_n else lag_state[4])

    def logpi(p: np.ndarray) -> np.ndarray:
        u, m_o, s_o, m_n, s_n = unpack(p)
        m = np.where(old, m_o, m_n)
        s_ = np.where(old, s_o, s_n)
        lw = np.where(old, log_expit(u), log_expit(-u))
        return lw - 0.5 * ((xs - m) / s_) ** 2 - np.log(s_)

    p0 = np.array([u0, lag_state[1], math.log(lag_state[2]), lag_state[3],
                   math.log(lag_state[4])])
    base = logpi(p0)

    def resid(p: np.ndarray) -> np.ndarray:
        return beta2 * (logpi(p) - base) - adv

    def jac(p: np.ndarray) -> np.ndarray:
        u, m_o, s_o, m_n, s_n = unpack(p)
        j = np.zeros((batch, 5))
        j[:, 0] = np.where(old, expit(-u), -expit(u))
        for flag, col, m, s_, fit in ((old, 1, m_o, s_o, fit_o), (~old, 3, m_n, s_n, fit_n)):
            if fit:
                z = (xs - m) / s_
                j[:, col] = np.where(flag, z / s_, 0.0)
                j[:, col + 1] = np.where(flag, z * z - 1.0, 0.0)
        return beta2 * j

    sol = least_squares(resid, p0, jac=jac, method="lm" if batch >= 5 else "trf",
                        xtol=1e-12, ftol=1e-12)
    u, m_o, s_o, m_n, s_n = unpack(sol.x)
    out = np.array([u, m_o, s_o, m_n, s_n])
    if not np.all(np.isfinite(out)):
        raise PrecisionError(f"OAPL regression: the least-squares fit diverged ({out}); "
                             f"increase batch={batch}")
    return out, n_old


def population_map(problem: Problem, state0: np.ndarray, *, steps: int, beta: float, lag: int,
                   eta: float, visibility: float, rng: np.random.Generator | None = None,
                   batch: int | None = None, record: np.ndarray | None = None,
                   reward: str = "quadratic", width: float = 1.0,
                   batch_estimator: str = "stratified", beta1: float = 1.0,
                   group_size: int = 8, counts: dict[str, int] | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Iterate :func:`oapl_step` with a refresh ``π_lag ← π_θ`` every ``lag`` steps.

    ``beta`` is β₂ (the tilt temperature). Returns (recorded steps, states (n, 5)); ``record``
    is the set of step indices to keep (default: all). The keyword defaults (quadratic reward,
    stratified batches) are the map the ``oapl.*`` claims were derived for; :func:`run` uses
    :data:`PARAMS`. With ``reward="indicator"`` the population target is
    :func:`indicator_tilt_state`. With ``batch`` the target is :func:`batch_target`
    (stratified) or :func:`regression_target` (needs ``rng``); ``counts`` (a dict) receives
    the number of batches without an old-behaviour sample (``"starved"``).
    """
    keep = set(range(steps + 1)) if record is None else {int(r) for r in record}
    st = np.array(state0, dtype=float)
    lag_st = st.copy()
    rec_steps, rec = ([0], [st.copy()]) if 0 in keep else ([], [])
    starved = 0
    tgt_cache: tuple[int, np.ndarray] | None = None
    for t in range(steps):
        report_steps(t, steps)
        tgt = None
        if batch is not None:
            assert rng is not None
            if batch_estimator == "stratified":
                tgt = batch_target(rng, lag_st, problem, beta=beta, visibility=visibility,
                                   batch=batch, reward=reward, width=width)
            else:
                tgt, n_old = regression_target(rng, lag_st, problem, beta1=beta1, beta2=beta,
                                               visibility=visibility, reward=reward,
                                               width=width, batch=batch,
                                               group_size=group_size)
                starved += n_old == 0
        elif reward == "indicator":
            epoch = t // lag
            if tgt_cache is None or tgt_cache[0] != epoch:  # π_lag fixed within a window
                tgt_cache = (epoch, indicator_tilt_state(lag_st, problem, tau=beta,
                                                         visibility=visibility, width=width))
            tgt = tgt_cache[1]
        st = oapl_step(st, lag_st, problem, beta=beta, eta=eta, visibility=visibility,
                       target=tgt)
        if (t + 1) % lag == 0:
            lag_st = st.copy()
        if t + 1 in keep:
            rec_steps.append(t + 1)
            rec.append(st.copy())
    if counts is not None:
        counts["starved"] = starved
    return np.array(rec_steps), np.array(rec)


def closed_form(problem: Problem, state0: np.ndarray, t: Any, *, beta: float, lag: int,
                eta: float, visibility: float) -> np.ndarray:
    r"""The population state after t steps as one tilt of the start:
    :func:`tilt_state` at :math:`\tau = \beta/\rho(t)` (:func:`tilt_fraction`); ρ = 0 is the
    start itself."""
    rho = np.atleast_1d(tilt_fraction(t, lag=lag, eta=eta)).astype(float)
    st0 = np.asarray(state0, dtype=float)
    out = np.broadcast_to(st0, (*rho.shape, 5)).copy()
    pos = rho > 0
    if pos.any():
        out[pos] = tilt_state(st0, problem, tau=beta / rho[pos], visibility=visibility)
    return out if np.ndim(t) else out[0]


# --------------------------------------------------------------------------------------------
# five-parameter runs: θ = (w, μo, σo, μn, σn) stepped by a Stepping along OAPL's displacement


class FiveDirection:
    r"""OAPL on the five-parameter state as a :class:`symforget.training.runs.Direction`.

    OAPL is a map, not a gradient: with the lagged policy π_lag (refreshed to θ_t every
    ``lag`` steps), its target :math:`\pi^\star\propto\pi_{lag}e^{R_c/\beta_2}` (exact:
    :func:`tilt_state` / :func:`indicator_tilt_state` with the per-task rewards of
    :func:`task_rewards`; a batch: :func:`regression_target` or :func:`batch_target`) and the
    step :math:`\Phi(\theta) = ` :func:`interpolate` (θ, π*, η) in (u = logit w, μo, σo, μn,
    σn), the displacement d = Φ(θ) − θ is handed to the Stepping as a direction with step
    size 1: u' = u + m_w d_u (logit), w' = w + m_w(w_Φ − w) (raw, then clipped), μ' = μ + m_μ d_μ,
    σ' = σ + m_σ d_σ (learned scales) or σ (fixed scales: the weight and means still move by
    the full map's displacement). With every multiplier 1 and learned scales, logit or raw,
    this is the map itself.
    """

    def __init__(self, problem: Problem, p: dict[str, Any], batch: int | None,
                 weight_param: str, name: str) -> None:
        self.problem, self.p, self.batch = problem, p, batch
        self.weight_param = weight_param
        self.name, self.eta = name, 1.0
        self.label = "the exact map's displacement (population target)"
        self.expected: list[np.ndarray] = []
        self.lag_state: np.ndarray | None = None
        self.exact_target: np.ndarray | None = None
        self.t = 0
        self.starved = 0

    def _target(self) -> np.ndarray:
        p, pb = self.p, self.problem
        assert self.lag_state is not None
        if p["reward"] == "indicator":
            return indicator_tilt_state(self.lag_state, pb, tau=p["beta2"],
                                        visibility=p["visibility"], width=p["reward_width"])
        return tilt_state(self.lag_state, pb, tau=p["beta2"], visibility=p["visibility"])

    def _direction(self, th: np.ndarray, st_u: np.ndarray, target: np.ndarray) -> np.ndarray:
        new = interpolate(st_u, target, self.p["eta"])
        d = new - st_u
        w = float(th[0])
        gw = (-d[0] / (w * (1.0 - w)) if self.weight_param == "logit"
              else -(float(expit(new[0])) - w))
        return np.array([gw, -d[1], -d[2], -d[3], -d[4]])

    def __call__(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        th = np.asarray(state, dtype=np.float64)
        st_u = np.array([math.log(th[0]) - math.log1p(-th[0]), th[1], th[2], th[3], th[4]])
        from ..training.runs import expected_direction

        sampled = self.batch is not None
        if self.t % self.p["lag"] == 0:  # π_lag ← π_θ (at the start and every lag steps)
            self.lag_state = st_u.copy()
            self.exact_target = expected_direction(self._target, sampled)
        self.t += 1
        assert self.exact_target is not None and self.lag_state is not None
        target = self.exact_target
        exact = expected_direction(lambda: self._direction(th, st_u, target), sampled)
        self.expected.append(exact)
        if self.batch is None:
            return exact
        p = self.p
        if p["batch_estimator"] == "stratified":
            tgt = batch_target(rng, self.lag_state, self.problem, beta=p["beta2"],
                               visibility=p["visibility"], batch=self.batch, reward=p["reward"],
                               width=p["reward_width"])
        else:
            tgt, n_old = regression_target(rng, self.lag_state, self.problem, beta1=p["beta1"],
                                           beta2=p["beta2"], visibility=p["visibility"],
                                           reward=p["reward"], width=p["reward_width"],
                                           batch=self.batch, group_size=p["group_size"])
            self.starved += n_old == 0
        return self._direction(th, st_u, tgt)


def five_direction(problem: Problem, p: dict[str, Any], *, batch: int | None,
                   weight_param: str = "logit", estimator: str | None = None) -> FiveDirection:
    """The :class:`FiveDirection` of validated parameters ``p`` (:func:`check_params`); its
    finite-batch estimator is ``batch_estimator`` (regression or stratified)."""
    from ..training.runs import direction_estimator

    name = direction_estimator(NAME, batch, estimator, p["batch_estimator"], "batch_estimator")
    return FiveDirection(problem, p, batch, weight_param, name)


def _record_indices(steps: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, steps, min(steps + 1, _MAX_RECORDS))).astype(int))


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    """Run OAPL on ``problem``: the population map if ``batch`` is None, otherwise finite
    batches (``numpy.random.default_rng(seed)``) with ``batch_estimator``: ``regression``
    (OAPL's least squares, batch a multiple of group_size) or ``stratified`` (weighted MLE,
    batch ≥ 4). Parameters and defaults: :data:`PARAMS`. ``extra["starved_batch_fraction"]``
    (regression) is the fraction of batches with no old-behaviour sample.

    With ``stepping`` (a :class:`symforget.training.stepping.Stepping`), an overlap ``grid``,
    ``estimator="exact"`` or a problem with component scales: the five-parameter run
    (:class:`FiveDirection` through :func:`symforget.training.runs.run_direction`). Without a
    stepping it learns the scales (``Stepping(learn_scales=True)``: OAPL's map carries them),
    unlike the gradient methods, whose default keeps them fixed."""
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ParameterError(f"unknown OAPL parameter(s) {sorted(unknown)}; known: "
                             f"{', '.join(PARAMS)}{renamed_hint(unknown, RENAMED)}")
    p = check_params(**params)
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ParameterError(f"steps={steps!r} must be an integer >= 1")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int | np.integer)
                              or batch < 4):
        raise ParameterError(f"batch={batch!r} must be an integer >= 4 (batch // 2 samples per "
                             f"behaviour), or None for the population map")
    if (batch is not None and p["batch_estimator"] == "regression"
            and batch % p["group_size"]):
        raise ParameterError(f"batch={batch} must be a multiple of group_size="
                             f"{p['group_size']} (OAPL draws G completions per prompt)")
    from .sft import states_run, wants_five

    if wants_five(problem, stepping, grid, estimator):
        from ..training.runs import run_direction
        from ..training.stepping import Stepping

        st = Stepping(learn_scales=True) if stepping is None else stepping
        direction = five_direction(problem, p, batch=None if batch is None else int(batch),
                                   weight_param=getattr(st, "weight_param", "logit"),
                                   estimator=estimator)
        states, report = run_direction(NAME, problem, direction, steps=int(steps), seed=seed,
                                       stepping=st, grid=grid)
        extra5: dict[str, Any] = {"tau_eff": effective_temperature(p["beta2"], p["lag"],
                                                                   p["eta"])}
        if batch is not None and p["batch_estimator"] == "regression":
            extra5["starved_batch_fraction"] = direction.starved / int(steps)
        return states_run(NAME, problem, {**p, "batch": batch, "seed": seed}, states, report,
                          extra5)
    rng = np.random.default_rng(seed) if batch is not None else None
    counts: dict[str, int] = {}
    rec_steps, rec = population_map(problem, initial_state(problem), steps=int(steps), rng=rng,
                                    batch=None if batch is None else int(batch),
                                    record=_record_indices(int(steps)), beta=p["beta2"],
                                    lag=p["lag"], eta=p["eta"], visibility=p["visibility"],
                                    reward=p["reward"], width=p["reward_width"],
                                    batch_estimator=p["batch_estimator"], beta1=p["beta1"],
                                    group_size=p["group_size"], counts=counts)
    extra: dict[str, Any] = {"log_odds": rec[:, 0].tolist(),
                             "tau_eff": effective_temperature(p["beta2"], p["lag"], p["eta"])}
    if batch is not None and p["batch_estimator"] == "regression":
        extra["starved_batch_fraction"] = counts["starved"] / int(steps)
    return MethodRun(NAME, problem, {**p, "batch": batch, "seed": seed}, rec_steps,
                     expit(rec[:, 0]), rec[:, 1], rec[:, 3], rec[:, 2], rec[:, 4], extra=extra)
