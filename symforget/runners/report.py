r"""``symforget report``: run the verification and write ``index.md`` plus PNG figures.

Needs the ``plot`` extra (matplotlib). matplotlib is imported only inside the figure functions
(Agg backend), so importing this module without matplotlib succeeds; :func:`require_matplotlib`
raises :class:`MissingPlotExtraError` with the install hint.

Figures (all data deterministic; no random draws):

1. ``weights.png`` — old weight :math:`w_t` under the FKL, FKL+replay and RKL gradient flows
   (logit parametrisation, means frozen at the truth) from the same start.
2. ``misassignment.png`` — :math:`\log_{10} m(w,\Delta)` against Δ with the Bhattacharyya bound
   :math:`\tfrac12\sqrt{(1-w)/w}\,e^{-\Delta^2/8}` and the asymptotic
   :math:`\sqrt{\pi/2}\sqrt{(1-w)/w}\,e^{-\Delta^2/8}/\Delta` (log space: no underflow).
3. ``drift.png`` — transient old-mean displacement :math:`\sup_t|\mu_{o,t}-\mu_o^*|` against
   Δ² with the fitted slope and the stated −1/8.
4. ``densities.png`` — densities :math:`q_t` against :math:`p^*` at a few times, FKL vs RKL.
5. ``contraction.png`` — :math:`\log\|\theta_k-\theta^*\|` under gradient descent on the RKL
   loss with the predicted slope :math:`\log\max_i|1-\eta\lambda_i|` (λ_i: Fisher eigenvalues).
6. ``methods.png`` — old weight, old-mean drift and new-task error against the step for every
   method of :mod:`symforget.methods` (SFT, RKL, replay, SDFT, TTT-Discover, OAPL) on the same
   problem (α = 0.3, Δ = 4σ, population maps, defaults of each method).
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import dynamics, model
from ..numeric.files import atomic_write_bytes
from ..numeric.misassign import log_misassignment

__all__ = ["MissingPlotExtraError", "require_matplotlib", "FIGURES", "ReportResult",
           "figure_weights", "figure_misassignment", "figure_drift", "figure_densities",
           "figure_contraction", "figure_methods", "write_report", "INSTALL_HINT"]

INSTALL_HINT = "symforget report needs matplotlib: pip install 'symforget[plot]'"

#: figure set-up constants (documented in the figures' titles)
DELTA = 3.0
W0 = 0.5
ALPHA = 0.3
REPLAY = 0.2
T_END = 40.0
LN10 = math.log(10.0)


class MissingPlotExtraError(ImportError):
    """matplotlib is not installed (the ``plot`` extra)."""


def require_matplotlib() -> Any:
    """Import matplotlib with the Agg backend and return ``matplotlib.pyplot``.

    Raises
    ------
    MissingPlotExtraError
        If matplotlib cannot be imported; the message names the extra to install.
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingPlotExtraError(INSTALL_HINT) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    """Save ``fig`` as PNG atomically (temp file in the same directory + os.replace)."""
    plt = require_matplotlib()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


# --------------------------------------------------------------------------------------------
# figure data (pure numpy; used by the figures and by the tests)


def weights_data(t_end: float = T_END, n: int = 161) -> dict[str, Any]:
    r"""w_t under FKL (data N(Δ)), FKL + replay (1−ρ)N(Δ) + ρN(0) and RKL
    (p* = αN(0) + (1−α)N(Δ)); logit flow, means frozen at (0, Δ), start w0."""
    t = np.linspace(0.0, t_end, n)
    objs = {
        "FKL (new data only)": dynamics.fkl_objective(DELTA),
        f"FKL + replay ρ = {REPLAY:g}": dynamics.fkl_objective(DELTA, replay=REPLAY,
                                                                replay_mean=0.0),
        f"RKL (target α = {ALPHA:g})": dynamics.rkl_objective(ALPHA, 0.0, DELTA),
    }
    out: dict[str, Any] = {"t": t}
    for name, obj in objs.items():
        tr = dynamics.gradient_flow(obj, (W0, 0.0, DELTA), t_end, param="logit",
                                    free=(True, False, False), t_eval=t, rtol=1e-9, atol=1e-12)
        out[name] = tr.w
    return out


