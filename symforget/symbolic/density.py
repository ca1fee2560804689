r"""The one definition of a 1-D Gaussian mixture's log-density and log-odds.

A mixture is weights :math:`\pi_k` and components :math:`(m_k, s_k)`. Every log-mixture is
written *relative to a reference component* r,

.. math:: \log\sum_k \pi_k\varphi(x; m_k, s_k) = \log\pi_r + \log\varphi(x; m_r, s_r)
          + \operatorname{lse}_1\big(z_{k,r},\ k \ne r\big),
          \qquad z_{k,r} = \log\frac{\pi_k}{\pi_r} + \log\frac{\varphi(x; m_k, s_k)}
          {\varphi(x; m_r, s_r)},

so a log-ratio of two mixtures is never the difference of two large logarithms, and
:math:`\operatorname{lse}_1` is ``Softplus`` for two components (one log-odds) and
``LogSumExp1`` for more. The responsibilities are the derivatives of
:math:`\operatorname{lse}_1` (``Sigmoid`` / ``Softmax1``). The Gaussian log-ratio is kept in
local offsets :math:`\log(s_r/s_k) - (x-m_k)^2/2s_k^2 + (x-m_r)^2/2s_r^2` (quadratic in x; with
equal scales :mod:`symforget.symbolic.mixture` uses the linear pivot form, checked equal to
this one).

The per-component-scale model (:mod:`symforget.symbolic.general`, K = 2), the K-component one
(:mod:`symforget.symbolic.kmix`) and the shared-σ one (:mod:`symforget.symbolic.mixture`) all
build on these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from .functions import LogSumExp1, Softplus
from .symbols import x

__all__ = ["log_phi_ratio", "log_odds", "lse1", "log_mixture_ref", "log_ratio_ref"]

#: a component (mean, scale)
Comp = tuple[sp.Expr, sp.Expr]


def log_phi_ratio(a: Comp, b: Comp) -> sp.Expr:
    r""":math:`\log\varphi(x; m_a, s_a) - \log\varphi(x; m_b, s_b)` as
    :math:`\log(s_b/s_a) - (x-m_a)^2/2s_a^2 + (x-m_b)^2/2s_b^2` (local offsets, not expanded)."""
    (ma, sa), (mb, sb) = a, b
    return sp.log(sb) - sp.log(sa) - (x - ma) ** 2 / (2 * sa**2) + (x - mb) ** 2 / (2 * sb**2)


def log_odds(weights: Sequence[sp.Expr], comps: Sequence[Comp], k: int, r: int) -> sp.Expr:
    r"""Log-odds :math:`z_{k,r} = \log(\pi_k\varphi_k/\pi_r\varphi_r)` (quadratic in x)."""
    return sp.log(weights[k]) - sp.log(weights[r]) + log_phi_ratio(comps[k], comps[r])


def lse1(*z: sp.Expr) -> sp.Expr:
    r""":math:`\log(1 + \sum_i e^{z_i})`: ``Softplus`` for one argument, ``LogSumExp1`` else."""
    return Softplus(z[0]) if len(z) == 1 else LogSumExp1(*z)


def log_mixture_ref(weights: Sequence[sp.Expr], comps: Sequence[Comp],
                    r: int) -> tuple[sp.Expr, Comp, tuple[sp.Expr, ...]]:
    r"""``(log π_r, (m_r, s_r), (z_{k,r})_{k≠r})``: log mix = log π_r + log φ_r + lse₁(z)."""
    z = tuple(log_odds(weights, comps, k, r) for k in range(len(weights)) if k != r)
    return sp.log(weights[r]), comps[r], z


def log_ratio_ref(first: tuple[Sequence[sp.Expr], Sequence[Comp]], a: int,
                  second: tuple[Sequence[sp.Expr], Sequence[Comp]], b: int) -> sp.Expr:
    """log(f/g) of two mixtures given as ``(weights, comps)``, f relative to its component a and
    g to its component b."""
    la, ca, za = log_mixture_ref(*first, a)
    lb, cb, zb = log_mixture_ref(*second, b)
    return la - lb + log_phi_ratio(ca, cb) + lse1(*za) - lse1(*zb)
