"""Running chat-ops commands: the table of runners and permissions, reactions and replies.

`TABLE` maps each command to its runner and its requirement (from `bot.commands.SPECS`).
Permission is checked when the command runs, from GitHub's collaborator permission API
and team membership, combined with the policy's `commands:` lists (bot.policy: the default branch's). Each comment with
commands gets 👀 on receipt and 🚀 (all succeeded) or 😕 at the end; each command gets one
reply, identified by a hidden marker (comment id + position), so a redelivered webhook
edits the same reply instead of posting a second one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2

import bot
from bot import promotion
from bot.commands import (
    ROLES,
    SPECS,
    Command,
    Parsed,
    Reply,
    Requirement,
    Spec,
    check_model,
    normalize_version,
)
from bot.config import Config
from bot.context import Context

EYES, ROCKET, CONFUSED = "eyes", "rocket", "confused"
REPLY_MARKER = "<!-- mlgate:reply {comment}.{index} -->"

# Reply budgets: at most this many replies per sliding window of seconds, per commenter (in a
# repository) and per PR. Each reply holds one of the slots, a row of the store's `locks` table
# that expires with the window, so every worker process shares the count and two processes
# can never take the same slot. Commands that need a role, run by someone who has it, are
# never limited (see `run_comment`).
BUDGETS: dict[str, tuple[int, float]] = {"user": (5, 600.0), "pr": (10, 600.0)}


# ---------------------------------------------------------------- reply wording


def templates_dir() -> Path:
    packaged = Path(bot.__file__).parent / "_templates"
    return packaged if packaged.is_dir() else Path(bot.__file__).parent.parent / "templates"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "replies")),
        autoescape=False,  # Markdown; every untrusted value goes through the `md` or `code` filter
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = escape_md
    env.filters["code"] = inline_code
    return env


def render_reply(template: str, **ctx: Any) -> str:
    """Render `templates/replies/<template>`; all of mlgate's reply wording lives there."""
    return _env().get_template(template).render(**ctx).strip() + "\n"


def escape_md(text: object, limit: int = 200) -> str:
    """Untrusted text made inert in Markdown (no tables broken, HTML, mentions, commands)."""
    from bot.render import escape_md as _escape

    return _escape(text, limit)


def inline_code(text: object, limit: int = 200) -> str:
    """Untrusted text shown as an inline code span that no backtick inside can close."""
    s = re.sub(r"[\r\n\t\x00-\x1f\x7f]+", " ", "" if text is None else str(text))
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def who_may(spec: Spec, config: Config | None) -> str:
    """Plain words for who may run a command under `config` (for /help and denials)."""
    req = spec.requirement
    listed = _listed(req, config)
    if listed:
        return "listed in `commands." + str(req.config_key) + "`: " + ", ".join(listed)
    if req.min_role is None:
        return "anyone"
    role = f"{req.min_role} permission or higher"
    return f"the PR author, or {role}" if req.author_ok else role


def _listed(req: Requirement, config: Config | None) -> list[str]:
    if config is None or req.config_key is None:
        return []
    return list(getattr(config.commands, req.config_key, []) or [])


def help_text(config: Config | None) -> str:
    rows = [{"usage": s.usage, "summary": s.summary, "who": who_may(s, config)} for s in SPECS.values()]
    return render_reply("help.md.j2", rows=rows)


def reply_text(reply: Reply, config: Config | None) -> str:
    """The words for a parse-time answer (the parser returns data, never wording)."""
    if reply.kind == "help":
        return help_text(config)
    if reply.kind == "unknown":
        return render_reply("unknown.md.j2", line=reply.line, name=reply.name, hint=reply.hint,
                            specs=list(SPECS.values()))
    spec = SPECS[reply.name]
    return render_reply("usage.md.j2", line=reply.line, name=reply.name, problem=reply.problem,
                        usage=spec.usage, to_flag=spec.to_flag, hint=reply.hint)


def extra_text(item: Parsed) -> str:
    """The short note on command lines after the first, which did nothing ("" when none)."""
    if not item.extra_count:
        return ""
    return render_reply("extra_commands.md.j2", line=item.line, extra=list(item.extra), count=item.extra_count)


