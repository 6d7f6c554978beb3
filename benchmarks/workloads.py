"""Generate the benchmark workloads: assetflow projects plus the raw DuckDB scripts they race.

Every workload is deterministic (fixed seeds, hash-based data). Each generator writes an assetflow
project into a folder and returns the SQL statements a plain DuckDB script runs to do the same work,
so that `run.py` can time both in one run. The raw SQL is the very text of the asset files (they
are written with schema-qualified names already), so both sides run the same statements.

Workloads:
  layered_dag(N)      N SQL assets in ~10 layers over a ~10k-row parquet source
  backfill(days,rows) a daily partitioned asset over `days` x `rows` events, and a daily consumer;
                      the events as one Parquet file per day, or (table=True) as one DuckDB table
                      in the target database (events_table_db builds it once, run.py copies it)
  status_scale(A,P)   A small daily-partitioned assets x P partitions, state fully built
"""
from __future__ import annotations

import datetime as dt
import json
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"

TOML = """\
[project]
name = "{name}"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
{threads}
[sources]
{sources}
"""


def _toml(name: str, sources: dict[str, str], threads: int | None = None, kind: str = "path") -> str:
    """`kind` = "path" (a file glob) or "table" (a table of the target database)."""
    src = "\n".join(f'"{k}" = {{ {kind} = "{v}" }}' for k, v in sources.items())
    return TOML.format(name=name, sources=src, threads=f"threads = {threads}\n" if threads else "")


def _duckdb():
    import duckdb
    return duckdb


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ============================================================================ 1. layered DAG

@dataclass
class DagAsset:
    name: str                       # schema.name
    layer: int
    upstream: list[str]
    template: str                   # SQL with {lit} for the editable literal
    lit: int

    def sql(self, lit: int | None = None) -> str:
        return self.template.replace("{lit}", str(self.lit if lit is None else lit))

    @property
    def path(self) -> str:
        schema, name = self.name.split(".")
        return f"assets/{schema}/{name}.sql"


