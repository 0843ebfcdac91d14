"""`python -m cu_lab submit` without Slurm: the plan (references, methods, runs and their
dependencies), the dry-run listing of the paper profile, bad flags and resources refused before any work, the debug
executor (a failed method retried by the next submit, finished sub-runs kept) and the local executor (2
processes, references before the jobs that need them). The real Slurm test is `test_submit_slurm.py`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cu_lab import submit_jobs
from cu_lab.__main__ import main
from cu_core.experiments.grid import expand, load_profile
from cu_lab.submit_plan import plan
from cu_core.experiments.resources import DEFAULTS, profile_resources
from cu_lab.submit_status import dry_run

PROJECT = Path(__file__).resolve().parents[1]
VOLATILE = {"seconds", "retrain_seconds", "attempts", "cache_hit", "rte", "time", "host", "hostname", "git_commit"}


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cu_lab", *argv], capture_output=True, text=True,
                          cwd=PROJECT, env=env, timeout=timeout)


def _steady(value, key: str = ""):
    """A results value without what varies between two identical runs (timings, cache hits, folders)."""
    if isinstance(value, dict):
        return {k: _steady(v, k) for k, v in value.items() if k not in VOLATILE and not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_steady(v) for v in value]
    if key == "checkpoint" and isinstance(value, str):
        return Path(value).name  # the cache folder differs, the checkpoint's name (its key) does not
    return value


def result_files(root: Path) -> list[str]:
    """The files of a results tree a reader sees (hidden files, locks, the job record and staging left out)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def assert_same_results(mine: Path, theirs: Path) -> None:
    """Two results trees hold the same files with the same contents, timings, host names and their own folder's
    name aside."""
    files = result_files(mine)
    assert files == result_files(theirs), "the two results trees hold different files"
    for name in files:
        a, b = mine / name, theirs / name
        if Path(name).name == "attempts.json":  # the start time and seconds of each attempt, nothing else
            continue
        if name.endswith(".json"):
            assert _steady(json.loads(a.read_text())) == _steady(json.loads(b.read_text())), f"{name} differs"
        elif name.endswith(".csv") and a.stat().st_size and b.stat().st_size:
            fa, fb = pd.read_csv(a), pd.read_csv(b)
            drop = [c for c in fa.columns if "seconds" in c or c in VOLATILE]
            pd.testing.assert_frame_equal(fa.drop(columns=drop), fb.drop(columns=drop, errors="ignore"),
                                          obj=name, check_exact=True)
        elif name.endswith(".npz"):
            with np.load(a) as na, np.load(b) as nb:
                assert sorted(na.files) == sorted(nb.files), name
                for key in na.files:
                    np.testing.assert_array_equal(na[key], nb[key], err_msg=f"{name}:{key}")
        elif name.endswith(".ipynb"):  # the code run (its results folder aside); its printed tables hold timings
            def code(path: Path, root: Path) -> list[list[str]]:
                return [[c["cell_type"], "".join(c["source"]).replace(str(root), "<results>")]
                        for c in json.loads(path.read_text())["cells"]]
            assert code(a, mine) == code(b, theirs), name
        else:
            assert a.read_bytes() == b.read_bytes(), f"{name} differs"


def test_the_smoke_plan_puts_references_first_and_each_method_after_its_references():
    jobs = plan(expand(load_profile("smoke")), None)
    kinds = [j.kind for j in jobs]
    rank = {"originals": 0, "retrains": 0, "methods": 1, "runs": 2}
    assert kinds == sorted(kinds, key=rank.get), "references, then methods, then runs"
    by_name = {j.name: j for j in jobs}
    seen: set[str] = set()
    for job in jobs:  # every dependency is planned, and planned before the job
        assert set(job.deps) <= seen, f"{job.name} depends on a job planned after it"
        seen.add(job.name)
    assert sum(k == "originals" for k in kinds) == 1  # one digits/cnn4 original shared by all runs
    retrains = sorted(j.label for j in jobs if j.kind == "retrains")
    assert len(retrains) == 3 and any("class 5" in r for r in retrains) and any("20 samples" in r for r in retrains)
    methods = [j for j in jobs if j.kind == "methods"]
    assert sorted(j.payload["subrun"] for j in methods) == ["contrastive", "finetune", "ssd"]
    compare = next(j for j in jobs if j.kind == "runs" and "compare" in j.name)
    assert {m.name for m in methods} <= set(compare.deps)
    assert all(by_name[d].kind in ("originals", "retrains") for m in methods for d in m.deps)
    assert sum(k == "runs" for k in kinds) == len(load_profile("smoke").experiments)


