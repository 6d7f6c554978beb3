"""Time assetflow against a raw DuckDB script running the same statements, in one run.

    python benchmarks/run.py             # full size (several minutes); writes docs/benchmarks.md
    python benchmarks/run.py --quick     # small sizes, well under a minute; writes benchmarks/.cache/quick.md
    make bench                           # the full run

Every number is process wall time (fork to exit, interpreter start-up included on both sides) and
peak resident memory of that process (getrusage of the child via wait4), median of --repeat runs
(peak memory: the largest of the runs). The raw side is benchmarks/raw_runner.py: one Python
process, one DuckDB connection, the same SQL text as the asset files. Benchmarks are never timing
assertions in the test suite; this script only reports.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads as W  # noqa: E402
import held  # noqa: E402

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RAW_RUNNER = BENCH / "raw_runner.py"
ANALYSIS = BENCH / "analysis.md"
UI_SPEED = BENCH / "ui_speed.md"        # written by benchmarks/ui_speed.py (the web UI, in Chromium)
MEM_SLACK_MB = 100.0


# ============================================================================ measuring

@dataclass
class Sample:
    wall: float
    rss_mb: float
    cpu: float = 0.0            # user + system CPU seconds of the command (all its threads)


class CommandFailed(RuntimeError):
    pass


# Children run as a user's shell would: with Python's bytecode cache on (some CI and sandbox
# environments set PYTHONDONTWRITEBYTECODE, which makes every command recompile assetflow).
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


TIME = shutil.which("time", path="/usr/bin:/bin")


def measure(cmd: list[str], *, cwd: Path | None = None) -> tuple[Sample, str]:
    """Run `cmd`; its wall time, its peak RSS and its stdout.

    Peak RSS comes from GNU time (`/usr/bin/time -f %M`), a tiny parent: Linux counts the memory of
    the process that forked the child in the child's max RSS, so measuring from this (large) Python
    process directly would report this process's size for every command. The wall time is taken
    here, around the whole thing; GNU time adds about a millisecond.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".rss") as rss:
        full = [TIME, "-q", "-f", "%U %S %M", "-o", rss.name, *cmd] if TIME else cmd
        started = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=CHILD_ENV)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        text = Path(rss.name).read_text().strip().splitlines()
        fields = text[-1].split() if TIME and text else []
        if len(fields) == 3 and fields[2].isdigit():
            kb, cpu = int(fields[2]), float(fields[0]) + float(fields[1])
        else:
            kb, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise CommandFailed(f"exit {proc.returncode}: {' '.join(map(str, cmd))}\n"
                            f"{stderr[-3000:]}{stdout[-1000:]}")
    return Sample(wall, kb / 1024.0, cpu), stdout


def assetflow_cmd() -> list[str]:
    script = Path(sys.executable).parent / "assetflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "assetflow"]


def af(project: Path, *args: str) -> list[str]:
    return [*assetflow_cmd(), "--project", str(project), *args]


def raw(spec: dict, path: Path) -> list[str]:
    path.write_text(json.dumps(spec))
    return [sys.executable, str(RAW_RUNNER), str(path)]


def run_json(cmd: list[str]) -> tuple[Sample, dict]:
    sample, out = measure(cmd)
    data = json.loads(out)
    if data.get("status", "success") not in ("success", "planned"):
        bad = [r for r in data.get("results", []) if r.get("status") != "success"][:3]
        raise CommandFailed(f"run not successful: {' '.join(cmd)}\n{json.dumps(bad, indent=1)}")
    return sample, data


