"""User errors: one line on stderr, exit 2, no traceback — whether argparse, the option types or
the computation (a SymforgetError raised because of the given parameters) refuses them. A claim
that fails stays exit 1. An unknown option is reported with the usage of the sub-command it was
given to.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from symforget import cli, methods
from symforget.cli.args import int_option
from symforget.errors import ParameterError, PrecisionError, SymforgetError


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_computation_refusing_a_parameter_is_a_one_line_usage_error(capsys):
    """A step size the gradient descent cannot take (SymforgetError from dynamics)."""
    code, out, err = run(capsys, "simulate", "rkl", "--eta", "1e6", "--steps", "3")
    assert code == 2 and out == ""
    line = _one_line(err)
    assert line.startswith("symforget: error: ") and "eta=1000000.0 too large" in line


@pytest.mark.parametrize("exc", [
    ParameterError("lam=2 must lie in [0, 1]"),
    PrecisionError("cannot certify 50 digits at\ndelta=900 (error estimate 1e-3)"),
    SymforgetError("refused"),
])
def test_every_symforget_error_is_exit_2_on_one_line(capsys, monkeypatch, exc):
    def refuse(*_a, **_k):
        raise exc

    monkeypatch.setattr(methods.get("sft"), "run", refuse)
    code, out, err = run(capsys, "simulate", "sft", "--steps", "3")
    assert code == 2 and out == ""
    line = _one_line(err)  # a multi-line message is folded
    assert line == "symforget: error: " + " ".join(str(exc).split("\n"))


def test_console_script_prints_no_traceback():
    """The installed entry point, end to end (the example of the issue)."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from symforget.cli import main; "
                           "sys.exit(main())", "simulate", "rkl", "--eta", "1e6", "--steps", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    # one error line; on a slow machine a progress line may come first (compiling takes ~2 s)
    assert lines[-1].startswith("symforget: error: ") and proc.stderr.endswith("\n")
    assert all("elapsed" in line for line in lines[:-1]), proc.stderr


@pytest.mark.parametrize(("argv", "usage"), [
    (["verify", "--nonsense"], "usage: symforget verify "),
    (["derive", "--nonsense"], "usage: symforget derive "),
    (["list", "extra"], "usage: symforget list "),
    (["report", "--out", "r", "--nonsense"], "usage: symforget report "),
    (["simulate", "sdft", "--nonsense"], "usage: symforget simulate sdft "),
    (["simulate", "replay", "--nonsense"], "usage: symforget simulate replay "),
    (["compare", "--nonsense"], "usage: symforget compare "),
    (["sweep", "--nonsense"], "usage: symforget sweep "),
    (["--nonsense", "verify"], "usage: symforget [-h]"),
])
def test_unknown_option_shows_the_usage_of_its_sub_command(capsys, argv, usage):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(usage), err
    assert "unrecognized arguments: " in err.splitlines()[-1]


def test_int_option_accepts_integral_scientific_notation():
    steps = int_option("steps", 1)
    assert steps("1e8") == 100_000_000 and steps("2000") == 2000 and steps("1_000") == 1000
    assert steps("3.0") == 3
    for bad in ("1.5", "nan", "inf", "abc", "", "1e400"):
        with pytest.raises(argparse.ArgumentTypeError, match="must be an integer"):
            steps(bad)
    with pytest.raises(argparse.ArgumentTypeError, match=">= 1"):
        steps("0")
    with pytest.raises(argparse.ArgumentTypeError, match=r"\[20, 1000\]"):
        int_option("dps", 20, 1000)("5e3")


def test_failing_claim_stays_exit_1(capsys, monkeypatch):
    from symforget import claims
    from symforget.claims.base import Claim, Evidence

    fail = Claim("fake.fail", "false", lambda ctx, **_: Evidence(False, {}, "no", "at x=1"))
    monkeypatch.setattr(claims, "_REGISTRY", {fail.id: fail})
    monkeypatch.setattr(claims, "_LOADED", True)
    code, out, _ = run(capsys, "verify")
    assert code == 1 and out.splitlines()[-1] == "0 passed, 1 failed"
