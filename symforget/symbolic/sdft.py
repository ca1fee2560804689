r"""SDFT as an update map: reverse KL of the two-mode student to a K-component teacher.

Self-distillation fine-tuning (arXiv 2601.19897; claims ``sdft.*``), abstracted on mixture
parameters:

.. math::
   T_t = (1-\lambda)\,q_{\vartheta_t} + \lambda A,\qquad
   \theta_{t+1} = \theta_t - \eta\,\nabla_\theta\,\mathrm{KL}(q_\theta\Vert T_t),\qquad
   \vartheta_{t+1} = (1-\beta)\vartheta_t + \beta\,\theta_{t+1}.

The teacher is a general equal-variance mixture :math:`T = \sum_{k=1}^K \pi_k\varphi_{m_k}`
(K = 4 for :math:`A = p^*`), treated as a constant (stop-gradient) in the student step.
Everything the numeric layer needs is derived here:

* the stable :math:`\log T` as a nested log-sum-exp of *linear* log-odds
  :math:`d_k = \log\pi_k\varphi_{m_k} - \log\pi_K\varphi_{m_K}` (no 0/0, no log 0);
* the reverse-KL gradient :math:`\nabla_\theta\mathrm{KL}(q_\theta\Vert T) = \sum_c
  \mathbb E_{\varphi_c}[g_c(\log q_\theta - \log T)]` with :math:`\nabla_\theta q = \sum_c\varphi_c
  g_c` (the same score-function identity as :mod:`symforget.symbolic.mixture`);
* the per-sample REINFORCE terms :math:`\nabla_\theta\log q(x)\,(\log q(x) - \log T(x))`;
* the linearisation of the logit-w map at the fixed point (eigenvalues as functions of
  :math:`a = \eta I_u`, β, λ) and the generalised overlap-gated drift identity.
SymPy only.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .derivation import Derivation, Named, Step
from .expectation import Component, ExpectationSpec
from .functions import Sigmoid, Softplus
from .gauss import log_normal_pdf, normal_pdf
from .mixture import component_gradient_weights, log_odds, log_q, mixture_pdf, score
from .symbols import STUDENT, mu_n, mu_o, sigma, w, x

__all__ = [
    "teacher_symbols", "teacher_args", "log_teacher", "log_teacher_plain",
    "target_grad_spec", "target_loss_spec", "reinforce_terms",
    "lam", "beta", "a_step", "zeta", "JACOBIAN", "CHAR_POLY", "SLOW_EIGENVALUE",
    "SLOW_EIGENVALUE_SMALL_LAMBDA", "STABILITY_BOUND", "stable_log_teacher_derivation",
    "gradient_identity_derivation", "fixed_point_derivation", "linearisation_derivation",
    "drift_identity_derivation",
]

#: anchor strength λ, EMA rate β, a = η·I_u (step × Fisher information in u = logit w)
lam = sp.Symbol("lambda", nonnegative=True)
beta = sp.Symbol("beta", positive=True)
a_step = sp.Symbol("a", positive=True)
zeta = sp.Symbol("z")


@cache
def teacher_symbols(k: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Log-weights ℓ_k = log π_k (real) and means m_1..m_K of the teacher mixture.

    Log-weights, not weights: the log-odds kinks are then free of ``log`` (SymPy's simplify
    would otherwise fold log(π_j/π_K)·2σ² into log((π_j/π_K)^{2σ²}), which underflows), and
    a tiny EMA weight w̄ enters as its exact logarithm."""
    if k < 1:
        raise ValueError("the teacher needs at least one component")
    pis = tuple(sp.Symbol(f"ell_{i + 1}", real=True) for i in range(k))
    ms = tuple(sp.Symbol(f"m_{i + 1}", real=True) for i in range(k))
    return pis, ms


@cache
def teacher_args(k: int) -> tuple[sp.Symbol, ...]:
    """Canonical argument order of the compiled evaluators: (w, μo, μn, ℓ_1..ℓ_K, m_1..m_K, σ)."""
    pis, ms = teacher_symbols(k)
    return (w, mu_o, mu_n, *pis, *ms, sigma)


def _teacher_log_odds(k: int) -> tuple[sp.Expr, ...]:
    """d_j = log(π_j φ_{m_j}) − log(π_K φ_{m_K}), j < K: linear in x (equal scales)."""
    ells, ms = teacher_symbols(k)
    base = log_normal_pdf(x, ms[-1], sigma)
    return tuple(ells[j] - ells[-1] + sp.expand(log_normal_pdf(x, ms[j], sigma) - base)
                 for j in range(k - 1))


