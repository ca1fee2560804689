r"""The overlap-gated drift identity (claim ``rkl.drift_identity``).

At any θ with :math:`\mu_o = \nu_o` (the old component sits on the old task),

.. math:: \nabla_{\mu_o} L_R = \frac{w}{\sigma^2}\big[m_q\,(\mu_n - \mu_o)
          - m_p\,(\nu_n - \mu_o)\big],

with :math:`m_q = m(w, \Delta(\mu_o,\mu_n))` and :math:`m_p = m(\alpha, \Delta(\nu_o,\nu_n))`
the misassignment probabilities :math:`m = \mathbb E_{\varphi_{\mu_o}}[r_n]`.

Derivation (every step checks itself):

1. score-function form of the gradient (the structure of
   :func:`~symforget.symbolic.mixture.rkl_grad_spec`): the μo-weights are
   :math:`g_o^{(\mu_o)} = w(x-\mu_o)/\sigma^2`, :math:`g_n^{(\mu_o)} = 0`, so
   :math:`\nabla_{\mu_o}L_R = w\,\mathbb E_{\varphi_{\mu_o}}[(x-\mu_o)/\sigma^2\cdot\log(q/p^*)]`;
2. Stein's identity :math:`\mathbb E_\varphi[(x-\mu)f] = \sigma^2\mathbb E_\varphi[f']`
   (integration by parts with :math:`(x-\mu)\varphi = -\sigma^2\varphi'`; checked exactly on a
   generic cubic through Gaussian moments);
3. the x-derivative of the stable log-ratio at :math:`\nu_o = \mu_o` is
   :math:`[r_n^q(\mu_n-\mu_o) - r_n^{p}(\nu_n-\mu_o)]/\sigma^2` (the linear parts cancel;
   :math:`r_n = \operatorname{sigmoid}(-z)` by :math:`\operatorname{sigmoid}(z) +
   \operatorname{sigmoid}(-z) = 1`);
4. the expectations of the two responsibilities under :math:`\varphi_{\mu_o}` are the
   misassignments; they depend on the separation only through :math:`|\Delta|` (reflection
   :math:`y\to-y` of the standardised variable).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .derivation import Derivation, Mean, Named, Step
from .functions import Sigmoid
from .gauss import normal_pdf
from .geometry import expect_polynomial
from .mixture import (
    component_gradient_weights,
    log_odds,
    log_p,
    log_q,
    rkl_grad_spec,
    rkl_loss_spec,
)
from .symbols import alpha, mu_n, mu_o, nu_n, nu_o, sigma, w, x, y

__all__ = [
    "m_q",
    "m_p",
    "stated_drift",
    "drift_identity_derivation",
]

#: misassignment probabilities of the student (w, Δ(μo, μn)) and of the target (α, Δ(νo, νn))
m_q = sp.Symbol("m_q", positive=True)
m_p = sp.Symbol("m_p", positive=True)


def stated_drift(weight_factor: bool = True, m_p_sign: int = 1) -> sp.Expr:
    r"""The identity as stated in claim ``rkl.drift_identity`` (1-D, Σ = σ²):
    :math:`(w/\sigma^2)[m_q(\mu_n-\mu_o) - m_p(\nu_n-\mu_o)]`.

    ``weight_factor=False`` and ``m_p_sign=-1`` exist only to state wrong variants (mutants).
    """
    pref = (w if weight_factor else sp.Integer(1)) / sigma**2
    return pref * (m_q * (mu_n - mu_o) - m_p_sign * m_p * (nu_n - mu_o))


@lru_cache(maxsize=1)
def drift_identity_derivation() -> Derivation:
    r"""The derivation of :math:`\nabla_{\mu_o}L_R` at :math:`\mu_o = \nu_o` (see module doc)."""
    g_o, g_n = component_gradient_weights()
    spec = rkl_grad_spec()
    lr_spec = rkl_loss_spec().integrands[0][0]  # the stable log(q/p*) of every RKL spec
    ell = sp.Symbol(r"\ell")
    log_ratio = log_q() - log_p()
    zq = log_odds(w, mu_o, mu_n)
    zp = log_odds(alpha, mu_o, nu_n)  # the target's log-odds at νo = μo
    Rq, Rp = sp.symbols("r_o^q r_o^p", positive=True)
    Sq, Sp = sp.symbols("r_n^q r_n^p", positive=True)
    z = sp.Symbol("z", real=True)
    phi = normal_pdf(x, mu_o, sigma)
    # Stein on a generic cubic, exactly through Gaussian moments
    cs = sp.symbols("c0:4", real=True)
    f = sum(c * x**k for k, c in enumerate(cs))
    stein_lhs = expect_polynomial(sp.expand((x - mu_o) * f), mu_o, sigma)
    stein_rhs = sigma**2 * expect_polynomial(sp.diff(f, x), mu_o, sigma)
    # ∂x log(q/p*) at νo = μo, with the two responsibilities named
    dlr = sp.diff(log_ratio, x).subs(nu_o, mu_o)
    dlr_named = dlr.subs({Sigmoid(zq): Rq, Sigmoid(zp): Rp})
    form_r_old = ((mu_n - nu_n) - (mu_n - mu_o) * Rq + (nu_n - mu_o) * Rp) / sigma**2
    form_r_new = ((mu_n - mu_o) * Sq - (nu_n - mu_o) * Sp) / sigma**2
    big_d = sp.Symbol("D", real=True)  # signed whitened separation (μn − μo)/σ
    c_q = sp.log(w) - sp.log(1 - w)
    steps = (
        Step(sp.Symbol(r"\nabla_{\mu_o} L_R"),
             sp.Symbol(r"\sum_c \mathbb{E}_{\varphi_c}[g_c^{(\mu_o)}\log(q/p^*)]"),
             "score function",
             r"$\nabla_\theta L_R = \sum_c\mathbb E_{\varphi_c}[g_c\log(q/p^*)]$ "
             "(rkl_grad_spec; the +1 integrates to zero)", kind="argued",
             reason="the score-function identity (differentiation under the integral sign, "
                    r"$\int\nabla_\theta q = 0$), an argument in words; `rkl_grad_spec` is built "
                    "on it, and the claim's check compares `rkl_grad` with the final result"),
        Step(Named(r"F_o^{(\mu_o)}", spec.integrands[0][1].xreplace({lr_spec: ell})),
             g_o[1] * ell, "read the spec",
             r"$F_c^{(\mu_o)}$ = the $\mu_o$-entry of rkl_grad_spec's integrand under "
             r"$\varphi_c$; under $\varphi_{\mu_o}$ it is $g_o^{(\mu_o)}\,\ell$, $\ell$ = the "
             r"specs' stable $\log(q/p^*)$"),
        Step(Named(r"F_n^{(\mu_o)}", spec.integrands[1][1].xreplace({lr_spec: ell})),
             g_n[1] * ell, "read the spec",
             r"under $\varphi_{\mu_n}$ it is $g_n^{(\mu_o)}\,\ell$"),
        Step(Named(r"\ell", lr_spec) - (Named(r"\log q_\theta", log_q())
                                         - Named(r"\log p^*", log_p())),
             sp.Integer(0), "expand",
             r"$\ell = \log q_\theta - \log p^*$ (the specs' stable log-ratio against the stable "
             r"forms of mixture.log_q and mixture.log_p)"),
        Step(Named(r"g_o^{(\mu_o)}", g_o[1]), w * (x - mu_o) / sigma**2, "differentiate",
             r"the model's weight $g_o^{(\mu_o)} = \partial_{\mu_o}w + "
             r"w\,\partial_{\mu_o}\log\varphi_{\mu_o}$"),
        Step(Named(r"g_n^{(\mu_o)}", g_n[1]), sp.Integer(0), "differentiate",
             r"the new component does not depend on $\mu_o$"),
        Step((x - mu_o) * phi, -sigma**2 * sp.Derivative(phi, x), "Stein kernel",
             r"$(x-\mu)\varphi(x) = -\sigma^2\varphi'(x)$"),
        Step(sp.Symbol(r"\mathbb E_\varphi[(x-\mu)f]"), sp.Symbol(r"\sigma^2\mathbb E_\varphi[f']"),
             "integrate by parts",
             r"boundary term $\sigma^2\varphi f\to 0$: $\log(q/p^*)$ grows at most "
             r"quadratically in $x$", kind="argued",
             reason="integration by parts with the previous step, an argument in words; the next "
                    "step checks the identity exactly on a generic cubic $f$"),
        Step(stein_lhs, stein_rhs, "Stein identity (check)",
             "both sides for a generic cubic f, exactly by Gaussian moments"),
        Step(Sigmoid(z) + Sigmoid(-z), sp.Integer(1), "complement",
             r"$r_o + r_n = 1$ for both mixtures"),
        Step(dlr_named, form_r_old, "differentiate in x",
             r"$\partial_x\log(q/p^*)$ at $\nu_o = \mu_o$ with $r_o^q = \operatorname{sigmoid}"
             r"(z_q)$, $r_o^p = \operatorname{sigmoid}(z_p)$"),
        Step(form_r_old.subs({Rq: 1 - Sq, Rp: 1 - Sp}), form_r_new, "complement",
             r"$r_o = 1 - r_n$: the constant and linear parts cancel"),
        Step(m_q, sp.Symbol(r"\mathbb E_{\varphi_{\mu_o}}[r_n^q]"), "definition",
             r"misassignment of the student, $m(w, \Delta(\mu_o,\mu_n))$", kind="def",
             reason="a definition"),
        Step(m_p, sp.Symbol(r"\mathbb E_{\varphi_{\mu_o}}[r_n^{p}]"), "definition",
             r"misassignment of the target at $\nu_o = \mu_o$: $m(\alpha,\Delta(\nu_o,\nu_n))$",
             kind="def", reason="a definition"),
        Step(sp.Subs(Named("z_q", zq), (x, mu_n), (mu_o + sigma * y, mu_o + sigma * big_d)),
             c_q - big_d * y + big_d**2 / 2, "standardise",
             r"$x = \mu_o + \sigma y$, $D = (\mu_n-\mu_o)/\sigma$: $z_q = c - Dy + D^2/2$; "
             r"$y\to -y$ maps D to −D, so m depends on |D| = Δ only"),
        Step(w * Mean(form_r_new, {Sq: m_q, Sp: m_p}, r"\varphi_{\mu_o}", x),
             stated_drift(), "assemble",
             r"$\nabla_{\mu_o}L_R = w\,\mathbb E_{\varphi_{\mu_o}}[(x-\mu_o)\log(q/p^*)]/\sigma^2"
             r" = w\,\mathbb E_{\varphi_{\mu_o}}[\partial_x\log(q/p^*)]$ (steps 1–9) with "
             r"$\partial_x\log(q/p^*)$ from the previous step: linear in the responsibilities, "
             r"whose means are $m_q$ and $m_p$"),
    )
    return Derivation(
        "Drift identity: the old mean moves only through misassignment",
        (r"$\mu_o = \nu_o$ (the old component is correct); shared scale $\sigma$",
         r"$m(w,\Delta) = \mathbb E_{\varphi_{\mu_o}}[r_n]$: the misassignment probability, the "
         r"chance that the new component claims a draw of the old one"),
        steps,
        result=stated_drift(),
    )
