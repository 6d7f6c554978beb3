"""Shared helpers for the fault tests: a day-partitioned project whose expected output is computed
straight from its source CSV, background CLI processes we can signal, and readers for runs/status.

Expected results are always computed by a DuckDB connection that knows nothing about assetflow,
over the same CSV file the project reads.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from conftest import CliResult, query

D0 = date(2024, 1, 1)
KILLED = (-signal.SIGKILL, 128 + signal.SIGKILL)         # returncode of a SIGKILLed child: -9 (or 137 via a shell)

STAGE = "staging.events_day"
DAILY = "marts.daily"
TOTAL = "marts.total"


def toml(threads: int = 2, extra: str = "") -> str:
    return textwrap.dedent(f"""
        [project]
        name = "fault"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = {threads}

        [sources]
        "raw.events" = {{ path = "data/events.csv" }}
        """) + textwrap.dedent(extra)


def day_keys(ndays: int) -> list[str]:
    return [str(D0 + timedelta(days=i)) for i in range(ndays)]


def day_header(ndays: int, **more) -> str:
    settings = {"kind": "partitioned", "partition_by": "day", "time_column": "day", "start": str(D0),
                "end": str(D0 + timedelta(days=ndays - 1)), **more}
    return "/* assetflow\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings.items()) + "\n*/\n"


def events_csv(ndays: int, variant: int = 0) -> str:
    """Deterministic events; a different `variant` changes the row count of most days and every amount."""
    lines = ["id,day,region,amount"]
    for d in range(ndays):
        day = D0 + timedelta(days=d)
        for i in range(40 + (d * 7 + variant * 13) % 30):
            lines.append(f"{d * 1000 + i},{day},{('eu', 'us', 'apac')[(i + d) % 3]},"
                         f"{(d * 7 + i * 13 + variant * 31) % 100 + 1}")
    return "\n".join(lines) + "\n"


def chain_files(ndays: int, variant: int = 0, slow_rows: int = 0, stage_settings: dict | None = None
                ) -> dict[str, str]:
    """raw.events (CSV) -> staging.events_day (day) -> marts.daily (day) -> marts.total (table).

    `slow_rows` > 0 makes every marts.daily partition burn CPU on a query whose result is always 0
    (count(distinct md5) over that many numbers), so a run lasts long enough to be signalled.
    """
    burn = (f", (select count(distinct md5(r::varchar)) - {slow_rows} from range({slow_rows}) t(r)) as zero"
            if slow_rows else ", 0 as zero")
    return {
        "data/events.csv": events_csv(ndays, variant),
        "assets/staging/events_day.sql": day_header(ndays, **(stage_settings or {})) +
            "select id, day, region, amount\nfrom raw.events\nwhere day >= $start and day < $end\n",
        "assets/marts/daily.sql": day_header(ndays) +
            f"select day, count(*) as n, sum(amount) as amount{burn}\nfrom staging.events_day\n"
            "where day >= $start and day < $end\ngroup by all\n",
        "assets/marts/total.sql": "select count(*) as days, sum(n) as n, sum(amount) as amount from marts.daily\n",
    }


def chain_project(project, ndays: int, variant: int = 0, threads: int = 2, slow_rows: int = 0,
                  extra_files: dict | None = None, extra_toml: str = "", stage_settings: dict | None = None) -> Path:
    files = chain_files(ndays, variant, slow_rows, stage_settings)
    files.update(extra_files or {})
    return project(files, toml(threads, extra_toml))


def set_variant(p: Path, ndays: int, variant: int) -> None:
    """Rewrite the source CSV; the new mtime is set explicitly so no stat cache can miss the change."""
    path = p / "data/events.csv"
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(events_csv(ndays, variant))
    bumped = max(time.time_ns(), old + 1_000_000_000)
    os.utime(path, ns=(bumped, bumped))


# ------------------------------------------------------------------------------------ expected data

def expected_by_day(csv_text_or_path) -> dict[str, tuple[int, int]]:
    """{day: (rows, sum(amount))} straight from a CSV (a path, or the CSV text)."""
    con = duckdb.connect()
    try:
        if isinstance(csv_text_or_path, Path):
            path = str(csv_text_or_path)
        else:
            import tempfile
            fd, path = tempfile.mkstemp(suffix=".csv")
            os.write(fd, csv_text_or_path.encode())
            os.close(fd)
        rows = con.execute("select cast(day as varchar), count(*), sum(amount) from read_csv_auto(?) "
                           "group by all", [path]).fetchall()
        if not isinstance(csv_text_or_path, Path):
            os.unlink(path)
        return {d: (n, s) for d, n, s in rows}
    finally:
        con.close()


def stage_by_day(p: Path) -> dict[str, tuple[int, int]]:
    return {d: (n, s) for d, n, s in query(
        p, f"select cast(day as varchar), count(*), sum(amount) from {STAGE} group by all")}


def daily_by_day(p: Path) -> dict[str, tuple[int, int, int]]:
    """{day: (row count of the day in marts.daily, n, amount)}; the row count must be 1."""
    return {d: (c, n, s) for d, c, n, s in query(
        p, f"select cast(day as varchar), count(*), sum(n), sum(amount) from {DAILY} group by all")}


def table_exists(p: Path, schema: str, name: str) -> bool:
    return bool(query(p, "select count(*) from duckdb_tables() "
                         f"where schema_name = '{schema}' and table_name = '{name}'")[0][0])


@dataclass
class DataReport:
    """How the built tables compare with the CSV."""

    lost: list[str]             # days whose staging rows are missing or differ from the source
    duplicated: list           # ids (staging) or days (marts.daily) present more than once
    wrong_daily: list[str]      # days of marts.daily that differ from the source
    total_ok: bool

    @property
    def exact(self) -> bool:
        return not (self.lost or self.duplicated or self.wrong_daily) and self.total_ok


def compare_with_source(p: Path, ndays: int) -> DataReport:
    want = expected_by_day(p / "data/events.csv")
    assert sorted(want) == day_keys(ndays)
    stage = stage_by_day(p) if table_exists(p, "staging", "events_day") else {}
    daily = daily_by_day(p) if table_exists(p, "marts", "daily") else {}
    lost = [d for d in want if stage.get(d) != want[d]] + [d for d in stage if d not in want]
    dup_ids = query(p, f"select id, count(*) from {STAGE} group by id having count(*) > 1") \
        if stage else []
    dup_days = [d for d, (c, _, _) in daily.items() if c != 1]
    wrong_daily = [d for d in want if daily.get(d, (None,))[1:] != want[d]]
    total_ok = False
    if table_exists(p, "marts", "total"):
        total = query(p, f"select days, n, amount from {TOTAL}")
        total_ok = total == [(ndays, sum(n for n, _ in want.values()), sum(s for _, s in want.values()))]
    return DataReport(sorted(lost), [("id", i) for i, _ in dup_ids] + [("day", d) for d in dup_days],
                      sorted(wrong_daily), total_ok)


def assert_exact(p: Path, ndays: int, context: str = "") -> None:
    rep = compare_with_source(p, ndays)
    assert rep.exact, f"{context}: data differs from the source CSV: {rep}"


def partial_partitions(p: Path, ndays: int, variants: list[int]) -> list[str]:
    """Staging days whose content matches none of the given source variants (a half-written partition)."""
    options = [expected_by_day(events_csv(ndays, v)) for v in variants]
    stage = stage_by_day(p) if table_exists(p, "staging", "events_day") else {}
    return sorted(d for d, got in stage.items() if all(o.get(d) != got for o in options))


# ------------------------------------------------------------------------------------ CLI

def cli_command(p: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "assetflow", "--project", str(p), *args]


def cli_env(env: dict | None = None) -> dict:
    full = dict(os.environ)
    full.setdefault("PYTHONUNBUFFERED", "1")
    full.pop("ASSETFLOW_FAULT", None)
    full.update(env or {})
    return full


class Background:
    """A CLI process running in the background, its output going to files we can poll."""

    def __init__(self, p: Path, *args: str, env: dict | None = None, name: str = "bg"):
        self.out_path = p.parent / f"{p.name}-{name}-{time.time_ns()}.out"
        self.err_path = self.out_path.with_suffix(".err")
        self._out = open(self.out_path, "w")
        self._err = open(self.err_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cli_command(p, *args), stdout=self._out, stderr=self._err, text=True,
                                     env=cli_env(env))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 180) -> CliResult:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"process did not finish within {timeout}s:\n{self.stderr()}")
        self._out.close()
        self._err.close()
        return CliResult(code, self.out_path.read_text(), self.err_path.read_text())

    def stderr(self) -> str:
        self._err.flush()
        return self.err_path.read_text()

    def wait_for(self, predicate, timeout: float = 60, what: str = "condition") -> None:
        """Poll until predicate() is true; fail if the process ends first or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"process ended (exit {self.proc.returncode}) before {what}:\n"
                                     f"{self.stderr()}")
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}:\n{self.stderr()}")

    def progress(self) -> int:
        """Finished steps so far, from the `[k/N]` progress lines on stderr (text mode only)."""
        done = 0
        for line in self.stderr().splitlines():
            if line.startswith("[") and "/" in line.split("]")[0]:
                try:
                    done = max(done, int(line[1:].split("/")[0]))
                except ValueError:
                    pass
        return done