def rm_db(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        if p.exists():
            p.unlink()


def cold(project: Path) -> None:
    """A fresh target database and no assetflow caches: the first build of a project."""
    rm_db(project / "warehouse.duckdb")
    shutil.rmtree(project / ".assetflow", ignore_errors=True)


# ============================================================================ results

@dataclass
class Row:
    workload: str
    target: str                        # human text
    raw: list[Sample] = field(default_factory=list)
    af: list[Sample] = field(default_factory=list)
    max_ratio: float | None = None     # af <= raw * max_ratio
    max_seconds: float | None = None   # af < max_seconds
    raw_is_floor: bool = False         # raw is a reference floor (no equivalent script)
    note: str = ""
    error: str | None = None
    command: str = ""                  # the workload of `run.py --only` that reproduces the row

    @staticmethod
    def med(samples: list[Sample]) -> float | None:
        return statistics.median(s.wall for s in samples) if samples else None

    @staticmethod
    def cpu_med(samples: list[Sample]) -> float | None:
        return statistics.median(s.cpu for s in samples) if samples else None

    @staticmethod
    def peak(samples: list[Sample]) -> float | None:
        return max(s.rss_mb for s in samples) if samples else None

    @property
    def ratio(self) -> float | None:
        """The median of the rounds' ratios where raw and assetflow ran in pairs (the speed of a
        shared machine drifts between rounds), else the ratio of the medians."""
        if self.raw and len(self.raw) == len(self.af) and not self.raw_is_floor:
            return statistics.median(a.wall / r.wall for r, a in zip(self.raw, self.af))
        r, a = self.med(self.raw), self.med(self.af)
        return a / r if r and a is not None else None

    @property
    def time_met(self) -> bool | None:
        if self.error or not self.af:
            return None
        ok = True
        if self.max_ratio is not None:
            ok &= self.ratio is not None and self.ratio <= self.max_ratio
        if self.max_seconds is not None:
            ok &= self.med(self.af) < self.max_seconds
        return ok

    @property
    def mem_met(self) -> bool | None:
        if self.error or not self.af or not self.raw:
            return None
        return self.peak(self.af) <= self.peak(self.raw) + MEM_SLACK_MB


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def yes(b: bool | None) -> str:
    return "n/a" if b is None else ("yes" if b else "**NO**")


def spread(samples: list[Sample]) -> str:
    """The range of the runs, when there are several: a noisy machine shows here."""
    if len(samples) < 2:
        return ""
    walls = [x.wall for x in samples]
    return f" <sub>{min(walls):.2f}-{max(walls):.2f}</sub>"


def table(rows: list[Row]) -> str:
    head = ("| workload | raw s | assetflow s | ratio | target | met? | CPU s raw / assetflow | peak MB raw "
            "| peak MB assetflow | memory met? | reproduce |\n|---|---:|---:|---:|---|---|---:|---:|---:|---|---|\n")
    lines = []
    for r in rows:
        if r.error:
            lines.append(f"| {r.workload} | - | - | - | {r.target} | **FAILED** | - | - | - | - | `{r.command}` |")
            continue
        raw_s = fmt(r.med(r.raw)) + spread(r.raw) + (" (floor)" if r.raw_is_floor and r.raw else "")
        lines.append(f"| {r.workload} | {raw_s} | {fmt(r.med(r.af))}{spread(r.af)} | {fmt(r.ratio, 2)} | {r.target} | "
                     f"{yes(r.time_met)} | {fmt(r.cpu_med(r.raw), 2)} / {fmt(r.cpu_med(r.af), 2)} "
                     f"| {fmt(r.peak(r.raw), 0)} | {fmt(r.peak(r.af), 0)} | {yes(r.mem_met)} "
                     f"| `{r.command}` |")
    return head + "\n".join(lines) + "\n"


# ============================================================================ workloads

SEED_NOTE = ("Status workloads: the state is seeded, not built (benchmarks/workloads.py: seed_status_state): "
             "building one partition of each of 10,000 assets took 24 min on this loaded machine and wrote a "
             "2.8 GB file. On 1,000 assets x 365 days, a seeded store and one built for real (one partition "
             "per asset built, the rest copied) gave the same `status --json` counts (365,000 fresh) and the "
             "same CPU time (0.43-0.63 s user, 2026-12-03).")

class Bench:
    def __init__(self, work: Path, repeat: int, warmup: bool, log):
        self.work, self.repeat, self.warmup, self.log = work, repeat, warmup, log
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.spec_n = 0
        self.only = ""             # the --only workload running now, for the rows' reproduce column
        self.quick = False

    def spec(self, data: dict) -> list[str]:
        self.spec_n += 1
        return raw(data, self.work / f"spec{self.spec_n}.json")

    def add(self, row: Row) -> Row:
        row.command = f"python benchmarks/run.py {'--quick ' if self.quick else ''}--only {self.only}"
        self.rows.append(row)
        return row

    def guarded(self, rows: list[Row], fn) -> None:
        """Run a workload; on a failure, mark its unfinished rows failed and keep going."""
        try:
            fn()
        except CommandFailed as exc:
            self.log(f"  FAILED: {exc}")
            for r in rows:
                if not r.af:
                    r.error = str(exc)
            self.notes.append(f"Failure: {str(exc).strip()}")

    # ------------------------------------------------------------------ 0. floors

    def floor(self) -> Row:
        """`python -c pass`: the process start-up every command pays."""
        row = Row("reference: `python -c pass`", "-")
        for _ in range(self.repeat):
            row.af.append(measure([sys.executable, "-c", "pass"])[0])
        return row

    def help(self) -> None:
        row = self.add(Row("`assetflow --help`", "< 0.15 s", max_seconds=0.15, raw_is_floor=True,
                           note="raw: `python -c pass`"))
        self.log("help")
        measure([*assetflow_cmd(), "--help"])
        for _ in range(self.repeat):
            row.raw.append(measure([sys.executable, "-c", "pass"])[0])
            row.af.append(measure([*assetflow_cmd(), "--help"])[0])

    # ------------------------------------------------------------------ 1. layered DAG

    def dag(self, n: int, *, tiny: bool = False, cold_only: bool = False) -> None:
        """The layered DAG; `tiny`: a 500-row source (assets of ~3 ms of DuckDB work, where the
        fixed cost per step shows); `cold_only`: just the cold build at the default threads."""
        kind = "tiny " if tiny else ""
        self.log(f"layered DAG, {n} {kind}assets: generating")
        wl = W.layered_dag(self.work / f"dag{n}{kind.strip()}", n, **({"src_rows": W.TINY_ROWS} if tiny else {}))
        project = wl.root
        raw_db = self.work / f"dag{n}{kind.strip()}_raw.duckdb"
        rows = [
            self.add(Row(f"cold build, {n} {kind}assets, `--threads 1`", "<= 1.4x raw", max_ratio=1.4)),
            self.add(Row(f"cold build, {n} {kind}assets, default threads (4)", "<= 1.25x raw", max_ratio=1.25)),
            self.add(Row(f"build on a fresh DB with parse cache, {n} {kind}assets", "(info)")),
            self.add(Row(f"build on a fresh DB with parse cache, {n} {kind}assets, `--threads 1`", "(info)")),
            self.add(Row(f"no-op `materialize`, {n} {kind}assets", "< 0.4 s" if n >= 1000 else "(info)",
                         max_seconds=0.4 if n >= 1000 else None, raw_is_floor=True)),
        ]
        if cold_only:
            self.rows = [r for r in self.rows if r not in rows or r is rows[1]]
            self.guarded([rows[1]], lambda: self.dag_cold(wl, raw_db, rows[1]))
            return
        if tiny:                       # the edit rows are the same on either source size
            self.guarded(rows, lambda: self.dag_builds(wl, raw_db, rows))
            return
        edits = []
        for which, asset in wl.edit_targets().items():
            closure = wl.closure(asset.name)
            row = self.add(Row(f"edit one layer-1 asset ({which} closure: {len(closure)} of {n} affected), "
                               f"rebuild", "<= 1.5x raw (affected only)", max_ratio=1.5))
            rows.append(row)
            edits.append((asset, closure, row))

        def go():
            self.dag_builds(wl, raw_db, rows)
            for target, closure, edit in edits:
                self.log(f"  edit {target.name}: {len(closure)} affected assets")
                original = target.lit
                for i in range(self.repeat):
                    wl.write_asset(target, original + 1000 + i)
                    spec = {"db": str(raw_db), "statements": wl.raw_statements(closure)}
                    edit.raw.append(measure(self.spec(spec))[0])
                    sample, data = run_json(af(project, "materialize", "--json"))
                    if len(data["results"]) != len(closure):
                        self.notes.append(f"edit rebuild of {target.name} ran {len(data['results'])} steps, "
                                          f"expected {len(closure)}")
                    edit.af.append(sample)
                wl.write_asset(target, original)
                run_json(af(project, "materialize", "--json"))
        self.guarded(rows, go)

    def dag_builds(self, wl: W.DagWorkload, raw_db: Path, rows: list[Row]) -> None:
        """Cold builds and builds with the parse cache (rows 0-3), each paired with a raw run; the no-op (row 4)."""
        project = wl.root
        cold_spec = {"db": str(raw_db), "setup": wl.raw_prelude(), "statements": wl.raw_statements(wl.assets)}
        if self.warmup:
            self.log("  warm-up")
            rm_db(raw_db)
            measure(self.spec(cold_spec))
            cold(project)
            run_json(af(project, "materialize", "--json"))
        builds = [(rows[0], True, ("--threads", "1")), (rows[1], True, ()), (rows[2], False, ()),
                  (rows[3], False, ("--threads", "1"))]
        for i in range(self.repeat):
            self.log(f"  cold builds, round {i + 1}/{self.repeat}")
            for row, no_cache, extra in builds:
                # each build is paired with a raw run right before it: the ratio of a round
                # compares two runs seconds apart, which a machine whose speed drifts needs
                rm_db(raw_db)
                row.raw.append(measure(self.spec(cold_spec))[0])
                if no_cache:
                    cold(project)
                else:
                    rm_db(project / "warehouse.duckdb")
                row.af.append(run_json(af(project, "materialize", "--json", *extra))[0])
        self.notes.append(self.compare_dag(wl, raw_db))
        self.log("  no-op materialize")
        floor = [sys.executable, "-c", f"import duckdb; duckdb.connect({str(raw_db)!r}).close()"]
        for _ in range(self.repeat):
            rows[4].raw.append(measure(floor)[0])
            sample, data = run_json(af(project, "materialize", "--json"))
            if data["results"]:
                raise CommandFailed(f"no-op materialize planned {len(data['results'])} steps")
            rows[4].af.append(sample)
        rows[4].note = "raw: python + import duckdb + open the DB"

    def dag_cold(self, wl: W.DagWorkload, raw_db: Path, row: Row) -> None:
        """One cold build at the default threads, paired with one raw run (the 10,000-asset size)."""
        cold_spec = {"db": str(raw_db), "setup": wl.raw_prelude(), "statements": wl.raw_statements(wl.assets)}
        self.log(f"  cold build of {len(wl.assets)} assets, once (raw, then assetflow)")
        rm_db(raw_db)
        row.raw.append(measure(self.spec(cold_spec))[0])
        cold(wl.root)
        row.af.append(run_json(af(wl.root, "materialize", "--json"))[0])
        self.notes.append(self.compare_dag(wl, raw_db))

    def compare_dag(self, wl: W.DagWorkload, raw_db: Path) -> str:
        import duckdb
        sums = []
        for db in (raw_db, wl.root / "warehouse.duckdb"):
            con = duckdb.connect(str(db), read_only=True)
            sums.append([con.execute(f"select count(*), sum(amount), sum(qty) from {a.name}").fetchone()
                         for a in wl.assets])
            con.close()
        # DuckDB sums doubles in parallel, so the last digits of sum(amount) may differ between runs
        bad = [a.name for a, x, y in zip(wl.assets, *sums)
               if x[0] != y[0] or x[2] != y[2] or not math.isclose(x[1] or 0, y[1] or 0, rel_tol=1e-9)]
        return (f"DAG {len(wl.assets)}{' tiny' if 'tiny' in wl.root.name else ''}: per-table row count, sum(qty) and sum(amount) (relative 1e-9) of raw "
                f"and assetflow " + (f"match." if not bad else f"DIFFER in {len(bad)} tables: {bad[:5]}"))

    # ------------------------------------------------------------------ 2. backfill

    def backfill(self, days: int, rows_per_day: int, *, table: bool = False) -> None:
        """The 90-day backfill; `table`: the events are one table of the target database (about
        10 ms of DuckDB work per partition) instead of one Parquet file per day."""
        self.log(f"backfill, {days} days x {rows_per_day} rows{' (table source)' if table else ''}: "
                 f"generating data (cached)")
        t0 = time.perf_counter()
        wl = W.backfill(self.work / ("backfill_table" if table else "backfill"), days, rows_per_day, table=table)
        self.log(f"  data ready in {time.perf_counter() - t0:.1f}s")
        project = wl.root
        raw_db = self.work / ("backfill_table_raw.duckdb" if table else "backfill_raw.duckdb")
        size = f"{days} days x {rows_per_day // 1000}k rows"
        if table:
            size += f", DuckDB table source ({days * rows_per_day:,} rows)"
        on = f" ({size})" if table else ""
        rows = [
            self.add(Row(f"backfill {size}, `--threads 1`", "<= 1.1x raw loop", max_ratio=1.1)),
            self.add(Row(f"backfill {size}, `--threads 2`", "< 0.9x raw loop", max_ratio=0.9)),
            self.add(Row(f"re-backfill 10 days ({days}-day project{', table source' if table else ''})",
                         "<= 1.5x raw", max_ratio=1.5)),
            self.add(Row(f"nothing to do, backfill project{on}", "< 0.25 s", max_seconds=0.25, raw_is_floor=True,
                         note="raw: python + import duckdb + open the DB")),
        ]

        def fresh_raw():
            rm_db(raw_db)
            if wl.table_db:
                shutil.copyfile(wl.table_db, raw_db)

        def fresh_project():
            cold(project)
            if wl.table_db:
                shutil.copyfile(wl.table_db, project / "warehouse.duckdb")

        windows = [[wl.day(i).isoformat(), wl.day(i + 1).isoformat()] for i in range(days)]
        loop = [[d, ins] for _, d, ins in wl.raw_partition_statements()]
        full_spec = {"db": str(raw_db), "setup": wl.raw_setup(), "loop": loop, "windows": windows}
        ten = min(10, days)
        part_spec = {"db": str(raw_db), "loop": loop, "windows": windows[:ten]}
        last_key = wl.day(ten - 1).isoformat()

        def go():
            if self.warmup:
                self.log("  warm-up (raw loop)")
                fresh_raw()
                measure(self.spec(full_spec))
            for i in range(self.repeat):
                self.log(f"  full backfill, round {i + 1}/{self.repeat}")
                for row, threads in ((rows[0], "1"), (rows[1], "2")):
                    fresh_raw()                        # paired with the run right after it
                    row.raw.append(measure(self.spec(full_spec))[0])
                    fresh_project()
                    row.af.append(run_json(af(project, "materialize", "--json", "--threads", threads))[0])
            self.notes.append(self.compare_backfill(wl, raw_db))
            self.log("  re-backfill 10 days")
            for _ in range(self.repeat):
                rows[2].raw.append(measure(self.spec(part_spec))[0])
                sample, data = run_json(af(project, "backfill", wl.daily, "--from", wl.first_day.isoformat(),
                                           "--to", last_key, "--json"))
                if len(data["results"]) != 2 * ten:
                    self.notes.append(f"re-backfill ran {len(data['results'])} steps, expected {2 * ten}")
                rows[2].af.append(sample)
            self.log("  nothing to do")
            floor = [sys.executable, "-c", f"import duckdb; duckdb.connect({str(raw_db)!r}).close()"]
            for _ in range(self.repeat):
                rows[3].raw.append(measure(floor)[0])
                sample, data = run_json(af(project, "materialize", "--json"))
                if data["results"]:
                    raise CommandFailed(f"nothing-to-do materialize planned {len(data['results'])} steps")
                rows[3].af.append(sample)

        self.guarded(rows, go)

    def compare_backfill(self, wl: W.BackfillWorkload, raw_db: Path) -> str:
        import duckdb
        out = []
        for db in (raw_db, wl.root / "warehouse.duckdb"):
            con = duckdb.connect(str(db), read_only=True)
            out.append([con.execute(f"select count(*), sum(events), sum(users), round(sum(value), 2) from {t}")
                        .fetchone() for t in (wl.daily, wl.consumer)])
            con.close()
        return (f"Backfill: row counts and sums of both tables of raw and assetflow "
                f"{'match' if out[0] == out[1] else 'DIFFER'} ({out[1][0][0]} and {out[1][1][0]} rows).")

    # ------------------------------------------------------------------ 3. status at scale

    # the growth curve's targets: 1 s at 1,000 assets x 365 days (issue 7), 3 s at 10,000 (issue 19)
    STATUS_LIMITS = {1000: 1.0, 10000: 3.0}

    def status(self, n_assets: int, days: int) -> None:
        self.log(f"status at scale, {n_assets} assets x {days} partitions: generating")
        wl = W.status_scale(self.work / f"status{n_assets}", n_assets, days)
        project = wl.root
        label = f"{n_assets} assets x {days} partitions"
        limit = self.STATUS_LIMITS.get(n_assets)
        target = f"< {limit:g} s" if limit else "(info: growth curve)"
        rows = [
            self.add(Row(f"`status --json`, {label}", target, max_seconds=limit, raw_is_floor=True)),
            self.add(Row(f"`status` (text), {label}", target, max_seconds=limit, raw_is_floor=True)),
            self.add(Row(f"planning (`materialize --dry-run --json`), {label}", target, max_seconds=limit,
                         raw_is_floor=True)),
        ]

        def go():
            records = W.seed_status_state(project, wl.first_day, days)
            if SEED_NOTE not in self.notes:
                self.notes.append(SEED_NOTE)
            # the floor reads the records as Arrow columns: as Python tuples, 3.65M rows take 3 GB
            floor = [sys.executable, "-c", "import duckdb; con = duckdb.connect(%r, read_only=True); "
                     "con.sql('select * from _assetflow.partitions').to_arrow_table()"
                     % str(project / "warehouse.duckdb")]
            for r in rows:
                r.note = f"raw: python + duckdb reading the {records} state rows as Arrow"
            self.log(f"  {records} partition records; timing status/planning")
            _, data = run_json(af(project, "status", "--json"))
            stale = sum(a["partitions"]["stale"] + a["partitions"]["blocked"] for a in data["assets"])
            if stale:
                self.notes.append(f"Status workload: {stale} partitions are not fresh (expected 0).")
            for _ in range(self.repeat):
                s = measure(floor)[0]
                for r in rows:
                    r.raw.append(s)
                rows[0].af.append(run_json(af(project, "status", "--json"))[0])
                rows[1].af.append(measure(af(project, "status"))[0])
                sample, data = run_json(af(project, "materialize", "--dry-run", "--json"))
                rows[2].af.append(sample)

        self.guarded(rows, go)


def growth_note(bench: Bench) -> None:
    """How `status` and planning grow with the number of assets: time per 1,000 assets at each size."""
    sizes: dict[str, list[tuple[int, float]]] = {}
    for r in bench.rows:
        for what in ("`status --json`", "planning"):
            if r.workload.startswith(what) and r.af and " assets x " in r.workload:
                n = int(r.workload.split(", ")[-1].split(" assets")[0].replace(",", ""))
                sizes.setdefault(what, []).append((n, Row.med(r.af)))
    for what, points in sizes.items():
        points.sort()
        curve = "; ".join(f"{n} assets {t:.3f} s ({t / n * 1000:.3f} s per 1,000)" for n, t in points)
        bench.notes.append(f"Growth of {what} with the assets (x the same days): {curve}.")


Bench.growth_note = growth_note


# ============================================================================ report

def machine() -> list[str]:
    import duckdb
    import sqlglot
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "assetflow"], capture_output=True,
                               text=True).stdout.strip()
        commit += " (assetflow/ has uncommitted changes)" if dirty else ""
    except OSError:
        commit = "unknown"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} logical CPUs (nproc {len(os.sched_getaffinity(0))})",
        f"- RAM: {mem}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, DuckDB {duckdb.__version__}, sqlglot {sqlglot.__version__}",
        f"- assetflow commit: {commit}",
        f"- load average (1/5/15 min) when the report was written: "
        + " / ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"
        + ("; other work was running, so timings are noisier than on an idle machine"
           if os.getloadavg()[1] > 0.5 * (os.cpu_count() or 1) else ""),
    ]


