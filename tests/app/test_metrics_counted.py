"""/metrics counts what the docs say it counts: gate verdicts and every GitHub API call."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from bot.metrics import metrics
from tests.app.conftest import FIXTURES, AppHarness


def _value(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_verdicts_github_calls_and_rate_limit_are_counted(app_harness: AppHarness) -> None:
    metrics()
    gh = app_harness.github
    fails = _value("mlgate_gate_verdicts_total", {"outcome": "fail"})
    gets = _value("mlgate_github_api_calls_total", {"method": "GET", "status": "ok"})
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    app_harness.drain()
    report = Path(FIXTURES / "reports" / "failing.json").read_bytes()
    gh.complete_trusted_evaluation("acme/churn", pr["number"], report)
    app_harness.drain()
    assert _value("mlgate_gate_verdicts_total", {"outcome": "fail"}) == fails + 1
    counted = _value("mlgate_github_api_calls_total", {"method": "GET", "status": "ok"}) - gets
    served = sum(1 for m, p, s in gh.calls if m == "GET" and s == 200 and "/_" not in p)
    assert counted >= 3 and counted == served  # every GET the stand-in answered, and nothing else
    assert 0 < _value("mlgate_github_rate_limit_remaining", {}) <= 5000
