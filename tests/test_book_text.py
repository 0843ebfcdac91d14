"""The book's text as a reader gets it (issue 21): no tracked file rewritten by `make book`, no machine path, no
'+dirty' marker, no '1 threads', no typographic dash in a command, no LaTeX in a page or link title.

The source checks read `book/**/*.md`; the checks of the built HTML read `book/_build/html` when a build is
there (`make book` or `jupyter-book build book`) and skip, saying so, when none is."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from cu_book.formatting import commit_text, device_text, shown_path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BUILT = BOOK / "_build" / "html"
PAGES = sorted(p for p in BOOK.rglob("*.md") if "_build" not in p.parts and p.name != "README.md")
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # hyphen, non-breaking hyphen, figure/en/em dash, bar, minus
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|root|home)/[\w.-]+")
BAD_PLURAL = re.compile(r"(?<![\d.,])\b1 (?:threads|runs|seeds|epochs|passes|models|cores|drivers|pages|exercises)\b")


def test_make_book_writes_the_quickstart_runs_to_an_ignored_folder():
    make = (ROOT / "Makefile").read_text()
    folder = re.search(r"^QUICKSTART_RESULTS := (\S+)$", make, re.M)
    assert folder, "the Makefile names no QUICKSTART_RESULTS folder"
    assert "cu_core quickstart --results-dir $(QUICKSTART_RESULTS)" in make
    assert "CU_QUICKSTART_RESULTS_DIR=$(CURDIR)/$(QUICKSTART_RESULTS) $(BIN)/jupyter-book build" in make
    probe = f"{folder.group(1)}/quickstart/original/metrics.json"
    ignored = subprocess.run(["git", "check-ignore", "-q", probe], cwd=ROOT)
    assert ignored.returncode == 0, f"{probe} is not ignored by git: `make book` would dirty the tree"


def test_provenance_as_the_book_prints_it():
    assert device_text("cpu (1 threads, x86_64)") == "cpu (1 thread, x86_64)"
    assert device_text("cpu (12 threads, x86_64)") == "cpu (12 threads, x86_64)"
    assert commit_text("0123456789abcdef0123+dirty") == "0123456789ab (uncommitted changes)"
    assert commit_text("0123456789abcdef0123", 8) == "01234567" and commit_text(None) == "not recorded"
    assert shown_path(ROOT / "data" / "results") == "data/results"
    assert shown_path("/somewhere/else/results") == "…/else/results"


def code_blocks(text: str) -> list[str]:
    """Fenced code blocks (``` or ~~~, not MyST directives) and inline `code` of a page."""
    fenced = re.findall(r"^(```+|~~~+)(?!\{)[^\n]*\n(.*?)^\1", text, re.S | re.M)
    inline = re.findall(r"(?<![`{])`([^`\n]+)`(?!`)", re.sub(r"^(```+|~~~+).*?^\1", "", text, flags=re.S | re.M))
    return [body for _, body in fenced] + inline


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(BOOK).as_posix() for p in PAGES])
def test_page_source(page):
    text = page.read_text(encoding="utf-8")
    problems = [f"typographic dash in code: {c.strip()[:80]!r}" for c in code_blocks(text)
                if any(d in c for d in DASHES) and ("--" in c or "python" in c or "papermill" in c or "make" in c)]
    problems += [f"LaTeX in a title: {t!r}" for t in re.findall(r"^#{1,6} (.*)$", text, re.M) if "$" in t or "\\(" in t]
    problems += [f"machine path: {m!r}" for m in MACHINE_PATH.findall(text)]
    problems += [f"'+dirty' in the text: {line.strip()[:80]!r}" for line in text.splitlines() if "+dirty" in line]
    problems += [f"plural after 1: {m!r}" for m in BAD_PLURAL.findall(text)]
    assert not problems, "\n".join(problems)


def built_pages() -> list[Path]:
    """The pages of book/_build/html; skips when there is no build or it is older than a page or a reader (the
    session build of tests/test_book.py is checked by `test_book.py::test_pages_have_no_text_glitches`)."""
    if not (BUILT / "intro.html").is_file():
        pytest.skip(f"no built book in {BUILT.relative_to(ROOT)}: run `make book` first")
    sources = [*PAGES, *(ROOT / "cu_book").rglob("*.py")]
    if max(p.stat().st_mtime for p in sources) > (BUILT / "intro.html").stat().st_mtime:
        pytest.skip(f"the build in {BUILT.relative_to(ROOT)} is older than the book's sources: run `make book`")
    return sorted(p for p in BUILT.rglob("*.html") if not {"_static", "_sources", "_images"} & set(p.parts))


def visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&amp;", "&").replace("&lt;", "<")