@cache
def log_teacher(k: int) -> sp.Expr:
    r"""Stable :math:`\log T`: :math:`\log\pi_K\varphi_{m_K} + S_{K-1}` with
    :math:`S_0 = 0`, :math:`S_j = S_{j-1} + \operatorname{softplus}(d_j - S_{j-1})`
    (= log(1 + Σ_{i≤j} e^{d_i}), nested log-sum-exp; every term finite)."""
    ells, ms = teacher_symbols(k)
    acc: sp.Expr = sp.Integer(0)
    for d in _teacher_log_odds(k):
        acc = acc + Softplus(d - acc)
    return ells[-1] + log_normal_pdf(x, ms[-1], sigma) + acc


def log_teacher_plain(k: int) -> sp.Expr:
    """log Σ_k π_k φ_{m_k}, π_k = e^{ℓ_k} (plain form, for statements)."""
    ells, ms = teacher_symbols(k)
    return sp.log(sum(sp.exp(e) * normal_pdf(x, m, sigma) for e, m in zip(ells, ms, strict=True)))


def _kinks(k: int) -> tuple[sp.Expr, ...]:
    """Student log-odds and every pairwise teacher log-odds (all linear in x)."""
    d = _teacher_log_odds(k)
    pair = [d[i] - d[j] for i in range(len(d)) for j in range(i + 1, len(d))]
    return (log_odds(w, mu_o, mu_n), *d, *pair)


def _log_ratio(k: int) -> sp.Expr:
    return log_q() - log_teacher(k)


@cache
def target_grad_spec(k: int) -> ExpectationSpec:
    r""":math:`\nabla_{(w,\mu_o,\mu_n)}\mathrm{KL}(q_\theta\Vert T) = \sum_c
    \mathbb E_{\varphi_c}[g_c\,(\log q_\theta-\log T)]`, T a K-component teacher."""
    lr = _log_ratio(k)
    g_o, g_n = component_gradient_weights()
    comps = (Component(sp.Integer(1), mu_o, sigma), Component(sp.Integer(1), mu_n, sigma))
    return ExpectationSpec(f"sdft_rkl_grad_{k}", teacher_args(k), comps,
                           (tuple(e * lr for e in g_o), tuple(e * lr for e in g_n)), _kinks(k))


@cache
def target_loss_spec(k: int) -> ExpectationSpec:
    r""":math:`\mathrm{KL}(q_\theta\Vert T) = \mathbb E_{q_\theta}[\log q_\theta - \log T]`."""
    lr = (_log_ratio(k),)
    comps = (Component(w, mu_o, sigma), Component(1 - w, mu_n, sigma))
    return ExpectationSpec(f"sdft_rkl_loss_{k}", teacher_args(k), comps, (lr, lr), _kinks(k))


@cache
def reinforce_terms(k: int) -> tuple[sp.Expr, ...]:
    r"""Per-sample REINFORCE terms :math:`\nabla_\theta\log q(x)\,(\log q(x) - \log T(x) + 1)`,
    unbiased for the gradient when :math:`x\sim q_\theta` (arguments ``(x, *teacher_args(k))``).

    This is the per-sample gradient of the sampled loss log q_θ(x) − log T(x) (score-function
    term plus the direct term ∇log q_θ(x), whose mean E_q[∇log q] is 0)."""
    lr = _log_ratio(k) + 1
    return tuple(s_ * lr for s_ in score())


# --------------------------------------------------------------------------------------------
# derivations

def stable_log_teacher_derivation(k: int = 3) -> Derivation:
    """The nested softplus form equals log Σ π_k φ_k (checked for the given K)."""
    return Derivation(
        title=f"Stable log-sum-exp form of the teacher log-density (K = {k})",
        assumptions=("equal component scales σ", "π_k = e^{ℓ_k} > 0 (zero-weight components "
                     "are dropped before compiling, so no log 0 is ever formed)"),
        steps=(
            Step(sp.Symbol(r"\log T"), log_teacher_plain(k), "definition",
                 "T = Σ_k π_k φ_{m_k}", kind="def", reason="a definition"),
            Step(log_teacher_plain(k), log_teacher(k), "nested log-sum-exp",
                 "log Σ e^{l_k} = l_K + S_{K−1}, S_j = S_{j−1} + softplus(d_j − S_{j−1}), "
                 "d_j = l_j − l_K linear in x", numeric_only=True),
        ),
        result=log_teacher(k),
    )


