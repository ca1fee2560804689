"""``symforget verify --certified``: the certificates of the selected claims run beside their
sampled checks, and a claim whose certificate fails makes the run fail."""

from __future__ import annotations

import json

import pytest

from symforget import certified
from symforget.cli import main


def test_verify_certified_runs_and_rechecks_the_certificates(tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(["verify", "rkl.drift_bc_bound", "gauss.closed_forms", "--certified",
                 "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "certified + checked" in printed and "1 of 1 certificate(s) hold" in printed
    doc = json.loads(out.read_text())
    (entry,) = doc["certified"]  # gauss.closed_forms has no certificate: not listed
    assert entry["claim"] == "rkl.drift_bc_bound"
    assert entry["status"] == "certified" and entry["checked"] is True and entry["cells"] > 0


def test_a_failing_certificate_fails_the_run(monkeypatch, capsys):
    real = certified.prove

    def prove_a_mutant(cid, *args, **kwargs):  # the certificate of a wrong statement
        return real(cid, mutant="exponent_1/6")

    monkeypatch.setattr(certified, "prove", prove_a_mutant)
    code = main(["verify", "rkl.drift_bc_bound", "--certified"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "NOT CERTIFIED rkl.drift_bc_bound: refuted" in printed
    assert "0 of 1 certificate(s) hold" in printed


def test_without_the_flag_nothing_is_certified(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["verify", "gauss.closed_forms", "--json", str(out)]) == 0
    assert "certified" not in json.loads(out.read_text())
    assert "certificate" not in capsys.readouterr().out


@pytest.mark.parametrize("cid", ["rkl.drift_bc_bound"])
def test_mutant_names_exist(cid):
    assert "exponent_1/6" in certified.list_certifiable()[cid]["mutants"]


def test_verify_certified_runs_the_further_boxes(tmp_path, capsys):
    """beyond.any_family's r < 1 part is a second box (one product box cannot hold both sides
    of the attainment point (½, 0, 1)); verify --certified proves and checks both."""
    out = tmp_path / "report.json"
    code = main(["verify", "beyond.any_family", "--certified", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 of 2 certificate(s) hold" in printed
    labels = [e["claim"] for e in json.loads(out.read_text())["certified"]]
    assert labels == ["beyond.any_family", "beyond.any_family [r=0.2:0.95]"]
