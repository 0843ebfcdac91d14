"""Locks that die with their holder (cu_core.locks, through `filelock`'s kernel flock locks).

- run claims: 60 processes racing for the same 20 runs give exactly one holder per run, never two at once;
- a holder killed with SIGKILL releases its claim at once; a lock file nobody holds is free whatever it says
  (empty, half-written, another host's name, a dead pid): nothing is guessed from its contents;
- cached checkpoints: two processes that need the same checkpoint train it once (the second waits, says so,
  then loads it); when the trainer is killed, the waiting process resumes its partial checkpoint;
- a filesystem that refuses flock stops with a clear ConfigError (no silent fallback).
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import io
import multiprocessing as mp
import os
import random
import signal
import socket
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from cu_core.errors import ConfigError
from cu_core.locks import LocksUnsupported, hold, try_hold

N_PROCESSES = 60
N_RUNS = 20
SPAWN = mp.get_context("spawn")


def _claim_worker(root: str, folders: list[str], barrier, results) -> None:
    """One driver: claims each run in turn (in its own order), does 'the work' when it holds a run that is not
    done yet, and counts what it saw. `.inside` is created exclusively while working: a second holder at the
    same time would find it there."""
    from cu_core.experiments.runner import claim

    order = list(folders)
    random.Random(os.getpid()).shuffle(order)
    held = busy = overlaps = 0
    barrier.wait(timeout=300)
    for name in order:
        folder = Path(root) / name
        with claim(folder) as owner:
            if owner is not None:
                busy += 1
                continue
            done = folder.parent / f"{folder.name}.done"
            if done.exists():  # finished by an earlier holder (the driver's read_metrics check)
                continue
            held += 1
            try:
                fd = os.open(folder.parent / f"{folder.name}.inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.close(fd)
            except FileExistsError:
                overlaps += 1
            with open(folder.parent / f"{folder.name}.holders", "a") as fh:
                fh.write(f"{os.getpid()}\n")
            time.sleep(0.02)
            (folder.parent / f"{folder.name}.inside").unlink(missing_ok=True)
            done.write_text(str(os.getpid()))
    results.put((os.getpid(), held, busy, overlaps))


@pytest.mark.slow
def _run_all(procs: list, results) -> list:
    """Start every process, collect one result from each, and check that all of them exited cleanly."""
    for p in procs:
        p.start()
    out = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return out


def test_racing_processes_give_exactly_one_holder_per_run(tmp_path):
    folders = [f"profile/exp{i % 4}/run-{i:02d}" for i in range(N_RUNS)]
    barrier, results = SPAWN.Barrier(N_PROCESSES), SPAWN.Queue()
    procs = [SPAWN.Process(target=_claim_worker, args=(str(tmp_path), folders, barrier, results))
             for _ in range(N_PROCESSES)]
    outcomes = _run_all(procs, results)
    assert sum(o[3] for o in outcomes) == 0  # never two holders at once
    for name in folders:
        holders = (tmp_path / f"{name}.holders").read_text().split()
        assert len(holders) == 1, (name, holders)  # exactly one process did each run
    assert sum(o[1] for o in outcomes) == N_RUNS
    assert sum(o[2] for o in outcomes) > 0  # they did collide (runs seen busy)
    assert len({o[0] for o in outcomes}) == N_PROCESSES


def _hold_and_sleep(folder: str, ready) -> None:
    from cu_core.experiments.runner import claim

    with claim(Path(folder)) as owner:
        assert owner is None
        ready.set()
        time.sleep(300)


def test_a_killed_holder_releases_its_claim(tmp_path):
    from cu_core.experiments.runner import claim, lock_path

    folder = tmp_path / "profile" / "exp" / "run-0"
    ready = SPAWN.Event()
    proc = SPAWN.Process(target=_hold_and_sleep, args=(str(folder), ready))
    proc.start()
    assert ready.wait(timeout=120)
    with claim(folder) as owner:  # held by a live process: busy, and the message names it
        assert owner == f"{socket.gethostname()}:{proc.pid}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL
    with claim(folder) as owner:  # taken over at once: no timeout, no pid check
        assert owner is None
        assert lock_path(folder).read_text().strip() == f"{socket.gethostname()}:{os.getpid()}"


@pytest.mark.parametrize("content", ["", "vm", "another-host:1", "garbage\x00:x:y", "HOST:999999999"])
def test_a_lock_file_nobody_holds_is_free_whatever_it_says(tmp_path, content):
    """The old claim read an empty file as stale (two holders) and another host's name as alive forever."""
    from cu_core.experiments.runner import claim, lock_path

    folder = tmp_path / "exp" / "run"
    folder.parent.mkdir(parents=True)
    lock_path(folder).write_text(content.replace("HOST", socket.gethostname()))
    with claim(folder) as owner:
        assert owner is None
        with claim(folder) as second:  # another claim (another open file) while it is held: busy
            assert second == f"{socket.gethostname()}:{os.getpid()}"
    with claim(folder) as owner:  # released on exit
        assert owner is None


