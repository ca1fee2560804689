"""Chen et al. 2025 ("Retaining by Doing", arXiv 2510.18874) reproduced by ``--preset chen2025``.

The pinned numbers come from **their** code, an independent source: the public simulation
``princeton-pli/retaining-by-doing`` (``simulation/run.py`` at commit 1228541), run unchanged in a
scratch environment (numpy 2.4.6; only ``np.trapz`` aliased to ``np.trapezoid``), never copied
here. Measured there:

* forward KL (``fit_forward_kl``), old weight π1 at steps 0, 50, 100, 150, 200 — their script's
  own order (``np.random.seed(0)`` at import):
  lr 0.15: 0.750000 0.628791 0.538525 0.463278 0.397379;
  lr 0.01: 0.750000 0.740189 0.730735 0.721602 0.712760.
  Seed-to-seed spread over 20 seeds: sd ≤ 3.8e-6 (lr 0.15) and ≤ 2.5e-7 (lr 0.01) at every step.
  Final drop 0.2900 / gain 0.9679 (lr 0.15) and 0.0209 / 0.4350 (lr 0.01); initial overlaps
  0.802592 (old), 0.032135 (new). Their figure (``--gain_thresholds 0.9``) shows lr 0.15 at the
  first step with gain >= 0.9: step 83, drop 0.1235, gain 0.9049; lr 0.01 never gets there.
  Their on-policy run in the script's order reaches gain 0.9 at step 124 (drop 0.0267).
* their on-policy variant (``fit_reinforce``, lr 0.01), π1 after 200 steps over seeds 0..199:
  median 0.66227, 5 %/95 % quantiles 0.62459/0.66468, min 0.00100 (one seed collapses to the
  clip), max 0.66554; seeds 0..19: mean 0.65177, sd 0.02593, min 0.55434, max 0.66481.
  μn after 200 steps: 3.4520 ± 0.0071.
"""

import numpy as np
import pytest

from symforget.methods import compare, get
from symforget.methods.base import Problem
from symforget.training.presets import get_preset
from symforget.training.stepping import Stepping

P = get_preset("chen2025")
PROBLEM = Problem(**P.problem)
STEPPING = Stepping(**P.stepping)
THEIRS_FWD = {0.15: [0.750000, 0.628791, 0.538525, 0.463278, 0.397379],
              0.01: [0.750000, 0.740189, 0.730735, 0.721602, 0.712760]}


def _run(method, *, batch, seed=0, **params):
    return get(method).run(PROBLEM, steps=200, seed=seed, batch=batch, stepping=STEPPING,
                           grid=P.grid, **params)


@pytest.mark.parametrize("eta", [0.15, 0.01])
@pytest.mark.parametrize("batch", [None, 1000])
def test_forward_kl_old_weight_trajectory_to_3_digits(eta, batch):
    run = _run("sft", batch=batch, eta=eta)
    got = run.w[[0, 50, 100, 150, 200]]
    np.testing.assert_allclose(got, THEIRS_FWD[eta], atol=5e-5)  # 3 digits with margin


def test_forward_kl_overlaps_drop_and_gain():
    rep = _run("sft", batch=1000, eta=0.15).report
    assert rep["overlap_old0"] == pytest.approx(0.802592, abs=1e-6)
    assert rep["overlap_new0"] == pytest.approx(0.032135, abs=1e-6)
    assert rep["drop"] == pytest.approx(0.2900, abs=5e-4)
    assert rep["gain"] == pytest.approx(0.9679, abs=5e-4)
    # their figure (--gain_thresholds 0.9): first step with gain >= 0.9 is 83 (list index 82),
    # Drop 0.1235, Gain 0.9049
    assert rep["at_gain_0.9"]["step"] == 83
    assert rep["at_gain_0.9"]["drop"] == pytest.approx(0.1235, abs=5e-4)
    assert rep["at_gain_0.9"]["gain"] == pytest.approx(0.9049, abs=5e-4)
    rep = _run("sft", batch=1000, eta=0.01).report
    assert rep["at_gain_0.9"]["step"] is None
    assert rep["drop"] == pytest.approx(0.0209, abs=5e-4)
    assert rep["gain"] == pytest.approx(0.4350, abs=1e-3)


def test_mass_law_beside_the_simulation():
    """fkl.em_identity with vanishing responsibilities predicts w_T to 1e-4 relative."""
    law = _run("sft", batch=None, eta=0.15).report["theory"]["mass_law"]
    assert law["relative_gap_map"] < 1e-4
    assert law["max_mean_old_responsibility"] < 1e-4
    assert law["w_T_flow"] == pytest.approx(1 - np.sqrt(0.25 ** 2 + 2 * 0.15 * 0.005 * 200))


def test_chen_rl_old_weight_within_their_seed_spread():
    """Ten seeds of symforget's chen-rl: every final old weight inside their observed range
    over 200 seeds, and the median inside their 5–95 % band."""
    finals = np.array([_run("chen-rl", batch=1000, seed=s, eta=0.01, beta=0.1).w[-1]
                       for s in range(10)])
    assert np.all((finals >= 0.00100) & (finals <= 0.66554))
    assert 0.62459 <= np.median(finals) <= 0.66468


