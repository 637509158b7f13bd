"""The numpy engine behind the engine interface: loads the rows into memory, then `compare_models`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bot.evaluation import ComparisonResult, EvaluationError, compare_models
from bot.evaluation.engines import Progress, Request, TableSource


def load(source: TableSource) -> pd.DataFrame:
    if source.frame is not None:
        return source.frame
    try:
        return pd.concat([pd.read_parquet(p) for p in source.parquet], ignore_index=True)
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"cannot read {source.name}: {str(exc).splitlines()[0][:200]}") from None


def join_by_key(holdout: pd.DataFrame, predictions: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """The holdout with the predictions' `columns` joined by `key`: each key exactly once in each table."""
    for frame, what in ((holdout, "holdout"), (predictions, "predictions")):
        if key not in frame.columns:
            raise EvaluationError(f"the {what} has no id column {key!r}; columns: "
                                  f"{', '.join(map(str, frame.columns[:30]))}")
        nulls = int(frame[key].isna().sum())
        if nulls:
            raise EvaluationError(f"the {what} has {nulls} row(s) without an id ({key!r} is empty); "
                                  "every row needs its key")
        dup = int(frame[key].duplicated().sum())
        if dup:
            raise EvaluationError(f"the {what} has {dup} duplicate id(s) in {key!r}; each key must appear once")
    missing = [c for c in columns if c not in predictions.columns]
    if missing:
        raise EvaluationError(f"score column {missing[0]!r} is not in the predictions; columns: "
                              f"{', '.join(map(str, predictions.columns[:30]))}")
    for left, right, what in ((holdout, predictions, "holdout rows have no prediction"),
                              (predictions, holdout, "predictions have no holdout row")):
        absent = ~left[key].isin(right[key])
        if absent.any():
            shown = ", ".join(repr(v) for v in left[key][absent].head(3).tolist())
            raise EvaluationError(f"{int(absent.sum())} {what} with the same {key!r} (e.g. {shown}); "
                                  "score exactly the holdout's rows")
    scores = predictions.set_index(key)[columns].reindex(holdout[key].to_numpy())
    out = holdout.drop(columns=[c for c in columns if c in holdout.columns]).reset_index(drop=True)
    for c in columns:
        out[c] = scores[c].to_numpy()
    return out


class NumpyEngine:
    name = "numpy"

    def close(self) -> None:
        """Nothing to release."""

    def compare(self, holdout: TableSource, request: Request,
                progress: Progress | None = None) -> ComparisonResult:
        r = request
        frame = load(holdout)
        cols = [*r.candidate, *(r.baseline or ())]
        if r.predictions is not None:
            if r.key is None:
                raise EvaluationError("scores in a separate table are joined by key: set `id` (the id column)")
            frame = join_by_key(frame, load(r.predictions), r.key, cols)
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise EvaluationError(f"score column {missing[0]!r} is not in the holdout; columns: "
                                  f"{', '.join(map(str, frame.columns[:30]))}")

        def scores(names: tuple[str, ...]) -> np.ndarray:
            try:
                out: np.ndarray = frame[list(names)].to_numpy(dtype=np.float64) if r.task == "multiclass" \
                    else frame[names[0]].to_numpy(dtype=np.float64)
                return out
            except (TypeError, ValueError):
                raise EvaluationError(f"score column {names[0]!r} is not numeric") from None

        return compare_models(
            frame, task=r.task, label=r.label, candidate=scores(r.candidate),
            baseline=scores(r.baseline) if r.baseline is not None else None, metrics=list(r.metrics),
            segments=list(r.segments), confidence=r.confidence, resamples=r.resamples, seed=r.seed,
            classes=list(r.classes) if r.classes is not None else None, progress=progress is not None)
