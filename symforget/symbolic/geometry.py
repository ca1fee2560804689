r"""Local geometry of the reverse KL at the target (claims ``rkl.local_geometry``,
``rkl.linear_convergence``).

Three derivations, each a :class:`~symforget.symbolic.derivation.Derivation` whose steps check
themselves:

1. **Hessian = Fisher at θ*.** :math:`\nabla^2 L_R = \sum_c\mathbb E_{\varphi_c}[H_c\log(q/p^*)]
   + I(\theta)` (the structure of :func:`~symforget.symbolic.mixture.rkl_hess_spec`); at θ* the
   log-ratio vanishes identically, so the integrands of the Hessian spec *are* those of the
   Fisher spec.
2. **Separated limit.** With :math:`r = r_o^q` the score is
   :math:`s = (r/w - (1-r)/(1-w),\; r(x-\mu_o)/\sigma^2,\; (1-r)(x-\mu_n)/\sigma^2)`, so every
   entry of :math:`s s^\top` is a quadratic polynomial in r, which we write as
   :math:`A\,r + C\,(1-r) + K\,r(1-r)` (A, C, K polynomials in x; :math:`K = -[r^2]\,s_is_j`).
   Because :math:`q\,r = w\varphi_{\mu_o}` and :math:`q(1-r) = (1-w)\varphi_{\mu_n}`,

   .. math:: I_{ij} = \underbrace{w\,\mathbb E_{\varphi_{\mu_o}}[A_{ij}]
             + (1-w)\,\mathbb E_{\varphi_{\mu_n}}[C_{ij}]}_{L_{ij}}
             + \underbrace{\mathbb E_q[K_{ij}\,r(1-r)]}_{D_{ij}}.

   The limit L is what remains when :math:`r_o \to` an indicator (:math:`r(1-r)\to 0`); SymPy
   computes it: :math:`\mathrm{diag}(1/(w(1-w)),\, w/\sigma^2,\, (1-w)/\sigma^2)`.
3. **Overlap bound on the deviation.** With :math:`a = w\varphi_{\mu_o}`,
   :math:`b = (1-w)\varphi_{\mu_n}`: :math:`q\,r(1-r) = ab/(a+b) \le \sqrt{ab}/2` (AM–GM), and
   :math:`\sqrt{\varphi_{\mu_o}\varphi_{\mu_n}} = e^{-\Delta^2/8}\,\varphi_{\bar\mu}` with
   :math:`\bar\mu = (\mu_o+\mu_n)/2`. Hence, by Cauchy–Schwarz,

   .. math:: |D_{ij}| \le \tfrac12\sqrt{w(1-w)}\;e^{-\Delta^2/8}\;
             \sqrt{\mathbb E_{\mathcal N(\bar\mu,\sigma^2)}[K_{ij}^2]} =: B_{ij},

   an explicit :math:`e^{-\Delta^2/8}\cdot\mathrm{poly}(\Delta)` bound (the moment is a
   polynomial in Δ of degree ≤ 4). By Weyl's inequality the eigenvalues of I are within
   :math:`\lVert B\rVert_F` of those of L.

Gaussian expectations of polynomials are computed exactly from the standard normal moments
(themselves obtained by SymPy integration), never by integrating with symbolic means — SymPy's
``integrate`` takes seconds there.
"""

from __future__ import annotations

from functools import cache, lru_cache

import sympy as sp

from .derivation import Derivation, Named, Step
from .functions import Sigmoid
from .gauss import log_normal_pdf, normal_pdf
from .mixture import (
    component_hessian_weights,
    fisher_spec,
    log_odds,
    log_p,
    log_q,
    mixture_pdf,
    responsibility_old,
    rkl_hess_spec,
    rkl_loss_spec,
    score,
)
from .symbols import STUDENT, alpha, delta, eta, mu_n, mu_o, nu_n, nu_o, sigma, w, x, y

__all__ = [
    "r",
    "normal_moment",
    "expect_polynomial",
    "score_in_responsibility",
    "sigmoids_to_r",
    "fisher_decomposition",
    "separated_limit",
    "overlap_moments",
    "deviation_bound",
    "hessian_is_fisher_derivation",
    "separated_limit_derivation",
    "deviation_bound_derivation",
    "linear_convergence_derivation",
    "THETA_STAR",
    "BOUND_EXPONENT",
    "WHITENED",
]

