r"""Misassignment probability: representations, bound and asymptotic series (claims
``rkl.drift_bc_bound``, ``rkl.drift_asymptotics``).

In whitened 1-D units (σ = 1, μo = 0, μn = Δ > 0) with :math:`c = \log\frac{w}{1-w}` the
student's log-odds of the *new* component at x are, from :func:`mixture.log_odds`,
:math:`-z_q(x) = \Delta(x - x_0)` with :math:`x_0 = \Delta/2 + c/\Delta`, so

.. math:: m(w,\Delta) = \mathbb E_{x\sim\varphi_0}[r_n(x)]
          = \int\varphi(x)\,\operatorname{sigmoid}(\Delta(x-x_0))\,dx .

Everything below is *derived* from that integrand (checked steps, see
:class:`~symforget.symbolic.derivation.Derivation`):

* the cosh representation :math:`m = \varphi(x_0)\int e^{-t^2/2-(c/\Delta)t}
  /(2\cosh(\Delta t/2))\,dt` and its s-frame form (s = Δt/2)
  :math:`m = \frac{\varphi(x_0)}{\Delta}\int e^{-2s(s+c)/\Delta^2}\operatorname{sech}s\,ds`;
* the termwise series :math:`\tfrac12\operatorname{sech}(v) = \sum_k(-1)^k e^{-(2k+1)|v|}`, whose
  Gaussian integrals are Mills ratios :math:`R(a) = \int_0^\infty e^{-t^2/2-at}dt`
  (used by the 50-digit layer);
* the Bhattacharyya bound :math:`m \le \tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8}` by two routes
  (the AM–GM step :math:`a/(a+b)\le\tfrac12\sqrt{a/b}`, and sech ≤ 1 in the cosh form);
* symmetries: :math:`m(c) = e^{-c}m(-c)` (i.e. :math:`w\,m(w) = (1-w)\,m(1-w)`), the reflection
  :math:`m(c) = e^{-c}(1 - m(c-\Delta^2))`, :math:`m(w,-\Delta) = m(w,\Delta)`,
  :math:`m(w,0) = 1-w`, and monotonicity :math:`\partial_\Delta m = -2\Delta\,
  \mathbb E_{\varphi_0}[r_n^2 r_o] < 0` (Stein's identity);
* the asymptotic series :math:`m\,\Delta\,e^{\Delta^2/8}/(\sqrt{\pi/2}\sqrt{(1-w)/w})
  = \sum_n a_n(c)\,\Delta^{-2n}` from the moments
  :math:`\int s^{2k}\operatorname{sech}s\,ds = 2(\pi/2)^{2k+1}|E_{2k}|` (Euler numbers), and its
  resummation in :math:`\lambda = 2c/\Delta^2` through
  :math:`\int s^{2j}\cosh(\lambda s)\operatorname{sech}s\,ds = \pi\,\partial_\lambda^{2j}
  \sec(\pi\lambda/2)` (what the double-precision evaluator uses for large Δ).

SymPy only; the numeric layers compile these expressions (``compile.py``).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .derivation import Derivation, Named, Step
from .functions import Sigmoid
from .gauss import STATED, log_normal_pdf, normal_pdf
from .mixture import log_odds
from .symbols import delta, mu_n, mu_o, sigma, t, w, x

__all__ = [
    "c", "D", "s", "lam", "u", "T2", "v", "k",
    "logit",
    "new_log_odds",
    "x0",
    "misassignment_integrand",
    "log_phi_x0",
    "cosh_integrand_t",
    "cosh_log_prefactor_s",
    "cosh_exponent_s",
    "mills_ratio",
    "series_term",
    "series_terms_scaled",
    "gh_kink",
    "bc_bound",
    "log_bc_bound",
    "euler_moment",
    "series_coefficients",
    "asymptotic_ratio",
    "asymptotic_log_prefactor",
    "resummed_polynomials",
    "resummed_series",
    "grad_bound",
    "cosh_derivation",
    "bc_bound_derivation",
    "symmetry_derivation",
    "monotonicity_derivation",
    "asymptotic_derivation",
]

#: the old weight's logit c = log(w/(1−w)) (any real)
c = sp.Symbol("c", real=True)
#: separation Δ > 0 (derivations divide by it; Δ = 0 is the limit m = 1 − w)
D = sp.Symbol("Delta", positive=True)
#: s-frame variable s = Δt/2 (real; shared with :mod:`.symbols`)
s = sp.Symbol("s", real=True)
#: λ = 2c/Δ² (resummation variable), u = 1/Δ², T2 = tan²(πλ/2)
lam = sp.Symbol("lambda", real=True)
u = sp.Symbol("u", positive=True)
T2 = sp.Symbol("T2", nonnegative=True)
#: auxiliary positive variable and summation index
v = sp.Symbol("v", positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)


def logit(weight: sp.Expr) -> sp.Expr:
    """log(π/(1 − π))."""
    return sp.log(weight) - sp.log(1 - weight)


def _whitened(expr: sp.Expr) -> sp.Expr:
    return expr.subs({mu_o: 0, mu_n: D, sigma: 1})


def new_log_odds() -> sp.Expr:
    r"""Log-odds of the *new* component, :math:`-z_q(x)` with μo = 0, μn = Δ, σ = 1.

    Taken from :func:`symforget.symbolic.mixture.log_odds` (the same expression the model's
    gradients use), with :math:`\log w - \log(1-w)` replaced by the symbol c.
    """
    z = _whitened(log_odds(w, mu_o, mu_n))
    return sp.expand(-(z - logit(w) + c))


def x0() -> sp.Expr:
    r"""The transition point :math:`x_0 = \Delta/2 + c/\Delta` (where r_n = ½)."""
    return D / 2 + c / D


def misassignment_integrand() -> sp.Expr:
    r""":math:`\varphi(x)\,r_n(x) = \varphi(x)\operatorname{sigmoid}(\Delta(x - x_0))`."""
    return normal_pdf(x, 0, 1) * Sigmoid(D * (x - x0()))


def log_phi_x0() -> sp.Expr:
    r""":math:`\log\varphi(x_0) = -\Delta^2/8 - c/2 - c^2/(2\Delta^2) - \tfrac12\log 2\pi`."""
    return sp.expand(log_normal_pdf(x0(), 0, 1))


def cosh_integrand_t() -> sp.Expr:
    r"""The cosh form integrand :math:`e^{-t^2/2-(c/\Delta)t}/(2\cosh(\Delta t/2))`
    (multiply by φ(x0) and integrate over t ∈ ℝ)."""
    return sp.exp(-t**2 / 2 - (c / D) * t) / (2 * sp.cosh(D * t / 2))


def cosh_exponent_s() -> sp.Expr:
    r"""Exponent of the s-frame cosh form, :math:`-2s(s+c)/\Delta^2` (times sech s)."""
    return -2 * s * (s + c) / D**2


def cosh_log_prefactor_s() -> sp.Expr:
    r""":math:`\log(\varphi(x_0)/\Delta)`: :math:`m = e^{\text{this}}\int e^{-2s(s+c)/\Delta^2}
    \operatorname{sech}s\,ds`."""
    return log_phi_x0() - sp.log(D)


def mills_ratio(a_: sp.Expr) -> sp.Expr:
    r""":math:`R(a) = \int_0^\infty e^{-t^2/2 - a t}\,dt
    = \sqrt{\pi/2}\,e^{a^2/2}\operatorname{erfc}(a/\sqrt2)` (derived in
    :func:`cosh_derivation` by SymPy integration)."""
    return sp.sqrt(sp.pi / 2) * sp.exp(a_**2 / 2) * sp.erfc(a_ / sp.sqrt(2))


def series_term() -> sp.Expr:
    r"""k-th term of the termwise cosh series, :math:`R(\beta_k - b) + R(\beta_k + b)` with
    :math:`\beta_k = (k+\tfrac12)\Delta`, b = c/Δ; :math:`m = \varphi(x_0)\sum_k(-1)^k(\cdot)`."""
    beta = (k + sp.Rational(1, 2)) * D
    b = c / D
    return mills_ratio(beta - b) + mills_ratio(beta + b)


def series_terms_scaled() -> tuple[sp.Expr, sp.Expr]:
    r""":math:`\varphi(x_0)R(\beta_k \mp b) = \tfrac12 e^{E_k^\mp}\operatorname{erfc}
    ((\beta_k\mp b)/\sqrt2)` with :math:`E_k^- = \Delta^2k(k+1)/2 - (k+1)c`,
    :math:`E_k^+ = \Delta^2k(k+1)/2 + kc`.

    The exponents :math:`-x_0^2/2 + (\beta_k\mp b)^2/2` are combined symbolically, so no
    evaluation forms the huge :math:`b^2/2 = c^2/(2\Delta^2)` that cancels for small Δ.
    """
    beta = (k + sp.Rational(1, 2)) * D
    b = c / D
    e_minus = D**2 * k * (k + 1) / 2 - (k + 1) * c
    e_plus = D**2 * k * (k + 1) / 2 + k * c
    return (sp.exp(e_minus) * sp.erfc((beta - b) / sp.sqrt(2)) / 2,
            sp.exp(e_plus) * sp.erfc((beta + b) / sp.sqrt(2)) / 2)


def gh_kink() -> tuple[sp.Expr, sp.Expr]:
    r"""(A, B) with :math:`z_q(x) = A + Bx` (the log-odds of the *old* component), so that
    :math:`r_n = 1/(1 + e^{A + Bx})` — the Gauss–Hermite kernel for small Δ."""
    z = -new_log_odds()
    B = sp.diff(z, x)
    A = sp.expand(z - B * x)
    return A, B


def bc_bound() -> sp.Expr:
    r""":math:`\tfrac12\sqrt{(1-w)/w}\;\mathrm{BC} = \tfrac12 e^{-c/2}e^{-\Delta^2/8}`."""
    return sp.exp(-c / 2) * STATED["bc"].subs(delta, D) / 2


def log_bc_bound() -> sp.Expr:
    r"""Log of the bound: :math:`\log\big(\tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8}\big)
    = -\log 2 - c/2 - \Delta^2/8`."""
    return sp.expand(sp.expand_log(sp.log(bc_bound()), force=True))


def grad_bound(prefactor: sp.Expr = sp.S.Half,
               exponent: sp.Expr = -sp.S.One / 8) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    r"""Bound on :math:`|\partial L_R/\partial\mu_o|` at μo = μo* (``rkl.drift_bc_bound``) and its
    arguments (w, Δ, α, Δ*): :math:`p\,w[\sqrt{(1-w)/w}\,\Delta e^{e\Delta^2} +
    \sqrt{(1-\alpha)/\alpha}\,\Delta^* e^{e\Delta^{*2}}]` with the stated prefactor p = ½ and
    exponent e = −1/8 (from |∇| ≤ w(m_q Δ + m_p Δ*) and the misassignment bound)."""
    from .symbols import alpha

    Ds = sp.Symbol("Delta_star", positive=True)
    expr = prefactor * w * (sp.sqrt((1 - w) / w) * D * sp.exp(exponent * D**2)
                            + sp.sqrt((1 - alpha) / alpha) * Ds * sp.exp(exponent * Ds**2))
    return expr, (w, D, alpha, Ds)


def euler_moment(j: int) -> sp.Expr:
    r""":math:`\int_{\mathbb R} s^{2j}\operatorname{sech}s\,ds = 2(\pi/2)^{2j+1}|E_{2j}|`."""
    return 2 * (sp.pi / 2) ** (2 * j + 1) * abs(sp.euler(2 * j))


@cache
def series_coefficients(n_terms: int = 4) -> tuple[sp.Expr, ...]:
    r"""(a_0, a_1, …) with :math:`m\Delta e^{\Delta^2/8}/(\sqrt{\pi/2}\sqrt{(1-w)/w})
    \sim \sum_n a_n(c)\Delta^{-2n}`.

    Term by term from the s-frame cosh form: expand
    :math:`e^{-(2s+c)^2/(2\Delta^2)} = \sum_n (-1)^n(2s+c)^{2n}/(n!\,(2\Delta^2)^n)`, integrate
    against sech s with the Euler-number moments (odd moments vanish) and divide by
    :math:`\int\operatorname{sech} = \pi`.
    """
    out = []
    for n in range(n_terms):
        poly = sp.Poly(sp.expand((2 * s + c) ** (2 * n)), s)
        total = sp.Integer(0)
        for (power,), coeff in poly.terms():
            if power % 2 == 0:
                total += coeff * euler_moment(power // 2)
        out.append(sp.factor(sp.expand((-1) ** n * total
                                       / (sp.factorial(n) * 2**n * sp.pi))))
    return tuple(out)


def asymptotic_ratio(n_terms: int = 4) -> sp.Expr:
    r"""Truncated series :math:`\sum_{n<N} a_n(c)\,\Delta^{-2n}`."""
    return sum(a_n / D ** (2 * n) for n, a_n in enumerate(series_coefficients(n_terms)))


def asymptotic_log_prefactor() -> sp.Expr:
    r""":math:`\log\big(\sqrt{\pi/2}\sqrt{(1-w)/w}\,e^{-\Delta^2/8}/\Delta\big)`
    (c = logit w), the leading behaviour of log m."""
    return -c / 2 - D**2 / 8 + sp.log(sp.pi / 2) / 2 - sp.log(D)


@cache
def resummed_polynomials(n_terms: int = 14) -> tuple[sp.Expr, ...]:
    r"""Q_j(T²) with :math:`\int e^{-2s^2/\Delta^2}\cosh(\lambda s)\operatorname{sech}s\,ds
    = \pi\sec(\pi\lambda/2)\sum_j \Delta^{-2j}Q_j(\tan^2(\pi\lambda/2))` (asymptotically).

    Derivation: expand :math:`e^{-2s^2/\Delta^2}` termwise; :math:`\int s^{2j}\cosh(\lambda s)
    \operatorname{sech}s = \pi\,\partial_\lambda^{2j}\sec(\pi\lambda/2)`; and
    :math:`\partial_x^n\sec x = \sec x\,P_n(\tan x)` with
    :math:`P_{n+1}(T) = T P_n(T) + (1+T^2)P_n'(T)` (so :math:`P_{2j}` is even in T).
    """
    T = sp.Symbol("T", real=True)
    P = sp.Poly(1, T, domain="QQ")
    step = sp.Poly(1 + T**2, T, domain="QQ")
    out = []
    for n in range(2 * n_terms):
        if n % 2 == 0:
            j = n // 2
            # P_{2j} is even in T: read it as a polynomial in T2 = T²
            even = sp.Poly.from_dict({(e // 2,): cf for (e,), cf in P.terms()}, T2,
                                     domain="QQ")
            scale = sp.Integer(-2) ** j / sp.factorial(j) * (sp.pi / 2) ** n
            out.append(sp.expand(scale * even.as_expr()))
        P = T * P + step * P.diff(T)
    return tuple(out)


def resummed_series(n_terms: int = 14) -> sp.Expr:
    r""":math:`\sum_{j<N} u^j Q_j(T^2)` in Horner form (u = 1/Δ²)."""
    expr = sum(u**j * q for j, q in enumerate(resummed_polynomials(n_terms)))
    return sp.horner(sp.expand(expr), u)


# --------------------------------------------------------------------------- derivations


@cache
def cosh_derivation() -> Derivation:
    """From the definition of m to the cosh form (t- and s-frames) and the termwise series."""
    xx0 = x0()
    cosh_t = sp.exp(log_phi_x0()) * cosh_integrand_t()
    a_sym = sp.Symbol("a", positive=True)
    mills_int = sp.Integral(sp.exp(-t**2 / 2 - a_sym * t), (t, 0, sp.oo))
    mills_val = mills_ratio(a_sym)
    half = sp.exp(D * t / 2)
    steps = (
        Step(sp.Symbol(r"m(w,\Delta)"),
             sp.Integral(normal_pdf(x, 0, 1) * sp.Symbol("r_n"), (x, -sp.oo, sp.oo)),
             "definition", r"$m = \mathbb E_{x\sim\varphi_0}[r_n^q(x)]$, μo = 0, μn = Δ, σ = 1",
             kind="def", reason="a definition (the misassignment probability)"),
        Step(new_log_odds(), D * (x - xx0), "log-odds",
             r"the new-component log-odds $-z_q$ of mixture.log_odds are linear in x and vanish "
             r"at $x_0 = \Delta/2 + c/\Delta$, $c = \log\frac{w}{1-w}$"),
        Step(normal_pdf(xx0 + t, 0, 1), normal_pdf(xx0, 0, 1) * sp.exp(-xx0 * t - t**2 / 2),
             "substitute", r"$x = x_0 + t$ (unit Jacobian): the Gaussian factor"),
        Step(Sigmoid(D * t), half / (half + 1 / half), "sigmoid",
             r"$\operatorname{sigmoid}(\Delta t) = e^{\Delta t/2}/(e^{\Delta t/2} + "
             r"e^{-\Delta t/2})$"),
        Step(half + 1 / half, 2 * sp.cosh(D * t / 2), "cosh", r"$e^{v} + e^{-v} = 2\cosh v$"),
        Step(sp.exp(-xx0 * t - t**2 / 2) * half, sp.exp(-t**2 / 2 - (c / D) * t), "combine",
             r"$x_0 - \Delta/2 = c/\Delta$: the integrand is $\varphi(x_0)e^{-t^2/2-(c/\Delta)t}"
             r"/(2\cosh(\Delta t/2))$ (the cosh form)"),
        Step(cosh_t.subs(t, 2 * s / D) * 2 / D,
             sp.exp(cosh_log_prefactor_s() + cosh_exponent_s()) / sp.cosh(s),
             "substitute", r"$t = 2s/\Delta$, $dt = (2/\Delta)\,ds$: the s-frame form"),
        Step(sp.exp(log_normal_pdf(xx0, 0, 1)), sp.exp(log_phi_x0()), "expand",
             r"$x_0^2/2 = \Delta^2/8 + c/2 + c^2/(2\Delta^2)$"),
        Step(mills_int, mills_val, "Mills ratio",
             r"$\frac12\operatorname{sech}v = \sum_k (-1)^k e^{-(2k+1)|v|}$ turns the cosh form "
             r"into $m = \varphi(x_0)\sum_k(-1)^k[R(\beta_k - b) + R(\beta_k + b)]$, "
             r"$\beta_k = (k+\frac12)\Delta$, $b = c/\Delta$, with the half-line Gaussian "
             r"integral R in closed form (the next step is a second route)"),
        Step(sp.Derivative(mills_val, a_sym) - a_sym * mills_val, sp.Integer(-1), "ODE",
             r"$R'(a) = aR(a) - 1$ (differentiate under the integral, integrate by parts) and "
             r"$R(a)\to 0$ as $a\to\infty$ determine R; the closed form satisfies both"),
        Step(sp.exp(log_phi_x0()) * mills_ratio((k + sp.Rational(1, 2)) * D - c / D),
             series_terms_scaled()[0], "combine exponents",
             r"$-x_0^2/2 + (\beta_k - b)^2/2 = \Delta^2k(k+1)/2 - (k+1)c$: the form compiled "
             "for mpmath (no cancelling b²/2)"),
        Step(sp.exp(log_phi_x0()) * mills_ratio((k + sp.Rational(1, 2)) * D + c / D),
             series_terms_scaled()[1], "combine exponents",
             r"$-x_0^2/2 + (\beta_k + b)^2/2 = \Delta^2k(k+1)/2 + kc$"),
    )
    return Derivation(
        "Cosh representation of the misassignment probability",
        (r"σ = 1 (whitened units), μo = 0, μn = Δ > 0, $w \in (0,1)$, $c = \log\frac{w}{1-w}$",),
        steps,
        result=cosh_t,
        notes=("Negative Δ: m(w, −Δ) = m(w, Δ) (reflect x → −x); Δ = 0: m = 1 − w.",
               "Termwise series: the sequence R(β_k ∓ b) is a moment sequence "
               "(x = e^{−Δu}), so Cohen–Rodriguez Villegas–Zagier acceleration has the "
               "rigorous relative error bound 1/d_n, d_n = ((3+√8)^n + (3−√8)^n)/2."),
    )


@cache
def bc_bound_derivation() -> Derivation:
    r"""m ≤ ½√((1−w)/w)·BC: pointwise AM–GM, then integrate; second route via sech ≤ 1."""
    A = sp.Symbol("A", positive=True)
    B = sp.Symbol("B", positive=True)
    pa = w * normal_pdf(x, 0, 1)
    pb = (1 - w) * normal_pdf(x, D, 1)
    phi_0 = Named(r"\varphi_0", normal_pdf(x, 0, 1))
    phi_d = Named(r"\varphi_\Delta", normal_pdf(x, D, 1))
    a_n, b_n = (1 - w) * phi_d, w * phi_0  # A and B of the AM-GM step, shown by name
    steps = (
        Step((sp.sqrt(A) - sp.sqrt(B)) ** 2, A + B - 2 * sp.sqrt(A * B), "expand",
             "a square is non-negative, so A + B ≥ 2√(AB)"),
        Step(A / (A + B), sp.sqrt(A / B) / 2, "AM-GM",
             r"$A/(A+B) \le A/(2\sqrt{AB}) = \tfrac12\sqrt{A/B}$ for A, B > 0 "
             "(equality iff A = B)", kind="le",
             box=(("A", "1e-6", "1e6"), ("B", "1e-6", "1e6")),
             margin=sp.sqrt(A) * (sp.sqrt(A) - sp.sqrt(B)) ** 2 / (2 * sp.sqrt(B) * (A + B))),
        Step(pb / (pa + pb), sp.sqrt(pb / pa) / 2, "apply",
             r"$A = (1-w)\varphi_\Delta$, $B = w\varphi_0$: $r_n \le \tfrac12\sqrt{(1-w)"
             r"\varphi_\Delta/(w\varphi_0)}$ pointwise", kind="le",
             box=(("w", "0.000001", "0.999999"), ("Delta", "1e-6", 60), ("x", -100, 100)),
             margin=sp.sqrt(a_n) * (sp.sqrt(a_n) - sp.sqrt(b_n)) ** 2
             / (2 * sp.sqrt(b_n) * (a_n + b_n))),
        Step(phi_0 * sp.sqrt((1 - w) * phi_d / (w * phi_0)) / 2,
             sp.sqrt((1 - w) / w) * sp.sqrt(phi_0 * phi_d) / 2,
             "simplify", r"$\varphi_0\sqrt{\varphi_\Delta/\varphi_0} = \sqrt{\varphi_0"
             r"\varphi_\Delta}$; integrating gives $\tfrac12\sqrt{(1-w)/w}\,\mathrm{BC}$"),
        Step(sp.sqrt((1 - w) / w) * Named(r"\mathrm{BC}", STATED["bc"].subs(delta, D)) / 2,
             sp.sqrt((1 - w) / w) * sp.exp(-D**2 / 8) / 2, "closed form",
             r"$\mathrm{BC} = \int\sqrt{\varphi_0\varphi_\Delta} = e^{-\Delta^2/8}$ "
             r"(claim gauss.closed_forms)"),
        Step(sp.exp(log_phi_x0()) * sp.sqrt(2 * sp.pi) * sp.exp((c / D) ** 2 / 2) / 2,
             bc_bound(), "second route",
             r"cosh form with $\operatorname{sech}\le 1$: $m \le \varphi(x_0)\int "
             r"e^{-t^2/2-(c/\Delta)t}dt/2 = \varphi(x_0)\sqrt{2\pi}e^{c^2/(2\Delta^2)}/2$ — the "
             r"same bound, and $\operatorname{sech}(\Delta t/2)\to 0$ off $t=0$ shows it is loose "
             r"by a factor $\sim\Delta$ for large Δ"),
    )
    return Derivation(
        "Bhattacharyya bound on the misassignment probability",
        (r"$w\in(0,1)$, Δ ≥ 0, σ = 1; the AM–GM step holds for any two densities, "
         "not only Gaussians",),
        steps,
        result=sp.sqrt((1 - w) / w) * sp.exp(-D**2 / 8) / 2,
        notes=("Sharp: at Δ = 0, w = ½ both sides equal ½ (m = 1 − w = ½), so the constant ½ "
               "cannot be lowered; for Δ > 0 the ratio m/bound → 0 like √(2π)/Δ.",
               "Gradient bound: at μo = μo*, ∇_{μo}L_R = w[m_q Δ − m_p Δ*] (rkl.drift_identity), "
               "so |∇| ≤ w(m_q Δ + m_p Δ*) ≤ (w/2)[√((1−w)/w) Δ e^{−Δ²/8} + √((1−α)/α) Δ* "
               "e^{−Δ*²/8}]."),
    )


@cache
def symmetry_derivation() -> Derivation:
    r"""Symmetry, reflection and the special values used by the evaluators."""
    z = D * x - D**2 / 2 - c  # new-component log-odds, Δ(x − x0)
    y = sp.Symbol("y", real=True)
    phi0 = normal_pdf(x, 0, 1)
    steps = (
        Step(phi0 * Sigmoid(z), sp.exp(-c) * normal_pdf(x, D, 1) * Sigmoid(-z), "sigmoid",
             r"$\operatorname{sigmoid}(z) = e^{z}\operatorname{sigmoid}(-z)$ and "
             r"$\varphi_0(x)e^{\Delta x - \Delta^2/2} = \varphi_\Delta(x)$"),
        Step((normal_pdf(x, D, 1) * Sigmoid(-z)).subs(x, D - y),
             normal_pdf(y, 0, 1) * Sigmoid(D * y - D**2 / 2 + c), "reflect",
             r"$x = \Delta - y$: integrating gives $m(c) = e^{-c}m(-c)$, i.e. "
             r"$w\,m(w,\Delta) = (1-w)\,m(1-w,\Delta)$"),
        Step((normal_pdf(x, D, 1) * Sigmoid(-z)).subs(x, D + y),
             normal_pdf(y, 0, 1) * (1 - Sigmoid(D * y - D**2 / 2 - (c - D**2))), "shift",
             r"$x = \Delta + y$: integrating gives the reflection "
             r"$m(c) = e^{-c}\,(1 - m(c - \Delta^2))$"),
        Step(Sigmoid(-D * x - D**2 / 2 - c), Sigmoid(z).subs(x, -x), "negate Δ",
             r"Δ → −Δ with x → −x (φ0 even): $m(w,-\Delta) = m(w,\Delta)$"),
        Step(Sigmoid(z).subs(D, 0), Sigmoid(-c), "Δ = 0",
             r"$r_n \equiv \operatorname{sigmoid}(-c) = 1 - w$, so $m(w, 0) = 1 - w$"),
        Step(sp.Subs(sp.exp(-D**2 / 2) * (1 - sp.exp(D**2 / 2) * sp.Symbol("m_*")),
                     sp.Symbol("m_*"), sp.exp(-D**2 / 2) / 2),
             sp.exp(-D**2 / 2) / 2, "fixed point",
             r"at $c = \Delta^2/2$ the reflection maps c to −c: $m_* = e^{-\Delta^2/2}"
             r"(1 - e^{\Delta^2/2}m_*)$, solved by $m(c{=}\Delta^2/2) = \tfrac12 e^{-\Delta^2/2}$"),
        Step(sp.Symbol(r"x_0 \ge 0"), sp.Symbol(r"m \le \tfrac12"), "bound",
             r"if $c \ge -\Delta^2/2$ then $x_0 \ge 0$ and $\operatorname{sigmoid}"
             r"(\Delta(x-x_0)) \le \operatorname{sigmoid}(\Delta x)$, whose φ0-mean is ½: the "
             r"reflection $1 - m(c-\Delta^2)$ never cancels for $c \ge \Delta^2/2$",
             kind="argued", relation=r"\implies",
             reason="monotonicity of the sigmoid and the symmetry of φ0, an argument in words"),
    )
    return Derivation(
        "Symmetries of the misassignment probability",
        (r"σ = 1, μo = 0, μn = Δ, $c = \log\frac{w}{1-w}$",),
        steps,
        result=None,
        notes=("The double-precision evaluator reduces every (c, Δ) with Δ > 1 to the "
               "fundamental domain 0 ≤ c ≤ Δ²/2 by these two maps.",),
    )


@cache
def monotonicity_derivation() -> Derivation:
    r"""∂m/∂Δ = −2Δ E_{φ0}[r_n² r_o] < 0 (Stein's identity)."""
    z = D * x - D**2 / 2 - c
    sig = Sigmoid(z)
    phi0 = normal_pdf(x, 0, 1)
    dsig = sp.Derivative(sig, D)
    steps = (
        Step(dsig, sig * (1 - sig) * (x - D), "differentiate",
             r"$\partial_\Delta \operatorname{sigmoid}(\Delta x - \Delta^2/2 - c) = "
             r"\sigma'(z)(x - \Delta)$"),
        Step(sp.Integral(phi0 * x * sig * (1 - sig), (x, -sp.oo, sp.oo)),
             sp.Integral(phi0 * sp.diff(sig * (1 - sig), x), (x, -sp.oo, sp.oo)),
             "Stein", r"$\mathbb E[x\,g(x)] = \mathbb E[g'(x)]$ for $x\sim N(0,1)$ "
             "(integration by parts; $x\\varphi_0 = -\\varphi_0'$)", kind="argued",
             reason="Stein's identity (integration by parts), an argument in words"),
        Step(sp.Derivative(sig * (1 - sig), x) - D * sig * (1 - sig),
             -2 * D * sig**2 * (1 - sig), "simplify",
             r"$\Delta\sigma'' - \Delta\sigma' = -2\Delta\sigma'\sigma = "
             r"-2\Delta\,r_n^2 r_o$ (σ = r_n, 1 − σ = r_o)"),
    )
    return Derivation(
        "Monotonicity of the misassignment probability in Δ",
        (r"σ = 1, μo = 0, μn = Δ > 0, w fixed",),
        steps,
        result=-2 * D * sp.Symbol(r"\mathbb E_{\varphi_0}[r_n^2 r_o]"),
        notes=("Hence m(w, ·) is strictly decreasing on Δ > 0 for every w ∈ (0, 1); near 0, "
               "m = (1 − w) − w(1 − w)²Δ² + O(Δ⁴).",),
    )


@cache
def asymptotic_derivation(n_terms: int = 4) -> Derivation:
    r"""The series in Δ^{-2} from the s-frame cosh form, term by term with Euler numbers."""
    gauss = sp.exp(-(2 * s + c) ** 2 / (2 * D**2))
    steps = [
        Step(sp.exp(cosh_log_prefactor_s() + cosh_exponent_s()),
             sp.exp(asymptotic_log_prefactor()) / sp.sqrt(sp.pi / 2)
             / sp.sqrt(2 * sp.pi) * gauss,
             "complete the square", r"$m = \sqrt{\tfrac{1-w}{w}}\frac{e^{-\Delta^2/8}}"
             r"{\Delta\sqrt{2\pi}}\int e^{-(2s+c)^2/(2\Delta^2)}\operatorname{sech}s\,ds$"),
        Step(gauss,
             sp.Sum((-1) ** k * (2 * s + c) ** (2 * k) / (sp.factorial(k) * (2 * D**2) ** k),
                    (k, 0, sp.oo)),
             "Taylor", "expand the Gaussian factor; the remainder after N terms is bounded by "
             "the next term (alternating Taylor series of e^{-y}, y ≥ 0), so integrating "
             "termwise gives an asymptotic series with error O(Δ^{-2N})"),
    ]
    steps.append(Step(
        sp.Integral(sp.cosh(lam * s) * sp.sech(s), (s, -sp.oo, sp.oo)),
        sp.pi * sp.sec(sp.pi * lam / 2), "generating function",
        r"for $|\lambda| < 1$ (residues at $s = i\pi(k+\frac12)$); its even Taylor "
        r"coefficients at λ = 0 are the moments (next steps)", kind="argued",
        reason="a contour integral (residues), an argument in words; the moments it generates "
               "(next steps) are confirmed by mpmath quadrature in the claim's check"))
    for j in range(4):
        steps.append(Step(
            sp.Subs(sp.Derivative(sp.pi * sp.sec(sp.pi * lam / 2), (lam, 2 * j)), lam, 0),
            euler_moment(j),
            "Euler moment", f"∫ s^{2 * j} sech s ds = ∂_λ^{2 * j}[π sec(πλ/2)] at 0 = "
            f"2 (π/2)^{2 * j + 1} |E_{2 * j}|, E_{2 * j} = {sp.euler(2 * j)}"))
    coeffs = series_coefficients(n_terms)
    for n, a_n in enumerate(coeffs):
        steps.append(Step(sp.Symbol(f"a_{n}"), a_n, "collect",
                          f"coefficient of Δ^(-{2 * n}): binomial expansion of (2s+c)^{2 * n}, "
                          "even moments only, divided by ∫sech = π", kind="def",
                          reason="the coefficient as computed termwise "
                                 "(drift.series_coefficients); the last step re-derives all of "
                                 "them by a second route"))
    # second route, re-expanded in u = 1/Δ² with λ = 2c/Δ² = 2cu: multiply truncated series
    order = n_terms
    ser = lambda e: sp.series(e, u, 0, order).removeO()  # noqa: E731
    gauss_c = ser(sp.exp(-c**2 * u / 2))
    sec_ = ser(1 / sp.cos(sp.pi * c * u))
    tan2 = ser(sp.tan(sp.pi * c * u) ** 2)
    inner = sum(u**j * q.subs(T2, tan2) for j, q in enumerate(resummed_polynomials(n_terms)))
    prod = sp.expand(gauss_c * sec_ * sp.expand(inner))
    check = sum(prod.coeff(u, n) * u**n for n in range(order))
    steps.append(Step(
        Named(r"\tilde S(u)", sp.expand(check)), asymptotic_ratio(n_terms).subs(D, 1 / sp.sqrt(u)),
        "resum", r"second route: $\int s^{2j}\cosh(\lambda s)\operatorname{sech}s\,ds = "
        r"\pi\partial_\lambda^{2j}\sec(\pi\lambda/2)$ at $\lambda = 2c/\Delta^2$; "
        r"$\tilde S(u)$ = $e^{-c^2u/2}\sec(\pi cu)\sum_j u^jQ_j(\tan^2(\pi cu))$ expanded in "
        rf"$u = \Delta^{{-2}}$ to $O(u^{{{order}}})$ reproduces the same coefficients"))
    return Derivation(
        "Asymptotic series of the misassignment probability",
        (r"σ = 1, μo = 0, μn = Δ → ∞ at fixed $c = \log\frac{w}{1-w}$",),
        tuple(steps),
        result=asymptotic_ratio(n_terms),
        notes=(r"Hence $m = \sqrt{(1-w)/w}\sqrt{\pi/2}\,e^{-\Delta^2/8}\Delta^{-1}"
               r"(1 + a_1\Delta^{-2} + \dots)$, $\lim \log m/\Delta^2 = -1/8$, "
               "and m/(BC bound) ~ √(2π)/Δ.",
               "The resummed form (exact in c at each order in Δ^{-2}) is what the "
               "double-precision evaluator uses for Δ ≥ 22 with |λ| ≤ 0.2."),
    )

