"""The template notebooks and the parameters each declares in its `parameters` cell (as papermill reads them):
what a profile may set, with types, defaults and help, read without running anything."""
from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import ConfigError
from ..paths import project_root

TEMPLATE_DIR = project_root() / "notebooks"


def templates() -> list[str]:
    """The template notebooks' file names."""
    return sorted(p.name for p in TEMPLATE_DIR.glob("*.ipynb"))


class Parameter(NamedTuple):
    """A template parameter: its name, declared type ("str", "int", "float", "bool"), default and comment."""

    name: str
    type: str
    default: Any
    help: str


@functools.lru_cache(maxsize=64)
def _declared(path: str, mtime_ns: int) -> dict[str, Parameter]:
    nb = json.loads(Path(path).read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ConfigError("template", Path(path).name, "a notebook with exactly one cell tagged 'parameters'")
    source = "".join(cells[0]["source"])
    lines = source.splitlines()
    out = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(node.annotation, ast.Name) and isinstance(node.value, ast.Constant)):
            raise ConfigError("template", Path(path).name, "a parameters cell of flat typed literals "
                              "(`name: type = value  # comment`)")
        line = lines[node.lineno - 1]
        out[node.target.id] = Parameter(node.target.id, node.annotation.id, node.value.value,
                                        line.split("#", 1)[1].strip() if "#" in line else "")
    return out


def declared_parameters(template: str) -> dict[str, Parameter]:
    """The parameters a template declares, in order (read from its `parameters` cell, as papermill reads it)."""
    path = TEMPLATE_DIR / template
    if not path.is_file():
        raise ConfigError("template", template, "expected one of " + ", ".join(templates()))
    return dict(_declared(str(path), path.stat().st_mtime_ns))


def template_parameters(template: str) -> dict[str, Any]:
    """The parameters a template declares (papermill's inspection of its `parameters` cell)."""
    import papermill

    path = TEMPLATE_DIR / template
    if not path.is_file():
        raise ConfigError("template", template, ", ".join(sorted(p.name for p in TEMPLATE_DIR.glob("*.ipynb"))))
    return papermill.inspect_notebook(str(path))
