r"""Training states of K-component students: a :class:`~symforget.kmix.Mixture` stepped along
the exact KL gradient of :func:`symforget.kmix.kl_grad`, with the stepping conventions of
:mod:`symforget.training.stepping` generalised to K weights.

With :math:`g = \nabla_\pi D` the free-simplex weight gradient (only differences of its entries
are intrinsic), the weights step in one of two coordinates, both with the last component as the
reference (so K = 2 is exactly the two-component w step with w = π_0):

* ``"raw"``: the first K − 1 weights are the coordinates, :math:`\pi_K = 1 - \sum_{k<K}\pi_k`,
  :math:`\pi_k' = \pi_k - \eta m_k (g_k - g_K)`; with ``clip=(lo, hi)`` every weight is clipped
  to [lo, hi] and the weights are renormalised to sum 1 (for K = 2 clipping w to [lo, 1 − lo]
  is the same thing); without a clip a weight leaving (0, 1) raises;
* ``"logit"``: softmax coordinates :math:`u_k = \log(\pi_k/\pi_K)`,
  :math:`u_k' = u_k - \eta m_k\,\pi_k(g_k - \sum_l \pi_l g_l)`.

Means and (with ``learn_scales``) scales step as :math:`\theta' = \theta - \eta m\,\partial_\theta
D`; scales are floored at ``scale_floor`` if given, else a scale reaching ≤ 0 raises.
Multipliers ``lr_scale`` are given per kind (``"weights"``, ``"means"``, ``"scales"``), each a
number or K numbers (one per component).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ParameterError, SymforgetError
from ..kmix import Mixture, kl_grad
from ..numeric.progress import report_steps

__all__ = ["descend_mixture"]

_KINDS = ("weights", "means", "scales")


def _multipliers(lr_scale: Mapping[str, Any] | None, K: int) -> dict[str, np.ndarray]:
    out = {k: np.ones(K) for k in _KINDS}
    if lr_scale is None:
        return out
    if not isinstance(lr_scale, Mapping):
        raise ParameterError(f"lr_scale={lr_scale!r} must be a mapping kind -> factor(s)")
    for kind, value in lr_scale.items():
        if kind not in _KINDS:
            raise ParameterError(f"lr_scale: unknown kind {kind!r}; known: {', '.join(_KINDS)}")
        arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (K,)) if np.ndim(value) == 0 \
            else np.asarray(value, dtype=np.float64)
        if arr.shape != (K,) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ParameterError(f"lr_scale[{kind!r}]={value!r} must be one number > 0 or {K} "
                                 "of them")
        out[kind] = np.array(arr)
    return out


def descend_mixture(student: Mixture, target: Mixture, eta: float, steps: int, *,
                    direction: str = "reverse", weight_param: str = "logit",
                    clip: tuple[float, float] | None = None,
                    lr_scale: Mapping[str, Any] | None = None, learn_scales: bool = False,
                    scale_floor: float | None = None) -> list[Mixture]:
    """Gradient descent on KL(student ‖ target) (``direction="reverse"``) or KL(target ‖
    student) (``"forward"``) from ``student`` (unbatched, K components); returns the K-component
    mixtures at steps 0..steps (see the module docstring for the update).

    Examples
    --------
    Forward KL towards N(0, 1) with the old component 40σ away: the weight entries differ by
    1/(1 − w), so raw steps follow the mass law w' = w − η/(1 − w) (claim
    ``fkl.mass_forgetting``):

    >>> import symforget as sf
    >>> from symforget.dynamics import descend_mixture
    >>> q0 = sf.Mixture([0.5, 0.5], [-40.0, 0.0], [1.0, 1.0])
    >>> traj = descend_mixture(q0, sf.Mixture([1.0], [0.0], [1.0]), 0.1, 2,
    ...                        direction="forward", weight_param="raw")
    >>> [round(float(q.weights[0]), 12) for q in traj]
    [0.5, 0.3, 0.157142857143]
    """
    if not isinstance(student, Mixture) or student.batch_shape:
        raise ParameterError("student must be one (unbatched) symforget.Mixture")
    if weight_param not in ("raw", "logit"):
        raise ParameterError(f"weight_param={weight_param!r} must be 'raw' or 'logit'")
    if clip is not None:
        if weight_param != "raw":
            raise ParameterError("clip is only used with weight_param='raw'")
        lo, hi = (float(c) for c in clip)
        if not 0.0 < lo < hi < 1.0:
            raise ParameterError(f"clip={clip!r} must satisfy 0 < lo < hi < 1")
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not (
            math.isfinite(eta) and eta > 0):
        raise ParameterError(f"eta={eta!r} must be a finite number > 0")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ParameterError(f"steps={steps!r} must be an integer >= 0")
    if scale_floor is not None and not (math.isfinite(scale_floor) and scale_floor > 0):
        raise ParameterError(f"scale_floor={scale_floor!r} must be a finite number > 0")
    K = student.K
    m = _multipliers(lr_scale, K)
    pi = np.array(student.weights, dtype=np.float64)
    mu = np.array(student.means, dtype=np.float64)
    sg = np.array(student.scales, dtype=np.float64)
    out = [student]
    for k in range(int(steps)):
        g = kl_grad(Mixture(pi, mu, sg), target, direction)
        gw, gm, gs = (np.asarray(a, dtype=np.float64) for a in (g.weights, g.means, g.scales))
        if not (np.all(np.isfinite(gw)) and np.all(np.isfinite(gm)) and np.all(np.isfinite(gs))):
            raise SymforgetError(f"step {k}: non-finite KL gradient at {out[-1]!r}")
        if weight_param == "logit":
            u = np.log(pi) - np.log(pi[-1])
            u[:-1] -= eta * m["weights"][:-1] * pi[:-1] * (gw[:-1] - float(pi @ gw))
            u = np.clip(u, -600.0, 600.0)
            new_pi = np.exp(u - u.max())
            new_pi /= new_pi.sum()
        else:
            new_pi = pi.copy()
            new_pi[:-1] -= eta * m["weights"][:-1] * (gw[:-1] - gw[-1])
            new_pi[-1] = 1.0 - new_pi[:-1].sum()
            if clip is not None:
                new_pi = np.clip(new_pi, clip[0], clip[1])
                new_pi /= new_pi.sum()
            elif np.any(new_pi <= 0.0) or np.any(new_pi >= 1.0):
                raise SymforgetError(f"raw weight step {k} left (0, 1): weights "
                                     f"{[float(v) for v in new_pi]} (give a clip or use "
                                     "weight_param='logit')")
        mu = mu - eta * m["means"] * gm
        if learn_scales:
            sg = sg - eta * m["scales"] * gs
            if scale_floor is not None:
                sg = np.maximum(sg, scale_floor)
            elif np.any(sg <= 0.0):
                raise SymforgetError(f"step {k}: a scale reached <= 0 "
                                     f"({[float(v) for v in sg]}); give a scale floor")
        pi = new_pi
        out.append(Mixture(pi, mu, sg))
        report_steps(k + 1, int(steps))
    return out
