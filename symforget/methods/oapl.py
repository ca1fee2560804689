r"""OAPL — off-policy advantage regression with a lagged inference policy (arXiv 2602.19362).

OAPL regresses :math:`\beta\log(\pi_\theta/\pi_{lag})` onto the advantage :math:`A`; the
population solution is :math:`\pi \propto \pi_{lag}\,e^{A/\beta}` (β is the KL coefficient, i.e.
the *temperature* of the tilt; 1/β is its inverse temperature). The inference policy
:math:`\pi_{lag}` lags the trained one and is refreshed every ``lag`` = L steps.

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

The finite-batch version replaces the exact target by a weighted MLE (self-normalised importance
weights :math:`\propto e^{R_c(x_i)/\beta}`) on ``batch`` fresh samples of :math:`\pi_{lag}` per
step, stratified by behaviour (``batch // 2`` per component, so a rare behaviour is never left
without samples): :math:`\hat Z_c` = mean weight, tilted mean and variance = weighted moments.
It is consistent (bias O(1/batch)) and in the population limit equals the exact map.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import expit, log_expit, logsumexp

from ..errors import ParameterError, PrecisionError
from ..numeric import validate as V
from ..numeric.compile import compile_exprs
from ..numeric.progress import report_steps
from ..symbolic import tilt as T
from ..symbolic.symbols import x as _X
from .base import MethodRun, Problem, require_equal_scales

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "STATE", "check_params", "reward_centres",
           "effective_temperature", "tilt_fraction", "tilt_state", "interpolate", "oapl_step",
           "population_map", "closed_form", "batch_target", "log_odds", "initial_state", "run"]

NAME = "oapl"
DESCRIPTION = ("off-policy advantage regression: pi <- pi_lag e^{A/beta} (step eta), "
               "pi_lag refreshed every L steps")
PARAMS: dict[str, tuple[type, Any, str]] = {
    "beta": (float, 1.0, "KL coefficient beta > 0 = temperature of the tilt e^{A/beta} "
                         "(larger beta: weaker tilt)"),
    "lag": (int, 4, "refresh period L >= 1 of the inference policy pi_lag"),
    "eta": (float, 0.5, "fraction eta in (0, 1] of the way to the tilted target per step "
                        "(1 = exact regression)"),
    "visibility": (float, 0.0, "visibility v in [0, 1] of past behaviour: old-behaviour samples "
                               "scored by v R_old + (1-v) R_new (0: new-task reward only)"),
}
#: order of the state vector: log-odds u = log(w/(1−w)) (kept instead of w: no underflow)
STATE = ("u", "mu_old", "s_old", "mu_new", "s_new")
_MAX_RECORDS = 500


def check_params(beta: Any = 1.0, lag: Any = 4, eta: Any = 0.5,
                 visibility: Any = 0.0) -> dict[str, Any]:
    """Validate the OAPL parameters (ParameterError naming the parameter and its range)."""
    beta_ = float(V.positive("beta", beta).reshape(()))
    if isinstance(lag, bool) or not isinstance(lag, int | np.integer) or lag < 1:
        raise ParameterError(f"lag={lag!r} must be an integer >= 1 (refresh period L)")
    eta_ = float(V.finite("eta", eta).reshape(()))
    if not 0.0 < eta_ <= 1.0:
        raise ParameterError(f"eta={eta_!r} must lie in (0, 1]")
    vis = float(V.finite("visibility", visibility).reshape(()))
    if not 0.0 <= vis <= 1.0:
        raise ParameterError(f"visibility={vis!r} must lie in [0, 1]")
    return {"beta": beta_, "lag": int(lag), "eta": eta_, "visibility": vis}


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
    (compiled from :func:`symforget.symbolic.tilt.quadratic_tilt`).
    """
    st = np.asarray(state, dtype=float)
    (mo, ro), (mn, rn), kap = reward_centres(problem, visibility)
    tilt = _fns()["tilt"]
    lzo, mean_o, var_o = tilt(st[..., 1], st[..., 2], mo, kap, ro, tau)
    lzn, mean_n, var_n = tilt(st[..., 3], st[..., 4], mn, kap, rn, tau)
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
                 beta: float, visibility: float, batch: int) -> np.ndarray:
    r"""Weighted-MLE estimate of :math:`\pi_{lag}e^{R/\beta}` from ``batch`` samples of
    :math:`\pi_{lag}` (``batch // 2`` per behaviour): self-normalised weights p_i, weighted
    mean, and the weighted variance divided by (1 − Σp_i²) (unbiased for reliability weights);
    raises PrecisionError if the importance weights collapse (all mass on one sample)."""
    (mo, ro), (mn, rn), kap = reward_centres(problem, visibility)
    reward = _fns()["reward"]
    n = batch // 2
    out = np.empty(5)
    lz = []
    for idx, (cm, cr) in ((1, (mo, ro)), (3, (mn, rn))):
        mu, s = lag_state[idx], lag_state[idx + 1]
        xs = rng.normal(mu, s, n)
        logw = np.asarray(reward(xs, cm, kap, cr), dtype=float) / beta
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


