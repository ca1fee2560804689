"""Output paths: every ``--out``/``--json``/``--plot`` is checked before any computation, with a
one-line error naming the option and the reason (exit 2); output directories are swapped in
whole (``derive``/``report`` never leave a half-regenerated directory); ``derive ID --out DIR``
indexes exactly the claim files the directory holds.

The claims here are fakes that count their runs (instant). An unwritable directory is made by
fault injection at the system-call boundary (``os.open`` refusing to create files there), since
the tests may run as root, for whom permission bits do not apply.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import pytest

from symforget import claims, cli
from symforget.claims.base import Claim, Context, Evidence
from symforget.numeric import files

RUNS: list[str] = []


def _check(ctx: Context, **_: object) -> Evidence:
    RUNS.append("ran")
    return Evidence(True, {"value": 1.0}, "value 1", None)


FAKE = {cid: Claim(cid, f"statement of {cid}", _check) for cid in ("fake.a", "fake.b")}


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, Claim]:
    monkeypatch.setattr(claims, "_REGISTRY", dict(FAKE))
    monkeypatch.setattr(claims, "_LOADED", True)
    RUNS.clear()
    return FAKE


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An existing directory in which no file can be created (EACCES from os.open)."""
    d = tmp_path / "locked"
    d.mkdir()
    real_open = os.open

    def guarded(path, flags, *args, **kwargs):
        p = os.path.abspath(os.fsdecode(path))
        if flags & os.O_CREAT and os.path.dirname(p) == str(d):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), p)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    return d


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("symforget") and ": error: " in lines[0], err
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------- the check itself