@dataclass
class DagWorkload:
    root: Path
    source_path: Path               # the parquet file behind raw.src
    assets: list[DagAsset]          # topological order
    downstream: dict[str, set[str]] = field(default_factory=dict)

    @property
    def by_name(self) -> dict[str, DagAsset]:
        return {a.name: a for a in self.assets}

    def schemas(self) -> list[str]:
        return sorted({a.name.split(".")[0] for a in self.assets})

    def closure(self, name: str) -> list[DagAsset]:
        """`name` and everything downstream of it, in topological order."""
        seen, todo = {name}, [name]
        while todo:
            for d in self.downstream.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return [a for a in self.assets if a.name in seen]

    def edit_targets(self) -> dict[str, DagAsset]:
        """Layer-1 assets to edit: the one with the median downstream closure (a typical
        root-adjacent edit) and the one with the largest."""
        layer1 = sorted((a for a in self.assets if a.layer == 1), key=lambda a: (len(self.closure(a.name)), a.name))
        return {"median": layer1[len(layer1) // 2], "largest": layer1[-1]}

    def write_asset(self, asset: DagAsset, lit: int) -> None:
        asset.lit = lit
        (self.root / asset.path).write_text(asset.sql())

    def raw_prelude(self) -> list[str]:
        out = [f"CREATE SCHEMA IF NOT EXISTS {s}" for s in ["raw", *self.schemas()]]
        out.append(f"CREATE OR REPLACE VIEW raw.src AS SELECT * FROM read_parquet({sql_string(str(self.source_path))})")
        return out

    def raw_statements(self, assets: list[DagAsset]) -> list[str]:
        return [f"CREATE OR REPLACE TABLE {a.name} AS {a.sql()}" for a in assets]


SRC_ROWS = 10_000
TINY_ROWS = 500              # the tiny assets: ~3 ms of DuckDB work each
COLUMNS = "k, grp, cat, amount, qty"


def _dag_templates(rng: random.Random, ups: list[str], lit: int) -> str:
    """One asset's SELECT over 1-3 upstreams; every asset has columns (k, grp, cat, amount, qty)."""
    a = ups[0]
    kind = {1: rng.choice(["filter", "group", "window", "filter_case"]),
            2: rng.choice(["join", "union"]), 3: "join"}[len(ups)]
    if kind == "filter":
        return textwrap.dedent(f"""\
            -- filter and derive
            select k, grp, cat, amount * 1.01 + {{lit}} as amount, qty + 1 as qty
            from {a}
            where amount > {rng.randint(0, 30)} or qty % {rng.randint(2, 5)} = 0
            """)
    if kind == "filter_case":
        return textwrap.dedent(f"""\
            select k, grp,
                   case when amount > {{lit}} then upper(cat) else cat end as cat,
                   round(amount, 2) as amount, qty
            from {a}
            where grp <> {rng.randint(0, 99)}
            """)
    if kind == "group":
        return textwrap.dedent(f"""\
            -- aggregate per group and category
            select min(k) as k, grp, cat, sum(amount) + {{lit}} as amount, cast(sum(qty) as bigint) as qty
            from {a}
            group by grp, cat
            """)
    if kind == "window":
        return textwrap.dedent(f"""\
            select k, grp, cat,
                   sum(amount) over (partition by grp order by k rows between 3 preceding and current row)
                       + {{lit}} as amount,
                   qty
            from {a}
            """)
    if kind == "union":
        b = ups[1]
        return textwrap.dedent(f"""\
            select k, grp, cat, amount + {{lit}} as amount, qty from {a} where k % 2 = 0
            union all
            select k, grp, cat, amount, qty from {b} where k % 2 = 1
            """)
    # join: a left join aggregated b (and c): keeps a's row count
    joins, adds_amount, adds_qty = [], [], []
    for i, u in enumerate(ups[1:], start=1):
        alias = "bcd"[i - 1]
        joins.append(textwrap.dedent(f"""\
            left join (
                select grp, cat, sum(amount) as amount, cast(sum(qty) as bigint) as qty, count(*) as n
                from {u}
                where qty > {rng.randint(0, 3)}
                group by grp, cat
            ) as {alias} on {alias}.grp = a.grp and {alias}.cat = a.cat"""))
        adds_amount.append(f"coalesce({alias}.amount / {alias}.n, 0)")
        adds_qty.append(f"coalesce({alias}.qty, 0)")
    return (f"select a.k, a.grp, a.cat,\n       a.amount + {' + '.join(adds_amount)} + {{lit}} as amount,\n"
            f"       cast(a.qty + {' + '.join(adds_qty)} as bigint) as qty\nfrom {a} as a\n"
            + "\n".join(joins) + "\n")


def layered_dag(root: Path, n_assets: int, *, layers: int = 10, seed: int = 7, src_rows: int = SRC_ROWS) -> DagWorkload:
    """N SQL assets in `layers` layers; layer 1 reads the source, later layers read 1-3 earlier assets.

    `src_rows` sizes the source: 10,000 rows make assets of 8-11 ms of DuckDB work each; 500 rows
    make the *tiny* ones (about 3 ms each), where a tool's fixed cost per step shows.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    source = root / "data" / "src.parquet"
    con = _duckdb().connect()
    con.execute(f"""
        COPY (
            SELECT i::BIGINT AS k,
                   (hash(i, 1) % 100)::INTEGER AS grp,
                   'c' || (hash(i, 2) % 10)::VARCHAR AS cat,
                   round((hash(i, 3) % 100000) / 1000.0, 3)::DOUBLE AS amount,
                   (hash(i, 4) % 20)::BIGINT AS qty
            FROM range({src_rows}) t(i)
        ) TO {sql_string(str(source))} (FORMAT parquet)""")
    con.close()
    (root / "assetflow.toml").write_text(_toml(f"dag{n_assets}", {"raw.src": "data/src.parquet"}))
    per_layer = [n_assets // layers + (1 if i < n_assets % layers else 0) for i in range(layers)]
    assets: list[DagAsset] = []
    by_layer: list[list[str]] = []
    counter = 0
    for layer, count in enumerate(per_layer, start=1):
        names = []
        for _ in range(count):
            counter += 1
            name = f"l{layer:02d}.a{counter:04d}"
            if layer == 1:
                ups = ["raw.src"]
            else:
                # mostly the previous layer, sometimes further back (a realistic, ragged DAG)
                pool_prev = by_layer[-1]
                pool_any = [x for lay in by_layer for x in lay]
                k = rng.choice([1, 1, 2, 2, 3])
                ups = [rng.choice(pool_prev)]
                while len(ups) < k:
                    cand = rng.choice(pool_any if rng.random() < 0.4 else pool_prev)
                    if cand not in ups:
                        ups.append(cand)
            lit = rng.randint(1, 50)
            template = _dag_templates(rng, ups, lit)
            assets.append(DagAsset(name, layer, ups, template, lit))
            names.append(name)
        by_layer.append(names)
    wl = DagWorkload(root, source, assets)
    for a in assets:
        for u in a.upstream:
            wl.downstream.setdefault(u, set()).add(a.name)
        p = root / a.path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(a.sql())
    return wl


# ============================================================================ 2. backfill

@dataclass
class BackfillWorkload:
    root: Path
    events_glob: str
    first_day: dt.date
    days: int
    daily: str = "marts.daily_events"
    consumer: str = "reports.daily_country"
    table_db: Path | None = None    # table source: the DuckDB file holding raw.events, copied per run

    def day(self, i: int) -> dt.date:
        return self.first_day + dt.timedelta(days=i)

    @property
    def last_day(self) -> dt.date:
        return self.day(self.days - 1)

    DAILY_SELECT = textwrap.dedent("""\
        select cast(event_ts as date) as day,
               country,
               event_type,
               count(*) as events,
               count(distinct user_id) as users,
               sum(value) as value,
               max(value) as max_value
        from raw.events
        where event_ts >= $start and event_ts < $end
        group by all
        """)
    CONSUMER_SELECT = textwrap.dedent("""\
        select day,
               country,
               sum(events) as events,
               sum(users) as users,
               sum(value) as value,
               sum(events) filter (where event_type = 'purchase') as purchases,
               sum(value) filter (where event_type = 'purchase') / nullif(sum(events), 0) as value_per_event
        from marts.daily_events
        where day >= $start and day < $end
        group by all
        """)

    def raw_setup(self) -> list[str]:
        d, c = self.daily, self.consumer
        return [
            "CREATE SCHEMA IF NOT EXISTS raw", "CREATE SCHEMA IF NOT EXISTS marts",
            "CREATE SCHEMA IF NOT EXISTS reports",
            *([] if self.table_db else
              [f"CREATE OR REPLACE VIEW raw.events AS SELECT * FROM read_parquet({sql_string(self.events_glob)})"]),
            f"CREATE TABLE IF NOT EXISTS {d} AS SELECT * FROM ({self._bind(self.DAILY_SELECT)}) LIMIT 0",
            f"CREATE TABLE IF NOT EXISTS {c} AS SELECT * FROM ({self._bind(self.CONSUMER_SELECT)}) LIMIT 0",
        ]

    @staticmethod
    def _bind(select: str) -> str:
        return select.replace("$start", "DATE '2000-01-01'").replace("$end", "DATE '2000-01-02'")

    def raw_partition_statements(self) -> list[tuple[str, str, str]]:
        """(table, delete sql, insert sql), each with parameters (start, end) as $start/$end."""
        return [
            (self.daily, f"DELETE FROM {self.daily} WHERE day >= $start AND day < $end",
             f"INSERT INTO {self.daily} {self.DAILY_SELECT}"),
            (self.consumer, f"DELETE FROM {self.consumer} WHERE day >= $start AND day < $end",
             f"INSERT INTO {self.consumer} {self.CONSUMER_SELECT}"),
        ]


def events_data(days: int, rows_per_day: int, first_day: dt.date) -> str:
    """Write (once) `days` parquet files of `rows_per_day` events each into benchmarks/.cache/; the glob."""
    folder = CACHE_DIR / f"events_{first_day:%Y%m%d}_{days}x{rows_per_day}"
    done = folder / "_DONE"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        con = _duckdb().connect()
        for i in range(days):
            day = first_day + dt.timedelta(days=i)
            out = folder / f"{day:%Y-%m-%d}.parquet"
            # hash-based pseudo random columns; event_ts sorted within the day
            con.execute(f"""
                COPY (
                    SELECT TIMESTAMP '{day:%Y-%m-%d}' + to_microseconds((r * 86400000000 // {rows_per_day})::BIGINT)
                               AS event_ts,
                           (hash(r, {i}, 1) % 500000)::BIGINT AS user_id,
                           ['DE','FR','US','GB','JP','BR','IN','NL','ES','IT','CA','AU'][1 + (hash(r, {i}, 2) % 12)::BIGINT]
                               AS country,
                           ['view','view','view','click','click','add_to_cart','purchase'][1 + (hash(r, {i}, 3) % 7)::BIGINT]
                               AS event_type,
                           round((hash(r, {i}, 4) % 100000) / 100.0, 2)::DOUBLE AS value
                    FROM range({rows_per_day}) t(r)
                    ORDER BY event_ts
                ) TO {sql_string(str(out))} (FORMAT parquet)""")
        con.close()
        done.write_text(json.dumps({"days": days, "rows_per_day": rows_per_day}))
    return str(folder / "*.parquet")


def events_table_db(days: int, rows_per_day: int, first_day: dt.date) -> Path:
    """(Once) a DuckDB file whose table raw.events holds the same events as the Parquet files,
    sorted by time (as a loaded fact table is), so a day's scan reads only that day's row groups."""
    glob = events_data(days, rows_per_day, first_day)
    path = CACHE_DIR / f"events_table_{first_day:%Y%m%d}_{days}x{rows_per_day}.duckdb"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = _duckdb().connect(str(tmp))
        con.execute("CREATE SCHEMA raw")
        con.execute(f"CREATE TABLE raw.events AS SELECT * FROM read_parquet({sql_string(glob)}) ORDER BY event_ts")
        con.execute("CHECKPOINT")
        con.close()
        tmp.rename(path)
    return path


def backfill(root: Path, days: int, rows_per_day: int, *, first_day: dt.date = dt.date(2024, 1, 1),
             table: bool = False) -> BackfillWorkload:
    glob = events_data(days, rows_per_day, first_day)
    table_db = events_table_db(days, rows_per_day, first_day) if table else None
    wl = BackfillWorkload(root, glob, first_day, days, table_db=table_db)
    root.mkdir(parents=True, exist_ok=True)
    source = {"raw.events": "raw.events"} if table else {"raw.events": glob}
    (root / "assetflow.toml").write_text(_toml("backfill", source, kind="table" if table else "path"))
    header = textwrap.dedent(f"""\
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "{wl.first_day:%Y-%m-%d}"
        end = "{wl.last_day:%Y-%m-%d}"
        */
        """)
    for name, select in ((wl.daily, wl.DAILY_SELECT), (wl.consumer, wl.CONSUMER_SELECT)):
        schema, table = name.split(".")
        p = root / "assets" / schema / f"{table}.sql"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(header + select)
    return wl


# ============================================================================ 3. status at scale

@dataclass
class StatusWorkload:
    root: Path
    assets: list[str]
    first_day: dt.date
    days: int


def status_scale(root: Path, n_assets: int, days: int, *, seed: int = 11,
                 first_day: dt.date = dt.date(2023, 1, 1)) -> StatusWorkload:
    """`n_assets` small daily assets (a forest of trees: each reads 1-2 earlier ones), `days` partitions.

    Only the files are written here; `build_status_state` makes the state "fully built".
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "assetflow.toml").write_text(_toml("status", {}))
    last = first_day + dt.timedelta(days=days - 1)
    header = textwrap.dedent(f"""\
        /* assetflow
        kind = "partitioned"
        partition_by = "day"
        time_column = "day"
        start = "{first_day:%Y-%m-%d}"
        end = "{last:%Y-%m-%d}"
        */
        """)
    names: list[str] = []
    roots = max(1, n_assets // 50)
    for i in range(n_assets):
        name = f"s{i // 100:02d}.t{i:04d}"
        if i < roots:
            body = f"select cast($start as date) as day, {i}::bigint as v, 'root' as tag\n"
        else:
            ups = rng.sample(names, k=min(len(names), rng.choice([1, 1, 2])))
            if len(ups) == 1:
                body = (f"select day, v + {i % 7} as v, tag\nfrom {ups[0]}\n"
                        "where day >= $start and day < $end\n")
            else:
                body = (f"select a.day, a.v + b.v as v, a.tag\nfrom {ups[0]} as a\n"
                        f"join {ups[1]} as b on a.day = b.day\n"
                        "where a.day >= $start and a.day < $end\n")
        schema, table = name.split(".")
        p = root / "assets" / schema / f"{table}.sql"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(header + body)
        names.append(name)
    return StatusWorkload(root, names, first_day, days)


def seed_status_state(root: Path, first_day: dt.date, days: int) -> int:
    """Record every partition of every asset of a status workload as built, without building them.

    Building one partition of each of 10,000 assets for real takes 24 minutes on this (loaded)
    2-core machine and writes a 2.8 GB file (a DuckDB table takes a block however small), so the
    state is written here the way runs leave it: assetflow creates its store (its own engine), the
    asset tables exist (empty: `status` and planning read the state, not the rows), and
    `_assetflow.partitions` holds one successful record per asset and day with the code version
    assetflow computes for the asset (its own loader) and data versions in build order (topological
    position p, day i: p * (days + 1) + i, so every partition is newer than what it reads), plus a
    folded run. `status --json` then finds every partition fresh, as after real builds (run.py
    checks it). Returns the number of partition records.
    """
    from assetflow import api
    from assetflow.engines.duckdb import open_duckdb
    project = api.load_project(root)
    graph = api.graph_of(project)
    db = str(root / "warehouse.duckdb")
    engine = open_duckdb(db)
    engine.fold_runs()                     # creates the state store
    engine.close()
    names = list(graph.order)
    codes = [graph.assets[n].code_version for n in names]
    con = _duckdb().connect(db)
    con.execute("BEGIN")
    for schema in sorted({n.split(".")[0] for n in names}):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name in names:
        con.execute(f"CREATE TABLE {name} (day DATE, v BIGINT, tag VARCHAR)")
    con.execute(f"""
        INSERT INTO _assetflow.partitions
        SELECT a.asset, strftime(DATE '{first_day:%Y-%m-%d}' + i::INTEGER, '%Y-%m-%d'), 'success', a.code,
               a.p * {days + 1} + i + 1, 1, TIMESTAMP '{first_day:%Y-%m-%d}' + INTERVAL 1 DAY, 'seed', NULL
        FROM (SELECT unnest($1::VARCHAR[]) AS asset, unnest($2::VARCHAR[]) AS code,
                     unnest(range(len($1)::BIGINT)) AS p) a, range({days}) t(i)""", [names, codes])
    con.execute("INSERT INTO _assetflow.runs VALUES ('seed', 'seed', 'dev', 0, now()::TIMESTAMP, now()::TIMESTAMP, "
                "'success', true)")
    con.execute("COMMIT")
    n = con.execute("SELECT count(*) FROM _assetflow.partitions").fetchone()[0]
    con.close()
    return n


def extend_status_state(db: Path, first_day: dt.date, days: int) -> int:
    """Copy each asset's one built partition to all `days` partitions in `_assetflow.partitions`.

    Data versions keep the build order: version v of partition 0 becomes v * (days + 1) + i, so a
    downstream partition always has a larger version than every upstream partition it reads.
    Returns the number of partition records.
    """
    con = _duckdb().connect(str(db))
    first = f"{first_day:%Y-%m-%d}"
    con.execute("BEGIN")
    con.execute(f"""
        CREATE TEMP TABLE seed AS SELECT * FROM _assetflow.partitions WHERE partition = '{first}'""")
    con.execute("DELETE FROM _assetflow.partitions")
    con.execute(f"""
        INSERT INTO _assetflow.partitions
        SELECT s.asset, strftime(DATE '{first}' + i::INTEGER, '%Y-%m-%d'), s.status, s.code_version,
               s.data_version * {days + 1} + i, s.rows, s.built_at, s.run_id, s.error
        FROM seed s, range({days}) t(i)""")
    con.execute("COMMIT")
    n = con.execute("SELECT count(*) FROM _assetflow.partitions").fetchone()[0]
    con.close()
    return n
