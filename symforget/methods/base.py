r"""Shared vocabulary of the method update maps: the problem and the run record.

Every method (SFT/FKL, RKL, replay, SDFT, TTT-Discover, OAPL) acts on the same two-mode
problem (CLAIMS.md §0, whitened 1-D units unless ``sigma`` is given):

* target / tasks: :math:`P_{old} = N(\mu_o^*, \sigma^2)`, :math:`P_{new} = N(\mu_n^*, \sigma^2)`,
  :math:`p^* = \alpha P_{old} + (1-\alpha) P_{new}`;
* student at the start of post-training: :math:`q_0 = w_0 N(\mu_{o,0}, s_{o,0}^2)
  + (1-w_0) N(\mu_{n,0}, s_{n,0}^2)`; by default the old component is correct
  (:math:`\mu_{o,0} = \mu_o^*`, :math:`s_{o,0} = \sigma`) and the new one is not yet learned.

A method run returns a :class:`MethodRun`: the trajectory of the student parameters with
per-component standard deviations (tilt-based maps change the variances; the equal-variance
methods report :math:`s_o = s_n = \sigma`). :meth:`MethodRun.summary` gives what the comparison
table shows: final old weight, maximal old-mean drift :math:`\max_t |\mu_{o,t} - \mu_o^*|/\sigma`,
and the new-task error :math:`|\mu_{n,T} - \mu_n^*|/\sigma`; ``max_old_move``
:math:`\max_t |\mu_{o,t} - \mu_{o,0}|/\sigma` measures the drift from the *starting* old mean
(the drift above also counts an initial offset μo,0 ≠ μo*).

Five-parameter runs — every method (``sft``, ``rkl``, ``replay``, ``sdft``, ``tttd``,
``oapl``, ``chen-rl``) given a stepping, an overlap grid, an estimator or component scales;
:mod:`symforget.training.runs` — fill :attr:`MethodRun.report`: estimator, stepping, overlaps
with drop/gain, and the theory printed beside the simulation. ``sft``, ``rkl``, ``replay`` and
``chen-rl`` step along a named gradient estimator; ``sdft`` (EMA teacher), ``tttd`` (adaptive
β, KL reference) and ``oapl`` (lagged policy) along a stateful direction
(:func:`symforget.training.runs.run_direction`) with the scales of every component in the
problem, the student, the teacher or the reference.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError
from ..numeric import validate as V
from ..numeric.progress import report_steps, step_progress

__all__ = ["Problem", "MethodRun", "require_equal_scales", "renamed_hint", "report_steps",
           "step_progress"]


def _real(name: str, value: Any) -> float:
    """``value`` as a float if it is one real number (Python or NumPy scalar); strings, bools,
    complex numbers, arrays and lists are refused, never converted."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} must be a real number (one scalar; not a "
                             f"{type(value).__name__})")
    out = float(value)
    if not math.isfinite(out):
        raise ParameterError(f"{name}={value!r} must be finite")
    return out


_SCALES = ("sigma_old_star", "sigma_new_star", "s_old0", "s_new0")
_OPTIONAL = ("mu_old0", "mu_new0", *_SCALES)


@dataclass(frozen=True)
class Problem:
    """The two-mode post-training problem shared by every method (see module docstring).

    ``mu_new0`` defaults to ``mu_new_star - 2 sigma`` (new task not yet learned). The
    per-component scales ``sigma_old_star``, ``sigma_new_star`` (target) and ``s_old0``,
    ``s_new0`` (student start) default to ``sigma``.
    """

    alpha: float = 0.5
    mu_old_star: float = 0.0
    mu_new_star: float = 4.0
    sigma: float = 1.0
    w0: float = 0.5
    mu_old0: float | None = None
    mu_new0: float | None = None
    sigma_old_star: float | None = None
    sigma_new_star: float | None = None
    s_old0: float | None = None
    s_new0: float | None = None

    def __post_init__(self) -> None:
        # every field one real scalar in its domain, stored as a Python float
        for name in ("alpha", "mu_old_star", "mu_new_star", "sigma", "w0", *_OPTIONAL):
            value = getattr(self, name)
            if value is not None or name not in _OPTIONAL:
                object.__setattr__(self, name, _real(name, value))
        V.open_unit("alpha", self.alpha)
        V.open_unit("w0", self.w0)
        V.positive("sigma", self.sigma)
        for name in _SCALES:
            if getattr(self, name) is not None:
                V.positive(name, getattr(self, name))

    @property
    def general(self) -> bool:
        """True when a component scale (target or start) is given and differs from σ: such a
        problem runs on the five-parameter state (every method has that run)."""
        return any(getattr(self, n) is not None and getattr(self, n) != self.sigma
                   for n in _SCALES)

    @property
    def scales(self) -> tuple[float, float, float, float]:
        """(σo*, σn*, s_o0, s_n0): target and start scales, each σ unless given."""
        return tuple(self.sigma if getattr(self, n) is None else float(getattr(self, n))
                     for n in _SCALES)  # type: ignore[return-value]

    @property
    def state0(self) -> tuple[float, float, float, float, float]:
        """Initial five-parameter state (w, μo, σo, μn, σn)."""
        w0, mo0, mn0 = self.theta0
        _, _, so0, sn0 = self.scales
        return w0, mo0, so0, mn0, sn0

    @property
    def target(self) -> Any:
        """p* as a :class:`symforget.training.estimators.Target` (α, μo*, σo*, μn*, σn*)."""
        from ..training.estimators import Target

        so, sn, _, _ = self.scales
        return Target(self.alpha, self.mu_old_star, so, self.mu_new_star, sn)

    @property
    def theta0(self) -> tuple[float, float, float]:
        """Initial (w, μo, μn)."""
        mo = self.mu_old_star if self.mu_old0 is None else self.mu_old0
        mn = self.mu_new_star - 2.0 * self.sigma if self.mu_new0 is None else self.mu_new0
        return float(self.w0), float(mo), float(mn)

    @property
    def delta(self) -> float:
        """Whitened separation Δ = |μn* − μo*|/σ of the target."""
        return abs(self.mu_new_star - self.mu_old_star) / self.sigma

    def as_dict(self) -> dict[str, float]:
        """The fields as floats (component scales only when given)."""
        w0, mo0, mn0 = self.theta0
        out = {"alpha": self.alpha, "mu_old_star": self.mu_old_star,
               "mu_new_star": self.mu_new_star, "sigma": self.sigma, "w0": w0,
               "mu_old0": mo0, "mu_new0": mn0}
        out.update({n: float(getattr(self, n)) for n in _SCALES if getattr(self, n) is not None})
        return out


