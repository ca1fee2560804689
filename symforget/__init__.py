r"""symforget — symbolic-numeric verification of forgetting in post-training.

The two-mode Gaussian-mixture model of "A Quantitative Characterization of Forgetting in
Post-Training" made executable: SymPy derives gradients, fixed points and Hessians; ``lambdify``
compiles them to vectorised NumPy and mpmath evaluators; mpmath confirms bounds and rates.

Public names are imported lazily so ``import symforget`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ParameterError, PrecisionError, SymforgetError, UnknownClaimError

__version__ = "0.1.0"

_LAZY = {
    "bhattacharyya": "model",
    "kl_gauss": "model",
    "chi2_gauss": "model",
    "hellinger2_gauss": "model",
    "fkl_grad": "model",
    "fkl_hessian": "model",
    "fkl_loss": "model",
    "fkl_iw_grad": "model",
    "em_step": "model",
    "rkl_grad": "model",
    "rkl_hessian": "model",
    "rkl_loss": "model",
    "fisher": "model",
    "fisher_matrix": "model",
    "misassignment": "numeric.misassign",
    "log_misassignment": "numeric.misassign",
    "log_misassignment_excess": "numeric.misassign",
    "separation": "multivariate",
    "Mixture": "kmix",
    "kl_grad": "kmix",
    "verify": "claims",
}

#: sub-modules reachable as attributes of ``symforget`` (imported on first access)
_MODULES = {name: name for name in (
    "claims", "model", "precise", "dynamics", "symbolic", "strategies", "multivariate", "kmix",
    "general", "methods", "numeric", "training", "runners")}
_MODULES.update({name: f"numeric.{name}" for name in (
    "quadrature", "compile", "validate", "misassign", "fastgrad", "frame", "precise_drift")})

__all__ = [
    "ParameterError", "PrecisionError", "SymforgetError", "UnknownClaimError", "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(mod, name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f".{_MODULES[name]}", __name__)
    raise AttributeError(f"module 'symforget' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
