r"""Replay derivations for the forward KL (``replay.fkl_*``).

Replay fraction λ is the symbol ``rho`` of :mod:`~symforget.symbolic.symbols` (the ``replay``
argument of :func:`symforget.fkl_grad`): :math:`P_{\rm train} = (1-\lambda)P_{\rm new} +
\lambda P_{\rm old}`, :math:`P_{\rm new} = \varphi_{m_d}`, :math:`P_{\rm old} = \varphi_{m_r}`.
As in :mod:`symforget.symbolic.rkl`, pointwise identities use abstract positive density values
(decided by ``simplify``); the step that ties the importance-weighted gradient to the model's
own integrand uses the concrete Gaussians (50-digit spot checks: SymPy's simplify is slow on
them). Builders take the claim's stated constants, true values by default.
"""

from __future__ import annotations

from typing import Literal

import sympy as sp

from .derivation import Derivation, Named, Step
from .gauss import normal_pdf
from .mixture import fkl_grad_spec, fkl_iw_grad_spec
from .rkl import phi_n, phi_o
from .symbols import data_mean, replay_mean, rho, sigma, w, x

__all__ = [
    "train_density",
    "fkl_optimum_derivation",
    "fkl_iw_derivation",
    "Reference",
]

Reference = Literal["new", "train"]

#: q_θ(x) and P_train(x) with abstract component values; the means are at the truth, so the
#: student's components are the data components: φ_o = P_old(x), φ_n = P_new(x)
_Q = w * phi_o + (1 - w) * phi_n
_P = (1 - rho) * phi_n + rho * phi_o
#: a generic integrand value h(x) (any entry of −∇θ log q)
_h = sp.Symbol("h", real=True)


def train_density() -> sp.Expr:
    r"""P_train(x) = (1 − ρ) φ_{m_d}(x) + ρ φ_{m_r}(x) with concrete Gaussians."""
    return (1 - rho) * normal_pdf(x, data_mean, sigma) + rho * normal_pdf(x, replay_mean, sigma)


def fkl_optimum_derivation(w_opt: sp.Expr = rho) -> Derivation:
    r"""``replay.fkl_optimum``: with the means correct the unique minimiser is w = λ.

    Parameters
    ----------
    w_opt : sympy expression
        The stated minimiser (true: ``rho`` = λ). Any other value fails the step
        "q = P_train at w_opt".

    Notes
    -----
    :math:`\partial_w L_F = -\int P\,(\varphi_o - \varphi_n)/q`; at q = P the integrand is
    :math:`-(\varphi_o - \varphi_n)`, which integrates to 0.
    :math:`\partial_w^2 L_F = \int P(\varphi_o - \varphi_n)^2/q^2 > 0`: strictly convex, so the
    stationary point is the unique minimiser. α appears nowhere: the forward KL sees the target
    only through P_train.
    """
    grad_w = sp.Derivative(-_P * sp.log(_Q), w)
    steps = (
        Step(sp.Subs(_Q, w, w_opt), _P, "substitute",
             r"with the means correct ($\mu_o = \mu_o^*$ = replay mean, $\mu_n = \mu_n^*$ = "
             r"data mean) and $w = \lambda$ the student equals the training distribution, so "
             r"$L_F = \mathrm{KL}(P\Vert P) = 0$, the global minimum (Gibbs' inequality, see "
             r"rkl.global_optimum)"),
        Step(grad_w, -_P * (phi_o - phi_n) / _Q, "differentiate",
             r"pointwise $\partial_w(-P\log q)$; integrating gives $\partial_w L_F$"),
        Step(sp.Subs(grad_w, w, w_opt), -(phi_o - phi_n), "substitute",
             r"at the stated minimiser the integrand is $-(\varphi_o - \varphi_n)$, which "
             r"integrates to 0: a stationary point"),
        Step(sp.Derivative(-_P * sp.log(_Q), (w, 2)), _P * (phi_o - phi_n) ** 2 / _Q**2,
             "differentiate", r"pointwise second derivative"),
        Step(sp.Integer(0), _P * (phi_o - phi_n) ** 2 / _Q**2, "inequality",
             r"$> 0$ wherever $\varphi_o \ne \varphi_n$: $L_F(w)$ strictly convex, the "
             r"stationary point is the unique minimiser", kind="le",
             box=(("varphi_o", "1e-6", "1e6"), ("varphi_n", "1e-6", "1e6"),
                  ("w", "0.000001", "0.999999"), ("rho", 0, 1))),
        Step(sp.Subs(_P * (w * phi_o / _Q), w, w_opt), w_opt * phi_o, "EM fixed point",
             r"$P\,r_o$ at the stated minimiser is $w\,\varphi_o$, so the EM map returns "
             r"$\mathbb E_P[r_o] = w$: an EM fixed point"),
        Step(sp.Subs(grad_w, (rho, w), (0, 0)), -(phi_o - phi_n), "no replay",
             r"with $\lambda = 0$ the derivative at $w \to 0$ integrates to 0 and is increasing: "
             r"the minimiser is w = 0 (mass forgetting, fkl.mass_forgetting); $\lambda > 0$ "
             r"moves it to $w = \lambda > 0$ — necessary and sufficient"),
    )
    return Derivation(
        "Forward KL with replay: retained mass equals the replay fraction",
        (r"$P_{\rm train} = (1-\lambda)P_{\rm new} + \lambda P_{\rm old}$, "
         r"$\lambda \in [0, 1)$, $P_{\rm old} = \varphi_{\mu_o^*}$, "
         r"$P_{\rm new} = \varphi_{\mu_n^*}$, $\mu_o^* \ne \mu_n^*$",
         r"means at the truth; pointwise steps use $\varphi_o = P_{\rm old}(x)$, "
         r"$\varphi_n = P_{\rm new}(x)$",
         r"α (the target's old weight) does not enter $\mathrm{KL}(P_{\rm train}\Vert q)$"),
        steps,
        result=w_opt,
    )


