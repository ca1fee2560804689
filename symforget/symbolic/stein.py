r"""Stein-reduced reverse-KL Hessian: no large cancelling terms (issue 12).

The reverse-KL Hessian :math:`\nabla^2 L_R = \sum_c \mathbb E_{\varphi_c}[H_c\,\ell] + I(\theta)`,
:math:`\ell = \log(q_\theta/p^*)`, multiplies the log-ratio by weights :math:`H_c` that are
polynomials of degree ≤ 2 in the standardised variable :math:`y = (x - m_c)/\sigma`. Far from the
target :math:`\ell` is huge (≈ Δ²/2 for a component Δσ away from every target mean) while the
Hessian entry is O(1): the weighted integral cancels the constant and linear parts of ℓ
exactly in real arithmetic, but in double precision it leaves rounding noise of size
:math:`\epsilon\,\|\ell\|` — at Δ ≈ 2·10⁶ that turned the μo–μo entry (≈ w) negative.

Stein's identities for :math:`y\sim\mathcal N(0,1)`, :math:`x = m + \sigma y`,

.. math:: \mathbb E[y\,f(x)] = \sigma\,\mathbb E[f'(x)],\qquad
          \mathbb E[(y^2-1)\,f(x)] = \sigma^2\,\mathbb E[f''(x)],

rewrite :math:`H_c = a_0 + a_1 y + a_2 y^2 = (a_0 + a_2) + a_1 y + a_2 (y^2 - 1)` into

.. math:: \mathbb E_{\varphi_c}[H_c\,\ell] = (a_0 + a_2)\,\mathbb E[\ell]
          + a_1\sigma\,\mathbb E[\ell'] + a_2\sigma^2\,\mathbb E[\ell''] .

For the two-component model :math:`a_0 + a_2 = 0` identically (the weights π_c are linear in w),
so only the derivatives of ℓ in x appear: :math:`\ell' = (\bar\mu_q(x) - \bar\mu_p(x))/\sigma^2`
(responsibility-weighted means; the x terms cancel *symbolically*) and
:math:`\ell'' = [\mathrm{Var}_{r^q}(\mu) - \mathrm{Var}_{r^p}(\nu)]/\sigma^4`, both free of the
huge constant. Everything here is derived by SymPy from the same stable ℓ as
:func:`symforget.symbolic.mixture.rkl_hess_spec`; ``tests/test_metamorphic.py`` and
``tests/test_model.py`` check the two specs agree where both are accurate.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .expectation import Component, ExpectationSpec
from .functions import Sigmoid
from .mixture import _flat, _log_ratio, _rkl_kinks, component_hessian_weights, score
from .symbols import RKL_ARGS, mu_n, mu_o, sigma, w, x, y

__all__ = ["stein_coefficients", "log_ratio_derivatives", "rkl_hess_stein_spec"]


def stein_coefficients(h: sp.Expr, m: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""(c_0, c_1, c_2) with :math:`h(m + \sigma y) = c_0 + c_1 y + c_2 (y^2 - 1)`.

    Raises ``ValueError`` if h is not a polynomial of degree ≤ 2 in x.
    """
    poly = sp.Poly(sp.expand(h.subs(x, m + sigma * y)), y)
    if poly.degree() > 2:
        raise ValueError(f"weight {h} is not quadratic in x")
    a0, a1, a2 = (sp.simplify(poly.coeff_monomial(y**k)) for k in range(3))
    return sp.simplify(a0 + a2), a1, a2


def _stable_sigmoid_polynomial(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite a polynomial of degree ≤ 2 in each sigmoid into a form without cancellation.

    Each :math:`k\,(S - S^2)` with :math:`S = \operatorname{sigmoid}(z)` becomes
    :math:`k\,S\,\operatorname{sigmoid}(-z)` (the logistic variance, accurate where S ≈ 1);
    the coefficients are factored (differences of means, never sums of large cancelling terms).
    """
    sigs = sorted(expr.atoms(Sigmoid), key=sp.default_sort_key)
    marks = sp.symbols(f"S0:{len(sigs)}")
    poly = sp.Poly(sp.expand(expr.subs(dict(zip(sigs, marks, strict=True)))), *marks)
    out = sp.Integer(0)
    done: set[tuple[int, ...]] = set()
    for monom, coeff in poly.terms():
        if monom in done:
            continue
        degree = sum(monom)
        if degree == 2 and max(monom) == 2:
            i = monom.index(2)
            lin = tuple(1 if j == i else 0 for j in range(len(marks)))
            if sp.simplify(poly.coeff_monomial(lin) + coeff) != 0:
                raise ValueError(f"{expr} is not a combination of logistic variances")
            done.update({monom, lin})
            out += sp.factor(-coeff) * sigs[i] * Sigmoid(-sigs[i].args[0])
        elif degree <= 1:
            term = sp.factor(coeff)
            for j, k in enumerate(monom):
                term *= sigs[j] ** k
            out += term
        else:
            raise ValueError(f"unexpected monomial {monom} in {expr}")
    # the rewrite is an identity: check it (Sigmoid(-z) = 1 - Sigmoid(z))
    back = out.replace(Sigmoid, lambda z: Sigmoid(z) if z in {s_.args[0] for s_ in sigs}
                       else 1 - Sigmoid(-z))
    if sp.expand(back - expr) != 0:
        raise AssertionError("stable rewrite changed the expression")
    return out


@cache
def log_ratio_derivatives() -> tuple[sp.Expr, sp.Expr]:
    r"""(ℓ', ℓ'') of :math:`\ell = \log(q/p^*)` in x, with no x-linear term and no cancellation.

    :math:`\ell' = [\mu_n - \nu_n + (\mu_o-\mu_n) r_o^q - (\nu_o-\nu_n) r_o^p]/\sigma^2`,
    :math:`\ell'' = [(\mu_o-\mu_n)^2 r_o^q r_n^q - (\nu_o-\nu_n)^2 r_o^p r_n^p]/\sigma^4`.
    """
    lr = _log_ratio()
    d1 = sp.diff(lr, x)
    d2 = sp.diff(d1, x)
    d1, d2 = _stable_sigmoid_polynomial(d1), _stable_sigmoid_polynomial(d2)
    for expr in (d1, d2):  # the Gaussian x-terms must cancel symbolically
        if sp.diff(expr.replace(Sigmoid, lambda z: sp.Integer(0)), x) != 0:
            raise AssertionError(f"x-linear term left in {expr}")
    return d1, d2


@cache
def rkl_hess_stein_spec() -> ExpectationSpec:
    r"""∇²L_R as Σ_c E_{φ_c}[(c_0 ℓ + c_1 σ ℓ' + c_2 σ² ℓ'')] + I(θ) (row-major 3×3)."""
    lr = _log_ratio()
    d1, d2 = log_ratio_derivatives()
    sc = score()
    outer = tuple(sc[i] * sc[j] for i in range(3) for j in range(3))
    integrands = []
    for h_c, m_c, pi_c in zip(component_hessian_weights(), (mu_o, mu_n), (w, 1 - w),
                              strict=True):
        row = []
        for h, o in zip(_flat(h_c), outer, strict=True):
            c0, c1, c2 = stein_coefficients(h, m_c)
            row.append(c0 * lr + c1 * sigma * d1 + c2 * sigma**2 * d2 + pi_c * o)
        integrands.append(tuple(row))
    comps = (Component(sp.Integer(1), mu_o, sigma), Component(sp.Integer(1), mu_n, sigma))
    return ExpectationSpec("rkl_hess_stein", RKL_ARGS, comps, tuple(integrands), _rkl_kinks())
