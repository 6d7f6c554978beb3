"""A JSON file of cached facts under `.assetflow/`, written atomically.

A cache is an optimisation: a missing, corrupt or unwritable file just means recomputing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonCache:
    def __init__(self, path: Path):
        self._path = path
        self._dirty = False
        try:
            self.entries: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def set(self, key: str, value: Any) -> None:
        self.entries[key] = value
        self._dirty = True

    def save(self) -> None:
        """Write-then-rename, so a concurrent reader never sees half a file."""
        if not self._dirty:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries))
            os.replace(tmp, self._path)
            self._dirty = False
        except OSError:
            pass
