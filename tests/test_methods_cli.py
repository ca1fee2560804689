"""The method registry, the equal-variance baselines, ``compare``, ``symforget simulate METHOD``
and ``symforget compare`` (issue 5)."""

from __future__ import annotations

import builtins
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from symforget import cli
from symforget.errors import ParameterError
from symforget.methods import (
    METHODS,
    NAMES,
    compare,
    comparison_json,
    declared_params,
    format_table,
    get,
)
from symforget.methods.base import MethodRun, Problem


def _method(name: str):
    return METHODS[name]


def test_registry_names_and_laziness() -> None:
    assert tuple(METHODS) == NAMES == ("sft", "rkl", "replay", "sdft", "tttd", "oapl", "chen-rl")
    assert [METHODS[n].NAME for n in NAMES] == list(NAMES)  # every module exists and imports
    with pytest.raises(KeyError):
        METHODS["nope"]
    with pytest.raises(ParameterError, match="unknown method"):
        get("nope")
    with pytest.raises(ParameterError, match="unknown method"):
        declared_params("nope")


def test_registry_package_imports_only_stdlib() -> None:
    import ast

    src = Path(importlib.import_module("symforget.methods").__file__).read_text()
    tops = [n for n in ast.parse(src).body if isinstance(n, ast.Import | ast.ImportFrom)]
    mods = [a.name for n in tops if isinstance(n, ast.Import) for a in n.names]
    mods += [n.module for n in tops if isinstance(n, ast.ImportFrom) and not n.level]
    assert all(m.split(".")[0] in ("__future__", "ast", "importlib", "collections", "dataclasses",
                                   "types", "typing") for m in mods), mods


@pytest.mark.parametrize("name", NAMES)
def test_declared_params_match_module(name: str) -> None:
    mod = _method(name)
    assert declared_params(name) == mod.PARAMS
    assert isinstance(mod.NAME, str) and mod.NAME == name and mod.DESCRIPTION
    for typ, default, helptext in mod.PARAMS.values():
        assert isinstance(default, typ) and helptext


@pytest.mark.parametrize("name", NAMES)
def test_every_method_runs_and_validates(name: str) -> None:
    mod = _method(name)
    run = mod.run(Problem(), steps=6, seed=0)
    assert isinstance(run, MethodRun) and run.method == name
    assert run.steps[0] == 0 and run.steps[-1] == 6
    assert 0.0 < run.w[-1] < 1.0
    with pytest.raises(ParameterError):
        mod.run(Problem(), steps=3, no_such_parameter=1.0)


@pytest.mark.parametrize(("name", "expected"), [("sft", 0.0), ("replay", 0.2), ("rkl", 0.3)])
def test_baseline_limits(name: str, expected: float) -> None:
    """Population limits known independently of the code: FKL on new data → w = 0
    (fkl.mass_forgetting), replay → w = ρ (replay.fkl_optimum), RKL → w = α (rkl.*)."""
    pb = Problem(alpha=0.3, w0=0.5, mu_new0=4.0)
    run = get(name).run(pb, steps=300, eta=1.0)
    tol = 0.03 if name == "sft" else 2e-3  # FKL's logit flow decays only like 1/t
    assert abs(run.w[-1] - expected) < tol
    if name != "sft":
        assert run.summary()["new_error"] < 1e-3


@pytest.mark.parametrize("name", ["sft", "rkl", "replay"])
def test_baseline_batches_seeded(name: str) -> None:
    mod = get(name)
    a = mod.run(Problem(), steps=25, batch=8, seed=2)
    b = mod.run(Problem(), steps=25, batch=8, seed=2)
    c = mod.run(Problem(), steps=25, batch=8, seed=3)
    np.testing.assert_array_equal(a.mu_new, b.mu_new)
    assert not np.array_equal(a.mu_new, c.mu_new)
    with pytest.raises(ParameterError, match="eta"):
        mod.run(Problem(), steps=3, eta=0.0)


def test_replay_rho_validated() -> None:
    with pytest.raises(ParameterError, match="rho"):
        get("replay").run(Problem(), steps=3, rho=1.0)