def renamed_hint(unknown: set[str], renamed: dict[str, str]) -> str:
    """`` (renamed: old → new, …)`` for the unknown names that are old parameter names (issue
    15 renamed them after the methods' papers), else the empty string."""
    hits = [f"{k} -> {renamed[k]}" for k in sorted(unknown) if k in renamed]
    return f" (renamed after the paper: {', '.join(hits)})" if hits else ""


def require_equal_scales(problem: Problem, method: str) -> None:
    """Refuse a problem with per-component scales in a method that has no five-parameter run
    (kept for callers outside symforget; every method of :data:`symforget.methods.NAMES` has
    one, so none calls it)."""
    if problem.general:
        raise ParameterError(f"method {method!r} runs with one shared sigma only; component "
                             "scales (sigma_old_star, sigma_new_star, s_old0, s_new0) need a "
                             "method with a five-parameter run")


@dataclass(frozen=True)
class MethodRun:
    """Trajectory of one method run on a :class:`Problem`.

    Arrays have one entry per recorded step (index 0 is the start): ``w``, ``mu_old``,
    ``mu_new``, ``s_old``, ``s_new`` (component standard deviations).
    """

    method: str
    problem: Problem
    params: dict[str, Any]
    steps: np.ndarray
    w: np.ndarray
    mu_old: np.ndarray
    mu_new: np.ndarray
    s_old: np.ndarray
    s_new: np.ndarray
    extra: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.steps)
        for name in ("w", "mu_old", "mu_new", "s_old", "s_new"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ParameterError(f"MethodRun.{name} has shape {arr.shape}, expected ({n},)")
            if not np.all(np.isfinite(arr)):
                raise ParameterError(f"MethodRun.{name} contains non-finite values "
                                     f"({self.method}, params={self.params})")

    def summary(self) -> dict[str, float]:
        """Final old weight, max old-mean drift (from μo*) and move (from μo,0), new-task error
        and final scales (in units of σ)."""
        pb = self.problem
        return {
            "final_w": float(self.w[-1]),
            "min_w": float(np.min(self.w)),
            "max_old_drift": float(np.max(np.abs(self.mu_old - pb.mu_old_star)) / pb.sigma),
            "final_old_drift": float(abs(self.mu_old[-1] - pb.mu_old_star) / pb.sigma),
            "max_old_move": float(np.max(np.abs(self.mu_old - self.mu_old[0])) / pb.sigma),
            "new_error": float(abs(self.mu_new[-1] - pb.mu_new_star) / pb.sigma),
            "final_s_old": float(self.s_old[-1] / pb.sigma),
            "final_s_new": float(self.s_new[-1] / pb.sigma),
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record (finite floats only); ``report`` (five-parameter runs: estimator,
        stepping, overlaps, theory) only when present."""
        out = {
            "method": self.method,
            "problem": self.problem.as_dict(),
            "params": dict(self.params),
            "summary": self.summary(),
            "trajectory": {
                "step": [int(s) for s in self.steps],
                "w": [float(v) for v in self.w],
                "mu_old": [float(v) for v in self.mu_old],
                "mu_new": [float(v) for v in self.mu_new],
                "s_old": [float(v) for v in self.s_old],
                "s_new": [float(v) for v in self.s_new],
            },
        }
        if self.report:
            out["report"] = self.report
        return out


# --------------------------------------------------------------------------------------------
# progress of long runs: the hook lives in symforget.numeric.progress (dynamics reports through it
# too)
# report_steps, step_progress: imported above from symforget.numeric.progress and re-exported here
