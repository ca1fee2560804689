r"""RKL — on-policy reverse KL towards the target p* (CLAIMS.md §3), the retention baseline.

.. math:: \theta_{t+1} = \theta_t - \eta\,\nabla\,\mathrm{KL}(q_\theta\Vert p^*),\qquad
          p^* = \alpha P_{\rm old} + (1-\alpha) P_{\rm new},

in the logit-w parametrisation (:func:`symforget.dynamics.gradient_descent`). The global
minimisers keep old mass α (``rkl.global_optimum``). The finite-batch version takes the same
logit-w step with the REINFORCE estimate mean_i ∇log q(x_i) log(q/p*)(x_i), x_i ∼ q_θ
(:func:`symforget.training.sampling.score_terms`; :func:`symforget.training.sampling.rkl_sgd` is
the raw-w
variant).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import dynamics
from ..training import sampling
from .base import MethodRun, Problem
from .sft import (
    check_batch,
    check_eta,
    check_known,
    check_steps,
    five_run,
    logit_sgd,
    make_run,
    wants_five,
)

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "rkl_step", "run"]

NAME = "rkl"
DESCRIPTION = "on-policy reverse KL to the target p* = alpha P_old + (1-alpha) P_new"
PARAMS: dict[str, tuple[type, Any, str]] = {
    "eta": (float, 0.5, "step size eta > 0 (logit-w parametrisation)"),
}


def _objective(problem: Problem) -> dynamics.Objective:
    return dynamics.rkl_objective(problem.alpha, problem.mu_old_star, problem.mu_new_star,
                                  sigma=problem.sigma)


def rkl_step(problem: Problem, theta: np.ndarray, eta: float) -> np.ndarray:
    r"""One population step: :math:`u' = u - \eta w(1-w)\partial_w L_R`,
    :math:`\mu' = \mu - \eta\partial_\mu L_R`, :math:`L_R = \mathrm{KL}(q_\theta\Vert p^*)`."""
    return dynamics.gradient_descent(_objective(problem), theta, eta, 1, param="logit").final


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    """Run RKL (population gradient descent, or REINFORCE SGD with ``batch`` draws/step).

    With ``stepping``, an overlap ``grid``, an ``estimator`` or component scales: the
    five-parameter run (:func:`symforget.methods.sft.five_run`), estimator ``exact``,
    ``score`` (default with a batch) or ``pathwise``.
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
        theta = dynamics.gradient_descent(_objective(problem), th0, eta, steps,
                                          param="logit").theta
    else:
        def grad(rng: np.random.Generator, th: np.ndarray) -> np.ndarray:
            xs, _ = sampling.sample_mixture(rng, batch, th[0], th[1], th[2], problem.sigma)
            return sampling.score_terms(xs, th[0], th[1], th[2], alpha=problem.alpha,
                                        target_old=problem.mu_old_star,
                                        target_new=problem.mu_new_star,
                                        sigma=problem.sigma).mean(axis=0)

        theta = logit_sgd(np.random.default_rng(seed), th0, steps, eta, grad)
    return make_run(NAME, problem, {"eta": eta, "batch": batch, "seed": seed}, theta)
