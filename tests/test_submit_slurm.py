"""`submit --executor slurm` on a real one-node Slurm (Debian's slurm-wlm and munge, configured by
`tests/slurm/start.sh`, started here and stopped after): the smoke profile's `references` and `compare` runs (the
templates with reference, method and run jobs) give the in-process driver's results, file by file (timings and
host names aside), and a run job killed mid-run (`scancel`) is finished by the next submit without a duplicate or
a lost sub-run. Skips, saying why, where Slurm cannot be started (not root, no apt)."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from test_submit import PROJECT, assert_same_results, cli

ONLY = ["--profile", "smoke", "--only", "references", "compare"]
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


def _state(root: Path, job: str) -> str | None:
    try:
        return json.loads((root / "smoke" / ".submit" / "state" / f"{job}.json").read_text())["state"]
    except (OSError, ValueError, KeyError):
        return None


def _logs(root: Path) -> str:
    """The tails of the jobs' logs, for a failure message."""
    text = []
    for log in sorted((root / "smoke" / ".submit" / "logs").rglob("*.err"))[-6:]:
        text.append(f"--- {log}\n{log.read_text(errors='replace')[-1500:]}")
    return "\n".join(text)


@pytest.mark.slow
def test_slurm_gives_the_drivers_results_and_a_killed_job_is_finished_by_the_next_submit(slurm, tmp_path):
    driver = cli("run", *ONLY, "--results-dir", str(tmp_path / "driver"), "--threads", "1", "--no-progress",
                 env={**slurm, "CU_CACHE_DIR": str(tmp_path / "cache-driver")})
    assert driver.returncode == 0, f"the in-process driver failed:\n{driver.stderr[-3000:]}"

    root, env = tmp_path / "slurm", {**slurm, "CU_CACHE_DIR": str(tmp_path / "cache-slurm")}
    first = cli("submit", *ONLY, "--executor", "slurm", "--results-dir", str(root), env=env)
    assert first.returncode == 0, f"submit failed:\n{first.stdout}\n{first.stderr}"
    jobs = _record(root)
    kinds = sorted(e["kind"] for e in jobs.values())
    assert kinds == ["methods"] * 3 + ["originals"] + ["retrains"] + ["runs"] * 2, kinds
    (victim,) = [n for n, e in jobs.items() if e["kind"] == "runs" and "compare" in n]
    assert {n for n, e in jobs.items() if e["kind"] == "methods"} <= set(jobs[victim]["deps"])

    # kill the compare run's job a few seconds into its run (its three method sub-runs are done by then)
    _wait(f"job {victim} to start (queue: {_queue(env)})", lambda: _state(root, victim) == "running")
    staging = next((root / "smoke" / "compare").glob(".*.partial"))
    methods = {n: (staging / "runs" / n / "metrics.json").stat().st_mtime_ns for n in ("contrastive", "finetune", "ssd")}
    time.sleep(3)
    subprocess.run(["scancel", str(jobs[victim]["job_id"])], env=env, check=True, timeout=60)
    _wait("the queue to empty after scancel", lambda: not _queue(env), every=1)
    # killed mid-run: its notebook kernel died first (the job said "failed") or the job itself ("running" left)
    assert _state(root, victim) in ("running", "failed") and not [
        p for p in (root / "smoke" / "compare").iterdir() if not p.name.startswith(".")], "the run was not killed"
    status = cli("status", *ONLY, "--results-dir", str(root), env=env)
    assert "failed" in status.stdout and jobs[victim]["stderr"] in status.stdout, status.stdout
    assert (root / "smoke" / "references").is_dir(), _logs(root)

    second = cli("submit", *ONLY, "--executor", "slurm", "--results-dir", str(root), env=env)
    assert second.returncode == 0, f"the second submit failed:\n{second.stdout}\n{second.stderr}"
    again = {n: e for n, e in _record(root).items() if e["job_id"] != jobs[n]["job_id"]}
    assert list(again) == [victim], f"only the killed job is submitted again, not {sorted(again)}"
    _wait("the resubmitted job to finish", lambda: not _queue(env), every=1)
    assert _state(root, victim) == "done", f"the resubmitted job did not finish:\n{_logs(root)}"

    status = cli("status", *ONLY, "--results-dir", str(root), env=env)
    assert "runs 2 done, 0 queued, 0 running, 0 failed" in status.stdout, status.stdout
    run = next(p for p in (root / "smoke" / "compare").iterdir() if not p.name.startswith("."))
    assert {n: (run / "runs" / n / "metrics.json").stat().st_mtime_ns for n in methods} == methods, \
        "a method sub-run finished before the kill was computed again"
    assert not list(root.glob("smoke/*/.*.partial")), "a staging folder was left behind"
    assert_same_results(root, tmp_path / "driver")
