"""``python -m jupyter_automl``: the same as ``jupyter-automl``."""

import sys

from .cli import main

sys.exit(main())
