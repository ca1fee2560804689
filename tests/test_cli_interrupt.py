"""Ctrl-C keeps what is done: ``verify`` prints the claims finished so far and writes a partial
JSON report marked ``"complete": false`` (exit 130); ``derive``/``report`` leave their output
directory exactly as it was; the "interrupted" message starts on a line of its own.

KeyboardInterrupt is raised by a fake claim (its check or its derivations), in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from symforget import claims, cli
from symforget.claims.base import Claim, Context, Evidence


def _pass(ctx: Context, **_: object) -> Evidence:
    return Evidence(True, {"value": 1.0}, "value 1", None)


def _fail(ctx: Context, **_: object) -> Evidence:
    return Evidence(False, {"worst": 3.0}, "worst 3", "at x=1.5: 3 > 2")


def _ctrl_c(*_a: object, **_k: object) -> Evidence:
    raise KeyboardInterrupt


FAKE = {
    "fake.a_pass": Claim("fake.a_pass", "passes", _pass),
    "fake.b_fail": Claim("fake.b_fail", "fails", _fail),
    "fake.c_ctrl_c": Claim("fake.c_ctrl_c", "Ctrl-C here", _ctrl_c, derivations=_ctrl_c),
    "fake.d_never": Claim("fake.d_never", "never reached", _pass),
}


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "_REGISTRY", dict(FAKE))
    monkeypatch.setattr(claims, "_LOADED", True)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _interrupted_line_alone(err: str) -> None:
    lines = [ln for ln in err.splitlines() if "interrupted" in ln]
    assert lines, err
    assert all(ln.startswith("symforget: error: interrupted") for ln in lines), err


def test_verify_interrupted_prints_finished_claims_and_partial_json(capsys, tmp_path: Path):
    path = tmp_path / "r.json"
    code, out, err = run(capsys, "verify", "fake", "--json", str(path))
    assert code == 130
    assert "fake.a_pass" in out and "fake.b_fail" in out and "fake.d_never" not in out
    assert "counterexample: at x=1.5: 3 > 2" in out
    assert "2 of 4 claim(s) (interrupted)" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"
    _interrupted_line_alone(err)
    assert "[3/4] fake.c_ctrl_c ... \n" in err  # the open progress line was ended first
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["complete"] is False and data["ok"] is False
    assert [c["id"] for c in data["claims"]] == ["fake.a_pass", "fake.b_fail"]
    assert data["seed"] == 0 and data["dps"] == 30 and data["environment"]["symforget"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_verify_interrupted_before_any_claim_finished(capsys):
    code, out, err = run(capsys, "verify", "fake.c_ctrl_c")
    assert code == 130
    assert out.splitlines()[-1] == "0 passed, 0 failed"
    _interrupted_line_alone(err)


def test_derive_interrupted_leaves_the_directory_as_it_was(capsys, tmp_path: Path):
    out = tmp_path / "proofs"
    out.mkdir()
    (out / "fake.a_pass.md").write_text("old text\n")
    (out / "index.md").write_text("old index\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, stdout, err = run(capsys, "derive", "fake", "--out", str(out))
    assert code == 130 and stdout == ""
    _interrupted_line_alone(err)
    assert f"{out} left as it was" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # not half regenerated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proofs"]  # no temporaries left


def test_report_interrupted_leaves_the_directory_as_it_was(capsys, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("matplotlib")
    from symforget.numeric.files import atomic_write_bytes
    from symforget.runners import report

    def first_figure(path: Path) -> dict:
        atomic_write_bytes(path, b"\x89PNG new")
        return {}

    def second_figure(path: Path) -> dict:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "FIGURES", (("a.png", "first", first_figure),
                                            ("b.png", "second", second_figure)))
    out = tmp_path / "rep"
    out.mkdir()
    (out / "a.png").write_bytes(b"old png")
    code, _, err = run(capsys, "report", "--out", str(out), "--ids", "fake.a_pass")
    assert code == 130
    _interrupted_line_alone(err)
    assert [p.name for p in out.iterdir()] == ["a.png"]
    assert (out / "a.png").read_bytes() == b"old png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]