def test_compare_reproducible_and_table() -> None:
    names = ["sft", "replay", "sdft"]
    r1 = compare(Problem(alpha=0.3), steps=15, seed=1, methods=names)
    r2 = compare(Problem(alpha=0.3), steps=15, seed=1, methods=names)
    j1 = json.dumps(comparison_json(r1, steps=15, seed=1, batch=None), allow_nan=False)
    j2 = json.dumps(comparison_json(r2, steps=15, seed=1, batch=None), allow_nan=False)
    assert j1 == j2
    text = format_table(r1)
    lines = text.splitlines()
    assert "final w" in lines[1] and "max old drift" in lines[1] and "new error" in lines[1]
    assert [ln.split()[0] for ln in lines[3:6]] == names
    with pytest.raises(ParameterError, match="unknown method"):
        compare(Problem(), steps=3, methods=["nope"])
    with pytest.raises(ParameterError, match="not being compared"):
        compare(Problem(), steps=3, methods=["sft"], params={"rkl": {"eta": 1.0}})


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_simulate_sdft_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.json"
    rc = cli.main(["simulate", "sdft", "--teacher", "anchored", "--anchor-weight", "0.5",
                   "--alpha", "0.3", "--delta", "3",
                   "--steps", "40", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "old w" in text and "old drift" in text and "new error" in text
    data = json.loads(out.read_text())
    assert data["method"] == "sdft" and data["params"]["anchor_weight"] == 0.5
    assert data["problem"]["mu_new_star"] == 3.0 and data["problem"]["alpha"] == 0.3
    traj = data["trajectory"]
    assert traj["step"][0] == 0 and traj["step"][-1] == 40
    assert set(data["summary"]) >= {"final_w", "max_old_drift", "new_error"}


def test_cli_simulate_batch_and_alias(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "sft-replay", "--rho", "0.3", "--steps", "20", "--batch", "8",
                     "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("replay (rho=0.3") and "batches of 8, seed 3" in out


@pytest.mark.parametrize("argv", [
    ["simulate", "sdft", "--anchor-weight", "1.5"],
    ["simulate", "sdft", "--anchor", "both"],
    ["simulate", "sdft", "--steps", "0"],
    ["simulate", "nosuch"],
    ["simulate", "sdft", "--delta", "3", "--mu-new-star", "2"],
    ["simulate", "rkl", "--alpha", "1.0"],
    ["compare", "--methods", "nope"],
])
def test_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert capsys.readouterr().err


def test_cli_json_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["simulate", "rkl", "--steps", "3", "--json", str(tmp_path / "no" / "x.json")])
    assert rc == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_compare_reproducible(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    base = ["compare", "--alpha", "0.3", "--steps", "12", "--seed", "7", "--batch", "8"]
    assert cli.main([*base, "--json", str(a)]) == 0
    table = capsys.readouterr().out
    assert cli.main([*base, "--json", str(b)]) == 0
    assert capsys.readouterr().out == table
    assert a.read_bytes() == b.read_bytes()
    data = json.loads(a.read_text())
    assert [r["method"] for r in data["runs"]] == list(NAMES)
    assert data["seed"] == 7 and data["batch"] == 8


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    assert cli.main(["compare", "--methods", "sft", "rkl", "--steps", "10", "--plot",
                     str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png2 = tmp_path / "q.png"
    assert cli.main(["simulate", "sdft", "--steps", "5", "--plot",
                     str(png2)]) == 0
    assert png2.is_file()


def test_cli_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    real_import = builtins.__import__

    def no_mpl(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    png = tmp_path / "p.png"
    assert cli.main(["simulate", "sft", "--steps", "3", "--plot", str(png)]) == 2
    assert "matplotlib" in capsys.readouterr().err
    assert not png.exists()


def test_cli_help_lists_methods(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("replay", "sft", "rkl", "sft-replay", "sdft"):
        assert name in out
    assert cli.main(["simulate", "sdft", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--anchor-weight" in out and "--anchor" in out and "--batch" in out and "--plot" in out
