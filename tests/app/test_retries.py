"""GitHub failing under a job: 502 three times, 429 with Retry-After, an exhausted rate limit.

The job is retried as the queue would retry it; afterwards there is exactly one comment
and one check run, never a duplicate.
"""

from __future__ import annotations

import time

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


# ---------------------------------------------------------------- GitHub asks mlgate to wait


def _check(app: AppHarness, number: int) -> dict[str, object]:
    sha = app.github.pull("acme/churn", number)["head"]["sha"]
    runs = sorted((c for c in app.github.check_runs("acme/churn", sha) if c["name"] == "mlgate/evaluation"),
                  key=lambda c: c["id"])
    return runs[-1]


def test_a_secondary_rate_limit_defers_the_job_for_at_least_a_minute(app_harness: AppHarness) -> None:
    """GitHub's 403 "secondary rate limit" without Retry-After used to be retried five times 2 s
    apart and then fail the check. Now the job goes back to the queue for a minute or more, the
    sweep does not run it early, and it ends done once GitHub answers."""
    from bot.worker import JITTER, STALE_AFTER, sweep

    gh = app_harness.github
    gh.inject_fault("GET", r"/pulls/\d+/files$", "secondary", times=1)
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    (delivery,) = app_harness.queued
    with pytest.raises(RetryTask) as deferred:
        run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store)
    assert 60 <= (deferred.value.delay or 0) <= 60 * (1 + JITTER)
    row = app_harness.store.delivery(delivery)
    assert row is not None and row["status"] == "queued" and row["updated_at"] >= time.time() + 55
    assert sweep(app_harness.store, [].append, stale_after=STALE_AFTER) == []  # due later: not re-enqueued
    # Huey passes the same attempt number again: a delayed retry uses up none of its retries
    assert run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store) == "done"
    assert all(f.remaining == 0 for f in gh.faults)
    assert _check(app_harness, pr["number"])["status"] != "completed"  # pending its evaluation, not failed


def test_a_rate_limit_that_never_lifts_backs_off_exponentially_then_fails_clearly(app_harness: AppHarness) -> None:
    from bot.plan import FAILED_JOB_TITLE
    from bot.worker import JITTER

    gh = app_harness.github
    gh.inject_fault("GET", r"/pulls/\d+/files$", "secondary", times=100)
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    (delivery,) = app_harness.queued
    delays: list[float] = []
    outcome = None
    for _ in range(RETRIES + 3):
        try:
            outcome = run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store)
            break
        except RetryTask as exc:
            delays.append(float(exc.delay or 0))
    assert outcome == "failed" and len(delays) == RETRIES
    for n, delay in enumerate(delays):
        assert 60 * 2 ** n <= delay <= 60 * 2 ** n * (1 + JITTER)
    row = app_harness.store.delivery(delivery)
    assert row is not None and row["status"] == "failed" and "secondary rate limit" in (row["last_error"] or "")
    check = _check(app_harness, pr["number"])
    assert (check["conclusion"], check["output"]["title"]) == ("failure", FAILED_JOB_TITLE)  # type: ignore[index]
    assert "secondary rate limit did not lift" in check["output"]["summary"]  # type: ignore[index]


def test_retry_delay_follows_githubs_rules() -> None:
    from bot.github_client import RetryLater
    from bot.worker import MAX_DEFER, retry_delay

    def later(seconds: float, limit: str | None) -> RetryLater:
        return RetryLater("x", seconds, 403, rate_limit=limit)

    low, high = (lambda: 0.0), (lambda: 1.0)
    assert [retry_delay(later(60, "secondary"), n, low) for n in range(1, 6)] == [60, 120, 240, 480, 960]
    assert retry_delay(later(60, "secondary"), 1, high) == pytest.approx(72)  # jitter: up to 20% more
    assert retry_delay(later(1, "secondary"), 1, low) == 60  # a short Retry-After still waits a minute
    assert retry_delay(later(500, "secondary"), 1, low) == 500  # a long one is honoured
    assert retry_delay(later(1800, "primary"), 1, low) == 1800  # until X-RateLimit-Reset
    assert retry_delay(later(60, "secondary"), 12, high) == MAX_DEFER
    assert retry_delay(RetryLater("502", 5.0, 502), 3, high) == 5.0  # not a rate limit: as before


def test_a_deferred_job_waits_in_the_queues_schedule_not_in_a_worker_thread(
        app_harness: AppHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through real Huey (SQLite): the job is back in the schedule with an ETA a minute or more
    away, nothing is pending, and the scheduled job finishes the delivery."""
    from datetime import timedelta

    import bot.worker
    from bot.queue import make_queue

    monkeypatch.setattr(bot.worker, "_runtime", lambda: (app_harness.settings, app_harness.store))
    huey, task = make_queue(app_harness.settings, bot.worker.run_delivery)
    gh = app_harness.github
    gh.inject_fault("GET", r"/pulls/\d+/files$", "secondary", times=1)
    gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    (delivery,) = app_harness.queued
    task(delivery)
    job = huey.dequeue()
    assert job is not None
    huey.execute(job)
    assert huey.pending_count() == 0 and huey.scheduled_count() == 1
    (scheduled,) = huey.scheduled()
    assert scheduled.eta >= huey._get_timestamp() + timedelta(seconds=55)
    assert scheduled.retries == job.retries  # the delay did not use up a retry (the store counts attempts)
    later = scheduled.eta + timedelta(seconds=1)  # the consumer's clock, a minute on
    (due,) = huey.read_schedule(later)
    huey.execute(due, later)
    row = app_harness.store.delivery(delivery)
    assert row is not None and row["status"] == "done" and row["attempts"] == 2
    assert huey.pending_count() == 0 and huey.scheduled_count() == 0


def test_an_event_no_handler_wants_is_ignored_without_asking_for_a_token(app_harness: AppHarness) -> None:
    """Decided from the routing table first: no token, no GitHub call, so an event nobody handles
    cannot fail (and be retried five times) while GitHub will not give the App a token."""
    from bot.github_client import TOKENS

    gh = app_harness.github
    pr = gh.open_pull_request("acme/churn", {"data/a.csv": "a\n"})
    comment = gh.comment("acme/churn", pr["number"], "looks good")
    app_harness.drain()
    TOKENS.clear()
    gh.inject_fault("POST", r"/access_tokens$", "502", times=10)  # no token can be had now
    gh.edit_comment("acme/churn", comment["id"], "looks great")  # issue_comment.edited: no handler
    (delivery,) = app_harness.queued
    gh.reset_calls()
    assert run_delivery(delivery, 1, settings=app_harness.settings, store=app_harness.store) == "ignored"
    assert gh.calls == []
    row = app_harness.store.delivery(delivery)
    assert row is not None and row["status"] == "ignored"
    gh.clear_faults()