def population_map(problem: Problem, state0: np.ndarray, *, steps: int, beta: float, lag: int,
                   eta: float, visibility: float, rng: np.random.Generator | None = None,
                   batch: int | None = None,
                   record: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Iterate :func:`oapl_step` with a refresh ``π_lag ← π_θ`` every ``lag`` steps.

    Returns (recorded steps, states (n, 5)); ``record`` is the set of step indices to keep
    (default: all). With ``batch`` the target is :func:`batch_target` (needs ``rng``).
    """
    keep = set(range(steps + 1)) if record is None else {int(r) for r in record}
    st = np.array(state0, dtype=float)
    lag_st = st.copy()
    rec_steps, rec = ([0], [st.copy()]) if 0 in keep else ([], [])
    for t in range(steps):
        report_steps(t, steps)
        tgt = None
        if batch is not None:
            assert rng is not None
            tgt = batch_target(rng, lag_st, problem, beta=beta, visibility=visibility,
                               batch=batch)
        st = oapl_step(st, lag_st, problem, beta=beta, eta=eta, visibility=visibility,
                       target=tgt)
        if (t + 1) % lag == 0:
            lag_st = st.copy()
        if t + 1 in keep:
            rec_steps.append(t + 1)
            rec.append(st.copy())
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


def _record_indices(steps: int) -> np.ndarray:
    return np.unique(np.round(np.linspace(0, steps, min(steps + 1, _MAX_RECORDS))).astype(int))


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        **params: Any) -> MethodRun:
    """Run OAPL on ``problem``: the population map if ``batch`` is None, otherwise the
    finite-batch weighted-MLE version (``numpy.random.default_rng(seed)``, batch ≥ 4)."""
    require_equal_scales(problem, NAME)
    unknown = set(params) - set(PARAMS)
    if unknown:
        raise ParameterError(f"unknown OAPL parameter(s) {sorted(unknown)}; known: "
                             f"{', '.join(PARAMS)}")
    p = check_params(**{k: params.get(k, v[1]) for k, v in PARAMS.items()})
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ParameterError(f"steps={steps!r} must be an integer >= 1")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int | np.integer)
                              or batch < 4):
        raise ParameterError(f"batch={batch!r} must be an integer >= 4 (batch // 2 samples per "
                             f"behaviour), or None for the population map")
    rng = np.random.default_rng(seed) if batch is not None else None
    rec_steps, rec = population_map(problem, initial_state(problem), steps=int(steps), rng=rng,
                                    batch=None if batch is None else int(batch),
                                    record=_record_indices(int(steps)), **p)
    extra = {"log_odds": rec[:, 0].tolist(),
             "tau_eff": effective_temperature(p["beta"], p["lag"], p["eta"])}
    return MethodRun(NAME, problem, {**p, "batch": batch, "seed": seed}, rec_steps,
                     expit(rec[:, 0]), rec[:, 1], rec[:, 3], rec[:, 2], rec[:, 4], extra=extra)