def test_driver_reports_runs_held_by_another_driver_as_busy_and_does_not_start_them(tmp_path):
    from cu_core.experiments.grid import expand, load_profile
    from cu_core.experiments.runner import execute, summary

    run = expand(load_profile("smoke"))[0]
    folder = tmp_path / run.folder
    ready = SPAWN.Event()
    proc = SPAWN.Process(target=_hold_and_sleep, args=(str(folder), ready))
    proc.start()
    try:
        assert ready.wait(timeout=120)
        outcome = execute(run, tmp_path)
        assert outcome.status == "busy" and str(proc.pid) in outcome.message
        assert not (folder.parent / f".{run.run_id}.partial").exists() and not folder.exists()
        report = summary([outcome])
        assert report["failed"] == 0 and report["busy"] == [{"run": run.folder, "message": outcome.message}]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)


def test_a_filesystem_without_flock_stops_with_a_clear_error(tmp_path, monkeypatch):
    """NFSv3 without lockd answers ENOLCK, Lustre mounted noflock ENOSYS: refused, never a soft fallback."""
    for code in (errno.ENOLCK, errno.ENOSYS):
        def refuse(fd, op, code=code):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(fcntl, "flock", refuse)
        with pytest.raises(ConfigError, match="refuses flock") as err:
            with try_hold(tmp_path / f"x{code}.lock"):
                pass
        assert isinstance(err.value, LocksUnsupported) and "lockd" in str(err.value)
        with pytest.raises(LocksUnsupported):
            with hold(tmp_path / f"y{code}.lock", what="test"):
                pass
    monkeypatch.undo()
    from cu_core.experiments.grid import expand, load_profile
    from cu_core.experiments.runner import run_grid

    monkeypatch.setattr(fcntl, "flock", lambda fd, op: (_ for _ in ()).throw(OSError(errno.ENOLCK, "No locks")))
    with pytest.raises(LocksUnsupported):  # before any run starts
        run_grid(expand(load_profile("smoke"))[:1], results=tmp_path / "results", progress=False)
    assert not list((tmp_path / "results").rglob("*.partial"))


def test_a_lock_file_that_cannot_be_created_is_a_clear_error_not_a_busy_run(tmp_path):
    """A file where the folder should be, a folder where the lock file should be, a folder that cannot hold files
    (/proc): a ConfigError naming the lock file, never 'busy' (which would skip the run without a word)."""
    from cu_core.experiments.grid import expand, load_profile
    from cu_core.experiments.runner import claim, run_grid
    from cu_core.locks import LockFileError

    (tmp_path / "file").write_text("user data")
    (tmp_path / ".dir.lock").mkdir()
    cases = [(tmp_path / "file" / "run", "File exists"), (tmp_path / "dir", "Is a directory")]
    if Path("/proc/self").is_dir():
        cases.append((Path("/proc/self/run"), "cannot be created"))
    for folder, reason in cases:
        with pytest.raises(LockFileError, match=reason):
            with claim(folder):
                pass
        with pytest.raises(ConfigError, match="lock file"):
            with hold(folder.parent / f".{folder.name}.lock", what="test"):
                pass
    assert (tmp_path / "file").read_text() == "user data"
    with pytest.raises(LockFileError):  # the driver stops before any run starts
        run_grid(expand(load_profile("smoke"))[:1], results=tmp_path / "file" / "results", progress=False)


