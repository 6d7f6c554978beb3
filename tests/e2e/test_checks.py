"""Asset checks through the CLI (issue 6): every check kind passing and failing, both severities,
in SQL headers and in `@asset(checks=[...])`, custom `checks/*.sql`, `assetflow check`, checks
on partitioned assets (per partition), `relationships` timing, and bad check specs.

Semantics under test (docs/dev-loop.md, docs/project-format.md):
- checks run inside the transaction that writes the partition (or table); a failing `error`
  check rolls the write back (old rows stay), fails that partition with
  "check <text> failed: N failing row(s)" and skips its downstream; the run exits 1;
- a failing `warn` check commits the write, exits 0, and is listed in `materialize --json`
  "checks" and in `status --json` (per asset "checks": [{"check", "partition", "severity",
  "passed", "failing"}]);
- custom checks are `checks/<name>.sql` queries returning failing rows;
- `assetflow check [SELECTION]` runs them against the data as it is; exit 1 on a failed error check.
"""
from __future__ import annotations

import re
import textwrap

import pytest

from conftest import query


# ------------------------------------------------------------------------------------ helpers

def write(p, rel: str, text: str) -> None:
    path = p / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())


def mat(af, p, *args, expect: int | None = 0) -> dict:
    r = af(p, "materialize", *args, "--json")
    if expect is not None:
        assert r.exit_code == expect, r.output
    assert "Traceback" not in r.output, r.output
    return r.json()


def results(res: dict) -> dict[tuple[str, str | None], dict]:
    return {(x["asset"], x["partition"]): x for x in res["results"]}


def status_checks(af, p) -> dict[str, list[dict]]:
    r = af(p, "status", "--json")
    assert r.exit_code == 0, r.output
    return {a["name"]: a["checks"] for a in r.json()["assets"]}


def values_sql(rows: list[tuple], header: str = "", cols: str = "id, v") -> str:
    """`select * from (values ...) t(id, v)` with an optional assetflow header."""
    vals = ", ".join("(" + ", ".join(_lit(x) for x in row) + ")" for row in rows)
    head = f"/* assetflow\n{header}\n*/\n" if header else ""
    return f"{head}select * from (values {vals}) t({cols})\n"


def _lit(x) -> str:
    if x is None:
        return "NULL"
    if isinstance(x, str):
        return "'" + x.replace("'", "''") + "'"
    return str(x)


def header_checks(*entries: str) -> str:
    return "checks = [" + ", ".join(entries) + "]"


def toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


PARENT = values_sql([(1,), (2,)], cols="id")     # main.parent: ids 1 and 2

# kind id -> (check text, passing rows, failing rows, failing number reported)
KINDS = {
    "not_null": ("not_null(v)", [(1, "x"), (2, "y")], [(1, "x"), (2, None)], 1),
    "unique": ("unique(id)", [(1, "x"), (2, "y")], [(1, "x"), (1, "y"), (2, "z")], 2),
    "unique_multi": ("unique(id, v)", [(1, "x"), (1, "y")], [(1, "x"), (1, "x"), (2, "y")], 2),
    "accepted_values": ("accepted_values(v, ['x', 'y'])", [(1, "x"), (2, "y")], [(1, "x"), (2, "z")], 1),
    "row_count_min": ("row_count(min=2)", [(1, "x"), (2, "y")], [(1, "x")], 1),
    "row_count_max": ("row_count(max=2)", [(1, "x"), (2, "y")], [(1, "x"), (2, "y"), (3, "z")], 3),
    "row_count_both": ("row_count(min=1, max=2)", [(1, "x")], [(1, "x"), (2, "y"), (3, "z")], 3),
    "relationships": ("relationships(id, main.parent.id)", [(1, "x"), (2, "y")], [(1, "x"), (3, "y")], 1),
}

FAIL_MESSAGE = re.compile(r"check (?P<text>.+?) failed: (?P<n>\d+) (failing row\(s\)|rows)")


def find_check(entries: list[dict], text: str) -> dict:
    hits = [c for c in entries if c["check"] == text]
    assert hits, f"no check {text!r} in {entries}"
    return hits[-1]


# ------------------------------------------------------------------------------------ SQL, error

