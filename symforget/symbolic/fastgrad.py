r"""Population gradients reduced to three two-parameter Gaussian special functions (issue 8).

With :math:`t\sim\mathcal N(0,1)` define, for real :math:`A, B`,

.. math:: \mathcal F(A,B) = \mathbb E_t[\operatorname{softplus}(At+B)],\quad
          \mathcal G(A,B) = \mathbb E_t[\operatorname{sigmoid}(At+B)],\quad
          \mathcal K(A,B) = \mathbb E_t[\operatorname{sigmoid}(At+B)\operatorname{sigmoid}(-At-B)].

Every component expectation of the FKL and RKL gradients is a finite combination of these,
of Gaussian moments and of the parameters, because every integrand is (polynomial in
:math:`t`) × (at most one Softplus or Sigmoid of a function *linear* in :math:`t`):

* **RKL**: :math:`\nabla L_R = \sum_c \mathbb E_{\varphi_c}[g_c\,h]` (:mod:`.mixture`), with
  :math:`h = \log q - \log p^*`. Under component *c* the log-ratio is written in the form
  anchored at that component (:math:`\log q = \log\pi_c + \log\varphi_c +
  \operatorname{softplus}(z_{c'\mid c})`), so the Softplus terms are small where the mass of
  :math:`\varphi_c` is and the pieces do not cancel catastrophically near the optimum.
* **FKL**: :math:`\nabla L_F = -\sum_j \pi_j\,\mathbb E_{\varphi_j}[\nabla\log q]` with the
  score of :func:`.mixture.score`.

Reduction rules of :func:`gauss_expectation` (each is a step of :func:`derivations`):

1. substitute :math:`x = m + \sigma t`; Softplus/Sigmoid arguments become :math:`At + B`;
2. Gaussian moments :math:`\mathbb E[t^k]` for pure polynomials;
3. Stein's lemma :math:`\mathbb E[t\,G(t)] = \mathbb E[G'(t)]` (integration by parts against
   :math:`t\varphi(t) = -\varphi'(t)`), applied recursively; the derivative is taken by SymPy
   (``Softplus' = Sigmoid``, ``Sigmoid' = Sigmoid(1 − Sigmoid)``);
4. :math:`\operatorname{sigmoid}^2 = \operatorname{sigmoid} - \operatorname{sigmoid}\,
   \operatorname{sigmoid}(-\cdot)`, so :math:`\mathbb E[\operatorname{sigmoid}^2] = \mathcal G
   - \mathcal K`.

The three functions are evaluated numerically by :mod:`symforget.numeric.fastgrad` (hand-written
quadrature *methods*; the formulas combining them are compiled from the expressions here).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .derivation import Derivation, Step
from .functions import Sigmoid, Softplus
from .mixture import _log_ratio, component_gradient_weights, log_mixture, log_odds, score
from .symbols import (
    FKL_ARGS,
    RKL_ARGS,
    a,
    alpha,
    b,
    data_mean,
    mu_n,
    mu_o,
    nu_n,
    nu_o,
    replay_mean,
    rho,
    sigma,
    t,
    w,
    x,
)

__all__ = [
    "GaussSoftplus",
    "GaussSigmoid",
    "GaussSigmoidVar",
    "SPECIAL",
    "gauss_expectation",
    "rkl_grad_reduced",
    "fkl_grad_reduced",
    "anchored_log_ratio",
    "derivations",
]


def _std_normal(var: sp.Expr) -> sp.Expr:
    return sp.exp(-var**2 / 2) / sp.sqrt(2 * sp.pi)


class _GaussSpecial(sp.Function):
    """E_t[f(A t + B)] for t ~ N(0, 1); ``_inner`` gives f(z)."""

    nargs = 2
    _symbol = "E"

    @classmethod
    def _inner(cls, z: sp.Expr) -> sp.Expr:  # pragma: no cover - abstract
        raise NotImplementedError

    def as_integral(self) -> sp.Integral:
        """The defining integral :math:`\\int f(At+B)\\varphi(t)\\,dt`."""
        A, B = self.args
        return sp.Integral(self._inner(A * t + B) * _std_normal(t), (t, -sp.oo, sp.oo))

    def _latex(self, printer, exp=None):
        body = (rf"\mathcal{{{self._symbol}}}\left(" + printer._print(self.args[0]) + ", "
                + printer._print(self.args[1]) + r"\right)")
        return body if exp is None else body + "^{" + str(exp) + "}"


class GaussSoftplus(_GaussSpecial):
    r""":math:`\mathcal F(A,B) = \mathbb E_t[\operatorname{softplus}(At+B)]`, t ~ N(0, 1)."""

    _symbol = "F"

    @classmethod
    def _inner(cls, z):
        return Softplus(z)


class GaussSigmoid(_GaussSpecial):
    r""":math:`\mathcal G(A,B) = \mathbb E_{t\sim\mathcal N(0,1)}[\operatorname{sigmoid}(At+B)]`."""

    _symbol = "G"

    @classmethod
    def _inner(cls, z):
        return Sigmoid(z)


class GaussSigmoidVar(_GaussSpecial):
    r""":math:`\mathcal K(A,B) = \mathbb E_t[\operatorname{sigmoid}(At+B)\,
    \operatorname{sigmoid}(-At-B)]`."""

    _symbol = "K"

    @classmethod
    def _inner(cls, z):
        return Sigmoid(z) * Sigmoid(-z)


SPECIAL = (GaussSoftplus, GaussSigmoid, GaussSigmoidVar)


def _moment(k: int) -> sp.Expr:
    """E[t^k] for t ~ N(0, 1): 0 for odd k, (k − 1)!! for even k."""
    return sp.Integer(0) if k % 2 else sp.factorial2(k - 1) if k else sp.Integer(1)


@cache
def _tidy(expr: sp.Expr) -> sp.Expr:
    """Factor the polynomial part of ``expr`` (log terms kept apart): e.g. the expanded
    ``μo²/2 − μoμn + μn²/2`` becomes ``(μo − μn)²/2``, which rounds without cancellation."""
    terms = sp.Add.make_args(sp.expand(expr))
    logs = [e for e in terms if e.has(sp.log)]
    rest = [e for e in terms if not e.has(sp.log)]
    return sp.factor(sp.Add(*rest)) + sp.Add(*logs)


def _linear_in_t(z: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    z = sp.expand(z)
    A = sp.diff(z, t)
    if sp.diff(A, t) != 0:
        raise ValueError(f"argument {z} is not linear in t")
    return _tidy(A), _tidy(z.subs(t, 0))


def _collected(expr: sp.Expr) -> sp.Expr:
    """Σ_atoms coefficient · atom with every coefficient tidied (one term per special atom)."""
    atoms = sorted(expr.atoms(*SPECIAL), key=sp.default_sort_key)
    dummies = [sp.Dummy(f"S{i}") for i in range(len(atoms))]
    flat = sp.expand(expr.xreplace(dict(zip(atoms, dummies, strict=True))))
    parts = sp.collect(flat, dummies, evaluate=False)
    back = dict(zip(dummies, atoms, strict=True))
    return sp.Add(*(_tidy(sp.cancel(c)) * k.xreplace(back) for k, c in parts.items()))


def _split_term(term: sp.Expr) -> tuple[sp.Expr, int, sp.Expr | None, int]:
    """term = coeff · t^k · f^p with f a single Sigmoid/Softplus atom (p ≥ 0)."""
    coeff, k, special, power = sp.Integer(1), 0, None, 0
    for factor in sp.Mul.make_args(term):
        base, ex = factor.as_base_exp()
        if base == t and ex.is_Integer and ex >= 0:
            k += int(ex)
        elif isinstance(base, (Sigmoid, Softplus)) and ex.is_Integer and ex > 0:
            if special is not None and base != special:
                raise ValueError(f"term {term} has two different special factors")
            special, power = base, power + int(ex)
        elif factor.has(t):
            raise ValueError(f"factor {factor} of {term} is not reducible")
        else:
            coeff *= factor
    return coeff, k, special, power


def _expect_special(special: sp.Expr, power: int) -> sp.Expr:
    A, B = _linear_in_t(special.args[0])
    if isinstance(special, Softplus) and power == 1:
        return GaussSoftplus(A, B)
    if isinstance(special, Sigmoid) and power == 1:
        return GaussSigmoid(A, B)
    if isinstance(special, Sigmoid) and power == 2:
        # sigmoid² = sigmoid − sigmoid·sigmoid(−z)
        return GaussSigmoid(A, B) - GaussSigmoidVar(A, B)
    raise ValueError(f"no reduction for E[{special}^{power}]")


def gauss_expectation(expr: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E_{t\sim\mathcal N(0,1)}[\text{expr}]` for expr a sum of terms
    ``c · t^k · f(At+B)^p`` (f = Softplus with p = 1 or Sigmoid with p ≤ 2, or no f).

    Stein's lemma :math:`\mathbb E[t^k f] = \mathbb E[\partial_t(t^{k-1} f)]` lowers k; the
    derivative is SymPy's. Raises ``ValueError`` for a term outside this family.
    """
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, k, special, power = _split_term(term)
        if special is None:
            total += coeff * _moment(k)
        elif k == 0:
            total += coeff * _expect_special(special, power)
        else:
            total += coeff * gauss_expectation(sp.diff(t ** (k - 1) * special**power, t))
    return total


