"""The symbolic layer: SymPy only (this package never imports NumPy).

Every formula of symforget exists once, here, as a SymPy expression; the compile layer turns
these expressions into NumPy and mpmath evaluators, and :mod:`symforget.runners.render` into LaTeX.
"""
