"""Locks that die with their holder: kernel `flock(2)` locks through the `filelock` library.

The experiment driver claims a run with `try_hold` (a second driver sees the run as busy and moves on) and
`cu_core.train.train_model` holds one lock per cached checkpoint with `hold` while it trains or loads it (a second
process that needs the same checkpoint waits, then loads what the first one wrote). The kernel releases a lock
when its holder exits for any reason (SIGKILL and out-of-memory kills included), so there is no stale lock to
detect: a lock file that nobody holds is free, whatever it contains. The file is never removed (waiters must
share its inode); it holds the last holder's `host:pid` for people to read. Whether it is held right now is what
`flock` says, e.g. `flock -n FILE true || echo held`.

Shared filesystems. On one machine (any local filesystem, tmpfs) the locks always hold. Across machines they
hold only where the filesystem passes `flock` to a lock manager:

- NFSv4: yes (locking is part of the protocol; the Linux client turns `flock` into a whole-file byte-range lock).
  A crashed *machine*'s locks are freed by the server when its lease expires (90 s by default).
- NFSv3: only with the NLM lock manager (`rpc.statd`/`lockd` running on both ends). Where it is not running
  `flock` fails with ENOLCK and the driver stops with an error saying so. Mounted with `nolock` or
  `local_lock=flock|all`, locks are local to each client: two drivers on two machines can then both claim a run.
- Lustre: coherent across clients only when mounted with `-o flock`; `-o localflock` makes them per node (as
  `nolock` above); `-o noflock` makes `flock` fail (an error, as above).
- Over NFS a process's locks on one file are shared by all its descriptors (POSIX semantics): two claims of one
  run from the same process both succeed there. Every driver is its own process, so this does not matter to them.

Filesystems that refuse `flock` make `LocksUnsupported`, and a lock file that cannot be created `LockFileError` (both
`ConfigError`s), never a silent fallback to lock files with stale-lock guessing (`filelock`'s soft fallback is off).
"""
from __future__ import annotations

import errno
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import ConfigError

# flock's answers on filesystems without (working) locks: no lock manager, not implemented, not supported
_UNSUPPORTED = {errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}
REPORT_EVERY = 60.0  # seconds between "still waiting" lines


class LocksUnsupported(ConfigError):
    """The filesystem of a lock file refuses `flock` (e.g. NFSv3 without lockd, Lustre mounted `noflock`)."""

    def __init__(self, path: Path, err: OSError) -> None:
        super().__init__("lock file", str(path),
                         f"its filesystem refuses flock locks ({errno.errorcode.get(err.errno or 0, err.errno)}: "
                         f"{err.strerror}); put the results and cache folders on a local disk, NFSv4, NFSv3 with "
                         "lockd running, or Lustre mounted with -o flock (see cu_core/locks.py)")


class LockFileError(ConfigError):
    """A lock file cannot be created or opened (a read-only folder, a file where its folder should be, ...)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__("lock file", str(path), f"it cannot be created or opened ({reason}); the lock file and its "
                         "folder must be writable")


def owner_note(path: Path) -> str:
    """The `host:pid` the last holder wrote into the lock file, for messages only (never used to decide)."""
    try:
        return " ".join(Path(path).read_text(errors="replace").split())[:200]
    except OSError:
        return ""


def _stamp(fd: int) -> None:
    """Runs with the lock held (filelock's `on_acquired`): write `host:pid` for people who look at the file."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode(), 0)


def _lock(path: Path) -> FileLock:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LockFileError(path, _reason(err)) from err
    return FileLock(path, fallback_to_soft=False, on_acquired=_stamp)


def _acquire(lock: FileLock, path: Path, **kwargs: object) -> None:
    """`lock.acquire(**kwargs)`; Timeout only when another process holds the lock."""
    try:
        lock.acquire(**kwargs)
    except Timeout:
        if not path.is_file():  # filelock reads some failures to create the file as contention
            raise LockFileError(path, "no such file after trying to create it") from None
        raise
    except OSError as err:
        if err.errno in _UNSUPPORTED:
            raise LocksUnsupported(path, err) from err
        raise LockFileError(path, _reason(err)) from err


def _reason(err: OSError) -> str:
    return f"{err.strerror}: {err.filename}" if err.strerror and err.filename else str(err)


@contextmanager
def try_hold(path: str | os.PathLike[str]) -> Iterator[str | None]:
    """Take the lock at `path` if it is free, without waiting: yields None while holding it (released on exit),
    else a description of the holder ("host:pid" as its lock file says, or "another process")."""
    path = Path(path)
    lock = _lock(path)
    try:
        _acquire(lock, path, blocking=False)
    except Timeout:
        yield owner_note(path) or "another process"
        return
    try:
        yield None
    finally:
        lock.release()


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@contextmanager
def hold(path: str | os.PathLike[str], *, what: str,
         report: Callable[[str], None] = _stderr) -> Iterator[float]:
    """Hold the lock at `path`, waiting as long as another process holds it; yields the seconds waited.

    While it waits it `report`s (default: to stderr) that it waits, for `what` and behind whom, again every
    `REPORT_EVERY` seconds, and once more when it has the lock."""
    path = Path(path)
    lock = _lock(path)
    start = time.monotonic()
    try:
        _acquire(lock, path, blocking=False)
    except Timeout:
        report(f"waiting for {what}: {path} is held by {owner_note(path) or 'another process'}")
        while True:
            try:
                _acquire(lock, path, timeout=REPORT_EVERY)
                break
            except Timeout:
                report(f"still waiting for {what} after {_clock(time.monotonic() - start)} "
                       f"(held by {owner_note(path) or 'another process'})")
        report(f"waited {_clock(time.monotonic() - start)} for {what}; going on")
    try:
        yield time.monotonic() - start
    finally:
        lock.release()


__all__ = ["LockFileError", "LocksUnsupported", "REPORT_EVERY", "hold", "owner_note", "try_hold"]
