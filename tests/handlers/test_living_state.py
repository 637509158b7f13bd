"""The living comment's state block follows every event that changes the PR's state (#14 item 1).

- a push that leaves no ML changes, or meets an invalid or unreadable policy, says so in the
  state block: the verdict on the earlier head never stays on top (it is collapsed below);
- the releases listed come from the store's release history, so a release whose own refresh
  (bot.apply.after_release) was lost is listed by the next event;
- `mlgate:regression` follows the plan on a PR whose remembered state is unknown (its comment
  predates pr_states): a stale label does not wait for the verdict to change once;
- the current report (with its data checks and reproducibility footer) comes first, the
  earlier evaluations after it.
"""

from __future__ import annotations

from sqlalchemy import delete

from bot import promotion
from bot.plan import EVALUATION, LABEL_REGRESSION
from bot.store import pr_states
from tests.handlers.conftest import CONFIG, FAILING, PASSING, REPO, Hub
from tests.handlers.test_workflow_run import _evaluated, _open, _single_workflow_mode, _zip


def _top(body: str) -> str:
    """The state block: from the marker to the first blank line after its list."""
    return body.split("**Where this pull request stands**", 1)[1].split("\n\n", 2)[1]


def _passed(hub: Hub) -> tuple[int, str]:
    n, head = _open(hub)
    _evaluated(hub, n, PASSING)
    hub.one()
    (comment,) = hub.comments(n)
    assert "✅ the gate passed" in _top(comment["body"])
    return n, head


def test_a_push_that_leaves_no_ml_changes_says_so_and_keeps_no_green_verdict(hub: Hub) -> None:
    n, first = _passed(hub)
    # the default branch's policy no longer counts this PR's files as data or model
    hub.github.push(REPO, "main", {".github/mlgate.yml": CONFIG.replace(
        'data: ["data/**"]', 'data: ["datasets/**"]').replace('model: ["src/**", "train.py"]', 'model: ["src/**"]')})
    second = hub.github.push_to_pull_request(REPO, n, {"README.md": "docs\n"})
    hub.one()
    assert hub.checks(second)[EVALUATION]["conclusion"] == "neutral"
    (comment,) = hub.comments(n)
    top = _top(comment["body"])
    assert f"➖ no ML changes at `{second[:7]}`" in top
    assert "the gate passed" not in top and "`/promote`" not in comment["body"]
    assert f"✅ the gate passed · head <code>{first[:7]}</code>" in comment["body"]  # collapsed, with its head


def test_a_push_under_an_invalid_policy_says_mlgate_could_not_decide(hub: Hub) -> None:
    n, _ = _passed(hub)
    hub.github.push(REPO, "main", {".github/mlgate.yml": "models: [\n"})
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    assert hub.checks(second)[EVALUATION]["conclusion"] == "failure"
    (comment,) = hub.comments(n)
    top = _top(comment["body"])
    assert f"❔ could not decide at `{second[:7]}`: .github/mlgate.yml on main is invalid" in top
    assert "the gate passed" not in top and "`/promote`" not in comment["body"]


def test_a_push_when_the_policy_cannot_be_read_says_mlgate_could_not_decide(hub: Hub) -> None:
    n, _ = _passed(hub)
    hub.github.push(REPO, "main", {"README.md": "a new default-branch head: its policy must be read\n"})
    hub.cold()
    hub.github.inject_fault("GET", r"/contents/\.github/mlgate\.yml", "502", times=1000)
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    (out,) = hub.run(attempts=2)  # GitHub keeps failing: the checks and the comment say so
    assert out.error is not None  # the job gave up (the queue would retry it later)
    assert hub.checks(second)[EVALUATION]["conclusion"] == "failure"
    (comment,) = hub.comments(n)
    top = _top(comment["body"])
    assert f"❔ could not decide at `{second[:7]}`: GitHub did not answer when mlgate tried to read the policy" in top
    assert "the gate passed" not in top


def test_a_release_whose_refresh_was_lost_is_listed_by_the_next_event(hub: Hub) -> None:
    n, head = _passed(hub)
    # /promote moved the alias and wrote its audit row, then the job lost the PR lock: no refresh
    release = promotion.Release(action="promote", model="churn-classifier", alias="production", actor="bob",
                                delivery_id="d-promote", repo=REPO, pr=n, head_sha=head)
    promotion.audit(hub.store, release, "promote", "success", from_version="2", to_version="3")
    promotion.audit(hub.store, release, "promote", "refused", from_version="3", to_version="4")  # not a release
    hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    (comment,) = hub.comments(n)
    top = _top(comment["body"])
    assert "⏳ pending" in top
    assert "🚀 churn-classifier promoted to version 3 (production) by @\u200bbob" in top
    assert "version 4" not in top and "`/rollback`" in comment["body"]


def test_a_stale_regression_label_goes_on_a_pr_from_before_the_remembered_state(hub: Hub) -> None:
    n, _ = _open(hub)
    _evaluated(hub, n, FAILING)
    hub.one()
    assert LABEL_REGRESSION in hub.github.labels(REPO, n)
    with hub.store.engine.begin() as c:  # as a PR commented on before migration 0006
        c.execute(delete(pr_states).where(pr_states.c.repo == REPO, pr_states.c.pr == n))
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    _evaluated(hub, n, PASSING, second)
    hub.one()
    assert hub.checks(second)[EVALUATION]["conclusion"] == "success"
    assert LABEL_REGRESSION not in hub.github.labels(REPO, n)


def test_a_new_pr_costs_no_label_call_for_a_label_it_never_had(hub: Hub) -> None:
    n, _ = _open(hub)
    _evaluated(hub, n, PASSING)
    out = hub.one()
    assert not [c for c in out.calls if c[0] == "DELETE" and "/labels/" in c[1]], out.calls


def test_the_current_report_comes_first_then_the_earlier_evaluations(hub: Hub) -> None:
    n, _ = _open(hub)
    _evaluated(hub, n, FAILING)
    hub.one()
    second = hub.github.push_to_pull_request(REPO, n, {"train.py": "x = 2\n"})
    hub.one()
    _evaluated(hub, n, PASSING, second)
    hub.one()
    (comment,) = hub.comments(n)
    body = comment["body"]
    current_footer = body.index("Reproduce this evaluation")
    assert "data checks passed" in body[:current_footer]
    assert current_footer < body.index("<summary>Earlier evaluations (1)</summary>") < body.index("**Commands**")


def test_a_rerun_without_a_report_takes_the_heads_pass_off_the_top(hub: Hub) -> None:
    _single_workflow_mode(hub)
    n, head = _open(hub)
    hub.github.complete_workflow_run(REPO, n, artifact=_zip(PASSING))
    hub.one()
    assert "✅ the gate passed" in _top(hub.comments(n)[0]["body"])
    hub.github.complete_workflow_run(REPO, n, artifact=None)  # the head's evaluation again, with no report
    hub.one()
    assert hub.checks(head)[EVALUATION]["conclusion"] == "failure"
    (comment,) = hub.comments(n)
    top = _top(comment["body"])
    assert f"❔ could not decide at `{head[:7]}`: the evaluation run" in top and "no usable report" in top
    assert "the gate passed" not in top and "`/promote`" not in comment["body"]
