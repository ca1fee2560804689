"""``symforget prove`` and ``symforget check``: certified verification with ball arithmetic
(issue 16).

Imports only the standard library at import time; python-flint, the prover and the sweep
runner's box parser and executors are imported inside the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from .args import EXIT_FAIL, EXIT_OK, EXIT_USAGE, STATUS, int_option, output_error

__all__ = ["register", "EXIT_UNDECIDED"]

#: the cell budget ran out before the box was decided (neither certified nor refuted)
EXIT_UNDECIDED = 3

_DESCRIPTION = """\
Certify a claim over a parameter box with ball arithmetic (Arb, via python-flint): the box is
split into cells until the rigorous enclosure of the claim's margin over every cell is >= 0
(> 0 for strict claims), points where the bound is attained are covered by certified local
arguments, and an unbounded direction is closed by a proved asymptotic bound. The certificate
(--out, JSON) lists every cell with exact rational end points and its enclosed margin;
'symforget check CERT.json' re-verifies it independently.
"""

_EPILOG = """\
box syntax (--box, as for 'symforget sweep'; parameters not given keep the claim's default
box): name=lo:hi or name=value, plain numbers (decimals are taken exactly: 0.1 is 1/10).
A scale suffix (:log, :logit) is accepted and ignored (cells are bisected linearly).

Exit code 0 = certified, 1 = a counterexample (a cell or point whose margin enclosure is < 0,
printed), 2 = usage, 3 = undecided (the --max-cells budget ran out). Progress on stderr.
Resumable: the state is kept in CERT.json.partial after every round; rerun the same command
to continue (--restart discards it).

examples:
  symforget prove --list
  symforget prove rkl.drift_bc_bound --out drift.cert.json
  symforget check drift.cert.json
  symforget prove rkl.drift_bc_bound --box 'w=0.2:0.8,delta=0:5' --out small.json
  symforget prove rkl.drift_bc_bound --mutant prefactor_quarter      # exit 1
  symforget prove rkl.local_geometry --workers 2 --out geom.cert.json
"""


def register(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``prove`` and ``check`` sub-commands to ``sub``."""
    p = sub.add_parser("prove", help="certify a claim over a box (ball arithmetic)",
                       description=_DESCRIPTION, epilog=_EPILOG, formatter_class=fmt)
    p.add_argument("claim", nargs="?", metavar="CLAIM", help="certifiable claim id (--list)")
    p.add_argument("--list", action="store_true",
                   help="list the certifiable claims with their default boxes and mutants")
    p.add_argument("--box", metavar="SPEC", default=None,
                   help="parameter box, e.g. 'w=0.000001:0.999999,delta=0:60'")
    p.add_argument("--out", metavar="CERT.json", default=None,
                   help="write the certificate (atomically) to this file")
    p.add_argument("--mutant", metavar="NAME", default=None,
                   help="try to certify the claim's wrong variant NAME (must fail: exit 1)")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int_option("workers", 1), default=1, metavar="N",
                    help="local worker processes (default 1: in this process)")
    ex.add_argument("--scheduler", metavar="ADDR", default=None,
                    help="evaluate the cells on the Dask cluster at ADDR")
    p.add_argument("--max-cells", type=int_option("max-cells", 1), default=None, metavar="N",
                   help="budget of cell enclosures (default 2e6); exhausted: exit 3")
    p.add_argument("--restart", action="store_true",
                   help="discard a saved proof state (CERT.json.partial) and start over")
    p.set_defaults(func=_cmd_prove)

    c = sub.add_parser("check", help="re-verify a certificate independently",
                       description="Re-verify a certificate written by 'symforget prove': "
                                   "re-enclose every cell's margin with formulas written "
                                   "again (no code shared with the prover beyond "
                                   "python-flint), confirm the cells cover the box exactly "
                                   "and re-check the local arguments. Exit 0 = valid, "
                                   "1 = rejected, 2 = usage (unreadable file).",
                       formatter_class=fmt)
    c.add_argument("cert", metavar="CERT.json", help="the certificate")
    c.set_defaults(func=_cmd_check)


def _err(message: str, prog: str = "symforget prove") -> None:
    STATUS.error(message, prog=prog)


def _list() -> int:
    from ..certified import list_certifiable

    for cid, info in list_certifiable().items():
        box = ", ".join(f"{k}={lo}:{hi}" for k, (lo, hi) in info["box"].items())
        print(f"{cid}{'  (strict)' if info['strict'] else ''}")
        print(f"  {info['statement']}")
        print(f"  default box: {box}")
        print(f"  method: {info['method']}")
        print(f"  mutants: {', '.join(info['mutants']) or '-'}")
    return EXIT_OK


