"""docs/architecture.md names only modules and functions that exist, and every module.

The module table's rows are read as: the module's path in the first cell, then the concern,
in which `name()` is a function or class defined in that module (for a package: in the
package's modules) and `module.name()` one defined in the module of that name. Every other
backticked path (`analyzer/...`) must exist. Every module of the package has a row, and every
folder's `__init__.py` opens with a docstring saying which stage it is.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "analyzer"
DOC = ROOT / "docs" / "architecture.md"
ROW = re.compile(r"^\|\s*`(analyzer/[^`]+)`\s*\|(.*)\|\s*$")
CALL = re.compile(r"`((?:[A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*)\(\)`")
PATH = re.compile(r"`(analyzer/[A-Za-z0-9_/.]*)`")


def _defined(path: Path) -> set[str]:
    """Top-level functions, classes and assigned names of a module, and methods as
    Class.method."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            for inner in node.body:
                if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}.{inner.name}")
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _modules() -> dict[Path, set[str]]:
    return {p: _defined(p) for p in PACKAGE.rglob("*.py")}


def _files_of(cell_path: str) -> list[Path]:
    target = ROOT / cell_path.rstrip("/")
    if target.is_dir():
        return sorted(target.rglob("*.py"))
    return [target]


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


def test_every_module_row_names_a_module_that_exists():
    rows = _rows()
    assert len(rows) > 20, "no module table found in docs/architecture.md"
    missing = [path for path, _ in rows if not (ROOT / path.rstrip("/")).exists()]
    assert missing == []


def test_functions_in_a_row_are_defined_in_that_module():
    modules = _modules()
    by_stem: dict[str, set[str]] = {}
    for path, names in modules.items():
        stem = path.parent.name if path.name == "__init__.py" else path.stem
        by_stem.setdefault(stem, set()).update(names)
    wrong = []
    for cell_path, concern in _rows():
        here: set[str] = set()
        for f in _files_of(cell_path):
            here |= modules.get(f, set())
        for name in CALL.findall(concern):
            parts = name.split(".")
            if name in here:
                continue
            if len(parts) >= 2 and ".".join(parts[1:]) in by_stem.get(parts[0], set()):
                continue
            wrong.append(f"{cell_path}: {name}()")
    assert wrong == []


def test_every_path_in_the_page_exists():
    text = DOC.read_text(encoding="utf-8")
    missing = sorted({p for p in PATH.findall(text) if not (ROOT / p.rstrip("/")).exists()})
    assert missing == []


def test_every_module_has_a_row():
    listed: set[Path] = set()
    for cell_path, _ in _rows():
        listed.update(_files_of(cell_path))
    unlisted = [
        str(p.relative_to(ROOT))
        for p in sorted(PACKAGE.rglob("*.py"))
        if p not in listed
        and p.name != "__main__.py"
        and not (p.name == "__init__.py" and p.parent / "__init__.py" == p and _is_bare(p))
    ]
    assert unlisted == []


def _is_bare(init: Path) -> bool:
    """An __init__.py holding only its docstring and re-exports."""
    tree = ast.parse(init.read_text(encoding="utf-8"))
    return all(
        isinstance(node, ast.Import | ast.ImportFrom)
        or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        or (
            isinstance(node, ast.Assign)
            and all(
                isinstance(t, ast.Name) and t.id in {"__all__", "__version__"} for t in node.targets
            )
        )
        for node in tree.body
    )


def test_every_folder_says_which_stage_it_is():
    silent = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        if not doc or len(doc.split()) < 6:
            silent.append(str(init.relative_to(ROOT)))
    assert silent == []


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


def _folder(module: str) -> str:
    """The stage folder of a dotted module name inside the package; a module at the
    package's root (errors, config, dates...) is a node of its own."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__init__":
        return "analyzer"
    return parts[1]


def _folder_imports() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        here = _folder(".".join(rel.parts))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name == "analyzer" or name.startswith("analyzer."):
                    there = _folder(name)
                    if there != here:
                        edges.setdefault(here, set()).add(there)
    return edges


def test_stage_folders_import_each_other_without_a_cycle():
    """A path through the code (the CLI to grading/grade.py, the batch to the store) enters
    each folder once: no folder imports one that imports it back, however indirectly."""
    edges = _folder_imports()
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in trail:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif len(trail) < 12:
                visit(nxt, [*trail, nxt])

    for start in sorted(edges):
        visit(start, [start])
    assert sorted(set(cycles)) == []
