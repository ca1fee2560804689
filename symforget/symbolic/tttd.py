r"""TTT-Discover in the two-mode picture: the entropic objective, its gradient, the adaptive-β
rule and the stationarity conditions (claims ``tttd.*``).

Abstraction (every assumption is restated in the derivations):

* student :math:`q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}`, equal variances σ²,
  parametrised by the old-weight logit :math:`u = \log\frac{w}{1-w}`;
* reward of the new task :math:`R(x) = -(x-m)^2/2` with :math:`m = \mu_n^*`;
* entropic objective :math:`E_\beta(\theta) = \frac1\beta\log Z`,
  :math:`Z = \mathbb E_{q_\theta}[e^{\beta R}] = wZ_o + (1-w)Z_n`, where the Gaussian integral
  :math:`Z_c = \mathbb E_{\varphi_{\mu_c}}[e^{\beta R}]
  = (1+\beta\sigma^2)^{-1/2}e^{-a_c}`, :math:`a_c = \frac{\beta(\mu_c-m)^2}{2(1+\beta\sigma^2)}`
  (SymPy integrates it);
* KL penalty :math:`\gamma\,\mathrm{KL}(q_\theta\Vert q_{\rm ref})` towards a fixed reference
  (the initial model). Numerically the method uses the *exact* mixture KL (quadrature); the
  stationarity analysis here uses its chain-rule *decoupling*
  :math:`\mathrm{kl}(w\Vert w_r) + w\,\mathrm{KL}_o + (1-w)\,\mathrm{KL}_n`, which upper-bounds
  the mixture KL and equals it up to overlap terms of the reference components.

Stable form: :math:`\log Z = -\tfrac12\log(1+\beta\sigma^2) - a_n - \operatorname{softplus}(u)
+ \operatorname{softplus}(u - a_o + a_n)` (never forms log 0).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .derivation import Derivation, Named, Step
from .functions import Sigmoid, Softplus
from .gauss import normal_pdf
from .symbols import eta, mu_n, mu_o, sigma, x, y
from .tilt import m

__all__ = [
    "beta", "m", "u", "u_ref", "gamma", "eps", "eta",
    "ARGS", "Z_STATED", "component_z", "log_z", "entropic", "entropic_grad",
    "grad_stated", "tilt_kl", "tilt_kl_dbeta", "tilt_kl_single", "late_rate",
    "gating_exponent", "decoupled_kl", "stationary_u_residual", "retention_bound",
    "derivations",
]

beta = sp.Symbol("beta", positive=True)
u = sp.Symbol("u", real=True)
u_ref = sp.Symbol("u_r", real=True)
gamma = sp.Symbol("gamma", positive=True)
eps = sp.Symbol("epsilon", positive=True)
#: reference means of the decoupled KL
mo_ref = sp.Symbol("mu_o^r", real=True)
mn_ref = sp.Symbol("mu_n^r", real=True)

#: canonical argument order of the compiled objective/gradient/tilt-KL evaluators
ARGS = (u, mu_o, mu_n, beta, m, sigma)


def _a(mean: sp.Expr) -> sp.Expr:
    """Exponent a_c = β(μ_c − m)²/(2(1 + βσ²)) of the tilt factor Z_c."""
    return beta * (mean - m) ** 2 / (2 * (1 + beta * sigma**2))


def component_z(mean: sp.Expr) -> sp.Expr:
    r"""Stated closed form :math:`Z_c = (1+\beta\sigma^2)^{-1/2} e^{-a_c}`."""
    return sp.exp(-_a(mean)) / sp.sqrt(1 + beta * sigma**2)


#: the integral as stated (claim ``tttd.mass_forgetting``, τ = 1/β); derived in :func:`derivations`
Z_STATED = component_z(mu_o)


def _tilt_module_log_z() -> sp.Expr:
    """log Z_o from the shared tilt module (τ = 1/β, κ = 1, r₀ = 0, s = σ, μ = μo)."""
    from . import tilt as TL

    lf = TL.quadratic_tilt().log_factor
    return lf.subs({TL.tau: 1 / beta, TL.kappa: 1, TL.r0: 0, TL.s: sigma, TL.mu: mu_o,
                    TL.m: m})


def log_z() -> sp.Expr:
    r"""Stable :math:`\log Z(u, \mu_o, \mu_n; \beta, m, \sigma)`."""
    ao, an = _a(mu_o), _a(mu_n)
    return (-sp.log(1 + beta * sigma**2) / 2 - an - Softplus(u) + Softplus(u - ao + an))


def _log_z_naive() -> sp.Expr:
    w_ = 1 / (1 + sp.exp(-u))
    return sp.log(w_ * component_z(mu_o) + (1 - w_) * component_z(mu_n))


@cache
def entropic() -> sp.Expr:
    r""":math:`E_\beta = \frac1\beta\log\mathbb E_q[e^{\beta R}]` (stable form)."""
    return log_z() / beta


@cache
def entropic_grad() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""∇ of :math:`E_\beta` in (u, μo, μn), by SymPy differentiation of the stable form."""
    e = entropic()
    return tuple(sp.diff(e, v) for v in (u, mu_o, mu_n))


