"""The checkpoint gate: a checkpoint runs only when no write transaction is open, and runs at all."""
from __future__ import annotations

import random
import threading
import time

import duckdb

from assetflow.engines.duckdb import open_duckdb
from assetflow.engines.duckdb_checkpoint import CheckpointGate


def test_checkpoints_wait_for_open_transactions_and_block_new_ones(tmp_path):
    wal = tmp_path / "db.wal"
    wal.write_bytes(b"x" * 100)
    lock = threading.Lock()
    inside, seen, checkpoints = [0], [], []

    def checkpoint():
        with lock:
            seen.append(inside[0])            # how many transactions were open meanwhile
        checkpoints.append(1)
        wal.write_bytes(b"")

    gate = CheckpointGate(str(wal), checkpoint, limit=50)

    def writer(n):
        rng = random.Random(n)
        for _ in range(30):
            with gate.transaction():
                with lock:
                    inside[0] += 1
                time.sleep(rng.random() / 1000)
                with lock:
                    inside[0] -= 1
                if rng.random() < 0.2:
                    wal.write_bytes(b"x" * 100)  # the log grew past the limit

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert checkpoints, "the log passed the limit but nothing checkpointed"
    assert set(seen) == {0}, seen


def test_concurrent_writers_keep_the_write_ahead_log_bounded(tmp_path):
    """DuckDB alone would let the log grow while any writer is open; with the gate it is cut."""
    path = str(tmp_path / "w.duckdb")
    engine = open_duckdb(path)
    engine._gate._limit = 256 * 1024         # a small limit, so a short test crosses it often
    biggest = [0]
    try:
        def writer(n):
            cur = engine.connection()
            for i in range(25):
                engine._transaction(cur, lambda: cur.execute(
                    f"CREATE TABLE t{n}_{i} AS SELECT range AS x, md5(range::VARCHAR) AS y FROM range(5000)"))
                wal = tmp_path / "w.duckdb.wal"
                biggest[0] = max(biggest[0], wal.stat().st_size if wal.exists() else 0)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        engine.close()
    # 100 tables of ~0.2 MB each went through the log; it never held more than a few at once
    assert 0 < biggest[0] < 4 * 1024 * 1024, biggest[0]
    con = duckdb.connect(path, read_only=True)
    assert con.execute("select count(*) from duckdb_tables()").fetchone()[0] == 100
    con.close()
