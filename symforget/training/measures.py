r"""Measurements of a five-parameter run, and what the claims predict beside them.

Overlaps (Chen et al.'s accuracy proxy). For component k ∈ {old, new} with weighted target
component :math:`p_k = \pi_k N(\mu_k^*, \sigma_k^{*2})` (π_old = α, π_new = 1 − α) and weighted
student component :math:`q_k` (weights w, 1 − w),

.. math:: \mathrm{ov}_k = \int \min(p_k, q_k)\,dx \Big/ \int p_k\,dx ,

by the trapezoid rule on a stated grid (Chen et al.: linspace(−8, 8, 500), so the denominator
is the grid's ∫p_k, not π_k). Drop = ov_old(0) − ov_old(t), gain = ov_new(t) − ov_new(0).

Mass law (claim ``fkl.em_identity``): for SFT on new-task data
:math:`\partial_w L_F = (w - \mathbb E_P[r_o])/(w(1-w))`; while the old responsibilities of the
training data vanish, :math:`\partial_w L_F = 1/(1-w)` and a raw-w step with rate c = η m_w is
:math:`w' = w - c/(1-w)`. Its flow :math:`\dot w = -c/(1-w)` has the closed form
:math:`w_t = 1 - \sqrt{(1-w_0)^2 + 2ct}`; the map itself gives
:math:`(1-w_{t+1})^2 = (1-w_t)^2 + 2c + c^2/(1-w_t)^2`. In logit w the step is
:math:`u' = u - c\,w`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["DEFAULT_GRID", "overlaps", "overlap_series", "at_gain", "mass_law_flow",
           "mass_law_map",
           "old_responsibility"]

#: overlap grid (lo, hi, points) when a run states none: wide and fine
DEFAULT_GRID: tuple[float, float, int] = (-30.0, 30.0, 60001)


def _grid(grid: tuple[float, float, int] | None) -> np.ndarray:
    lo, hi, n = DEFAULT_GRID if grid is None else grid
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi and int(n) >= 2):
        raise ParameterError(f"grid={grid!r} must be (lo, hi, points) with lo < hi, points >= 2")
    return np.linspace(float(lo), float(hi), int(n))


def _wpdf(x: np.ndarray, weight: Any, mu: Any, s: Any) -> np.ndarray:
    weight, mu, s = (np.asarray(v, dtype=np.float64)[..., None] for v in (weight, mu, s))
    return weight * np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2.0 * math.pi))


def overlap_series(states: np.ndarray, target: Any,
                   grid: tuple[float, float, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ov_old, ov_new) for each row (w, μo, σo, μn, σn) of ``states`` (shape (n, 5))."""
    x = _grid(grid)
    th = np.atleast_2d(np.asarray(states, dtype=np.float64))
    p_old = _wpdf(x, target.alpha, target.mu_old, target.sigma_old)
    p_new = _wpdf(x, 1.0 - target.alpha, target.mu_new, target.sigma_new)
    q_old = _wpdf(x, th[:, 0], th[:, 1], th[:, 2])
    q_new = _wpdf(x, 1.0 - th[:, 0], th[:, 3], th[:, 4])
    ov_old = np.trapezoid(np.minimum(p_old, q_old), x, axis=-1) / np.trapezoid(p_old, x, axis=-1)
    ov_new = np.trapezoid(np.minimum(p_new, q_new), x, axis=-1) / np.trapezoid(p_new, x, axis=-1)
    return ov_old, ov_new


def overlaps(states: np.ndarray, target: Any,
             grid: tuple[float, float, int] | None = None) -> dict[str, float]:
    """Overlaps at the start and the end, Chen et al.'s drop and gain."""
    th = np.atleast_2d(np.asarray(states, dtype=np.float64))
    o, n = overlap_series(th[[0, -1]], target, grid)
    return {"overlap_old0": float(o[0]), "overlap_new0": float(n[0]),
            "overlap_old": float(o[1]), "overlap_new": float(n[1]),
            "drop": float(o[0] - o[1]), "gain": float(n[1] - n[0])}


def at_gain(states: np.ndarray, target: Any, threshold: float = 0.9,
            grid: tuple[float, float, int] | None = None) -> dict[str, Any]:
    """The first step t ≥ 1 whose gain reaches ``threshold`` (None if none does) with the drop
    and gain there — what Chen et al.'s figure shows (``--gain_thresholds 0.9``)."""
    th = np.atleast_2d(np.asarray(states, dtype=np.float64))
    o, n = overlap_series(th, target, grid)
    gain, drop = n - n[0], o[0] - o
    hit = np.nonzero(gain[1:] >= threshold)[0]
    if not len(hit):
        return {"threshold": float(threshold), "step": None, "drop": None, "gain": None}
    t = int(hit[0]) + 1
    return {"threshold": float(threshold), "step": t, "drop": float(drop[t]),
            "gain": float(gain[t])}


def mass_law_flow(w0: float, rate: float, t: Any) -> np.ndarray:
    r"""Raw-w mass law, flow form: :math:`w_t = 1 - \sqrt{(1-w_0)^2 + 2\,\text{rate}\,t}`."""
    return 1.0 - np.sqrt((1.0 - w0) ** 2 + 2.0 * rate * np.asarray(t, dtype=np.float64))


def mass_law_map(w0: float, rate: float, steps: int, *, weight_param: str = "raw",
                 clip: tuple[float, float] | None = None, rho: float = 0.0) -> np.ndarray:
    r"""The mass-law map iterated ``steps`` times with the mean old responsibility equal to the
    replayed fraction ρ (``fkl.em_identity`` when every replayed draw is assigned to the old
    component and every new draw to the new one): raw
    :math:`w' = w - c\,(w-ho)/(w(1-w))` (clipped to ``clip`` if given), logit
    :math:`u' = u - c\,(w-ho)`; ρ = 0 gives :math:`w - c/(1-w)` and :math:`u - cw`.
    Returns w_0..w_steps."""
    out = np.empty(int(steps) + 1)
    w = float(w0)
    out[0] = w
    for k in range(int(steps)):
        if weight_param == "logit":
            u = math.log(w / (1.0 - w)) - rate * (w - rho)
            w = 1.0 / (1.0 + math.exp(-u))
        else:
            w = w - rate * (w - rho) / (w * (1.0 - w))
            if clip is not None:
                w = min(max(w, clip[0]), clip[1])
        out[k + 1] = w
    return out


def old_responsibility(w: float, dw: float) -> float:
    r""":math:`\mathbb E_P[r_o] = w - w(1-w)\,\partial_w L_F` (``fkl.em_identity`` solved for
    the mean old responsibility of the training data)."""
    return float(w - w * (1.0 - w) * dw)
