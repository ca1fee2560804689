r"""The compile layer: the only place that calls ``sympy.lambdify``.

One cached path turns SymPy expressions into NumPy callables (vectorised, broadcasting over
parameter arrays) and mpmath callables, from the *same* expressions. Stable special functions
(:class:`~symforget.symbolic.functions.Sigmoid`, ``Softplus``) are mapped to overflow-free
implementations for each backend. The cache is keyed by (expressions, argument symbols,
backend); lambdify itself caches nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import mpmath
import numpy as np
import sympy as sp
from scipy import special
from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize

from .symbolic.expectation import ExpectationSpec, linear_coefficients
from .symbolic.symbols import x

__all__ = ["compile_exprs", "compile_spec", "CompiledSpec", "cache_info", "Backend"]

Backend = Literal["numpy", "mpmath"]


def _np_softplus(z):
    return np.logaddexp(0.0, z)


def _mp_sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


def _mp_softplus(z):
    z = mpmath.mpf(z)
    if z > 0:
        return z + mpmath.log1p(mpmath.exp(-z))
    return mpmath.log1p(mpmath.exp(z))


_MODULES: dict[str, list] = {
    "numpy": [{"Sigmoid": special.expit, "Softplus": _np_softplus}, "numpy"],
    "mpmath": [{"Sigmoid": _mp_sigmoid, "Softplus": _mp_softplus}, "mpmath"],
}

_REWRITE_MAX_OPS = 80
_CACHE: dict[tuple, Callable] = {}
_LOCK = threading.Lock()
_STATS = {"hits": 0, "misses": 0}


def _rewrite(expr: sp.Expr) -> sp.Expr:
    """Exact rewrites for accuracy before code generation: ``exp(u) − 1 → expm1(u)``,
    ``log(1 + u) → log1p(u)`` (e.g. χ² = e^{Δ²} − 1 keeps full relative accuracy as Δ → 0)."""
    expr = sp.sympify(expr)  # safe: internal expressions only, never user text
    if not isinstance(expr, sp.Expr) or expr.is_number:
        return expr
    if sp.count_ops(expr) > _REWRITE_MAX_OPS:
        # SymPy's rewriting search is superlinear (seconds on the Hessian integrands, whose
        # exp/log appear only inside the already-stable Sigmoid/Softplus forms)
        return expr
    return optimize(expr, [expm1_opt, log1p_opt])


def compile_exprs(
    exprs: Sequence[sp.Expr] | sp.Expr,
    args: Sequence[sp.Symbol],
    backend: Backend = "numpy",
) -> Callable:
    """Compile ``exprs`` (one or a sequence) into a callable of ``args`` for ``backend``.

    The NumPy callable broadcasts; for a sequence it returns a tuple whose entries may be
    scalars where an expression is constant (callers broadcast). Cached.
    """
    if backend not in _MODULES:
        raise ValueError(f"backend={backend!r} must be 'numpy' or 'mpmath'")
    single = isinstance(exprs, sp.Basic)
    key = (exprs if single else tuple(exprs), tuple(args), backend)
    with _LOCK:
        fn = _CACHE.get(key)
        if fn is not None:
            _STATS["hits"] += 1
            return fn
    body = _rewrite(exprs) if single else tuple(_rewrite(e) for e in exprs)
    fn = sp.lambdify(tuple(args), body, modules=_MODULES[backend], cse=True)
    with _LOCK:
        _STATS["misses"] += 1
        _CACHE.setdefault(key, fn)
    return fn


def cache_info() -> dict[str, int]:
    """Hits, misses and size of the compile cache."""
    with _LOCK:
        return {**_STATS, "size": len(_CACHE)}


@dataclass(frozen=True)
class CompiledSpec:
    """An :class:`ExpectationSpec` compiled for one backend.

    ``weights/means/scales(*params)`` give the components; ``integrand[c](x, *params)`` the
    integrand vector of component c; ``kinks(*params)`` the (a_j, b_j) of every kink.
    """

    spec: ExpectationSpec
    backend: str
    weights: Callable
    means: Callable
    scales: Callable
    integrands: tuple[Callable, ...]
    kinks: Callable | None
    #: for specs with quadratic kinks: ``(x, *params) -> (z_1, z_1', z_1''/2, z_2, …)``, every
    #: kink with its first derivative and half its second derivative in x, evaluated at x
    qkinks: Callable | None = None

    @property
    def size(self) -> int:
        """Number of outputs."""
        return self.spec.size


_SPEC_CACHE: dict[tuple[str, ExpectationSpec], CompiledSpec] = {}


def compile_spec(spec: ExpectationSpec, backend: Backend = "numpy") -> CompiledSpec:
    """Compile every part of an expectation spec (cached per spec and backend)."""
    key = (backend, spec)
    with _LOCK:
        hit = _SPEC_CACHE.get(key)
    if hit is not None:
        return hit
    params = spec.params
    comps = spec.components
    weights = compile_exprs([c.weight for c in comps], params, backend)
    means = compile_exprs([c.mean for c in comps], params, backend)
    scales = compile_exprs([c.scale for c in comps], params, backend)
    integrands = tuple(compile_exprs(list(f), (x, *params), backend) for f in spec.integrands)
    kinks = qkinks = None
    if spec.quadratic_kinks:
        parts: list[sp.Expr] = []
        for z in spec.kinks:
            dz = sp.diff(z, x)
            parts.extend((z, dz, sp.diff(dz, x) / 2))
        qkinks = compile_exprs(parts, (x, *params), backend)
    else:
        coeffs: list[sp.Expr] = []
        for z in spec.kinks:
            a_, b_ = linear_coefficients(z)
            coeffs.extend((a_, b_))
        kinks = compile_exprs(coeffs, params, backend) if coeffs else None
    out = CompiledSpec(spec, backend, weights, means, scales, integrands, kinks, qkinks)
    with _LOCK:
        _SPEC_CACHE.setdefault(key, out)
    return out
