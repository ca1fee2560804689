r"""A symbolic description of a Gaussian expectation, for the quadrature layer.

An :class:`ExpectationSpec` describes

.. math:: \sum_c \pi_c(\vartheta)\;\mathbb E_{x\sim\mathcal N(m_c(\vartheta),\, s_c(\vartheta)^2)}
          \big[f_c(x;\vartheta)\big] \in \mathbb R^k

with the integrands ``f_c`` as SymPy expressions, and the *kinks*: linear functions
``z(x) = a x + b`` of ``x`` (responsibility log-odds) around whose zero the integrand switches on
the scale ``1/|a|``. The quadrature places breakpoints there (see DESIGN.md, "Numerics": the
switch can sit several σ into a component's tail, where Gauss–Hermite is inaccurate).
Pure SymPy: the compile layer turns a spec into NumPy or mpmath callables.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .symbols import x

__all__ = ["Component", "ExpectationSpec", "linear_coefficients"]


@dataclass(frozen=True)
class Component:
    """One Gaussian component: weight π, mean m, scale s (expressions in the parameters)."""

    weight: sp.Expr
    mean: sp.Expr
    scale: sp.Expr


@dataclass(frozen=True)
class ExpectationSpec:
    """Σ_c π_c E_{N(m_c, s_c²)}[f_c(x)] with kinks ``z_j(x)`` (linear in x)."""

    name: str
    params: tuple[sp.Symbol, ...]
    components: tuple[Component, ...]
    integrands: tuple[tuple[sp.Expr, ...], ...]
    kinks: tuple[sp.Expr, ...]

    def __post_init__(self) -> None:
        if len(self.components) != len(self.integrands):
            raise ValueError("one integrand vector per component is required")
        sizes = {len(f) for f in self.integrands}
        if len(sizes) != 1:
            raise ValueError("every component's integrand vector must have the same length")
        for z in self.kinks:
            if sp.diff(z, x, 3) != 0:
                raise ValueError(f"kink {z} is not linear or quadratic in x")

    @property
    def quadratic_kinks(self) -> bool:
        """Whether any kink is quadratic in x (unequal component scales: two switch points)."""
        return any(sp.diff(z, x, 2) != 0 for z in self.kinks)

    @property
    def size(self) -> int:
        """Number of outputs k."""
        return len(self.integrands[0])


def linear_coefficients(z: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(a, b) with z = a x + b, for a z linear in x."""
    a_ = sp.simplify(sp.diff(z, x))
    b_ = sp.simplify(sp.expand(z - a_ * x))
    return a_, b_
