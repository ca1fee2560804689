"""Claims replay.fkl_optimum and replay.fkl_iw_no_effect: pass, mutants rejected, derivations.

Cost: ~25 s (each check ~2–3 s in the quick profile; each mutant runs the full check).
"""

from __future__ import annotations

import pytest
import sympy as sp
from claim_cache import quick as _quick

from symforget.claims import Context
from symforget.claims import replay as crep
from symforget.symbolic import replay as srep
from symforget.symbolic.mixture import fkl_grad_spec, fkl_iw_grad_spec
from symforget.symbolic.symbols import alpha, rho

IDS = ("replay.fkl_optimum", "replay.fkl_iw_no_effect")


@pytest.mark.parametrize("cid", IDS)
def test_claim_passes_quick(cid: str) -> None:
    res = _quick(cid)
    assert res.status == "pass", res.counterexample or res.summary
    assert res.metrics["symbolic_derivation"] is True


def test_fkl_optimum_evidence() -> None:
    m = _quick("replay.fkl_optimum").metrics
    assert m["alpha_absent_from_fkl"] is True
    assert m["sign_mismatches"] == 0
    assert m["min_grad_no_replay"] > 0  # λ = 0: minimiser at the boundary w = 0
    assert m["max_em_final_dist"] <= 1e-8


def test_fkl_iw_evidence() -> None:
    m = _quick("replay.fkl_iw_no_effect").metrics
    assert m["max_rel_diff_iw_vs_reference"] <= 1e-11
    assert m["min_iw_grad_w"] > 0


def test_iw_check_rejects_unknown_reference() -> None:
    with pytest.raises(ValueError, match="reference"):
        crep.check_fkl_iw_no_effect(Context(), reference="old")
    with pytest.raises(ValueError, match="reference"):
        srep.fkl_iw_derivation("old")  # type: ignore[arg-type]


# --- derivations -----------------------------------------------------------------------------

def test_fkl_optimum_derivation_checks() -> None:
    der = srep.fkl_optimum_derivation()
    results = der.check()
    assert all(r.ok for r in results)
    assert all(r.method == "simplify" for s, r in zip(der.steps, results, strict=True)
               if s.kind == "eq")
    assert der.result == rho


@pytest.mark.parametrize("w_opt", [rho / 2, rho**2, alpha])
def test_fkl_optimum_derivation_rejects_wrong_minimiser(w_opt: sp.Expr) -> None:
    der = srep.fkl_optimum_derivation(w_opt)
    failed = [s.rule for s, r in zip(der.steps, der.check(), strict=True) if not r.ok]
    assert failed == ["substitute", "substitute", "EM fixed point"]


def test_fkl_iw_derivation_checks_against_model_integrand() -> None:
    der = srep.fkl_iw_derivation()
    results = der.check()
    assert all(r.ok for r in results)
    model_step = [r for s, r in zip(der.steps, results, strict=True)
                  if s.rule == "model integrand"]
    assert model_step and model_step[0].method == "numeric-50"


def test_fkl_iw_derivation_rejects_unweighted_reference() -> None:
    der = srep.fkl_iw_derivation("train")
    failed = [s.rule for s, r in zip(der.steps, der.check(), strict=True) if not r.ok]
    assert failed == ["importance weight", "model integrand"]


def test_alpha_is_not_a_symbol_of_the_forward_kl() -> None:
    syms = crep._spec_symbols(fkl_grad_spec(), fkl_iw_grad_spec())
    assert rho in syms
    assert alpha not in syms


# --- the independent reference route itself --------------------------------------------------

def test_reference_fkl_gradient_vanishes_at_replay_fraction() -> None:
    # q = P_train at w = λ with the means correct: ∂_w L_F = −∫(φo − φn) = 0
    assert abs(crep._ref_fkl_dw(0.25, 0.0, 3.0, 3.0, 0.0, 0.25)) < 1e-13
    assert crep._ref_fkl_dw(0.4, 0.0, 3.0, 3.0, 0.0, 0.25) > 0
    assert crep._ref_fkl_dw(0.1, 0.0, 3.0, 3.0, 0.0, 0.25) < 0
