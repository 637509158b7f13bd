"""issue_comment.created on a pull request: parse the chat-ops commands and run them.

Edited and deleted comments run nothing (only "created" is routed), so nobody can turn an
old, approved-looking comment into a command. Comments by bots, mlgate included, are never
obeyed; a command that another bot tries is kept in the audit log, without a reply (two
bots answering each other would never stop).
"""

from __future__ import annotations

from typing import Any

from bot import chatops, promotion
from bot.commands import Command, parse_comment
from bot.context import Context, Handler
from bot.handlers import load_policy


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
    if not parse_comment(body, author_is_bot=False):
        return  # an ordinary comment costs no API call
    pull = ctx.github.pull(number)
    # the base branch as it is now: a tightened `commands:` list applies at once
    config, problem = load_policy(ctx, pull.base_ref)
    parsed = parse_comment(body, author_is_bot=False, config=config)
    inv = chatops.Invocation(ctx=ctx, repo=repo, number=number, actor=login, comment_id=int(comment["id"]),
                             pull=pull, config=config, config_problem=problem)
    chatops.run_comment(inv, parsed)


def _audit_bot(ctx: Context, login: str, body: str, repo: str, number: int) -> None:
    if chatops.REPLY_MARKER.split(" ")[1] in body or "<!-- mlgate:" in body:
        return  # our own reply or report
    for item in parse_comment(body, author_is_bot=False):
        if isinstance(item, Command) and chatops.TABLE[item.name].requirement.min_role is not None:
            promotion.record_denied(ctx.store, actor=login, command=item.name, why="bots may not run commands",
                                    repo=repo, pr=number, sha=None, model=item.model,
                                    delivery_id=ctx.delivery_id, line=item.line)


ROUTES: dict[str, Handler] = {"issue_comment.created": on_created}
