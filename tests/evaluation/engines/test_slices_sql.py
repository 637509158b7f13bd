"""Slice discovery on the DuckDB engine equals the numpy path (issue #18, item 5).

The same holdout through both: the halves are split by a hash of the id, so the slices found,
their order and their confirmation statistics are the same, numbers to 1e-9.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.evaluation.discovery import key_half
from bot.evaluation.engines import Request, TableSource
from bot.evaluation.engines.slices_sql import discover_sql
from tests.evaluation.engines.slices_data import (
    PLANTED,
    assert_same_report,
    numpy_discovery,
    planted,
    write,
)

pytest.importorskip("duckdb")

SETTINGS: dict[str, Any] = dict(min_rows=100, top_k=4, level=0.05, confidence=0.9, seed=5, segments=["flag"])


@pytest.fixture
def duckdb_engine() -> Iterator[Any]:
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine

    eng = DuckDBEngine()
    yield eng
    eng.close()


def request(task: str, classes: list[Any] | None, preds: Path, segments: list[Any]) -> Request:
    def cols(who: str) -> tuple[str, ...]:
        return tuple(f"{who}:{c}" for c in classes) if classes is not None else (who,)

    return Request(task=task, label="y", candidate=cols("candidate"), baseline=cols("baseline"), metrics=(),
                   segments=tuple(segments), classes=tuple(classes) if classes is not None else None, key="uid",
                   predictions=TableSource.of_parquet(str(preds)), seed=SETTINGS["seed"])


def both(engine: Any, tmp_path: Path, task: str, n: int, seed: int, **over: Any) -> tuple[dict[str, Any], ...]:
    frame, preds, classes = planted(task, n, seed)
    frame = write(frame, tmp_path / "holdout.parquet")
    preds.to_parquet(tmp_path / "scores.parquet")
    settings = {**SETTINGS, **over}
    segments = settings.pop("segments")
    metrics = {"binary": ["roc_auc", "log_loss", "accuracy", "average_precision"], "multiclass":
               ["accuracy", "log_loss", "macro_f1"], "regression": ["rmse", "mae", "r2"]}[task]
    want = numpy_discovery(frame, preds, task, classes, exclude=["uid"], metrics=metrics, segments=segments,
                           **settings).to_report()
    got = discover_sql(engine, TableSource.of_parquet(str(tmp_path / "holdout.parquet")),
                       request(task, classes, tmp_path / "scores.parquet", segments), exclude=[], metrics=metrics,
                       **settings).to_report()
    return want, got


def top_is_planted(report: dict[str, Any]) -> bool:
    top = report["discovered_slices"][0]
    return bool(top["confirmed"]) and {p["text"] for p in top["predicates"]} == PLANTED


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_duckdb_discovery_equals_numpy(duckdb_engine: Any, tmp_path: Path, task: str) -> None:
    want, got = both(duckdb_engine, tmp_path, task, 12_000, seed=3)
    assert top_is_planted(want)  # the comparison is of a real finding, with its metrics
    assert want["discovered_slices"][0]["metrics"]
    assert want["discovery"]["columns"] == ["a", "b", "c", "x", "k", "flag"]  # never the id
    assert_same_report(want, got)


@pytest.mark.parametrize("depth", [1, 3])
def test_duckdb_discovery_equals_numpy_at_depth(duckdb_engine: Any, tmp_path: Path, depth: int) -> None:
    want, got = both(duckdb_engine, tmp_path, "binary", 8000, seed=11, max_depth=depth)
    assert want["discovery"]["scored"] > 0 and want["discovered_slices"]
    assert_same_report(want, got)


def test_listed_columns_and_a_configured_segment(duckdb_engine: Any, tmp_path: Path) -> None:
    """discovery.columns; a slice that is mostly a configured segment is not tested again."""
    want, got = both(duckdb_engine, tmp_path, "binary", 8000, seed=4, columns=["a", "b", "x"],
                     segments=["a", {"cross": ["a", "b"]}])
    assert want["discovery"]["columns"] == ["a", "b", "x"]
    texts = [s["text"] for s in want["discovered_slices"]]
    assert "a = P and b = b3" not in texts and "b = b3 and a = P" not in texts  # the a × b cross shows it
    assert_same_report(want, got)


def test_key_half_is_the_sql_split(duckdb_engine: Any) -> None:
    """`key_half` in numpy and `half_sql` in DuckDB put every id in the same half, about half each."""
    from bot.evaluation.engines.slices_sql import half_sql

    ids = pd.DataFrame({"uid": np.r_[np.arange(3000) * 13 - 500], "s": [f"u{i}" for i in range(3000)]})
    duckdb_engine.register("mlgate_holdout", TableSource.of_frame(ids))
    for col in ("uid", "s"):
        rows = duckdb_engine.query(f"SELECT {half_sql(duckdb_engine, f'h.{col}', 9)} FROM mlgate_holdout h "
                                   "ORDER BY h.uid")
        sql = np.array([bool(r[0]) for r in rows])
        assert (sql == key_half(ids[col].to_numpy(), 9)).all()
        assert 0.45 < sql.mean() < 0.55
    assert (key_half(ids["uid"].to_numpy(), 9) != key_half(ids["uid"].to_numpy(), 10)).any()


CONFIG = """version: 1
models:
  - name: churn
    task: binary
    holdout: holdout.parquet
    label: y
    id: uid
    segments: [flag]
    metrics: {roc_auc: {max_drop: 0.5}, log_loss: {max_drop: 5}}
    discovery: {min_rows: 100, top_k: 3, gate: "off"}
"""


def test_cli_duckdb_engine_reports_the_planted_slice_as_numpy_does(tmp_path: Path) -> None:
    """`mlgate evaluate --engine duckdb` with discovery configured (it refused before): the planted
    slice is found and confirmed, and the report's discovery equals --engine numpy's."""
    from tests.evaluation.engines.test_cli_engines import evaluate

    frame, preds, _ = planted("binary", 8000, seed=3)
    write(frame, tmp_path / "holdout.parquet")
    preds.to_parquet(tmp_path / "scores.parquet")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "mlgate.yml").write_text(CONFIG)
    code_d, rep_d = evaluate(tmp_path, tmp_path / "scores.parquet", "--engine", "duckdb")
    code_n, rep_n = evaluate(tmp_path, tmp_path / "scores.parquet", "--engine", "numpy")
    assert code_d == code_n == 0
    md, mn = rep_d["models"][0], rep_n["models"][0]  # type: ignore[index]
    assert top_is_planted(md)
    assert "uid" not in md["discovery"]["columns"]
    assert_same_report(md["discovery"], mn["discovery"])
    assert_same_report(md["discovered_slices"], mn["discovered_slices"])
