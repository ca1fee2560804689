"""Named experiment presets: a problem, a start, step conventions, a batch and per-method
parameters, each with its source. Options given on the command line (or keyword arguments in
the API) override a preset.

``chen2025`` — Chen et al. 2025, "Retaining by Doing" (arXiv 2510.18874), public simulation
``princeton-pli/retaining-by-doing`` ``simulation/settings.py`` (``TwoModeSetting``) and
``simulation/run.py`` (``fit_forward_kl``, ``fit_reinforce``), read at commit 1228541:
target p = 0.75 N(−3, 1) + 0.25 N(3.5, 0.7²); student q0 = 0.75 N(−3.5, 1) + 0.25 N(0.5, 0.7²);
all five parameters learned, scales as σ (floored at 1e-3); the weight stepped raw and clipped
to [1e-3, 1 − 1e-3]; the weight and the old component's mean and scale at 0.005× the learning
rate; 1000 samples per step; 200 steps; forward KL (SFT on the new mode) at learning rates 0.15
and 0.01, their on-policy variant (``chen-rl``, β = 0.1) at 0.01. Their overlaps are measured on
the grid linspace(−8, 8, 500).

The methods their paper does not run (``replay``, ``sdft``, ``tttd``, ``oapl``) run on the same
problem, start and step conventions with their own defaults except the step size (symforget's
choice): ``replay`` at their forward-KL rate 0.15 (it is SFT with old data mixed in), ``sdft``
and ``tttd`` at their on-policy rate 0.01. At the default η = 0.5 the learned new scale (0.7)
makes plain steps unstable (the curvature of a Gaussian's scale is ~2/σ², and TTT-D's adaptive
β grows as σn shrinks): sdft and tttd leave the problem by hundreds of σ, replay's σn widens
to 11 in three steps. ``oapl`` keeps its defaults (η is its interpolation fraction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ParameterError

__all__ = ["Preset", "PRESETS", "get_preset", "format_presets"]


@dataclass(frozen=True)
class Preset:
    """A named experiment: ``problem`` (Problem keyword arguments), ``stepping`` (Stepping
    keyword arguments), ``run`` (steps, batch), ``method_params`` ({method: {name: value}}),
    ``grid`` (overlap grid: lo, hi, points), and where it comes from."""

    name: str
    source: str
    summary: str
    problem: dict[str, float]
    stepping: dict[str, Any]
    run: dict[str, int]
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    grid: tuple[float, float, int] | None = None
    notes: str = ""


PRESETS: dict[str, Preset] = {
    "chen2025": Preset(
        name="chen2025",
        source="Chen et al. 2025, 'Retaining by Doing', arXiv 2510.18874; "
               "github.com/princeton-pli/retaining-by-doing simulation/settings.py "
               "TwoModeSetting + simulation/run.py (commit 1228541)",
        summary="p = 0.75 N(-3,1) + 0.25 N(3.5,0.7^2); q0 = 0.75 N(-3.5,1) + 0.25 N(0.5,0.7^2); "
                "raw w clipped to [1e-3, 1-1e-3], w/mu_old/sigma_old at 0.005x lr, scales "
                "learned (floor 1e-3), batch 1000, 200 steps; sft eta 0.15 (their second: "
                "0.01), chen-rl and rkl eta 0.01, beta 0.1; not in their paper: replay at eta "
                "0.15, sdft and tttd at 0.01, oapl at its defaults",
        problem=dict(alpha=0.75, mu_old_star=-3.0, mu_new_star=3.5, sigma=1.0,
                     sigma_old_star=1.0, sigma_new_star=0.7, w0=0.75, mu_old0=-3.5,
                     mu_new0=0.5, s_old0=1.0, s_new0=0.7),
        stepping=dict(weight_param="raw", clip=(1e-3, 1.0 - 1e-3),
                      lr_scale={"w": 0.005, "mu_old": 0.005, "sigma_old": 0.005},
                      learn_scales=True, scale_floor=1e-3),
        run=dict(steps=200, batch=1000),
        method_params={"sft": {"eta": 0.15}, "rkl": {"eta": 0.01},
                       "chen-rl": {"eta": 0.01, "beta": 0.1},
                       "replay": {"eta": 0.15}, "sdft": {"eta": 0.01}, "tttd": {"eta": 0.01}},
        grid=(-8.0, 8.0, 500),
        notes="their figure: python -m simulation.run --gain_thresholds 0.9,0.9,0.9 --save pdf "
              "(each panel at the first step with gain >= 0.9)",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset ``name``; an unknown name raises ParameterError listing the known ones."""
    if name not in PRESETS:
        raise ParameterError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def format_presets() -> str:
    """Every preset with its summary and source (for ``--list-presets``)."""
    lines = []
    for p in PRESETS.values():
        lines += [p.name, f"  {p.summary}", f"  source: {p.source}"]
        if p.notes:
            lines.append(f"  note: {p.notes}")
    return "\n".join(lines)
