r"""Reverse-KL derivations (``rkl.*``).

Pointwise identities are stated with *abstract* positive symbols for the density values at a
fixed x (``phi_o`` = φ_{μo}(x), ``phi_n`` = φ_{μn}(x), ``p^*`` = p*(x)): they hold for every
positive value, SymPy decides them by ``simplify`` in milliseconds, and integrating them over x
is the only further step (each such step says so). Steps that tie the derivation to the model's
own expressions (:mod:`symforget.symbolic.mixture`) use the concrete Gaussians.

Every builder takes the claim's *stated constants* as arguments with the true values as
defaults, so a wrong statement produces a derivation whose :meth:`~Derivation.check` fails.
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, Named, Step
from .gauss import normal_pdf
from .mixture import component_gradient_weights
from .symbols import alpha, mu_n, mu_o, sigma, t, w, x

__all__ = [
    "phi_o",
    "phi_n",
    "p_star",
    "gibbs_gap",
    "global_optimum_derivation",
    "weight_convergence_derivation",
]

#: density values at a fixed point x (abstract, positive)
phi_o = sp.Symbol("varphi_o", positive=True)
phi_n = sp.Symbol("varphi_n", positive=True)
p_star = sp.Symbol("p^*", positive=True)
#: a generic ratio u = p*/q > 0, and auxiliary constants of the linearised flow
u = sp.Symbol("u", positive=True)
kappa = sp.Symbol("kappa", positive=True)
e0 = sp.Symbol("e_0", real=True)

_qx = sp.Function("q_theta")(x)
_px = sp.Function("p^*")(x)


def _mix(weight: sp.Expr, first: sp.Expr, second: sp.Expr) -> sp.Expr:
    """weight · first + (1 − weight) · second (a two-component mixture at one point x)."""
    return weight * first + (1 - weight) * second


_Q = _mix(w, phi_o, phi_n)  # q_θ(x) with abstract component values
_P = _mix(alpha, phi_o, phi_n)  # p*(x) when phi_o, phi_n are the *target's* components


def gibbs_gap(v: sp.Expr) -> sp.Expr:
    r"""f(u) = u − 1 − log u, the pointwise Gibbs gap (≥ 0, zero iff u = 1)."""
    return v - 1 - sp.log(v)


def global_optimum_derivation(w_star: sp.Expr = alpha) -> Derivation:
    r"""``rkl.global_optimum``: :math:`L_R \ge 0`, equality iff :math:`q_\theta = p^*`.

    Parameters
    ----------
    w_star : sympy expression in ``alpha``
        The *stated* old weight of the global minimiser (true value: α). The steps
        "q = p* at (w_star, νo, νn)" and "q = p* at the label swap (1 − w_star, νn, νo)" fail
        for any other value.

    Notes
    -----
    :math:`L_R = \int q\log(q/p^*) = \int q\,f(p^*/q)` because
    :math:`\int q\,(p^*/q - 1) = \int p^* - \int q = 0`; :math:`f(u) = u - 1 - \log u` is
    strictly convex with its only zero at u = 1. Identifiability of finite Gaussian mixtures
    (Teicher 1963) then leaves exactly θ* and its label swap.
    """
    Q = sp.Symbol("q", positive=True)
    P = sp.Symbol("p", positive=True)
    f = gibbs_gap(u)
    steps = (
        Step(sp.Symbol("L_R"), sp.Integral(_qx * sp.log(_qx / _px), x),
             "definition", r"reverse KL $L_R(\theta) = \mathrm{KL}(q_\theta\Vert p^*)$",
             kind="def", reason="a definition"),
        Step(Q * sp.log(Q / P) - Q * gibbs_gap(P / Q), Q - P, "rewrite",
             r"pointwise: $q\log(q/p) = q\,f(p/q) + (q - p)$; the last term integrates to "
             r"$1 - 1 = 0$, so $L_R = \int q\,f(p^*/q)$"),
        Step(sp.Subs(f, u, 1), sp.Integer(0), "evaluate", r"$f(1) = 0$"),
        Step(sp.Derivative(f, u), (u - 1) / u, "differentiate",
             r"$f'(u) = (u-1)/u$: negative on (0, 1), positive on (1, ∞)"),
        Step(sp.Derivative(f, (u, 2)), 1 / u**2, "differentiate",
             r"$f''(u) = 1/u^2 > 0$: f strictly convex, its only minimum is f(1) = 0"),
        Step(sp.Integer(0), f, "inequality",
             r"hence $f(u) \ge 0$ with equality iff $u = 1$; so $L_R \ge 0$ with equality iff "
             r"$p^* = q_\theta$ almost everywhere", kind="le", box=(("u", "1e-6", "1e6"),)),
        Step(sp.Subs(_Q, w, w_star), _P, "substitute",
             r"at $\theta^* = (\alpha, \mu_o^*, \mu_n^*)$ the student's components are the "
             r"target's ($\varphi_o = \varphi_{\mu_o^*}(x)$, $\varphi_n = \varphi_{\mu_n^*}(x)$) "
             r"with the same weights: $q_{\theta^*} = p^*$"),
        Step(sp.Subs(_Q, (w, phi_o, phi_n), (1 - w_star, phi_n, phi_o)), _P, "substitute",
             r"so is the label swap $(1-\alpha, \mu_n^*, \mu_o^*)$: its 'old' component sits "
             r"at $\mu_n^*$ with weight $1-\alpha$"),
        Step(sp.Symbol(r"\{\theta: q_\theta = p^*\}"),
             sp.Symbol(r"\{\theta^*, \mathrm{swap}(\theta^*)\}"), "identifiability",
             r"for $\mu_o^* \ne \mu_n^*$: $e^{-\sigma^2 s^2/2}\int e^{sx}q_\theta\,dx = "
             r"w e^{\mu_o s} + (1-w)e^{\mu_n s}$ and exponentials with distinct rates are "
             r"linearly independent (Teicher 1963), so the (weight, mean) pairs must coincide",
             kind="argued",
             reason="identifiability of finite Gaussian mixtures (Teicher 1963), an argument in "
                    "words; the claim's check runs BFGS from seeded starts and ends only at the "
                    r"stated $\theta^*$ or its swap"),
    )
    return Derivation(
        "Reverse KL: global minimisers keep the old mass",
        (r"$q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}$, $w \in (0, 1)$",
         r"$p^* = \alpha\varphi_{\mu_o^*} + (1-\alpha)\varphi_{\mu_n^*}$, "
         r"$\alpha \in (0, 1)$, $\mu_o^* \ne \mu_n^*$"),
        steps,
        result=w_star,
        notes=("In both minimisers the component sitting at the old mean carries weight α: "
               "there is no mass forgetting at the population optimum.",),
    )


def weight_convergence_derivation(
    minimiser: sp.Expr = alpha, rate_factor: sp.Expr | int = 1
) -> Derivation:
    r"""``rkl.weight_convergence``: the w-gradient, convexity, minimiser α and the flow rate.

    Parameters
    ----------
    minimiser : sympy expression in ``alpha``
        The stated minimiser of :math:`L_R(w)` with the means at the truth (true: α).
    rate_factor : sympy number
        The stated exponential rate of the gradient flow in units of the curvature
        :math:`L_R''(\alpha) = \int(\varphi_o - \varphi_n)^2/p^*` (true: 1).

    Notes
    -----
    Pointwise, :math:`\partial_w[q\log(q/p^*)] = (\varphi_o - \varphi_n)(\log(q/p^*) + 1)`
    and :math:`\int(\varphi_o - \varphi_n) = 0`, so
    :math:`\partial_w L_R = \mathbb E_{\varphi_o}[\log\tfrac{q}{p^*}] -
    \mathbb E_{\varphi_n}[\log\tfrac{q}{p^*}]`;
    :math:`\partial_w^2[q\log(q/p^*)] = (\varphi_o - \varphi_n)^2/q \ge 0`.
    """
    rate_factor = sp.nsimplify(rate_factor)  # a number (internal, never a user string)
    g_o, g_n = component_gradient_weights()
    lr = sp.log(_Q / p_star)
    integrand = _Q * lr
    fisher_ww = _Q * sp.Derivative(sp.log(_Q), w) ** 2
    e_t = e0 * sp.exp(-rate_factor * kappa * t)
    def total_mass(mean: sp.Expr) -> sp.Integral:
        return sp.Integral(normal_pdf(x, mean, sigma), (x, -sp.oo, sp.oo))

    steps = (
        Step(sp.Derivative(integrand, w), (phi_o - phi_n) * (lr + 1), "differentiate",
             r"pointwise $\partial_w[q\log(q/p^*)]$ with $\partial_w q = \varphi_o - \varphi_n$"),
        Step(total_mass(mu_o) - total_mass(mu_n), sp.Integer(0), "integrate",
             r"both components are probability densities: $\int(\varphi_o - \varphi_n) = 0$ "
             r"removes the $+1$"),
        Step(Named(r"g_o^{(w)}", g_o[0]), sp.Integer(1), "model weights",
             r"the w-entry of the model's gradient weight $g_o$ "
             r"($\nabla_\theta q = \varphi_o g_o + \varphi_n g_n$) is 1"),
        Step(Named(r"g_n^{(w)}", g_n[0]), sp.Integer(-1), "model weights",
             r"and that of $g_n$ is $-1$: so $\partial_w L_R = "
             r"\mathbb E_{\varphi_o}[\log\frac{q}{p^*}] - "
             r"\mathbb E_{\varphi_n}[\log\frac{q}{p^*}]$ is what rkl_grad computes"),
        Step(sp.Derivative(integrand, (w, 2)), (phi_o - phi_n) ** 2 / _Q, "differentiate",
             r"pointwise second derivative; integrating, "
             r"$\partial_w^2 L_R = \int(\varphi_o - \varphi_n)^2/q$"),
        Step(sp.Integer(0), (phi_o - phi_n) ** 2 / _Q, "inequality",
             r"the integrand is $\ge 0$ and $> 0$ wherever $\varphi_o \ne \varphi_n$ "
             r"(all $x$ but one when $\mu_o \ne \mu_n$): $L_R(w)$ is strictly convex",
             kind="le", box=(("varphi_o", "1e-6", "1e6"), ("varphi_n", "1e-6", "1e6"),
                             ("w", "0.000001", "0.999999"))),
        Step(sp.Subs(_Q, w, minimiser), _P, "substitute",
             r"at the stated minimiser with the means at the truth, $q = p^*$, so "
             r"$\log(q/p^*) \equiv 0$ and $\partial_w L_R = 0$; by strict convexity it is "
             r"the unique minimiser"),
        Step(fisher_ww, (phi_o - phi_n) ** 2 / _Q, "score",
             r"$q\,(\partial_w\log q)^2 = (\varphi_o - \varphi_n)^2/q$: at $q = p^*$ the "
             r"curvature $\int(\varphi_o - \varphi_n)^2/p^*$ is the Fisher entry $I_{ww}$"),
        Step(sp.Derivative(e_t, t), -kappa * e_t, "linearise",
             r"near the minimiser $\dot w = -\partial_w L_R \approx -\kappa (w - \alpha)$ with "
             r"$\kappa = L_R''(\alpha)$; $e(t) = e_0 e^{-c\kappa t}$ solves it iff $c = 1$ "
             r"(the stated rate factor)"),
    )
    return Derivation(
        "Reverse KL in the weight: convexity, minimiser and exponential convergence",
        (r"means at the truth: $\mu_o = \mu_o^*$, $\mu_n = \mu_n^*$, $\mu_o^* \ne \mu_n^*$",
         r"$w, \alpha \in (0, 1)$; pointwise steps use the values $\varphi_o = "
         r"\varphi_{\mu_o}(x)$, $\varphi_n = \varphi_{\mu_n}(x)$, $p^* = p^*(x) > 0$"),
        steps,
        result=minimiser,
        notes=(r"Gradient flow $\dot w = -\partial_w L_R$ is one-dimensional and the gradient "
               r"changes sign only at α, so it converges monotonically to α from every "
               r"$w_0 \in (0, 1)$, exponentially at rate $I_{ww}(\theta^*)$.",),
    )
