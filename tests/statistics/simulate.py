"""Simulated holdouts for the gate's error-rate and power checks (tests and benchmarks).

A holdout like the one issue #13 measured on: 10,000 rows in 20 skewed segments of 50 to
2,100 rows, positive rates from 4% to 40%, and two correlated scorers. Each scorer's latent
score is `sep * y + shared + own` (shared noise is what makes the models correlated), so
the AUC is the binormal `Phi(sep / (sigma * sqrt 2))` in every segment and overall; a drop
is injected by lowering the candidate's `sep` on the chosen rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from bot.config import ModelConfig, parse_config
from bot.evaluation import compare_models
from bot.gate import ModelDecision, decide_model

SEP = 1.5
SHARED = 0.6  # sd of the noise both models share (scores correlate about 0.5 within a class)
OWN = 0.7  # sd of each model's own noise
SIGMA = float(np.hypot(SHARED, OWN))
OFFSET = 1.2  # scores are sigmoid(latent - OFFSET): a threshold of 0.5 predicts some positives


def segment_sizes(rows: int = 10_000, count: int = 20, largest: int = 2_100, smallest: int = 50) -> np.ndarray:
    """Geometrically shrinking sizes from `largest` to about `smallest`, summing to `rows`."""
    lo, hi = 0.5, 0.999
    for _ in range(60):  # the ratio whose series sums to `rows`
        x = (lo + hi) / 2
        total = (smallest + (largest - smallest) * x ** np.arange(count)).sum()
        lo, hi = (x, hi) if total < rows else (lo, x)
    sizes = np.round(smallest + (largest - smallest) * x ** np.arange(count)).astype(int)
    sizes[0] += rows - sizes.sum()
    return sizes


def auc_of(sep: float) -> float:
    return float(norm.cdf(sep / (SIGMA * np.sqrt(2))))


def sep_for_auc(auc: float) -> float:
    return float(norm.ppf(auc) * SIGMA * np.sqrt(2))


@dataclass(frozen=True)
class Holdout:
    frame: pd.DataFrame
    candidate: np.ndarray
    baseline: np.ndarray


def holdout(rng: np.random.Generator, rows: int = 10_000, segments: int = 20, auc_drop: float = 0.0,
            drop_segment: int | None = None) -> Holdout:
    """One simulated holdout. `auc_drop` lowers the candidate's AUC by that much, on every row
    (drop_segment None) or only in segment number `drop_segment` (0 is the largest)."""
    sizes = segment_sizes(rows, segments, largest=round(0.21 * rows), smallest=max(2, round(0.005 * rows)))
    seg = np.repeat(np.arange(segments), sizes)
    rates = np.linspace(0.04, 0.40, segments)[np.argsort(np.random.default_rng(7).random(segments))]
    if segments > 16:
        # the 489-row segment (6) gets 13.5% positives: there the old gate caught a 0.10 AUC drop
        # about as often as issue #13 measured on its holdout (47.5% at 13%, 63.5% at 16%)
        rates[[6, 16]] = rates[[16, 6]]
    y = (rng.random(rows) < rates[seg]).astype(np.int64)
    shared = rng.normal(0, SHARED, rows)
    sep_c = np.full(rows, SEP)
    if auc_drop:
        lowered = sep_for_auc(auc_of(SEP) - auc_drop)
        sep_c[:] = lowered if drop_segment is None else np.where(seg == drop_segment, lowered, SEP)
    cand = 1 / (1 + np.exp(-(sep_c * y + shared + rng.normal(0, OWN, rows) - OFFSET)))
    base = 1 / (1 + np.exp(-(SEP * y + shared + rng.normal(0, OWN, rows) - OFFSET)))
    frame = pd.DataFrame({"y": y, "segment": np.array([f"s{i:02d}" for i in range(segments)])[seg]})
    return Holdout(frame, cand, base)


def policy(metrics: str = "roc_auc: {max_drop: 0.005}, f1: {max_drop: 0.01}",
           segment_policy: str = "{min_rows: 200, max_drop: 0.02, fdr: 0.05}", extra: str = "") -> ModelConfig:
    """The example config's policy (docs/examples) unless told otherwise."""
    return parse_config(f"""
version: 1
models:
  - name: m
    task: binary
    holdout: h
    label: y
    segments: [segment]
    metrics: {{{metrics}}}
    segment_policy: {segment_policy}
{extra}
""").models[0]


def evaluate(h: Holdout, pol: ModelConfig) -> tuple[dict[str, Any], ModelDecision]:
    """The engine and the gate, as CI runs them, on one simulated holdout."""
    metrics = list(pol.metrics)
    result = compare_models(h.frame, task="binary", label="y", candidate=h.candidate, baseline=h.baseline,
                            metrics=metrics, segments=list(pol.segments), confidence=pol.confidence)
    rep = {"name": "m", "baseline": {"uri": "b"}, **result.to_report()}
    return rep, decide_model(rep, pol)


def fails(h: Holdout, pol: ModelConfig) -> bool:
    _, md = evaluate(h, pol)
    return md.regressed or bool(md.undefined)
