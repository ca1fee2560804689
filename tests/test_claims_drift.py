"""Claims rkl.drift_bc_bound and rkl.drift_asymptotics: they pass, every mutant is rejected,
their derivations check, and the derived series matches independent numbers (issue 3)."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp
from claim_cache import quick

from symforget.claims import Context, get, run_claim
from symforget.claims.drift import bound_sweep_points
from symforget.numeric.precise_drift import misassignment as precise_m
from symforget.symbolic import drift as sd

IDS = ("rkl.drift_bc_bound", "rkl.drift_asymptotics")


@pytest.fixture(scope="module")
def quick_results():
    return {cid: quick(cid) for cid in IDS}


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_quick(quick_results, cid):
    res = quick_results[cid]
    assert res.status == "pass", (res.summary, res.counterexample)
    assert res.seconds < 15  # budget ~5 s on an idle 2-core machine; generous for CI noise


def test_bound_metrics(quick_results):
    m = quick_results["rkl.drift_bc_bound"].metrics
    assert m["sharp"] is True and m["worst_ratio"] == pytest.approx(1.0, abs=1e-9)
    assert m["worst_ratio_at"] == "w=0.5, delta=0"
    assert m["worst_ratio_delta_ge_10"] < 0.25  # loose by a factor ~ Δ/√(2π) for large Δ
    assert m["grad_max_ratio"] <= 1.0


def test_asymptotic_metrics(quick_results):
    m = quick_results["rkl.drift_asymptotics"].metrics
    for w in ("0.5", "0.2"):
        assert abs(m[f"rate_w{w}"] + 0.125) < 1e-4
        for k in range(4):
            assert abs(m[f"residual_k{k}_w{w}"] + 2 * (k + 1)) < 0.25


def test_without_half_is_rejected_for_the_right_reason():
    """The bound without ½ is true but not the stated (sharp) bound: the sharpness sub-check
    (sup m/bound = 1, attained at Δ = 0, w = ½) is what rejects it numerically."""
    claim = get("rkl.drift_bc_bound")
    res = run_claim(claim, Context(), **claim.mutants["without_half"])
    assert res.metrics["sharp"] is False
    assert res.metrics["max_log_excess"] <= 0  # the weaker inequality itself holds
    assert res.metrics["worst_ratio"] == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize("build", [sd.cosh_derivation, sd.bc_bound_derivation,
                                   sd.symmetry_derivation, sd.monotonicity_derivation,
                                   sd.asymptotic_derivation])
def test_derivations_check(build):
    der = build()
    results = der.check()
    assert all(r.ok for r in results), [(s.rule, r) for s, r in zip(der.steps, results,
                                                                      strict=True) if not r.ok]


def test_series_coefficients_closed_forms():
    c, pi = sd.c, sp.pi
    a = sd.series_coefficients(4)
    assert a[0] == 1
    assert sp.simplify(a[1] + (c**2 + pi**2) / 2) == 0
    assert sp.simplify(a[2] - (c**4 + 6 * pi**2 * c**2 + 5 * pi**4) / 8) == 0
    assert sp.simplify(a[3] + (c**6 + 15 * pi**2 * c**4 + 75 * pi**4 * c**2 + 61 * pi**6) / 48)\
        == 0


def test_series_matches_precise_values():
    """Independent numbers: the certified m at Δ = 80 divided by the leading behaviour equals
    1 + a1/Δ² + a2/Δ⁴ + a3/Δ⁶ up to the next derived term a4/Δ⁸ (which then explains ≥ 80 %
    of the residual)."""
    a = [sp.lambdify(sd.c, e, "mpmath") for e in sd.series_coefficients(5)]
    with mpmath.workdps(40):
        for w in (0.5, 0.1, 0.999):
            d = mpmath.mpf(80)
            m, _ = precise_m(w, 80.0, 40, cross_check=False)
            c = mpmath.log(mpmath.mpf(w) / (1 - mpmath.mpf(w)))
            ratio = m * d * mpmath.exp(d**2 / 8) / (mpmath.sqrt(mpmath.pi / 2)
                                                      * mpmath.exp(-c / 2))
            series = sum(a[n](c) / d ** (2 * n) for n in range(4))
            next_term = abs(a[4](c)) / d**8
            assert abs(ratio - series) < 2 * next_term
            assert abs(ratio - series - a[4](c) / d**8) < 0.2 * next_term


def test_sweep_covers_the_domain():
    w, d = bound_sweep_points(Context())
    assert w.min() <= 1e-299 and w.max() >= 1 - 1e-15
    assert d.min() == 0 and d.max() >= 999


@pytest.mark.slow
@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_full(cid):
    """Full profile: 10⁶-point sweep; Δ ladder to 200 at 50 digits (issue 8: ≤ 10 s)."""
    res = run_claim(get(cid), Context(profile="full"))
    assert res.status == "pass", (res.summary, res.counterexample)
    if cid == "rkl.drift_asymptotics":
        assert res.metrics["profile_dps"] >= 50
        assert abs(res.metrics["rate_w0.5"] + 0.125) < 1e-6
