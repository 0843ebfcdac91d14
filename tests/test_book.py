"""End-to-end tests of the Jupyter Book in book/.

The book is built once per test session, from a copy, against results produced by
``python -m cu_core quickstart`` in a temporary folder (fixtures ``book_results`` and ``book_html``
in conftest.py, shared with tests/test_browser.py); this module checks the HTML:

(a) every script, stylesheet, image, icon, iframe and CSS ``url()``/``@import`` is a local
    file that exists, so reading the book contacts no other host;
(b) MathJax is served from ``_static/mathjax/`` and every page with math loads it;
(c) the numbers glued into the quickstart page equal the values in metrics.json;
(d) a broken cross-reference fails the build (``-W -n`` really gates).
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from cu_book.formatting import device_text

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
BUILD_FLAGS = ["--all", "-W", "-n", "--keep-going"]
SPLITS = ["forget_train", "retain_train", "val", "test", "forget_test", "retain_test"]


# --------------------------------------------------------------------------- helpers
def run(cmd: list[str], *, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def tail(proc: subprocess.CompletedProcess, n: int = 4000) -> str:
    return (proc.stdout + "\n" + proc.stderr)[-n:]


def build(book_dir: Path, results_dir: Path | None = None) -> subprocess.CompletedProcess:
    if not JUPYTER_BOOK.exists():
        pytest.fail(f"{JUPYTER_BOOK} not found: install the book extras (pip install -e '.[book]')")
    env = dict(os.environ)
    if results_dir is not None:
        env["CU_RESULTS_DIR"] = str(results_dir)
    return run([str(JUPYTER_BOOK), "build", str(book_dir), *BUILD_FLAGS], env=env)


def copy_book(dest: Path) -> Path:
    shutil.copytree(BOOK, dest, ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__"))
    return dest


class Resources(HTMLParser):
    """Collect every URL a browser would fetch while rendering one HTML page."""

    FETCHED = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
               ("source", "src"), ("video", "src"), ("audio", "src"), ("embed", "src"),
               ("object", "data"), ("input", "src")}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for t, a in self.FETCHED:
            if tag == t and attrs.get(a):
                self.urls.append((tag, attrs[a]))
        if tag == "img" and attrs.get("srcset"):
            self.urls += [("img", part.split()[0]) for part in attrs["srcset"].split(",") if part.strip()]
        if attrs.get("style"):
            self.inline_styles.append(attrs["style"])
        self._in = tag if tag in ("script", "style") and not attrs.get("src") else None

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.inline_scripts.append(data)
        elif self._in == "style":
            self.inline_styles.append(data)


CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.S)


def css_urls(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments may hold URLs
    return [m.group(2) or m.group(4) for m in CSS_URL.finditer(text)]


def local_problem(url: str, base: Path) -> str | None:
    """None if `url` names an existing local file (relative to `base`), else the reason."""
    url = url.strip()
    if not url or url.startswith(("#", "data:")):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or url.startswith("//"):
        return "not local"
    target = (base / unquote(parts.path)).resolve()
    return None if target.exists() else f"missing file {target}"


def pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(html).parts))


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment: tags dropped (not replaced), whitespace collapsed."""
    fragment = re.sub(r"<(script|style)\b.*?</\1>", "", fragment, flags=re.S)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment))).strip()


# --------------------------------------------------------------------------- fixtures
# The book is built once per session (conftest.py: `book_results`, `book_html`, which use the helpers above);
# tests/test_browser.py opens the same build in Chromium.
@pytest.fixture(scope="module")
def results(book_results) -> Path:
    return book_results


@pytest.fixture(scope="module")
def html(book_html) -> Path:
    return book_html


# --------------------------------------------------------------------------- (a)
def test_pages_request_only_local_files(html):
    problems = []
    for page in pages(html):
        parser = Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, url in parser.urls:
            if (why := local_problem(url, page.parent)):
                problems.append(f"{page.name}: <{tag}> {url} ({why})")
        for style in parser.inline_styles:
            for url in css_urls(style):
                if (why := local_problem(url, page.parent)):
                    problems.append(f"{page.name}: inline style url({url}) ({why})")
        for script in parser.inline_scripts:
            for url in re.findall(r"""(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s"'<>]*""", script):
                problems.append(f"{page.name}: inline script mentions {url}")
    assert not problems, "\n".join(problems)


