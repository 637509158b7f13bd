"""GitHub failing under a job: 502 three times, 429 with Retry-After, an exhausted rate limit.

The job is retried as the queue would retry it; afterwards there is exactly one comment
and one check run, never a duplicate.
"""

from __future__ import annotations

import pytest

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


def test_a_last_attempt_with_the_store_down_leaves_the_delivery_for_the_sweep(
        app_harness: AppHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.store import StoreError
    from bot.worker import sweep

    gh = app_harness.github
    gh.inject_fault("POST", r"/issues/\d+/comments$", "502", times=1)
    gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    (delivery,) = app_harness.queued
    def store_down(*_: object, **__: object) -> None:
        raise StoreError("the database is unavailable")

    monkeypatch.setattr(app_harness.store, "mark_delivery", store_down)
    with pytest.raises(Exception) as failed:  # GitHub's 502 is what the queue sees, not the store error
        run_delivery(delivery, RETRIES + 1, settings=app_harness.settings, store=app_harness.store)
    assert not isinstance(failed.value, StoreError)
    monkeypatch.undo()  # the store is back
    # not marked failed, no failure reported on GitHub: the sweep runs it again once the store is back
    assert app_harness.store.delivery(delivery)["status"] == "running"
    again: list[str] = []
    assert sweep(app_harness.store, again.append, stale_after=-1) == [delivery] == again
    assert run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store) == "done"
    assert not [c for c in gh.check_runs("acme/churn", gh.pull("acme/churn", 1)["head"]["sha"])
                if c["output"]["title"] == "mlgate could not process this event"]


def _job_lines(caplog: pytest.LogCaptureFixture, delivery: str) -> list[dict[str, object]]:
    return [{"msg": r.getMessage(), "outcome": getattr(r, "outcome", None)} for r in caplog.records
            if getattr(r, "delivery_id", None) == delivery]


def test_a_job_taken_while_the_store_is_down_is_logged_with_its_delivery_id(
        app_harness: AppHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from bot.store import StoreError

    app_harness.github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    (delivery,) = app_harness.queued

    def down(*_: object, **__: object) -> None:
        raise StoreError("the database is unavailable")

    monkeypatch.setattr(app_harness.store, "delivery", down)
    caplog.clear()  # the webhook's own line
    with caplog.at_level("INFO", logger="mlgate"), pytest.raises(StoreError):
        run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store)
    assert _job_lines(caplog, delivery) == [
        {"msg": "job could not start: the store is unavailable; it will be retried", "outcome": "retry"}]


def test_a_finished_job_whose_outcome_the_store_cannot_take_says_it_is_deferred(
        app_harness: AppHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from bot.store import StoreError

    app_harness.github.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    (delivery,) = app_harness.queued
    real = app_harness.store.mark_delivery

    def down_for_done(delivery_id: str, status: str, error: str | None = None) -> None:
        if status == "done":
            raise StoreError("the database is unavailable")
        real(delivery_id, status, error)

    monkeypatch.setattr(app_harness.store, "mark_delivery", down_for_done)
    with caplog.at_level("INFO", logger="mlgate"):
        assert run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store) == "done"
    assert [x["outcome"] for x in _job_lines(caplog, delivery)][-1] == "deferred"
    assert app_harness.store.delivery(delivery)["status"] == "running"  # open: a sweep runs it again
