r"""The general two-component model: every component has its own scale (issue 13).

Student :math:`q = w\,\mathcal N(\mu_o,\sigma_o^2) + (1-w)\,\mathcal N(\mu_n,\sigma_n^2)`,
parameters :math:`\theta = (w, \mu_o, \sigma_o, \mu_n, \sigma_n)`; target
:math:`p^* = \alpha\,\mathcal N(\nu_o,\tau_o^2) + (1-\alpha)\,\mathcal N(\nu_n,\tau_n^2)`; training
distribution :math:`P = (1-\rho)\,\mathcal N(m_d, s_d^2) + \rho\,\mathcal N(m_r, s_r^2)`.

With unequal scales the log-odds of two components,

.. math:: z(x) = \log\frac{\pi_a}{\pi_b} + \log\frac{s_b}{s_a}
          - \frac{(x-m_a)^2}{2s_a^2} + \frac{(x-m_b)^2}{2s_b^2},

is *quadratic* in x: a responsibility switches at up to two points, and the quadrature splits
at both (:mod:`symforget.numeric.quadrature`, quadratic kinks). Every log-mixture is written
relative to
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

from . import density
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
    "hermite_coefficients",
    "fisher_spec",
    "rkl_hess_spec",
    "fkl_hess_spec",
    "STUDENT",
    "TARGET",
    "TRAIN",
]

#: (weight of the first component, (mean, scale) of the first, (mean, scale) of the second)
Mix = tuple[sp.Expr, tuple[sp.Expr, sp.Expr], tuple[sp.Expr, sp.Expr]]

STUDENT: Mix = (w, (mu_o, sigma_o), (mu_n, sigma_n))
TARGET: Mix = (alpha, (nu_o, tau_o), (nu_n, tau_n))
TRAIN: Mix = (1 - rho, (data_mean, sigma_d), (replay_mean, sigma_r))


def _parts(mix: Mix) -> tuple[tuple[sp.Expr, sp.Expr], tuple[tuple[sp.Expr, sp.Expr], ...]]:
    """``(weights, comps)`` of a two-component mixture (π, c0, c1), for
    :mod:`symforget.symbolic.density`."""
    pi, c0, c1 = mix
    return (pi, 1 - pi), (c0, c1)


def log_odds(mix: Mix, first: int) -> sp.Expr:
    """Log-odds of component ``first`` (0 or 1) against the other (quadratic in x)."""
    return density.log_odds(*_parts(mix), first, 1 - first)


def log_mixture_ref(mix: Mix, ref: int) -> tuple[sp.Expr, tuple[sp.Expr, sp.Expr], sp.Expr]:
    """``(log π_ref, (m_ref, s_ref), z)``: log mix = log π_ref + log φ_ref + softplus(z), z the
    log-odds of the other component against ``ref`` (≈ −∞ near the reference component)."""
    lw, comp, (z,) = density.log_mixture_ref(*_parts(mix), ref)
    return lw, comp, z


def log_ratio_ref(first: Mix, a: int, second: Mix, b: int) -> sp.Expr:
    """log(f/g) for two mixtures, f relative to its component a, g to its component b."""
    return density.log_ratio_ref(_parts(first), a, _parts(second), b)


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
        f = ((-la + density.log_phi_ratio((data_mean, sigma_d), ca) - Softplus(za)),)
        comps = (Component(sp.Integer(1), data_mean, sigma_d),)
        return ExpectationSpec(f"general_fkl_loss0_{refs[0]}", GENERAL_FKL_ARGS, comps,
                               (f,), _kinks(STUDENT))
    f = tuple((log_ratio_ref(TRAIN, c, STUDENT, refs[c]),) for c in (0, 1))
    return ExpectationSpec(f"general_fkl_loss_{refs[0]}{refs[1]}", GENERAL_FKL_ARGS,
                           _components(TRAIN), f, _kinks(STUDENT, TRAIN))


# --------------------------------------------------------------------------- second derivatives

#: probabilists' Hermite polynomials He_0..He_4 (E[He_k(y) f(m + s y)] = s^k E[f^(k)(x)])
_HERMITE = (sp.Integer(1), y, y**2 - 1, y**3 - 3 * y, y**4 - 6 * y**2 + 3)


def hermite_coefficients(h: sp.Expr, m: sp.Expr, s: sp.Expr) -> tuple[sp.Expr, ...]:
    r"""(c_0, …, c_4) with :math:`h(m + s y) = \sum_k c_k\,\mathrm{He}_k(y)` (h of degree ≤ 4 in x).

    Stein's identity of order k, :math:`\mathbb E[\mathrm{He}_k(y) f(m + s y)] =
    s^k\,\mathbb E[f^{(k)}(x)]`, then turns :math:`\mathbb E[h\,\ell]` into derivatives of ℓ.
    """
    poly = sp.Poly(sp.expand(h.subs(x, m + s * y)), y)
    coeffs = [sp.Integer(0)] * 5
    if poly.is_zero:
        return tuple(coeffs)
    if poly.degree() > 4:
        raise ValueError(f"weight {h} has degree > 4 in x")
    rest = poly
    for k in range(poly.degree(), -1, -1):  # peel off the leading Hermite term
        c = rest.coeff_monomial(y**k)
        coeffs[k] = sp.simplify(c)
        rest = sp.Poly(sp.expand(rest.as_expr() - c * _HERMITE[k]), y)
    if not rest.is_zero:  # pragma: no cover - the peeling is exact
        raise AssertionError("Hermite decomposition left a remainder")
    return tuple(coeffs)


def _hessian_weights() -> tuple[tuple[tuple[sp.Expr, ...], ...], ...]:
    r"""(H_o, H_n): :math:`\nabla^2_\theta q = \varphi_o H_o + \varphi_n H_n` (5 × 5 each)."""
    out = []
    for pi_c, (m_c, s_c) in ((w, STUDENT[1]), (1 - w, STUDENT[2])):
        phi = sp.exp(-(x - m_c) ** 2 / (2 * s_c**2)) / s_c  # up to the constant 1/√(2π)
        dens = pi_c * phi
        rows = []
        for a in THETA5:
            da = sp.diff(dens, a)
            rows.append(tuple(sp.simplify(sp.diff(da, b) / phi) for b in THETA5))
        out.append(tuple(rows))
    return out[0], out[1]


@cache
def fisher_spec() -> ExpectationSpec:
    r"""Fisher information :math:`\mathbb E_q[\nabla\log q\,\nabla\log q^\top]` (5 × 5)."""
    sc = score()
    outer = tuple(sc[i] * sc[j] for i in range(5) for j in range(5))
    return ExpectationSpec("general_fisher", GENERAL_RKL_ARGS, _components(STUDENT),
                           (outer, outer), _kinks(STUDENT))


@cache
def rkl_hess_spec(refs: tuple[int, int] = (1, 1)) -> ExpectationSpec:
    r""":math:`\nabla^2\mathrm{KL}(q\Vert p^*) = \sum_c\mathbb E_{\varphi_c}[H_c\,\ell] + I(\theta)`
    (5 × 5, row-major), each :math:`\mathbb E[H_c\ell]` Hermite–Stein reduced to
    :math:`\sum_k c_k\sigma_c^k\,\mathbb E[\ell^{(k)}]` (ℓ itself only where c_0 ≠ 0)."""
    sc = score()
    outer = tuple(sc[i] * sc[j] for i in range(5) for j in range(5))
    integrands = []
    for c, (h_c, (m_c, s_c), pi_c) in enumerate(zip(_hessian_weights(), STUDENT[1:], (w, 1 - w),
                                                    strict=True)):
        lr = log_ratio_ref(STUDENT, c, TARGET, refs[c])
        derivs = [lr]
        for _ in range(4):
            derivs.append(sp.diff(derivs[-1], x))
        row = []
        for h, o in zip((e for r_ in h_c for e in r_), outer, strict=True):
            coeffs = hermite_coefficients(h, m_c, s_c)
            row.append(sum((ck * s_c**k * derivs[k] for k, ck in enumerate(coeffs) if ck != 0),
                           sp.Integer(0)) + pi_c * o)
        integrands.append(tuple(row))
    ones = sp.Integer(1)
    return ExpectationSpec(f"general_rkl_hess_{refs[0]}{refs[1]}", GENERAL_RKL_ARGS,
                           (Component(ones, mu_o, sigma_o), Component(ones, mu_n, sigma_n)),
                           tuple(integrands), _kinks(STUDENT, TARGET))


@cache
def fkl_hess_spec() -> ExpectationSpec:
    r""":math:`\nabla^2\mathrm{KL}(P\Vert q) = -\mathbb E_P[\nabla^2_\theta\log q]` (5 × 5)."""
    sc = score()
    hess = tuple(-sp.diff(sc[i], v) for i in range(5) for v in THETA5)
    return ExpectationSpec("general_fkl_hess", GENERAL_FKL_ARGS, _components(TRAIN),
                           (hess, hess), _kinks(STUDENT))
