"""The robustness view of ``symforget compare --variants`` (issue 15): each near-on-policy
method at its faithful defaults and under its named modelling choices, with verdicts; the
starvation line of ``simulate METHOD --batch B``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from symforget import cli
from symforget.errors import ParameterError
from symforget.methods import (
    BATCH_VARIANTS,
    VARIANTS,
    compare_variants,
    declared_params,
    format_variants,
    get,
    verdict,
)
from symforget.methods.base import MethodRun, Problem


def test_every_variant_names_declared_parameters() -> None:
    for table in (VARIANTS, BATCH_VARIANTS):
        for name, rows in table.items():
            params = declared_params(name)
            for label, over in rows:
                assert over and set(over) <= set(params), (name, label)
                get(name).check_params(**over)  # valid values


def _run(w: np.ndarray, mo: np.ndarray) -> MethodRun:
    n = len(w)
    one = np.ones(n)
    return MethodRun("x", Problem(alpha=0.3), {}, np.arange(n), w, mo, 4 * one, one, one)


def test_verdict_thresholds() -> None:
    assert verdict(_run(np.full(10, 0.3), np.zeros(10))) == ("kept", "small")
    assert verdict(_run(np.linspace(0.5, 0.1, 10), np.zeros(10)))[0] == "lost"
    assert verdict(_run(np.linspace(0.5, 0.2, 10), np.zeros(10)))[0] == "falling"
    assert verdict(_run(np.full(10, 0.3), np.linspace(0, 1, 10)))[1] == "large"


def test_compare_variants_rows_and_order() -> None:
    rows = compare_variants(Problem(), steps=4, methods=["tttd"])
    assert [label for label, _ in rows] == ["defaults"] + [lb for lb, _ in VARIANTS["tttd"]]
    assert rows[1][1].params["objective"] == "entropic"
    text = format_variants(rows)
    assert "robustness" in text and "objective=entropic" in text
    with pytest.raises(ParameterError, match="unknown method"):
        compare_variants(Problem(), steps=2, methods=["nope"])


def test_cli_compare_variants_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.json"
    assert cli.main(["compare", "--methods", "oapl", "--variants", "--steps", "5",
                     "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "reward=quadratic" in text and "old mass" in text
    data = json.loads(out.read_text())
    assert data["variants"][0]["variant"] == "defaults"
    assert {v["old_mass"] for v in data["variants"]} <= {"kept", "falling", "lost"}
    assert cli.main(["compare", "--methods", "sft", "--variants", "--steps", "2"]) == 2


def test_cli_simulate_reports_starvation(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "tttd", "--batch", "16", "--steps", "5", "--w0", "0.05"]) == 0
    assert "starved groups (no old-component draw)" in capsys.readouterr().out
    assert cli.main(["simulate", "oapl", "--batch", "16", "--steps", "5", "--w0", "0.05"]) == 0
    assert "starved batches (no old-component draw)" in capsys.readouterr().out
