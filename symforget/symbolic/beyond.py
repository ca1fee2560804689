r"""Beyond the paper: unequal scales (claim ``beyond.any_family``; issue 13).

Two Gaussians :math:`\varphi_a = \mathcal N(a, s_a^2)`, :math:`\varphi_b = \mathcal N(b, s_b^2)`;
in the old component's units :math:`\Delta = (b - a)/s_a`, :math:`r = s_b/s_a`.

* The Bhattacharyya coefficient, by SymPy integration in standardised form:
  :math:`\mathrm{BC} = \sqrt{2r/(1+r^2)}\;e^{-\Delta^2/(4(1+r^2))}`.
* The misassignment bound holds for *any* pair of densities: pointwise
  :math:`\frac{u}{u+v} \le \frac12\sqrt{u/v}` (AM–GM: :math:`u + v \ge 2\sqrt{uv}`), so with
  :math:`u = (1-w)\varphi_b`, :math:`v = w\varphi_a`,
  :math:`m = \int\varphi_a\,r_b \le \tfrac12\sqrt{(1-w)/w}\int\sqrt{\varphi_a\varphi_b}
  = \tfrac12\sqrt{(1-w)/w}\;\mathrm{BC}`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .derivation import Derivation, Named, Step
from .gauss import log_normal_pdf

__all__ = ["r", "D", "W", "STATED_BC", "bc_unequal", "bc_derivation", "bound_derivation",
           "bc_log", "misassignment_spec"]

#: scale ratio r = s_b/s_a and separation Δ = (b − a)/s_a (old component's units)
r = sp.Symbol("r", positive=True)
D = sp.Symbol("Delta", nonnegative=True)
_y = sp.Symbol("y", real=True)
_u = sp.Symbol("u", positive=True)
_v = sp.Symbol("v", positive=True)
_w = sp.Symbol("w", positive=True)
_pa = sp.Symbol(r"\varphi_a", positive=True)
_pb = sp.Symbol(r"\varphi_b", positive=True)

#: the closed form as stated (CLAIMS.md §6), kept beside the derivation: two routes, one truth
STATED_BC = sp.sqrt(2 * r / (1 + r**2)) * sp.exp(-D**2 / (4 * (1 + r**2)))


@cache
def bc_derivation() -> Derivation:
    r"""BC of N(0, 1) and N(Δ, r²) by SymPy integration (x = a + s_a y, standardised)."""
    integrand = sp.exp((log_normal_pdf(_y, 0, 1) + log_normal_pdf(_y, D, r)) / 2)
    simplified = sp.simplify(integrand)
    value = sp.simplify(sp.integrate(simplified, (_y, -sp.oo, sp.oo), conds="none"))
    return Derivation(
        "Bhattacharyya coefficient with unequal scales",
        (r"$\varphi_a = \mathcal N(a, s_a^2)$, $\varphi_b = \mathcal N(b, s_b^2)$, "
         r"$\Delta = (b-a)/s_a$, $r = s_b/s_a$",
         r"standardised: $x = a + s_a y$ maps the pair to $\mathcal N(0,1)$, "
         r"$\mathcal N(\Delta, r^2)$ and leaves $\int\sqrt{\varphi_a\varphi_b}$ unchanged"),
        (
            Step(sp.sqrt(sp.exp(log_normal_pdf(_y, 0, 1)) * sp.exp(log_normal_pdf(_y, D, r))),
                 simplified, "simplify", r"$\sqrt{\varphi_a\varphi_b}$ in $y$"),
            Step(sp.Integral(simplified, (_y, -sp.oo, sp.oo)), value, "integrate",
                 "SymPy integrates the Gaussian product over the real line", kind="cas",
                 reason="the output of SymPy's `integrate`; the claim's check confirms it by "
                        "mpmath quadrature at several (Δ, r)"),
            Step(value, STATED_BC, "closed form",
                 r"the stated form $\sqrt{2r/(1+r^2)}\,e^{-\Delta^2/(4(1+r^2))}$"),
        ),
        result=value,
    )


def bc_unequal() -> sp.Expr:
    """The derived BC(Δ, r)."""
    return bc_derivation().result


def bc_log() -> sp.Expr:
    r""":math:`\log\mathrm{BC} = \tfrac12\log(2r/(1+r^2)) - \Delta^2/(4(1+r^2))` (no underflow)."""
    return sp.log(2 * r / (1 + r**2)) / 2 - D**2 / (4 * (1 + r**2))


@cache
def bound_derivation() -> Derivation:
    r"""m ≤ ½√((1−w)/w)·BC for any pair of densities (pointwise AM–GM, then integrate)."""
    return Derivation(
        "Misassignment bound for any pair of densities",
        (r"$u = (1-w)\varphi_b(x) \ge 0$, $v = w\varphi_a(x) > 0$ pointwise; "
         r"$r_b = u/(u+v)$ is the responsibility of b",
         r"$m = \int \varphi_a\, r_b\,dx$ (an $a$-sample assigned to $b$)"),
        (
            Step(sp.sqrt(_u * _v) * 2 - (_u + _v), -(sp.sqrt(_u) - sp.sqrt(_v)) ** 2, "expand",
                 r"$2\sqrt{uv} - (u+v) = -(\sqrt u - \sqrt v)^2 \le 0$: "
                 r"$u + v \ge 2\sqrt{uv}$ (AM–GM)"),
            Step(Named(r"\frac{u}{2\sqrt{uv}}", _u / (2 * sp.sqrt(_u * _v))),
                 sp.Rational(1, 2) * sp.sqrt(_u / _v),
                 "simplify", r"so $\frac{u}{u+v} \le \frac{u}{2\sqrt{uv}} = \frac12\sqrt{u/v}$"),
            Step(Named(r"\varphi_a\sqrt{\frac{(1-w)\varphi_b}{w\varphi_a}}",
                       _pa * sp.sqrt((1 - _w) * _pb / (_w * _pa))),
                 sp.sqrt((1 - _w) / _w) * sp.sqrt(_pa * _pb), "simplify",
                 r"multiply by $\varphi_a$ and integrate: "
                 r"$m \le \frac12\sqrt{(1-w)/w}\int\sqrt{\varphi_a\varphi_b} "
                 r"= \frac12\sqrt{(1-w)/w}\,\mathrm{BC}$; nothing Gaussian was used"),
        ),
        result=sp.sqrt((1 - _w) / _w) * STATED_BC / 2,
    )


#: the old weight w as a plain symbol for the misassignment spec (parameters (w, Δ, r))
W = sp.Symbol("w", positive=True)


@cache
def misassignment_spec():
    r"""m(w, Δ, r) = E_{x∼N(0,1)}[r_n(x)] with r_n = sigmoid(z), z the log-odds of
    (1 − w) N(Δ, r²) against w N(0, 1) — quadratic in x: two switch points when r ≠ 1."""
    from .expectation import Component, ExpectationSpec
    from .functions import Sigmoid
    from .symbols import x

    z = (sp.log(1 - W) - sp.log(W) - sp.log(r) - (x - D) ** 2 / (2 * r**2) + x**2 / 2)
    return ExpectationSpec("misassignment_general", (W, D, r),
                           (Component(sp.Integer(1), sp.Integer(0), sp.Integer(1)),),
                           ((Sigmoid(z),),), (z,))
