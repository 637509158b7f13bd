"""Chat-ops command parser: PR comment text in, at most one command or one immediate reply out.

A command is a line of rendered text that starts with `/`: a line of a top-level paragraph
as GitHub renders it (CommonMark, found with markdown-it-py). Lines inside code (fenced,
indented, spans), block quotes, lists, HTML comments, HTML blocks and elements (`<details>`
also when a paragraph opened it), image alt text and link destinations never count, nor does a line that holds inline HTML. Parsing a
comment gives exactly one of: a `Command`, a `Reply` (help, usage error, unknown command),
or None, as Atlantis does; further command lines have no effect and are only named
(`extra`, `extra_count`) so the reply can say they were ignored.

The parse is pure and renders nothing (wording lives in `templates/replies/`, rendered by
`bot.chatops`). Its cost is linear and bounded: only the first `SCAN_LINES` lines (and
`SCAN_INDENT` characters of indentation) are read, and markdown-it-py's inline parser, which
is quadratic on some inputs, sees at most `INLINE_BUDGET` characters per comment; where it
cannot look, a line is not a command (fail closed). `tests/benchmarks/bench_commands.py` measures the worst cases.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from bot.config import Config
from bot.html_scan import OpenElements, mentions_hiding_tag
from bot.permissions import Requirement

MAX_BODY = 65_536  # GitHub's limit for a comment; a longer body is not read at all
SCAN_LINES = 500  # commands are read from the first lines only: bounds the block parse
SCAN_INDENT = 8_192  # ... and up to this much indentation (markdown-it reads it one character at a time)
INLINE_BUDGET = 256  # characters of paragraphs markdown-it's inline parser may see per comment
MAX_LINE = 256  # a longer command line is not read as a command
LINE_PARSES = 4  # candidate lines parsed on their own before giving up (each held inline HTML)
MAX_EXTRA = 3  # extra command lines named in the reply (the rest are counted)


@dataclass(frozen=True)
class Spec:
    name: str
    usage: str
    summary: str  # /help's line
    hint: str  # the PR comment's line in its list of commands
    requirement: Requirement
    takes_model: bool = False
    to_flag: str | None = None  # metavar of --to, when the command has one


SPECS: dict[str, Spec] = {
    "help": Spec("help", "/help", "lists the commands and who may run each", "all commands and who may run them",
                 Requirement()),
    "status": Spec(
        "status", "/status", "production version and metrics, this PR's gates, branch protection",
        "production version, gate state, branch protection", Requirement(),
    ),
    "evaluate": Spec(
        "evaluate", "/evaluate", "runs the evaluation workflow again", "run the evaluation again",
        Requirement(min_role="triage", author_ok=True),
    ),
    "promote": Spec(
        "promote", "/promote [model] [--to ALIAS] [--canary N%] [--dry-run]",
        "moves the alias (default production) to this PR's candidate",
        "move the production alias to this PR's candidate",
        Requirement(min_role="write", config_key="promote"), takes_model=True, to_flag="ALIAS",
    ),
    "rollback": Spec(
        "rollback", "/rollback [model] [--to VERSION] [--canary] [--dry-run]",
        "moves the alias back to the previous production version, or to VERSION",
        "move it back to the previous version",
        Requirement(min_role="maintain", config_key="rollback"), takes_model=True, to_flag="VERSION",
    ),
}
# the order in which a PR comment lists the commands (/help lists them in SPECS' order)
COMMENT_ORDER = ("promote", "rollback", "evaluate", "status", "help")


def comment_hints() -> list[tuple[str, str]]:
    """("/name", hint) for each command, in the order a PR comment lists them."""
    return [(f"/{name}", SPECS[name].hint) for name in COMMENT_ORDER]


ProblemKind = Literal[
    "no_arguments",  # /help, /status, /evaluate take none; `word` is what was given
    "needs_value",  # --to without a value
    "twice",  # `word` (a flag) given twice
    "unknown_option",  # `word` is the flag
    "extra_argument",  # `word`: a second model
    "bad_version",  # --to `word` of /rollback is not a version number
    "bad_alias",  # --to `word` of /promote is not an alias name
    "unknown_model",  # `word` is not in `choices` (the config's models)
    "which_model",  # several models configured (`choices`), none named
    "bad_share",  # --canary `word` of /promote is not a share such as 10%
    "canary_and_to",  # --canary with --to (a canary always uses the challenger alias)
]


@dataclass(frozen=True)
class Problem:
    """What is wrong with a command's arguments, as data: the wording is a template's."""

    kind: ProblemKind
    word: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Command:
    """The one command of a comment. `line` is the text as written (for replies and the audit
    log); `extra` names the first further command lines, which have no effect."""

    name: str
    model: str | None = None
    to: str | None = None
    dry_run: bool = False
    line: str = ""
    extra: tuple[str, ...] = ()
    extra_count: int = 0
    canary: float | None = None  # /promote --canary N%: N/100; /rollback --canary: 0.0 (clear the canary)


@dataclass(frozen=True)
class Reply:
    """An answer that needs no permission and changes nothing: /help, usage errors, unknown names."""

    kind: Literal["help", "usage", "unknown"]
    line: str
    name: str  # the command name as written, lower case
    problem: Problem | None = None
    hint: str | None = None  # the closest valid choice
    extra: tuple[str, ...] = ()
    extra_count: int = 0

    @property
    def ok(self) -> bool:
        return self.kind == "help"  # /help is a success; usage errors are not


Parsed = Command | Reply


# ---------------------------------------------------------------- where commands are

_CANDIDATE = re.compile(r"^( {0,3})/[A-Za-z][A-Za-z0-9_-]*(?=[ \t]|$)", re.M)
_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_-]*)(?=\s|$)(.*)$", re.S)
_INDENT = re.compile(r"^[ \t]+", re.M)
_OPENER = re.compile(r"[`<\[]")  # code spans, raw HTML, links and images start with these
_DOLLARS = re.compile(r"(?<!\\)\$+")  # GitHub's math: $inline$, $$display$$ (\$ is a dollar sign)


def _mark_line_starts(rule: object) -> object:
    """Wrap an inline rule that ends a line (newline, backslash escape) so that its break token
    records where the next line's text starts in the paragraph (`meta["next"]`)."""

    def wrapped(state: StateInline, silent: bool) -> bool:
        before = len(state.tokens)
        if not rule(state, silent):  # type: ignore[operator]
            return False
        if not silent and len(state.tokens) > before and state.tokens[-1].type in ("softbreak", "hardbreak"):
            state.tokens[-1].meta = {"next": state.pos}
        return True

    return wrapped


