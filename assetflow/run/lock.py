"""The run lock: one writing process per target database, with a holder others can name.

An advisory `flock` on `<database>.lock`; the kernel drops it when the holder dies (even by
SIGKILL), so a dead run's lock is taken over without any cleanup.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from assetflow.errors import LockError, TargetError


@contextmanager
def run_lock(database: str, command: str, wait: float) -> Iterator[None]:
    if database == ":memory:":
        yield
        return
    path = Path(database + ".lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:        # the folder is checked before; this is a race or an odd mount
        raise TargetError(f"cannot create the run lock {path}: {exc.strerror}",
                          hint="the folder of the target's database must be writable") from None
    try:
        _acquire(fd, path, wait)
        holder = {"pid": os.getpid(), "command": command,
                  "since": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, wait: float) -> None:
    deadline = time.monotonic() + max(wait, 0)
    delay = 0.05
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockError(f"another assetflow run holds the lock on this target: {describe_holder(path)}",
                                hint="wait for it to finish, or pass --wait SECONDS to queue behind it") from None
            time.sleep(min(delay, max(deadline - time.monotonic(), 0.01)))
            delay = min(delay * 2, 1.0)


def describe_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "holder unknown"
    return f"pid {holder.get('pid')} running `{holder.get('command')}` since {holder.get('since')}"


def is_locked(database: str) -> bool:
    """Whether a live process holds the run lock (a dead holder's lock is already gone)."""
    if database == ":memory:":
        return False
    path = Path(database + ".lock")
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
