"""Helpers shared by the ``symforget`` sub-commands (standard library only): the integer option
type, the output-path check made before any computation, and stderr progress output that knows
whether the cursor is in the middle of a line.
"""

from __future__ import annotations

import argparse
import decimal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from ..numeric.files import output_problem

__all__ = ["int_option", "output_error", "Status", "STATUS", "Ticker", "PROGRESS_DELAY",
           "format_seconds"]


def _integer(text: str) -> int | None:
    """``text`` as an exact integer: ``12``, ``-3``, ``1e8``, ``2.0``, ``1_000`` (None if not)."""
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        d = decimal.Decimal(t.replace("_", ""))
    except decimal.InvalidOperation:
        return None
    if not d.is_finite() or d.adjusted() > 18 or d != d.to_integral_value():
        return None  # 1.5, nan, inf, or absurdly large (not expanded digit by digit)
    return int(d)


def int_option(name: str, lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for an integer option ``name`` in ``[lo, hi]`` (no upper bound if
    ``hi`` is None); a bad value is a usage error whose message names the option. Integral
    numbers in scientific notation are accepted (``--steps 1e6``)."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value is None:
            raise argparse.ArgumentTypeError(f"{name}={text!r} must be an integer")
        if hi is None and value < lo:
            raise argparse.ArgumentTypeError(f"{name}={value} must be >= {lo}")
        if hi is not None and not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{name}={value} must lie in [{lo}, {hi}]")
        return value

    return parse


def output_error(option: str, path: str | None, kind: str = "file") -> str | None:
    """The one-line error for output option ``option`` (e.g. ``--json``) given ``path``, or
    None if ``path`` is None or can be written (:func:`symforget.numeric.files.output_problem`;
    nothing
    is created). Call it before computing anything."""
    if path is None:
        return None
    reason = output_problem(path, kind)
    if reason is None:
        return None
    shown = path if path and path.strip() == path and " " not in path else repr(path)
    return f"{option} {shown}: {reason}"


# --------------------------------------------------------------------------------------------
# stderr


class Status:
    """Progress and messages on stderr.

    Tracks whether the cursor is in the middle of a line (progress such as ``[2/5] claim ... ``
    is written without a newline) and whether the current line is a *transient* one (rewritten
    in place with ``\\r`` on a terminal), so that every message and the final result start on
    a line of their own. Thread-safe (a heartbeat thread may write). The stream is looked up at
    every write (``sys.stderr`` by default), so redirection after construction is honoured.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.RLock()
        self.mid_line = False
        self._transient = 0  # length of the transient text on screen (0: none)

    def reset(self) -> None:
        """Forget the cursor state (a new command starts at the start of a line)."""
        with self._lock:
            self.mid_line = False
            self._transient = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def isatty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def _out(self, text: str) -> None:
        stream = self.stream
        stream.write(text)
        stream.flush()

    def _clear_transient(self) -> None:
        if self._transient:
            self._out("\r" + " " * self._transient + "\r")
            self._transient = 0
            self.mid_line = False

    def write(self, text: str) -> None:
        """Write ``text`` as is (a progress fragment may leave the cursor mid-line)."""
        if not text:
            return
        with self._lock:
            self._clear_transient()
            self._out(text)
            self.mid_line = not text.endswith("\n")

    def line(self, text: str = "") -> None:
        """Write ``text`` on a line of its own (ending a line left open first)."""
        with self._lock:
            self._clear_transient()
            self._out(("\n" if self.mid_line else "") + text + "\n")
            self.mid_line = False

    def transient(self, text: str) -> None:
        """A progress line: rewritten in place on a terminal, a plain line otherwise."""
        with self._lock:
            if not self.isatty():
                self.line(text)
                return
            if self.mid_line and not self._transient:
                self._out("\n")
            pad = max(0, self._transient - len(text))
            self._out("\r" + text + " " * pad)
            self._transient = len(text)
            self.mid_line = True

    def end_transient(self, keep: bool = False) -> None:
        """End the transient line, if any: erased, or with ``keep`` left on screen; the cursor
        is then at the start of a line."""
        with self._lock:
            if keep and self._transient:
                self._out("\n")
                self._transient = 0
                self.mid_line = False
            self._clear_transient()

    def error(self, message: str, prog: str = "symforget") -> None:
        """``prog: error: message`` on one line (newlines in ``message`` are folded)."""
        one = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
        self.line(f"{prog}: error: {one}")

    def warning(self, message: str, prog: str = "symforget") -> None:
        self.line(f"{prog}: warning: {message}")


#: the process-wide stderr status (every sub-command writes progress through it)
STATUS = Status()

#: a computation shorter than this (seconds) shows no progress line
PROGRESS_DELAY = 2.0


def format_seconds(seconds: float) -> str:
    """``12 s``, ``4:05``, ``1:02:03``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Ticker:
    """A throttled progress line for one long computation.

    Silent for the first ``delay`` seconds (default :data:`PROGRESS_DELAY`), so short runs print
    nothing. After that, at most one update every ``interval`` seconds: rewritten in place on a
    terminal, or as plain lines otherwise — one when the work advanced by ``step_percent`` or
    after ``plain_interval`` seconds, whichever comes first. The computation reports with
    :meth:`update` (``done`` of ``total`` units) when it can; used as a context manager, a
    daemon heartbeat thread also ticks every ``interval`` seconds, so a computation that never
    reports still shows its elapsed time. Only stderr is touched.
    """

    def __init__(self, label: str, total: int | None = None, *, unit: str = "steps",
                 status: Status | None = None, delay: float | None = None,
                 interval: float = 1.0, plain_interval: float = 10.0,
                 step_percent: float = 5.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.status = status if status is not None else STATUS
        self.delay = PROGRESS_DELAY if delay is None else delay
        self.interval = interval
        self.plain_interval = plain_interval
        self.step_percent = step_percent
        self.clock = clock
        self.t0 = clock()
        self.done: int | None = None
        self.lines = 0  # progress lines emitted
        self._last: float | None = None
        self._last_pct: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _percent(self) -> float | None:
        if self.done is None or not self.total:
            return None
        return 100.0 * min(self.done, self.total) / self.total

    def text(self, elapsed: float) -> str:
        pct = self._percent()
        if pct is None:
            size = f" ({self.total:,} {self.unit})" if self.total else ""
            return f"{self.label}{size}: {format_seconds(elapsed)} elapsed"
        assert self.done is not None and self.total
        out = (f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({pct:.0f} %), "
               f"{format_seconds(elapsed)} elapsed")
        if 0 < self.done < self.total:
            out += f", ETA {format_seconds(elapsed * (self.total - self.done) / self.done)}"
        return out

    def update(self, done: int, total: int | None = None) -> None:
        """The computation has finished ``done`` units (of ``total``, if given)."""
        self.done = int(done)
        if total is not None:
            self.total = int(total)
        self.tick()

    def tick(self) -> None:
        """Emit a progress line if one is due."""
        with self._lock:
            now = self.clock()
            elapsed = now - self.t0
            if elapsed < self.delay:
                return
            if self._last is not None:
                gap = now - self._last
                if gap < self.interval:
                    return
                if not self.status.isatty():
                    pct = self._percent()
                    moved = (pct is not None and self._last_pct is not None
                             and pct - self._last_pct >= self.step_percent)
                    if not moved and gap < self.plain_interval:
                        return
            self._last, self._last_pct = now, self._percent()
            self.lines += 1
            self.status.transient(self.text(elapsed))

    def close(self) -> None:
        """Stop the heartbeat and erase the progress line (on a terminal)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
            self._thread = None
        self.status.end_transient()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self.tick()

    def __enter__(self) -> Ticker:
        self._thread = threading.Thread(target=self._beat, name="symforget-progress",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


#: exit codes shared by every sub-command
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it


def error(message: str) -> None:
    """``symforget: error: message`` on stderr, on a line of its own."""
    STATUS.error(message)


def progress_line(text: str, end: str = "") -> None:
    """Progress text on stderr (may leave the cursor mid-line; see :class:`Status`)."""
    STATUS.write(text + end)
