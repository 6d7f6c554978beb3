"""`assetflow dev` as a real subprocess (issue 6).

Each test starts `python -m assetflow --project P dev [...]`, reads its stdout line by line in a
background thread, writes files in the project and waits for the printed results; between builds
it reads the DuckDB file read-only (dev does not hold the database while it idles).

What dev prints (docs/dev-loop.md):
    changed: assets/x.sql
      stale: main.x (code changed)
    OK   main.x  3 rows  0.01s
    built 1/1 in 0.12s
errors as "error: assets/x.sql:1: ..." then "watching for changes (fix the error and save)...",
"up to date" when a save changed nothing that matters, and "stopped" on Ctrl-C (exit 0).
"""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import run_cli

WAIT = 20.0            # seconds per wait: generous, for a loaded 2-core machine
STARTUP_GRACE = 1.0    # the watcher starts after the initial build; give it a moment
END_OF_CYCLE = r"^(built \d+/\d+ in|up to date$|watching for changes)"


class Dev:
    """A running `assetflow dev` and the lines it printed."""

    def __init__(self, root: Path, *args: str):
        self.root = root
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assetflow", "--project", str(root), "dev", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []          # every line, for failure messages
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def transcript(self) -> str:
        return "\n".join(self.seen)

    def wait_for(self, pattern: str, timeout: float = WAIT) -> list[str]:
        """Consume lines until one matches `pattern` (re.search); returns the lines consumed."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {pattern!r}; dev printed:\n"
                                     + self.transcript())
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"dev exited ({self.proc.wait()}) while waiting for {pattern!r}; "
                                     "it printed:\n" + self.transcript())
            self.seen.append(line)
            got.append(line)
            if rx.search(line):
                return got

    def cycle(self, timeout: float = WAIT) -> list[str]:
        """The lines of one build cycle, up to its last line (built / up to date / error)."""
        return self.wait_for(END_OF_CYCLE, timeout)

    def ready(self) -> list[str]:
        """Wait for the initial build, then for the watcher to be in place."""
        lines = self.cycle()
        time.sleep(STARTUP_GRACE)
        return lines + self.drain()

    def drain(self, quiet: float = 0.3) -> list[str]:
        """Read whatever is printed until nothing comes for `quiet` seconds."""
        got = []
        while True:
            try:
                line = self.lines.get(timeout=quiet)
            except queue.Empty:
                return got
            if line is None:
                self.lines.put(None)
                return got
            self.seen.append(line)
            got.append(line)

    def edit(self, rel: str, text: str) -> list[str]:
        """Save a file and return the lines of the cycle it caused."""
        self.drain()
        write(self.root, rel, text)
        lines = self.wait_for(r"^changed: ")
        return lines + self.cycle()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """Ctrl-C, as a user at a terminal would."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        self.drain(quiet=0.1)
        return code


@pytest.fixture
def dev():
    started: list[Dev] = []

    def start(root: Path, *args: str) -> Dev:
        d = Dev(root, *args)
        started.append(d)
        return d

    yield start
    for d in started:                      # never leave a watcher behind
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait(timeout=10)


