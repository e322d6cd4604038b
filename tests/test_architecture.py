"""The rules of docs/ARCHITECTURE.md that keep the code readable: every module on the map and with a
test file named after it, no import circle, no private name used across modules, no module past
600 lines, and ruff in the test command."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "scratchrnn"
MAP = ROOT / "docs" / "ARCHITECTURE.md"
MAX_LINES = 600
NAMEDTUPLE_API = {"_asdict", "_fields", "_make", "_replace", "_field_defaults"}  # public despite the "_"

MODULES = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def dotted(rel: str) -> str:
    """'nn/lstm.py' -> 'scratchrnn.nn.lstm'; 'io/__init__.py' -> 'scratchrnn.io'."""
    parts = ["scratchrnn", *rel[:-3].split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NAMES = {dotted(rel): rel for rel in MODULES}


def test_the_package_has_the_modules_this_test_expects():
    assert "nn/reference.py" in MODULES and "nn/timeloop.py" in MODULES and len(MODULES) > 40


@pytest.mark.parametrize("rel", MODULES)
def test_every_module_is_on_the_map(rel):
    assert f"`{rel}`" in MAP.read_text(encoding="utf-8"), f"docs/ARCHITECTURE.md does not list `{rel}`"


def test_the_map_lists_no_module_that_is_gone():
    listed = {line.split("`")[1] for line in MAP.read_text(encoding="utf-8").splitlines()
              if line.startswith("| `") and line.split("`")[1].endswith(".py")}
    assert listed - set(MODULES) == set()


@pytest.mark.parametrize("rel", MODULES)
def test_every_module_has_a_test_file_named_after_it(rel):
    *pkg, name = rel[:-3].split("/")
    if name == "__init__":
        stems = [f"test_{pkg[-1]}" if pkg else "test_scratchrnn"]
    else:
        stems = [f"test_{name}"] + ([f"test_{pkg[-1]}_{name}"] if pkg else [])
    assert any((ROOT / "tests" / f"{stem}.py").exists() for stem in stems), f"{rel}: no tests/{stems[0]}.py"


@pytest.mark.parametrize("rel", MODULES)
def test_no_module_is_longer_than_a_sitting(rel):
    lines = len((PACKAGE / rel).read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{rel} has {lines} lines; split it by responsibility"


def _resolve(rel: str, node: ast.ImportFrom) -> str:
    """The absolute module name of a relative ``from ... import`` in the module ``rel``."""
    here = dotted(rel).split(".")
    if not rel.endswith("__init__.py"):
        here = here[:-1]  # a module's package
    base = here[: len(here) - (node.level - 1)] if node.level else []
    return ".".join(base + ([node.module] if node.module else []))


def _imports_at_import_time(rel: str) -> set[str]:
    """Modules of the package that ``rel`` imports when it is imported (not inside functions)."""
    tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
    found = set()
    for node in tree.body:  # module level only; TYPE_CHECKING blocks count too
        for sub in ast.walk(node) if isinstance(node, ast.If) else [node]:
            if isinstance(sub, ast.ImportFrom) and sub.level:
                target = _resolve(rel, sub)
                for alias in sub.names:
                    found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in NAMES else target)
            elif isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names if a.name in NAMES)
    return {m for m in found if m in NAMES and m != dotted(rel)}


def test_no_import_circle():
    graph = {mod: _imports_at_import_time(rel) for mod, rel in NAMES.items()}
    done, path = set(), []

    def visit(mod):
        if mod in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(mod):] + [mod]))
        if mod in done:
            return
        path.append(mod)
        for dep in sorted(graph[mod]):
            # a package's own __init__ importing its submodules is how packages work, not a circle
            if not (dep.startswith(mod + ".") and NAMES[mod].endswith("__init__.py")):
                visit(dep)
        path.pop()
        done.add(mod)

    for mod in sorted(graph):
        visit(mod)


def _defined_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name)
    return names


def private_uses(source: str) -> list[str]:
    """``from .x import _name`` and ``obj._name`` where ``_name`` is not defined in this source."""
    tree = ast.parse(source)
    own = _defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            found += [f"line {node.lineno}: from {'.' * node.level}{node.module or ''} import {a.name}"
                      for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if node.attr not in own and node.attr not in NAMEDTUPLE_API:
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("rel", MODULES)
def test_no_private_name_is_used_across_modules(rel):
    assert private_uses((PACKAGE / rel).read_text(encoding="utf-8")) == [], rel


def test_the_private_name_check_can_fail():
    assert private_uses("from .stepper import _step\n") == ["line 1: from .stepper import _step"]
    assert private_uses("def f(rnn):\n    return rnn._state_shape(2)\n") == ["line 2: rnn._state_shape"]
    same_class = "class A:\n    def _x(self):\n        pass\n    def y(self, o):\n        o._x()\n"
    assert private_uses(same_class) == []  # defined in this file: the class's own business


def test_make_test_runs_ruff_before_the_tests():
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check" in recipe and recipe.index("ruff check") < recipe.index("pytest")
