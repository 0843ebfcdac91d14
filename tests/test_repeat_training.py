"""cu_book.repeat_training on a fake results tree built from committed metrics files (< 2 s)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cu_core.paths import project_root
from cu_book.repeat_training import repeated_trainings

SOURCE = project_root() / "data" / "results" / "quick" / "compare_sample" / "seed-0_98c3ad97" / "runs"


def write(root: Path, run: str, name: str, *, test: float, cache_hit: bool, commit: str) -> None:
    m = json.loads((SOURCE / name / "metrics.json").read_text())
    m["acc"]["test"], m["cache_hit"], m["git_commit"] = test, cache_hit, commit
    folder = root / "prof" / "exp" / run / "runs" / name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(m))


def test_models_trained_twice_are_listed_with_their_spread(tmp_path):
    write(tmp_path, "r1", "original", test=0.7566, cache_hit=False, commit="aaaaaaaa11")
    write(tmp_path, "r2", "original", test=0.7622, cache_hit=False, commit="bbbbbbbb22")  # the same recipe again
    write(tmp_path, "r3", "original", test=0.7622, cache_hit=True, commit="bbbbbbbb22")  # loaded: not a training
    write(tmp_path, "r1", "retrain", test=0.75, cache_hit=False, commit="aaaaaaaa11")  # trained once
    table = repeated_trainings("prof", tmp_path)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["kind"] == "original" and row["trainings"] == 2
    assert row["test_acc"] == pytest.approx([75.66, 76.22]) and row["spread"] == pytest.approx(0.56)
    assert row["commits"] == ["aaaaaaaa", "bbbbbbbb"]


def test_staging_folders_and_single_trainings_give_no_rows(tmp_path):
    write(tmp_path, "r1", "original", test=0.75, cache_hit=False, commit="a")
    write(tmp_path, ".r2.partial", "original", test=0.76, cache_hit=False, commit="b")  # unfinished run
    assert repeated_trainings("prof", tmp_path).empty
    assert repeated_trainings("missing", tmp_path).empty
