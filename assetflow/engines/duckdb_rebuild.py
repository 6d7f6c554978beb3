"""Rebuilding a partitioned table beside the live one, when its output columns change.

A run that rebuilds every partition of an asset whose columns changed cannot write the new
partitions into the old table. Building them into the old table's place (drop, recreate, fill)
lost the old rows the moment the run began, and every partition that then failed stayed empty.
So the partitions are written into a staging table in the same schema (`<name>__assetflow_rebuild`:
DuckDB renames a table only within its schema), each in its own transaction with its attempt
recorded as `staged`; once every partition of the rebuild succeeded, one transaction drops the old
table, renames the staging table into its place and turns the staged attempts into successes.
DuckDB makes that rename atomic to readers: they see the old table until the commit, then the
new one. A rebuild that does not complete is dropped, and the old table, its rows and its records
are as they were.

Each rebuild begun is remembered in `_assetflow.meta` in the transaction that creates its staging
table, so a run that died (SIGKILL) leaves nothing the next run cannot find and drop.
"""
from __future__ import annotations

from assetflow.assets import AssetKey, quote_identifier
from assetflow.engines import duckdb_state as store
from assetflow.engines.duckdb_state import run
from assetflow.errors import AssetflowError

STAGING_SUFFIX = "__assetflow_rebuild"


class SchemaChangeError(AssetflowError):
    """A partition's output columns differ from the existing table's."""


def staging_key(key: AssetKey) -> AssetKey:
    return AssetKey(key.schema, key.name + STAGING_SUFFIX)


def is_staging_table(name: str) -> bool:
    """Whether a table name is a rebuild's staging table (not an asset of its own)."""
    return name.lower().endswith(STAGING_SUFFIX)


def same_columns(have: list[tuple[str, str]], new: list[tuple[str, str]]) -> bool:
    return [(c.lower(), t) for c, t in have] == [(c.lower(), t) for c, t in new]


def schema_change(key: AssetKey, have: list[tuple[str, str]], new: list[tuple[str, str]]) -> SchemaChangeError:
    """The error for a partial run whose output columns differ from the table's, with the diff."""
    old_cols, new_cols = dict(have), dict(new)
    diff = [f"-{c} {t}" for c, t in have if new_cols.get(c) != t] + \
           [f"+{c} {t}" for c, t in new if old_cols.get(c) != t]
    return SchemaChangeError(
        f"the output columns of {key} changed ({', '.join(diff) or 'column order'}); "
        "existing partitions have the old columns",
        hint=f"rebuild every partition: assetflow materialize {key} (without --partition), "
             "or add --full-refresh")


def begin(cur, key: AssetKey, source: str, params: dict | None) -> AssetKey:
    """Create the empty staging table with the new columns (in the caller's transaction)."""
    staging = staging_key(key)
    run(cur, f"DROP TABLE IF EXISTS {staging.quoted()}")
    run(cur, f"CREATE TABLE {staging.quoted()} AS SELECT * FROM ({source}) LIMIT 0", params)
    store.begin_rebuild(cur, str(key), staging.quoted())
    return staging


def swap_in(cur, key: AssetKey, run_id: str, fault) -> None:
    """Put the staging table in the old one's place, and its partitions' records with it (in the
    caller's transaction: readers see the old table and records until it commits)."""
    run(cur, f"DROP TABLE {key.quoted()}")
    fault("after_delete")
    run(cur, f"ALTER TABLE {staging_key(key).quoted()} RENAME TO {quote_identifier(key.name)}")
    store.promote_staged(cur, run_id, str(key))
    store.end_rebuild(cur, str(key))


def discard(cur, asset: str, staging: str) -> None:
    """Drop a rebuild that will not be swapped in (in the caller's transaction); the old table is
    untouched."""
    run(cur, f"DROP TABLE IF EXISTS {staging}")
    store.discard_staged(cur, asset)
    store.end_rebuild(cur, asset)
