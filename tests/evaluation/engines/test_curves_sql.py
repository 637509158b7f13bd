"""The report's curves on the SQL engines equal the numpy path's `curve_data` (issue #18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.evaluation.engines import TableSource
from bot.evaluation.engines.curves_sql import curves_sql
from bot.render.plots import curve_data
from tests.evaluation.engines.test_cli_engines import evaluate, project
from tests.evaluation.engines.test_equal import frame

pytest.importorskip("duckdb")


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("ties", [False, True])
def test_duckdb_curves_equal_curve_data(task: str, ties: bool) -> None:
    from bot.evaluation.engines.duckdb_engine import DuckDBEngine

    df, req = frame(task, 3000, seed=5, ties=ties)
    eng = DuckDBEngine()
    try:
        eng.compare(TableSource.of_frame(df), req)
        assert eng.prepared is not None
        got = curves_sql(eng, eng.prepared)
    finally:
        eng.close()

    def scores(cols: tuple[str, ...] | None) -> np.ndarray | None:
        if cols is None:
            return None
        return np.asarray(df[list(cols)] if task == "multiclass" else df[cols[0]], dtype=np.float64)

    classes = list(req.classes) if req.classes is not None else (
        sorted(pd.unique(df[req.label]).tolist()) if task == "multiclass" else None)
    want = curve_data(task, df[req.label].to_numpy(), scores(req.candidate), scores(req.baseline), classes)
    if task == "regression":
        assert got == {}  # the residual sample needs a row order a table does not have
        return
    assert set(got) == {"candidate", "baseline"}
    assert got == want


def test_cli_duckdb_report_has_the_numpy_curves(tmp_path: Path) -> None:
    """`--engine duckdb` writes the curves report.html draws (it wrote none), equal to --engine numpy's."""
    root, preds = project(tmp_path)
    preds.to_parquet(root / "scores.parquet")
    code_d, rep_d = evaluate(root, root / "scores.parquet", "--engine", "duckdb")
    code_n, rep_n = evaluate(root, root / "scores.parquet", "--engine", "numpy")
    assert code_d == code_n == 0
    curves = rep_d["models"][0]["curves"]  # type: ignore[index]
    assert curves == rep_n["models"][0]["curves"]  # type: ignore[index]
    assert len(curves["candidate"]["roc"]["fpr"]) > 50 and curves["baseline"]["confusion"]["matrix"]


