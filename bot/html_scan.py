"""What an HTML5 parser makes of the raw HTML in a comment: which elements stay open after it,
and whether it swallows everything that follows (an unclosed tag, comment or raw-text element).

GitHub copies a comment's raw HTML into its rendering verbatim, and the browser-grade HTML
parser decides what is shown: `<img alt="</details>">` closes nothing, `<hr title="x` hides the
rest of the comment inside an attribute, `<textarea>`/`<script>` turn what follows into text or
drop it. A regex over the text gets these wrong, so tags are read here the way the HTML5
tokenizer reads them (tag names, quoted and unquoted attribute values, comments including
`<!-->` and `--!>`, bogus comments, raw-text elements), in one linear pass. When unsure, the
answer is "hidden" (the parser then reads no command): fail closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                  "source", "track", "wbr"})
# Elements whose content the tokenizer reads as text up to their own end tag (or to the end).
RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes",
                      "noscript", "plaintext"})
# Opened inside a paragraph, these keep what follows out of sight: a collapsed <details> (its
# start tag closes the paragraph, so later paragraphs land inside it), inert <template> content,
# raw text.
HIDING = frozenset({"details", "template"}) | RAW_TEXT
_HIDING_TAG = re.compile(r"</?(?:" + "|".join(sorted(HIDING)) + r")(?=[\s/>]|$)", re.I)
_SWALLOWING_TAG = re.compile(r"<(?:template|" + "|".join(sorted(RAW_TEXT)) + r")(?=[\s/>]|$)", re.I)
MAX_TAGS = 1_000  # tags read per comment (a few microseconds each); a real comment has a few dozen
_RAW_TEXT_END = {name: re.compile("</" + name, re.I) for name in RAW_TEXT}
_COMMENT_END = re.compile(r"--!?>")
# One piece of markup at a `<`: a comment's start, a declaration or bogus comment (`<!x`, `<?`,
# `</` and no letter), the dropped `</>`, or a tag: its name, then its attributes as the
# tokenizer reads them (whitespace and `/`, or a name, which may start with `=`, and after `=`
# a quoted or unquoted value, or none before `>`), then `>` unless nothing ends it. Atomic
# groups and possessive repeats (Python 3.11): one way to match, linear even when nothing ends it.
_MARKUP = re.compile(
    r"""<(?:(?P<comment>!--)|(?P<bogus>[!?]|/(?![A-Za-z>]))|(?P<empty>/>)|(?P<close>/)?(?P<name>[A-Za-z][^W/>]*+)"""
    r"""(?>[W/]++|[^W/>][^W/>=]*+(?>[W]*+=[W]*+(?>"[^"]*+"|'[^']*+'|[^W>"'][^W>]*+|(?=>))|(?![W]*+=)))*+(?P<end>>)?)"""
    .replace("W", r" \t\n\f\r"))  # HTML's whitespace, not Unicode's


class Tag(NamedTuple):
    name: str  # lower case
    closing: bool


def scan(html: str, limit: int = MAX_TAGS) -> tuple[list[Tag], bool]:
    """The tags in `html`, in order, and whether it ends inside a tag, comment or raw-text element
    (or goes on past `limit` tags: what is not read is taken to hide the rest)."""
    tags: list[Tag] = []
    pos = 0
    while (m := _MARKUP.search(html, pos)) is not None:
        if len(tags) >= limit:
            return tags, True
        if m["comment"]:
            i = m.start()
            if html.startswith("<!-->", i) or html.startswith("<!--->", i):  # an empty comment
                pos = i + (5 if html.startswith("<!-->", i) else 6)
                continue
            c = _COMMENT_END.search(html, i + 4)
            if c is None:
                return tags, True
            pos = c.end()
        elif m["bogus"]:
            end = html.find(">", m.end())  # to the next `>`
            if end < 0:
                return tags, True
            pos = end + 1
        elif m["empty"]:
            pos = m.end()
        elif m["end"] is None:
            return tags, True
        else:
            name = m["name"].lower()
            tags.append(Tag(name, m["close"] is not None))
            pos = m.end()
            if m["close"] is None and name in RAW_TEXT:
                raw_end = _RAW_TEXT_END[name].search(html, pos) if name != "plaintext" else None
                if raw_end is None:
                    return tags, True
                pos = raw_end.start()
    return tags, False


@dataclass
class OpenElements:
    """The raw HTML seen so far in a comment: elements still open, and whether something swallowed
    the rest. While `hiding`, no later line is a command."""

    stack: list[str] = field(default_factory=list)
    swallowed: bool = False
    tags_left: int = MAX_TAGS

    def _scan(self, html: str) -> list[Tag]:
        tags, unended = scan(html, self.tags_left)
        self.tags_left -= len(tags)
        self.swallowed = self.swallowed or unended
        return tags

    @property
    def hiding(self) -> bool:
        return self.swallowed or bool(self.stack)

    def _close(self, name: str) -> None:
        if self.stack and self.stack[-1] == name:  # any other end tag: keep what is open (fail closed)
            self.stack.pop()

    def block(self, html: str) -> None:
        """A top-level HTML block: every element it leaves open holds what follows."""
        for tag in self._scan(html):
            if tag.name in VOID:
                continue
            if tag.closing:
                self._close(tag.name)
            else:
                self.stack.append(tag.name)

    def nested_block(self, html: str) -> None:
        """An HTML block inside a quote or list: its container's end tag closes its elements, but
        an unended tag or raw-text element still swallows the rest."""
        self._scan(html)

    def inline(self, html: str) -> None:
        """One inline HTML token of a top-level paragraph (a tag or a comment)."""
        for tag in self._scan(html):
            if tag.closing:
                self._close(tag.name)
            elif tag.name in HIDING:
                self.stack.append(tag.name)

    def unparsed(self, text: str, *, top_level: bool) -> None:
        """Inline text that is not parsed (too costly, or outside a top-level paragraph): any tag
        that could hide what follows is taken to (fail closed)."""
        pattern = _HIDING_TAG if top_level else _SWALLOWING_TAG
        if pattern.search(text):
            self.swallowed = True


def mentions_hiding_tag(text: str) -> bool:
    """Whether `text` holds a start or end tag of an element that can hide what follows."""
    return _HIDING_TAG.search(text) is not None
