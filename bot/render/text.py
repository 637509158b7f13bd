"""Every escaper for untrusted text, and the one Jinja environment that lays out mlgate's texts.

Every string that comes from a report, a PR or a comment is untrusted (CI runs the PR's own
code). Each output format has exactly one escaper here, and nothing reaches a template
unescaped:

- `escape_md` / `escape_md_line`: GitHub Markdown (comment, check summary, replies);
- `inline_code`: a Markdown code span no backtick inside can close;
- `html_pre`: text inside a `<pre>` block in Markdown (entities only, copy-paste stays exact);
- `chart_label`: a label inside a fenced text chart (no fence can close);
- `plain`: a terminal (no control characters, so no ANSI escapes);
- `html_text`: report.html and the dashboard, where Jinja's autoescape does the escaping.

`environment()` is the one Jinja environment: templates named `*.html.j2` are autoescaped,
Markdown and text templates are not (their values are escaped above, or by the `md` and
`code` filters).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

import bot
from bot import numbers

MAX_CELL = 120  # characters of untrusted text in one table cell

_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#!|~])")
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
_ZWSP = "\u200b"


def clip(text: object, limit: int) -> str:
    """One line of at most `limit` characters, with invisible and control characters made spaces."""
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub(" ", s)
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


def escape_md(text: object, limit: int = MAX_CELL) -> str:
    """Make untrusted text inert in GitHub Markdown, on one line and in a table cell.

    Newlines and invisible/bidi characters become spaces, HTML becomes entities, Markdown
    punctuation is backslash-escaped (no links, images, emphasis, code or broken table
    cells), and a zero-width space defuses what GitHub links *after* Markdown (on the
    text): @mentions of users and teams, #123 issue references and bare-URL autolinks.
    """
    s = clip(text, limit)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = _MENTION.sub("@" + _ZWSP, s)
    s = re.sub(r"#(?=\d)", "#" + _ZWSP, s)
    s = re.sub(r"(?i)\b(gh)-(?=\d)", r"\1-" + _ZWSP, s)
    s = re.sub(r"(?i)\b(https?|ftp):(?=//)", r"\1:" + _ZWSP, s)
    s = re.sub(r"(?i)\bwww\.", "www" + _ZWSP + ".", s)
    return s


def escape_md_line(text: object, limit: int = MAX_CELL) -> str:
    """`escape_md` for text that starts a Markdown line (a list item): no nested list or rule."""
    s = escape_md(text, limit)
    s = re.sub(r"^(\d+)([.)])", r"\1\\\2", s)
    return re.sub(r"^([-+=])", r"\\\1", s)


def inline_code(text: object, limit: int = 200) -> str:
    """Untrusted text shown as an inline code span that no backtick inside can close."""
    s = re.sub(r"[\r\n\t\x00-\x1f\x7f]+", " ", "" if text is None else str(text))
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    run = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (run + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def chart_label(text: object, width: int) -> str:
    """A label for a fenced text chart, padded to `width` columns of a monospace font.

    Inside a code fence GitHub renders nothing (no HTML, links or mentions); only a backtick
    or tilde run could close the fence, so those go. Angle brackets become ‹› anyway, so no
    raw tag is in the text at all. Wide (CJK) characters count twice.
    """
    s = re.sub(r"[`~]", "'", clip(text, 4 * width)).strip().replace("<", "‹").replace(">", "›") or "?"
    if display_width(s) > width:
        while display_width(s) > width - 1:
            s = s[:-1]
        s += "…"
    return s + " " * (width - display_width(s))


def display_width(text: str) -> int:
    """Columns `text` takes in a monospace font (East Asian wide characters take two)."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def plain(text: object, limit: int = MAX_CELL) -> str:
    """Untrusted text for a terminal: no control characters (ANSI escapes), one line."""
    return clip(text, limit)


def html_text(text: object, limit: int = 1000) -> str:
    """Untrusted text for the HTML report: Jinja autoescapes it; only clean invisibles."""
    return clip(text, limit)


def html_pre(text: object, limit: int = 1000) -> str:
    """Text for a `<pre>` block inside Markdown: HTML entities only, so copy-paste stays exact."""
    s = clip(text, limit)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str | None) -> str | None:
    """Only a plain http(s) URL may become a link; anything else is dropped."""
    if url and re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?(/[A-Za-z0-9._~!$&'*+,;=:@%/?#-]*)?", url):
        return url.replace("(", "%28").replace(")", "%29")
    return None


# ---------------------------------------------------------------- the Jinja environment


def templates_dir() -> Path:
    """The wheel ships the templates as bot/_templates; an editable install reads <repo>/templates."""
    packaged = Path(bot.__file__).parent / "_templates"
    return packaged if packaged.is_dir() else Path(bot.__file__).parent.parent / "templates"


@cache
def environment() -> jinja2.Environment:
    """The one Jinja environment for every template under templates/.

    `*.html.j2` templates are autoescaped; Markdown and text templates are not, and escape
    untrusted values with the `md` and `code` filters (or receive them escaped). `count`
    writes an integer with thousands separators; `value(metric)` and `delta(metric, value)` a
    metric's fixed decimals (bot.numbers), `p` a p-value, `num`/`signed` fixed decimals (4 unless
    given), '–' for None.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False,
                                            default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["count"] = numbers.count
    env.filters["md"] = _md_filter
    env.filters["code"] = inline_code
    env.filters["num"] = _num_filter
    env.filters["signed"] = _signed_filter
    env.filters["p"] = numbers.p_value
    env.filters["value"] = _value_filter  # {{ v | value(metric[, other values]) }}: the metric's fixed decimals
    env.filters["delta"] = _delta_filter  # {{ d | delta(metric, a_value) }}: a delta with one more decimal
    return env


def _num_filter(v: float | None, decimals: int = 4) -> str:
    return "–" if v is None else f"{v:.{decimals}f}"


def _signed_filter(v: float | None, decimals: int = 4) -> str:
    return "–" if v is None else f"{v:+.{decimals}f}"


def _value_filter(v: float | None, metric: str, *scale: float | None) -> str:
    return numbers.metric_format(metric, v, *scale).value(v)


def _delta_filter(v: float | None, metric: str, *scale: float | None) -> str:
    return numbers.metric_format(metric, *scale).delta(v)


def _md_filter(text: object, limit: int = 200) -> str:
    return escape_md(text, limit)


def render_template(name: str, **ctx: Any) -> str:
    """Render `templates/<name>`; runs of blank lines left by optional sections become one."""
    text = environment().get_template(name).render(**ctx)
    return re.sub(r"\n{3,}", "\n\n", text)
