"""#10: one Jinja environment. Only bot/render/text.py builds a jinja2.Environment (or a
SandboxedEnvironment, or a Template from a string, which makes one); every other module renders
through bot.render.text.environment(), so filters, escaping and whitespace rules are the same
for every template."""

from __future__ import annotations

import ast
from pathlib import Path

import bot

BOT = Path(bot.__file__).parent
ALLOWED = {BOT / "render" / "text.py"}
BUILDERS = {"Environment", "SandboxedEnvironment", "NativeEnvironment", "Template"}


def _builds_environment(tree: ast.AST) -> list[int]:
    """Lines that call jinja2.Environment (and the like), by attribute or by an imported name."""
    imported = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("jinja2") for alias in node.names if alias.name in BUILDERS}
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in BUILDERS and isinstance(f.value, (ast.Name, ast.Attribute)):
            base = f.value.id if isinstance(f.value, ast.Name) else f.value.attr
            if base in {"jinja2", "sandbox", "nativetypes"}:
                lines.append(node.lineno)
        elif isinstance(f, ast.Name) and f.id in imported:
            lines.append(node.lineno)
    return lines


def test_only_bot_render_text_builds_a_jinja_environment() -> None:
    found = {f"{path.relative_to(BOT.parent)}:{line}"
             for path in sorted(BOT.rglob("*.py")) if path not in ALLOWED
             for line in _builds_environment(ast.parse(path.read_text(), str(path)))}
    assert not found, f"build templates in bot.render.text.environment(), not here: {sorted(found)}"


def test_the_check_sees_each_spelling() -> None:
    """The checker itself: each way of building an environment is found, rendering through the one is not."""
    assert _builds_environment(ast.parse("import jinja2\njinja2.Environment(loader=None)")) == [2]
    assert _builds_environment(ast.parse("from jinja2 import Environment as E\nE()")) == [2]
    assert _builds_environment(ast.parse("import jinja2.sandbox\njinja2.sandbox.SandboxedEnvironment()")) == [2]
    assert _builds_environment(ast.parse("from bot.render.text import environment\nenvironment()")) == []
