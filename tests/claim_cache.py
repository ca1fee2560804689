"""Shared, per-session cache of quick-profile claim results for the claim test files.

Each claim's quick check runs once per test session however many files assert on its evidence.
(pytest puts this directory on ``sys.path``, so test files import it as ``claim_cache``.)
"""

from __future__ import annotations

from functools import cache

from symforget.claims import ClaimResult, Context, get, run_claim


@cache
def quick(cid: str) -> ClaimResult:
    """The quick-profile result of claim ``cid`` (seed 0), computed once per session."""
    return run_claim(get(cid), Context(profile="quick"))
