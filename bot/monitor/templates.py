"""The Jinja environment of the monitor's Markdown (templates/monitor): issue, comparison, comments.

Light on purpose (no pandas or numpy): the App imports it for a /promote reply.
"""

from __future__ import annotations

from functools import cache

import jinja2

from bot.numbers import metric_format, p_value
from bot.render import escape_md, templates_dir


def _value(v: float | None, metric: str) -> str:
    return metric_format(metric, v).value(v)


def _delta(v: float | None, metric: str, *scale: float | None) -> str:
    return metric_format(metric, *scale).delta(v)


@cache
def env() -> jinja2.Environment:
    e = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "monitor")),
        autoescape=False,  # Markdown; every string from data goes through `md`
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    e.filters["md"] = escape_md
    e.filters["num"] = lambda v, d=4: "–" if v is None else f"{v:.{d}f}"
    e.filters["signed"] = lambda v, d=4: "–" if v is None else f"{v:+.{d}f}"
    e.filters["p"] = p_value
    e.filters["value"] = _value  # {{ v | value(metric) }}: the metric's fixed decimals (bot.numbers)
    e.filters["delta"] = _delta  # {{ d | delta(metric, a_value) }}: a delta with one more decimal
    return e
