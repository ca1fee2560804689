r"""Exponential tilts of a Gaussian component, derived by SymPy integration.

A policy that is re-weighted by a reward, :math:`\pi \propto \pi_{ref}\, e^{R/\tau}` (OAPL's
population solution, TTT-Discover's entropic objective, the KL-regularised RL optimum), maps a
Gaussian component :math:`N(x;\mu, s^2)` to

.. math::

   Z = \int N(x;\mu,s^2)\, e^{R(x)/\tau}\,dx, \qquad
   \tilde\pi(x) = N(x;\mu,s^2)\, e^{R(x)/\tau} / Z .

For a quadratic reward :math:`R = -\kappa(x-m)^2/2 + r_0` and a linear reward :math:`R = kx` the
tilted component is again Gaussian; SymPy integrates the moments
:math:`\int y^j N(y;0,1) e^{R(\mu + s y)/\tau}dy`, :math:`j = 0, 1, 2`, and gives

* quadratic: :math:`\log Z = \tfrac12\log\frac{\tau}{\tau+\kappa s^2}
  - \frac{\kappa(\mu-m)^2}{2(\tau+\kappa s^2)} + \frac{r_0}{\tau}`, tilted mean
  :math:`\frac{\mu/s^2 + \kappa m/\tau}{1/s^2 + \kappa/\tau}`, tilted variance
  :math:`\frac{1}{1/s^2 + \kappa/\tau}` (precisions add);
* linear: :math:`\log Z = k\mu/\tau + k^2 s^2/(2\tau^2)`, mean :math:`\mu + k s^2/\tau`,
  variance :math:`s^2` (unchanged).

The tidy forms returned by :func:`quadratic_tilt` / :func:`linear_tilt` are proved equal to
SymPy's integrals by the steps of :func:`tilt_derivations` (each step checks itself); with
``derived=True`` the raw integration results are returned instead (seconds of SymPy, cached).
The special case κ = 1, r₀ = 0 (the forms used by claims ``oapl.*`` and ``tttd.*``) is a step of
the quadratic derivation, so a wrong special case would make the derivation fail.

Mixtures tilt component-wise: a weight :math:`w_c` becomes :math:`w_c Z_c / \sum_d w_d Z_d`, so
the old/new odds are multiplied by :math:`Z_o/Z_n = e^{\log Z_o - \log Z_n}`
(:func:`odds_derivation`). Two tilts by the same quadratic reward at temperatures
:math:`\tau_1, \tau_2` equal one tilt at :math:`\tau_1\tau_2/(\tau_1+\tau_2)` (inverse
temperatures add; :func:`composition_derivation`), so :math:`k` tilts at :math:`\tau` equal one
at :math:`\tau/k`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from .derivation import Derivation, Named, Step, evaluate_held
from .symbols import delta, eta, nu_n, nu_o

__all__ = [
    "mu", "s", "m", "kappa", "r0", "tau", "k", "tau1", "tau2",
    "w", "log_z_o", "log_z_n",
    "QUAD_ARGS", "LIN_ARGS",
    "Tilt", "quadratic_tilt", "linear_tilt", "reward_quadratic", "reward_linear",
    "tilt_derivations", "odds_derivation", "odds_log_factor", "composition_derivation",
    "all_derivations",
    # refreshed tilts (OAPL)
    "v", "eta", "j", "nu_o", "nu_n", "blend_centre", "blend_offset", "blend_derivation",
    "window_fraction", "window_derivation", "la", "ma", "sa", "lb", "mb", "sb",
    "INTERP_ARGS", "geometric_interpolation", "interpolation_derivation",
    "s_o", "s_n", "d_o", "d_n", "odds_limit", "ODDS_LIMIT",
    "Delta", "odds_gate", "odds_gate_derivation", "laplace_odds_derivation",
    "odds_limit_derivation",
]

#: component mean and standard deviation (s > 0), reward centre m, curvature κ > 0, reward
#: offset r₀, temperature τ > 0, linear-reward slope k
mu = sp.Symbol("mu", real=True)
s = sp.Symbol("s", positive=True)
m = sp.Symbol("m", real=True)
kappa = sp.Symbol("kappa", positive=True)
r0 = sp.Symbol("r_0", real=True)
tau = sp.Symbol("tau", positive=True)
k = sp.Symbol("k", real=True)
tau1 = sp.Symbol("tau_1", positive=True)
tau2 = sp.Symbol("tau_2", positive=True)
#: old weight and the two log normalisers (odds map)
w = sp.Symbol("w", positive=True)
log_z_o = sp.Symbol("L_o", real=True)
log_z_n = sp.Symbol("L_n", real=True)

_x = sp.Symbol("x", real=True)
_y = sp.Symbol("y", real=True)
_d = sp.Symbol("d", real=True)

#: canonical argument orders for compiled evaluators
QUAD_ARGS = (mu, s, m, kappa, r0, tau)
LIN_ARGS = (mu, s, k, tau)


@dataclass(frozen=True)
class Tilt:
    r"""The tilt of :math:`N(\mu, s^2)` by :math:`e^{R/\tau}`: :math:`\log Z`, mean, variance."""

    log_factor: sp.Expr
    mean: sp.Expr
    var: sp.Expr

    def as_tuple(self) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
        """``(log_factor, mean, var)``."""
        return (self.log_factor, self.mean, self.var)


def reward_quadratic(var: sp.Expr = _x) -> sp.Expr:
    r"""The quadratic reward :math:`R(x) = -\kappa(x-m)^2/2 + r_0`."""
    return -kappa * (var - m) ** 2 / 2 + r0


def reward_linear(var: sp.Expr = _x) -> sp.Expr:
    r"""The linear reward :math:`R(x) = kx`."""
    return k * var


#: the tidy closed forms (proved equal to SymPy's integrals by :func:`tilt_derivations`)
_QUAD = Tilt(
    log_factor=sp.log(tau / (tau + kappa * s**2)) / 2
    - kappa * (mu - m) ** 2 / (2 * (tau + kappa * s**2)) + r0 / tau,
    mean=(mu / s**2 + kappa * m / tau) / (1 / s**2 + kappa / tau),
    var=1 / (1 / s**2 + kappa / tau),
)
_LIN = Tilt(
    log_factor=k * mu / tau + k**2 * s**2 / (2 * tau**2),
    mean=mu + k * s**2 / tau,
    var=s**2,
)


#: generic Gaussian-moment integrals ∫ y^j e^{−A y² + B y} dy (A > 0), j = 0, 1, 2
_A = sp.Symbol("A", positive=True)
_B = sp.Symbol("B", real=True)
_C = sp.Symbol("C", real=True)


@lru_cache(maxsize=1)
def _generic_moments() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """SymPy integrates y^j e^{−Ay² + By} over ℝ once (A > 0); every tilt substitutes A, B."""
    return tuple(  # type: ignore[return-value]
        sp.simplify(sp.integrate(_y**j * sp.exp(-_A * _y**2 + _B * _y), (_y, -sp.oo, sp.oo),
                                 conds="none"))
        for j in range(3))


def _moments(reward: sp.Expr) -> tuple[tuple[Step, ...], tuple[sp.Expr, sp.Expr, sp.Expr],
                                       sp.Expr]:
    """Standardise x = μ + s y, write the exponent as −Ay² + By + C, and take the moments
    I_j = e^C/√(2π) ∫ y^j e^{−Ay² + By} dy from SymPy's generic integral."""
    integrand_x = sp.exp(-((_x - mu) ** 2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2) \
        * sp.exp(reward / tau)
    standard = s * integrand_x.subs(_x, mu + s * _y)
    expo = -(_y**2) / 2 + reward.subs(_x, mu + s * _y) / tau
    in_y = sp.exp(expo) / sp.sqrt(2 * sp.pi)
    poly = sp.Poly(sp.expand(expo), _y)
    a_, b_, c_ = (-poly.coeff_monomial(_y**2), poly.coeff_monomial(_y),
                  poly.coeff_monomial(1))
    generic = _generic_moments()
    moments = tuple(sp.exp(c_) / sp.sqrt(2 * sp.pi) * g.subs({_A: a_, _B: b_}, simultaneous=True)
                    for g in generic)
    steps = (
        Step(standard, in_y, "change of variables",
             r"$x = \mu + s y$, $dx = s\,dy$: the tilted density in standard units"),
        Step(expo, -a_ * _y**2 + b_ * _y + c_, "collect",
             r"the exponent is quadratic in $y$: $-Ay^2 + By + C$ with $A > 0$"),
        *(Step(sp.Integral(_y**j * sp.exp(-_A * _y**2 + _B * _y), (_y, -sp.oo, sp.oo)),
               generic[j], "integrate",
               f"SymPy integrates the generic moment of order {j} ($A > 0$)", kind="cas",
               reason="the output of SymPy's `integrate`; the claim checks and tests/test_tilt.py "
                      "confirm the resulting tilts by numerical quadrature (scipy, mpmath)")
          for j in range(3)),
    )
    return steps, moments, in_y  # type: ignore[return-value]


def _derive(name: str, reward: sp.Expr, tidy: Tilt, leads: tuple[Step, ...] = ()) -> Derivation:
    head, moments, in_y = _moments(reward)
    # the moments shown by name, checked through their values (SymPy's integrals)
    i0, i1, i2 = (Named(f"I_{j}", mom) for j, mom in enumerate(moments))
    mean_raw = mu + s * i1 / i0
    var_raw = s**2 * (i2 / i0 - (i1 / i0) ** 2)
    steps = (
        Step(sp.Symbol("Z"), sp.Integral(in_y, (_y, -sp.oo, sp.oo)), "definition",
             r"$Z = \int N(x;\mu,s^2)\,e^{R(x)/\tau}dx$ after the change of variables",
             kind="def", reason="a definition"),
        *head,
        Step(sp.Symbol("I_j"), sp.Symbol(r"e^{C}G_j(A, B)/\sqrt{2\pi}"), "substitute",
             r"$I_j = \int y^j N(y;0,1)e^{R/\tau}dy$: insert this reward's $A, B, C$ into the "
             r"generic moments $G_j$", kind="def",
             reason=r"notation: $I_j$ names the generic moment $G_j$ (SymPy's integral above) "
                    "at this reward's A, B, C; the next steps use these values"),
        Step(sp.log(i0), tidy.log_factor, "simplify", r"$\log Z = \log I_0$ in closed form"),
        Step(mean_raw, tidy.mean, "simplify",
             r"tilted mean $\mu + s\,E[y]$ with $E[y] = I_1/I_0$"),
        Step(var_raw, tidy.var, "simplify",
             r"tilted variance $s^2(I_2/I_0 - (I_1/I_0)^2)$"),
        *leads,
    )
    return Derivation(
        f"Tilt of a Gaussian component by a {name} reward",
        (r"component $N(\mu, s^2)$ with $s > 0$; temperature $\tau > 0$",
         f"{name} reward $R(x) = {sp.latex(reward)}$"
         + (r" with curvature $\kappa > 0$" if name == "quadratic" else "")),
        steps,
        result=sp.Tuple(*tidy.as_tuple()),
        notes=("The integrals are confirmed independently by numerical quadrature in the "
               "claim checks and tests (scipy / mpmath).",),
    )


def _lead_steps() -> tuple[Step, ...]:
    """The special case κ = 1, r₀ = 0 (the forms the OAPL and TTT-D claims use), checked against
    the derived tidy forms."""
    keys, vals = (kappa, r0), (1, 0)
    lead_mean = (mu / s**2 + m / tau) / (1 / s**2 + 1 / tau)
    lead_var = 1 / (1 / s**2 + 1 / tau)
    lead_factor = sp.sqrt(tau / (tau + s**2)) * sp.exp(-((mu - m) ** 2) / (2 * (tau + s**2)))
    frac = s**2 / (s**2 + tau)
    tilted_mean = sp.Subs(Named(r"\tilde\mu", _QUAD.mean), keys, vals)
    return (
        Step(tilted_mean, lead_mean, "κ = 1", r"special case $\kappa = 1$, $r_0 = 0$: tilted mean "
             r"(precisions add)"),
        Step(sp.Subs(Named(r"\tilde s^2", _QUAD.var), keys, vals), lead_var, "κ = 1",
             r"special case $\kappa = 1$, $r_0 = 0$: tilted variance"),
        Step(sp.exp(sp.Subs(Named(r"\log Z", _QUAD.log_factor), keys, vals)), lead_factor, "κ = 1",
             r"special case $\kappa = 1$, $r_0 = 0$: weight factor $Z$"),
        Step(tilted_mean - mu, frac * (m - mu), "κ = 1",
             r"one tilt moves the mean the fraction $s^2/(s^2+\tau)$ of the way to $m$"),
    )


@lru_cache(maxsize=1)
def tilt_derivations() -> dict[str, Derivation]:
    """The quadratic and linear tilt derivations (SymPy integration; cached, ~8 s once)."""
    return {
        "quadratic": _derive("quadratic", reward_quadratic(), _QUAD, _lead_steps()),
        "linear": _derive("linear", reward_linear(), _LIN),
    }


def _raw(name: str) -> Tilt:
    d = tilt_derivations()[name]
    by_rule = [st for st in d.steps if st.rule == "simplify"]
    log_factor, mean, var = (sp.simplify(evaluate_held(st.lhs)) for st in by_rule)
    return Tilt(log_factor, mean, var)


def quadratic_tilt(derived: bool = False) -> Tilt:
    r"""Tilt of :math:`N(\mu, s^2)` by :math:`e^{R/\tau}`, :math:`R = -\kappa(x-m)^2/2 + r_0`.

    Returns :math:`\log Z = \tfrac12\log\frac{\tau}{\tau+\kappa s^2}
    - \frac{\kappa(\mu-m)^2}{2(\tau+\kappa s^2)} + r_0/\tau`, mean
    :math:`(\mu/s^2 + \kappa m/\tau)/(1/s^2 + \kappa/\tau)`, variance
    :math:`1/(1/s^2 + \kappa/\tau)`, in the symbols :data:`QUAD_ARGS`. These forms are proved
    equal to SymPy's integrals by :func:`tilt_derivations`; ``derived=True`` returns SymPy's
    integration results themselves (slow the first time).
    """
    return _raw("quadratic") if derived else _QUAD


def linear_tilt(derived: bool = False) -> Tilt:
    r"""Tilt of :math:`N(\mu, s^2)` by :math:`e^{kx/\tau}`: :math:`\log Z = k\mu/\tau +
    k^2s^2/(2\tau^2)`, mean :math:`\mu + ks^2/\tau`, variance :math:`s^2` (symbols
    :data:`LIN_ARGS`); ``derived=True`` as in :func:`quadratic_tilt`."""
    return _raw("linear") if derived else _LIN


def odds_log_factor(log_zo: sp.Expr = log_z_o, log_zn: sp.Expr = log_z_n) -> sp.Expr:
    r"""Change of the old/new log-odds under one tilt: :math:`\log Z_o - \log Z_n`."""
    return log_zo - log_zn


def odds_derivation() -> Derivation:
    r"""Tilting the mixture :math:`w N_o + (1-w) N_n` component-wise multiplies the old/new odds
    by :math:`Z_o/Z_n`."""
    zo, zn = sp.exp(log_z_o), sp.exp(log_z_n)
    w_new = w * zo / (w * zo + (1 - w) * zn)
    return Derivation(
        "Old/new odds after one tilt",
        (r"mixture $w N(\mu_o, s_o^2) + (1-w) N(\mu_n, s_n^2)$, $0 < w < 1$",
         r"each component $c$ tilted by $e^{R_c/\tau}$ with normaliser "
         r"$Z_c = e^{L_c}$ (:func:`quadratic_tilt`); one shared normaliser for the mixture"),
        (
            Step(sp.Symbol("w'"), w_new, "normalise",
                 r"$w' = w Z_o / (w Z_o + (1-w) Z_n)$: the tilted mixture renormalised",
                 kind="def",
                 reason=r"a definition: $w'$ is the old weight of the tilted, renormalised "
                        r"mixture (component $c$ keeps mass $w_c Z_c$)"),
            Step(w_new / (1 - w_new), w / (1 - w) * sp.exp(odds_log_factor()), "simplify",
                 r"the odds $w'/(1-w')$ are the old odds times $e^{L_o - L_n}$"),
        ),
        result=odds_log_factor(),
    )


def composition_derivation() -> Derivation:
    r"""Two quadratic tilts (same reward) at :math:`\tau_1` then :math:`\tau_2` equal one tilt at
    :math:`\tau_{12} = \tau_1\tau_2/(\tau_1+\tau_2)`: means, variances and log factors."""
    t12 = tau1 * tau2 / (tau1 + tau2)
    lf1, m1, v1 = (e.subs(tau, tau1) for e in _QUAD.as_tuple())
    second = {mu: m1, s: sp.sqrt(v1), tau: tau2}
    lf2, m2, v2 = (e.subs(second, simultaneous=True) for e in _QUAD.as_tuple())
    lf12, m12, v12 = (e.subs(tau, t12) for e in _QUAD.as_tuple())
    return Derivation(
        "Composition of tilts: inverse temperatures add",
        (r"the same quadratic reward $R = -\kappa(x-m)^2/2 + r_0$ in both tilts",
         r"$\tau_1, \tau_2 > 0$; the second tilt acts on the output of the first"),
        (
            Step(v2, v12, "simplify", r"variance: precisions add, $1/s^2 + \kappa/\tau_1 + "
                 r"\kappa/\tau_2$"),
            Step(m2, m12, "simplify", "mean: precision-weighted, as one tilt"),
            Step(lf1 + lf2, lf12, "simplify",
                 r"log factors add to the one-tilt log factor at $\tau_{12}$"),
        ),
        result=sp.Tuple(lf12, m12, v12),
        notes=(r"Hence $k$ tilts at temperature $\tau$ equal one tilt at $\tau/k$.",),
    )


# ---------------------------------------------------------------------------------------------
# Refreshed tilts (OAPL): reward blend, windows of geometric steps, interpolation, odds limit
# ---------------------------------------------------------------------------------------------

#: visibility v ∈ [0, 1], step fraction η ∈ (0, 1], step count j in a window
v = sp.Symbol("v", nonnegative=True)
j = sp.Symbol("j", nonnegative=True, integer=True)


def blend_centre() -> sp.Expr:
    r"""Centre :math:`m_o = v\nu_o + (1-v)\nu_n` of the visibility-blended old reward."""
    return v * nu_o + (1 - v) * nu_n


def blend_offset() -> sp.Expr:
    r"""Offset :math:`r_o = -v(1-v)\kappa(\nu_o-\nu_n)^2/2` of the blended old reward."""
    return -v * (1 - v) * kappa * (nu_o - nu_n) ** 2 / 2


def blend_derivation() -> Derivation:
    r"""The blend :math:`vR_{old} + (1-v)R_{new}` of two quadratic task rewards is quadratic
    with centre :func:`blend_centre` and offset :func:`blend_offset` (always ≤ 0)."""
    r_old = -kappa * (_x - nu_o) ** 2 / 2
    r_new = -kappa * (_x - nu_n) ** 2 / 2
    return Derivation(
        "Visibility blend of the task rewards",
        (r"task rewards $R_{old} = -\kappa(x-\nu_o)^2/2$, $R_{new} = -\kappa(x-\nu_n)^2/2$ "
         r"(log-densities of the tasks up to constants, $\kappa = 1/\sigma^2$)",
         r"visibility $v \in [0, 1]$: old-behaviour samples are scored by "
         r"$vR_{old} + (1-v)R_{new}$, new-behaviour samples by $R_{new}$"),
        (
            Step(v * r_old + (1 - v) * r_new,
                 -kappa * (_x - blend_centre()) ** 2 / 2 + blend_offset(), "complete the square",
                 r"a convex combination of quadratics with equal curvature is a quadratic "
                 r"centred at the combination of the centres, lowered by $v(1-v)\kappa"
                 r"(\nu_o-\nu_n)^2/2$"),
        ),
        result=sp.Tuple(blend_centre(), blend_offset()),
    )


def window_fraction() -> sp.Expr:
    r"""Tilt fraction :math:`\rho_j = 1 - (1-\eta)^j` reached after :math:`j` geometric steps."""
    return 1 - (1 - eta) ** j


def window_derivation() -> Derivation:
    r"""Geometric steps :math:`\log\pi_{t+1} = (1-\eta)\log\pi_t + \eta\log\pi^\star`
    toward :math:`\pi^\star \propto \pi_{lag}e^{R/\beta}` keep
    :math:`\log\pi_t = \log\pi_{lag} + \rho_t R/\beta` (+ const) with
    :math:`\rho_j = 1-(1-\eta)^j`: j steps are one tilt at temperature :math:`\beta/\rho_j`."""
    lp, rr, beta_ = sp.symbols("L_lag R beta", real=True)
    rho_j = window_fraction()
    rho_next = window_fraction().subs(j, j + 1)
    return Derivation(
        "A lag window of OAPL steps is one tilt",
        (r"$\pi_{lag}$ fixed during the window; the regression of "
         r"$\beta\log(\pi_\theta/\pi_{lag})$ onto $A$ moves $\log\pi_\theta$ the fraction "
         r"$\eta \in (0,1]$ of the way to its population solution per step (a functional "
         r"step; $\eta = 1$ is the exact regression)",
         r"normalising constants are dropped (the mixture is renormalised after each step)"),
        (
            Step((1 - eta) * (lp + rho_j * rr / beta_) + eta * (lp + rr / beta_),
                 lp + rho_next * rr / beta_, "induction",
                 r"one more step: $\rho_{j+1} = (1-\eta)\rho_j + \eta$"),
            Step(sp.Subs(rho_j, j, 0), sp.Integer(0), "start",
                 r"$\rho_0 = 0$: the window starts at $\pi_{lag}$"),
        ),
        result=rho_j,
        notes=(r"After $K$ refreshes (every $L$ steps) and $j$ more steps, tilts compose "
               r"(:func:`composition_derivation`): $\pi_t \propto \pi_0 e^{\rho(t) R/\beta}$ "
               r"with $\rho(t) = K\rho_L + \rho_j$, one tilt at $\tau = \beta/\rho(t)$.",),
    )


#: geometric interpolation of two weighted Gaussian components (log-mass ℓ, mean, std dev)
la = sp.Symbol("ell_a", real=True)
ma = sp.Symbol("m_a", real=True)
sa = sp.Symbol("s_a", positive=True)
lb = sp.Symbol("ell_b", real=True)
mb = sp.Symbol("m_b", real=True)
sb = sp.Symbol("s_b", positive=True)
INTERP_ARGS = (la, ma, sa, lb, mb, sb, eta)


def geometric_interpolation() -> Tilt:
    r""":math:`(e^{\ell_a}N(m_a,s_a^2))^{1-\eta}(e^{\ell_b}N(m_b,s_b^2))^{\eta} =
    e^{\ell}N(m, s^2)`: precision :math:`P = (1-\eta)/s_a^2 + \eta/s_b^2`, mean
    :math:`((1-\eta)m_a/s_a^2 + \eta m_b/s_b^2)/P`, and log-mass ``log_factor`` = ℓ
    (symbols :data:`INTERP_ARGS`; proved by :func:`interpolation_derivation`)."""
    prec = (1 - eta) / sa**2 + eta / sb**2
    mean = ((1 - eta) * ma / sa**2 + eta * mb / sb**2) / prec
    ell = ((1 - eta) * (la - sp.log(2 * sp.pi * sa**2) / 2 - ma**2 / (2 * sa**2))
           + eta * (lb - sp.log(2 * sp.pi * sb**2) / 2 - mb**2 / (2 * sb**2))
           + sp.log(2 * sp.pi / prec) / 2 + prec * mean**2 / 2)
    return Tilt(log_factor=ell, mean=mean, var=1 / prec)


def interpolation_derivation() -> Derivation:
    """The geometric interpolation identity, checked coefficient by coefficient in x."""
    g = geometric_interpolation()
    from .gauss import log_normal_pdf

    lhs = sp.expand((1 - eta) * (la + log_normal_pdf(_x, ma, sa))
                    + eta * (lb + log_normal_pdf(_x, mb, sb)))
    rhs = sp.expand(g.log_factor + log_normal_pdf(_x, g.mean, sp.sqrt(g.var)))
    names = {2: r"$x^2$ (precision)", 1: r"$x$ (precision-mean)", 0: r"$x^0$ (log-mass)"}
    shown = {2: "[x^2]", 1: "[x]", 0: "[x^0]"}
    steps = tuple(
        Step(Named(shown[p] + r"\log\left((e^{\ell_a}N_a)^{1-\eta}(e^{\ell_b}N_b)^{\eta}\right)",
                   lhs.coeff(_x, p)), rhs.coeff(_x, p), "compare coefficients",
             f"coefficient of {names[p]} of the log geometric mean and of the log of "
             r"$e^{\ell}N(m, s^2)$" + (" (50-digit spot checks: simplify is slow on the "
                                       "log terms)" if p == 0 else ""),
             numeric_only=p == 0)
        for p in (2, 1, 0))
    return Derivation(
        "Geometric interpolation of weighted Gaussian components",
        (r"$0 < \eta \le 1$; components $e^{\ell}N(m, s^2)$ with $s > 0$",
         "both sides are quadratics in x: equal coefficients make them equal"),
        steps,
        result=g.as_tuple()[0],
    )


#: the two components' std devs and offsets from their reward centres (odds limit)
s_o = sp.Symbol("s_o", positive=True)
s_n = sp.Symbol("s_n", positive=True)
d_o = sp.Symbol("d_o", real=True)
d_n = sp.Symbol("d_n", real=True)


def _log_odds_change() -> sp.Expr:
    """log Z_o − log Z_n for quadratic rewards without offset (κ, τ shared)."""
    lz = _QUAD.log_factor.subs(r0, 0)
    return (lz.subs({mu: d_o, m: 0, s: s_o}, simultaneous=True)
            - lz.subs({mu: d_n, m: 0, s: s_n}, simultaneous=True))


#: the limit in closed form (proved equal to SymPy's limit by :func:`odds_limit_derivation`)
ODDS_LIMIT = sp.log(s_n / s_o) - d_o**2 / (2 * s_o**2) + d_n**2 / (2 * s_n**2)


@lru_cache(maxsize=1)
def odds_limit() -> sp.Expr:
    r"""Total change of the old/new log-odds under infinitely many refreshed tilts (τ → 0),
    for rewards without offset: SymPy's limit of :math:`\log Z_o - \log Z_n` as
    :math:`\tau \to 0^+` (finite: the odds do not decay geometrically)."""
    return sp.simplify(sp.limit(_log_odds_change(), tau, 0, "+"))


def odds_limit_derivation() -> Derivation:
    r"""K refreshed tilts = one at τ/K; as K → ∞ the log-odds change has a finite limit."""
    change = _log_odds_change()
    stated = ODDS_LIMIT
    return Derivation(
        "Limit of the old/new odds under repeated refreshed tilts",
        (r"rewards without offset ($r_0 = 0$: visibility $v \in \{0, 1\}$); the components "
         r"start at offsets $d_o, d_n$ from their reward centres with std devs $s_o, s_n$",
         r"K refreshes compose to one tilt at $\tau/K$ (:func:`composition_derivation`)"),
        (
            Step(sp.Symbol(r"\log\frac{w_K/(1-w_K)}{w_0/(1-w_0)}"), change, "odds map",
                 r"one tilt at $\tau/K$ (:func:`odds_derivation`)", kind="argued",
                 reason="the odds and composition derivations above applied to K refreshes, in "
                        "words; the claim's check iterates the refresh map and compares"),
            Step(sp.Limit(change, tau, 0, "+"), odds_limit(), "limit",
                 r"SymPy's limit as $\tau/K \to 0^+$", kind="cas",
                 reason="the output of SymPy's `limit`; the next step checks it equals the "
                        "closed form, and the claim's check confirms that the iterated log-odds "
                        "converge (decrement ∝ K⁻²)"),
            Step(odds_limit(), stated, "simplify", "the limit in closed form"),
        ),
        result=odds_limit(),
        notes=("With a positive offset-free limit the old weight has a positive lower bound; "
               "the per-refresh factor tends to 1 (no geometric decay).",),
    )


#: separation of the task optima (whitened by σ when κ = 1/σ²): ``symbols.delta``
Delta = delta


def odds_gate() -> sp.Expr:
    r"""Coefficient of :math:`\Delta^2` in the first-refresh log-odds change when the old mean
    sits at the old optimum and the new mean at the new one, equal std devs s:
    :math:`-\frac{\kappa(1-v)^2}{2(\tau+\kappa s^2)} - \frac{v(1-v)\kappa}{2\tau}` — the
    *mass* change is gated by the reward contrast :math:`e^{-c\Delta^2}`."""
    return -kappa * (1 - v) ** 2 / (2 * (tau + kappa * s**2)) - v * (1 - v) * kappa / (2 * tau)


def odds_gate_derivation() -> Derivation:
    r"""First-refresh log-odds change from the truth: :func:`odds_gate` × Δ²."""
    lz = _QUAD.log_factor
    nu_o_, nu_n_ = sp.Integer(0), Delta
    change = (lz.subs({mu: nu_o_, m: blend_centre().subs({nu_o: nu_o_, nu_n: nu_n_}),
                       r0: blend_offset().subs({nu_o: nu_o_, nu_n: nu_n_})}, simultaneous=True)
              - lz.subs({mu: nu_n_, m: nu_n_, r0: 0}, simultaneous=True))
    return Derivation(
        "Reward-contrast gating of the old/new odds",
        (r"old mean at $\nu_o = 0$, new mean at $\nu_n = \Delta$, both std devs $s$",
         r"visibility-blended old reward (:func:`blend_derivation`), one tilt at $\tau$"),
        (Step(change, odds_gate() * Delta**2, "simplify",
              r"$\log Z_o - \log Z_n$ is $\Delta^2$ times a constant: the odds factor is "
              r"$e^{-c\Delta^2}$, a reward-contrast gate"),),
        result=odds_gate(),
    )


def _stationary_lhs() -> sp.Expr:
    """(1−α)(Δ−x)φ(x−Δ)/(α φ(x)) for unit variances (the peak equation's right/left ratio)."""
    al = sp.Symbol("alpha", positive=True)
    phi = lambda z: sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)  # noqa: E731
    return (1 - al) * (Delta - _x) * phi(_x - Delta) / (al * phi(_x))


