"""GitHub failing under a job: 502 three times, 429 with Retry-After, an exhausted rate limit.

The job is retried as the queue would retry it; afterwards there is exactly one comment
and one check run, never a duplicate.
"""

from __future__ import annotations

from bot.queue import RETRIES, RetryTask
from bot.worker import run_delivery
from tests.app.conftest import AppHarness


def _run_with_retries(app: AppHarness) -> list[str]:
    outcomes = []
    while app.queued:
        delivery = app.queued.pop(0)
        for attempt in range(1, RETRIES + 2):
            try:
                outcomes.append(run_delivery(delivery, attempt, settings=app.settings, store=app.store))
                break
            except RetryTask:
                outcomes.append("retry")
            except Exception as exc:  # the queue retries any failure
                outcomes.append(f"retry:{type(exc).__name__}")
    return outcomes


def test_faults_then_success_without_duplicates(app_harness: AppHarness) -> None:
    gh = app_harness.github
    gh.inject_fault("POST", r"/issues/\d+/comments$", "502", times=3)
    gh.inject_fault("POST", r"/check-runs$", "429", times=1, retry_after=1)
    gh.inject_fault("POST", r"/labels$", "rate_limit", times=1, retry_after=1)
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    outcomes = _run_with_retries(app_harness)
    assert outcomes[-1] == "done"
    assert all(f.remaining == 0 for f in gh.faults)  # every fault was actually hit
    assert len(gh.comments("acme/churn", pr["number"])) == 1
    runs = [c for c in gh.check_runs("acme/churn", pr["head"]["sha"]) if c["name"] == "mlgate/evaluation"]
    assert len(runs) == 1
    assert gh.labels("acme/churn", pr["number"]) == ["mlgate:data-change"]
