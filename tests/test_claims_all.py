"""Every registered claim, generically: it passes in the quick profile, it has at least one
mutant (a deliberately wrong statement), and the same checking machinery rejects every mutant
with status ``fail`` — not ``error``, and with a counterexample. New claims are covered
automatically; the family test files assert on each claim's specific evidence."""

from __future__ import annotations

import pytest
from claim_cache import quick

from symforget.claims import Context, registry, run_claim

CLAIMS = list(registry())
MUTANTS = [(cid, name) for cid, claim in registry().items() for name in claim.mutants]


@pytest.mark.parametrize("cid", CLAIMS)
def test_claim_passes_quick(cid: str) -> None:
    res = quick(cid)
    assert res.status == "pass", (res.summary, res.counterexample)
    assert res.metrics, "a passing claim must report its evidence"


@pytest.mark.parametrize("cid", CLAIMS)
def test_claim_has_a_wrong_variant(cid: str) -> None:
    claim = registry()[cid]
    assert claim.mutants, f"{cid} has no mutant: nothing shows its check can fail"
    assert claim.statement and claim.derivations() is not None


@pytest.mark.parametrize(("cid", "name"), MUTANTS)
def test_mutant_rejected(cid: str, name: str) -> None:
    claim = registry()[cid]
    res = run_claim(claim, Context(profile="quick"), **claim.mutants[name])
    assert res.status == "fail", (name, res.status, res.summary)
    assert res.counterexample
