"""The sidebar's trial actions against a real Jupyter server (pytest-jupyter's ``jp_fetch``):
``POST studies/<path>/trials/<n>/discard|rerun`` edit the study's record as the verbs do,
the listing and the study's rows read it at once, and what is refused (no token, no XSRF
token, a bad body, an unknown trial, one that cannot be edited)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_automl import run_study
from jupyter_automl.runs import DISCARDED, RERUN_OF


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"jupyter_automl": True}}}


def make_study(root: Path, name: str) -> None:
    run_study('x = hp.float("x", -5, 5)\n(x - 1) ** 2\n',
              f"{name} --trials 3 --seed 0 --runs-dir {root / 'automl_runs'}", {},
              listeners=[])


async def post(jp_fetch: Any, name: str, trial: int, verb: str, body: Any) -> Any:
    response = await jp_fetch("jupyter-automl", "api", "studies", f"automl_runs/{name}",
                              "trials", str(trial), verb, method="POST", body=json.dumps(body))
    return json.loads(response.body)


async def refused(jp_fetch: Any, name: str, trial: int, verb: str, body: Any) -> Any:
    with pytest.raises(HTTPClientError) as info:
        await post(jp_fetch, name, trial, verb, body)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_discard_undo_and_rerun_through_the_server(jp_fetch: Any,
                                                         jp_root_dir: Path) -> None:
    from jupyter_automl.results import load_result

    make_study(jp_root_dir, "q")

    async def detail() -> Any:
        response = await jp_fetch("jupyter-automl", "api", "studies", "automl_runs/q")
        return json.loads(response.body)

    best = min((await detail())["trials"], key=lambda r: r["value"])["number"]
    said = await post(jp_fetch, "q", best, "discard", {"reason": "bad batch"})
    assert said["trial"] == best and "is discarded (bad batch)" in said["said"]
    shown = await detail()
    row = next(r for r in shown["trials"] if r["number"] == best)
    assert row["state"] == "DISCARDED" and row["discarded"].startswith("bad batch (by JupyterLab")
    assert "discarded" in shown["columns"]
    assert shown["study"]["done"] == 2 and shown["study"]["best_value"] != row["value"]
    listed = json.loads((await jp_fetch("jupyter-automl", "api", "studies")).body)
    assert [(s["done"], s["failed"], s["discarded"]) for s in listed["studies"]] == [(2, 0, 1)]
    attrs = load_result("q", jp_root_dir / "automl_runs").study.trials[best].user_attrs
    assert attrs[DISCARDED]["by"].startswith("JupyterLab (")
    # optuna-dashboard, served by the same server, agrees: FAIL, the reason among its
    # attributes, and not the best
    dashboard = ("jupyter-automl", "dashboard", "automl_runs/q", "api", "studies")
    (summary,) = json.loads((await jp_fetch(*dashboard)).body)["study_summaries"]
    seen = json.loads((await jp_fetch(*dashboard, str(summary["study_id"]))).body)
    trial = next(t for t in seen["trials"] if t["number"] == best)
    assert trial["state"] == "Fail" and "bad batch" in json.dumps(trial["user_attrs"])
    assert best not in [t["number"] for t in seen["best_trials"]]

    await post(jp_fetch, "q", best, "discard", {"undo": True})
    assert (await detail())["study"]["done"] == 3
    queued = await post(jp_fetch, "q", 0, "rerun", {})
    assert queued["queued"] == 3 and "trains it first" in queued["said"]
    trials = load_result("q", jp_root_dir / "automl_runs").study.trials
    assert trials[3].state.name == "WAITING" and trials[3].user_attrs[RERUN_OF] == 0


async def test_what_the_trial_routes_refuse(jp_fetch: Any, jp_root_dir: Path,
                                            jp_base_url: str, jp_http_port: int,
                                            jp_serverapp: Any) -> None:
    make_study(jp_root_dir, "r")
    assert (await refused(jp_fetch, "r", 7, "discard", {}))[0] == 404
    code, message = await refused(jp_fetch, "r", 0, "discard", {"reason": 3})
    assert code == 400 and '"reason": str' in message
    assert (await refused(jp_fetch, "r", 0, "rerun", ["x"]))[0] == 400
    code, message = await refused(jp_fetch, "r", 0, "discard", {"undo": True})
    assert code == 409 and "is not discarded" in message
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("jupyter-automl", "api", "studies", "automl_runs/nope", "trials", "0",
                       "discard", method="POST", body="{}")
    assert info.value.code == 404
    # Jupyter's token, and a browser's cookie without its XSRF token, are each refused
    client = AsyncHTTPClient()
    url = (f"http://127.0.0.1:{jp_http_port}{jp_base_url}jupyter-automl/api/studies/"
           "automl_runs/r/trials/0/discard")
    bare = await client.fetch(url, method="POST", body=b"{}", raise_error=False)
    assert bare.code == 403
    root = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    login = await client.fetch(f"{root}?token={jp_serverapp.identity_provider.token}",
                               follow_redirects=False, raise_error=False)
    cookies = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
    no_xsrf = await client.fetch(url, method="POST", body=b"{}", raise_error=False,
                                 headers={"Cookie": cookies})
    assert no_xsrf.code == 403 and b"xsrf" in no_xsrf.body.lower()
    xsrf = [c.split("=", 1)[1] for c in cookies.split("; ") if c.startswith("_xsrf=")][0]
    passed = await client.fetch(url, method="POST", body=b"{}", raise_error=False,
                                headers={"Cookie": cookies, "X-XSRFToken": xsrf})
    assert passed.code == 200 and b"is discarded" in passed.body
