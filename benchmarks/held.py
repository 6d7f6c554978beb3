"""`status` while a run holds the database (issue 17 item 4, issue 19 item 3).

The status workload (1,000 daily assets x 365 days, state seeded) gets one more asset,
`zz_bench.gate`, a Python asset that waits for a file. `materialize zz_bench.gate` then holds the
database (DuckDB lets no other process open it) for as long as the benchmark needs; `status`,
`status --json` and `materialize --dry-run --json` are timed meanwhile: they answer from the
snapshot and the run's journal. The raw column is the same `status` on the same store while the
database is free. The note gives the cost of publishing the snapshot (once per run), and its size.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import workloads as W

# pyarrow is imported inside the function: every `status` imports this file, and its figure is to
# be assetflow's, not pyarrow's import (0.3 s on this machine), which the benchmark's own device adds
GATE = '''
import time
from pathlib import Path

from assetflow import asset


@asset
def gate():
    """Holds the run (and so the database) until the benchmark creates `gate.open`."""
    import pyarrow as pa
    here = Path(__file__).resolve().parents[2]
    while not (here / "gate.open").exists():
        time.sleep(0.01)
    return pa.table({"ok": [1]})
'''

PUBLISH = """
import sys, time
from assetflow.engines.duckdb import open_duckdb
db = sys.argv[1]
engine = open_duckdb(db)
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    engine.publish_snapshot(db, "bench", 0)
    times.append(time.perf_counter() - t)
engine.close()
print(" ".join(f"{t:.3f}" for t in times))
"""


def status_held(bench, kit, n_assets: int, days: int) -> None:
    """Rows: status, status --json and planning while a run holds the database. `kit` is run.py
    (its Row, af, measure, run_json, CHILD_ENV), passed in: it runs as __main__."""
    Row, af, measure, run_json, CHILD_ENV = kit.Row, kit.af, kit.measure, kit.run_json, kit.CHILD_ENV
    bench.log(f"status while a run holds the database, {n_assets} assets x {days} partitions: generating")
    wl = W.status_scale(bench.work / f"held{n_assets}", n_assets, days)
    project = wl.root
    label = f"{n_assets} assets x {days} partitions"
    note = "raw: the same command while the database is free"
    rows = [bench.add(Row(f"`status` while a run holds the database, {label}", "< 0.5 s", max_seconds=0.5,
                          raw_is_floor=True, note=note)),
            bench.add(Row(f"`status --json` while a run holds the database, {label}", "< 0.5 s", max_seconds=0.5,
                          raw_is_floor=True, note=note)),
            bench.add(Row(f"planning (`--dry-run --json`) while a run holds the database, {label}", "< 1 s",
                          max_seconds=1.0, raw_is_floor=True, note=note))]

    def go():
        records = W.seed_status_state(project, wl.first_day, days)
        gate = project / "assets" / "zz_bench" / "gate.py"
        gate.parent.mkdir(parents=True, exist_ok=True)
        gate.write_text(GATE)
        commands = [af(project, "status"), af(project, "status", "--json"),
                    af(project, "materialize", "--dry-run", "--json")]
        for _ in range(bench.repeat):
            for row, cmd in zip(rows, commands):
                row.raw.append(measure(cmd)[0])
        holder = hold(project, af, CHILD_ENV)
        try:
            for _ in range(bench.repeat):
                sample, text = measure(commands[0])
                assert text.startswith("Note: database held by run"), text[:300]
                rows[0].af.append(sample)
                sample, data = run_json(commands[1])
                assert data["snapshot"]["progress"]["running"], data["snapshot"]
                rows[1].af.append(sample)
                rows[2].af.append(run_json(commands[2])[0])
        finally:
            (project / "gate.open").touch()
            holder.wait(timeout=600)
        publish = subprocess.run([sys.executable, "-c", PUBLISH, str(project / "warehouse.duckdb"),
                                  str(bench.repeat)], capture_output=True, text=True, check=True, env=CHILD_ENV)
        times = [float(t) for t in publish.stdout.split()]
        size = (project / "warehouse.duckdb.snapshot").stat().st_size / 1e6
        bench.notes.append(
            f"Reads while a run holds the database ({label}, {records} partition records): publishing the "
            f"snapshot of the state tables, which a run does once (when it ends; at its start only if something "
            f"else wrote since), took "
            f"{statistics.median(times):.2f} s (median of {len(times)}: {', '.join(f'{t:.2f}' for t in times)}); "
            f"the snapshot file is {size:.1f} MB.")

    bench.guarded(rows, go)


def hold(project: Path, af, env) -> subprocess.Popen:
    """Start `materialize zz_bench.gate` and return once its gate asset runs (its journal says so)."""
    log = open(project / "holder.log", "w")
    proc = subprocess.Popen(af(project, "materialize", "zz_bench.gate"), stdout=log, stderr=subprocess.STDOUT,
                            env=env)
    journal = project / "warehouse.duckdb.journal"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the holding run ended early:\n{(project / 'holder.log').read_text()[-2000:]}")
        if journal.exists() and '"event":"start"' in journal.read_text():
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the holding run did not start its gate asset within 600 s")
