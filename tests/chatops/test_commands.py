"""The chat-ops parser: what counts as a command, and the reply for every mistake."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import chatops
from bot.commands import SPECS, Command, Reply, check_model, command_lines, parse_comment
from bot.config import parse_config

CONFIG = parse_config(
    """
version: 1
models:
  - {name: churn-classifier, task: binary, holdout: h.parquet, label: y}
commands:
  promote: ["@acme/ml-release", "carol"]
"""
)
TWO = parse_config(
    """
version: 1
models:
  - {name: churn-classifier, task: binary, holdout: h.parquet, label: y}
  - {name: ltv, task: regression, holdout: h.parquet, label: v}
"""
)


def one(body: str) -> Command | Reply:
    out = parse_comment(body)
    assert out is not None, body
    return out


def said(reply: Command | Reply | None, config: object = None) -> str:
    assert isinstance(reply, Reply), reply
    return chatops.reply_text(reply, config)  # type: ignore[arg-type]


# ---------------------------------------------------------------- where commands are


@pytest.mark.parametrize(
    "body",
    [
        "",
        "LGTM, ship it",
        "please /promote this",  # not at the start of a line
        "```\n/promote\n```",
        "~~~python\n/promote\n~~~",
        "````\n```\n/promote\n```\n````",  # a longer fence is closed only by a long one
        "`/promote`",
        "text `a\n/promote b` text",  # an inline code span across a line break
        "> /promote",
        ">> /promote",
        "   > /promote",
        "> why not\n/promote",  # lazy continuation: rendered inside the quote
        "<!-- \n/promote\n-->",
        "<!-- /promote -->",
        "text\n\n    /promote",  # indented code block
        "/etc/passwd is world readable",  # a path, not a command
        "/ promote",
        "/123",
        "text\n    /promote",  # four spaces of indentation never start a command
        "- /promote",  # a list item is not a line of a paragraph
        "1. /promote",
        "# /promote",  # a heading
        "/promote\n---",  # a setext heading
        "/rollback | x\n--- | ---",  # a table's header cell
        "/status <!-- hidden -->",  # a line that holds inline HTML
        "/status <b>now</b>",
    ],
)
def test_not_a_command(body: str) -> None:
    assert parse_comment(body) is None


# What GitHub hides never runs (issue #12): each of these parsed as /rollback before.
HIDDEN = {
    "inline HTML comment": "LGTM <!--\n/rollback --to 1\n-->",
    "img alt attribute": 'Looks good <img alt="chart\n/rollback --to 1\n" src="x.png">',
    "any tag's attribute": "ok <span title='a\n/rollback --to 1\n'>x</span>",
    "image alt text": "see ![a chart\n/rollback --to 1\n](chart.png)",
    "link title": 'see [docs](https://example.com "title\n/rollback --to 1\n")',
    "HTML comment block": "<!--\nPR template\n\n/rollback --to 1\n-->",
    "collapsed details": "<details>\n<summary>log</summary>\n\n/rollback --to 1\n\n</details>",
    "details opened in a paragraph": "LGTM <details><summary>log</summary>\n\n/rollback --to 1\n\n</details>",
    "processing instruction": "x <?\n/rollback\n?>",
    "CDATA": "x <![CDATA[\n/rollback\n]]>",
}


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_what_github_hides_never_runs(name: str) -> None:
    assert parse_comment(HIDDEN[name]) is None
    assert list(command_lines(HIDDEN[name])) == []


@pytest.mark.parametrize(
    "body",
    [
        "/status",
        "  /status",  # up to three spaces of indentation
        "/status\r\n",
        "/STATUS",
        "Some words first.\n/status",
        "> quoted\n\n/status",  # a blank line ends the quote
        "```\ncode\n```\n/status",
        "text with `one` code span\n/status",
        "an unclosed ` backtick\n/status",  # a lone backtick opens no span
        "text <!-- closed -->\n/status",  # a comment that ends before the line hides nothing
        "<details>\n\n</details>\n\n/status",  # nor an element that was closed
        "see <details>x</details>\n\n/status",
        "<!-- template -->\n\n/status",
        "a line with a hard break\\\n/status",
        "see ![img](x.png)\n/status",
    ],
)
def test_a_command(body: str) -> None:
    assert one(body) == Command("status", line="/status" if "STATUS" not in body else "/STATUS")


def test_one_command_per_comment() -> None:
    out = one("/status\nthanks!\n/promote --dry-run\n/evaluate")
    assert out == Command("status", line="/status", extra=("/promote --dry-run", "/evaluate"), extra_count=2)
    note = chatops.extra_text(out)
    assert "only `/status` was read" in note and "`/promote --dry-run`, `/evaluate` did nothing" in note
    assert parse_comment(note) is None
    # the first command line decides, also when it is only a usage error or /help
    r = one("/help\n/rollback")
    assert isinstance(r, Reply) and r.kind == "help" and r.extra == ("/rollback",)
    # hidden lines are not extra commands
    assert one("/status\n<!--\n/rollback\n-->") == Command("status", line="/status")


def test_many_command_lines_are_counted_not_listed() -> None:
    out = one("\n".join(["/status"] * 15))
    assert isinstance(out, Command) and out.extra_count == 14 and out.extra == ("/status",)
    assert "`/status` and 13 more did nothing" in chatops.extra_text(out)


# The worst shapes of a 65,536-character comment (the benchmark times them, this checks
# the answers): each is found, or not, as GitHub shows it.
N = 65_536


def _fill(unit: str, before: str = "", after: str = "") -> str:
    body = before + unit * ((N - len(before) - len(after)) // len(unit) + 1)
    return body[: N - len(after)] + after


WORST = {
    "backticks and newlines": (_fill("`\n"), None),
    "backticks and newlines, command first": (_fill("`\n", before="/status\n\n"), "status"),
    "command inside pairs of backticks": (_fill("x`\n/rollback\n`\n"), None),
    "nested quotes": (_fill(">", after="\n\n/status"), "status"),
    "nested quote lines": (_fill("> > > > > > > > > > a\n", after="/rollback"), None),
    "comment without end": (_fill("/rollback\n", before="<!--\n"), None),
    "inline comment without end": (_fill("<!--", before="x\n/status\n"), "status"),
    "slash lines": (_fill("/status\n"), "status"),
    "short slash lines": (_fill("/a\n"), "a"),
    "deeply nested lists": ("".join(" " * (2 * i) + "- /rollback\n" for i in range(300))[:N], None),
    "nested lists then a command": ("".join("  " * (i % 40) + "- a\n" for i in range(3000))[: N - 12]
                                    + "\n\n/rollback", None),  # past the lines mlgate reads
    "brackets": (_fill("![", before="x\n/status\n"), "status"),
}


@pytest.mark.parametrize("name", sorted(WORST))
def test_worst_case_comments_parse_to_the_right_answer(name: str) -> None:
    body, expected = WORST[name]
    assert len(body) <= N
    out = parse_comment(body)
    assert (out.name if out is not None else None) == expected
    assert parse_comment(body + "x" * (N + 1 - len(body))) is None  # longer than GitHub allows: not read


def test_bots_are_never_obeyed() -> None:
    from bot.handlers.issue_comment import is_bot

    assert is_bot({"login": "dependabot[bot]", "type": "Bot"}) and is_bot({"login": "x", "type": "Bot"})
    assert not is_bot({"login": "alice", "type": "User"})


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/promote", Command("promote", line="/promote")),
        ("/promote churn-classifier", Command("promote", model="churn-classifier", line="/promote churn-classifier")),
        ("/promote --dry-run", Command("promote", dry_run=True, line="/promote --dry-run")),
        ("/promote --to staging", Command("promote", to="staging", line="/promote --to staging")),
        ("/promote --to=staging", Command("promote", to="staging", line="/promote --to=staging")),
        (
            "/promote --dry-run churn-classifier --to champion",
            Command("promote", model="churn-classifier", to="champion", dry_run=True,
                    line="/promote --dry-run churn-classifier --to champion"),
        ),
        ("/rollback", Command("rollback", line="/rollback")),
        ("/rollback --to 3", Command("rollback", to="3", line="/rollback --to 3")),
        ("/rollback --to v3", Command("rollback", to="v3", line="/rollback --to v3")),
        ("/rollback m --dry-run", Command("rollback", model="m", dry_run=True, line="/rollback m --dry-run")),
        ("/evaluate", Command("evaluate", line="/evaluate")),
    ],
)
def test_arguments(line: str, expected: Command) -> None:
    assert one(line) == expected


@pytest.mark.parametrize(
    ("line", "problem", "hint"),
    [
        ("/status now", "takes no arguments", None),
        ("/evaluate please", "takes no arguments", None),
        ("/help me", "takes no arguments", None),
        ("/promote --to", "`--to` needs a ALIAS", None),
        ("/promote --to --dry-run", "`--to` needs a ALIAS", None),
        ("/promote --to=", "`--to` needs a ALIAS", None),
        ("/promote --to a --to b", "given twice", None),
        ("/promote --dry-run --dry-run", "given twice", None),
        ("/promote --dryrun", "unknown option `--dryrun`", "--dry-run"),
        ("/promote a b", "unexpected argument `b`", None),
        ("/promote --to v2", "not a version", None),
        ("/promote --to latest", "not a version", None),
        ("/promote --to pro/duction", "alias name", None),
        ("/rollback --to three", "version number", None),
        ("/rollback --to 0", "version number", None),
        ("/rollback --force", "unknown option", None),
    ],
)
def test_usage_errors(line: str, problem: str, hint: str | None) -> None:
    r = one(line)
    assert isinstance(r, Reply) and r.kind == "usage" and not r.ok
    words = said(r)
    assert problem in words
    assert SPECS[line.split()[0][1:]].usage in words
    assert "Nothing was changed." in words
    if hint:
        assert f"Did you mean `{hint}`?" in words


@pytest.mark.parametrize(("line", "hint"), [("/promot", "promote"), ("/rolback", "rollback"),
                                            ("/stats", "status"), ("/halp", "help"), ("/deploy", None)])
def test_unknown_command_names_the_closest(line: str, hint: str | None) -> None:
    r = one(line)
    assert isinstance(r, Reply) and r.kind == "unknown"
    words = said(r)
    if hint:
        assert f"Did you mean `/{hint}`?" in words
    else:
        assert "Did you mean" not in words
    for spec in SPECS.values():
        assert spec.usage in words


def test_models_are_checked_against_the_config() -> None:
    def checked(line: str, config: object) -> Command | Reply:
        cmd = one(line)
        assert isinstance(cmd, Command)
        return check_model(cmd, config) or cmd  # type: ignore[arg-type]

    r = checked("/promote churn-clasifier", CONFIG)
    assert isinstance(r, Reply) and "Did you mean `churn-classifier`?" in said(r)
    assert checked("/promote churn-classifier", CONFIG) == Command(
        "promote", model="churn-classifier", line="/promote churn-classifier")
    r = checked("/rollback", TWO)
    assert isinstance(r, Reply) and "name one" in said(r) and "`ltv`" in said(r)
    assert checked("/rollback ltv", TWO) == Command("rollback", model="ltv", line="/rollback ltv")
    assert check_model(Command("status", line="/status"), TWO) is None


def test_help_says_who_may_run_each_command() -> None:
    r = one("/help")
    assert isinstance(r, Reply) and r.kind == "help" and r.ok
    words = said(r, CONFIG)
    assert "| `/evaluate` | runs the evaluation workflow again | the PR author, or triage permission or higher |" in words
    assert "listed in `commands.promote`: @acme/ml-release, carol" in words
    assert "maintain permission or higher" in words


def test_replies_cannot_be_hijacked_by_the_line() -> None:
    r = one("/promote ``x`` --bad")
    assert isinstance(r, Reply)
    r2 = one("/promote --to `@acme/all|x` ")
    assert isinstance(r2, Reply) and "``@acme/all|x``" not in said(r2).replace("`` ", "``")
    # a reply is never itself a command
    assert parse_comment(said(r)) is None
    assert parse_comment(said(r2)) is None


# ---------------------------------------------------------------- properties

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
words = st.text(st.sampled_from("abcxyz-_/`>~ \n0123456789"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(text, st.lists(st.one_of(words, st.sampled_from(
    ["/promote", "/rollback --to 2", "```", "> ", "/help", "`", "<!--", "-->", "    "])), max_size=12).map("\n".join)))
def test_parsing_never_fails_and_is_exactly_command_or_reply(body: str) -> None:
    out = parse_comment(body)
    assert out is None or isinstance(out, Command | Reply)
    if out is not None:
        assert out.extra_count >= len(out.extra) and len(out.extra) <= 3


@settings(max_examples=200, deadline=None)
@given(body=text)
def test_fenced_text_is_never_a_command(body: str) -> None:
    fence = "`" * max(3, max((len(r) for r in body.split() if set(r) == {"`"}), default=0) + 1)
    safe = body.replace("```", "")  # no fence inside can close ours
    wrapped = f"{fence}\n{safe}\n{fence}"
    assert parse_comment(wrapped) is None


@settings(max_examples=200, deadline=None)
@given(body=text)
def test_quoted_text_is_never_a_command(body: str) -> None:
    quoted = "\n".join("> " + line for line in body.replace("\r", "\n").split("\n"))
    assert list(command_lines(quoted)) == []


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(["promote", "rollback"]),
    model=st.none() | st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    dry=st.booleans(),
    version=st.integers(1, 10_000),
    alias=st.from_regex(r"[a-uw-z][a-z0-9_]{0,10}", fullmatch=True).filter(lambda a: a != "latest"),
    order=st.permutations([0, 1, 2]),
)
def test_release_commands_round_trip(name: str, model: str | None, dry: bool, version: int, alias: str,
                                     order: list[int]) -> None:
    to = str(version) if name == "rollback" else alias
    parts = [[model] if model else [], ["--to", to], ["--dry-run"] if dry else []]
    line = " ".join([f"/{name}", *[w for i in order for w in parts[i]]])
    assert one(f"intro\n{line}\n") == Command(name, model=model, to=to, dry_run=dry, line=line)


hidden_lines = st.lists(st.one_of(st.text(st.sampled_from("abc /`"), min_size=1, max_size=30),
                                  st.just("/rollback --to 1"), st.just("  /promote")), min_size=1, max_size=8).map(
    # no blank line and no fence: either ends the paragraph, and the comment with it (GitHub shows the rest)
    lambda lines: "\n".join(line for line in lines if line.strip() and "```" not in line) or "/rollback")


@settings(max_examples=300, deadline=None)
@given(inner=hidden_lines, before=st.sampled_from(["", "LGTM ", "/status ", "text `code` "]))
def test_nothing_inside_an_inline_comment_or_attribute_runs(inner: str, before: str) -> None:
    """Whatever a paragraph hides in a comment or an attribute value never becomes a command."""
    for wrapped in (f"{before}<!--\n{inner}\n-->", f'{before}<img alt="\n{inner}\n" src="x.png">',
                    f"{before}![\n{inner}\n](x.png)"):
        out = parse_comment(wrapped)
        assert out is None or (before.startswith("/status") and out.line == "/status" and not out.extra_count), wrapped


def test_a_command_line_reads_as_github_shows_it() -> None:
    assert one("/promote my\\_model") == Command("promote", model="my_model", line="/promote my_model")
    assert one("/promote `churn` --dry-run") == Command("promote", model="churn", dry_run=True,
                                                      line="/promote churn --dry-run")
    assert parse_comment("[a\n/status](https://example.com)") is None  # link text, then its destination
