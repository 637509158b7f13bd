"""issue_comment.created on a pull request: parse the comment once and apply its one command.

Edited and deleted comments run nothing (only "created" is routed), so nobody can turn an
old, approved-looking comment into a command. Comments by bots, mlgate included, are never
obeyed; a command that another bot tries is kept in the audit log, without a reply (two
bots answering each other would never stop).
"""

from __future__ import annotations

from typing import Any

from bot import chatops
from bot.commands import Command, parse_comment
from bot.context import Context
from bot.permissions import Permissions
from bot.routing import Router


def is_bot(user: dict[str, Any]) -> bool:
    login = str(user.get("login") or "")
    return user.get("type") == "Bot" or login.endswith("[bot]")


def on_created(ctx: Context) -> None:
    payload = ctx.event.payload
    issue = payload.get("issue") or {}
    if not issue.get("pull_request"):
        return  # a plain issue: mlgate's commands are about pull requests
    comment = payload.get("comment") or {}
    user = comment.get("user") or {}
    login, body = str(user.get("login") or ""), str(comment.get("body") or "")
    number, repo = int(issue["number"]), ctx.event.repo or ""
    if is_bot(user):
        _audit_bot(ctx, login, body, repo, number)
        return
    parsed = parse_comment(body)  # linear in the body, so it may run before any permission check
    if parsed is None:
        return  # an ordinary comment costs no API call
    if chatops.always_limited(parsed) and not chatops.within_budget(ctx, repo, number, login, parsed):
        return  # over the reply budget: nothing is posted, and no API call is spent on it
    permissions = Permissions(ctx.github)  # each user's role asked once in this job
    if isinstance(parsed, Command) and not chatops.within_budget(ctx, repo, number, login, parsed, report=False) \
            and chatops.over_budget(ctx, login, parsed, permissions, repo=repo, number=number):
        chatops.within_budget(ctx, repo, number, login, parsed)  # logs and counts the suppressed reply
        # over the budget, only a role can still let a release command run: that one question
        # (one call) is asked before the pull request and the policy, so a flood costs one call each
        return
    pull = ctx.github.pull(number)
    # the default branch's policy as it is now (a tightened `commands:` list applies at once), never
    # the PR's base: its author may have created that branch, and the config on it, themself
    from bot.github_client import GitHubError, RetryLater
    from bot.policy import Refusal, Refused, resolve_policy

    try:
        policy = resolve_policy(ctx, pull.base_ref)
        config, problem, refused = policy.config, policy.problem, policy.refusal
    except RetryLater:
        raise  # the queue tries again; nothing was run or replied yet
    except GitHubError as exc:
        config, problem = None, None
        refused = Refusal(Refused.POLICY_UNREADABLE, cause=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    inv = chatops.Invocation(ctx=ctx, repo=repo, number=number, actor=login, comment_id=int(comment["id"]),
                             pull=pull, config=config, config_problem=problem, releases_refused=refused,
                             permissions=permissions)
    chatops.run_comment(inv, parsed)


def _audit_bot(ctx: Context, login: str, body: str, repo: str, number: int) -> None:
    if chatops.REPLY_MARKER.split(" ")[1] in body or "<!-- mlgate:" in body:
        return  # our own reply or report
    item = parse_comment(body)
    if isinstance(item, Command):
        chatops.refuse_bot(ctx, login, item, repo=repo, number=number)


router = Router({"issue_comment.created": on_created})
