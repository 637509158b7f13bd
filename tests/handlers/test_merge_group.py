"""merge_group: the required mlgate checks on a merge queue's commit (issue #16).

Before: merge_group had no handler, so a queue that requires mlgate/evaluation and
mlgate/review waited forever on the group commit (no check ever appeared there)."""

from __future__ import annotations

from bot.handlers.merge_group import queued_pr
from bot.plan import EVALUATION, REVIEW
from tests.handlers.conftest import FAILING, PASSING, REPO, Hub


def _green_or_red(hub: Hub, files: dict[str, str | bytes], report: bytes) -> tuple[int, str]:
    pr = hub.github.open_pull_request(REPO, files)
    hub.one()
    n = int(pr["number"])
    hub.github.complete_trusted_evaluation(REPO, n, report)
    hub.run()
    return n, str(pr["head"]["sha"])


def test_a_group_with_a_red_pull_request_fails_naming_it(hub: Hub) -> None:
    green, head = _green_or_red(hub, {"train.py": "x = 1\n"}, PASSING)
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"
    red, _ = _green_or_red(hub, {"src/model.py": "y = 1\n"}, FAILING)
    (group,) = hub.github.merge_queue(REPO, [green, red], batch=True)
    out = hub.one()
    assert out.event == "merge_group.checks_requested"
    checks = hub.checks(group)
    assert checks[EVALUATION]["conclusion"] == "failure"
    assert f"#{red}: mlgate/evaluation is failure" in checks[EVALUATION]["output"]["summary"]
    assert f"#{green}:" not in checks[EVALUATION]["output"]["summary"]
    assert f"#{red}" in checks[EVALUATION]["output"]["title"]


def test_a_group_of_green_pull_requests_passes(hub: Hub) -> None:
    first, _ = _green_or_red(hub, {"train.py": "x = 1\n"}, PASSING)
    second, _ = _green_or_red(hub, {"src/model.py": "y = 1\n"}, PASSING)
    entries = hub.github.merge_queue(REPO, [first, second])
    hub.run()
    for group in entries:  # one group per queue entry, each on the previous entry's commit
        checks = hub.checks(group)
        assert (checks[EVALUATION]["conclusion"], checks[REVIEW]["conclusion"]) == ("success", "success"), checks
    assert f"#{second}" in hub.checks(entries[1])[EVALUATION]["output"]["summary"]


def test_an_unevaluated_ml_change_in_the_group_fails(hub: Hub) -> None:
    n, head = _green_or_red(hub, {"train.py": "x = 1\n"}, PASSING)
    # the queue's commit carries a model file no PR of the group changed (as a bad merge could)
    (group,) = hub.github.merge_queue(REPO, [n], batch=True)
    r = hub.github.repos[REPO]
    r.trees[group]["src/sneaky.py"] = b"print('never evaluated')\n"
    hub.run()
    checks = hub.checks(group)
    assert checks[EVALUATION]["conclusion"] == "failure"
    assert "src/sneaky.py" in checks[EVALUATION]["output"]["summary"]


def test_a_pull_request_without_a_finished_evaluation_fails_the_group(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    hub.one()
    (group,) = hub.github.merge_queue(REPO, [int(pr["number"])])
    hub.run()
    checks = hub.checks(group)
    assert checks[EVALUATION]["conclusion"] == "failure"
    assert "has not finished" in checks[EVALUATION]["output"]["summary"]


def test_queue_branch_names_its_pull_request() -> None:
    assert queued_pr("refs/heads/gh-readonly-queue/main/pr-104-929f8209d40f77f4abc622a499c93a83babdbe64") == 104
    assert queued_pr("refs/heads/feature") is None


def test_a_group_job_that_keeps_failing_fails_the_groups_check(hub: Hub) -> None:
    from bot.dispatch import report_failure as on_job_failed
    from bot.events import parse_event
    from bot.plan import FAILED_JOB_TITLE

    n, _ = _green_or_red(hub, {"train.py": "x = 1\n"}, PASSING)
    (group,) = hub.github.merge_queue(REPO, [n])
    headers, body = hub.inbox.pop()
    on_job_failed(hub.context(parse_event(headers, body)), RuntimeError("GitHub kept failing"))
    check = hub.checks(group)[EVALUATION]
    assert (check["conclusion"], check["output"]["title"]) == ("failure", FAILED_JOB_TITLE)


def test_with_evaluation_merge_group_the_group_commit_is_evaluated_too(hub: Hub) -> None:
    from tests.handlers.conftest import CONFIG

    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + "evaluation:\n  merge_group: true\n"})
    n, _ = _green_or_red(hub, {"train.py": "x = 1\n"}, PASSING)
    (group,) = hub.github.merge_queue(REPO, [n])
    hub.run()
    waiting = hub.checks(group)[EVALUATION]
    assert (waiting["status"], waiting["output"]["title"]) == ("queued",
                                                               "Waiting for the evaluation of the merge group commit")
    assert hub.checks(group)[REVIEW]["conclusion"] == "success"
    hub.github.complete_merge_group_evaluation(REPO, group, FAILING)
    hub.run()
    failed = hub.checks(group)[EVALUATION]
    assert failed["conclusion"] == "failure" and "own evaluation" in failed["output"]["title"]

    (second,) = hub.github.merge_queue(REPO, [n])  # queued again: a new group commit, evaluated first this time
    hub.inbox, held = [], hub.inbox
    hub.github.complete_merge_group_evaluation(REPO, second, PASSING)
    hub.run()
    assert hub.checks(second) == {}  # nothing waits on it yet: the merge_group job reads the stored report
    hub.inbox = held
    hub.run()
    assert hub.checks(second)[EVALUATION]["conclusion"] == "success"