def _stationary_rhs() -> sp.Expr:
    al = sp.Symbol("alpha", positive=True)
    return (1 - al) / al * (Delta - _x) * sp.exp(-Delta**2 / 2 + _x * Delta)


def laplace_odds_derivation() -> Derivation:
    r"""x-only reward :math:`R = \log p^*`: K refreshed tilts give :math:`\pi_0\,p^{*K/\tau}`;
    by Laplace's method the basin masses of the two peaks :math:`x_o, x_n` of :math:`p^*` have
    log-ratio :math:`(K/\tau)\log(p_o/p_n) + \log(q_o/q_n) + \tfrac12\log(h_n/h_o) + o(1)`
    (:math:`p_j = p^*(x_j)`, :math:`q_j = \pi_0(x_j)`, :math:`h_j = -(\log p^*)''(x_j)`)."""
    kk = sp.Symbol("K", positive=True)
    p_o, p_n, q_o, q_n, h_o, h_n = sp.symbols("p_o p_n q_o q_n h_o h_n", positive=True)

    def basin(p_, q_, h_):
        return q_ * p_ ** (kk / tau) * sp.sqrt(2 * sp.pi * tau / (kk * h_))

    ratio = sp.expand_log(sp.log(basin(p_o, q_o, h_o) / basin(p_n, q_n, h_n)), force=True)
    stated = (kk / tau) * (sp.log(p_o) - sp.log(p_n)) + sp.log(q_o) - sp.log(q_n) \
        + (sp.log(h_n) - sp.log(h_o)) / 2
    return Derivation(
        "x-only reward log p*: mass flows to the higher peak",
        (r"reward $R = \log p^*$ for every sample (no component awareness); "
         r"$p^*$ has two strict local maxima $x_o < x_n$ with curvatures $h_j > 0$",
         r"$K \to \infty$ refreshes at $\tau$ = one tilt $\pi_0 (p^*)^{K/\tau}$ "
         r"(:func:`window_derivation`, the reward enters only through $R$)"),
        (
            Step(sp.Symbol("M_j"), basin(sp.Symbol("p_j", positive=True),
                                         sp.Symbol("q_j", positive=True),
                                         sp.Symbol("h_j", positive=True)),
                 "Laplace", r"basin mass of peak $j$ to leading order as $K/\tau \to \infty$",
                 kind="argued",
                 reason="Laplace's method, an argument in words; the claim's check computes the "
                        "basin masses on a grid and fits the log-odds slope per refresh"),
            Step(ratio, stated, "simplify",
                 r"log-odds of the basins: slope $\log(p_o/p_n)/\tau$ per refresh"),
            Step(_stationary_lhs(), _stationary_rhs(), "simplify",
                 r"the old peak $x_o$ solves $\alpha x\varphi(x) = (1-\alpha)(\Delta-x)"
                 r"\varphi(x-\Delta)$ (unit variances), i.e. $x = \frac{1-\alpha}{\alpha}"
                 r"(\Delta-x)e^{-\Delta^2/2 + x\Delta}$: the old mode's offset is gated by "
                 r"$e^{-\Delta^2/2}$ ($\log(x_o/\Delta) = -\Delta^2/2 + O(1)$)"),
        ),
        result=stated,
        notes=(r"The lower peak loses its mass geometrically at $\log(p_n/p_o)/\tau$ per "
               r"refresh ($\approx \log((1-\alpha)/\alpha)/\tau$ when the modes are well "
               r"separated); equal peaks ($\alpha = 1/2$) retain a finite limit.",),
    )


def all_derivations() -> list[Derivation]:
    """Every derivation of this module, in rendering order."""
    d = tilt_derivations()
    return [d["quadratic"], d["linear"], odds_derivation(), composition_derivation(),
            blend_derivation(), window_derivation(), interpolation_derivation(),
            odds_limit_derivation(), odds_gate_derivation(), laplace_odds_derivation()]
