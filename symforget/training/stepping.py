r"""How the five parameters of a two-component student are stepped: the training state
θ = (w, μo, σo, μn, σn), the weight parametrisation, clipping, per-parameter learning-rate
multipliers and whether the scales learn.

One update from a gradient estimate :math:`\hat g = \widehat{\nabla_\theta L}` (five entries,
scales as σ themselves, not log σ) with step size η and multipliers :math:`m_i`:

* ``weight_param="raw"``: :math:`w' = \operatorname{clip}(w - \eta m_w \hat g_w, lo, hi)`; without
  ``clip`` a step leaving (0, 1) raises :class:`~symforget.errors.SymforgetError` (never a silent
  NaN);
* ``weight_param="logit"``: :math:`u' = u - \eta m_w w(1-w)\hat g_w`, u = logit w, clipped to
  [−600, 36] so that w stays a positive double below 1 (expit(36) = 1 − 2.3e-16; at u ≥ 37 it
  rounds to 1);
* means: :math:`\mu' = \mu - \eta m_\mu \hat g_\mu`;
* scales (``learn_scales=True``): :math:`\sigma' = \max(\sigma - \eta m_\sigma \hat g_\sigma,
  \text{scale\_floor})`; without ``scale_floor`` a scale reaching ≤ 0 raises. With
  ``learn_scales=False`` the scales keep their start values.

All five entries use the gradient at the *pre-step* state (a simultaneous update).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import ParameterError, SymforgetError
from ..numeric.progress import report_steps

__all__ = ["PARAM_NAMES", "Stepping", "parse_lr_scale", "parse_clip", "check_state", "descend"]

#: the five entries of the training state, in this order everywhere
PARAM_NAMES: tuple[str, ...] = ("w", "mu_old", "sigma_old", "mu_new", "sigma_new")

WeightParam = Literal["raw", "logit"]


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} must be a real number")
    out = float(value)
    if not math.isfinite(out):
        raise ParameterError(f"{name}={value!r} must be finite")
    return out


@dataclass(frozen=True)
class Stepping:
    """The stepping conventions of a run (see the module docstring for the update).

    Parameters
    ----------
    weight_param : {"raw", "logit"}
        Coordinate in which the weight w takes its gradient step.
    clip : (lo, hi) or None
        Raw w is clipped to [lo, hi] after each step, 0 < lo < hi < 1 (only with ``"raw"``).
    lr_scale : mapping
        Multipliers m_i > 0 of the step size per parameter name in :data:`PARAM_NAMES`
        (missing names: 1).
    learn_scales : bool
        Whether σo, σn take gradient steps.
    scale_floor : float or None
        Scales are floored at this value > 0 after each step (None: reaching ≤ 0 raises).

    Examples
    --------
    Chen et al. 2025's conventions (``--preset chen2025``): a raw, clipped weight step at
    0.005 times the learning rate:

    >>> from symforget.dynamics import Stepping
    >>> st = Stepping(weight_param="raw", clip=(1e-3, 1 - 1e-3), lr_scale={"w": 0.005},
    ...               learn_scales=True, scale_floor=1e-3)
    >>> st.describe()
    'weight raw, clip [0.001, 0.999], lr x w=0.005, scales learned, floor 0.001'
    >>> st.multipliers.tolist()
    [0.005, 1.0, 1.0, 1.0, 1.0]
    >>> st.step([0.5, 0.0, 1.0, 4.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0], 0.1).tolist()
    [0.4995, 0.0, 1.0, 4.0, 1.0]
    """

    weight_param: WeightParam = "logit"
    clip: tuple[float, float] | None = None
    lr_scale: Mapping[str, float] = field(default_factory=dict)
    learn_scales: bool = False
    scale_floor: float | None = None

    def __post_init__(self) -> None:
        if self.weight_param not in ("raw", "logit"):
            raise ParameterError(f"weight_param={self.weight_param!r} must be 'raw' or 'logit'")
        if self.clip is not None:
            if self.weight_param != "raw":
                raise ParameterError("clip is only used with weight_param='raw' (logit steps "
                                     "cannot leave (0, 1))")
            try:
                lo, hi = self.clip
            except (TypeError, ValueError):
                raise ParameterError(f"clip={self.clip!r} must be a pair (lo, hi)") from None
            lo, hi = _real("clip lo", lo), _real("clip hi", hi)
            if not 0.0 < lo < hi < 1.0:
                raise ParameterError(f"clip=({lo}, {hi}) must satisfy 0 < lo < hi < 1")
            object.__setattr__(self, "clip", (lo, hi))
        if not isinstance(self.lr_scale, Mapping):
            raise ParameterError(f"lr_scale={self.lr_scale!r} must be a mapping name -> factor")
        scales = {}
        for k, v in self.lr_scale.items():
            if k not in PARAM_NAMES:
                raise ParameterError(f"lr_scale: unknown parameter {k!r}; known: "
                                     f"{', '.join(PARAM_NAMES)}")
            fv = _real(f"lr_scale[{k}]", v)
            if fv <= 0:
                raise ParameterError(f"lr_scale[{k}]={v!r} must be > 0")
            scales[k] = fv
        object.__setattr__(self, "lr_scale", dict(scales))
        if not isinstance(self.learn_scales, bool):
            raise ParameterError(f"learn_scales={self.learn_scales!r} must be True or False")
        if self.scale_floor is not None:
            f = _real("scale_floor", self.scale_floor)
            if f <= 0:
                raise ParameterError(f"scale_floor={self.scale_floor!r} must be > 0")
            object.__setattr__(self, "scale_floor", f)

    @property
    def multipliers(self) -> np.ndarray:
        """m_i in :data:`PARAM_NAMES` order (0 for the scales when they do not learn)."""
        m = np.array([self.lr_scale.get(n, 1.0) for n in PARAM_NAMES])
        if not self.learn_scales:
            m[2] = m[4] = 0.0
        return m

    def describe(self) -> str:
        """One line: parametrisation, clip, multipliers, scales."""
        parts = [f"weight {self.weight_param}"]
        if self.clip is not None:
            parts.append(f"clip [{self.clip[0]:g}, {self.clip[1]:g}]")
        if self.lr_scale:
            parts.append("lr x " + ",".join(f"{k}={v:g}" for k, v in self.lr_scale.items()))
        parts.append("scales learned" if self.learn_scales else "scales fixed")
        if self.learn_scales and self.scale_floor is not None:
            parts.append(f"floor {self.scale_floor:g}")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"weight_param": self.weight_param,
                "clip": None if self.clip is None else list(self.clip),
                "lr_scale": dict(self.lr_scale), "learn_scales": self.learn_scales,
                "scale_floor": self.scale_floor}

    def step(self, state: np.ndarray, grad: np.ndarray, eta: float, k: int = 0) -> np.ndarray:
        """θ after one step from ``state`` along the gradient estimate ``grad`` (both (5,))."""
        g = np.asarray(grad, dtype=np.float64)
        if g.shape != (5,) or not np.all(np.isfinite(g)):
            raise SymforgetError(f"step {k}: gradient estimate {g!r} is not five finite numbers")
        m = self.multipliers
        new = state - eta * m * g
        w = float(state[0])
        if self.weight_param == "logit":
            u = math.log(w / (1.0 - w)) - eta * m[0] * w * (1.0 - w) * g[0]
            u = min(max(u, -600.0), 36.0)
            new[0] = 1.0 / (1.0 + math.exp(-u))
        elif self.clip is not None:
            new[0] = min(max(new[0], self.clip[0]), self.clip[1])
        elif not 0.0 < new[0] < 1.0:
            raise SymforgetError(f"raw-w step {k} left (0, 1): w={float(new[0])!r} (eta={eta} "
                                 "too large here; give a clip interval or use "
                                 "weight_param='logit')")
        for i in (2, 4):
            if self.scale_floor is not None:
                new[i] = max(new[i], self.scale_floor)
            elif not new[i] > 0.0:
                raise SymforgetError(f"step {k}: scale {PARAM_NAMES[i]} reached "
                                     f"{float(new[i])!r} <= 0 (give a scale floor or a "
                                     "smaller step)")
        return new


def parse_lr_scale(text: str) -> dict[str, float]:
    """``"mu_old=0.005,w=0.005"`` → ``{"mu_old": 0.005, "w": 0.005}`` (plain float parsing)."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in str(text).split(","))):
        name, sep, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in PARAM_NAMES:
            raise ParameterError(f"--lr-scale item {item!r} must be NAME=FACTOR with NAME one of "
                                 f"{', '.join(PARAM_NAMES)}")
        try:
            fv = float(value)
        except ValueError:
            raise ParameterError(f"--lr-scale {name}={value!r}: not a number") from None
        if not (math.isfinite(fv) and fv > 0):
            raise ParameterError(f"--lr-scale {name}={value!r} must be a finite number > 0")
        out[name] = fv
    return out


