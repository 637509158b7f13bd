"""Raw HTML (and math) that hides a command on GitHub never lets it run (issue #12, second look).

Each body below showed nothing on GitHub where the command is, yet parsed as /rollback on the
code before bot/html_scan.py: the parser counted `</details>` and other tags with a regex over
the text (so a code span, an escape, a comment or an attribute value closed a collapsed
<details>), let any end tag close any element, never noticed a tag or raw-text element that
swallows the rest, and did not hide the later lines of the paragraph that opened <details>;
nor did it know GitHub's math, where `\\phantom{...}` around a line makes it invisible.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Command, command_lines, parse_comment
from bot.html_scan import scan

OPEN = "LGTM <details><summary>log</summary>\n\n"  # a collapsed <details> opened in a paragraph
HIDDEN = {
    "</details> in a code span": OPEN + "`</details>`\n\n/rollback --to 1",
    "backslash-escaped </details>": OPEN + "\\</details>\n\n/rollback --to 1",
    "</details> in an inline comment": OPEN + "x <!-- </details> -->\n\n/rollback --to 1",
    "</details> in an inline attribute": OPEN + 'x <img alt="</details>">\n\n/rollback --to 1',
    "</details> in an HTML block's attribute": "<details>\n\n<img alt=\"</details>\">\n\n/rollback --to 1",
    "</details> in a quoted attribute of a block": "<details>\n\n<p title='</details>'></p>\n\n/rollback --to 1",
    "an end tag of an element that is not open": "<details>\n\n</span>\n\n/rollback --to 1",
    "</details> inside a textarea": "<details>\n<textarea></details></textarea>\n\n/rollback --to 1",
    "the next line of the paragraph that opened it": "LGTM <details>\n/rollback --to 1",
    "the next line, details open": "LGTM <details open>\n/rollback --to 1",  # open or not: fail closed
    "an attribute that never ends": '<hr title="x\n\n/rollback --to 1\n\n">',
    "<!--> is a whole comment": "<!--> <details> -->\n\n/rollback --to 1",
    "a textarea opened in a paragraph": "x <textarea>\n\n/rollback --to 1",
    "a script opened in a paragraph": "x <script>\n/rollback --to 1",
    "a template opened in a paragraph": "x <template>\n\n/rollback --to 1",
    "a textarea opened in a list item": "- x <textarea>\n\n/rollback --to 1",
    "a script opened in a heading": "# x <script>\n\n/rollback --to 1",
    # GitHub renders $...$ and $$...$$ as math, where \\phantom makes a line invisible
    "display math": "$$\n\\phantom{\n/rollback --to 1\n}\n$$",
    "inline math": "$\\phantom{x\n/rollback --to 1\n}$",
    "display math across paragraphs": "$$\n\\phantom{\n\n/rollback --to 1\n\n}\n$$",
}


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_what_raw_html_hides_never_runs(name: str) -> None:
    assert parse_comment(HIDDEN[name]) is None
    assert list(command_lines(HIDDEN[name])) == []


@pytest.mark.parametrize("body", [
    "x <details>y</details>\n/status",  # closed on its own line before the command
    "LGTM <details>\n\nx </details>\n\n/status",  # a real end tag in a later paragraph
    "<details>\n<summary>log</summary>\n\ntext\n\n</details>\n\n/status",
    "<img alt='a > b'>\n\n/status",  # a void element, its `>` inside quotes
    "Fix the `<script>` tag\n/status",  # a code span's tag name on an earlier line hides nothing
    "<div align=center>\n<img src=x.png>\n</div>\n\n/status",
    "costs $5 and $10\n/status",  # math closed before the line
    "costs $5\n\n/status",  # an open $ ends with its paragraph
    "$$x^2$$\n/status",
    "a \\$ sign\n/status",
])
def test_closed_html_hides_nothing(body: str) -> None:
    assert parse_comment(body) == Command("status", line="/status")


@pytest.mark.parametrize("html,tags,unended", [
    ('<img alt="</details>">', ["img"], False),
    ('<a b"c> <details> "d>', ["a", "details"], False),  # a quote in a name starts no value
    ("<a x=\"y\"z><b>", ["a", "b"], False),
    ("<a x=>", ["a"], False),
    ('<a x="y>', [], True),
    ("<!-- a --!> <details>", ["details"], False),  # --!> also ends a comment
    ("<!---> <i>", ["i"], False),
    ("<textarea></details></TextArea>", ["textarea", "/textarea"], False),
    ("<plaintext><b>", ["plaintext"], True),
    ("</ 3> <? x > <!x> </> <b>", ["b"], False),
    ("a < b and <3", [], False),
])
def test_tags_read_as_the_html_tokenizer_reads_them(html: str, tags: list[str], unended: bool) -> None:
    found, ended_inside = scan(html)
    assert [("/" if t.closing else "") + t.name for t in found] == tags and ended_inside == unended


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("</>\"'=` \n-!?adeilst\\&;")), max_size=60))
def test_nothing_after_an_open_details_runs(filler: str) -> None:
    """Whatever follows a collapsed <details> (without a real end tag of its own line), the
    command after it is hidden on GitHub and never runs."""
    while "</details" in filler:
        filler = filler.replace("</details", "")
    body = OPEN + filler + "\n\n/rollback --to 1"
    assert parse_comment(body) is None


def test_past_the_tags_it_reads_the_parser_takes_the_rest_as_hidden() -> None:
    """Reading a tag costs microseconds; past MAX_TAGS in one comment, what follows is not a
    command (fail closed), so 65,536 characters of tags cost what 1,000 do."""
    from bot.html_scan import MAX_TAGS

    assert parse_comment("<div></div>" * (MAX_TAGS // 2 - 1) + "\n\n/status") == Command("status", line="/status")
    assert parse_comment("<div></div>" * (MAX_TAGS // 2 + 1) + "\n\n/status") is None
