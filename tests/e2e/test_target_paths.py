"""Target paths that cannot be opened (SPEC section 8): exit 2, one message naming the target and
its path, no traceback, nothing created. Missing folders inside the project are created; outside
it they are an error (a typo in `path` must not grow a tree somewhere)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import CliResult, query

BASE = {"assets/base.sql": "select 1 as id\n"}


def toml_for(path: str) -> str:
    return textwrap.dedent(f"""
        [project]
        name = "t"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"

        [targets.odd]
        engine = "duckdb"
        path = "{path}"
        """)


def assert_target_error(r: CliResult, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert "target 'odd'" in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr


@pytest.mark.parametrize("command", [("materialize",), ("status",), ("check",), ("runs",)])
def test_a_path_under_a_regular_file_is_exit_2_naming_target_and_path(project, af, command):
    p = project({**BASE, "notes.txt": "a regular file\n"}, toml_for("notes.txt/warehouse.duckdb"))
    r = af(p, *command, "--target", "odd")
    assert_target_error(r, str(p / "notes.txt" / "warehouse.duckdb"), "is a file, not a folder")
    assert (p / "notes.txt").read_text() == "a regular file\n"


def test_a_missing_folder_outside_the_project_is_an_error_not_a_new_tree(project, af, tmp_path):
    outside = tmp_path / "elsewhere" / "deep"
    p = project(BASE, toml_for(f"{outside}/warehouse.duckdb"))
    r = af(p, "materialize", "--target", "odd")
    assert_target_error(r, str(outside), "does not exist", "mkdir -p")
    assert not (tmp_path / "elsewhere").exists()


def test_a_missing_folder_inside_the_project_is_created(project, af):
    p = project(BASE, toml_for(".assetflow/prod/warehouse.duckdb"))
    r = af(p, "materialize", "--target", "odd")
    assert r.exit_code == 0, r.output
    assert query(p, "select id from main.base", db=".assetflow/prod/warehouse.duckdb") == [(1,)]


def test_an_existing_folder_outside_the_project_is_fine(project, af, tmp_path):
    outside = tmp_path / "shared"
    outside.mkdir()
    p = project(BASE, toml_for(f"{outside}/warehouse.duckdb"))
    assert af(p, "materialize", "--target", "odd").exit_code == 0
    assert (outside / "warehouse.duckdb").is_file()


def _can_bind_read_only(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{folder}' '{folder}'"],
                           capture_output=True)
    return probe.returncode == 0


def test_a_read_only_folder_is_exit_2_with_a_message(project, tmp_path):
    """Tests run as root, whom `chmod` does not stop; a read-only bind mount (in a private mount
    namespace) stops root too and takes the same path through the code as a folder without write
    permission. Skipped where mount namespaces are not allowed."""
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if not _can_bind_read_only(frozen):
        pytest.skip("needs `unshare -m` and a bind mount (root in a container allows both)")
    p = project(BASE, toml_for(f"{frozen}/warehouse.duckdb"))
    cli = f"{sys.executable} -m assetflow --project '{p}' materialize --target odd"
    proc = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{frozen}' '{frozen}' && exec {cli}"],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)
    r = CliResult(proc.returncode, proc.stdout, proc.stderr)
    assert_target_error(r, str(frozen), "not writable")
    assert list(frozen.iterdir()) == []