@pytest.mark.parametrize("kind", list(KINDS))
def test_sql_error_check_passes_then_fails_and_rolls_back(af, project, kind):
    text, good, bad, failing = KINDS[kind]
    p = project({
        "assets/parent.sql": PARENT,
        "assets/x.sql": values_sql(good, header_checks(toml_str(text))),
        "assets/down.sql": "select * from main.x\n",
    })
    res = mat(af, p)
    assert res["status"] == "success"
    assert res["checks"] == [], "only checks that did not pass are listed"
    c = find_check(status_checks(af, p)["main.x"], text)
    assert (c["partition"], c["severity"], c["passed"]) == (None, "error", True), c
    before = sorted(query(p, "select * from main.x"))

    write(p, "assets/x.sql", values_sql(bad, header_checks(toml_str(text))))
    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    r = results(res)
    assert r[("main.x", None)]["status"] == "failed"
    m = FAIL_MESSAGE.search(r[("main.x", None)]["error"])
    assert m, r[("main.x", None)]["error"]
    assert m["text"] == text and int(m["n"]) == failing
    assert r[("main.down", None)]["status"] == "skipped"
    # rolled back: the old rows are still there, in the asset and its downstream
    assert sorted(query(p, "select * from main.x")) == before
    assert sorted(query(p, "select * from main.down")) == before
    c = find_check(status_checks(af, p)["main.x"], text)
    assert (c["passed"], c["failing"], c["severity"], c["partition"]) == (False, failing, "error", None)


def test_failed_error_check_listed_in_materialize_json_checks(af, project):
    """The brief: `materialize --json` has a top-level "checks" list with the checks that did not
    pass; a failed error check did not pass."""
    p = project({"assets/x.sql": values_sql([(1, None)], header_checks('"not_null(v)"'))})
    res = mat(af, p, expect=1)
    bad = [c for c in res["checks"] if c["check"] == "not_null(v)"]
    assert bad and bad[0]["passed"] is False and bad[0]["severity"] == "error" and bad[0]["failing"] == 1, res


def test_text_output_names_the_failed_check(af, project):
    p = project({"assets/x.sql": values_sql([(1, None), (2, None)], header_checks('"not_null(v)"'))})
    r = af(p, "materialize")
    assert r.exit_code == 1, r.output
    assert "check not_null(v) failed: 2 failing row(s)" in r.output
    assert "Traceback" not in r.output


# ------------------------------------------------------------------------------------ SQL, warn

def test_sql_warn_checks_commit_and_are_reported(af, project):
    files = {"assets/parent.sql": PARENT}
    for kind, (text, _good, bad, _n) in KINDS.items():
        entry = "{ check = %s, severity = \"warn\" }" % toml_str(text)
        files[f"assets/w_{kind}.sql"] = values_sql(bad, header_checks(entry))
        files[f"assets/d_{kind}.sql"] = f"select * from main.w_{kind}\n"
        files[f"assets/ok_{kind}.sql"] = values_sql(_good, header_checks(entry))     # a warn check passing
    p = project(files)
    res = mat(af, p)
    assert res["status"] == "success"
    r = results(res)
    assert all(x["status"] == "success" for x in r.values()), res
    listed = {c["asset"]: c for c in res["checks"]}
    st = status_checks(af, p)
    for kind, (text, _good, bad, n) in KINDS.items():
        asset = f"main.w_{kind}"
        # the write committed, downstream built
        assert query(p, f"select count(*) from {asset}")[0][0] == len(bad)
        assert r[(f"main.d_{kind}", None)]["status"] == "success"
        c = listed.get(asset)
        assert c is not None, f"{asset} missing from materialize --json checks: {res['checks']}"
        assert (c["check"], c["severity"], c["passed"], c["failing"], c["partition"]) == (text, "warn", False, n, None)
        s = find_check(st[asset], text)
        assert (s["severity"], s["passed"], s["failing"]) == ("warn", False, n)
        ok = find_check(st[f"main.ok_{kind}"], text)
        assert (ok["severity"], ok["passed"]) == ("warn", True), ok
        assert f"main.ok_{kind}" not in listed


