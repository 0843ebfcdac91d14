"""`submit --executor slurm` on a real one-node Slurm (Debian's slurm-wlm and munge, configured by
`tests/slurm/start.sh`, started here and stopped after) runs the whole smoke profile (its 8 template runs as 15
jobs: 1 original, 3 Retrains, 3 methods, 8 runs) while three of its jobs are cut short mid-run:

- the compare run's job is killed (`scancel`) once its notebook runs (its three method sub-runs are done by then):
  the next `submit` submits that job alone again and it finishes;
- the ablation run's job is requeued by Slurm (`scontrol requeue`, as a preemption with `PreemptMode=REQUEUE`)
  after its first sub-run is written: it runs again under the same job id;
- the efficiency run's job gets USR2 (`scancel --signal=USR2`, the signal Slurm sends before a time limit, which
  submitit also expects on preemption) after its first sub-run: submitit's handler requeues it, it runs again.

Every run then finishes exactly once (one attempt for the runs left alone, two for the three cut short; a run
finished before the second submit is not touched by it), no sub-run finished before a cut is computed again, no
sub-run folder is duplicated or lost, and the results are the in-process driver's (`smoke_results` of
tests/conftest.py, shared with tests/test_experiments.py), file by file, timings and host names aside. Skips,
saying why, where Slurm cannot be started (not root, no apt)."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from cu_core.results import read_metrics
from test_submit import PROJECT, assert_same_results, cli

PROFILE = ["--profile", "smoke"]
WAIT = 240  # seconds any one wait may take before the test fails saying what it waited for


def _free_port() -> int:
    """A port whose successor is free too (slurmctld and slurmd)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000:
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue
    return 16817


@pytest.fixture(scope="module")
def slurm():
    """The environment (SLURM_CONF) of a one-node Slurm started for this module, stopped after it."""
    state = Path(tempfile.mkdtemp(prefix="cu-slurm-", dir="/tmp"))  # short: munge's socket path is limited
    env = {**os.environ, "CU_SLURM_PORT": str(_free_port())}
    try:
        proc = subprocess.run(["bash", str(PROJECT / "tests/slurm/start.sh"), str(state)], capture_output=True,
                              text=True, env=env, timeout=900)
    except subprocess.TimeoutExpired:
        pytest.fail("tests/slurm/start.sh did not finish within 15 min (apt-get or slurmctld hanging)")
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "slurm cannot be started")
    assert proc.returncode == 0, f"tests/slurm/start.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    yield {**env, "SLURM_CONF": str(state / "slurm.conf")}
    subprocess.run(["bash", str(PROJECT / "tests/slurm/stop.sh"), str(state)], capture_output=True, timeout=120)
    shutil.rmtree(state, ignore_errors=True)


def _wait(what: str, done, timeout: float = WAIT, every: float = 0.2):
    """`done()`'s first true value, polled; fails naming `what` after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = done()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"waited {timeout:.0f} s for {what}")


def _queue(env: dict[str, str]) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T %j"], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, f"squeue failed: {out.stderr}"
    return out.stdout.split("\n") if out.stdout.strip() else []


def _record(root: Path) -> dict:
    return json.loads((root / "smoke" / ".submit" / "jobs.json").read_text())["jobs"]


def _marker(root: Path, job: str) -> dict:
    try:
        return json.loads((root / "smoke" / ".submit" / "state" / f"{job}.json").read_text())
    except (OSError, ValueError):
        return {}


def _logs(root: Path) -> str:
    """The tails of the jobs' logs, for a failure message."""
    text = []
    for log in sorted((root / "smoke" / ".submit" / "logs").rglob("*.err"))[-6:]:
        text.append(f"--- {log}\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(text)


def _finished_subruns(folder: Path) -> dict[str, int]:
    """The complete sub-runs of a run's staging or final folder: name -> metrics.json's mtime (ns)."""
    return {p.parent.name: p.stat().st_mtime_ns for p in folder.glob("runs/*/metrics.json")
            if read_metrics(p) is not None}


def _run_folders(root: Path) -> dict[str, list[Path]]:
    """Per experiment, its run folders (hidden staging folders and locks aside)."""
    return {e.name: [p for p in e.iterdir() if not p.name.startswith(".")]
            for e in (root / "smoke").iterdir() if not e.name.startswith(".")}


def _restarts(env: dict[str, str], job_id: str) -> int:
    """How many times Slurm started the job again (`scontrol show job`: finished jobs are kept for MinJobAge,
    an hour in tests/slurm/start.sh)."""
    out = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True, env=env,
                         timeout=60)
    found = re.search(r"\bRestarts=(\d+)", out.stdout)
    assert found, f"scontrol show job {job_id}: {out.stdout or out.stderr}"
    return int(found.group(1))


