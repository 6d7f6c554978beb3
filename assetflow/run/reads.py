"""Reading a target whose database another process (or this one) holds for writing.

`open_reader(target)` is what every read-only use case opens (status, runs, runs show, the dry
run, the UI's pages). When the database can be opened read-only it yields that engine and no
notice. When DuckDB refuses because a writer holds the file, it yields an engine over the newest
snapshot with the running run's journal laid over it (`engines/duckdb_snapshot`,
`run/journal`), and a `SnapshotNotice` saying so: who holds the database, since when, what the
answer is as of, and the run's progress. It never fails with "database in use".

A journal is believed about its run only while the run's process is alive and holds the run lock:
a run killed with `kill -9` leaves a journal behind, whose committed attempts still count (they
are in the database), but which says nothing about a run in progress.
"""
from __future__ import annotations

import json
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from assetflow.engines import open_engine
from assetflow.errors import LockError
from assetflow.project.config import Target
from assetflow.run.journal import journal_path, pid_alive, read_header
from assetflow.run.lock import is_locked


@dataclass(frozen=True)
class SnapshotNotice:
    """Why an answer comes from a snapshot, and what it shows."""

    holder_pid: int | None            # the process holding the database, when known
    run_id: str | None                # the assetflow run holding it (None: another kind of writer)
    command: str | None
    held_since: datetime | None       # naive UTC: when that run started
    as_of: datetime | None            # naive UTC: when the snapshot was taken (None: there is none)
    running: bool                     # the journal's run is alive and writing
    planned: int = 0                  # partitions the run planned
    done: int = 0                     # of which finished (success, failed or skipped)
    failed: int = 0
    skipped: int = 0
    in_progress: int = 0
    journal_run: str | None = None    # the run whose journal was laid over the snapshot
    ended: str | None = None          # that run's final status, once it wrote it

    @property
    def message(self) -> str:
        """One line for people: who holds the database and what the answer shows."""
        pid = f" (pid {self.holder_pid})" if self.holder_pid else ""
        holder = (f"run {self.run_id}{pid}" if self.run_id else f"`{self.command}`{pid}" if self.command else
                  f"another process{pid}")
        since = f" since {self.held_since:%H:%M:%S} UTC" if self.held_since else ""
        state = (f"state as of {self.as_of:%H:%M:%S} UTC" if self.as_of else
                 "an empty state (no snapshot was published before)")
        if self.running:
            extra = (f" plus its progress: {self.done} of {self.planned} partitions done"
                     + (f" ({self.failed} failed)" if self.failed else "")
                     + (f", {self.in_progress} running" if self.in_progress else ""))
        elif self.journal_run and self.ended:
            extra = f" plus run {self.journal_run}, which ended: {self.ended}"
        elif self.journal_run:
            extra = f" plus what run {self.journal_run} committed before it died (it is not running)"
        else:
            extra = ""
        return f"database held by {holder}{since}; showing {state}{extra}"

    def as_json(self) -> dict[str, Any]:
        return {"held_by": {"pid": self.holder_pid, "run_id": self.run_id, "command": self.command,
                            "since": self.held_since},
                "as_of": self.as_of,
                "progress": {"run_id": self.journal_run, "running": self.running, "planned": self.planned,
                             "done": self.done, "failed": self.failed, "skipped": self.skipped,
                             "in_progress": self.in_progress, "ended": self.ended},
                "message": self.message}


@contextmanager
def open_reader(target: Target) -> Iterator[tuple[Any, SnapshotNotice | None]]:
    """(engine, notice): the database read-only, or, while a writer holds it, its snapshot and
    journal with a notice. The engine is None when the database does not exist yet."""
    with ExitStack() as stack:
        try:
            engine = stack.enter_context(open_engine(target, read_only=True))
        except LockError as exc:
            engine, notice = _from_snapshot(target, exc)
            stack.callback(engine.close)
            yield engine, notice
            return
        yield engine, None


def _from_snapshot(target: Target, exc: LockError):
    from assetflow.engines.duckdb_snapshot_read import open_snapshot
    journal = journal_path(target.path)
    header = read_header(journal)
    locked = is_locked(target.path)
    holder = _lock_holder(target.path) if locked else {}
    alive = header is not None and locked and pid_alive(header.pid) and holder.get("pid") == header.pid
    engine = open_snapshot(target.path, journal, header.run_id if header else None)
    info = engine.snapshot_info()
    progress = engine.progress()
    pid = holder.get("pid") if locked else _pid_in(exc)
    run = header if alive else None
    return engine, SnapshotNotice(
        holder_pid=pid, run_id=run.run_id if run else None, command=run.command if run else holder.get("command"),
        held_since=run.started_at if run else _since(holder), as_of=info.taken_at, running=alive and progress.ended is None,
        planned=header.planned if header else 0, done=progress.done, failed=progress.failed,
        skipped=progress.skipped, in_progress=progress.in_progress,
        journal_run=header.run_id if header and progress.lines else None, ended=progress.ended)


def _since(holder: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(holder.get("since", ""), "%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return None


def _lock_holder(database: str) -> dict[str, Any]:
    try:
        return json.loads(Path(database + ".lock").read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _pid_in(exc: LockError) -> int | None:
    import re
    found = re.search(r"PID (\d+)", exc.message)
    return int(found.group(1)) if found else None
