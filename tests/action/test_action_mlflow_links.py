"""The Action's `mlflow-ui-url` input (#14 item 4): mode token's comment links the baseline's
version in that MLflow UI; a URL that is not plain http(s) stops the step and says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.action import ActionInputs, _plan
from bot.config import parse_config
from bot.gate import decide
from tests.action.test_action import CONFIG, _harness, _inputs, _pr_event, _project

UI = "https://mlflow.example.com"


def _token_run(tmp_path: Path, github: Any, **extra: str) -> tuple[Any, str]:
    ws = _project(tmp_path, regress=True)
    token = github.create_token("acme/churn")
    pr = github.open_pull_request("acme/churn", files={"data/holdout.parquet": "x"})
    event = _pr_event()
    event["pull_request"]["number"] = pr["number"]
    event["pull_request"]["head"]["sha"] = pr["head"]["sha"]
    res = _harness(ws, event, api_url=github.base_url).run(_inputs(mode="token", **{"github-token": token}, **extra))
    comments = github.comments("acme/churn", pr["number"])
    return res, comments[0]["body"] if comments else ""


def test_token_mode_links_the_baseline_version(tmp_path: Path, github: Any) -> None:
    """The input reaches the Action's plan: the same report with a registered baseline (the
    predictions fixture has none) gets the version link in the comment's section."""
    res, body = _token_run(tmp_path, github, **{"mlflow-ui-url": UI + "/"})
    assert not res.failed, res.log
    inputs = ActionInputs.from_env({"MLGATE_INPUT_MLFLOW_UI_URL": UI + "/"})
    assert inputs.mlflow_ui_url == UI
    report = json.loads(Path(res.outputs["report-path"]).read_text())
    report["models"][0]["baseline"] = {"uri": "models:/churn@production", "version": "3",
                                       "alias": "production"}
    config = parse_config(CONFIG)
    for ui, linked in ((inputs.mlflow_ui_url, True), (None, False)):
        section = _plan(report, decide(report, config), config, _pr_event(), ui).section
        assert (f"[version 3]({UI}/#/models/churn/versions/3)" in section) is linked


def test_token_mode_without_the_input_has_no_mlflow_links(tmp_path: Path, github: Any) -> None:
    res, body = _token_run(tmp_path, github)
    assert not res.failed, res.log
    assert "#/models/" not in body and "#/experiments/" not in body


def test_a_url_that_is_not_http_stops_the_step(tmp_path: Path, github: Any) -> None:
    res, body = _token_run(tmp_path, github, **{"mlflow-ui-url": "javascript:alert(1)"})
    assert res.failed and body == ""
    assert "mlflow-ui-url must be the MLflow UI" in res.summary
