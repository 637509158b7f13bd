"""deployment_protection_rule requested: mlgate as a custom protection rule of an environment.

An environment (say `production`) whose protection rules include this App holds every job that
targets it until the App answers through the run's callback. mlgate approves only a deployment
of a commit it gated and released:

- the commit is the head of a pull request whose mlgate/evaluation and mlgate/review are
  green there (the store's record of the checks mlgate itself set; neutral is not green), and
- a model was promoted from that commit with /promote (a successful audit row for that head),
  and the alias it moved still points at that version (the audit log, and the registry when the
  worker has one): a later rollback or another promotion means this commit is not what
  production serves.

Anything else is rejected with the reason (fail closed: a deployment mlgate cannot vouch for
never goes out). Reasons are codes with their facts (`Why`); templates/replies/_deployment.md.j2
words them. Every answer is written to the audit log like a promotion (action
`deployment_review`, result approved/rejected, with the environment and run in its detail).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from enum import StrEnum

from bot.context import Context
from bot.plan import EVALUATION, REVIEW
from bot.routing import Router

A_DEPLOYMENT = "deployment_review"
_CALLBACK = re.compile(r"/repos/([^/]+/[^/]+)/actions/runs/(\d{1,19})/deployment_protection_rule$")


class Why(StrEnum):
    """Why a deployment was answered as it was; each is worded in templates/replies/_deployment.md.j2."""

    NO_SHA = "no_sha"  # the deployment names no commit
    NOT_A_PR_HEAD = "not_a_pr_head"  # sha
    CHECK_NOT_GREEN = "check_not_green"  # pr, check, state, sha
    NOT_PROMOTED = "not_promoted"  # sha, pr
    ALIAS_MOVED = "alias_moved"  # model, version, sha, alias, current
    REGISTRY_UNREADABLE = "registry_unreadable"  # model, alias, error
    REGISTRY_ELSEWHERE = "registry_elsewhere"  # model, alias, live, version, sha
    GATES_GREEN = "gates_green"  # pr, sha
    PROMOTED_AND_SERVED = "promoted_and_served"  # model, version, actor, alias
    UNDECIDED = "undecided"  # cause


@dataclass(frozen=True)
class DeploymentReason:
    why: Why
    facts: dict[str, str] = field(default_factory=dict)


def _r(why: Why, **facts: object) -> DeploymentReason:
    return DeploymentReason(why, {k: "" if v is None else str(v) for k, v in facts.items()})


@dataclass
class DeploymentDecision:
    approved: bool
    reasons: list[DeploymentReason] = field(default_factory=list)  # why not (rejected) or what was checked (approved)
    pr: int | None = None
    model: str | None = None
    version: str | None = None


def callback_run(url: str, repo: str) -> int | None:
    """The run id of a callback URL that names this repository's run; None for anything else."""
    m = _CALLBACK.search(url or "")
    if m is None or m.group(1).lower() != repo.lower():
        return None
    return int(m.group(2))


def decide_deployment(ctx: Context, sha: str) -> DeploymentDecision:
    repo = ctx.event.repo or ""
    prs = ctx.store.prs_with_head(repo, sha)
    if not prs:
        return DeploymentDecision(False, [_r(Why.NOT_A_PR_HEAD, sha=sha[:12])])
    checks = {name: ctx.store.check_conclusion(repo, sha, name) for name in (EVALUATION, REVIEW)}
    pr = prs[0]
    not_green = [_r(Why.CHECK_NOT_GREEN, pr=pr, check=name, state=got or "", sha=sha[:12])
                 for name, got in checks.items() if got != "success"]
    if not_green:
        return DeploymentDecision(False, not_green, pr=pr)
    row = ctx.store.release_of_head(repo, sha)
    if row is None:
        return DeploymentDecision(False, [_r(Why.NOT_PROMOTED, sha=sha[:12], pr=pr)], pr=pr)
    model, version, alias = row.model, str(row.to_version), row.alias
    last = ctx.store.last_release(model, alias)
    current = str(last.to_version) if last is not None else None
    if current != version:
        return DeploymentDecision(False, [_r(Why.ALIAS_MOVED, model=model, version=version, sha=sha[:12], alias=alias,
                                             current=current)], pr, model, version)
    if ctx.registry_factory is not None:
        try:
            live = ctx.registry().alias_version(model, alias)
        except Exception as exc:  # noqa: BLE001 - any registry failure means mlgate cannot vouch
            return DeploymentDecision(False, [_r(Why.REGISTRY_UNREADABLE, model=model, alias=alias,
                                                 error=type(exc).__name__)], pr, model, version)
        if str(live) != version:
            return DeploymentDecision(False, [_r(Why.REGISTRY_ELSEWHERE, model=model, alias=alias, live=live,
                                                 version=version, sha=sha[:12])], pr, model, version)
    return DeploymentDecision(True, [_r(Why.GATES_GREEN, pr=pr, sha=sha[:12]),
                                     _r(Why.PROMOTED_AND_SERVED, model=model, version=version, actor=row.actor,
                                        alias=alias)], pr, model, version)


