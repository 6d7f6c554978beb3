"""What the pages read, through `api` only: the project (reloaded when its files change) and its
status (kept until the database, the project or the minute changes).

`api.status` over 1,000 assets x 365 partitions costs a few tenths of a second, so the assets page
and every asset page share one report per state of the database. While a run holds the database and
a read fails, the last report read is shown, saying when it was read and why it is not newer.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from assetflow import api
from assetflow.errors import AssetflowError
from assetflow.project.loader import Project

_WATCHED = ("assets", "seeds", "checks")


@dataclass(frozen=True)
class StatusView:
    report: api.StatusReport
    read_at: datetime                 # UTC, when it was read
    note: str | None = None           # why it may be older than the database (a run holds it)


class Reads:
    """The serve process's reads. Thread-safe: one lock around each reload or status read."""

    def __init__(self, root: Path, target: str | None = None):
        self.root = root
        self.target_name = target
        self._lock = threading.Lock()
        self._project: Project | None = None
        self._signature: tuple | None = None
        self._load_error: AssetflowError | None = None
        self._status: StatusView | None = None
        self._status_key: tuple | None = None
        self._columns: tuple[tuple, dict | None] | None = None

    # ---------------------------------------------------------------- the project

    def project(self) -> Project:
        """The project as its files are now; the last good one (and `load_error`) when they are broken."""
        signature = _files_signature(self.root)
        with self._lock:
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
        target = project.config.target(self.target_name)
        key = (id(project), _database_signature(target.path), int(time.time() // 60))
        with self._lock:
            if key == self._status_key and self._status is not None:
                return self._status
            try:
                report = api.status(project, (), self.target_name)
                view = StatusView(report, _now(), report.snapshot.message if report.snapshot else None)
            except AssetflowError as exc:
                if self._status is None:
                    raise
                view = StatusView(self._status.report, self._status.read_at,
                                  f"showing the state read at {self._status.read_at:%H:%M:%S} UTC: {exc.message}")
                return view
            self._status, self._status_key = view, key
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

    def forget_status(self) -> None:
        """A run this process launched has ended: read the status again on the next request."""
        with self._lock:
            self._status_key = None


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