def misassignment_data(w: float = ALPHA, n: int = 320) -> dict[str, Any]:
    """log10 of m(w, Δ), the BC bound and the asymptotic on Δ ∈ [0.5, 80], and the first Δ of
    the grid where m itself underflows double precision (exp(log m) == 0)."""
    d = np.linspace(0.5, 80.0, n)
    k = math.sqrt((1.0 - w) / w)
    log_m = log_misassignment(w, d)
    log_bc = math.log(0.5 * k) - d**2 / 8.0
    log_as = math.log(math.sqrt(math.pi / 2.0) * k) - d**2 / 8.0 - np.log(d)
    under = d[np.exp(log_m) == 0.0]
    return {"delta": d, "m": log_m / LN10, "bc": log_bc / LN10, "asym": log_as / LN10,
            "underflow_delta": float(under[0]) if under.size else None}


def drift_data(ladder: Sequence[float] = (4.0, 6.0, 8.0, 10.0, 12.0)) -> dict[str, Any]:
    """sup_t|μo_t − μo*| on a Δ ladder (``claims.drift_flow.transient_displacement``) and the
    least-squares slope of its log against Δ²."""
    from ..claims.base import fit_line
    from ..claims.drift_flow import transient_displacement

    d = np.asarray(ladder, dtype=float)
    disp = np.array([transient_displacement(float(v))[0] for v in d])
    slope, se, intercept = fit_line(d**2, np.log(disp))
    return {"delta": d, "disp": disp, "slope": slope, "stderr": se, "intercept": intercept}


def _mixture_pdf(x: np.ndarray, w: float, mo: float, mn: float) -> np.ndarray:
    g = np.exp(-0.5 * (x[:, None] - np.array([mo, mn])) ** 2) / math.sqrt(2 * math.pi)
    return w * g[:, 0] + (1 - w) * g[:, 1]


def densities_data(times: Sequence[float] = (0.0, 2.0, 8.0, 40.0)) -> dict[str, Any]:
    """q_t on a grid at ``times`` for the FKL flow (data N(Δ)) and the RKL flow
    (p* = αN(0) + (1−α)N(Δ)), all parameters free, from (w0, −1, Δ + 1)."""
    x = np.linspace(-4.0, DELTA + 4.0, 400)
    t = np.asarray(times, dtype=float)
    theta0 = (W0, -1.0, DELTA + 1.0)
    out: dict[str, Any] = {"x": x, "times": t}
    for key, obj, target in (
        ("fkl", dynamics.fkl_objective(DELTA), (0.0, 0.0, DELTA)),
        ("rkl", dynamics.rkl_objective(ALPHA, 0.0, DELTA), (ALPHA, 0.0, DELTA)),
    ):
        tr = dynamics.gradient_flow(obj, theta0, float(t[-1]), param="logit", t_eval=t,
                                    rtol=1e-9, atol=1e-12)
        out[key] = [_mixture_pdf(x, *th) for th in tr.theta]
        out[key + "_theta"] = tr.theta
        out[key + "_target"] = (np.exp(-0.5 * (x - DELTA) ** 2) / math.sqrt(2 * math.pi)
                                if key == "fkl" else _mixture_pdf(x, *target))
    return out


