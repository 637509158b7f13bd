"""Segments: categorical values, bins, missing, out of range, crosses, and a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bot.config import BinnedSegment, CrossSegment
from bot.evaluation import EvaluationError, compare_models
from bot.evaluation.segments import MISSING, OUT_OF_RANGE, build_partitions


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "y": [0, 1] * 6,
        "plan": ["a", "b", None, "a", "b", "a", "a", "b", "b", None, "a", "b"],
        "tenure": [1, 5, 6, 30, 60, 70, np.nan, 2, 3, 4, 5, 6],
        "code": [3, 10, 3, 3, 10, 2, 2, 2, 3, 10, 3, 2],
    })


def _report(frame: pd.DataFrame, segments: list) -> list[tuple[str, str, int]]:  # type: ignore[type-arg]
    s = np.linspace(0.1, 0.9, len(frame))
    rep = compare_models(frame, task="binary", label="y", candidate=s, baseline=s[::-1], metrics=["accuracy"],
                         segments=segments, resamples=10).to_report()
    return [(x["column"], x["value"], x["rows"]) for x in rep["segments"]]


def test_categorical_bins_missing_out_of_range_and_crosses() -> None:
    got = _report(_frame(), ["plan", BinnedSegment(column="tenure", bins=[0, 6, 60]),
                             CrossSegment(cross=["plan", "tenure"])])
    assert [(v, r) for c, v, r in got if c == "plan"] == [("a", 5), ("b", 5), (MISSING, 2)]
    assert [(v, r) for c, v, r in got if c == "tenure"] == [
        ("[0, 6)", 6), ("[6, 60]", 4), (OUT_OF_RANGE, 1), (MISSING, 1)]
    # a crossed column that is configured with bins is crossed by its bins
    cross = {v: r for c, v, r in got if c == "plan × tenure"}
    assert cross["a × [0, 6)"] == 2 and cross["(missing) × [0, 6)"] == 1 and cross["a × (missing)"] == 1
    assert sum(cross.values()) == 12


def test_every_spec_partitions_all_rows() -> None:
    frame = _frame()
    parts = build_partitions(frame, ["plan", "code", {"column": "tenure", "bins": [0, 10, 100]},
                                     {"cross": ["plan", "code"]}])
    for p in parts:
        assert p.sizes.sum() == len(frame) and (p.sizes > 0).all() and len(p.codes) == len(frame)
    (code,) = build_partitions(frame, ["code"])
    assert [(v, np.flatnonzero(code.codes == i).tolist()) for i, v in enumerate(code.values)] == [
        ("10", [1, 4, 9]), ("2", [5, 6, 7, 11]), ("3", [0, 2, 3, 8, 10])]


def test_numeric_categories_and_mixed_types_print_as_text() -> None:
    frame = pd.DataFrame({"y": [0, 1, 0, 1], "k": [1, "1", 2.5, None]})
    assert _report(frame, ["k"]) == [("k", "1", 2), ("k", "2.5", 1), ("k", MISSING, 1)]


def test_last_bin_is_closed_and_edges_are_exact() -> None:
    frame = pd.DataFrame({"y": [0, 1, 0, 1, 0], "t": [0, 24, 59.999, 60, 60.001]})
    got = _report(frame, [BinnedSegment(column="t", bins=[0, 24, 60])])
    assert got == [("t", "[0, 24)", 1), ("t", "[24, 60]", 3), ("t", OUT_OF_RANGE, 1)]


def test_unknown_segment_column_names_it_and_the_available_ones() -> None:
    frame = _frame()
    for spec in ["regoin", BinnedSegment(column="regoin", bins=[0, 1]), CrossSegment(cross=["plan", "regoin"])]:
        with pytest.raises(EvaluationError) as info:
            _report(frame, [spec])
        msg = str(info.value)
        assert "segment column 'regoin' is not in the holdout" in msg
        assert "available columns: y, plan, tenure, code" in msg


def test_bins_on_a_text_column_say_how_to_fix() -> None:
    with pytest.raises(EvaluationError, match="has bins but is not numeric.*remove `bins`"):
        _report(_frame(), [BinnedSegment(column="plan", bins=[0, 1])])
