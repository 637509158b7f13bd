"""The chat-ops parser: what counts as a command, and the reply for every mistake."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import SPECS, Command, Reply, command_lines, parse_comment
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


def one(body: str, **kw: object) -> Command | Reply:
    out = parse_comment(body, author_is_bot=False, **kw)  # type: ignore[arg-type]
    assert len(out) == 1, out
    return out[0]


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
    ],
)
def test_not_a_command(body: str) -> None:
    assert parse_comment(body, author_is_bot=False) == []


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
    ],
)
def test_a_command(body: str) -> None:
    assert one(body) == Command("status", line="/status" if "STATUS" not in body else "/STATUS")


def test_several_commands_run_in_order() -> None:
    out = parse_comment("/status\nthanks!\n/promote --dry-run\n/evaluate", author_is_bot=False)
    assert [p.name for p in out if isinstance(p, Command)] == ["status", "promote", "evaluate"]
    assert [p.index for p in out] == [0, 1, 2]
    assert out[1] == Command("promote", dry_run=True, line="/promote --dry-run", index=1)


def test_bots_are_never_obeyed() -> None:
    assert parse_comment("/promote\n/help", author_is_bot=True) == []


def test_too_many_commands_are_cut_with_a_reply() -> None:
    out = parse_comment("\n".join(["/status"] * 12), author_is_bot=False)
    assert len(out) == 11
    assert isinstance(out[-1], Reply) and out[-1].kind == "too_many"
    assert "at most 10 commands" in out[-1].text


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
    assert problem in r.text
    assert SPECS[line.split()[0][1:]].usage in r.text
    assert "Nothing was changed." in r.text
    if hint:
        assert f"Did you mean `{hint}`?" in r.text


@pytest.mark.parametrize(("line", "hint"), [("/promot", "promote"), ("/rolback", "rollback"),
                                            ("/stats", "status"), ("/halp", "help"), ("/deploy", None)])
def test_unknown_command_names_the_closest(line: str, hint: str | None) -> None:
    r = one(line)
    assert isinstance(r, Reply) and r.kind == "unknown"
    if hint:
        assert f"Did you mean `/{hint}`?" in r.text
    else:
        assert "Did you mean" not in r.text
    for spec in SPECS.values():
        assert spec.usage in r.text


def test_models_are_checked_against_the_config() -> None:
    r = one("/promote churn-clasifier", config=CONFIG)
    assert isinstance(r, Reply) and "Did you mean `churn-classifier`?" in r.text
    assert one("/promote churn-classifier", config=CONFIG) == Command(
        "promote", model="churn-classifier", line="/promote churn-classifier")
    r = one("/rollback", config=TWO)
    assert isinstance(r, Reply) and "name one" in r.text and "`ltv`" in r.text
    assert one("/rollback ltv", config=TWO) == Command("rollback", model="ltv", line="/rollback ltv")


def test_help_says_who_may_run_each_command() -> None:
    r = one("/help", config=CONFIG)
    assert isinstance(r, Reply) and r.kind == "help" and r.ok
    assert "| `/evaluate` | runs the evaluation workflow again | the PR author, or triage permission or higher |" in r.text
    assert "listed in `commands.promote`: @acme/ml-release, carol" in r.text
    assert "maintain permission or higher" in r.text


def test_replies_cannot_be_hijacked_by_the_line() -> None:
    r = one("/promote ``x`` --bad")
    assert isinstance(r, Reply)
    r2 = one("/promote --to `@acme/all|x` ")
    assert isinstance(r2, Reply) and "``@acme/all|x``" not in r2.text.replace("`` ", "``")
    # a reply is never itself a command
    assert parse_comment(r.text, author_is_bot=False) == []
    assert parse_comment(r2.text, author_is_bot=False) == []


# ---------------------------------------------------------------- properties

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
words = st.text(st.sampled_from("abcxyz-_/`>~ \n0123456789"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(text, st.lists(st.one_of(words, st.sampled_from(
    ["/promote", "/rollback --to 2", "```", "> ", "/help", "`", "<!--", "-->", "    "])), max_size=12).map("\n".join)))
def test_parsing_never_fails_and_is_exactly_command_or_reply(body: str) -> None:
    out = parse_comment(body, author_is_bot=False)
    assert all(isinstance(p, Command | Reply) for p in out)
    assert len(out) <= 11
    assert parse_comment(body, author_is_bot=True) == []


@settings(max_examples=200, deadline=None)
@given(body=text)
def test_fenced_text_is_never_a_command(body: str) -> None:
    fence = "`" * max(3, max((len(r) for r in body.split() if set(r) == {"`"}), default=0) + 1)
    safe = body.replace("```", "")  # no fence inside can close ours
    wrapped = f"{fence}\n{safe}\n{fence}"
    assert parse_comment(wrapped, author_is_bot=False) == []


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
