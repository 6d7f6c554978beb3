"""Run one planned step: compile or call the asset, write it through the engine, record it."""
from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from assetflow.run import compile as compiler
from assetflow.assets import AssetContext, AssetKey, AssetSpec, PythonBody, SeedBody, SqlBody, exception_names
from assetflow.checks import CheckOutcome
from assetflow.run.checks_runner import DeferredCheck, check_targets, compared_asset, rechecks, run_deferred_checks
from assetflow.engines.base import BuildRequest, Engine, PartitionWindow
from assetflow.errors import AssetflowError, FailureKind
from assetflow.run.executor import Interrupted, StepFailed
from assetflow.run.timeouts import Companions, TimeLimit
from assetflow.plan.graph import AssetGraph
from assetflow.project.cache import JsonCache
from assetflow.project.loader import CACHE_DIR, Project
from assetflow.partitions import StaticPartitions, TimePartitions, upstream_range
from assetflow.plan.planner import Plan, Step
from assetflow.state import FAILED, UNPARTITIONED, AttemptRecord


@dataclass
class StepRunner:
    """Callable the executor uses: (step, attempt number) -> rows written."""

    project: Project
    graph: AssetGraph
    engine: Engine
    run_id: str
    now: datetime
    versions: Callable[[], int]                     # next data version
    current_version: dict[tuple[str, int], int]    # data version of each partition read, as the run goes
    full_rebuilds: frozenset[str] = frozenset()     # partitioned assets whose every partition is planned
    cancelled: threading.Event | None = None        # set on Ctrl-C: nothing more may commit
    source_versions: dict[str, int] | None = None   # data versions of the sources, for attempt records
    planned: frozenset[str] = frozenset()           # assets this run builds (some partitions of)
    on_log: Callable[[str], None] = lambda line: None   # each line a Python asset logs, as it comes

    def __post_init__(self) -> None:
        self._compiled: dict[str, compiler.CompiledSql] = {}
        self.compile_cache = JsonCache(self.project.root / CACHE_DIR / "compile-cache.json")
        self._notes: dict = {}                # (asset, partition, check) -> the latest CheckOutcome that did not pass
        self._lock = threading.Lock()
        self._counts = {n: (a.partitioning.count(self.now) if a.partitioning else 1)
                        for n, a in self.graph.assets.items()}
        self._deferred: list[DeferredCheck] = []
        self._built: set[str] = set()              # assets with a partition built in this run
        self._existing: set[str] | None = None    # relations in the target, read when first needed
        self._companions = Companions()            # threads that run timed Python assets

    def __call__(self, step: Step, attempt: int) -> tuple[int, ...]:
        """Build the step's partition(s); returns rows written per partition."""
        spec = self.graph.assets[step.asset]
        started = _utcnow()
        indices = range(step.index, step.index + step.count)
        with self._lock:
            versions = [self.versions() for _ in indices]
        records = [AttemptRecord(self.run_id, step.asset, key, attempt, "success", started, started, None, None,
                                 spec.code_version, version, self._input_versions(spec, index))
                   for key, version, index in zip(step.keys, versions, indices)]
        inline, deferred = self._split_checks(spec)
        log = self._log_for(spec, step)
        limit = TimeLimit(spec.settings.timeout) if spec.settings.timeout else None
        try:
            with limit or contextlib.nullcontext():
                if limit is not None:
                    limit.watch(self._interrupter())      # the query this worker runs
                outcome = self.engine.build(self._request(spec, step, records, inline, log, limit))
        except Interrupted:
            raise
        except Exception as exc:  # every failure of an attempt is recorded, then reported
            if _is_interrupt(exc):
                if limit is None or not limit.expired or (self.cancelled is not None and self.cancelled.is_set()):
                    raise Interrupted() from None
                exc = limit.error()                 # cancelled by the timeout, not by Ctrl-C
            if getattr(exc, "results", None):
                self.engine.record_checks(self.run_id, step.asset, step.partition, exc.results)
                self._note(step.asset, step.partition, exc.results)
            summary, full = _messages(exc)
            if isinstance(exc, AssetflowError) and isinstance(spec.body, PythonBody):
                summary = full = f"{spec.body.function}() in {spec.path}: {summary}"
            kind, note = self._retry_verdict(spec, exc)
            for record in records:        # the whole traceback is kept for `runs show`
                self.engine.record_failure(_finished(record, FAILED, full + note, _lines(log)))
            raise StepFailed(summary + note, kind) from None
        if outcome.checks:
            self.engine.record_checks(self.run_id, step.asset, step.partition, outcome.checks)
            self._note(step.asset, step.partition, outcome.checks)
        for index, version in zip(indices, versions):
            self.current_version[(step.asset, index)] = version
        with self._lock:
            self._built.add(step.asset)
        if deferred:
            window = compiler.partition_window(spec, step.index, step.count)
            with self._lock:
                self._deferred.extend(DeferredCheck(spec.key, step.partition, window, target, other)
                                      for target, other in deferred)
        return outcome.rows_each or (outcome.rows,)

    def lands_whole(self, asset: str) -> bool:
        """Whether the asset's partitions are being built beside its table (its columns changed in
        a full rebuild), so that none of them is visible until every one has succeeded."""
        return self.engine.rebuilding(self.graph.assets[asset].key)

    def land(self, asset: str, problems: tuple[str, ...]) -> str | None:
        """Swap a rebuild built beside its table in when nothing went wrong, or drop it. Returns
        None when swapped in, else what the run reports for its partitions."""
        key = self.graph.assets[asset].key
        if not problems:
            try:
                self.engine.swap_in(key, self.run_id)
                return None
            except Exception as exc:       # the swap rolled back: the old table is still there
                if _is_interrupt(exc):
                    raise Interrupted() from None
                problems = (f"the swap failed: {_messages(exc)[0]}",)
        self.engine.discard_rebuild(key)
        return (f"not swapped in: {asset} was rebuilt beside its table because its columns changed, "
                f"which needs every partition to succeed ({'; '.join(problems)}); the table, its rows "
                f"and its partitions' state are as they were")

    def _split_checks(self, spec: AssetSpec) -> tuple[tuple, tuple]:
        """(checks to run inside the write, (check, other asset) pairs to run when the builds are done).

        A `relationships` check compares with another asset; when this run builds that one too,
        or it does not exist yet, the comparison waits for the end of the run, so the two never
        need an order (a `customers` built from `orders` is the usual target of a check on orders).
        """
        inline, deferred = [], []
        for target in check_targets(spec, self.graph):
            other = compared_asset(self.graph, spec, target[0])
            if other is not None and other != str(spec.key) and (other in self.planned or not self._exists(other)):
                deferred.append((target, other))
            else:
                inline.append(target)
        return tuple(inline), tuple(deferred)

    def _exists(self, asset: str) -> bool:
        with self._lock:
            if self._existing is None:
                self._existing = self.engine.existing_tables()
            return asset in self._existing

    def run_deferred_checks(self) -> None:
        """Run the checks that waited for the other asset they read, and the checks of assets this
        run did not build that compare with one it did; record their results."""
        with self._lock:
            deferred, self._deferred = self._deferred, []
            built = set(self._built)
        deferred += rechecks(self.graph, built, self.planned)
        for outcome in run_deferred_checks(self.engine, deferred):
            self.engine.record_checks(self.run_id, outcome.asset, outcome.partition, [outcome.result])
            self._note(outcome.asset, outcome.partition, [outcome.result])

    def _retry_verdict(self, spec: AssetSpec, exc: Exception) -> tuple[FailureKind, str]:
        """Whether another attempt could succeed, and the note recorded when it is not made.

        assetflow's errors and a Python asset's know their kind; the engine judges its own. A
        transient error is retried only if it is one of the asset's `retry_on` classes (when set).
        """
        from assetflow.project.pyassets import UserCodeError
        if isinstance(exc, (AssetflowError, UserCodeError)):
            kind = exc.failure_kind
        else:
            kind = self.engine.failure_kind(exc)
        if kind is not FailureKind.TRANSIENT:
            return kind, "\n(not retried: permanent)"
        names = exc.error_names if isinstance(exc, UserCodeError) else exception_names(type(exc))
        if spec.settings.retry_on and not set(names) & set(spec.settings.retry_on):
            return FailureKind.PERMANENT, f"\n(not retried: {names[0] if names else 'the error'} is not in retry_on)"
        return kind, ""

    @property
    def check_notes(self) -> list:
        """Checks that did not pass in this run (warnings, and failures that failed their step)."""
        with self._lock:
            return list(self._notes.values())

    def _note(self, asset: str, partition: str | None, results) -> None:
        with self._lock:
            for r in results:
                key = (asset, partition, r.name)
                if r.passed:
                    self._notes.pop(key, None)      # a retry that passed clears the earlier failure
                else:
                    self._notes[key] = CheckOutcome(asset, partition, r)

    def _log_for(self, spec: AssetSpec, step: Step):
        """The attempt's `context.log` (Python assets only: nothing else can log)."""
        if not isinstance(spec.body, PythonBody):
            return None
        from assetflow.project.pyassets import AssetLog
        return AssetLog(step.asset, step.partition, self.on_log, self.project.config.masks.mask)

    def _request(self, spec: AssetSpec, step: Step, records: list[AttemptRecord], checks: tuple,
                 log, limit: TimeLimit | None = None) -> BuildRequest:
        window = compiler.partition_window(spec, step.index, step.count)
        table = None
        if isinstance(spec.body, PythonBody):
            table = self._python_result(spec, step, window, log.logger, limit)
            if self.cancelled is not None and self.cancelled.is_set():
                raise Interrupted()          # the function finished after Ctrl-C: do not commit it
        records = [_finished(r, "success", None, _lines(log)) for r in records]
        batch = ()
        if step.count > 1:
            batch = tuple((r, compiler.partition_window(spec, step.index + n))
                          for n, r in enumerate(records))
        base = dict(key=spec.key, kind=spec.kind, attempt=records[0], window=window,
                    rebuilding_all=step.asset in self.full_rebuilds, batch=batch, checks=checks)
        if isinstance(spec.body, SeedBody):
            return BuildRequest(**base, seed_file=str(self.project.root / spec.body.file),
                                seed_options=spec.body.options)
        if table is not None:
            return BuildRequest(**base, arrow=table)
        compiled = self._compile(spec)
        if spec.body.macros:
            self.engine.ensure_macros(self.project.macros.statements(spec.body.macros))
        return BuildRequest(**base, sql=compiler.view_sql(spec, compiled.sql, self.project.config.vars.literals()),
                            params=compiler.bound_parameters(spec, step.index, compiled.parameters, step.count))

    def _compile(self, spec: AssetSpec) -> compiler.CompiledSql:
        name = str(spec.key)
        with self._lock:
            if name not in self._compiled:
                self._compiled[name] = compiler.compile_sql(spec, self.graph, self.project.root,
                                                            self.project.config.dialect, self.engine.dialect,
                                                            cache=self.compile_cache)
            return self._compiled[name]

    def preflight(self, plan: Plan) -> None:
        """Before anything runs: every planned SQL asset compiles for the engine (a construct it
        would run with another meaning is refused, exit 2), and an engine that can analyze a
        query without running it (Spark) judges each one, in build order."""
        analyze = getattr(self.engine, "analyze", None)
        if analyze is None:
            return
        from assetflow.errors import ProjectError
        first: dict[str, Step] = {}
        for step in plan.steps:
            first.setdefault(step.asset, step)
        unanalyzed: set[str] = set()      # built by this run, not from SQL: their readers wait
        for name in self.graph.order:
            step = first.get(name)
            spec = self.graph.assets.get(name)
            if step is None or spec is None:
                continue
            if not isinstance(spec.body, SqlBody) or set(self.graph.upstream_assets(name)) & unanalyzed:
                unanalyzed.add(name)
                continue
            compiled = self._compile(spec)
            try:
                analyze(name, compiled.sql,
                        compiler.bound_parameters(spec, step.index, compiled.parameters, step.count))
            except Exception as exc:
                raise ProjectError(f"Spark cannot analyze {name}: {_messages(exc)[0].splitlines()[0]}",
                                   path=spec.path, hint="rewrite the construct it names "
                                   "(docs/spark.md lists what Spark runs differently)") from None

    def _python_result(self, spec: AssetSpec, step: Step, window: PartitionWindow | None,
                       log: logging.Logger, limit: TimeLimit | None):
        """The function's output; with a timeout, called on a companion thread that is given up on
        at the deadline (see run/timeouts), its inputs read and its queries run on its own cursor."""
        if limit is None:
            return self._call_python(spec, step, window, log)

        def timed():
            limit.watch(self._interrupter())
            return self._call_python(spec, step, window, log)
        return self._companions.call(timed, limit, self.cancelled)

    def _interrupter(self) -> Callable[[], None]:
        """What cancels this thread's query at a timeout (DuckDB: the cursor's interrupt; Spark: the
        thread's job group); an engine without one lets a query run to its end."""
        interrupter = getattr(self.engine, "interrupter", None)
        return interrupter() if interrupter is not None else (lambda: None)

    def _call_python(self, spec: AssetSpec, step: Step, window: PartitionWindow | None, log: logging.Logger):
        from assetflow.project.pyassets import call_asset
        name = str(spec.key)
        inputs = {param: self._read_input(spec, step, node)
                  for param, node in self.graph.params[name].items()}
        timed = isinstance(spec.partitioning, TimePartitions)
        context = AssetContext(asset=name, partition=step.partition,
                               start=window.start if window else None, end=window.end if window else None,
                               log=log, con=self.engine.python_connection(),
                               lookback_start=compiler.lookback_start(spec, step.index) if timed else None,
                               vars=self.project.config.vars.as_dict())
        return call_asset(self.project.functions[spec.key], spec, inputs, context, self.project.root)

    def _read_input(self, spec: AssetSpec, step: Step, node: str):
        if node not in self.graph.assets:
            source = self.graph.sources[node]
            key = AssetKey.parse(source.table or source.name)
            return self.engine.read_arrow(key, None)
        up = self.graph.assets[node]
        first = upstream_range(spec.partitioning, step.index, up.partitioning, self._counts[node],
                               spec.settings.lookback)
        last = upstream_range(spec.partitioning, step.index + step.count - 1, up.partitioning,
                              self._counts[node], spec.settings.lookback)
        rng = range(min(first.start, last.start), max(first.stop, last.stop)) if first and last else first or last
        return self.engine.read_arrow(up.key, _window_of(up, rng, self._counts[node]))

    def _input_versions(self, spec: AssetSpec, index: int) -> dict[str, int]:
        out = {}
        for up in self.graph.upstream_assets(str(spec.key)):
            up_spec = self.graph.assets[up]
            rng = upstream_range(spec.partitioning, index, up_spec.partitioning, self._counts[up],
                                 spec.settings.lookback)
            out[up] = max((self.current_version.get((up, j), 0) for j in rng), default=0)
        for source in self.graph.upstream_sources(str(spec.key)):
            out[source] = (self.source_versions or {}).get(source, 0)
        return out


