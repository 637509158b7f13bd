"""The Spark engine equals the numpy engine to 1e-9 (issue #18), in local mode.

One local[2] session for the module (a JVM start costs seconds). CI installs pyspark (the
[dev] extra) and Java (.ci/run), so under CI a missing one is a failure, not a skip.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from bot.evaluation import EvaluationError
from bot.evaluation.engines import Request, TableSource
from bot.evaluation.tables import compare_table
from tests.evaluation.engines.test_cli_engines import evaluate, project
from tests.evaluation.engines.test_equal import assert_same, frame

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from bot.evaluation.engines.spark_engine import SparkEngine

# one JVM for the whole module: `make test` runs xdist with --dist loadgroup, which keeps a group
# on one worker (two local Spark sessions at once would double the memory and the warm-up)
pytestmark = pytest.mark.xdist_group("spark")


def test_engine_memory_in_the_jvm_spelling() -> None:
    """--engine-memory takes DuckDB's `4GB`; the JVM's -Xmx (spark.driver.memory) only `4g`."""
    from bot.evaluation.engines.spark_engine import jvm_size

    assert [jvm_size(s) for s in ("4GB", "4 GiB", "512mb", "4g", "2T", "lots")] == \
        ["4g", "4g", "512m", "4g", "2t", "lots"]


def _unavailable() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'mlgate[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install default-jre-headless)"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    why = _unavailable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the Spark tests must run in CI: {why}")
        pytest.skip(why)
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("mlgate-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", "1g")
               # small data: one shuffle partition and no whole-stage code generation halve each query's time
               .config("spark.sql.shuffle.partitions", "1").config("spark.sql.codegen.wholeStage", "false")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def engine(spark: SparkSession) -> Iterator[SparkEngine]:
    from bot.evaluation.engines.spark_engine import SparkEngine

    eng = SparkEngine(spark=spark)
    yield eng
    eng.close()


class _Report:
    """A model's entry of a written report, shaped like `ComparisonResult.to_report()`."""

    def __init__(self, model: dict[str, object]) -> None:
        self.model = model

    def to_report(self) -> dict[str, object]:
        return {"metrics": self.model["metrics"], "segments": self.model["segments"]}


def numpy(df: pd.DataFrame, req: Request) -> object:
    return compare_table(TableSource.of_frame(df), req, "numpy")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_spark_equals_numpy(engine: SparkEngine, tmp_path: Path, task: str) -> None:
    """Three sizes and shapes per task, ties included, through Parquet files as in a Spark job."""
    for n, ties in ((40, False), (700, True), (3000, False)):
        df, req = frame(task, n, seed=n, ties=ties)
        path = tmp_path / f"{task}-{n}.parquet"
        df.to_parquet(path)
        assert_same(engine.compare(TableSource.of_parquet(str(path)), req), numpy(pd.read_parquet(path), req))


def test_keyed_predictions_from_a_partitioned_directory(engine: SparkEngine, tmp_path: Path) -> None:
    """Scores written elsewhere (a hive-partitioned directory, shuffled) are joined by id."""
    df, req = frame("binary", 2000, seed=7, ties=True)
    df["id"] = np.arange(len(df)) * 7 + 3
    df[["id", "region", "tenure", "plan", "label"]].to_parquet(tmp_path / "holdout.parquet")
    preds = df[["id", "cand", "base"]].sample(frac=1.0, random_state=0)
    preds["day"] = np.where(preds["id"] % 2 == 0, "mon", "tue")
    preds.to_parquet(tmp_path / "scores", partition_cols=["day"])
    keyed = Request(task="binary", label="label", candidate=("cand",), baseline=("base",), metrics=req.metrics,
                    segments=req.segments, key="id", predictions=TableSource.of_parquet(str(tmp_path / "scores")))
    got = engine.compare(TableSource.of_parquet(str(tmp_path / "holdout.parquet")), keyed)
    assert_same(got, numpy(df, req))


def test_frame_source_without_baseline(engine: SparkEngine) -> None:
    df, req = frame("binary", 500, seed=3, ties=True)
    alone = Request(task="binary", label="label", candidate=("cand",), baseline=None, metrics=req.metrics,
                    segments=req.segments)
    assert_same(engine.compare(TableSource.of_frame(df), alone), numpy(df, alone))


def test_errors_are_one_line(engine: SparkEngine, tmp_path: Path) -> None:
    df, req = frame("binary", 50, seed=1)
    df.to_parquet(tmp_path / "h.parquet")
    (tmp_path / "broken.parquet").write_text("not parquet\n" * 50)
    (tmp_path / "delta" / "_delta_log").mkdir(parents=True)  # old versions' files would be read too
    df.to_parquet(tmp_path / "delta" / "part-0.parquet")
    cases = [
        (TableSource.of_parquet(str(tmp_path / "delta")), req, "is a Delta table"),
        (TableSource.of_parquet(str(tmp_path / "absent.parquet")), req, "absent.parquet: cannot read the data"),
        (TableSource.of_parquet(str(tmp_path / "broken.parquet")), req, "cannot read the data"),
        (TableSource.of_parquet(str(tmp_path / "h.parquet")),
         Request(task="binary", label="churned", candidate=("cand",), baseline=("base",), metrics=req.metrics),
         "column 'churned' is not in the holdout"),
    ]
    for source, request, expected in cases:
        with pytest.raises(EvaluationError, match=expected) as info:
            engine.compare(source, request)
        assert "\n" not in str(info.value) and len(str(info.value)) < 600, str(info.value)
    # the session survives a failed evaluation, and the views are dropped afterwards
    assert engine.query("SELECT 1")[0][0] == 1
    engine.close()
    assert not [t for t in engine.spark.catalog.listTables() if t.name.startswith("mlgate_")]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_spark_errors_are_not_logged_as_json(engine: SparkEngine) -> None:
    """pyspark 4 logs each failed query as a long JSON record; the engine's one-line error replaces it."""
    logger = pytest.importorskip("pyspark.logger").PySparkLogger.getLogger("SQLQueryContextLogger")
    handler = _Records()
    logger.addHandler(handler)
    try:
        with pytest.raises(EvaluationError, match="spark: .*UNRESOLVED_COLUMN"):
            engine.query("SELECT no_such_column FROM (SELECT 1 AS x) t")
        assert handler.records == [] and not logger.disabled
    finally:
        logger.removeHandler(handler)


def test_cli_engine_spark(spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mlgate evaluate --engine spark` runs on the active session: the numpy engine's report; errors exit 2."""
    root, preds = project(tmp_path)
    preds.to_parquet(root / "scores.parquet")
    code_s, rep_s = evaluate(root, root / "scores.parquet", "--engine", "spark")
    code_n, rep_n = evaluate(root, root / "scores.parquet", "--engine", "numpy")
    assert code_s == code_n == 0
    ms, mn = rep_s["models"][0], rep_n["models"][0]  # type: ignore[index]
    assert ms["holdout"]["rows"] == mn["holdout"]["rows"] == 400
    assert_same(_Report(ms), _Report(mn))
    capsys.readouterr()
    (root / "bad.parquet").write_bytes(b"not parquet at all")
    preds.drop(columns=["user_id"]).to_parquet(root / "nokey.parquet")
    for path, why in ((root / "bad.parquet", "cannot read the data"), (root / "nokey.parquet", "'user_id'")):
        code, _ = evaluate(root, path, "--engine", "spark")
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("mlgate: error:") and why in err[0], err
    assert spark.sparkContext._jsc is not None  # the environment's session is still up
