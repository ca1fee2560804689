"""Five-parameter method runs through the public API: Problem's component scales, the choice
of estimator, JSON records, and refusals with clear messages."""

import json

import pytest

from symforget.errors import ParameterError
from symforget.methods import compare, get
from symforget.methods.base import Problem
from symforget.training.stepping import Stepping


def test_problem_scales_default_to_sigma_and_json_keys_unchanged():
    pb = Problem(alpha=0.3, sigma=2.0)
    assert pb.scales == (2.0, 2.0, 2.0, 2.0) and not pb.general
    assert set(pb.as_dict()) == {"alpha", "mu_old_star", "mu_new_star", "sigma", "w0",
                                 "mu_old0", "mu_new0"}
    pb = Problem(sigma_new_star=0.7, s_old0=1.5)
    assert pb.general and pb.state0 == (0.5, 0.0, 1.5, 2.0, 1.0)
    assert pb.target.sigma_new == 0.7 and pb.as_dict()["sigma_new_star"] == 0.7


@pytest.mark.parametrize("kw", [{"sigma_new_star": 0.0}, {"s_old0": -1.0},
                                {"sigma_old_star": "1"}, {"s_new0": float("nan")}])
def test_problem_refuses_bad_scales(kw):
    with pytest.raises(ParameterError):
        Problem(**kw)


def test_estimator_choice_is_checked():
    pb = Problem()
    with pytest.raises(ParameterError, match="not available for sft"):
        get("sft").run(pb, steps=3, batch=10, estimator="score")
    with pytest.raises(ParameterError, match="drop the batch"):
        get("rkl").run(pb, steps=3, batch=10, estimator="exact")
    with pytest.raises(ParameterError, match="draws samples"):
        get("chen-rl").run(pb, steps=3, estimator="chen")
    run = get("rkl").run(pb, steps=3, batch=10, estimator="pathwise")
    assert run.report["estimator"] == "pathwise"


def test_report_is_json_and_summary_has_the_move_from_the_start():
    pb = Problem(mu_old0=0.5, sigma_new_star=0.8)
    run = get("sft").run(pb, steps=5, stepping=Stepping(learn_scales=True))
    text = json.dumps(run.as_dict(), allow_nan=False)
    assert '"report"' in text and '"theory"' in text
    s = run.summary()
    assert s["max_old_drift"] >= 0.5 > s["max_old_move"]  # drift counts the 0.5 offset
    assert run.s_new[-1] != run.s_new[0]  # the scales learn


def test_every_method_has_a_five_parameter_run_and_refusals_are_clear():
    """Issue 14: sdft, tttd and oapl no longer refuse component scales or a stepping (they used
    to: "one shared sigma", "not sdft"); what stays refused is named."""
    run = get("sdft").run(Problem(sigma_old_star=2.0), steps=3)
    assert run.report["estimator"] == "exact" and run.s_old[-1] == 1.0  # fixed by default
    runs = compare(Problem(), steps=3, methods=["sft", "sdft"], stepping=Stepping())
    assert all(r.report for r in runs)
    with pytest.raises(ParameterError, match="not a compared five-parameter"):
        compare(Problem(), steps=3, methods=["sft"], estimator={"oapl": "exact"})
    with pytest.raises(ParameterError, match="Stepping"):
        get("sft").run(Problem(), steps=3, stepping={"weight_param": "raw"})
    with pytest.raises(ParameterError, match=r"not available for tttd.*'loo'"):
        get("tttd").run(Problem(), steps=3, batch=8, estimator="score")
    with pytest.raises(ParameterError, match="drop the batch"):
        get("oapl").run(Problem(), steps=3, batch=8, estimator="exact")


def test_replay_five_parameter_run_and_its_mass_law():
    """Replay with component scales: the mass law with E_P[r_o] = ρ (separated modes; here
    E_P[r_o] ≤ 0.2002) predicts w_T of the exact run to 2e-4 relative."""
    pb = Problem(alpha=0.75, mu_old_star=-3.0, mu_new_star=3.5, sigma_new_star=0.7,
                 s_new0=0.7, w0=0.75, mu_new0=3.5)
    st = Stepping(weight_param="raw", clip=(1e-3, 1 - 1e-3), lr_scale={"w": 0.1})
    run = get("replay").run(pb, steps=100, rho=0.2, eta=0.05, stepping=st)
    law = run.report["theory"]["mass_law"]
    assert law["relative_gap_map"] < 2e-4
    assert abs(law["max_mean_old_responsibility"] - 0.2) < 1e-3
    assert run.w[-1] < 0.75 and abs(run.w[-1] - 0.2) < abs(0.75 - 0.2)
    mc = get("replay").run(pb, steps=20, rho=0.2, eta=0.05, batch=500, seed=1, stepping=st)
    assert mc.report["estimator"] == "mc" and abs(mc.w[-1] - run.w[20]) < 0.02
