"""The gate's verdict rules, its one error budget across metrics and segments, and the review trigger."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import parse_config
from bot.gate import decide, drop_p_value, error_budget, metric_verdict

CFG = parse_config(
    """
version: 1
models:
  - name: m
    task: binary
    holdout: h.parquet
    label: y
    metrics:
      roc_auc: {max_drop: 0.01}
      log_loss: {max_drop: 0.02}
      accuracy: {informational: true}
    segment_policy: {min_rows: 100, max_drop: 0.02, fdr: 0.05}
"""
)


def comp(name: str, delta: float, lo: float, hi: float, se: float = 0.01, hib: bool = True, rows: int = 1000) -> dict[str, Any]:
    return {
        "name": name, "higher_is_better": hib, "baseline": 0.8, "candidate": 0.8 + delta,
        "delta": delta, "ci_low": lo, "ci_high": hi, "se": se, "p_value": 0.5, "rows": rows,
    }


@pytest.mark.parametrize(
    ("delta", "lo", "hi", "max_drop", "expected"),
    [
        (-0.05, -0.07, -0.03, 0.01, "regressed"),   # whole interval below -max_drop
        (0.03, 0.01, 0.05, 0.01, "improved"),      # whole interval above 0
        (0.0, -0.005, 0.005, 0.01, "unchanged"),   # inside the tolerance
        (-0.01, -0.03, 0.01, 0.01, "inconclusive"),  # straddles -max_drop
        (-0.011, -0.02, -0.0101, 0.01, "regressed"),
        (-0.01, -0.01, -0.005, 0.01, "unchanged"),  # boundary: lo == -max_drop is tolerated
    ],
)
def test_metric_verdict_rule(delta: float, lo: float, hi: float, max_drop: float, expected: str) -> None:
    assert metric_verdict(comp("roc_auc", delta, lo, hi), max_drop) == expected


def test_lower_is_better_metrics_flip_direction() -> None:
    # log_loss went UP by 0.05 (worse): the interval of the improvement is [-0.07, -0.03]
    assert metric_verdict(comp("log_loss", 0.05, 0.03, 0.07, hib=False), 0.02) == "regressed"
    assert metric_verdict(comp("log_loss", -0.05, -0.07, -0.03, hib=False), 0.02) == "improved"


def test_missing_interval_is_not_applicable() -> None:
    c = comp("roc_auc", 0.0, 0.0, 0.0)
    c["ci_low"] = None
    assert metric_verdict(c, 0.01) == "n/a"
    assert metric_verdict(c, 0.01, informational=True) == "informational"


def test_drop_p_value_is_one_sided_and_monotone() -> None:
    worse = drop_p_value(comp("roc_auc", -0.06, 0, 0, se=0.01), 0.02)
    noise = drop_p_value(comp("roc_auc", -0.01, 0, 0, se=0.01), 0.02)
    better = drop_p_value(comp("roc_auc", 0.02, 0, 0, se=0.01), 0.02)
    assert worse is not None and noise is not None and better is not None
    assert worse < 0.001 < noise < better
    assert worse == pytest.approx(3.167e-5, rel=1e-3)  # Phi(-4)


def test_error_budget_is_bonferroni_at_max_drop_zero() -> None:
    from scipy.stats import norm

    b = error_budget(0.05, [0.0, 0.0, 0.0, 0.0])
    assert b.critical == pytest.approx(float(norm.ppf(1 - 0.05 / 4)), abs=1e-9)


def _report(metrics: list[dict[str, Any]], segments: list[dict[str, Any]], checks: list[dict[str, Any]] | None = None, changes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "models": [{"name": "m", "metrics": metrics, "segments": segments}],
        "data": {"checks": checks or [], "drift": [], "changes": changes or []},
    }


OK_METRICS = [comp("roc_auc", 0.0, -0.005, 0.005), comp("log_loss", 0.0, -0.01, 0.01, hib=False)]


def test_passing_report() -> None:
    d = decide(_report(OK_METRICS, []), CFG)
    assert d.outcome == "pass" and not d.regressed and d.reasons == []
    assert not d.review_required(["regression", "data_change"])
    assert d.review_required(["always"])


def test_overall_regression_fails_with_reason() -> None:
    metrics = [comp("roc_auc", -0.05, -0.07, -0.03), OK_METRICS[1]]
    d = decide(_report(metrics, []), CFG)
    assert d.outcome == "fail"
    assert d.reasons and "roc_auc dropped by more than 0.01" in d.reasons[0]
    assert d.review_required(["regression"])


def test_segment_regression_is_flagged_within_the_budget_and_small_segments_never_gate() -> None:
    segs = [
        {"column": "region", "value": "APAC", "rows": 2000, "metrics": [comp("roc_auc", -0.08, -0.1, -0.06, se=0.01)]},
        {"column": "region", "value": "EU", "rows": 2000, "metrics": [comp("roc_auc", 0.0, -0.02, 0.02, se=0.01)]},
        {"column": "region", "value": "tiny", "rows": 50, "metrics": [comp("roc_auc", -0.3, -0.5, -0.1, se=0.1)]},
        # informational metric: never gates
        {"column": "plan", "value": "pro", "rows": 2000, "metrics": [comp("accuracy", -0.2, -0.25, -0.15)]},
    ]
    d = decide(_report(OK_METRICS, segs), CFG)
    assert d.outcome == "fail"
    (md,) = d.models
    flagged = [f for f in md.segments if f.regressed]
    assert [(f.column, f.value) for f in flagged] == [("region", "APAC")]
    assert md.segments[0].value == "APAC"  # regressions sorted first
    tiny = next(f for f in md.segments if f.value == "tiny")
    assert not tiny.gated and tiny.q_value is None and not tiny.regressed
    assert all(f.metric != "accuracy" for f in md.segments)


def test_many_noisy_segments_do_not_raise_false_alarms() -> None:
    # 40 segments whose drops are each "p ~ 0.03" alone: one budget across 40 must not flag them
    segs = [
        {"column": "s", "value": str(i), "rows": 500, "metrics": [comp("roc_auc", -0.0764, -0.14, -0.02, se=0.03)]}
        for i in range(40)
    ]
    single = drop_p_value(segs[0]["metrics"][0], 0.02)
    assert single is not None and 0.02 < single < 0.05
    d = decide(_report(OK_METRICS, segs), CFG)
    assert d.outcome == "pass" and not any(f.regressed for f in d.models[0].segments)
    # all share the same statistic (t = -1.88): crossing z = 2.35 would need 0.05 / 40 per test at
    # equal quality, where a drop of max_drop is only 0.67 se away from 0
    qs = {f.q_value for f in d.models[0].segments}
    assert len(qs) == 1 and 0.05 < qs.pop() < 1


def test_failed_data_check_fails_and_data_change_requires_review() -> None:
    checks = [{"check": "isin", "passed": False, "failures": 3}, {"check": "dtype", "passed": True, "failures": 0}]
    changes = [{"path": "data/train.parquet", "status": "modified"}]
    d = decide(_report(OK_METRICS, [], checks, changes), CFG)
    assert d.outcome == "fail" and d.data_failures == 1
    assert d.data_changed and d.review_required(["data_change"])


def test_model_missing_from_report_fails() -> None:
    rep = {"models": [], "data": {"checks": [], "drift": [], "changes": []}}
    d = decide(rep, CFG)
    assert d.outcome == "fail" and "missing from the report" in d.reasons[0]


def test_missing_gating_metric_is_a_reason() -> None:
    d = decide(_report([OK_METRICS[0]], []), CFG)
    assert any("log_loss is missing" in r for r in d.reasons)


def test_budget_and_normal_cdf_equal_scipys() -> None:
    """The gate avoids importing scipy.stats at run time; its formulas must stay scipy's."""
    import numpy as np
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    for _ in range(50):
        r = list(rng.random(int(rng.integers(1, 40))) * 3)
        b = error_budget(0.05, r)
        spent = float(norm.sf(b.critical + np.array(r)).sum())
        assert spent <= 0.05 + 1e-9 and (spent == pytest.approx(0.05) or b.critical == b.floor)
    c = comp("roc_auc", -0.03, 0, 0, se=0.011)
    assert drop_p_value(c, 0.02) == pytest.approx(float(norm.cdf((-0.03 + 0.02) / 0.011)))
    assert error_budget(0.05, []).critical == pytest.approx(float(norm.ppf(0.95)))
    far = comp("roc_auc", -0.2, 0, 0, se=0.01)  # z = -18: the tail must not round to zero
    assert drop_p_value(far, 0.02) == pytest.approx(float(norm.cdf(-18.0)), rel=1e-9)
