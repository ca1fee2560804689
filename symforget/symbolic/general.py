r"""The general two-component model: every component has its own scale (issue 13).

Student :math:`q = w\,\mathcal N(\mu_o,\sigma_o^2) + (1-w)\,\mathcal N(\mu_n,\sigma_n^2)`,
parameters :math:`\theta = (w, \mu_o, \sigma_o, \mu_n, \sigma_n)`; target
:math:`p^* = \alpha\,\mathcal N(\nu_o,\tau_o^2) + (1-\alpha)\,\mathcal N(\nu_n,\tau_n^2)`; training
distribution :math:`P = (1-\rho)\,\mathcal N(m_d, s_d^2) + \rho\,\mathcal N(m_r, s_r^2)`.

With unequal scales the log-odds of two components,

.. math:: z(x) = \log\frac{\pi_a}{\pi_b} + \log\frac{s_b}{s_a}
          - \frac{(x-m_a)^2}{2s_a^2} + \frac{(x-m_b)^2}{2s_b^2},

is *quadratic* in x: a responsibility switches at up to two points, and the quadrature splits
at both (:mod:`symforget.quadrature`, quadratic kinks). Every log-mixture is written relative to
a chosen component (:func:`log_mixture_ref`), so a log-ratio is never the difference of two
numbers of size Δ²/2.

Reductions by Stein's identities (as in :mod:`symforget.symbolic.stein`): the reverse-KL
gradient :math:`\sum_c \mathbb E_{\varphi_c}[g_c\,\ell]`, ℓ = log(q/p*), has weights
:math:`g_c` of degree ≤ 2 in :math:`y = (x - \mu_c)/\sigma_c`; writing
:math:`g_c = c_0 + c_1 y + c_2 (y^2 - 1)` gives
:math:`c_0\,\mathbb E[\ell] + c_1\sigma_c\,\mathbb E[\ell'] + c_2\sigma_c^2\,\mathbb E[\ell'']`:
:math:`\partial_{\mu_c}L_R = \pi_c\mathbb E_{\varphi_c}[\ell']`,
:math:`\partial_{\sigma_c}L_R = \pi_c\sigma_c\mathbb E_{\varphi_c}[\ell'']`.
Pure SymPy; every formula is derived here, never typed elsewhere.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .expectation import Component, ExpectationSpec
from .functions import Softplus, complement_sigmoids
from .symbols import (
    GENERAL_FKL_ARGS,
    GENERAL_RKL_ARGS,
    THETA5,
    alpha,
    data_mean,
    mu_n,
    mu_o,
    nu_n,
    nu_o,
    replay_mean,
    rho,
    sigma_d,
    sigma_n,
    sigma_o,
    sigma_r,
    tau_n,
    tau_o,
    w,
    x,
    y,
)

__all__ = [
    "log_odds",
    "log_mixture_ref",
    "log_ratio_ref",
    "score",
    "stein_coefficients",
    "rkl_grad_spec",
    "rkl_loss_spec",
    "fkl_grad_spec",
    "fkl_loss_spec",
    "STUDENT",
    "TARGET",
    "TRAIN",
]

#: (weight of the first component, (mean, scale) of the first, (mean, scale) of the second)
Mix = tuple[sp.Expr, tuple[sp.Expr, sp.Expr], tuple[sp.Expr, sp.Expr]]

STUDENT: Mix = (w, (mu_o, sigma_o), (mu_n, sigma_n))
TARGET: Mix = (alpha, (nu_o, tau_o), (nu_n, tau_n))
TRAIN: Mix = (1 - rho, (data_mean, sigma_d), (replay_mean, sigma_r))


def _log_phi_ratio(a: tuple[sp.Expr, sp.Expr], b: tuple[sp.Expr, sp.Expr]) -> sp.Expr:
    r""":math:`\log\varphi(x; m_a, s_a) - \log\varphi(x; m_b, s_b)` as
    :math:`\log(s_b/s_a) - (x-m_a)^2/2s_a^2 + (x-m_b)^2/2s_b^2` (local offsets, not expanded)."""
    (ma, sa), (mb, sb) = a, b
    return sp.log(sb) - sp.log(sa) - (x - ma) ** 2 / (2 * sa**2) + (x - mb) ** 2 / (2 * sb**2)


def log_odds(mix: Mix, first: int) -> sp.Expr:
    """Log-odds of component ``first`` (0 or 1) against the other (quadratic in x)."""
    pi, c0, c1 = mix
    weights, comps = (pi, 1 - pi), (c0, c1)
    other = 1 - first
    return (sp.log(weights[first]) - sp.log(weights[other])
            + _log_phi_ratio(comps[first], comps[other]))


def log_mixture_ref(mix: Mix, ref: int) -> tuple[sp.Expr, tuple[sp.Expr, sp.Expr], sp.Expr]:
    """``(log π_ref, (m_ref, s_ref), z)``: log mix = log π_ref + log φ_ref + softplus(z), z the
    log-odds of the other component against ``ref`` (≈ −∞ near the reference component)."""
    pi, c0, c1 = mix
    weights, comps = (pi, 1 - pi), (c0, c1)
    return sp.log(weights[ref]), comps[ref], log_odds(mix, 1 - ref)


def log_ratio_ref(first: Mix, a: int, second: Mix, b: int) -> sp.Expr:
    """log(f/g) for two mixtures, f relative to its component a, g to its component b."""
    la, ca, za = log_mixture_ref(first, a)
    lb, cb, zb = log_mixture_ref(second, b)
    return la - lb + _log_phi_ratio(ca, cb) + Softplus(za) - Softplus(zb)


def _components(mix: Mix) -> tuple[Component, Component]:
    pi, (m0, s0), (m1, s1) = mix
    return Component(pi, m0, s0), Component(1 - pi, m1, s1)


def _kinks(*mixes: Mix) -> tuple[sp.Expr, ...]:
    return tuple(log_odds(m, 0) for m in mixes)


@cache
def score() -> tuple[sp.Expr, ...]:
    r""":math:`\nabla_\theta\log q(x)`, θ = (w, μo, σo, μn, σn), from the stable log q."""
    lq0, c0, z0 = log_mixture_ref(STUDENT, 1)
    lq = lq0 - (x - c0[0]) ** 2 / (2 * c0[1] ** 2) - sp.log(c0[1]) + Softplus(z0)
    return tuple(complement_sigmoids(sp.simplify(sp.diff(lq, v))) for v in THETA5)


def stein_coefficients(h: sp.Expr, m: sp.Expr, s: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""(c_0, c_1, c_2) with :math:`h(m + s y) = c_0 + c_1 y + c_2 (y^2 - 1)` (h quadratic in x)."""
    poly = sp.Poly(sp.expand(h.subs(x, m + s * y)), y)
    if poly.degree() > 2:
        raise ValueError(f"weight {h} is not quadratic in x")
    a0, a1, a2 = (sp.simplify(poly.coeff_monomial(y**k)) for k in range(3))
    return sp.simplify(a0 + a2), a1, a2


