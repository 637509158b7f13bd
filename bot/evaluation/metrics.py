"""Point metrics, computed from sufficient statistics so the paired statistics can reuse them.

Every function equals scikit-learn's to 1e-9 (tests compare), but works on arrays or on
counts without sklearn's per-call validation, which dominates at 20 segments x 8 metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    task: str
    higher_is_better: bool
    kind: str  # "count" (from a confusion table), "mean" (mean of a per-row loss), "rank", "ratio"


SPECS: dict[str, dict[str, MetricSpec]] = {
    "binary": {
        "accuracy": MetricSpec("accuracy", "binary", True, "count"),
        "precision": MetricSpec("precision", "binary", True, "count"),
        "recall": MetricSpec("recall", "binary", True, "count"),
        "f1": MetricSpec("f1", "binary", True, "count"),
        "roc_auc": MetricSpec("roc_auc", "binary", True, "rank"),
        "average_precision": MetricSpec("average_precision", "binary", True, "rank"),
        "log_loss": MetricSpec("log_loss", "binary", False, "mean"),
        "brier": MetricSpec("brier", "binary", False, "mean"),
    },
    "multiclass": {
        "accuracy": MetricSpec("accuracy", "multiclass", True, "count"),
        "macro_f1": MetricSpec("macro_f1", "multiclass", True, "count"),
        "weighted_f1": MetricSpec("weighted_f1", "multiclass", True, "count"),
        "log_loss": MetricSpec("log_loss", "multiclass", False, "mean"),
    },
    "regression": {
        "rmse": MetricSpec("rmse", "regression", False, "ratio"),
        "mae": MetricSpec("mae", "regression", False, "mean"),
        "r2": MetricSpec("r2", "regression", True, "ratio"),
    },
}


# ---------------------------------------------------------------- binary, from counts


def binary_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy, precision, recall, f1 from confusion counts (arrays broadcast; zero_division=0)."""
    tp, fp, fn, tn = (np.asarray(a, dtype=np.float64) for a in (tp, fp, fn, tn))
    n = tp + fp + fn + tn
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(n > 0, (tp + tn) / n, np.nan)
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        denom = 2 * tp + fp + fn
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f1": f1}


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney with mid-ranks: equal to sklearn's trapezoids)."""
    y = np.asarray(y, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = midranks(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties averaged (scipy.stats.rankdata 'average', without the overhead)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = len(x)
    boundaries = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [n]))
    avg = (starts + ends + 1) / 2.0  # mean of 1-based positions start+1 .. end
    ranks_sorted = np.repeat(avg, ends - starts)
    out = np.empty(n, dtype=np.float64)
    out[order] = ranks_sorted
    return out


def average_precision(y: np.ndarray, score: np.ndarray) -> float | None:
    """sklearn's average_precision_score: sum over thresholds of (R_k - R_{k-1}) * P_k."""
    y = np.asarray(y, dtype=np.float64)
    n_pos = y.sum()
    if n_pos == 0:
        return None
    order = np.argsort(-np.asarray(score), kind="mergesort")
    return average_precision_sorted(np.asarray(score)[order], y[order])


def average_precision_sorted(s: np.ndarray, ys: np.ndarray) -> float | None:
    """average_precision for scores already sorted in descending order (labels as floats)."""
    n_pos = ys.sum()
    if n_pos == 0 or len(s) == 0:
        return None
    # last index of each block of tied scores: the thresholds
    last = np.concatenate((np.flatnonzero(np.diff(s)), [len(s) - 1]))
    tps = np.cumsum(ys)[last]
    fps = (last + 1) - tps
    precision = tps / (tps + fps)
    recall = tps / n_pos
    prev_recall = np.concatenate(([0.0], recall[:-1]))
    return float(np.sum((recall - prev_recall) * precision))


def binary_log_loss_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row log loss as sklearn computes it: -log of the true class's probability, clipped
    to [eps, 1-eps] (one log per row instead of two)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.where(np.asarray(y) > 0, p, 1 - p)
    return -np.log(np.clip(q, EPS, 1 - EPS, out=q), out=q)


def brier_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return (np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2


# ---------------------------------------------------------------- multiclass


def multiclass_from_confusion(conf: np.ndarray) -> dict[str, np.ndarray]:
    """accuracy, macro_f1, weighted_f1 from confusion matrices [..., true, pred] (zero_division=0)."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    support = conf.sum(axis=-1)  # true counts
    predicted = conf.sum(axis=-2)
    n = support.sum(axis=-1)
    denom = support + predicted
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(denom > 0, 2 * tp / np.where(denom > 0, denom, 1), 0.0)
        accuracy = np.where(n > 0, tp.sum(axis=-1) / np.where(n > 0, n, 1), np.nan)
        # sklearn's macro average is over the labels present in y_true or y_pred
        present = denom > 0
        macro = np.where(present.sum(axis=-1) > 0, (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1), 0.0)
        weighted = np.where(n > 0, (f1 * support).sum(axis=-1) / np.where(n > 0, n, 1), 0.0)
    return {"accuracy": accuracy, "macro_f1": macro, "weighted_f1": weighted}


def multiclass_log_loss_rows(y_idx: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-row log loss: the true class's probability clipped to [eps, 1-eps], as sklearn 1.9 does."""
    proba = np.asarray(proba, dtype=np.float64)
    p = np.clip(proba[np.arange(len(y_idx)), y_idx], EPS, 1 - EPS)
    return np.asarray(-np.log(p), dtype=np.float64)


# ---------------------------------------------------------------- regression


def r2_from_sums(sse: float, sst: float) -> float | None:
    """sklearn's r2_score with force_finite=True: 1.0 for a perfect fit of constant y, else 0.0."""
    if sst == 0:
        return 1.0 if sse == 0 else 0.0
    return 1.0 - sse / sst
