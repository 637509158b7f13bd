"""#10: the gate decides from facts, never from the words of its reasons. A report may name
a model the config does not have (its name is the report's, so CI's choice); before, a name
containing "missing from the report" made `decide` believe a configured model was missing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from bot.config import parse_config
from bot.gate import decide

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
CONFIG = parse_config((FIXTURES / "mlgate.yml").read_text())


def _passing() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "passing.json").read_text())
    return data


def test_an_extra_model_named_like_a_reason_does_not_fail_the_gate() -> None:
    report = _passing()
    assert decide(report, CONFIG).outcome == "pass"
    extra = copy.deepcopy(report["models"][0])
    extra["name"] = "x: configured but missing from the report"
    report["models"].append(extra)
    decision = decide(report, CONFIG)
    assert decision.outcome == "pass", decision.reasons
    assert any("not in the base branch's config" in r for r in decision.reasons)


def test_a_configured_model_missing_from_the_report_fails() -> None:
    report = _passing()
    report["models"] = []
    decision = decide(report, CONFIG)
    assert decision.outcome == "fail"
    assert decision.reasons == [f"{m.name}: configured but missing from the report" for m in CONFIG.models]
