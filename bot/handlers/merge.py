"""pull_request closed with merged: promote automatically when `promote.on_merge` is set.

The same use case as /promote: both gates must be green on the merged head SHA, the
merger must be allowed to /promote, and the result is recorded and replied on the PR.
"""

from __future__ import annotations

from bot import chatops, promotion
from bot.apply import after_release
from bot.chatops import render_reply
from bot.commands import SPECS
from bot.context import Context
from bot.permissions import Permissions
from bot.routing import Router

MERGE_MARKER = "<!-- mlgate:merge-promotion {model} -->"


def on_closed(ctx: Context) -> None:
    payload = ctx.event.payload
    pr = payload.get("pull_request") or {}
    if not pr.get("merged"):
        return
    repo, number = ctx.event.repo or "", int(pr["number"])
    from bot.github_client import GitHubError, RetryLater
    from bot.policy import resolve_policy

    try:
        policy = resolve_policy(ctx, str(pr["base"]["ref"]))  # the default branch's, or a protected release's
    except RetryLater:
        raise
    except GitHubError as exc:
        ctx.log.warning("no promotion on merge of #%s: the policy could not be read: %s", number, exc)
        return  # fail closed: nothing is promoted without a policy
    config = policy.config
    if config is None or not config.promote.on_merge:
        return
    if policy.refusal is not None:
        from bot.render.text import render_template

        ctx.log.info("no promotion on merge of #%s (%s): %s", number, policy.refusal.code.value,
                     render_template("replies/release_refusal.md.j2", r=policy.refusal).strip())
        return
    head = str(pr["head"]["sha"])  # the merged head, on which both gates must be green
    merger = str((pr.get("merged_by") or payload.get("sender") or {}).get("login") or "")
    requirement = SPECS["promote"].requirement  # the merger must be allowed to /promote
    auth = Permissions(ctx.github).authorize(requirement, merger, listed=chatops.listed_for(requirement, config))
    for model in config.models:
        marker = MERGE_MARKER.format(model=model.name)
        if not auth.allowed:
            chatops.record_denied(ctx, auth, command="promote", model=model.name, line="promote on merge",
                                  repo=repo, number=number, sha=head)
            text = render_reply("merge_denied.md.j2", model=model.name, auth=auth)
        else:
            release = promotion.Release(
                action="promote", model=model.name, alias=config.promote.alias, actor=merger,
                delivery_id=ctx.delivery_id, repo=repo, pr=number, head_sha=head, via="merge",
                metrics=tuple(model.metrics), trust=config.evaluation.trust)
            out = promotion.promote(ctx.store, ctx.registry, ctx.github, release)
            after_release(ctx, number, out)  # the living comment's state block says so
            text = chatops.render_outcome(out, "")
        ctx.github.upsert_sticky_comment(number, f"{text.rstrip()}\n\n{marker}\n", marker)


router = Router({"pull_request.closed": on_closed})
