"""The compile layer: cache behaviour, NumPy vs mpmath backends, broadcasting, no overflow."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp

from symforget.numeric.compile import cache_info, compile_exprs, compile_spec
from symforget.symbolic import mixture
from symforget.symbolic.functions import Sigmoid, Softplus, expand_special
from symforget.symbolic.symbols import RKL_ARGS, x


def _fresh_symbols(tag: str) -> tuple[sp.Symbol, sp.Symbol]:
    """Symbols nobody else compiles (the cache is process-wide)."""
    return sp.Symbol(f"cache_{tag}_u", real=True), sp.Symbol(f"cache_{tag}_v", real=True)


def test_cache_miss_then_hit_returns_same_callable():
    u, v = _fresh_symbols("a")
    expr = u**2 + sp.sin(v)
    before = cache_info()
    f1 = compile_exprs(expr, (u, v))
    mid = cache_info()
    assert mid["misses"] == before["misses"] + 1 and mid["size"] == before["size"] + 1
    f2 = compile_exprs(expr, (u, v))
    after = cache_info()
    assert f2 is f1
    assert after["hits"] == mid["hits"] + 1 and after["misses"] == mid["misses"]
    assert after["size"] == mid["size"]
    assert f1(3.0, 0.0) == 9.0


def test_cache_key_includes_backend_and_argument_order():
    u, v = _fresh_symbols("b")
    expr = u - 2 * v
    f_np = compile_exprs(expr, (u, v), "numpy")
    before = cache_info()
    f_mp = compile_exprs(expr, (u, v), "mpmath")
    f_rev = compile_exprs(expr, (v, u), "numpy")
    after = cache_info()
    assert after["misses"] == before["misses"] + 2
    assert f_mp is not f_np and f_rev is not f_np
    assert f_np(1.0, 2.0) == -3.0 and f_rev(1.0, 2.0) == 0.0
    assert isinstance(f_mp(mpmath.mpf(1), mpmath.mpf(2)), mpmath.mpf)


def test_sequence_and_single_expression_are_distinct_entries():
    u, v = _fresh_symbols("c")
    single = compile_exprs(u + v, (u, v))
    seq = compile_exprs([u + v, u * v], (u, v))
    assert single(2.0, 3.0) == 5.0
    assert tuple(seq(2.0, 3.0)) == (5.0, 6.0)


def test_unknown_backend_rejected():
    u, v = _fresh_symbols("d")
    with pytest.raises(ValueError, match="backend='jax'"):
        compile_exprs(u, (u, v), "jax")  # type: ignore[arg-type]


def test_compile_spec_is_cached_per_backend():
    spec = mixture.fkl_grad_spec()
    a, b = compile_spec(spec, "numpy"), compile_spec(spec, "numpy")
    c = compile_spec(spec, "mpmath")
    assert a is b and c is not a
    assert a.size == c.size == 3 and a.backend == "numpy" and c.backend == "mpmath"


def test_rkl_integrand_numpy_agrees_with_mpmath_backend():
    """Same SymPy expression, two backends: the float64 value vs the 40-digit mpmath value.

    The log-ratio log(q/p*) is a sum of O(1..100) terms (quadratics in x, softplus) that cancel
    when q ≈ p*, so the comparison uses relative error with a floor of 1: |Δ| ≤ 1e-13·max(|ref|, 1).
    """
    cn = compile_spec(mixture.rkl_grad_spec(), "numpy")
    cm = compile_spec(mixture.rkl_grad_spec(), "mpmath")
    rng = np.random.default_rng(20240)
    worst = 0.0
    for _ in range(60):
        w, a = rng.uniform(0.01, 0.99, 2)
        params = [w, *rng.uniform(-8, 8, 2), a, *rng.uniform(-8, 8, 2), rng.uniform(0.5, 2.0)]
        xx = rng.uniform(-12.0, 12.0)
        for c in range(2):
            num = np.asarray(cn.integrands[c](xx, *params), dtype=np.float64)
            with mpmath.workdps(40):
                ref = cm.integrands[c](mpmath.mpf(xx), *[mpmath.mpf(p) for p in params])
                ref = np.array([float(r) for r in ref])
            err = np.abs(num - ref) / np.maximum(np.abs(ref), 1.0)
            worst = max(worst, float(err.max()))
    assert worst <= 1e-13, worst


def test_numpy_callable_broadcasts():
    cs = compile_spec(mixture.rkl_grad_spec(), "numpy")
    xs = np.linspace(-3, 3, 5)[:, None]  # (5, 1)
    mus = np.linspace(-1, 1, 4)  # (4,)
    out = cs.integrands[0](xs, 0.3, mus, 2.0, 0.6, 0.0, 2.5, 1.0)
    shapes = {np.broadcast(*[np.asarray(o) for o in out]).shape}
    assert shapes == {(5, 4)}
    # each broadcast entry equals the scalar call
    for i in (0, 4):
        for j in (0, 3):
            scalar = cs.integrands[0](float(xs[i, 0]), 0.3, float(mus[j]), 2.0, 0.6, 0.0, 2.5, 1.0)
            for k in range(3):
                assert np.broadcast_to(out[k], (5, 4))[i, j] == pytest.approx(scalar[k], rel=1e-15)


def test_stable_functions_do_not_overflow():
    z = sp.Symbol("z_overflow", real=True)
    f = compile_exprs([Sigmoid(z), Softplus(z), Sigmoid(-z), Softplus(-z)], (z,))
    zs = np.array([-1000.0, 0.0, 1000.0])
    with np.errstate(all="raise", under="ignore"):
        sig, sp_, sig_m, sp_m = (np.asarray(v) for v in f(zs))
    np.testing.assert_array_equal(sig, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(sig_m, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(sp_, [0.0, np.log(2.0), 1000.0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(sp_m, [1000.0, np.log(2.0), 0.0], rtol=1e-15, atol=0)
    # the same expressions rewritten to exp/log *do* overflow: the test above can fail
    naive = compile_exprs(expand_special(Softplus(z)), (z,))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        naive(np.array([1000.0]))


def test_mpmath_backend_stable_functions_at_extremes():
    z = sp.Symbol("z_overflow_mp", real=True)
    f = compile_exprs([Sigmoid(z), Softplus(z)], (z,), "mpmath")
    with mpmath.workdps(30):
        s, p = f(mpmath.mpf(-1000))
        assert abs(s - mpmath.exp(-1000)) < mpmath.mpf(10) ** -25 * mpmath.exp(-1000)
        assert abs(p - mpmath.exp(-1000)) < mpmath.mpf(10) ** -25 * mpmath.exp(-1000)
        s, p = f(mpmath.mpf(1000))
        assert abs(p - 1000) < mpmath.mpf(10) ** -25 and abs(s - 1) < mpmath.mpf(10) ** -25


def test_log_q_finite_far_in_the_tails():
    """The compiled stable log q at x = ±1000 is finite and matches the dominant component."""
    f = compile_exprs(mixture.log_q(), (x, *RKL_ARGS[:3], RKL_ARGS[-1]))
    with np.errstate(all="raise", under="ignore"):
        vals = np.asarray(f(np.array([-1000.0, 1000.0]), 0.3, -1.0, 2.0, 1.0))
    assert np.isfinite(vals).all()
    # independent: log(w φ_o + (1−w) φ_n) ≈ log of the closer component's term at 1000σ
    ref_right = np.log(0.7) - 0.5 * (1000 - 2.0) ** 2 - 0.5 * np.log(2 * np.pi)
    ref_left = np.log(0.3) - 0.5 * (1000 - 1.0) ** 2 - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(vals, [ref_left, ref_right], rtol=1e-15)
