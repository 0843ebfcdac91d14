"""`python -m cu_core.experiments status`: every run of a profile is done, missing, damaged or running, listed per
experiment with a summary line; a run is "running" only while a process holds its flock claim (never because of
what a lock file contains), and the probe writes nothing."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cu_core.experiments.__main__ import main
from cu_core.experiments.grid import expand, load_profile
from cu_core.experiments.runner import claim, lock_path
from cu_core.experiments.status import lock_held, run_state

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "data" / "results" / "quick"


@pytest.fixture()
def tree(tmp_path):
    """The quick profile's results folder with one run in each state (copies of the committed digits runs)."""
    runs = {(r.experiment, r.params["seed"]): r for r in expand(load_profile("quick"))}
    if not all((COMMITTED / r.experiment / r.run_id / "metrics.json").is_file() for r in runs.values()):
        pytest.skip("the committed quick results are not in this checkout")
    root = tmp_path / "results"
    for key in (("compare_class", 0), ("compare_class", 1), ("compare_class", 2), ("compare_sample", 0)):
        run = runs[key]
        shutil.copytree(COMMITTED / run.experiment / run.run_id, root / run.folder)
    folder = {key: root / run.folder for key, run in runs.items()}
    damaged = folder["compare_class", 1] / "metrics.json"
    damaged.write_text(damaged.read_text()[:80])  # truncated
    (folder["compare_class", 2] / "runs" / "contrastive" / "metrics.json").write_text('{"kind": "unlearn"}')
    staging = folder["compare_sample", 1].parent / f".{folder['compare_sample', 1].name}.partial"
    shutil.copytree(folder["compare_sample", 0] / "runs" / "original", staging / "runs" / "original")
    lock_path(folder["compare_sample", 2]).write_text("another-host:12345\n")  # a lock file nobody holds
    return {"root": root, "folder": folder, "runs": runs}


def test_status_lists_every_state_per_experiment_with_a_summary(tree, capsys):
    folder = tree["folder"]
    with claim(folder["compare_sample", 0]) as owner:  # a driver working on a run (here: this process)
        assert owner is None
        before = {p: p.read_bytes() for p in tree["root"].rglob("*") if p.is_file()}
        code = main(["status", "--profile", "quick", "--results-dir", str(tree["root"])])
        out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"profile quick: results in {tree['root'] / 'quick'}"
    assert "compare_class (3 runs): 1 done, 0 missing, 2 damaged, 0 running" in lines
    assert "compare_sample (3 runs): 0 done, 2 missing, 0 damaged, 1 running" in lines
    assert lines[-1] == "summary quick: 6 runs: 1 done, 2 missing, 2 damaged, 1 running"
    by_run = {line.split()[1]: line for line in lines if line.startswith("  ")}
    run = {key: r.run_id for key, r in tree["runs"].items()}
    assert by_run[run["compare_class", 0]].split()[0] == "done"
    assert by_run[run["compare_class", 1]].split()[0] == "damaged" and "metrics.json" in by_run[run["compare_class", 1]]
    assert "sub-run contrastive" in by_run[run["compare_class", 2]]
    assert by_run[run["compare_sample", 0]].split()[0] == "running" and "claimed by" in by_run[run["compare_sample", 0]]
    assert by_run[run["compare_sample", 1]].split()[0] == "missing" and "partial: 1 sub-run(s)" in by_run[
        run["compare_sample", 1]]
    assert by_run[run["compare_sample", 2]].split()[:2] == ["missing", run["compare_sample", 2]]
    assert "another-host" not in by_run[run["compare_sample", 2]]  # a free lock file says nothing
    after = {p: p.read_bytes() for p in tree["root"].rglob("*") if p.is_file()}
    assert after == before  # the probe wrote nothing (no lock file created, none rewritten)


def test_status_json_and_selection(tree, capsys):
    assert main(["status", "--profile", "quick", "--results-dir", str(tree["root"]), "--json", "--only",
                 "compare_class", "--seeds", "0", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"done": 1, "missing": 0, "damaged": 1, "running": 0}
    assert [r["state"] for r in report["runs"]] == ["done", "damaged"]


def test_a_lock_held_by_another_process_is_running_and_free_once_it_dies(tmp_path):
    folder = tmp_path / "p" / "e" / "seed-0_00000000"
    lock = lock_path(folder)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from cu_core.locks import try_hold\n"
                               f"with try_hold({str(lock)!r}) as owner:\n"
                               "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_held(lock) is True
        state, detail = run_state(folder)
        assert state == "running" and f":{holder.pid}" in detail
    finally:
        holder.kill()
        holder.wait()
    deadline = time.time() + 10
    while lock_held(lock) and time.time() < deadline:
        time.sleep(0.1)
    assert lock_held(lock) is False  # the kernel freed it with its holder
    assert run_state(folder) == ("missing", "")


def test_lock_probe_creates_nothing(tmp_path):
    assert lock_held(tmp_path / "absent.lock") is False
    assert not (tmp_path / "absent.lock").exists()


def test_status_of_a_bad_profile_exits_2(tmp_path, capsys):
    (tmp_path / "bad.yaml").write_text("name: bad\nseeds: [0]\ndefault: {}\nexperiments: {}\n")
    assert main(["status", "--profile", str(tmp_path / "bad.yaml"), "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "default: unknown key (did you mean 'defaults'?)" in err and "Traceback" not in err


def test_status_of_the_committed_results(capsys):
    """The committed quick results are all done (the book reads them)."""
    if not COMMITTED.is_dir():
        pytest.skip("no committed quick results")
    assert main(["status", "--profile", "quick", "--results-dir", str(COMMITTED.parent)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "summary quick: 6 runs: 6 done, 0 missing, 0 damaged, 0 running"


def test_a_sub_run_that_its_summary_lists_but_is_gone_is_damaged(tree):
    """As the driver sees it (`cu_core.results.damaged_subruns_of`): such a run is reopened and recomputed."""
    folder = tree["folder"]["compare_class", 0]
    shutil.rmtree(folder / "runs" / "finetune")
    state, detail = run_state(folder)
    assert state == "damaged" and detail.startswith("sub-run finetune: missing: listed in")
