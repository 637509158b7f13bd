"""Report fixtures for the rendering tests (shared cases), each validated against the schema."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Config, load_config
from bot.report import validate

HERE = Path(__file__).parent
REPORTS = HERE.parent / "fixtures" / "reports"
GOLDEN = HERE / "golden"
CHURN = load_config(REPORTS / "mlgate.yml")
MULTI = load_config(HERE / "mlgate-multi.yml")
REPORT_URL = "https://mlgate.example.com/acme/churn/pull/7/report"


def load_report(path: Path) -> dict[str, Any]:
    return validate(json.loads(path.read_text("utf-8")))


def huge_report() -> dict[str, Any]:
    """The failing report blown up to the schema's limits: 5000 segments, 2000 drift rows,
    2000 failing checks and 2000 changed files. Built here rather than committed (13 MB)."""
    rep = load_report(REPORTS / "failing.json")
    m = rep["models"][0]
    apac = next(s for s in m["segments"] if s["value"] == "APAC")
    ordinary = next(s for s in m["segments"] if s["value"] == "EU")
    stores = [{**copy.deepcopy(ordinary), "column": "store_id", "value": f"store-{i:05d}"} for i in range(4999)]
    m["segments"] = [apac, *stores]
    data = rep["data"]
    data["drift"] = [{**data["drift"][0], "column": f"feature_{i:04d}"} for i in range(2000)]
    data["checks"] = [
        {"file": "data/holdout.parquet", "column": f"feature_{i:04d}", "check": "not_nullable", "passed": False,
         "failures": 17 + i, "examples": [None, None]}
        for i in range(2000)
    ]
    data["changes"] = [
        {"path": f"data/shards/part-{i:05d}.parquet", "status": "modified", "rows_before": 1000, "rows_after": 1012,
         "sha256_before": "d" * 64, "sha256_after": "e" * 64}
        for i in range(2000)
    ]
    return validate(rep)


# case -> (report builder, policy the App would apply)
CASES: dict[str, tuple[Callable[[], dict[str, Any]], Config]] = {
    "passing": (lambda: load_report(REPORTS / "passing.json"), CHURN),
    "failing": (lambda: load_report(REPORTS / "failing.json"), CHURN),
    "multi": (lambda: load_report(HERE / "multi.json"), MULTI),
    "first_model": (lambda: load_report(HERE / "first_model.json"), CHURN),
    "hostile": (lambda: load_report(HERE / "hostile.json"), CHURN),
    "huge": (huge_report, CHURN),
}


def discovered_report() -> dict[str, Any]:
    """The passing report with what `mlgate evaluate` writes for a `discovery` block, computed by
    bot.evaluation.discovery on a simulated churn holdout that hides a two-column regression."""
    from bot.evaluation.discovery import discover
    from bot.evaluation.paired import Scored
    from tests.evaluation.discovery_sim import holdout

    frame, y, cand, base, _ = holdout(3)
    frame = frame.rename(columns={"a": "region", "b": "plan", "c": "channel", "x": "age_z", "w": "tenure_years"})
    frame["region"] = frame["region"].map({"P": "APAC", "Q": "EU", "R": "NA", "S": "LATAM"})
    frame["plan"] = frame["plan"].str.replace("b", "plan-", regex=False)
    found = discover(frame, Scored("binary", y, cand, base), label="y", metrics=["roc_auc"], seed=3, top_k=3)
    rep = load_report(REPORTS / "passing.json")
    rep["models"][0].update(found.to_report())
    rep["models"][0]["holdout"]["rows"] = len(frame)
    return validate(rep)


def _with_discovery(config: Config, block: dict[str, Any]) -> Config:
    policy = config.to_policy()
    policy["models"] = [{**m, "discovery": block} for m in policy["models"]]
    return Config.model_validate(policy)


CASES["discovered"] = (discovered_report, _with_discovery(CHURN, {"top_k": 3}))
