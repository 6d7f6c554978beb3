"""Seeds in subfolders, and per-seed CSV options in assetflow.toml (issue 12, item 18)."""
from __future__ import annotations

import re
import textwrap

import pytest

from conftest import query

TOML = """
    [project]
    name = "t"
    dialect = "duckdb"

    [targets.dev]
    engine = "duckdb"
    path = "warehouse.duckdb"
    threads = 2
    """

COUNTRIES = "code;name\n276;Germany\n250;France\n"        # ISO numeric codes: sniffed as numbers
OPTIONS = """
    [seeds."ref.countries"]
    column_types = { code = "VARCHAR" }
    delimiter = ";"
    header = true
    """


def seeds_project(project, options: str = OPTIONS):
    return project({"seeds/ref/countries.csv": COUNTRIES,
                    "seeds/fx_rates.csv": "currency,rate\nEUR,1.0\nUSD,0.9\n",
                    "seeds/ref/deeper/regions.csv": "region\neu\nus\n",
                    "assets/marts/named.sql": "select c.code, c.name, r.region from ref.countries c, ref.regions r\n"},
                   TOML + textwrap.dedent(options))


def materialize(af, p, expect: int = 0) -> dict:
    r = af(p, "materialize", "--json")
    assert r.exit_code == expect, r.output
    return r.json()


def test_a_subfolder_of_seeds_is_the_schema(af, project):
    p = seeds_project(project)
    g = af(p, "graph", "--format", "json")
    assert g.exit_code == 0, g.output
    kinds = {a["name"]: (a["kind"], a["path"]) for a in g.json()["assets"]}
    assert kinds["ref.countries"] == ("seed", "seeds/ref/countries.csv")
    assert kinds["ref.regions"] == ("seed", "seeds/ref/deeper/regions.csv")
    assert kinds["seeds.fx_rates"] == ("seed", "seeds/fx_rates.csv")
    res = materialize(af, p)
    assert {x["asset"] for x in res["results"]} == {"ref.countries", "ref.regions", "seeds.fx_rates", "marts.named"}
    assert query(p, "select currency, rate from seeds.fx_rates order by 1") == [("EUR", 1.0), ("USD", 0.9)]
    assert query(p, "select count(*) from marts.named") == [(4,)]


def test_column_types_and_csv_options_from_assetflow_toml(af, project):
    p = seeds_project(project)
    materialize(af, p)
    assert query(p, "select code, name from ref.countries order by 1") == [("250", "France"), ("276", "Germany")]
    types = query(p, "select column_name, data_type from duckdb_columns() where schema_name = 'ref' "
                     "and table_name = 'countries' order by column_index")
    assert types == [("code", "VARCHAR"), ("name", "VARCHAR")]


def test_changing_a_seeds_options_changes_its_code_version(af, project):
    p = seeds_project(project)
    materialize(af, p)
    (p / "assetflow.toml").write_text(textwrap.dedent(TOML) + textwrap.dedent(OPTIONS.replace("VARCHAR", "INTEGER")))
    st = af(p, "status", "--json")
    stale = {a["name"]: a["stale"] for a in st.json()["assets"] if a["stale"]}
    assert stale["ref.countries"] == [{"partition": None, "reasons": ["code changed"]}]
    assert set(stale) == {"ref.countries", "marts.named"}
    res = materialize(af, p)
    assert [x["asset"] for x in res["results"]] == ["ref.countries", "marts.named"]
    assert query(p, "select code from ref.countries order by 1") == [(250,), (276,)]


def test_a_seed_without_options_is_detected_as_before(af, project):
    p = project({"seeds/plain.csv": "code,name\n276,Germany\n"}, TOML)
    materialize(af, p)
    assert query(p, "select code from seeds.plain") == [(276,)]      # DuckDB's sniffer reads a number


@pytest.mark.parametrize("options,needle", [
    ('[seeds."ref.countries"]\ndelim = ";"\n', "unknown key 'delim' in [seeds.\"ref.countries\"]"),
    ('[seeds."ref.countries"]\nheader = "yes"\n', "header must be bool"),
    ('[seeds."ref.countries"]\ncolumn_types = { code = 1 }\n', "column_types maps column names to type names"),
    ('[seeds."countries"]\ndelimiter = ";"\n', "names no seed file"),
    ('[seeds."ref.countries"]\nskip = -1\n', "skip is >= 0"),
])
def test_bad_seed_options_are_errors_naming_the_key_and_line(af, project, options, needle):
    p = seeds_project(project, options)
    r = af(p, "status")
    assert r.exit_code == 2, r.output
    assert needle in r.output, r.output
    assert re.search(r"assetflow\.toml:\d+", r.output) and "Traceback" not in r.output


def test_a_bare_seed_name_suggests_the_full_one(af, project):
    p = seeds_project(project, '[seeds."countries"]\ndelimiter = ";"\n')
    r = af(p, "status")
    assert "did you mean ref.countries?" in r.output, r.output


def test_csv_options_on_a_parquet_seed_are_an_error(af, project):
    import duckdb
    p = project({}, TOML + '[seeds."seeds.cities"]\ndelimiter = ";"\n')
    (p / "seeds").mkdir()
    duckdb.connect().execute(f"copy (select 1 as id) to '{p / 'seeds/cities.parquet'}' (format parquet)")
    r = af(p, "status")
    assert r.exit_code == 2 and "is not a CSV file" in r.output, r.output


def test_a_seed_folder_clashing_with_an_asset_is_an_error_naming_both(af, project):
    p = project({"seeds/ref/countries.csv": "code\nDE\n", "assets/ref/countries.sql": "select 'DE' as code\n"}, TOML)
    r = af(p, "status")
    assert r.exit_code == 2, r.output
    assert "seeds/ref/countries.csv" in r.output and "assets/ref/countries.sql" in r.output
