"""Runners behind the CLI sub-commands: ``sweep`` (boxes of parameter points on a process pool
or a Dask cluster), ``report`` (figures) and ``render`` (derivations to Markdown/LaTeX)."""
