"""Progress of long runs on stderr (``simulate``, ``compare``): silent for short runs, throttled,
rewritten in place on a terminal and plain lines otherwise, messages always on a line of their
own — and stdout and the JSON byte for byte the same with or without progress.

The throttling is tested with a fake clock (no sleeps); the heartbeat thread with an event.
"""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import pytest

from symforget import cli, methods
from symforget.cli import args as cli_args
from symforget.cli.args import Status, Ticker, format_seconds
from symforget.methods.base import report_steps, step_progress


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_runs_are_silent_then_throttled_on_a_terminal():
    clock, stream = Clock(), Tty()
    t = Ticker("sdft", 1000, status=Status(stream), delay=2.0, interval=1.0, clock=clock)
    for step in range(1, 200):
        clock.t = step * 0.01  # 1.99 s of work: nothing shown
        t.update(step)
    assert stream.getvalue() == "" and t.lines == 0
    clock.t = 2.0
    t.update(200)
    clock.t = 2.5
    t.update(250)  # < 1 s since the last line: throttled
    clock.t = 3.1
    t.update(300)
    text = stream.getvalue()
    assert t.lines == 2 and "\n" not in text
    assert text.startswith("\rsdft: 200/1,000 steps (20 %), 2 s elapsed, ETA 8 s")
    assert "\rsdft: 300/1,000 steps (30 %), 3 s elapsed, ETA 7 s" in text
    t.close()
    assert stream.getvalue().endswith("\r")  # erased: the cursor is back at column 0


def test_plain_lines_every_five_percent_or_ten_seconds():
    clock, stream = Clock(), io.StringIO()
    t = Ticker("run", 100, status=Status(stream), delay=2.0, clock=clock)
    for step in range(1, 101):
        clock.t = 2.0 + step * 0.5  # 0.5 s per step: 1 % per 0.5 s
        t.update(step)
    lines = stream.getvalue().splitlines()
    assert all(not ln.startswith("\r") for ln in lines)
    assert len(lines) == 20  # one per 5 %, never two within a second
    assert lines[0].startswith("run: 1/100 steps (1 %)")
    clock2, stream2 = Clock(), io.StringIO()
    t2 = Ticker("run", None, status=Status(stream2), delay=2.0, clock=clock2)
    for second in range(0, 61):  # no step count: the elapsed time every 10 s
        clock2.t = float(second)
        t2.tick()
    assert stream2.getvalue().splitlines() == [
        f"run: {s} elapsed" for s in ("2 s", "12 s", "22 s", "32 s", "42 s", "52 s")]


def test_messages_start_on_their_own_line():
    stream = io.StringIO()
    st = Status(stream)
    st.write("[2/3] fake.claim ... ")
    st.error("interrupted")
    assert stream.getvalue() == "[2/3] fake.claim ... \nsymforget: error: interrupted\n"
    tty = Tty()
    st = Status(tty)
    st.transient("sdft: 3 s elapsed")
    st.error("bad\nthing")
    assert tty.getvalue() == ("\rsdft: 3 s elapsed" + "\r" + " " * 17 + "\r"
                              + "symforget: error: bad thing\n")


def test_format_seconds():
    assert [format_seconds(s) for s in (0.4, 59, 61, 3723)] == ["0 s", "59 s", "1:01", "1:02:03"]


def test_step_hook_reaches_the_ticker():
    seen: list[tuple[int, int]] = []
    report_steps(1, 2)  # nobody listens: nothing happens
    with step_progress(lambda d, n: seen.append((d, n))):
        report_steps(3, 10)
    report_steps(4, 10)
    assert seen == [(3, 10)]


def test_heartbeat_thread_shows_a_run_that_reports_nothing(capsys, monkeypatch):
    """A method whose loop never reports still gets an elapsed-time line (from the thread)."""
    shown = threading.Event()
    real_transient = cli_args.Status.transient

    def transient(self, text):
        real_transient(self, text)
        shown.set()

    real_run = methods.get("sft").run

    def slow_run(*args, **kwargs):
        assert shown.wait(30), "no progress line within 30 s"
        return real_run(*args, **kwargs)

    monkeypatch.setattr(cli_args.Status, "transient", transient)
    monkeypatch.setattr(cli_args, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(methods.get("sft"), "run", slow_run)
    assert cli.main(["simulate", "sft", "--steps", "5"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"^sft \(5 steps\): \d+ s elapsed$", err, re.M), err


@pytest.mark.parametrize("argv", [
    ["compare", "--methods", "sft", "rkl", "--steps", "20", "--seed", "3"],
    ["simulate", "sdft", "--steps", "20"],
    ["simulate", "replay", "--steps", "50", "--rho", "0", "0.3"],
])
def test_stdout_and_json_identical_with_progress(capsys, monkeypatch, tmp_path: Path, argv):
    quiet, loud = tmp_path / "quiet.json", tmp_path / "loud.json"
    monkeypatch.setattr(cli_args, "PROGRESS_DELAY", float("inf"))
    assert cli.main([*argv, "--json", str(quiet)]) == 0
    out_quiet = capsys.readouterr().out
    monkeypatch.setattr(cli_args, "PROGRESS_DELAY", 0.0)  # every update shows
    with step_progress(lambda d, n: None):
        assert cli.main([*argv, "--json", str(loud)]) == 0
    captured = capsys.readouterr()
    assert captured.out == out_quiet
    assert loud.read_bytes() == quiet.read_bytes()
    if argv[0] == "simulate" and argv[1] == "replay":
        assert "replay experiment: 1/2 replay fractions (50 %)" in captured.err


def test_compare_reports_each_method_on_stderr(capsys):
    assert cli.main(["compare", "--methods", "sft", "rkl", "--steps", "5"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("[1/2] sft done (") and err[1].startswith("[2/2] rkl done (")
