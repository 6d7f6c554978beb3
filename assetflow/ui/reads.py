"""What the pages read, through `api` only: the project (reloaded when its files change, checked
once per request) and its status (kept until the database, the project or the minute changes).

`api.status` over 1,000 assets x 365 partitions costs a few tenths of a second, so the assets page
and every asset page share one report per state of the database, and serve keeps that report
current in the background (`refresh`, every POLL seconds while someone looks) rather than when a
page asks. A page never shows a report older than the files it reads, with one exception: while a
run holds the database, its progress (the journal and its commits) moves on with every partition,
and a report read from the snapshot is shown for up to PROGRESS_LAG seconds after it was read (the
background read keeps it younger); the snapshot being replaced (the run ended), the project or
the minute changing makes it wait for a new read as always. While a run holds the database and a
read fails, the last report read is shown, saying when it was read and why it is not newer.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assetflow import api
from assetflow.errors import AssetflowError
from assetflow.project.loader import Project
from assetflow.run.lock import is_locked

_WATCHED = ("assets", "seeds", "checks")
POLL = 0.5                 # seconds between the background checks of the database's files
PROGRESS_LAG = 5.0         # seconds a running run's progress may lag on a page (see above)
WATCHED_FOR = 60.0         # the background read runs while a page was asked for this recently


@dataclass(frozen=True)
class StatusView:
    report: api.StatusReport
    read_at: datetime                 # UTC, when it was read
    note: str | None = None           # why it may be older than the database (a run holds it)


class Reads:
    """The serve process's reads. Thread-safe: one project load at a time; one read per state of
    the database at a time (a page asking for a state being read waits for that read)."""

    def __init__(self, root: Path, target: str | None = None):
        self.root = root
        self.target_name = target
        self._lock = threading.Lock()               # the status and the reads in flight
        self._project_lock = threading.Lock()
        self._reading: dict[tuple, threading.Event] = {}    # state key -> set when its read ends
        self._started = self._kept = 0                       # reads started; the latest kept
        self._project: Project | None = None
        self._signature: tuple | None = None
        self._load_error: AssetflowError | None = None
        self._status: StatusView | None = None
        self._status_key: tuple | None = None
        self._columns: tuple[tuple, dict | None] | None = None
        self._runs: tuple[tuple, dict] = ((), {})
        self._graph: tuple[Project, api.AssetGraph] | None = None
        self._local = threading.local()              # the project checked once per request
        self._asked_at = time.monotonic()

    @contextmanager
    def request(self):
        """One page or action: the project's files are checked once, however often it is asked for."""
        self._local.active, self._local.project = True, None
        self._asked_at = time.monotonic()
        try:
            yield
        finally:
            self._local.active, self._local.project = False, None

    # ---------------------------------------------------------------- the project

    def project(self) -> Project:
        """The project as its files are now; the last good one (and `load_error`) when they are broken."""
        if getattr(self._local, "active", False):
            if self._local.project is None:
                self._local.project = self._load()
            return self._local.project
        return self._load()

    def _load(self) -> Project:
        signature = _files_signature(self.root)
        with self._project_lock:
            if signature != self._signature or self._project is None:
                try:
                    self._project = api.load_project(self.root)
                    self._load_error = None
                except AssetflowError as exc:
                    if self._project is None:
                        raise
                    self._load_error = exc
                self._signature = signature
            return self._project

    @property
    def load_error(self) -> AssetflowError | None:
        return self._load_error

    def target(self):
        return self.project().config.target(self.target_name)

    # ---------------------------------------------------------------- status

    def status(self) -> StatusView:
        project = self.project()
        key = self._key(project)
        while True:
            with self._lock:
                if self._status is not None and (key == self._status_key or self._progress_only(key, PROGRESS_LAG)):
                    return self._status
                pending = self._reading.get(key)
                if pending is None:                  # nobody reads this state yet: read it here
                    pending = self._reading[key] = threading.Event()
                    break
            pending.wait()       # the same state is being read (by the background check): its answer
        return self._read_once(project, key, pending)

    def refresh(self) -> None:
        """The background read (serve calls it every POLL seconds): read the status again when the
        database's files or the minute changed, so that the next page finds it read; only while
        someone looks, and a running run's progress at most every PROGRESS_LAG / 2 seconds."""
        project = self._project
        if project is None or time.monotonic() - self._asked_at > WATCHED_FOR:
            return
        key = self._key(project)
        if key == self._status_key or self._progress_only(key, PROGRESS_LAG / 2) or self._unpublished(project):
            return
        with self._lock:
            if key == self._status_key or key in self._reading or project is not self._project:
                return
            pending = self._reading[key] = threading.Event()
        self._read_once(project, key, pending)

    def _unpublished(self, project: Project) -> bool:
        """A run holds the database and has not published its snapshot yet (the first one of a
        store, for a moment as it starts): a read now would show an empty state; pages asked
        meanwhile read it themselves."""
        path = project.config.target(self.target_name).path
        return not _stat(path + ".snapshot") and is_locked(path)

    def graph(self, project: Project) -> api.AssetGraph:
        """The project's graph, built once per load of the project."""
        cached = self._graph
        if cached is None or cached[0] is not project:
            cached = self._graph = (project, api.graph_of(project))
        return cached[1]

    def _key(self, project: Project) -> tuple:
        path = project.config.target(self.target_name).path
        return (id(project), int(time.time() // 60), _stat(path + ".snapshot"), _database_signature(path))

    def _progress_only(self, key: tuple, lag: float) -> bool:
        """Whether the cached report came from a snapshot that is still the newest, less than `lag`
        seconds ago, and only what the holding run commits and journals moved on since: it still
        holds the run lock (a run publishes its last snapshot before it lets the database go)."""
        view, cached = self._status, self._status_key
        return (view is not None and cached is not None and view.report.snapshot is not None
                and key[:3] == cached[:3] and (_now() - view.read_at).total_seconds() < lag
                and is_locked(self._project.config.target(self.target_name).path))

    def _read_once(self, project: Project, key: tuple, pending: threading.Event) -> StatusView:
        """`_read`, then wake whoever waits for this state, whatever happened."""
        try:
            return self._read(project, key)
        finally:
            with self._lock:
                self._reading.pop(key, None)
            pending.set()

    def _read(self, project: Project, key: tuple) -> StatusView:
        """Read the state `key` names (outside the lock: a page asking for a newer state does not
        wait for it), and keep it unless a read started later was kept first."""
        with self._lock:
            self._started += 1
            started = self._started
        try:
            report = api.status(project, (), self.target_name, graph=self.graph(project))
            view = StatusView(report, _now(), report.snapshot.message if report.snapshot else None)
        except AssetflowError as exc:
            if self._status is None:
                raise
            return StatusView(self._status.report, self._status.read_at,
                              f"showing the state read at {self._status.read_at:%H:%M:%S} UTC: {exc.message}")
        with self._lock:
            if started > self._kept:
                self._status, self._status_key, self._kept = view, key, started
        return view

    def columns(self) -> dict | None:
        """Column types of the target's tables, read again only when the database file changed
        (opening a database of a thousand tables costs a few tenths of a second)."""
        project = self.project()
        key = (id(project), _database_signature(project.config.target(self.target_name).path))
        cached = self._columns
        if cached is not None and cached[0] == key:
            return cached[1]
        found = api.table_columns(project, self.target_name)
        self._columns = (key, found)
        return found

    def asset_runs(self, name: str, limit: int) -> list:
        """An asset's recent runs, read again only when the database's files changed."""
        project = self.project()
        key = (id(project), _database_signature(project.config.target(self.target_name).path))
        cached_key, found = self._runs
        if cached_key != key:
            found = {}
            self._runs = (key, found)
        if (name, limit) not in found:
            found[(name, limit)] = api.asset_runs(project, self.target_name, name, limit)
        return found[(name, limit)]

    def forget_status(self) -> None:
        """A run this process launched has ended: read the status again on the next request."""
        with self._lock:
            self._status_key, self._kept = None, self._started     # (nor keep a read begun before)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _stat(path: str) -> tuple:
    try:
        s = os.stat(path)
        return (s.st_mtime_ns, s.st_size)
    except OSError:
        return ()


def _database_signature(path: str) -> tuple:
    """(a running run's journal too: while it holds the database, status comes from its journal)"""
    return (_stat(path), _stat(path + ".wal"), _stat(path + ".journal"))


def _files_signature(root: Path) -> tuple:
    """Modification times and sizes of assetflow.toml and every file under assets/, seeds/, checks/:
    a few milliseconds for a thousand files, against a reload's tenths of a second."""
    found = [("assetflow.toml", *_stat(str(root / "assetflow.toml")))]
    for folder in _WATCHED:
        for dirpath, dirnames, filenames in os.walk(root / folder):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                found.append((path, *_stat(path)))
    return tuple(found)
