"""A pandas DataFrame's meaningful index becomes columns (issue 12, item 17).

`groupby().sum()` puts its keys in the index; dropping every index lost them. Named levels and
unnamed label indexes (dates, text) are kept as the first columns, as `reset_index()` makes them;
an unnamed integer index holds positions and is dropped (tests/e2e/test_python_assets.py checks
the filtered frame).
"""
from __future__ import annotations

import pytest

from conftest import query

pytest.importorskip("pandas")

ORDERS = "select * from (values (1, 'a', 'eu', 10), (2, 'b', 'us', 20), (3, 'a', 'eu', 5)) t(id, customer, region, amount)\n"

FRAMES = """
    import pandas as pd
    import pyarrow as pa
    from assetflow import asset


    @asset
    def by_customer(orders: pa.Table):
        return orders.to_pandas().groupby("customer")[["amount"]].sum()


    @asset
    def by_customer_region(orders: pa.Table):
        return orders.to_pandas().groupby(["customer", "region"]).agg(total=("amount", "sum"))


    @asset
    def labelled(orders: pa.Table):
        df = orders.to_pandas().set_index("customer")[["amount"]]
        df.index.name = None                      # an unnamed index of labels
        return df


    @asset
    def sorted_positions(orders: pa.Table):
        return orders.to_pandas().sort_values("amount")[["id", "amount"]]   # index 2, 0, 1
    """


def columns(p, table: str) -> list[str]:
    return [r[0] for r in query(p, "select column_name from duckdb_columns() where schema_name = 'main' "
                                   f"and table_name = '{table}' order by column_index")]


def test_the_keys_of_a_grouped_frame_are_kept_as_its_first_columns(af, project):
    p = project({"assets/orders.sql": ORDERS, "assets/frames.py": FRAMES})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    assert columns(p, "by_customer") == ["customer", "amount"]
    assert query(p, "select customer, amount from main.by_customer order by 1") == [("a", 15), ("b", 20)]
    assert columns(p, "by_customer_region") == ["customer", "region", "total"]
    assert query(p, "select * from main.by_customer_region order by 1, 2") == [("a", "eu", 15), ("b", "us", 20)]
    assert columns(p, "labelled") == ["index", "amount"]
    assert sorted(query(p, "select * from main.labelled")) == [("a", 5), ("a", 10), ("b", 20)]
    assert columns(p, "sorted_positions") == ["id", "amount"]


def test_an_index_named_like_a_column_is_a_clear_permanent_error(af, project):
    p = project({"assets/orders.sql": ORDERS, "assets/clash.py": """
        import pyarrow as pa
        from assetflow import asset


        @asset(retries=2)
        def clash(orders: pa.Table):
            df = orders.to_pandas()
            return df.set_index(df["id"])            # index named id, and an id column
        """})
    r = af(p, "materialize", "--json")
    assert r.exit_code == 1, r.output
    failed = next(x for x in r.json()["results"] if x["asset"] == "main.clash")
    assert failed["attempts"] == 1
    assert "clash() in assets/clash.py returned a DataFrame whose index cannot become columns" in failed["error"]
    assert "id" in failed["error"] and "(not retried: permanent)" in failed["error"]
