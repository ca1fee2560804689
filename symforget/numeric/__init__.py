"""Numerical machinery below the public evaluators.

``compile`` (the only ``lambdify`` caller, cached), ``quadrature`` (kink-aware Gauss–Legendre
expectations under Gaussian components), ``fastgrad`` (reduced closed forms of the equal-scale
gradients), ``frame`` (problem-centred coordinates and declared domains), ``misassign``
(misassignment in log space), ``precise_drift`` (mpmath series with error bounds), and the
plumbing every layer may use: ``validate`` (inputs), ``progress`` (long-run reporting),
``files`` (atomic writes). Imports point down only: ``numeric`` may import ``symbolic`` and
``errors``, never the evaluators, training, claims, runners or the CLI.
"""
