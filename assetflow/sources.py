"""Source fingerprints: file globs by content hash (stat is only a shortcut), tables by a query."""
from __future__ import annotations

import glob as globlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from assetflow.assets import SourceSpec
from assetflow.cache import JsonCache


@dataclass(frozen=True, slots=True)
class SourceCheck:
    fingerprint: str | None       # None: nothing to compare (a table without `freshness`)
    missing: bool = False


def expand(root: Path, pattern: str) -> list[Path]:
    if "://" in pattern:
        return []
    full = pattern if os.path.isabs(pattern) else str(root / pattern)
    return sorted(Path(p) for p in globlib.glob(full, recursive=True) if os.path.isfile(p))


class FileHashes(JsonCache):
    """Content hashes of files, reused while a file's size and mtime are unchanged."""

    def digest(self, file: Path) -> str:
        stat = file.stat()
        entry = self.entries.get(str(file))
        if entry and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
            return entry[2]
        h = hashlib.sha256()
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        self.set(str(file), [stat.st_size, stat.st_mtime_ns, h.hexdigest()])
        return h.hexdigest()


def check_sources(sources: Mapping[str, SourceSpec], root: Path, hashes: FileHashes,
                  table_exists: Callable[[str], bool], run_freshness: Callable[[str], str]
                  ) -> dict[str, SourceCheck]:
    checks = {}
    for name, source in sources.items():
        if source.glob is not None:
            files = expand(root, source.glob)
            if not files and "://" not in source.glob:
                checks[name] = SourceCheck(None, missing=True)
                continue
            h = hashlib.sha256()
            for file in files:
                h.update(f"{file.relative_to(root) if file.is_relative_to(root) else file}\0{hashes.digest(file)}\0".encode())
            checks[name] = SourceCheck(h.hexdigest()[:16])
        elif source.freshness is not None:
            fingerprint = run_freshness(source.freshness)
            checks[name] = SourceCheck(fingerprint, missing=fingerprint is None)
        else:
            checks[name] = SourceCheck(None, missing=not table_exists(source.table or name))
    hashes.save()
    return checks