def contraction_data(eta: float | None = None, steps: int = 150) -> dict[str, Any]:
    r"""GD on the RKL loss (raw w) from θ* + (0.05, 0.2, −0.2); predicted per-step factor
    ρ = max_i |1 − ηλ_i|, λ_i the eigenvalues of the Fisher matrix F(α, Δ) = ∇²L_R(θ*)."""
    lam = np.linalg.eigvalsh(model.fisher(ALPHA, DELTA))
    if eta is None:
        eta = float(2.0 / (lam[0] + lam[-1]))  # the optimal fixed step
    theta_star = np.array([ALPHA, 0.0, DELTA])
    tr = dynamics.gradient_descent(dynamics.rkl_objective(ALPHA, 0.0, DELTA),
                                   theta_star + np.array([0.05, 0.2, -0.2]), eta, steps)
    err = np.linalg.norm(tr.theta - theta_star, axis=1)
    keep = err > 1e-13  # below that the error is round-off
    rate = float(np.max(np.abs(1.0 - eta * lam)))
    k = tr.t[keep]
    le = np.log(err[keep])
    tail = k >= k[-1] / 2
    emp = float(np.polyfit(k[tail], le[tail], 1)[0])
    return {"k": k, "log_err": le, "eta": eta, "eigenvalues": lam, "log_rate": math.log(rate),
            "empirical_slope": emp}


# --------------------------------------------------------------------------------------------
# figures


def figure_weights(path: Path) -> dict[str, Any]:
    """Figure 1 (see the module docstring); returns its data."""
    plt = require_matplotlib()
    data = weights_data()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    styles = ("-", "--", "-.")
    for (name, w), ls in zip(((k, v) for k, v in data.items() if k != "t"), styles,
                             strict=True):
        ax.plot(data["t"], w, ls, lw=2, label=name)
    ax.axhline(ALPHA, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("flow time t")
    ax.set_ylabel("old-mode weight $w_t$")
    ax.set_ylim(-0.02, 0.55)
    ax.set_title(f"Mass forgetting: $w_t$ from $w_0$ = {W0:g} (Δ = {DELTA:g}σ, means frozen)")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    return data


def figure_misassignment(path: Path) -> dict[str, Any]:
    """Figure 2 (two panels: log10 values; log10 ratios to m); returns its data."""
    plt = require_matplotlib()
    data = misassignment_data()
    d = data["delta"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.0, 4.0))
    ax.plot(d, data["m"], lw=2.5, label=r"$m(w, \Delta)$ (log_misassignment)")
    ax.plot(d, data["bc"], "--", label=r"BC bound $\frac{1}{2}\sqrt{(1-w)/w}\,e^{-\Delta^2/8}$")
    ax.plot(d, data["asym"], ":", lw=2,
            label=r"asymptotic $\sqrt{\pi/2}\sqrt{(1-w)/w}\,e^{-\Delta^2/8}/\Delta$")
    if data["underflow_delta"] is not None:
        ax.axvline(data["underflow_delta"], color="grey", lw=1, ls="-.",
                   label=f"m underflows in double (Δ ≈ {data['underflow_delta']:.0f}σ)")
    ax.set_xlabel("separation Δ (in σ)")
    ax.set_ylabel(r"$\log_{10}$ probability")
    ax.set_title(f"Misassignment m(w, Δ), w = {ALPHA:g} (log space)")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    ax2.plot(d, data["bc"] - data["m"], "--", color="C1", label="BC bound / m")
    ax2.plot(d, data["asym"] - data["m"], ":", lw=2, color="C2", label="asymptotic / m")
    ax2.axhline(0.0, color="k", lw=0.8)
    ax2.set_xscale("log")
    ax2.set_xlabel("separation Δ (in σ, log scale)")
    ax2.set_ylabel(r"$\log_{10}$ (approximation / m)")
    ax2.set_title("Bound stays above m; asymptotic ratio → 1")
    ax2.legend(loc="upper left", fontsize=9)
    ax2.grid(alpha=0.3, which="both")
    fig.tight_layout()
    _save(fig, path)
    return data


