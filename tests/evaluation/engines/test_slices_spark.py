"""Slice discovery on the Spark engine equals the numpy path (issue #18, item 5), in local mode."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.evaluation.engines import TableSource
from bot.evaluation.engines.slices_sql import discover_sql
from tests.evaluation.engines.slices_data import assert_same_report, numpy_discovery, planted, write
from tests.evaluation.engines.test_slices_sql import SETTINGS, request
from tests.evaluation.engines.test_spark import engine, spark  # noqa: F401 - the module's Spark fixtures

if TYPE_CHECKING:
    from bot.evaluation.engines.spark_engine import SparkEngine

pytestmark = pytest.mark.xdist_group("spark")


@pytest.mark.parametrize("task,depth", [("binary", 2)])
def test_spark_discovery_equals_numpy(engine: SparkEngine, tmp_path: Path, task: str, depth: int) -> None:  # noqa: F811
    frame, preds, classes = planted(task, 6000, seed=3)
    frame = write(frame, tmp_path / "holdout.parquet")
    preds.to_parquet(tmp_path / "scores.parquet")
    settings = {**SETTINGS, "max_depth": depth, "top_k": 2}  # each Spark query costs seconds
    segments = settings.pop("segments")
    metrics = ["log_loss"] + (["roc_auc"] if task == "binary" else []) if task != "regression" else ["rmse"]
    want = numpy_discovery(frame, preds, task, classes, exclude=["uid"], metrics=metrics, segments=segments,
                           **settings).to_report()
    got = discover_sql(engine, TableSource.of_parquet(str(tmp_path / "holdout.parquet")),
                       request(task, classes, tmp_path / "scores.parquet", segments), exclude=[], metrics=metrics,
                       **settings).to_report()
    assert_same_report(want, got)
    assert want["discovered_slices"] and want["discovered_slices"][0]["metrics"]
