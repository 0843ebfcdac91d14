"""The package map in ARCHITECTURE.md is the truth: every module of `cu_core`, `cu_lab` and `cu_book` sits in
exactly one layer of its table, imports only modules of its own layer or of layers above it in the table, and no import
cycle exists (imports inside functions count: a local import hides a cycle, it does not remove it). `cu_core`
stays thin: under 6,000 lines of code, blank lines, comments and docstrings aside; the book pages' code cells hold
under 1,200 such lines together (the algorithms live in the packages, not on the pages).

The import graph is read statically with `ast`, so nothing is executed.
"""
from __future__ import annotations

import ast
import fnmatch
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cu_core", "cu_lab", "cu_book")
MAX_LINES = 250
CORE_CODE_LINES = 6000
PAGE_CODE_LINES = 1200  # the book pages' code cells together: a call, a glue, a plot each


def layers() -> list[tuple[str, list[str]]]:
    """(layer name, module patterns) in table order, lowest layer first, from ARCHITECTURE.md's layer table."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|", text, flags=re.M)
    assert rows, "ARCHITECTURE.md has no layer table (| n | layer | modules | ...)"
    assert [int(n) for n, _, _ in rows] == list(range(1, len(rows) + 1)), "layers are numbered 1, 2, ..."
    return [(name, re.findall(r"`([\w.*]+)`", modules)) for _, name, modules in rows]


def modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def imports(name: str, path: Path, is_package: bool, known: dict) -> set[str]:
    """The project modules that module `name` imports, anywhere in its file."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" for alias in node.names]  # `from pkg import module`
        else:
            continue
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != name:
                out.add(target)
    return out


def layer_of(name: str, table: list[tuple[str, list[str]]]) -> list[int]:
    return [i for i, (_, patterns) in enumerate(table) if any(fnmatch.fnmatchcase(name, p) for p in patterns)]


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, is_package, known) for name, (path, is_package) in known.items()}


def test_every_module_sits_in_exactly_one_layer(graph):
    table = layers()
    placed = {name: layer_of(name, table) for name in graph}
    assert not [n for n, where in placed.items() if len(where) != 1], \
        f"modules in no layer or in several: { {n: w for n, w in placed.items() if len(w) != 1} }"
    unused = [p for _, patterns in table for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in graph)]
    assert not unused, f"ARCHITECTURE.md names modules that do not exist: {unused}"


def test_imports_point_down_the_layers_only(graph):
    table = layers()
    against = [f"{name} ({table[layer_of(name, table)[0]][0]}) imports {target} "
               f"({table[layer_of(target, table)[0]][0]})"
               for name, targets in graph.items() for target in sorted(targets)
               if layer_of(target, table)[0] > layer_of(name, table)[0]]
    assert not against, "imports against the layer order of ARCHITECTURE.md:\n" + "\n".join(against)


@pytest.mark.parametrize("lower, upper", [("cu_core", "cu_book"), ("cu_core", "cu_lab"), ("cu_lab", "cu_book")])
def test_a_package_never_imports_the_packages_built_on_it(graph, lower, upper):
    def package(module: str) -> str:
        return module.split(".")[0]

    assert not [(n, t) for n, ts in graph.items() for t in ts if package(n) == lower and package(t) == upper]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_is_longer_than_the_limit():
    long = {str(p.relative_to(ROOT)): n for p, _ in modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def code_lines(source: str) -> int:
    """Lines holding code: blank lines, comments and docstrings (of modules, classes, functions) do not count."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines = {line for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type not in skip
             for line in range(tok.start[0], tok.end[0] + 1)}
    return len(lines - docstrings)


def test_code_lines_counts_code_only():
    source = '''"""Module docstring,
    two lines."""
# a comment

def f(x):
    """Docstring."""
    return (x +  # trailing comment
            1)
'''
    assert code_lines(source) == 3  # def, return, and its continuation line


def test_cu_core_stays_thin():
    total = sum(code_lines(p.read_text()) for p in (ROOT / "cu_core").rglob("*.py"))
    assert total < CORE_CODE_LINES, f"cu_core holds {total} lines of code, the limit is {CORE_CODE_LINES}"


def page_code_lines(page: str) -> int:
    """Lines of code in a MyST page's `{code-cell}` blocks (cell options such as `:tags:` and blanks aside)."""
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", page, flags=re.S | re.M)
    return sum(code_lines("\n".join(line for line in cell.splitlines() if not line.startswith(":")) + "\n")
               for cell in cells)


def test_page_code_lines_counts_code_cells_only():
    page = "# Title\n\n```{code-cell} ipython3\n:tags: [hide-input]\n\nx = 1  # one\n\n# a comment\nglue('x', x)\n```\n" \
           "\n```python\nnot = 'a code cell'\n```\n"
    assert page_code_lines(page) == 2


def test_book_pages_hold_little_code():
    pages = [p for p in (ROOT / "book").rglob("*.md") if "_build" not in p.parts]
    total = sum(page_code_lines(p.read_text()) for p in pages)
    assert pages and total < PAGE_CODE_LINES, f"the pages' code cells hold {total} lines, the limit is {PAGE_CODE_LINES}"
