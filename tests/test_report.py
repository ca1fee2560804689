"""``symforget report``: figures, index.md and the missing-matplotlib path (issue 6)."""

from __future__ import annotations

import builtins
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from symforget import cli
from symforget.runners import report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _assert_png(path: Path) -> None:
    import matplotlib.image as mpimg

    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert float(np.ptp(img)) > 0.0  # not a blank image


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("figs")
    return {name: (out / name, fn(out / name)) for name, _cap, fn in report.FIGURES}


def test_every_figure_is_a_valid_png(figures: dict[str, Any]) -> None:
    assert len(figures) == 7
    for path, _data in figures.values():
        _assert_png(path)
    assert not list(next(iter(figures.values()))[0].parent.glob(".*.tmp"))  # atomic writes


def test_weights_limits(figures: dict[str, Any]) -> None:
    _path, data = figures["weights.png"]
    finals = {k: v[-1] for k, v in data.items() if k != "t"}
    fkl, replay, rkl = finals.values()
    # FKL forgets the old mode, replay holds w near ρ, RKL goes to α (independent of the code:
    # the stationary points are w = 0, ρ and α)
    assert fkl < 0.06
    assert abs(replay - report.REPLAY) < 5e-3
    assert abs(rkl - report.ALPHA) < 5e-3


def test_misassignment_bound_and_asymptotic(figures: dict[str, Any]) -> None:
    _path, data = figures["misassignment.png"]
    assert np.all(np.isfinite(data["m"]))
    assert np.all(data["bc"] >= data["m"] - 1e-9)  # BC bound holds everywhere
    assert abs(data["asym"][-1] - data["m"][-1]) < 0.01  # ratio → 1 at Δ = 80
    # m(w, 80) ~ 1e-348 underflows double: the underflow marker lies inside the grid
    assert data["underflow_delta"] is not None and 70 < data["underflow_delta"] < 80


def test_drift_slope_near_minus_one_eighth(figures: dict[str, Any]) -> None:
    _path, data = figures["drift.png"]
    assert abs(data["slope"] + 1 / 8) < 0.01


def test_contraction_slope_matches_prediction(figures: dict[str, Any]) -> None:
    _path, data = figures["contraction.png"]
    assert data["log_rate"] < 0
    assert abs(data["empirical_slope"] - data["log_rate"]) < 0.02 * abs(data["log_rate"])


def test_unequal_rates_measured_match_derived(figures: dict[str, Any]) -> None:
    """The exponents measured from certified m lie on −1/(2(1+r)²), not on BC's curve."""
    _path, data = figures["unequal_rates.png"]
    r = data["ratios"]
    derived = -1 / (2 * (1 + r) ** 2)
    bc = -1 / (4 * (1 + r**2))
    np.testing.assert_allclose(data["measured"], derived, atol=2e-3)
    off = r != 1.0
    assert np.all(np.abs(data["measured"][off] - bc[off]) > 5e-3)


def test_densities_normalised(figures: dict[str, Any]) -> None:
    _path, data = figures["densities.png"]
    dx = data["x"][1] - data["x"][0]
    for key in ("fkl", "rkl"):
        for q in data[key]:
            assert math.isclose(float(q.sum() * dx), 1.0, abs_tol=0.02)


def test_figure_data_deterministic() -> None:
    a, b = report.contraction_data(), report.contraction_data()
    assert np.array_equal(a["log_err"], b["log_err"])
    m1, m2 = report.misassignment_data(), report.misassignment_data()
    assert np.array_equal(m1["m"], m2["m"])


def test_cli_report_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    code = cli.main(["report", "--out", str(out), "--ids", "fkl.em_identity"])
    assert code == 0, capsys.readouterr()
    index = (out / "index.md").read_text()
    assert "fkl.em_identity" in index and "| pass |" in index
    assert "seed **0**" in index and "## Environment" in index and "## Timings" in index
    refs = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", index))
    assert refs == {name for name, _c, _f in report.FIGURES}
    for name in refs:
        _assert_png(out / name)


def test_report_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    code = cli.main(["report", "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'symforget[plot]'" in err[0]
    assert not (tmp_path / "r").exists()


def test_report_unknown_id_is_usage_error(tmp_path: Path) -> None:
    assert cli.main(["report", "--out", str(tmp_path / "r"), "--ids", "no.such"]) == 2
