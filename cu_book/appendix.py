"""The reproducibility appendix (`book/appendix/index.md`): what built the book and what the results record.

- `summaries`, `quickstart_runs`: the summary `metrics.json` of each finished run of a profile, and the two models
  that `make book` trains;
- `environment_table`, `recorded_table`: the software versions of this build beside those each profile's results
  recorded, and the devices and commits that made them;
- `data_readings`: the data's provenance and checksums (digits arrays, CIFAR-10 archive, torchvision files);
- `splits_table`: every split (its `split_sha256`) that the results used, with how many models used it.
"""
from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cu_book.formatting import commit_text, device_text
from cu_core.data import cifar_archive
from cu_core.data.datasets import load_dataset
from cu_core.paths import data_dir
from cu_core.results import read_metrics, versions, visible

BOOK_PACKAGES = ["jupyter-book", "sphinx", "myst-nb", "papermill", "pandas", "matplotlib", "scipy"]
NO_RESULTS = "No results yet: run `make book` or a profile."


def summaries(profile: str, results: Path) -> list[dict[str, Any]]:
    """The summary metrics.json of every finished run of `profile` (one per executed template)."""
    base = results / profile
    found = [read_metrics(p) for p in sorted(base.glob("*/*/metrics.json")) if visible(p, results)]
    return [m for m in found if m is not None and m.get("kind") == "experiment"]


def quickstart_runs(results: Path) -> list[dict[str, Any]]:
    """The two models `make book` trains (python -m cu_core quickstart)."""
    found = [read_metrics(results / "quickstart" / kind) for kind in ("original", "retrain")]
    return [m for m in found if m is not None]


def installed(name: str) -> str:
    """The installed version of distribution `name`, or '–'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "–"


def environment_table(recorded_runs: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Package versions: this build's, then those recorded by each profile's runs (a profile without runs: none)."""
    live = {**versions(), **{name: installed(name) for name in BOOK_PACKAGES}}
    columns = {"this build": live}
    for name, runs in recorded_runs.items():
        if runs:
            keys = dict.fromkeys(k for m in runs for k in m["versions"])
            columns[name] = {k: " / ".join(sorted({str(m["versions"].get(k, "–")) for m in runs})) for k in keys}
    env = pd.DataFrame(columns).fillna("–")
    env.index.name = "package"
    return env


def recorded_table(recorded_runs: dict[str, list[dict[str, Any]]]) -> pd.DataFrame | str:
    """Per profile with runs: its device(s) and git commit(s) (a commit made from a checkout
    with uncommitted changes marked so, `formatting.commit_text`); a sentence when there are none."""
    rows = []
    for name, runs in recorded_runs.items():
        if not runs:
            continue
        commits = sorted({commit_text(m.get("git_commit")) for m in runs})
        rows.append({"profile": name, "device(s)": "; ".join(sorted({device_text(m["device"]) for m in runs})),
                     "git commit(s)": ", ".join(commits)})
    return pd.DataFrame(rows).set_index("profile") if rows else NO_RESULTS


def array_sha256(*arrays: np.ndarray) -> str:
    """The sha256 of the arrays' bytes (C order), in turn."""
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def data_readings() -> dict[str, str]:
    """The data's provenance and checksums (glue name -> text), the archive's state in this build's data folder."""
    from torchvision.datasets import CIFAR10, SVHN

    digits = {split: load_dataset("digits", split) for split in ("train", "test")}
    archive = data_dir() / cifar_archive.ARCHIVE_NAME
    if archive.is_file():
        actual = cifar_archive.sha256_file(archive)
        archive_state = ("found in the data folder; its sha256 matches" if actual == cifar_archive.ARCHIVE_SHA256
                         else f"found in the data folder, but its sha256 is {actual}: it is NOT the known copy")
    else:
        archive_state = "not present in the data folder of this build"
    out = {
        "archive_name": cifar_archive.ARCHIVE_NAME,
        "archive_sha": cifar_archive.ARCHIVE_SHA256,
        "archive_state": archive_state,
        "digits_train_n": f"{len(digits['train'].labels):,}",
        "digits_test_n": f"{len(digits['test'].labels):,}",
        "sklearn_version": installed("scikit-learn"),
        "torchvision_version": installed("torchvision"),
        "digits_train_sha": array_sha256(digits["train"].images, digits["train"].labels),
        "digits_test_sha": array_sha256(digits["test"].images, digits["test"].labels),
        "cifar_file": CIFAR10.filename,
        "cifar_md5": CIFAR10.tgz_md5,
    }
    for split in ("train", "test"):
        out[f"svhn_{split}_file"] = SVHN.split_list[split][1]
        out[f"svhn_{split}_md5"] = SVHN.split_list[split][2]
    return out


def splits_table(results: Path) -> pd.DataFrame | str:
    """Each split the results used (dataset, task, forget set, seed, split_sha256): models and profiles using it."""
    split_rows = []
    for path in sorted(results.glob("**/metrics.json")):
        if not visible(path, results):
            continue
        try:
            m = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(m, dict) or "split_sha256" not in m:
            continue
        split = m["config"]["split"]
        split_rows.append({"dataset": m["dataset"], "task": split["task"],
                           "forget": f"class {split['forget_class']}" if split["task"] == "class"
                           else f"{split['num_forget']} samples",
                           "seed": split["seed"], "split_sha256": m["split_sha256"][:16] + "…",
                           "profile": path.relative_to(results).parts[0]})
    if not split_rows:
        return NO_RESULTS
    return (pd.DataFrame(split_rows)
            .groupby(["dataset", "task", "forget", "seed", "split_sha256"], sort=True)
            .agg(models=("profile", "size"), profiles=("profile", lambda p: ", ".join(sorted(set(p))))))