def anchored_log_ratio(component: str) -> sp.Expr:
    r""":math:`\log q - \log p^*` written with both mixtures anchored at component
    ``"old"`` (softplus of the *new* log-odds) or ``"new"`` (the form of :mod:`.mixture`)."""
    if component == "new":
        return _log_ratio()
    if component == "old":
        return log_mixture(1 - w, mu_n, mu_o) - log_mixture(1 - alpha, nu_n, nu_o)
    raise ValueError(f"component={component!r}")


@cache
def rkl_grad_reduced() -> tuple[sp.Expr, ...]:
    r"""∇L_R as three expressions in ``RKL_ARGS`` and :math:`\mathcal F, \mathcal G, \mathcal K`.

    :math:`\nabla L_R = \sum_{c\in\{o,n\}}\mathbb E_t[g_c(m_c+\sigma t)\,h_c(m_c+\sigma t)]`.
    """
    g_o, g_n = component_gradient_weights()
    out = [sp.Integer(0)] * 3
    for g_c, mean, anchor in ((g_o, mu_o, "old"), (g_n, mu_n, "new")):
        h = anchored_log_ratio(anchor).subs(x, mean + sigma * t)
        for i in range(3):
            out[i] += gauss_expectation(g_c[i].subs(x, mean + sigma * t) * h)
    return tuple(_collected(e) for e in out)


