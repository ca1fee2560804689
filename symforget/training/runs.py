r"""Five-parameter method runs: θ = (w, μo, σo, μn, σn) stepped by a
:class:`~symforget.training.stepping.Stepping` along a named estimator, recorded as a
:class:`~symforget.methods.base.MethodRun` with Chen et al.'s measurements and the predictions of
the claims beside them.

Each method's loss and estimators (descent directions ĝ ≈ ∇_θ L):

* ``sft``: :math:`L = \mathrm{KL}(P_{\rm new}\Vert q_\theta)`, P_new = N(μn*, σn*²);
  ``exact`` or ``mc`` (B draws of P_new); ``replay``: the same with
  P_train = (1 − ρ) P_new + ρ P_old, P_old = N(μo*, σo*²);
* ``rkl``: :math:`L = \mathrm{KL}(q_\theta\Vert p^*)`; ``exact``, ``score`` or ``pathwise`` (B
  draws of q);
* ``chen-rl``: Chen et al.'s on-policy variant (:mod:`symforget.training.estimators`, ``chen``);
  ``exact`` is the expectation of their estimator.

Methods with an auxiliary state — SDFT's EMA teacher, OAPL's lagged policy, TTT-Discover's
reference and per-step β — step along a :class:`Direction` (:func:`run_direction`): an object
called once per step, in order, with θ_t, that keeps its auxiliary state and records the exact
expected direction at (θ_t, auxiliary state) beside the one it returns (sampled or exact). Their
directions are built in the methods' own modules (``sdft.five_direction``,
``tttd.five_direction``, ``oapl.five_direction``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from .. import model
from ..errors import ParameterError, SymforgetError
from . import estimators as E
from . import measures as M
from .stepping import Stepping, descend

__all__ = ["SAMPLED", "ALLOWED", "choose_estimator", "run_five", "theory", "Direction",
           "run_direction", "direction_estimator", "expected_direction"]

#: the default sampled estimator of each five-parameter method (``exact`` when batch is None)
SAMPLED: dict[str, str] = {"sft": "mc", "replay": "mc", "rkl": "score", "chen-rl": "chen"}
#: the estimators each five-parameter method can step along
ALLOWED: dict[str, tuple[str, ...]] = {"sft": ("exact", "mc"), "replay": ("exact", "mc"),
                                       "rkl": ("exact", "score", "pathwise"),
                                       "chen-rl": ("exact", "chen")}


def choose_estimator(method: str, batch: int | None, estimator: str | None) -> str:
    """The estimator of a run: ``estimator`` if given (checked against :data:`ALLOWED` and the
    batch: ``exact`` takes no batch, the sampled ones need one), else ``exact`` without a batch
    and :data:`SAMPLED` with one."""
    if estimator is None:
        return "exact" if batch is None else SAMPLED[method]
    if estimator not in ALLOWED[method]:
        raise ParameterError(f"estimator={estimator!r} is not available for {method}; choose "
                             f"one of {', '.join(ALLOWED[method])}")
    if estimator == "exact" and batch is not None:
        raise ParameterError(f"estimator 'exact' uses expectations: drop the batch ({batch}) "
                             "or give batch 0 on the command line")
    if estimator != "exact" and batch is None:
        raise ParameterError(f"estimator {estimator!r} draws samples: give a batch >= 1")
    return estimator


def expected_direction(fn: Any, sampled: bool) -> np.ndarray:
    """``fn()``, the exact expected direction at this step. In a sampled run it only feeds the
    theory, so a state where it cannot be evaluated (a :class:`~symforget.errors.SymforgetError`
    such as a PrecisionError of a diverged run, or an arithmetic error) records NaNs instead of
    stopping the run; in an exact run the error propagates."""
    if not sampled:
        return np.asarray(fn(), dtype=np.float64)
    try:
        return np.asarray(fn(), dtype=np.float64)
    except (SymforgetError, ArithmeticError, ValueError):
        return np.full(5, np.nan)


def direction_estimator(method: str, batch: int | None, estimator: str | None, sampled: str,
                        chosen_by: str) -> str:
    """The estimator of a :class:`Direction` run: ``exact`` without a batch, the method's own
    finite-batch estimator ``sampled`` (chosen by its parameter ``chosen_by``) with one;
    ``estimator`` may only confirm ``exact`` (ParameterError otherwise, naming what is
    supported)."""
    if estimator not in (None, "exact"):
        raise ParameterError(f"estimator={estimator!r} is not available for {method}: its "
                             "five-parameter run takes 'exact' (batch 0) or, with a batch, its "
                             f"own finite-batch estimator (here {sampled!r}, set by {chosen_by})")
    if estimator == "exact" and batch is not None:
        raise ParameterError(f"estimator 'exact' uses expectations: drop the batch ({batch}) "
                             "or give batch 0 on the command line")
    return "exact" if batch is None else sampled


def _grad(method: str, estimator: str, problem: Any, batch: int | None,
          beta: float | None, rho: float = 0.0) -> E.Grad:
    target = problem.target
    if method in ("sft", "replay"):
        replay = (rho, target.mu_old, target.sigma_old) if method == "replay" else None
        return E.estimator(estimator, batch=batch, data=(target.mu_new, target.sigma_new),
                           replay=replay)
    if method == "rkl":
        return E.estimator(estimator, batch=batch, target=target)
    if method == "chen-rl":
        return E.estimator(estimator, batch=batch, target=target, beta=beta)
    raise ParameterError(f"method {method!r} has no five-parameter run")


def _gap(sim: float, pred: float) -> float | None:
    """|sim − pred| / max(|sim|, |pred|) (None when both are 0)."""
    scale = max(abs(sim), abs(pred))
    return None if scale == 0.0 else abs(sim - pred) / scale


def _forces(method: str, problem: Any, states: np.ndarray, beta: float | None,
            rho: float = 0.0) -> np.ndarray:
    """Exact expected gradients at each row of ``states`` (n, 5); the reverse KL in one
    vectorised call of :func:`symforget.rkl_grad`."""
    if method == "rkl":
        t = problem.target
        return np.asarray(model.rkl_grad(
            states[:, 0], states[:, 1], states[:, 3], alpha=t.alpha, target_old=t.mu_old,
            target_new=t.mu_new, sigma_old=states[:, 2], sigma_new=states[:, 4],
            target_sigma_old=t.sigma_old, target_sigma_new=t.sigma_new, with_scales=True),
            dtype=np.float64).reshape(len(states), 5)
    exact = _grad(method, "exact", problem, None, beta, rho)
    rng = np.random.default_rng(0)  # unused by the exact estimators
    return np.array([exact(s, rng) for s in states]).reshape(len(states), 5)


def theory(method: str, problem: Any, stepping: Stepping, eta: float, states: np.ndarray,
           beta: float | None = None, rho: float = 0.0) -> dict[str, Any]:
    r"""What the claims predict for this run, beside what it did.

    For ``sft``: the mass law (``fkl.em_identity`` with vanishing old responsibilities) — the
    mass-law map iterated T times and, for raw w, its flow closed form
    :math:`w_T = 1 - \sqrt{(1-w_0)^2 + 2\eta m_w T}` — against the simulated w_T, with relative
    gaps; the largest mean old responsibility :math:`\mathbb E_P[r_o]` along the run (from the
    exact ∂_w L_F) says how well "responsibilities vanish" holds. For every method: the
    old-mean displacement that the *exact expected* force predicts along the run's own
    trajectory, :math:`-\eta m_{\mu_o}\sum_t \partial_{\mu_o}L(\theta_t)` (for ``chen-rl`` the
    expectation of their estimator, and also the exact reverse-KL misassignment force towards
    p*), against the simulated μo_T − μo_0.
    """
    th = np.asarray(states, dtype=np.float64)
    steps = len(th) - 1
    m = stepping.multipliers
    forces = _forces(method, problem, th[:-1], beta, rho)
    pred_move = float(-eta * m[1] * forces[:, 1].sum())
    sim_move = float(th[-1, 1] - th[0, 1])
    out: dict[str, Any] = {"old_mean_move": {
        "predicted_by_exact_force": pred_move, "simulated": sim_move,
        "relative_gap": _gap(sim_move, pred_move)}}
    if method == "chen-rl":
        # the exact reverse KL towards p* on the same trajectory: its old-mean force is the
        # misassignment force of claim rkl (overlap-gated)
        f_rkl = _forces("rkl", problem, th[:-1], None)
        pred_rkl = float(-eta * m[1] * f_rkl[:, 1].sum())
        out["old_mean_move"].update({"predicted_by_exact_rkl_force": pred_rkl,
                                     "relative_gap_rkl": _gap(sim_move, pred_rkl)})
    if method in ("sft", "replay"):
        rate = eta * m[0]
        w_sim = float(th[-1, 0])
        mapped = M.mass_law_map(th[0, 0], rate, steps, weight_param=stepping.weight_param,
                                clip=stepping.clip, rho=rho)
        ro = max((M.old_responsibility(s[0], g[0]) for s, g in zip(th[:-1], forces,
                                                                    strict=True)), default=0.0)
        law: dict[str, Any] = {"w_T_map": float(mapped[-1]), "w_T_simulated": w_sim,
                               "relative_gap_map": _gap(w_sim, float(mapped[-1])),
                               "max_mean_old_responsibility": float(ro)}
        if stepping.weight_param == "raw" and rho == 0.0:
            flow = float(M.mass_law_flow(th[0, 0], rate, steps))
            law.update({"w_T_flow": flow, "relative_gap_flow": _gap(w_sim, flow)})
        out["mass_law"] = law
    return out


def run_five(method: str, problem: Any, *, eta: float, steps: int, seed: int,
             batch: int | None, stepping: Stepping | None, beta: float | None = None,
             grid: tuple[float, float, int] | None = None, with_theory: bool = True,
             estimator: str | None = None, rho: float = 0.0
             ) -> tuple[np.ndarray, dict[str, Any]]:
    """Run ``method`` on the five-parameter state from ``problem.state0``.

    Returns the trajectory θ_t, t = 0..steps (shape (steps + 1, 5)), and a report: the
    estimator's name (:func:`choose_estimator`), the stepping,
    the overlaps with gain/drop on ``grid``, and (``with_theory``) :func:`theory`.
    """
    st = Stepping() if stepping is None else stepping
    if not isinstance(st, Stepping):
        raise ParameterError(f"stepping={stepping!r} must be a "
                             "symforget.training.stepping.Stepping")
    name = choose_estimator(method, batch, estimator)
    grad = _grad(method, name, problem, batch, beta, rho)
    states = descend(grad, problem.state0, eta, steps, st, np.random.default_rng(seed))
    report: dict[str, Any] = {"estimator": name, "stepping": st.as_dict(),
                              "stepping_text": st.describe()}
    report.update(M.overlaps(states, problem.target, grid))
    report["at_gain_0.9"] = M.at_gain(states, problem.target, 0.9, grid)
    report["overlap_grid"] = list(M.DEFAULT_GRID if grid is None else grid)
    if with_theory:
        report["theory"] = theory(method, problem, st, eta, states, beta, rho)
    return states, report


class Direction(Protocol):
    """A method's descent direction with auxiliary state (see the module docstring).

    ``name`` is the estimator's name (``exact`` or the method's sampled estimator), ``eta`` the
    step size handed to the :class:`~symforget.training.stepping.Stepping`, ``expected`` the
    exact expected direction at each step's (θ_t, auxiliary state), appended by ``__call__``.
    """

    name: str
    eta: float
    expected: list[np.ndarray]

    def __call__(self, state: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def run_direction(method: str, problem: Any, direction: Direction, *, steps: int, seed: int,
                  stepping: Stepping | None, grid: tuple[float, float, int] | None = None
                  ) -> tuple[np.ndarray, dict[str, Any]]:
    r"""Run a method that steps along a stateful :class:`Direction` from ``problem.state0``.

    Returns θ_t, t = 0..steps (shape (steps + 1, 5)), and the same report as
    :func:`run_five`: estimator, stepping, overlaps with drop/gain on ``grid``, the first step
    with gain ≥ 0.9, and the theory beside the simulation — the old-mean displacement that the
    *exact expected* direction predicts along the run's own trajectory,
    :math:`-\eta m_{\mu_o}\sum_t \hat g^{\rm exact}_{\mu_o}(\theta_t)`, against the simulated
    μo_T − μo_0 (equal for a population run; the effect of sampling for a finite batch).
    """
    st = Stepping() if stepping is None else stepping
    if not isinstance(st, Stepping):
        raise ParameterError(f"stepping={stepping!r} must be a "
                             "symforget.training.stepping.Stepping")
    states = descend(direction, problem.state0, direction.eta, steps, st,
                     np.random.default_rng(seed))
    report: dict[str, Any] = {"estimator": direction.name, "stepping": st.as_dict(),
                              "stepping_text": st.describe()}
    report.update(M.overlaps(states, problem.target, grid))
    report["at_gain_0.9"] = M.at_gain(states, problem.target, 0.9, grid)
    report["overlap_grid"] = list(M.DEFAULT_GRID if grid is None else grid)
    forces = np.asarray(direction.expected, dtype=np.float64).reshape(-1, 5)
    sim = float(states[-1, 1] - states[0, 1])
    missing = int(np.sum(~np.isfinite(forces[:, 1])))
    pred = None if missing else float(-direction.eta * st.multipliers[1] * forces[:, 1].sum())
    move: dict[str, Any] = {
        "predicted_by_exact_force": pred, "simulated": sim,
        "relative_gap": None if pred is None else _gap(sim, pred),
        "predicted_by": getattr(direction, "label", "the exact expected force")}
    if missing:
        move["unavailable_steps"] = missing
    report["theory"] = {"old_mean_move": move}
    return states, report
