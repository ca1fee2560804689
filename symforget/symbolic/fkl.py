r"""SymPy derivations for the forward-KL claims (``fkl.*``).

* ``fkl.em_identity``: :math:`\partial_w L_F = (w - \mathbb E_P[r_o])/(w(1-w))`, so the
  w-stationary points are the fixed points of the EM update :math:`w' = \mathbb E_P[r_o]`.
* ``fkl.mass_forgetting`` (:math:`P_{\rm train} = \varphi_{\mu_n}`, whitened so that
  :math:`\mu_n = 0`, :math:`\mu_o = \Delta`, σ = 1): :math:`-\partial_w^2\log q` is a square
  (strict convexity); with the likelihood ratio :math:`R = \varphi_o/\varphi_n` and its moments
  :math:`\mathbb E_{\varphi_n}[R^k] = e^{k(k-1)\Delta^2/2}` the gradient vanishes at w = 0, the
  curvature there is :math:`\chi^2 = e^{\Delta^2}-1`, and the small-w series

  .. math:: \mathbb E_{\varphi_n}[r_o] = w - \chi^2 w^2 + c_3 w^3 + O(w^4),\qquad
            c_3 = e^{3\Delta^2} - 2e^{\Delta^2} + 1

  gives the three decay laws: plain gradient flow :math:`w_t \sim C e^{-\chi^2 t}`; the EM map
  :math:`w_t \sim 1/(\chi^2 t)`; the logit gradient flow :math:`w_t \sim (2\chi^2 t)^{-1/2}`
  (its drift :math:`\dot u = \mathbb E[r_o] - w = -\chi^2 w^2 + \dots` gives
  :math:`\dot w = -\chi^2 w^3 + \dots`; "≈ 1/(χ² t)" holds for EM only).
* ``fkl.complete_forgetting``: :math:`q_\theta = \varphi_\nu` forces
  :math:`w(\mu_o-\nu)^2 = 0` and :math:`(1-w)(\mu_n-\nu)^2 = 0` (second derivative of
  :math:`q/\varphi_\nu`, a sum of two non-negative terms), and then
  :math:`\mathrm{KL}(P_{\rm old}\Vert q) = \Delta_*^2/2`.

Every derivation is cached (SymPy integration costs about a second per integral).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .derivation import Derivation, Mean, Named, Step
from .expectation import Component, ExpectationSpec
from .functions import Sigmoid
from .gauss import STATED, log_normal_pdf, normal_pdf
from .mixture import log_odds, mixture_pdf, score
from .symbols import (
    FKL_ARGS,
    data_mean,
    delta,
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
    "mean_resp",
    "ratio",
    "k",
    "DecayLaw",
    "em_identity_derivation",
    "em_identity_result",
    "convexity_derivation",
    "ratio_moment_derivation",
    "origin_derivation",
    "responsibility_series_derivation",
    "decay_law_derivation",
    "decay_laws",
    "complete_forgetting_derivation",
    "mass_forgetting_derivations",
    "responsibility_spec",
    "chi2",
    "c3",
]

#: E_P[r_o], the mean old-component responsibility under the training distribution
mean_resp = sp.Symbol(r"\bar{r}_o", positive=True)
#: likelihood ratio R = φ_{μo}/φ_{μn}
ratio = sp.Symbol("R", positive=True)
#: moment order
k = sp.Symbol("k", positive=True)

_OO = sp.oo
#: χ²(φ_o‖φ_n) as stated in gauss.closed_forms
chi2 = STATED["chi2"]
#: third coefficient of the small-w series of E_φn[r_o]
c3 = sp.exp(3 * delta**2) - 2 * sp.exp(delta**2) + 1


def _whitened() -> tuple[sp.Expr, sp.Expr]:
    """(φ_o, φ_n) in whitened coordinates: μo = Δ, μn = 0, σ = 1."""
    return normal_pdf(x, delta, 1), normal_pdf(x, 0, 1)


# --------------------------------------------------------------------------- fkl.em_identity

def em_identity_result() -> sp.Expr:
    r"""The identity's right-hand side :math:`(w - \bar r_o)/(w(1-w))`.

    :math:`\bar r_o` (:data:`mean_resp`) stands for :math:`\mathbb E_P[r_o]`.
    """
    return (w - mean_resp) / (w * (1 - w))


@lru_cache(maxsize=1)
def em_identity_derivation() -> Derivation:
    r""":math:`\partial_w L_F = (w - \mathbb E_P[r_o])/(w(1-w))` from the score of q_θ."""
    po, pn = normal_pdf(x, mu_o, sigma), normal_pdf(x, mu_n, sigma)
    q = mixture_pdf(w, mu_o, mu_n)
    r_plain = w * po / q
    r_stable = Sigmoid(log_odds(w, mu_o, mu_n))
    result = em_identity_result()
    (sig,) = score()[0].atoms(Sigmoid)
    z_score = sig.args[0]
    r_sym = sp.Symbol("r_o", positive=True)
    steps = (
        Step(sp.Symbol(r"\partial_w L_F"), -sp.Symbol(r"\mathbb{E}_P[\partial_w \log q_\theta]"),
             "differentiate under the integral",
             r"$L_F = \mathbb{E}_P[\log P] - \mathbb{E}_P[\log q_\theta]$; the first term does not "
             r"depend on $\theta$", kind="argued",
             reason=r"differentiation under the integral sign (the Gaussian tails of $q_\theta$ "
                    "and $P$'s finite second moment dominate the derivative); the claim's check "
                    "compares `fkl_grad` with quadrature of the result"),
        Step(sp.Derivative(sp.log(q), w), (po - pn) / q, "differentiate",
             r"$\partial_w \log(w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n})$"),
        Step((po - pn) / q, (r_plain - w) / (w * (1 - w)), "rewrite",
             r"with $r_o = w\varphi_{\mu_o}/q$: "
             r"$r_o - w = w(1-w)(\varphi_{\mu_o}-\varphi_{\mu_n})/q$"),
        Step(r_plain, r_stable, "log-odds",
             r"$w\varphi_{\mu_o}/q = 1/(1 + e^{-z_q}) = \mathrm{sigmoid}(z_q)$, "
             r"$z_q = \log\frac{w}{1-w} + \log\varphi_{\mu_o} - \log\varphi_{\mu_n}$"),
        Step(z_score, log_odds(w, mu_o, mu_n), "read off",
             r"the sigmoid in SymPy's derivative of the stable $\log q$ (softplus form, the one "
             r"the evaluators use) has argument $z_q$"),
        Step(score()[0].subs(Sigmoid(z_score), r_sym), (r_sym - w) / (w * (1 - w)),
             "stable form", r"so that derivative is the same function, with $r_o = "
             r"\mathrm{sigmoid}(z_q)$"),
        Step(-Mean((r_sym - w) / (w * (1 - w)), {r_sym: mean_resp}, "P", x), result,
             "linearity",
             r"$\mathbb{E}_P$ is linear and $w$ does not depend on $x$; "
             r"$\bar r_o = \mathbb{E}_P[r_o]$"),
        Step(w - w * (1 - w) * Named(r"\partial_w L_F", result), mean_resp, "rearrange",
             r"$w - w(1-w)\,\partial_w L_F$ is the EM update $w' = \mathbb{E}_P[r_o]$: "
             r"$\partial_w L_F = 0 \iff w' = w$ (the EM fixed points)"),
    )
    return Derivation(
        "Forward-KL weight gradient and the EM identity",
        (r"$q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}$, $w \in (0,1)$, shared $\sigma$",
         r"$P$ = any training distribution with finite second moment (replay mixtures included)"),
        steps, result=result)


@lru_cache(maxsize=1)
def responsibility_spec() -> ExpectationSpec:
    r""":math:`\mathbb E_{P_{\rm train}}[r_o]` alone (the w-part of the EM statistics).

    A one-output spec so that the precise (mpmath) layer evaluates a single integral.
    """
    z = log_odds(w, mu_o, mu_n)
    comps = (Component(1 - rho, data_mean, sigma), Component(rho, replay_mean, sigma))
    return ExpectationSpec("mean_resp_old", FKL_ARGS, comps, ((Sigmoid(z),), (Sigmoid(z),)), (z,))


# ----------------------------------------------------------------------- fkl.mass_forgetting

@lru_cache(maxsize=1)
def convexity_derivation() -> Derivation:
    r""":math:`-\partial_w^2\log q = ((\varphi_o-\varphi_n)/q)^2`: L_F is convex in w."""
    po, pn = normal_pdf(x, mu_o, sigma), normal_pdf(x, mu_n, sigma)
    q = mixture_pdf(w, mu_o, mu_n)
    steps = (
        Step(sp.Derivative(-sp.log(q), (w, 2)), ((po - pn) / q) ** 2, "differentiate twice",
             r"$q$ is affine in $w$, so $-\partial_w^2\log q = (\partial_w q)^2/q^2$"),
        Step(sp.Symbol(r"\partial_w^2 L_F"),
             sp.Symbol(r"\mathbb{E}_P[(\varphi_{\mu_o}-\varphi_{\mu_n})^2/q^2]"), "expectation",
             r"a square, positive wherever $\varphi_{\mu_o} \ne \varphi_{\mu_n}$ (all $x$ but "
             r"one when $\mu_o \ne \mu_n$): $L_F$ is strictly convex in $w$ for every $P$",
             kind="argued",
             reason="differentiation under the integral sign applied to the pointwise identity "
                    "above; the claim's check finds the Hessian > 0 on a grid"),
    )
    return Derivation("Strict convexity of the forward KL in the weight",
                      (r"$\mu_o \ne \mu_n$, any training distribution $P$",), steps,
                      result=((po - pn) / q) ** 2)


def _moment_value() -> sp.Expr:
    return sp.exp(k * (k - 1) * delta**2 / 2)


@lru_cache(maxsize=1)
def ratio_moment_derivation() -> Derivation:
    r""":math:`\mathbb E_{\varphi_n}[R^k] = e^{k(k-1)\Delta^2/2}` by completing the square."""
    po, pn = _whitened()
    r_expr = sp.exp(delta * x - delta**2 / 2)
    integrand = pn * sp.exp(k * (delta * x - delta**2 / 2))
    steps = (
        Step(po / pn, r_expr, "simplify", r"$R(x) = \varphi_\Delta(x)/\varphi_0(x)$"),
        Step(integrand, _moment_value() * normal_pdf(x, k * delta, 1), "complete the square",
             r"$\varphi_0 R^k = e^{k(k-1)\Delta^2/2}\,\varphi_{k\Delta}$"),
        Step(_moment_value() * sp.Integral(normal_pdf(x, k * delta, 1), (x, -_OO, _OO)),
             _moment_value(), "normalisation",
             r"$\mathbb E_{\varphi_0}[R^k] = \int\varphi_0 R^k = e^{k(k-1)\Delta^2/2}"
             r"\int\varphi_{k\Delta}$ (previous step) and $\int\varphi_{k\Delta} = 1$ (the "
             r"curvature, $k \le 2$, is also integrated by SymPy directly below: a second route)"),
    )
    return Derivation("Moments of the likelihood ratio",
                      (r"whitened: $\mu_n = 0$, $\mu_o = \Delta$, $\sigma = 1$", r"$k > 0$"),
                      steps, result=_moment_value())


def _moment(j: int) -> sp.Expr:
    """E_φn[R^j] shown by name; its value is the moment formula (previous derivation) at k = j."""
    power = "R" if j == 1 else f"R^{{{j}}}"
    return Named(rf"\mathbb{{E}}_{{\varphi_n}}[{power}]",
                 ratio_moment_derivation().result.subs(k, j))


@lru_cache(maxsize=1)
def origin_derivation() -> Derivation:
    r"""Gradient 0 and curvature :math:`\chi^2 = e^{\Delta^2}-1` of L_F at w = 0 (two routes)."""
    po, pn = _whitened()
    q = mixture_pdf(w, delta, 0).subs(sigma, 1)
    r_expr = sp.exp(delta * x - delta**2 / 2)
    chi_int = sp.simplify(sp.integrate(sp.expand((po - pn) ** 2 / pn), (x, -_OO, _OO),
                                       conds="none"))
    def gauss_int(mean: sp.Expr) -> sp.Integral:
        return sp.Integral(normal_pdf(x, mean, 1), (x, -_OO, _OO))

    steps = (
        Step(sp.Subs(sp.Derivative(-sp.log(q), w), w, 0), -(r_expr - 1), "evaluate at w = 0",
             r"$-\partial_w\log q|_{w=0} = -(\varphi_o-\varphi_n)/\varphi_n = -(R-1)$"),
        Step(-(_moment(1) - 1), sp.Integer(0), "moment k = 1",
             r"$\partial_w L_F|_{w=0} = -\mathbb{E}_{\varphi_n}[R-1] = 0$"),
        Step(sp.Subs(sp.Derivative(-sp.log(q), (w, 2)), w, 0), (r_expr - 1) ** 2,
             "evaluate at w = 0", r"$-\partial_w^2\log q|_{w=0} = (R-1)^2$"),
        Step(_moment(2) - 2 * _moment(1) + 1, chi2, "moments k = 1, 2",
             r"$\partial_w^2 L_F|_{w=0} = \mathbb{E}_{\varphi_n}[(R-1)^2] = "
             r"\mathbb{E}[R^2] - 2\mathbb{E}[R] + 1$"),
        Step((po - pn) ** 2 / pn,
             sp.exp(delta**2) * normal_pdf(x, 2 * delta, 1) - 2 * po + pn, "complete the square",
             r"second route, pointwise: $\varphi_o^2/\varphi_n = e^{\Delta^2}\varphi_{2\Delta}$"),
        Step(sp.exp(delta**2) * gauss_int(2 * delta) - 2 * gauss_int(delta) + gauss_int(0),
             chi2, "normalisation",
             r"each density integrates to 1: $\int(\varphi_o-\varphi_n)^2/\varphi_n = "
             r"e^{\Delta^2} - 2 + 1$"),
        Step(Named(r"\left[\int_{\mathbb R}\frac{(\varphi_o-\varphi_n)^2}{\varphi_n}\,dx"
                   r"\right]_{\mathrm{SymPy}}", chi_int), chi2, "integrate",
             r"third route: SymPy's `integrate` of $(\varphi_o-\varphi_n)^2/\varphi_n$ returns "
             r"$\chi^2(\varphi_o\Vert\varphi_n)$ of claim gauss.closed_forms"),
    )
    return Derivation("Gradient and curvature at w = 0",
                      (r"$P_{\rm train} = P_{\rm new} = \varphi_{\mu_n}$ and the new component is "
                       r"correct, $\mu_n = \mu_n^*$", r"whitened: $\mu_n = 0$, $\mu_o = \Delta$, "
                       r"$\sigma = 1$"),
                      steps, result=chi2)


def _moments_of_polynomial(poly: sp.Expr) -> sp.Expr:
    """Replace R^j by E_φn[R^j] in a polynomial in R (coefficients may depend on w)."""
    p = sp.Poly(sp.expand(poly), ratio)
    return sp.expand(sum(c * _moment(m[0]) for m, c in zip(p.monoms(), p.coeffs(), strict=True)))


@lru_cache(maxsize=1)
def responsibility_series_derivation() -> Derivation:
    r""":math:`\mathbb E_{\varphi_n}[r_o] = w - \chi^2 w^2 + c_3 w^3 + O(w^4)`."""
    po, pn = _whitened()
    r_expr = sp.exp(delta * x - delta**2 / 2)
    r_of_ratio = w * ratio / (1 + w * (ratio - 1))
    series = sp.series(r_of_ratio, w, 0, 4).removeO()
    poly = w * ratio - w**2 * ratio * (ratio - 1) + w**3 * ratio * (ratio - 1) ** 2
    result = w - chi2 * w**2 + c3 * w**3
    steps = (
        Step(w * po / (w * po + (1 - w) * pn), r_of_ratio.subs(ratio, r_expr), "divide by φn",
             r"$r_o = wR/(1 + w(R-1))$"),
        Step(series, poly, "series", r"geometric series in $w(R-1)$, to $O(w^4)$"),
        Step(_moments_of_polynomial(poly), result, "moments",
             r"take $\mathbb{E}_{\varphi_n}$ term by term with "
             r"$\mathbb{E}[R^j] = e^{j(j-1)\Delta^2/2}$"),
    )
    return Derivation("Small-w expansion of the mean responsibility",
                      (r"$P_{\rm train} = \varphi_{\mu_n}$, whitened $\mu_n = 0$, $\mu_o = \Delta$",
                       r"the expansion is asymptotic: the $w^j$ coefficient grows like "
                       r"$e^{j(j-1)\Delta^2/2}$"),
                      steps, result=result)


@dataclass(frozen=True)
class DecayLaw:
    r"""Asymptotic law of :math:`w_t \to 0` for one dynamics.

    ``coordinate`` g(w) moves at a constant rate to leading order:
    :math:`\dot g = K + K_1 w + O(w^2)` (or per step, for a map). ``exponent`` p is ``None`` for
    exponential decay (g = −log w, :math:`w_t \sim C e^{-Kt}`); otherwise g = w^{1/p} and
    :math:`w_t \sim (K t)^{p}`.
    """

    name: str
    exponent: sp.Expr | None
    rate: sp.Expr
    correction: sp.Expr
    coordinate: sp.Expr


#: χ² and c3 as plain symbols while SymPy expands series (fast), substituted back afterwards
_A = sp.Symbol(r"\chi^2", positive=True)
_C = sp.Symbol("c_3", positive=True)
_BACK = {_A: chi2, _C: c3}


def _series_symbols() -> tuple[sp.Expr, sp.Expr]:
    """(E[r_o], ∂_w L_F) with E[r_o] truncated after w³, in the symbols χ², c3."""
    er = w - _A * w**2 + _C * w**3
    return er, (w - er) / (w * (1 - w))


@lru_cache(maxsize=1)
def _law_series() -> dict[str, tuple[sp.Expr, sp.Expr, sp.Expr, DecayLaw]]:
    """(drift of the linearising coordinate, K + K1 w, remainder, law) per dynamics.

    Drift, K + K1 w and remainder are in the symbols χ², c3; the law's rate and correction in Δ.
    """
    er, grad = _series_symbols()
    u_dot = er - w  # = −w(1−w) ∂_w L_F, the logit drift
    drifts = {
        "plain": (grad / w, None, -sp.log(w)),
        "em": (1 / er - 1 / w, sp.Integer(-1), 1 / w),
        "logit": (-2 * w ** (-3) * (w * (1 - w) * u_dot), sp.Rational(-1, 2), w ** (-2)),
    }
    out = {}
    for name, (drift, p, coord) in drifts.items():
        ser = sp.expand(sp.series(drift, w, 0, 2).removeO())
        rate, corr = sp.factor(ser.coeff(w, 0)), sp.factor(ser.coeff(w, 1))
        remainder = sp.factor(sp.together(drift - rate - corr * w))
        law = DecayLaw(name, p, rate.subs(_BACK), corr.subs(_BACK), coord)
        out[name] = (drift, rate + corr * w, remainder, law)
    return out


def decay_laws() -> dict[str, DecayLaw]:
    """The derived laws by dynamics name: ``plain``, ``em``, ``logit``."""
    return {name: entry[-1] for name, entry in _law_series().items()}


@lru_cache(maxsize=1)
def decay_law_derivation() -> Derivation:
    r"""Plain flow, EM map and logit flow near w = 0, from the series of E[r_o].

    Each law is an exact identity: drift − (K + K₁w) = w²·(rational function regular at 0).
    """
    er, grad = _series_symbols()
    series_result = responsibility_series_derivation().result
    steps = [
        Step(sp.Symbol(r"\mathbb{E}_{\varphi_n}[r_o]"), er + sp.O(w**4), "previous result",
             r"the small-$w$ expansion, $\chi^2 = e^{\Delta^2}-1$, "
             r"$c_3 = e^{3\Delta^2} - 2e^{\Delta^2} + 1$", kind="def",
             reason="notation: the previous derivation's result with its coefficients named "
                    r"$\chi^2$, $c_3$ (the next step checks the substitution)"),
        Step(sp.Subs(er, tuple(_BACK), tuple(_BACK.values())), series_result, "substitute",
             r"the symbols $\chi^2$, $c_3$ stand for the previous result's coefficients"),
        Step(grad - (_A * w + (_A - _C) * w**2),
             sp.factor(sp.together(grad - (_A * w + (_A - _C) * w**2))), "expand",
             r"$\partial_w L_F = (w - \mathbb{E}[r_o])/(w(1-w)) = \chi^2 w + O(w^2)$ "
             r"(claim fkl.em_identity with $P = \varphi_n$): gradient 0 and curvature "
             r"$\chi^2$ at 0"),
    ]
    whys = {
        "plain": (r"plain flow $\dot w = -\partial_w L_F$: $\frac{d}{dt}(-\log w) = "
                  r"\partial_w L_F/w = \chi^2 + O(w)$, so $w_t \sim C e^{-\chi^2 t}$"),
        "em": (r"EM map $w' = \mathbb{E}[r_o]$: $1/w' - 1/w = \chi^2 + O(w)$ per step, so "
               r"$w_t \sim 1/(\chi^2 t)$"),
        "logit": (r"logit flow $\dot u = -\partial_u L_F = \mathbb{E}[r_o] - w$, "
                  r"$\dot w = w(1-w)\dot u = -\chi^2 w^3 + O(w^4)$: "
                  r"$\frac{d}{dt}w^{-2} = -2w^{-3}\dot w = 2\chi^2 + O(w)$, so "
                  r"$w_t \sim (2\chi^2 t)^{-1/2}$"),
    }
    for name, (drift, leading, remainder, _law) in _law_series().items():
        steps.append(Step(drift - leading, remainder, "expand", whys[name]))
    return Derivation(
        "Decay laws of the old weight near w = 0",
        (r"$P_{\rm train} = \varphi_{\mu_n}$, means frozen at $\mu_o = \Delta$, $\mu_n = 0$",
         r"each remainder carries the factor $w^2$: the leading rate is exact, the $w$ term is "
         r"the first-order correction used by the numeric check"),
        tuple(steps),
        result=sp.Tuple(*(law.rate for law in decay_laws().values())),
        notes=("A decay ~1/(χ² t) is sometimes stated for both EM and the logit flow; the "
               "derivation gives 1/(χ² t) for EM but (2χ² t)^(-1/2) for the logit flow.",),
    )


def mass_forgetting_derivations() -> list[Derivation]:
    """All derivations of ``fkl.mass_forgetting``, in reading order."""
    return [convexity_derivation(), ratio_moment_derivation(), origin_derivation(),
            responsibility_series_derivation(), decay_law_derivation()]


# -------------------------------------------------------------------- fkl.complete_forgetting

@lru_cache(maxsize=1)
def complete_forgetting_derivation() -> Derivation:
    r""":math:`q_\theta = \varphi_\nu` ⇒ w = 0 or μo = ν, and μn = ν; then KL(P_old‖q) = Δ*²/2."""
    nu = nu_n
    q = mixture_pdf(w, mu_o, mu_n)
    ratio_q = q / normal_pdf(x, nu, sigma)
    e_o = sp.exp(((mu_o - nu) * x + (nu**2 - mu_o**2) / 2) / sigma**2)
    e_n = sp.exp(((mu_n - nu) * x + (nu**2 - mu_n**2) / 2) / sigma**2)
    sum_form = w * e_o + (1 - w) * e_n
    second = w * ((mu_o - nu) / sigma**2) ** 2 * e_o + (1 - w) * ((mu_n - nu) / sigma**2) ** 2 * e_n
    log_ratio = sp.expand(log_normal_pdf(x, nu_o, sigma) - log_normal_pdf(x, nu, sigma))
    # Gaussian moments under φ_{ν_o}: E[x] = ν_o, E[x²] = ν_o² + σ²
    poly = sp.Poly(log_ratio, x)
    kl_moments = (poly.coeff_monomial(x**2) * (nu_o**2 + sigma**2)
                  + poly.coeff_monomial(x) * nu_o + poly.coeff_monomial(1))
    kl_value = STATED["kl"].subs(delta, (nu_o - nu) / sigma)
    steps = (
        Step(sp.Symbol(r"\min_\theta \mathrm{KL}(P_{\rm new}\Vert q_\theta)"), sp.Integer(0),
             "Gibbs", r"$\mathrm{KL} \ge 0$ with equality iff $q_\theta = P_{\rm new}$ a.e.; the "
             r"value 0 is attained ($\mu_o = \mu_n = \nu$), so the minimisers are exactly the "
             r"$\theta$ with $q_\theta = \varphi_\nu$ (and the limits $w \to 0$, $\mu_n = \nu$)",
             kind="argued",
             reason=r"Gibbs' inequality (the argument in words); the claim's check minimises "
                    r"$\mathrm{KL}(P_{\rm new}\Vert q_\theta)$ numerically (L-BFGS-B and EM from "
                    "seeded starts) and reaches 0"),
        Step(ratio_q, sum_form, "divide by φν",
             r"$q/\varphi_\nu$ is a positive combination of two exponentials in $x$"),
        Step(sp.Derivative(sum_form, (x, 2)), second, "differentiate twice",
             r"each term of $\partial_x^2(q/\varphi_\nu)$ is $\ge 0$"),
        Step(sp.Symbol(r"q_\theta = \varphi_\nu"),
             sp.Symbol(r"w(\mu_o-\nu)^2 = 0 \wedge (1-w)(\mu_n-\nu)^2 = 0"), "identify",
             r"$q/\varphi_\nu \equiv 1$ makes its second derivative vanish, and a sum of two "
             r"non-negative terms vanishes iff both do: $\mu_n = \nu$ (as $w < 1$) and "
             r"[$w = 0$ or $\mu_o = \nu$: the old component is removed or overwritten]",
             kind="argued", relation=r"\iff",
             reason="an argument in words on the previous step; the claim's check finds every "
                    "numeric minimiser on this branch"),
        Step(kl_moments, kl_value, "Gaussian moments",
             r"at $q = \varphi_\nu$: $\mathrm{KL}(\varphi_{\nu_o}\Vert\varphi_\nu) = "
             r"\mathbb{E}_{\varphi_{\nu_o}}[\log\varphi_{\nu_o} - \log\varphi_\nu]$ with "
             r"$\mathbb{E}[x] = \nu_o$, $\mathbb{E}[x^2] = \nu_o^2 + \sigma^2$: "
             r"$\Delta_*^2/2$, all of the old task's information is lost"),
    )
    return Derivation(
        "Complete forgetting: minimisers of KL(P_new ‖ q) with all parameters free",
        (r"$P_{\rm new} = \varphi_\nu$ ($\nu = \mu_n^*$), $P_{\rm old} = \varphi_{\nu_o}$ "
         r"($\nu_o = \mu_o^*$), shared $\sigma$; $\Delta_* = |\nu_o - \nu|/\sigma$",
         r"$\theta = (w, \mu_o, \mu_n)$ all free, $w \in [0, 1)$"),
        steps, result=STATED["kl"])
