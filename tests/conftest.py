"""Shared test helpers: build throwaway projects on disk and drive the real CLI against them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No timing asserts in tests: hypothesis's per-example deadline (200 ms) fails on a loaded machine
# (2 cores shared by many test workers) while the property itself holds.
settings.register_profile("assetflow", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("assetflow")


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self):
        return json.loads(self.stdout)


def write_project(root: Path, files: dict[str, str], toml: str | None = None) -> Path:
    """Write a project: `files` maps relative paths to (dedented) contents.

    Without `toml`, a default assetflow.toml with one DuckDB target `dev` at warehouse.duckdb is used.
    """
    root.mkdir(parents=True, exist_ok=True)
    if toml is None:
        toml = """
        [project]
        name = "t"
        dialect = "duckdb"

        [targets.dev]
        engine = "duckdb"
        path = "warehouse.duckdb"
        threads = 2
        """
    (root / "assetflow.toml").write_text(textwrap.dedent(toml).lstrip())
    (root / "assets").mkdir(exist_ok=True)
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return root


def run_cli(project: Path | None, *args: str, cwd: Path | None = None, timeout: float = 300,
            env: dict | None = None) -> CliResult:
    """Run `python -m assetflow [--project P] ARGS` as a real subprocess."""
    cmd = [sys.executable, "-m", "assetflow"]
    if project is not None:
        cmd += ["--project", str(project)]
    cmd += list(args)
    full_env = dict(os.environ)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    if env:
        full_env.update(env)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=full_env)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def query(project: Path, sql: str, db: str = "warehouse.duckdb"):
    """Read the target DuckDB file directly, as any DuckDB client would."""
    import duckdb

    con = duckdb.connect(str(project / db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def receiver():
    """A real HTTP alert receiver on 127.0.0.1 (tests/alert_receiver.py), closed after the test."""
    from alert_receiver import Receiver
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def project(tmp_path):
    """Factory: project(files, toml=None) -> Path of a fresh project under tmp_path."""
    counter = iter(range(10_000))

    def make(files: dict[str, str], toml: str | None = None) -> Path:
        return write_project(tmp_path / f"p{next(counter)}", files, toml)

    return make


@pytest.fixture
def af():
    """af(project, *args) -> CliResult; runs the real CLI in a subprocess."""
    return run_cli
