"""Claims rkl.drift_identity and rkl.drift_transient: pass, mutants rejected, derivation,
independent misassignment references.

Cost: ~15 s.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy as sp
from claim_cache import quick as _quick

from symforget import model
from symforget.claims import drift_flow as cdf
from symforget.symbolic import drift_identity as sdrift

IDS = ("rkl.drift_identity", "rkl.drift_transient")


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_quick(cid: str) -> None:
    res = _quick(cid)
    assert res.status == "pass", res.counterexample or res.summary
    assert res.seconds < 30


def test_drift_identity_evidence() -> None:
    m = _quick("rkl.drift_identity").metrics
    assert m["symbolic_derivation"] is True
    assert m["symbolic_result_matches_statement"] is True
    assert m["max_err_to_tolerance_ratio"] <= 1.0
    assert m["max_rel_err_where_gradient_gt_1e-8"] <= 1e-8
    assert m["precise_rel_err"] <= 1e-20
    assert m["points_mu_new_below_mu_old"] > 0 and m["points_sigma_not_1"] > 0


def test_drift_transient_evidence() -> None:
    m = _quick("rkl.drift_transient").metrics
    assert m["fitted_slope_log_disp_vs_delta2"] == pytest.approx(-0.125, abs=0.005)
    assert m["fitted_slope_stderr"] < 1e-3
    # the displacement is e^{−Δ²/8} times a prefactor → √(π/2)√((1−α)/α) (ratio → 1)
    assert 0.8 < m["prefactor_ratio_at_largest_delta"] <= 1.05


def test_derivation_checks_itself() -> None:
    der = sdrift.drift_identity_derivation()
    results = der.check()
    assert all(c.ok for c in results), [(s.rule, c) for s, c in
                                        zip(der.steps, results, strict=True) if not c.ok]
    assert sp.simplify(der.result - sdrift.stated_drift()) == 0
    assert sp.simplify(der.result - sdrift.stated_drift(weight_factor=False)) != 0


@pytest.mark.parametrize("w,d", [(0.01, 0.3), (0.3, 2.0), (0.9, 5.0), (0.5, 10.0),
                                 (0.999, 12.0), (0.3, -4.0)])
def test_quad_reference_matches_mpmath(w: float, d: float) -> None:
    ref = float(cdf.misassignment_reference(w, d))
    with mpmath.workdps(30):
        exact = cdf.misassignment_mp(w, d, 30)
    assert ref == pytest.approx(float(exact), rel=1e-12)


def test_misassignment_at_zero_separation_is_new_weight() -> None:
    # Δ = 0: r_n = 1 − w everywhere
    assert float(cdf.misassignment_reference(0.3, 0.0)) == pytest.approx(0.7, rel=1e-15)


def test_identity_direction_when_new_mean_below_old() -> None:
    # μn < μo and μn* > μo: signs come from (μn − μo), (μn* − μo); m depends on |Δ| only
    w, a, s, mo = 0.4, 0.7, 1.5, 0.25
    mn, nn = mo - 1.5 * 2.0, mo + 1.5 * 3.0
    g = model.rkl_grad(w, mo, mn, alpha=a, target_old=mo, target_new=nn, sigma=s)[1]
    mq = float(cdf.misassignment_reference(w, 2.0))
    mp = float(cdf.misassignment_reference(a, 3.0))
    assert g == pytest.approx(w / s**2 * (mq * (mn - mo) - mp * (nn - mo)), rel=1e-9)


def test_transient_supremum_is_inside_the_window() -> None:
    disp, t_sup = cdf.transient_displacement(6.0)
    assert 0.0 < t_sup < 0.8 * cdf.TRANSIENT_T_END
    # order of magnitude of the derived prediction Δ·m(α, Δ) (h ≤ 1)
    pred = 6.0 * float(cdf.misassignment_reference(cdf.TRANSIENT_ALPHA, 6.0))
    assert 0.5 * pred < disp < 1.05 * pred
    assert np.isfinite(disp)
