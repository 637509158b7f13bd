"""Events in any order and in parallel (issue #12): the same deliveries give the same PR.

GitHub does not promise delivery order, and the worker runs jobs in several threads and
processes. The deliveries of one PR's story (opened, synchronize, the evaluation's
workflow_run, an approving review) are recorded once from the stand-in, then run against
a fresh store and a PR without any of mlgate's writes: in every order, and all at once in
threads. The comment, the checks of both commits, the labels and the store's view of the PR
must be those of the in-order run.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.context import Event
from bot.dispatch import dispatch
from bot.events import parse_event
from bot.github_client import RetryLater
from bot.plan import EVALUATION, REVIEW
from bot.sandbox.server import make_artifact_zip
from bot.store import Store
from tests.handlers.conftest import FAILING, PASSING, REPO, Hub

Delivery = tuple[dict[str, str], bytes]


def _story(hub: Hub) -> tuple[int, str, str, dict[str, Delivery]]:
    """Drive the stand-in through one PR's story; the deliveries it sent, by name, unprocessed."""
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    pr = hub.github.open_pull_request(REPO, {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"})
    n, first = int(pr["number"]), str(pr["head"]["sha"])
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.github.complete_trusted_evaluation(REPO, n, FAILING)
    hub.github.review(REPO, n, user="rita", sha=second)
    names = ["opened", "synchronize", "build", "workflow_run", "review"]
    assert len(hub.inbox) == len(names)
    deliveries = dict(zip(names, hub.inbox, strict=True))
    hub.inbox.clear()
    # the PR's own build run (the trusted pattern's first run) has no report: its delivery changes
    # nothing mlgate shows, so the orders below are those of the four that do
    del deliveries["build"]
    return n, first, second, deliveries


def _fresh(hub: Hub, tmp_path: Path, n: int, tag: str) -> None:
    """A new store, and the PR on GitHub without anything mlgate wrote (comments, checks, labels)."""
    hub.store = Store(f"sqlite:///{tmp_path / f'mlgate-{tag}.db'}")
    hub.store.migrate()
    r = hub.github.repos[REPO]
    with hub.github.lock:
        r.comments.clear()
        r.check_runs.clear()
        r.labels.pop(n, None)


def _run(hub: Hub, delivery: Delivery) -> None:
    """One job as the worker runs it: dispatched, and run again when it asks to be retried."""
    event: Event = parse_event(*delivery)
    for _ in range(20):
        try:
            dispatch(event, hub.context)
            return
        except RetryLater:
            continue
    raise AssertionError(f"{event.key} kept asking to be retried")


def _outcome(hub: Hub, n: int, first: str, second: str) -> dict[str, Any]:
    """What a user and branch protection see, and what the store believes."""
    def checks(sha: str) -> dict[str, tuple[Any, ...]]:
        return {name: (c["status"], c["conclusion"], c["output"]["title"], c["output"]["summary"])
                for name, c in hub.checks(sha).items()}
    latest = hub.store.latest_evaluation(REPO, n)
    return {
        "comments": [c["body"] for c in hub.comments(n)],
        "checks": {"first": checks(first), "second": checks(second)},
        "labels": sorted(hub.github.labels(REPO, n)),
        "head": hub.store.pr_head(REPO, n),
        "evaluation": (latest["head_sha"], latest["outcome"]) if latest else None,
    }


@pytest.fixture
def story(hub: Hub, tmp_path: Path) -> tuple[Hub, int, str, str, dict[str, Delivery], dict[str, Any]]:
    n, first, second, deliveries = _story(hub)
    _fresh(hub, tmp_path, n, "in-order")
    for name in ("opened", "synchronize", "workflow_run", "review"):
        _run(hub, deliveries[name])
    expected = _outcome(hub, n, first, second)
    # the in-order result is the one the story means: the newer head's report, accepted by rita
    (body,) = expected["comments"]
    assert "evaluation pending" not in body
    assert expected["head"] == second and expected["evaluation"] == (second, "fail")
    assert expected["checks"]["second"][EVALUATION][:2] == ("completed", "success")
    assert expected["checks"]["second"][REVIEW][:3] == ("completed", "success", "Approved by rita")
    assert expected["checks"]["first"][EVALUATION][:2] == ("queued", None)
    return hub, n, first, second, deliveries, expected


def test_every_order_of_the_deliveries_gives_the_in_order_result(story: Any, tmp_path: Path) -> None:
    hub, n, first, second, deliveries, expected = story
    different = {}
    for i, order in enumerate(itertools.permutations(deliveries)):
        _fresh(hub, tmp_path, n, f"perm-{i}")
        for name in order:
            _run(hub, deliveries[name])
        got = _outcome(hub, n, first, second)
        if got != expected:
            different[" -> ".join(order)] = {k: got[k] for k in got if got[k] != expected[k]}
    assert not different, different


def test_the_deliveries_run_at_once_in_threads_give_the_in_order_result(story: Any, tmp_path: Path) -> None:
    hub, n, first, second, deliveries, expected = story
    hub.github.set_latency(0.01)  # GitHub's answers take time: the jobs overlap for real
    try:
        for round_ in range(4):
            _fresh(hub, tmp_path, n, f"threads-{round_}")
            start = threading.Barrier(len(deliveries))
            errors: list[BaseException] = []

            def job(delivery: Delivery, start: threading.Barrier = start, errors: list[BaseException] = errors) -> None:
                start.wait()
                try:
                    _run(hub, delivery)
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=job, args=(d,)) for d in deliveries.values()]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert not errors, errors
            assert _outcome(hub, n, first, second) == expected, f"round {round_}"
    finally:
        hub.github.set_latency(0.0)


