"""The Python API accepts what users pass and refuses the rest up front, naming the parameter:
``symforget.verify`` (a single id string, dps/seed/profile as on the command line),
``VerifyReport`` (a sequence of results), ``methods.compare`` (a single method name),
``Problem`` (every field one real scalar in its domain).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import symforget as sf
from symforget import claims, cli
from symforget.errors import ParameterError, UnknownClaimError
from symforget.methods import compare
from symforget.methods.base import Problem

RUNS: list[int] = []


def _check(ctx: claims.Context, **_: object) -> claims.Evidence:
    RUNS.append(ctx.dps)
    return claims.Evidence(True, {"dps": ctx.dps}, "ok", None)


FAKE = {cid: claims.Claim(cid, cid, _check) for cid in ("fam.one", "fam.two", "other.x")}


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims, "_REGISTRY", dict(FAKE))
    monkeypatch.setattr(claims, "_LOADED", True)
    RUNS.clear()


# ------------------------------------------------------------------------------- verify


def test_verify_accepts_a_single_id_string_or_family(fake_registry):
    assert [r.id for r in sf.verify("fam.one")] == ["fam.one"]
    assert [r.id for r in sf.verify("fam")] == ["fam.one", "fam.two"]
    assert [r.id for r in sf.verify(("other.x", "fam.one"))] == ["other.x", "fam.one"]
    assert [c.id for c in claims.select("other")] == ["other.x"]
    with pytest.raises(UnknownClaimError, match="unknown claim id 'nope'"):
        sf.verify("nope")
    with pytest.raises(ParameterError, match="ids"):
        sf.verify([3])
    with pytest.raises(ParameterError, match="ids"):
        sf.verify(3)


def test_verify_a_real_claim_given_as_a_string():
    report = sf.verify("gauss.closed_forms")
    assert len(report) == 1 and report.ok


def test_verify_report_is_a_sequence_of_results(fake_registry):
    report = sf.verify(["fam.two", "other.x"])
    assert len(report) == 2
    assert [r.id for r in report] == ["fam.two", "other.x"]
    assert report[0].id == "fam.two" and report[-1].id == "other.x"
    assert report["other.x"].status == "pass"  # by id, as before
    assert report.ok and report.complete and report.results[1] is report[1]
    with pytest.raises(KeyError):
        report["fam.one"]
    with pytest.raises(TypeError):
        report[1.0]
    assert report.to_json()["complete"] is True


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"dps": 5}, r"dps=5 must lie in \[20, 1000\]"),
    ({"dps": 5000}, r"dps=5000 must lie in \[20, 1000\]"),
    ({"dps": 30.0}, "dps=30.0 must be an integer"),
    ({"dps": "50"}, "dps='50' must be an integer"),
    ({"dps": True}, "dps=True must be an integer"),
    ({"seed": -1}, "seed=-1 must be >= 0"),
    ({"seed": 1.5}, "seed=1.5 must be an integer"),
    ({"profile": "slow"}, "profile='slow' must be one of quick, full"),
    ({"profile": None}, "profile=None"),
])
def test_verify_validates_like_the_cli_before_running(fake_registry, kwargs, needle):
    with pytest.raises(ParameterError, match=needle):
        sf.verify("fam.one", **kwargs)
    assert RUNS == []  # refused before any check ran


def test_verify_accepts_the_range_ends_and_numpy_integers(fake_registry):
    assert sf.verify("fam.one", dps=20).ok and sf.verify("fam.one", dps=np.int64(1000)).ok
    assert sf.verify("fam.one", seed=np.uint8(3)).ok
    assert RUNS == [20, 1000, 30]


def test_dps_range_is_the_cli_range():
    assert claims.DPS_RANGE == cli.DPS_RANGE


# ------------------------------------------------------------------------------ Problem


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"alpha": [0.3, 0.4]}, "alpha=.* must be a real number"),
    ({"alpha": np.array([0.3])}, "alpha=.* must be a real number"),
    ({"alpha": np.array(0.3)}, "alpha=.* must be a real number"),
    ({"alpha": "0.3"}, "alpha='0.3' must be a real number"),
    ({"sigma": "1"}, "sigma='1' must be a real number"),
    ({"w0": True}, "w0=True must be a real number"),
    ({"mu_old_star": 1 + 0j}, "mu_old_star=.* must be a real number"),
    ({"mu_new0": [1.0]}, "mu_new0=.* must be a real number"),
    ({"mu_old0": float("nan")}, "mu_old0=nan must be finite"),
    ({"mu_new_star": float("inf")}, "mu_new_star=inf must be finite"),
    ({"alpha": 1.0}, "alpha=.* must lie in the open interval"),
    ({"sigma": 0.0}, "sigma=.* must be a finite number > 0"),
])
def test_problem_refuses_non_scalars_and_out_of_domain(kwargs, needle):
    with pytest.raises(ParameterError, match=needle):
        Problem(**kwargs)


def test_problem_stores_floats():
    pb = Problem(alpha=np.float32(0.25), mu_old_star=0, mu_new_star=Fraction(7, 2), w0=0.5,
                 mu_new0=np.int64(2))
    assert all(type(v) is float for v in pb.as_dict().values())
    assert pb.alpha == 0.25 and pb.mu_new_star == 3.5 and pb.mu_old0 is None
    assert pb.theta0 == (0.5, 0.0, 2.0)


# ------------------------------------------------------------------------------ compare


def test_compare_accepts_a_single_method_name():
    runs = compare(Problem(alpha=0.3), steps=3, methods="sft")
    assert [r.method for r in runs] == ["sft"]


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"methods": "nope"}, "unknown method 'nope'"),
    ({"methods": [1]}, "unknown method 1"),
    ({"methods": 3}, "methods=3 must be a method name"),
    ({"methods": []}, "at least one method"),
    ({"seed": -1}, "seed=-1 must be an integer >= 0"),
    ({"seed": 0.5}, "seed=0.5"),
    ({"params": {"sft": 1.0}, "methods": "sft"}, r"params\['sft'\]"),
    ({"params": [("sft", {})]}, "params=.* must be a mapping"),
])
def test_compare_refuses_bad_arguments(kwargs, needle):
    with pytest.raises(ParameterError, match=needle):
        compare(Problem(), steps=3, **kwargs)


def test_compare_refuses_a_problem_that_is_not_a_problem():
    with pytest.raises(ParameterError, match=r"problem must be a .*Problem, not dict"):
        compare({"alpha": 0.3}, steps=3)
