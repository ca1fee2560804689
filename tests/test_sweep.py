"""``symforget sweep``: box parsing, chunk determinism, executors, resume, retries, errors,
mutants and precision (issue 7).

Test-only kernels (ids starting with ``_test.``) are registered here; the process pools of the
tests fork from this process (Linux default), so their workers see them.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import qmc

from symforget import cli
from symforget.claims import get as get_claim
from symforget.claims import pointwise as pw
from symforget.errors import ParameterError
from symforget.runners import sweep

DRIFT = "rkl.drift_bc_bound"


# --------------------------------------------------------------------------- test kernels


def _crash_once(points, dps, **_):
    """Kills its worker process the first time it runs (marker file), then metric = a."""
    marker = Path(os.environ["SYMFORGET_TEST_MARKER"])
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        a = points["a"]
        return a, a <= 1.0
    os.close(fd)
    os._exit(3)


def _crash_high(points, dps, **_):
    """Kills its worker for any chunk that holds a point with a > 0.9, every time."""
    a = points["a"]
    if (a > 0.9).any():
        os._exit(4)
    return a, a <= 1.0


def _raise_high(points, dps, **_):
    """Raises for any chunk that holds a point with a > 0.75 (or the limit in the env)."""
    a = points["a"]
    limit = float(os.environ.get("SYMFORGET_TEST_LIMIT", "0.75"))
    if (a > limit).any():
        raise ValueError(f"test kernel refuses a={a.max():.3f} > {limit}")
    return a, a <= 1.0


_A = (pw.Param("a", (0.0, 1.0, "lin"), (0.0, 1.0), doc="test parameter"),)
pw.register_kernel(pw.Kernel("_test.crash_once", _A, "a", _crash_once, warmup=False))
pw.register_kernel(pw.Kernel("_test.crash_high", _A, "a", _crash_high, warmup=False))
pw.register_kernel(pw.Kernel("_test.raise_high", _A, "a", _raise_high))


def _strip(records):
    """Records without timings, as a set of canonical JSON strings (plus a duplicate check)."""
    out = [json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True)
           for r in records]
    assert len(out) == len(set(out)), "duplicate records"
    chunks = [r["chunk"] for r in records]
    assert len(chunks) == len(set(chunks)), f"a chunk has two records: {sorted(chunks)}"
    return set(out)


@pytest.fixture(scope="module")
def warm():
    """Compile the kernels once in this process, so forked workers start warm."""
    for cid in (DRIFT, "replay.rkl_weight_bound", "rkl.local_geometry", "gauss.closed_forms"):
        spec = sweep.make_spec(cid, points=4, chunk=4)
        assert sweep.run_chunk(spec, 0)["type"] == "chunk"


def _run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("box, needle", [
    ("w", "name="),
    ("w=0.1:abc", "'abc' is not a number"),
    ("w=0.1:0.2:cubic", "unknown scale 'cubic'"),
    ("z=1:2", "unknown parameter 'z'"),
    ("w=0:0.5", "outside the domain (0, 1)"),
    ("w=0.5:0.1", "lower bound 0.5 > upper bound 0.1"),
    ("delta=-1:3", "outside the domain [0, 1e+150]"),
    ("w=nan:0.5", "must be finite"),
    ("w=0.1:inf", "must be finite"),
    ("delta=0:5:log", "log axis needs lo > 0"),
    ("w=0.1:0.2,w=0.3:0.4", "given twice"),
    ("w=0.1:0.2:log:x", "must be lo:hi"),
    ("w=__import__('os')", "is not a number"),
])
def test_bad_box_is_a_usage_error_naming_the_problem(box, needle, capsys, tmp_path):
    with pytest.raises(ParameterError, match="--box") as info:
        sweep.make_spec(DRIFT, box)
    assert needle in str(info.value)
    code, _, err = _run(["sweep", DRIFT, "--box", box, "--out", str(tmp_path / "r.jsonl")],
                        capsys)
    assert code == 2 and needle in err
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("grid, needle", [
    ("w=10", "no count for delta"),
    ("w=10,delta=x", "must be an integer count"),
    ("w=10,delta=0", "must be >= 1"),
    ("w=10,eta=3,delta=3", "unknown parameter 'eta'"),
])
def test_bad_grid_is_a_usage_error(grid, needle, capsys, tmp_path):
    code, _, err = _run(["sweep", DRIFT, "--grid", grid, "--out", str(tmp_path / "g.jsonl")],
                        capsys)
    assert code == 2 and needle in err


def test_usage_errors(capsys, tmp_path):
    out = str(tmp_path / "u.jsonl")
    assert _run(["sweep", "no.such_claim", "--out", out], capsys)[0] == 2
    code, _, err = _run(["sweep", "fkl.mass_forgetting", "--out", out], capsys)
    assert code == 2 and "no pointwise kernel" in err and DRIFT in err
    code, _, err = _run(["sweep", DRIFT, "--mutant", "without_half", "--out", out], capsys)
    assert code == 2 and "cannot be refuted pointwise" in err
    code, _, err = _run(["sweep", DRIFT, "--mutant", "nonsense", "--out", out], capsys)
    assert code == 2 and "prefactor_quarter" in err
    assert _run(["sweep", DRIFT], capsys)[0] == 2  # --out missing
    code, _, err = _run(["sweep", DRIFT, "--points", "8", "--out", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err  # checked before any work
    assert _run(["sweep", DRIFT, "--points", "0", "--out", out], capsys)[0] == 2
    assert _run(["sweep", DRIFT, "--dps", "5", "--out", out], capsys)[0] == 2
    assert _run(["sweep", DRIFT, "--workers", "2", "--scheduler", "tcp://x:1", "--out", out],
                capsys)[0] == 2
    code, text, _ = _run(["sweep", "--help"], capsys)
    assert code == 0 and "name=lo:hi:logit" in text and "--scheduler" in text
    code, text, _ = _run(["sweep", "--list"], capsys)
    assert code == 0 and DRIFT in text and "_test." not in text


def test_axis_maps_scales_exactly_at_the_ends():
    u = np.array([0.0, 0.5, 1.0])
    lin = sweep.Axis("d", 0.0, 60.0)
    assert lin.map(u).tolist() == [0.0, 30.0, 60.0]
    log = sweep.Axis("w", 1e-6, 1e-2, "log")
    assert log.map(u)[[0, 2]].tolist() == [1e-6, 1e-2]
    assert log.map(u)[1] == pytest.approx(1e-4, rel=1e-12)  # geometric midpoint
    logit = sweep.Axis("w", 1e-6, 1 - 1e-6, "logit")
    mid = logit.map(u)
    assert mid[[0, 2]].tolist() == [1e-6, 1 - 1e-6] and mid[1] == pytest.approx(0.5)
    # logit spacing: a quarter of the way is exp(logit) at a quarter of the logit range
    z = math.log(1e-6 / (1 - 1e-6)) / 2
    assert logit.map(np.array([0.25]))[0] == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-12)


@pytest.mark.parametrize("chunk", [1024, 1000])
def test_chunks_are_slices_of_one_sobol_sequence(chunk):
    spec = sweep.make_spec(DRIFT, "w=1e-6:0.999999:logit,delta=0:60", points=3000, chunk=chunk,
                           seed=7)
    ref = qmc.Sobol(2, scramble=True, seed=7).random(4096)[:3000]
    axes = {a.name: a for a in spec.axes}
    got = [spec.chunk_points(i) for i in (2, 0, 1)]  # any order
    w = np.concatenate([got[1]["w"], got[2]["w"], got[0]["w"]])
    d = np.concatenate([got[1]["delta"], got[2]["delta"], got[0]["delta"]])
    assert w.size == 3000 and spec.n_chunks == 3
    np.testing.assert_array_equal(w, axes["w"].map(ref[:, 0]))
    np.testing.assert_array_equal(d, axes["delta"].map(ref[:, 1]))


def test_grid_points_and_fixed_values():
    spec = sweep.make_spec(DRIFT, "w=0.5,delta=0:10", grid="delta=11", chunk=4)
    assert spec.n_points == 11 and spec.n_chunks == 3
    pts = [spec.chunk_points(i) for i in range(3)]
    d = np.concatenate([p["delta"] for p in pts])
    np.testing.assert_allclose(d, np.arange(11.0), rtol=0, atol=1e-12)
    assert {float(v) for p in pts for v in p["w"]} == {0.5}


# --------------------------------------------------------------------------- resume


def test_resume_skips_done_chunks_and_drops_a_truncated_line(tmp_path, warm):
    spec = sweep.make_spec(DRIFT, points=6000, chunk=1000, seed=1)
    with cf.ThreadPoolExecutor(2) as ex:
        full = sweep.run_sweep(spec, tmp_path / "full.jsonl", executor=ex)
        _, ref = sweep.read_sweep(tmp_path / "full.jsonl")
        # an interrupted file: header, 3 chunk records, half of a fourth (killed mid-write)
        lines = (tmp_path / "full.jsonl").read_bytes().splitlines(keepends=True)
        part = tmp_path / "part.jsonl"
        part.write_bytes(b"".join(lines[:4]) + lines[4][:25])
        calls = []
        res = sweep.run_sweep(spec, part, executor=ex, progress=lambda *a: calls.append(a))
    assert calls[0] == (3000, 6000, 0.0)  # before the first chunk: 3 chunks already done
    assert len(calls) == 4  # then only the 3 missing chunks ran
    assert calls[-1][:2] == (6000, 6000)
    _, got = sweep.read_sweep(part)
    assert _strip(got) == _strip(ref)
    assert part.read_bytes().endswith(b"\n")
    assert res.line() == full.line()
    # nothing left to do: a rerun computes nothing and writes nothing
    before = part.read_bytes()
    again = sweep.run_sweep(spec, part, executor=cf.ThreadPoolExecutor(1))
    assert part.read_bytes() == before and again.verdict == "PASS"


def test_resume_refuses_a_different_sweep(tmp_path, capsys):
    out = str(tmp_path / "r.jsonl")
    args = ["sweep", DRIFT, "--points", "64", "--chunk", "32", "--workers", "1", "--out", out]
    assert _run(args, capsys)[0] == 0
    code, _, err = _run([*args[:-2], "--seed", "5", "--out", out], capsys)
    assert code == 2 and "different sweep" in err and "seed" in err and "--restart" in err
    code, _, _ = _run([*args[:-2], "--seed", "5", "--out", out, "--restart"], capsys)
    assert code == 0 and sweep.read_sweep(out)[0]["seed"] == 5
    Path(out).write_text("my notes\nno newline at the end")
    code, _, err = _run(args, capsys)
    assert code == 2 and "not a sweep file" in err
    assert Path(out).read_text() == "my notes\nno newline at the end"  # left untouched
    Path(out).write_text('{"type": "header"}\n{oops\n')
    code, _, err = _run(args, capsys)
    assert code == 2 and "line 2 is not valid JSON" in err


def test_sigkill_and_rerun_loses_and_repeats_nothing(tmp_path, warm):
    """Kill the CLI (and its workers) half-way, rerun the same command, compare with an
    uninterrupted run."""
    out = tmp_path / "k.jsonl"
    argv = [sys.executable, "-m", "symforget.cli", "sweep", DRIFT, "--points", str(2**18),
            "--chunk", "256", "--workers", "2", "--seed", "4", "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    n = 0
    while time.monotonic() < deadline:
        n = out.read_bytes().count(b"\n") - 1 if out.exists() else 0
        if n >= 20:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    _, partial = sweep.read_sweep(out)
    assert 20 <= len(partial) < 1024, "the kill must land half-way"
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "verdict PASS" in done.stdout
    _, resumed = sweep.read_sweep(out)
    spec = sweep.make_spec(DRIFT, points=2**18, chunk=256, seed=4)
    with cf.ThreadPoolExecutor(2) as ex:
        sweep.run_sweep(spec, tmp_path / "ref.jsonl", executor=ex)
    _, ref = sweep.read_sweep(tmp_path / "ref.jsonl")
    assert len(resumed) == len(ref) == 1024
    assert _strip(resumed) == _strip(ref)


# --------------------------------------------------------------------------- workers


def test_pool_size_never_exceeds_the_chunks(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert sweep.pool_size(None, 100) == 8
    assert sweep.pool_size(None, 3) == 3
    assert sweep.pool_size(1000, 1) == 1
    assert sweep.pool_size(2, 100) == 2
    assert sweep.pool_size(4, 0) == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ParameterError, match="workers"):
            sweep.pool_size(bad, 4)


def test_workers_capped_at_chunks_and_warned_above_cpu_count(tmp_path, capsys, monkeypatch,
                                                              warm):
    """'--workers 1000' for one chunk forks one process (and says the number is too high)."""
    sizes: list[int] = []
    real_pool = sweep._pool

    def pool(workers, fd):
        sizes.append(workers)
        return real_pool(1, fd)  # never fork what the old code asked for

    monkeypatch.setattr(sweep, "_pool", pool)
    code, out, err = _run(["sweep", DRIFT, "--points", "8", "--workers", "1000", "--out",
                           str(tmp_path / "w.jsonl")], capsys)
    assert code == 0 and "verdict PASS" in out
    assert sizes == [1]
    warning = [ln for ln in err.splitlines() if "warning" in ln]
    assert len(warning) == 1 and "--workers 1000" in warning[0] and "CPU" in warning[0]
    assert "up to 1 local worker(s)" in err
    code, _, err = _run(["sweep", DRIFT, "--points", "8", "--workers", "1", "--out",
                         str(tmp_path / "w1.jsonl")], capsys)
    assert code == 0 and "warning" not in err


# --------------------------------------------------------------------------- failures


def test_killed_worker_chunk_is_retried(tmp_path, monkeypatch):
    marker = tmp_path / "crashed"
    monkeypatch.setenv("SYMFORGET_TEST_MARKER", str(marker))
    spec = sweep.make_spec("_test.crash_once", points=64, chunk=16)
    res = sweep.run_sweep(spec, tmp_path / "c.jsonl", workers=2)
    assert marker.exists(), "the test kernel must have killed a worker"
    _, recs = sweep.read_sweep(tmp_path / "c.jsonl")
    assert sorted(r["chunk"] for r in recs) == [0, 1, 2, 3]
    assert all(r["type"] == "chunk" and r["n_ok"] == 16 for r in recs)
    assert res.verdict == "PASS" and res.points_done == 64


def test_chunk_that_always_kills_its_worker_becomes_an_error_record(tmp_path):
    """Retries are bounded; the chunks that ran beside the culprit are not blamed."""
    spec = sweep.make_spec("_test.crash_high", grid="a=16", chunk=2)  # chunk 7: a ≥ 14/15
    res = sweep.run_sweep(spec, tmp_path / "k.jsonl", workers=2, max_retries=2)
    _, recs = sweep.read_sweep(tmp_path / "k.jsonl")
    assert sorted(r["chunk"] for r in recs) == list(range(8))
    errors = [r for r in recs if r["type"] == "error"]
    assert [e["chunk"] for e in errors] == [7]
    assert "BrokenProcessPool" in errors[0]["error"]
    assert "after 3 failed attempts" in errors[0]["error"]
    assert errors[0]["points"] == [14, 16] and errors[0]["ranges"]["a"][1] == 1.0
    assert res.verdict == "ERROR" and res.points_done == 14


def test_raising_chunk_is_reported_with_its_points(tmp_path, capsys, monkeypatch):
    out = tmp_path / "e.jsonl"
    code, text, _ = _run(["sweep", "_test.raise_high", "--grid", "a=16", "--chunk", "4",
                          "--workers", "1", "--out", str(out)], capsys)
    assert code == 1
    _, recs = sweep.read_sweep(out)
    errors = sorted((r for r in recs if r["type"] == "error"), key=lambda r: r["chunk"])
    assert [e["chunk"] for e in errors] == [3]  # a = 12/15 … 15/15 > 0.75
    e = errors[0]
    assert e["points"] == [12, 16] and e["ranges"]["a"] == [0.8, 1.0]
    assert "ValueError: test kernel refuses a=1.000" in e["error"]
    assert "ERROR chunk 3 (points 12..15; a∈[0.8, 1])" in text
    assert "verdict ERROR" in text
    # resuming keeps the error (exit 1, nothing recomputed) …
    argv = ["sweep", "_test.raise_high", "--grid", "a=16", "--chunk", "4", "--workers", "1",
            "--out", str(out)]
    before = out.read_bytes()
    assert _run(argv, capsys)[0] == 1 and out.read_bytes() == before
    # … until --retry-errors recomputes that chunk (here it no longer raises)
    monkeypatch.setenv("SYMFORGET_TEST_LIMIT", "2")
    code, text, _ = _run([*argv, "--retry-errors"], capsys)
    assert code == 0 and "verdict PASS" in text
    _, recs = sweep.read_sweep(out)
    assert sorted(r["chunk"] for r in recs) == [0, 1, 2, 3]
    assert all(r["type"] == "chunk" for r in recs)
    assert b'"type": "retry"' in out.read_bytes()


def _m_quad(w: float, d: float) -> float:
    """m(w, Δ) = ∫ φ(x) sigmoid(Δ(x − x0)) dx by scipy quad (independent of symforget)."""
    x0 = d / 2 + math.log(w / (1 - w)) / d

    def f(x: float) -> float:
        z = d * (x - x0)
        s = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi) * s

    return integrate.quad(f, -40, 40, points=[0.0, x0, d], limit=200, epsabs=0,
                          epsrel=1e-12)[0]


def _mutants():
    for cid, k in pw.kernels().items():
        if not cid.startswith("_"):
            for m in get_claim(cid).mutants:
                if m not in k.not_pointwise:
                    yield cid, m


@pytest.mark.parametrize("cid, mutant", list(_mutants()))
def test_mutant_sweep_fails_with_a_counterexample(cid, mutant, tmp_path, warm):
    n = 512 if cid == "rkl.local_geometry" else 2048
    with cf.ThreadPoolExecutor(2) as ex:
        true = sweep.run_sweep(sweep.make_spec(cid, points=n, chunk=256), tmp_path / "t.jsonl",
                               executor=ex)
        res = sweep.run_sweep(sweep.make_spec(cid, points=n, chunk=256, mutant=mutant),
                              tmp_path / "m.jsonl", executor=ex)
    assert true.verdict == "PASS" and true.worst <= 1.0
    assert res.verdict == "FAIL" and res.worst > 1.0 and res.n_ok < n
    k = pw.kernel(cid)
    for a in sweep.make_spec(cid).axes:  # the counterexample lies in the box
        assert a.lo <= res.at[a.name] <= a.hi
    pts = {name: np.array([v]) for name, v in res.at.items()}
    metric, ok = k.evaluate(pts, mutant=mutant)
    assert not ok[0] and metric[0] == pytest.approx(res.worst, rel=1e-12)
    if cid == DRIFT:  # independent confirmation: scipy's m exceeds the mutant's bound
        w, d = res.at["w"], res.at["delta"]
        kw = get_claim(cid).mutants[mutant]
        pref = float(kw.get("prefactor", 0.5))
        expo = float(kw.get("exponent", -0.125))
        assert _m_quad(w, d) > pref * math.sqrt((1 - w) / w) * math.exp(expo * d * d)


_NEAR_SHARP = "w=0.3:0.7,delta=0:1"  # where the prefactor-¼ mutant fails
_OLD_LOW = "w=0.1:0.5,mu_old=-1:1,mu_new=4:6,x=4:6"  # q > φ_0(x): q/b > 1 for ρ > 0


@pytest.mark.parametrize("cid, mutant, box", [
    (DRIFT, None, None), (DRIFT, None, _NEAR_SHARP), (DRIFT, "prefactor_quarter", _NEAR_SHARP),
    ("replay.rkl_weight_bound", None, None), ("replay.rkl_weight_bound", None, _OLD_LOW),
    ("replay.rkl_weight_bound", "no_inflation", _OLD_LOW)])
def test_dps_sweep_agrees_with_double_precision(cid, mutant, box, warm):
    spec = sweep.make_spec(cid, box, points=6, chunk=6, mutant=mutant, seed=2)
    spec_mp = sweep.make_spec(cid, box, points=6, chunk=6, mutant=mutant, seed=2, dps=30)
    pts = spec.chunk_points(0)
    k = pw.kernel(cid)
    m64, ok64 = k.evaluate(pts, mutant=mutant)
    m30, ok30 = k.evaluate(pts, 30, mutant=mutant)
    np.testing.assert_allclose(m30, m64, rtol=1e-9)
    np.testing.assert_array_equal(ok30, ok64)
    r64, r30 = sweep.run_chunk(spec, 0), sweep.run_chunk(spec_mp, 0)
    assert r64["n_ok"] == r30["n_ok"] and r64["at"] == r30["at"]
    if mutant is None:
        assert r30["n_ok"] == 6
    else:
        assert r30["n_ok"] < 6 and r30["worst"] > 1


def test_dps_gauss_verdicts_agree_with_double_precision(warm):
    """mpmath quadrature with its error estimate (30 digits) and 160-node Gauss–Hermite in
    double precision give the same verdict, for the true forms and a wrong one."""
    k = pw.kernel("gauss.closed_forms")
    pts = {"delta": np.array([5.5])}
    for mutant in (None, "kl_without_half"):
        _, ok64 = k.evaluate(pts, mutant=mutant)
        m30, ok30 = k.evaluate(pts, 30, mutant=mutant)
        np.testing.assert_array_equal(ok30, ok64)
        assert ok30.all() == (mutant is None)
        if mutant is None:
            assert m30.max() < 1e-3  # far inside the 10^-15 tolerance


def test_dps_drift_beyond_double_precision():
    """At Δ = 200 m ~ 1e-2000: the certified dps kernel decides the bound in mpmath, and the
    double-precision kernel (log space) agrees on the ratio."""
    k = pw.kernel(DRIFT)
    pts = {"w": np.array([0.5, 1e-9]), "delta": np.array([200.0, 100.0])}
    m64, ok64 = k.evaluate(pts)
    m30, ok30 = k.evaluate(pts, 30)
    assert ok64.all() and ok30.all()
    np.testing.assert_allclose(m30, m64, rtol=1e-9)
    _, bad = k.evaluate(pts, 30, mutant="exponent_1/6")
    assert not bad.any()


# --------------------------------------------------------------------------- Dask
# (last in the file: the process pools above fork before any Dask thread exists)


def test_process_pool_and_dask_give_the_same_records(tmp_path, warm):
    distributed = pytest.importorskip("distributed")
    spec = sweep.make_spec(DRIFT, points=5000, chunk=1024, seed=3)
    a = sweep.run_sweep(spec, tmp_path / "pool.jsonl", workers=2)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ex = client.get_executor(pure=False)
        b = sweep.run_sweep(spec, tmp_path / "dask.jsonl", executor=ex)
    assert a.verdict == b.verdict == "PASS" and a.worst == b.worst and a.at == b.at
    ha, ra = sweep.read_sweep(tmp_path / "pool.jsonl")
    hb, rb = sweep.read_sweep(tmp_path / "dask.jsonl")
    assert ha == hb and len(ra) == spec.n_chunks == 5
    assert _strip(ra) == _strip(rb)


def test_cli_scheduler_runs_on_a_dask_cluster(tmp_path, capsys, warm):
    distributed = pytest.importorskip("distributed")
    args = ["sweep", DRIFT, "--points", "3000", "--chunk", "1024", "--seed", "9", "--out"]
    assert _run([*args, str(tmp_path / "p.jsonl"), "--workers", "1"], capsys)[0] == 0
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=2,
                                  dashboard_address=None) as cluster:
        code, text, _ = _run([*args, str(tmp_path / "d.jsonl"), "--scheduler",
                              cluster.scheduler_address], capsys)
    assert code == 0 and "verdict PASS" in text
    assert _strip(sweep.read_sweep(tmp_path / "d.jsonl")[1]) == _strip(
        sweep.read_sweep(tmp_path / "p.jsonl")[1])


def test_dask_missing_or_unreachable_is_a_usage_error(monkeypatch, capsys, tmp_path):
    out = str(tmp_path / "x.jsonl")
    pytest.importorskip("distributed")
    with pytest.raises(sweep.SweepError, match="cannot connect"):
        sweep.dask_client("tcp://127.0.0.1:9", timeout=1.0)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(sweep.SweepError, match=r"pip install 'symforget\[dask\]'"):
        sweep.dask_client("tcp://127.0.0.1:1")
    code, _, err = _run(["sweep", DRIFT, "--scheduler", "tcp://127.0.0.1:1", "--out", out],
                        capsys)
    assert code == 2 and "pip install 'symforget[dask]'" in err
