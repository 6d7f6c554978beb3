"""[targets.NAME] with engine = "spark": keys, defaults, errors with the key's line (no JVM)."""
from __future__ import annotations

import textwrap

import pytest

from assetflow.errors import ProjectError
from assetflow.project.config import load_config


def _config(tmp_path, body: str):
    (tmp_path / "assetflow.toml").write_text(textwrap.dedent(body).lstrip())
    return load_config(tmp_path, {})


def test_spark_target_defaults_and_keys(tmp_path):
    config = _config(tmp_path, """
        [project]
        name = "t"
        [targets.prod]
        engine = "spark"
        warehouse = "wh"
        conf = { "spark.executor.memory" = "2g", "spark.sql.adaptive.enabled" = true }
        threads = 3
        [targets.cluster]
        engine = "spark"
        master = "spark://127.0.0.1:7077"
        state = "state/c.duckdb"
        warehouse = "s3a://bucket/wh"
        [targets.connect]
        engine = "spark"
        remote = "sc://127.0.0.1:15002"
        """)
    prod, cluster, connect = config.targets
    assert (prod.master, prod.remote, prod.threads) == ("local[2]", None, 3)
    assert prod.warehouse == str((tmp_path / "wh").resolve())
    assert prod.path == str((tmp_path / ".assetflow" / "prod.duckdb").resolve())
    assert prod.conf == (("spark.executor.memory", "2g"), ("spark.sql.adaptive.enabled", "true"))
    assert cluster.master == "spark://127.0.0.1:7077" and cluster.warehouse == "s3a://bucket/wh"
    assert cluster.path == str((tmp_path / "state" / "c.duckdb").resolve())
    assert (connect.master, connect.remote) == (None, "sc://127.0.0.1:15002")


@pytest.mark.parametrize("lines, message, line", [
    ('master = "local[2]"\nremote = "sc://h:1"', "both `master` and `remote`", 4),
    ('master = "yarnn"', "not a Spark master URL", 3),
    ('remote = "http://h:1"', "not a Spark Connect URL", 3),
    ('path = "x.duckdb"', "unknown key 'path'", 3),
    ('conf = "x"', "conf must be a table", 3),
])
def test_bad_spark_target_keys_name_the_key_and_line(tmp_path, lines, message, line):
    with pytest.raises(ProjectError) as info:
        _config(tmp_path, '[targets.prod]\nengine = "spark"\n' + lines + "\n")
    assert message in info.value.message and info.value.line == line


def test_duckdb_target_refuses_spark_keys(tmp_path):
    with pytest.raises(ProjectError) as info:
        _config(tmp_path, '[targets.dev]\nengine = "duckdb"\nwarehouse = "wh"\n')
    assert "unknown key 'warehouse'" in info.value.message
