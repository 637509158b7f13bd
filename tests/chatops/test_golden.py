"""Golden files pin every reply mlgate can write (UPDATE_GOLDEN=1 rewrites them)."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from bot import chatops, promotion
from bot.chatops import render_reply
from bot.commands import SPECS, Command, Reply, check_model, parse_comment
from bot.config import parse_config
from bot.github_client import RunInfo
from bot.handlers.deployment_protection import DeploymentReason, Why
from bot.permissions import Authorization, Denial, Requirement
from bot.policy import Refusal, Refused
from bot.promotion import MetricRow, Note, Outcome, Reason, Release, Warned
from bot.render.text import inline_code, templates_dir
from bot.review_gate import ReviewIn, review_state
from bot.store import LockInfo, ReleaseRow
from bot.trust import uploader_problem

GOLDEN = Path(__file__).parent / "golden"
CONFIG = parse_config(
    "version: 1\nmodels:\n  - {name: churn-classifier, task: binary, holdout: h.parquet, label: y}\n"
    "commands:\n  promote: ['@acme/ml-release']\n"
)
HEAD = "0123456789abcdef0123456789abcdef01234567"
AT = 1795344000.0  # 2026-11-22 08:00:00 UTC

PROMOTE = Release("promote", "churn-classifier", "production", "wes", "d-1", "acme/churn", 7, HEAD,
                  metrics=("roc_auc", "f1"))
ROLLBACK = Release("rollback", "churn-classifier", "production", "max", "d-2", "acme/churn", 7, HEAD)
ROWS = [MetricRow("roc_auc", 0.7841, 0.7902), MetricRow("f1", 0.7167, None)]
LOCK = LockInfo("model:churn-classifier", "bob (promote via acme/churn#9, delivery 1234)", AT, AT + 300)
EARLIER = ReleaseRow(id=11, at=AT, actor="wes", action="promote", model="churn-classifier", alias="production",
                     from_version="1", to_version="2", repo="acme/churn", pr=7, sha=HEAD, delivery_id="d-0",
                     detail=None)


def _parsed(body: str) -> str:
    """The reply the App posts for a comment that the parser (and the config check) answers."""
    r = parse_comment(body)
    if isinstance(r, Command):
        r = check_model(r, CONFIG)
    assert isinstance(r, Reply)
    return chatops.reply_text(r, CONFIG)


def _extra(body: str) -> str:
    r = parse_comment(body)
    assert r is not None and r.extra_count
    return chatops.extra_text(r)


def _outcome(status: str, release: Release = PROMOTE, **kw: object) -> Callable[[], str]:
    line = "/promote" if release.action == "promote" else "/rollback"
    return lambda: chatops.render_outcome(Outcome(status, release, **kw), line)  # type: ignore[arg-type]


def _review(**kw: object) -> str:
    base: dict[str, object] = dict(head_sha=HEAD, pr_author="alice", required_when=["regression"], min_approvals=1,
                                   is_approver=lambda u: u != "eve", decision=None, evaluated=True)
    reviews = kw.pop("reviews", [])
    base.update(kw)
    state = review_state(reviews, **base)  # type: ignore[arg-type]
    return render_reply("review_check.md.j2", state=state, head=HEAD, approvers=["@acme/ml-reviewers"])


class _Regressed:
    regressed, data_failures, data_changed, inconclusive = True, 0, False, False


REFUSALS = {  # every release refusal, with facts that need escaping
    Refused.NOT_RELEASE_BRANCH: Refusal(Refused.NOT_RELEASE_BRANCH, base="wes-`policy`<b>", default="main"),
    Refused.UNPROTECTED: Refusal(Refused.UNPROTECTED, base="release/1.x", default="main"),
    Refused.POLICY_UNREADABLE: Refusal(Refused.POLICY_UNREADABLE,
                                       cause="reading the branch main: GitHub answered 502 (Bad Gateway)"),
}


def _denial(denial: Denial) -> Authorization:
    listed = ("@acme/ml-release", "ada") if denial == Denial.NOT_LISTED else ()
    return Authorization("rel", SPECS["promote"].requirement, denial=denial, role="read", listed=listed)


_M = {"model": "churn-classifier", "alias": "production", "version": "3"}
DEPLOYMENT: dict[str, DeploymentReason] = {  # one of each deployment answer's reasons, with the facts the handler gives
    "no_sha": DeploymentReason(Why.NO_SHA),
    "not_a_pr_head": DeploymentReason(Why.NOT_A_PR_HEAD, {"sha": HEAD[:12]}),
    "check_not_green": DeploymentReason(Why.CHECK_NOT_GREEN, {"pr": "7", "check": "mlgate/review", "state": "", "sha": HEAD[:12]}),
    "not_promoted": DeploymentReason(Why.NOT_PROMOTED, {"sha": HEAD[:12], "pr": "7"}),
    "alias_moved": DeploymentReason(Why.ALIAS_MOVED, {**_M, "sha": HEAD[:12], "current": "4"}),
    "registry_unreadable": DeploymentReason(Why.REGISTRY_UNREADABLE, {**_M, "error": "ConnectionError"}),
    "registry_elsewhere": DeploymentReason(Why.REGISTRY_ELSEWHERE, {**_M, "live": "", "sha": HEAD[:12]}),
    "gates_green": DeploymentReason(Why.GATES_GREEN, {"pr": "7", "sha": HEAD[:12]}),
    "promoted_and_served": DeploymentReason(Why.PROMOTED_AND_SERVED, {**_M, "actor": "wes"}),
    "undecided": DeploymentReason(Why.UNDECIDED, {"cause": "the store was down"}),
}
assert set(DEPLOYMENT) == set(Why), set(Why) - set(DEPLOYMENT)


CASES: dict[str, Callable[[], str]] = {
    "help.md": lambda: _parsed("/help"),
    "usage.md": lambda: _parsed("/promote churn-clasifier"),
    "usage-flag.md": lambda: _parsed("/rollback --dryrun"),
    "unknown.md": lambda: _parsed("/promot"),
    "extra_commands.md": lambda: _extra("/status\n/promote --dry-run\n/rollback\n/help\n/evaluate"),
    "extra_commands-one.md": lambda: _extra("/status\nand\n/help"),
    "denied.md": lambda: render_reply("denied.md.j2", line="/rollback", auth=Authorization(
        "wes", SPECS["rollback"].requirement, denial=Denial.ROLE_TOO_LOW, role="write")),
    "denied-not_listed.md": lambda: render_reply("denied.md.j2", line="/promote", auth=_denial(Denial.NOT_LISTED)),
    **{f"denial_reason-{d.value}.md": partial(render_reply, "denial_reason.md.j2", auth=_denial(d)) for d in Denial},
    "error.md": lambda: render_reply("error.md.j2", line="/status", error="GitHub answered 500 <b>"),
    "no_config-missing.md": lambda: render_reply("no_config.md.j2", line="/promote", problem=None),
    "release_refused.md": lambda: render_reply(
        "release_refused.md.j2", line="/rollback --to 1",
        refusal=Refusal(Refused.NOT_RELEASE_BRANCH, base="wes-policy", default="main")),
    **{f"release_refusal-{code.value}.md": partial(render_reply, "release_refusal.md.j2", r=REFUSALS[code])
       for code in Refused},
    "undecided.md": lambda: render_reply(
        "undecided.md.j2", what="read the policy", retrying=False,
        cause="reading the branch main: GitHub answered 404 (Not Found)"),
    "undecided-retrying.md": lambda: render_reply(
        "undecided.md.j2", what="list the changed files", retrying=True,
        cause="listing the files of PR #7: GitHub answered 502 <b>(Bad Gateway)</b>"),
    "untrusted_report.md": lambda: render_reply(  # issue #11: a PR's own workflow's report, path chosen by the PR
        "untrusted_report.md.j2", run_url="https://github.com/acme/churn/actions/runs/4242",
        why=uploader_problem(RunInfo(4242, ".github/workflows/`mlgate`<b>.yml", "pull_request", "pr-7", HEAD,
                                     "acme/churn", "mallory/churn", "mallory", "success", None, ()),
                             CONFIG.evaluation, "main", "acme/churn")),
    "draft_check.md": lambda: render_reply("draft_check.md.j2", workflow=CONFIG.evaluation.workflow),
    "merge_group_check-failing.md": lambda: render_reply(  # issue #16: the reasons merge_group.judge writes
        "merge_group_check.md.j2", head=HEAD, base_branch="main", prs=[7, 9], check="mlgate/evaluation",
        check_evaluation=True, waiting=False, group_evaluated=False,
        problems=[f"#9: mlgate/evaluation is failure on its head {HEAD[:12]}",
                  f"the group changes {inline_code('data/`x`<b>.csv')}, which no pull request in it "
                  "changes, so it was never evaluated"]),
    "merge_group_check-waiting.md": lambda: render_reply(
        "merge_group_check.md.j2", head=HEAD, base_branch="main", prs=[7], check="mlgate/evaluation",
        check_evaluation=True, waiting=True, group_evaluated=False, problems=[]),
    "merge_group_check-passing.md": lambda: render_reply(
        "merge_group_check.md.j2", head=HEAD, base_branch="main", prs=[7, 9], check="mlgate/review",
        check_evaluation=False, waiting=False, group_evaluated=False, problems=[]),
    "deployment_review-rejected.md": lambda: render_reply(
        "deployment_review.md.j2", approved=False, environment="production",
        reasons=[DEPLOYMENT["not_promoted"]]),
    "deployment_review-approved.md": lambda: render_reply(
        "deployment_review.md.j2", approved=True, environment="production",
        reasons=[DEPLOYMENT["gates_green"], DEPLOYMENT["promoted_and_served"]]),
    **{f"deployment_reason-{why}.md": partial(render_reply, "deployment_reason.md.j2", r=r)
       for why, r in DEPLOYMENT.items()},
    "no_config-invalid.md": lambda: render_reply("no_config.md.j2", line="/promote",
                                                 problem="mlgate.yml:3: models is required"),
    "evaluate-rerun.md": lambda: render_reply("evaluate.md.j2", line="/evaluate", head=HEAD, run_id=4242),
    "evaluate-none.md": lambda: render_reply("evaluate.md.j2", line="/evaluate", head=HEAD, run_id=None),
    "status.md": lambda: render_reply(
        "status.md.j2", head=HEAD, gates=[{"name": "mlgate/evaluation", "state": "success"},
                                          {"name": "mlgate/review", "state": "not reported"}],
        base="main", unrequired=["mlgate/review"],
        models=[{"name": "churn-classifier", "alias": "production", "version": "2",
                 "metrics": [("roc_auc", "0.79"), ("f1", "0.71")],
                 "last": {"action": "promote", "actor": "wes", "pr": 7}}],
        registry_problem=None, config_problem=None, has_config=True),
    "status-degraded.md": lambda: render_reply(
        "status.md.j2", head=HEAD, gates=[{"name": "mlgate/evaluation", "state": "failure"},
                                          {"name": "mlgate/review", "state": "failure"}],
        base="main", unrequired=None, models=[],
        registry_problem="the MLflow server at http://mlflow:5000 cannot be reached", config_problem="bad",
        has_config=False),
    "promote-done.md": _outcome("done", from_version="1", to_version="2", rows=ROWS, registered=True, audit_id=12,
                                deployment_id=99),
    "promote-done-warnings.md": _outcome(
        "done", from_version=None, to_version="1", rows=ROWS, audit_id=3,
        warnings=[Warned(Note.DEPLOYMENT_FAILED, {"cause": "GitHub answered 502"})]),
    "promote-merge.md": _outcome("done", Release("promote", "churn-classifier", "production", "wes", "d-3",
                                                 "acme/churn", 7, HEAD, via="merge"),
                                 from_version="2", to_version="3", audit_id=4),
    "promote-dry_run.md": _outcome("dry_run", from_version="1", to_version=None, rows=ROWS, registered=True),
    "promote-unchanged.md": _outcome("unchanged", from_version="2", to_version="2", reason=Reason.ALREADY_AT_VERSION,
                                     facts={"model": "churn-classifier", "alias": "production", "version": "2"}),
    "promote-already-delivery.md": _outcome("already_done", from_version="1", to_version="2",
                                            reason=Reason.SAME_DELIVERY, earlier=EARLIER),
    "promote-already-head.md": _outcome("already_done", from_version="1", to_version="2",
                                        reason=Reason.HEAD_ALREADY_PROMOTED, facts={"actor": "wes", "version": "2"},
                                        earlier=EARLIER),
    "promote-refused.md": _outcome(
        "refused", reason=Reason.GATES_NOT_GREEN, facts={"evaluation": "failure", "review": "", "head": "0123456"}),
    "promote-refused-provenance.md": _outcome(
        "refused", from_version="1", reason=Reason.NOT_LOGGED_BY_MLGATE,
        facts={"kind": promotion.candidate_kind("s3://bucket/model")}),
    "promote-lock_held.md": _outcome("lock_held", lock=LOCK, reason=Reason.LOCK_HELD,
                                     facts={"holder": LOCK.holder, "model": "churn-classifier", "since": LOCK.since}),
    "promote-failed-unchanged.md": _outcome(
        "failed", reason=Reason.REGISTRY_FAILED, facts={"cause": "the MLflow server at http://mlflow:5000 cannot be "
                                                                 "reached"}, alias_state="unchanged"),
    "promote-failed-restored.md": _outcome(
        "failed", from_version="1", to_version="2", reason=Reason.MOVE_FAILED,
        facts={"alias": "production", "cause": "boom"}, alias_state="restored"),
    "promote-failed-unknown.md": _outcome(
        "failed", from_version="1", to_version="2", reason=Reason.MOVE_FAILED,
        facts={"alias": "production", "cause": "timeout"}, alias_state="unknown"),
    "rollback-done.md": _outcome("done", ROLLBACK, from_version="2", to_version="1", rows=ROWS, audit_id=13,
                                 deployment_id=100),
    "rollback-dry_run.md": _outcome("dry_run", ROLLBACK, from_version="2", to_version="1", rows=ROWS),
    "rollback-refused.md": _outcome(
        "refused", ROLLBACK, from_version="1", to_version="7", reason=Reason.VERSION_NOT_FOUND,
        facts={"model": "churn-classifier", "version": "7", "existing": "1, 2", "closest": "2"}),
    "review_check-waiting.md": lambda: _review(evaluated=False),
    "review_check-not_required.md": lambda: _review(),
    "review_check-missing.md": lambda: _review(
        decision=_Regressed(), reviews=[ReviewIn("alice", "APPROVED", HEAD), ReviewIn("eve", "APPROVED", HEAD),
                                        ReviewIn("rita", "APPROVED", "f" * 40), ReviewIn("bob", "CHANGES_REQUESTED", HEAD)]),
    "review_check-approved.md": lambda: _review(decision=_Regressed(), reviews=[ReviewIn("rita", "APPROVED", HEAD)]),
    "accepted_check.md": lambda: render_reply("accepted_check.md.j2", who=["rita"], head=HEAD),
    "merge_denied.md": lambda: render_reply("merge_denied.md.j2", model="churn-classifier", auth=Authorization(
        "tom", Requirement(min_role="write"), denial=Denial.ROLE_TOO_LOW, role="triage")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reply_matches_golden(name: str) -> None:
    text = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1"
    assert text == path.read_text()
    # a reply is never itself a command, so mlgate cannot talk itself into acting
    assert parse_comment(text) is None


def test_every_reply_template_has_a_golden() -> None:
    """Here, or in tests/handlers/test_goldens.py for those bot.plan renders (checks and the comment)."""
    import re

    import bot.plan

    templates = {p.name.removesuffix(".md.j2") for p in (templates_dir() / "replies").glob("[!_]*.md.j2")}
    templates -= set(re.findall(r'"([a-z_]+)\.md\.j2"', Path(bot.plan.__file__).read_text()))
    covered = {"release", "release_reason"} | {n.removesuffix(".md").split("-")[0] for n in CASES}
    assert templates <= covered, templates - covered


def test_every_outcome_status_has_a_golden() -> None:
    statuses = set(promotion.Status.__args__)  # type: ignore[attr-defined]
    covered = {n.removesuffix(".md").split("-")[1] for n in CASES if n.startswith(("promote-", "rollback-"))}
    assert statuses <= covered | {"already_done"} and "already" in covered, statuses - covered
