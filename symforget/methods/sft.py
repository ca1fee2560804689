r"""SFT — supervised fine-tuning on new-task data = forward KL (the baseline of CLAIMS.md §2).

.. math:: \theta_{t+1} = \theta_t - \eta\,\nabla\,\mathrm{KL}(P_{\rm new}\Vert q_\theta),
          \qquad \nabla\mathrm{KL}(P_{\rm new}\Vert q_\theta) = -\mathbb E_{P_{\rm new}}
          [\nabla_\theta\log q_\theta]

in the logit-w parametrisation (:func:`symforget.dynamics.gradient_descent`, ``param="logit"``).
The unique minimiser has w = 0 (``fkl.mass_forgetting``): the old mode is forgotten. The
finite-batch version draws B samples of the training distribution per step and takes the same
logit-w step with the unbiased estimate mean_i −∇_θ log q_θ(x_i) (the per-sample score compiled
from :func:`symforget.symbolic.mixture.score`, as in :func:`symforget.training.sampling.fkl_sgd`,
which
steps in raw w with clipping instead).

This module also holds the small helpers shared by the equal-variance baselines.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, logit

from .. import dynamics
from ..errors import ParameterError
from ..numeric import validate as V
from ..numeric.compile import compile_exprs
from ..numeric.progress import report_steps
from ..symbolic import mixture
from ..symbolic.symbols import mu_n, mu_o, sigma, w, x
from ..training import sampling
from .base import MethodRun, Problem

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "sft_step", "run", "check_steps", "check_batch",
           "check_eta", "record_index", "make_run", "five_run", "wants_five", "check_known",
           "logit_sgd", "fkl_batch_grad", "states_run"]

NAME = "sft"
DESCRIPTION = "supervised fine-tuning on new-task data (forward KL to P_new)"
PARAMS: dict[str, tuple[type, Any, str]] = {
    "eta": (float, 0.5, "step size eta > 0 (logit-w parametrisation)"),
}
MAX_RECORDS = 500


def check_steps(steps: Any) -> int:
    """steps: an integer ≥ 1."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise ParameterError(f"steps={steps!r} must be an integer >= 1")
    return int(steps)


def check_batch(batch: Any) -> int | None:
    """batch: None (population map) or an integer ≥ 1."""
    if batch is None:
        return None
    return sampling.check_batch(batch)


def check_eta(eta: Any) -> float:
    """eta: a finite step size > 0."""
    return float(V.positive("eta", eta).reshape(()))


def check_known(name: str, params: dict[str, Any], known: dict[str, Any]) -> dict[str, Any]:
    """Reject unknown parameter names; fill in the defaults."""
    unknown = set(params) - set(known)
    if unknown:
        raise ParameterError(f"unknown {name} parameter(s) {sorted(unknown)}; known: "
                             f"{', '.join(known) or 'none'}")
    return {k: params.get(k, v[1]) for k, v in known.items()}


def record_index(steps: int) -> np.ndarray:
    """At most MAX_RECORDS + 1 evenly spaced step indices in [0, steps], both ends included."""
    if steps <= MAX_RECORDS:
        return np.arange(steps + 1)
    return np.unique(np.linspace(0, steps, MAX_RECORDS + 1).round().astype(int))


def five_run(name: str, problem: Problem, params: dict[str, Any], *, eta: float, steps: int,
             seed: int, batch: int | None, stepping: Any, beta: float | None = None,
             grid: tuple[float, float, int] | None = None,
             estimator: str | None = None, rho: float = 0.0) -> MethodRun:
    """A MethodRun of the five-parameter state θ = (w, μo, σo, μn, σn)
    (:func:`symforget.training.runs.run_five`): learned or fixed scales, the stepping
    conventions of ``stepping``, measurements and theory in ``MethodRun.report``."""
    from ..training.runs import run_five

    states, report = run_five(name, problem, eta=eta, steps=steps, seed=seed, batch=batch,
                              stepping=stepping, beta=beta, grid=grid, estimator=estimator,
                              rho=rho)
    return states_run(name, problem, params, states, report)


def states_run(name: str, problem: Problem, params: dict[str, Any], states: np.ndarray,
               report: dict[str, Any], extra: dict[str, Any] | None = None) -> MethodRun:
    """A MethodRun from a five-parameter trajectory θ_t = (w, μo, σo, μn, σn), t = 0..T
    (subsampled by :func:`record_index`), with the run's ``report`` (and ``extra``)."""
    idx = record_index(len(states) - 1)
    th = np.asarray(states, dtype=np.float64)[idx]
    return MethodRun(name, problem, params, idx, th[:, 0], th[:, 1], th[:, 3], th[:, 2],
                     th[:, 4], extra=dict(extra or {}), report=report)


