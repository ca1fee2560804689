"""Claims rkl.local_geometry and rkl.linear_convergence: pass, mutants rejected, derivations,
the explicit deviation bound as a property.

Cost: ~25 s (the first check builds the Hessian spec, ~5 s; each mutant ~2 s).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from claim_cache import quick as _quick
from hypothesis import example, given, settings
from hypothesis import strategies as st

from symforget import model
from symforget.claims import geometry as cgeo
from symforget.numeric.compile import compile_exprs
from symforget.symbolic import geometry as sgeo
from symforget.symbolic.symbols import alpha, delta, sigma, w, x

IDS = ("rkl.local_geometry", "rkl.linear_convergence")


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_quick(cid: str) -> None:
    res = _quick(cid)
    assert res.status == "pass", res.counterexample or res.summary
    assert res.seconds < 40  # generous on a loaded machine; ~2 s warm, ~11 s cold


def test_local_geometry_evidence() -> None:
    m = _quick("rkl.local_geometry").metrics
    for name in ("symbolic_hessian_is_fisher", "symbolic_separated_limit",
                 "symbolic_deviation_bound", "symbolic_limit_matches_statement"):
        assert m[name] is True, name
    assert m["max_rel_err_hessian_vs_fisher"] <= 1e-10
    assert m["max_rel_err_fd_hessian_vs_fisher"] <= 1e-6
    assert m["fd_error_rate_in_h"] == pytest.approx(2.0, abs=0.15)
    assert m["max_ratio_deviation_to_bound"] <= 1.0
    # separated modes: the limit's eigenvalues (α, 1−α, 1/(α(1−α))) at α = 0.3, Δ = 14
    assert m["alpha0.3_delta14_lambda_min"] == pytest.approx(0.3, rel=1e-6)
    assert m["alpha0.3_delta14_lambda_max"] == pytest.approx(1 / 0.21, rel=1e-6)


def test_linear_convergence_evidence() -> None:
    m = _quick("rkl.linear_convergence").metrics
    assert m["max_abs_err_contraction_factor"] <= 1e-3
    assert m["max_abs_diff_dynamics_gradient_descent"] <= 1e-14
    assert m["divergence_factor_eta_above_threshold"] == pytest.approx(1.1, abs=1e-3)
    # both regimes are exercised: a λ_max-dominated (oscillating) factor 0.9 at α = ½
    assert m["config4_predicted"] == pytest.approx(0.9, abs=1e-12)


# --- symbolic layer ----------------------------------------------------------------------------

def test_derivations_check_themselves() -> None:
    for der in (sgeo.hessian_is_fisher_derivation(), sgeo.separated_limit_derivation(),
                sgeo.deviation_bound_derivation(), sgeo.linear_convergence_derivation()):
        results = der.check()
        assert all(c.ok for c in results), [(s.rule, c) for s, c in
                                            zip(der.steps, results, strict=True) if not c.ok]


def test_separated_limit_is_the_stated_diagonal() -> None:
    L = sgeo.separated_limit()
    assert sp.simplify(L - sp.diag(1 / (w * (1 - w)), w / sigma**2, (1 - w) / sigma**2)) \
        == sp.zeros(3, 3)
    assert sp.simplify(L.subs({w: alpha, sigma: 1}) - cgeo.STATED_LIMIT) == sp.zeros(3, 3)


def test_expect_polynomial_matches_known_moments() -> None:
    m, s = sp.symbols("m s", positive=True)
    # E[(x − m)^4] = 3 s^4 and E[x^2] = m^2 + s^2 (typed from the textbook, not the code)
    assert sp.simplify(sgeo.expect_polynomial((x - m) ** 4, m, s) - 3 * s**4) == 0
    assert sp.simplify(sgeo.expect_polynomial(x**2, m, s) - (m**2 + s**2)) == 0
    with pytest.raises(ValueError, match="not a polynomial"):
        sgeo.expect_polynomial(sp.exp(x), m, s)


def test_bound_is_tight_at_delta_zero_half() -> None:
    # at Δ = 0, α = ½ the AM-GM step is an equality: |I_ww − L_ww| equals the bound exactly
    B = compile_exprs(list(sgeo.deviation_bound()), (w, delta))(0.5, 0.0)
    dev = abs(float(model.fisher(0.5, 0.0)[0, 0]) - 4.0)
    assert dev == pytest.approx(float(B[0]), rel=1e-12)


_bound_fn = None


def _bound(a: float, d: float) -> np.ndarray:
    global _bound_fn
    if _bound_fn is None:
        _bound_fn = cgeo._matrix_fn(sgeo.deviation_bound(), (w, delta))
    return _bound_fn(np.float64(a), np.float64(d))


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.005, 0.995), d=st.floats(0.0, 14.0))
@example(a=0.005, d=3.0)
@example(a=0.995, d=9.0)
@example(a=0.5, d=0.0)
@example(a=0.01, d=14.0)
def test_deviation_never_exceeds_bound(a: float, d: float) -> None:
    fisher = model.fisher(a, d)
    L = np.diag([1 / (a * (1 - a)), a, 1 - a])  # the separated limit, typed from CLAIMS.md
    dev = np.abs(fisher - L)
    allowance = 64 * np.finfo(float).eps * np.abs(fisher).max()
    assert np.all(dev <= _bound(a, d) + allowance)


def test_gd_batch_matches_predicted_factor_on_one_config() -> None:
    a, d = np.array([0.5]), np.array([3.0])
    lam = np.linalg.eigvalsh(model.fisher(a, d))
    eta = 0.7 * 2 / lam[:, -1]
    theta0 = np.array([[0.5004, 0.0003, 3.0007]])  # generic direction
    norms = cgeo._gd_batch(a, d, eta, theta0, max_steps=400, stop=1e-10)
    measured, used = cgeo._late_factor(norms[:, 0], 1e-9, 1e-7)
    assert used >= 10
    assert measured == pytest.approx(np.abs(1 - eta[0] * lam[0]).max(), abs=1e-6)
