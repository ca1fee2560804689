"""``python -m symforget.cli …`` runs the ``symforget`` command."""

import sys

from . import main

sys.exit(main())