def test_warn_and_text_status_show_the_warning(af, project):
    p = project({"assets/x.sql": values_sql([(1, "x"), (1, "y")],
                                             header_checks('{ check = "unique(id)", severity = "warn" }'))})
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    assert re.search(r"WARN main\.x: unique\(id\)\s+\(2 failing rows\)", r.output), r.output
    s = af(p, "status")
    assert s.exit_code == 0, s.output
    assert "warn: unique(id)" in s.output, s.output


def test_mixed_severities_on_one_asset(af, project):
    """A warn check failing next to an error check passing: the write commits."""
    hdr = header_checks('"not_null(id)"', '{ check = "accepted_values(v, [\'x\'])", severity = "warn" }')
    p = project({"assets/x.sql": values_sql([(1, "x"), (2, "q")], hdr)})
    res = mat(af, p)
    assert [(c["check"], c["passed"]) for c in res["checks"]] == [("accepted_values(v, ['x'])", False)]
    assert query(p, "select count(*) from main.x")[0][0] == 2
    st = {c["check"]: c for c in status_checks(af, p)["main.x"]}
    assert st["not_null(id)"]["passed"] is True and st["not_null(id)"]["severity"] == "error"
    assert st["accepted_values(v, ['x'])"]["passed"] is False


# ------------------------------------------------------------------------------------ Python assets

def py_assets(variant: str) -> str:
    """One @asset per check kind; `variant` picks the passing or failing rows (the data is a literal
    in each function body, so each edit changes the function's code version)."""
    out = ["import pyarrow as pa", "from assetflow import asset", ""]
    for kind, (text, good, bad, _n) in KINDS.items():
        rows = good if variant == "good" else bad
        data = {"id": [r[0] for r in rows], "v": [r[1] for r in rows]}
        checks = [text] if variant != "warn" else [{"check": text, "severity": "warn"}]
        out += [f"@asset(checks={checks!r})",
                f"def py_{kind}() -> pa.Table:",
                f"    return pa.table({data!r})", ""]
    return "\n".join(out)


def test_python_asset_checks_pass_then_fail_and_roll_back(af, project):
    files = {"assets/parent.sql": PARENT, "assets/py.py": py_assets("good")}
    files.update({f"assets/d_{k}.sql": f"select * from main.py_{k}\n" for k in KINDS})
    p = project(files)
    res = mat(af, p)
    assert res["status"] == "success" and res["checks"] == [], res
    before = {k: sorted(query(p, f"select id, v from main.py_{k}")) for k in KINDS}
    st = status_checks(af, p)
    for kind, (text, *_rest) in KINDS.items():
        assert find_check(st[f"main.py_{kind}"], text)["passed"] is True

    write(p, "assets/py.py", py_assets("bad"))
    res = mat(af, p, expect=1)
    r = results(res)
    st = status_checks(af, p)
    for kind, (text, _good, _bad, n) in KINDS.items():
        x = r[(f"main.py_{kind}", None)]
        assert x["status"] == "failed", (kind, x)
        m = FAIL_MESSAGE.search(x["error"] or "")
        assert m and m["text"] == text and int(m["n"]) == n, (kind, x["error"])
        assert r[(f"main.d_{kind}", None)]["status"] == "skipped"
        assert sorted(query(p, f"select id, v from main.py_{kind}")) == before[kind], kind
        c = find_check(st[f"main.py_{kind}"], text)
        assert (c["passed"], c["failing"]) == (False, n), (kind, c)


def test_python_asset_warn_checks(af, project):
    p = project({"assets/parent.sql": PARENT, "assets/py.py": py_assets("warn")})
    res = mat(af, p)
    assert res["status"] == "success"
    listed = {c["asset"]: c for c in res["checks"]}
    for kind, (text, _good, bad, n) in KINDS.items():
        c = listed[f"main.py_{kind}"]
        assert (c["check"], c["severity"], c["passed"], c["failing"]) == (text, "warn", False, n)
        assert query(p, f"select count(*) from main.py_{kind}")[0][0] == len(bad)


# ------------------------------------------------------------------------------------ custom checks

CUSTOM_BASE = {
    "assets/x.sql": values_sql([(1, 5), (2, -3), (3, -4)]),
    "assets/down.sql": "select * from main.x\n",
}


