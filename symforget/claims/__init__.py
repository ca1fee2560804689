"""The claims registry and :func:`verify`.

``registry()`` returns every registered claim in a stable order (CLAIMS.md order); claim
modules register themselves on import. ``verify(ids, profile)`` runs the checks.
"""

from __future__ import annotations

import importlib
import numbers
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ParameterError, UnknownClaimError
from .base import Checks, Claim, ClaimResult, Context, Evidence, fit_line

__all__ = [
    "Checks", "Claim", "ClaimResult", "Context", "Evidence", "fit_line",
    "register", "registry", "get", "select", "verify", "VerifyReport", "PROFILES", "DPS_RANGE",
]

PROFILES = ("quick", "full")
#: mpmath working precision accepted by :func:`verify` (digits; the CLI's ``--dps`` range)
DPS_RANGE = (20, 1000)

#: claim modules, in CLAIMS.md order
_MODULES = ("gauss", "dimension", "fkl", "rkl", "drift_flow", "drift", "geometry", "replay",
            "replay_batch", "sdft", "tttd", "oapl", "beyond")
_REGISTRY: dict[str, Claim] = {}
_LOADED = False


def register(claim: Claim) -> Claim:
    """Add a claim (ids are unique).

    Examples
    --------
    Registering the same claim again is a no-op; another claim under a taken id is refused:

    >>> import dataclasses
    >>> from symforget import claims
    >>> c = claims.get("fkl.em_identity")
    >>> claims.register(c) is c
    True
    >>> claims.register(dataclasses.replace(c, statement="something else"))
    Traceback (most recent call last):
    ...
    ValueError: claim id 'fkl.em_identity' registered twice
    """
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
    happened to import first (sorted stably by module, then registration order).

    Examples
    --------
    >>> from symforget import claims
    >>> next(iter(claims.registry()))
    'gauss.closed_forms'
    """
    _load()
    ordered = sorted(_REGISTRY.values(), key=_order)  # stable: keeps order within a module
    return {c.id: c for c in ordered}


def get(claim_id: str) -> Claim:
    """One claim; an unknown id raises :class:`UnknownClaimError` listing the known ones.

    Examples
    --------
    >>> from symforget import claims
    >>> claims.get("fkl.em_identity").id
    'fkl.em_identity'
    """
    reg = registry()
    if claim_id not in reg:
        raise UnknownClaimError(
            f"unknown claim id {claim_id!r}; known ids: {', '.join(reg)} "
            "(run 'symforget list')")
    return reg[claim_id]


def _id_list(ids: str | Iterable[str] | None) -> list[str] | None:
    """``ids`` as a list of strings: a single string is one id (not its characters)."""
    if ids is None:
        return None
    if isinstance(ids, str):
        return [ids]
    try:
        out = list(ids)
    except TypeError:
        raise ParameterError(f"ids={ids!r} must be a claim id, a family, or a list of them "
                             "(e.g. 'fkl.em_identity', ['gauss', 'rkl'])") from None
    for cid in out:
        if not isinstance(cid, str):
            raise ParameterError(f"ids: {cid!r} is not a claim id (a string such as "
                                 "'fkl.em_identity' or a family such as 'fkl')")
    return out


def select(ids: str | Iterable[str] | None) -> list[Claim]:
    """Claims for ``ids`` (all if None or empty): a claim id, a family prefix such as ``fkl``,
    or a list of them. Unknown ids raise :class:`UnknownClaimError`, ids that are not strings
    :class:`~symforget.errors.ParameterError`.

    Examples
    --------
    >>> from symforget import claims
    >>> [c.id for c in claims.select(["rkl.global_optimum", "fkl.em_identity"])]
    ['rkl.global_optimum', 'fkl.em_identity']
    >>> [c.id for c in claims.select("gauss")]
    ['gauss.closed_forms', 'gauss.dimension_reduction']
    """
    reg = registry()
    id_list = _id_list(ids)
    if not id_list:
        return list(reg.values())
    out: list[Claim] = []
    for cid in id_list:
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
    """Results of a verification run: a sequence of :class:`ClaimResult` in run order
    (``len(report)``, ``for r in report``, ``report[0]``) that can also be indexed by claim id
    (``report["gauss.closed_forms"]``). ``complete`` is False for a run that was interrupted
    (``results`` then holds the claims finished before the interruption).

    Examples
    --------
    >>> import symforget as sf
    >>> report = sf.verify(["replay.starvation", "gauss.closed_forms"])
    >>> report.ok, report.complete, len(report), [r.id for r in report]
    (True, True, 2, ['replay.starvation', 'gauss.closed_forms'])
    >>> report["gauss.closed_forms"].status, report[0].id
    ('pass', 'replay.starvation')
    >>> report.context
    Context(profile='quick', seed=0, dps=30)
    """

    results: list[ClaimResult]
    context: Context
    environment: dict[str, Any] = field(default_factory=dict)
    complete: bool = True

    @property
    def ok(self) -> bool:
        """True iff every selected claim ran and passed."""
        return self.complete and all(r.ok for r in self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[ClaimResult]:
        return iter(self.results)

    def __getitem__(self, key: str | int) -> ClaimResult:
        """The result of claim id ``key`` (KeyError if it was not run), or the ``key``-th."""
        if isinstance(key, str):
            for r in self.results:
                if r.id == key:
                    return r
            raise KeyError(key)
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            return self.results[int(key)]
        raise TypeError(f"VerifyReport indices are claim ids or integers, not "
                        f"{type(key).__name__}")

    def to_json(self) -> dict[str, Any]:
        """``{"claims": [...], "environment": {...}, "profile", "seed", "dps", "ok",
        "complete"}``."""
        return {
            "claims": [r.to_json() for r in self.results],
            "environment": self.environment,
            "profile": self.context.profile,
            "seed": self.context.seed,
            "dps": self.context.dps,
            "ok": self.ok,
            "complete": self.complete,
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


def _integer(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi] (the CLI's wording); bools, floats and strings refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name}={value!r} must be an integer")
    v = int(value)
    if hi is None and v < lo:
        raise ParameterError(f"{name}={v} must be >= {lo}")
    if hi is not None and not lo <= v <= hi:
        raise ParameterError(f"{name}={v} must lie in [{lo}, {hi}]")
    return v


def verify(
    ids: str | Iterable[str] | None = None,
    profile: str = "quick",
    *,
    seed: int = 0,
    dps: int = 30,
    progress: Callable[[int, int, Claim, ClaimResult | None], None] | None = None,
) -> VerifyReport:
    """Verify the selected claims (all by default) — the checks of ``symforget verify``.

    ``ids``: a claim id or family (``"gauss.closed_forms"``, ``"fkl"``) or a list of them.
    ``profile`` is one of :data:`PROFILES`, ``seed`` an integer >= 0 and ``dps`` an integer in
    :data:`DPS_RANGE`, as on the command line; anything else raises
    :class:`~symforget.errors.ParameterError` naming the parameter (before any check runs).
    ``progress(i, n, claim, result)`` is called before (result None) and after each claim.

    Examples
    --------
    >>> import symforget as sf
    >>> report = sf.verify("replay.starvation")
    >>> report.ok, report["replay.starvation"].status, len(report)
    (True, 'pass', 1)
    """
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ParameterError(f"profile={profile!r} must be one of {', '.join(PROFILES)}")
    seed = _integer("seed", seed, 0)
    dps = _integer("dps", dps, *DPS_RANGE)
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
