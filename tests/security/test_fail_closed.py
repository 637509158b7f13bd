"""Regressions of "fail closed" after the #10 refactor (plan/apply, dispatch, permissions).

Each test failed on the code before its fix: what decides green is computed by the App, and
anything mlgate could not decide is never success or neutral.
"""

from __future__ import annotations

from bot.plan import EVALUATION, REVIEW, UNDECIDED_TITLE
from tests.handlers.conftest import CONFIG as CONFIG_TEXT
from tests.handlers.conftest import FAILING, PASSING, REPO, Hub
from tests.handlers.test_workflow_run import _build, _complete_evaluation, _open


def test_an_unreadable_policy_never_leaves_an_earlier_pass_standing_after_a_new_trusted_report(hub: Hub) -> None:
    """The head passed; its trusted evaluation runs again (a re-run, a new baseline) and reports a
    regression, but the PR's policy cannot be read: the earlier pass must not stand."""
    n, head = _open(hub)
    build = _build(hub, n)
    _complete_evaluation(hub, build, PASSING)
    hub.one()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"
    _complete_evaluation(hub, build, FAILING)  # the trusted evaluation of the same head, verified
    hub.github.inject_fault("GET", r"/branches/main$", "404", times=1)
    hub.run()
    check = hub.checks(head)[EVALUATION]
    assert check["conclusion"] == "failure" and check["output"]["title"] == UNDECIDED_TITLE
    assert hub.store.check_conclusion(REPO, head, EVALUATION) == "failure"  # /promote reads this


def _accepted_regression(hub: Hub) -> tuple[int, str, int]:
    """A regression accepted by a configured approver's approval: both checks green."""
    n, head = _open(hub)
    _complete_evaluation(hub, _build(hub, n), FAILING)
    hub.one()
    hub.github.add_team_member("acme", "ml-reviewers", "rita")
    review = hub.github.review(REPO, n, user="rita")
    hub.one()
    checks = hub.checks(head)
    assert (checks[EVALUATION]["conclusion"], checks[REVIEW]["conclusion"]) == ("success", "success")
    return n, head, review


def _run_as_the_worker(hub: Hub) -> None:
    """Run the pending deliveries; a job that fails for good is reported as the worker does."""
    from bot.github_client import GitHubError
    from bot.handlers import on_job_failed

    for event in hub.take():
        try:
            hub.run_event(event)
        except GitHubError as exc:
            on_job_failed(hub.context(event), exc)


def test_a_dismissed_approval_never_leaves_the_review_green_when_github_does_not_answer(hub: Hub) -> None:
    """The approval that accepted a regression is dismissed, and GitHub does not answer for the PR
    while mlgate recounts: the review check must not stay green (it would let /promote and the
    merge through on an approval that no longer exists)."""
    n, head, review = _accepted_regression(hub)
    hub.github.inject_fault("GET", rf"/pulls/{n}$", "404", times=10)
    hub.github.dismiss_review(REPO, n, review)
    _run_as_the_worker(hub)
    check = hub.checks(head)[REVIEW]
    assert check["conclusion"] == "failure" and check["output"]["title"] == UNDECIDED_TITLE
    assert hub.store.check_conclusion(REPO, head, REVIEW) == "failure"


def test_a_release_branch_config_broken_after_a_pass_never_leaves_the_pass_standing(hub: Hub) -> None:
    """A PR into a protected release branch passed; that branch's config is then broken and the
    head's trusted evaluation reports again (a regression): the earlier pass must not stand."""
    from bot.plan import INVALID_CONFIG_TITLE
    from tests.handlers.conftest import CONFIG
    from tests.handlers.test_living_state import _top

    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG.rstrip("\n") + "\nrelease_branches: ['release/*']\n"})
    hub.github.push(REPO, "release/1.x", {".github/mlgate.yml": CONFIG})
    hub.github.protect_branch(REPO, "release/1.x")
    pr = hub.github.open_pull_request(REPO, {"data/train.csv": "a\n1\n", "train.py": "x = 1\n"}, base="release/1.x")
    hub.one()
    n, head = int(pr["number"]), str(pr["head"]["sha"])
    build = _build(hub, n)
    _complete_evaluation(hub, build, PASSING)
    hub.one()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"
    hub.github.push(REPO, "release/1.x", {".github/mlgate.yml": "version: 1\nmodels: [\n"})
    _complete_evaluation(hub, build, FAILING)
    hub.run()
    check = hub.checks(head)[EVALUATION]
    assert check["conclusion"] == "failure" and check["output"]["title"] == INVALID_CONFIG_TITLE
    assert hub.store.check_conclusion(REPO, head, EVALUATION) == "failure"
    # and the living comment takes the pass off its top (tests/handlers/test_living_state.py)
    top = _top(hub.comments(n)[0]["body"])
    assert f"❔ could not decide at `{head[:7]}`: .github/mlgate.yml on release/1.x is invalid" in top
    assert "the gate passed" not in top


def test_a_dismissed_approval_under_a_policy_that_no_longer_parses_never_leaves_the_review_green(hub: Hub) -> None:
    n, head, review = _accepted_regression(hub)
    hub.github.push(REPO, "main", {".github/mlgate.yml": "version: 1\nmodels: [\n"})
    hub.github.dismiss_review(REPO, n, review)
    hub.one()
    assert hub.checks(head)[REVIEW]["conclusion"] == "failure"
    assert hub.store.check_conclusion(REPO, head, REVIEW) == "failure"


def test_an_unreadable_author_permission_never_leaves_an_earlier_pass_over_a_new_report(hub: Hub) -> None:
    """Single-workflow mode: the head passed; a new run of the PR's workflow reports a regression
    while GitHub does not answer for the author's permission. The earlier pass must not stand over
    the new report (the store would then hold a failing evaluation behind a green check)."""
    from bot.handlers import on_job_failed
    from bot.sandbox.server import make_artifact_zip

    workflow = ".github/workflows/mlgate.yml"
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG_TEXT + f"evaluation: {{trust: pull_request, "
                                   f"workflow: {workflow}}}\n"})
    hub.github.set_permission(REPO, "alice", "write")
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"mlgate-report.json": PASSING}),
                                     path=workflow)
    hub.one()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "success"
    hub.github.inject_fault("GET", r"/collaborators/[^/]+/permission", "502", times=500)
    hub.github.complete_workflow_run(REPO, n, artifact=make_artifact_zip({"mlgate-report.json": FAILING}),
                                     path=workflow)
    for event in hub.take():
        out = hub.run_event(event)
        if out.error is not None:  # the worker reports the job's final failure
            on_job_failed(hub.context(event), out.error)
    assert hub.checks(head)[EVALUATION]["conclusion"] != "success"
    assert hub.store.check_conclusion(REPO, head, EVALUATION) != "success"
