"""Running chat-ops commands: the table of runners, reactions and replies.

`TABLE` maps each command to its runner and its requirement (from `bot.commands.SPECS`).
Permission is checked when the command runs, by `bot.permissions` (GitHub's collaborator
permission API and team membership, combined with the policy's `commands:` lists; bot.policy:
the default branch's). Each comment with commands gets 👀 on receipt and 🚀 (all succeeded)
or 😕 at the end; each command gets one reply, identified by a hidden marker (comment id +
position), so a redelivered webhook edits the same reply instead of posting a second one.
Outcomes are data (a `Denial` code, a status, a gate's state) and `templates/replies/` words them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot import ports, promotion
from bot.commands import (
    SPECS,
    Command,
    Parsed,
    Reply,
    Spec,
    check_model,
    normalize_version,
)
from bot.config import Config
from bot.context import Context
from bot.numbers import metric_format
from bot.permissions import Authorization, Denial, Permissions, Requirement, refused
from bot.policy import Refusal
from bot.render.text import environment, inline_code
from bot.render.text import escape_md as escape

EYES, ROCKET, CONFUSED = "eyes", "rocket", "confused"
REPLY_MARKER = "<!-- mlgate:reply {comment}.{index} -->"

# Reply budgets: at most this many replies per sliding window of seconds, per commenter (in a
# repository) and per PR. Each reply holds one of the slots, a row of the store's `locks` table
# that expires with the window, so every worker process shares the count and two processes
# can never take the same slot. Commands that need a role, run by someone who has it, are
# never limited (see `run_comment`).
BUDGETS: dict[str, tuple[int, float]] = {"user": (5, 600.0), "pr": (10, 600.0)}


# ---------------------------------------------------------------- reply wording


def render_reply(template: str, **ctx: Any) -> str:
    """Render `templates/replies/<template>` in the one Jinja environment (bot.render.text); all of
    mlgate's reply wording lives there."""
    return environment().get_template(f"replies/{template}").render(**ctx).strip() + "\n"


def escape_md(text: object, limit: int = 200) -> str:
    """Untrusted text made inert in Markdown (bot.render.text), up to a reply's 200 characters."""
    return escape(text, limit)


def listed_for(req: Requirement, config: Config | None) -> tuple[str, ...]:
    """The policy's `commands:` list that replaces `req`'s role rule (empty: the role rule applies)."""
    if config is None or req.config_key is None:
        return ()
    return tuple(getattr(config.commands, req.config_key, []) or [])


def help_text(config: Config | None) -> str:
    rows = [{"usage": s.usage, "summary": s.summary, "requirement": s.requirement,
             "listed": listed_for(s.requirement, config)} for s in SPECS.values()]
    return render_reply("help.md.j2", rows=rows)


def denial_reason(auth: Authorization) -> str:
    """Why `auth` was refused, in the words the reply uses (kept in the audit record too)."""
    return render_reply("denial_reason.md.j2", auth=auth).strip()


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
    releases_refused: Refusal | None = None  # bot.policy: why /promote and /rollback may not run for this PR
    via: str = "comment"
    permissions: Permissions | None = None  # the job's (one question per user); a fresh one when None

    def __post_init__(self) -> None:
        if self.permissions is None:
            self.permissions = Permissions(self.ctx.github)

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


def authorize(inv: Invocation, spec: Spec, user: str) -> Authorization:
    """May `user` run `spec` now? The policy's list replaces the default role rule."""
    assert inv.permissions is not None
    return inv.permissions.authorize(spec.requirement, user, listed=listed_for(spec.requirement, inv.config),
                                     author=inv.pull.author if inv.pull is not None else None)


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
    if auth is not None and auth.trusted:
        release_budget(inv.ctx, inv.repo, inv.number, inv.actor)  # the handler may have taken slots
    elif not within_budget(inv.ctx, inv.repo, inv.number, inv.actor, item):
        if isinstance(item, Command) and auth is not None and not auth.allowed:
            _denied(inv, item, auth)
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


def over_budget(ctx: Context, user: str, cmd: Command, permissions: Permissions, *, repo: str,
                number: int) -> bool:
    """Over the reply budget only a role still lets a command run: True (the refusal audited) when
    `user`'s role alone does not let them run `cmd` (one API call, before the PR and the policy)."""
    req = SPECS[cmd.name].requirement
    if permissions.has_role(user, req.min_role):
        return False
    record_denied(ctx, refused(user, req, Denial.OVER_BUDGET), command=cmd.name, model=cmd.model, line=cmd.line,
                  repo=repo, number=number, sha=None)
    return True


def refuse_bot(ctx: Context, user: str, cmd: Command, *, repo: str, number: int) -> None:
    """Bots never run commands; a command that needs a role, tried by one, is audited."""
    req = SPECS[cmd.name].requirement
    if req.min_role is not None:
        record_denied(ctx, refused(user, req, Denial.BOT), command=cmd.name, model=cmd.model, line=cmd.line,
                      repo=repo, number=number, sha=None)


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


def record_denied(ctx: Context, auth: Authorization, *, command: str, model: str | None, line: str, repo: str,
                  number: int, sha: str | None) -> None:
    """Keep a refused command (or promotion on merge) in the audit log, with the reply's reason."""
    promotion.record_denied(ctx.store, actor=auth.user, command=command, why=denial_reason(auth), repo=repo,
                            pr=number, sha=sha, model=model, delivery_id=ctx.delivery_id, line=line)


