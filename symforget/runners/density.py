"""Density figure of five-parameter runs: q_t at chosen steps over the target p*, one panel per
run (the view of Chen et al. 2025's simulation figure). Needs the ``plot`` extra (matplotlib),
imported only inside :func:`figure_density`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .report import require_matplotlib

__all__ = ["figure_density", "mixture_pdf"]


def mixture_pdf(x: np.ndarray, w: float, mu_old: float, s_old: float, mu_new: float,
                s_new: float) -> np.ndarray:
    """w N(x; μo, s_o²) + (1 − w) N(x; μn, s_n²)."""
    def phi(m: float, s: float) -> np.ndarray:
        return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2.0 * np.pi))

    return w * phi(mu_old, s_old) + (1.0 - w) * phi(mu_new, s_new)


def figure_density(path: Path, runs: Sequence[Any], steps: Sequence[int]) -> None:
    """Draw, for each run, p* (dashed) and q_t at the recorded steps nearest to ``steps``
    (darker = later); the title carries the method, its parameters and the final drop/gain."""
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, len(runs), figsize=(5.0 * len(runs), 3.8), squeeze=False)
    for ax, run in zip(axes[0], runs, strict=True):
        pb = run.problem
        so, sn, _, _ = pb.scales
        allm = [pb.mu_old_star, pb.mu_new_star, *run.mu_old, *run.mu_new]
        spread = 4.0 * max(so, sn, float(np.max(run.s_old)), float(np.max(run.s_new)))
        x = np.linspace(min(allm) - spread, max(allm) + spread, 1200)
        ax.plot(x, mixture_pdf(x, pb.alpha, pb.mu_old_star, so, pb.mu_new_star, sn), "k--",
                lw=1.5, label="target p*")
        for j, t in enumerate(steps):
            i = int(np.argmin(np.abs(np.asarray(run.steps) - t)))
            shade = 0.3 + 0.7 * (j + 1) / len(steps)
            ax.plot(x, mixture_pdf(x, run.w[i], run.mu_old[i], run.s_old[i], run.mu_new[i],
                                   run.s_new[i]), color=(shade * 0.8, 0.1, 1.0 - shade),
                    lw=1.8, label=f"q at step {int(run.steps[i])}")
        rep = run.report
        extra = (f", drop {rep['drop']:.2f}, gain {rep['gain']:.2f}" if rep else "")
        ax.set_title(f"{run.method} (eta={run.params.get('eta', '?')}){extra}", fontsize=9)
        ax.set_xlabel("x")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