def test_custom_error_check_fails_run(af, project):
    p = project({**CUSTOM_BASE, "checks/no_negative.sql": "select * from main.x where v < 0\n"})
    res = mat(af, p, expect=1)
    assert res["status"] == "failed"
    # the assets themselves built (custom checks run after the writes)
    assert all(x["status"] == "success" for x in res["results"]), res
    bad = [c for c in res["checks"] if c["check"].startswith("no_negative")]
    assert bad, res["checks"]
    assert (bad[0]["asset"], bad[0]["severity"], bad[0]["passed"], bad[0]["failing"]) == ("main.x", "error", False, 2)
    assert "checks/no_negative.sql" in bad[0]["check"]
    st = status_checks(af, p)
    c = [c for c in st["main.x"] if c["check"].startswith("no_negative")]
    assert c and c[0]["passed"] is False and c[0]["failing"] == 2
    # `check` runs it too
    r = af(p, "check")
    assert r.exit_code == 1, r.output
    assert re.search(r"FAIL main\.x: no_negative", r.output), r.output


def test_custom_warn_check_reports_only(af, project):
    p = project({**CUSTOM_BASE,
                 "checks/negatives.sql": '/* assetflow\nseverity = "warn"\n*/\nselect * from main.x where v < 0\n'})
    res = mat(af, p)
    assert res["status"] == "success"
    c = [c for c in res["checks"] if c["check"].startswith("negatives")]
    assert c and (c[0]["severity"], c[0]["passed"], c[0]["failing"]) == ("warn", False, 2), res["checks"]
    r = af(p, "check", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["status"] == "success"


def test_custom_check_passing_and_joining_two_assets(af, project):
    p = project({**CUSTOM_BASE,
                 "checks/down_matches.sql": "select x.id from main.x as x anti join main.down as d on d.id = x.id\n"})
    res = mat(af, p)
    assert res["checks"] == []
    r = af(p, "check", "--json")
    assert r.exit_code == 0, r.output
    got = [c for c in r.json()["checks"] if c["check"].startswith("down_matches")]
    assert {c["asset"] for c in got} == {"main.x", "main.down"}
    assert all(c["passed"] and c["failing"] == 0 for c in got)


# ------------------------------------------------------------------------------------ `assetflow check`

def test_check_command_exit_codes_and_json(af, project):
    p = project({
        "assets/x.sql": values_sql([(1, "x"), (2, None), (2, "y")]),
        "assets/other.sql": values_sql([(1, "a")]),
    })
    mat(af, p)
    # adding checks rebuilds nothing, but `check` evaluates them against the data as it is
    write(p, "assets/x.sql", values_sql([(1, "x"), (2, None), (2, "y")],
                                         header_checks('"not_null(v)"', '{ check = "unique(id)", severity = "warn" }')))
    write(p, "assets/other.sql", values_sql([(1, "a")], header_checks('"row_count(min=1)"')))
    assert mat(af, p)["results"] == []

    r = af(p, "check", "--json")
    assert r.exit_code == 1, r.output
    data = r.json()
    assert set(data) >= {"run_id", "status", "checks"}
    assert data["status"] == "failed" and data["run_id"]
    got = {(c["asset"], c["check"]): c for c in data["checks"]}
    assert set(got) == {("main.x", "not_null(v)"), ("main.x", "unique(id)"), ("main.other", "row_count(min=1)")}
    assert (got[("main.x", "not_null(v)")]["passed"], got[("main.x", "not_null(v)")]["failing"]) == (False, 1)
    assert got[("main.x", "unique(id)")]["severity"] == "warn" and got[("main.x", "unique(id)")]["failing"] == 2
    assert got[("main.other", "row_count(min=1)")]["passed"] is True
    assert all(set(c) >= {"asset", "partition", "check", "severity", "passed", "failing"} for c in data["checks"])

    text = af(p, "check")
    assert text.exit_code == 1
    assert re.search(r"FAIL main\.x: not_null\(v\)\s+\(1 failing rows\)", text.stdout), text.output
    assert re.search(r"WARN main\.x: unique\(id\)", text.stdout), text.output
    assert re.search(r"PASS main\.other: row_count\(min=1\)", text.stdout), text.output
    assert "1 of 3 checks passed" in text.stdout

    # results are recorded and shown by status
    st = status_checks(af, p)
    assert find_check(st["main.x"], "not_null(v)")["passed"] is False
    # the check run is a run
    runs = af(p, "runs", "--json")
    assert data["run_id"] in [x["run_id"] for x in runs.json()["runs"]]

    # a selection runs only those assets' checks
    r = af(p, "check", "main.other", "--json")
    assert r.exit_code == 0, r.output
    assert {c["asset"] for c in r.json()["checks"]} == {"main.other"}
    assert r.json()["status"] == "success"

    # only a warn check failing: exit 0
    write(p, "assets/x.sql", values_sql([(1, "x"), (2, None), (2, "y")],
                                         header_checks('{ check = "unique(id)", severity = "warn" }')))
    r = af(p, "check", "--json")
    assert r.exit_code == 0, r.output
    assert r.json()["status"] == "success"


def test_check_with_nothing_to_check(af, project):
    p = project({"assets/x.sql": values_sql([(1, "x")])})
    mat(af, p)
    r = af(p, "check")
    assert r.exit_code == 0, r.output
    r = af(p, "check", "--json")
    assert r.exit_code == 0 and r.json()["checks"] == []


# ------------------------------------------------------------------------------------ partitions

PART_HEADER = """kind = "partitioned"
partition_by = "day"
time_column = "day"
start = "2024-01-01"
end = "2024-01-03"
checks = ["not_null(v)", "unique(id)", "row_count(min=1, max=2)"]"""


def part_sql(rows: list[tuple]) -> str:
    vals = ", ".join(f"(date '{d}', {i}, {_lit(v)})" for d, i, v in rows)
    return (f"/* assetflow\n{PART_HEADER}\n*/\n"
            f"select * from (values {vals}) t(day, id, v)\nwhere day >= $start and day < $end\n")


DOWN_PART = """
    /* assetflow
    kind = "partitioned"
    partition_by = "day"
    time_column = "day"
    start = "2024-01-01"
    end = "2024-01-03"
    */
    select day, id, v from main.part where day >= $start and day < $end
    """

# id 1 appears on every day: unique(id) holds per partition, not over the table
GOOD_PART = [("2024-01-01", 1, "a"), ("2024-01-02", 1, "b"), ("2024-01-02", 2, "c"), ("2024-01-03", 1, "d")]


def test_partitioned_checks_run_per_partition(af, project):
    p = project({"assets/part.sql": part_sql(GOOD_PART), "assets/pdown.sql": DOWN_PART})
    res = mat(af, p)
    assert res["status"] == "success" and res["checks"] == [], res
    st = status_checks(af, p)["main.part"]
    assert {(c["check"], c["partition"]) for c in st} == {
        (t, d) for t in ("not_null(v)", "unique(id)", "row_count(min=1, max=2)")
        for d in ("2024-01-01", "2024-01-02", "2024-01-03")}
    assert all(c["passed"] for c in st)
    before = sorted(query(p, "select * from main.part where day = date '2024-01-02'"))

    # 2024-01-02 gets a null: that partition alone fails, its old rows stay, its downstream is skipped
    bad = [("2024-01-01", 1, "a2"), ("2024-01-02", 1, None), ("2024-01-02", 2, "c2"), ("2024-01-03", 1, "d2")]
    write(p, "assets/part.sql", part_sql(bad))
    res = mat(af, p, expect=1)
    r = results(res)
    assert r[("main.part", "2024-01-02")]["status"] == "failed"
    assert "check not_null(v) failed: 1 failing row(s)" in r[("main.part", "2024-01-02")]["error"]
    assert r[("main.part", "2024-01-01")]["status"] == "success"
    assert r[("main.part", "2024-01-03")]["status"] == "success"
    assert r[("main.pdown", "2024-01-02")]["status"] == "skipped"
    assert r[("main.pdown", "2024-01-01")]["status"] == "success"
    assert r[("main.pdown", "2024-01-03")]["status"] == "success"
    assert sorted(query(p, "select * from main.part where day = date '2024-01-02'")) == before
    assert sorted(r[0] for r in query(p, "select v from main.part where day <> date '2024-01-02'")) == ["a2", "d2"]
    st = {(c["check"], c["partition"]): c for c in status_checks(af, p)["main.part"]}
    assert st[("not_null(v)", "2024-01-02")]["passed"] is False
    assert st[("not_null(v)", "2024-01-02")]["failing"] == 1
    assert st[("not_null(v)", "2024-01-01")]["passed"] is True
    status = af(p, "status", "--json").json()
    part = [a for a in status["assets"] if a["name"] == "main.part"][0]
    assert part["partitions"]["failed"] == 1


def test_partitioned_row_count_and_unique_per_partition(af, project):
    """row_count(max=2) and unique(id) are judged on the partition just written: 3 rows on one day
    fail that day only, although other days are fine."""
    rows = GOOD_PART + [("2024-01-03", 2, "e"), ("2024-01-03", 2, "f")]
    p = project({"assets/part.sql": part_sql(rows)})
    res = mat(af, p, expect=1)
    r = results(res)
    assert [k for k, x in r.items() if x["status"] == "failed"] == [("main.part", "2024-01-03")]
    err = r[("main.part", "2024-01-03")]["error"]
    assert "row_count(min=1, max=2)" in err and "unique(id)" in err, err
    assert query(p, "select count(*) from main.part")[0][0] == 3


def test_partition_warn_check_reported_with_partition(af, project):
    header = PART_HEADER.replace('checks = ["not_null(v)", "unique(id)", "row_count(min=1, max=2)"]',
                                 'checks = [{ check = "not_null(v)", severity = "warn" }]')
    rows = [("2024-01-01", 1, "a"), ("2024-01-02", 1, None), ("2024-01-03", 1, "d")]
    vals = ", ".join(f"(date '{d}', {i}, {_lit(v)})" for d, i, v in rows)
    p = project({"assets/part.sql": f"/* assetflow\n{header}\n*/\nselect * from (values {vals}) t(day, id, v)\n"
                                     "where day >= $start and day < $end\n"})
    res = mat(af, p)
    assert [(c["asset"], c["partition"], c["check"], c["failing"]) for c in res["checks"]] == [
        ("main.part", "2024-01-02", "not_null(v)", 1)]
    assert query(p, "select count(*) from main.part")[0][0] == 3


def test_check_command_on_partitioned_asset_agrees_with_build(af, project):
    """`check` judges a partitioned asset's checks per built partition, as the build did: a project
    that just built cleanly passes `check` although unique(id)/row_count fail over the whole table."""
    p = project({"assets/part.sql": part_sql(GOOD_PART)})
    res = mat(af, p)
    assert res["status"] == "success"
    r = af(p, "check", "--json")
    assert r.exit_code == 0, r.output
    checks = r.json()["checks"]
    assert all(c["passed"] for c in checks), r.output
    assert {(c["check"], c["partition"]) for c in checks} == {
        (t, d) for t in ("not_null(v)", "unique(id)", "row_count(min=1, max=2)")
        for d in ("2024-01-01", "2024-01-02", "2024-01-03")}


# ------------------------------------------------------------------------------------ relationships

def test_relationships_waits_for_the_referenced_asset_without_ordering_after_it(af, project):
    """The child does not read the parent in SQL, and the check makes no edge; the two build side
    by side, and the check runs once the (slow) parent exists, at the end of the run."""
    toml = """
    [project]
    name = "t"
    dialect = "duckdb"

    [targets.dev]
    engine = "duckdb"
    path = "warehouse.duckdb"
    threads = 4
    """
    p = project({
        "assets/slow.py": """
            import time
            import pyarrow as pa
            from assetflow import asset

            @asset
            def parent() -> pa.Table:
                time.sleep(1.0)
                return pa.table({"id": [1, 2, 3]})
            """,
        "assets/child.sql": values_sql([(1, "x"), (3, "y")], header_checks('"relationships(id, main.parent.id)"')),
    }, toml=toml)
    g = af(p, "graph", "--format", "json")
    assert g.exit_code == 0, g.output
    ups = {a["name"]: a["upstream"] for a in g.json()["assets"]}
    assert ups["main.child"] == []
    res = mat(af, p)
    assert res["status"] == "success", res
    assert {x["asset"] for x in res["results"]} == {"main.parent", "main.child"}
    assert find_check(status_checks(af, p)["main.child"], "relationships(id, main.parent.id)")["passed"] is True


def test_relationships_to_unknown_asset_is_a_project_error(af, project):
    p = project({"assets/child.sql": values_sql([(1, "x")], header_checks('"relationships(id, main.nope.id)"'))})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert "assets/child.sql" in r.output and "nope" in r.output
    assert "Traceback" not in r.output


# ------------------------------------------------------------------------------------ bad specs

BAD_SPECS = [
    ("unknown_kind", '"no_such_check(v)"'),
    ("not_a_call", '"not_null"'),
    ("not_null_no_args", '"not_null()"'),
    ("not_null_number", '"not_null(1)"'),
    ("unique_keyword", '"unique(col=id)"'),
    ("accepted_values_no_list", '"accepted_values(v)"'),
    ("accepted_values_not_list", "\"accepted_values(v, 'x')\""),
    ("row_count_positional", '"row_count(3)"'),
    ("row_count_empty", '"row_count()"'),
    ("row_count_string", "\"row_count(min='a')\""),
    ("row_count_unknown_kw", '"row_count(least=1)"'),
    ("relationships_no_dot", '"relationships(id, parent)"'),
    ("relationships_one_arg", '"relationships(id)"'),
    ("garbage", '"not_null(v"'),
    ("bad_severity", '{ check = "unique(id)", severity = "fatal" }'),
    ("unknown_entry_key", '{ check = "unique(id)", level = "warn" }'),
    ("entry_without_check", '{ severity = "warn" }'),
    ("not_a_string", "42"),
]


@pytest.mark.parametrize("cid,entry", BAD_SPECS, ids=[c for c, _ in BAD_SPECS])
def test_bad_check_spec_in_sql_header(af, project, cid, entry):
    p = project({"assets/x.sql": values_sql([(1, "x")], "tags = [\"a\"]\n" + header_checks(entry))})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert re.search(r"assets/x\.sql:\d+", r.output), r.output
    assert "Traceback" not in r.output
    assert query_tables(p) == set()


def query_tables(p) -> set[str]:
    db = p / "warehouse.duckdb"
    if not db.exists():
        return set()
    return {r[0] for r in query(p, "select schema_name || '.' || table_name from duckdb_tables() "
                                   "where schema_name <> '_assetflow'")}


@pytest.mark.parametrize("entry", ['"no_such_check(v)"', '{"check": "unique(id)", "severity": "fatal"}',
                                   '"row_count(min=\'a\')"', "42"])
def test_bad_check_spec_in_python_decorator(af, project, entry):
    p = project({"assets/py.py": f"""
        import pyarrow as pa
        from assetflow import asset


        @asset(checks=[{entry}])
        def x() -> pa.Table:
            return pa.table({{"id": [1]}})
        """})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert re.search(r"assets/py\.py:\d+", r.output), r.output
    assert "Traceback" not in r.output


def test_bad_check_error_appears_in_status_too(af, project):
    p = project({"assets/x.sql": values_sql([(1, "x")], header_checks('"nope(v)"'))})
    for cmd in (("status",), ("check",), ("graph",)):
        r = af(p, *cmd)
        assert r.exit_code == 2, (cmd, r.output)
        assert "assets/x.sql" in r.output and "nope" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("text,needle", [
    ('/* assetflow\nseverity = "fatal"\n*/\nselect * from main.x where v < 0\n', "severity"),
    ('/* assetflow\nlevel = "warn"\n*/\nselect * from main.x where v < 0\n', "level"),
    ("select 1 as failing\n", "reads no asset"),
    ("select * from main.nope where v < 0\n", "nope"),
    ("select * from main.x where v <\n", "syntax"),
])
def test_bad_custom_check_file(af, project, text, needle):
    p = project({**CUSTOM_BASE, "checks/bad.sql": text})
    r = af(p, "materialize")
    assert r.exit_code == 2, r.output
    assert "checks/bad.sql" in r.output, r.output
    assert needle.lower() in r.output.lower(), r.output
    assert "Traceback" not in r.output


def test_check_on_missing_column_fails_the_step_clearly(af, project):
    p = project({"assets/x.sql": values_sql([(1, "x")], header_checks('"not_null(nope)"'))})
    res = mat(af, p, expect=1)
    err = results(res)[("main.x", None)]["error"]
    assert "nope" in err, err
    assert "Traceback" not in err