@dataclass(frozen=True)
class Result:
    ok: bool
    text: str


@dataclass
class Invocation:
    """One command being run: who, where, under which policy."""

    ctx: Context
    repo: str
    number: int
    actor: str
    comment_id: int
    pull: Any  # bot.github_client.PullInfo (head SHA read when the command runs)
    config: Config | None
    config_problem: str | None = None
    releases_refused: str | None = None  # bot.policy: why /promote and /rollback may not run for this PR
    via: str = "comment"
    role_cache: dict[str, str] = field(default_factory=dict)

    @property
    def delivery_id(self) -> str:
        return self.ctx.delivery_id


Runner = Callable[[Invocation, Command], Result]


@dataclass(frozen=True)
class Entry:
    spec: Spec
    runner: Runner

    @property
    def requirement(self) -> Requirement:
        return self.spec.requirement


# ---------------------------------------------------------------- permission


@dataclass(frozen=True)
class Authorization:
    allowed: bool
    why: str = ""  # when denied: what the user has
    needs: str = ""  # when denied: what would make it pass
    by: Literal["list", "role", "author", "anyone", ""] = ""  # when allowed: what allowed it


def role_of(inv: Invocation, user: str) -> str:
    if user not in inv.role_cache:
        inv.role_cache[user] = str(inv.ctx.github.permission(user))
    return inv.role_cache[user]


def _rank(role: str | None) -> int:
    return ROLES.index(role) if role in ROLES else 0  # type: ignore[arg-type]


def in_list(github: Any, entries: Iterable[str], user: str) -> bool:
    """Is `user` named in a config list of users and `@org/team`s?"""
    for entry in entries:
        e = entry.strip()
        if e.startswith("@") and "/" in e:
            org, team = e[1:].split("/", 1)
            if github.team_member(org, team, user):
                return True
        elif e.lstrip("@").lower() == user.lower():
            return True
    return False


def authorize(inv: Invocation, spec: Spec, user: str) -> Authorization:
    """May `user` run `spec` now? Lists in the config replace the default role rule."""
    req = spec.requirement
    listed = list(getattr(inv.config.commands, req.config_key, []) or []) if inv.config and req.config_key else []
    if listed:
        if in_list(inv.ctx.github, listed, user):
            return Authorization(True, by="list")
        return Authorization(False, f"@{user} is not listed in `commands.{req.config_key}`",
                             f"be added to {', '.join(listed)} (`commands.{req.config_key}` of the policy on the default branch)")
    if req.min_role is None:
        return Authorization(True, by="anyone")
    if req.author_ok and inv.pull is not None and user.lower() == str(inv.pull.author).lower():
        return Authorization(True, by="author")
    role = role_of(inv, user)
    if _rank(role) >= _rank(req.min_role):
        return Authorization(True, by="role")
    have = f"@{user} has {role} permission" if role != "none" else f"@{user} is not a collaborator"
    return Authorization(False, have, who_may(spec, inv.config))


# ---------------------------------------------------------------- the comment loop


def run_comment(inv: Invocation, item: Parsed) -> bool:
    """Apply a comment's one parse result: react, run or answer, reply once; True on success.

    Everything mlgate would post spends a reply token of the commenter and of the PR, except
    a command that needs a role run by someone the role or the config's list allows: release
    owners can always act and hear back, even while someone floods the PR. Without a token
    nothing is posted and nothing runs; a log line and a metric say so, and a denied command
    is still written to the audit log.
    """
    auth: Authorization | None = None
    if isinstance(item, Command):
        auth = authorize(inv, TABLE[item.name].spec, inv.actor)
    trusted = auth is not None and auth.allowed and auth.by in ("list", "role")
    if trusted:
        release_budget(inv.ctx, inv.repo, inv.number, inv.actor)  # the handler may have taken slots
    elif not within_budget(inv.ctx, inv.repo, inv.number, inv.actor, item):
        if isinstance(item, Command) and auth is not None and not auth.allowed:
            _record_denied(inv, item, auth)
        return False
    gh = inv.ctx.github
    gh.add_reaction(inv.comment_id, EYES)
    if isinstance(item, Reply):
        result = Result(item.ok, reply_text(item, inv.config))
    else:
        assert auth is not None
        result = run_command(inv, item, auth)
    note = extra_text(item)
    post_reply(inv, 0, result.text.rstrip() + ("\n\n" + note if note else ""))
    gh.add_reaction(inv.comment_id, ROCKET if result.ok else CONFUSED)
    return result.ok


