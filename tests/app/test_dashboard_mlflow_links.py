"""The dashboard links into the MLflow UI (#14 item 6), only with MLGATE_MLFLOW_UI_URL: the model
page each evaluation's runs and baseline version, the evaluations list and the report page the
evaluation run, the candidate's run and the production version, beside the PR on GitHub; a
hostile report's ids stay quoted or, for the evaluation run, unlinked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.app.test_dashboard import BEARER, FIXTURES, TOKEN, _app

UI = "https://mlflow.example.com"


def _model_page(tmp: Path, ui: str | None, candidate: dict[str, str], version: str = "3") -> str:
    app, store = _app(tmp, TOKEN, mlflow_ui_url=ui)
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["models"][0]["candidate"].update(candidate)
    report["models"][0]["baseline"]["version"] = version
    store.set_pr_head("acme/churn", 7, "a" * 40, "b" * 40, "alice")
    store.record_evaluation("acme/churn", 7, "a" * 40, 42, "fail", report)
    resp = app.test_client().get("/dashboard/models/churn-classifier", headers=BEARER)
    assert resp.status_code == 200
    return str(resp.get_data(as_text=True))


def test_model_page_links_the_run_and_the_version(tmp_path: Path) -> None:
    html = _model_page(tmp_path, UI, {"experiment_id": "17"})
    assert f'<a href="{UI}/#/experiments/17/runs/0f1e2d3c4b5a">candidate</a>' in html
    assert f'<a href="{UI}/#/models/churn-classifier/versions/3">baseline</a>' in html


def test_no_setting_no_mlflow_column(tmp_path: Path) -> None:
    html = _model_page(tmp_path, None, {"experiment_id": "17"})
    assert "MLflow" not in html and "#/experiments/" not in html and "#/models/" not in html


def test_hostile_ids_are_quoted(tmp_path: Path) -> None:
    html = _model_page(tmp_path, UI, {"experiment_id": "javascript:alert(1)", "run_id": 'r" onmouseover="x y)'},
                       version='3"><script>alert(1)</script>')
    assert f'href="{UI}/#/experiments/javascript%3Aalert%281%29/runs/r%22%20onmouseover%3D%22x%20y%29"' in html
    assert f'href="{UI}/#/models/churn-classifier/versions/3%22%3E%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in html
    assert "<script>alert" not in html and 'href="javascript' not in html


# ---------------------------------------------------------------- evaluations list and report page


def _logged_report(tmp: Path) -> dict[str, Any]:
    """The failing report as `mlgate evaluate` writes it when it logs to MLflow: its evaluation
    run created in a real store by the function the CLI names it with, its candidate's experiment."""
    from bot.cli_evaluate import _start_evaluation_run
    from bot.mlflow import Registry
    from bot.report import validate

    report: dict[str, Any] = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["models"][0]["candidate"]["experiment_id"] = "17"
    report["models"][0]["baseline"]["version"] = "3"
    _start_evaluation_run(Registry(f"sqlite:///{tmp / 'mlflow.db'}"), report)
    return validate(report)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _logged_report(tmp_path_factory.mktemp("mlflow"))


def _seeded(tmp: Path, ui: str | None, report: dict[str, Any]) -> tuple[Any, int]:
    app, store = _app(tmp, TOKEN, mlflow_ui_url=ui)
    store.set_pr_head("acme/churn", 7, "a" * 40, "b" * 40, "alice")
    eid = store.record_evaluation("acme/churn", 7, "a" * 40, 42, "fail", report)
    assert eid is not None
    return app, eid


def _get(app: Any, path: str) -> str:
    resp = app.test_client().get(path, headers=BEARER)
    assert resp.status_code == 200
    return str(resp.get_data(as_text=True))