def test_output_problem_file_kind(tmp_path: Path) -> None:
    assert files.output_problem(tmp_path / "r.json") is None
    (tmp_path / "r.json").write_text("old")
    assert files.output_problem(tmp_path / "r.json") is None  # replaced atomically
    assert files.output_problem("") == "empty path"
    assert files.output_problem(tmp_path) == "is a directory"
    assert "does not exist" in files.output_problem(tmp_path / "no" / "r.json")
    (tmp_path / "f").write_text("")
    assert "not a directory" in files.output_problem(tmp_path / "f" / "r.json")
    os.mkfifo(tmp_path / "fifo")
    assert files.output_problem(tmp_path / "fifo") == "exists and is not a regular file"
    assert list(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_output_problem_dir_and_append_kinds(tmp_path: Path, locked: Path) -> None:
    assert files.output_problem(tmp_path / "new" / "deeper", "dir") is None
    assert files.output_problem(tmp_path, "dir") is None
    (tmp_path / "f").write_text("")
    assert files.output_problem(tmp_path / "f", "dir") == "exists and is not a directory"
    assert "Permission denied" in files.output_problem(locked, "dir")
    assert "Permission denied" in files.output_problem(locked / "sub", "dir")
    assert "Permission denied" in files.output_problem(locked / "r.json")
    assert files.output_problem(tmp_path / "f", "append") is None
    assert files.output_problem(tmp_path, "append") == "is a directory"
    with pytest.raises(ValueError, match="kind"):
        files.output_problem(tmp_path, "nonsense")


# ------------------------------------------------------------------- before any computation


@pytest.mark.parametrize(("json_arg", "reason"), [
    ("{dir}", "is a directory"),
    ("", "empty path"),
    ("{dir}/missing/r.json", "does not exist"),
    ("{fifo}", "not a regular file"),
])
def test_verify_json_refused_before_any_claim_runs(capsys, fake_registry, tmp_path, json_arg,
                                                   reason):
    os.mkfifo(tmp_path / "fifo")
    path = json_arg.format(dir=tmp_path, fifo=tmp_path / "fifo")
    code, out, err = run(capsys, "verify", "--json", path)
    assert code == 2
    line = _one_error_line(err)
    assert line.startswith("symforget: error: --json ") and reason in line
    assert out == "" and RUNS == []  # nothing ran
    assert (tmp_path / "fifo").exists() and not (tmp_path / "fifo").is_file()


def test_derive_into_unwritable_directory_is_a_usage_error(capsys, fake_registry, locked):
    code, out, err = run(capsys, "derive", "--out", str(locked))
    assert code == 2 and out == ""
    line = _one_error_line(err)
    assert f"--out {locked}: cannot create files in {locked} (Permission denied)" in line
    assert list(locked.iterdir()) == []


def test_report_into_unwritable_directory_is_a_usage_error(capsys, fake_registry, locked):
    pytest.importorskip("matplotlib")
    code, out, err = run(capsys, "report", "--out", str(locked / "r"), "--ids", "fake")
    assert code == 2 and out == ""
    assert "--out" in _one_error_line(err) and "Permission denied" in err
    assert RUNS == []  # refused before verifying


@pytest.mark.parametrize("argv", [
    ["simulate", "rkl", "--steps", "3", "--json", "{dir}"],
    ["simulate", "rkl", "--steps", "3", "--plot", "{dir}"],
    ["simulate", "replay", "--steps", "10", "--rho", "0", "--json", "{dir}"],
    ["compare", "--methods", "sft", "--steps", "3", "--json", "{dir}"],
    ["compare", "--methods", "sft", "--steps", "3", "--plot", "{dir}"],
    ["compare", "--methods", "sft", "--steps", "3", "--json", ""],
])
def test_simulate_and_compare_outputs_checked_first(capsys, tmp_path, argv):
    argv = [a.format(dir=tmp_path) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""  # no table: nothing was computed
    line = _one_error_line(err)
    assert re.search(r"error: --(json|plot) ", line)


def test_sweep_out_checked_first(capsys, tmp_path, locked):
    code, _, err = run(capsys, "sweep", "rkl.drift_bc_bound", "--points", "8", "--out",
                       str(locked / "s.jsonl"))
    assert code == 2
    assert "--out" in _one_error_line(err) and "Permission denied" in err


# ------------------------------------------------------------------ directories swapped in


def test_staged_directory_keeps_unrelated_files_and_swaps(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.md").write_text("kept")
    (out / "old.md").write_text("old")
    with files.staged_directory(out) as stage:
        assert stage != out and stage.parent == out.parent
        assert (out / "old.md").read_text() == "old"  # untouched while building
        files.atomic_write_bytes(stage / "old.md", b"new")
    assert (out / "keep.md").read_text() == "kept"
    assert (out / "old.md").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries left


def test_staged_directory_interrupted_leaves_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.md").write_text("old a")
    with pytest.raises(KeyboardInterrupt), files.staged_directory(out) as stage:
        files.atomic_write_bytes(stage / "a.md", b"new a")
        files.atomic_write_bytes(stage / "b.md", b"new b")
        raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["a.md"]
    assert (out / "a.md").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_directory_in_place_when_not_only_our_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    with files.staged_directory(out) as stage:
        assert stage == out.resolve()  # never moves a directory holding sub-directories
    with files.staged_directory(tmp_path / "fresh" / "new") as stage:
        files.atomic_write_bytes(stage / "x", b"x")
    assert (tmp_path / "fresh" / "new" / "x").read_bytes() == b"x"


def test_derive_index_lists_only_the_files_in_the_directory(capsys, fake_registry, tmp_path):
    out = tmp_path / "d"
    assert cli.main(["derive", "fake.a", "--out", str(out)]) == 0
    index = (out / "index.md").read_text(encoding="utf-8")
    assert re.findall(r"\]\(([^)]+)\)", index) == ["fake.a.md"]  # not fake.b: no broken link
    assert cli.main(["derive", "fake.b", "--out", str(out)]) == 0  # a second claim, same dir
    index = (out / "index.md").read_text(encoding="utf-8")
    assert re.findall(r"\]\(([^)]+)\)", index) == ["fake.a.md", "fake.b.md"]
    for link in re.findall(r"\]\(([^)]+)\)", index):
        assert (out / link).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    capsys.readouterr()


def test_full_derive_index_is_the_registry_index(capsys, fake_registry, tmp_path):
    """A full run indexes every claim, exactly as render_index(registry) (proofs/index.md)."""
    from symforget.runners import render

    assert cli.main(["derive", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    expected = render.render_index(claims.registry().values(), "md")
    assert (tmp_path / "index.md").read_text(encoding="utf-8") == expected


def test_verify_json_complete_true_on_a_full_run(capsys, fake_registry, tmp_path):
    path = tmp_path / "r.json"
    code, _, _ = run(capsys, "verify", "--json", str(path))
    assert code == 0
    data = json.loads(path.read_text())
    assert data["complete"] is True and data["ok"] is True