def test_chen_rl_new_mean_moves_exact_rkl_does_not():
    """Their variant learns the new mode (μn 0.5 → ≈ 3.45); exact reverse KL towards their
    target moves μn *towards the old mode* (the target's old component dominates p* at x ≈ 0.5)
    and hardly at all in 200 steps."""
    chen = _run("chen-rl", batch=1000, seed=0, eta=0.01, beta=0.1)
    assert chen.mu_new[-1] == pytest.approx(3.4520, abs=0.03)
    rkl = _run("rkl", batch=None, eta=0.01)
    assert 0.2 < rkl.mu_new[-1] < 0.5


def test_chen_rl_expectation_moves_w_more_than_typical_batches():
    """The expectation of their estimator (batch=None) lowers w to ≈ 0.527 — typical batches
    (median ≈ 0.662) miss the heavy-tailed old-side terms."""
    exp = _run("chen-rl", batch=None, eta=0.01, beta=0.1)
    assert exp.w[-1] == pytest.approx(0.527, abs=2e-3)


def test_compare_with_preset_runs_side_by_side():
    runs = compare(PROBLEM, steps=20, seed=0, batch=1000, methods=["sft", "chen-rl"],
                   params={"sft": {"eta": 0.15}}, stepping=STEPPING, grid=P.grid)
    assert [r.method for r in runs] == ["sft", "chen-rl"]
    assert all(r.report["estimator"] in ("mc", "chen") for r in runs)
    assert runs[0].w[-1] == pytest.approx(0.695621, abs=5e-5)  # theirs at step 20, lr 0.15


def test_equal_scale_five_parameter_path_matches_the_three_parameter_path():
    """Logit steps with fixed scales reproduce the existing population maps."""
    pb = Problem(alpha=0.3)
    for m in ("sft", "rkl", "replay"):
        old = get(m).run(pb, steps=30)
        new = get(m).run(pb, steps=30, stepping=Stepping())
        np.testing.assert_allclose(new.w, old.w, rtol=1e-9)
        np.testing.assert_allclose(new.mu_old, old.mu_old, atol=1e-9)
        np.testing.assert_allclose(new.mu_new, old.mu_new, atol=1e-9)


# ------------------------------------------------------------------------------------------
# the command line


def _cli(capsys, *argv):
    from symforget.cli import main

    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_list_presets_names_the_source(capsys):
    rc, out, _ = _cli(capsys, "simulate", "--list-presets")
    assert rc == 0 and "chen2025" in out and "princeton-pli/retaining-by-doing" in out


def test_cli_preset_and_override(capsys):
    rc, out, _ = _cli(capsys, "simulate", "sft", "--preset", "chen2025", "--eta", "0.01",
                      "--batch", "0")
    assert rc == 0
    assert "sft (eta=0.01)" in out and "population map" in out and "estimator exact" in out
    assert "0.7128" in out  # their lr-0.01 old weight after 200 steps: 0.712760
    assert "theory (fkl.em_identity" in out and "drop 0.0209" in out


def test_cli_rkl_pathwise_estimator(capsys):
    rc, out, _ = _cli(capsys, "simulate", "rkl", "--preset", "chen2025", "--estimator",
                      "pathwise", "--steps", "20")
    assert rc == 0 and "estimator pathwise" in out


def test_cli_compare_preset_with_set(capsys):
    rc, out, _ = _cli(capsys, "compare", "--preset", "chen2025", "--steps", "10",
                      "--set", "sft.eta=0.01", "--set", "chen-rl.beta=0.2")
    assert rc == 0
    assert "eta=0.01" in out and "beta=0.2" in out and "five-parameter runs" in out


@pytest.mark.parametrize("argv, msg", [
    (("compare", "--preset", "chen2025", "--set", "sft.eta"), "METHOD.PARAM=VALUE"),
    (("compare", "--preset", "chen2025", "--set", "sft.nope=1"), "no parameter 'nope'"),
    (("compare", "--preset", "chen2025", "--set", "sft.eta=abc"), "not a float"),
    (("compare", "--preset", "chen2025", "--methods", "sft", "--set", "oapl.eta=1"),
     "not being compared"),
    (("simulate", "sft", "--preset", "chen1999"), "unknown preset"),
    (("simulate", "sft", "--clip", "0.5,0.1", "--weight-param", "raw"), "0 < LO < HI < 1"),
    (("simulate", "sft", "--clip", "0.1,0.5"), "only used with weight_param='raw'"),
    (("simulate", "sdft", "--estimator", "score", "--batch", "10"), "not available for sdft"),
    (("simulate", "oapl", "--estimator", "exact", "--batch", "8"), "drop the batch"),
    (("simulate", "sft", "--estimator", "score", "--batch", "10"), "not available for sft"),
    (("simulate", "sft", "--preset", "chen2025", "--estimator", "exact"), "drop the batch"),
    (("simulate", "rkl", "--estimator", "pathwise"), "give a batch"),
    (("compare", "--preset", "chen2025", "--estimator", "exact"), "simulate METHOD"),
])
def test_cli_usage_errors(capsys, argv, msg):
    rc, _, err = _cli(capsys, *argv)
    assert rc == 2 and msg in err