def _window_of(spec: AssetSpec, rng: range, count: int) -> PartitionWindow | None:
    part = spec.partitioning
    if part is None or (rng.start == 0 and rng.stop >= count):
        return None
    if isinstance(part, TimePartitions):
        if not rng:
            return PartitionWindow(part.column, *part.bound_values(part.window(0)))  # empty read
        start, _ = part.bound_values(part.window(rng.start))
        _, end = part.bound_values(part.window(rng.stop - 1))
        return PartitionWindow(part.column, start, end)
    assert isinstance(part, StaticPartitions)
    return PartitionWindow(part.column, key=part.keys[rng.start]) if len(rng) == 1 else None


def input_versions(graph: AssetGraph, engine: Engine, plan: Plan, keys) -> dict[tuple[str, int], int]:
    """Stored data versions of the partitions the planned steps read, so each attempt can record
    what it read: one query for the upstream assets of the plan, not the whole store."""
    readers = {step.asset for step in plan.steps}
    upstream = {up for name in readers for up in graph.upstream_assets(name)}
    out = {}
    for name, versions in engine.partition_versions(upstream).items():
        index = {key: i for i, key in enumerate(keys[name])}
        for key, version in versions.items():
            i = index.get(None if key == UNPARTITIONED else key)
            if i is not None:                 # a partition outside today's range (e.g. `end` moved)
                out[(name, i)] = version
    return out


