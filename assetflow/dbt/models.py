"""One rendered dbt model as an assetflow SQL asset: its kind from the materialization, the
partitioning of an incremental model, and the header."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from assetflow.dbt.report import DROPPED, NOTE, SKIPPED, Finding

DEFAULT_START = "2020-01-01"
_GRAINS = {"hour": "hour", "day": "day", "month": "month", "year": "month"}
# dbt builds an incremental model's history in one query on its first run; a batch of stale
# partitions per query keeps that first build fast (later runs have one stale partition anyway)
_BATCH = {"hour": 168, "day": 92, "month": 12}
# `{% if is_incremental() %} where x > (select max(x) from {{ this }}) {% endif %}`: x is the time column
_INCREMENTAL_BLOCK = re.compile(r"\{%-?\s*if\s+is_incremental\(\)\s*-?%\}(.*?)\{%-?\s*(?:endif|else)", re.S)
_MAX_OF = re.compile(r"max\(\s*\"?([A-Za-z_][A-Za-z0-9_]*)\"?\s*\)", re.I)
_THIS = re.compile(r"\{\{-?\s*this\s*-?\}\}")


@dataclass(frozen=True, slots=True)
class Shape:
    """How the asset is built: kind, and the partition settings of an incremental model."""

    kind: str                                   # table | view | partitioned
    settings: tuple[tuple[str, Any], ...] = ()  # header keys for a partitioned asset, in order
    time_column: str | None = None


def shape_of(materialized: str, config: Mapping[str, Any], raw: str, rel: str, default_start: str | None
             ) -> tuple[Shape | None, list[Finding]]:
    """The asset kind for a dbt materialization; None (with a finding) when there is none."""
    where = f"{rel}:1"
    if materialized in ("table", "view"):
        return Shape(materialized), []
    if materialized == "ephemeral":
        return Shape("view"), [Finding(where, "ephemeral model", "converted as a view (dbt inlines it as a CTE; "
                                       "the rows are the same)", NOTE)]
    if materialized != "incremental":
        return None, [Finding(where, f"materialization '{materialized}' is not converted",
                              "use table, view or incremental; port a custom materialization by hand", SKIPPED)]
    return _incremental(config, raw, where, default_start)


def _incremental(config: Mapping[str, Any], raw: str, where: str, default_start: str | None
                 ) -> tuple[Shape, list[Finding]]:
    column = config.get("event_time") or incremental_column(raw)
    if not isinstance(column, str) or not column:
        return Shape("table"), [Finding(where, "incremental model without an event_time or a recognizable date "
                                        "column: converted as a table, rebuilt whole on every change",
                                        "set config(event_time='col') to make it a partitioned asset", NOTE)]
    findings = []
    microbatch = config.get("incremental_strategy") == "microbatch"
    batch = str(config.get("batch_size", "day")).lower() if microbatch else "day"
    grain = _GRAINS.get(batch)
    if grain is None:
        grain = "day"
        findings.append(Finding(where, f"batch_size '{batch}' is not a partition grain", "partitioned by day", NOTE))
    elif batch == "year":
        findings.append(Finding(where, "batch_size 'year'", "partitioned by month (assetflow has no yearly "
                                "partitions); the rows are the same", NOTE))
    start = _start(config.get("begin"), grain)
    if start is None:
        start = default_start or DEFAULT_START
        findings.append(Finding(where, f"no `begin` config: partitions start at {start}",
                                "set config(begin='YYYY-MM-DD') or pass --start; rows before the start are not built",
                                NOTE))
    settings: list[tuple[str, Any]] = [("partition_by", grain), ("time_column", column), ("start", start),
                                       ("batch_size", _BATCH[grain])]
    lookback = config.get("lookback")
    if microbatch and isinstance(lookback, int) and not isinstance(lookback, bool) and lookback > 0:
        settings.append(("lookback", lookback))
    if config.get("unique_key"):
        findings.append(Finding(where, "unique_key is not used", f"each partition of {column} is replaced whole, "
                                "so rows are never merged by key", DROPPED))
    return Shape("partitioned", tuple(settings), column), findings


def incremental_column(raw: str) -> str | None:
    """The column an `is_incremental()` block compares with `max(col) from {{ this }}`."""
    for block in _INCREMENTAL_BLOCK.findall(raw):
        found = _MAX_OF.search(block)
        if found is not None and _THIS.search(block):
            return found.group(1)
    return None


def _start(value: Any, grain: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return moment.strftime("%Y-%m-%dT%H") if grain == "hour" else moment.date().isoformat()


def wrap_partitioned(sql: str, column: str) -> str:
    """The model's rows limited to the partition's window: assetflow builds one partition per query."""
    return (f"select * from (\n{sql}\n) as dbt_model\n"
            f"where {column} >= $start and {column} < $end")


def header(shape: Shape, tags: list[str], deps: list[str], checks: list[str], description: str | None = None,
           columns: tuple[tuple[str, str], ...] = ()) -> str:
    lines = ["/* assetflow", f"kind = {json.dumps(shape.kind)}"]
    if description and str(description).strip():
        lines.append(f"description = {_toml_string(str(description).strip())}")
    if columns:
        lines.append("columns = { " + ", ".join(f"{_toml_string(c)} = {_toml_string(d)}" for c, d in columns) + " }")
    lines += [f"{key} = {json.dumps(value)}" for key, value in shape.settings]
    if tags:
        lines.append(f"tags = {json.dumps(tags)}")
    if deps:
        lines.append(f"deps = {json.dumps(deps)}")
    if checks:
        lines += ["checks = ["] + [f"  {c}," for c in checks] + ["]"]
    return "\n".join(lines) + "\n*/\n"


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's); `*/` would end the header comment."""
    return json.dumps(text, ensure_ascii=False).replace("*/", "*\\u002f")


def clean_sql(sql: str) -> str:
    """The rendered SQL without trailing semicolons and blank lines (assetflow reads one query)."""
    text = sql.strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def strip_comments(sql: str) -> str:
    """SQL without `--` and `/* */` comments, quoted strings kept: what the query really reads."""
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            end = i + 1
            while end < n and sql[end] != ch:
                end += 1
            out.append(sql[i:end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
