"""`max_drop: 5%` (a share of the baseline's value) beside absolute tolerances, loss-direction verbs,
and relative defaults for losses in the target's own units (issue #14)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config, ConfigError, parse_config
from bot.gate import decide


def _cfg(metrics: str, segment: str = "") -> Config:
    return parse_config(f"""
version: 1
models:
  - name: price
    task: regression
    holdout: h.parquet
    label: y
    metrics:
{metrics}
{segment}
""")


def _rmse(baseline: float, candidate: float, se: float) -> dict[str, Any]:
    delta = candidate - baseline
    return {"name": "rmse", "higher_is_better": False, "baseline": baseline, "candidate": candidate,
            "delta": delta, "ci_low": delta - 2 * se, "ci_high": delta + 2 * se, "se": se, "p_value": 0.5,
            "rows": 5000}


def _report(metrics: list[dict[str, Any]], segments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"models": [{"name": "price", "metrics": metrics, "segments": segments or [],
                        "baseline": {"uri": "models:/price@production"}}],
            "data": {"checks": [], "drift": [], "changes": []}}


def test_a_percentage_is_a_share_of_the_baseline_value() -> None:
    cfg = _cfg("      rmse: {max_drop: 5%}")
    pol = cfg.models[0].metrics["rmse"]
    assert pol.max_drop_relative == pytest.approx(0.05)
    assert pol.tolerance(40_000.0) == pytest.approx(2_000.0)
    # RMSE in dollars rose by 1,000 on a 40,000 baseline (2.5%): within 5%, no failure
    within = decide(_report([_rmse(40_000, 41_000, 100)]), cfg)
    assert within.outcome == "pass", within.reasons
    # rose by 4,000 (10%): beyond 5%
    beyond = decide(_report([_rmse(40_000, 44_000, 100)]), cfg)
    assert beyond.outcome == "fail"
    (reason,) = beyond.reasons
    assert "rmse rose by more than 5% (2,000)" in reason, reason
    assert "dropped" not in reason


def test_an_absolute_tolerance_on_a_loss_says_rose() -> None:
    """The old text said 'rmse dropped by more than 5000' when RMSE rose."""
    cfg = _cfg("      rmse: {max_drop: 5000}")
    d = decide(_report([_rmse(40_000, 50_000, 500)]), cfg)
    assert d.outcome == "fail"
    assert "rmse rose by more than 5,000 (40,000 → 50,000)" in d.reasons[0]


def test_the_percentage_survives_the_reports_policy() -> None:
    cfg = _cfg("      rmse: {max_drop: 5%}", "    segment_policy: {max_drop: 10%}")
    again = Config.judging_report(cfg.to_policy())
    assert again.models[0] == cfg.models[0]
    assert again.models[0].segment_policy.tolerance(200.0) == pytest.approx(20.0)


def test_segment_percentages_use_the_segments_own_baseline() -> None:
    cfg = _cfg("      rmse: {max_drop: 5%}", "    segment_policy: {min_rows: 100, max_drop: 5%}")
    seg = {"column": "city", "value": "Paris", "rows": 3000, "metrics": [_rmse(100_000, 120_000, 1000)]}
    d = decide(_report([_rmse(40_000, 40_000, 100)], [seg]), cfg)
    assert d.outcome == "fail"
    assert any("rmse on city=Paris rose by more than 5% (5,000)" in r for r in d.reasons), d.reasons


def test_regression_defaults_are_relative() -> None:
    """RMSE/MAE are in the target's units: an absolute default (0.0, or a segment's 0.02) fits no target."""
    (m,) = parse_config("version: 1\nmodels:\n  - {name: p, task: regression, holdout: h.parquet, label: y}\n").models
    assert m.metrics["rmse"].max_drop_relative == pytest.approx(0.01)
    assert m.segment_policy.max_drop_relative == pytest.approx(0.05)
    # an explicit absolute segment tolerance is kept as written
    (m2,) = parse_config("version: 1\nmodels:\n  - {name: p, task: regression, holdout: h.parquet, label: y,"
                         " segment_policy: {max_drop: 300}}\n").models
    assert m2.segment_policy.max_drop == 300 and m2.segment_policy.max_drop_relative is None


def test_a_relative_tolerance_without_a_baseline_value_tolerates_nothing() -> None:
    pol = _cfg("      rmse: {max_drop: 5%}").models[0].metrics["rmse"]
    assert pol.tolerance(None) == 0.0 and pol.tolerance(float("nan")) == 0.0


def test_a_bad_percentage_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        _cfg("      rmse: {max_drop: 5%%}")
    with pytest.raises(ConfigError):
        _cfg("      rmse: {max_drop: 150%}")