def _finished(record: AttemptRecord, status: str, error: str | None, log: tuple[str, ...] = ()) -> AttemptRecord:
    return AttemptRecord(record.run_id, record.asset, record.partition, record.attempt, status, record.started_at,
                         _utcnow(), record.rows, error, record.code_version, record.data_version,
                         record.input_versions, log)


def _lines(log) -> tuple[str, ...]:
    return tuple(log.lines) if log is not None else ()


def _messages(exc: BaseException) -> tuple[str, str]:
    """(what run output shows, what the attempt records): they differ for a Python asset's
    traceback, which is shown with the user's frames only."""
    if isinstance(exc, AssetflowError):
        message = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
        return message, message
    from assetflow.project.pyassets import UserCodeError
    if isinstance(exc, UserCodeError):
        return exc.summary, exc.full
    message = f"{type(exc).__name__}: {exc}".strip()
    return message, message


def _is_interrupt(exc: BaseException) -> bool:
    """DuckDB's answer to `interrupt()`: InterruptException on 2.x, RuntimeError('Query interrupted')
    on older versions (matched by name: this module does not import duckdb); an engine's own
    interruption says so with `is_interrupt`."""
    name = type(exc).__name__
    return (name == "InterruptException" or (name == "RuntimeError" and "interrupted" in str(exc).lower())
            or getattr(exc, "is_interrupt", False))     # another engine's (Spark's cancelled job)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def fully_rebuilt(plan: Plan, graph: AssetGraph, now: datetime) -> frozenset[str]:
    """Partitioned assets of which this plan rebuilds every partition (a schema may change then)."""
    planned: dict[str, int] = {}
    for step in plan.steps:
        planned[step.asset] = planned.get(step.asset, 0) + step.count
    return frozenset(name for name, n in planned.items()
                     if graph.assets[name].partitioning is not None
                     and n == graph.assets[name].partitioning.count(now))