def figure_drift(path: Path) -> dict[str, Any]:
    """Figure 3; returns its data."""
    plt = require_matplotlib()
    data = drift_data()
    d2 = data["delta"] ** 2
    x = np.linspace(0.0, d2[-1] * 1.05, 50)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(d2, data["disp"], "o", ms=7, label=r"RKL flow: $\sup_t|\mu_{o,t} - \mu_o^*|$")
    ax.plot(x, np.exp(data["intercept"] + data["slope"] * x), "-",
            label=f"fit: slope {data['slope']:.4f} ± {data['stderr']:.1g}")
    mid = len(d2) // 2
    anchor = math.log(data["disp"][mid]) + d2[mid] / 8.0
    ax.plot(x, np.exp(anchor - x / 8.0), "--", label="stated slope −1/8 (through the middle)")
    ax.set_yscale("log")
    ax.set_xlabel("Δ² (Δ in σ)")
    ax.set_ylabel("old-mean displacement (σ)")
    ax.set_title(r"Transient old-mean drift under RKL decays like $e^{-\Delta^2/8}$")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    _save(fig, path)
    return data


def figure_densities(path: Path) -> dict[str, Any]:
    """Figure 4; returns its data."""
    plt = require_matplotlib()
    data = densities_data()
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.8), sharey=True)
    cmap = plt.get_cmap("viridis")
    n = len(data["times"])
    for ax, key, title in ((axes[0], "fkl", "Forward KL (SFT on new data)"),
                           (axes[1], "rkl", f"Reverse KL (target α = {ALPHA:g})")):
        ax.plot(data["x"], data[key + "_target"], "k--", lw=2, label="$p^*$")
        for i, (tv, q) in enumerate(zip(data["times"], data[key], strict=True)):
            ax.plot(data["x"], q, color=cmap(i / max(n - 1, 1)), lw=1.6, label=f"$q_t$, t = {tv:g}")
        ax.set_title(title)
        ax.set_xlabel("x (σ units; old mode at 0, new at Δ = 3)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("density")
    axes[1].legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    return data


def figure_contraction(path: Path) -> dict[str, Any]:
    """Figure 5; returns its data."""
    plt = require_matplotlib()
    data = contraction_data()
    k, le = data["k"], data["log_err"]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(k, le, lw=2, label=r"GD on RKL: $\log\|\theta_k - \theta^*\|$")
    ax.plot(k, le[0] + data["log_rate"] * k, "--",
            label=f"predicted slope log max|1 − ηλ| = {data['log_rate']:.4f}\n"
                  f"(fitted on the tail: {data['empirical_slope']:.4f})")
    ax.set_xlabel("GD step k")
    ax.set_ylabel(r"$\log\|\theta_k - \theta^*\|$ (natural log)")
    ax.set_title(f"Local linear convergence (α = {ALPHA:g}, Δ = {DELTA:g}σ, "
                 f"η = {data['eta']:.3f})")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    return data


def figure_methods(path: Path, runs: Sequence[Any] | None = None) -> dict[str, Any]:
    """Figure 6: old weight, old-mean drift and new-task error vs step, one line per method.

    ``runs`` (a sequence of :class:`~symforget.methods.base.MethodRun`) defaults to the
    comparison on ``Problem(alpha=ALPHA)`` (Δ = 4σ), 200 population steps, seed 0 (the CLI's
    ``--plot`` passes its own runs). Returns ``{method: summary}``.
    """
    plt = require_matplotlib()
    if runs is None:
        from ..methods import compare
        from ..methods.base import Problem

        runs = compare(Problem(alpha=ALPHA), steps=200, seed=0)
    fig, axes = plt.subplots(1, 3, figsize=(13.0, 3.8))
    for r in runs:
        pb = r.problem
        axes[0].plot(r.steps, r.w, lw=1.8, label=r.method)
        axes[1].plot(r.steps, np.abs(r.mu_old - pb.mu_old_star) / pb.sigma, lw=1.8)
        axes[2].plot(r.steps, np.abs(r.mu_new - pb.mu_new_star) / pb.sigma, lw=1.8)
    if runs:
        axes[0].axhline(runs[0].problem.alpha, color="grey", lw=0.8, ls=":")
    for ax, ylabel in zip(axes, ("old weight $w_t$", r"old-mean drift $|\mu_{o,t}-\mu_o^*|/\sigma$",
                                 r"new-task error $|\mu_{n,t}-\mu_n^*|/\sigma$"), strict=True):
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    pb0 = runs[0].problem if runs else None
    title = ("Methods on one problem" if pb0 is None else
             f"Methods on one problem (α = {pb0.alpha:g}, Δ = {pb0.delta:g}σ, "
             f"start w = {pb0.theta0[0]:g})")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    return {r.method: r.summary() for r in runs}


def unequal_rates_data(ratios: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
                       ladder: Sequence[float] = (40.0, 80.0), w: float = 0.5) -> dict[str, Any]:
    """Decay exponents of m against r = σn/σo: the derived −1/(2(1+r)²), BC's −1/(4(1+r²)), and
    the exponent measured from certified m (two representations, 30 digits) on a Δ ladder as
    the slope of log m + log Δ against Δ² (claim ``beyond.unequal_drift``)."""
    import mpmath

    from ..numeric.compile import compile_exprs
    from ..numeric.precise_drift import misassignment as certified
    from ..symbolic import beyond as B

    grid = np.geomspace(0.2, 5.0, 120)
    rate_m = np.asarray(compile_exprs(B.RATE_M, (B.r,))(grid), dtype=float)
    rate_bc = np.asarray(compile_exprs(B.RATE_BC, (B.r,))(grid), dtype=float)
    measured = []
    for r_ in ratios:
        pts = []
        for d_ in ladder:
            m, _ = certified(w, d_, 30, ratio=r_)
            pts.append(float(mpmath.log(m)) + math.log(d_))
        measured.append((pts[1] - pts[0]) / (ladder[1] ** 2 - ladder[0] ** 2))
    return {"r": grid, "rate_m": rate_m, "rate_bc": rate_bc, "ratios": np.array(ratios),
            "measured": np.array(measured), "ladder": tuple(ladder), "w": w}


def figure_unequal_rates(path: Path) -> dict[str, Any]:
    """Figure 7: the misassignment's decay exponent against the scale ratio; returns its data."""
    plt = require_matplotlib()
    data = unequal_rates_data()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(data["r"], data["rate_m"], "-", lw=2.2,
            label=r"m: $\lim\log m/\Delta^2 = -1/(2(1+r)^2)$")
    ax.plot(data["r"], data["rate_bc"], "--", label=r"BC: $-1/(4(1+r^2))$")
    ax.plot(data["ratios"], data["measured"], "o", ms=7,
            label=f"measured: certified m, Δ = {data['ladder'][0]:g}, {data['ladder'][1]:g}")
    ax.set_xscale("log")
    ticks = [0.2, 0.5, 1.0, 2.0, 5.0]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xticks([], minor=True)
    ax.set_xlabel(r"scale ratio $r = \sigma_n/\sigma_o$ (log scale)")
    ax.set_ylabel(r"decay exponent of $\Delta^2$")
    ax.set_title("Unequal scales: m decays faster than the BC bound (equal at r = 1)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    _save(fig, path)
    return data


#: (file name, caption, function) in report order
FIGURES: tuple[tuple[str, str, Callable[[Path], dict[str, Any]]], ...] = (
    ("weights.png", "Old weight w_t under FKL, FKL + replay and RKL from the same start "
                    "(logit gradient flow, means frozen).", figure_weights),
    ("misassignment.png", "Misassignment m(w, Δ) (log10) with the Bhattacharyya bound and the "
                          "large-Δ asymptotic; computed in log space past double underflow.",
     figure_misassignment),
    ("drift.png", "Transient old-mean drift under the RKL flow against Δ², fitted slope vs "
                  "the stated −1/8.", figure_drift),
    ("densities.png", "Densities q_t against p* at a few times: FKL loses the old mode, RKL "
                      "keeps it.", figure_densities),
    ("contraction.png", "Gradient descent on the RKL loss: log error against steps with the "
                        "slope predicted from the Fisher eigenvalues.", figure_contraction),
    ("methods.png", "Every method on the same problem (α = 0.3, Δ = 4σ): old weight, old-mean "
                    "drift and new-task error against the step.", figure_methods),
    ("unequal_rates.png", "Unequal scales: the misassignment's decay exponent −1/(2(1+r)²) "
                          "against BC's −1/(4(1+r²)), with exponents measured from certified m "
                          "(claim beyond.unequal_drift).", figure_unequal_rates),
)


# --------------------------------------------------------------------------------------------
# the report


@dataclass
class ReportResult:
    """What :func:`write_report` produced."""

    index: Path
    figures: list[Path]
    ok: bool
    timings: dict[str, float] = field(default_factory=dict)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def write_report(out: str | os.PathLike[str], profile: str = "quick", *, seed: int = 0,
                 ids: Iterable[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> ReportResult:
    """Verify the selected claims (all by default), draw the figures, write ``out/index.md``.

    Every file is written atomically. Returns the paths, whether every claim passed, and the
    timings (seconds) of the verification and of each figure.
    """
    require_matplotlib()
    from .. import __version__, claims
    from .render import atomic_write_text

    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _s: None)
    timings: dict[str, float] = {}

    def claim_progress(i: int, n: int, claim: Any, result: Any) -> None:
        if result is None:
            say(f"[{i + 1}/{n}] {claim.id} ... ")
        else:
            say(f"{result.status} ({result.seconds:.1f} s)\n")

    t0 = time.perf_counter()
    rep = claims.verify(None if ids is None else list(ids), profile, seed=seed,
                        progress=claim_progress)
    timings["verification"] = time.perf_counter() - t0

    figures: list[Path] = []
    for name, _caption, fn in FIGURES:
        say(f"figure {name} ... ")
        t1 = time.perf_counter()
        fn(outdir / name)
        timings[name] = time.perf_counter() - t1
        say(f"{timings[name]:.1f} s\n")
        figures.append(outdir / name)

    lines = [f"# symforget {__version__} report", "",
             f"Profile **{profile}**, seed **{seed}**, dps {rep.context.dps}: "
             f"**{sum(r.ok for r in rep.results)} of {len(rep.results)} claims passed**.", "",
             "Regenerate with `symforget report --out DIR "
             f"--profile {profile} --seed {seed}`.", "",
             "## Claims", "", "| claim | status | seconds | evidence |",
             "|---|---|---:|---|"]
    for r in rep.results:
        lines.append(f"| `{r.id}` | {r.status} | {r.seconds:.1f} | {_md_cell(r.summary)} |")
    bad = [r for r in rep.results if not r.ok]
    if bad:
        lines += ["", "### Failures", ""]
        for r in bad:
            lines.append(f"- `{r.id}`: {_md_cell(r.counterexample or r.summary)}")
    lines += ["", "## Figures", ""]
    for name, caption, _fn in FIGURES:
        lines += [f"### {name[:-4]}", "", caption, "", f"![{name[:-4]}]({name})", ""]
    lines += ["## Environment", "", "| package | version |", "|---|---|"]
    env = dict(rep.environment)
    import matplotlib

    env["matplotlib"] = matplotlib.__version__
    lines += [f"| {k} | {_md_cell(v)} |" for k, v in env.items()]
    lines += ["", "## Timings", "", "| step | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    lines.append("")
    index = outdir / "index.md"
    atomic_write_text(index, "\n".join(lines))
    return ReportResult(index, figures, rep.ok, timings)
