"""One source of defaults (issue 15): ``symforget simulate METHOD``, ``symforget compare`` and
``methods.get(METHOD).run()`` run every method with the same parameters, those of its
``PARAMS`` declaration (and ``check_params`` has the same defaults)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from symforget import cli
from symforget.methods import NAMES, compare, declared_params, get
from symforget.methods.base import Problem

_RUN_KEYS = ("batch", "steps", "seed")


def _defaults(name: str) -> dict:
    return {k: v[1] for k, v in declared_params(name).items()}


def _params(run) -> dict:
    return {k: v for k, v in run.params.items() if k not in _RUN_KEYS}


@pytest.mark.parametrize("name", NAMES)
def test_declared_equals_module_params(name: str) -> None:
    mod = get(name)
    assert _defaults(name) == {k: v[1] for k, v in mod.PARAMS.items()}
    check = getattr(mod, "check_params", None)
    if check is not None:  # its keyword defaults, if any, are PARAMS' own
        sig = inspect.signature(check)
        for k, p in sig.parameters.items():
            if k in mod.PARAMS and p.default is not inspect.Parameter.empty:
                assert p.default == mod.PARAMS[k][1], (name, k)


@pytest.mark.parametrize("name", ["sdft", "tttd", "oapl"])
def test_api_compare_and_simulate_agree(name: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pb = Problem()
    api = get(name).run(pb, steps=3)
    cmp = compare(pb, steps=3, methods=[name])[0]
    out = tmp_path / "s.json"
    assert cli.main(["simulate", name, "--steps", "3", "--json", str(out)]) == 0
    capsys.readouterr()
    sim = json.loads(out.read_text())
    assert _params(api) == _params(cmp) == _defaults(name)
    assert {k: v for k, v in sim["params"].items() if k not in _RUN_KEYS} == _defaults(name)
    assert sim["summary"] == pytest.approx(api.summary(), rel=0, abs=0)


@pytest.mark.parametrize(("name", "old", "new"), [("sdft", "lam", "anchor_weight"),
                                                  ("sdft", "beta", "ema"),
                                                  ("tttd", "gamma", "kl_coef"),
                                                  ("tttd", "eps", "kl_budget"),
                                                  ("tttd", "scale", "objective"),
                                                  ("oapl", "beta", "beta2")])
def test_old_names_are_refused_with_the_new_name(name: str, old: str, new: str) -> None:
    from symforget.errors import ParameterError

    with pytest.raises(ParameterError, match=f"{old} -> {new}"):
        get(name).run(Problem(), steps=2, **{old: 0.5})