def test_dry_run_lists_the_paper_profile_with_its_resources_and_writes_nothing(tmp_path):
    proc = cli("submit", "--profile", "paper", "--dry-run", "--results-dir", str(tmp_path / "res"))
    assert proc.returncode == 0, proc.stderr
    assert "176 job(s)" in proc.stdout and "originals" in proc.stdout and "540" in proc.stdout
    assert not (tmp_path / "res").exists()
    summary, frame = dry_run("paper")
    summary = summary.set_index("kind")
    assert summary.loc["originals", "jobs"] == 8 and summary.loc["retrains", "jobs"] == 16
    assert summary.loc["methods", "jobs"] == 136 and summary.loc["runs", "jobs"] == 16 and len(frame) == 176
    assert summary.loc["originals", "minutes"] == 300 and summary.loc["methods", "minutes"] == 540
    assert (frame.gpus == 1).all() and frame.loc[frame.kind == "runs", "after"].min() >= 2
    assert profile_resources(None)["methods"] == DEFAULTS["methods"]
    assert profile_resources({"methods": {"gpus": 2}}, {"minutes": 7})["methods"].gpus == 2
    assert {r.minutes for r in profile_resources({"methods": {"gpus": 2}}, {"minutes": 7}).values()} == {7}


BAD_FLAGS = [
    (["--executor", "pbs"], ["--executor", "'pbs'", "slurm", "local", "debug"]),
    (["--gpus-per-job", "-1"], ["--gpus-per-job", "'-1'", "integer >= 0"]),
    (["--cpus-per-job", "0"], ["--cpus-per-job", "'0'", "integer >= 1"]),
    (["--time", "1.5"], ["--time", "'1.5'", "integer >= 1"]),
    (["--mem-gb", "nan"], ["--mem-gb", "'nan'", "number > 0"]),
    (["--array-parallelism", "0"], ["--array-parallelism", "'0'", "integer >= 1"]),
]


@pytest.mark.parametrize("argv, fragments", BAD_FLAGS, ids=[a[0].strip("-") for a, _ in BAD_FLAGS])
def test_bad_submit_flags_exit_2_naming_the_flag_before_any_work(tmp_path, argv, fragments):
    proc = cli("submit", "--profile", "smoke", "--executor", "debug", "--results-dir", str(tmp_path / "r"), *argv)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()


def test_slurm_without_sbatch_exits_2_naming_the_executor(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    proc = cli("submit", "--profile", "smoke", "--results-dir", str(tmp_path / "r"), env=env)
    assert proc.returncode == 2 and "--executor" in proc.stderr and "sbatch" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "r").exists()


@pytest.mark.parametrize("resources, fragments", [
    ("  methods: {gpus: -1}\n", ["resources.methods.gpus", "-1", ">= 0"]),
    ("  method: {gpus: 1}\n", ["resources.method", "did you mean 'methods'", "originals, retrains, methods, runs"]),
    ("  runs: {minutes: half}\n", ["resources.runs.minutes", "'half'", "an integer"]),
], ids=["negative-gpus", "misspelt-kind", "minutes-text"])
def test_bad_resources_in_a_profile_are_refused_naming_the_key(tmp_path, resources, fragments):
    profile = tmp_path / "mine.yaml"
    profile.write_text((PROJECT / "cu_core/experiments/profiles/smoke.yaml").read_text().replace("name: smoke", "name: mine")
                       + "resources:\n" + resources)
    proc = cli("submit", "--profile", str(profile), "--executor", "debug", "--dry-run")
    assert proc.returncode == 2, proc.stdout
    for fragment in fragments:
        assert fragment in proc.stderr, (fragment, proc.stderr)


