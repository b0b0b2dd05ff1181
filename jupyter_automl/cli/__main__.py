"""``python -m jupyter_automl.cli``: the same as ``jupyter-automl``."""

import sys

from . import main

sys.exit(main())
