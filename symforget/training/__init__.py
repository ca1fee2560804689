"""Machinery of training runs below the public :mod:`symforget.dynamics` and
:mod:`symforget.methods`: finite-batch estimators and samplers (``sampling``) and the replay
experiment (``simulate``)."""
