r"""Replay derivations for the reverse KL (``replay.rkl_*``, ``replay.starvation``).

Behaviour :math:`b_\rho = (1-\rho)q_\theta + \rho B` (B a replay buffer, e.g. P_old). Pointwise
identities use abstract positive density values ``q`` = q_θ(x), ``B`` = B(x) and a generic
integrand value ``h`` = h_θ(x); they hold for every x, hence under the integral. Builders take
the claim's stated constants (true values by default).
"""

from __future__ import annotations

import sympy as sp

from .derivation import Derivation, Named, Step
from .symbols import rho, w

__all__ = [
    "q_val", "buf_val", "h_val", "batch", "behaviour", "weight", "old_prob",
    "WEIGHT_BOUND", "STARVE_ON", "STARVE_REPLAY", "EXPECTED_OLD",
    "unbiased_derivation", "weight_bound_derivation", "starvation_derivation",
]

q_val = sp.Symbol("q", positive=True)
buf_val = sp.Symbol("B_x", positive=True)
h_val = sp.Symbol("h", real=True)
#: batch size
batch = sp.Symbol("B", positive=True, integer=True)

behaviour = (1 - rho) * q_val + rho * buf_val
weight = q_val / behaviour
#: probability that one draw from b_ρ is an old-component draw (buffer = P_old)
old_prob = rho + (1 - rho) * w

#: b_ρ shown by name (its value is ``behaviour``), and the weight q/b_ρ held as a ratio
_b = Named(r"b_\rho", behaviour)
_weight = sp.UnevaluatedExpr(q_val / _b)

WEIGHT_BOUND = 1 / (1 - rho)
STARVE_ON = (1 - w) ** batch
STARVE_REPLAY = ((1 - rho) * (1 - w)) ** batch
EXPECTED_OLD = batch * (rho + (1 - rho) * w)


def unbiased_derivation() -> Derivation:
    r"""``replay.rkl_unbiased``: :math:`\mathbb E_{b}[(q/b)h] = \mathbb E_q[h]`."""
    return Derivation(
        title="Importance-weighted replay is unbiased for the reverse-KL gradient",
        assumptions=("0 ≤ ρ < 1, q_θ > 0 and B ≥ 0 so b_ρ > 0 wherever q_θ > 0",
                     "h_θ = ∇_θ log q_θ · log(q_θ/p*) integrable under q_θ"),
        steps=(
            Step(sp.Symbol(r"b_\rho"), behaviour, "definition", "behaviour policy", kind="def",
                 reason="a definition"),
            Step(_b * _weight * h_val, q_val * h_val, "cancel b",
                 "b·(q/b)·h = q·h pointwise, so ∫b (q/b) h = ∫q h"),
            Step(sp.Symbol(r"\mathbb{E}_q[h_\theta]"), sp.Symbol(r"\nabla_\theta L_R"),
                 "score-function identity",
                 "E_q[∇log q · log(q/p*)] = ∇KL(q‖p*) (the +1 term integrates to 0)",
                 kind="argued",
                 reason="the score-function identity (differentiation under the integral sign), "
                        "an argument in words; the claim's check compares Monte Carlo means of "
                        "the estimator with `rkl_grad`"),
        ),
        result=q_val * h_val,
        notes=("Replay changes which x are sampled, never the expectation: the RKL population "
               "objective and its minimisers are unchanged for every ρ ∈ [0, 1).",),
    )


def weight_bound_derivation(bound: sp.Expr = WEIGHT_BOUND) -> Derivation:
    r"""``replay.rkl_weight_bound``: q/b ≤ 1/(1−ρ); second moment ≤ 1/(1−ρ) × on-policy.

    The gap ``bound − q/b`` is written as ρB/((1−ρ)b) ≥ 0 — an equality that fails for any other
    stated bound.
    """
    gap = rho * buf_val / ((1 - rho) * behaviour)
    return Derivation(
        title="Replay importance weights are bounded by 1/(1−ρ)",
        assumptions=("0 ≤ ρ < 1", "q_θ(x) > 0, B(x) ≥ 0"),
        steps=(
            Step(bound - weight, gap, "common denominator",
                 "1/(1−ρ) − q/((1−ρ)q + ρB) = ρB/((1−ρ)b) ≥ 0"),
            Step(_b * _weight**2 * h_val**2, q_val * _weight * h_val**2, "cancel b",
                 "E_b[(q/b)² h²] = E_q[(q/b) h²]"),
            Step(q_val * _weight * h_val**2, q_val * bound * h_val**2 - q_val * gap * h_val**2,
                 "insert the gap", "(q/b) = bound − gap with gap ≥ 0, so E_q[(q/b)h²] ≤ "
                 "bound · E_q[h²]"),
        ),
        result=bound,
        notes=("The bound is approached where B/q → 0 (far on the new-mode side).",),
    )


def starvation_derivation(starve_replay: sp.Expr = STARVE_REPLAY,
                          expected_old: sp.Expr = EXPECTED_OLD) -> Derivation:
    r"""``replay.starvation``: P(no old draw) = (1 − p_old)^B with p_old = ρ + (1−ρ)w."""
    k = sp.Symbol("k", integer=True, nonnegative=True)
    nb = 5  # concrete batch for the binomial-sum spot check
    mean_sum = sp.Sum(k * sp.binomial(nb, k) * old_prob**k * (1 - old_prob) ** (nb - k),
                      (k, 0, nb))
    return Derivation(
        title="Old-mode starvation in finite batches, with and without replay",
        assumptions=("i.i.d. draws from b_ρ = (1−ρ)q_θ + ρP_old; a draw is 'old' if it comes "
                     "from the buffer or from q_θ's old component", "0 ≤ ρ < 1, 0 < w < 1"),
        steps=(
            Step(sp.Symbol(r"p_{\rm old}"), old_prob, "mixture of labels",
                 "P(old) = ρ·1 + (1−ρ)·w", kind="def",
                 reason="a definition: the chance that one draw is old (a buffer draw with "
                        "probability ρ, else an old-component draw of q_θ with probability w)"),
            Step((1 - old_prob) ** batch, starve_replay, "independence",
                 "P(no old draw in B) = (1 − ρ − (1−ρ)w)^B"),
            Step(sp.Subs(starve_replay, rho, 0), STARVE_ON, "ρ = 0",
                 "on-policy batch: (1−w)^B"),
            Step(mean_sum, expected_old.subs(batch, nb),
                 "binomial mean (B = 5)", "Σ_k k C(B,k) p^k (1−p)^{B−k} = B p"),
        ),
        result=starve_replay,
        notes=("((1−ρ)(1−w))^B ≤ (1−ρ)^B since 0 < 1 − w < 1: replay guarantees old samples "
               "even when w → 0.",),
    )
