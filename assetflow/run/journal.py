"""The progress journal of a running run, for readers that cannot open the database meanwhile.

DuckDB lets one process write a database file and nobody else open it, not even read-only
(DUCKDB-FACTS). So a run publishes a snapshot of its state tables when it starts (and when it
ends; `engines/duckdb_snapshot`), and appends one JSON line per event here as it goes: the run's
header (pid, planned partitions), a step starting, an attempt committed (the same record the
state store holds, written after its transaction committed), a rebuild swapped in or dropped, a
step's final result, the run's end. A reader lays the committed attempts over the snapshot and
folds them with the state store's own folding, so it sees what the store would show.

One journal per target database, `<database>.journal`, replaced (by rename) when the next run
starts; only the holder of the run lock writes it. When a run ends and the snapshot holding all of
it is published, the journal is cut to its first and last lines (the header and the end): the rest
is in the snapshot, and a journal must not keep a long backfill's lines after it is over. A line is one `write()` on a file opened for
appending; it is not fsynced (a journal lost in a crash only makes a reader's answer staler, and
after a crash the database itself can be opened). Every line carries `seq`, its number, so a
reader skips the lines the snapshot already holds.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

from assetflow.state import AttemptRecord

RUN, START, ATTEMPT, PROMOTE, DISCARD, DONE, END = "run", "start", "attempt", "promote", "discard", "done", "end"
SOURCE = "source"          # a source version the run recorded at its start (asset: name, code_version: fingerprint)


def journal_path(database: str) -> Path:
    return Path(database + ".journal")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(sep=" ")


def attempt_line(attempt: AttemptRecord, status: str, rows: int | None) -> dict[str, Any]:
    """An attempt as the state store records it (duckdb_state._insert_attempt's columns)."""
    return {"event": ATTEMPT, "run_id": attempt.run_id, "asset": attempt.asset, "partition": attempt.partition,
            "attempt": attempt.attempt, "status": status, "started_at": _iso(attempt.started_at),
            "ended_at": _iso(attempt.ended_at or _utcnow()), "rows": rows, "error": attempt.error,
            "code_version": attempt.code_version, "data_version": attempt.data_version,
            "input_versions": json.dumps(dict(attempt.input_versions), sort_keys=True),
            "log": list(attempt.log) or None}


class Journal:
    """The append side: thread-safe, one line per call, numbered from 1."""

    def __init__(self, path: Path, header: dict[str, Any]):
        self.path = path
        self._lock = threading.Lock()
        self._seq = 0
        self._ends: list[bytes] = []          # the first line written and the latest one
        tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
        tmp.unlink(missing_ok=True)
        self._fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.append({"event": RUN, **header})
        os.replace(tmp, path)          # readers see the new run's journal whole, header first

    @property
    def lines(self) -> int:
        with self._lock:
            return self._seq

    def append(self, line: dict[str, Any]) -> None:
        with self._lock:
            if self._fd < 0:
                return
            self._seq += 1
            data = (json.dumps({"seq": self._seq, **line}, separators=(",", ":"), default=str) + "\n").encode()
            self._ends[1 if self._ends else 0:] = [data]
            try:
                os.write(self._fd, data)
            except OSError:
                pass               # a full disk must not fail the run: readers just see less progress

    def cut(self) -> None:
        """Keep only the header and the latest line (by rename: a reader sees the whole journal or the
        cut one). Only once a snapshot holds every line: readers skip the lines it holds anyway."""
        with self._lock:
            tmp = self.path.with_name(self.path.name + f".tmp-{os.getpid()}")
            try:
                tmp.write_bytes(b"".join(self._ends))
                os.replace(tmp, self.path)
            except OSError:
                tmp.unlink(missing_ok=True)       # (the whole journal stays: it only costs space)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


@dataclass(frozen=True)
class JournalHeader:
    """The first line of a journal: which run writes it, from which process, and its plan's size."""

    run_id: str
    pid: int
    command: str
    started_at: datetime | None
    planned: int


def read_header(path: Path) -> JournalHeader | None:
    """The journal's header, or None when there is none (or it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = json.loads(f.readline())
    except (OSError, ValueError):
        return None
    if first.get("event") != RUN:
        return None
    started = first.get("started_at")
    return JournalHeader(first.get("run_id", ""), int(first.get("pid") or 0), first.get("command", ""),
                         datetime.fromisoformat(started) if started else None, int(first.get("planned") or 0))


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------- the run side


class JournaledEngine:
    """The run's engine, telling the journal what each write committed (after it committed).

    Everything else goes straight to the engine; the engine itself is unchanged."""

    def __init__(self, engine, append: Callable[[dict[str, Any]], None]):
        self._engine = engine
        self._append = append

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def build(self, request):
        outcome = self._engine.build(request)
        rebuilding = self._engine.rebuilding(request.key)
        status = "staged" if rebuilding else "success"
        if request.batch:
            for (attempt, _), rows in zip(request.batch, outcome.rows_each):
                self._append(attempt_line(attempt, status, rows))
        else:
            self._append(attempt_line(request.attempt, status, outcome.rows))
        return outcome

    def record_failure(self, attempt: AttemptRecord) -> None:
        self._engine.record_failure(attempt)
        self._append(attempt_line(attempt, attempt.status, None))

    def swap_in(self, key, run_id: str) -> None:
        self._engine.swap_in(key, run_id)
        self._append({"event": PROMOTE, "asset": str(key), "run_id": run_id})

    def discard_rebuild(self, key) -> None:
        self._engine.discard_rebuild(key)
        self._append({"event": DISCARD, "asset": str(key)})


def journal_events(append: Callable[[dict[str, Any]], None], on_start: Callable, on_done: Callable
                   ) -> tuple[Callable, Callable]:
    """RunEvents callbacks that also journal each step's start and each partition's result."""
    def started(step) -> None:
        append({"event": START, "asset": step.asset, "partition": step.partition, "at": _iso(_utcnow())})
        on_start(step)

    def done(result) -> None:
        for part in result.per_partition():
            append({"event": DONE, "asset": part.asset, "partition": part.partition,
                            "status": part.status, "at": _iso(_utcnow())})
        on_done(result)
    return started, done


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class RunJournal:
    """What a run does so that others can look while it holds the database: publish the state
    tables when it starts and ends, and journal its progress in between. A run on an engine
    without snapshots (or in memory) journals nothing; a snapshot that cannot be written only
    makes readers' answers staler, it never fails the run.

    Made before the run's step runner (which is handed `engine`), started once the run is
    recorded: nothing is journaled before `start`."""

    def __init__(self, engine, database: str):
        self._inner = engine
        self._database = database
        self._run_id = ""
        self.journal: Journal | None = None
        self._enabled = database != ":memory:" and hasattr(engine, "publish_snapshot")
        self.engine = JournaledEngine(engine, self._append) if self._enabled else engine

    def start(self, record, planned: int, sources: Mapping[str, Any]) -> None:
        """The run is recorded: publish the state as it is now unless the published snapshot
        shows it already (the previous run published it when it ended: one copy per run, not
        two), and begin the journal with the run and the source versions it recorded."""
        if not self._enabled:
            return
        self._run_id = record.run_id
        self._publish(0, unless_current=True)
        try:
            self.journal = Journal(journal_path(self._database), {
                "run_id": record.run_id, "pid": record.pid, "command": record.command, "target": record.target,
                "started_at": _iso(record.started_at), "planned": planned})
        except OSError:
            self.journal = None         # readers fall back to the snapshot alone
            return
        for name, version in sorted(sources.items()):
            self.journal.append({"event": SOURCE, "asset": name, "code_version": version.fingerprint,
                                 "data_version": version.data_version})

    def _append(self, line: dict[str, Any]) -> None:
        if self.journal is not None:
            self.journal.append(line)

    def events(self, on_start: Callable, on_done: Callable) -> tuple[Callable, Callable]:
        return (on_start, on_done) if not self._enabled else journal_events(self._append, on_start, on_done)

    def finish(self, status: str) -> None:
        """The run's end: its final status, and a snapshot holding everything it did."""
        if self.journal is None:
            return
        self.journal.append({"event": END, "status": status, "at": _iso(_utcnow())})
        if self._publish(self.journal.lines):
            self.journal.cut()
        self.journal.close()

    def _publish(self, lines: int, unless_current: bool = False) -> bool:
        try:
            self._inner.publish_snapshot(self._database, self._run_id, lines, unless_current=unless_current)
        except Exception:          # (disk full, permissions): readers fall back to an older snapshot
            return False
        return True