def fkl_iw_derivation(reference: Reference = "new") -> Derivation:
    r"""``replay.fkl_iw_no_effect``: importance weighting back to P_new undoes replay.

    Parameters
    ----------
    reference : {"new", "train"}
        The distribution the IW gradient is stated to be an expectation under: ``"new"`` (true:
        the no-replay gradient) or ``"train"`` (false: the unweighted replay gradient).

    Notes
    -----
    :math:`\mathbb E_{P_{\rm train}}[(P_{\rm new}/P_{\rm train})h] = \int P_{\rm new}h =
    \mathbb E_{P_{\rm new}}[h]`, for every h — in particular :math:`h = -\nabla_\theta\log q`.
    """
    if reference not in ("new", "train"):
        raise ValueError(f"reference={reference!r} must be 'new' or 'train'")
    p_new_abs = phi_n
    ref_abs = p_new_abs if reference == "new" else _P
    train_abs = Named(r"P_{\rm train}", _P)
    iw = fkl_iw_grad_spec()
    plain = fkl_grad_spec()
    p_new = normal_pdf(x, data_mean, sigma)
    ref = p_new if reference == "new" else train_density()
    # Σ_c π_c φ_c(x) f_c(x): the IW spec's integrand is the same for both components
    weighted = train_density() * iw.integrands[0][0]
    steps = (
        Step(train_abs * sp.UnevaluatedExpr(p_new_abs / train_abs) * _h, ref_abs * _h,
             "importance weight",
             r"pointwise $P_{\rm train}\cdot(P_{\rm new}/P_{\rm train})\cdot h = "
             r"P_{\rm new}\,h$; integrating, $\mathbb E_{P_{\rm train}}[(P_{\rm new}/"
             r"P_{\rm train})h] = \mathbb E_{P_{\rm new}}[h]$"),
        Step(weighted, ref * plain.integrands[0][0], "model integrand",
             r"the model's IW integrand (w-entry) times $P_{\rm train}(x)$ equals "
             r"$P_{\rm new}(x)$ times the no-replay integrand $-\partial_w\log q$",
             numeric_only=True),
        Step(sp.Symbol(r"\nabla L_F^{\rm IW}"), sp.Symbol(r"\nabla\mathrm{KL}(P_{\rm new}"
                                                          r"\Vert q_\theta)"),
             "conclude",
             r"so the IW-replay gradient is the no-replay gradient at every θ; its w-entry is "
             r"$> 0$ on (0, 1) (fkl.mass_forgetting) and the optimum stays at w = 0: replay "
             r"helps the forward KL only by changing the training distribution", kind="argued",
             reason="the two steps above integrated over x, in words; the claim's check compares "
                    "the importance-weighted gradient with the no-replay gradient at seeded random "
                    "θ"),
    )
    return Derivation(
        "Importance-weighted replay has no effect on the forward-KL gradient",
        (r"$P_{\rm train} = (1-\lambda)P_{\rm new} + \lambda P_{\rm old}$ with $\lambda > 0$ "
         r"(so $P_{\rm train} > 0$ and the weight $P_{\rm new}/P_{\rm train}$ is finite)",),
        steps,
    )
