"""Shared fixtures: a trained original and retrained model on digits (the default config), the smoke profile's
results from the in-process driver, the book's results and HTML; each made once per session."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cu_core.config import RunConfig, TrainConfig
from cu_core.pipeline import run_training

os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def digits_runs(tmp_path_factory):
    """Original and retrained models of the default config, with their own cache and results folders."""
    root = tmp_path_factory.mktemp("digits_runs")
    cfg = RunConfig(train=TrainConfig(progress=False))
    runs = {kind: run_training(cfg, retrain=kind == "retrain", out_dir=root / "results" / kind,
                               cache_dir=root / "cache") for kind in ("original", "retrain")}
    return {"root": root, "cfg": cfg, **runs}


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """The smoke profile run once by the in-process driver, `python -m cu_core.experiments run --profile smoke
    --threads 1` (one thread, as each cluster job has), with its own checkpoint cache: {"results", "cache",
    "proc"}. tests/test_experiments.py checks it and resumes it, tests/test_submit_slurm.py compares the Slurm
    jobs' results with it. Read it; never write into it (hidden lock files aside)."""
    root = tmp_path_factory.mktemp("smoke_results")
    env = {**os.environ, "CU_CACHE_DIR": str(root / "cache"), "TQDM_DISABLE": "1"}
    proc = subprocess.run([sys.executable, "-m", "cu_core.experiments", "run", "--profile", "smoke", "--results-dir",
                           str(root / "results"), "--threads", "1", "--no-progress"], capture_output=True, text=True,
                          env=env, timeout=900, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, f"the in-process smoke run failed:\n{proc.stderr[-3000:]}"
    return {"results": root / "results", "cache": root / "cache", "proc": proc}


@pytest.fixture(scope="session")
def class_setup(digits_runs):
    """The default class task's prepared data and its original model (from the session's cache).

    Modules that need the retrained model as well override this fixture."""
    from cu_core.pipeline import prepare, train_reference

    prep = prepare(digits_runs["cfg"])
    return prep, train_reference(prep, retrain=False, cache_dir=digits_runs["root"] / "cache")


@pytest.fixture(scope="session")
def book_results(tmp_path_factory, digits_runs):
    """Real quickstart results, written by the project's own CLI (its models come from the session's
    checkpoint cache: the quickstart config is the default one that `digits_runs` trained)."""
    import sys

    from test_book import run, tail

    out = tmp_path_factory.mktemp("results")
    proc = run([sys.executable, "-m", "cu_core", "quickstart", "--results-dir", str(out), "--no-progress",
                "--cache-dir", str(digits_runs["root"] / "cache")])
    assert proc.returncode == 0, f"`python -m cu_core quickstart` failed:\n{tail(proc)}"
    for kind in ("original", "retrain"):
        for name in ("metrics.json", "history.csv"):
            assert (out / "quickstart" / kind / name).is_file(), f"CLI did not write {kind}/{name}"
    return out


@pytest.fixture(scope="session")
def book_html(tmp_path_factory, request):
    """The whole book, built once per session from a copy with the -W -n gate, against `book_results`
    (tests/test_book.py checks its HTML, tests/test_browser.py opens it in Chromium). With $CU_BOOK_HTML set to a
    built book's html folder (e.g. book/_build/html after `make book`), that build is used instead: the pages
    then show the committed results, not only the quickstart."""
    from test_book import build, copy_book, tail

    if os.environ.get("CU_BOOK_HTML"):
        out = Path(os.environ["CU_BOOK_HTML"]).resolve()
        assert (out / "intro.html").is_file(), f"CU_BOOK_HTML={out} holds no built book (no intro.html)"
        return out
    book_results = request.getfixturevalue("book_results")
    book = copy_book(tmp_path_factory.mktemp("book") / "book")
    proc = build(book, book_results)
    assert proc.returncode == 0, f"book build failed (exit {proc.returncode}):\n{tail(proc)}"
    out = book / "_build" / "html"
    assert (out / "intro.html").is_file() and (out / "quickstart_results.html").is_file()
    return out
