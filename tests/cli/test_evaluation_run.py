"""`mlgate evaluate` names its own MLflow evaluation run in the report (#14 item 4): the run is
created first, the report logged into it, and the files written only after that worked. A
failure leaves neither a report nor a live half-logged run. Real MLflow SQLite stores."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import report as report_io
from bot.cli_evaluate import EvaluateOptions, InputError, evaluate
from bot.mlflow import EXPERIMENT
from tests.cli.test_evaluate_cli import project  # noqa: F401 - the evaluate tests' repository and store


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow keeps the artifacts of an experiment mlgate creates in a SQLite store (the `mlgate`
    experiment's report.json and report.html) under ./mlruns of the working directory: the test's, not
    the repository's."""
    monkeypatch.chdir(tmp_path)


def _store(project: dict[str, Any], tmp: Path) -> str:  # noqa: F811
    """A copy of the project's store (its models' artifacts stay where they are), so each test
    has its own `mlgate` experiment."""
    db = tmp / "mlflow.db"
    shutil.copy(project["root"] / "mlflow.db", db)
    return f"sqlite:///{db}"


def _options(project: dict[str, Any], tmp: Path, uri: str) -> EvaluateOptions:  # noqa: F811
    out = tmp / "out"
    return EvaluateOptions(config=project["root"] / ".github/mlgate.yml", out=out / "report.json",
                           markdown=out / "comment.md", html=out / "report.html",
                           candidates={None: project["uris"]["same"]}, tracking_uri=uri, progress=False)


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(uri, uri)


def _runs(uri: str, everything: bool) -> list[Any]:
    from mlflow.entities import ViewType

    exp = _client(uri).get_experiment_by_name(EXPERIMENT)
    view = ViewType.ALL if everything else ViewType.ACTIVE_ONLY
    return list(_client(uri).search_runs([exp.experiment_id], run_view_type=view)) if exp else []


def test_the_report_names_the_run_that_holds_it(project: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    uri = _store(project, tmp_path)
    opts = _options(project, tmp_path, uri)
    result = evaluate(opts)
    written = report_io.load(opts.out)  # the file as the App would read it: valid, names the run
    named = written["evaluation_run"]
    assert named == result.report["evaluation_run"]
    (run,) = _runs(uri, everything=True)
    assert run.info.run_id == named["run_id"] and run.info.experiment_id == named["experiment_id"]
    assert run.info.status == "FINISHED"
    local = _client(uri).download_artifacts(run.info.run_id, "mlgate-report.json", str(tmp_path / "dl"))
    assert report_io.load(local) == written  # the run holds the very report that names it
    html = _client(uri).download_artifacts(run.info.run_id, "report.html", str(tmp_path / "dl"))
    assert Path(html).read_text() == opts.html.read_text()  # type: ignore[union-attr]
    assert any(k.endswith("/roc_auc/delta") for k in run.data.metrics)


def test_without_a_tracking_uri_the_report_names_no_run(project: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    """A --predictions evaluation with no store: nothing is logged, the report has no evaluation_run."""
    import pandas as pd

    holdout = pd.read_parquet(project["root"] / "data" / "holdout.parquet")
    preds = tmp_path / "preds.parquet"
    pd.DataFrame({"candidate": [0.5] * len(holdout), "baseline": [0.5] * len(holdout)}).to_parquet(preds)
    opts = EvaluateOptions(config=project["root"] / ".github/mlgate.yml", out=tmp_path / "r.json",
                           predictions=str(preds), progress=False)
    result = evaluate(opts)
    assert "evaluation_run" not in result.report and "evaluation_run" not in report_io.load(opts.out)


def test_a_failed_log_exits_2_in_one_line_with_no_report_and_no_live_run(
    project: dict[str, Any], tmp_path: Path  # noqa: F811
) -> None:
    """The `mlgate` experiment's artifacts would go under a regular file: MLflow cannot write
    the report there. The run was started (the report named it), so it is ended FAILED and
    deleted, and no file names it."""
    uri = _store(project, tmp_path)
    (tmp_path / "a-file").write_text("not a directory")
    _client(uri).create_experiment(EXPERIMENT, artifact_location=(tmp_path / "a-file" / "artifacts").as_uri())
    out = tmp_path / "out"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "evaluate", "--config", str(project["root"] / ".github/mlgate.yml"),
         "--candidate", project["uris"]["same"], "--out", str(out / "report.json"),
         "--markdown", str(out / "comment.md"), "--html", str(out / "report.html")],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )
    assert res.returncode == 2, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("mlgate: error:")]
    assert len(errors) == 1, res.stderr
    assert errors[0].startswith("mlgate: error: could not log the evaluation to MLflow: logging the evaluation")
    assert errors[0].endswith("no report was written")
    assert not out.exists() or list(out.iterdir()) == []  # no report, comment or HTML
    (run,) = _runs(uri, everything=True)
    assert run.info.status == "FAILED" and run.info.lifecycle_stage == "deleted"
    assert _runs(uri, everything=False) == []


def test_a_run_that_cannot_be_started_fails_the_evaluation_before_any_file(
    project: dict[str, Any], tmp_path: Path  # noqa: F811
) -> None:
    """A deleted `mlgate` experiment takes no run: the evaluation stops, nothing is written."""
    uri = _store(project, tmp_path)
    client = _client(uri)
    client.delete_experiment(client.create_experiment(EXPERIMENT, artifact_location=(tmp_path / "a").as_uri()))
    opts = _options(project, tmp_path, uri)
    with pytest.raises(InputError, match=r"^could not log the evaluation to MLflow: starting an evaluation run .*"
                                         r"no report was written$"):
        evaluate(opts)
    assert not opts.out.parent.exists() or list(opts.out.parent.iterdir()) == []


def test_a_report_that_cannot_be_written_discards_the_logged_run(project: dict[str, Any], tmp_path: Path) -> None:  # noqa: F811
    """The run was logged, then the report file could not be written (a name the file system
    takes, but not its temporary sibling's): the run is discarded, so the experiment shows no
    evaluation that CI has no report of."""
    uri = _store(project, tmp_path)
    opts = _options(project, tmp_path, uri)
    opts.out = opts.out.parent / ("r" * 250 + ".json")
    with pytest.raises(InputError, match="no report was written"):
        evaluate(opts)
    assert not opts.out.exists()
    (run,) = _runs(uri, everything=True)  # it was logged, then discarded
    assert run.info.lifecycle_stage == "deleted"
    assert _runs(uri, everything=False) == []
