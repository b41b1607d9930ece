"""Each DVC stage lists every project module its entry module imports, so `dvc repro`
re-runs a stage when its code changes.

The imports are read with `ast` (nothing is imported, so no torch): every `import` and
`from ... import` anywhere in a module, function bodies included (lazy imports run too),
except under `if TYPE_CHECKING:`; plus `importlib.import_module("shortlister...")` with
a literal name. Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first, so
those count as well.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "shortlister"
STAGE_CMD = re.compile(r"\bpython -m (shortlister\.stages\.\w+)")


def module_file(name: str, src: Path = SRC) -> Path | None:
    """The file `import name` runs, if `name` is a project module or package."""
    base = src.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Collects the dotted names a module imports (modules, or modules plus a name)."""

    def __init__(self, path: Path, src: Path) -> None:
        self.package = module_name(path, src)
        if path.name != "__init__.py":
            self.package = self.package.rpartition(".")[0]
        self.names: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:  # the `else:` branch does run
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.names.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parent = ".".join(parts[: len(parts) - node.level + 1])
            base = f"{parent}.{base}" if base else parent
        self.names.add(base)
        # `from pkg import y`: y is a submodule (imported) or a name (pkg already counted).
        self.names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called == "import_module" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self.names.add(arg.value)
        self.generic_visit(node)


@cache
def direct_imports(path: Path, src: Path) -> frozenset[Path]:
    """Project module files that running `path` imports directly, package __init__s included."""
    visitor = _Imports(path, src)
    visitor.visit(ast.parse(path.read_text(), filename=str(path)))
    files = set()
    for name in visitor.names:
        parts = name.split(".")
        if parts[0] != PACKAGE:
            continue
        for depth in range(1, len(parts) + 1):
            found = module_file(".".join(parts[:depth]), src)
            if found is not None:
                files.add(found)
    return frozenset(files)


def transitive_imports(module: str, src: Path = SRC) -> set[Path]:
    """Every project module file `python -m module` runs, the module's own file included."""
    parts = module.split(".")
    todo = [f for d in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:d]), src))]
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(direct_imports(path, src) - seen)
    return seen


def load_stages() -> dict[str, dict]:
    """Stage name -> its definition (the `do:` body for foreach stages)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def src_deps(stage: dict) -> list[str]:
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
    return [d.rstrip("/") for d in deps if d.startswith("src/")]


def covered(file: str, deps: list[str]) -> bool:
    return any(file == dep or file.startswith(dep + "/") for dep in deps)


STAGES = load_stages()


def test_walker_finds_lazy_and_transitive_imports():
    rank = {p.relative_to(ROOT).as_posix() for p in transitive_imports("shortlister.stages.rank")}
    # Lazy: embeddings.base imports the built-in methods inside a function.
    assert "src/shortlister/embeddings/tuned.py" in rank
    # Transitive through stages/common.py, and package __init__s on the way.
    assert {"src/shortlister/core/logs.py", "src/shortlister/core/params.py"} <= rank
    assert {"src/shortlister/__init__.py", "src/shortlister/embeddings/__init__.py"} <= rank
    assert "src/shortlister/stages/rank.py" in rank
    assert "src/shortlister/serve/app.py" not in rank


def test_walker_resolves_relative_and_type_checking(tmp_path):
    pkg = tmp_path / PACKAGE / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (tmp_path / PACKAGE / "base.py").write_text("")
    (tmp_path / PACKAGE / "hint.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from .. import base\n"
        "if TYPE_CHECKING:\n    from shortlister import hint\n"
        "def f():\n    from . import b\n"
    )
    (pkg / "b.py").write_text("")
    found = transitive_imports(f"{PACKAGE}.sub.a", src=tmp_path)
    found = {p.relative_to(tmp_path).as_posix() for p in found}
    assert found == {
        f"{PACKAGE}/__init__.py",
        f"{PACKAGE}/base.py",
        f"{PACKAGE}/sub/__init__.py",
        f"{PACKAGE}/sub/a.py",
        f"{PACKAGE}/sub/b.py",
    }


def test_every_stage_runs_a_stage_module():
    assert STAGES, "dvc.yaml lists no stages"
    for name, stage in STAGES.items():
        match = STAGE_CMD.search(stage["cmd"])
        assert match, f"stage {name}: cmd {stage['cmd']!r} is not `python -m shortlister.stages.*`"
        assert module_file(match.group(1)), f"stage {name}: no module {match.group(1)}"


def test_listed_src_deps_exist():
    missing = {
        name: [dep for dep in src_deps(stage) if not (ROOT / dep).exists()]
        for name, stage in STAGES.items()
    }
    missing = {name: deps for name, deps in missing.items() if deps}
    assert not missing, f"dvc.yaml lists src/ deps that do not exist: {missing}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_imported_code(name):
    stage = STAGES[name]
    match = STAGE_CMD.search(stage["cmd"])
    assert match, f"stage {name}: cannot read the stage module from {stage['cmd']!r}"
    deps = src_deps(stage)
    files = sorted(p.relative_to(ROOT).as_posix() for p in transitive_imports(match.group(1)))
    missing = [f for f in files if not covered(f, deps)]
    assert not missing, (
        f"stage {name} ({match.group(1)}) imports code its dvc.yaml deps do not cover; "
        f"add to its deps: {missing}"
    )


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_list_no_code_the_stage_does_not_import(name):
    # a stale dep (a module moved or no longer imported) re-runs the stage for nothing
    stage = STAGES[name]
    files = [
        p.relative_to(ROOT).as_posix()
        for p in transitive_imports(STAGE_CMD.search(stage["cmd"]).group(1))
    ]
    stale = [d for d in src_deps(stage) if not any(covered(f, [d]) for f in files)]
    assert not stale, f"stage {name}: drop these deps, nothing it imports is there: {stale}"