@pytest.mark.slow
def test_debug_executor_retries_a_failed_method_and_keeps_the_finished_sub_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "res"
    argv = ["submit", "--profile", "smoke", "--only", "compare", "--executor", "debug", "--results-dir", str(root),
            "--no-progress"]
    real = submit_jobs.WORK["methods"]

    def ssd_fails(job, where):
        if job.payload["subrun"] == "ssd":
            raise RuntimeError("injected failure of ssd")
        return real(job, where)

    monkeypatch.setitem(submit_jobs.WORK, "methods", ssd_fails)
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "injected failure of ssd" in out and "runs 0 done, 0 queued, 0 running, 1 failed" in out
    assert "log " in out and ".submit/logs" in out
    staging = next((root / "smoke" / "compare").glob(".*.partial"))
    kept = {n: (staging / "runs" / n / "metrics.json").stat().st_mtime_ns for n in ("contrastive", "finetune")}
    monkeypatch.setitem(submit_jobs.WORK, "methods", real)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "methods   ssd of" in out and "contrastive of" not in out and "original digits" not in out
    run = next(p for p in (root / "smoke" / "compare").iterdir() if not p.name.startswith("."))
    assert {n: (run / "runs" / n / "metrics.json").stat().st_mtime_ns for n in kept} == kept
    assert sorted(json.loads((run / "metrics.json").read_text())["runs"]) == ["contrastive", "finetune", "original",
                                                                             "retrain", "ssd"]
    assert main(argv) == 0 and "nothing to submit" in capsys.readouterr().out
    assert main(["status", "--profile", "smoke", "--only", "compare", "--results-dir", str(root)]) == 0
    assert "runs 1 done, 0 queued, 0 running, 0 failed" in capsys.readouterr().out


