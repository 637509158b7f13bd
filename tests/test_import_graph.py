"""No import cycle in bot/ (issue #10): the graph of every `import` between bot's modules, read
with ast, function-level imports included (a lazy import still ties the two modules together),
`if TYPE_CHECKING:` blocks left out (they never run). A package's own `__init__` is not an
edge of its submodules (Python imports it first, whatever they import)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TypeGuard

BOT = Path(__file__).resolve().parents[1] / "bot"

def _modules(root: Path = BOT) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> TypeGuard[ast.If]:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The bot modules `name` imports anywhere in its body (TYPE_CHECKING blocks left out)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def owner(dotted: str) -> str:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted

    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(owner(a.name) for a in child.names if a.name.split(".")[0] == "bot")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*up, base] if base else up)
                if base.split(".")[0] == "bot":
                    for a in child.names:
                        sub = f"{base}.{a.name}"
                        found.add(sub if sub in modules else owner(base))
            visit(child)

    visit(ast.parse(path.read_text("utf-8")))
    return {m for m in found if m and m != name}


def import_graph(root: Path = BOT) -> dict[str, set[str]]:
    modules = _modules(root)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(frozenset(component))
    return out


def test_the_graph_sees_lazy_imports_and_skips_type_checking_blocks(tmp_path: Path) -> None:
    pkg = tmp_path / "bot"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from bot.sub import a\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from bot.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot import c\n"
                                      "from . import a\n")
    (pkg / "c.py").write_text("import bot.sub.b\n")
    graph = import_graph(pkg)
    assert graph["bot.sub.a"] == {"bot.sub.b"}  # a function-level import counts
    assert graph["bot.sub.b"] == {"bot.sub.a"}  # TYPE_CHECKING left out; a relative import resolved
    assert graph["bot.c"] == {"bot.sub.b"}
    assert cycles(graph) == [frozenset({"bot.sub.a", "bot.sub.b"})]


def test_no_import_cycle_in_bot() -> None:
    """#10: the modules form a tree from the webhook down to the adapters; no two import each other,
    directly or through others (function-level imports count)."""
    found = [sorted(c) for c in cycles(import_graph())]
    assert not found, f"import cycles in bot/: {found}"


def test_only_the_dispatcher_imports_the_handlers() -> None:
    """#10: nothing imports bot.handlers except the router (bot.dispatch); a handler module may
    import its siblings. bot.apply took the PR lock from bot.handlers.ordering (now bot.prlock)."""
    importers = {mod for mod, deps in import_graph().items()
                 if not (mod == "bot.handlers" or mod.startswith("bot.handlers."))
                 and any(d == "bot.handlers" or d.startswith("bot.handlers.") for d in deps)}
    assert importers == {"bot.dispatch"}
