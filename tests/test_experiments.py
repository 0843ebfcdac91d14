"""The experiment driver: profiles expand into stable run ids; the smoke profile runs every template through
papermill; complete runs are skipped, a bad parameter fails only its run (named in the report), and the run
folders hold the executed notebook (not re-executed by the book), config, summary and sub-runs."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cu_core.errors import ConfigError
from cu_core.experiments.grid import expand, load_profile, profiles, run_id
from cu_core.experiments.params import run_config, unlearn_config
from cu_core.results import read_metrics

ROOT = Path(__file__).resolve().parents[1]


def test_profiles_expand_and_ids_are_stable():
    assert {"smoke", "quick", "ablations", "cifar-cpu", "paper"} <= set(profiles())
    for name in profiles():
        runs = expand(load_profile(name))
        assert runs and not [r.problem for r in runs if r.problem], name
        assert len({r.folder for r in runs}) == len(runs), name  # no two runs share a folder
    quick = expand(load_profile("quick"))
    assert {r.params["seed"] for r in quick} == {0, 1, 2} and {r.params["task"] for r in quick} == {"class", "sample"}
    again = expand(load_profile("quick"))
    assert [r.run_id for r in quick] == [r.run_id for r in again]
    assert run_id({"a": 1, "seed": 0}, ["seed"]) != run_id({"a": 2, "seed": 0}, ["seed"])
    only = expand(load_profile("quick"), only=["compare_class"], seeds=[7])
    assert len(only) == 1 and only[0].params["seed"] == 7
    with pytest.raises(ConfigError, match="only"):
        expand(load_profile("quick"), only=["nope"])
    with pytest.raises(ConfigError, match="profile"):
        load_profile("nope")


def test_params_build_validated_configs():
    cfg = run_config(task="sample", num_forget=40, seed=3, train_epochs=2)
    assert cfg.split.num_forget == 40 and cfg.train.seed == cfg.split.seed == 3
    mcfg = unlearn_config("scrub", preset="digits", overrides='{"epochs": 2}', seed=3)
    assert mcfg.lr == 1e-2 and mcfg.epochs == 2 and mcfg.seed == 3
    for bad, parameter in (('{"lr": ', "method_overrides"), ('["lr"]', "method_overrides"),
                           ('{"learning_rate": 1}', "method_overrides")):
        with pytest.raises(ConfigError, match=parameter):
            unlearn_config("finetune", overrides=bad)
    with pytest.raises(ConfigError, match="method"):
        unlearn_config("forget_everything")
    with pytest.raises(ConfigError, match="dataset"):
        run_config(dataset="mnist")


@pytest.mark.slow
def test_smoke_profile_runs_every_template_and_resumes(tmp_path, smoke_results):
    """CI's smoke run (the session's `smoke_results`, which tests/test_submit_slurm.py compares with the Slurm
    jobs' results); a profile with bad parameters refused before any run; a run that fails while running (its
    data archive is missing) fails alone and is named, the others go on."""
    smoke = yaml.safe_load((ROOT / "cu_core/experiments/profiles/smoke.yaml").read_text())
    bad = {**smoke, "name": "smoke_bad",
           "experiments": {"good": smoke["experiments"]["references"],
                           "bad_method": {"template": "class_unlearning.ipynb", "params": {"method": "forget_all"}},
                           "bad_param": {"template": "train_reference.ipynb", "params": {"epochs_typo": 3}}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    late = {**smoke, "name": "smoke_late",
            "experiments": {"blocked": smoke["experiments"]["references"], "good": smoke["experiments"]["references"]}}
    (tmp_path / "late.yaml").write_text(yaml.safe_dump(late))
    blocked = next(r for r in expand(load_profile(str(tmp_path / "late.yaml"))) if r.experiment == "blocked")
    (tmp_path / "results" / blocked.folder).mkdir(parents=True)  # a user's folder where that run would land
    (tmp_path / "results" / blocked.folder / "thesis.tex").write_text("mine")
    env = {"CU_CACHE_DIR": str(smoke_results["cache"]), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "cu_core.experiments", "run", "--results-dir", str(tmp_path / "results"),
           "--no-progress", "--profile"]
    smoke_cmd = [sys.executable, "-m", "cu_core.experiments", "run", "--results-dir", str(smoke_results["results"]),
                 "--no-progress", "--profile", "smoke"]
    import os

    done = smoke_results["proc"]  # `run --profile smoke --threads 1`, made once for the session
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1])["done"] == len(expand(load_profile("smoke")))
    for run in expand(load_profile("smoke")):
        folder = smoke_results["results"] / run.folder
        summary = read_metrics(folder)
        assert summary["kind"] == "experiment" and summary["runs"], run.folder
        nb = json.loads((folder / "notebook.ipynb").read_text())
        assert nb["metadata"]["mystnb"]["execution_mode"] == "off"
        assert json.loads((folder / "config.json").read_text())["parameters"] == run.params
        assert (folder / "history.csv").read_text().startswith("run,")
        for sub in summary["runs"]:
            metrics = read_metrics(folder / "runs" / sub)
            assert metrics is not None and metrics["config"]["split"]["seed"] == run.params["seed"]
    again = subprocess.run(smoke_cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=300)
    assert json.loads(again.stdout.strip().splitlines()[-1])["skipped"] == len(expand(load_profile("smoke")))
    refused = subprocess.run([*cmd, str(tmp_path / "bad.yaml")], capture_output=True, text=True,
                             env={**os.environ, **env}, timeout=600)
    assert refused.returncode == 2 and refused.stdout == ""  # validated before any run
    assert "epochs_typo: unknown key" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "results" / "smoke_bad").exists()
    failing = subprocess.run([*cmd, str(tmp_path / "late.yaml")], capture_output=True, text=True,
                             env={**os.environ, **env}, timeout=600)
    assert failing.returncode == 1  # the blocked run fails while running; the good one still runs
    report = json.loads(failing.stdout.strip().splitlines()[-1])
    n_runs = len(expand(load_profile(str(tmp_path / "late.yaml"))))
    assert report["failed"] == 1 and report["done"] == n_runs - 1
    assert f"FAILED {blocked.folder}" in failing.stderr and "never replaced" in failing.stderr
    assert (tmp_path / "results" / blocked.folder / "thesis.tex").read_text() == "mine"


@pytest.mark.slow
def test_killed_grid_resumes_without_lost_or_duplicated_runs(tmp_path):
    """SIGKILL the driver (and its kernel) mid-grid; the rerun completes every run exactly once, and a
    truncated metrics.json is detected and recomputed."""
    import os
    import signal
    import time

    profile = {"name": "killme", "seeds": [0, 1, 2],
               "defaults": {"dataset": "digits", "train_epochs": 3},
               "experiments": {"refs": {"template": "train_reference.ipynb"}}}
    (tmp_path / "killme.yaml").write_text(yaml.safe_dump(profile))
    results = tmp_path / "results"
    env = {**os.environ, "CU_CACHE_DIR": str(tmp_path / "cache"), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, "-m", "cu_core.experiments", "run", "--profile", str(tmp_path / "killme.yaml"),
           "--results-dir", str(results), "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    folder = results / "killme" / "refs"
    deadline = time.time() + 600
    while time.time() < deadline and not any(p.name.startswith("seed-") for p in folder.glob("*")):
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # mid-grid: one run done, the next one in its kernel
    proc.wait()
    finished = sorted(p.name for p in folder.glob("seed-*"))
    assert 1 <= len(finished) < 3
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    report = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert rerun.returncode == 0 and report["skipped"] == len(finished) and report["done"] == 3 - len(finished)
    runs = sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))  # lock files stay (flock)
    assert len(runs) == 3 and all(r.startswith("seed-") for r in runs)  # no duplicates, no leftover staging
    for name in runs:  # the wall time counts every attempt at a run (two for the one the kill interrupted)
        summary = read_metrics(folder / name)
        assert summary["seconds"]["wall"] == pytest.approx(sum(summary["attempts"]))
        assert summary["seconds"]["last_attempt"] == pytest.approx(summary["attempts"][-1])
    victim = folder / runs[0] / "metrics.json"
    victim.write_text(victim.read_text()[:50])  # truncated
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    report = json.loads(again.stdout.strip().splitlines()[-1])
    assert report["done"] == 1 and report["skipped"] == 2
    assert read_metrics(folder / runs[0])["kind"] == "experiment"


def test_an_attempt_cut_short_is_timed_until_the_last_file_it_wrote(tmp_path):
    """A driver that died cannot time itself: the next attempt closes its entry at its newest staged file."""
    import os
    import time

    from cu_core.experiments.runner import ATTEMPTS, _begin_attempt, _end_attempt

    staging = tmp_path / ".run.partial"
    staging.mkdir()
    assert len(_begin_attempt(staging)) == 1
    started = json.loads((staging / ATTEMPTS).read_text())[0]["start"]
    sub = staging / "runs" / "original" / "metrics.json"
    sub.parent.mkdir(parents=True)
    sub.write_text("{}")
    os.utime(sub, (started + 40.0, started + 40.0))  # the dead attempt's last work, 40 s after it began
    attempts = _begin_attempt(staging)  # the resumed attempt
    assert [a["seconds"] for a in attempts[:1]] == [pytest.approx(40.0)] and attempts[1]["seconds"] is None
    assert attempts[1]["start"] >= time.time() - 60
    assert _end_attempt(staging, attempts, 7.5) == [pytest.approx(40.0), 7.5]
    assert json.loads((staging / ATTEMPTS).read_text())[1]["seconds"] == 7.5


def test_runs_claimed_by_a_live_driver_are_left_to_it_and_free_locks_are_taken(tmp_path):
    """Several drivers may share one results folder: a run is claimed by a kernel (flock) lock on a lock file;
    whether a lock file is held is what the kernel says, never what the file contains (tests/test_locks.py races
    60 processes, kills holders and covers the checkpoint cache)."""
    import os
    import socket

    from cu_core.experiments.runner import claim, execute, lock_path, summary

    run = expand(load_profile("smoke"))[0]
    final = tmp_path / run.folder
    lock = lock_path(final)
    me = f"{socket.gethostname()}:{os.getpid()}"
    with claim(final) as owner:
        assert owner is None and lock.read_text().strip() == me
        with claim(final) as other:
            assert other == me  # a second claimant sees the holder
        outcome = execute(run, tmp_path)
        assert outcome.status == "busy" and me in outcome.message
        assert not (final.parent / f".{run.run_id}.partial").exists() and not final.exists()  # no work started
        report = summary([outcome])
        assert report["busy"] == [{"run": run.folder, "message": outcome.message}] and report["failed"] == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for text in (f"{socket.gethostname()}:{dead.pid}", "another-host:1", ""):  # nobody holds it: free
        lock.write_text(text)
        with claim(final) as owner:
            assert owner is None and lock.read_text().strip() == me


def test_threads_option_sets_the_kernels_threads_and_rejects_bad_values(tmp_path, monkeypatch, capsys):
    """Several drivers on one machine must not each start one PyTorch thread per core (they slow each other)."""
    import os

    from cu_core.experiments.__main__ import main
    from cu_core.experiments.runner import run_grid

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    assert main(["run", "--profile", "smoke", "--threads", "0", "--results-dir", str(tmp_path)]) == 2
    assert "--threads must be a positive integer" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing was started
    with pytest.raises(ValueError, match="threads"):
        run_grid([], results=tmp_path, progress=False, threads=-1)
    assert run_grid([], results=tmp_path, progress=False, threads=1) == []
    assert os.environ["OMP_NUM_THREADS"] == "1" and os.environ["MKL_NUM_THREADS"] == "1"
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           capture_output=True, text=True, env=dict(os.environ), check=True)
    assert probe.stdout.strip() == "1"  # what a kernel started by this driver gets
