"""Where one assetflow command spends its time: phases, SQL statements, Python calls.

    python benchmarks/profile_run.py [--cprofile OUT.prof] [--top 25] -- --project P materialize --json

Runs the CLI in this process with a timer (wall, and CPU of the calling thread) around every DuckDB statement (everything assetflow
sends goes through `engines.duckdb_state.run`), then prints the statements grouped by kind (the
first words of the SQL with names and literals left out), with counts and total milliseconds, and
the wall time from interpreter start. With --cprofile it also writes a cProfile dump and prints its
`--top` functions by cumulative time. Counts are exact on a loaded machine; times are not, so
read them as shares. This is a measuring tool, not a test.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import time

_START = time.perf_counter()
_SHOW_SQL = False


def _kind(sql: str) -> str:
    """A statement's shape: its first words, identifiers and literals dropped."""
    text = re.sub(r"'[^']*'", "'?'", " ".join(sql.split()))
    words = text.split(" ")
    head = " ".join(words[:3]).upper()
    if head.startswith(("SELECT", "WITH")):
        m = re.search(r"\bFROM\s+([\w.\"(]+)", text, re.I)
        return f"SELECT ... FROM {m.group(1) if m else '?'}"
    if head.startswith("INSERT"):
        return " ".join(words[:3])
    if head.startswith(("CREATE", "DELETE", "UPDATE", "DROP", "ALTER")):
        return " ".join(w for w in words[:4] if not w.startswith(('"', "l0", "l1", "s0"))).upper()
    return " ".join(words[:2]).upper()


def _install_timer(stats: dict) -> None:
    import assetflow.engines.duckdb_state as store
    original = store.run

    def timed(cur, sql, params=None):
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(cur, sql, params)
        finally:
            entry = stats[_kind(sql)]
            entry[0] += 1
            entry[1] += time.perf_counter() - started
            entry[2] += time.thread_time() - cpu
            if _SHOW_SQL:
                print(f"-- {(time.perf_counter() - started) * 1000:.1f} ms: {' '.join(sql.split())[:400]}",
                      file=sys.stderr)

    # every engine module holds its own reference to `run`
    import assetflow.engines.duckdb  # noqa: F401  (imports the engine modules)
    for name, module in list(sys.modules.items()):
        if name.startswith("assetflow.") and getattr(module, "run", None) is original:
            module.run = timed
    store.run = timed


_STEP_PROFILE = None


def _profile_steps(path: str) -> None:
    """Profile every step in its worker thread (cProfile sees one thread only), one profiler for
    all of them: meant for --threads 1."""
    global _STEP_PROFILE
    import cProfile
    from assetflow.run.steps import StepRunner
    _STEP_PROFILE = cProfile.Profile()
    call = StepRunner.__call__

    def profiled(self, step, attempt):
        _STEP_PROFILE.enable()
        try:
            return call(self, step, attempt)
        finally:
            _STEP_PROFILE.disable()

    StepRunner.__call__ = profiled


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cprofile", help="write a cProfile dump here and print its top functions")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sql", action="store_true", help="print every statement with its time")
    parser.add_argument("--steps", help="cProfile the steps (run with --threads 1) into this dump")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the assetflow command line, after --")
    opts = parser.parse_args(argv)
    args = opts.args[1:] if opts.args[:1] == ["--"] else opts.args
    imported = time.perf_counter()
    from assetflow.cli.app import main as cli
    imports = time.perf_counter() - imported
    global _SHOW_SQL
    _SHOW_SQL = opts.sql
    stats: dict[str, list] = collections.defaultdict(lambda: [0, 0.0, 0.0])
    _install_timer(stats)
    profiler = None
    if opts.cprofile:
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    if opts.steps:
        _profile_steps(opts.steps)
    began = time.perf_counter()
    code = 0
    try:
        cli.main(args=args, prog_name="assetflow", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code or 0
    ran = time.perf_counter() - began
    if profiler:
        profiler.disable()
        profiler.dump_stats(opts.cprofile)
    out = sys.stderr
    total_sql = sum(t for _, t, _ in stats.values())
    print(f"\nimport assetflow.cli.app: {imports * 1000:.0f} ms; command: {ran * 1000:.0f} ms; "
          f"SQL: {sum(n for n, _, _ in stats.values())} statements, {total_sql * 1000:.0f} ms; "
          f"since interpreter start: {(time.perf_counter() - _START) * 1000:.0f} ms (+ start-up)", file=out)
    for kind, (n, t, c) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        print(f"  {n:6d} x {t * 1000:8.1f} ms  {t / n * 1000:6.2f} ms each (thread CPU {c / n * 1000:5.2f})  "
              f"{kind[:100]}", file=out)
    if profiler:
        import pstats
        pstats.Stats(opts.cprofile, stream=out).sort_stats("cumulative").print_stats(opts.top)
    if opts.steps:
        import pstats
        _STEP_PROFILE.dump_stats(opts.steps)
        pstats.Stats(opts.steps, stream=out).sort_stats("tottime").print_stats(opts.top)
    return int(code) if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
