"""Serve MathJax 3 from the book's own ``_static`` folder instead of a CDN.

Sphinx renders math with ``sphinx.ext.mathjax``, whose default ``mathjax_path`` points at
jsDelivr. A reader without internet then sees raw TeX. This extension

1. finds the MathJax 3 distribution shipped by the PyPI package ``django-static-mathjax``
   (importable as ``mathjax``; files under ``mathjax/static/mathjax/es5``),
2. sets ``mathjax_path`` to ``mathjax/tex-mml-chtml.js`` (Sphinx reads a relative
   path as relative to ``_static/``), and
3. after an HTML build, copies the entry script plus every file it loads at run time into
   ``<outdir>/_static/mathjax/``.

Registered in ``_config.yml`` under ``sphinx: local_extensions: {local_mathjax: _ext}``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

ENTRY = "tex-mml-chtml.js"
"""The combined component Sphinx loads: TeX and MathML input, CommonHTML output."""

TARGET = "mathjax"
"""Folder under ``_static/`` that receives the copy."""

RUNTIME_FILES = [
    ENTRY,
    "input/tex/extensions",  # \require{...} and autoload (e.g. \cancel, \mathtools macros)
    "input/mml/extensions",  # MathML 3 extension, loaded on demand
    "output/chtml/fonts/woff-v2",  # CommonHTML web fonts (referenced from generated CSS)
    "output/svg.js",  # "Math Renderer: SVG" in the right-click menu
    "ui",  # menu / lazy / safe components
    "a11y",  # accessibility components the menu can switch on
    "sre",  # speech-rule-engine maps used by the a11y explorer
]
"""Paths, relative to MathJax's ``es5/`` folder, that ``tex-mml-chtml.js`` may request.

Found by listing the ``[mathjax]/...`` and component names inside ``tex-mml-chtml.js``;
about 7 MB instead of the whole 24 MB ``es5`` tree.
"""

MISSING = (
    "local_mathjax: cannot find a local MathJax 3 copy. The book serves MathJax itself so "
    "that it can be read offline. Install it with: pip install django-static-mathjax"
)


def mathjax_es5_dir() -> Path:
    """Return the ``es5`` folder of the installed ``django-static-mathjax`` package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(MISSING)
    for location in spec.submodule_search_locations:
        es5 = Path(location) / "static" / "mathjax" / "es5"
        if (es5 / ENTRY).is_file():
            return es5
    raise ExtensionError(f"{MISSING} (package 'mathjax' found, but no static/mathjax/es5/{ENTRY})")


def _configure(app: Sphinx, config: Config) -> None:
    es5 = mathjax_es5_dir()  # fail early, before any page is read
    missing = [rel for rel in RUNTIME_FILES if not (es5 / rel).exists()]
    if missing:
        raise ExtensionError(f"local_mathjax: {es5} lacks {missing}; reinstall django-static-mathjax")
    config.mathjax_path = f"{TARGET}/{ENTRY}"


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    es5 = mathjax_es5_dir()
    dest = Path(app.outdir) / "_static" / TARGET
    for rel in RUNTIME_FILES:
        src, dst = es5 / rel, dest / rel
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    logger.info("local_mathjax: copied MathJax from %s to %s", es5, dest)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    # Load MathJax on every page, not only on pages whose body has math: the sidebar shows page titles with
    # math (e.g. "λ_CE" written as $\lambda_{CE}$) on every page, and those must render too.
    app.set_html_assets_policy("always")
    app.connect("config-inited", _configure)
    app.connect("build-finished", _copy)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
