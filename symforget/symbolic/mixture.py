r"""The two-component model, its objectives and their exact gradients (see README.md).

Student :math:`q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}`, target
:math:`p^* = \alpha\varphi_{\nu_o} + (1-\alpha)\varphi_{\nu_n}`, shared scale σ.
Everything is written in *stable* form: with the log-odds of the old component

.. math:: z_q(x) = \log\tfrac{w}{1-w} + \log\varphi_{\mu_o}(x) - \log\varphi_{\mu_n}(x)
          \quad(\text{linear in } x),

:math:`\log q = \log(1-w) + \log\varphi_{\mu_n} + \operatorname{softplus}(z_q)` and
:math:`r_o^q = \operatorname{sigmoid}(z_q)`, so no evaluation ever forms 0/0 or log 0. This is
the shared-σ case of the one mixture definition, :mod:`symforget.symbolic.density`, with the
log-odds in linear pivot form (checked equal to it).

Gradients are derived by SymPy, never typed:

* forward KL: :math:`\nabla_\theta L_F = -\mathbb E_{P_{\rm train}}[\nabla_\theta\log q_\theta]`
  (differentiation under the integral; :math:`\mathbb E_P\log P` does not depend on θ);
* reverse KL: :math:`\nabla_\theta L_R = \int\nabla_\theta q\,(\log\tfrac{q}{p^*}+1)
  = \sum_c \mathbb E_{\varphi_c}[g_c\log\tfrac{q}{p^*}]` with
  :math:`\nabla_\theta q = \sum_c \varphi_c g_c`,
  :math:`g_c = \nabla\pi_c + \pi_c\nabla\log\varphi_c`,
  and :math:`\int\nabla_\theta q = 0` removing the ``+1`` (score-function identity).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from . import density
from .expectation import Component, ExpectationSpec
from .functions import Sigmoid, Softplus, complement_sigmoids
from .gauss import log_normal_pdf, normal_pdf
from .symbols import (
    FKL_ARGS,
    RKL_ARGS,
    STUDENT,
    alpha,
    data_mean,
    mu_n,
    mu_o,
    nu_n,
    nu_o,
    replay_mean,
    rho,
    sigma,
    w,
    x,
)

__all__ = [
    "log_odds",
    "log_normal_ratio",
    "log_mixture",
    "mixture_pdf",
    "log_q",
    "log_p",
    "responsibility_old",
    "score",
    "component_gradient_weights",
    "fkl_grad_spec",
    "fkl_hess_spec",
    "fkl_loss_spec",
    "fkl_loss_spec_ref",
    "log_mixture_ref",
    "log_ratio_ref",
    "rkl_grad_spec",
    "rkl_hess_spec",
    "rkl_loss_spec",
    "rkl_loss_spec_ref",
    "fisher_spec",
    "fkl_iw_grad_spec",
    "em_spec",
]


def log_odds(weight: sp.Expr, m_first: sp.Expr, m_second: sp.Expr) -> sp.Expr:
    r"""z(x) = log(π/(1−π)) + log φ(x; m1) − log φ(x; m2), linear in x, in *pivot form*
    :math:`\log\tfrac{\pi}{1-\pi} + (m_1 - m_2)(x - \tfrac{m_1 + m_2}2)/\sigma^2`.

    Checked equal to the one definition, :func:`symforget.symbolic.density.log_odds` with equal
    scales. The expanded form :math:`(m_2^2 - m_1^2)/2\sigma^2 + (m_1 - m_2)x/\sigma^2` loses
    every digit when the means nearly coincide far from the origin (m² and m·x terms cancel:
    z came out ≈ 1e-8 instead of 0 for m1 = m2 = 6688, x ≈ −6688; found by the metamorphic
    suite).
    """
    z = sp.log(weight) - sp.log(1 - weight) + log_normal_ratio(m_first, m_second)
    definition = density.log_odds((weight, 1 - weight), ((m_first, sigma), (m_second, sigma)),
                                  0, 1)
    if sp.expand(z - definition) != 0:  # pragma: no cover - an identity
        raise AssertionError("pivot form of the log-odds differs from its definition")
    return z


def log_normal_ratio(m_first: sp.Expr, m_second: sp.Expr) -> sp.Expr:
    r""":math:`\log\varphi(x; m_1) - \log\varphi(x; m_2)
    = (m_1 - m_2)(x - \tfrac{m_1+m_2}2)/\sigma^2`
    (pivot form, see :func:`log_odds`; checked against the definition)."""
    r = (m_first - m_second) * (x - (m_first + m_second) / 2) / sigma**2
    if sp.expand(r - density.log_phi_ratio((m_first, sigma), (m_second, sigma))) != 0:
        raise AssertionError("pivot form of log φ1 − log φ2 differs")  # pragma: no cover
    return r


def log_mixture(weight: sp.Expr, m_first: sp.Expr, m_second: sp.Expr) -> sp.Expr:
    r"""log(π φ_{m1} + (1−π) φ_{m2}) = log(1−π) + log φ_{m2} + softplus(z) (stable)."""
    return (
        sp.log(1 - weight)
        + log_normal_pdf(x, m_second, sigma)
        + Softplus(log_odds(weight, m_first, m_second))
    )


def mixture_pdf(weight: sp.Expr, m_first: sp.Expr, m_second: sp.Expr) -> sp.Expr:
    """π φ_{m1} + (1−π) φ_{m2} (plain form, for symbolic statements)."""
    return weight * normal_pdf(x, m_first, sigma) + (1 - weight) * normal_pdf(x, m_second, sigma)


def log_q() -> sp.Expr:
    """log q_θ(x) in stable form."""
    return log_mixture(w, mu_o, mu_n)


def log_p() -> sp.Expr:
    """log p*(x) in stable form."""
    return log_mixture(alpha, nu_o, nu_n)


def responsibility_old() -> sp.Expr:
    """r_o^q(x) = w φ_{μo}/q = sigmoid(z_q(x))."""
    return Sigmoid(log_odds(w, mu_o, mu_n))


@cache
def score() -> tuple[sp.Expr, ...]:
    r"""∇_θ log q_θ(x), θ = (w, μo, μn), by symbolic differentiation of the stable form."""
    lq = log_q()
    return tuple(complement_sigmoids(sp.simplify(sp.diff(lq, v))) for v in STUDENT)


@cache
def score_hessian() -> tuple[tuple[sp.Expr, ...], ...]:
    """∇²_θ log q_θ(x) (3×3), by differentiating :func:`score`."""
    sc = score()
    return tuple(tuple(sp.diff(sc[i], v) for v in STUDENT) for i in range(3))


@cache
def component_gradient_weights() -> tuple[tuple[sp.Expr, ...], tuple[sp.Expr, ...]]:
    r"""(g_o, g_n) with ∇_θ q = φ_{μo} g_o + φ_{μn} g_n, g_c = ∇π_c + π_c ∇ log φ_c."""
    out = []
    for pi_c, m_c in ((w, mu_o), (1 - w, mu_n)):
        lphi = log_normal_pdf(x, m_c, sigma)
        out.append(tuple(sp.simplify(sp.diff(pi_c, v) + pi_c * sp.diff(lphi, v)) for v in STUDENT))
    return out[0], out[1]


@cache
def component_hessian_weights() -> tuple[tuple[tuple[sp.Expr, ...], ...], ...]:
    r"""(H_o, H_n) with ∇²_θ q = φ_{μo} H_o + φ_{μn} H_n (differentiate φ_c g_c once more)."""
    g = component_gradient_weights()
    out = []
    for c, m_c in enumerate((mu_o, mu_n)):
        lphi = log_normal_pdf(x, m_c, sigma)
        rows = []
        for i in range(3):
            rows.append(tuple(sp.simplify(sp.diff(g[c][i], v) + g[c][i] * sp.diff(lphi, v))
                              for v in STUDENT))
        out.append(tuple(rows))
    return tuple(out)


def _train_components() -> tuple[Component, ...]:
    return (Component(1 - rho, data_mean, sigma), Component(rho, replay_mean, sigma))


def _student_components() -> tuple[Component, ...]:
    return (Component(w, mu_o, sigma), Component(1 - w, mu_n, sigma))


def _flat(matrix: tuple[tuple[sp.Expr, ...], ...]) -> tuple[sp.Expr, ...]:
    return tuple(e for row in matrix for e in row)


@cache
def fkl_grad_spec() -> ExpectationSpec:
    r"""∇_θ KL(P_train ‖ q_θ) = −E_{P_train}[∇_θ log q_θ], P_train = (1−ρ)φ_{m_d} + ρφ_{m_r}."""
    neg = tuple(-e for e in score())
    return ExpectationSpec("fkl_grad", FKL_ARGS, _train_components(), (neg, neg),
                           (log_odds(w, mu_o, mu_n),))


@cache
def fkl_hess_spec() -> ExpectationSpec:
    """∇²_θ KL(P_train ‖ q_θ) = −E_{P_train}[∇²_θ log q_θ] (row-major 3×3)."""
    neg = tuple(-e for e in _flat(score_hessian()))
    return ExpectationSpec("fkl_hess", FKL_ARGS, _train_components(), (neg, neg),
                           (log_odds(w, mu_o, mu_n),))


@cache
def fkl_loss_spec(with_replay: bool = True) -> ExpectationSpec:
    r"""KL(P_train ‖ q_θ) = E_{P_train}[log P_train − log q_θ] (both logs in stable form).

    ``with_replay=False`` is the ρ = 0 form, log P = log φ_{m_d} (log ρ would be −∞).
    """
    if not with_replay:
        integrand = (log_normal_pdf(x, data_mean, sigma) - log_q(),)
        comps = (Component(sp.Integer(1), data_mean, sigma),)
        return ExpectationSpec("fkl_loss0", FKL_ARGS, comps, (integrand,),
                               (log_odds(w, mu_o, mu_n),))
    integrand = (log_mixture(rho, replay_mean, data_mean) - log_q(),)
    return ExpectationSpec("fkl_loss", FKL_ARGS, _train_components(), (integrand, integrand),
                           (log_odds(w, mu_o, mu_n), log_odds(rho, replay_mean, data_mean)))


@cache
def fkl_loss_spec_ref(with_replay: bool, refs: tuple[int, int]) -> ExpectationSpec:
    r""":func:`fkl_loss_spec` with each log written relative to a chosen component.

    ``refs`` = (b_d, b_r): the student component (0 = old, 1 = new) that log q is written
    relative to under the data and under the replay component (:func:`log_ratio_ref`); every
    choice is the same function, the evaluator picks the student component nearest to each.
    """
    b_d, b_r = refs
    kinks = (log_odds(w, mu_o, mu_n),)
    if not with_replay:
        integrand = (-log_ratio_ref((w, mu_o, mu_n), b_d, (sp.Integer(1), data_mean, data_mean),
                                    0, single_second=True),)
        comps = (Component(sp.Integer(1), data_mean, sigma),)
        return ExpectationSpec(f"fkl_loss0_{b_d}", FKL_ARGS, comps, (integrand,), kinks)
    train = (1 - rho, data_mean, replay_mean)
    f_d = (-log_ratio_ref((w, mu_o, mu_n), b_d, train, 0),)
    f_r = (-log_ratio_ref((w, mu_o, mu_n), b_r, train, 1),)
    return ExpectationSpec(f"fkl_loss_{b_d}{b_r}", FKL_ARGS, _train_components(), (f_d, f_r),
                           (*kinks, log_odds(rho, replay_mean, data_mean)))


def log_mixture_ref(mix: tuple[sp.Expr, sp.Expr, sp.Expr], ref: int) -> tuple[sp.Expr, ...]:
    r"""log(π φ_{m1} + (1−π) φ_{m2}) relative to component ``ref`` (0 → m1, 1 → m2):
    ``(log π_ref, m_ref, z)`` with the mixture = log π_ref + log φ_{m_ref} + softplus(z),
    z the log-odds of the other component against ``ref`` (≈ −∞ near m_ref: no cancellation)."""
    pi, m1, m2 = mix
    if ref == 0:
        return sp.log(pi), m1, log_odds(1 - pi, m2, m1)
    return sp.log(1 - pi), m2, log_odds(pi, m1, m2)


def log_ratio_ref(first: tuple[sp.Expr, sp.Expr, sp.Expr], a: int,
                  second: tuple[sp.Expr, sp.Expr, sp.Expr], b: int,
                  single_second: bool = False) -> sp.Expr:
    r"""log(f/g) for two 2-component mixtures, each written relative to one component:

    .. math:: \log\tfrac{\pi_a}{\varpi_b} + \frac{(m_a - n_b)(x - (m_a + n_b)/2)}{\sigma^2}
              + \operatorname{softplus}(z_f) - \operatorname{softplus}(z_g).

    Near the reference components both softplus terms vanish, so the value is not a difference
    of two numbers of size Δ²/2 (which cost an absolute ε·Δ² — 1e-3 at Δ = 9e6 — when the
    reference is the far component). ``single_second``: g is the single Gaussian φ_{n_b}.
    """
    la, ma, za = log_mixture_ref(first, a)
    if single_second:
        lb, nb, zb = sp.Integer(0), second[1], None
    else:
        lb, nb, zb = log_mixture_ref(second, b)
    out = la - lb + log_normal_ratio(ma, nb) + Softplus(za)
    return out if zb is None else out - Softplus(zb)


def _log_ratio(refs: tuple[int, int] = (1, 1)) -> sp.Expr:
    """log(q/p*) in stable form, q relative to student component refs[0], p* to target
    component refs[1]; the two log φ terms combine into a linear function of x."""
    return log_ratio_ref((w, mu_o, mu_n), refs[0], (alpha, nu_o, nu_n), refs[1])


def _rkl_kinks() -> tuple[sp.Expr, ...]:
    return (log_odds(w, mu_o, mu_n), log_odds(alpha, nu_o, nu_n))


@cache
def rkl_loss_spec() -> ExpectationSpec:
    """KL(q_θ ‖ p*) = E_q[log(q/p*)] (log q and log p* relative to their new components)."""
    lr = (_log_ratio(),)
    return ExpectationSpec("rkl_loss", RKL_ARGS, _student_components(), (lr, lr), _rkl_kinks())


@cache
def rkl_loss_spec_ref(refs: tuple[int, int]) -> ExpectationSpec:
    """KL(q_θ ‖ p*) = E_q[log(q/p*)], the references chosen per component.

    Under student component c, log q is written relative to c itself and log p* relative to
    target component ``refs[c]`` (:func:`log_ratio_ref`); the evaluator picks the target
    component nearest to each student mean. ``refs=(1, 1)`` with the new component is the
    historical form (kept for references).
    """
    f_o = (_log_ratio((0, refs[0])),)
    f_n = (_log_ratio((1, refs[1])),)
    name = "rkl_loss" if refs == (1, 1) else f"rkl_loss_{refs[0]}{refs[1]}"
    return ExpectationSpec(name, RKL_ARGS, _student_components(), (f_o, f_n), _rkl_kinks())


@cache
def rkl_grad_spec() -> ExpectationSpec:
    r"""∇_θ KL(q_θ ‖ p*) = Σ_c E_{φ_c}[g_c log(q/p*)] (weights π_c = 1: g_c carries them)."""
    lr = _log_ratio()
    g_o, g_n = component_gradient_weights()
    comps = (Component(sp.Integer(1), mu_o, sigma), Component(sp.Integer(1), mu_n, sigma))
    return ExpectationSpec("rkl_grad", RKL_ARGS, comps,
                           (tuple(e * lr for e in g_o), tuple(e * lr for e in g_n)), _rkl_kinks())


@cache
def rkl_hess_spec() -> ExpectationSpec:
    r"""∇²L_R = Σ_c E_{φ_c}[H_c log(q/p*)] + E_q[∇log q ∇log qᵀ] (row-major 3×3)."""
    lr = _log_ratio()
    h_o, h_n = component_hessian_weights()
    sc = score()
    outer = tuple(sc[i] * sc[j] for i in range(3) for j in range(3))
    comps = (Component(sp.Integer(1), mu_o, sigma), Component(sp.Integer(1), mu_n, sigma))
    f_o = tuple(h * lr + w * o for h, o in zip(_flat(h_o), outer, strict=True))
    f_n = tuple(h * lr + (1 - w) * o for h, o in zip(_flat(h_n), outer, strict=True))
    return ExpectationSpec("rkl_hess", RKL_ARGS, comps, (f_o, f_n), _rkl_kinks())


@cache
def fisher_spec() -> ExpectationSpec:
    r"""Fisher information I(θ) = E_q[∇_θ log q ∇_θ log qᵀ] (row-major 3×3)."""
    sc = score()
    outer = tuple(sc[i] * sc[j] for i in range(3) for j in range(3))
    return ExpectationSpec("fisher", (w, mu_o, mu_n, sigma), _student_components(),
                           (outer, outer), (log_odds(w, mu_o, mu_n),))


@cache
def fkl_iw_grad_spec() -> ExpectationSpec:  # requires ρ > 0
    r"""Importance-weighted replay gradient −E_{P_train}[(P_new/P_train) ∇ log q].

    P_new = φ_{m_d}; the weight P_new/P_train = exp(log φ_{m_d} − log P_train) in stable form.
    """
    log_weight = log_normal_pdf(x, data_mean, sigma) - log_mixture(rho, replay_mean, data_mean)
    integrand = tuple(-sp.exp(log_weight) * e for e in score())
    return ExpectationSpec("fkl_iw_grad", FKL_ARGS, _train_components(), (integrand, integrand),
                           (log_odds(w, mu_o, mu_n), log_odds(rho, replay_mean, data_mean)))


@cache
def em_spec() -> ExpectationSpec:
    r"""EM sufficient statistics under P_train: E[r_o], E[r_o x], E[r_n], E[r_n x].

    The EM map is w' = E[r_o], μo' = E[r_o x]/E[r_o], μn' = E[r_n x]/E[r_n]
    (r_n = sigmoid(−z_q), not 1 − r_o: no cancellation).
    """
    z = log_odds(w, mu_o, mu_n)
    r_o, r_n = Sigmoid(z), Sigmoid(-z)
    f = (r_o, r_o * x, r_n, r_n * x)
    return ExpectationSpec("em_stats", FKL_ARGS, _train_components(), (f, f), (z,))


def symbolic_objects() -> dict[str, object]:
    """Handy access for proofs: the stable log q, responsibilities, score, weights."""
    return {
        "log_q": log_q(),
        "r_o": responsibility_old(),
        "score": score(),
        "g": component_gradient_weights(),
        "alpha": alpha, "nu_o": nu_o, "nu_n": nu_n,
    }
