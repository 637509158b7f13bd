"""The evaluation engine: paired comparison of a candidate and a baseline on the same rows.

Pure functions over numpy and pandas; no I/O. `compare_models` validates its inputs,
splits the rows into segments and returns the report's `metrics` and `segments` lists.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bot.errors import InvalidInput

if TYPE_CHECKING:  # the engine does not need pydantic at run time (import time counts in CI)
    from bot.config import SegmentSpec

from bot.evaluation.metrics import SPECS
from bot.evaluation.paired import PARALLEL_ROWS, Groups, Scored, Stat, compare_partition
from bot.evaluation.segments import SegmentError, build_partitions

__all__ = ["ComparisonResult", "EvaluationError", "compare_models", "compare_table", "get_engine"]

PROBABILITY_SUM_TOLERANCE = 1e-3


class EvaluationError(InvalidInput):
    """Inputs the engine cannot score: the message names the cause and the fix."""


@dataclass
class ComparisonResult:
    """Overall comparisons and, per segment, `(column, value, rows, comparisons)`."""

    metrics: list[Stat]
    segments: list[tuple[str, str, int, list[Stat]]] = field(default_factory=list)

    def to_report(self) -> dict[str, Any]:
        """The report's `metrics` and `segments` lists (JSON-ready: floats or None)."""
        return {
            "metrics": [s.to_dict() for s in self.metrics],
            "segments": [
                {"column": c, "value": v, "rows": int(n), "metrics": [s.to_dict() for s in stats]}
                for c, v, n, stats in self.segments
            ],
        }


def compare_models(
    frame: pd.DataFrame,
    *,
    task: str,
    label: str,
    candidate: np.ndarray,
    baseline: np.ndarray | None,
    metrics: list[str],
    segments: list[SegmentSpec],
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
    classes: list[Any] | None = None,
    progress: bool = False,
) -> ComparisonResult:
    """Score both models overall and per segment; every comparison is paired on the same rows.

    `candidate`/`baseline` are row-aligned with `frame`: binary P(y=1), multiclass an (n, K)
    probability matrix in `classes` order, regression predictions. `baseline=None` (no
    production model yet) reports the candidate's values only. Every interval is analytic
    (docs/statistics.md), so `resamples` and `seed` are validated and recorded but change no
    number; they stay for configs and reports written before.
    """
    if task not in SPECS:
        raise EvaluationError(f"unknown task {task!r}; use binary, multiclass or regression")
    unknown = [m for m in metrics if m not in SPECS[task]]
    if unknown:
        raise EvaluationError(
            f"metrics {unknown} are not available for task {task}; "
            f"choose from {', '.join(SPECS[task])}"
        )
    if not 0 < confidence < 1:
        raise EvaluationError(f"confidence must be between 0 and 1 (got {confidence}); use e.g. 0.95")
    if resamples < 0:
        raise EvaluationError(f"resamples must be >= 0 (got {resamples})")
    n = len(frame)
    if n == 0:
        raise EvaluationError("the holdout has no rows; the evaluation needs labelled rows")
    if label not in frame.columns:
        raise EvaluationError(
            f"label column {label!r} is not in the holdout; columns: "
            f"{', '.join(map(str, frame.columns[:30]))}. Fix `label` in the config"
        )
    y, classes = _labels(frame[label], task, classes)
    cand = _scores(candidate, "candidate", task, n, classes)
    base = _scores(baseline, "baseline", task, n, classes) if baseline is not None else None
    try:
        parts = build_partitions(frame, segments)
    except SegmentError as exc:
        raise EvaluationError(str(exc)) from None

    scored = Scored(task, y, cand, base, len(classes) if classes is not None else 0)
    jobs = [Groups(np.zeros(n, dtype=np.int64), 1, [""])] + [
        Groups(p.codes, len(p.values), [f"{p.column}\x00{v}" for v in p.values]) for p in parts
    ]
    bar: Any = None
    tick = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=sum(g.count for g in jobs), desc="paired comparison", unit="segment",
                   leave=False, file=sys.stderr)
        tick = bar.update
    try:
        if n >= PARALLEL_ROWS:
            # two threads: the partitions share the sorted scores, computed once up front
            with ThreadPoolExecutor(max_workers=2) as pool:
                scored.warm(pool)
                single = len(jobs) == 1
                results = list(pool.map(
                    lambda g: compare_partition(scored, g, list(metrics), confidence, tick,
                                                parallel=single), jobs))
        else:
            results = [compare_partition(scored, g, list(metrics), confidence, tick)
                       for g in jobs]
    finally:
        if bar is not None:
            bar.close()
    seg_out = [
        (p.column, value, int(size), stats)
        for p, per_group in zip(parts, results[1:], strict=True)
        for value, size, stats in zip(p.values, p.sizes, per_group, strict=True)
    ]
    return ComparisonResult(results[0][0], seg_out)


