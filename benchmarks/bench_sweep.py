"""Throughput of ``symforget sweep`` on a local process pool and on a local Dask cluster.

Run: ``python benchmarks/bench_sweep.py [N] [--workers W] [--chunk C]`` (defaults N = 10⁶,
W = 2, C = 16384; needs the ``dask`` extra). Writes ``benchmarks/results/sweep.{json,md}``.

The sweep: ``rkl.drift_bc_bound`` (m(w,Δ) ≤ ½√((1−w)/w)e^{−Δ²/8}) in double precision on the
default box w ∈ [1e-6, 1 − 1e-6] (logit-uniform), Δ ∈ [0, 60], N scrambled Sobol points,
seed 0. Runs, each writing its own JSONL file:

* ``serial``: the chunks one after another in this process (no executor; the kernel's cost);
* ``process_pool``: :func:`symforget.runners.sweep.run_sweep` with its own ProcessPoolExecutor of W
  workers (the CLI default);
* ``dask_processes``: a ``distributed.LocalCluster`` with W worker processes (1 thread each),
  through ``Client.get_executor()`` — what ``--scheduler ADDR`` does;
* ``dask_threads``: ``LocalCluster(processes=False)`` with W threads.

Reported per run: wall seconds including executor start-up (the Dask cluster's start-up is
reported separately), points/s, the steady rate after the first record (worker start-up and
compilation excluded), and the sum of per-chunk kernel seconds. The runs must give
identical records (timings aside), hence the same worst case and location.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from symforget import __version__
from symforget.runners import sweep

RESULTS = Path(__file__).resolve().parent / "results"
CLAIM = "rkl.drift_bc_bound"


def _records(path: Path) -> set[str]:
    _, recs = sweep.read_sweep(path)
    return {json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True)
            for r in recs}


def _run(name: str, spec: sweep.SweepSpec, out: Path, **kw) -> dict:
    first: list[tuple[int, float]] = []

    def progress(done: int, total: int, seconds: float) -> None:
        if not first and seconds > 0:
            first.append((done, seconds))

    t0 = time.perf_counter()
    summ = sweep.run_sweep(spec, out, restart=True, progress=progress, **kw)
    wall = time.perf_counter() - t0
    n0, t1 = first[0]
    steady = (spec.n_points - n0) / max(wall - t1, 1e-9)
    print(f"{name:15s} {wall:7.2f} s  {spec.n_points / wall:12,.0f} points/s  steady "
          f"{steady:12,.0f} points/s  {summ.line()}", file=sys.stderr)
    return {"wall_s": wall, "points_per_s": spec.n_points / wall,
            "first_record_s": t1, "steady_points_per_s": steady,
            "kernel_s": summ.seconds, "worst": summ.worst, "at": summ.at,
            "verdict": summ.verdict}


class _Inline(cf.Executor):
    """Runs each task at submission (serial baseline through the same code path)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=sweep.DEFAULT_CHUNK)
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    spec = sweep.make_spec(CLAIM, points=args.n, chunk=args.chunk, seed=0)
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        sweep.run_chunk(sweep.make_spec(CLAIM, points=4, chunk=4), 0)  # compile once
        runs["serial"] = _run("serial", spec, d / "serial.jsonl", executor=_Inline())
        runs["process_pool"] = _run("process_pool", spec, d / "pool.jsonl",
                                    workers=args.workers)
        for name, processes in (("dask_processes", True), ("dask_threads", False)):
            t0 = time.perf_counter()
            with LocalCluster(n_workers=args.workers if processes else 1,
                              threads_per_worker=1 if processes else args.workers,
                              processes=processes, dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                startup = time.perf_counter() - t0
                runs[name] = _run(name, spec, d / f"{name}.jsonl",
                                  executor=client.get_executor(pure=False))
                runs[name]["cluster_startup_s"] = startup
        ref = _records(d / "pool.jsonl")
        same = {name: _records(d / f) == ref for name, f in
                (("serial", "serial.jsonl"), ("dask_processes", "dask_processes.jsonl"),
                 ("dask_threads", "dask_threads.jsonl"))}
    result = {
        "benchmark": "sweep", "claim": CLAIM, "points": args.n, "chunk": args.chunk,
        "workers": args.workers, "box": spec.header()["box"], "seed": 0,
        "symforget": __version__, "python": platform.python_version(),
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs, "records_identical_to_process_pool": same,
        "worst_cases_match": len({(r["worst"], tuple(r["at"].items())) for r in runs.values()})
        == 1,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# sweep benchmark ({result['date']}, {result['platform']}, {result['cpus']} "
             "CPUs)", "",
             f"`{CLAIM}`, {args.n} Sobol points (double precision), chunks of {args.chunk}, "
             f"{args.workers} workers; box {result['box']}.", "",
             "| run | wall s | points/s | first record s | steady points/s | kernel s (sum) "
             "| cluster start s | worst | verdict |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in runs.items():
        lines.append(f"| {name} | {r['wall_s']:.2f} | {r['points_per_s']:,.0f} | "
                     f"{r['first_record_s']:.2f} | {r['steady_points_per_s']:,.0f} | "
                     f"{r['kernel_s']:.2f} | {r.get('cluster_startup_s', 0):.2f} | "
                     f"{r['worst']:.15g} | {r['verdict']} |")
    lines += ["", f"Worst case at {runs['process_pool']['at']}; records identical to the "
              f"process pool: {same}; worst cases match: {result['worst_cases_match']}."]
    (RESULTS / "sweep.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    ok = result["worst_cases_match"] and all(same.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
