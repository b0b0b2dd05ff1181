"""The Jupyter server extension behind JupyterLab's AutoML sidebar: every study under the
server's root, one study's trials, Stop, export, and optuna-dashboard in a Lab tab, all behind
Jupyter's own authentication (see :mod:`._handlers`).

Enabled on install (``etc/jupyter/jupyter_server_config.d/jupyter_automl.json``); loaded only by
a Jupyter server, never by ``%load_ext jupyter_automl``.
"""

from __future__ import annotations

from typing import Any

from ._dashboard import Apps
from ._studies import MAX_DEPTH, PathRefused, Studies


def _load_jupyter_server_extension(server_app: Any) -> None:
    from ._handlers import handlers

    web_app = server_app.web_app
    root = getattr(server_app, "root_dir", None) or server_app.contents_manager.root_dir
    web_app.settings["jupyter_automl_studies"] = Studies(root)
    web_app.settings["jupyter_automl_dashboards"] = Apps()
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    server_app.log.info("jupyter-automl: studies under %s at %sjupyter-automl/", root,
                        web_app.settings["base_url"])


__all__ = ["MAX_DEPTH", "PathRefused", "Studies"]