def test_a_late_pending_event_never_replaces_the_report(hub: Hub) -> None:
    """The bug as seen with gunicorn and two worker threads: the pull_request job of a head
    finished after the workflow_run job of the same head."""
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    (opened,) = hub.inbox
    hub.inbox.clear()
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.github.complete_trusted_evaluation(REPO, n, FAILING)
    hub.run()
    report = [c["body"] for c in hub.comments(n)]
    check = hub.checks(head)[EVALUATION]
    hub.inbox.append(opened)  # delivered (or run) last
    hub.one()
    assert [c["body"] for c in hub.comments(n)] == report
    after = hub.checks(head)[EVALUATION]
    assert (after["id"], after["status"], after["conclusion"]) == (check["id"], "completed", "failure")


def test_an_older_heads_events_never_replace_the_newer_heads(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    (opened,) = hub.inbox
    hub.inbox.clear()
    n, first = int(pr["number"]), str(pr["head"]["sha"])
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()  # synchronize first
    hub.inbox.append(opened)
    out = hub.one()
    assert hub.store.pr_head(REPO, n) == second
    assert not [c for c in out.calls if "/comments" in c[1] or "/labels" in c[1]], out.calls
    # the old commit still gets its own check, as it would have in order
    assert hub.checks(first)[EVALUATION]["status"] == "queued"
    # and a report for the old head, arriving now, only completes that commit's check
    hub.github.complete_trusted_evaluation(REPO, n, FAILING, head_sha=first)
    hub.run()
    (comment,) = hub.comments(n)
    assert "evaluation pending" in comment["body"]
    assert hub.checks(first)[EVALUATION]["conclusion"] == "failure"
    assert hub.checks(second)[EVALUATION]["status"] == "queued"


def test_a_force_push_back_to_an_earlier_commit_makes_it_the_head_again(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    hub.one()
    n, first = int(pr["number"]), str(pr["head"]["sha"])
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    # GitHub's synchronize after a force-push back: before is the newer commit, after the older
    pull = hub.github.repos[REPO].pulls[n]
    with hub.github.lock:
        pull["head_sha"] = first
    hub.github.pr_event(hub.github.repos[REPO], pull, "synchronize", pull["author"], before=second, after=first)
    hub.one()
    assert hub.store.pr_head(REPO, n) == first


def test_a_pull_request_job_that_gives_up_late_leaves_the_heads_finished_evaluation(hub: Hub) -> None:
    from bot.dispatch import report_failure as on_job_failed

    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    (opened,) = hub.inbox
    hub.inbox.clear()
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    hub.run()
    check = hub.checks(head)[EVALUATION]
    assert check["conclusion"] == "success"
    # the opened job ran after the report and kept failing until the queue gave up on it
    on_job_failed(hub.context(parse_event(*opened)), RuntimeError("GitHub kept answering 502"))
    after = hub.checks(head)[EVALUATION]
    assert (after["id"], after["conclusion"]) == (check["id"], "success")


def test_a_refused_report_is_not_turned_back_into_a_wait_by_a_late_pull_request_event(hub: Hub) -> None:
    from bot.trust import NOT_TRUSTED_TITLE

    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    (opened,) = hub.inbox
    hub.inbox.clear()
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    # the PR's own workflow uploads a report: never trusted in the default mode
    hub.github.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"mlgate-report.json": PASSING}))
    hub.one()
    assert hub.checks(head)[EVALUATION]["output"]["title"] == NOT_TRUSTED_TITLE
    hub.inbox.append(opened)
    hub.one()
    check = hub.checks(head)[EVALUATION]
    assert (check["status"], check["conclusion"], check["output"]["title"]) == ("completed", "failure", NOT_TRUSTED_TITLE)