@cache
def fkl_grad_reduced() -> tuple[sp.Expr, ...]:
    r"""∇L_F = −Σ_j π_j E_t[∇log q(m_j + σt)] (data m_d weight 1−ρ, replay m_r weight ρ),
    as three expressions in ``FKL_ARGS`` and :math:`\mathcal G, \mathcal K`."""
    out = [sp.Integer(0)] * 3
    for pi_j, mean in ((1 - rho, data_mean), (rho, replay_mean)):
        for i, sc in enumerate(score()):
            out[i] += -pi_j * gauss_expectation(sc.subs(x, mean + sigma * t))
    return tuple(_collected(e) for e in out)


def reduced_args() -> dict[str, tuple[sp.Symbol, ...]]:
    """Parameter orders of the reduced expressions."""
    return {"rkl": RKL_ARGS, "fkl": FKL_ARGS}


# ------------------------------------------------------------------ derivations


def _stein_steps() -> tuple[Step, ...]:
    A, B = a, b
    return (
        Step(t * _std_normal(t), -sp.diff(_std_normal(t), t), "differentiate",
             r"$t\varphi(t) = -\varphi'(t)$, so $\mathbb E[tG] = \int G\,(-\varphi') = "
             r"\mathbb E[G']$ by parts (boundary terms vanish: $G$ grows at most polynomially)"),
        Step(sp.diff(Softplus(A * t + B), t), A * Sigmoid(A * t + B), "chain rule",
             r"Stein for softplus: $\mathbb E[t\,\mathrm{softplus}(At+B)] = A\,\mathcal G(A,B)$"),
        Step(sp.diff(Sigmoid(A * t + B), t), A * (Sigmoid(A * t + B) - Sigmoid(A * t + B) ** 2),
             "chain rule", r"Stein for sigmoid: $\mathbb E[t\,\mathrm{sigmoid}(At+B)] = "
             r"A(\mathcal G - \mathbb E[\mathrm{sigmoid}^2])$"),
        Step(Sigmoid(A * t + B) ** 2,
             Sigmoid(A * t + B) - Sigmoid(A * t + B) * Sigmoid(-A * t - B), "complement",
             r"$\mathrm{sigmoid}^2 = \mathrm{sigmoid} - \mathrm{sigmoid}\,\mathrm{sigmoid}(-\cdot)$"
             r", hence $\mathbb E[\mathrm{sigmoid}^2] = \mathcal G - \mathcal K$"),
    )


