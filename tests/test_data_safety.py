"""Issue 17, items 1, 5 and 7: results folders never destroy what the project did not write, damaged results are
treated as not done and never drop a table row silently, the schema checks ranges, and result files follow the
umask. The checks run before any work; only the recompute tests use the session's cached digits models."""
from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
import warnings
from pathlib import Path

import pytest

from cu_book import report
from cu_core import cli
from cu_core.errors import ConfigError, DataError
from cu_core.paths import project_root
from cu_core.pipeline import quickstart, run_training, run_unlearning
from cu_core.results import (KNOWN_RESULT_FILES, MANIFEST, _remove_ours, atomic_save_npz, atomic_torch_save,
                             atomic_write_json, atomic_write_text, check_run_dir, foreign_entries,
                             is_experiment_run, metrics_problem, read_manifest, read_metrics, run_complete,
                             write_run_dir)
from cu_core.schema import SchemaError, validate_metrics

RESULTS = project_root() / "data" / "results"
QUICKSTART = RESULTS / "quickstart" / "original" / "metrics.json"
GOOD = QUICKSTART.read_text() if QUICKSTART.is_file() else None  # a valid metrics.json text


def tree_digest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every file below `folder` (folders as "<dir>")."""
    return {p.relative_to(folder).as_posix(): ("<dir>" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def payload():
    """A valid metrics.json payload (the committed quickstart original)."""
    if not QUICKSTART.is_file():
        pytest.skip("no quickstart results in this checkout")
    return json.loads(QUICKSTART.read_text())


@pytest.fixture
def place(tmp_path, monkeypatch):
    """Private results and cache folders, so any work would show up there."""
    monkeypatch.setenv("CU_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    return tmp_path


def _no_work(place: Path) -> None:
    assert not (place / "cache" / "checkpoints").exists(), "a model was trained"


def _experiment_run(folder: Path, payload: dict) -> Path:
    """A finished run folder of the experiment driver: config.json, notebook.ipynb, metrics.json, runs/<sub>/."""
    (folder / "runs" / "original").mkdir(parents=True)
    (folder / "runs" / "original" / "metrics.json").write_text(json.dumps(payload))
    (folder / "config.json").write_text(json.dumps({"profile": "quick", "parameters": {"seed": 0}}))
    (folder / "notebook.ipynb").write_text(json.dumps({"cells": [], "metadata": {}}))
    (folder / "history.csv").write_text("run\noriginal\n")
    (folder / "metrics.json").write_text(json.dumps({
        "kind": "experiment", "experiment": "e", "template": "t.ipynb", "profile": "quick", "run_id": "r",
        "parameters": {}, "runs": ["original"], "seconds": {"wall": 1.0}, "versions": {}, "device": "cpu",
        "git_commit": None}))
    return folder


# ---------------------------------------------------------------- item 1: never delete what is not ours
def test_user_file_beside_a_garbage_metrics_json_survives_the_cli(place, capsys):
    """The case that exposed it: `--out` holding a garbage metrics.json and the user's thesis.tex."""
    out = place / "thesis"
    out.mkdir()
    (out / "metrics.json").write_text("garbage")
    (out / "thesis.tex").write_text("\\documentclass{article} months of work")
    before = tree_digest(out)
    code = cli.main(["train", "--out", str(out), "--cache-dir", str(place / "cache"), "--epochs", "1",
                     "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "out=" in err and "thesis.tex" in err and "never replaced" in err
    assert tree_digest(out) == before
    _no_work(place)


@pytest.mark.parametrize("command", ["train", "unlearn"])
def test_a_driver_run_folder_is_never_a_single_runs_out(place, payload, capsys, command):
    run = _experiment_run(place / "results" / "quick" / "compare_class" / "seed-0_abcd", payload)
    before = tree_digest(run)
    code = cli.main([command, "--out", str(run), "--cache-dir", str(place / "cache"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "out=" in err and "experiment run folder" in err
    assert tree_digest(run) == before
    _no_work(place)


def test_a_driver_run_folder_is_refused_even_with_a_manifest(tmp_path, payload):
    run = _experiment_run(tmp_path / "run", payload)
    (run / MANIFEST).write_text(json.dumps({"written_by": "cu_core", "files": ["metrics.json"]}))
    with pytest.raises(ConfigError, match="experiment run folder") as info:
        check_run_dir(run)
    assert info.value.parameter == "out"
    assert is_experiment_run(run) and not is_experiment_run(tmp_path)


def _files(**entries):
    """A maker of folder contents: name=text writes a file, name=None makes a sub-folder (names: '_' for '.')."""
    def make(folder: Path) -> None:
        for name, text in entries.items():
            path = folder / name.replace("__", ".")
            path.mkdir() if text is None else path.write_text(text)
    return make


OURS = json.dumps({"written_by": "cu_core", "files": ["metrics.json"]})
FOREIGN_CASES = [  # (contents, what the message names)
    (_files(metrics__json="{}", notes__md="mine"), "notes.md"),
    (_files(metrics__json="{}", figures=None), "figures/"),
    (_files(metrics__json="{}", __DS_Store=""), ".DS_Store"),
    (_files(metrics__json="{}", history__csv=None), "history.csv/"),
    (_files(history__csv="a\n1\n"), "no metrics.json"),
    (_files(thesis__tex="x"), "thesis.tex"),
    (_files(__cu_manifest__json=OURS, metrics__json="{}", history__csv=""), "history.csv"),
    (_files(__cu_manifest__json="not json", metrics__json="{}"), MANIFEST),
]


@pytest.mark.parametrize("make, named", FOREIGN_CASES,
                         ids=["user-file", "sub-folder", "hidden-file", "known-name-as-folder", "no-metrics",
                              "only-user-file", "file-not-in-manifest", "garbage-manifest"])
def test_a_folder_holding_anything_not_ours_is_refused_and_untouched(tmp_path, make, named):
    out = tmp_path / "out"
    out.mkdir()
    make(out)
    before = tree_digest(out)
    with pytest.raises(ConfigError) as info:
        check_run_dir(out)
    assert info.value.parameter == "out" and named in str(info.value) and "never replaced" in str(info.value)
    with pytest.raises(ConfigError) as info:
        write_run_dir(out, {"metrics.json": GOOD, "history.csv": "a\n"})
    assert info.value.parameter == "out"
    assert tree_digest(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


def test_a_symlinked_out_is_refused(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    (target / "metrics.json").write_text("{}")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        check_run_dir(tmp_path / "link")
    assert (target / "metrics.json").read_text() == "{}"


def test_api_refuses_a_foreign_out_before_any_work(place, payload):
    foreign = place / "foreign"
    foreign.mkdir()
    (foreign / "metrics.json").write_text("garbage")
    (foreign / "thesis.tex").write_text("keep me")
    with pytest.raises(ConfigError, match="thesis.tex"):
        run_training(run_config_short(), out_dir=foreign)
    with pytest.raises(ConfigError, match="thesis.tex"):
        run_unlearning(run_config_short(), out_dir=foreign)
    run = _experiment_run(place / "run", payload)
    with pytest.raises(ConfigError, match="experiment run folder"):
        run_unlearning(run_config_short(), out_dir=run)
    assert (foreign / "thesis.tex").read_text() == "keep me" and (foreign / "metrics.json").read_text() == "garbage"
    _no_work(place)


def test_quickstart_checks_both_folders_before_any_work(place):
    retrain = place / "results" / "quickstart" / "retrain"
    retrain.mkdir(parents=True)
    (retrain / "thesis.tex").write_text("keep me")
    with pytest.raises(ConfigError, match="thesis.tex"):
        quickstart(cfg=run_config_short())
    assert not (place / "results" / "quickstart" / "original").exists()
    assert (retrain / "thesis.tex").read_text() == "keep me"
    _no_work(place)


def run_config_short():
    from cu_core.config import RunConfig, TrainConfig

    return RunConfig(train=TrainConfig(progress=False, epochs=1))


def test_write_run_dir_writes_a_manifest_and_replaces_only_its_own_folder(tmp_path, payload):
    out = tmp_path / "run"
    write_run_dir(out, {"metrics.json": GOOD, "history.csv": "a\n1\n", "tsne.csv": "x\n"})
    assert read_manifest(out) == ["history.csv", "metrics.json", "tsne.csv"]
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "history.csv", "metrics.json", "tsne.csv"])
    assert foreign_entries(out) == []  # a file the manifest lists is ours even if its name is not a known one
    second = json.dumps({**payload, "seed": 2})
    write_run_dir(out, {"metrics.json": second})  # replaced whole: the old files went with it
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "metrics.json"]
    assert read_manifest(out) == ["metrics.json"]
    assert not [p for p in tmp_path.iterdir() if p.name != "run"]  # no temporary or old folder left
    (out / "thesis.tex").write_text("mine")  # the user adds a file: the folder is no longer ours to replace
    with pytest.raises(ConfigError, match="thesis.tex"):
        write_run_dir(out, {"metrics.json": GOOD})
    assert (out / "thesis.tex").read_text() == "mine" and (out / "metrics.json").read_text() == second


@pytest.mark.parametrize("change", ["NaN", "Infinity", "7", "truncated"])
def test_write_run_dir_never_writes_a_damaged_metrics_json(tmp_path, payload, change):
    text = GOOD[: len(GOOD) // 2] if change == "truncated" else \
        json.dumps(payload).replace('"paper_forget_member_rate": ', f'"paper_forget_member_rate": {change}, "x": ', 1)
    with pytest.raises(SchemaError):
        write_run_dir(tmp_path / "run", {"metrics.json": text})
    assert not list(tmp_path.iterdir())


def test_write_run_dir_refuses_names_outside_the_folder(tmp_path):
    for name in ("../escape.json", "sub/metrics.json", ".hidden", MANIFEST, ""):
        with pytest.raises(ConfigError, match="files"):
            write_run_dir(tmp_path / "run", {name: "x"})
    assert not list(tmp_path.iterdir())


def test_a_file_arriving_during_the_swap_is_kept(tmp_path):
    """Only known files are deleted from a replaced folder; anything else stays, with a warning."""
    old = tmp_path / ".run.old-x"
    old.mkdir()
    for name in (*KNOWN_RESULT_FILES, MANIFEST, "late.txt"):
        (old / name).write_text("x")
    with pytest.warns(RuntimeWarning, match="late.txt"):
        _remove_ours(old)
    assert [p.name for p in old.iterdir()] == ["late.txt"]


def test_results_written_before_manifests_are_read_and_count_as_ours():
    """Committed results have no manifest: reading them works, and a single-run folder of known files counts as
    the project's own (so a driver may replace a damaged one), while an experiment run folder does not."""
    subs = sorted(RESULTS.glob("quick/*/*/runs/*"))[:20] + sorted(RESULTS.glob("quickstart/*"))
    if not subs:
        pytest.skip("no committed results in this checkout")
    for folder in subs:
        assert read_manifest(folder) is None and read_metrics(folder) is not None
        assert foreign_entries(folder) == [], folder
        check_run_dir(folder)  # allowed (nothing is written here)
    experiment = subs[0].parent.parent
    assert is_experiment_run(experiment)
    with pytest.raises(ConfigError, match="experiment run folder"):
        check_run_dir(experiment)
    with pytest.raises(ConfigError):
        check_run_dir(RESULTS / "quick")


def test_a_pipeline_run_writes_its_manifest_and_replaces_a_legacy_folder(digits_runs, tmp_path):
    """An earlier results folder without a manifest (known files, garbage metrics.json) is replaced; the new
    folder lists its files."""
    out = tmp_path / "original"
    out.mkdir()
    (out / "metrics.json").write_text("garbage")
    (out / "history.csv").write_text("old\n")
    metrics = run_training(digits_runs["cfg"], out_dir=out, cache_dir=digits_runs["root"] / "cache")
    assert metrics["cache_hit"]
    assert read_manifest(out) == ["history.csv", "metrics.json", "outputs.npz"]
    assert run_complete(out) and (out / "history.csv").read_text() != "old\n"
    assert foreign_entries(out) == [] and foreign_entries(digits_runs["root"] / "results" / "original") == []


# ---------------------------------------------------------------- item 5: damage and ranges
RANGE_CASES = [  # (key path, value, the key path the error names)
    ("mia.paper_forget_member_rate", 7, "mia.paper_forget_member_rate"),  # the 700 % of the issue
    ("mia.paper_heldout_member_rate", -0.1, "mia.paper_heldout_member_rate"),
    ("mia.loss_attack_accuracy", 1.01, "mia.loss_attack_accuracy"),
    ("mia.paper_attack_accuracy", "0.5", "mia.paper_attack_accuracy"),
    ("acc.test", float("nan"), "acc.test"),
    ("acc.val", float("inf"), "acc.val"),
    ("seconds.train", float("inf"), "seconds.train"),
    ("seconds.eval", -0.5, "seconds.eval"),
    ("probe.probe_test_acc", 3.0, "probe.probe_test_acc"),
    ("rte", float("nan"), "rte"),
    ("split_sizes.val", float("nan"), "split_sizes.val"),
    ("config.train.lr", float("nan"), "config.train.lr"),  # NaN anywhere, even in the parameters
    ("config.model.name", None, "config.model.name"),
    ("config.train.epochs", -1, "config.train.epochs"),
    ("config.split.seed", "0", "config.split.seed"),
]


def _set(payload, path, value):
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


@pytest.mark.parametrize("path, value, named", RANGE_CASES, ids=[f"{p}={v}" for p, v, _ in RANGE_CASES])
def test_schema_checks_ranges_and_finiteness(payload, path, value, named):
    broken = copy.deepcopy(payload)
    _set(broken, path, value)
    with pytest.raises(SchemaError) as info:
        validate_metrics(broken)
    assert info.value.path == named and f"metrics.{named}" in str(info.value)


def test_schema_checks_the_reference_models_and_the_optional_blocks(payload):
    unlearn = {**copy.deepcopy(payload), "kind": "unlearn", "method": "contrastive", "steps": 3, "samples": 30,
               "seconds": {"unlearn": 1.0, "eval": 0.1}, "acc_original": dict(payload["acc"])}
    validate_metrics(unlearn)
    for path, value in (("mia_retrain.mia_efficacy", 1.5), ("mia_original.paper_forget_member_rate", 2.0),
                        ("probe_retrain.probe_forget_acc", -1.0), ("acc_retrain.test", 1.2),
                        ("gap.avg_gap", 150.0), ("ulira.balanced_accuracy", 1.5), ("ulira.n_shadow", -8),
                        ("cost.retrain_samples", -1)):
        broken = copy.deepcopy(unlearn)
        if path.startswith("gap."):
            broken["gap"] = {"avg_gap": 1.0, "ua": 1.0, "ra": 1.0, "ta": 1.0, "mia": None, "terms": 3}
        if path.startswith("cost."):
            broken["cost"] = {"steps": 1, "samples": 1}
        if path.startswith("acc_retrain."):
            broken["acc_retrain"] = dict(payload["acc"])
        _set(broken, path, value)
        with pytest.raises(SchemaError) as info:
            validate_metrics(broken)
        assert info.value.path == path


def test_experiment_summaries_need_finite_non_negative_seconds():
    summary = {"kind": "experiment", "experiment": "e", "template": "t", "profile": "p", "run_id": "r",
               "parameters": {}, "runs": [], "seconds": {"wall": 3.0, "last_attempt": 1.0}, "attempts": [2.0, 1.0],
               "versions": {}, "device": "cpu", "git_commit": None}
    validate_metrics(summary)
    for change, named in (({"seconds": {"wall": -1.0}}, "seconds.wall"), ({"attempts": [1.0, -2.0]}, "attempts[1]"),
                          ({"seconds": {"wall": float("inf")}}, "seconds.wall")):
        with pytest.raises(SchemaError) as info:
            validate_metrics({**summary, **change})
        assert info.value.path == named


@pytest.mark.parametrize("text, problem", [
    ("NaN", "NaN"), ("Infinity", "Infinity"), ("-Infinity", "Infinity"), ("7", "mia.paper_forget_member_rate")])
def test_a_damaged_metrics_json_reads_as_not_done(payload, tmp_path, text, problem):
    """Non-finite tokens (which Python's json accepts) and out-of-range rates: the run counts as not done."""
    key = '"paper_forget_member_rate": '
    broken = json.dumps(payload).replace(key, f'{key}{text}, "x": ', 1)
    (tmp_path / "metrics.json").write_text(broken)
    assert metrics_problem(tmp_path)[0] is None and problem in metrics_problem(tmp_path)[1]
    with pytest.warns(RuntimeWarning, match="as missing"):
        assert read_metrics(tmp_path) is None
    assert metrics_problem(tmp_path / "nothing") == (None, "missing")


def test_a_damaged_sub_run_is_recomputed(digits_runs, tmp_path, monkeypatch):
    """The templates' rule (`experiments.runs.reference`): a sub-run whose metrics.json is damaged is computed
    again, and its folder (the project's own) replaced."""
    from cu_core.experiments import runs

    monkeypatch.setenv("CU_CACHE_DIR", str(digits_runs["root"] / "cache"))
    experiment = tmp_path / ".run.partial"
    good = runs.reference(experiment, digits_runs["cfg"], "original")
    file = runs.run_dir(experiment, "original") / "metrics.json"
    damaged = json.loads(file.read_text())
    damaged["mia"]["paper_forget_member_rate"] = 7  # shown as 700 % before
    file.write_text(json.dumps(damaged))
    with pytest.warns(RuntimeWarning, match="paper_forget_member_rate"):
        again = runs.reference(experiment, digits_runs["cfg"], "original")
    assert again["mia"] == good["mia"] and read_metrics(file) == json.loads(file.read_text())


def _profile_tree(root: Path, payload: dict) -> Path:
    """Profile "p": one experiment run with three sub-runs (original, a, b) copied from `payload`."""
    run = root / "p" / "exp" / "seed-0_x"
    for name in ("original", "a", "b"):
        (run / "runs" / name).mkdir(parents=True)
        (run / "runs" / name / "metrics.json").write_text(json.dumps(payload))
    return run


@pytest.mark.parametrize("damage", ["truncated", "member-rate-7", "missing", "nan", "no-config-model"])
def test_tables_never_drop_a_damaged_row_silently(payload, tmp_path, damage):
    run = _profile_tree(tmp_path, payload)
    file = run / "runs" / "b" / "metrics.json"
    text = json.dumps(payload)
    broken = copy.deepcopy(payload)
    if damage == "truncated":
        file.write_text(text[: len(text) // 2])
    elif damage == "member-rate-7":
        broken["mia"]["paper_forget_member_rate"] = 7
        file.write_text(json.dumps(broken))
    elif damage == "missing":
        file.unlink()
    elif damage == "nan":
        file.write_text(text.replace('"test": ', '"test": NaN, "x": ', 1))
    else:
        del broken["config"]["model"]
        file.write_text(json.dumps(broken))
    with pytest.raises(DataError) as info:  # the default: the book build fails, naming the file
        report.subruns("p", root=tmp_path)
    assert str(file) in str(info.value) and "1 sub-run(s)" in str(info.value)
    marked = report.subruns("p", root=tmp_path, damaged="mark")  # or a visible row
    assert len(marked) == 3 and marked["damaged"].notna().sum() == 1
    row = marked[marked["damaged"].notna()].iloc[0]
    assert row["run"] == "b" and row["path"] == str(file.parent) and row["experiment"] == "exp"
    assert report.damaged_subruns("p", root=tmp_path) == [(file.parent, row["damaged"])]


def test_a_sub_run_listed_by_its_summary_but_gone_is_named(payload, tmp_path):
    run = _profile_tree(tmp_path, payload)
    (run / "metrics.json").write_text(json.dumps({
        "kind": "experiment", "experiment": "exp", "template": "t.ipynb", "profile": "p", "run_id": run.name,
        "parameters": {}, "runs": ["a", "b", "c", "original"], "seconds": {"wall": 1.0}, "versions": {},
        "device": "cpu", "git_commit": None}))
    with pytest.warns(RuntimeWarning, match=r"runs/c: missing: listed in .*metrics.json but its folder is gone"):
        rows = report.subruns("p", root=tmp_path)
    assert sorted(rows["run"]) == ["a", "b", "original"]
    marked = report.subruns("p", root=tmp_path, damaged="mark")
    assert marked.set_index("run").loc["c", "damaged"].startswith("missing: listed in")
    assert [f.name for f, _ in report.damaged_subruns("p", root=tmp_path)] == ["c"]
    from cu_core.results import damaged_subruns_of

    assert [f.name for f, _ in damaged_subruns_of(run)] == ["c"]


def test_tables_of_good_results_are_unchanged(payload, tmp_path):
    _profile_tree(tmp_path, payload)
    (tmp_path / "p" / "exp" / ".seed-1_y.partial" / "runs" / "b").mkdir(parents=True)  # staging: not results
    rows = report.subruns("p", root=tmp_path)
    assert sorted(rows["run"]) == ["a", "b", "original"] and "damaged" not in rows
    assert report.damaged_subruns("p", root=tmp_path) == []
    with pytest.raises(ConfigError, match="damaged"):
        report.subruns("p", root=tmp_path, damaged="skip")


def test_committed_results_have_no_damaged_sub_run():
    for profile in ("quick", "cifar-cpu", "ablations", "cifar-converged"):
        assert report.damaged_subruns(profile) == [], profile


# ---------------------------------------------------------------- item 7: permissions follow the umask
@pytest.fixture(params=[0o022, 0o077, 0o002], ids=["umask022", "umask077", "umask002"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_result_files_and_folders_follow_the_umask(tmp_path, payload, umask):
    import numpy as np

    files, dirs = 0o666 & ~umask, 0o777 & ~umask
    written = [atomic_write_text(tmp_path / "a" / "t.txt", "x"), atomic_write_json(tmp_path / "j.json", {"a": 1}),
               atomic_save_npz(tmp_path / "n.npz", a=np.zeros(2)), atomic_torch_save(tmp_path / "m.pt", {"w": 1})]
    for path in written:
        assert _mode(path) == files, (path, oct(_mode(path)))
    assert _mode(tmp_path / "a") == dirs
    out = write_run_dir(tmp_path / "deep" / "run", {"metrics.json": GOOD, "history.csv": "a\n"})
    assert _mode(out) == dirs and _mode(out.parent) == dirs
    for path in out.iterdir():
        assert _mode(path) == files, (path, oct(_mode(path)))
    write_run_dir(out, {"metrics.json": GOOD})  # a replaced folder too
    assert _mode(out) == dirs and _mode(out / "metrics.json") == files and _mode(out / MANIFEST) == files


def test_a_pipeline_run_follows_the_umask(digits_runs, tmp_path, umask):
    out = tmp_path / "run"
    run_training(digits_runs["cfg"], out_dir=out, cache_dir=digits_runs["root"] / "cache")
    assert _mode(out) == 0o777 & ~umask
    assert {p.name: _mode(p) for p in out.iterdir()} == {
        name: 0o666 & ~umask for name in (MANIFEST, "metrics.json", "history.csv", "outputs.npz")}


def test_no_warning_for_good_results(payload, tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(payload))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_metrics(tmp_path) == payload


def test_the_driver_recomputes_a_damaged_sub_run_of_a_finished_run(tmp_path):
    """A finished experiment run whose sub-run metrics.json was damaged counts as not done: the driver reopens it,
    the template recomputes that sub-run and loads the others, and the run is complete again."""
    from cu_core.experiments.grid import expand, load_profile
    from cu_core.experiments.runner import execute

    profile = tmp_path / "tiny.yaml"
    profile.write_text("name: tiny\nseeds: [0]\ndefaults: {train_epochs: 1}\nexperiments:\n"
                       "  train: {template: train_reference.ipynb}\n")
    (run,) = expand(load_profile(str(profile)))
    root = tmp_path / "results"
    assert execute(run, root).status == "done"
    final = root / run.folder
    victim = next(p for p in sorted((final / "runs").glob("*/metrics.json")))
    victim.write_text('{"kind": "original", "acc": {"test": 7}}')  # damaged: not a finished result
    assert execute(run, root).status == "done"  # recomputed, not skipped
    assert execute(run, root).status == "skipped"
    from cu_core.results import read_metrics
    assert read_metrics(victim) is not None and not list(root.rglob(".*.old"))


def test_the_driver_never_replaces_a_foreign_folder_at_a_runs_place(tmp_path):
    from cu_core.experiments.grid import expand, load_profile
    from cu_core.experiments.runner import execute

    profile = tmp_path / "tiny.yaml"
    profile.write_text("name: tiny\nseeds: [0]\ndefaults: {train_epochs: 1}\nexperiments:\n"
                       "  train: {template: train_reference.ipynb}\n")
    (run,) = expand(load_profile(str(profile)))
    root = tmp_path / "results"
    final = root / run.folder
    final.mkdir(parents=True)
    (final / "thesis.tex").write_text("my thesis")
    outcome = execute(run, root)
    assert outcome.status == "failed" and "never replaced" in outcome.message
    assert (final / "thesis.tex").read_text() == "my thesis"