PY_TRACEBACK = "Traceback (most recent call last):"   # Python's own; a user asset's error quotes its
                                                     # traceback as "(most recent call last, project files
                                                     # only)" or, stored, "(..., from the asset function)"


def ok(r: CliResult, code: int = 0) -> CliResult:
    assert r.exit_code == code, r.output
    assert PY_TRACEBACK not in r.output, r.output
    return r


def materialize(af, p: Path, *args: str, expect: int = 0, env: dict | None = None) -> dict:
    return ok(af(p, "materialize", *args, "--json", env=env), expect).json()


def verify(af, p: Path) -> tuple[list[dict], dict[str, dict]]:
    """(drift, {asset: status entry}) from one `status --verify --json`; exit 0 iff no drift."""
    r = af(p, "status", "--verify", "--json")
    assert PY_TRACEBACK not in r.output, r.output
    data = r.json()
    assert r.exit_code == (1 if data["drift"] else 0), r.output
    return data["drift"], {a["name"]: a for a in data["assets"]}


def assert_verified(af, p: Path, context: str = "") -> dict[str, dict]:
    drift, assets = verify(af, p)
    assert drift == [], f"{context}: state and data disagree: {drift}"
    r = af(p, "status", "--verify")
    assert r.exit_code == 0 and "verify: state and data agree" in r.stdout, r.output
    return assets


