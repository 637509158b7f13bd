"""Bin edges and slice bounds read as a person writes them: 1,234,567, never 1.2e+06 (#14 item 2)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.numbers import edge


@pytest.mark.parametrize(("x", "text"), [
    (1_234_567.0, "1,234,567"), (1e6, "1,000,000"), (159_312.0, "159,312"), (160_000.0, "160,000"),
    (0.0125, "0.0125"), (12.5, "12.5"), (12.0, "12"), (-3.0, "-3"), (0.0, "0"), (-0.0, "0"),
    (1e-7, "0.0000001"), (2.5e-5, "0.000025"), (0.1 + 0.2, "0.3"), (-1234.25, "-1,234.25"),
    (1e20, "100,000,000,000,000,000,000"), (float("inf"), "inf"), (float("-inf"), "-inf"),
])
def test_edge(x: float, text: str) -> None:
    assert edge(x) == text
    assert "e+" not in edge(x) and "e-" not in edge(x)


def test_discovered_bounds_have_separators_and_no_exponent() -> None:
    """Before: quantiles 159,312 and 1,234,567 became 'income < 160000' and 'income ≥ 1.2e+06'."""
    from bot.evaluation.discovery import numeric_edges, numeric_feature

    edges = numeric_edges([159_312.0, 1_234_567.0], 0.0, 5e6)
    assert list(edges) == [160_000.0, 1_200_000.0]
    feature = numeric_feature("income", edges, np.zeros(3, dtype=np.int32))
    texts = [p.text for p in feature.predicates]
    assert "income < 160,000" in texts and "income ≥ 1,200,000" in texts
    assert "160,000 ≤ income < 1,200,000" in texts
    assert not any("e+" in t for t in texts)


def test_segment_bins_have_separators_and_their_mlflow_names_stay_as_they_were() -> None:
    """Before: bins [0, 1000, 1e6, 2.5e6] were labelled '[1000, 1e+06)' and '[1e+06, 2.5e+06]'.
    The labels are also MLflow metric names (bot.mlflow.tracking): those keep the bare digits,
    so a segment's metric history in MLflow does not break on the separators."""
    import pandas as pd

    from bot.evaluation.segments import build_partitions
    from bot.mlflow.tracking import evaluation_metrics

    frame = pd.DataFrame({"revenue": [10.0, 5_000.0, 2_000_000.0, np.nan]})
    part = build_partitions(frame, [{"column": "revenue", "bins": [0, 1000, 1e6, 2.5e6]}])[0]
    assert part.values[:3] == ["[0, 1,000)", "[1,000, 1,000,000)", "[1,000,000, 2,500,000]"]
    assert not any("e+" in v for v in part.values)
    delta = {"name": "roc_auc", "baseline": 0.8, "candidate": 0.79, "delta": -0.01}
    report = {"models": [{"name": "m", "metrics": [], "segments": [
        {"column": "tenure", "value": "[1,000, 5,000)", "rows": 300, "metrics": [delta]},
        {"column": "plan", "value": "1,2345", "rows": 200, "metrics": [delta]}]}]}
    keys = set(evaluation_metrics(report))
    assert "m/tenure/_1000_ 5000_/roc_auc/delta" in keys and "m/tenure/_1000_ 5000_/rows" in keys
    assert "m/plan/1_2345/rows" in keys  # not a thousands separator: kept (as '_')
