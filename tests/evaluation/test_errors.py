"""Bad input: each error names the cause (rows, model, column) and the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.evaluation import EvaluationError, compare_models
from tests.evaluation.helpers import binary_holdout

Case = Callable[[pd.DataFrame, np.ndarray, np.ndarray], tuple[pd.DataFrame, Any, Any]]


def _nan_rows(s: np.ndarray, rows: list[int], value: float = np.nan) -> np.ndarray:
    s = s.copy()
    s[rows] = value
    return s


@pytest.mark.parametrize(
    ("case", "needles"),
    [
        (lambda f, c, b: (f.iloc[:0], c[:0], b[:0]), ["no rows"]),
        (lambda f, c, b: (f.drop(columns="y"), c, b), ["label column 'y' is not in the holdout", "region"]),
        (lambda f, c, b: (f.assign(y=f["y"].map({0: "no", 1: "yes"})), c, b),
         ["['no', 'yes']", "labels 0/1", "map the positive class to 1"]),
        (lambda f, c, b: (f.assign(y=f["y"] + 1), c, b), ["['1', '2']", "labels 0/1"]),
        (lambda f, c, b: (f.assign(y=f["y"].astype(float).where(f.index > 1)), c, b),
         ["2 missing value(s)", "drop or fill"]),
        (lambda f, c, b: (f, _nan_rows(c, [3, 7, 9]), b), ["candidate scores are NaN or infinite on 3 row(s)",
                                                           "first at row 3, 7, 9", "fix the candidate model"]),
        (lambda f, c, b: (f, c, _nan_rows(b, [5], np.inf)), ["baseline scores are NaN or infinite on 1 row(s)"]),
        (lambda f, c, b: (f, c * 5, b), ["candidate scores must be probabilities in [0, 1]", "not logits"]),
        (lambda f, c, b: (f, c, b - 0.5), ["baseline scores must be probabilities"]),
        (lambda f, c, b: (f, c[:-1], b), ["candidate has 99 scores for 100 holdout rows", "row-aligned"]),
        (lambda f, c, b: (f, c, np.c_[b, b]), ["baseline scores have shape (100, 2)", "one score per row"]),
        (lambda f, c, b: (f, ["x"] * len(c), b), ["candidate scores are not numeric"]),
    ],
)
def test_binary_bad_input(case: Case, needles: list[str]) -> None:
    frame, c, b = binary_holdout(100, 0)
    frame, c, b = case(frame, c, b)
    with pytest.raises(EvaluationError) as info:
        compare_models(frame, task="binary", label="y", candidate=c, baseline=b, metrics=["f1"], segments=[],
                       resamples=10)
    for needle in needles:
        assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


def test_multiclass_bad_input() -> None:
    frame = pd.DataFrame({"y": ["a", "b", "c"]})
    p2 = np.full((3, 2), 0.5)
    p3 = np.full((3, 3), 1 / 3)

    def run(p: np.ndarray, classes: list[str] | None = None) -> str:
        with pytest.raises(EvaluationError) as info:
            compare_models(frame, task="multiclass", label="y", candidate=p3, baseline=p, metrics=["accuracy"],
                           segments=[], classes=classes)
        return str(info.value)

    assert "classes ['c'] that the model does not know" in run(p2, ["a", "b"])
    msg = run(p2)
    assert "baseline scores have shape (3, 2)" in msg and "one probability column per class (3: a, b, c)" in msg
    assert "must sum to 1; 3 row(s) do not" in run(p3 * 0.9)


def test_config_level_mistakes() -> None:
    frame, c, b = binary_holdout(50, 0)
    kw: dict[str, Any] = dict(label="y", candidate=c, baseline=b, segments=[])
    with pytest.raises(EvaluationError, match="unknown task 'binray'; use binary, multiclass or regression"):
        compare_models(frame, task="binray", metrics=["f1"], **kw)
    with pytest.raises(EvaluationError, match=r"\['rmse'\] are not available for task binary; choose from"):
        compare_models(frame, task="binary", metrics=["rmse"], **kw)
    with pytest.raises(EvaluationError, match="must be numeric for a regression task"):
        compare_models(frame.assign(y=frame["region"]), task="regression", metrics=["rmse"], **kw)
