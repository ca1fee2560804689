r"""Reduction of the d-dimensional model to 1-D along the whitened separation axis
(claim ``gauss.dimension_reduction``).

Whiten (:math:`z = L^{-1}x`, :math:`\Sigma = LL^\top`; see
:func:`symforget.symbolic.gauss.whitening_derivation`). If the relevant whitened means lie on a
line :math:`\tilde m_c = \tilde a + t_c e`, write :math:`z = \tilde a + s e + E_\perp u` with
:math:`[e, E_\perp]` orthonormal. Pythagoras gives
:math:`\|z-\tilde m_c\|^2 = (s-t_c)^2 + \|u\|^2`, so each component density factorises into a
1-D normal in ``s`` times the *same* standard normal :math:`\psi` in ``u``; mixtures factorise,
their log-ratios depend on ``s`` only, and :math:`\int\psi = 1` integrates the orthogonal part
out. The mean gradient across the line vanishes because the score across the line is
:math:`r_c(s)\,u_\perp` and :math:`\int u\,\psi(u)\,du = 0`; the chain rule for
:math:`\tilde\mu = L^{-1}\mu` maps the whitened gradient back with :math:`L^{-\top}`.

SymPy only; every step is checked by :meth:`Derivation.check`.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .derivation import Derivation, Step
from .expectation import Component, ExpectationSpec
from .gauss import normal_pdf
from .mixture import log_odds, responsibility_old
from .symbols import FKL_ARGS, alpha, data_mean, mu_n, mu_o, nu_n, nu_o, replay_mean, rho, sigma, w

__all__ = ["reduction_derivation", "chain_rule_derivation", "orthogonal_fisher_spec",
           "orthogonal_fkl_hessian_spec", "ASSUMPTIONS"]

#: the assumptions of the reduction, stated once (rendered in proofs/ and the claim)
ASSUMPTIONS = (
    r"all components share one covariance $\Sigma = LL^\top$, symmetric positive definite",
    r"the relevant whitened means $L^{-1}m_c$ (student $\mu_o,\mu_n$; target or training "
    r"means) lie on one line $\tilde a + t_c e$, $\|e\| = 1$",
    r"$z = \tilde a + s e + E_\perp u$ with $[e, E_\perp]$ orthonormal, "
    r"$u\in\mathbb R^{d-1}$, $U = \|u\|^2$",
)

_s = sp.Symbol("s", real=True)
_u1 = sp.Symbol("u_1", real=True)
_eta = sp.Symbol("eta", real=True)
_U = sp.Symbol("U", nonnegative=True)  # ‖u‖²
_Ur = sp.Symbol("U'", nonnegative=True)  # ‖u‖² − u_1²
_d = sp.Symbol("d", positive=True, integer=True)
_t = sp.Symbol("t", real=True)
_to, _tn = sp.Symbol("t_o", real=True), sp.Symbol("t_n", real=True)


def _psi(sq: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """Standard normal density on R^dim as a function of the squared norm ``sq``."""
    return sp.exp(-sq / 2) / (2 * sp.pi) ** (dim / 2)


@lru_cache(maxsize=1)
def reduction_derivation() -> Derivation:
    r"""Factorisation, integrating out the orthogonal part, and the vanishing orthogonal
    gradient (the core of ``gauss.dimension_reduction``)."""
    one = sp.Integer(1)
    phi_d = _psi((_s - _t) ** 2 + _U, _d)
    factor = normal_pdf(_s, _t, one) * _psi(_U, _d - 1)
    q1 = w * normal_pdf(_s, _to, one) + (1 - w) * normal_pdf(_s, _tn, one)
    p1 = alpha * normal_pdf(_s, nu_o, one) + (1 - alpha) * normal_pdf(_s, nu_n, one)
    psi = _psi(_U, _d - 1)
    q_d = w * _psi((_s - _to) ** 2 + _U, _d) + (1 - w) * _psi((_s - _tn) ** 2 + _U, _d)
    psi1 = normal_pdf(_u1, 0, one)
    # student old mean moved by η across the line (along the orthogonal coordinate u_1)
    sq_moved = (_s - _to) ** 2 + (_u1 - _eta) ** 2 + _Ur
    log_phi_moved = sp.log(_psi(sq_moved, _d))
    steps = (
        Step(sp.Symbol(r"\|z - \tilde m_c\|^2"), (_s - _t) ** 2 + _U, "Pythagoras",
             r"$z - \tilde m_c = (s - t_c)e + E_\perp u$ with $e \perp E_\perp$", kind="argued",
             reason=r"orthonormality of $[e, E_\perp]$, an argument in words; the claim's check "
                    "compares the reduced losses with direct d-D quadrature (d = 2) and Monte "
                    "Carlo (d = 3)"),
        Step(phi_d, factor, "factorise",
             r"$\mathcal N_d(z;\tilde m_c, I) = \varphi(s - t_c)\,\psi_{d-1}(u)$: "
             r"the orthogonal factor does not depend on $c$"),
        Step(q_d, q1 * psi, "mixture factorises",
             r"$q(z) = q_1(s)\,\psi_{d-1}(u)$ with the 1-D mixture $q_1$ at the coordinates "
             r"$t_c$ (likewise $p^*$ and $P_{\rm train}$)"),
        Step(sp.log((q1 * psi) / (p1 * psi)), sp.log(q1 / p1), "log-ratio",
             r"the common factor $\psi_{d-1}$ cancels: $\log(q/p^*)$ depends on $s$ only"),
        Step(sp.Integral(psi1, (_u1, -sp.oo, sp.oo)), one, "integrate out",
             r"each orthogonal coordinate integrates to 1, so $\int\psi_{d-1} = 1$ and "
             r"$\mathrm{KL}_d(q\Vert p^*) = \int q_1\log(q_1/p_1)\,ds\cdot\int\psi_{d-1}"
             r" = \mathrm{KL}_1$ (Fubini; same for BC, $\chi^2$, $L_F$)"),
        Step(sp.Subs(sp.Derivative(log_phi_moved, _eta), _eta, 0), _u1, "orthogonal score",
             r"moving $\tilde\mu_o$ by $\eta$ across the line: "
             r"$\partial_\eta\log q = r_o(s)\,u_1$ at $\eta = 0$"),
        Step(sp.Integral(_u1**2 * psi1, (_u1, -sp.oo, sp.oo)), one, "second moment",
             r"Fisher information across the line: $\mathbb E_q[r_a r_b\,u_1^2] = "
             r"\mathbb E_{q_1}[r_a r_b]\cdot\int u_1^2\psi = \mathbb E_{q_1}[r_a r_b]$ "
             r"(the orthogonal Fisher block)"),
        Step(sp.Integral(_u1 * psi1, (_u1, -sp.oo, sp.oo)), sp.Integer(0), "odd moment",
             r"$\partial_\eta L_R = \int q_1(s) r_o(s)\log(q_1/p_1)\,ds\cdot"
             r"\int u_1\psi(u_1)\,du_1 = 0$ and $\partial_\eta L_F = -\int P_1 r_o\,ds\cdot"
             r"\int u_1\psi = 0$: the gradient is parallel to $e$ (equivalently: reflection "
             r"symmetry about the line)"),
    )
    return Derivation(
        "Dimension reduction: collinear means reduce to 1-D",
        ASSUMPTIONS,
        steps,
        result=sp.log(q1 / p1),
        notes=("Along the line, moving a mean by εe keeps the means collinear, so "
               r"$e^\top\nabla_{\tilde\mu_c}L$ is the 1-D derivative $g_c$; hence "
               r"$\nabla_{\tilde\mu_c}L = g_c e$.",
               "Checked numerically in d = 2 (tensor-product quadrature) and d = 3 (Monte "
               "Carlo) by the claim's check."),
    )


@lru_cache(maxsize=1)
def chain_rule_derivation() -> Derivation:
    r"""Pull-back of a whitened gradient: :math:`\nabla_\mu f(L^{-1}\mu) =
    L^{-\top}(\nabla f)(L^{-1}\mu)`, checked for a generic lower-triangular 2×2 ``L`` and a
    non-linear test function (contracted with an arbitrary vector ``c``)."""
    l11, l22 = sp.symbols("l_11 l_22", positive=True)
    l21 = sp.Symbol("l_21", real=True)
    m1, m2, c1, c2, z1, z2 = sp.symbols("mu_1 mu_2 c_1 c_2 z_1 z_2", real=True)
    low = sp.Matrix([[l11, 0], [l21, l22]])
    f = sp.exp(z1 - z2**2 / 3) * z1 + sp.sin(z1 * z2)
    zt = low.inv() * sp.Matrix([m1, m2])
    at = {z1: zt[0], z2: zt[1]}
    lhs = c1 * sp.diff(f.subs(at), m1) + c2 * sp.diff(f.subs(at), m2)
    grad = sp.Matrix([sp.diff(f, z1), sp.diff(f, z2)]).subs(at)
    rhs = (sp.Matrix([[c1, c2]]) * low.inv().T * grad)[0, 0]
    return Derivation(
        "Chain rule: whitened gradients map back with the inverse transpose",
        (r"$\Sigma = LL^\top$, $\tilde\mu = L^{-1}\mu$",),
        (Step(lhs, rhs, "chain rule",
              r"$c^\top\nabla_\mu f(L^{-1}\mu) = c^\top L^{-\top}(\nabla f)(L^{-1}\mu)$ for "
              r"every $c$ (here $d = 2$, $L$ generic lower triangular)"),),
        result=rhs,
        notes=(r"Hence $\nabla_{\mu_c}L = L^{-\top}(g_c e)$: not $L$, not $L^{-1}$.",),
    )


@lru_cache(maxsize=1)
def orthogonal_fisher_spec() -> ExpectationSpec:
    r""":math:`\mathbb E_{q_1}[(r_o^2,\ r_o r_n,\ r_n^2)]` under the 1-D student mixture: the
    Fisher information of the whitened means *across* the separation axis (per orthogonal
    direction; the score there is :math:`r_c(s)\,u`). Parameters ``(w, μo, μn, σ)``."""
    r_o = responsibility_old()
    r_n = 1 - r_o
    f = (r_o**2, r_o * r_n, r_n**2)
    return ExpectationSpec("fisher_orthogonal", (w, mu_o, mu_n, sigma),
                           (Component(w, mu_o, sigma), Component(1 - w, mu_n, sigma)), (f, f),
                           (log_odds(w, mu_o, mu_n),))


@lru_cache(maxsize=1)
def orthogonal_fkl_hessian_spec() -> ExpectationSpec:
    r""":math:`\mathbb E_{P_{\rm train}}[(r_o^2,\ r_o r_n,\ r_n^2)]`: the FKL Hessian of the
    whitened student means across the separation axis (per orthogonal direction).

    :math:`\partial^2_{\eta_a\eta_b}L_F = -\mathbb E_P[\partial^2 q/q] + \mathbb E_P[r_a r_b u^2]`
    and :math:`\partial^2_{\eta_a\eta_a} q/q = r_a (u^2 - 1)` integrates to 0 against
    :math:`\psi(u)`. (For the RKL the same argument leaves
    :math:`\mathbb E_q[r_a r_b]`, :func:`orthogonal_fisher_spec`.) Arguments ``FKL_ARGS``.
    """
    r_o = responsibility_old()
    r_n = 1 - r_o
    f = (r_o**2, r_o * r_n, r_n**2)
    return ExpectationSpec("fkl_hessian_orthogonal", FKL_ARGS,
                           (Component(1 - rho, data_mean, sigma),
                            Component(rho, replay_mean, sigma)), (f, f),
                           (log_odds(w, mu_o, mu_n),))