def test_css_refers_only_to_local_files(html):
    css_files = sorted((html / "_static").rglob("*.css"))
    assert css_files, "no CSS in _static?"
    problems = [f"{css.relative_to(html)}: {url} ({why})"
                for css in css_files
                for url in css_urls(css.read_text(encoding="utf-8", errors="replace"))
                if (why := local_problem(url, css.parent))]
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- (b)
def test_mathjax_is_local_and_loaded_by_every_page_with_math(html):
    mj = html / "_static" / "mathjax"
    assert (mj / "tex-mml-chtml.js").is_file()
    assert list((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_Main-Regular.woff"))
    assert (mj / "input" / "tex" / "extensions" / "ams.js").is_file()
    with_math = []
    for page in pages(html):
        text = page.read_text(encoding="utf-8")
        if re.search(r'class="math[ "]', text):
            with_math.append(page.name)
            parser = Resources()
            parser.feed(text)
            scripts = [urlsplit(u).path for t, u in parser.urls if t == "script"]
            assert any(s.endswith("_static/mathjax/tex-mml-chtml.js") and
                       (page.parent / s).resolve() == (mj / "tex-mml-chtml.js").resolve()
                       for s in scripts), f"{page.name} has math but does not load local MathJax"
            assert "cdn.jsdelivr" not in text and "mathjax@3" not in text
    assert "intro.html" in with_math and "quickstart_results.html" in with_math


# --------------------------------------------------------------------------- (c)
def test_quickstart_numbers_match_metrics(html, results):
    page = (html / "quickstart_results.html").read_text(encoding="utf-8")
    metrics = {k: json.loads((results / "quickstart" / k / "metrics.json").read_text())
               for k in ("original", "retrain")}
    pct = {k: {s: f"{100 * float(m['acc'][s]):.2f}" for s in SPLITS} for k, m in metrics.items()}

    table = re.search(r'<table[^>]*id="tab-quickstart-accuracy".*?</table>', page, re.S)
    assert table, "accuracy table not found"
    rows = [[text_of(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r, re.S)]
            for r in re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(0), re.S)]
    body = [r for r in rows if r and r[0] != "Evaluated on"]
    assert [(r[1], r[2]) for r in body] == [(pct["original"][s], pct["retrain"][s]) for s in SPLITS]

    caption = text_of(re.search(r"<caption.*?</caption>", table.group(0), re.S).group(0))
    m = metrics["original"]
    device = device_text(m["device"])  # as the book prints it ("1 thread", not "1 threads")
    for item in (m["dataset"], m["config"]["model"]["name"], device, f"Seed: {m['seed']}",
                 "Profile: quickstart"):
        assert item in caption, f"{item!r} missing from table caption {caption!r}"

    text = text_of(page).replace("\u2019", "'")
    assert f"forgotten class's test images is {pct['retrain']['forget_test']}%" in text
    assert f"It recognises {pct['original']['forget_train']}% of the forget set" in text
    assert f"in {float(metrics['retrain']['seconds']['train']):.1f} s" in text or \
        f"took {float(metrics['retrain']['seconds']['train']):.1f} s" in text

    figure = re.search(r'<figure[^>]*id="fig-quickstart-curves".*?</figure>', page, re.S)
    assert figure and "<img" in figure.group(0), "training-curve figure missing"
    fig_caption = text_of(figure.group(0))
    assert m["dataset"] in fig_caption and device in fig_caption and "quickstart" in fig_caption


def test_pages_have_no_text_glitches(html):
    """No typographic dash in a command, no LaTeX in a title or link, no '+dirty', no machine path, no '1 threads'
    (issue 21; the checks are `test_book_text.html_problems`)."""
    from test_book_text import html_problems

    problems = [f"{page.relative_to(html)}: {p}" for page in pages(html)
                for p in html_problems(page.read_text(encoding="utf-8", errors="replace"))]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:60])


# --------------------------------------------------------------------------- (d)
def _tiny_book(dest: Path, intro: str) -> Path:
    """_config.yml, _ext, _static and references.bib of the real book, with a one-page toc."""
    dest.mkdir(parents=True)
    for name in ("_config.yml", "references.bib"):
        shutil.copy2(BOOK / name, dest / name)
    shutil.copytree(BOOK / "_ext", dest / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(BOOK / "_static", dest / "_static")
    (dest / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (dest / "intro.md").write_text(intro)
    return dest


def test_broken_reference_fails_the_build(tmp_path):
    good = _tiny_book(tmp_path / "good", "(top)=\n# Tiny\n\nSee {ref}`top` and $x^2$.\n")
    proc = build(good)
    assert proc.returncode == 0, f"control build failed:\n{tail(proc)}"

    bad = _tiny_book(tmp_path / "bad", "(top)=\n# Tiny\n\nSee {ref}`no-such-label` and $x^2$.\n")
    proc = build(bad)
    assert proc.returncode != 0, "a broken {ref} did not fail the build"
    assert "no-such-label" in proc.stdout + proc.stderr
