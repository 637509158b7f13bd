"""The monitor's Markdown (templates/monitor): issue, comparison, comments, in the one Jinja environment.

Light on purpose (no pandas or numpy): the App imports it for a /promote reply. The filters the
templates use (`num`, `signed`, `p`, `value`, `delta`, `md`) are bot.render.text's.
"""

from __future__ import annotations

import jinja2

from bot.render.text import environment


def template(name: str) -> jinja2.Template:
    """`templates/monitor/<name>` from bot.render.text's environment."""
    return environment().get_template(f"monitor/{name}")