def grad_stated() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""The gradient in readable form:
    :math:`\partial_u E = \frac{w(1-w)(Z_o-Z_n)}{\beta Z}`,
    :math:`\partial_{\mu_c}E = -\frac{w_c Z_c(\mu_c - m)}{(1+\beta\sigma^2)Z}`."""
    w_ = Sigmoid(u)
    zo, zn = component_z(mu_o), component_z(mu_n)
    zz = w_ * zo + (1 - w_) * zn
    return (w_ * (1 - w_) * (zo - zn) / (beta * zz),
            -w_ * zo * (mu_o - m) / ((1 + beta * sigma**2) * zz),
            -(1 - w_) * zn * (mu_n - m) / ((1 + beta * sigma**2) * zz))


@cache
def tilt_kl() -> sp.Expr:
    r""":math:`\mathrm{KL}(q_\beta\Vert q) = \beta\,\partial_\beta\log Z - \log Z` for
    :math:`q_\beta\propto q e^{\beta R}` (exact for any q; closed form here)."""
    lz = log_z()
    return beta * sp.diff(lz, beta) - lz


@cache
def tilt_kl_dbeta() -> sp.Expr:
    r""":math:`\partial_\beta\mathrm{KL}(q_\beta\Vert q) = \beta\,\partial^2_\beta\log Z
    = \beta\,\mathrm{Var}_{q_\beta}(R) > 0`: the adaptive-β root is unique."""
    return beta * sp.diff(log_z(), beta, 2)


def tilt_kl_single() -> sp.Expr:
    r"""Late phase (w → 0, μn = m): :math:`\mathrm{KL} = \tfrac12(r - 1 - \log r)`,
    :math:`r = 1/(1+\beta\sigma^2)` (the tilt only narrows the new component)."""
    r = 1 / (1 + beta * sigma**2)
    return (r - 1 - sp.log(r)) / 2


def late_rate() -> sp.Expr:
    r"""Mass-forgetting law for γ = 0 (logit-gradient steps η on :math:`E_\beta`):
    :math:`1/w_{t+1} - 1/w_t \to \eta(1-\rho)/\beta`, :math:`\rho = Z_o/Z_n = e^{-(a_o-a_n)}`,
    i.e. :math:`w_t \sim \beta/(\eta(1-\rho)t)` — algebraic, not geometric, decay."""
    return eta * (1 - sp.exp(-_a(mu_o) + _a(mu_n))) / beta


def gating_exponent() -> sp.Expr:
    r"""The reward-contrast gating exponent :math:`\beta/(2(1+\beta\sigma^2))` of
    :math:`Z_o\propto e^{-\beta\Delta^2/(2(1+\beta\sigma^2))}` in Δ² (Δ = |μo − m|)."""
    return beta / (2 * (1 + beta * sigma**2))


def decoupled_kl() -> sp.Expr:
    r"""Chain-rule decoupling of :math:`\mathrm{KL}(q\Vert q_{\rm ref})`:
    :math:`\mathrm{kl}(w\Vert w_r) + w\frac{(\mu_o-\mu_o^r)^2}{2\sigma^2}
    + (1-w)\frac{(\mu_n-\mu_n^r)^2}{2\sigma^2}` (an upper bound of the mixture KL)."""
    w_, wr = Sigmoid(u), Sigmoid(u_ref)
    kl_bin = w_ * sp.log(w_ / wr) + (1 - w_) * sp.log((1 - w_) / (1 - wr))
    return (kl_bin + w_ * (mu_o - mo_ref) ** 2 / (2 * sigma**2)
            + (1 - w_) * (mu_n - mn_ref) ** 2 / (2 * sigma**2))


def _s() -> sp.Symbol:
    return sp.Symbol("s", positive=True)


def _u_residual_derived() -> sp.Expr:
    """∂_u[s log Z − γ KL_dec]/(w(1−w)), the derivative held (its check differentiates)."""
    w_ = Sigmoid(u)
    objective = _s() * Named(r"\log Z", log_z()) - gamma * Named(r"\mathrm{KL}_{\rm dec}",
                                                                  decoupled_kl())
    return sp.Derivative(objective, u) / (w_ * (1 - w_))


def _contrast() -> sp.Expr:
    """(Z_o − Z_n)/Z = (sigmoid(u + log ρ) − w)/(w(1 − w)), log ρ = a_n − a_o (stable)."""
    w_ = Sigmoid(u)
    return (Sigmoid(u + _a(mu_n) - _a(mu_o)) - w_) / (w_ * (1 - w_))


def stationary_u_residual() -> sp.Expr:
    r""":math:`\partial_u[s\log Z - \gamma\,\mathrm{KL_{dec}}]/(w(1-w))
    = s\frac{Z_o-Z_n}{Z} - \gamma(u - u_r + \mathrm{KL}_o - \mathrm{KL}_n)` (stable form;
    :math:`\frac{Z_o - Z_n}{Z} = \frac{\rho - 1}{w\rho + 1 - w}`); s = 1/β for the entropic
    objective, s = 1 for the paper's :math:`\log\mathbb E e^{\beta R}`. Its root in u (means
    fixed) is the stationary old-weight logit of the decoupled model."""
    contrast = _contrast()
    kl_o = (mu_o - mo_ref) ** 2 / (2 * sigma**2)
    kl_n = (mu_n - mn_ref) ** 2 / (2 * sigma**2)
    return _s() * contrast - gamma * (u - u_ref + kl_o - kl_n)


#: the domain of the certified tilt steps: β, σ, m, μo, μn (u or u_r added per step)
_TILT_BOX = (("beta", "0.01", 100), ("sigma", "0.1", 10), ("m", -10, 10), ("mu_o", -10, 10),
             ("mu_n", -10, 10))


def _retention_margin(scale: sp.Expr) -> sp.Expr:
    r"""The residual at :math:`u_b` (KL terms 0) in a form whose sign is visible:
    :math:`s\,\mathrm{sigmoid}(u_b + a_n - a_o)/(w_b(1-w_b))
    + s\,e^{u_r}(1 - e^{-s/(\gamma(1-w_r))})`, both terms > 0 (the first is s times the
    margin of the bound on the contrast, the second is :math:`s/(1-w_r) - s/(1-w_b)` since
    :math:`1/(1-w) = 1 + e^u` and :math:`u_b = u_r - s/(\gamma(1-w_r))`). SymPy proves it equal
    to the residual when the step is certified."""
    ub = retention_bound(scale)
    wb, wr = Sigmoid(ub), Sigmoid(u_ref)
    return (scale * Sigmoid(ub + _a(mn_ref) - _a(mo_ref)) / (wb * (1 - wb))
            + scale * sp.exp(u_ref) * (1 - sp.exp(-scale / (gamma * (1 - wr)))))


def retention_bound(scale: sp.Expr) -> sp.Expr:
    r"""Lower bound on the old-weight logit along the run and in the limit (γ > 0):
    :math:`u \ge u_r - \mathrm{KL}_o^{\max} - s/(\gamma(1-w_r))`, s = ``scale``; returned
    without the (overlap-gated, measured) KL_o term:
    :math:`u_b = u_r - s/(\gamma(1-w_r))`."""
    return u_ref - scale / (gamma * (1 - Sigmoid(u_ref)))


@cache
def derivations() -> dict[str, Derivation]:
    """Derivations rendered in proofs/ (cached)."""
    out: dict[str, Derivation] = {}
    # 1. the tilt integral Z_c: the shared tilt module integrates it (SymPy), we specialise it
    integrand = normal_pdf(x, mu_o, sigma) * sp.exp(-beta * (x - m) ** 2 / 2)
    std = sigma * integrand.subs(x, mu_o + sigma * y)
    out["z"] = Derivation(
        "Gaussian tilt integral Z_c = E_{N(mu_c, sigma^2)}[exp(beta R)]",
        (r"$R(x) = -(x-m)^2/2$, $\beta > 0$, component $\mathcal N(\mu_c, \sigma^2)$",
         r"$e^{\beta R} = e^{R/\tau}$ with $\tau = 1/\beta$: the tilt of "
         r":mod:`symforget.symbolic.tilt` (SymPy integration there) with $\kappa = 1$, "
         r"$r_0 = 0$, $s = \sigma$"),
        (Step(sp.Integral(integrand, (x, -sp.oo, sp.oo)), sp.Integral(std, (y, -sp.oo, sp.oo)),
              "change of variables", r"$x = \mu_c + \sigma y$", kind="argued",
              reason=r"the substitution rule for integrals ($dx = \sigma\,dy$), in words; the "
                     "next step checks the value, and the claim's check compares ρ = Z_o/Z_n "
                     "with scipy quadrature"),
         Step(sp.log(Z_STATED), _tilt_module_log_z(), "tilt module",
              r"$\log Z$ of :func:`symforget.symbolic.tilt.quadratic_tilt` at "
              r"$\tau = 1/\beta$, $\kappa = 1$, $r_0 = 0$, $s = \sigma$", numeric_only=True)),
        result=Z_STATED,
        notes=("Confirmed by scipy quadrature in claim tttd.mass_forgetting and in tests.",),
    )
    # 2. stable log Z and gradient
    lz = log_z()
    g_stated = grad_stated()
    g_derived = tuple(sp.Derivative(Named(r"E_\beta", entropic()), v) for v in (u, mu_o, mu_n))
    out["objective"] = Derivation(
        "Entropic objective and its gradient in (u = logit w, mu_o, mu_n)",
        (r"$q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}$, $w = \mathrm{sigmoid}(u)$",
         r"$Z = wZ_o + (1-w)Z_n$ (linearity of the expectation over components)"),
        (Step(_log_z_naive(), lz, "stable form",
              r"$\log(wZ_o+(1-w)Z_n) = \log Z_n + \log(1-w) + \mathrm{softplus}(u - a_o + a_n)$",
              numeric_only=True),
         *(Step(gd, gs, "differentiate", f"SymPy derivative in {v} equals the stated form",
                numeric_only=True)
           for gd, gs, v in zip(g_derived, g_stated, ("u", "mu_o", "mu_n"), strict=True))),
        result=sp.Matrix(g_stated),
    )
    # 3. adaptive beta
    kl = tilt_kl()
    out["adaptive_beta"] = Derivation(
        "KL budget of the tilt: KL(q_beta || q) in closed form, monotone in beta",
        (r"$q_\beta = q e^{\beta R}/Z(\beta)$; $\partial_\beta\log Z = \mathbb E_{q_\beta}[R]$ "
         "(differentiation under the integral)",),
        (Step(sp.Symbol(r"\mathrm{KL}(q_\beta\Vert q)"),
              sp.Symbol(r"\beta\mathbb{E}_{q_\beta}[R]") - sp.Symbol(r"\log Z"),
              "definition", r"$\log(q_\beta/q) = \beta R - \log Z$", kind="argued",
              reason=r"the expectation of $\log(q_\beta/q)$ under $q_\beta$, in words; the "
                     "claim's check compares the closed form with direct scipy quadrature of "
                     "the tilted mixture"),
         Step(sp.Derivative(Named(r"\mathrm{KL}(q_\beta\Vert q)", kl), beta), tilt_kl_dbeta(),
              "differentiate",
              r"$\partial_\beta\mathrm{KL} = \beta\partial_\beta^2\log Z = "
              r"\beta\mathrm{Var}_{q_\beta}(R) \ge 0$; KL(0) = 0, so KL = ε has one root"),
         Step(beta * sp.Derivative(-sp.log(1 + beta * sigma**2) / 2, beta)
              + sp.log(1 + beta * sigma**2) / 2,
              tilt_kl_single(), "late phase",
              r"w → 0, $\mu_n = m$: only the new component is tilted (narrowed)")),
        result=kl,
    )
    # 4. mass forgetting rate (gamma = 0)
    g_u = g_stated[0]
    wsym = sp.Symbol("w", positive=True)
    zo, zn = component_z(mu_o), component_z(mu_n)
    g_over_w = (1 - wsym) * (zo - zn) / (beta * (wsym * zo + (1 - wsym) * zn))
    lim = g_over_w.subs(wsym, 0)
    out["forgetting_rate"] = Derivation(
        "gamma = 0: w -> 0 with 1/w growing linearly at rate eta (1 - rho)/beta",
        (r"logit steps $u_{t+1} = u_t + \eta\,\partial_u E_\beta$, means fixed or converged",
         r"$1/w = 1 + e^{-u}$, so $1/w_{t+1} - 1/w_t = e^{-u_t}(e^{-\eta g_t} - 1)"
         r"\approx -\eta g_t/w_t$"),
        (Step(Named(r"\partial_u E_\beta", g_u) / Sigmoid(u), g_over_w.subs(wsym, Sigmoid(u)),
              "divide by w",
              r"$\partial_u E/w = (1-w)(Z_o - Z_n)/(\beta Z)$", numeric_only=True),
         Step(sp.Subs(g_over_w, wsym, 0), (zo / zn - 1) / beta, "w -> 0",
              r"continuous at $w = 0$: $\partial_u E/w \to (Z_o - Z_n)/(\beta Z_n)$"),
         Step(-eta * lim, late_rate(), "rate", r"$\rho = Z_o/Z_n = e^{-(a_o - a_n)}$")),
        result=late_rate(),
        notes=("Vanilla softmax policy gradient: algebraic O(1/t) decay, not geometric.",),
    )
    # 5. stationarity / retention
    s_ = _s()
    out["retention"] = Derivation(
        "gamma > 0: stationarity in u and the retention bound",
        (r"decoupled KL $\mathrm{kl}(w\Vert w_r) + w\mathrm{KL}_o + (1-w)\mathrm{KL}_n$",
         r"scale $s$: $s = 1/\beta$ for $\frac1\beta\log Z$, $s = 1$ for $\log Z$",
         r"$(Z_o - Z_n)/Z \ge -Z_n/Z \ge -1/(1-w)$ and $\mathrm{KL}_n \ge 0$"),
        (Step(_u_residual_derived(), stationary_u_residual(), "differentiate",
              r"$\partial_u J/(w(1-w))$; $(Z_o - Z_n)/Z = (\mathrm{sigmoid}(u + \log\rho) - w)"
              r"/(w(1-w))$", numeric_only=True),
         Step(-1 / (1 - Sigmoid(u)), _contrast(), "bound",
              r"$(Z_o - Z_n)/Z \ge -Z_n/Z \ge -1/(1-w)$", kind="le",
              box=(("u", -20, 20), *_TILT_BOX),
              margin=Sigmoid(u + _a(mu_n) - _a(mu_o)) / (Sigmoid(u) * (1 - Sigmoid(u)))),
         Step(sp.S.Zero, stationary_u_residual().subs({mu_o: mo_ref, mu_n: mn_ref})
              .subs(u, retention_bound(s_)),
              "sign at u_b", r"worst case $\mathrm{KL}_o = \mathrm{KL}_n = 0$: the residual at "
              r"$u = u_b$ is "
              r"$\ge -s/(1-w_b) + s/(1-w_r) + \gamma\mathrm{KL}_n \ge 0$", kind="le",
              box=(("u_r", -20, 20), ("s", "0.01", 100), ("gamma", "0.01", 100),
                   ("beta", "0.01", 100), ("sigma", "0.1", 10), ("m", -10, 10),
                   ("mu_o^r", -10, 10), ("mu_n^r", -10, 10)),
              margin=_retention_margin(s_)),
         Step(sp.Symbol("u_b"), retention_bound(s_) - sp.Symbol(r"\mathrm{KL}_o^{\max}"),
              "bound", r"for $u < u_b$ (so $w < w_r$) the residual is $> 0$: w increases; "
              r"hence $u_t \ge \min(u_0, u_b)$ along the flow and $u_\infty \ge u_b$",
              kind="argued",
              reason="the sign of the residual (steps above) along the flow, an argument in "
                     "words; the claim's check runs the map on a (γ, β, w_r) grid and finds "
                     r"$u_t \ge \min(u_0, u_b)$")),
        result=retention_bound(s_),
    )
    return out
