"""cu_book.run_times on a fake results tree built from committed metrics files with known seconds (< 2 s)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cu_core.paths import project_root
from cu_book.run_times import profile_time, run_times

SOURCE = project_root() / "data" / "results" / "quick" / "compare_sample" / "seed-0_98c3ad97"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def write_run(root: Path, experiment: str, run_id: str, wall: float, subs: dict[str, dict]) -> None:
    """A finished run: the committed summary with `wall` seconds and the given sub-run seconds / cache flags."""
    folder = root / "prof" / experiment / run_id
    for name, change in subs.items():
        m = load(SOURCE / "runs" / name / "metrics.json")
        m["seconds"] = change["seconds"]
        if "cache_hit" in change:
            m["cache_hit"] = change["cache_hit"]
        (folder / "runs" / name).mkdir(parents=True)
        (folder / "runs" / name / "metrics.json").write_text(json.dumps(m))
    summary = load(SOURCE / "metrics.json")
    summary["seconds"] = {"wall": wall}
    (folder / "metrics.json").write_text(json.dumps(summary))


def tree(tmp_path: Path, first_trains: bool) -> Path:
    """Two runs on one original model; the run that trained it (cache miss) is `a` or `b`."""
    write_run(tmp_path, "a", "r1", 40.0, {
        "original": {"seconds": {"train": 10.0, "eval": 1.0}, "cache_hit": not first_trains},
        "retrain": {"seconds": {"train": 8.0, "eval": 1.0}, "cache_hit": False},
        "contrastive": {"seconds": {"unlearn": 2.0, "eval": 0.5, "stop_checks": 0.2, "original_train": 10.0,
                                    "retrain_train": 8.0}}})
    write_run(tmp_path, "b", "r2", 9.0, {
        "original": {"seconds": {"train": 10.0, "eval": 1.0}, "cache_hit": first_trains},
        "neggrad": {"seconds": {"unlearn": 3.0, "eval": 0.5, "stop_checks": 0.1, "original_train": 10.0,
                                "retrain_train": 8.0}}})
    return tmp_path


def test_each_model_is_paid_once_by_the_run_that_trained_it(tmp_path):
    times = run_times("prof", tree(tmp_path, first_trains=True)).set_index("experiment")
    # r1: original 10 + retrain 8 (both trained here; the unlearning sub-run's references are not counted again)
    # + evals 1 + 1 + unlearn 2 + eval 0.5; r2 loads both models from the cache: eval 1 + unlearn 3 + eval 0.5.
    assert times.loc["a", "compute_s"] == pytest.approx(22.5)
    assert times.loc["a", "train_s"] == pytest.approx(18.0)
    assert times.loc["b", "compute_s"] == pytest.approx(4.5)
    assert list(times["wall_s"]) == [40.0, 9.0]
    assert list(times["attempts"]) == [1, 1]


def test_a_later_run_that_trained_the_model_pays_for_it(tmp_path):
    times = run_times("prof", tree(tmp_path, first_trains=False)).set_index("experiment")
    assert times.loc["a", "train_s"] == pytest.approx(8.0)
    assert times.loc["b", "train_s"] == pytest.approx(10.0)
    assert times["compute_s"].sum() == pytest.approx(27.0)


def test_profile_time_bounds_the_elapsed_time_of_parallel_drivers(tmp_path):
    root = tree(tmp_path, first_trains=True)
    one, two, many = (profile_time("prof", root, cores=c) for c in (1, 2, 8))
    assert one["compute_s"] == pytest.approx(27.0) and one["bound_s"] == pytest.approx(27.0)
    assert two["bound_s"] == pytest.approx(22.5)  # the longest run (a/r1) cannot be split: not 27 / 2
    assert many["bound_s"] == pytest.approx(22.5) and many["longest_run"] == "a/r1"
    assert two["wall_s"] == pytest.approx(49.0) and two["runs"] == 2


def test_staging_folders_and_missing_profiles_are_ignored(tmp_path):
    root = tree(tmp_path, first_trains=True)
    staging = root / "prof" / "a" / ".r3.partial"
    staging.mkdir()
    (staging / "metrics.json").write_text((root / "prof" / "a" / "r1" / "metrics.json").read_text())
    assert len(run_times("prof", root)) == 2
    assert profile_time("nothing-here", root)["runs"] == 0


def test_cores_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="cores"):
        profile_time("prof", tmp_path, cores=0)