def not_fresh(assets: dict[str, dict]) -> dict[str, dict]:
    return {n: a["partitions"] for n, a in assets.items() if a["partitions"]["fresh"] != a["partitions"]["total"]}


def runs(af, p: Path) -> list[dict]:
    r = ok(af(p, "runs", "--json", "--limit", "1000"))
    return r.json()["runs"]


def run_show(af, p: Path, run_id: str) -> dict:
    return ok(af(p, "runs", "show", run_id, "--json")).json()


def run_of_pid(af, p: Path, pid: int) -> dict | None:
    found = [r for r in runs(af, p) if r["pid"] == pid]
    assert len(found) <= 1, found
    return found[0] if found else None


def successes(af, p: Path, run_ids=None) -> Counter:
    """How many successful attempts each (asset, partition) has across runs (all runs by default)."""
    ids = [r["run_id"] for r in runs(af, p)] if run_ids is None else list(run_ids)
    built: Counter = Counter()
    for run_id in ids:
        for a in run_show(af, p, run_id)["attempts"]:
            if a["status"] == "success":
                built[(a["asset"], a["partition"])] += 1
    return built


def all_partitions(ndays: int) -> set[tuple[str, str | None]]:
    keys = day_keys(ndays)
    return {(STAGE, k) for k in keys} | {(DAILY, k) for k in keys} | {(TOTAL, None)}


def report(name: str, figures: dict) -> None:
    """Print figures for the run log; also append them as JSON to $ASSETFLOW_FAULT_REPORT when set."""
    line = json.dumps({"test": name, **figures}, sort_keys=True)
    print(f"FAULT-FIGURES {line}")
    target = os.environ.get("ASSETFLOW_FAULT_REPORT")
    if target:
        with open(target, "a") as fh:
            fh.write(line + "\n")
