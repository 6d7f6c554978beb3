"""Parsing many new files in parallel gives exactly what parsing them one by one gives."""
from __future__ import annotations

import concurrent.futures
import os

import pytest

from assetflow.project import parse_pool
from assetflow.project import sql
from assetflow.errors import ProjectError
from assetflow.project.loader import load_project


def queries(n: int) -> list[tuple[str, str, str]]:
    return [(f"k{i}", f"with c as (select * from s{i % 7}.t{i}) select a, count(*) as n from c "
                      f"join 'data/f{i}.csv' f using (a) where a > {i} group by a", f"q{i}.sql") for i in range(n)]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to fork a worker")
def test_parallel_analysis_equals_serial_analysis(monkeypatch):
    submitted = []
    real = concurrent.futures.ProcessPoolExecutor

    class Counting(real):
        def submit(self, fn, *args, **kwargs):
            submitted.append(len(args[0]))
            return super().submit(fn, *args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Counting)
    # the pool forks only when this process runs no other thread; in a full test run another test
    # of this worker may have left one (a Spark session's py4j threads, a served UI), and the
    # equivalence under test does not depend on it
    monkeypatch.setattr(parse_pool.threading, "active_count", lambda: 1)
    jobs = queries(3 * parse_pool.FILES_PER_WORKER)
    found = parse_pool.analyze_all(jobs, "duckdb")
    assert submitted and sum(submitted) < len(jobs), "no share of the files went to a worker process"
    assert found == {key: sql.analyze(query, "duckdb", path) for key, query, path in jobs}


def test_files_that_do_not_parse_are_left_out():
    jobs = queries(3) + [("bad", "select from from", "bad.sql")]
    assert set(parse_pool.analyze_all(jobs, "duckdb")) == {"k0", "k1", "k2"}


def test_a_large_new_project_reports_the_first_broken_file_in_order(tmp_path):
    (tmp_path / "assetflow.toml").write_text('[project]\nname = "p"\n[targets.dev]\nengine = "duckdb"\n'
                                             'path = "w.duckdb"\n[sources]\n"raw.t" = { table = "raw.t" }\n')
    folder = tmp_path / "assets" / "m"
    folder.mkdir(parents=True)
    for i in range(300):
        body = "select a from raw.t" if i not in (150, 220) else "select (a from raw.t"
        (folder / f"a{i:03d}.sql").write_text(body)
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path)
    assert info.value.path == "assets/m/a150.sql"
    # the files that parsed are cached: a second load only parses the broken ones again
    (folder / "a150.sql").write_text("select a from raw.t")
    (folder / "a220.sql").write_text("select a from raw.t")
    assert len(load_project(tmp_path).assets) == 300
