"""The DuckDB side of `assetflow clean`, on a real database file: `--yes` removes all or nothing."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from assetflow.assets import AssetKey
from assetflow.engines.base import CleanRequest, PartitionRange
from assetflow.engines.duckdb import open_duckdb


@pytest.fixture
def engine(tmp_path):
    path = str(tmp_path / "w.duckdb")
    con = duckdb.connect(path)
    con.execute("create table main.old as select 1 as x; "
                "create table main.daily as select (DATE '2024-01-01' + i::INTEGER) as day from range(5) t(i)")
    con.close()
    eng = open_duckdb(path)
    eng.prepare(set(), [])
    yield eng
    eng.close()


DAILY = PartitionRange(AssetKey.of("main", "daily"), "day", "strftime(day, '%Y-%m-%d')",
                       date(2024, 1, 2), date(2024, 1, 4))


def test_rows_outside_a_range_are_counted_per_partition(engine):
    assert engine.cleaner().rows_outside(DAILY) == {"2024-01-01": 1, "2024-01-04": 1, "2024-01-05": 1}
    static = PartitionRange(AssetKey.of("main", "daily"), "day", "CAST(day AS VARCHAR)", keys=("2024-01-01",))
    assert sum(engine.cleaner().rows_outside(static).values()) == 4


def test_a_failure_part_way_through_removes_nothing(engine):
    request = CleanRequest(drop=((AssetKey.of("main", "old"), "table"), (AssetKey.of("main", "gone"), "table")),
                           outside=(DAILY,))
    with pytest.raises(duckdb.CatalogException):
        engine.cleaner().apply(request)
    assert engine.cleaner().relations() == {"main.old": "table", "main.daily": "table"}
    assert engine.connection().execute("select count(*) from main.daily").fetchall() == [(5,)]


def test_everything_requested_goes_together(engine):
    engine.cleaner().apply(CleanRequest(drop=((AssetKey.of("main", "old"), "table"),), outside=(DAILY,)))
    assert engine.cleaner().relations() == {"main.daily": "table"}
    assert engine.connection().execute("select count(*) from main.daily").fetchall() == [(2,)]
