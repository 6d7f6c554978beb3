"""Each construct SPARK-FACTS section 5 found silently different is run on DuckDB and, transpiled
by assetflow, on Spark over the same rows: the answers must be equal, or the construct refused at
compile time with its file and line."""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from assetflow.errors import ProjectError
from assetflow.project import sql_rewrite

DATA = """(SELECT * FROM (VALUES
    (1, TIMESTAMP '2024-01-01 10:30:00', DATE '2024-01-31', 37.57::DECIMAL(10, 2), 2.5::DOUBLE, 'a-b-c', 4::BIGINT),
    (2, TIMESTAMP '2024-03-03 23:59:59', DATE '2024-02-29', -2.5::DECIMAL(10, 2), 3.5::DOUBLE, 'x-y', 0::BIGINT),
    (3, TIMESTAMP '2023-12-31 00:00:00', DATE '2023-12-31', 0.5015::DECIMAL(10, 4), 0.5015::DOUBLE, '--', 7::BIGINT)
) AS t(id, ts, d, amount, x, s, n))"""

EQUAL = [
    "SELECT id, amount::INTEGER, x::INTEGER, CAST(x AS BIGINT), TRY_CAST(amount AS INT) FROM {t}",
    "SELECT id, dayofweek(ts), isodow(ts), dayofweek(d), isodow(d) FROM {t}",
    "SELECT id, regexp_replace(s, '-', '+', 'g') FROM {t}",
    "SELECT id, date_diff('month', d, DATE '2024-03-01'), date_diff('year', d, DATE '2025-01-01'), "
    "date_diff('quarter', d, DATE '2024-04-01'), date_diff('day', d, DATE '2024-03-01') FROM {t}",
    "SELECT id, dayname(d), monthname(ts), strftime(ts, '%a %b %d %Y %H:%M') FROM {t}",
    "SELECT id, d + INTERVAL 7 DAY, d - INTERVAL 1 MONTH, ts + INTERVAL 2 HOUR FROM {t}",
    "SELECT id, epoch(ts) FROM {t}",
    "SELECT id, amount / n, x / 2, 7 / 2, round(x, 3), round(amount, 2), round(amount / 3, 2), round(x) FROM {t} WHERE n <> 0",
    "SELECT quantile_cont(x::DOUBLE, 0.5), quantile_cont(CAST(amount AS DOUBLE), 0.25) FROM {t}",
    "SELECT id, $start <= ts AND ts < $end FROM {t}",
]

REFUSED = [
    ("SELECT regexp_replace(s, '-', '+') FROM {t}", "regexp_replace"),
    ("SELECT strftime(ts, '%j') FROM {t}", "strftime"),
    ("SELECT date_diff('hour', ts, ts) FROM {t}", "date_diff('hour'"),
    ("SELECT * FROM range(3) r(i)", "range"),
    ("SELECT epoch_ms(ts) FROM {t}", "epoch_ms"),
    ("SELECT quantile_disc(x, 0.5) FROM {t}", "quantile_disc"),
    ("SELECT quantile_cont(amount, 0.5) FROM {t}", "quantile_cont"),
    ("PIVOT {t} ON s USING sum(x)", "PIVOT"),
]

PARAMS = {"start": __import__("datetime").datetime(2024, 1, 1), "end": __import__("datetime").datetime(2024, 2, 1)}


def _normal(rows):
    def value(v):
        if isinstance(v, (float, Decimal)):
            return round(float(v), 9)
        return v
    return sorted((tuple(value(v) for v in r) for r in rows), key=repr)


@pytest.mark.parametrize("query", EQUAL)
def test_construct_gives_the_same_rows_on_duckdb_and_spark(spark, query):
    text = query.format(t=DATA)
    expected = duckdb.execute(text, {k: v for k, v in PARAMS.items() if f"${k}" in text} or None).fetchall()
    spark_sql = sql_rewrite.transpile(text, "duckdb", "spark", PARAMS)
    got = [tuple(r) for r in spark.sql(spark_sql).collect()]
    assert _normal(got) == _normal(expected), spark_sql


@pytest.mark.parametrize("query, construct", REFUSED)
def test_construct_without_an_equal_is_refused_with_file_and_line(query, construct):
    text = "\n\n" + query.format(t="t")
    with pytest.raises(ProjectError) as info:
        sql_rewrite.transpile(text, "duckdb", "spark", path="assets/x.sql")
    assert construct in info.value.message and info.value.path == "assets/x.sql"
    assert info.value.line == 3 and info.value.hint
