"""MLGATE_MLFLOW_UI_URL reaches the App's comment (#14 item 4): the report's candidate run and
baseline version are linked in that UI, quoted; without the setting, no such link."""

from __future__ import annotations

import json
from dataclasses import replace

from bot.settings import Settings
from tests.handlers.conftest import FAILING, Hub
from tests.handlers.test_workflow_run import _evaluated, _open

UI = "https://mlflow.example.com"


def _comment(hub: Hub, ui: str | None, candidate: dict[str, str]) -> str:
    hub.settings = replace(hub.settings, mlflow_ui_url=ui)
    n, _ = _open(hub)
    report = json.loads(FAILING)
    report["models"][0]["candidate"].update(candidate)
    _evaluated(hub, n, json.dumps(report).encode())
    hub.one()
    (comment,) = hub.comments(n)
    return str(comment["body"])


def test_the_setting_links_the_run_and_the_version(hub: Hub) -> None:
    body = _comment(hub, UI, {"experiment_id": "17"})
    assert f"([run]({UI}/#/experiments/17/runs/0f1e2d3c4b5a))" in body
    assert f"[version 3]({UI}/#/models/churn-classifier/versions/3)" in body


def test_hostile_ids_are_quoted(hub: Hub) -> None:
    body = _comment(hub, UI, {"experiment_id": "javascript:alert(1)", "run_id": "a) [x](javascript:alert(1)"})
    assert f"({UI}/#/experiments/javascript%3Aalert%281%29/runs/a%29%20%5Bx%5D%28javascript%3Aalert%281%29)" in body
    assert "](javascript" not in body


def test_no_setting_no_link(hub: Hub) -> None:
    body = _comment(hub, None, {"experiment_id": "17"})
    assert "#/experiments/" not in body and "#/models/" not in body


def test_settings_read_the_variable() -> None:
    env = {"MLGATE_WEBHOOK_SECRET": "w", "MLGATE_APP_ID": "1", "MLGATE_MLFLOW_UI_URL": UI + "/"}
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert Settings.from_env({**env, "MLGATE_PRIVATE_KEY": key}).mlflow_ui_url == UI
    assert Settings.from_env({**env, "MLGATE_PRIVATE_KEY": key, "MLGATE_MLFLOW_UI_URL": ""}).mlflow_ui_url is None


EVAL_RUN = {"run_id": "0123456789abcdef0123456789abcdef", "experiment_id": "5"}


def _delivered(hub: Hub, ui: str | None, evaluation_run: object) -> tuple[str, str, str]:
    """The App's comment, its check's conclusion and summary for the failing report naming
    `evaluation_run` as `mlgate evaluate` writes it."""
    hub.settings = replace(hub.settings, mlflow_ui_url=ui)
    n, head = _open(hub)
    report = json.loads(FAILING)
    report["evaluation_run"] = evaluation_run
    _evaluated(hub, n, json.dumps(report).encode())
    hub.one()
    (comment,) = hub.comments(n)
    check = hub.checks(head)["mlgate/evaluation"]
    return str(comment["body"]), str(check["conclusion"]), str(check["output"]["summary"])


def test_the_evaluation_run_is_linked_in_the_comment_and_the_check(hub: Hub) -> None:
    body, _, summary = _delivered(hub, UI, EVAL_RUN)
    link = f"[Evaluation run in MLflow]({UI}/#/experiments/5/runs/0123456789abcdef0123456789abcdef)"
    assert link in body and link in summary


def test_no_setting_no_evaluation_run_link(hub: Hub) -> None:
    body, _, summary = _delivered(hub, None, EVAL_RUN)
    assert "Evaluation run" not in body and "Evaluation run" not in summary and "#/experiments/" not in body


def test_a_report_with_a_hostile_evaluation_run_is_refused(hub: Hub) -> None:
    """The schema refuses ids not shaped as MLflow makes them: the report is not used at all."""
    body, conclusion, summary = _delivered(hub, UI, {"run_id": "x) [pwn](javascript:alert(1)", "experiment_id": "5"})
    assert conclusion == "failure" and "report is invalid at evaluation\\_run/run\\_id" in summary
    assert "](javascript" not in body + summary  # the rejection is quoted, escaped: no link
    assert "Evaluation run in MLflow" not in body + summary and "#/experiments/" not in body + summary
