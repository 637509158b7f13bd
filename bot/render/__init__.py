"""Rendering a report: the sticky PR comment, the check-run summary, report.html and terminal text.

- `text`: every escaper for untrusted text, and the one Jinja environment;
- `view`: the report and the gate's decision as plain data for the templates;
- `chart`: the segment delta chart, drawn from zero;
- `fit`: cutting long tables until a text fits GitHub's size limits;
- `markdown`, `html`, `terminal`: the outputs; `plots`: report.html's curves.

Numbers are written by `bot.numbers`. The names below are the package's public interface.
"""

from __future__ import annotations

from bot.numbers import metric_format
from bot.render.fit import MAX_COMMENT_CHARS, MAX_SUMMARY_CHARS, SAFETY_MARGIN, TRUNCATION_STEPS
from bot.render.html import render_html
from bot.render.markdown import (
    check_title,
    render_check_summary,
    render_comment,
    render_pending_comment,
)
from bot.render.terminal import TERMINAL_HEADERS, markdown_to_terminal, render_terminal
from bot.render.text import (
    MAX_CELL,
    chart_label,
    environment,
    escape_md,
    escape_md_line,
    html_pre,
    html_text,
    inline_code,
    plain,
    render_template,
    safe_url,
    templates_dir,
)
from bot.render.view import (
    CHECK_TITLE,
    COMMANDS,
    DEFAULT_COMMAND,
    HEADLINE,
    MARKER,
    NO_BASELINE,
    NOT_GATED,
    RERUN_HINT,
    SEGMENT_NOT_GATED,
    SEGMENT_NOT_TESTED,
    SEGMENT_REGRESSED,
    VERDICT_ICON,
    build_view,
)

__all__ = [
    "CHECK_TITLE", "COMMANDS", "DEFAULT_COMMAND", "HEADLINE", "MARKER", "MAX_CELL", "MAX_COMMENT_CHARS",
    "MAX_SUMMARY_CHARS", "NOT_GATED", "NO_BASELINE", "RERUN_HINT", "SAFETY_MARGIN", "SEGMENT_NOT_GATED",
    "SEGMENT_NOT_TESTED", "SEGMENT_REGRESSED", "TERMINAL_HEADERS", "TRUNCATION_STEPS", "VERDICT_ICON",
    "build_view", "chart_label", "check_title", "environment", "escape_md", "escape_md_line",
    "html_pre", "html_text", "inline_code", "markdown_to_terminal", "metric_format", "plain", "render_check_summary",
    "render_comment", "render_html", "render_pending_comment", "render_template", "render_terminal", "safe_url",
    "templates_dir",
]
