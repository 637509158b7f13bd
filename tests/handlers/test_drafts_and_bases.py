"""Drafts and base changes (issue #16).

Before: a draft was evaluated like a ready PR, converted_to_draft was ignored, and
pull_request.edited with a new base left the old base's policy in force."""

from __future__ import annotations

from bot.plan import DRAFT_TITLE, EVALUATION, PENDING_TITLE, REVIEW
from tests.handlers.conftest import CONFIG, PASSING, REPO, Hub


def test_a_draft_is_neutral_until_ready_then_waits_for_its_evaluation(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"}, draft=True)
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.one()
    checks = hub.checks(head)
    assert {c: (checks[c]["conclusion"], checks[c]["output"]["title"]) for c in (EVALUATION, REVIEW)} == {
        EVALUATION: ("neutral", DRAFT_TITLE), REVIEW: ("neutral", DRAFT_TITLE)}
    assert hub.comments(n) == []  # nothing to report yet
    hub.github.ready_for_review(REPO, n)
    hub.one()
    checks = hub.checks(head)
    assert (checks[EVALUATION]["status"], checks[EVALUATION]["output"]["title"]) == ("queued", PENDING_TITLE)
    assert checks[REVIEW]["status"] == "in_progress"  # never left neutral on a PR that can merge
    hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    hub.run()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"


def test_converted_to_draft_before_the_evaluation_turns_neutral(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.one()
    hub.github.convert_to_draft(REPO, n)
    hub.one()
    assert hub.checks(head)[EVALUATION]["output"]["title"] == DRAFT_TITLE


def test_converted_to_draft_keeps_a_finished_evaluation(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.one()
    hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    hub.run()
    hub.github.convert_to_draft(REPO, n)
    hub.one()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"


def test_skip_drafts_false_evaluates_drafts(hub: Hub) -> None:
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + "skip_drafts: false\n"})
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"}, draft=True)
    hub.one()
    assert hub.checks(str(pr["head"]["sha"]))[EVALUATION]["status"] == "queued"


def test_a_new_base_reapplies_that_branchs_policy(hub: Hub) -> None:
    # main lists release/* whose own (protected) config asks for a review of every change
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG + "release_branches: ['release/*']\n"})
    hub.github.push(REPO, "release/2", {".github/mlgate.yml": CONFIG.replace(
        "required_when: [regression, data_change]", "required_when: [always]")})
    hub.github.protect_branch(REPO, "release/2")
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    hub.one()
    hub.github.complete_trusted_evaluation(REPO, n, PASSING)
    hub.run()
    assert hub.checks(head)[REVIEW]["conclusion"] == "success"  # main's policy: no review for this change
    hub.github.change_base(REPO, n, "release/2")
    out = hub.one()
    assert out.event == "pull_request.edited"
    review = hub.checks(head)[REVIEW]
    assert review["status"] == "in_progress" and review["conclusion"] is None, review  # release/2: always


def test_an_edit_that_keeps_the_base_changes_nothing(hub: Hub) -> None:
    pr = hub.github.open_pull_request(REPO, {"train.py": "x = 1\n"})
    hub.one()
    hub.github.reset_calls()
    hub.github.send_webhook("pull_request", {"action": "edited", "number": pr["number"], "pull_request": pr,
                                             "changes": {"title": {"from": "old"}}}, REPO, "alice")
    out = hub.one()
    assert out.calls == []
