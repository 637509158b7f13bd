"""The power advisor's sentences fit the metric: a loss 'rises', a relative tolerance reads '5%' (#14)."""

from __future__ import annotations

from typing import Any

from bot.config import Config
from bot.power import Advice, advise, warnings
from bot.report import validate
from tests.render.cases import REPORTS, load_report


def _regression_model() -> tuple[dict[str, Any], Any]:
    config = Config.model_validate({"version": 1, "models": [{
        "name": "prices", "task": "regression", "holdout": "h.parquet", "label": "price",
        "segments": ["region"], "metrics": {"rmse": {"max_drop": "5%"}},
        "segment_policy": {"min_rows": 100, "max_drop": "5%"}}]})

    def comp(baseline: float, se: float, rows: int) -> dict[str, Any]:
        return {"name": "rmse", "higher_is_better": False, "baseline": baseline, "candidate": baseline + 10,
                "delta": 10.0, "ci_low": -50.0, "ci_high": 70.0, "se": se, "p_value": 0.5, "rows": rows}

    rm = {"metrics": [comp(24_690.0, 2_000.0, 2_487)],
          "segments": [{"column": "region", "value": v, "rows": 800, "metrics": [comp(20_000.0 + i, 1_500.0, 800)]}
                       for i, v in enumerate(["EU", "NA", "APAC"])]}
    return rm, config.models[0]


def test_a_loss_rises_and_a_relative_tolerance_reads_as_a_percentage() -> None:
    """Before: 'with 2487 rows a 1234.5 drop in rmse' for an RMSE that can only get worse by rising,
    and the 5% the user wrote came out as a bare number of dollars."""
    rm, policy = _regression_model()
    advice = advise(rm, policy)
    overall = [a for a in advice if a.column is None][0]
    assert overall.higher_is_better is False and overall.max_drop_relative == 0.05
    said = overall.warning()
    assert said is not None
    assert said.startswith("with 2,487 rows a 5% (1,234) rise in rmse cannot be told from noise; "
                           "the smallest detectable is "), said
    assert "drop" not in said and "e+" not in said
    lines = warnings(advice)
    assert lines[1].startswith("in 3 of 3 gated segments (800 to 800 rows) a 5% rise in rmse cannot be told"), lines
    # the report keeps both, and a report written before them still reads (a score, absolute)
    entry = overall.to_dict()
    assert Advice(**{k: v for k, v in entry.items() if k != "resolvable"}) == overall
    old = {k: v for k, v in entry.items() if k not in ("resolvable", "higher_is_better", "max_drop_relative")}
    assert Advice(**old).warning() == said.replace("5% (1,234) rise", "1,234 drop")


def test_the_report_schema_takes_the_new_fields() -> None:
    rm, policy = _regression_model()
    report = load_report(REPORTS / "passing.json")
    report["models"][0]["power"] = [a.to_dict() for a in advise(rm, policy)]
    validate(report)


def test_a_score_with_an_absolute_tolerance_still_drops() -> None:
    a = Advice("roc_auc", None, None, 10_000, 0.004, 2.2, 0.005, 0.0121, 0.0139)
    assert a.warning() == ("with 10,000 rows a 0.005 drop in roc_auc cannot be told from noise; "
                           "the smallest detectable is 0.0121 (80% power)")