def _cut_short(root: Path, env: dict[str, str], jobs: dict, cuts: dict[str, tuple[str, list[str], str]]) -> dict:
    """Cut each job of `cuts` (name -> (when, command, then)) short while it runs: "attempt" once its run's attempt
    has begun (the staging folder's attempts.json: the notebook is being executed), "subrun" as soon as its staging
    folder holds a complete sub-run; then wait until its state file says `then` (if not ''). Returns name -> the
    sub-runs complete when it was cut."""
    done: dict[str, dict[str, int]] = {}
    end = time.monotonic() + 3 * WAIT
    while len(done) < len(cuts) or any(_marker(root, n).get("state") != cuts[n][2] for n in done if cuts[n][2]):
        assert time.monotonic() < end, f"waited {3 * WAIT} s to cut {sorted(cuts)} short: cut {sorted(done)}"
        for name, (when, command, then) in cuts.items():
            marker = _marker(root, name)
            if name in done:
                if then and marker.get("state") == then:
                    cuts[name] = (when, command, "")  # seen
                continue
            assert marker.get("state") != "done", \
                f"{name} finished before it could be cut short ({when}); queue: {_queue(env)}"
            assert marker.get("state") != "failed", f"{name} failed before it was cut short:\n{_logs(root)}"
            if marker.get("state") != "running":
                continue
            (run,) = jobs[name]["runs"]
            staging = next((root / run).parent.glob(".*.partial"), None)
            finished = _finished_subruns(staging) if staging else {}
            begun = staging is not None and (staging / "attempts.json").is_file()
            if (when == "attempt" and begun) or (when == "subrun" and finished):
                subprocess.run([*command, str(jobs[name]["job_id"])], env=env, check=True, timeout=60)
                done[name] = finished
        time.sleep(0.2)
    return done


