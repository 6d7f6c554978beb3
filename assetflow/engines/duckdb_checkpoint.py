"""Checkpoints while several workers write.

DuckDB checkpoints on its own when the write-ahead log passes its threshold, but skips it while
any other transaction is open, which with several workers is nearly always: the log then grows
for the whole run (185 MB for a thousand small tables at 4 threads) and the process's memory
with it, and the close pays for one huge checkpoint. So writers share a gate, and when the log is
past the threshold the writer that notices it closes the gate, waits for the open transactions
to finish, checkpoints, and opens it again.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

WAL_LIMIT = 16 * 1024 * 1024        # DuckDB's default checkpoint_threshold


class CheckpointGate:
    def __init__(self, wal_path: str | None, checkpoint: Callable[[], None], limit: int = WAL_LIMIT):
        self._wal = wal_path                 # None: an in-memory database has no log
        self._checkpoint = checkpoint
        self._limit = limit
        self._cond = threading.Condition()
        self._open = 0                       # transactions inside the gate
        self._closed = False                 # a checkpoint is waiting or running

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the gate open for one transaction; checkpoint after it when the log is large."""
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._open += 1
        try:
            yield
        finally:
            with self._cond:
                self._open -= 1
                self._cond.notify_all()
        if self._wal_is_large():
            self._checkpoint_alone()

    def _wal_is_large(self) -> bool:
        try:
            return self._wal is not None and os.path.getsize(self._wal) > self._limit
        except OSError:
            return False

    def _checkpoint_alone(self) -> None:
        with self._cond:
            if self._closed:
                return                       # another writer is on it
            self._closed = True
            while self._open:
                self._cond.wait()
        try:
            if self._wal_is_large():         # (it may have been done meanwhile)
                self._checkpoint()
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()
