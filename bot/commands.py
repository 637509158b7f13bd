"""Chat-ops command parser: PR comment text in, commands or immediate replies out (pure).

A command is a line of a new PR comment that starts with `/`, outside fenced and indented
code, inline code spans, HTML comments and `>` quotes (including a quote's lazy
continuation lines, because GitHub renders those inside the quote). Several commands in
one comment run in the order written. Parsing never touches GitHub or MLflow; it only
renders reply wording from `templates/replies/`, so a usage error is answered at once and
nothing runs.

The grammar of every command (name, arguments, usage, who may run it by default) is in
`SPECS`; `bot.chatops.TABLE` pairs each spec with its runner.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2

import bot
from bot.config import Config

MAX_COMMANDS = 10  # per comment; more is almost certainly a paste, not intent

Role = Literal["none", "read", "triage", "write", "maintain", "admin"]
ROLES: tuple[Role, ...] = ("none", "read", "triage", "write", "maintain", "admin")


@dataclass(frozen=True)
class Requirement:
    """Who may run a command when the config names nobody.

    `min_role` is the lowest repository role (collaborator permission API) that may run it;
    `author_ok` lets the PR's author run it regardless of role; `config_key` names the
    `commands:` list in the base branch's config that, when non-empty, replaces the role
    rule by its users and `@org/team`s.
    """

    min_role: Role | None = None  # None: anyone
    author_ok: bool = False
    config_key: str | None = None


@dataclass(frozen=True)
class Spec:
    name: str
    usage: str
    summary: str
    requirement: Requirement
    takes_model: bool = False
    to_flag: str | None = None  # metavar of --to, when the command has one


SPECS: dict[str, Spec] = {
    "help": Spec("help", "/help", "lists the commands and who may run each", Requirement()),
    "status": Spec(
        "status", "/status", "production version and metrics, this PR's gates, branch protection",
        Requirement(),
    ),
    "evaluate": Spec(
        "evaluate", "/evaluate", "runs the evaluation workflow again",
        Requirement(min_role="triage", author_ok=True),
    ),
    "promote": Spec(
        "promote", "/promote [model] [--to ALIAS] [--dry-run]",
        "moves the alias (default production) to this PR's candidate",
        Requirement(min_role="write", config_key="promote"), takes_model=True, to_flag="ALIAS",
    ),
    "rollback": Spec(
        "rollback", "/rollback [model] [--to VERSION] [--dry-run]",
        "moves the alias back to the previous production version, or to VERSION",
        Requirement(min_role="maintain", config_key="rollback"), takes_model=True, to_flag="VERSION",
    ),
}


@dataclass(frozen=True)
class Command:
    """A command to run. `line` is the text as written (for replies and the audit log)."""

    name: str
    model: str | None = None
    to: str | None = None
    dry_run: bool = False
    line: str = ""
    index: int = 0  # position among the comment's commands; part of the reply's identity


@dataclass(frozen=True)
class Reply:
    """An answer that needs no permission and changes nothing: /help, usage errors."""

    text: str
    kind: Literal["help", "usage", "unknown", "too_many"]
    line: str = ""
    index: int = 0
    ok: bool = False  # /help is a success; usage errors are not


Parsed = Command | Reply


# ---------------------------------------------------------------- reply wording


def templates_dir() -> Path:
    packaged = Path(bot.__file__).parent / "_templates"
    return packaged if packaged.is_dir() else Path(bot.__file__).parent.parent / "templates"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "replies")),
        autoescape=False,  # Markdown; every untrusted value goes through the `md` filter
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


# ---------------------------------------------------------------- scanning


_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_FENCE_CLOSE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*$")
_QUOTE = re.compile(r"^ {0,3}>")
_COMMAND = re.compile(r"^ {0,3}/([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)(.*)$")


def command_lines(body: str) -> Iterator[str]:
    """The lines of `body` that are commands: start with /name, outside code, quotes, comments."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kinds = _classify(lines)
    in_span = _inside_code_spans(lines, kinds)
    for line, kind, code in zip(lines, kinds, in_span, strict=True):
        if kind == "text" and not code and _COMMAND.match(line):
            yield line.strip()


def _classify(lines: list[str]) -> list[str]:
    """Each line's block: text, blank, fence (code), quote, html (comment) or indented (code).

    A non-blank line right after a quote line, with no blank line between, is a lazy
    continuation: GitHub renders it inside the quote, so it counts as quote.
    """
    kinds: list[str] = []
    fence: str | None = None
    in_html = False
    prev = "blank"
    for line in lines:
        stripped = line.lstrip(" ")
        if fence is not None:
            m = _FENCE_CLOSE.match(line)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            kind = "fence"
        elif in_html:
            in_html = "-->" not in line
            kind = "html"
        elif not line.strip():
            kind = "blank"
        elif (m := _FENCE_OPEN.match(line)) and not (m.group(1)[0] == "`" and "`" in m.group(2)):
            fence = m.group(1)
            kind = "fence"
        elif _QUOTE.match(line) or prev == "quote":
            kind = "quote"
        elif stripped.startswith("<!--"):
            in_html = "-->" not in stripped[4:]
            kind = "html"
        elif (len(line) - len(stripped) >= 4 or line.startswith("\t")) and prev in ("blank", "indented"):
            kind = "indented"
        else:
            kind = "text"
        kinds.append(kind)
        prev = kind
    return kinds


