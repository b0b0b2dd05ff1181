"""``jupyter-automl``: run tuning notebooks headlessly with papermill, and read, export or serve
their studies. The verbs, their arguments and what they do are the table of
:mod:`jupyter_automl._verbs`, shared with ``%automl``."""

from __future__ import annotations

import shlex
import sys

from .._verbs import CLI, Invocation, dispatch
from ..errors import AutomlError


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    said = Invocation(CLI, command_line=shlex.join(["jupyter-automl", *words]))
    try:
        return dispatch(words, said)
    except AutomlError as exc:
        message = str(exc)
        prefix = "" if message.startswith("jupyter-automl:") else "jupyter-automl: "
        print(f"{prefix}{message}", file=sys.stderr)
        return 2