@pytest.mark.slow
def test_slurm_runs_the_smoke_profile_as_the_driver_does_through_a_kill_and_two_requeues(slurm, smoke_results,
                                                                                          tmp_path):
    root, env = tmp_path / "slurm", {**slurm, "CU_CACHE_DIR": str(tmp_path / "cache-slurm")}
    first = cli("submit", *PROFILE, "--executor", "slurm", "--results-dir", str(root), env=env)
    assert first.returncode == 0, f"submit failed:\n{first.stdout}\n{first.stderr}"
    jobs = _record(root)
    assert Counter(e["kind"] for e in jobs.values()) == {"originals": 1, "retrains": 3, "methods": 3, "runs": 8}
    run_job = {e["runs"][0].split("/")[1]: n for n, e in jobs.items() if e["kind"] == "runs"}
    killed, requeued, signalled = run_job["compare"], run_job["ablation"], run_job["efficiency"]
    assert {n for n, e in jobs.items() if e["kind"] == "methods"} <= set(jobs[killed]["deps"])

    # the USR2 job: submitit's handler requeues it and exits, the job's state file says so ("requeued")
    cut = _cut_short(root, env, jobs, {killed: ("attempt", ["scancel"], ""),
                                       requeued: ("subrun", ["scontrol", "requeue"], ""),
                                       signalled: ("subrun", ["scancel", "--signal=USR2"], "requeued")})
    _wait("the queue to empty", lambda: not _queue(env), timeout=2 * WAIT, every=1)
    # the killed run: its notebook kernel died first (the job said "failed") or the job itself ("running" left)
    assert _marker(root, killed)["state"] in ("running", "failed") and not _run_folders(root)["compare"], \
        "the compare run was not killed"
    for name in (requeued, signalled):  # requeued: finished by the same Slurm job, started twice
        marker = _marker(root, name)
        assert marker.get("state") == "done", f"{name} did not finish after its requeue:\n{_logs(root)}"
        assert marker["job_id"] == str(jobs[name]["job_id"]), "a requeued job keeps its job id"
    restarts = {n: _restarts(env, e["job_id"]) for n, e in jobs.items()}
    assert restarts == {n: int(n in (requeued, signalled)) for n in jobs}, f"Slurm's restarts per job: {restarts}"
    status = cli("status", *PROFILE, "--results-dir", str(root), env=env)
    assert "runs 7 done, 0 queued, 0 running, 1 failed" in status.stdout, status.stdout + _logs(root)
    assert jobs[killed]["stderr"] in status.stdout, status.stdout
    finished = {e: (f[0], (f[0] / "metrics.json").stat().st_mtime_ns) for e, f in _run_folders(root).items() if f}

    second = cli("submit", *PROFILE, "--executor", "slurm", "--results-dir", str(root), env=env)
    assert second.returncode == 0, f"the second submit failed:\n{second.stdout}\n{second.stderr}"
    again = {n for n, e in _record(root).items() if e["job_id"] != jobs[n]["job_id"]}
    assert again == {killed}, f"only the killed job is submitted again, not {sorted(again)}"
    _wait("the resubmitted job to finish", lambda: not _queue(env), every=1)
    assert _marker(root, killed).get("state") == "done", f"the resubmitted job did not finish:\n{_logs(root)}"
    status = cli("status", *PROFILE, "--results-dir", str(root), env=env)
    assert "runs 8 done, 0 queued, 0 running, 0 failed" in status.stdout, status.stdout

    # every run finished exactly once: one folder per experiment, the runs done before the second submit untouched,
    # one attempt each except the three cut short (two), no staging folder left
    folders = _run_folders(root)
    assert sorted(folders) == sorted(run_job) and all(len(f) == 1 for f in folders.values()), folders
    assert {e: (f, (f / "metrics.json").stat().st_mtime_ns) for e, (f,) in folders.items() if e in finished} \
        == finished, "a run finished before the second submit was run again"
    attempts = {e: len(json.loads((f / "attempts.json").read_text())) for e, (f,) in folders.items()}
    assert attempts == {e: 2 if e in ("compare", "ablation", "efficiency") else 1 for e in run_job}, attempts
    assert not list(root.glob("smoke/*/.*.partial")), "a staging folder was left behind"
    # no sub-run finished before a cut was computed again (the compare run's methods: by their method jobs)
    assert set(cut[killed]) >= {"contrastive", "finetune", "ssd"}, cut[killed]
    assert cut[requeued] and cut[signalled], "the requeued runs were cut after a finished sub-run"
    for name, experiment in ((killed, "compare"), (requeued, "ablation"), (signalled, "efficiency")):
        kept = _finished_subruns(folders[experiment][0])
        assert {n: kept.get(n) for n in cut[name]} == cut[name], f"a finished sub-run of {experiment} was redone"
    # each reference was trained by its own job, once; the runs loaded them
    refs = [n for n, e in jobs.items() if e["kind"] in ("originals", "retrains")]
    assert all(_marker(root, n)["message"].startswith("trained") for n in refs), [_marker(root, n) for n in refs]
    assert_same_results(root, smoke_results["results"])
