"""The report's `curves` on the SQL engines (issue #18): what `bot.render.plots.curve_data`
computes from the scores in memory, from GROUP BY aggregates over the engine's rows.

The numpy path already reads its curves from binned counts (no sort of the holdout): ROC and
precision-recall thresholds from `GRID` equal-width score bins, a 10-bin calibration table and
a confusion matrix. Here the same bins are SQL expressions with the same floating-point
arithmetic, so the drawn points are the numpy path's. AUC itself never comes from these bins
(`bot.evaluation.engines.sql` computes it exactly). The regression residual sample (every
k-th row in file order) has no equivalent without a row order, so SQL reports leave it out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.evaluation.engines.sql import ROWS, SqlEngine, SqlPlan, _f
from bot.render.plots import CALIBRATION_BINS, CURVE_POINTS, GRID, MAX_CLASSES
from bot.render.text import clip

__all__ = ["curves_sql"]


def _num(v: object) -> float:
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


def _points(*arrays: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 5) for v in a] for a in arrays]


def curves_sql(engine: SqlEngine, plan: SqlPlan) -> dict[str, Any]:
    """`curve_data` for the plan's rows (the engine's last comparison: `engine.prepared`)."""
    r = plan.request
    whos = [("candidate", "c")] + ([("baseline", "b")] if plan.paired else [])
    out: dict[str, Any] = {}
    if r.task == "binary":
        bounds = engine.query("SELECT COUNT(*), SUM(y), " + ", ".join(f"MIN({w}0), MAX({w}0)" for _, w in whos)
                              + f" FROM {ROWS}")[0]
        n, positives = int(_num(bounds[0])), int(_num(bounds[1]))
        for i, (role, w) in enumerate(whos):
            lo, hi = _num(bounds[2 + 2 * i]), _num(bounds[3 + 2 * i])
            out[role] = _roc_pr(engine, w, lo, hi, n, positives)
            out[role]["calibration"] = _calibration(engine, f"{w}0", "y")
            out[role]["confusion"] = _confusion(engine, f"CASE WHEN {w}0 >= 0.5 THEN 1 ELSE 0 END", ["0", "1"])
    elif r.task == "multiclass" and plan.classes is not None and len(plan.classes) <= MAX_CLASSES:
        for role, w in whos:
            top = plan._pred(w)
            best = f"GREATEST({', '.join(f'{w}{i}' for i in range(plan.k))})"
            out[role] = {"calibration": _calibration(engine, best, f"CASE WHEN {top} = y THEN 1 ELSE 0 END"),
                         "confusion": _confusion(engine, top, [clip(str(c), 40) for c in plan.classes])}
    return out


def _roc_pr(engine: SqlEngine, w: str, lo: float, hi: float, n: int, positives: int) -> dict[str, Any]:
    """`plots._roc_pr` from the counts per score bin (0: the highest scores)."""
    factor = GRID / ((hi - lo) or 1.0)
    expr = f"LEAST(CAST(FLOOR(({_f(hi)} - {w}0) * {_f(factor)}) AS BIGINT), {GRID - 1})"
    count, tp_bin = np.zeros(GRID), np.zeros(GRID)
    for b, c, p in engine.query(f"SELECT {expr} AS bin, COUNT(*), SUM(y) FROM {ROWS} GROUP BY {expr}"):
        count[int(b)], tp_bin[int(b)] = _num(c), _num(p)  # type: ignore[call-overload]
    rows = np.cumsum(count.astype(np.int64))
    tp = np.cumsum(tp_bin)
    picks = np.unique(np.searchsorted(rows, np.linspace(0, rows[-1], CURVE_POINTS)))
    picks = picks[rows[picks] > 0]
    tp, fp = tp[picks], rows[picks] - tp[picks]
    pos, neg = max(positives, 1), max(n - positives, 1)
    fpr, tpr = _points(np.r_[0.0, fp / neg], np.r_[0.0, tp / pos])
    recall, precision = _points(tp / pos, tp / (tp + fp))
    return {"roc": {"fpr": fpr, "tpr": tpr}, "pr": {"recall": recall, "precision": precision}}


def _calibration(engine: SqlEngine, p: str, hit: str) -> dict[str, Any]:
    """`plots._calibration`: mean score and observed rate per tenth of the score."""
    expr = f"LEAST(CAST(FLOOR({p} * {CALIBRATION_BINS}) AS BIGINT), {CALIBRATION_BINS - 1})"
    rows = sorted((int(b), int(_num(c)), _num(sp), _num(sy)) for b, c, sp, sy in engine.query(  # type: ignore[call-overload]
        f"SELECT {expr}, COUNT(*), SUM({p}), SUM({hit}) FROM {ROWS} GROUP BY {expr}"))
    return {"predicted": [round(sp / c, 5) for _, c, sp, _ in rows],
            "observed": [round(sy / c, 5) for _, c, _, sy in rows], "count": [c for _, c, _, _ in rows]}


def _confusion(engine: SqlEngine, pred: str, labels: list[str]) -> dict[str, Any]:
    k = len(labels)
    matrix = [[0] * k for _ in range(k)]
    for y, p, c in engine.query(f"SELECT y, {pred} AS p, COUNT(*) FROM {ROWS} GROUP BY y, {pred}"):
        matrix[int(y)][int(p)] = int(_num(c))  # type: ignore[call-overload]
    return {"labels": labels, "matrix": matrix}