def on_requested(ctx: Context) -> None:
    _answer(ctx, None)


def reject_undecided(ctx: Context, reason: str) -> None:
    """After the last retry: reject, saying mlgate could not decide and why."""
    _answer(ctx, DeploymentDecision(False, [_r(Why.UNDECIDED, cause=reason)]))


def _answer(ctx: Context, given: DeploymentDecision | None) -> None:
    from bot.chatops import render_reply

    payload = ctx.event.payload
    repo = ctx.event.repo or ""
    environment = str(payload.get("environment") or "")[:255]
    deployment = payload.get("deployment") or {}
    sha = str(deployment.get("sha") or "")
    run_id = callback_run(str(payload.get("deployment_callback_url") or ""), repo)
    if run_id is None or not environment:
        # no way to answer: GitHub keeps the job waiting (it times out there), which is closed
        ctx.log.error("deployment_protection_rule without a callback for this repository's run or an environment")
        return
    if given is not None:
        decision = given
    elif re.fullmatch(r"[0-9a-f]{40}", sha):
        decision = decide_deployment(ctx, sha)
    else:
        decision = DeploymentDecision(False, [_r(Why.NO_SHA)])
    state = "approved" if decision.approved else "rejected"
    comment = render_reply("deployment_review.md.j2", approved=decision.approved, reasons=decision.reasons,
                           environment=environment, sha=sha)
    ctx.github.review_deployment(run_id, environment, state, comment)
    actor = str((ctx.event.sender or {}).get("login") or "github")
    row = ctx.store.record_audit(actor=actor, action=A_DEPLOYMENT, result=state, repo=repo, model=decision.model,
                                 to_version=decision.version, pr=decision.pr, sha=sha or None,
                                 delivery_id=ctx.delivery_id,
                                 detail=json.dumps({"environment": environment, "run_id": run_id,
                                                    "reasons": [reason_text(r) for r in decision.reasons]},
                                                   sort_keys=True))
    if decision.model and decision.version and ctx.registry_factory is not None:
        # mirrored on the model version like a promotion (best effort: the store's row is the record)
        from bot.promotion import HISTORY_PREFIX, mirror

        key = f"{HISTORY_PREFIX}{int(time.time() * 1000):013d}"
        value = json.dumps({"audit_id": row, "action": A_DEPLOYMENT, "result": state, "actor": actor,
                            "environment": environment, "run_id": run_id, "repo": repo, "pr": decision.pr,
                            "sha": sha, "delivery": ctx.delivery_id}, sort_keys=True)
        warning = mirror(ctx.registry(), decision.model, decision.version, (key, value))
        if warning:
            ctx.log.warning("deployment review %s: %s", row, warning)


def reason_text(reason: DeploymentReason) -> str:
    """One reason in words (the answer's list item; kept in the audit record too)."""
    from bot.chatops import render_reply

    return render_reply("deployment_reason.md.j2", r=reason).strip()


router = Router({"deployment_protection_rule.requested": on_requested})
