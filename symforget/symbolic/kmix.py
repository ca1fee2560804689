r"""Mixtures of K Gaussian components (1-D), each with its own weight, mean and scale (issue 13).

Student :math:`q = \sum_{k<K} \pi_k\,\mathcal N(\mu_k, \sigma_k^2)`, target
:math:`p = \sum_{j<J} \alpha_j\,\mathcal N(\nu_j, \tau_j^2)`. The weights of the student are
*free coordinates*: the divergences are the generalised KL (I-divergence)

.. math:: D(f\Vert g) = \int f\log\frac fg - \int f + \int g,

which equals KL(f ‖ g) whenever both integrate to one and whose gradient at :math:`q = p` is zero
in every coordinate. Its gradients in the student's parameters θ = (π, μ, σ):

* reverse, :math:`\nabla D(q\Vert p) = \sum_c \mathbb E_{\varphi_c}[g_c\,\ell]`,
  :math:`\ell = \log(q/p)`, :math:`g_c = \nabla(\pi_c\varphi_c)/\varphi_c` (the ``∫∇q`` terms of
  ``∫ q log q`` and ``−∫ q`` cancel); :math:`g_c` is quadratic in
  :math:`y = (x - \mu_c)/\sigma_c`, and Stein's identities reduce the entries to
  :math:`\partial_{\pi_c} = \mathbb E_{\varphi_c}[\ell]`,
  :math:`\partial_{\mu_c} = \pi_c\,\mathbb E_{\varphi_c}[\ell']`,
  :math:`\partial_{\sigma_c} = \pi_c\sigma_c\,\mathbb E_{\varphi_c}[\ell'']`
  (:func:`symforget.symbolic.general.stein_coefficients`);
* forward, :math:`\nabla D(p\Vert q) = -\mathbb E_p[\nabla\log q] + \nabla\sum_k\pi_k`.

Every log-mixture is written relative to a reference component r,

.. math:: \log\sum_k \pi_k\varphi_k = \log\pi_r + \log\varphi_r
          + \operatorname{lse}_1\big(z_{k,r}\;(k\ne r)\big),\qquad
          \operatorname{lse}_1(z) = \log\big(1 + \textstyle\sum e^{z}\big),

with :math:`z_{k,r}` the log-odds of k against r (quadratic in x, pivot form, never expanded):
:class:`~symforget.symbolic.functions.LogSumExp1` generalises ``Softplus`` to K − 1 terms; its
derivatives are :class:`~symforget.symbolic.functions.Softmax1` (responsibilities), whose own
derivative is written without the cancelling :math:`1 - S_k`. The responsibility of the
reference itself, :math:`1 - \sum_k S_k`, is rewritten as :math:`S_0`
(:func:`~symforget.symbolic.functions.complement_softmax`).

The specs are written for *one* component, the first, with the first component of the other
mixture as the reference: under student component c (reverse) or target component j (forward)
the evaluator passes the parameters permuted so that c (or j) and its chosen reference come
first — the formulas are symmetric under relabelling, so one spec per (K, J) serves every
component and every reference choice. Kinks: the log-odds :math:`z_{k,l}` of every pair of
student components and (reverse) of target components; both roots of each are quadrature
breakpoints. Pure SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sympy as sp

from . import density
from .expectation import Component, ExpectationSpec
from .functions import LogSumExp1, complement_softmax
from .general import stein_coefficients
from .symbols import x

__all__ = [
    "MAX_COMPONENTS",
    "KMix",
    "student",
    "target",
    "log_odds",
    "log_mixture_ref",
    "log_ratio_ref",
    "kinks",
    "gradient_weights",
    "stein_entry",
    "score",
    "mass_gradient",
    "rkl_grad_spec",
    "fkl_grad_spec",
]

#: largest number of components of either mixture with a spec (compile cost grows like K²)
MAX_COMPONENTS = 6


@dataclass(frozen=True)
class KMix:
    """A symbolic K-component mixture: weight, mean and scale symbols of each component."""

    weights: tuple[sp.Symbol, ...]
    means: tuple[sp.Symbol, ...]
    scales: tuple[sp.Symbol, ...]

    @property
    def K(self) -> int:
        """Number of components."""
        return len(self.weights)

    @property
    def params(self) -> tuple[sp.Symbol, ...]:
        """(weights…, means…, scales…): the argument order of the compiled specs."""
        return (*self.weights, *self.means, *self.scales)


def _check_k(k: int, what: str) -> None:
    if not (isinstance(k, int) and 1 <= k <= MAX_COMPONENTS):
        raise ValueError(f"{what}={k!r}: K-component specs exist for 1 to {MAX_COMPONENTS}")


@cache
def student(K: int) -> KMix:
    """Student symbols π_k, μ_k, σ_k (k < K)."""
    _check_k(K, "K")
    return KMix(tuple(sp.Symbol(f"pi_{k}", positive=True) for k in range(K)),
                tuple(sp.Symbol(f"mu_{k}", real=True) for k in range(K)),
                tuple(sp.Symbol(f"sigma_{k}", positive=True) for k in range(K)))


@cache
def target(J: int) -> KMix:
    """Target symbols α_j, ν_j, τ_j (j < J)."""
    _check_k(J, "J")
    return KMix(tuple(sp.Symbol(f"alpha_{j}", positive=True) for j in range(J)),
                tuple(sp.Symbol(f"nu_{j}", real=True) for j in range(J)),
                tuple(sp.Symbol(f"tau_{j}", positive=True) for j in range(J)))


def _comp(mix: KMix, k: int) -> tuple[sp.Expr, sp.Expr]:
    return mix.means[k], mix.scales[k]


def _parts(mix: KMix) -> tuple[tuple[sp.Expr, ...], tuple[tuple[sp.Expr, sp.Expr], ...]]:
    return mix.weights, tuple(_comp(mix, k) for k in range(mix.K))


def log_odds(mix: KMix, k: int, r: int) -> sp.Expr:
    r"""Log-odds :math:`z_{k,r} = \log(\pi_k\varphi_k/\pi_r\varphi_r)` (quadratic in x)."""
    return density.log_odds(*_parts(mix), k, r)


def log_mixture_ref(mix: KMix, r: int) -> tuple[sp.Expr, tuple[sp.Expr, sp.Expr], sp.Expr]:
    """``(log π_r, (μ_r, σ_r), lse₁(z_{k,r}, k ≠ r))``: log mix = log π_r + log φ_r + lse₁."""
    lw, comp, z = density.log_mixture_ref(*_parts(mix), r)
    return lw, comp, LogSumExp1(*z)


def log_ratio_ref(first: KMix, a: int, second: KMix, b: int) -> sp.Expr:
    """log(f/g) of two mixtures, f written relative to its component a, g to its component b."""
    la, ca, sa = log_mixture_ref(first, a)
    lb, cb, sb = log_mixture_ref(second, b)
    return la - lb + density.log_phi_ratio(ca, cb) + sa - sb


def kinks(*mixes: KMix) -> tuple[sp.Expr, ...]:
    """The log-odds z_{k,l} (k < l) of every pair of components of each mixture."""
    return tuple(log_odds(m, k, l) for m in mixes for k in range(m.K) for l in range(k + 1, m.K))


def gradient_weights(mix: KMix, c: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r""":math:`g_c = \nabla(\pi_c\varphi_c)/\varphi_c` in (π_c, μ_c, σ_c) (zero in the others)."""
    pi_c, (m_c, s_c) = mix.weights[c], _comp(mix, c)
    lphi = -(x - m_c) ** 2 / (2 * s_c**2) - sp.log(s_c)
    return tuple(sp.simplify(sp.diff(pi_c, v) + pi_c * sp.diff(lphi, v))
                 for v in (pi_c, m_c, s_c))


def stein_entry(h: sp.Expr, m: sp.Expr, s: sp.Expr, lr: sp.Expr, d1: sp.Expr,
                d2: sp.Expr) -> sp.Expr:
    r""":math:`\mathbb E_{\mathcal N(m,s^2)}[h\,\ell]` reduced by Stein's identities to
    :math:`c_0\,\mathbb E[\ell] + c_1 s\,\mathbb E[\ell'] + c_2 s^2\,\mathbb E[\ell'']` for h
    quadratic in x (``lr, d1, d2`` = ℓ, ℓ', ℓ'')."""
    c0, c1, c2 = stein_coefficients(h, m, s)
    return c0 * lr + c1 * s * d1 + c2 * s**2 * d2


@cache
def score(K: int) -> tuple[sp.Expr, ...]:
    r""":math:`\nabla_\theta\log q(x)`, θ = (π, μ, σ) of the K-component student, from log q
    written relative to component 0 (the reference's responsibility as ``Softmax1(0, …)``)."""
    q = student(K)
    lpi, (m0, s0), lse = log_mixture_ref(q, 0)
    lq = lpi - (x - m0) ** 2 / (2 * s0**2) - sp.log(s0) + lse
    return tuple(complement_softmax(sp.diff(lq, v)) for v in q.params)


def mass_gradient(mix: KMix) -> tuple[sp.Expr, ...]:
    r""":math:`\nabla_\theta\int q = \nabla_\theta\sum_k\pi_k` (the ``+∫q`` term of the
    generalised KL D(p ‖ q); 1 in each weight entry, 0 elsewhere)."""
    total = sp.Add(*mix.weights)
    return tuple(sp.diff(total, v) for v in mix.params)


@cache
def rkl_grad_spec(K: int, J: int) -> ExpectationSpec:
    r"""The contribution of student component 0 to :math:`\nabla D(q\Vert p)`: the entries
    (π_0, μ_0, σ_0), Stein-reduced, with log q relative to component 0 and log p relative to
    target component 0. Parameters: the student's (π, μ, σ), then the target's (α, ν, τ)."""
    q, p = student(K), target(J)
    lr = log_ratio_ref(q, 0, p, 0)
    d1 = sp.diff(lr, x)
    d2 = sp.diff(d1, x)
    m0, s0 = _comp(q, 0)
    row = tuple(stein_entry(h, m0, s0, lr, d1, d2) for h in gradient_weights(q, 0))
    return ExpectationSpec(f"kmix_rkl_grad_{K}_{J}", (*q.params, *p.params),
                           (Component(sp.Integer(1), m0, s0),), (row,), kinks(q, p))


@cache
def fkl_grad_spec(K: int) -> ExpectationSpec:
    r"""The contribution of target component 0 to :math:`\nabla D(p\Vert q)`:
    :math:`\alpha_0\,\mathbb E_{\psi_0}[-\nabla\log q + \nabla\sum_k\pi_k]` (3K entries; the
    constant part sums to :math:`\nabla\sum_k\pi_k` over a normalised target), log q relative to
    student component 0. Parameters: the student's (π, μ, σ), then (α_0, ν_0, τ_0)."""
    q, p = student(K), target(1)
    row = tuple(-e + c for e, c in zip(score(K), mass_gradient(q), strict=True))
    return ExpectationSpec(f"kmix_fkl_grad_{K}", (*q.params, *p.params),
                           (Component(p.weights[0], p.means[0], p.scales[0]),), (row,),
                           kinks(q))