def _parse_box(claim: str, text: str | None) -> dict[str, tuple[Any, Any]]:
    """The sweep runner's box parser on a kernel-shaped view of the certifiable claim; floats
    come back exactly as the decimals typed (shortest repr round trip)."""
    from fractions import Fraction

    from ..certified.statements import get
    from ..claims.pointwise import Param
    from ..runners import sweep

    c = get(claim)
    params = tuple(Param(a.name, (float(a.lo), float(a.hi), "lin"),
                         (float(a.domain[0]), float(a.domain[1])), a.open_lo, a.open_hi,
                         a.doc) for a in c.axes)

    class _View:
        names = c.names

    view = _View()
    view.claim = claim  # type: ignore[attr-defined]
    view.params = params  # type: ignore[attr-defined]
    axes = sweep.parse_box(text, view)  # type: ignore[arg-type]
    default = c.default_box()
    given = {name for name, _ in sweep._items(text or "", "--box")}
    return {a.name: ((Fraction(repr(a.lo)), Fraction(repr(a.hi))) if a.name in given
                     else default[a.name]) for a in axes}


def _cmd_prove(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if args.claim is None:
        _err("CLAIM is required (see 'symforget prove --list')")
        return EXIT_USAGE
    message = output_error("--out", args.out, "file")
    if message is not None:
        _err(message)
        return EXIT_USAGE
    from ..certified import prover
    from ..errors import ParameterError

    try:
        box = _parse_box(args.claim, args.box)
    except ParameterError as exc:
        _err(str(exc))
        return EXIT_USAGE
    state = None if args.out is None else f"{args.out}.partial"
    if state is not None and args.restart and os.path.exists(state):
        os.unlink(state)
    executor: Any = None
    client = None
    from ..runners import sweep

    try:
        if args.scheduler is not None:
            client = sweep.dask_client(args.scheduler)
            executor = client.get_executor(pure=False)
        elif args.workers > 1:
            executor = sweep._pool(sweep.pool_size(args.workers, args.workers), -1)
    except sweep.SweepError as exc:
        _err(str(exc))
        return EXIT_USAGE
    last = [0.0]

    def progress(done: int, pending: int, evaluations: int, seconds: float) -> None:
        now = time.monotonic()
        if pending and now - last[0] < (0.2 if STATUS.isatty() else 2.0):
            return
        last[0] = now
        STATUS.transient(f"{done} cells certified, {pending} pending, {evaluations} "
                         f"enclosures, {seconds:.1f} s")

    box_text = ", ".join(f"{k}=[{prover.frac_str(lo)}, {prover.frac_str(hi)}]"
                         for k, (lo, hi) in box.items())
    STATUS.line(f"prove {args.claim}{f' (mutant {args.mutant})' if args.mutant else ''}: "
                f"box {box_text}")
    kwargs: dict[str, Any] = {}
    if args.max_cells is not None:
        kwargs["max_cells"] = args.max_cells
    try:
        cert = prover.prove(args.claim, box, args.mutant, progress=progress,
                            executor=executor, state_path=state, **kwargs)
    except (ParameterError, prover.ProofError) as exc:
        STATUS.end_transient()
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        STATUS.end_transient()
        _err("interrupted" + (f"; the state is in {state}: rerun to resume" if state else ""))
        return 130
    finally:
        if client is not None:
            client.close()
        if executor is not None and client is None:
            executor.shutdown()
    STATUS.end_transient(keep=True)
    for loc in cert.local:
        mark = "ok" if loc.ok else ("REFUTED" if loc.refuted else "not established")
        print(f"  local {loc.name}: {mark} — {loc.detail}")
    if args.out is not None:
        try:
            cert.write(args.out)
        except OSError as exc:
            _err(f"--out {args.out}: cannot write ({exc.strerror or exc})")
            return EXIT_USAGE
    if cert.status == "refuted":
        ce = cert.counterexample or {}
        print(f"COUNTEREXAMPLE at {json.dumps(ce.get('where'), ensure_ascii=False)}: "
              f"{ce.get('argument')} enclosure {json.dumps(ce.get('margin'))} < 0")
    print(cert.summary().split("; counterexample")[0])
    return {"certified": EXIT_OK, "refuted": EXIT_FAIL}.get(cert.status, EXIT_UNDECIDED)


def _cmd_check(args: argparse.Namespace) -> int:
    from ..certified import check

    return check.main([args.cert])