#: the old-component responsibility r_o^q(x) as an opaque symbol (0 < r < 1)
r = sp.Symbol("r", positive=True)

#: θ = θ*: the student equals the target
THETA_STAR = {w: alpha, mu_o: nu_o, mu_n: nu_n}
#: the derived exponent c of the overlap bound e^{cΔ²}
BOUND_EXPONENT = sp.Rational(-1, 8)
#: whitened 1-D coordinates used by :func:`symforget.model.fisher`: μo = 0, μn = Δ, σ = 1
WHITENED = {mu_o: sp.Integer(0), mu_n: delta, sigma: sp.Integer(1)}


@cache
def normal_moment(k: int) -> sp.Expr:
    r""":math:`\mathbb E[Y^k]` for :math:`Y\sim\mathcal N(0,1)`, by SymPy integration (cached)."""
    if k < 0 or int(k) != k:
        raise ValueError(f"k={k!r} must be a non-negative integer")
    dens = sp.exp(-(y**2) / 2) / sp.sqrt(2 * sp.pi)
    return sp.integrate(y**k * dens, (y, -sp.oo, sp.oo))


def expect_polynomial(expr: sp.Expr, mean: sp.Expr, scale: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E_{x\sim\mathcal N(m, s^2)}[p(x)]` for a polynomial p in x, exactly.

    Substitutes :math:`x = m + s\,y`, expands in y and replaces :math:`y^k` by the standard
    normal moment. Raises ``ValueError`` if ``expr`` is not polynomial in x.
    """
    if not sp.sympify(expr).is_polynomial(x):  # safe: internal
        raise ValueError(f"{expr} is not a polynomial in x")
    poly = sp.Poly(sp.expand(sp.sympify(expr).subs(x, mean + scale * y)), y)  # safe: internal
    return sp.expand(sum(c * normal_moment(m[0]) for m, c in poly.terms()))


def score_in_responsibility() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""The score :math:`\nabla_{(w,\mu_o,\mu_n)}\log q` written with :math:`r = r_o^q`."""
    return (r / w - (1 - r) / (1 - w),
            r * (x - mu_o) / sigma**2,
            (1 - r) * (x - mu_n) / sigma**2)


def sigmoids_to_r(expr: sp.Expr, z: sp.Expr | None = None) -> sp.Expr:
    r"""Replace ``Sigmoid(z)`` by r and ``Sigmoid(−z)`` by 1 − r (default z = z_q, the student's
    log-odds).

    Each Sigmoid argument is compared with z by ``simplify``; any other argument raises
    ``ValueError`` (the rewrite must be exact, not a guess).
    """
    zq = log_odds(w, mu_o, mu_n) if z is None else z

    def repl(z: sp.Expr) -> sp.Expr:
        if sp.simplify(z - zq) == 0:
            return r
        if sp.simplify(z + zq) == 0:
            return 1 - r
        raise ValueError(f"Sigmoid argument {z} is not ±z_q")

    return expr.replace(Sigmoid, repl)


def _upper() -> list[tuple[int, int]]:
    return [(i, j) for i in range(3) for j in range(i, 3)]


@lru_cache(maxsize=1)
def fisher_decomposition() -> tuple[sp.Matrix, sp.Matrix, sp.Matrix]:
    r"""Matrices (A, C, K) with :math:`s_is_j = A_{ij}r + C_{ij}(1-r) + K_{ij}r(1-r)`.

    :math:`A = s_is_j|_{r=1}`, :math:`C = s_is_j|_{r=0}`, :math:`K = -[r^2]\,s_is_j` (the
    identity holds because :math:`s_is_j` is quadratic in r).
    """
    s = score_in_responsibility()
    A, C, K = sp.zeros(3, 3), sp.zeros(3, 3), sp.zeros(3, 3)
    for i, j in _upper():
        p = sp.expand(s[i] * s[j])
        A[i, j] = A[j, i] = sp.factor(p.subs(r, 1))
        C[i, j] = C[j, i] = sp.factor(p.subs(r, 0))
        K[i, j] = K[j, i] = sp.factor(-sp.Poly(p, r).coeff_monomial(r**2))
    return A, C, K


@lru_cache(maxsize=1)
def separated_limit() -> sp.Matrix:
    r""":math:`L = w\,\mathbb E_{\varphi_{\mu_o}}[A] + (1-w)\,\mathbb E_{\varphi_{\mu_n}}[C]`
    (general θ; at θ* put w = α)."""
    A, C, _ = fisher_decomposition()
    L = sp.zeros(3, 3)
    for i, j in _upper():
        val = (w * expect_polynomial(A[i, j], mu_o, sigma)
               + (1 - w) * expect_polynomial(C[i, j], mu_n, sigma))
        L[i, j] = L[j, i] = sp.simplify(val)
    return L


@lru_cache(maxsize=1)
def overlap_moments() -> sp.Matrix:
    r""":math:`M_{ij} = \mathbb E_{\mathcal N(\bar\mu,\sigma^2)}[K_{ij}^2]`, in whitened units
    (μo = 0, μn = Δ, σ = 1): polynomials in Δ (and 1/w, 1/(1−w))."""
    _, _, K = fisher_decomposition()
    M = sp.zeros(3, 3)
    for i, j in _upper():
        val = expect_polynomial(sp.expand(K[i, j] ** 2), (mu_o + mu_n) / 2, sigma)
        M[i, j] = M[j, i] = sp.factor(sp.expand(val.subs(WHITENED)))
    return M


def deviation_bound(exponent: sp.Expr = BOUND_EXPONENT) -> sp.Matrix:
    r"""Entrywise bound :math:`B_{ij}(w,\Delta) = \tfrac12\sqrt{w(1-w)}\,e^{c\Delta^2}
    \sqrt{M_{ij}}` on :math:`|I(\theta) - L|` (whitened). The derived exponent is c = −1/8;
    other values exist only to state wrong variants."""
    M = overlap_moments()
    pref = sp.sqrt(w * (1 - w)) / 2 * sp.exp(exponent * delta**2)
    return M.applyfunc(lambda m: pref * sp.sqrt(m))


# ---------------------------------------------------------------------------------------------
# Derivations
# ---------------------------------------------------------------------------------------------

def _flat_matrix(entries: tuple[sp.Expr, ...]) -> sp.Matrix:
    return sp.Matrix(3, 3, list(entries))


#: LaTeX names of the coordinates (w, μo, μn), for matrix entries
_IDX = ("w", r"\mu_o", r"\mu_n")
#: the components of the student, for superscripts
_COMP = ("o", "n")
#: θ = θ* as one simultaneous substitution (held in steps, so they show it)
_STAR_VARS, _STAR_VALS = tuple(THETA_STAR), tuple(THETA_STAR.values())


@lru_cache(maxsize=1)
def hessian_is_fisher_derivation() -> Derivation:
    r"""∇²L_R(θ*) = I(θ*): the log-ratio term of the Hessian vanishes at θ*.

    Each entry of the Hessian spec's integrand is shown, at θ*, as :math:`H_c\,\ell + (\text{the
    Fisher spec's integrand})` with ℓ = log(q/p*) kept as a symbol (read off the spec, not
    retyped); then ℓ ≡ 0 at θ*. Responsibilities at θ* are written r = sigmoid(z*).
    """
    hs, fs = rkl_hess_spec(), fisher_spec()
    ell = sp.Symbol(r"\ell")
    lr_expr = rkl_loss_spec().integrands[0][0]  # the stable log(q/p*) every RKL spec uses
    z_star = log_odds(alpha, nu_o, nu_n)
    h_w = component_hessian_weights()

    def at_star(e: sp.Expr) -> sp.Expr:
        return sigmoids_to_r(sp.sympify(e).subs(THETA_STAR), z_star)  # safe: internal

    steps: list[Step] = [
        Step(sp.Symbol(r"\nabla^2 L_R(\theta)"),
             sp.Symbol(r"\sum_c \mathbb{E}_{\varphi_c}[H_c\,\ell] + I(\theta)"),
             "differentiate twice",
             r"$\nabla^2\!\int q\log(q/p^*) = \int\nabla^2 q\,(\log(q/p^*)+1)"
             r" + \int\nabla q\nabla q^\top/q$, $\int\nabla^2 q = 0$, "
             r"$\ell = \log(q/p^*)$ (the structure of rkl_hess_spec)", kind="argued",
             reason="differentiation under the integral sign twice, an argument in words "
                    "(`rkl_hess_spec` is built on it); at θ* the claim's check compares "
                    "`rkl_hessian` and central finite differences of `rkl_grad` with `fisher`"),
        Step(sp.Subs(Named(r"\log q_\theta", log_q()), _STAR_VARS, _STAR_VALS),
             Named(r"\log p^*", log_p()), "substitute θ*",
             r"the stable $\log q_\theta$ (mixture.log_q) at $\theta^*$ is the stable "
             r"$\log p^*$ (mixture.log_p)"),
        Step(sp.Subs(Named(r"\ell", lr_expr), _STAR_VARS, _STAR_VALS), sp.Integer(0),
             "substitute θ*",
             r"hence the specs' log-ratio $\ell$ vanishes identically in x at $\theta^*$"),
    ]
    for c, (hc, fc) in enumerate(zip(hs.components, fs.components, strict=True)):
        for part, name in (("mean", "m"), ("scale", "s")):
            steps.append(Step(
                Named(rf"{name}_{_COMP[c]}^{{\nabla^2 L_R}}", getattr(hc, part)),
                Named(rf"{name}_{_COMP[c]}^{{I}}", getattr(fc, part)), "compare components",
                f"component {_COMP[c]}: the Hessian spec and the Fisher spec integrate against "
                f"the same Gaussian (equal {part}s)"))
    names = ("old", "new")
    for c in range(2):
        weight = sp.sympify(fs.components[c].weight)  # safe: internal
        hess = _flat_matrix(hs.integrands[c])
        fish = _flat_matrix(fs.integrands[c])
        for i, j in _upper():
            lhs = Named(rf"\mathcal H^{{({_COMP[c]})}}_{{{_IDX[i]}{_IDX[j]}}}(\theta^*)",
                        at_star(hess[i, j].xreplace({lr_expr: ell})))
            rhs = at_star(h_w[c][i][j] * ell + weight * fish[i, j])
            steps.append(Step(lhs, rhs, "read the spec",
                              rf"{names[c]} component, entry $({_IDX[i]}, {_IDX[j]})$: the "
                              r"Hessian spec's integrand $\mathcal H$ at $\theta^*$ is "
                              r"$H_c\,\ell$ + the Fisher spec's integrand ($\pi_c\,s_is_j$)"))
    steps.append(Step(sp.Symbol(r"\nabla^2 L_R(\theta^*)"), sp.Symbol(r"I(\theta^*)"),
                      "substitute θ*",
                      r"$\ell \equiv 0$ at $\theta^*$: the Hessian integrands are the Fisher "
                      "integrands, so ∇²L_R(θ*) = I(θ*)", kind="argued",
                      reason="the conclusion of the steps above, in words; the claim's check "
                             "compares `rkl_hessian` at θ* with `fisher` on an (α, Δ) grid"))
    return Derivation(
        "Hessian of the reverse KL at the target equals the Fisher information",
        (r"$q_\theta = w\varphi_{\mu_o} + (1-w)\varphi_{\mu_n}$, "
         r"$p^* = \alpha\varphi_{\nu_o} + (1-\alpha)\varphi_{\nu_n}$, shared $\sigma$",
         r"$\theta^* = (\alpha, \nu_o, \nu_n)$; $r = \operatorname{sigmoid}(z^*)$ the "
         "old-component responsibility of p*"),
        tuple(steps),
        result=sp.Symbol(r"I(\theta^*)"),
        notes=("Numerically: model.rkl_hessian(θ*) = model.fisher(α, Δ), and central finite "
               "differences of model.rkl_grad agree (claim rkl.local_geometry).",),
    )


@lru_cache(maxsize=1)
def separated_limit_derivation() -> Derivation:
    r"""The decomposition :math:`I = L + D` and the separated limit L (SymPy)."""
    s_stable = score()
    s_r = score_in_responsibility()
    A, C, K = fisher_decomposition()
    L = separated_limit()
    steps: list[Step] = [
        Step(r, Sigmoid(log_odds(w, mu_o, mu_n)), "notation",
             r"$r = r_o^q = \operatorname{sigmoid}(z_q)$, $1 - r = \operatorname{sigmoid}(-z_q)$",
             kind="def", reason="notation: $r$ is the old-component responsibility"),
    ]
    for i in range(len(STUDENT)):
        score_i = Named(rf"\partial_{{{_IDX[i]}}}\log q_\theta", sigmoids_to_r(s_stable[i]))
        steps.append(Step(score_i, s_r[i], "rewrite",
                          rf"score component $\partial/\partial {_IDX[i]}$ of the stable "
                          r"$\log q_\theta$ (mixture.score), with $r$"))
    for i, j in _upper():
        steps.append(Step(sp.expand(s_r[i] * s_r[j]),
                          A[i, j] * r + C[i, j] * (1 - r) + K[i, j] * r * (1 - r),
                          "split in r",
                          f"s_{i}s_{j} is quadratic in r: A r + C (1−r) + K r(1−r)"))
    steps.append(Step(Named(r"q\,r", mixture_pdf(w, mu_o, mu_n) * responsibility_old()),
                      w * Named(r"\varphi_{\mu_o}", normal_pdf(x, mu_o, sigma)), "definition",
                      r"$q\,r_o = w\varphi_{\mu_o}$ (the model's $q$ and stable $r_o$) and "
                      r"$q\,(1-r_o) = (1-w)\varphi_{\mu_n}$, so "
                      r"$\mathbb E_q[A r] = w\mathbb E_{\varphi_{\mu_o}}[A]$"))
    for k in range(5):
        # two routes: SymPy's integral (normal_moment) against the double-factorial formula
        closed = sp.factorial2(k - 1) if k % 2 == 0 else sp.Integer(0)
        steps.append(Step(Named(rf"\left[\int y^{k}\varphi(y)\,dy\right]_{{\mathrm{{SymPy}}}}",
                                normal_moment(k)), closed, "integrate",
                          f"standard normal moment E[y^{k}] by SymPy integration "
                          "(geometry.normal_moment) equals (k−1)!! for even k, 0 for odd k"))
    expected_limit = sp.diag(1 / (w * (1 - w)), w / sigma**2, (1 - w) / sigma**2)
    named_l = {(i, j): Named(f"L_{{{_IDX[i]}{_IDX[j]}}}", L[i, j]) for i, j in _upper()}
    for i, j in _upper():
        steps.append(Step(named_l[i, j], expected_limit[i, j], "Gaussian moments",
                          r"$L_{ij} = w\mathbb E_{\varphi_{\mu_o}}[A_{ij}]"
                          r" + (1-w)\mathbb E_{\varphi_{\mu_n}}[C_{ij}]$ by exact Gaussian "
                          rf"moments, entry $({_IDX[i]}, {_IDX[j]})$"))
    for i, j in _upper():
        steps.append(Step(sp.Subs(named_l[i, j], (w, sigma), (alpha, 1)),
                          sp.diag(1 / (alpha * (1 - alpha)), alpha, 1 - alpha)[i, j],
                          "at θ*, whitened", r"$w = \alpha$, $\sigma = 1$"))
    return Derivation(
        "Fisher information of the two-mode model: separated limit",
        (r"$r = r_o^q \in (0,1)$; the limit is $r(1-r) \to 0$ (responsibilities become "
         r"indicators as $\Delta \to \infty$)",),
        tuple(steps),
        result=sp.diag(1 / (alpha * (1 - alpha)), alpha, 1 - alpha),
        notes=(r"$I - L = D$ with $D_{ij} = \mathbb E_q[K_{ij}\,r(1-r)]$; "
               r"$K = " + sp.latex(K) + "$",),
    )


@lru_cache(maxsize=1)
def deviation_bound_derivation() -> Derivation:
    r"""The explicit overlap bound :math:`|D_{ij}| \le B_{ij}` (whitened units)."""
    a_, b_ = sp.symbols("a b", positive=True)
    xbar = (mu_o + mu_n) / 2
    lhs_bc = (log_normal_pdf(x, mu_o, sigma) + log_normal_pdf(x, mu_n, sigma)) / 2
    rhs_bc = -((mu_n - mu_o) / sigma) ** 2 / 8 + log_normal_pdf(x, xbar, sigma)
    M = overlap_moments()
    B = deviation_bound()
    steps = (
        Step(Named(r"q\,r(1-r)", (a_ + b_) * (a_ / (a_ + b_)) * (1 - a_ / (a_ + b_))),
             a_ * b_ / (a_ + b_), "definition",
             r"$a = w\varphi_{\mu_o}$, $b = (1-w)\varphi_{\mu_n}$, $q = a+b$, $r = a/(a+b)$"),
        Step(sp.sqrt(a_ * b_) / 2 - a_ * b_ / (a_ + b_),
             sp.sqrt(a_ * b_) * (sp.sqrt(a_) - sp.sqrt(b_)) ** 2 / (2 * (a_ + b_)),
             "AM-GM", r"$\sqrt{ab}/2 - ab/(a+b) = \sqrt{ab}(\sqrt a-\sqrt b)^2/(2(a+b))$"),
        Step(a_ * b_ / (a_ + b_), sp.sqrt(a_ * b_) / 2, "AM-GM",
             "the right-hand side of the previous step is non-negative", kind="le",
             box=(("a", "1e-6", "1e6"), ("b", "1e-6", "1e6")),
             margin=sp.sqrt(a_ * b_) * (sp.sqrt(a_) - sp.sqrt(b_)) ** 2 / (2 * (a_ + b_))),
        Step(lhs_bc, rhs_bc, "complete the square",
             r"$\sqrt{\varphi_{\mu_o}\varphi_{\mu_n}} = e^{-\Delta^2/8}\varphi_{\bar\mu}$, "
             r"$\bar\mu = (\mu_o+\mu_n)/2$"),
        Step(sp.Symbol(r"|D_{ij}|"),
             sp.Symbol(r"\left|\int K_{ij}\,q\,r(1-r)\,dx\right|"), "definition",
             "the overlap part of the decomposition I = L + D", kind="def",
             reason="a definition"),
        Step(sp.Symbol(r"B_{ij}"),
             sp.sqrt(w * (1 - w)) / 2 * sp.exp(-delta**2 / 8) * sp.sqrt(sp.Symbol("M_{ij}")),
             "bound",
             r"$|D_{ij}| \le \int|K_{ij}|\sqrt{ab}/2 = \tfrac12\sqrt{w(1-w)}\,"
             r"e^{-\Delta^2/8}\,\mathbb E_{\varphi_{\bar\mu}}|K_{ij}| \le B_{ij}$ "
             "(the two steps above, then Cauchy–Schwarz E|K| ≤ (E K²)^{1/2})", kind="def",
             reason=r"the definition of $B_{ij}$; that it bounds $|D_{ij}|$ is the argument in "
                    "words (the two steps above and Cauchy–Schwarz), confirmed by the claim's "
                    r"check: $|I - L| \le B$ entrywise on an (α, Δ) grid"),
        Step(sp.Symbol("M"), M, "Gaussian moments",
             r"$M_{ij} = \mathbb E_{\mathcal N(\Delta/2, 1)}[K_{ij}^2]$ (whitened: "
             r"$\mu_o = 0$, $\mu_n = \Delta$, $\sigma = 1$)", kind="def",
             reason="notation: $M$ as computed from exact Gaussian moments (entries checked "
                    "independently below)"),
        Step(M[0, 0], 1 / (w * (1 - w)) ** 4, "check an entry",
             r"$K_{ww} = -1/(w(1-w))^2$ is constant in x"),
        Step(M[0, 1], (1 + delta**2 / 4) / (w * (1 - w)) ** 2, "check an entry",
             r"$K_{w\mu_o} = -u/(w(1-w))$, $u = x-\mu_o = \Delta/2 + y$, "
             r"$\mathbb E u^2 = 1 + \Delta^2/4$"),
        Step(M[1, 1], (delta / 2) ** 4 + 6 * (delta / 2) ** 2 + 3, "check an entry",
             r"$K_{\mu_o\mu_o} = -u^2$, $\mathbb E u^4 = (\Delta/2)^4 + 6(\Delta/2)^2 + 3$"),
        Step(M[1, 2], 3 - 2 * (delta / 2) ** 2 + (delta / 2) ** 4, "check an entry",
             r"$K_{\mu_o\mu_n} = uv = y^2 - \Delta^2/4$"),
    )
    return Derivation(
        "Explicit overlap bound on the deviation of the Fisher information from its limit",
        (r"whitened 1-D units: $\mu_o = 0$, $\mu_n = \Delta \ge 0$, $\sigma = 1$",
         r"$D = I(\theta) - L$ with $D_{ij} = \mathbb E_q[K_{ij}\,r(1-r)]$"),
        steps,
        result=B,
        notes=(r"$\lVert I - L\rVert_2 \le \lVert D\rVert_F \le \lVert B\rVert_F$; by Weyl, "
               r"$|\lambda_k(I) - \lambda_k(L)| \le \lVert B\rVert_F$.",
               "The ww entry of the bound is exactly the BC bound on the misassignment: "
               r"$|D_{ww}| = w\,m(w,\Delta)/(w(1-w))^2$."),
    )


#: error e_t = θ_t − θ*, Hessian H and Taylor remainder R (matrices and vectors: non-commuting)
_E = sp.Symbol("e_t", commutative=False)
_H = sp.Symbol("H", commutative=False)
_R = sp.Symbol("R", commutative=False)


@lru_cache(maxsize=1)
def linear_convergence_derivation() -> Derivation:
    r"""GD near θ*: :math:`e_{t+1} = (I - \eta H)e_t + O(\lVert e_t\rVert^2)`, H = I(θ*)."""
    L = sp.diag(1 / (alpha * (1 - alpha)), alpha, 1 - alpha)
    rho_limit = sp.Max(*[sp.Abs(1 - eta * L[i, i]) for i in range(3)])
    return Derivation(
        "Local linear convergence of gradient descent on the reverse KL",
        (r"$\theta_{t+1} = \theta_t - \eta\nabla L_R(\theta_t)$ in the raw coordinates "
         r"$(w, \mu_o, \mu_n)$ (the coordinates of the Fisher matrix)",
         r"$H = \nabla^2 L_R(\theta^*) = I(\theta^*)$ symmetric positive definite"),
        (
            Step(sp.Symbol(r"\nabla L_R(\theta^* + e)"), _H * _E + _R, "Taylor",
                 r"$\nabla L_R(\theta^*) = 0$ (global minimum); $R = O(\lVert e\rVert^2)$",
                 kind="argued",
                 reason="Taylor's theorem at the minimum, an argument in words; the claim's "
                        "check measures the contraction of GD near θ*"),
            Step(_E - eta * (_H * _E + _R), (1 - eta * _H) * _E - eta * _R, "linearise",
                 r"subtract θ* from the GD update: $e_{t+1} = e_t - \eta\nabla L_R(\theta^* + "
                 r"e_t)$ with the previous step ($e = e_t$; $H$, $e$, $R$ non-commuting)"),
            Step(sp.Symbol(r"\lVert I-\eta H\rVert_2"),
                 sp.Symbol(r"\max_i |1 - \eta\lambda_i(H)|"), "spectral theorem",
                 "I − ηH is symmetric with eigenvalues 1 − ηλ_i", kind="argued",
                 reason=r"the spectral theorem for the symmetric matrix $I - \eta H$, an argument "
                        "in words; the claim's check compares the measured contraction with "
                        "this value"),
            Step(sp.Symbol(r"\rho(\eta)"),
                 sp.Max(sp.Abs(1 - eta * sp.Symbol(r"\lambda_{\min}")),
                        sp.Abs(1 - eta * sp.Symbol(r"\lambda_{\max}"))), "stability",
                 r"the extreme eigenvalues decide; $\rho < 1 \iff 0 < \eta < 2/\lambda_{\max}$",
                 kind="argued",
                 reason=r"$|1 - \eta\lambda|$ is convex in λ, so its maximum over the spectrum is "
                        "at an end (an argument in words)"),
            Step(sp.Subs(rho_limit, (alpha, eta), (sp.Rational(1, 3), sp.Rational(1, 5))),
                 sp.Rational(14, 15), "separated limit",
                 "e.g. α = 1/3, η = 1/5: factors |1 − 9/10|, |1 − 1/15|, |1 − 2/15|"),
        ),
        result=sp.Symbol(r"\rho = \max_i |1 - \eta\lambda_i(I(\theta^*))|"),
        notes=("The measured late-run ratio ‖e_{t+1}‖/‖e_t‖ converges to ρ when the dominant "
               "factor is separated from the next one (claim rkl.linear_convergence).",),
    )
