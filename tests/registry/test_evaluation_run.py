"""The evaluation run in two steps (#14 item 4): created first so the report can name it, then
logged into; a failed log leaves no half-made run. A real MLflow SQLite store, no mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.mlflow import EXPERIMENT, Registry, RegistryError
from bot.render.links import EXPERIMENT_ID, RUN_ID

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reports"


def _report() -> dict[str, Any]:
    report: dict[str, Any] = json.loads((FIXTURES / "failing.json").read_text())
    report["run"] = {**report.get("run", {}), "repository": "acme/churn", "pr": 42, "head_sha": "abc123" * 6}
    return report


def _runs(uri: str, everything: bool) -> list[Any]:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri, uri)
    exp = client.get_experiment_by_name(EXPERIMENT)
    view = ViewType.ALL if everything else ViewType.ACTIVE_ONLY
    return list(client.search_runs([exp.experiment_id], run_view_type=view)) if exp else []


def test_the_run_exists_before_the_report_is_logged_into_it(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    reg = Registry(uri, artifact_location=(tmp_path / "artifacts").as_uri())
    report = _report()
    run = reg.start_evaluation(report)
    assert RUN_ID.fullmatch(run.run_id) and EXPERIMENT_ID.fullmatch(run.experiment_id)  # the schema's shapes
    started = reg.client.get_run(run.run_id)
    assert started.info.status == "RUNNING" and started.info.experiment_id == run.experiment_id
    assert started.data.tags["mlflow.runName"] == "PR #42 abc123ab"
    assert started.data.tags["mlgate.repository"] == "acme/churn"

    report["evaluation_run"] = {"run_id": run.run_id, "experiment_id": run.experiment_id}
    reg.log_evaluation_into(run, report, "<html>report</html>", {"mlgate.trigger": "test"})
    done = reg.client.get_run(run.run_id)
    assert done.info.status == "FINISHED" and done.data.tags["mlgate.trigger"] == "test"
    assert done.data.metrics  # the metrics went into the run that was created first
    local = reg.client.download_artifacts(run.run_id, "mlgate-report.json", str(tmp_path))
    assert json.loads(Path(local).read_text())["evaluation_run"]["run_id"] == run.run_id  # names itself
    assert [r.info.run_id for r in _runs(uri, everything=True)] == [run.run_id]  # one run, not two


def test_a_failed_log_ends_the_run_failed_and_deletes_it(tmp_path: Path) -> None:
    """The experiment's artifact store is a path under a regular file: MLflow cannot write the
    report there, so the run that was started must not stay behind as if it held one."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "a-file").write_text("not a directory")
    reg = Registry(uri)
    reg.client.create_experiment(EXPERIMENT, artifact_location=(tmp_path / "a-file" / "artifacts").as_uri())
    run = reg.start_evaluation(_report())
    with pytest.raises(RegistryError, match="logging the evaluation") as err:
        reg.log_evaluation_into(run, _report(), "<html></html>", {})
    assert "\n" not in str(err.value)
    gone = reg.client.get_run(run.run_id)
    assert gone.info.status == "FAILED" and gone.info.lifecycle_stage == "deleted"
    assert _runs(uri, everything=False) == []  # the experiment's list shows nothing half-made
    with pytest.raises(RegistryError):  # log_evaluation in one go fails the same way
        reg.log_evaluation(_report(), None, {})
    assert _runs(uri, everything=False) == []


def test_discarding_a_run_the_store_no_longer_has_raises_nothing(tmp_path: Path) -> None:
    """discard_evaluation runs after another error, which is the one to report."""
    from bot.mlflow import EvaluationRun

    reg = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    reg.discard_evaluation(EvaluationRun(run_id="0" * 32, experiment_id="0"))
