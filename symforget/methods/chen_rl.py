r"""chen-rl — Chen et al. 2025's on-policy variant ("Retaining by Doing", arXiv 2510.18874),
written from its definition in their public simulation (``simulation/run.py``,
``fit_reinforce``); their repository has no licence, so none of their code is used.

Per step, B draws :math:`x_i \sim N(\mu_n, \sigma_n^2)` from the student's **new component
only**, the reward built from the target's **new component only**,

.. math:: R(x) = \log\frac{p_n(x)}{\beta\,(1-w)\,\varphi_n(x)},\qquad
          p_n = N(\mu_n^*, \sigma_n^{*2}),

importance weights :math:`q/((1-w)\varphi_n)`, and gradient *ascent* on

.. math:: \hat g = \frac1B\sum_i R(x_i)\,\frac{\nabla_\theta q(x_i)}{(1-w)\varphi_n(x_i)},
          \qquad \mathbb E\,\hat g = \frac1{1-w}\int R\,\nabla_\theta q\,dx,

with no baseline and no normalisation (their docstring mentions a GRPO-style normalised
advantage; their code does not apply one). θ = (w, μo, σo, μn, σn) steps by the run's
:class:`~symforget.training.stepping.Stepping`; ``--preset chen2025`` sets theirs (raw w clipped
to [1e-3, 1 − 1e-3], w, μo, σo at 0.005× the rate, σ floored at 1e-3). ``batch=None`` steps
along the expectation :math:`\mathbb E\hat g` (quadrature), which is *not* what a finite batch
does here: see :mod:`symforget.training.estimators`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ParameterError
from ..numeric import validate as V
from .base import MethodRun, Problem
from .sft import check_batch, check_eta, check_known, check_steps, five_run

__all__ = ["NAME", "DESCRIPTION", "PARAMS", "run"]

NAME = "chen-rl"
DESCRIPTION = ("Chen et al. 2025 on-policy variant: draws of the new component, reward "
               "log(p_new/(beta q_new)), importance weights, no baseline")
PARAMS: dict[str, tuple[type, Any, str]] = {
    "eta": (float, 0.01, "step size eta > 0"),
    "beta": (float, 0.1, "beta > 0 of the reward log(p_new/(beta q_new))"),
}


def run(problem: Problem, *, steps: int, seed: int = 0, batch: int | None = None,
        stepping: Any = None, grid: tuple[float, float, int] | None = None,
        estimator: str | None = None, **params: Any) -> MethodRun:
    """Run chen-rl: B draws per step (``batch``), or the estimator's expectation (None)."""
    p = check_known(NAME, params, PARAMS)
    eta = check_eta(p["eta"])
    beta = float(V.positive("beta", p["beta"]).reshape(()))
    steps = check_steps(steps)
    batch = check_batch(batch)
    if not isinstance(problem, Problem):
        raise ParameterError(f"problem must be a Problem, not {type(problem).__name__}")
    return five_run(NAME, problem, {"eta": eta, "beta": beta, "batch": batch, "seed": seed},
                    eta=eta, steps=steps, seed=seed, batch=batch, stepping=stepping, beta=beta,
                    grid=grid, estimator=estimator)