def test_hold_waits_and_reports_while_another_process_holds_the_lock(tmp_path, monkeypatch):
    import cu_core.locks as locks

    monkeypatch.setattr(locks, "REPORT_EVERY", 0.2)
    folder = tmp_path / "c"
    ready = SPAWN.Event()
    proc = SPAWN.Process(target=_hold_and_sleep, args=(str(folder), ready))
    proc.start()
    assert ready.wait(timeout=120)
    lines: list[str] = []
    killer = SPAWN.Process(target=_kill_later, args=(proc.pid, 1.0))
    killer.start()
    start = time.monotonic()
    with hold(folder.parent / ".c.lock", what="the test lock", report=lines.append) as waited:
        assert waited >= 0.5 and time.monotonic() - start >= 0.5
    proc.join(timeout=30)
    killer.join(timeout=30)
    assert lines[0].startswith("waiting for the test lock") and str(proc.pid) in lines[0]
    assert any(line.startswith("still waiting") for line in lines) and lines[-1].startswith("waited")


def _kill_later(pid: int, seconds: float) -> None:
    time.sleep(seconds)
    os.kill(pid, signal.SIGKILL)


# --- the checkpoint cache -------------------------------------------------------------------------------------


def _train_worker(cache: str, epochs: int, slow: float, delay: float, barrier, results) -> None:
    """Train (or load) the digits original with `epochs` epochs; `slow` seconds are added to every epoch (so that
    the other process surely finds the checkpoint locked). Reports cache_hit, the history, a hash of the weights
    and what it printed to stderr."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    import cu_core.train as train_module
    from cu_core.config import RunConfig
    from cu_core.pipeline import prepare, train_reference

    if slow:
        real = train_module.accuracy

        def slow_accuracy(*args, **kwargs):
            time.sleep(slow)
            return real(*args, **kwargs)

        train_module.accuracy = slow_accuracy
    prep = prepare(RunConfig.from_dict({"train": {"progress": False, "epochs": epochs}}))
    barrier.wait(timeout=300)
    time.sleep(delay)
    err = io.StringIO()
    with redirect_stderr(err):
        result = train_reference(prep, retrain=False, cache_dir=cache)
    weights = hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in result.model.state_dict().values()))
    results.put({"pid": os.getpid(), "cache_hit": result.cache_hit, "history": result.history,
                 "weights": weights.hexdigest(), "stderr": err.getvalue()})


@pytest.mark.slow
def test_two_processes_that_need_one_checkpoint_train_it_once(tmp_path):
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    # the first trains slowly (1 s per epoch on top of the work); the second asks for it 0.5 s later
    procs = [SPAWN.Process(target=_train_worker, args=(str(tmp_path), 2, slow, delay, barrier, results))
             for slow, delay in ((1.0, 0.0), (0.0, 0.5))]
    out = _run_all(procs, results)
    trained = [o for o in out if not o["cache_hit"]]
    loaded = [o for o in out if o["cache_hit"]]
    assert len(trained) == 1 and len(loaded) == 1  # trained once
    assert trained[0]["pid"] == procs[0].pid
    assert loaded[0]["weights"] == trained[0]["weights"] and loaded[0]["history"] == trained[0]["history"]
    assert "waiting for checkpoint digits-cnn4-" in loaded[0]["stderr"]
    assert "waited" in loaded[0]["stderr"]
    assert len(list((tmp_path / "checkpoints").glob("*[!l].pt"))) == 1


@pytest.mark.slow
def test_a_waiting_process_resumes_the_checkpoint_of_a_trainer_that_was_killed(tmp_path):
    barrier, results = SPAWN.Barrier(2), SPAWN.Queue()
    slow_epoch = 3.0
    trainer = SPAWN.Process(target=_train_worker, args=(str(tmp_path), 3, slow_epoch, 0.0, barrier, results))
    waiter = SPAWN.Process(target=_train_worker, args=(str(tmp_path), 3, 0.0, 0.5, barrier, results))
    trainer.start()
    waiter.start()
    checkpoints = tmp_path / "checkpoints"
    deadline = time.time() + 240
    while time.time() < deadline and not list(checkpoints.glob("*.partial.pt")):
        time.sleep(0.1)
    assert list(checkpoints.glob("*.partial.pt")), "the trainer never finished its first epoch"
    os.kill(trainer.pid, signal.SIGKILL)  # mid-training, after epoch 1 (or 2)
    trainer.join(timeout=30)
    out = results.get(timeout=300)
    waiter.join(timeout=60)
    assert waiter.exitcode == 0 and out["pid"] == waiter.pid
    assert not out["cache_hit"] and len(out["history"]) == 3
    assert "waiting for checkpoint" in out["stderr"]
    # epoch 1 was the killed trainer's (its slow epoch is in the time): resumed, not trained again
    assert out["history"][0]["seconds"] >= slow_epoch
    assert not list(checkpoints.glob("*.partial.pt"))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
