"""Claims rkl.global_optimum and rkl.weight_convergence: pass, mutants rejected, derivations.

Cost: ~30 s (each check ~3–4 s in the quick profile; each mutant runs the full check).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from claim_cache import quick as _quick

from symforget.claims import rkl as crkl
from symforget.symbolic import rkl as srkl
from symforget.symbolic.gauss import STATED
from symforget.symbolic.symbols import alpha, delta

IDS = ("rkl.global_optimum", "rkl.weight_convergence")


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_quick(cid: str) -> None:
    res = _quick(cid)
    assert res.status == "pass", res.counterexample or res.summary
    assert res.metrics["symbolic_derivation"] is True
    assert res.seconds < 30  # generous on a loaded machine; ~3–4 s when warm


def test_global_optimum_evidence() -> None:
    m = _quick("rkl.global_optimum").metrics
    assert m["min_loss_random"] >= -1e-12
    assert m["max_abs_loss_at_stated_optimum"] <= 1e-12
    assert m["max_dist_minimiser_to_stated"] <= 1e-5
    assert m["max_old_mass_error_at_minimisers"] <= 1e-5  # the old mode keeps mass α
    assert m["max_rel_err_vs_quadpack"] <= 1e-9


def test_weight_convergence_rate_equals_fisher() -> None:
    m = _quick("rkl.weight_convergence").metrics
    assert m["max_rel_err_rate"] <= 2e-3
    assert m["sign_mismatches"] == 0
    assert m["taylor_remainder_slope_min"] == pytest.approx(2.0, abs=0.05)


# --- derivations -----------------------------------------------------------------------------

def test_global_optimum_derivation_checks() -> None:
    der = srkl.global_optimum_derivation()
    results = der.check()
    assert all(r.ok for r in results)
    # every pointwise identity is decided symbolically, not by a numeric spot check
    for step, r in zip(der.steps, results, strict=True):
        if step.kind == "eq":
            assert r.method == "simplify", (step.rule, r)
    assert der.result == alpha


@pytest.mark.parametrize("w_star", [sp.Integer(0), alpha / 2, 1 - alpha])
def test_global_optimum_derivation_rejects_wrong_weight(w_star: sp.Expr) -> None:
    der = srkl.global_optimum_derivation(w_star)
    failed = [s.rule for s, r in zip(der.steps, der.check(), strict=True) if not r.ok]
    assert failed == ["substitute", "substitute"]  # q ≠ p* at the stated θ* and at its swap


def test_weight_convergence_derivation_checks() -> None:
    der = srkl.weight_convergence_derivation()
    assert der.ok
    # the model's gradient weights (what rkl_grad integrates) have w-entries (1, −1)
    weights = [s for s in der.steps if s.rule == "model weights"]
    assert [s.rhs for s in weights] == [1, -1]
    assert all(s.check().method == "simplify" for s in weights)


def test_weight_convergence_derivation_rejects_mutants() -> None:
    half = srkl.weight_convergence_derivation(sp.Rational(1, 2))
    assert [s.rule for s, r in zip(half.steps, half.check(), strict=True) if not r.ok] == [
        "substitute"]
    slow = srkl.weight_convergence_derivation(rate_factor=sp.Rational(1, 2))
    assert [s.rule for s, r in zip(slow.steps, slow.check(), strict=True) if not r.ok] == [
        "linearise"]


def test_gibbs_gap_is_nonnegative_and_zero_only_at_one() -> None:
    u = sp.Symbol("u", positive=True)
    f = srkl.gibbs_gap(u)
    assert f.subs(u, 1) == 0
    vals = [float(f.subs(u, v)) for v in (0.01, 0.5, 0.999, 1.001, 2.0, 50.0)]
    assert min(vals) > 0


# --- the independent reference route itself --------------------------------------------------

def test_reference_integral_normalises_a_density() -> None:
    val = crkl.reference_integral(lambda x: float(np.exp(crkl.reference_log_normal(x, 2.5))),
                                  [2.5])
    assert val == pytest.approx(1.0, abs=1e-13)


@pytest.mark.parametrize("d", [0.5, 2.0, 6.0])
def test_reference_rkl_loss_of_single_gaussians_is_closed_form(d: float) -> None:
    # collapse both mixtures to single Gaussians: KL(φ_0 ‖ φ_d) = Δ²/2 (gauss.closed_forms)
    ref = crkl._ref_rkl_loss(0.4, 0.0, 0.0, 0.7, d, d)
    assert ref == pytest.approx(float(STATED["kl"].subs(delta, d)), rel=1e-11)


def test_reference_rkl_loss_vanishes_at_target() -> None:
    assert abs(crkl._ref_rkl_loss(0.3, 0.0, 4.0, 0.3, 0.0, 4.0)) < 1e-14
    assert abs(crkl._ref_rkl_loss(0.7, 4.0, 0.0, 0.3, 0.0, 4.0)) < 1e-14
