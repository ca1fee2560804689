r"""Sweeps: a claim's pointwise kernel over a parameter box, chunked, on any executor, resumable.

A *sweep* evaluates a kernel of :mod:`symforget.claims.pointwise` at N points of a box
(scrambled Sobol points or a grid), split into chunks of C points. Chunk i holds the points
[i·C, (i+1)·C) of the sequence, generated independently of every other chunk (Sobol:
``fast_forward(i·C)`` of the seeded scrambled sequence; grid: the flat indices in C order), so
any chunk can be (re)computed anywhere, in any order, with identical results.

Chunks run on a :class:`concurrent.futures.Executor`: a local process pool by default, or the
executor of a Dask client (``distributed.Client(addr).get_executor()``). Results stream to a
JSONL file:

* line 1, the header: claim, box, points or grid, seed, dps, chunk size, mutant, version;
* one record per chunk: ``{"type": "chunk", "chunk": i, "n": …, "n_ok": …, "worst": …,
  "at": {param: value}, "seconds": …}`` — or ``{"type": "error", …}`` with the chunk's parameter
  ranges and the exception when the kernel raised.

Every record is written with a single ``write`` and then flushed and fsync'ed, so a killed
process leaves at most one truncated last line. Re-running the same sweep on the same file
checks the header, drops a truncated last line (``os.truncate`` to the last complete record),
and computes only the chunks without a record: nothing is lost or repeated. A killed worker
(``BrokenProcessPool``, Dask's ``KilledWorker``) makes the pool restart and the unfinished
chunks retry (at most ``max_retries`` times each, then an error record).

Box syntax (:func:`parse_box`): comma-separated ``name=lo:hi[:scale]`` or ``name=value``
(a fixed value), scale ``lin`` (default), ``log`` (lo > 0: uniform in log x) or ``logit``
(0 < lo < hi < 1: uniform in log(x/(1−x))). Grid syntax (:func:`parse_grid`):
``name=count,...`` (end points included, spaced in the axis's scale).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import math
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from ..claims import pointwise
from ..errors import ParameterError, SymforgetError

__all__ = ["Axis", "SweepSpec", "SweepError", "SweepSummary", "parse_box", "parse_grid",
           "make_spec", "run_chunk", "run_sweep", "read_sweep", "summarize", "dask_client",
           "pool_size",
           "SCALES", "DEFAULT_CHUNK", "DEFAULT_CHUNK_DPS", "MAX_POINTS"]

SCALES = ("lin", "log", "logit")
DEFAULT_CHUNK = 16384
DEFAULT_CHUNK_DPS = 8
#: the scrambled Sobol sequence of scipy holds 2^30 points
MAX_POINTS = 2**30
#: fields of the header that define the records (must match on resume)
_DEFINING = ("claim", "box", "points", "grid", "seed", "dps", "chunk", "mutant", "n_chunks",
             "n_points")


#: scrambled Sobol engines by (dimension, seed), one set per thread (reset per chunk)
_SOBOL = threading.local()


class SweepError(SymforgetError):
    """A sweep cannot start: mismatched or corrupt output file, file locked, missing extra."""


@dataclass(frozen=True)
class Axis:
    """One box axis: ``lo``..``hi`` in ``scale`` (``lo == hi``: a fixed value)."""

    name: str
    lo: float
    hi: float
    scale: str = "lin"

    @property
    def fixed(self) -> bool:
        return self.lo == self.hi

    def map(self, u: np.ndarray) -> np.ndarray:
        """Unit-interval coordinates u ∈ [0, 1] to parameter values (end points exact)."""
        if self.fixed:
            return np.full(u.shape, self.lo)
        if self.scale == "log":
            out = np.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        elif self.scale == "logit":
            a, b = _logit(self.lo), _logit(self.hi)
            from scipy.special import expit

            out = expit(a + u * (b - a))
        else:
            out = self.lo + u * (self.hi - self.lo)
        out = np.where(u <= 0.0, self.lo, np.where(u >= 1.0, self.hi, out))
        return np.clip(out, self.lo, self.hi)

    def to_json(self) -> list[Any]:
        return [self.lo, self.hi, self.scale]


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


# ----------------------------------------------------------------------------- parsing


def _number(text: str, what: str) -> float:
    """A finite float from ``text`` (plain numeric syntax only; never eval/sympify)."""
    t = text.strip()
    try:
        value = float(t)
    except ValueError:
        raise ParameterError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError(f"{what}: {text!r} must be finite")
    return value


def _items(text: str, what: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise ParameterError(f"{what}: {part!r} must look like name=...")
        name, _, rest = part.partition("=")
        out.append((name.strip(), rest.strip()))
    return out


def parse_box(text: str | None, kern: pointwise.Kernel) -> tuple[Axis, ...]:
    """Parse ``name=lo:hi[:scale],name=value,...``; unspecified parameters get the kernel's
    default box. Raises :class:`ParameterError` naming the problem (unknown parameter, bad
    number, lo > hi, bounds outside the parameter's domain, a scale that does not fit)."""
    given: dict[str, Axis] = {}
    for name, rest in _items(text or "", "--box"):
        if name not in kern.names:
            raise ParameterError(f"--box: unknown parameter {name!r} for {kern.claim}; "
                                 f"parameters: {', '.join(kern.names)}")
        if name in given:
            raise ParameterError(f"--box: parameter {name!r} given twice")
        fields = rest.split(":")
        if len(fields) == 1:
            v = _number(fields[0], f"--box {name}")
            axis = Axis(name, v, v, "lin")
        elif len(fields) in (2, 3):
            lo = _number(fields[0], f"--box {name} lower bound")
            hi = _number(fields[1], f"--box {name} upper bound")
            scale = fields[2].strip() if len(fields) == 3 else "lin"
            if scale not in SCALES:
                raise ParameterError(f"--box {name}: unknown scale {scale!r}; use one of "
                                     f"{', '.join(SCALES)}")
            axis = Axis(name, lo, hi, scale)
        else:
            raise ParameterError(f"--box {name}: {rest!r} must be lo:hi, lo:hi:scale or a "
                                 "single value")
        given[name] = axis
    axes = []
    for p in kern.params:
        axis = given.get(p.name) or Axis(p.name, *p.default)
        _check_axis(axis, p)
        axes.append(axis)
    return tuple(axes)


def _check_axis(axis: Axis, p: pointwise.Param) -> None:
    n = axis.name
    if axis.lo > axis.hi:
        raise ParameterError(f"--box {n}: lower bound {axis.lo:g} > upper bound {axis.hi:g}")
    for v in {axis.lo, axis.hi}:
        if not p.in_domain(v):
            raise ParameterError(f"--box {n}: {v:g} is outside the domain {p.domain_text()} "
                                 f"of {n}")
    if axis.fixed:
        return
    if axis.scale == "log" and axis.lo <= 0:
        raise ParameterError(f"--box {n}: a log axis needs lo > 0 (got {axis.lo:g})")
    if axis.scale == "logit" and not (0 < axis.lo and axis.hi < 1):
        raise ParameterError(f"--box {n}: a logit axis needs 0 < lo < hi < 1 "
                             f"(got {axis.lo:g}:{axis.hi:g})")


def parse_grid(text: str, axes: tuple[Axis, ...]) -> tuple[int, ...]:
    """Parse ``name=count,...`` into per-axis counts (fixed axes: 1; free axes not named are an
    error, so the grid is explicit)."""
    names = [a.name for a in axes]
    counts: dict[str, int] = {}
    for name, rest in _items(text, "--grid"):
        if name not in names:
            raise ParameterError(f"--grid: unknown parameter {name!r}; parameters: "
                                 f"{', '.join(names)}")
        try:
            k = int(rest)
        except ValueError:
            raise ParameterError(f"--grid {name}: {rest!r} must be an integer count") from None
        if k < 1:
            raise ParameterError(f"--grid {name}: count {k} must be >= 1")
        counts[name] = k
    out = []
    for a in axes:
        if a.fixed:
            if counts.get(a.name, 1) != 1:
                raise ParameterError(f"--grid {a.name}: the box fixes {a.name}, count must be 1")
            out.append(1)
        elif a.name not in counts:
            raise ParameterError(f"--grid: no count for {a.name} (box {a.lo:g}:{a.hi:g})")
        else:
            if counts[a.name] == 1:
                raise ParameterError(f"--grid {a.name}: count 1 on a non-degenerate axis; "
                                     f"fix the value in --box instead")
            out.append(counts[a.name])
    return tuple(out)


# ----------------------------------------------------------------------------- the sweep


@dataclass(frozen=True)
class SweepSpec:
    """Everything that defines the records of a sweep (picklable; sent with every chunk)."""

    claim: str
    axes: tuple[Axis, ...]
    points: int | None = None
    grid: tuple[int, ...] | None = None
    seed: int = 0
    dps: int | None = None
    chunk: int = DEFAULT_CHUNK
    mutant: str | None = None

    @property
    def n_points(self) -> int:
        return math.prod(self.grid) if self.grid is not None else int(self.points or 0)

    @property
    def n_chunks(self) -> int:
        return -(-self.n_points // self.chunk)

    def header(self) -> dict[str, Any]:
        return {"type": "header", "claim": self.claim,
                "box": {a.name: a.to_json() for a in self.axes},
                "points": None if self.grid is not None else self.points,
                "grid": None if self.grid is None else
                {a.name: k for a, k in zip(self.axes, self.grid, strict=True)},
                "seed": self.seed, "dps": self.dps, "chunk": self.chunk, "mutant": self.mutant,
                "n_points": self.n_points, "n_chunks": self.n_chunks,
                "version": __version__}

    def chunk_range(self, i: int) -> tuple[int, int]:
        lo = i * self.chunk
        return lo, min(lo + self.chunk, self.n_points)

    def chunk_points(self, i: int) -> dict[str, np.ndarray]:
        """The points of chunk i (independent of every other chunk)."""
        lo, hi = self.chunk_range(i)
        n = hi - lo
        free = [a for a in self.axes if not a.fixed]
        if self.grid is not None:
            idx = np.unravel_index(np.arange(lo, hi), self.grid)
            out = {}
            for a, k, j in zip(self.axes, self.grid, idx, strict=True):
                out[a.name] = a.map(j / (k - 1)) if k > 1 else np.full(n, a.lo)
            return out
        if free:
            import warnings

            from scipy.stats import qmc

            key = (len(free), self.seed)
            cache = _SOBOL.__dict__.setdefault("engines", {})  # per thread: engines are stateful
            eng = cache.get(key)
            if eng is None:
                eng = cache[key] = qmc.Sobol(len(free), scramble=True, seed=self.seed)
            eng.reset()
            if lo:
                eng.fast_forward(lo)
            with warnings.catch_warnings():  # balance warning for non-power-of-2 counts
                warnings.simplefilter("ignore", UserWarning)
                u = eng.random(n)
        else:
            u = np.empty((n, 0))
        out, j = {}, 0
        for a in self.axes:
            if a.fixed:
                out[a.name] = np.full(n, a.lo)
            else:
                out[a.name] = a.map(u[:, j])
                j += 1
        return out


def make_spec(claim: str, box: str | None = None, *, points: int | None = None,
              grid: str | None = None, seed: int = 0, dps: int | None = None,
              chunk: int | None = None, mutant: str | None = None) -> SweepSpec:
    """Validate everything and build a :class:`SweepSpec` (ParameterError on bad input,
    UnknownClaimError for a claim without a kernel)."""
    kern = pointwise.kernel(claim)
    axes = parse_box(box, kern)
    if points is not None and grid is not None:
        raise ParameterError("give either --points or --grid, not both")
    if grid is not None:
        counts: tuple[int, ...] | None = parse_grid(grid, axes)
        n = math.prod(counts)
        points = None
    else:
        counts = None
        n = 65536 if points is None else points
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS:
            raise ParameterError(f"--points {n!r} must be an integer in [1, 2^30]")
        points = n
    if n > MAX_POINTS:
        raise ParameterError(f"--grid gives {n} points, more than 2^30")
    if chunk is None:
        chunk = DEFAULT_CHUNK if dps is None else DEFAULT_CHUNK_DPS
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ParameterError(f"--chunk {chunk!r} must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"--seed {seed!r} must be a non-negative integer")
    if dps is not None and (isinstance(dps, bool) or not isinstance(dps, int)
                            or not 15 <= dps <= 1000):
        raise ParameterError(f"--dps {dps!r} must be an integer in [15, 1000]")
    if mutant is not None:
        pointwise.mutant_kwargs(kern, mutant)  # validates the name
    return SweepSpec(claim, axes, points, counts, seed, dps, chunk, mutant)


def _jsonable(v: float) -> float | str:
    return float(v) if math.isfinite(v) else str(float(v))


def run_chunk(spec: SweepSpec, i: int) -> dict[str, Any]:
    """Evaluate chunk ``i`` and return its record (a kernel exception becomes an error record
    carrying the chunk's points; it is never swallowed). Top-level, hence picklable."""
    t0 = time.perf_counter()
    lo, hi = spec.chunk_range(i)
    pts: dict[str, np.ndarray] = {}
    try:
        pts = spec.chunk_points(i)
        metric, ok = pointwise.kernel(spec.claim).evaluate(pts, spec.dps, mutant=spec.mutant)
        if metric.shape != (hi - lo,) or ok.shape != (hi - lo,):
            raise SymforgetError(f"kernel returned shapes {metric.shape}, {ok.shape} for "
                                 f"{hi - lo} points")
    except Exception as exc:  # reported with the chunk's points, not swallowed
        return {"type": "error", "chunk": i, "n": hi - lo, "points": [lo, hi],
                "ranges": {k: [float(v.min()), float(v.max())] for k, v in pts.items()
                           if v.size},
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=6)[-2000:]}
    key = np.where(np.isnan(metric), np.inf, metric)
    j = int(np.argmax(key))
    if np.isnan(metric).any():
        j = int(np.flatnonzero(np.isnan(metric))[0])
    return {"type": "chunk", "chunk": i, "n": hi - lo, "n_ok": int(ok.sum()),
            "worst": _jsonable(float(metric[j])),
            "at": {k: float(v[j]) for k, v in pts.items()},
            "seconds": round(time.perf_counter() - t0, 6)}


# ----------------------------------------------------------------------------- the file


@dataclass
class SweepSummary:
    """The verdict over every record of a sweep file."""

    claim: str
    metric: str
    n_points: int
    n_chunks: int
    done_chunks: int = 0
    points_done: int = 0
    n_ok: int = 0
    worst: float = -math.inf
    at: dict[str, float] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.done_chunks == self.n_chunks

    @property
    def verdict(self) -> str:
        if self.errors:
            return "ERROR"
        if self.n_ok < self.points_done:
            return "FAIL"
        return "PASS" if self.complete else "INCOMPLETE"

    @property
    def ok(self) -> bool:
        return self.verdict == "PASS"

    def line(self) -> str:
        where = ", ".join(f"{k}={v:.17g}" for k, v in self.at.items())
        out = (f"{self.claim}: {self.points_done}/{self.n_points} points in "
               f"{self.done_chunks}/{self.n_chunks} chunks; worst {self.metric} = "
               f"{self.worst:.17g} at {where or '-'}; {self.points_done - self.n_ok} failing "
               f"point(s)")
        if self.errors:
            out += f"; {len(self.errors)} chunk(s) raised"
        return f"{out}; verdict {self.verdict}"


def summarize(header: dict[str, Any], records: Iterable[dict[str, Any]]) -> SweepSummary:
    """Combine the chunk and error records of a sweep into a :class:`SweepSummary`."""
    kern = pointwise.kernel(header["claim"])
    s = SweepSummary(header["claim"], kern.metric, header["n_points"], header["n_chunks"])
    for r in records:
        if r["type"] == "error":
            s.errors.append(r)
            s.done_chunks += 1
            continue
        s.done_chunks += 1
        s.points_done += r["n"]
        s.n_ok += r["n_ok"]
        s.seconds += r["seconds"]
        w = float(r["worst"])
        if not math.isnan(s.worst) and (w > s.worst or math.isnan(w)):
            s.worst, s.at = w, {k: r["at"][k] for k in kern.names if k in r["at"]}
    return s


def read_sweep(path: str | os.PathLike[str], *, repair: bool = False
               ) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(header, records) of a sweep file: the chunk and error records in effect (an error
    record voided by a later ``retry`` record is left out). A truncated last line (killed
    writer) is dropped — and with ``repair=True`` cut from the file. A corrupt complete line
    raises SweepError."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return None, []
    end = data.rfind(b"\n") + 1
    if data and not data.startswith(b'{"'):
        raise SweepError(f"{path} is not a sweep file (use another --out, or --restart to "
                         "overwrite it)")
    out = []
    for k, raw in enumerate(data[:end].splitlines()):
        try:
            rec = json.loads(raw)
        except ValueError:
            raise SweepError(f"{path}: line {k + 1} is not valid JSON; not a sweep file? "
                             "(use another --out, or --restart to overwrite it)") from None
        out.append(rec)
    if out and out[0].get("type") != "header":
        raise SweepError(f"{path}: the first line is not a sweep header (use another --out, or "
                         "--restart to overwrite it)")
    if end < len(data) and repair:  # only now: the file is a sweep file
        os.truncate(path, end)
    if not out:
        return None, []
    records: list[dict[str, Any]] = []
    for rec in out[1:]:
        if rec.get("type") == "retry":  # voids the earlier error records of these chunks
            void = set(rec["chunks"])
            records = [r for r in records if not (r["type"] == "error" and r["chunk"] in void)]
        else:
            records.append(rec)
    return out[0], records


def _append(fd: int, rec: dict[str, Any]) -> None:
    data = (json.dumps(rec, sort_keys=True, allow_nan=False) + "\n").encode()
    os.write(fd, data)  # O_APPEND: one write per record
    os.fsync(fd)


def dask_client(address: str, timeout: float = 20.0) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address``; its
    ``get_executor(pure=False)`` is the executor of the sweep (close the client afterwards).

    Raises SweepError when Dask is not installed or the scheduler cannot be reached."""
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("--scheduler needs Dask: pip install 'symforget[dask]'") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(f"--scheduler {address}: cannot connect ({type(exc).__name__}: "
                         f"{exc})") from None


def _worker_init(fd: int, parent: int) -> None:
    """Pool initializer: a forked worker must not keep the results file (and its lock) open,
    and must not outlive the sweep process (Linux: SIGTERM when the parent dies)."""
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl: stop now
            os._exit(1)
    except (OSError, AttributeError):  # not Linux: workers exit when their queue breaks
        pass


def pool_size(workers: int | None, chunks: int) -> int:
    """Processes of the local pool: ``workers`` (default ``os.cpu_count()``), but never more
    than the ``chunks`` to compute — an idle worker costs a fork and its memory — and at
    least 1."""
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers
                                or workers < 1):
        raise ParameterError(f"workers={workers!r} must be an integer >= 1")
    wanted = int(workers) if workers is not None else (os.cpu_count() or 1)
    return max(1, min(wanted, chunks))


def _pool(workers: int, fd: int) -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                  initargs=(fd, os.getpid()))


def _warm_up(spec: SweepSpec) -> None:
    """Evaluate one point in this process so that forked workers inherit the compiled
    formulas (instead of each compiling them). Only a speed-up: a failure here is ignored,
    the chunk that holds the point reports it."""
    kern = pointwise.kernel(spec.claim)
    if not kern.warmup or spec.dps is not None:
        return
    try:
        pts = {k: v[:1] for k, v in spec.chunk_points(0).items()}
        kern.evaluate(pts, None, mutant=spec.mutant)
    except Exception:  # reported by the chunk that holds the point
        pass


def _is_infrastructure(exc: BaseException) -> bool:
    """A lost worker (retry the chunk), not an exception of the kernel."""
    return isinstance(exc, cf.BrokenExecutor) or type(exc).__name__ in (
        "KilledWorker", "CommClosedError", "CancelledError")


Progress = Callable[[int, int, float], None]


def run_sweep(spec: SweepSpec, out: str | os.PathLike[str], *,
              executor: cf.Executor | None = None, workers: int | None = None,
              restart: bool = False, retry_errors: bool = False, max_retries: int = 3,
              progress: Progress | None = None) -> SweepSummary:
    """Run (or resume) ``spec`` writing records to ``out``; returns the summary.

    ``executor``: any :class:`concurrent.futures.Executor` (not shut down here); default a
    :class:`~concurrent.futures.ProcessPoolExecutor` with ``workers`` processes (default
    ``os.cpu_count()``; never more than the chunks left to compute, see :func:`pool_size`),
    recreated when a worker dies. ``restart`` discards an existing file;
    ``retry_errors`` recomputes the chunks that have an error record (a ``{"type": "retry",
    "chunks": [...]}`` record is appended: it voids their error records, the file stays
    append-only). ``progress(points_done, points_total, seconds)`` is called once before the
    first chunk (``seconds = 0``; ``points_done`` counts the chunks of an earlier run) and after
    every chunk.
    """
    import fcntl

    path = os.fspath(out)
    header = spec.header()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SweepError(f"{path} is locked by another running sweep") from None
        if restart:
            os.ftruncate(fd, 0)
        old, records = read_sweep(path, repair=True)
        if old is None:
            os.ftruncate(fd, 0)
            _append(fd, header)
        else:
            diff = [k for k in _DEFINING if old.get(k) != header.get(k)]
            if diff:
                what = ", ".join(f"{k}: {old.get(k)!r} in the file vs {header.get(k)!r} now"
                                 for k in diff)
                raise SweepError(f"{path} holds a different sweep ({what}); use a new --out, "
                                 "or --restart to overwrite it")
            failed = sorted(r["chunk"] for r in records if r["type"] == "error")
            if retry_errors and failed:
                _append(fd, {"type": "retry", "chunks": failed})
                records = [r for r in records if r["type"] != "error"]
        done = {r["chunk"] for r in records}
        todo = deque(i for i in range(spec.n_chunks) if i not in done)
        summary = summarize(header, records)
        points_done = summary.points_done + sum(r["n"] for r in records if r["type"] == "error")
        attempts: dict[int, int] = {}
        n_workers = pool_size(workers, len(todo))
        own = executor is None
        if own and todo:
            _warm_up(spec)
        pool = executor or _pool(n_workers, fd)
        cap = 2 * n_workers + 2  # chunks in flight: enough to keep every worker busy
        in_flight: dict[cf.Future[Any], int] = {}
        t0 = time.perf_counter()
        if progress is not None:
            progress(points_done, spec.n_points, 0.0)
        # A dead worker breaks the whole pool: every chunk in flight fails and none is known to
        # be the culprit. They become *suspects* and rerun one at a time; a suspect that breaks
        # the pool while running alone is charged an attempt (error record after max_retries).
        suspects: set[int] = set()
        try:
            while todo or in_flight:
                limit = 1 if suspects else cap
                while todo and len(in_flight) < limit:
                    i = next((j for j in todo if j in suspects), todo[0]) if suspects \
                        else todo[0]
                    todo.remove(i)
                    in_flight[pool.submit(run_chunk, spec, i)] = i
                alone = len(in_flight) == 1
                done_now, _ = cf.wait(in_flight, timeout=1.0, return_when=cf.FIRST_COMPLETED)
                broken = False
                for fut in sorted(done_now, key=in_flight.__getitem__):
                    i = in_flight.pop(fut)
                    try:
                        rec = fut.result()
                    except Exception as exc:
                        if _is_infrastructure(exc):
                            pool_broke = isinstance(exc, cf.BrokenExecutor)
                            broken = broken or pool_broke
                            if not pool_broke or not own or (alone and i in suspects):
                                attempts[i] = attempts.get(i, 0) + 1
                            if pool_broke and own:
                                suspects.add(i)
                            if attempts.get(i, 0) <= max_retries:
                                todo.appendleft(i)
                                continue
                        lo, hi = spec.chunk_range(i)
                        pts = spec.chunk_points(i)
                        rec = {"type": "error", "chunk": i, "n": hi - lo, "points": [lo, hi],
                               "ranges": {k: [float(v.min()), float(v.max())]
                                          for k, v in pts.items()},
                               "error": f"{type(exc).__name__}: {exc} (after "
                               f"{attempts.get(i, 0)} failed attempts)", "traceback": ""}
                    suspects.discard(i)
                    _append(fd, rec)
                    records.append(rec)
                    points_done += rec["n"]
                    if progress is not None:
                        progress(points_done, spec.n_points, time.perf_counter() - t0)
                if broken and own:
                    # every chunk still in flight fails with the broken pool: suspects too
                    for i in in_flight.values():
                        suspects.add(i)
                        todo.appendleft(i)
                    in_flight.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = _pool(n_workers, fd)
                elif broken:
                    raise SweepError("the executor is broken (a worker died) and the sweep does "
                                     "not own it; rerun the same command to resume")
        except BaseException:
            for fut in in_flight:
                fut.cancel()
            if own:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        if own:
            pool.shutdown(wait=True)
        return summarize(header, records)
    finally:
        os.close(fd)
