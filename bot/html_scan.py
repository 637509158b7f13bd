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
_RAW_TEXT_END = {name: re.compile("</" + name, re.I) for name in RAW_TEXT}
_COMMENT_END = re.compile(r"--!?>")
_WS = " \t\n\f\r"
# A tag's attributes up to its `>`, as the tokenizer reads them: whitespace and `/`, or a name
# (which may start with `=`) and, after `=`, a quoted or unquoted value (or none before `>`).
# Atomic groups and possessive repeats (Python 3.11): one way to match, linear even when nothing ends it.
_TAG_REST = re.compile(
    r"""(?>[W/]++|[^W/>][^W/>=]*+(?>[W]*+=[W]*+(?>"[^"]*+"|'[^']*+'|[^W>"'][^W>]*+|(?=>))|(?![W]*+=)))*+>"""
    .replace("W", r" \t\n\f\r"))  # HTML's whitespace, not Unicode's


@dataclass(frozen=True)
class Tag:
    name: str  # lower case
    closing: bool


def scan(html: str) -> tuple[list[Tag], bool]:
    """The tags in `html`, in order, and whether it ends inside a tag, comment or raw-text element."""
    n = len(html)
    tags: list[Tag] = []
    i = 0
    while (i := html.find("<", i)) >= 0:
        if html.startswith("<!--", i):
            if html.startswith("<!-->", i) or html.startswith("<!--->", i):
                i += 5 if html.startswith("<!-->", i) else 6
                continue
            m = _COMMENT_END.search(html, i + 4)
            if m is None:
                return tags, True
            i = m.end()
            continue
        nxt = html[i + 1:i + 2]
        after = html[i + 2:i + 3]
        if nxt == "/" and after == ">":  # `</>` is dropped
            i += 3
            continue
        if nxt in ("!", "?") or (nxt == "/" and after and not _letter(after)):
            end = html.find(">", i + 2)  # a declaration or bogus comment, to the next `>`
            if end < 0:
                return tags, True
            i = end + 1
            continue
        closing = nxt == "/" and _letter(after)
        if not closing and not _letter(nxt):
            i += 1  # `<` as text
            continue
        start = i + 2 if closing else i + 1
        k = start
        while k < n and html[k] not in _WS and html[k] not in "/>":
            k += 1
        name = html[start:k].lower()
        k = _tag_end(html, k)
        if k < 0:
            return tags, True
        tags.append(Tag(name, closing))
        i = k
        if not closing and name in RAW_TEXT:
            if name == "plaintext":
                return tags, True
            m = _RAW_TEXT_END[name].search(html, i)
            if m is None:
                return tags, True
            i = m.start()
    return tags, False


def _letter(c: str) -> bool:
    return c.isascii() and c.isalpha()


def _tag_end(html: str, k: int) -> int:
    """Past the `>` that ends the tag whose attributes start at `k`, or -1 if nothing ends it."""
    m = _TAG_REST.match(html, k)
    return m.end() if m else -1


@dataclass
class OpenElements:
    """The raw HTML seen so far in a comment: elements still open, and whether something swallowed
    the rest. While `hiding`, no later line is a command."""

    stack: list[str] = field(default_factory=list)
    swallowed: bool = False

    @property
    def hiding(self) -> bool:
        return self.swallowed or bool(self.stack)

    def _close(self, name: str) -> None:
        if self.stack and self.stack[-1] == name:  # any other end tag: keep what is open (fail closed)
            self.stack.pop()

    def block(self, html: str) -> None:
        """A top-level HTML block: every element it leaves open holds what follows."""
        tags, unended = scan(html)
        for tag in tags:
            if tag.name in VOID:
                continue
            if tag.closing:
                self._close(tag.name)
            else:
                self.stack.append(tag.name)
        self.swallowed = self.swallowed or unended

    def nested_block(self, html: str) -> None:
        """An HTML block inside a quote or list: its container's end tag closes its elements, but
        an unended tag or raw-text element still swallows the rest."""
        self.swallowed = self.swallowed or scan(html)[1]

    def inline(self, html: str) -> None:
        """One inline HTML token of a top-level paragraph (a tag or a comment)."""
        tags, unended = scan(html)
        for tag in tags:
            if tag.closing:
                self._close(tag.name)
            elif tag.name in HIDING:
                self.stack.append(tag.name)
        self.swallowed = self.swallowed or unended

    def unparsed(self, text: str, *, top_level: bool) -> None:
        """Inline text that is not parsed (too costly, or outside a top-level paragraph): any tag
        that could hide what follows is taken to (fail closed)."""
        pattern = _HIDING_TAG if top_level else _SWALLOWING_TAG
        if pattern.search(text):
            self.swallowed = True


def mentions_hiding_tag(text: str) -> bool:
    """Whether `text` holds a start or end tag of an element that can hide what follows."""
    return _HIDING_TAG.search(text) is not None
