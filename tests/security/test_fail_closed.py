"""Regressions of "fail closed" after the #10 refactor (plan/apply, dispatch, permissions).

Each test failed on the code before its fix: what decides green is computed by the App, and
anything mlgate could not decide is never success or neutral.
"""

from __future__ import annotations

from bot.plan import EVALUATION, UNDECIDED_TITLE
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
