"""symforget.training.simulate and ``symforget simulate replay``."""

from __future__ import annotations

import json

import pytest

from symforget import cli
from symforget.errors import ParameterError
from symforget.training.simulate import format_table, replay_experiment


@pytest.fixture(scope="module")
def result() -> dict:
    return replay_experiment(w=0.05, rhos=(0.0, 0.3), batch=4, steps=400, seed=1)


def test_json_roundtrip_and_exact_values(result: dict) -> None:
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    r0, r3 = result["rows"]
    assert r0["starve_exact"] == pytest.approx(0.95**4, rel=1e-12)
    assert r3["starve_exact"] == pytest.approx((0.7 * 0.95) ** 4, rel=1e-12)
    assert r3["old_draws_exact"] == pytest.approx(4 * (0.3 + 0.7 * 0.05), rel=1e-12)
    assert r0["second_moment_ratio"]["w"] == pytest.approx(1.0)


def test_replay_reduces_starvation_and_respects_bound(result: dict) -> None:
    r0, r3 = result["rows"]
    assert r0["starve_in_ci"] and r3["starve_in_ci"]
    assert r3["starve_freq"] < r0["starve_freq"]
    for r in result["rows"]:
        assert max(r["second_moment_ratio"].values()) <= r["second_moment_bound"]


def test_deterministic(result: dict) -> None:
    again = replay_experiment(w=0.05, rhos=(0.0, 0.3), batch=4, steps=400, seed=1)
    assert again == result


def test_table(result: dict) -> None:
    text = format_table(result)
    assert "P(starve) exact" in text and len(text.splitlines()) == 4


@pytest.mark.parametrize(("kw", "name"), [({"w": 0.0}, "w"), ({"rhos": (1.0,)}, "rho"),
                                          ({"batch": 0}, "batch"), ({"steps": 0}, "steps"),
                                          ({"rhos": ()}, "rho")])
def test_bad_inputs(kw: dict, name: str) -> None:
    with pytest.raises(ParameterError, match=name):
        replay_experiment(**kw)


def test_cli_writes_json(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    rc = cli.main(["simulate", "replay", "--w", "0.1", "--rho", "0", "0.2", "--batch", "4",
                   "--steps", "200", "--json", str(out)])
    assert rc == 0
    assert "P(starve) exact" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert [r["rho"] for r in data["rows"]] == [0.0, 0.2]


def test_cli_bad_rho(capsys) -> None:
    assert cli.main(["simulate", "replay", "--rho", "1"]) == 2
    assert "rho" in capsys.readouterr().err
