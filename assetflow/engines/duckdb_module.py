"""The DuckDB module, imported only as far as the work needs.

`import duckdb` (2.x) costs 0.15-0.3 s on a 2-core machine: beyond the C extension it builds the
Python relation API (hundreds of dataclasses) and reads package metadata for its version string.
Everything the engine does on the path of a no-op, `status` or a SQL build (connect, execute, fetch,
the exception classes) lives in the C extension `_duckdb`, which loads in 20-50 ms. So `core` is
that extension, and `python_api()` loads the full package only where its Python layer is used:
registering a Python asset's Arrow table, reading a relation as Arrow, handing a connection to user
code. Both are the same objects (`duckdb.Error is _duckdb.Error`); older releases without a
top-level `_duckdb` fall back to the package.
"""
from __future__ import annotations

from types import ModuleType

try:
    import _duckdb as core
except ImportError:              # duckdb < 1.4 ships its extension inside the package
    import duckdb as core        # type: ignore[no-redef]


def python_api() -> ModuleType:
    """The full `duckdb` package: it installs the relation methods (`sql`, `to_arrow_table`) on
    every connection and the Arrow scanners `register` needs. Idempotent and cheap once loaded."""
    import duckdb
    return duckdb
