"""Source fingerprints: file globs by content hash (stat is only a shortcut), tables by a query."""
from __future__ import annotations

import glob as globlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from assetflow.assets import SourceSpec
from assetflow.project.cache import JsonCache


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

    def digests(self, files: list[Path]) -> dict[Path, str]:
        """The hash of every file; the ones not known yet are hashed on a thread per core (hashlib
        releases the GIL, and the first run of a project may hash gigabytes of sources)."""
        out, unknown = {}, []
        for file in files:
            stat = file.stat()
            entry = self.entries.get(str(file))
            if entry and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
                out[file] = entry[2]
            else:
                unknown.append((file, stat))
        paths = [file for file, _ in unknown]
        if len(paths) > 1:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1)) as pool:
                hashed = list(pool.map(_sha256, paths))
        else:
            hashed = [_sha256(file) for file in paths]
        for (file, stat), digest in zip(unknown, hashed):
            self.set(str(file), [stat.st_size, stat.st_mtime_ns, digest])
            out[file] = digest
        return out


def _sha256(file: Path) -> str:
    with file.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_sources(sources: Mapping[str, SourceSpec], root: Path, hashes: FileHashes,
                  table_exists: Callable[[str], bool], run_freshness: Callable[[str], str]
                  ) -> dict[str, SourceCheck]:
    checks = {}
    files = {name: expand(root, s.glob) for name, s in sources.items() if s.glob is not None}
    digests = hashes.digests(sorted({f for found in files.values() for f in found}))
    for name, source in sources.items():
        if source.glob is not None:
            if not files[name] and "://" not in source.glob:
                checks[name] = SourceCheck(None, missing=True)
                continue
            h = hashlib.sha256()
            for file in files[name]:
                h.update(f"{file.relative_to(root) if file.is_relative_to(root) else file}\0{digests[file]}\0".encode())
            checks[name] = SourceCheck(h.hexdigest()[:16])
        elif source.freshness is not None:
            fingerprint = run_freshness(source.freshness)
            checks[name] = SourceCheck(fingerprint, missing=fingerprint is None)
        else:
            checks[name] = SourceCheck(None, missing=not table_exists(source.table or name))
    hashes.save()
    return checks
