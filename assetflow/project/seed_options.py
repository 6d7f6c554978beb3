"""`[seeds."schema.name"]` of assetflow.toml -> `SeedConfig`: how to read one CSV seed.

The shape follows dbt's seed configs (`+column_types`, `+delimiter`): one table per seed, named by
the seed's full name. The loader checks that each named seed exists (it knows the files).
"""
from __future__ import annotations

from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Callable

from assetflow.assets import SeedOptions
from assetflow.errors import ProjectError

# option -> the type it takes (bool is checked apart: to isinstance, it is an int)
OPTIONS: dict[str, type] = {
    "column_types": dict, "delimiter": str, "header": bool, "quote": str, "escape": str, "null": str,
    "skip": int, "date_format": str, "timestamp_format": str,
}
_TYPES_HINT = 'column_types = { code = "VARCHAR", amount = "DECIMAL(18, 2)" }'


@dataclass(frozen=True, slots=True)
class SeedConfig:
    name: str                       # schema.name, lower-cased
    options: SeedOptions
    line: int | None = None         # of its table in assetflow.toml


def parse_seeds(raw: dict[str, Any], path: str, line_of: Callable[[str], int | None]) -> tuple[SeedConfig, ...]:
    """Each `[seeds."ref.countries"]` table; unknown keys and wrong types are errors with the line."""
    seeds = []
    for name, spec in raw.items():
        where, line = f'seeds."{name}"', line_of(name)
        if not isinstance(spec, dict):
            raise ProjectError(f"[{where}] must be a table of options", path=path, line=line,
                               hint=f'[{where}]\ncolumn_types = {{ code = "VARCHAR" }}')
        for key, value in spec.items():
            if key not in OPTIONS:
                close = get_close_matches(key, OPTIONS, n=1)
                raise ProjectError(f"unknown key '{key}' in [{where}]", path=path, line=line_of(key),
                                   hint=f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(OPTIONS)}")
            kind = OPTIONS[key]
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ProjectError(f"{where}.{key} must be {kind.__name__}, not {value!r}", path=path,
                                   line=line_of(key))
        types = spec.get("column_types", {})
        if not all(isinstance(v, str) for v in types.values()) or spec.get("skip", 0) < 0:
            raise ProjectError(f"{where}: column_types maps column names to type names and skip is >= 0",
                               path=path, line=line, hint=_TYPES_HINT)
        options = {k: v for k, v in spec.items() if k != "column_types"}
        # sorted: the order of the TOML table changes nothing, so it is no new code version
        seeds.append(SeedConfig(name.lower(), SeedOptions(column_types=tuple(sorted(types.items())), **options), line))
    return tuple(seeds)
