r"""Dynamics on the mixture parameters θ = (w, μo, μn): gradient flow, gradient descent, EM.

Any objective exposing ``grad(w, mu_old, mu_new) -> (..., 3)`` can be driven. Two
parametrisations of the weight are supported:

* ``"raw"``: the flow :math:`\dot w = -\partial_w L` (integrated in the coordinate
  :math:`\log w`, the *same* trajectory, so the solver cannot step outside (0, 1) while w decays
  exponentially);
* ``"logit"``: gradient flow in :math:`u = \operatorname{logit} w`,
  :math:`\dot u = -\partial_u L = -w(1-w)\,\partial_w L` — a *different* flow.

Means move by :math:`\dot\mu = -\partial_\mu L` unless frozen with ``free``.

Five-parameter training states θ = (w, μo, σo, μn, σn) with learned or fixed scales, raw
(clipped) or logit weight steps and per-parameter learning-rate multipliers: :class:`Stepping`
and :func:`descend_state` (from :mod:`symforget.training.stepping`; the estimators they step
along are in :mod:`symforget.training.estimators`); K-component students as a
:class:`~symforget.kmix.Mixture` stepped along the exact KL gradient: :func:`descend_mixture`
(:mod:`symforget.training.kstate`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.integrate import solve_ivp

from . import model
from .errors import ParameterError, SymforgetError
from .numeric import validate as V
from .numeric.progress import report_steps
from .training.kstate import descend_mixture
from .training.stepping import PARAM_NAMES, Stepping
from .training.stepping import descend as descend_state

__all__ = [
    "Objective",
    "Trajectory",
    "fkl_objective",
    "rkl_objective",
    "gradient_flow",
    "gradient_descent",
    "iterate",
    "PARAM_NAMES",
    "Stepping",
    "descend_state",
    "descend_mixture",
]

Param = Literal["raw", "logit"]


@dataclass(frozen=True)
class Objective:
    """An objective on θ = (w, μo, μn): ``loss`` and ``grad`` take (w, μo, μn) arrays.

    Examples
    --------
    >>> from symforget.dynamics import rkl_objective
    >>> obj = rkl_objective(0.3, -1.0, 1.0)
    >>> obj.name
    'RKL(alpha=0.3, targets=(-1.0, 1.0))'
    >>> float(obj.loss(0.3, -1.0, 1.0)), float(abs(obj.grad(0.3, -1.0, 1.0)).max())  # at θ*
    (0.0, 0.0)
    """

    name: str
    loss: Callable[..., np.ndarray]
    grad: Callable[..., np.ndarray]
    hessian: Callable[..., np.ndarray] | None = None


def fkl_objective(data_mean: float, *, sigma: float = 1.0, replay: float = 0.0,
                  replay_mean: float | None = None) -> Objective:
    """KL(P_train ‖ q_θ), P_train = (1 − replay) N(data_mean) + replay N(replay_mean).

    Examples
    --------
    With the old component 40σ from the data its responsibilities vanish, and
    ∂L_F/∂w = (w − E_P[r_o])/(w(1 − w)) (claim ``fkl.em_identity``) is 1/(1 − w); the loss is
    −log(1 − w):

    >>> import math
    >>> from symforget.dynamics import fkl_objective
    >>> obj = fkl_objective(0.0)
    >>> math.isclose(float(obj.grad(0.3, -40.0, 0.0)[0]), 1 / 0.7, rel_tol=1e-14)
    True
    >>> math.isclose(float(obj.loss(0.3, -40.0, 0.0)), -math.log(0.7), rel_tol=1e-14)
    True
    """
    kw: dict[str, Any] = dict(data_mean=data_mean, sigma=sigma, replay=replay,
                              replay_mean=replay_mean)
    model.fkl_grad(0.5, 0.0, 0.0, **kw)  # validate once, early
    return Objective(
        f"FKL(data={data_mean}, replay={replay})",
        lambda w, mo, mn: model.fkl_loss(w, mo, mn, **kw),
        lambda w, mo, mn: model.fkl_grad(w, mo, mn, **kw),
        lambda w, mo, mn: model.fkl_hessian(w, mo, mn, **kw),
    )


def rkl_objective(alpha: float, target_old: float, target_new: float, *,
                  sigma: float = 1.0) -> Objective:
    """KL(q_θ ‖ p*), p* = α N(target_old) + (1 − α) N(target_new).

    Examples
    --------
    At θ* the loss and the gradient vanish and the Hessian is the Fisher information (claims
    ``rkl.global_optimum``, ``rkl.local_geometry``):

    >>> import numpy as np
    >>> import symforget as sf
    >>> from symforget.dynamics import rkl_objective
    >>> obj = rkl_objective(0.3, -1.0, 1.0)
    >>> float(obj.loss(0.3, -1.0, 1.0)), float(abs(obj.grad(0.3, -1.0, 1.0)).max())
    (0.0, 0.0)
    >>> bool(np.allclose(obj.hessian(0.3, -1.0, 1.0), sf.fisher_matrix(0.3, -1.0, 1.0),
    ...                  rtol=1e-12, atol=1e-14))
    True
    """
    kw: dict[str, Any] = dict(alpha=alpha, target_old=target_old, target_new=target_new,
                              sigma=sigma)
    model.rkl_grad(0.5, 0.0, 0.0, **kw)
    return Objective(
        f"RKL(alpha={alpha}, targets=({target_old}, {target_new}))",
        lambda w, mo, mn: model.rkl_loss(w, mo, mn, **kw),
        lambda w, mo, mn: model.rkl_grad(w, mo, mn, **kw),
        lambda w, mo, mn: model.rkl_hessian(w, mo, mn, **kw),
    )


@dataclass(frozen=True)
class Trajectory:
    """Times ``t`` (n,) and states ``theta`` (n, 3) = (w, μo, μn).

    Examples
    --------
    >>> from symforget.dynamics import fkl_objective, gradient_descent
    >>> traj = gradient_descent(fkl_objective(0.0), (0.5, -40.0, 0.0), 0.1, 2,
    ...                         free=(True, False, False))
    >>> traj.t.tolist(), traj.theta.shape
    ([0.0, 1.0, 2.0], (3, 3))
    >>> [round(float(w), 12) for w in traj.w], traj.final.tolist()[1:]
    ([0.5, 0.3, 0.157142857143], [-40.0, 0.0])
    """

    t: np.ndarray
    theta: np.ndarray

    @property
    def w(self) -> np.ndarray:
        """Old weight along the trajectory."""
        return self.theta[:, 0]

    @property
    def final(self) -> np.ndarray:
        """Last state."""
        return self.theta[-1]


def _check_theta0(theta0: Sequence[float]) -> np.ndarray:
    th = np.asarray(theta0, dtype=np.float64)
    if th.shape != (3,):
        raise ParameterError(f"theta0 must be (w, mu_old, mu_new), got shape {th.shape}")
    V.open_unit("w", th[0])
    V.finite("theta0", th)
    return th


def _free_mask(free: Sequence[bool]) -> np.ndarray:
    m = np.asarray(free, dtype=bool)
    if m.shape != (3,):
        raise ParameterError("free must have three booleans (w, mu_old, mu_new)")
    return m


def gradient_flow(
    objective: Objective,
    theta0: Sequence[float],
    t_end: float,
    *,
    param: Param = "raw",
    free: Sequence[bool] = (True, True, True),
    t_eval: np.ndarray | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> Trajectory:
    r"""Integrate the gradient flow of ``objective`` from ``theta0`` to ``t_end``.

    ``param="raw"``: :math:`\dot w = -\partial_w L`; ``param="logit"``:
    :math:`\dot u = -w(1-w)\partial_w L` for :math:`u = \operatorname{logit} w`.
    Solved with LSODA (the raw flow is stiff near w = 0 when :math:`e^{\Delta^2}` is large).

    Examples
    --------
    Far-apart modes, data on the new one: ∂L_F/∂w = 1/(1 − w), so the raw flow
    ẇ = −1/(1 − w) has the closed form w_t = 1 − √((1 − w₀)² + 2t) (the mass law of claim
    ``fkl.mass_forgetting`` before the modes overlap); at w₀ = ½, t = 0.1: 1 − √0.45:

    >>> import math
    >>> from symforget.dynamics import fkl_objective, gradient_flow
    >>> traj = gradient_flow(fkl_objective(0.0), (0.5, -40.0, 0.0), 0.1,
    ...                      free=(True, False, False))
    >>> math.isclose(float(traj.final[0]), 1 - math.sqrt(0.45), rel_tol=1e-9)
    True

    Reverse KL with the means at the truth: w_t → α (claim ``rkl.weight_convergence``):

    >>> from symforget.dynamics import rkl_objective
    >>> traj = gradient_flow(rkl_objective(0.5, -2.0, 2.0), (0.1, -2.0, 2.0), 20.0,
    ...                      free=(True, False, False))
    >>> round(float(traj.final[0]), 8)
    0.5
    """
    th0 = _check_theta0(theta0)
    mask = _free_mask(free)
    if not (np.isfinite(t_end) and t_end > 0):
        raise ParameterError(f"t_end={t_end!r} must be a finite number > 0")
    if param not in ("raw", "logit"):
        raise ParameterError(f"param={param!r} must be 'raw' or 'logit'")

    def to_w(s0: float) -> float:
        return float(np.exp(s0)) if param == "raw" else float(1.0 / (1.0 + np.exp(-s0)))

    def rhs(_t: float, state: np.ndarray) -> np.ndarray:
        w = to_w(state[0])
        if not 0.0 < w < 1.0:
            raise SymforgetError(f"flow left (0, 1): w={w!r}; use param='logit'")
        g = objective.grad(w, state[1], state[2])
        d = -g * mask
        d0 = d[0] / w if param == "raw" else d[0] * w * (1.0 - w)
        return np.array([d0, d[1], d[2]])

    s0 = np.log(th0[0]) if param == "raw" else np.log(th0[0] / (1.0 - th0[0]))
    sol = solve_ivp(rhs, (0.0, float(t_end)), np.array([s0, th0[1], th0[2]]), method="LSODA",
                    t_eval=t_eval, rtol=rtol, atol=atol)
    if not sol.success:
        raise SymforgetError(f"gradient flow failed: {sol.message}")
    ws = np.array([to_w(v) for v in sol.y[0]])
    return Trajectory(sol.t, np.column_stack([ws, sol.y[1], sol.y[2]]))


def gradient_descent(
    objective: Objective,
    theta0: Sequence[float],
    eta: float,
    steps: int,
    *,
    param: Param = "raw",
    free: Sequence[bool] = (True, True, True),
) -> Trajectory:
    r"""Gradient descent θ ← θ − η ∇L (in w, or in logit w with ``param="logit"``).

    A raw-w step that leaves (0, 1) raises :class:`~symforget.errors.SymforgetError` (the step
    size violates the stability condition there) instead of clipping silently.

    Examples
    --------
    The raw step w' = w − η/(1 − w) on far-apart modes (data on the new one): from ½ with
    η = 0.1, w₁ = 0.3 and w₂ = 0.3 − 0.1/0.7:

    >>> from symforget.dynamics import fkl_objective, gradient_descent
    >>> traj = gradient_descent(fkl_objective(0.0), (0.5, -40.0, 0.0), 0.1, 2,
    ...                         free=(True, False, False))
    >>> abs(float(traj.w[2]) - (0.3 - 0.1 / 0.7)) < 1e-15
    True
    """
    th = _check_theta0(theta0)
    mask = _free_mask(free)
    if not (np.isfinite(eta) and eta > 0):
        raise ParameterError(f"eta={eta!r} must be a finite number > 0")
    if int(steps) != steps or steps < 0:
        raise ParameterError(f"steps={steps!r} must be a non-negative integer")
    out = np.empty((int(steps) + 1, 3))
    out[0] = th
    for k in range(int(steps)):
        g = objective.grad(th[0], th[1], th[2]) * mask
        new = th - eta * g
        if param == "logit":
            u = np.log(th[0] / (1.0 - th[0])) - eta * g[0] * th[0] * (1.0 - th[0])
            new[0] = 1.0 / (1.0 + np.exp(-u))
        if not 0.0 < new[0] < 1.0:
            raise SymforgetError(
                f"gradient step {k} left (0, 1): w={new[0]!r} (eta={eta} too large here)")
        th = new
        out[k + 1] = th
        report_steps(k + 1, int(steps))
    return Trajectory(np.arange(int(steps) + 1, dtype=np.float64), out)


def iterate(
    step: Callable[[np.ndarray], np.ndarray], theta0: Sequence[float], steps: int
) -> Trajectory:
    """Iterate a map θ ← step(θ) (e.g. :func:`symforget.model.em_step` bound to its data).

    Examples
    --------
    EM with replay λ = 0.2 converges to w = λ with the means at the truth (claim
    ``replay.fkl_optimum``):

    >>> import symforget as sf
    >>> from symforget.dynamics import iterate
    >>> em = lambda th: sf.em_step(*th, data_mean=4.0, replay=0.2, replay_mean=0.0)
    >>> traj = iterate(em, (0.5, 0.0, 4.0), 50)
    >>> [round(float(v), 10) + 0.0 for v in traj.final]
    [0.2, 0.0, 4.0]
    """
    th = _check_theta0(theta0)
    if int(steps) != steps or steps < 0:
        raise ParameterError(f"steps={steps!r} must be a non-negative integer")
    out = np.empty((int(steps) + 1, 3))
    out[0] = th
    for k in range(int(steps)):
        th = np.asarray(step(th), dtype=np.float64)
        out[k + 1] = th
        report_steps(k + 1, int(steps))
    return Trajectory(np.arange(int(steps) + 1, dtype=np.float64), out)
