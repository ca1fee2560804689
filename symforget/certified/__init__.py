r"""Certified verification with ball arithmetic (issue 16): proofs over whole parameter boxes.

A claim's *margin* (≥ 0 exactly where the claim holds) is enclosed rigorously over a cell of a
parameter box with Arb balls (``python-flint``); branch and bound splits the cells that cannot
be decided; points where a bound is attained are covered by certified local arguments; an
unbounded direction is closed by a proved asymptotic bound. The result is a JSON certificate
that :mod:`symforget.certified.check` re-verifies independently (it shares no code with the
prover beyond python-flint).

Light on import: python-flint and the prover load on first use.

>>> from symforget import certified
>>> "rkl.drift_bc_bound" in certified.list_certifiable()
True
"""

from __future__ import annotations

from typing import Any

__all__ = ["prove", "check_certificate", "list_certifiable", "Certificate", "misassignment"]


def list_certifiable() -> dict[str, dict[str, Any]]:
    """The certifiable claims: ``{id: {"box": {name: [lo, hi]}, "mutants": [...],
    "method": ...}}`` (exact rationals as strings).

    Examples
    --------
    >>> from symforget import certified
    >>> claims = certified.list_certifiable()
    >>> claims["rkl.drift_bc_bound"]["box"]
    {'w': ['0.000001', '0.999999'], 'delta': ['0', '60']}
    >>> "prefactor_quarter" in claims["rkl.drift_bc_bound"]["mutants"]
    True
    """
    from .prover import frac_str
    from .statements import CERTIFIABLE

    return {cid: {"box": {a.name: [frac_str(a.lo), frac_str(a.hi)] for a in c.axes},
                  "mutants": list(c.mutants), "statement": c.statement, "method": c.method,
                  "strict": c.strict}
            for cid, c in CERTIFIABLE.items()}


def __getattr__(name: str) -> Any:
    if name in ("prove", "Certificate"):
        from . import prover

        return getattr(prover, name)
    if name == "misassignment":
        from .values import misassignment

        return misassignment
    if name == "check_certificate":
        from .check import check_certificate

        return check_certificate
    raise AttributeError(f"module 'symforget.certified' has no attribute {name!r}")
