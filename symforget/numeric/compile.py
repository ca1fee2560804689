r"""The compile layer: the only place that calls ``sympy.lambdify``.

One cached path turns SymPy expressions into NumPy callables (vectorised, broadcasting over
parameter arrays) and mpmath callables, from the *same* expressions. Stable special functions
(:class:`~symforget.symbolic.functions.Sigmoid`, ``Softplus``, ``LogSumExp1``, ``Softmax1``) are
mapped to overflow-free implementations for each backend. The cache is keyed by (expressions,
argument symbols, backend); lambdify itself caches nothing.
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

from ..symbolic.expectation import ExpectationSpec, linear_coefficients
from ..symbolic.symbols import x

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


def _np_shifted(z) -> tuple[np.ndarray, np.ndarray]:
    """(m, s) for z = (z_1, …, z_n): m = max(0, z_1, …, z_n), s = Σ_i exp(z_i − m)."""
    m = np.maximum(0.0, z[0])
    for v in z[1:]:
        m = np.maximum(m, v)
    s = np.exp(z[0] - m)
    for v in z[1:]:
        s = s + np.exp(v - m)
    return m, s


def _np_logsumexp1(*z):
    """log(1 + Σ e^{z_i}) = m + log1p(expm1(−m) + s) (no masks, no overflow). Where m = 0
    the expm1 term is exactly 0 and log1p keeps full relative accuracy for z ≪ 0; where m > 0
    the value is ≥ log 2 and the sum inside log1p (≥ e^{−m}) is accurate to a few ulps."""
    m, s = _np_shifted(z)
    return m + np.log1p(np.expm1(-m) + s)


def _np_softmax1(k, *z):
    """e^{u_k}/(1 + Σ e^{z_i}) = exp(u_k − m)/(exp(−m) + s), u = (0, z_1, …, z_n)."""
    m, s = _np_shifted(z)
    k = int(k)
    return np.exp((z[k - 1] if k else 0.0) - m) / (np.exp(-m) + s)


def _mp_logsumexp1(*z):
    u = [mpmath.mpf(0), *(mpmath.mpf(v) for v in z)]
    m = max(u)
    return m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in u))


def _mp_softmax1(k, *z):
    u = [mpmath.mpf(0), *(mpmath.mpf(v) for v in z)]
    m = max(u)
    return mpmath.exp(u[int(k)] - m) / mpmath.fsum(mpmath.exp(v - m) for v in u)


_MODULES: dict[str, list] = {
    "numpy": [{"Sigmoid": special.expit, "Softplus": _np_softplus,
               "LogSumExp1": _np_logsumexp1, "Softmax1": _np_softmax1}, "numpy"],
    "mpmath": [{"Sigmoid": _mp_sigmoid, "Softplus": _mp_softplus,
                "LogSumExp1": _mp_logsumexp1, "Softmax1": _mp_softmax1}, "mpmath"],
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