def always_limited(item: Parsed) -> bool:
    """Whether an answer to `item` takes a reply slot whoever asks: it needs no role to run."""
    return isinstance(item, Reply) or SPECS[item.name].requirement.min_role is None


def within_budget(ctx: Context, repo: str, number: int, actor: str, item: Parsed, *, report: bool = True) -> bool:
    """Take a reply slot of the commenter and one of the PR for this delivery; False (logged and
    counted) when either has none left. Asking again for the same delivery takes nothing more,
    so the handler may ask before any API call and `run_comment` again after."""
    holder = f"reply to delivery {ctx.delivery_id}"
    keys = {"user": f"reply:user:{repo}:{actor.lower()}", "pr": f"reply:pr:{repo}#{number}"}
    taken: list[str] = []
    for scope, key in keys.items():
        size, window = BUDGETS[scope]
        slot = _take_slot(ctx.store, key, size, window, holder)
        if slot is None:
            for name in taken:
                ctx.store.release(name, holder)
            if not report:  # the caller decides whether the answer is suppressed (a role may exempt it)
                return False
            from bot.metrics import metrics

            ctx.log.warning("chat-ops reply to @%s on %s#%s not posted: the %s reply budget is spent (%s)",
                            actor, repo, number, scope, item.line[:80])
            metrics().chatops_suppressed.labels(scope=scope).inc()
            return False
        taken.append(slot)
    return True


OVER_BUDGET = "@{} lacks the role and has no replies left in the budget"


def has_role(ctx: Context, user: str, cmd: Command) -> bool:
    """Whether `user`'s repository role alone lets them run `cmd` (one API call)."""
    return _rank(str(ctx.github.permission(user))) >= _rank(SPECS[cmd.name].requirement.min_role)


def release_budget(ctx: Context, repo: str, number: int, actor: str) -> None:
    """Give back the reply slots this delivery took: an answer nobody limits spends none."""
    holder = f"reply to delivery {ctx.delivery_id}"
    keys = {"user": f"reply:user:{repo}:{actor.lower()}", "pr": f"reply:pr:{repo}#{number}"}
    for scope, key in keys.items():
        for k in range(BUDGETS[scope][0]):
            ctx.store.release(f"{key}:{k}", holder)


def _take_slot(store: Any, key: str, size: int, window: float, holder: str) -> str | None:
    for k in range(size):
        name = f"{key}:{k}"
        held = store.acquire(name, holder, window)
        if held is None or held.holder == holder:
            return name
    return None


def _record_denied(inv: Invocation, cmd: Command, auth: Authorization) -> None:
    promotion.record_denied(inv.ctx.store, actor=inv.actor, command=cmd.name, why=auth.why, repo=inv.repo,
                            pr=inv.number, sha=inv.pull.head_sha if inv.pull else None, model=cmd.model,
                            delivery_id=inv.delivery_id, line=cmd.line)


def run_command(inv: Invocation, cmd: Command, auth: Authorization | None = None) -> Result:
    """Check permission when the command runs, then the model against the config, then run it."""
    entry = TABLE[cmd.name]
    auth = auth or authorize(inv, entry.spec, inv.actor)
    if not auth.allowed:
        _record_denied(inv, cmd, auth)
        return Result(False, render_reply("denied.md.j2", line=cmd.line, why=auth.why, needs=auth.needs))
    if inv.config is not None and (usage := check_model(cmd, inv.config)) is not None:
        return Result(False, reply_text(usage, inv.config))
    try:
        return entry.runner(inv, cmd)
    except Exception as exc:  # a reply that says what broke beats silence; the job log has the trace
        inv.ctx.log.exception("command %s failed", cmd.name)
        if cmd.name in ("promote", "rollback"):
            try:
                inv.ctx.store.record_audit(actor=inv.actor, action=cmd.name, result=promotion.R_FAILED,
                                           repo=inv.repo, model=cmd.model, pr=inv.number,
                                           sha=inv.pull.head_sha if inv.pull else None,
                                           delivery_id=inv.delivery_id, detail=_first_line(exc))
            except Exception:
                inv.ctx.log.exception("the failure could not be audited")
        return Result(False, render_reply("error.md.j2", line=cmd.line, error=_first_line(exc)))


