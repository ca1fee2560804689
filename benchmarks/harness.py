"""Timing harness: interleaved rounds, medians, same-run ratios, error metrics, reports.

Absolute times on a shared machine drift by tens of percent over minutes, so every group is
timed *interleaved*: in each round every contender runs once (the starting contender rotates
from round to round), and ratios are formed **within a round** (baseline time / symforget
time) before taking the median over rounds. A noisy neighbour then slows both sides of a
ratio alike.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


def log(msg: str) -> None:
    """Progress line on stderr (stdout carries only the final table)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@dataclass
class Contender:
    """One timed operation: ``fn()`` processes ``points`` points (or is one call)."""

    name: str
    fn: Callable[[], Any]
    points: int = 1
    unit: str = "µs/point"
    note: str = ""
    times: list[float] = field(default_factory=list)  # seconds per point, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> float:
        """Relative spread (max − min)/median over rounds."""
        return (max(self.times) - min(self.times)) / self.median if self.times else float("nan")


def run_interleaved(contenders: list[Contender], rounds: int, label: str) -> None:
    """Time every contender once per round, rotating the starting contender."""
    for c in contenders:  # warm-up (compile caches, page in code) — not recorded
        c.fn()
    n = len(contenders)
    for r in range(rounds):
        for j in range(n):
            c = contenders[(j + r) % n]
            c.times.append(timed(c.fn) / c.points)
        log(f"{label}: round {r + 1}/{rounds}")


def ratio(base: Contender, ref: Contender) -> float:
    """Median over rounds of base-time / ref-time (ref = symforget): the speed-up."""
    return statistics.median(b / s for b, s in zip(base.times, ref.times, strict=True))


def worst_rel(values: np.ndarray, refs: np.ndarray, floor: float = 1e-3) -> float:
    """Worst componentwise relative error over points; a component is compared relative to
    max(|ref_i|, floor·‖ref‖∞ of its point) so cancelling components do not blow up."""
    v = np.asarray(values, dtype=float).reshape(len(refs), -1)
    r = np.asarray(refs, dtype=float).reshape(len(refs), -1)
    den = np.maximum(np.abs(r), floor * np.abs(r).max(axis=1, keepdims=True))
    den = np.where(den > 0, den, 1.0)
    err = np.abs(v - r) / den
    if not np.all(np.isfinite(err)):
        return float("inf")
    return float(err.max())


def machine() -> dict[str, Any]:
    info = {"platform": platform.platform(), "processor": platform.processor() or "?",
            "cpus": os.cpu_count(), "python": sys.version.split()[0],
            "numpy": np.__version__}
    try:
        info["loadavg_at_start"] = os.getloadavg()
    except OSError:
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def fmt_time(seconds: float, unit: str) -> str:
    if not np.isfinite(seconds):
        return "—"
    if unit == "µs/point":
        return f"{seconds * 1e6:.3g}"
    if unit == "ms/call":
        return f"{seconds * 1e3:.3g}"
    if unit == "s":
        return f"{seconds:.3g}"
    return f"{seconds:.3g}"


def fmt_err(e: float | None) -> str:
    return "—" if e is None else f"{e:.2g}"


def to_json(obj: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, np.floating | np.integer):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)
    return json.dumps(obj, indent=2, default=default) + "\n"
