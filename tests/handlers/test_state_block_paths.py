"""#10: the paths that wrote a check but left the living comment's state block as it was.

workflow_run returned before `claim_head` when the policy could not be read, when the PR's
files could not be listed, and when a report did not count; a review's recount under a policy
that no longer parses (`replan_head`) only failed the review check. Each now goes through
bot.plan/bot.apply with its checks, so the state block says mlgate could not decide and why,
and no earlier verdict stays on top of the comment."""

from __future__ import annotations

from bot.plan import EVALUATION, INVALID_CONFIG_TITLE, REVIEW, UNDECIDED_TITLE
from bot.trust import NOT_TRUSTED_TITLE
from tests.handlers.conftest import PASSING, REPO, Hub
from tests.handlers.test_living_state import _passed, _top
from tests.handlers.test_workflow_run import _build, _complete_evaluation, _open, _zip


def test_a_report_that_does_not_count_says_so_in_the_state_block(hub: Hub) -> None:
    n, head = _open(hub)
    assert "⏳ pending" in _top(hub.comments(n)[0]["body"])
    run = hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING), name="mlgate",
                                           path=".github/workflows/mlgate.yml")  # the PR's own workflow
    hub.run()
    assert hub.checks(head)[EVALUATION]["output"]["title"] == NOT_TRUSTED_TITLE
    top = _top(hub.comments(n)[0]["body"])
    assert f"❔ could not decide at `{head[:7]}`: the report of the workflow run {run} does not count: " in top
    assert "report not from the trusted evaluation workflow" in top
    assert "pending" not in top


def test_a_run_when_the_policy_cannot_be_read_says_so_in_the_state_block(hub: Hub) -> None:
    n, head = _open(hub)
    hub.github.push(REPO, "main", {"README.md": "a new default-branch head: its policy must be read\n"})
    hub.cold()
    hub.github.inject_fault("GET", r"/contents/\.github/mlgate\.yml", "502", times=1000)
    hub.github.complete_workflow_run(REPO, n, name="mlgate-build", path=".github/workflows/mlgate-build.yml",
                                     artifact_name="mlgate-candidate", artifact=_zip(b"{}"))
    (out,) = hub.run(attempts=2)  # GitHub keeps failing: the check and the comment say so
    assert out.error is not None  # the job gave up (the queue would retry it later)
    check = hub.checks(head)[EVALUATION]
    assert (check["conclusion"], check["output"]["title"]) == ("failure", UNDECIDED_TITLE)
    top = _top(hub.comments(n)[0]["body"])
    assert f"❔ could not decide at `{head[:7]}`: GitHub did not answer when mlgate tried to read the policy" in top
    assert "pending" not in top


def test_a_report_when_the_files_cannot_be_listed_says_so_in_the_state_block(hub: Hub) -> None:
    n, head = _open(hub)
    build = _build(hub, n)
    hub.github.inject_fault("GET", rf"/pulls/{n}/files", "502", times=1000)
    _complete_evaluation(hub, build, PASSING)
    hub.run(attempts=2)
    checks = hub.checks(head)
    assert checks[EVALUATION]["output"]["title"] == UNDECIDED_TITLE
    assert checks[REVIEW]["conclusion"] == "failure"
    top = _top(hub.comments(n)[0]["body"])
    assert f"❔ could not decide at `{head[:7]}`: GitHub did not answer when mlgate tried to list the changed " \
           "files" in top


def test_a_recount_under_a_policy_that_no_longer_parses_says_so_in_the_state_block(hub: Hub) -> None:
    n, head = _passed(hub)
    hub.github.push(REPO, "main", {".github/mlgate.yml": "version: 1\nmodels: [\n"})
    hub.github.review(REPO, n, user="rita", state="COMMENTED")  # any review: mlgate recounts
    hub.one()
    checks = hub.checks(head)
    for name in (EVALUATION, REVIEW):  # an earlier pass does not stand under a policy nobody can read
        assert (checks[name]["conclusion"], checks[name]["output"]["title"]) == ("failure", INVALID_CONFIG_TITLE)
    top = _top(hub.comments(n)[0]["body"])
    assert f"❔ could not decide at `{head[:7]}`: .github/mlgate.yml on main is invalid" in top
    assert "the gate passed" not in top
