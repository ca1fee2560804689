"""The claims registry and :func:`verify`.

``registry()`` returns every registered claim in a stable order (CLAIMS.md order); claim
modules register themselves on import. ``verify(ids, profile)`` runs the checks.
"""

from __future__ import annotations

import importlib
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UnknownClaimError
from .base import Checks, Claim, ClaimResult, Context, Evidence, fit_line

__all__ = [
    "Checks", "Claim", "ClaimResult", "Context", "Evidence", "fit_line",
    "register", "registry", "get", "verify", "VerifyReport", "PROFILES",
]

PROFILES = ("quick", "full")

#: claim modules, in CLAIMS.md order
_MODULES = ("gauss", "dimension", "fkl", "rkl", "drift_flow", "drift", "geometry", "replay",
            "replay_batch", "sdft", "tttd", "oapl")
_REGISTRY: dict[str, Claim] = {}
_LOADED = False


def register(claim: Claim) -> Claim:
    """Add a claim (ids are unique)."""
    if claim.id in _REGISTRY and _REGISTRY[claim.id] is not claim:
        raise ValueError(f"claim id {claim.id!r} registered twice")
    _REGISTRY[claim.id] = claim
    return claim


def _load() -> None:
    global _LOADED
    if not _LOADED:
        for mod in _MODULES:
            importlib.import_module(f"{__name__}.{mod}")
        _LOADED = True


def _order(claim: Claim) -> int:
    """Position of the claim's module in :data:`_MODULES` (CLAIMS.md order)."""
    mod = claim.check.__module__.rsplit(".", 1)[-1]
    return _MODULES.index(mod) if mod in _MODULES else len(_MODULES)


def registry() -> dict[str, Claim]:
    """All claims by id, in CLAIMS.md order — independent of which claim module a caller
    happened to import first (sorted stably by module, then registration order)."""
    _load()
    ordered = sorted(_REGISTRY.values(), key=_order)  # stable: keeps order within a module
    return {c.id: c for c in ordered}


def get(claim_id: str) -> Claim:
    """One claim; an unknown id raises :class:`UnknownClaimError` listing the known ones."""
    reg = registry()
    if claim_id not in reg:
        raise UnknownClaimError(
            f"unknown claim id {claim_id!r}; known ids: {', '.join(reg)} "
            "(run 'symforget list')")
    return reg[claim_id]


def select(ids: Iterable[str] | None) -> list[Claim]:
    """Claims for ``ids`` (all if None). An id may also be a family prefix such as ``fkl``."""
    reg = registry()
    if not ids:
        return list(reg.values())
    out: list[Claim] = []
    for cid in ids:
        if cid in reg:
            found = [reg[cid]]
        else:
            found = [c for c in reg.values() if c.family == cid]
            if not found:
                get(cid)  # raises with the list of known ids
        for c in found:
            if c not in out:
                out.append(c)
    return out


def environment() -> dict[str, Any]:
    """Versions and machine, for reports."""
    import mpmath
    import numpy
    import scipy
    import sympy

    from .. import __version__

    return {
        "symforget": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "sympy": sympy.__version__,
        "mpmath": mpmath.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


@dataclass
class VerifyReport:
    """Results of a verification run."""

    results: list[ClaimResult]
    context: Context
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True iff every selected claim passed."""
        return all(r.ok for r in self.results)

    def __getitem__(self, claim_id: str) -> ClaimResult:
        for r in self.results:
            if r.id == claim_id:
                return r
        raise KeyError(claim_id)

    def to_json(self) -> dict[str, Any]:
        """``{"claims": [...], "environment": {...}, "profile", "seed", "dps", "ok"}``."""
        return {
            "claims": [r.to_json() for r in self.results],
            "environment": self.environment,
            "profile": self.context.profile,
            "seed": self.context.seed,
            "dps": self.context.dps,
            "ok": self.ok,
        }


def run_claim(claim: Claim, ctx: Context, **variant: Any) -> ClaimResult:
    """Run one check; exceptions become status ``error`` with the message, never a pass."""
    t0 = time.perf_counter()
    try:
        ev = claim.check(ctx, **variant)
    except Exception as exc:
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return ClaimResult(claim.id, "error", claim.statement, {}, time.perf_counter() - t0,
                           summary=tb, counterexample=None)
    status = "pass" if ev.ok else "fail"
    return ClaimResult(claim.id, status, claim.statement, ev.metrics,
                       time.perf_counter() - t0, ev.summary, ev.counterexample)


def verify(
    ids: Iterable[str] | None = None,
    profile: str = "quick",
    *,
    seed: int = 0,
    dps: int = 30,
    progress: Callable[[int, int, Claim, ClaimResult | None], None] | None = None,
) -> VerifyReport:
    """Verify the selected claims (all by default).

    ``progress(i, n, claim, result)`` is called before (result None) and after each claim.
    """
    if profile not in PROFILES:
        from ..errors import ParameterError

        raise ParameterError(f"profile={profile!r} must be one of {', '.join(PROFILES)}")
    ctx = Context(profile=profile, seed=seed, dps=dps)
    claims = select(ids)
    results: list[ClaimResult] = []
    for i, claim in enumerate(claims):
        if progress:
            progress(i, len(claims), claim, None)
        res = run_claim(claim, ctx)
        results.append(res)
        if progress:
            progress(i, len(claims), claim, res)
    return VerifyReport(results, ctx, environment())