def _placeholders() -> dict[str, sp.Expr]:
    """Readable notation for the definition steps (functions of x and θ, never numerics)."""
    th = sp.Symbol("theta")
    qf, tf = sp.Function("q")(x, th), sp.Function("T")(x)
    phi_o, phi_n = sp.Function("varphi_o")(x), sp.Function("varphi_n")(x)
    return {"th": th, "q": qf, "T": tf, "phi_o": phi_o, "phi_n": phi_n,
            "kl": sp.Symbol(r"\mathrm{KL}(q_\theta\Vert T)"),
            "g_o": sp.Symbol("g_o"), "g_n": sp.Symbol("g_n")}


def gradient_identity_derivation() -> Derivation:
    r"""∇_θ KL(q‖T) = Σ_c E_{φ_c}[g_c log(q/T)] (T held fixed)."""
    qv, tv = sp.symbols("q T", positive=True)
    dq = sp.Symbol("dq", real=True)
    P = _placeholders()
    qf, tf, th = P["q"], P["T"], P["th"]
    g_o, g_n = component_gradient_weights()
    q_model = Named(r"q_\theta", mixture_pdf(w, mu_o, mu_n))
    phi_o = Named(r"\varphi_{\mu_o}", normal_pdf(x, mu_o, sigma))
    phi_n = Named(r"\varphi_{\mu_n}", normal_pdf(x, mu_n, sigma))
    names = ("w", r"\mu_o", r"\mu_n")
    component_steps = tuple(
        Step(sp.Derivative(q_model, v), phi_o * Named(rf"g_o^{{({names[i]})}}", g_o[i])
             + phi_n * Named(rf"g_n^{{({names[i]})}}", g_n[i]), "component form",
             rf"$\partial_{{{names[i]}}}q_\theta = \varphi_{{\mu_o}}g_o + \varphi_{{\mu_n}}g_n$ "
             r"with the model's weights $g_c = \nabla\pi_c + \pi_c\nabla\log\varphi_c$ "
             "(mixture.component_gradient_weights)")
        for i, v in enumerate(STUDENT))
    return Derivation(
        title="Reverse-KL gradient against a fixed K-component teacher",
        assumptions=("the teacher T is a stop-gradient target (it depends on ϑ, not on θ)",
                     "differentiation under the integral (Gaussian tails)"),
        steps=(
            Step(P["kl"], sp.Integral(qf * sp.log(qf / tf), (x, -sp.oo, sp.oo)), "definition",
                 "KL(q_θ‖T) = ∫ q_θ log(q_θ/T)", kind="def", reason="a definition"),
            Step(sp.Derivative(qv * (sp.log(qv) - sp.log(tv)), qv) * dq,
                 dq * (sp.log(qv / tv) + 1),
                 "product rule", "∇_θ[q log(q/T)] = ∇_θ q · (log(q/T) + 1) (dq = ∇_θ q)"),
            Step(sp.Integral(sp.Derivative(qf, th), (x, -sp.oo, sp.oo)), sp.Integer(0),
                 "mass conservation", "∫∇_θ q = ∇_θ ∫q = 0 removes the +1", kind="argued",
                 reason="differentiation under the integral sign of ∫q = 1, an argument in words"),
            *component_steps,
        ),
        notes=("Equivalently E_q[∇log q · (log q − log T)]: the REINFORCE form used by the "
               "finite-batch map.",),
    )


def fixed_point_derivation() -> Derivation:
    r"""q_θ = A and ϑ = θ ⇒ T = q ⇒ ∇KL = 0; λ = 0 and ϑ = θ ⇒ T = q for every θ."""
    qv, av = sp.symbols("q A", positive=True)
    teacher = (1 - lam) * qv + lam * av
    return Derivation(
        title="Fixed points of the SDFT map",
        assumptions=("ϑ = θ (the EMA has caught up; the EMA step then leaves ϑ unchanged)",),
        steps=(
            Step(sp.Subs(teacher, av, qv), qv, "anchor equals the student",
                 "q_θ = A ⇒ T = (1−λ)q + λq = q"),
            Step(sp.log(qv) - sp.log(sp.Subs(teacher, av, qv)), sp.Integer(0),
                 "log ratio vanishes", "log q − log T = 0 pointwise, so every gradient "
                 "term g_c(log q − log T) vanishes"),
            Step(sp.Subs(teacher, lam, 0), qv, "no anchor",
                 "λ = 0 ⇒ T = q_ϑ = q_θ for every θ: every θ is a fixed point (neutral)"),
        ),
        notes=("With A = p* this gives θ* (and its label swap); with A = P_new the fixed point "
               "q = P_new (w = 0): mass forgetting.",),
    )