def parse_clip(text: str) -> tuple[float, float]:
    """``"0.001,0.999"`` → (0.001, 0.999) (validated by :class:`Stepping`)."""
    parts = [s.strip() for s in str(text).split(",")]
    if len(parts) != 2:
        raise ParameterError(f"--clip {text!r} must be LO,HI (e.g. 0.001,0.999)")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise ParameterError(f"--clip {text!r}: LO and HI must be numbers") from None
    if not 0.0 < lo < hi < 1.0:
        raise ParameterError(f"--clip {text!r} must satisfy 0 < LO < HI < 1")
    return lo, hi


def check_state(state: Any) -> np.ndarray:
    """θ = (w, μo, σo, μn, σn) as a float array, w ∈ (0, 1), σ > 0, all finite."""
    th = np.asarray(state, dtype=np.float64)
    if th.shape != (5,):
        raise ParameterError(f"state must be (w, mu_old, sigma_old, mu_new, sigma_new), got "
                             f"shape {th.shape}")
    if not np.all(np.isfinite(th)):
        raise ParameterError(f"state {th.tolist()} must be finite")
    if not 0.0 < th[0] < 1.0:
        raise ParameterError(f"state w={th[0]!r} must be in (0, 1)")
    if not (th[2] > 0 and th[4] > 0):
        raise ParameterError(f"state scales sigma_old={th[2]!r}, sigma_new={th[4]!r} must be > 0")
    return th