def test_evaluations_list_links_the_pr_and_the_mlflow_ui(tmp_path: Path, logged: dict[str, Any]) -> None:
    app, _ = _seeded(tmp_path, UI, logged)
    run = logged["evaluation_run"]
    for path in ("/dashboard/evaluations", "/dashboard"):
        html = _get(app, path)
        assert '<a href="https://github.com/acme/churn/pull/7">acme/churn#7</a>' in html
        assert "<th>MLflow</th>" in html
        assert (f'<a href="{UI}/#/experiments/{run["experiment_id"]}/runs/{run["run_id"]}">evaluation run</a> · '
                f'<a href="{UI}/#/experiments/17/runs/0f1e2d3c4b5a">candidate run</a> · '
                f'<a href="{UI}/#/models/churn-classifier/versions/3">production version 3</a>') in html
    model = _get(app, "/dashboard/models/churn-classifier")
    assert f'<a href="{UI}/#/experiments/{run["experiment_id"]}/runs/{run["run_id"]}">evaluation</a>' in model


def test_report_page_links_the_pr_and_the_mlflow_ui(tmp_path: Path, logged: dict[str, Any]) -> None:
    app, eid = _seeded(tmp_path, UI, logged)
    html = _get(app, f"/reports/{eid}")
    run = logged["evaluation_run"]
    assert (f'<a href="https://github.com/acme/churn/pull/7">Pull request</a> · '
            f'<a href="{UI}/#/experiments/{run["experiment_id"]}/runs/{run["run_id"]}">Evaluation run in MLflow</a>'
            ) in html
    assert f'<a href="{UI}/#/models/churn-classifier/versions/3">version 3</a>' in html
    assert f'(<a href="{UI}/#/experiments/17/runs/0f1e2d3c4b5a">run</a>)' in html


def test_without_the_setting_only_the_pr_is_linked(tmp_path: Path, logged: dict[str, Any]) -> None:
    app, eid = _seeded(tmp_path, None, logged)
    for path in ("/dashboard/evaluations", "/dashboard", f"/reports/{eid}"):
        html = _get(app, path)
        assert "MLflow" not in html and "#/experiments/" not in html and "#/models/" not in html
        assert 'href="https://github.com/acme/churn/pull/7"' in html


def test_a_stored_report_with_a_hostile_evaluation_run_gets_no_run_link(tmp_path: Path) -> None:
    """A row stored before the schema had the field, or tampered with: the ids are checked
    again before they go into a URL."""
    report = json.loads((FIXTURES / "reports" / "failing.json").read_text())
    report["evaluation_run"] = {"run_id": 'x" onclick="alert(1)', "experiment_id": "javascript:alert(1)"}
    app, eid = _seeded(tmp_path, UI, report)
    for path in ("/dashboard/evaluations", f"/reports/{eid}", "/dashboard/models/churn-classifier"):
        html = _get(app, path)
        assert "#/experiments/javascript" not in html and "onclick" not in html
        assert "evaluation run" not in html.lower()


def test_pr_url_needs_a_repository_and_a_number() -> None:
    from bot.dashboard import pr_url

    web = "https://github.com"
    assert pr_url(web, "acme/churn", 7) == "https://github.com/acme/churn/pull/7"
    for repo, pr in (("acme/churn", 0), ("acme/churn", True), ("acme/churn", "7"), ("acme", 7),
                     ("acme/churn/../../evil", 7), ("//evil.example/x", 7), (None, 7), ('a"b/c', 7)):
        assert pr_url(web, repo, pr) is None, (repo, pr)


def test_each_stored_report_is_read_once_for_its_links(tmp_path: Path, logged: dict[str, Any]) -> None:
    """The evaluations page lists 200 rows: their links are read from the stored reports once
    per process (a stored evaluation never changes), and not at all without the setting."""
    from bot.dashboard import ReportLinks
    from bot.store import Store

    class Counting(Store):
        reads = 0

        def evaluation(self, eval_id: int) -> Any:
            Counting.reads += 1
            return super().evaluation(eval_id)

    store = Counting(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    store.set_pr_head("acme/churn", 7, "a" * 40, "b" * 40, "alice")
    store.record_evaluation("acme/churn", 7, "a" * 40, 42, "fail", logged)
    (row,) = store.recent_evaluations(10)
    links = ReportLinks(store, UI)
    first = links(row)
    assert first and first[0][0] == "evaluation run" and Counting.reads == 1
    assert links(row) == first and Counting.reads == 1  # kept
    assert links({**row, "created_at": row["created_at"] + 1}) == first and Counting.reads == 2  # another row
    assert ReportLinks(store, None)(row) == [] and Counting.reads == 2