def write(root: Path, rel: str, text: str, in_place: bool = False) -> None:
    """Save a file as an editor would: by default atomically (write a temporary file, rename it
    over the target), so that a loaded machine never shows dev a half-written file unless a test
    means to; `in_place` truncates and writes the file itself."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    body = textwrap.dedent(text).lstrip()
    if in_place:
        path.write_text(body)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")     # not a watched suffix
    tmp.write_text(body)
    os.replace(tmp, path)


def q(root: Path, sql: str, timeout: float = 10.0):
    """Read the DuckDB file read-only; retry briefly while a build holds it."""
    import duckdb
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


def stale_assets(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := re.match(r"^\s+stale: (\S+)", line))}


def ok_assets(lines: list[str]) -> list[str]:
    return [m.group(1) for line in lines if (m := re.match(r"^OK\s+(\S+( \[[^\]]+\])?)", line))]


A_SQL = "select 1 as id, {v} as v union all select 2, 20\n"
BASE = {
    "assets/a.sql": A_SQL.format(v=10),
    "assets/b.sql": "select id, v * 2 as v2 from main.a\n",     # downstream of a
    "assets/c.sql": "select 42 as x\n",                          # unrelated
}


# ------------------------------------------------------------------------------------ the loop

def test_initial_build_edit_rebuilds_asset_and_downstream_only(project, dev):
    p = project(BASE)
    d = dev(p)
    first = d.ready()
    assert first[0].startswith("assetflow dev: watching"), first
    assert sorted(ok_assets(first)) == ["main.a", "main.b", "main.c"], d.transcript()
    assert any(re.match(r"^built 3/3 in \d+\.\d+s$", line) for line in first), d.transcript()
    assert q(p, "select x from main.c") == [(42,)]
    assert sorted(q(p, "select id, v2 from main.b")) == [(1, 20), (2, 40)]

    # while dev idles, other commands can use the database
    st = run_cli(p, "status", "--json")
    assert st.exit_code == 0, st.output
    assert all(a["partitions"]["fresh"] == 1 for a in st.json()["assets"])

    lines = d.edit("assets/a.sql", A_SQL.format(v=11))
    assert "changed: assets/a.sql" in lines
    assert "  stale: main.a (code changed)" in lines, lines
    assert stale_assets(lines) == {"main.a", "main.b"}, lines          # main.c is not touched
    assert sorted(ok_assets(lines)) == ["main.a", "main.b"], lines
    assert not any("main.c" in line for line in lines), lines
    assert re.match(r"^built 2/2 in \d+\.\d+s$", lines[-1]), lines
    assert sorted(q(p, "select id, v from main.a")) == [(1, 11), (2, 20)]
    assert sorted(q(p, "select id, v2 from main.b")) == [(1, 22), (2, 40)]

    # editing the leaf rebuilds the leaf alone
    lines = d.edit("assets/b.sql", "select id, v * 3 as v2 from main.a\n")
    assert stale_assets(lines) == {"main.b"} and ok_assets(lines) == ["main.b"], lines
    assert sorted(q(p, "select id, v2 from main.b")) == [(1, 33), (2, 60)]

    assert d.stop() == 0
    assert d.seen[-1] == "stopped", d.transcript()


def test_in_place_saves_are_seen(project, dev):
    """Editors that truncate and rewrite the file itself: dev sees the final content (on a loaded
    machine it may first see the truncated file and report it, then rebuild)."""
    p = project(BASE)
    d = dev(p)
    d.ready()
    d.drain()
    write(p, "assets/a.sql", A_SQL.format(v=21), in_place=True)
    lines = d.wait_for(r"^OK\s+main\.b")
    assert any(line.startswith("OK   main.a") for line in lines), lines
    assert sorted(q(p, "select id, v from main.a")) == [(1, 21), (2, 20)]
    write(p, "assets/c.sql", "select 1 as x -- now one\n", in_place=True)
    lines = d.wait_for(r"^OK\s+main\.c")
    assert q(p, "select x from main.c") == [(1,)]
    assert d.stop() == 0


def test_comment_and_formatting_edit_is_up_to_date(project, dev):
    p = project(BASE)
    d = dev(p)
    d.ready()
    lines = d.edit("assets/a.sql", "-- a comment\nSELECT 1 AS id,\n       10 AS v\nUNION ALL SELECT 2, 20 -- trailing\n")
    assert lines[-1] == "up to date", lines
    assert not ok_assets(lines) and not stale_assets(lines), lines
    assert d.stop() == 0


def test_nothing_stale_at_start_prints_up_to_date(project, dev):
    p = project(BASE)
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output
    d = dev(p)
    first = d.ready()
    assert "up to date" in first, d.transcript()
    assert not ok_assets(first)
    assert d.stop() == 0


def test_broken_save_shows_error_keeps_watching_then_fix_resumes(project, dev):
    p = project(BASE)
    d = dev(p)
    d.ready()

    # a syntax error: file and line, then the loop keeps watching
    lines = d.edit("assets/a.sql", "select 1 as id,\n  11 as v unio all selec 2, 20 from\n")
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors and re.match(r"^error: assets/a\.sql:\d+: ", errors[0]), lines
    assert lines[-1].startswith("watching for changes"), lines
    assert "Traceback" not in d.transcript()
    assert d.alive()
    assert sorted(q(p, "select id, v from main.a")) == [(1, 10), (2, 20)]     # nothing lost

    # a half-written (empty) file is an error too
    lines = d.edit("assets/a.sql", "")
    assert any(line.startswith("error: assets/a.sql") for line in lines), lines
    assert d.alive()

    # an unknown table: named, with the file and line
    lines = d.edit("assets/a.sql", "select 1 as id,\n 12 as v\nfrom main.nope\n")
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors and re.match(r"^error: assets/a\.sql:3: .*nope", errors[0]), lines
    assert d.alive()

    # fixed: the rebuild resumes with the new code, downstream included
    lines = d.edit("assets/a.sql", A_SQL.format(v=13))
    assert sorted(ok_assets(lines)) == ["main.a", "main.b"], lines
    assert re.match(r"^built 2/2", lines[-1]), lines
    assert sorted(q(p, "select id, v from main.a")) == [(1, 13), (2, 20)]
    assert sorted(q(p, "select id, v2 from main.b")) == [(1, 26), (2, 40)]
    assert d.stop() == 0


def test_cycle_introduced_then_removed(project, dev):
    p = project(BASE)
    d = dev(p)
    d.ready()
    lines = d.edit("assets/a.sql", "select id, v2 as v from main.b\n")            # a -> b -> a
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors and "cycle" in errors[0] and "main.a" in errors[0] and "main.b" in errors[0], lines
    assert lines[-1].startswith("watching for changes"), lines
    assert d.alive()
    lines = d.edit("assets/a.sql", A_SQL.format(v=14))
    assert sorted(ok_assets(lines)) == ["main.a", "main.b"], lines
    assert sorted(q(p, "select id, v2 from main.b")) == [(1, 28), (2, 40)]
    assert d.stop() == 0


def test_python_asset_edit_rebuilds_it(project, dev):
    p = project({**BASE, "assets/py.py": """
        import pyarrow as pa
        from assetflow import asset

        @asset
        def pyx(a: pa.Table) -> pa.Table:
            return pa.table({"n": [a.num_rows * 10]})
        """})
    d = dev(p)
    d.ready()
    assert q(p, "select n from main.pyx") == [(20,)]
    lines = d.edit("assets/py.py", """
        import pyarrow as pa
        from assetflow import asset

        @asset
        def pyx(a: pa.Table) -> pa.Table:
            return pa.table({"n": [a.num_rows * 100]})
        """)
    assert stale_assets(lines) == {"main.pyx"} and ok_assets(lines) == ["main.pyx"], lines
    assert q(p, "select n from main.pyx") == [(200,)]
    # a Python file that fails to import: error with file:line, keeps watching
    lines = d.edit("assets/py.py", "import pyarrow as pa\nfrom assetflow import asset\n\ndef broken(:\n")
    assert any(re.match(r"^error: assets/py\.py:\d+", line) for line in lines), lines
    assert d.alive()
    assert d.stop() == 0


# ------------------------------------------------------------------------------------ checks

def test_checks_run_and_a_failing_check_keeps_old_data(project, dev):
    p = project({**BASE, "assets/a.sql": '/* assetflow\nchecks = ["not_null(v)"]\n*/\n' + A_SQL.format(v=10)})
    d = dev(p)
    d.ready()
    lines = d.edit("assets/a.sql", '/* assetflow\nchecks = ["not_null(v)"]\n*/\n'
                                   "select 1 as id, cast(null as int) as v union all select 2, 20\n")
    fail = [line for line in lines if line.startswith("FAIL main.a")]
    assert fail and "check not_null(v) failed: 1 failing row(s)" in fail[0], lines
    assert any(line.startswith("SKIP main.b") for line in lines), lines
    assert re.match(r"^built 0/2 in .*\(failed\)$", lines[-1]), lines
    assert sorted(q(p, "select id, v from main.a")) == [(1, 10), (2, 20)]          # rolled back
    # a warn check: reported, data written
    lines = d.edit("assets/a.sql", '/* assetflow\nchecks = [{ check = "not_null(v)", severity = "warn" }]\n*/\n'
                                   "select 1 as id, cast(null as int) as v union all select 2, 20\n")
    assert any(re.match(r"^\s*WARN main\.a: not_null\(v\)", line) for line in lines), lines
    assert sorted(ok_assets(lines)) == ["main.a", "main.b"], lines
    assert sorted(q(p, "select id, v from main.a")) == [(1, None), (2, 20)]
    assert d.stop() == 0


# ------------------------------------------------------------------------------------ config

PEOPLE_TOML = """
[project]
name = "t"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2
"""


def test_config_change_reloads_project(project, dev):
    p = project({**BASE, "data/people.csv": "id,name\n1,ann\n2,bob\n"}, toml=PEOPLE_TOML)
    d = dev(p)
    d.ready()
    # a new asset reading a source the project does not declare yet: an error naming the table
    lines = d.edit("assets/people.sql", "select id, upper(name) as name from raw.people\n")
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors and errors[0].startswith("error: assets/people.sql:1:") and "raw.people" in errors[0], lines
    # declaring it in assetflow.toml reloads the project and builds the asset
    toml = PEOPLE_TOML + '\n[sources]\n"raw.people" = { path = "data/people.csv" }\n'
    lines = d.edit("assetflow.toml", toml)
    assert "changed: assetflow.toml" in lines, lines
    assert ok_assets(lines) == ["main.people"], lines
    assert sorted(q(p, "select id, name from main.people")) == [(1, "ANN"), (2, "BOB")]
    # the source file changes: the asset reading it is rebuilt, nothing else
    lines = d.edit("data/people.csv", "id,name\n1,ann\n2,bob\n3,cy\n")
    assert ok_assets(lines) == ["main.people"], lines
    assert q(p, "select count(*) from main.people") == [(3,)]
    # a broken assetflow.toml: the error names it, dev keeps watching; the fix resumes
    lines = d.edit("assetflow.toml", toml + "[oops\n")
    assert any(line.startswith("error: assetflow.toml") for line in lines), lines
    assert d.alive()
    lines = d.edit("assetflow.toml", toml.replace("threads = 2", "threads = 1"))
    assert lines[-1] == "up to date" or lines[-1].startswith("built "), lines
    lines = d.edit("assets/c.sql", "select 43 as x\n")
    assert ok_assets(lines) == ["main.c"], lines
    assert q(p, "select x from main.c") == [(43,)]
    assert d.stop() == 0


# ------------------------------------------------------------------------------------ partitions

def daily_sql(start: str, v: int) -> str:
    return (f'/* assetflow\npartition_by = "day"\ntime_column = "day"\nstart = "{start}"\n*/\n'
            f"select cast($start as date) as day, {v} as v\n")


def utc_days_ago(n: int) -> str:
    return (datetime.now(timezone.utc).date() - timedelta(days=n)).isoformat()


def test_last_n_rebuilds_only_the_latest_partitions(project, dev):
    start = utc_days_ago(5)                                   # 5 complete days: today-5 .. today-1
    keys = [utc_days_ago(n) for n in range(5, 0, -1)]
    p = project({**BASE, "assets/daily.sql": daily_sql(start, 1)})
    d = dev(p, "--last", "2")
    first = d.ready()
    assert sorted(a for a in ok_assets(first) if a.startswith("main.daily")) == \
        sorted(f"main.daily [{k}]" for k in keys), d.transcript()          # the initial build builds all
    lines = d.edit("assets/daily.sql", daily_sql(start, 2))
    if keys[-1] != utc_days_ago(1):
        pytest.skip("the UTC day changed during the test")
    assert sorted(ok_assets(lines)) == sorted(f"main.daily [{k}]" for k in keys[-2:]), lines
    assert stale_assets(lines) == {"main.daily"}, lines
    got = dict(q(p, "select strftime(day, '%Y-%m-%d'), v from main.daily"))
    assert got == {k: (2 if k in keys[-2:] else 1) for k in keys}
    st = run_cli(p, "status", "--json", "main.daily")
    assert st.exit_code == 0, st.output
    daily = st.json()["assets"][0]
    assert daily["partitions"]["stale"] == 3
    assert {s["partition"] for s in daily["stale"]} == set(keys[:3])
    assert d.stop() == 0


def test_partition_option_rebuilds_that_partition(project, dev):
    start = utc_days_ago(4)
    keys = [utc_days_ago(n) for n in range(4, 0, -1)]
    p = project({"assets/daily.sql": daily_sql(start, 1)})
    d = dev(p, "--partition", keys[0])
    d.ready()
    lines = d.edit("assets/daily.sql", daily_sql(start, 5))
    assert ok_assets(lines) == [f"main.daily [{keys[0]}]"], lines
    got = dict(q(p, "select strftime(day, '%Y-%m-%d'), v from main.daily"))
    assert got[keys[0]] == 5 and all(got[k] == 1 for k in keys[1:])
    assert d.stop() == 0


def test_unrelated_save_after_limited_rebuild_rebuilds_only_that_file(project, dev):
    start = utc_days_ago(3)
    p = project({**BASE, "assets/daily.sql": daily_sql(start, 1),
                 "assets/total.sql": "select sum(v) as total from main.daily\n"})
    d = dev(p)                                               # --last 1
    d.ready()
    lines = d.edit("assets/daily.sql", daily_sql(start, 2))
    assert "main.total" in ok_assets(lines), lines
    lines = d.edit("assets/c.sql", "select 7 as x\n")      # unrelated to daily and total
    assert ok_assets(lines) == ["main.c"], lines


# ------------------------------------------------------------------------------------ a reader holds the file

def test_save_while_a_reader_holds_the_database_is_built_when_released(project, dev):
    import duckdb
    p = project(BASE)
    d = dev(p)
    d.ready()
    con = duckdb.connect(str(p / "warehouse.duckdb"), read_only=True)
    try:
        write(p, "assets/c.sql", "select 44 as x\n")
        d.wait_for(r"^changed: assets/c\.sql")
        time.sleep(1.0)
    finally:
        con.close()
    lines = d.wait_for(r"^(OK\s+main\.c|watching for changes)")
    assert lines[-1].startswith("OK"), lines
    assert q(p, "select x from main.c") == [(44,)]


# ------------------------------------------------------------------------------------ selection, exit

def test_selection_limits_what_dev_builds(project, dev):
    p = project(BASE)
    d = dev(p, "main.c")
    first = d.ready()
    assert ok_assets(first) == ["main.c"], d.transcript()
    lines = d.edit("assets/a.sql", A_SQL.format(v=99))         # outside the selection
    assert not ok_assets(lines), lines
    assert d.stop() == 0


def test_ctrl_c_exits_zero_quickly(project, dev):
    p = project(BASE)
    d = dev(p)
    d.ready()
    t0 = time.monotonic()
    code = d.stop(timeout=10)
    assert code == 0, d.transcript()
    assert time.monotonic() - t0 < 5, "Ctrl-C took too long"
    assert "stopped" in d.seen and "Traceback" not in d.transcript()
    # the lock and the database are released: a materialize right after works
    r = run_cli(p, "materialize")
    assert r.exit_code == 0, r.output


def test_ctrl_c_during_a_build_exits_zero_and_commits_nothing_half_done(project, dev):
    p = project({**BASE})
    marker = p.parent / f"{p.name}-slow-started"       # outside the project: not a watched file
    write(p, "assets/slow.py", f"""
        import pathlib
        import time
        import pyarrow as pa
        from assetflow import asset

        @asset
        def slow(a: pa.Table) -> pa.Table:
            pathlib.Path({str(marker)!r}).write_text("started")
            time.sleep(3)
            return pa.table({{"n": [a.num_rows]}})
        """)
    d = dev(p)
    deadline = time.monotonic() + WAIT
    while not marker.exists():                          # the initial build is under way
        assert time.monotonic() < deadline and d.alive(), d.transcript()
        time.sleep(0.05)
    code = d.stop(timeout=15)
    assert code == 0, d.transcript()
    assert "Traceback" not in d.transcript()
    assert q(p, "select count(*) from duckdb_tables() where table_name = 'slow'") == [(0,)]
    runs = run_cli(p, "runs", "--json")
    assert runs.exit_code == 0, runs.output
    assert runs.json()["runs"][0]["status"] == "cancelled"
