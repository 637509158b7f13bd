"""An undefined gating metric never passes: it is inconclusive, fails the gate with the reason,
and needs a reviewer (issue #11, attack 5). Reports come from the real evaluation engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bot.config import parse_config
from bot.evaluation import compare_models
from bot.gate import decide

CFG = parse_config(
    """
version: 1
models:
  - name: m
    task: binary
    holdout: h.parquet
    label: y
    segments: [region]
    metrics:
      roc_auc: {max_drop: 0.005}
      f1: {max_drop: 0.01}
      accuracy: {informational: true}
    segment_policy: {min_rows: 200, max_drop: 0.02, fdr: 0.05}
"""
)


def _report(frame: pd.DataFrame, candidate: np.ndarray, baseline: np.ndarray | None,
            segments: list[str]) -> dict[str, Any]:
    result = compare_models(frame, task="binary", label="y", candidate=candidate, baseline=baseline,
                            metrics=["roc_auc", "f1", "accuracy"], segments=segments, resamples=200, seed=0)
    model = {"name": "m", "task": "binary", "baseline": None if baseline is None else {"uri": "models:/m/1"},
             **result.to_report()}
    return {"models": [model], "data": {"checks": [], "drift": [], "changes": []}}


def test_all_negative_holdout_with_a_candidate_wrong_on_every_row_does_not_pass() -> None:
    n = 1000
    frame = pd.DataFrame({"y": np.zeros(n, dtype=int), "region": ["EU"] * n})
    report = _report(frame, np.full(n, 0.9), np.full(n, 0.1), segments=[])
    d = decide(report, CFG)
    assert d.outcome == "fail"
    verdicts = {m.name: m.verdict for m in d.models[0].metrics}
    assert verdicts["roc_auc"] == verdicts["f1"] == "inconclusive"
    assert any("roc_auc is undefined" in r for r in d.reasons) and any("f1 is undefined" in r for r in d.reasons)
    assert not d.regressed  # not a measured regression: the label says regression only when one is
    # a reviewer must approve, whatever `required_when` says
    assert d.review_required([]) and d.undefined


def test_a_gated_segment_without_positives_where_accuracy_collapses_does_not_pass() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    region = np.array(["EU"] * 1800 + ["LATAM"] * 200)
    y = rng.integers(0, 2, n)
    y[region == "LATAM"] = 0
    baseline = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.3, n), 0, 1)
    candidate = baseline.copy()
    candidate[region == "LATAM"] = 0.95  # every LATAM row now wrong: accuracy 0.855 -> 0
    report = _report(pd.DataFrame({"y": y, "region": region}), candidate, baseline, segments=["region"])
    latam = next(s for s in report["models"][0]["segments"] if s["value"] == "LATAM")
    accuracy = next(m for m in latam["metrics"] if m["name"] == "accuracy")
    assert accuracy["candidate"] == 0.0 and accuracy["baseline"] > 0.8
    d = decide(report, CFG)
    assert d.outcome == "fail"
    assert any("region=LATAM (200 rows)" in r and "undefined" in r for r in d.reasons), d.reasons
    assert d.review_required(["regression"])


def test_no_baseline_yet_is_not_undefined() -> None:
    """The first model has nothing to compare with: that is not an undefined metric."""
    rng = np.random.default_rng(1)
    n = 500
    y = rng.integers(0, 2, n)
    frame = pd.DataFrame({"y": y, "region": ["EU"] * n})
    d = decide(_report(frame, np.clip(y * 0.7 + 0.15, 0, 1), None, segments=[]), CFG)
    assert d.outcome == "pass" and not d.undefined


def test_segments_too_small_to_gate_stay_informational() -> None:
    rng = np.random.default_rng(2)
    n = 1100
    region = np.array(["EU"] * 1000 + ["MEA"] * 100)
    y = rng.integers(0, 2, n)
    y[region == "MEA"] = 0
    scores = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.1, n), 0, 1)
    d = decide(_report(pd.DataFrame({"y": y, "region": region}), scores, scores, segments=["region"]), CFG)
    assert d.outcome == "pass" and not d.undefined  # MEA has 100 rows < min_rows: reported, never gated