def _inside_code_spans(lines: list[str], kinds: list[str]) -> list[bool]:
    """For each line: does it start inside an inline code span opened on an earlier line?

    CommonMark code spans may cross line breaks within a paragraph, so "`x\\n/promote`"
    shows /promote as code. A backtick run opens a span only if a run of the same length
    closes it later in the paragraph; otherwise it is literal.
    """
    inside = [False] * len(lines)
    i = 0
    while i < len(lines):
        if kinds[i] != "text":
            i += 1
            continue
        j = i
        while j < len(lines) and kinds[j] == "text":
            j += 1
        para = "\n".join(lines[i:j])
        starts = [0]
        for line in lines[i:j - 1]:
            starts.append(starts[-1] + len(line) + 1)
        runs = [(m.start(), m.end()) for m in re.finditer(r"`+", para)]
        spans: list[tuple[int, int]] = []
        k = 0
        while k < len(runs):
            a, b = runs[k]
            close = next((r for r in runs[k + 1:] if r[1] - r[0] == b - a), None)
            if close is None:
                k += 1
                continue
            spans.append((b, close[0]))
            k = runs.index(close) + 1
        for n, start in enumerate(starts):
            inside[i + n] = any(a <= start < c for a, c in spans)
        i = j
    return inside


# ---------------------------------------------------------------- parsing


def parse_comment(body: str, *, author_is_bot: bool, config: Config | None = None) -> list[Parsed]:
    """Everything a new comment asks for, in order: Commands to run and Replies to post.

    Bots (including mlgate) are never obeyed, so two bots cannot talk each other into a loop.
    With `config` (the base branch's), model names are checked and /help names the teams.
    """
    if author_is_bot or not body:
        return []
    lines = list(command_lines(body))
    out: list[Parsed] = []
    for index, line in enumerate(lines[:MAX_COMMANDS]):
        out.append(parse_line(line, config=config, index=index))
    if len(lines) > MAX_COMMANDS:
        out.append(Reply(render_reply("too_many.md.j2", limit=MAX_COMMANDS, ignored=lines[MAX_COMMANDS:]),
                         "too_many", lines[MAX_COMMANDS], MAX_COMMANDS))
    return out


def parse_line(line: str, *, config: Config | None = None, index: int = 0) -> Parsed:
    """One command line (starting with /) to a Command or a Reply."""
    m = _COMMAND.match(line)
    if m is None:
        raise ValueError(f"not a command line: {line!r}")
    name = m.group(1).lower()
    words = m.group(2).split()
    spec = SPECS.get(name)
    if spec is None:
        hint = _closest(name, SPECS)
        return Reply(render_reply("unknown.md.j2", line=line, name=name, hint=hint, specs=list(SPECS.values())),
                     "unknown", line, index)
    if name == "help":
        if words:
            return _usage(spec, line, index, f"`/help` takes no arguments; got {inline_code(' '.join(words))}")
        return Reply(help_text(config), "help", line, index, ok=True)
    if not spec.takes_model:
        if words:
            return _usage(spec, line, index, f"`/{name}` takes no arguments; got {inline_code(' '.join(words))}")
        return Command(name, line=line, index=index)
    return _parse_release(spec, words, line, index, config)


def _parse_release(spec: Spec, words: list[str], line: str, index: int, config: Config | None) -> Parsed:
    model: str | None = None
    to: str | None = None
    dry_run = False
    flags = ["--to", "--dry-run"]
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--dry-run":
            if dry_run:
                return _usage(spec, line, index, "`--dry-run` is given twice")
            dry_run = True
        elif w == "--to" or w.startswith("--to="):
            if to is not None:
                return _usage(spec, line, index, "`--to` is given twice")
            if w == "--to":
                if i + 1 >= len(words) or words[i + 1].startswith("--"):
                    return _usage(spec, line, index, f"`--to` needs a {spec.to_flag}")
                i += 1
                to = words[i]
            else:
                to = w[len("--to="):]
                if not to:
                    return _usage(spec, line, index, f"`--to` needs a {spec.to_flag}")
        elif w.startswith("-"):
            flag = w.split("=", 1)[0]
            hint = _closest(flag, flags)
            return _usage(spec, line, index, f"unknown option {inline_code(flag)}", hint=hint)
        elif model is None:
            model = w
        else:
            return _usage(spec, line, index, f"unexpected argument {inline_code(w)}; give at most one model")
        i += 1
    if to is not None:
        problem = _check_to(spec, to)
        if problem:
            return _usage(spec, line, index, problem)
    if config is not None:
        names = [m.name for m in config.models]
        if model is not None and model not in names:
            hint = _closest(model, names)
            return _usage(spec, line, index, f"the config names no model {inline_code(model)}; "
                          f"configured: {', '.join(inline_code(n) for n in names)}", hint=hint)
        if model is None and len(names) > 1:
            return _usage(spec, line, index, "this repository configures several models; name one: "
                          + ", ".join(inline_code(n) for n in names), hint=names[0])
    return Command(spec.name, model=model, to=to, dry_run=dry_run, line=line, index=index)


_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")


def _check_to(spec: Spec, to: str) -> str | None:
    if spec.to_flag == "VERSION":
        v = to.removeprefix("v").removeprefix("V")
        if not v.isdigit() or int(v) < 1:
            return f"`--to` takes a model version number such as `--to 3`; got {inline_code(to)}"
        return None
    if not _ALIAS.match(to) or re.fullmatch(r"[vV]\d+", to) or to.lower() == "latest":
        return (f"`--to` takes an alias name (letters, digits, `_` and `-`, not a version "
                f"like `v1` or `latest`); got {inline_code(to)}")
    return None


def normalize_version(to: str) -> str:
    """`v3` and `3` name the same version."""
    return to.removeprefix("v").removeprefix("V")


def _usage(spec: Spec, line: str, index: int, problem: str, hint: str | None = None) -> Reply:
    return Reply(render_reply("usage.md.j2", line=line, problem=problem, usage=spec.usage, hint=hint),
                 "usage", line, index)


def _closest(word: str, choices: Any) -> str | None:
    hits = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return hits[0] if hits else None
