"""Keys that load but no longer change anything are named, so nobody tunes them in vain."""

from __future__ import annotations

from bot.config import parse_config

BASE = """
version: 1
models:
  - name: churn
    task: binary
    holdout: data/holdout.parquet
    label: churned
"""


def test_a_config_without_dead_keys_gets_no_warning() -> None:
    assert parse_config(BASE).unused_settings() == []


def test_fdr_and_resamples_are_named_with_what_replaced_them() -> None:
    cfg = parse_config(BASE + "    resamples: 500\n    segment_policy: {min_rows: 100, fdr: 0.1}\n")
    warnings = cfg.unused_settings()
    assert len(warnings) == 2
    assert warnings[0].startswith("models[0].segment_policy.fdr (churn) is deprecated and has no effect since "
                                  "intervals became analytic")
    assert "alpha (0.05)" in warnings[0]
    assert warnings[1] == ("models[0].resamples (churn) is deprecated and has no effect since intervals became "
                           "analytic; remove the key")


def test_defaults_are_not_mistaken_for_settings() -> None:
    # segment_policy given without fdr: pydantic's default must not count as set
    cfg = parse_config(BASE + "    segment_policy: {min_rows: 100}\n")
    assert cfg.unused_settings() == []
