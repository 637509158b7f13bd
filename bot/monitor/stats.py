"""Intervals for live traffic with the gate's own estimators (bot/evaluation/paired.py).

Shadow traffic (both models scored the same requests) is paired, exactly as at PR time.
A split (each request answered by one model) and live-versus-evaluation-time figures have
one model per row: there the same influence functions give each model's own standard
error, and the two are combined as independent samples.
"""

from __future__ import annotations

import math

import numpy as np

from bot.evaluation import metrics as M
from bot.evaluation.paired import (
    Groups,
    Scored,
    Stat,
    _count_values,
    _gradients,
    _ranked,
    _var_of_sum,
    compare_partition,
    make_stat,
    z_quantile,
)

SUPPORTED_TASKS = ("binary", "regression")


def one_model(task: str, y: np.ndarray, scores: np.ndarray, groups: Groups, names: list[str],
              scored: Scored | None = None) -> dict[str, list[tuple[float | None, float | None]]]:
    """(value, standard error) of every metric in every group, for one model's rows. Pass the
    same `scored` for several partitions of the same rows: the score sort is then done once."""
    s = scored if scored is not None else Scored(task, y, scores, None)
    specs = M.SPECS[task]
    n = groups.sizes
    out: dict[str, list[tuple[float | None, float | None]]] = {}

    def put(m: str, value: np.ndarray, var: np.ndarray) -> None:
        out[m] = [(_num(value[g]), math.sqrt(var[g]) if np.isfinite(var[g]) and var[g] >= 0 else None)
                  for g in range(groups.count)]

    count = [m for m in names if specs[m].kind == "count"]
    if count:
        pred = s.pred("candidate")
        cell = groups.codes * 4 + y * 2 + pred
        conf = np.bincount(cell, minlength=groups.count * 4).reshape(groups.count, 2, 2).astype(np.float64)
        vals, grads = _count_values(task, conf), _gradients(task, conf, count)
        positives = groups.sum(s.y_float)
        predicted = groups.sum(pred.astype(np.float64))
        for m in count:
            value = vals[m].astype(np.float64).copy()
            if m in ("recall", "f1"):
                value[positives == 0] = np.nan  # undefined without a positive label, as in the gate
            if m == "precision":
                value[predicted == 0] = np.nan
            put(m, value, _var_of_sum(groups, grads[m][groups.codes, y, pred], n))
    want_auc, want_ap = "roc_auc" in names, "average_precision" in names
    if want_auc or want_ap:
        r = _ranked(s, "candidate", groups, want_auc, want_ap)
        if want_auc:
            two = Groups(groups.codes * 2 + y.astype(np.int64), 2 * groups.count, [])
            cnt = two.sizes.reshape(groups.count, 2).astype(np.float64)
            placement = np.nan_to_num(r.placement)
            _, ss = two.centered_ss(placement)
            with np.errstate(invalid="ignore", divide="ignore"):
                var = (ss.reshape(groups.count, 2) / (cnt - 1) / cnt).sum(axis=1)
            var[(cnt < 2).any(axis=1)] = np.nan
            put("roc_auc", r.auc, var)
        if want_ap:
            put("average_precision", r.ap, _var_of_sum(groups, np.nan_to_num(r.ap_infl), n))
    for m in names:
        if m in ("log_loss", "brier", "mae"):
            loss = s.loss(m, "candidate")
            with np.errstate(invalid="ignore", divide="ignore"):
                mean, ss = groups.centered_ss(loss, n)
                put(m, mean, np.where(n > 1, ss / (n - 1) / n, np.nan))
        elif m in ("rmse", "r2"):
            put(m, *_regression(y.astype(np.float64), scores, groups, m))
    return out


def _regression(y: np.ndarray, pred: np.ndarray, groups: Groups, metric: str) -> tuple[np.ndarray, np.ndarray]:
    n = groups.sizes.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        e2 = (y - pred) ** 2
        mse = groups.sum(e2) / n
        if metric == "rmse":
            value = np.sqrt(mse)
            infl = (e2 - groups.take(mse)) / (2 * groups.take(value) * groups.take(n))
            return value, _var_of_sum(groups, infl, n)
        _, sst = groups.centered_ss(y)
        var_y = sst / n
        ybar = groups.sum(y) / n
        dev2 = (y - groups.take(ybar)) ** 2
        value = 1 - mse / var_y
        v = groups.take(var_y)
        infl = -((e2 - groups.take(mse)) * v - groups.take(mse) * (dev2 - v)) / (v * v * groups.take(n))
        var = _var_of_sum(groups, infl, n)
        var[var_y <= 0] = np.nan
        return value, var


def _num(v: object) -> float | None:
    f = float(v)  # type: ignore[arg-type]
    return None if math.isnan(f) or math.isinf(f) else f


def against_figure(name: str, figure: float | None, live: tuple[float | None, float | None], rows: int,
                   confidence: float) -> Stat:
    """Live value against a fixed evaluation-time figure: delta = live - figure, CI from live's se."""
    hib = _hib(name)
    value, se = live
    return make_stat(name, hib, figure, value, rows, "live-vs-evaluation", se=se, z=z_quantile(confidence))


def two_sample(name: str, champion: tuple[float | None, float | None],
               challenger: tuple[float | None, float | None], rows: int, confidence: float) -> Stat:
    """Challenger minus champion on disjoint rows (a traffic split): independent standard errors."""
    se = None
    if champion[1] is not None and challenger[1] is not None:
        se = math.sqrt(champion[1] ** 2 + challenger[1] ** 2)
    return make_stat(name, _hib(name), champion[0], challenger[0], rows, "two-sample", se=se,
                     z=z_quantile(confidence))


def paired(task: str, y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, groups: Groups,
           names: list[str], confidence: float) -> list[list[Stat]]:
    """Challenger against champion on the same requests (shadow traffic): the gate's paired test."""
    return compare_partition(Scored(task, y, challenger, champion), groups, names, confidence)


def _hib(name: str) -> bool:
    for specs in M.SPECS.values():
        if name in specs:
            return specs[name].higher_is_better
    raise KeyError(name)
