"""Symbols with assumptions, defined once, and their canonical argument orders.

Names follow the model of README.md: the student ``q_θ = w φ_{μo} + (1 − w) φ_{μn}``, the target
``p* = α φ_{νo} + (1 − α) φ_{νn}`` (``ν`` = true means μo*, μn*), a shared scale σ.
SymPy has no interval assumption, so ``w, α ∈ (0, 1)`` is recorded as ``positive`` here and
enforced by the numeric validators; derivations that need ``1 − w > 0`` say so explicitly.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "x", "y", "t", "s",
    "w", "alpha", "mu_o", "mu_n", "nu_o", "nu_n", "sigma",
    "data_mean", "replay_mean", "rho", "delta", "a", "b",
    "STUDENT", "TARGET", "RKL_ARGS", "FKL_ARGS",
    "sigma_o", "sigma_n", "tau_o", "tau_n", "sigma_d", "sigma_r",
    "THETA5", "GENERAL_RKL_ARGS", "GENERAL_FKL_ARGS",
]

#: integration variable (data space) and the standardised variable y = (x − m)/σ
x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
#: auxiliary integration variables used in derivations
t = sp.Symbol("t", real=True)
s = sp.Symbol("s", real=True)

w = sp.Symbol("w", positive=True)
alpha = sp.Symbol("alpha", positive=True)
mu_o = sp.Symbol("mu_o", real=True)
mu_n = sp.Symbol("mu_n", real=True)
nu_o = sp.Symbol("nu_o", real=True)
nu_n = sp.Symbol("nu_n", real=True)
sigma = sp.Symbol("sigma", positive=True)

#: per-component scales of the general model (issue 13): student σo, σn; target τo, τn;
#: training data and replay components s_d, s_r
sigma_o = sp.Symbol("sigma_o", positive=True)
sigma_n = sp.Symbol("sigma_n", positive=True)
tau_o = sp.Symbol("tau_o", positive=True)
tau_n = sp.Symbol("tau_n", positive=True)
sigma_d = sp.Symbol("s_d", positive=True)
sigma_r = sp.Symbol("s_r", positive=True)

data_mean = sp.Symbol("m_d", real=True)
replay_mean = sp.Symbol("m_r", real=True)
rho = sp.Symbol("rho", nonnegative=True)

delta = sp.Symbol("Delta", nonnegative=True)
#: step size of a discrete update (gradient descent, method maps)
eta = sp.Symbol("eta", positive=True)
a = sp.Symbol("a", real=True)
b = sp.Symbol("b", real=True)

#: canonical orders (the compiled evaluators take their arguments in exactly these orders)
STUDENT = (w, mu_o, mu_n)
TARGET = (alpha, nu_o, nu_n)
RKL_ARGS = (w, mu_o, mu_n, alpha, nu_o, nu_n, sigma)
FKL_ARGS = (w, mu_o, mu_n, data_mean, replay_mean, rho, sigma)
#: the general two-component model: θ = (w, μo, σo, μn, σn) and its argument orders
THETA5 = (w, mu_o, sigma_o, mu_n, sigma_n)
GENERAL_RKL_ARGS = (*THETA5, alpha, nu_o, tau_o, nu_n, tau_n)
GENERAL_FKL_ARGS = (*THETA5, data_mean, sigma_d, replay_mean, sigma_r, rho)
