"""``symforget sweep``: a claim's pointwise statement over a parameter box (issue 7).

Imports only the standard library at import time; NumPy, SciPy, the claims and Dask are
imported inside the command.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from .args import EXIT_FAIL, EXIT_OK, EXIT_USAGE, STATUS, int_option, output_error

__all__ = ["register"]


_DESCRIPTION = """\
Evaluate a claim at every point of a parameter box (scrambled Sobol points or a grid), in
chunks, on a local process pool or a Dask cluster, streaming one JSONL record per chunk to
--out. Re-running the same command resumes: finished chunks are skipped, none is repeated.
"""

_EPILOG = """\
box syntax (--box, comma-separated; parameters not given keep the claim's default box):
  name=lo:hi          uniform in [lo, hi]
  name=lo:hi:log      uniform in log(x)               (needs lo > 0)
  name=lo:hi:logit    uniform in log(x/(1-x))         (needs 0 < lo < hi < 1)
  name=value          fixed value
  Numbers only (e.g. 1e-6, 0.999999, -5); bounds must lie in the parameter's domain.
grid syntax (--grid): name=count,... for every free parameter, end points included, spaced
  in the axis's scale (replaces the Sobol points).

output (--out, JSONL): a header line (claim, box, points/grid, seed, dps, chunk, mutant,
version), then per chunk {"type": "chunk", "chunk", "n", "n_ok", "worst", "at", "seconds"} or,
if the kernel raised, {"type": "error", "chunk", "points", "ranges", "error", "traceback"}.
Records are fsync'ed one by one; after Ctrl-C or a kill, rerun the same command to resume
(a different sweep on the same file is refused: use a new --out or --restart). A worker that
dies is replaced and its chunks are retried (3 times). Chunks whose kernel raised keep their
error record on resume (exit code 1) unless --retry-errors is given.

Progress (points, rate, ETA) goes to stderr; the summary line (worst case over the box, where,
verdict PASS/FAIL) to stdout. Exit code 0 = PASS, 1 = FAIL or a chunk raised, 2 = usage.

examples:
  symforget sweep --list
  symforget sweep rkl.drift_bc_bound --box 'w=1e-6:0.999999:logit,delta=0:60' \\
      --points 1000000 --out drift.jsonl
  symforget sweep rkl.drift_bc_bound --grid w=50,delta=100 --out grid.jsonl
  symforget sweep rkl.drift_bc_bound --points 64 --dps 50 --out drift50.jsonl
  symforget sweep rkl.drift_bc_bound --mutant prefactor_quarter --points 4096 --out m.jsonl
  symforget sweep rkl.local_geometry --box 'alpha=0.01:0.99,delta=0:14' --scheduler \\
      tcp://127.0.0.1:8786 --points 100000 --out geom.jsonl   # needs symforget[dask]
"""


def register(sub: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add the ``sweep`` sub-command to the sub-parser collection ``sub``."""
    p = sub.add_parser("sweep", help="check a claim over a parameter box (resumable)",
                       description=_DESCRIPTION, epilog=_EPILOG, formatter_class=fmt)
    p.add_argument("claim", nargs="?", metavar="CLAIM",
                   help="claim id with a pointwise kernel (see --list)")
    p.add_argument("--list", action="store_true",
                   help="list the sweepable claims, their parameters, default boxes, mutants")
    p.add_argument("--box", metavar="SPEC", default=None,
                   help="parameter box, e.g. 'w=1e-6:0.999999:logit,delta=0:60'")
    pts = p.add_mutually_exclusive_group()
    pts.add_argument("--points", type=int_option("points", 1), default=None, metavar="N",
                     help="number of scrambled Sobol points (default 65536)")
    pts.add_argument("--grid", metavar="SPEC", default=None,
                     help="grid counts per parameter instead, e.g. 'w=50,delta=100'")
    p.add_argument("--dps", type=int_option("dps", 15, 1000), default=None, metavar="N",
                   help="evaluate each point with mpmath at N digits (15..1000) with an error "
                        "estimate; default: vectorised double precision")
    ex = p.add_mutually_exclusive_group()
    ex.add_argument("--workers", type=int_option("workers", 1), default=None, metavar="N",
                    help="local worker processes (default: os.cpu_count(); never more than "
                         "the chunks left to compute)")
    ex.add_argument("--scheduler", metavar="ADDR", default=None,
                    help="run on the Dask cluster at ADDR (e.g. tcp://host:8786)")
    p.add_argument("--chunk", type=int_option("chunk", 1), default=None, metavar="N",
                   help="points per chunk/record (default 16384; 8 with --dps)")
    p.add_argument("--seed", type=int_option("seed", 0), default=0,
                   help="seed of the Sobol scrambling (default 0)")
    p.add_argument("--mutant", metavar="NAME", default=None,
                   help="sweep the claim's registered wrong variant NAME (must FAIL)")
    p.add_argument("--out", metavar="PATH", default=None,
                   help="JSONL results file (required; resumed if it holds the same sweep)")
    p.add_argument("--restart", action="store_true",
                   help="discard the records in --out and start over")
    p.add_argument("--retry-errors", action="store_true",
                   help="when resuming, recompute the chunks whose kernel raised")
    p.set_defaults(func=_cmd_sweep)


def _err(message: str) -> None:
    STATUS.error(message, prog="symforget sweep")


def _list() -> int:
    from ..claims import pointwise

    for cid, k in pointwise.kernels().items():
        if cid.startswith("_"):
            continue
        print(f"{cid}  (metric {k.metric}; ≤ 1 where the statement holds)")
        print(f"  {k.doc}")
        for prm in k.params:
            lo, hi, scale = prm.default
            print(f"  {prm.name:<8} default {lo:g}:{hi:g}:{scale:<6} domain "
                  f"{prm.domain_text():<14} {prm.doc}")
        from .. import claims

        muts = [m for m in claims.get(cid).mutants if m not in k.not_pointwise]
        print(f"  mutants: {', '.join(muts) or '-'}")
        for m, why in k.not_pointwise.items():
            print(f"  (mutant {m} not sweepable: {why})")
    return EXIT_OK


class _Progress:
    """Points done/total, rate and ETA on stderr (a rewritten line on a terminal)."""

    def __init__(self) -> None:
        self.tty = STATUS.isatty()
        self.last = 0.0
        self.base: int | None = None

    def __call__(self, done: int, total: int, seconds: float) -> None:
        if self.base is None:  # the call before the first chunk
            self.base = done
            if done:
                STATUS.line(f"resuming: {done}/{total} points already done")
            return
        now = time.monotonic()
        if done < total and now - self.last < (0.2 if self.tty else 2.0):
            return
        self.last = now
        rate = (done - self.base) / seconds if seconds > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("inf")
        eta_s = "?" if eta == float("inf") else time.strftime("%H:%M:%S", time.gmtime(eta))
        STATUS.transient(f"{done}/{total} points ({100.0 * done / max(total, 1):.1f} %), "
                         f"{rate:,.0f} points/s, ETA {eta_s}")

    def close(self) -> None:
        STATUS.end_transient(keep=True)  # the last progress line stays on screen


def _cmd_sweep(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if args.claim is None:
        _err("CLAIM is required (see 'symforget sweep --list')")
        return EXIT_USAGE
    if args.out is None:
        _err("--out PATH is required (the JSONL results file)")
        return EXIT_USAGE
    message = output_error("--out", args.out, "append")
    if message is not None:
        _err(message)
        return EXIT_USAGE
    from ..errors import ParameterError
    from ..runners import sweep

    try:
        spec = sweep.make_spec(args.claim, args.box, points=args.points, grid=args.grid,
                               seed=args.seed, dps=args.dps, chunk=args.chunk,
                               mutant=args.mutant)
    except ParameterError as exc:
        _err(str(exc))
        return EXIT_USAGE
    executor = client = None
    if args.scheduler is not None:
        try:
            client = sweep.dask_client(args.scheduler)
        except sweep.SweepError as exc:
            _err(str(exc))
            return EXIT_USAGE
        executor = client.get_executor(pure=False)
    box = ", ".join(f"{a.name}={a.lo:g}:{a.hi:g}:{a.scale}" for a in spec.axes)
    cpus = os.cpu_count() or 1
    if executor is None and args.workers is not None and args.workers > cpus:
        STATUS.warning(f"--workers {args.workers} is more than the {cpus} CPU(s) of this "
                       "machine; the workers will compete for them", prog="symforget sweep")
    workers = sweep.pool_size(args.workers, spec.n_chunks)
    where = f"Dask at {args.scheduler}" if executor else f"up to {workers} local worker(s)"
    STATUS.line(f"sweep {spec.claim}{f' (mutant {spec.mutant})' if spec.mutant else ''}: "
          f"{spec.n_points} points in {spec.n_chunks} chunk(s) of {spec.chunk}, box {box}, "
          f"{'dps ' + str(spec.dps) if spec.dps else 'double precision'}, on {where}")
    progress = _Progress()
    try:
        summary = sweep.run_sweep(spec, args.out, executor=executor, workers=args.workers,
                                  restart=args.restart, retry_errors=args.retry_errors,
                                  progress=progress)
    except sweep.SweepError as exc:
        progress.close()
        _err(str(exc))
        return EXIT_USAGE
    except OSError as exc:  # e.g. --out is a directory, or the disk is full
        progress.close()
        _err(f"--out {args.out}: cannot write ({exc.strerror or exc})")
        return EXIT_USAGE
    except KeyboardInterrupt:
        progress.close()
        _err(f"interrupted; the finished chunks are in {args.out}: rerun the same command "
             "to resume")
        return 130
    finally:
        if client is not None:
            client.close()
    progress.close()
    for e in summary.errors:
        ranges = ", ".join(f"{k}∈[{lo:.6g}, {hi:.6g}]" for k, (lo, hi) in e["ranges"].items())
        print(f"ERROR chunk {e['chunk']} (points {e['points'][0]}..{e['points'][1] - 1}"
              f"{'; ' + ranges if ranges else ''}): {e['error']}")
    print(summary.line())
    return EXIT_OK if summary.ok else EXIT_FAIL
