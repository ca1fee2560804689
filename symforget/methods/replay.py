r"""Replay — SFT with a fraction ρ of old-task data replayed (CLAIMS.md §4).

.. math:: \theta_{t+1} = \theta_t - \eta\,\nabla\,\mathrm{KL}(P_{\rm train}\Vert q_\theta),
          \qquad P_{\rm train} = (1-\rho) P_{\rm new} + \rho P_{\rm old},

in the logit-w parametrisation. With the means correct the unique minimiser is w = ρ
(``replay.fkl_optimum``): retained mass equals the replay fraction. Finite batches: each of
the B draws is replayed (from P_old) with probability ρ, logit-w SGD as in
:func:`symforget.methods.sft.logit_sgd`.
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
    fkl_batch_grad,
    logit_sgd,
    make_run,
    wants_five,
)

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "replay_step", "run"]

NAME = "replay"
DESCRIPTION = "SFT on (1-rho) P_new + rho P_old (old-task data replayed)"
PARAMS: dict[str, tuple[type, Any, str]] = {
    "rho": (float, 0.2, "replay fraction rho in [0, 1) of old-task data in each batch"),
    "eta": (float, 0.5, "step size eta > 0 (logit-w parametrisation)"),
}


def _objective(problem: Problem, rho: float) -> dynamics.Objective:
    return dynamics.fkl_objective(problem.mu_new_star, sigma=problem.sigma, replay=rho,
                                  replay_mean=problem.mu_old_star)


def replay_step(problem: Problem, theta: np.ndarray, rho: float, eta: float) -> np.ndarray:
    r"""One population step on :math:`L_F = \mathrm{KL}((1-\rho)P_{\rm new} + \rho P_{\rm old}
    \Vert q_\theta)`: :math:`u' = u - \eta w(1-w)\partial_w L_F`, :math:`\mu' = \mu - \eta
    \partial_\mu L_F`."""
    return dynamics.gradient_descent(_objective(problem, sampling.check_rho(rho)), theta, eta, 1,
                                     param="logit").final


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    """Run replay (population gradient descent, or finite-batch SGD with ``batch`` draws).

    With ``stepping``, an overlap ``grid``, an ``estimator`` or component scales: the
    five-parameter run (:func:`symforget.methods.sft.five_run`) on
    P_train = (1 − ρ) N(μn*, σn*²) + ρ N(μo*, σo*²), estimator ``exact`` or ``mc``.
    """
    p = check_known(NAME, params, PARAMS)
    rho = sampling.check_rho(p["rho"])
    eta = check_eta(p["eta"])
    steps = check_steps(steps)
    batch = check_batch(batch)
    if wants_five(problem, stepping, grid, estimator):
        return five_run(NAME, problem, {"rho": rho, "eta": eta, "batch": batch, "seed": seed},
                        eta=eta, steps=steps, seed=seed, batch=batch, stepping=stepping,
                        grid=grid, estimator=estimator, rho=rho)
    th0 = problem.theta0
    if batch is None:
        theta = dynamics.gradient_descent(_objective(problem, rho), th0, eta, steps,
                                          param="logit").theta
    else:
        theta = logit_sgd(np.random.default_rng(seed), th0, steps, eta,
                          fkl_batch_grad(problem, batch, rho))
    return make_run(NAME, problem, {"rho": rho, "eta": eta, "batch": batch, "seed": seed}, theta)
