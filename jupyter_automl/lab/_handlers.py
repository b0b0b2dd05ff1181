"""The server extension's routes, under ``{base_url}jupyter-automl/``.

* ``GET  api/studies``: every study under the server's root (see :mod:`._studies`);
* ``GET  api/studies/<path>``: one study's summary and trial rows;
* ``POST api/studies/<path>/stop``: ask it to stop, wherever it runs (202; 409 if it is not
  running);
* ``POST api/studies/<path>/export``: write its best model (``{"format": ID}``, an ``id`` of
  the listing's ``formats``, rows of deploy's format table) into ``<path>/export/``, in a
  process of its own (TensorFlow stays out of the server);
* ``POST api/studies/<path>/trials/<n>/discard``: discard trial ``n`` (``{"reason": TEXT}``),
  or take its discard back (``{"undo": true}``), as ``%automl discard`` does;
* ``POST api/studies/<path>/trials/<n>/rerun``: queue its parameters to run again
  (``{"discard": true, "reason": TEXT}``: in its place), as ``%automl rerun`` does;
* ``GET  dashboard/<path>/...``: optuna-dashboard for the study (see :mod:`._dashboard`).

Every route needs Jupyter's authentication; POSTs also pass its XSRF check (a browser's cookie
alone is not enough). A path that leaves the root is refused with 403.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..deploy import EXPORT_FORMATS, format_choices
from ..errors import AutomlError, StudyNotFoundError
from ..runs import StudyPaths, request_stop
from . import _dashboard
from ._studies import PathRefused, Studies, trial_rows_json

EXPORT_TIMEOUT = 600.0  # seconds


class _Base(APIHandler):  # type: ignore[misc]
    @property
    def studies(self) -> Studies:
        return self.settings["jupyter_automl_studies"]  # type: ignore[no-any-return]

    def folder(self, study_id: str) -> Any:
        try:
            return self.studies.folder(study_id)
        except PathRefused as exc:
            raise web.HTTPError(403, str(exc)) from None
        except FileNotFoundError as exc:
            raise web.HTTPError(404, str(exc)) from None

    def answer(self, status: int, body: dict[str, Any]) -> None:
        self.set_status(status)
        self.finish(json.dumps(body, default=str, allow_nan=False))


class StudiesHandler(_Base):
    """Every study under the server's root: ``{"studies": [...], "formats": [...]}``, a study
    per row (``id``, its path; ``name``, ``state``, ``done``/``total``, ``best_value``,
    ``best_params``, ``updated``, the notebook it ran in...) and the export formats the
    sidebar offers (``id`` and ``label`` each)."""

    @web.authenticated
    async def get(self) -> None:
        studies = await asyncio.get_running_loop().run_in_executor(
            _dashboard.POOL, self.studies.list)
        self.answer(200, {"formats": format_choices(), "studies": trial_rows_json(studies)})


class StudyHandler(_Base):
    """One study: ``{"study": {...}, "columns": [...], "trials": [...]}``, its row as in the
    listing and its trials as rows (those of ``_automl.trials`` and ``%automl show``). 409 if
    its storage cannot be read."""

    @web.authenticated
    async def get(self, study_id: str) -> None:
        self.folder(study_id)
        try:
            detail = await asyncio.get_running_loop().run_in_executor(
                _dashboard.POOL, self.studies.detail, study_id)
        except (AutomlError, KeyError) as exc:
            raise web.HTTPError(409, f"study {study_id!r} cannot be read: {exc}") from None
        detail["study"] = trial_rows_json([detail["study"]])[0]
        detail["trials"] = trial_rows_json(detail["trials"])
        self.answer(200, detail)


class StopHandler(_Base):
    """Ask a running study to stop, wherever it runs (its runners see the request at their
    next epoch end): 202 ``{"stopping": true}``; 409 if it is not running."""

    @web.authenticated
    async def post(self, study_id: str) -> None:
        folder = self.folder(study_id)
        record = await asyncio.get_running_loop().run_in_executor(
            _dashboard.POOL, self.studies.record, folder)
        if record["state"] != "running":
            raise web.HTTPError(409, f"study {record['name']!r} is not running "
                                     f"({record['state']})")
        user = getattr(self.current_user, "username", None) or "someone"
        request_stop(StudyPaths.at(folder), by=f"JupyterLab ({user})")
        self.log.info("jupyter-automl: stop requested for %s", study_id)
        self.answer(202, {"stopping": True})


class ExportHandler(_Base):
    """Write the study's best model into ``<path>/export/``: send ``{"format": ID}``, an ``id``
    of the listing's ``formats`` (default ``keras``). The export runs in a process of its own
    (TensorFlow stays out of the server): 200 ``{"path": ..., "said": ...}`` once written; 400
    for an unknown format, 409 with the export's error, 504 after 10 minutes."""

    @web.authenticated
    async def post(self, study_id: str) -> None:
        folder = self.folder(study_id)
        try:
            asked = json.loads(self.request.body or b"{}").get("format", "keras")
        except (ValueError, AttributeError):
            raise web.HTTPError(400, 'send JSON: {"format": "keras"}') from None
        row = EXPORT_FORMATS.get(asked) if isinstance(asked, str) else None
        if row is None:
            raise web.HTTPError(400, f"unknown format {asked!r}; use one of "
                                     f"{', '.join(EXPORT_FORMATS)}")
        (folder / "export").mkdir(exist_ok=True)
        target = folder / "export" / row.file
        command = [sys.executable, "-m", "jupyter_automl", "export", folder.name,
                   "--runs-dir", str(folder.parent), "--format", row.base, "--output",
                   str(target)]
        if row.variant_of is not None:
            command.append("--quantize")
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(), EXPORT_TIMEOUT)
        except asyncio.TimeoutError:
            process.kill()
            raise web.HTTPError(504, f"the export took more than {EXPORT_TIMEOUT:.0f} s") \
                from None
        if process.returncode != 0:
            said = err.decode(errors="replace").strip().splitlines()
            raise web.HTTPError(409, said[-1] if said else "the export failed")
        self.answer(200, {"path": self.studies.study_id(target),
                          "said": out.decode(errors="replace").strip()})


