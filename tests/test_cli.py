"""The ``symforget`` command line: exit codes, output, JSON schema, derive files, --help.

Most tests call :func:`symforget.cli.main` in-process with a tiny fake registry (claims that pass,
fail or raise instantly); one runs the real ``gauss.closed_forms`` claim, and a few run the
installed console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy as sp

from symforget import __version__, claims, cli
from symforget.claims.base import Claim, Context, Evidence
from symforget.runners import render
from symforget.symbolic.derivation import Derivation, Step

X = sp.Symbol("x", real=True)


def _check_pass(ctx: Context, bound: float = 2.0, **_: object) -> Evidence:
    """Fake check: 1 <= bound (a mutant with bound < 1 fails)."""
    ok = 1.0 <= bound
    return Evidence(ok, {"value": 1.0, "bound": bound, "seed": ctx.seed}, "value 1 <= bound",
                    None if ok else f"value 1 > bound {bound}")


def _check_fail(ctx: Context, **_: object) -> Evidence:
    return Evidence(False, {"worst": 3.0}, "worst 3 > 2", "at x=1.5: 3 > 2")


def _check_error(ctx: Context, **_: object) -> Evidence:
    raise RuntimeError("boom in the check")


def _derivations_ok() -> list[Derivation]:
    return [Derivation(
        "Square of a sum", ("$x$ real",),
        (Step((X + 1) ** 2, X**2 + 2 * X + 1, "expand", "binomial formula"),
         Step(X**2, X**2 + 1, "bound", "add a positive constant", kind="le"),
         Step(sp.Symbol(r"\mathrm{S}"), (X + 1) ** 2, "notation", "name it", kind="def"),
         Step(sp.Integral(X, (X, 0, 1)), sp.Rational(1, 2), "integrate", "SymPy integrates",
              kind="cas")),
        result=X**2 + 2 * X + 1, notes=("a note with a_b and *stars*",))]


def _derivations_bad() -> list[Derivation]:
    return [Derivation("Wrong", (), (Step((X + 1) ** 2, X**2 + 1, "expand", "forgot 2x"),))]


def _derivations_raise() -> list[Derivation]:
    raise RuntimeError("derivation bug")


FAKE = {
    "fake.pass": Claim("fake.pass", "one is at most two", _check_pass, _derivations_ok,
                       assumptions=("nothing",), mutants={"bound_half": {"bound": 0.5}},
                       issue=2),
    "fake.fail": Claim("fake.fail", "a statement that is false", _check_fail,
                       _derivations_bad),
    "fake.error": Claim("fake.error", "a check that raises", _check_error),
}
BROKEN = Claim("broken.derivation", "a claim whose derivation raises", _check_pass,
               _derivations_raise)


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Claim]:
    """Replace the registry by the fake claims (instant checks)."""
    monkeypatch.setattr(claims, "_REGISTRY", dict(FAKE))
    monkeypatch.setattr(claims, "_LOADED", True)
    return FAKE


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------- help


@pytest.mark.parametrize("argv", [["--help"], ["verify", "--help"], ["derive", "--help"],
                                  ["list", "--help"]])
def test_help_exits_0_and_shows_an_example(capsys, argv):
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "usage: symforget" in out
    assert "example" in out


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"symforget {__version__}"


def test_no_command_is_a_usage_error(capsys):
    code, _, err = run(capsys)
    assert code == 2
    assert "usage: symforget" in err


def test_choices_match_the_library():
    assert cli.PROFILES == claims.PROFILES
    assert cli.FORMATS == render.FORMATS


# ---------------------------------------------------------------------------------- verify


def test_verify_pass_exit_0_table_and_progress(capsys, fake_registry):
    code, out, err = run(capsys, "verify", "fake.pass")
    assert code == 0
    assert re.search(r"^fake\.pass\s+pass\s+\d+\.\d\s+value 1 <= bound$", out, re.M), out
    assert out.splitlines()[-1] == "1 passed, 0 failed"
    assert re.search(r"^1 claim\(s\) in \d+\.\d s$", out, re.M)
    assert "[1/1] fake.pass ... pass (" in err


def test_verify_fail_exit_1_prints_counterexample(capsys, fake_registry):
    code, out, _ = run(capsys, "verify", "fake.fail")
    assert code == 1
    assert "FAIL fake.fail" in out
    assert "counterexample: at x=1.5: 3 > 2" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_verify_error_is_a_failure(capsys, fake_registry):
    code, out, _ = run(capsys, "verify", "fake.error")
    assert code == 1
    assert "ERROR fake.error" in out
    assert "RuntimeError: boom in the check" in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"
    assert "1 raised an error (counted as failed)" in out


def test_verify_family_prefix_selects_all_and_any_failure_gives_1(capsys, fake_registry):
    code, out, err = run(capsys, "verify", "fake")
    assert code == 1
    assert out.splitlines()[-1] == "1 passed, 2 failed"
    assert "[3/3]" in err


def test_verify_all_by_default(capsys, fake_registry):
    code, out, _ = run(capsys, "verify")
    assert code == 1
    for cid in FAKE:
        assert re.search(rf"^{re.escape(cid)}\s", out, re.M)


def test_unknown_id_one_line_error_exit_2(capsys, fake_registry):
    code, out, err = run(capsys, "verify", "fake.pass", "no.such_claim")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symforget: error: unknown claim id 'no.such_claim'")
    assert "fake.pass" in lines[0]  # lists the known ids


def test_unknown_id_in_derive_exit_2(capsys, fake_registry, tmp_path):
    code, _, err = run(capsys, "derive", "nope", "--out", str(tmp_path))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["verify", "--profile", "slow"],
    ["verify", "--dps", "abc"],
    ["verify", "--dps", "5"],
    ["verify", "--dps", "100000"],
    ["verify", "--seed", "-1"],
    ["verify", "--seed", "1.5"],
    ["derive", "--format", "html"],
    ["frobnicate"],
])
def test_bad_options_are_usage_errors(capsys, fake_registry, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert "error:" in err
    assert "passed" not in out  # nothing ran


def test_json_report_schema(capsys, fake_registry, tmp_path):
    path = tmp_path / "r.json"
    code, _, _ = run(capsys, "verify", "fake", "--json", str(path), "--seed", "7", "--dps", "40")
    assert code == 1
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {"claims", "environment"} <= set(data)
    assert data["profile"] == "quick" and data["seed"] == 7 and data["dps"] == 40
    assert data["ok"] is False
    assert [c["id"] for c in data["claims"]] == list(FAKE)
    for rec in data["claims"]:
        assert {"id", "status", "statement", "metrics", "seconds"} <= set(rec)
        assert rec["status"] in {"pass", "fail", "error"}
        assert isinstance(rec["metrics"], dict)
        assert isinstance(rec["seconds"], float) and rec["seconds"] >= 0
    by_id = {c["id"]: c for c in data["claims"]}
    assert by_id["fake.pass"]["status"] == "pass"
    assert by_id["fake.pass"]["metrics"]["seed"] == 7  # the seed reached the check
    assert by_id["fake.fail"]["counterexample"] == "at x=1.5: 3 > 2"
    assert by_id["fake.error"]["status"] == "error"
    env = data["environment"]
    assert env["symforget"] == __version__
    assert {"python", "sympy", "mpmath", "numpy", "scipy", "platform"} <= set(env)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left behind


def test_json_into_missing_directory_fails_before_running(capsys, fake_registry, tmp_path):
    code, out, err = run(capsys, "verify", "--json", str(tmp_path / "no" / "r.json"))
    assert code == 2
    assert "does not exist" in err
    assert out == ""


def test_real_claim_passes_with_json(capsys, tmp_path):
    """A cheap real claim end to end (a few seconds)."""
    path = tmp_path / "real.json"
    code, out, _ = run(capsys, "verify", "rkl.weight_convergence", "--json", str(path))
    assert code == 0, out
    assert out.splitlines()[-1] == "1 passed, 0 failed"
    rec = json.loads(path.read_text(encoding="utf-8"))["claims"][0]
    assert rec["id"] == "rkl.weight_convergence" and rec["status"] == "pass"
    assert rec["metrics"] and rec["counterexample"] is None


# ---------------------------------------------------------------------------------- list


def test_list(capsys, fake_registry):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(FAKE)
    for line, (cid, claim) in zip(lines, FAKE.items(), strict=True):
        assert line.split()[0] == cid
        assert line.endswith(claim.statement)


# ---------------------------------------------------------------------------------- derive


def test_derive_markdown_files(capsys, fake_registry, tmp_path):
    code, out, _ = run(capsys, "derive", "fake.pass", "--out", str(tmp_path))
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.pass.md", "index.md"]
    text = (tmp_path / "fake.pass.md").read_text(encoding="utf-8")
    assert "# `fake.pass`" in text
    assert "**Statement.** one is at most two" in text
    assert "symforget verify fake.pass" in text
    assert "$$\n\\left(x + 1\\right)^{2} = x^{2} + 2 x + 1\n$$" in text
    assert "$$\nx^{2} \\le x^{2} + 1\n$$" in text
    assert "\\mathrm{S} = " in text  # raw-LaTeX symbol kept verbatim
    assert "Checked (simplify)" in text and "Checked (numeric-50)" in text
    assert "Not checked: a definition or notation." in text
    assert "Not re-checked here: " in text  # a "cas" step (output of a SymPy algorithm)
    assert "a\\_b and \\*stars\\*" in text  # Markdown-escaped prose
    assert "`bound_half`" in text
    assert "Fake check: 1 <= bound" in text  # the check's docstring
    index = (tmp_path / "index.md").read_text(encoding="utf-8")
    # the index lists what is in the directory (here: the one claim written), no broken links
    assert re.findall(r"\]\(([^)]+)\)", index) == ["fake.pass.md"]
    assert "fake.pass.md" in out


def test_derive_is_deterministic_and_atomic(capsys, fake_registry, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert cli.main(["derive", "fake.pass", "--out", str(a)]) == 0
    assert cli.main(["derive", "fake.pass", "--out", str(b)]) == 0
    capsys.readouterr()
    for name in ("fake.pass.md", "index.md"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert not [p for p in a.iterdir() if p.name.endswith(".tmp")]


def test_derive_latex_fragments(capsys, fake_registry, tmp_path):
    code, _, _ = run(capsys, "derive", "fake.pass", "--format", "latex", "--out", str(tmp_path))
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.pass.tex", "index.tex"]
    tex = (tmp_path / "fake.pass.tex").read_text(encoding="utf-8")
    assert "\\begin{equation*}\n\\left(x + 1\\right)^{2} = x^{2} + 2 x + 1\n" in tex
    assert "\\texttt{fake.pass}" in tex
    assert "a\\_b" in tex
    assert "\\documentclass" not in tex  # a fragment
    assert "\\input{fake.pass.tex}" in (tmp_path / "index.tex").read_text(encoding="utf-8")


def test_derive_failing_step_exit_1_and_marked(capsys, fake_registry, tmp_path):
    code, _, err = run(capsys, "derive", "fake.fail", "--out", str(tmp_path))
    assert code == 1
    text = (tmp_path / "fake.fail.md").read_text(encoding="utf-8")
    assert "**NOT CONFIRMED**" in text
    assert "fake.fail: Wrong, step 1 (expand)" in err


def test_derivation_that_raises_exit_1_others_still_written(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(claims, "_REGISTRY", {**FAKE, BROKEN.id: BROKEN})
    monkeypatch.setattr(claims, "_LOADED", True)
    code, _, err = run(capsys, "derive", "broken", "fake.pass", "--out", str(tmp_path))
    assert code == 1
    assert "broken.derivation: derivations raised RuntimeError: derivation bug" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.pass.md", "index.md"]


def test_claim_without_derivation_renders(capsys, fake_registry, tmp_path):
    code, _, _ = run(capsys, "derive", "fake.error", "--out", str(tmp_path))
    assert code == 0
    assert "No symbolic derivation" in (tmp_path / "fake.error.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------- process


def _console_script() -> str:
    here = Path(sys.executable).parent / ("symforget.exe" if os.name == "nt" else "symforget")
    found = str(here) if here.exists() else shutil.which("symforget")
    assert found, "the 'symforget' console script is not installed (pip install .)"
    return found


def test_console_script_help_is_fast_and_unknown_id_exits_2():
    exe = _console_script()
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0 and "symforget verify" in proc.stdout
    assert elapsed < 5.0, f"symforget --help took {elapsed:.2f} s"  # target < 1.5 s; CI slack
    proc = subprocess.run([exe, "verify", "definitely.not_a_claim"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "unknown claim id 'definitely.not_a_claim'" in proc.stderr


def test_importing_the_cli_does_not_import_sympy_or_numpy():
    code = ("import sys, symforget.cli; "
            "print(sorted(m for m in ('sympy', 'numpy', 'scipy', 'mpmath') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]"