def _denied(inv: Invocation, cmd: Command, auth: Authorization) -> None:
    record_denied(inv.ctx, auth, command=cmd.name, model=cmd.model, line=cmd.line, repo=inv.repo, number=inv.number,
                  sha=inv.pull.head_sha if inv.pull is not None else None)


def run_command(inv: Invocation, cmd: Command, auth: Authorization | None = None) -> Result:
    """Check permission when the command runs, then the model against the config, then run it."""
    entry = TABLE[cmd.name]
    auth = auth or authorize(inv, entry.spec, inv.actor)
    if not auth.allowed:
        _denied(inv, cmd, auth)
        return Result(False, render_reply("denied.md.j2", line=cmd.line, auth=auth))
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
    if inv.releases_refused is not None:
        return Result(False, render_reply("release_refused.md.j2", line=cmd.line, refusal=inv.releases_refused))
    if inv.config is not None:
        return None
    return Result(False, render_reply("no_config.md.j2", line=cmd.line, problem=inv.config_problem))


def _gate_state(store: ports.Store, repo: str, head: str, name: str) -> str:
    """A check mlgate wrote without a conclusion is still running (queued or waiting for an approval)."""
    conclusion = store.check_conclusion(repo, head, name)
    if conclusion:
        return conclusion
    return "in progress" if store.check_id(repo, head, name) is not None else "not reported"


def run_status(inv: Invocation, cmd: Command) -> Result:
    """Production versions and key metrics, this PR's gates, branch protection warnings."""
    store, gh = inv.ctx.store, inv.ctx.github
    head = inv.pull.head_sha
    gates = [{"name": n, "state": _gate_state(store, inv.repo, head, n)} for n in (promotion.EVALUATION, promotion.REVIEW)]
    required = gh.required_checks(inv.pull.base_ref)
    # None: the base branch is not protected; else the mlgate checks its protection does not require
    unrequired = None if required is None else [n for n in (promotion.EVALUATION, promotion.REVIEW)
                                                if n not in required]
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
                models.append({"name": m.name, "alias": alias, "version": version, "metrics": metrics,
                               "last": store.last_release(m.name, alias)})
        except Exception as exc:
            registry_problem = _first_line(exc)
    return Result(True, render_reply("status.md.j2", head=head, gates=gates, base=inv.pull.base_ref,
                                     unrequired=unrequired, models=models,
                                     registry_problem=registry_problem, config_problem=inv.config_problem,
                                     has_config=inv.config is not None))


def run_evaluate(inv: Invocation, cmd: Command) -> Result:
    """Re-run the evaluation workflow of the PR's current head."""
    head = inv.pull.head_sha
    latest = inv.ctx.store.latest_evaluation(inv.repo, inv.number, head)
    run_id = latest.get("run_id") if latest else None
    if not run_id:
        return Result(False, render_reply("evaluate.md.j2", line=cmd.line, head=head, run_id=None))
    inv.ctx.github.rerun_workflow(int(run_id))
    from bot.apply import write_check
    from bot.plan import rerun_check

    write_check(inv.ctx.github, inv.ctx.store, inv.repo,
                rerun_check(head, run_id=int(run_id), before=None, by=f"@{inv.actor}"))
    return Result(True, render_reply("evaluate.md.j2", line=cmd.line, head=head, run_id=run_id))


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


def _metric_row(m: promotion.MetricRow) -> dict[str, str]:
    """A before/after row in the metric's own decimals (bot.numbers), as the comment writes it."""
    fmt = metric_format(m.name, m.before, m.after)
    return {"name": inline_code(m.name), "before": fmt.value(m.before), "after": fmt.value(m.after),
            "delta": fmt.delta(m.delta)}


def _safe(text: str, limit: int = 400) -> str:
    """mlgate's own sentences, which may quote names: one line, no HTML, bounded."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def render_outcome(out: promotion.Outcome, line: str) -> str:
    """The reply for a promotion or rollback outcome (also printed by the operator CLI)."""
    r = out.release
    rows = [_metric_row(m) for m in out.rows]
    lock = None
    if out.lock is not None:
        lock = {"holder": _safe(out.lock.holder, 300), "since": out.lock.since}
    earlier = None
    if out.earlier is not None:
        from datetime import UTC, datetime

        earlier = {"actor": escape_md(out.earlier.actor), "delivery": escape_md(out.earlier.delivery_id or ""),
                   "at": datetime.fromtimestamp(out.earlier.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    return render_reply(
        "release.md.j2", status=out.status, action=r.action, line=inline_code(line) if line else "",
        model=escape_md(r.model), alias=escape_md(r.alias), actor=escape_md(r.actor), dry_run=r.dry_run,
        before=out.from_version, after=out.to_version, registered=out.registered, rows=rows,
        reason=_safe(promotion.reason_text(out)), fix=_safe(promotion.fix_text(out)), alias_state=out.alias_state,
        lock=lock, warnings=[_safe(promotion.note_text(w)) for w in out.warnings], audit_id=out.audit_id,
        deployment_id=out.deployment_id,
        environment=escape_md(f"model/{r.model}@{'canary' if r.canary is not None else r.alias}"), earlier=earlier,
        via=r.via, unverified=out.unverified, canary=r.canary,
    )