#: Jacobian of the logit-w map (u, ū) at a fixed point: u' = u − η G, ū' = (1−β)ū + βu',
#: with ∂G/∂u = I_u (Fisher, since q = T) and ∂G/∂ū = −(1−λ) I_u; a = η I_u
JACOBIAN = sp.Matrix([[1 - a_step, a_step * (1 - lam)],
                      [beta * (1 - a_step), 1 - beta + beta * a_step * (1 - lam)]])
CHAR_POLY = sp.expand((JACOBIAN - zeta * sp.eye(2)).det())
_tr = sp.expand(JACOBIAN.trace())
_det = sp.factor(JACOBIAN.det())
#: the slow (largest) eigenvalue: the rate of return to α is 1 − SLOW_EIGENVALUE
SLOW_EIGENVALUE = (_tr + sp.sqrt(_tr**2 - 4 * _det)) / 2
#: its first-order expansion in λ
SLOW_EIGENVALUE_SMALL_LAMBDA = 1 - beta * a_step * lam / (a_step + beta - a_step * beta)
#: step-size condition (Jury: p(−1) > 0 and |det J| < 1): the fixed point is linearly stable
#: iff 0 < a = ηI_u < STABILITY_BOUND (≈ 2 for small β); beyond it the w-update oscillates
STABILITY_BOUND = (4 - 2 * beta) / (2 - 2 * beta + beta * lam)


def linearisation_derivation() -> Derivation:
    """Eigenvalues of the linearised (u, ū) map; the slow one → 1 as λ → 0."""
    qv, tv = sp.symbols("q T", positive=True)
    du, dub = sp.symbols(r"\delta{u} \delta{\bar{u}}", real=True)
    new_u = du - a_step * (du - (1 - lam) * dub)  # u' − u* = δu − η(I_u δu − (1−λ)I_u δū)
    maps = (Named(r"\delta u'", new_u), Named(r"\delta\bar u'", (1 - beta) * dub + beta * new_u))
    jacobian_steps = tuple(
        Step(sp.Derivative(maps[i], var), JACOBIAN[i, j], "Jacobian",
             r"the linearised map $u' = u - \eta(I_u\,\delta u - (1-\lambda)I_u\,\delta\bar u)$, "
             r"$\bar u' = (1-\beta)\bar u + \beta u'$ in the deviations $\delta u$, "
             rf"$\delta\bar u$ from the fixed point: entry $J_{{{i + 1}{j + 1}}}$")
        for i in range(2) for j, var in enumerate((du, dub)))
    slow = Named(r"z_{\rm slow}", SLOW_EIGENVALUE)
    char = Named(r"\det(J - zI)", CHAR_POLY)
    return Derivation(
        title="Linearised rate of return of the old weight under SDFT (logit steps)",
        assumptions=("means held at the truth; u = logit w, ū its EMA",
                     "fixed point u = ū = logit α with T = q (A = p*)",
                     "∂²_θ KL(q_θ‖T) at q = T is the Fisher information I_u; the cross "
                     "derivative is −∫∇q ∇T/T = −(1−λ) I_u since ∇_ϑT = (1−λ)∇q_ϑ",
                     "a = η I_u with 0 < a < 1 and 0 < β ≤ 1 (stable step)"),
        steps=(
            Step(sp.Subs(sp.Derivative(qv * sp.log(qv / tv), (qv, 2)), tv, qv), 1 / qv,
                 "Hessian at q = T", "∂²/∂q²[q log(q/T)] = 1/q at q = T: "
                 "∫∇q∇qᵀ/q = I (Fisher)"),
            Step(sp.Subs(sp.Derivative(qv * sp.log(qv / tv), qv, tv), tv, qv), -1 / qv,
                 "cross derivative", "∂²/∂q∂T[q log(q/T)] = −1/T: times ∇_ϑT = (1−λ)∇q"),
            *jacobian_steps,
            Step(Named(r"\det J", JACOBIAN.det()), (1 - a_step) * (1 - beta), "determinant",
                 "det J = (1 − a)(1 − β)"),
            Step(sp.Subs(char, zeta, 1), beta * a_step * lam, "characteristic polynomial at 1",
                 "p(1) = aβλ > 0 iff λ > 0: 1 is an eigenvalue exactly when λ = 0"),
            Step(sp.Subs(slow, lam, 0), sp.Integer(1), "no anchor",
                 "λ = 0: the slow eigenvalue is 1 (neutral direction u = ū)",
                 numeric_only=True),
            Step(sp.Subs(sp.Derivative(slow, lam), lam, 0),
                 sp.diff(SLOW_EIGENVALUE_SMALL_LAMBDA, lam), "first order in λ",
                 "1 − z_slow = aβλ/(a + β − aβ) + O(λ²): the rate grows with λ and vanishes "
                 "as λ → 0", numeric_only=True),
            Step(sp.Subs(char, zeta, -1),
                 (2 - 2 * beta + beta * lam) * (STABILITY_BOUND - a_step),
                 "characteristic polynomial at −1",
                 "p(−1) > 0 iff a < (4 − 2β)/(2 − 2β + βλ); |det J| = |1 − a|(1 − β) < 1 "
                 "holds for a < (2 − β)/(1 − β), which is never below that bound, and "
                 "p(1) = aβλ > 0: the Jury conditions, i.e. the step-size condition of the "
                 "logit map"),
        ),
        result=SLOW_EIGENVALUE,
    )