@cache
def _markdown() -> MarkdownIt:
    """CommonMark with raw HTML and GFM tables; block rules only (inline runs on demand, without
    emphasis and entities, which can neither hide a line nor start one)."""
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": 8}).enable("table").disable(["inline", "emphasis",
                                                                                             "entity"])
    for name in ("newline", "escape"):
        rule = next(r.fn for r in md.inline.ruler.__rules__ if r.name == name)
        md.inline.ruler.at(name, _mark_line_starts(rule))  # type: ignore[arg-type]
    return md


def _inline(md: MarkdownIt, text: str) -> list[Token]:
    return md.inline.parse(text, md, {}, [])


def _visible_starts(md: MarkdownIt, text: str, html: OpenElements) -> set[int]:
    """Offsets in `text` (one paragraph) where a rendered line starts with a `/` in plain text
    and holds no inline HTML or image (which may hide the rest of the line, or more), and no
    element opened before it (fed to `html`) hides it."""
    starts: set[int] = set()
    at: int | None = 0  # where the token after a line break starts
    line: int | None = None  # the current line's start, while it is a candidate
    for tok in _inline(md, text):
        if tok.type in ("softbreak", "hardbreak"):
            if line is not None:
                starts.add(line)
            at, line = (tok.meta or {}).get("next"), None
            continue
        if tok.type == "html_inline":
            html.inline(tok.content)
        if at is not None and tok.type == "text" and tok.content.startswith("/") and not html.hiding:
            line = at
        elif tok.type in ("html_inline", "image"):
            line = None
        at = None
    if line is not None:
        starts.add(line)
    return starts


@dataclass
class _Scan:
    md: MarkdownIt
    inline_left: int = INLINE_BUDGET
    display_math: bool = False  # a $$ block is open (it may go on past a paragraph)


