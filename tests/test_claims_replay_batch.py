"""Claims replay.rkl_unbiased, replay.rkl_weight_bound, replay.starvation: claim-specific
evidence, numeric rejection of mutants, derivations, determinism (pass / every-mutant-rejected
for all claims is in test_claims_all.py). Cost: ~5 s."""

from __future__ import annotations

import pytest
import sympy as sp
from claim_cache import quick as _quick

from symforget.claims import Context, registry
from symforget.symbolic import replay_rkl as R

IDS = ("replay.rkl_unbiased", "replay.rkl_weight_bound", "replay.starvation")


def test_registry_order() -> None:
    ids = list(registry())
    pos = [ids.index(c) for c in IDS]
    assert pos == sorted(pos) and ids.index("replay.fkl_iw_no_effect") < pos[0]


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_quick(cid: str) -> None:
    res = _quick(cid)
    assert res.status == "pass", res.counterexample or res.summary
    assert res.metrics["symbolic_derivation"] is True


def test_evidence() -> None:
    m = _quick("replay.rkl_unbiased").metrics
    assert m["max_z_score"] <= 4 and m["quadrature_rel_err"] <= 1e-7
    m = _quick("replay.rkl_weight_bound").metrics
    assert m["max_log_weight_excess"] <= 1e-12
    assert m["second_moment_ratio_over_bound_quadrature"] <= 1 + 1e-9
    m = _quick("replay.starvation").metrics
    assert m["starvation_in_wilson_ci"] is True and m["exact_binomial_error"] <= 1e-12


def test_unweighted_estimator_rejected_numerically() -> None:
    ev = registry()["replay.rkl_unbiased"].check(Context(), importance=False)
    assert ev.metrics["max_z_score"] > 4 and ev.metrics["quadrature_rel_err"] > 1e-3


def test_deterministic() -> None:
    a = registry()["replay.starvation"].check(Context(seed=5))
    b = registry()["replay.starvation"].check(Context(seed=5))
    assert a.metrics == b.metrics


def test_mutant_numeric_rejection_independent_of_symbolic() -> None:
    """The Monte Carlo / exact checks alone reject the factorised starvation formula."""
    ev = registry()["replay.starvation"].check(
        Context(), starve=(1 - R.rho) ** R.batch * (1 - R.w))
    assert ev.metrics["starvation_in_wilson_ci"] is False
    assert ev.metrics["exact_binomial_error"] > 1e-3
    ev = registry()["replay.rkl_weight_bound"].check(Context(), bound=sp.Integer(1))
    assert ev.metrics["max_log_weight_excess"] > 0.1


def test_derivations_check() -> None:
    for d in (R.unbiased_derivation(), R.weight_bound_derivation(), R.starvation_derivation()):
        assert d.ok
    assert not R.weight_bound_derivation(1 - R.rho).ok
    assert not R.starvation_derivation((1 - R.rho) ** R.batch * (1 - R.w)).ok


def test_starvation_closed_form_values() -> None:
    """Hand values: w = 0.1, ρ = 0.5, B = 2 → (0.45)² = 0.2025; on-policy 0.81; E = 2·0.55."""
    vals = {R.w: sp.Rational(1, 10), R.rho: sp.Rational(1, 2), R.batch: 2}
    assert R.STARVE_REPLAY.subs(vals) == sp.Rational(81, 400)
    assert R.STARVE_ON.subs(vals) == sp.Rational(81, 100)
    assert R.EXPECTED_OLD.subs(vals) == sp.Rational(11, 10)
