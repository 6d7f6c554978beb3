"""A project folder that moves (issue 12 item 19): file sources are views over absolute paths, so
after `mv` they read the old place. `status` says so, and the next `materialize`, even one with
nothing to build, points them at the files' new place.
"""
from __future__ import annotations

import shutil

import duckdb
import pytest

from conftest import query

TOML = """
[project]
name = "moving"
dialect = "duckdb"

[targets.dev]
engine = "duckdb"
path = "warehouse.duckdb"
threads = 2

[sources]
"raw.orders" = { path = "data/orders.csv" }
"""

FILES = {
    "data/orders.csv": "id,amount\n1,10\n2,20\n",
    "assets/staging/orders.sql": "select id, amount from raw.orders\n",
    "assets/staging/doubled.sql": '/* assetflow\nkind = "view"\n*/\nselect id, amount * 2 as amount2 from raw.orders\n',
}


def moved(project, tmp_path):
    p = project(FILES, TOML)
    return p, tmp_path / "elsewhere" / "moving"


def build_and_move(af, project, tmp_path):
    p, new = moved(project, tmp_path)
    r = af(p, "materialize")
    assert r.exit_code == 0, r.output
    new.parent.mkdir()
    shutil.move(str(p), str(new))
    return p, new


def test_status_reports_the_moved_views_and_a_run_with_nothing_to_do_repoints_them(af, project, tmp_path):
    old, p = build_and_move(af, project, tmp_path)
    with pytest.raises(duckdb.IOException, match="No files found"):
        query(p, "select * from staging.doubled")         # the view still reads the old place

    st = af(p, "status", "--json")
    assert st.exit_code == 0, st.output
    assert all(a["partitions"]["fresh"] == 1 for a in st.json()["assets"])      # the data itself is fine
    assert st.json()["moved_sources"] == [{"name": "raw.orders", "view_reads": str(old / "data/orders.csv"),
                                           "files": str(p / "data/orders.csv")}]
    text = af(p, "status")
    assert "source raw.orders" in text.stdout and "assetflow materialize" in text.stdout, text.output

    r = af(p, "materialize", "--json")
    assert r.exit_code == 0 and r.json()["results"] == [], r.output
    assert query(p, "select id, amount2 from staging.doubled order by id") == [(1, 20), (2, 40)]
    assert query(p, "select count(*) from raw.orders") == [(2,)]
    st = af(p, "status", "--json")
    assert st.json()["moved_sources"] == [], st.output

    (p / "data/orders.csv").write_text("id,amount\n1,10\n2,20\n3,30\n")      # the new place is what is read
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0 and {x["asset"] for x in r.json()["results"]} == {"staging.orders", "staging.doubled"}, \
        r.output
    assert query(p, "select sum(amount) from staging.orders") == [(60,)]
    assert query(p, "select sum(amount2) from staging.doubled") == [(120,)]


def test_a_run_with_work_after_a_move_reads_the_new_place(af, project, tmp_path):
    _, p = build_and_move(af, project, tmp_path)
    (p / "assets/staging/orders.sql").write_text("select id, amount, amount > 15 as big from raw.orders\n")
    r = af(p, "materialize", "--json")
    assert r.exit_code == 0, r.output
    assert [(x["asset"], x["status"]) for x in r.json()["results"]] == [("staging.orders", "success")]
    assert query(p, "select id, big from staging.orders order by id") == [(1, False), (2, True)]
    assert query(p, "select sum(amount2) from staging.doubled") == [(60,)]
    assert af(p, "status", "--json").json()["moved_sources"] == []
