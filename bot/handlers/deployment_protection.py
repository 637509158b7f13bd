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
never goes out). Every answer is written to the audit log like a promotion (action
`deployment_review`, result approved/rejected, with the environment and run in its detail).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from bot.context import Context
from bot.plan import EVALUATION, REVIEW
from bot.routing import Router

A_DEPLOYMENT = "deployment_review"
_CALLBACK = re.compile(r"/repos/([^/]+/[^/]+)/actions/runs/(\d{1,19})/deployment_protection_rule$")


@dataclass
class DeploymentDecision:
    approved: bool
    reasons: list[str] = field(default_factory=list)  # why not (rejected) or what was checked (approved)
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
        return DeploymentDecision(False, [f"commit {sha[:12]} is not the head of a pull request mlgate gated; "
                                          "deploy the commit mlgate evaluated and /promote-d"])
    checks = {name: ctx.store.check_conclusion(repo, sha, name) for name in (EVALUATION, REVIEW)}
    not_green = [f"{name} is {got or 'not finished'} on {sha[:12]}" for name, got in checks.items()
                 if got != "success"]
    pr = prs[0]
    if not_green:
        return DeploymentDecision(False, [f"#{pr}: {w}" for w in not_green], pr=pr)
    row = ctx.store.release_of_head(repo, sha)
    if row is None:
        return DeploymentDecision(False, [f"no model was promoted from {sha[:12]}: a release owner runs /promote "
                                          f"on #{pr} first"], pr=pr)
    model, version, alias = row.model, str(row.to_version), row.alias
    last = ctx.store.last_release(model, alias)
    current = str(last.to_version) if last is not None else None
    if current != version:
        return DeploymentDecision(False, [f"{model} version {version} was promoted from {sha[:12]}, but "
                                          f"{model}@{alias} has since moved to version {current}"], pr, model, version)
    if ctx.registry_factory is not None:
        try:
            live = ctx.registry().alias_version(model, alias)
        except Exception as exc:  # noqa: BLE001 - any registry failure means mlgate cannot vouch
            return DeploymentDecision(False, [f"mlgate could not read {model}@{alias} from the registry "
                                              f"({type(exc).__name__})"], pr, model, version)
        if str(live) != version:
            return DeploymentDecision(False, [f"{model}@{alias} points at version {live} in the registry, not at "
                                              f"version {version} that mlgate promoted from {sha[:12]}"],
                                      pr, model, version)
    return DeploymentDecision(True, [f"#{pr}: mlgate/evaluation and mlgate/review are green on {sha[:12]}",
                                     f"{model} version {version} was promoted from it by {row.actor} and is "
                                     f"{model}@{alias}"], pr, model, version)


def on_requested(ctx: Context) -> None:
    _answer(ctx, None)


def reject_undecided(ctx: Context, reason: str) -> None:
    """After the last retry: reject, saying mlgate could not decide and why."""
    _answer(ctx, DeploymentDecision(False, [f"mlgate could not decide: {reason}"]))


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
        decision = DeploymentDecision(False, ["the deployment names no commit SHA"])
    state = "approved" if decision.approved else "rejected"
    comment = render_reply("deployment_review.md.j2", approved=decision.approved, reasons=decision.reasons,
                           environment=environment, sha=sha)
    ctx.github.review_deployment(run_id, environment, state, comment)
    actor = str((ctx.event.sender or {}).get("login") or "github")
    row = ctx.store.record_audit(actor=actor, action=A_DEPLOYMENT, result=state, repo=repo, model=decision.model,
                                 to_version=decision.version, pr=decision.pr, sha=sha or None,
                                 delivery_id=ctx.delivery_id,
                                 detail=json.dumps({"environment": environment, "run_id": run_id,
                                                    "reasons": decision.reasons}, sort_keys=True))
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


router = Router({"deployment_protection_rule.requested": on_requested})
