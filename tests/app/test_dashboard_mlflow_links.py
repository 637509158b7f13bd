"""The model page links each evaluation's candidate run and baseline version into the MLflow UI
(#14 item 6), only with MLGATE_MLFLOW_UI_URL, and a hostile report's ids stay quoted."""

from __future__ import annotations

import json
from pathlib import Path

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