@pytest.mark.slow
def test_local_executor_runs_references_first_on_two_processes(tmp_path):
    env = {**__import__("os").environ, "CU_CACHE_DIR": str(tmp_path / "cache")}
    root = tmp_path / "res"
    proc = cli("submit", "--profile", "smoke", "--only", "references", "--executor", "local", "--results-dir",
               str(root), "--no-progress", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((root / "smoke" / ".submit" / "jobs.json").read_text())["jobs"]
    states = {n: json.loads((root / "smoke" / ".submit" / "state" / f"{n}.json").read_text()) for n in record}
    assert {e["executor"] for e in record.values()} == {"local"} and all(s["state"] == "done" for s in states.values())
    refs = [n for n, e in record.items() if e["kind"] in ("originals", "retrains")]
    (run,) = [n for n, e in record.items() if e["kind"] == "runs"]
    assert len(refs) == 2 and set(record[run]["deps"]) == set(refs)
    assert all(record[run]["submitted"] >= states[r]["time"] for r in refs), "the run started before its references"
    assert max(record[r]["submitted"] for r in refs) < min(states[r]["time"] for r in refs), \
        "the two references did not run at the same time (2 processes)"
    assert len({states[n]["pid"] for n in record}) == 3
    assert (root / "smoke" / "references").is_dir() and "runs 1 done" in proc.stdout


class _FakeSlurm:
    """Stands in for `submitit.SlurmExecutor`: records each job's parameters, numbers the jobs from 100."""

    submitted: list[dict] = []

    def __init__(self, folder, max_num_timeout=3):
        self.folder, self.params = Path(str(folder).replace("%j", "")), {}

    def update_parameters(self, **params):
        self.params = params

    def submit(self, task):
        from types import SimpleNamespace

        job_id = str(100 + len(self.submitted))
        self.submitted.append({**self.params, "job": task.job.name, "job_id": job_id})
        return SimpleNamespace(job_id=job_id, paths=SimpleNamespace(stdout=self.folder / f"{job_id}.out",
                                                                    stderr=self.folder / f"{job_id}.err"))


def test_slurm_dependencies_kept_jobs_and_parallelism_slots(tmp_path, monkeypatch):
    from cu_lab import submit_exec

    monkeypatch.setattr(submit_exec.submitit, "SlurmExecutor", _FakeSlurm)
    monkeypatch.setattr(_FakeSlurm, "submitted", [])
    jobs = plan(expand(load_profile("smoke"), only=["compare"]), None)
    original = next(j.name for j in jobs if j.kind == "originals")
    opts = submit_exec.Options("smoke", tmp_path, "slurm", profile_resources({"methods": {"gpus": 1}}),
                               tmp_path / "logs", {}, "gpu", parallelism=2)
    record: dict = {"jobs": {}}
    lines = submit_exec.submit_slurm(jobs, opts, {original: "42"}, record)
    sent = {s["job"]: s for s in _FakeSlurm.submitted}
    assert original not in sent and any(line.startswith("kept") and "42" in line for line in lines)
    ids = {name: s["job_id"] for name, s in sent.items()} | {original: "42"}
    for job in jobs[1:]:
        s = sent[job.name]
        assert s["dependency"].split(",")[-1] == "singleton" and s["job_name"] in ("cu-smoke-0", "cu-smoke-1")
        if job.deps:
            assert s["dependency"].startswith("afterok:" + ":".join(ids[d] for d in job.deps))
        assert s["partition"] == "gpu" and s["additional_parameters"] == {"kill-on-invalid-dep": "yes"}
        assert s["gpus_per_node"] == (1 if job.kind == "methods" else None) and s["cpus_per_task"] == 1
    assert set(record["jobs"]) == set(sent) and json.loads((tmp_path / "smoke/.submit/jobs.json").read_text())


def test_local_submit_refuses_while_jobs_of_an_earlier_submit_run_and_status_shows_them(tmp_path, monkeypatch,
                                                                                         capsys):
    import os
    import socket

    monkeypatch.setenv("CU_CACHE_DIR", str(tmp_path / "cache"))
    root, run = tmp_path / "res", expand(load_profile("smoke"), only=["compare"])[0]
    sub = root / "smoke" / ".submit"
    (sub / "state").mkdir(parents=True)
    (sub / "jobs.json").write_text(json.dumps({"jobs": {"run-x": {
        "executor": "local", "job_id": "4242", "kind": "runs", "runs": [run.folder], "deps": [],
        "stderr": str(sub / "logs/4242/4242_0_log.err")}}}))
    (sub / "state" / "run-x.json").write_text(json.dumps({"state": "running", "host": socket.gethostname(),
                                                          "pid": os.getpid()}))
    argv = ["--profile", "smoke", "--only", "compare", "--results-dir", str(root)]
    assert main(["submit", *argv, "--executor", "local"]) == 2
    err = capsys.readouterr().err
    assert "--executor" in err and "'local'" in err and "4242" in err and "still running" in err, err
    assert not (root / "smoke" / "compare").exists()
    assert main(["status", *argv, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["jobs"]
    assert row["state"] == "running" and row["jobs"] == ["4242"]
    (sub / "state" / "run-x.json").write_text(json.dumps({"state": "running", "host": socket.gethostname(),
                                                          "pid": 2 ** 22 + 17}))  # no such process: killed
    assert main(["status", *argv]) == 0
    out = capsys.readouterr().out
    assert "1 failed" in out and "killed" in out and "4242_0_log.err" in out, out


def test_a_job_that_submitit_requeues_says_requeued_and_status_counts_it_queued_until_it_runs(tmp_path, monkeypatch):
    from cu_lab import submit_status

    job = plan(expand(load_profile("smoke"), only=["references"]), None)[-1]

    def preempted(job, root):  # what submitit's USR2 handler does once it has requeued the job
        raise SystemExit(-1)

    monkeypatch.setitem(submit_jobs.WORK, job.kind, preempted)
    with pytest.raises(SystemExit):
        submit_jobs.JobTask(job, str(tmp_path), "smoke", {}, 1)()
    marker = json.loads(submit_jobs.state_file(tmp_path, "smoke", job.name).read_text())
    assert marker["state"] == "requeued" and "requeued by submitit" in marker["message"]

    said = {"a": "requeued", "b": "failed", "c": "failed", "d": "requeued", "e": "requeued"}
    record = {n: {"executor": "slurm", "job_id": str(i), "kind": "runs", "runs": [], "deps": []}
              for i, n in enumerate(said, 1)}
    (tmp_path / "smoke" / ".submit" / "jobs.json").write_text(json.dumps({"jobs": record}))
    for name, state in said.items():
        (tmp_path / "smoke" / ".submit" / "state" / f"{name}.json").write_text(json.dumps({"state": state}))
    # b: its attempt was killed by `scontrol requeue` and said failed, it is pending again; c: failed, gone;
    # d: requeued and started again; e: requeued, then left the queue without running
    monkeypatch.setattr(submit_status, "slurm_queue", lambda: {"1": "PENDING", "2": "PENDING", "4": "RUNNING"})
    states = {n: e["state"] for n, e in submit_status.job_states(tmp_path, "smoke").items()}
    assert states == {"a": "queued", "b": "queued", "c": "failed", "d": "running", "e": "failed"}


@pytest.mark.parametrize("command", ["submit", "tune"])
def test_the_drivers_old_commands_point_to_cu_lab(command, capsys):
    from cu_core.experiments.__main__ import main as driver

    assert driver([command, "--profile", "smoke"]) == 2
    assert f"python -m cu_lab {command}" in capsys.readouterr().err
