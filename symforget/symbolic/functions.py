r"""Numerically stable special functions as SymPy ``Function`` classes.

``Sigmoid(z) = 1/(1 + e^{-z})`` and ``Softplus(z) = \log(1 + e^{z})`` are kept *unevaluated* in
derived expressions so that code generation can map them to overflow-free implementations
(``scipy.special.expit`` and ``numpy.logaddexp(0, z)``) instead of the naive ``exp`` forms,
which overflow for |z| ≳ 710 and produce 0/0 in responsibilities. Their derivatives are exact
(``Softplus' = Sigmoid``, ``Sigmoid' = Sigmoid (1 − Sigmoid)``), so SymPy differentiates through
them, and ``.rewrite(sp.exp)`` recovers the textbook form for simplification and proofs.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["Sigmoid", "Softplus", "expand_special"]


class Sigmoid(sp.Function):
    r"""Logistic function :math:`\operatorname{sigmoid}(z) = 1/(1 + e^{-z})`."""

    nargs = 1

    @classmethod
    def eval(cls, z):  # safe: SymPy Function.eval hook, not builtins.eval
        if z.is_zero:
            return sp.S.Half
        if z is sp.oo:
            return sp.S.One
        if z is sp.S.NegativeInfinity:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        z = self.args[0]
        return Sigmoid(z) * (1 - Sigmoid(z))

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return 1 / (1 + sp.exp(-z))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\operatorname{sigmoid}\left(" + printer._print(self.args[0]) + r"\right)"
        return body if exp is None else body + "^{" + str(exp) + "}"


class Softplus(sp.Function):
    r"""Softplus :math:`\operatorname{softplus}(z) = \log(1 + e^{z})`."""

    nargs = 1

    @classmethod
    def eval(cls, z):  # safe: SymPy Function.eval hook, not builtins.eval
        if z.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))

    def _eval_rewrite_as_log(self, z, **kwargs):
        return sp.log(1 + sp.exp(z))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        body = r"\operatorname{softplus}\left(" + printer._print(self.args[0]) + r"\right)"
        return body if exp is None else body + "^{" + str(exp) + "}"


def expand_special(expr: sp.Expr) -> sp.Expr:
    """Rewrite Sigmoid/Softplus into exp/log (for simplification and symbolic checks)."""
    return expr.replace(Sigmoid, lambda z: 1 / (1 + sp.exp(-z))).replace(
        Softplus, lambda z: sp.log(1 + sp.exp(z))
    )


def complement_sigmoids(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite ``A + B·sigmoid(z)`` with ``A + B = 0`` as ``A·sigmoid(−z)``.

    ``1 − sigmoid(z)`` evaluated in floating point loses every digit once ``sigmoid(z) ≈ 1``
    (an old-component responsibility near 1 makes the new-component score pure rounding noise);
    ``sigmoid(−z)`` is the same number computed without cancellation. Exact identity, applied to
    each ``Sigmoid`` atom in turn.
    """
    for atom in sorted(expr.atoms(Sigmoid), key=sp.default_sort_key):
        collected = sp.collect(sp.expand(expr, deep=False), atom, evaluate=False)
        if set(collected) - {atom, sp.S.One}:
            continue  # the atom appears non-linearly; leave the expression alone
        a_ = collected.get(sp.S.One, sp.S.Zero)
        b_ = collected.get(atom, sp.S.Zero)
        if a_ != 0 and sp.simplify(a_ + b_) == 0:
            expr = sp.factor(a_) * Sigmoid(-atom.args[0])
    return expr
