r"""Numerically stable special functions as SymPy ``Function`` classes.

``Sigmoid(z) = 1/(1 + e^{-z})`` and ``Softplus(z) = \log(1 + e^{z})`` are kept *unevaluated* in
derived expressions so that code generation can map them to overflow-free implementations
(``scipy.special.expit`` and ``numpy.logaddexp(0, z)``) instead of the naive ``exp`` forms,
which overflow for |z| ≳ 710 and produce 0/0 in responsibilities. Their derivatives are exact
(``Softplus' = Sigmoid``, ``Sigmoid' = Sigmoid (1 − Sigmoid)``), so SymPy differentiates through
them, and ``.rewrite(sp.exp)`` recovers the textbook form for simplification and proofs.

For mixtures of K components (:mod:`symforget.symbolic.kmix`) the one-term softplus generalises
to ``LogSumExp1(z_1, …, z_n) = \log(1 + \sum_i e^{z_i})`` (a log-sum-exp with an implicit
``z_0 = 0``, the reference component) with derivatives ``Softmax1(k, z_1, …, z_n) =
e^{z_k}/(1 + \sum_i e^{z_i})`` (``k = 0`` the reference). The derivative of ``Softmax1`` is
written without the cancelling ``1 − Softmax1``: ``∂_k S_k = S_k \sum_{l≠k} S_l`` (a sum of
positive terms, accurate when ``S_k ≈ 1``).
"""

from __future__ import annotations

import sympy as sp

__all__ = ["Sigmoid", "Softplus", "LogSumExp1", "Softmax1", "expand_special",
           "complement_sigmoids", "complement_softmax"]


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


class LogSumExp1(sp.Function):
    r""":math:`\operatorname{lse}_1(z_1,\ldots,z_n) = \log\big(1 + \sum_{i=1}^n e^{z_i}\big)`.

    The log of a mixture relative to its reference component: ``z_i`` are the log-odds of the
    other components against the reference. With one argument it equals ``Softplus``. The
    derivative in ``z_k`` is ``Softmax1(k, z_1, …, z_n)``.
    """

    @classmethod
    def eval(cls, *z):  # safe: SymPy Function.eval hook, not builtins.eval
        if not z:
            return sp.S.Zero
        return None

    def fdiff(self, argindex=1):
        return Softmax1(sp.Integer(argindex), *self.args)

    def _eval_rewrite_as_exp(self, *z, **kwargs):
        return sp.log(1 + sp.Add(*(sp.exp(v) for v in z)))

    def _eval_is_real(self):
        return all(v.is_real for v in self.args) or None

    def _eval_is_positive(self):
        return all(v.is_real for v in self.args) or None

    def _latex(self, printer, exp=None):
        body = (r"\operatorname{lse}_1\left(" + ", ".join(printer._print(v) for v in self.args)
                + r"\right)")
        return body if exp is None else body + "^{" + str(exp) + "}"


class Softmax1(sp.Function):
    r""":math:`S_k = e^{z_k}/(1 + \sum_{i=1}^n e^{z_i})` with :math:`z_0 = 0` (``k = 0``: the
    reference component's share). First argument: the integer k; then :math:`z_1,\ldots,z_n`.

    Derivatives: :math:`\partial_{z_j} S_k = -S_k S_j` (j ≠ k) and
    :math:`\partial_{z_k} S_k = S_k\sum_{l \ne k} S_l` (l from 0 to n) — the same number as
    :math:`S_k(1 - S_k)`, without the cancellation when :math:`S_k \approx 1`.
    """

    @classmethod
    def eval(cls, k, *z):  # safe: SymPy Function.eval hook, not builtins.eval
        if not (k.is_Integer and 0 <= int(k) <= len(z)):
            raise ValueError(f"Softmax1: index {k} must be an integer in [0, {len(z)}]")
        if not z:
            return sp.S.One
        return None

    def fdiff(self, argindex=1):
        if argindex == 1:
            raise sp.ArgumentIndexError(self, argindex)
        k, z = int(self.args[0]), self.args[1:]
        j = argindex - 1
        if j == k:
            return self * sp.Add(*(Softmax1(sp.Integer(i), *z) for i in range(len(z) + 1)
                                   if i != k))
        return -self * Softmax1(sp.Integer(j), *z)

    def _eval_rewrite_as_exp(self, k, *z, **kwargs):
        num = sp.S.One if int(k) == 0 else sp.exp(z[int(k) - 1])
        return num / (1 + sp.Add(*(sp.exp(v) for v in z)))

    def _eval_is_real(self):
        return all(v.is_real for v in self.args[1:]) or None

    def _eval_is_positive(self):
        return all(v.is_real for v in self.args[1:]) or None

    def _latex(self, printer, exp=None):
        body = (r"S_{" + printer._print(self.args[0]) + r"}\left("
                + ", ".join(printer._print(v) for v in self.args[1:]) + r"\right)")
        return body if exp is None else body + "^{" + str(exp) + "}"


def expand_special(expr: sp.Expr) -> sp.Expr:
    """Rewrite Sigmoid/Softplus (and LogSumExp1/Softmax1) into exp/log (for simplification and
    symbolic checks)."""
    expr = expr.replace(Sigmoid, lambda z: 1 / (1 + sp.exp(-z))).replace(
        Softplus, lambda z: sp.log(1 + sp.exp(z))
    )
    if expr.has(LogSumExp1, Softmax1):
        expr = expr.replace(LogSumExp1, lambda *z: LogSumExp1(*z).rewrite(sp.exp)).replace(
            Softmax1, lambda *a: Softmax1(*a).rewrite(sp.exp))
    return expr


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


def complement_softmax(expr: sp.Expr) -> sp.Expr:
    r"""Rewrite ``A − A·Σ_{k=1}^n S_k(z)`` as ``A·S_0(z)`` (``S = Softmax1``).

    :math:`1 - \sum_{k \ge 1} S_k` is the reference component's share :math:`S_0`; evaluated as
    a difference it loses every digit once another component takes all the responsibility (the
    K-component analogue of :func:`complement_sigmoids`). Exact identity, applied to each argument
    tuple ``z`` in turn; expressions of another shape are left alone.
    """
    tuples = sorted({a.args[1:] for a in expr.atoms(Softmax1)}, key=sp.default_sort_key)
    for z in tuples:
        atoms = [Softmax1(sp.Integer(k), *z) for k in range(1, len(z) + 1)]
        collected = sp.collect(sp.expand(expr, deep=False), atoms, evaluate=False)
        if set(collected) != {sp.S.One, *atoms}:
            continue
        a_ = collected[sp.S.One]
        if a_ != 0 and all(sp.simplify(a_ + collected[s_]) == 0 for s_ in atoms):
            expr = sp.factor(a_) * Softmax1(sp.S.Zero, *z)
    return expr
