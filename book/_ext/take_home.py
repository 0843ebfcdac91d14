"""Sphinx extension: every page that runs code offers its executed notebook for download and the exact commands
that rerun it (issue 21).

* `source-read`: a page with a `{code-cell}` gets, at its end, a collapsed note with a link to its executed
  notebook (`_notebooks/<page>.ipynb`) and the two commands that rerun it from the repository root (the page
  converted to a notebook by myst-nb's `mystnb-to-jupyter`, then executed by papermill in the page's folder, as
  the build does).
* `build-finished`: the executed notebooks that myst-nb wrote to `_build/jupyter_execute/` are copied to
  `html/_notebooks/`, so every link resolves and the book works offline.
"""
from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

NOTEBOOKS = "_notebooks"


def rerun_commands(docname: str) -> list[str]:
    """The commands that rerun page `docname` (e.g. 'reproduction/table1'), from the repository root; ASCII only."""
    page = PurePosixPath("book") / f"{docname}.md"
    name = PurePosixPath(docname).name
    return [f".venv/bin/mystnb-to-jupyter -o {page} {name}.ipynb",
            f".venv/bin/papermill --cwd {page.parent} {name}.ipynb {name}-executed.ipynb"]


def note(docname: str) -> str:
    """The MyST note appended to a page that runs code."""
    depth = len(PurePosixPath(docname).parts) - 1
    href = "../" * depth + f"{NOTEBOOKS}/{docname}.ipynb"
    commands = "\n".join(rerun_commands(docname))
    return ("\n\n:::{admonition} Take this page home\n:class: tip dropdown\n\n"
            f'This page\'s notebook, as executed for this build: <a href="{href}" download>'
            f"{PurePosixPath(docname).name}.ipynb</a>. To rerun the page, from the repository root (the results it "
            f"reads come from `data/results/`, or from `$CU_RESULTS_DIR` when set):\n\n```bash\n{commands}\n```\n:::\n")


def _source_read(app, docname: str, source: list[str]) -> None:
    if "```{code-cell}" in source[0] and "Take this page home" not in source[0]:
        source[0] += note(docname)


def _build_finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute"
    for path in executed.rglob("*.ipynb"):
        target = Path(app.outdir) / NOTEBOOKS / path.relative_to(executed)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def setup(app):
    app.connect("source-read", _source_read)
    app.connect("build-finished", _build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
