"""The baseline: one plain Python process running the same statements on DuckDB, nothing else.

    python benchmarks/raw_runner.py SPEC.json

SPEC is written by run.py before the timed region:
  {"db": PATH, "statements": [SQL, ...]}                        run each, autocommit, in order
  {"db": PATH, "setup": [SQL, ...], "loop": [[DELETE, INSERT], ...],
   "windows": [["2024-01-01", "2024-01-02"], ...]}              for each (DELETE, INSERT) pair, for
                                                                 each window: BEGIN; DELETE; INSERT;
                                                                 COMMIT with $start/$end bound
"""
from __future__ import annotations

import datetime as dt
import json
import sys

import duckdb


def main(spec_path: str) -> None:
    with open(spec_path) as fh:
        spec = json.load(fh)
    con = duckdb.connect(spec["db"])
    for statement in spec.get("setup", []):
        con.execute(statement)
    for statement in spec.get("statements", []):
        con.execute(statement)
    windows = [(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in spec.get("windows", [])]
    for delete, insert in spec.get("loop", []):
        for start, end in windows:
            params = {"start": start, "end": end}
            con.execute("BEGIN")
            con.execute(delete, params)
            con.execute(insert, params)
            con.execute("COMMIT")
    con.close()


if __name__ == "__main__":
    main(sys.argv[1])
