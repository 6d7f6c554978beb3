"""Parse many new SQL files on every core: the first load of a large project.

sqlglot is pure Python (or mypyc-compiled), so one process parses one file at a time; a
thousand new files take about a second. When a load finds many files the parse cache does not
know, this forks worker processes (after sqlglot is imported, so they start warm) and parses a
share of the files in each. It only warms the cache: a file that fails to parse is left out, and
the loader parses it again, in file order, to report the first error the way a serial load would.
"""
from __future__ import annotations

import os
import sys
import threading

from assetflow.errors import ProjectError
from assetflow.project.header import QueryFacts

FILES_PER_WORKER = 64          # below this, starting a process costs more than it saves

Job = tuple[str, str, str]     # (cache key, query, path for messages)


def analyze_all(jobs: list[Job], dialect: str) -> dict[str, QueryFacts]:
    """Facts of every query that parses, by cache key."""
    from assetflow.project import sql                  # imported before forking: the workers inherit it
    sql.check_dialect(dialect)
    workers = min(os.cpu_count() or 1, len(jobs) // FILES_PER_WORKER)
    # fork is only safe while this process runs no other thread (watchfiles, DuckDB), and only
    # reliable on Linux; anywhere else the loader parses serially, as it would anyway
    if workers < 2 or sys.platform != "linux" or threading.active_count() > 1:
        return _analyze(jobs, dialect)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    shares = [jobs[n::workers] for n in range(workers)]
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        pending = [pool.submit(_analyze, share, dialect) for share in shares[1:]]
        found = _analyze(shares[0], dialect)
        for future in pending:
            found.update(future.result())
    return found


def _analyze(jobs: list[Job], dialect: str) -> dict[str, QueryFacts]:
    from assetflow.project import sql
    found = {}
    for key, query, path in jobs:
        try:
            found[key] = sql.analyze(query, dialect, path)
        except ProjectError:
            continue                  # reported by the loader's own, ordered, parse
    return found