def report(rows: list[Row], notes: list[str], args, started: float, floor: Row) -> str:
    mode = "quick" if args.quick else "full"
    cmd = "make bench" if not args.quick else "python benchmarks/run.py --quick"
    if args.repeat != 3:
        cmd = f"python benchmarks/run.py {'--quick ' if args.quick else ''}--repeat {args.repeat}"
    missed = [r for r in rows if r.time_met is False or r.mem_met is False or r.error]
    lines = [
        "# Benchmarks",
        "",
        "assetflow should cost almost nothing on top of the SQL it runs; the limit is DuckDB running the "
        "same statements from one plain script. This page holds the last results of "
        f"`{cmd}` ({mode} mode, {dt.datetime.now():%Y-%m-%d %H:%M}, "
        f"{time.perf_counter() - started:.0f} s in all).",
        "",
        "## Reproduce",
        "",
        "```",
        "make bench                            # full size; rewrites this file",
        "python benchmarks/run.py --quick      # small sizes, under a minute (writes benchmarks/.cache/quick.md)",
        "python benchmarks/run.py --repeat 5   # more rounds",
        "python benchmarks/run.py --only dag-tiny backfill-table   # some workloads (each row names its own)",
        "make bench DUCKDB_VERSION=1.5.6       # against another DuckDB, in benchmarks/.cache/venv-duckdb-1.5.6",
        "python benchmarks/profile_run.py -- --project P materialize --json   # statements and phases of one command",
        "```",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Results",
        "",
        f"Median process wall time of {args.repeat} runs (small print: fastest-slowest run; one untimed "
        "warm-up first for the builds); peak memory "
        "is the largest max-RSS of those runs. Ratio = assetflow / raw: for builds, each assetflow run is paired with a raw run just before it and the ratio is the median of the pairs (the speed of this shared machine drifts by 1.5x over minutes); for floor rows, the ratio of the medians. Memory target: assetflow at most "
        f"raw + {MEM_SLACK_MB:.0f} MB. \"(floor)\" rows have no equivalent raw script: the raw column is "
        "the floor any Python tool on DuckDB pays (start the interpreter, import duckdb, open the file), "
        "shown for scale; their target is absolute. CPU s: median user + system CPU seconds of the "
        "command (every thread), which a loaded machine inflates far less than wall time: for the "
        "absolute targets, CPU under the target with wall time over it means the machine, not the "
        "command, was slow.",
        "",
        table(rows),
        f"`python -c pass` on this machine: {fmt(Row.med(floor.af))} s. Commands run with Python's bytecode "
        "cache enabled (the runner drops `PYTHONDONTWRITEBYTECODE` from the children's environment), as in a "
        "user's shell.",
        "",
        "## Workloads",
        "",
        "- **Layered DAG** (`benchmarks/workloads.py: layered_dag`): a 10,000-row parquet file source "
        "(`raw.src`), then N SQL assets in 10 layers; each reads 1-3 assets of earlier layers (mostly the "
        "previous one) with filters, group-bys, window functions, unions and left joins against aggregates; "
        "fixed seed. Raw: one process, `CREATE OR REPLACE TABLE schema.name AS <the asset's SELECT>` in "
        "topological order on a fresh DuckDB file. *Cold* = fresh DuckDB file and no `.assetflow/` cache. "
        "*Edit*: change a literal in a layer-1 asset (the one with the median downstream closure, and the one "
        "with the largest), then "
        "`materialize`; raw runs only the statements of that closure. *Tiny* assets (`--only dag-tiny`, "
        "`dag-10k`): the same DAG over a 500-row source, so each statement is a few milliseconds of DuckDB "
        "work and the tool's cost per step shows.",
        "- **Backfill** (`backfill`): events as one parquet file per day (hash-based pseudo-random columns, "
        "cached in `benchmarks/.cache/`), `marts.daily_events` (daily, count/count distinct/sum per country "
        "x event type) and `reports.daily_country` (daily, reads it). Raw: for each asset, for each day: "
        "`BEGIN; DELETE day; INSERT day; COMMIT` with `$start`/`$end` bound, one process. Re-backfill: "
        "`assetflow backfill marts.daily_events --from D1 --to D10` (rebuilds the consumer's 10 days too) "
        "vs the raw loop over 10 days for both assets. *DuckDB table source* (`--only backfill-table`): the "
        "same 18M events loaded once, sorted by time, into table `raw.events` of the target database (a "
        "`table` source), copied into place before each run (untimed): about 10 ms of DuckDB work per partition.",
        "- **Status at scale** (`status_scale`): small daily-partitioned SQL assets (a forest: each reads "
        "1-2 earlier assets), fully built: one partition per asset is built for real, the rest of the "
        "state rows are copied with data versions that keep the build order (see the notes). The growth "
        "curve (`--only growth`) adds 100 and 10,000 assets x 365 days (3.65M partition records).",
        "",
    ]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    if missed:
        lines += ["## Targets missed", "", *[f"- {r.workload}: " + (
            "failed" if r.error else
            f"{fmt(r.med(r.af))} s vs target {r.target}" + (f" (ratio {fmt(r.ratio, 2)})" if r.ratio else "")
            + ("" if r.mem_met is not False else
               f"; memory {fmt(r.peak(r.af), 0)} MB vs raw {fmt(r.peak(r.raw), 0)} MB"))
            for r in missed], ""]
    if ANALYSIS.exists():          # the profile-based explanation, kept apart so that a rerun keeps it
        lines += [ANALYSIS.read_text().rstrip(), ""]
    if UI_SPEED.exists():          # measured by its own script (a browser), kept apart the same way
        lines += [UI_SPEED.read_text().rstrip(), ""]
    return "\n".join(lines)


