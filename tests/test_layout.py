"""The package layout: no import cycles, no private names across modules, small modules.

The import graph is read from the source (``ast``), so the test sees every import,
including those inside functions, whatever is installed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dfimx"
#: Modules allowed past ~600 lines, and why.
LONG_MODULES: dict[str, str] = {}
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(name: str, current: str, level: int) -> str:
    if level == 0:
        return name
    base = current.split(".")
    if not _is_package(current):
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _with_comment(lines: list[str], lineno: int) -> str:
    """The import line, with the comment line just above it when there is one."""
    above = lines[lineno - 2].strip() if lineno > 1 else ""
    return (above + " " if above.startswith("#") else "") + lines[lineno - 1]


def _imports(name: str) -> list[tuple[str, str, int, bool, str]]:
    """``(imported module, imported name or '', line, inside a function, source line)``."""
    path = MODULES[name]
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    out = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "dfimx":
                        out.append((alias.name, "", child.lineno, in_function,
                                    _with_comment(lines, child.lineno)))
            elif isinstance(child, ast.ImportFrom):
                module = _resolve(child.module or "", name, child.level)
                if module.split(".")[0] != "dfimx":
                    continue
                for alias in child.names:
                    sub = f"{module}.{alias.name}"
                    if sub in MODULES:
                        out.append((sub, "", child.lineno, in_function,
                                    _with_comment(lines, child.lineno)))
                    else:
                        out.append((module, alias.name, child.lineno, in_function,
                                    _with_comment(lines, child.lineno)))
            visit(child, inner)

    visit(tree, False)
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for module, _, _, _, _ in _imports(name):
            if module in MODULES and module != name:
                graph[name].add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_no_private_names_across_modules():
    offenders = []
    for name in MODULES:
        for module, imported, line, _, _ in _imports(name):
            if imported.startswith("_") and imported != "__version__":
                offenders.append(f"{name}:{line} imports {module}.{imported}")
            if any(part.startswith("_") and part != "__init__" for part in module.split(".")):
                offenders.append(f"{name}:{line} imports the private module {module}")
    assert offenders == []


def test_function_level_imports_say_why():
    """A function-level import of a dfimx module is allowed where it keeps a heavy library
    (TensorFlow, plotting) out of code paths that do not need it; a comment on its line, or
    just above it, says so."""
    offenders = [f"{name}:{line}: {src.strip()}"
                 for name in MODULES
                 for _, _, line, inside, src in _imports(name)
                 if inside and "#" not in src]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    n = len(MODULES[name].read_text().splitlines())
    assert n <= MAX_LINES or name in LONG_MODULES, f"{name} has {n} lines"


def test_every_module_has_a_docstring():
    missing = [name for name, path in MODULES.items()
               if ast.get_docstring(ast.parse(path.read_text())) is None]
    assert missing == []