def _gradient_weights() -> tuple[tuple[sp.Expr, ...], tuple[sp.Expr, ...]]:
    r"""(g_o, g_n): :math:`\nabla_\theta q = \varphi_o g_o + \varphi_n g_n`."""
    out = []
    for pi_c, (m_c, s_c) in ((w, STUDENT[1]), (1 - w, STUDENT[2])):
        lphi = -(x - m_c) ** 2 / (2 * s_c**2) - sp.log(s_c)
        out.append(tuple(sp.simplify(sp.diff(pi_c, v) + pi_c * sp.diff(lphi, v)) for v in THETA5))
    return out[0], out[1]


@cache
def rkl_grad_spec(refs: tuple[int, int] = (1, 1)) -> ExpectationSpec:
    r""":math:`\nabla_\theta\mathrm{KL}(q\Vert p^*)` (5 entries), Stein-reduced per component.

    Under student component c, log q is written relative to c and log p* relative to target
    component ``refs[c]`` (the evaluator picks the nearest).
    """
    integrands = []
    for c, (g_c, (m_c, s_c)) in enumerate(zip(_gradient_weights(), STUDENT[1:], strict=True)):
        lr = log_ratio_ref(STUDENT, c, TARGET, refs[c])
        d1 = sp.diff(lr, x)
        d2 = sp.diff(d1, x)
        row = []
        for h in g_c:
            c0, c1, c2 = stein_coefficients(h, m_c, s_c)
            row.append(c0 * lr + c1 * s_c * d1 + c2 * s_c**2 * d2)
        integrands.append(tuple(row))
    comps = (sp.Integer(1), sp.Integer(1))
    return ExpectationSpec(f"general_rkl_grad_{refs[0]}{refs[1]}", GENERAL_RKL_ARGS,
                           (Component(comps[0], mu_o, sigma_o), Component(comps[1], mu_n, sigma_n)),
                           tuple(integrands), _kinks(STUDENT, TARGET))


@cache
def rkl_loss_spec(refs: tuple[int, int] = (1, 1)) -> ExpectationSpec:
    """KL(q ‖ p*) = Σ_c π_c E_{φ_c}[log(q/p*)], references as in :func:`rkl_grad_spec`."""
    f = tuple((log_ratio_ref(STUDENT, c, TARGET, refs[c]),) for c in (0, 1))
    return ExpectationSpec(f"general_rkl_loss_{refs[0]}{refs[1]}", GENERAL_RKL_ARGS,
                           _components(STUDENT), f, _kinks(STUDENT, TARGET))


@cache
def fkl_grad_spec() -> ExpectationSpec:
    r""":math:`\nabla_\theta\mathrm{KL}(P\Vert q) = -\mathbb E_P[\nabla_\theta\log q]`
    (5 entries)."""
    neg = tuple(-e for e in score())
    return ExpectationSpec("general_fkl_grad", GENERAL_FKL_ARGS, _components(TRAIN), (neg, neg),
                           _kinks(STUDENT))


@cache
def fkl_loss_spec(with_replay: bool, refs: tuple[int, int] = (1, 1)) -> ExpectationSpec:
    """KL(P ‖ q) = E_P[log P − log q]; under training component c, log P is written relative to
    c and log q relative to student component ``refs[c]``. ``with_replay=False``: P = N(m_d, s_d²)
    (ρ = 0; log ρ would be −∞)."""
    if not with_replay:
        la, ca, za = log_mixture_ref(STUDENT, refs[0])
        f = ((-la + _log_phi_ratio((data_mean, sigma_d), ca) - Softplus(za)),)
        comps = (Component(sp.Integer(1), data_mean, sigma_d),)
        return ExpectationSpec(f"general_fkl_loss0_{refs[0]}", GENERAL_FKL_ARGS, comps,
                               (f,), _kinks(STUDENT))
    f = tuple((log_ratio_ref(TRAIN, c, STUDENT, refs[c]),) for c in (0, 1))
    return ExpectationSpec(f"general_fkl_loss_{refs[0]}{refs[1]}", GENERAL_FKL_ARGS,
                           _components(TRAIN), f, _kinks(STUDENT, TRAIN))