def dev_loop(bench: Bench, rounds: int = 10) -> None:
    """`assetflow dev` on the template: save -> rebuilt table latency (benchmarks/dev_latency.py)."""
    import dev_latency
    row = bench.add(Row("`dev`: save -> rebuilt table, one-asset change (template project)", "< 0.5 s",
                        max_seconds=0.5, note="no raw equivalent"))
    bench.log(f"dev loop latency, {rounds} saves")

    def go():
        try:
            res = dev_latency.measure(bench.work / "dev", rounds, log=bench.log)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            raise CommandFailed(f"dev latency: {exc}") from None
        row.af.extend(Sample(s, res.peak_rss_mb or 0.0) for s in res.latencies)
        s = res.summary()
        bench.notes.append(f"Dev loop: median {s['median_s']:.3f} s, max {s['max_s']:.3f} s from save to "
                           f"dev's `built` line over {s['rounds']} saves of {dev_latency.EDITED}; change noticed "
                           f"after {s['median_detect_s']:.3f} s (median); tables verified: "
                           f"{'yes' if s['all_verified'] else 'NO'} (python benchmarks/dev_latency.py).")

    bench.guarded([row], go)


def dbt_import(bench: Bench, models: int) -> None:
    """`assetflow import-dbt` of a generated dbt project (benchmarks/gen_dbt_project.py)."""
    import gen_dbt_project
    row = bench.add(Row(f"`import-dbt`, {models}-model generated dbt project", "< 10 s", max_seconds=10.0,
                        note="no raw equivalent"))
    source = bench.work / f"dbt-{models}"
    if source.exists():
        shutil.rmtree(source)
    gen_dbt_project.generate(source, models)
    bench.log(f"import-dbt, {models} models")

    def go():
        for n in range(bench.repeat):
            out = bench.work / f"dbt-out-{models}-{n}"
            shutil.rmtree(out, ignore_errors=True)
            sample, _ = measure([*assetflow_cmd(), "import-dbt", str(source), str(out)])
            row.af.append(sample)

    bench.guarded([row], go)