def _labels(col: pd.Series, task: str, classes: list[Any] | None) -> tuple[np.ndarray, list[Any] | None]:
    missing = int(col.isna().sum())
    if missing:
        raise EvaluationError(
            f"label column {col.name!r} has {missing} missing value(s); drop or fill those rows in the holdout"
        )
    if task == "regression":
        try:
            y = col.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise EvaluationError(
                f"label column {col.name!r} must be numeric for a regression task (dtype {col.dtype}); "
                "convert it, or set `task` to binary or multiclass"
            ) from None
        if not np.all(np.isfinite(y)):
            raise EvaluationError(
                f"label column {col.name!r} has {int((~np.isfinite(y)).sum())} infinite value(s); "
                "drop or fix those rows in the holdout"
            )
        return y, None
    if task == "binary":
        values = set(pd.unique(col).tolist())
        if values <= {0, 1} or values <= {True, False}:
            return col.to_numpy().astype(np.int64), None
        shown = sorted(map(str, values))[:10]
        raise EvaluationError(
            f"label column {col.name!r} has values {shown}; a binary task needs labels 0/1 or true/false "
            "(map the positive class to 1)"
        )
    found = pd.unique(col).tolist()
    if classes is None:
        try:
            classes = sorted(found)
        except TypeError:
            classes = sorted(found, key=str)
    index = {c: i for i, c in enumerate(classes)}
    extra = [c for c in found if c not in index]
    if extra:
        raise EvaluationError(
            f"label column {col.name!r} has classes {sorted(map(str, extra))[:10]} that the model does not "
            f"know (known: {sorted(map(str, classes))[:20]}); score with a model trained on every class, "
            "or drop those rows from the holdout"
        )
    return col.map(index).to_numpy(dtype=np.int64), classes


def _scores(values: Any, who: str, task: str, n: int, classes: list[Any] | None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise EvaluationError(f"{who} scores are not numeric") from None
    if task == "multiclass":
        assert classes is not None
        if arr.ndim != 2 or arr.shape[1] != len(classes):
            raise EvaluationError(
                f"{who} scores have shape {arr.shape}; a multiclass task needs one probability column per "
                f"class ({len(classes)}: {', '.join(map(str, classes[:10]))})"
            )
    else:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise EvaluationError(f"{who} scores have shape {arr.shape}; expected one score per row")
    if arr.shape[0] != n:
        raise EvaluationError(f"{who} has {arr.shape[0]} scores for {n} holdout rows; they must be row-aligned")
    bad = ~np.isfinite(arr)
    if bad.any():
        bad_rows = np.flatnonzero(bad.any(axis=1) if arr.ndim == 2 else bad)
        raise EvaluationError(
            f"{who} scores are NaN or infinite on {len(bad_rows)} row(s) (first at row "
            f"{', '.join(map(str, bad_rows[:5]))}); fix the {who} model or drop those rows from the holdout"
        )
    if task != "regression" and (arr.min() < 0 or arr.max() > 1):
        outside = int(((arr < 0) | (arr > 1)).any(axis=-1).sum()) if arr.ndim == 2 else int(((arr < 0) | (arr > 1)).sum())
        raise EvaluationError(
            f"{who} scores must be probabilities in [0, 1] for a {task} task; {outside} row(s) are outside "
            f"(range {arr.min():.3g} to {arr.max():.3g}); pass predict_proba output, not logits or labels"
        )
    if task == "multiclass":
        off = np.abs(arr.sum(axis=1) - 1) > PROBABILITY_SUM_TOLERANCE
        if off.any():
            raise EvaluationError(
                f"{who} probability rows must sum to 1; {int(off.sum())} row(s) do not (first at row "
                f"{int(np.flatnonzero(off)[0])}); pass predict_proba output with one column per class"
            )
    return arr
