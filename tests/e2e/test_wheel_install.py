"""A new user's `pip install .` (not editable): the wheel carries the project template, so
`assetflow init` + `materialize` work from an installed package (issue 12, item 2).

The wheel is built from a copy of this checkout without build isolation (setuptools comes from
the test environment, so nothing is downloaded), installed with `--no-deps` into a fresh virtual
environment that borrows the test environment's dependencies (duckdb, pyarrow, ...) through a
path entry, and run from a folder outside the checkout, so only the installed copy can be imported.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "assetflow"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info",
                                                            "__pycache__", ".pytest_cache", "tests"))
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."],
         cwd=src)
    [built] = out.glob("assetflow-*.whl")
    return built


def test_the_wheel_contains_the_template(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "assetflow/project/template/assetflow.toml" in names
    assert any(n.startswith("assetflow/project/template/assets/") and n.endswith(".sql") for n in names)
    assert any(n.startswith("assetflow/project/template/data/") for n in names)


def test_init_and_materialize_from_an_installed_wheel(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).stdout.strip())
    # the dependencies come from the test environment; assetflow itself only from the wheel
    (site / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
         cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run([str(python), "-c", "import assetflow; print(assetflow.__file__)"], cwd=tmp_path, env=env)
    assert str(site) in where.stdout, where.stdout

    cli = str(env_dir / "bin" / "assetflow")
    _run([cli, "init", "shop"], cwd=tmp_path, env=env)
    _run([cli, "--project", "shop", "materialize"], cwd=tmp_path, env=env)
    status = json.loads(_run([cli, "--project", "shop", "status", "--json"], cwd=tmp_path, env=env).stdout)
    assert status["assets"]
    for a in status["assets"]:
        assert a["partitions"]["fresh"] == a["partitions"]["total"] >= 1, a