def drift_identity_derivation(k: int = 3) -> Derivation:
    r"""∇_{μo} KL(q‖T) = (w/σ²)[m_q (μn − μo) − Σ_k m_k^T (m_k − μo)], m_k^T = E_{φ_{μo}}[r_k^T].

    Pointwise part (checked): σ² ∂_x(log q − log T) = Σ_k r_k^T (x − m_k) − Σ_c r_c^q (x − μ_c);
    the rest is Stein's lemma E_{φ_{μo}}[(x − μo) f] = σ² E_{φ_{μo}}[f'].
    """
    ells, ms = teacher_symbols(k)
    P = _placeholders()
    lt = log_teacher_plain(k)
    tot = sum(sp.exp(e) * normal_pdf(x, m, sigma) for e, m in zip(ells, ms, strict=True))
    r_t = [sp.exp(e) * normal_pdf(x, m, sigma) / tot for e, m in zip(ells, ms, strict=True)]
    z = log_odds(w, mu_o, mu_n)
    r_o, r_n = Sigmoid(z), Sigmoid(-z)
    lhs = sigma**2 * sp.diff(log_q() - lt, x)
    rhs = (sum(r * (x - m) for r, m in zip(r_t, ms, strict=True))
           - r_o * (x - mu_o) - r_n * (x - mu_n))
    return Derivation(
        title="Overlap-gated old-mean force of SDFT (generalised drift identity)",
        assumptions=("equal scales σ; T fixed (stop-gradient)",),
        steps=(
            Step(sp.Derivative(P["kl"], mu_o),
                 w / sigma**2 * sp.Integral(P["phi_o"] * (x - mu_o) * sp.log(P["q"] / P["T"]),
                                            (x, -sp.oo, sp.oo)),
                 "gradient", "∇_{μo} q = w φ_{μo}(x − μo)/σ²", kind="argued",
                 reason="the score-function identity with T held fixed (as in claim "
                        "rkl.drift_identity), an argument in words"),
            Step(sp.Integral(P["phi_o"] * (x - mu_o) * sp.Function("f")(x), (x, -sp.oo, sp.oo)),
                 sigma**2 * sp.Integral(P["phi_o"] * sp.Derivative(sp.Function("f")(x), x),
                                        (x, -sp.oo, sp.oo)),
                 "Stein's lemma", "Gaussian integration by parts, f = log(q/T)", kind="argued",
                 reason="Gaussian integration by parts, an argument in words (checked exactly on "
                        "a generic cubic in claim rkl.drift_identity)"),
            Step(lhs, rhs, "derivative of the log ratio",
                 "∂_x log mixture = −Σ r (x − m)/σ²", numeric_only=True),
            Step(sp.Derivative(P["kl"], mu_o),
                 w / sigma**2 * (sp.Symbol("m_q") * (mu_n - mu_o)
                                 - sp.Sum(sp.Indexed("m^T", sp.Symbol("k"))
                                          * (sp.Indexed("m", sp.Symbol("k")) - mu_o),
                                          (sp.Symbol("k"), 1, sp.Symbol("K")))),
                 "responsibilities sum to 1",
                 "take E_{φ_{μo}}: the x terms cancel (Σ r = 1); m_q = E[r_n^q], "
                 "m_k^T = E[r_k^T]", kind="argued",
                 reason="the steps above combined, in words; the claim's check compares the "
                        "force on the old mean with this identity evaluated numerically "
                        "(symforget.misassignment)"),
        ),
        notes=("Teacher components sitting at μo contribute nothing; the others act only "
               "through their misassignment probabilities E_{φ_{μo}}[r_k^T], which decay like "
               "e^{−Δ²/8}: the force is overlap-gated as in rkl.drift_identity.",),
    )