# --only NAME: (full size, --quick size); each runs one workload of Bench
WORKLOADS = {
    "help": (lambda b: b.help(), lambda b: b.help()),
    "dag": (lambda b: [b.dag(n) for n in (200, 1000)], lambda b: b.dag(50)),
    "dag-tiny": (lambda b: [b.dag(n, tiny=True) for n in (200, 1000)], lambda b: b.dag(50, tiny=True)),
    "backfill": (lambda b: b.backfill(90, 200_000), lambda b: b.backfill(10, 20_000)),
    "backfill-table": (lambda b: b.backfill(90, 200_000, table=True), lambda b: b.backfill(10, 20_000, table=True)),
    "status": (lambda b: b.status(1000, 365), lambda b: b.status(50, 30)),
    "growth": (lambda b: [b.status(n, 365) for n in (100, 10_000)] and b.growth_note(),
               lambda b: [b.status(n, 30) for n in (20, 100)] and b.growth_note()),
    "dag-10k": (lambda b: b.dag(10_000, tiny=True, cold_only=True), lambda b: b.dag(500, tiny=True, cold_only=True)),
    "dev": (lambda b: dev_loop(b), lambda b: dev_loop(b)),
    "dbt": (lambda b: dbt_import(b, 500), lambda b: dbt_import(b, 50)),
    "status-held": (lambda b: held.status_held(b, sys.modules[__name__], 1000, 365),
                    lambda b: held.status_held(b, sys.modules[__name__], 50, 30)),
    # not in the default run: the 200 tiny assets alone (for a short run against another DuckDB)
    "dag-tiny-200": (lambda b: b.dag(200, tiny=True), lambda b: b.dag(50, tiny=True)),
}
DEFAULT = [name for name in WORKLOADS if name != "dag-tiny-200"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (N=50, 10 days x 20k rows)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (median)")
    parser.add_argument("--only", nargs="*", choices=list(WORKLOADS), help="run only these workloads")
    parser.add_argument("--output", type=Path, help="markdown output (default: docs/benchmarks.md, "
                                                     "or benchmarks/.cache/quick.md with --quick)")
    parser.add_argument("--workdir", type=Path, help="where to generate projects (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args(argv)
    only = args.only or DEFAULT
    started = time.perf_counter()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="assetflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)

    bench = Bench(work, args.repeat, not args.no_warmup, log)
    bench.quick = args.quick
    log(f"working in {work}")
    floor = bench.floor()
    try:
        for name in WORKLOADS:
            if name in only:
                bench.only = name
                WORKLOADS[name][1 if args.quick else 0](bench)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    text = report(bench.rows, bench.notes, args, started, floor)
    out = args.output or (W.CACHE_DIR / "quick.md" if args.quick else REPO / "docs" / "benchmarks.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    samples = out.with_suffix(".json") if args.output else W.CACHE_DIR / f"last-{'quick' if args.quick else 'full'}.json"
    samples.parent.mkdir(parents=True, exist_ok=True)
    samples.write_text(json.dumps([{"workload": r.workload, "target": r.target, "error": r.error,
                                    "raw": [vars(x) for x in r.raw], "assetflow": [vars(x) for x in r.af]}
                                   for r in bench.rows], indent=1))
    print(text)
    log(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