def post_reply(inv: Invocation, index: int, text: str) -> int:
    marker = REPLY_MARKER.format(comment=inv.comment_id, index=index)
    return int(inv.ctx.github.upsert_sticky_comment(inv.number, f"{text.rstrip()}\n\n{marker}\n", marker))


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


# ---------------------------------------------------------------- runners


def _need_config(inv: Invocation, cmd: Command) -> Result | None:
    if inv.releases_refused:
        return Result(False, render_reply("release_refused.md.j2", line=cmd.line, why=inv.releases_refused))
    if inv.config is not None:
        return None
    return Result(False, render_reply("no_config.md.j2", line=cmd.line, problem=inv.config_problem))


def run_status(inv: Invocation, cmd: Command) -> Result:
    """Production versions and key metrics, this PR's gates, branch protection warnings."""
    store, gh = inv.ctx.store, inv.ctx.github
    head = inv.pull.head_sha
    gates = [{"name": n, "state": store.check_conclusion(inv.repo, head, n) or "not reported"}
             for n in (promotion.EVALUATION, promotion.REVIEW)]
    required = gh.required_checks(inv.pull.base_ref)
    warnings = []
    if required is None:
        warnings.append(f"the base branch {inv.pull.base_ref} is not protected: failed checks do not block merge")
    else:
        missing = [n for n in (promotion.EVALUATION, promotion.REVIEW) if n not in required]
        if missing:
            warnings.append(f"branch protection of {inv.pull.base_ref} does not require "
                            + " and ".join(f"`{m}`" for m in missing))
    models, registry_problem = [], None
    if inv.config is not None:
        try:
            reg = inv.ctx.registry()
            for m in inv.config.models:
                alias = inv.config.promote.alias
                version = reg.alias_version(m.name, alias)
                tags = reg.version_tags(m.name, version) if version else {}
                metrics = [(k[len(promotion.METRIC_PREFIX):], v) for k, v in sorted(tags.items())
                           if k.startswith(promotion.METRIC_PREFIX)]
                history = promotion.alias_history(store, m.name, alias)
                models.append({"name": m.name, "alias": alias, "version": version, "metrics": metrics,
                               "last": history[-1] if history else None})
        except Exception as exc:
            registry_problem = _first_line(exc)
    return Result(True, render_reply("status.md.j2", head=head, gates=gates, warnings=warnings, models=models,
                                     registry_problem=registry_problem, config_problem=inv.config_problem,
                                     has_config=inv.config is not None))


def run_evaluate(inv: Invocation, cmd: Command) -> Result:
    """Re-run the evaluation workflow of the PR's current head."""
    head = inv.pull.head_sha
    latest = inv.ctx.store.latest_evaluation(inv.repo, inv.number, head)
    if not latest or not latest.get("run_id"):
        return Result(False, render_reply("evaluate.md.j2", line=cmd.line, head=head, run_id=None))
    inv.ctx.github.rerun_workflow(int(latest["run_id"]))
    from bot.apply import write_check
    from bot.plan import rerun_check

    write_check(inv.ctx.github, inv.ctx.store, inv.repo,
                rerun_check(head, run_id=int(latest["run_id"]), before=None, by=f"@{inv.actor}"))
    return Result(True, render_reply("evaluate.md.j2", line=cmd.line, head=head, run_id=latest["run_id"]))


