r"""Reduced form of the per-component-scale gradients: every integral becomes Gaussian moments
plus logistic moments of a quadratic.

Under a component N(m, s²) write :math:`x = m + s t`, :math:`t\sim\mathcal N(0,1)`. Every
log-odds of the general model (:mod:`symforget.symbolic.density`) is then a quadratic
:math:`z(t) = At^2 + Bt + C`, and

* **reverse KL** (:func:`rkl_parts`): :math:`\nabla L_R = \sum_c \mathbb E_{\varphi_c}
  [g_c\,\ell_c]` with the gradient weight :math:`g_c = \nabla\pi_c + \pi_c\nabla\log\varphi_c`
  a polynomial of degree ≤ 2 in t and the log-ratio written relative to student component c
  and target component b, :math:`\ell_c = a_0 + a_1 t + a_2 t^2 + \operatorname{softplus}(z_q)
  - \operatorname{softplus}(z_p)`; so each entry is
  :math:`\sum_k h_k\big(\sum_l a_l\,\mathbb E t^{k+l} + F_k(z_q) - F_k(z_p)\big)`,
  :math:`F_k(z) = \mathbb E[t^k\operatorname{softplus}(z(t))]`;
* **forward KL** (:func:`fkl_parts`): under a training component,
  :math:`-\nabla\log q = P(t) + Q_+(t)\,\sigma(z) + Q_-(t)\,\sigma(-z)` with z the old-vs-new
  log-odds and P, Q± polynomials of degree ≤ 2, so each entry is
  :math:`\sum_k P_k\mathbb E t^k + Q_{+,k}G_k(z) + Q_{-,k}G_k(-z)`,
  :math:`G_k(z) = \mathbb E[t^k\sigma(z(t))]`.

Every decomposition is checked here to reproduce the expression it came from (the expressions
of :mod:`symforget.symbolic.general`); the logistic moments are evaluated by
:mod:`symforget.numeric.logistic`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from . import density
from .functions import Sigmoid, Softplus
from .general import STUDENT, TARGET, TRAIN, _gradient_weights, score
from .symbols import x

__all__ = ["t", "rkl_parts", "fkl_parts"]

#: the standardised variable of the component integrated against
t = sp.Symbol("t", real=True)


def _poly(expr: sp.Expr, degree: int, what: str) -> tuple[sp.Expr, ...]:
    """Coefficients (c_0, …, c_degree) of ``expr`` as a polynomial in t (raises otherwise).

    Taken as Taylor coefficients at t = 0 (derivatives, never an expansion), so offsets such as
    :math:`(m_c - m_a)^2` stay factored: expanded, they would cancel digits for nearby means far
    from the centre."""
    if sp.simplify(sp.diff(expr, t, degree + 1)) != 0:
        raise ValueError(f"{what} is not a polynomial of degree <= {degree} in t")
    out, d = [], expr
    for k in range(degree + 1):
        c = d.subs(t, 0) / sp.factorial(k)
        out.append(c if c.has(sp.log) else sp.factor(c))  # (s1 − s2)(s1 + s2): exact 0
        d = sp.diff(d, t)
    return tuple(out)


def _at(expr: sp.Expr, m: sp.Expr, s: sp.Expr) -> sp.Expr:
    return expr.subs(x, m + s * t)


@cache
def rkl_parts(c: int, b: int) -> dict[str, tuple[sp.Expr, ...]]:
    r"""Reverse-KL pieces under student component c with the target written relative to its
    component b: ``h`` (5 × 3 weight coefficients, entries (w, μo, σo, μn, σn)), ``a``
    (a₀, a₁, a₂), ``zq`` and ``zp`` (A, B, C) each.

    Checked: :math:`\sum_k h_{ik}t^k\,(a(t) + \operatorname{softplus}(z_q) -
    \operatorname{softplus}(z_p))` equals :math:`g_{c,i}\,\ell_c` of
    :func:`symforget.symbolic.general.log_ratio_ref` at :math:`x = m_c + s_c t`.
    """
    wts_s, comps_s = (STUDENT[0], 1 - STUDENT[0]), STUDENT[1:]
    wts_t, comps_t = (TARGET[0], 1 - TARGET[0]), TARGET[1:]
    m_c, s_c = comps_s[c]
    la, ca, (za,) = density.log_mixture_ref(wts_s, comps_s, c)
    lb, cb, (zb,) = density.log_mixture_ref(wts_t, comps_t, b)
    poly_part = _at(la - lb + density.log_phi_ratio(ca, cb), m_c, s_c)
    a = _poly(poly_part, 2, "the log-ratio's polynomial part")
    zq = _poly(_at(za, m_c, s_c), 2, "z_q")[::-1]
    zp = _poly(_at(zb, m_c, s_c), 2, "z_p")[::-1]
    h = tuple(_poly(_at(g, m_c, s_c), 2, "a gradient weight") for g in _gradient_weights()[c])
    # the decomposition reproduces g_c · ℓ_c (Softplus kept as a function of its argument)
    lr = _at(density.log_ratio_ref((wts_s, comps_s), c, (wts_t, comps_t), b), m_c, s_c)
    rebuilt = (sum(a[k] * t**k for k in range(3)) + Softplus(_quad(zq)) - Softplus(_quad(zp)))
    if sp.simplify(sp.expand(lr - rebuilt)) != 0:  # pragma: no cover - an identity
        raise AssertionError("reduced reverse-KL log-ratio differs from log_ratio_ref")
    for g, hk in zip(_gradient_weights()[c], h, strict=True):
        if sp.simplify(_at(g, m_c, s_c) - sum(hk[k] * t**k for k in range(3))) != 0:
            raise AssertionError("reduced gradient weight differs")  # pragma: no cover
    return {"h": tuple(e for row in h for e in row), "a": a, "zq": zq, "zp": zp}


def _quad(abc: tuple[sp.Expr, sp.Expr, sp.Expr]) -> sp.Expr:
    A, B, C = abc
    return A * t**2 + B * t + C


@cache
def fkl_parts(d: int) -> dict[str, tuple[sp.Expr, ...]]:
    r"""Forward-KL pieces under training component d: ``z`` (A, B, C) of the old-vs-new
    log-odds, and for each of the five entries of :math:`-\nabla\log q` the coefficients of
    P, Q₊ and Q₋ (``P``, ``Qp``, ``Qm``: 5 × 3 each, flattened).

    Checked: :math:`P + Q_+\sigma(z) + Q_-\sigma(-z)` equals
    :math:`-\nabla\log q` of :func:`symforget.symbolic.general.score` at
    :math:`x = m_d + s_d t`.
    """
    m_d, s_d = TRAIN[1 + d]
    z_x = density.log_odds((STUDENT[0], 1 - STUDENT[0]), STUDENT[1:], 0, 1)
    z = _poly(_at(z_x, m_d, s_d), 2, "z")[::-1]
    zt = _quad(z)
    P, Qp, Qm = [], [], []
    for entry in score():
        e = _at(-entry, m_d, s_d)
        atoms = e.atoms(Sigmoid)
        sp_, sm_ = sp.Symbol("S_plus"), sp.Symbol("S_minus")
        repl = {}
        for atom in atoms:
            arg = sp.expand(atom.args[0])
            if sp.simplify(arg - zt) == 0:
                repl[atom] = sp_
            elif sp.simplify(arg + zt) == 0:
                repl[atom] = sm_
            else:  # pragma: no cover - the score has no other sigmoid
                raise AssertionError(f"unexpected sigmoid argument {arg}")
        lin = sp.expand(e.xreplace(repl))
        cp = lin.coeff(sp_)
        cm = lin.coeff(sm_)
        rest = sp.expand(lin - cp * sp_ - cm * sm_)
        P.append(_poly(rest, 2, "P"))
        Qp.append(_poly(cp, 2, "Q+"))
        Qm.append(_poly(cm, 2, "Q-"))
        rebuilt = (sum(P[-1][k] * t**k for k in range(3)) + sum(Qp[-1][k] * t**k for k in range(3))
                   * Sigmoid(zt) + sum(Qm[-1][k] * t**k for k in range(3)) * Sigmoid(-zt))
        back = e.xreplace({a: Sigmoid(zt) if v == sp_ else Sigmoid(-zt) for a, v in repl.items()})
        if sp.simplify(sp.expand(back - rebuilt)) != 0:  # pragma: no cover - an identity
            raise AssertionError("reduced forward-KL score differs from general.score")
    flat = lambda rows: tuple(e for row in rows for e in row)  # noqa: E731
    return {"z": z, "P": flat(P), "Qp": flat(Qp), "Qm": flat(Qm)}