def html_problems(html: str) -> list[str]:
    """What issue 21 forbids in a built page: a typographic dash in a code block or inline code, LaTeX in the page
    title, a heading or a link's text, '+dirty', a machine path, '1 threads'-style plurals, a drifted method name."""
    problems = []
    for code in re.findall(r"<(pre|code)\b[^>]*>(.*?)</\1>", html, re.S):
        text = visible_text(code[1])
        if any(d in text for d in DASHES) and re.search(r"[\u2013\u2014][a-z]|(?:^|\s)(?:python -m|papermill|make|jupyter-book) ", text):
            problems.append(f"typographic dash in code: {text.strip()[:100]!r}")
    titles = re.findall(r"<title>(.*?)</title>", html, re.S) + re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", html, re.S)
    titles += re.findall(r"<a\b[^>]*>(.*?)</a>", html, re.S)
    for title in titles:
        if "<mjx" in title or "class=\"math" in title or re.search(r"\\\(|\\\[|\$\\|\\lambda|\\tau|\\omega", title):
            problems.append(f"LaTeX in a title or link: {visible_text(title).strip()[:100]!r}")
    text = visible_text(html)
    problems += [f"typographic dash before an option: {m!r}"
                 for m in re.findall(r"(?<![\w-])[\u2013\u2014][a-z][\w-]*", text)]
    problems += [f"'+dirty': …{text[max(0, i - 40):i + 10]!r}" for i in [m.start() for m in re.finditer(r"\+dirty", text)]]
    problems += [f"machine path: {m!r}" for m in MACHINE_PATH.findall(text)]
    problems += [f"plural after 1: {m!r}" for m in BAD_PLURAL.findall(text)]
    from cu_book.method_names import VARIANTS

    problems += [f"method spelling {wrong!r} (the book writes {right!r})" for wrong, right in VARIANTS.items()
                 if re.search(r"\b" + r"\s+".join(map(re.escape, wrong.split())) + r"\b", text)]
    return problems


def test_html_problems_are_found():
    bad = ('<title>The temperature \\(\\tau\\)</title><pre>papermill a.ipynb b.ipynb \u2013p seed 1</pre>'
           '<p>cpu (1 threads, x86_64), commit abc+dirty in /work/main/data; run with \u2013threads 1</p>')
    found = html_problems(bad)
    assert len(found) == 7, found  # the dash in the command is found twice: in code and before an option
    assert not html_problems('<title>The temperature τ</title><pre>papermill a.ipynb b.ipynb -p seed 1</pre>'
                             '<p>cpu (1 thread, x86_64), 10 – 20 %, data/results</p>')


def test_built_pages():
    problems = [f"{page.relative_to(BUILT)}: {p}" for page in built_pages()
                for p in html_problems(page.read_text(encoding="utf-8", errors="replace"))]
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:60])


def test_one_spelling_per_method():
    """Every registered method has one display name; no page source uses a drifted spelling (issue 21)."""
    from cu_book import method_names

    assert method_names.missing() == []
    assert method_names.paper_label("Neggrad") == "NegGrad"
    assert method_names.paper_label("Boundary Expansion") == "Boundary Expanding"
    assert method_names.paper_label("Retrain (ref)") == "Retrain (ref)"
    problems = [f"{page.relative_to(BOOK)}: {wrong!r} (write {right!r})" for page in PAGES
                for wrong, right in method_names.VARIANTS.items()
                if re.search(r"\b" + r"\s+".join(map(re.escape, wrong.split())) + r"\b", page.read_text(encoding="utf-8"))]
    assert not problems, "\n".join(problems)


def test_text_glued_as_plain_text_has_no_markdown_backticks():
    """`{glue:text}` shows a string as it is: readers that feed it must not put Markdown code marks in it."""
    from cu_book import beyond, questions

    found, missing = beyond.chapter_profiles(["quick", "no-such-profile"])
    assert "`" not in found + missing and "no-such-profile" in missing
    assert "`" not in questions.found_profiles(("quick", "no-such-profile"))


def test_take_home_note_names_the_page_and_its_notebook():
    """book/_ext/take_home.py: the rerun commands name the page's source and folder, in ASCII; the notebook link
    climbs out of the page's folder to html/_notebooks/."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("take_home", BOOK / "_ext" / "take_home.py")
    take_home = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(take_home)
    commands = take_home.rerun_commands("reproduction/table1")
    assert commands == [".venv/bin/mystnb-to-jupyter -o book/reproduction/table1.md table1.ipynb",
                        ".venv/bin/papermill --cwd book/reproduction table1.ipynb table1-executed.ipynb"]
    assert all(c.isascii() for c in commands) and (ROOT / "book/reproduction/table1.md").is_file()
    note = take_home.note("reproduction/table1")
    assert 'href="../_notebooks/reproduction/table1.ipynb"' in note and "```bash\n" + "\n".join(commands) in note
    assert 'href="_notebooks/findings.ipynb"' in take_home.note("findings")