def descend(grad: Callable[[np.ndarray, np.random.Generator], np.ndarray], state0: Any,
            eta: float, steps: int, stepping: Stepping,
            rng: np.random.Generator | None = None) -> np.ndarray:
    r"""Iterate θ ← ``stepping.step``(θ, grad(θ, rng), η) ``steps`` times.

    ``grad(θ, rng)`` returns a (5,) gradient estimate (exact or sampled). Returns θ_t for
    t = 0..steps, shape (steps + 1, 5).

    Examples
    --------
    With the exact forward-KL weight gradient 1/(1 − w) of far-apart modes, raw steps follow
    the mass law w' = w − η/(1 − w):

    >>> import numpy as np
    >>> from symforget.dynamics import Stepping, descend_state
    >>> grad = lambda th, rng: np.array([1 / (1 - th[0]), 0.0, 0.0, 0.0, 0.0])
    >>> out = descend_state(grad, (0.5, 0.0, 1.0, 4.0, 1.0), 0.1, 2, Stepping(weight_param="raw"))
    >>> out.shape, [round(float(w), 12) for w in out[:, 0]]
    ((3, 5), [0.5, 0.3, 0.157142857143])
    """
    th = check_state(state0)
    eta = _real("eta", eta)
    if eta <= 0:
        raise ParameterError(f"eta={eta!r} must be > 0")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ParameterError(f"steps={steps!r} must be an integer >= 0")
    rng = np.random.default_rng(0) if rng is None else rng
    out = np.empty((int(steps) + 1, 5))
    out[0] = th
    for k in range(int(steps)):
        th = stepping.step(th, grad(th, rng), eta, k)
        out[k + 1] = th
        report_steps(k + 1, int(steps))
    return out