def wants_five(problem: Problem, stepping: Any, grid: Any, estimator: Any = None) -> bool:
    """Whether a run takes the five-parameter path: stepping conventions, an overlap grid or
    an estimator given, or a problem with component scales."""
    return (stepping is not None or grid is not None or estimator is not None
            or problem.general)


def make_run(name: str, problem: Problem, params: dict[str, Any], theta: np.ndarray) -> MethodRun:
    """A MethodRun from the full trajectory θ_t (steps + 1, 3), subsampled; s_o = s_n = σ."""
    idx = record_index(len(theta) - 1)
    th = np.asarray(theta, dtype=np.float64)[idx]
    sig = np.full(len(idx), problem.sigma)
    return MethodRun(name, problem, params, idx, th[:, 0], th[:, 1], th[:, 2], sig, sig.copy())


def logit_sgd(rng: np.random.Generator, theta0: tuple[float, float, float], steps: int,
              eta: float, grad: Any) -> np.ndarray:
    r"""Finite-batch SGD in (u = logit w, μo, μn): ``grad(rng, θ) -> (3,)`` is an unbiased
    estimate of ∇_θ L; :math:`u' = u - \eta w(1-w)\hat g_w`, :math:`\mu' = \mu - \eta\hat
    g_\mu`. u is clipped to ±600 (w stays a positive double; documented, not silent NaN).
    Returns θ_t for t = 0..steps, shape (steps + 1, 3)."""
    th = np.array(theta0, dtype=np.float64)
    out = np.empty((steps + 1, 3))
    out[0] = th
    for k in range(steps):
        report_steps(k, steps)
        g = grad(rng, th)
        u = float(np.clip(logit(th[0]) - eta * th[0] * (1.0 - th[0]) * g[0], -600.0, 600.0))
        th = np.array([expit(u), th[1] - eta * g[1], th[2] - eta * g[2]])
        out[k + 1] = th
    return out


def fkl_batch_grad(problem: Problem, batch: int, rho: float = 0.0) -> Any:
    """Estimator mean_i −∇_θ log q_θ(x_i), x_i ∼ (1−ρ)P_new + ρP_old (B = ``batch`` draws)."""
    neg_score = compile_exprs(tuple(-e for e in mixture.score()), (x, w, mu_o, mu_n, sigma))

    def grad(rng: np.random.Generator, th: np.ndarray) -> np.ndarray:
        replayed = rng.random(batch) < rho
        xs = (np.where(replayed, problem.mu_old_star, problem.mu_new_star)
              + problem.sigma * rng.standard_normal(batch))
        vals = neg_score(xs, th[0], th[1], th[2], problem.sigma)
        return np.array([np.mean(np.broadcast_to(v, xs.shape)) for v in vals])

    return grad


def sft_step(problem: Problem, theta: np.ndarray, eta: float) -> np.ndarray:
    r"""One population step: :math:`u' = u - \eta w(1-w)\partial_w L_F`,
    :math:`\mu' = \mu - \eta\partial_\mu L_F`,
    :math:`L_F = \mathrm{KL}(P_{\rm new}\Vert q_\theta)`."""
    obj = dynamics.fkl_objective(problem.mu_new_star, sigma=problem.sigma)
    return dynamics.gradient_descent(obj, theta, eta, 1, param="logit").final


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    """Run SFT (population gradient descent, or finite-batch SGD with ``batch`` draws/step).

    With ``stepping`` (a :class:`symforget.training.stepping.Stepping`), an overlap ``grid``,
    an ``estimator`` or a problem with component scales, the five-parameter run
    (:func:`five_run`): training data P_new = N(μn*, σn*²), estimator ``exact`` or ``mc``.
    """
    p = check_known(NAME, params, PARAMS)
    eta = check_eta(p["eta"])
    steps = check_steps(steps)
    batch = check_batch(batch)
    if wants_five(problem, stepping, grid, estimator):
        return five_run(NAME, problem, {"eta": eta, "batch": batch, "seed": seed}, eta=eta,
                        steps=steps, seed=seed, batch=batch, stepping=stepping, grid=grid,
                        estimator=estimator)
    th0 = problem.theta0
    if batch is None:
        obj = dynamics.fkl_objective(problem.mu_new_star, sigma=problem.sigma)
        theta = dynamics.gradient_descent(obj, th0, eta, steps, param="logit").theta
    else:
        theta = logit_sgd(np.random.default_rng(seed), th0, steps, eta,
                          fkl_batch_grad(problem, batch))
    return make_run(NAME, problem, {"eta": eta, "batch": batch, "seed": seed}, theta)