def _outside_math(scan: _Scan, text: str, candidates: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The candidate lines that no math expression holds: GitHub renders `$...$` and `$$...$$`
    as math, where `\\phantom{...}` or a colour makes a line invisible. A `$` left open hides
    the rest of its paragraph, a `$$` the rest of the comment (fail closed: "costs $5" hides
    what follows it in its paragraph)."""
    kept: list[tuple[int, str]] = []
    inline, runs = False, list(_DOLLARS.finditer(text))
    j = 0
    for off, line in candidates:
        while j < len(runs) and runs[j].start() < off:
            if len(runs[j].group()) >= 2:
                scan.display_math = not scan.display_math
            else:
                inline = not inline
            j += 1
        if not (inline or scan.display_math):
            kept.append((off, line))
    for run in runs[j:]:
        if len(run.group()) >= 2:
            scan.display_math = not scan.display_math
    return kept


def command_lines(body: str) -> Iterator[str]:
    """The lines of `body` that GitHub shows as lines of text starting with `/name`, in order."""
    if not body or len(body) > MAX_BODY:
        return
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    end, count = 0, 0
    while count <= SCAN_LINES and (nl := text.find("\n", end)) >= 0:
        end, count = nl + 1, count + 1
    truncated = count > SCAN_LINES
    window = text[:end] if truncated else text
    indent = 0
    for m in _INDENT.finditer(window):
        indent += m.end() - m.start()
        if indent > SCAN_INDENT:
            window, truncated = window[:m.start()], True
            break
    if _CANDIDATE.search(window) is None:
        return  # an ordinary comment: no parse at all
    lines = window.split("\n")
    scan = _Scan(_markdown())
    tokens = scan.md.parse(window)
    html = OpenElements()  # the raw HTML so far, as GitHub's HTML parser reads it (bot.html_scan)
    for i, tok in enumerate(tokens):
        if html.swallowed:
            return
        if tok.level != 0:
            if tok.type == "html_block":
                html.nested_block(tok.content)
            elif tok.type == "inline":
                html.unparsed(tok.content, top_level=False)
        elif tok.type == "html_block":
            html.block(tok.content)
        elif tok.type == "paragraph_open" and tok.map and i + 1 < len(tokens):
            first, last = tok.map
            if first >= SCAN_LINES:
                return
            yield from _paragraph_lines(scan, lines[first:min(last, SCAN_LINES)], html,
                                        cut=truncated and last >= len(lines) - 1)
        elif tok.type == "inline" and tokens[i - 1].type != "paragraph_open":
            html.unparsed(tok.content, top_level=False)  # a heading's or a table cell's text


def _paragraph_lines(scan: _Scan, lines: list[str], html: OpenElements, *, cut: bool) -> Iterator[str]:
    """The command lines of one top-level paragraph (`cut`: it goes on past the lines read);
    its inline HTML goes into `html`, which may hide its later lines and later paragraphs."""
    lines = [lines[0].lstrip(" "), *lines[1:]]  # as markdown-it trims a paragraph's first line
    text = "\n".join(lines)
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    hidden = html.hiding
    candidates = [] if hidden else [(off, line) for off, line in zip(offsets, lines, strict=True)
                                    if _CANDIDATE.match(line)]
    candidates = _outside_math(scan, text, candidates)
    opener = _OPENER.search(text)
    first_open = opener.start() if opener else len(text)
    early = [line for off, line in candidates if off + len(line) <= first_open]
    yield from (line.strip() for line in early)  # nothing before them or on them can hide them
    rest = candidates[len(early):]
    if not rest and not (html.hiding or mentions_hiding_tag(text)):
        return  # no inline HTML here can change what is open
    if cut or len(text) > scan.inline_left:
        html.unparsed(text, top_level=True)  # a tag might hide what follows and the parse would cost too much
        return  # ... and a construct might hide the rest of this one: not a command
    scan.inline_left -= len(text)
    starts = _visible_starts(scan.md, text, html)
    for off, line in rest:
        lead = len(line) - len(line.lstrip(" "))  # skipped by markdown-it on continuation lines
        if off + lead in starts:
            yield line.strip()


# ---------------------------------------------------------------- parsing


def parse_comment(body: str) -> Parsed | None:
    """The one thing a new comment asks for: a Command to run, a Reply to post, or None.

    Only the first command line counts; the others are returned as `extra` and do nothing.
    """
    md = _markdown()
    found: Parsed | None = None
    extra: list[str] = []
    extra_count = 0
    parses = 0
    for line in command_lines(body):
        if found is None:
            if len(line) > MAX_LINE or parses >= LINE_PARSES:
                continue
            parses += 1
            words = _rendered_words(md, line)
            if words is None or not _COMMAND.match(" ".join(words)):
                continue  # inline HTML or an image on the line, or its text does not start with /name
            found = parse_line(" ".join(words))
        else:
            extra_count += 1
            if len(extra) < MAX_EXTRA and line[:100] not in extra:
                extra.append(line[:100])  # named once each
    if found is None or not extra_count:
        return found
    return _with_extra(found, tuple(extra), extra_count)


def _with_extra(found: Parsed, extra: tuple[str, ...], count: int) -> Parsed:
    if isinstance(found, Command):
        return Command(found.name, found.model, found.to, found.dry_run, found.line, extra, count, found.canary)
    return Reply(found.kind, found.line, found.name, found.problem, found.hint, extra, count)


def _rendered_words(md: MarkdownIt, line: str) -> list[str] | None:
    """The words of a command line as GitHub shows them (escapes and entities resolved, code
    spans as their text); None when the line holds inline HTML or an image."""
    parts: list[str] = []
    for tok in _inline(md, line):
        if tok.type in ("html_inline", "image"):
            return None
        if tok.type in ("text", "text_special", "code_inline"):  # text_special: a backslash-escaped character
            parts.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).split()


def parse_line(line: str) -> Parsed:
    """One command line (starting with /) to a Command or a Reply; pure, no config."""
    m = _COMMAND.match(line.strip())
    if m is None:
        raise ValueError(f"not a command line: {line!r}")
    line = line.strip()
    name = m.group(1).lower()
    words = m.group(2).split()
    spec = SPECS.get(name)
    if spec is None:
        return Reply("unknown", line, name, hint=_closest(name, SPECS))
    if name == "help":
        if words:
            return Reply("usage", line, name, Problem("no_arguments", " ".join(words)))
        return Reply("help", line, name)
    if not spec.takes_model:
        if words:
            return Reply("usage", line, name, Problem("no_arguments", " ".join(words)))
        return Command(name, line=line)
    return _parse_release(spec, words, line)


def _parse_release(spec: Spec, words: list[str], line: str) -> Parsed:
    model: str | None = None
    to: str | None = None
    canary: float | None = None
    dry_run = False
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--dry-run":
            if dry_run:
                return _usage(spec, line, Problem("twice", "--dry-run"))
            dry_run = True
        elif w == "--canary" or w.startswith("--canary="):
            if canary is not None:
                return _usage(spec, line, Problem("twice", "--canary"))
            if spec.name == "rollback":
                if w != "--canary":
                    return _usage(spec, line, Problem("no_arguments", w))
                canary = 0.0
            else:
                if w == "--canary":
                    if i + 1 >= len(words) or words[i + 1].startswith("--"):
                        return _usage(spec, line, Problem("needs_value", "--canary"))
                    i += 1
                    text = words[i]
                else:
                    text = w[len("--canary="):]
                canary = parse_share(text)
                if canary is None:
                    return _usage(spec, line, Problem("bad_share", text))
        elif w == "--to" or w.startswith("--to="):
            if to is not None:
                return _usage(spec, line, Problem("twice", "--to"))
            if w == "--to":
                if i + 1 >= len(words) or words[i + 1].startswith("--"):
                    return _usage(spec, line, Problem("needs_value", "--to"))
                i += 1
                to = words[i]
            else:
                to = w[len("--to="):]
                if not to:
                    return _usage(spec, line, Problem("needs_value", "--to"))
        elif w.startswith("-"):
            flag = w.split("=", 1)[0]
            return _usage(spec, line, Problem("unknown_option", flag),
                          _closest(flag, ["--to", "--dry-run", "--canary"]))
        elif model is None:
            model = w
        else:
            return _usage(spec, line, Problem("extra_argument", w))
        i += 1
    if to is not None and (problem := _check_to(spec, to)) is not None:
        return _usage(spec, line, problem)
    if to is not None and canary is not None:
        return _usage(spec, line, Problem("canary_and_to", to))
    return Command(spec.name, model=model, to=to, dry_run=dry_run, line=line, canary=canary)


_SHARE = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)%?$")


def parse_share(text: str) -> float | None:
    """`10%` or `10` -> 0.1; None unless strictly between 0 and 100 percent."""
    m = _SHARE.match(text)
    if m is None:
        return None
    value = float(m.group(1))
    return value / 100 if 0 < value < 100 else None


def check_model(cmd: Command, config: Config) -> Reply | None:
    """A release command's model against the base branch's config: None when it names one."""
    if not SPECS[cmd.name].takes_model:
        return None
    names = tuple(m.name for m in config.models)
    if cmd.model is not None and cmd.model not in names:
        return _usage(SPECS[cmd.name], cmd.line, Problem("unknown_model", cmd.model, names),
                      _closest(cmd.model, names))
    if cmd.model is None and len(names) > 1:
        return _usage(SPECS[cmd.name], cmd.line, Problem("which_model", "", names), names[0])
    return None


_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,254}$")


def _check_to(spec: Spec, to: str) -> Problem | None:
    if spec.to_flag == "VERSION":
        v = to.removeprefix("v").removeprefix("V")
        return None if v.isdigit() and int(v) >= 1 else Problem("bad_version", to)
    if not _ALIAS.match(to) or re.fullmatch(r"[vV]\d+", to) or to.lower() == "latest":
        return Problem("bad_alias", to)
    return None


def normalize_version(to: str) -> str:
    """`v3` and `3` name the same version."""
    return to.removeprefix("v").removeprefix("V")


def _usage(spec: Spec, line: str, problem: Problem, hint: str | None = None) -> Reply:
    return Reply("usage", line, spec.name, problem, hint)


def _closest(word: str, choices: Iterable[str]) -> str | None:
    hits = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return hits[0] if hits else None
