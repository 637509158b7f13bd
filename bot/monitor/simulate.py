"""Seeded prediction logs for tests, benchmarks and the docs: a churn model's traffic.

Each request has four features; the true churn probability is a logistic function of them.
A model's score is that logit plus Gaussian noise (`noise`: more noise, a worse model), so
its evaluation-time figures are known (`expected_auc`). `shift` drifts the inputs (longer
tenure, more APAC traffic), `worse` adds noise to the challenger. Files are written as
Hive date partitions, `date=YYYY-MM-DD/part-0.parquet`, one row per prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

REGIONS = np.array(["NA", "EU", "APAC", "LATAM"])
PLANS = np.array(["basic", "pro", "enterprise"])
FEATURES = ["tenure_months", "monthly_charges", "region", "plan"]


@dataclass(frozen=True)
class Traffic:
    """What one simulated window of traffic looks like."""

    model: str = "churn-classifier"
    champion: str = "1"
    challenger: str | None = None  # a version answering (split) or shadow-scoring requests
    mode: str = "split"  # "split": each request answered by one model; "shadow": both score every request
    share: float = 0.1  # split: the challenger's share of requests
    noise: float = 0.8  # champion's score noise (logit scale)
    worse: float = 0.0  # extra noise of the challenger
    shift: float = 0.0  # input drift: 0 none, 1 strong
    labelled: float = 1.0  # share of rows whose label has arrived


def features(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    tenure = rng.gamma(2.0, 12.0 * (1 + shift), n).clip(0, 120)
    charges = rng.normal(60 + 15 * shift, 20, n).clip(5, 200)
    p_region = np.array([0.4, 0.3, 0.2, 0.1]) * (1 - shift) + np.array([0.1, 0.2, 0.6, 0.1]) * shift
    region = REGIONS[rng.choice(4, n, p=p_region)]
    plan = PLANS[rng.choice(3, n, p=[0.5, 0.35, 0.15])]
    return pd.DataFrame({"tenure_months": tenure, "monthly_charges": charges,
                         "region": pd.Categorical(region, categories=REGIONS),
                         "plan": pd.Categorical(plan, categories=PLANS)})


def _logit(f: pd.DataFrame) -> np.ndarray:
    plan = f["plan"].cat.codes.to_numpy()
    return np.asarray(0.5 - 0.06 * f["tenure_months"].to_numpy() + 0.02 * (f["monthly_charges"].to_numpy() - 60)
                      - 0.6 * plan + 0.4 * (f["region"].cat.codes.to_numpy() == 2))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def reference(seed: int = 0, rows: int = 20_000) -> pd.DataFrame:
    """The reference frame (features and label), as a holdout would hold it."""
    rng = np.random.default_rng(seed)
    f = features(rng, rows)
    f["churned"] = (rng.random(rows) < _sigmoid(_logit(f))).astype(np.int64)
    return f


def expected_auc(noise: float, seed: int = 12345, rows: int = 400_000) -> float:
    """The AUC a model with this noise has on reference traffic (the evaluation-time figure)."""
    from bot.evaluation.metrics import roc_auc

    rng = np.random.default_rng(seed)
    f = features(rng, rows)
    logit = _logit(f)
    y = (rng.random(rows) < _sigmoid(logit)).astype(np.int64)
    value = roc_auc(y, _sigmoid(logit + rng.normal(0, noise, rows)))
    assert value is not None
    return value


def window(traffic: Traffic, *, seed: int, start: datetime, days: int, rows_per_day: int) -> pd.DataFrame:
    """One row per prediction for `days` days from `start` (UTC)."""
    rng = np.random.default_rng(seed)
    n = rows_per_day * days
    f = features(rng, n, traffic.shift)
    logit = _logit(f)
    y = (rng.random(n) < _sigmoid(logit)).astype(np.float64)
    y[rng.random(n) >= traffic.labelled] = np.nan
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    offsets = np.sort(rng.integers(0, days * 86_400_000_000, n))
    ts = pd.to_datetime(int(start.timestamp() * 1_000_000) + offsets, unit="us", utc=True)
    ids = np.arange(n, dtype=np.int64) + seed * 1_000_000_000
    champion = _sigmoid(logit + rng.normal(0, traffic.noise, n))
    base = {"request_id": ids, "timestamp": ts, "model": traffic.model}
    if traffic.challenger is None:
        return pd.DataFrame({**base, "version": traffic.champion, "score": champion, **f, "churned": y})
    challenger = _sigmoid(logit + rng.normal(0, traffic.noise + traffic.worse, n))
    if traffic.mode == "shadow":
        both = [pd.DataFrame({**base, "version": v, "score": s, **f, "churned": y})
                for v, s in ((traffic.champion, champion), (traffic.challenger, challenger))]
        return pd.concat(both, ignore_index=True)
    to_challenger = rng.random(n) < traffic.share
    version = np.where(to_challenger, traffic.challenger, traffic.champion)
    score = np.where(to_challenger, challenger, champion)
    return pd.DataFrame({**base, "version": version, "score": score, **f, "churned": y})


def write_partitioned(frame: pd.DataFrame, root: str | Path) -> list[Path]:
    """Write `frame` as root/date=YYYY-MM-DD/part-<n>.parquet (one file per day; appends new parts)."""
    root = Path(root)
    written = []
    days = frame["timestamp"].dt.strftime("%Y-%m-%d")
    for day, part in frame.groupby(days, sort=True):
        folder = root / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{len(list(folder.glob('*.parquet')))}.parquet"
        pq.write_table(pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False), path)
        written.append(path)
    return written


def week_start(end: datetime, days: int = 7) -> datetime:
    return (end if end.tzinfo else end.replace(tzinfo=UTC)) - timedelta(days=days)