class TrialEditHandler(_Base):
    """Discard a trial or queue it again, as ``%automl discard`` / ``rerun`` do, recorded as
    done by ``JupyterLab (<user>)``: ``discard`` takes ``{"reason": TEXT}`` or ``{"undo":
    true}``, ``rerun`` ``{"discard": true, "reason": TEXT}`` (both optional). 200 ``{"said":
    ..., "trial": N, "queued": M}`` (``queued``: the rerun's number); 400 for a body it does not
    take, 404 for an unknown trial, 409 for one that cannot be edited (running, queued, failed,
    discarded already), with what to do instead."""

    FIELDS = {"discard": {"reason": str, "undo": bool},
              "rerun": {"discard": bool, "reason": str}}

    @web.authenticated
    async def post(self, study_id: str, number: str, verb: str) -> None:
        from ..results import UnknownTrialError, discard_trial, rerun_trial

        folder = self.folder(study_id)
        asked = self._body(verb)
        user = getattr(self.current_user, "username", None) or "someone"
        act = discard_trial if verb == "discard" else rerun_trial
        try:
            edit = await asyncio.get_running_loop().run_in_executor(
                _dashboard.POOL, lambda: act(folder.name, int(number), folder.parent,
                                             by=f"JupyterLab ({user})", **asked))
        except (UnknownTrialError, StudyNotFoundError) as exc:
            raise web.HTTPError(404, str(exc)) from None
        except AutomlError as exc:
            raise web.HTTPError(409, str(exc)) from None
        self.log.info("jupyter-automl: trial %s of %s: %s", number, study_id, verb)
        self.answer(200, {"said": edit.said, "trial": edit.trial, "queued": edit.queued})

    def _body(self, verb: str) -> dict[str, Any]:
        fields = self.FIELDS[verb]
        try:
            asked = json.loads(self.request.body or b"{}")
        except ValueError:
            asked = None
        wrong = [k for k, v in (asked or {}).items() if k not in fields
                 or not isinstance(v, fields[k]) and v is not None] \
            if isinstance(asked, dict) else ["the body"]
        if wrong:
            said = ", ".join(f'"{k}": {t.__name__}' for k, t in fields.items())
            raise web.HTTPError(400, f"{verb}: send a JSON object with {said} (all optional); "
                                     f"not {', '.join(map(str, wrong))}")
        return {k: v for k, v in asked.items() if v is not None}


class DashboardHandler(JupyterHandler):  # type: ignore[misc]
    """optuna-dashboard for the study at ``<path>``, read-only, in a Lab tab: its pages and its
    own API under this prefix, each with its content type. A request without Jupyter's token
    or cookie gets 403, as an API call does (a page would redirect it to the login page)."""

    def get_login_url(self) -> str:
        if not self.current_user:
            raise web.HTTPError(403)
        return super().get_login_url()  # type: ignore[no-any-return]

    @web.authenticated
    async def get(self, path: str) -> None:
        try:
            await _dashboard.serve(self, self.settings["jupyter_automl_studies"],
                                   self.settings["jupyter_automl_dashboards"], path)
        except PathRefused as exc:
            raise web.HTTPError(403, str(exc)) from None


def handlers(base_url: str) -> list[tuple[str, type]]:
    def route(path: str) -> str:
        return url_path_join(base_url, "jupyter-automl", path)

    return [
        (route("api/studies"), StudiesHandler),
        (route("api/studies/(.+)/stop"), StopHandler),
        (route("api/studies/(.+)/export"), ExportHandler),
        (route("api/studies/(.+)/trials/([0-9]+)/(discard|rerun)"), TrialEditHandler),
        (route("api/studies/(.+)"), StudyHandler),
        (route("dashboard/(.*)"), DashboardHandler),
    ]
