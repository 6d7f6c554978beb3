"""`[targets.NAME]` keys of a Spark target: master or remote, warehouse, state, conf.

Beside `config` (which calls it) so that the DuckDB target parsing stays as it was; nothing here
imports pyspark: a Spark target is read, checked and planned without a JVM.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from assetflow.errors import ProjectError

SPARK_KEYS = frozenset({"engine", "master", "remote", "warehouse", "state", "conf", "threads"})
DUCKDB_KEYS = frozenset({"engine", "path", "threads"})
DEFAULT_MASTER = "local[2]"
_MASTER = re.compile(r"local(\[(\d+|\*)\])?|spark://[^/\s:]+(:\d+)?(,[^/\s:]+(:\d+)?)*|yarn|k8s://\S+")
_REMOTE = re.compile(r"sc://[^/\s:]+(:\d+)?(/.*)?|local(\[(\d+|\*)\])?")


def spark_fields(name: str, spec: dict[str, Any], root: Path, config_file: str,
                 line_of: Callable[[str], int | None]) -> dict[str, Any]:
    """The Target fields of a Spark target: master, remote, warehouse, conf and the state file
    (`path`), each checked with the key's line and a fix."""
    where = f"targets.{name}"

    def fail(key: str, message: str, hint: str) -> ProjectError:
        return ProjectError(f"[{where}] {message}", path=config_file, line=line_of(key), hint=hint)

    for key in ("master", "remote", "warehouse", "state"):
        if key in spec and not isinstance(spec[key], str):
            raise fail(key, f"{key} must be a string, not {spec[key]!r}", f'{key} = "..."')
    if "master" in spec and "remote" in spec:
        raise fail("remote", "has both `master` and `remote`",
                   "keep `master` for a local or standalone cluster, or `remote` for Spark Connect")
    remote = spec.get("remote")
    master = None if remote else spec.get("master", DEFAULT_MASTER)
    if master is not None and not _MASTER.fullmatch(master):
        raise fail("master", f"master '{master}' is not a Spark master URL",
                   'use "local[2]" (in this process) or "spark://host:7077" (a standalone cluster)')
    if remote is not None and not _REMOTE.fullmatch(remote):
        raise fail("remote", f"remote '{remote}' is not a Spark Connect URL", 'use "sc://host:15002"')
    conf = spec.get("conf", {})
    if not isinstance(conf, dict) or not all(isinstance(v, (str, int, float, bool)) for v in conf.values()):
        raise fail("conf", "conf must be a table of Spark settings",
                   'conf = { "spark.executor.memory" = "2g" }')
    warehouse = spec.get("warehouse", "spark-warehouse")
    state = spec.get("state", f".assetflow/{name}.duckdb")
    return {"master": master, "remote": remote, "path": str((root / state).resolve()),
            "warehouse": warehouse if "://" in warehouse else str((root / warehouse).resolve()),
            "conf": tuple(sorted((str(k), _conf_text(v)) for k, v in conf.items()))}


def _conf_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
