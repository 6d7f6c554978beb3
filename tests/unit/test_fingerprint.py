"""Code versions: every setting is classified, and only real changes change a version."""
from __future__ import annotations

import importlib.util
import textwrap
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path

import pytest

from assetflow.assets import AssetSettings, Kind
from assetflow.durations import parse_duration
from assetflow.project.fingerprint import (DATA_AFFECTING, METADATA_ONLY, python_code_version, sql_code_version,
                                   unclassified_settings)
from assetflow.partitions import Grain, TimePartitions

SETTINGS = AssetSettings()
DAILY = AssetSettings(kind=Kind.PARTITIONED, partitioning=TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d"))


def test_every_setting_is_classified_exactly_once():
    assert unclassified_settings() == set()
    names = {f.name for f in fields(AssetSettings)}
    assert DATA_AFFECTING | METADATA_ONLY == names
    assert not DATA_AFFECTING & METADATA_ONLY


# ---------------------------------------------------------------------------- settings


@pytest.mark.parametrize("change", [
    {"retries": 3}, {"retry_delay": 9.0}, {"tags": ("x",)}, {"checks": ("not_null(a)",)},
    {"deps": ("raw.t",)}, {"batch_size": 7}, {"max_age": parse_duration("24h")},
    {"retry_on": ("ConnectionError",)},
    {"description": "what it holds"}, {"owner": "finance"}, {"columns": (("a", "the a"),)},
])
def test_metadata_settings_do_not_change_the_version(change):
    assert set(change) <= METADATA_ONLY
    assert sql_code_version("select 1", replace(DAILY, **change)) == sql_code_version("select 1", DAILY)


@pytest.mark.parametrize("change", [
    {"kind": Kind.VIEW, "partitioning": None},
    {"partitioning": TimePartitions(Grain.DAY, datetime(2024, 1, 1), "other_column")},
    {"partitioning": TimePartitions(Grain.MONTH, datetime(2024, 1, 1), "d")},
    {"lookback": 3},
])
def test_data_settings_change_the_version(change):
    assert sql_code_version("select 1", replace(DAILY, **change)) != sql_code_version("select 1", DAILY)


@pytest.mark.parametrize("change", [
    {"partitioning": TimePartitions(Grain.DAY, datetime(2024, 1, 2), "d")},
    {"partitioning": TimePartitions(Grain.DAY, datetime(2024, 1, 1), "d", end=datetime(2024, 2, 1))},
])
def test_moving_the_partition_range_keeps_existing_partitions_fresh(change):
    """`start`/`end` decide which partitions exist, not what one holds (docs/concepts.md)."""
    assert sql_code_version("select 1", replace(DAILY, **change)) == sql_code_version("select 1", DAILY)


def test_sql_version_follows_the_normalized_query():
    assert sql_code_version("select 1", SETTINGS) == sql_code_version("select 1", SETTINGS)
    assert sql_code_version("select 1", SETTINGS) != sql_code_version("select 2", SETTINGS)


# ---------------------------------------------------------------------------- python functions


@pytest.fixture
def load(tmp_path: Path):
    """load(source) -> the function `f` defined by `source`, from a real file (inspect needs one)."""
    counter = iter(range(1000))

    def make(source: str):
        path = tmp_path / f"asset_module_{next(counter)}.py"
        path.write_text(textwrap.dedent(source).lstrip())
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.f

    return make


BODY = '''
from assetflow import asset

@asset(partition_by="day")
def f(orders, context):
    """Daily totals."""
    total = sum(orders)  # add them up
    return total * 2
'''


def version(function, settings: AssetSettings = SETTINGS, explicit: str | None = None) -> str:
    return python_code_version(function, settings, explicit)


@pytest.mark.parametrize("variant", [
    BODY.replace('"""Daily totals."""', '"""Daily totals, reworded.\n\n    With more lines.\n    """'),
    BODY.replace('    """Daily totals."""\n', ""),
    BODY.replace("# add them up", "# a different comment"),
    BODY.replace("  # add them up", "") + "# a comment after\n",
    BODY.replace("total = sum(orders)", "total = sum( orders )").replace("total * 2", "(total * 2)"),
    BODY.replace('@asset(partition_by="day")', '@asset(partition_by="day", tags=["x"])'),
    "# a leading comment\n\n" + BODY,
])
def test_docstrings_comments_and_formatting_do_not_change_the_version(load, variant):
    assert version(load(variant)) == version(load(BODY))


@pytest.mark.parametrize("variant", [
    BODY.replace("total * 2", "total * 3"),
    BODY.replace("sum(orders)", "max(orders)"),
    BODY.replace("def f(orders, context)", "def f(orders, customers, context)"),
    BODY.replace("    return total * 2", "    total += 1\n    return total * 2"),
])
def test_body_changes_change_the_version(load, variant):
    assert version(load(variant)) != version(load(BODY))


def test_a_nested_docstring_is_ignored_but_nested_code_is_not(load):
    nested = BODY.replace("    return total * 2", '    def g():\n        """inner"""\n        return 1\n'
                                                   "    return total * 2 + g()")
    assert version(load(nested)) == version(load(nested.replace('"""inner"""', '"""other"""')))
    assert version(load(nested)) != version(load(nested.replace("return 1", "return 2")))


def test_settings_are_part_of_the_python_version(load):
    f = load(BODY)
    assert version(f, DAILY) != version(f, SETTINGS)
    assert version(f, replace(DAILY, tags=("x",))) == version(f, DAILY)


def test_an_explicit_code_version_overrides_the_source(load):
    one, other = load(BODY), load(BODY.replace("total * 2", "total * 3"))
    assert version(one, explicit="v1") == version(other, explicit="v1")
    assert version(one, explicit="v1") != version(one, explicit="v2")
    assert version(one, explicit="v1") != version(one)
    assert version(one, DAILY, explicit="v1") != version(one, SETTINGS, explicit="v1")


def module_level_function(x):
    """Defined in this test module, so inspect finds its source here."""
    return x + 1


def other_module_level_function(x):
    return x + 1


def test_functions_defined_in_a_module_work_too():
    assert version(module_level_function) == version(module_level_function)
    # same body, different name: a renamed function is a different asset definition
    assert version(module_level_function) != version(other_module_level_function)


def test_an_edit_of_equal_size_in_the_same_second_is_loaded(tmp_path):
    """Python's bytecode cache trusts a .pyc while size and whole-second mtime match the source;
    asset files are compiled from source, so such an edit is seen (and no __pycache__ is left)."""
    import os
    import sys

    from assetflow.project.pyassets import load_python_file
    (tmp_path / "assets").mkdir()
    path = tmp_path / "assets" / "pick.py"
    text = 'from assetflow import asset\n\n\n@asset(deps={"src": "staging.a"})\ndef pick(src):\n    return src\n'
    path.write_text(text)
    stamp = os.stat(path).st_mtime_ns
    was = sys.dont_write_bytecode
    sys.dont_write_bytecode = False            # as in a user's shell (some CI sets it)
    try:
        [(first, _)] = list(load_python_file(path, "assets/pick.py", "main"))
        path.write_text(text.replace('"staging.a"', '"staging.b"'))
        os.utime(path, ns=(stamp, stamp))
        [(second, _)] = list(load_python_file(path, "assets/pick.py", "main"))
    finally:
        sys.dont_write_bytecode = was
    assert [r.parts for r in first.references] == [("staging", "a")]
    assert [r.parts for r in second.references] == [("staging", "b")]
    assert first.code_version != second.code_version
    assert not (tmp_path / "assets" / "__pycache__").exists()