def release_for(inv: Invocation, cmd: Command) -> promotion.Release:
    assert inv.config is not None
    model = inv.config.model(cmd.model)
    alias = cmd.to if cmd.name == "promote" and cmd.to else inv.config.promote.alias
    if cmd.canary is not None:
        alias = inv.config.monitor.challenger
    version = normalize_version(cmd.to) if cmd.name == "rollback" and cmd.to else None
    return promotion.Release(
        action="promote" if cmd.name == "promote" else "rollback", model=model.name, alias=alias,
        actor=inv.actor, delivery_id=inv.delivery_id, repo=inv.repo, pr=inv.number, head_sha=inv.pull.head_sha,
        version=version, dry_run=cmd.dry_run, via=inv.via, metrics=tuple(model.metrics),
        trust=inv.config.evaluation.trust, canary=cmd.canary)


def run_promote(inv: Invocation, cmd: Command) -> Result:
    from bot.apply import after_release
    from bot.monitor.state import release_note

    if (missing := _need_config(inv, cmd)) is not None:
        return missing
    release = release_for(inv, cmd)
    live = None if cmd.canary is not None else release_note(inv.ctx.store, inv.repo, release.model)
    out = promotion.promote(inv.ctx.store, inv.ctx.registry, inv.ctx.github, release)
    after_release(inv.ctx, inv.number, out)  # the living comment's state block says so (bot.apply)
    text = render_outcome(out, cmd.line)
    return Result(out.ok, f"{live}\n{text}" if live else text)  # #17: a canary's live comparison first


def run_rollback(inv: Invocation, cmd: Command) -> Result:
    from bot.apply import after_release

    if (missing := _need_config(inv, cmd)) is not None:
        return missing
    out = promotion.rollback(inv.ctx.store, inv.ctx.registry, inv.ctx.github, release_for(inv, cmd))
    after_release(inv.ctx, inv.number, out)  # the living comment's state block says so (bot.apply)
    return Result(out.ok, render_outcome(out, cmd.line))


def run_help(inv: Invocation, cmd: Command) -> Result:
    return Result(True, help_text(inv.config))


TABLE: dict[str, Entry] = {
    "help": Entry(SPECS["help"], run_help),
    "status": Entry(SPECS["status"], run_status),
    "evaluate": Entry(SPECS["evaluate"], run_evaluate),
    "promote": Entry(SPECS["promote"], run_promote),
    "rollback": Entry(SPECS["rollback"], run_rollback),
}


# ---------------------------------------------------------------- release replies


def _num(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.4f}"


def _signed(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:+.4f}"


def _safe(text: str, limit: int = 400) -> str:
    """mlgate's own sentences, which may quote names: one line, no HTML, bounded."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def render_outcome(out: promotion.Outcome, line: str) -> str:
    """The reply for a promotion or rollback outcome (also printed by the operator CLI)."""
    r = out.release
    rows = [{"name": inline_code(m.name), "before": _num(m.before), "after": _num(m.after), "delta": _signed(m.delta)}
            for m in out.rows]
    lock = None
    if out.lock is not None:
        lock = {"holder": _safe(out.lock.holder, 300), "since": out.lock.since}
    earlier = None
    if out.earlier is not None:
        from datetime import UTC, datetime

        earlier = {"actor": escape_md(out.earlier["actor"]), "delivery": escape_md(out.earlier["delivery_id"]),
                   "at": datetime.fromtimestamp(out.earlier["at"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    return render_reply(
        "release.md.j2", status=out.status, action=r.action, line=inline_code(line) if line else "",
        model=escape_md(r.model), alias=escape_md(r.alias), actor=escape_md(r.actor), dry_run=r.dry_run,
        before=out.from_version, after=out.to_version, registered=out.registered, rows=rows,
        reason=_safe(out.reason), fix=_safe(out.fix), alias_state=out.alias_state, lock=lock,
        warnings=[_safe(w) for w in out.warnings], audit_id=out.audit_id, deployment_id=out.deployment_id,
        environment=escape_md(f"model/{r.model}@{'canary' if r.canary is not None else r.alias}"), earlier=earlier,
        via=r.via, unverified=out.unverified, canary=r.canary,
    )