@cache
def derivations() -> dict[str, Derivation]:
    """Derivations of the reductions (checked by ``Derivation.check``)."""
    A, B = a, b
    z = A * t + B
    # ReLU split of softplus: the closed part used by the numerical method
    relu = [
        Step(Softplus(z), sp.Max(z, 0) + sp.log(1 + sp.exp(-sp.Abs(z))), "softplus split",
             r"$\mathrm{softplus}(z) = \max(z, 0) + \log(1 + e^{-|z|})$", numeric_only=True),
    ]
    stein = _stein_steps()
    # RKL: the anchored log-ratio equals the log-ratio, and the weights in t
    g_o, g_n = component_gradient_weights()
    rkl_steps = [
        Step(anchored_log_ratio("old"), _log_ratio(), "re-anchor",
             r"$\log(\pi\varphi_1 + (1-\pi)\varphi_2)$ written around either component "
             r"($\mathrm{softplus}(z) - \mathrm{softplus}(-z) = z$)", numeric_only=True),
        Step(g_o[1].subs(x, mu_o + sigma * t), w * t / sigma, "substitute",
             r"$x = \mu_o + \sigma t$: $\partial_{\mu_o}$ weight of $\varphi_o$ is $wt/\sigma$"),
        Step(g_n[2].subs(x, mu_n + sigma * t), (1 - w) * t / sigma, "substitute",
             r"$x = \mu_n + \sigma t$: $\partial_{\mu_n}$ weight of $\varphi_n$ is "
             r"$(1-w)t/\sigma$"),
        Step(sp.diff(log_odds(w, mu_o, mu_n).subs(x, mu_o + sigma * t), t),
             (mu_o - mu_n) / sigma, "substitute",
             r"the student log-odds is linear in $t$ with slope $A = (\mu_o-\mu_n)/\sigma$"),
        *stein,
        Step(sp.Symbol(r"\nabla L_R"), sp.Matrix(rkl_grad_reduced()), "reduce", "gauss_expectation "
             "applied to $\\sum_c g_c h_c$ at $x = m_c + \\sigma t$", kind="def"),
    ]
    fkl_steps = [
        Step(sp.diff(log_odds(w, mu_o, mu_n).subs(x, data_mean + sigma * t), t),
             (mu_o - mu_n) / sigma, "substitute",
             r"under the data component the log-odds is $At + B$, $A = (\mu_o-\mu_n)/\sigma$"),
        *stein,
        Step(sp.Symbol(r"\nabla L_F"), sp.Matrix(fkl_grad_reduced()), "reduce",
             r"gauss_expectation applied to $-\sum_j\pi_j\nabla\log q(m_j + \sigma t)$",
             kind="def"),
    ]
    assumptions = (r"$t\sim\mathcal N(0,1)$; shared scale $\sigma > 0$; $w, \alpha\in(0,1)$",)
    return {
        "softplus_split": Derivation("Softplus = ReLU + localised remainder", assumptions,
                                     tuple(relu)),
        "rkl_reduced": Derivation("Reverse-KL gradient by three special functions", assumptions,
                                  tuple(rkl_steps), sp.Matrix(rkl_grad_reduced())),
        "fkl_reduced": Derivation("Forward-KL gradient by logistic-normal integrals", assumptions,
                                  tuple(fkl_steps), sp.Matrix(fkl_grad_reduced())),
    }
