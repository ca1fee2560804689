"""Machinery of training runs below the public :mod:`symforget.dynamics` and
:mod:`symforget.methods`: finite-batch estimators and samplers (``sampling``), the replay
experiment (``simulate``), and the five-parameter runs (issue 14): the training state and its
stepping conventions (``stepping``; K components: ``kstate``), named gradient estimators
(``estimators``), measurements and mass-law predictions (``measures``), the runs themselves
(``runs``) and named experiment presets (``presets``)."""
