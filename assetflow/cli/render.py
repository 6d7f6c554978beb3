"""Turn results into text and JSON. All styling lives here; the model carries none."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable

from assetflow.plan.graph import AssetGraph
from assetflow.plan.planner import Plan

if TYPE_CHECKING:
    from assetflow.run.executor import StepResult

STATUS_WORD = {"success": "OK", "failed": "FAIL", "skipped": "SKIP"}


def to_json(data: Any) -> str:
    """Indented on a terminal; compact in a pipe, where a machine reads it (Python's C encoder only
    runs without indentation, several times faster on the status of a large project)."""
    if sys.stdout.isatty():
        return json.dumps(data, indent=2, default=_json_value)
    return json.dumps(data, default=_json_value)


def _json_value(value: Any) -> Any:
    return utc_iso(value) if isinstance(value, datetime) else str(value)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z` (assetflow's naive datetimes are UTC throughout)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def utc_text(moment: datetime) -> str:
    """A UTC time for people: to the second, with the `Z`."""
    return utc_iso(moment.replace(microsecond=0))


def label(asset: str, partition: str | None) -> str:
    return asset + (f" [{partition}]" if partition else "")


def label_many(asset: str, partitions: Iterable[str | None]) -> str:
    """One asset and several of its partitions, said once: `m.days, 31 partitions (2024-01-01 .. 2024-01-31)`."""
    keys = sorted(k for k in partitions if k)
    if len(keys) <= 1:
        return label(asset, keys[0] if keys else None)
    return f"{asset}, {len(keys)} partitions ({keys[0]} .. {keys[-1]})"


def _grouped(items: Iterable[Any], key) -> list[tuple[Any, list[Any]]]:
    """Items that say the same thing about several partitions of one asset, as (key, items), in
    order of first appearance: a check failing in 31 partitions is one line, not 31."""
    groups: dict[Any, list[Any]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return list(groups.items())


# ---------------------------------------------------------------- status

def _checks_by_asset(checks: Iterable[tuple]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for asset, partition, name, severity, passed, failing in checks:
        out.setdefault(asset, []).append({"check": name, "partition": partition or None, "severity": severity,
                                          "passed": passed, "failing": failing})
    return out


def _failures_by_partition(failures: Iterable[Any]) -> dict[tuple[str, str | None], Any]:
    return {(f.asset, f.partition): f for f in failures}


def _failed_json(asset: str, key: str | None, reasons: tuple[str, ...], failures: dict) -> dict[str, Any]:
    entry: dict[str, Any] = {"partition": key, "reasons": list(reasons)}
    failure = failures.get((asset, key))
    if failure is not None:
        entry.update(error=failure.first_line, failed_at=failure.failed_at, run_id=failure.run_id)
    return entry


def _failure_text(failure: Any) -> str:
    when = f"{utc_text(failure.failed_at)}, " if failure.failed_at else ""
    return f"{failure.first_line}  ({when}run {failure.run_id})"


def _problem_lines(asset: str, shown: list[tuple], failed: dict) -> list[str]:
    """A line per partition that is not fresh; under failed ones, the error, said once after a
    run of partitions that failed the same way in the same run."""
    lines: list[str] = []
    pending: list[Any] = []

    def flush() -> None:
        if pending:
            many = f" (all {len(pending)} above)" if len(pending) > 1 else ""
            lines.append(f"  error{many}: {_failure_text(pending[0])}")
            pending.clear()

    for key, category, reasons in shown:
        failure = failed.get((asset, key)) if category == "failed" else None
        if pending and (failure is None or (failure.first_line, failure.run_id) !=
                        (pending[0].first_line, pending[0].run_id)):
            flush()
        lines.append(f"{category}: {key + ': ' if key else ''}{', '.join(reasons)}")
        if failure is not None:
            pending.append(failure)
    flush()
    return lines


def status_json(plan: Plan, graph: AssetGraph, selected: Iterable[str], checks: Iterable[tuple] = (),
                orphans: Iterable[Any] = (), outside: Iterable[Any] | None = None,
                failures: Iterable[Any] = ()) -> dict[str, Any]:
    by_asset = _checks_by_asset(checks)
    failed = _failures_by_partition(failures)
    assets = []
    for name in sorted(selected):
        ap = plan.assets[name]
        partitioned = graph.assets[name].partitioning is not None
        rows = ap.not_fresh()
        assets.append({
            "name": name, "kind": graph.assets[name].kind.value, "partitions": ap.counts(),
            "stale": [{"partition": k, "reasons": list(r)} for k, c, r in rows if c == "stale"],
            "blocked": [{"partition": k, "reasons": list(r)} for k, c, r in rows if c == "blocked"],
            "failed": [_failed_json(name, k, r, failed) for k, c, r in rows if c == "failed"],
            "partitioned": partitioned,
            "checks": by_asset.get(name, []),
        })
    data = {"assets": assets, "orphans": [{"name": o.name, "kind": o.kind} for o in orphans]}
    if outside is not None:                  # --verify
        data["outside_range"] = outside_json(outside)
    return data


def status_text(plan: Plan, graph: AssetGraph, selected: Iterable[str], database: str, limit: int = 5,
                checks: Iterable[tuple] = (), orphans: Iterable[Any] = (),
                failures: Iterable[Any] = ()) -> str:
    by_asset = _checks_by_asset(checks)
    failed = _failures_by_partition(failures)
    names = sorted(selected)
    width = max([len(n) for n in names] + [5])
    lines = [f"{'ASSET':<{width}}  {'KIND':<11}  {'TOTAL':>5}  {'FRESH':>5}  {'STALE':>5}  {'BLOCKED':>7}  {'FAILED':>6}"]
    for name in names:
        ap = plan.assets[name]
        c = ap.counts()
        lines.append(f"{name:<{width}}  {graph.assets[name].kind.value:<11}  {c['total']:>5}  {c['fresh']:>5}  "
                     f"{c['stale']:>5}  {c['blocked']:>7}  {c['failed']:>6}")
        shown = ap.not_fresh()
        lines.extend(f"{'':<{width}}    {line}" for line in _problem_lines(name, shown[:limit], failed))
        if len(shown) > limit:
            lines.append(f"{'':<{width}}    ... and {len(shown) - limit} more")
        failing = [c for c in by_asset.get(name, []) if not c["passed"]]
        for (check, severity), same in _grouped(failing, lambda c: (c["check"], c["severity"]))[:limit]:
            word = "warn" if severity == "warn" else "check failed"
            lines.append(f"{'':<{width}}    {word}: {check}" + _where([c["partition"] for c in same]))
    orphans = list(orphans)
    if orphans:
        lines.append("orphans: no asset defines these any more (`assetflow clean` lists them with their state, "
                     "`assetflow clean --yes` drops them):")
        lines.extend(f"  {o.name} ({o.kind})" for o in orphans)
    lines.append(f"database: {database}")
    return "\n".join(lines)


# ---------------------------------------------------------------- materialize

def plan_text(plan: Plan, limit: int = 50) -> str:
    if not plan.steps and not plan.blocked:
        return "Nothing to do: everything selected is fresh."
    total = sum(step.count for step in plan.steps)
    lines = [f"Plan: {total} partition(s) to build" + (
        f", {len(plan.blocked)} blocked" if plan.blocked else "")]
    for step in plan.steps[:limit]:
        where = step.partition if step.count == 1 else f"{step.keys[0]} .. {step.keys[-1]}"
        lines.append(f"  {label(step.asset, where)}  ({', '.join(step.reasons)})")
    if len(plan.steps) > limit:
        lines.append(f"  ... and {len(plan.steps) - limit} more")
    for blocked in plan.blocked[:limit]:
        lines.append(f"  blocked: {label(blocked.asset, blocked.partition)}  ({', '.join(blocked.reasons)})")
    return "\n".join(lines)


def _where(keys: list[str | None]) -> str:
    keys = sorted(k for k in keys if k)
    if not keys:
        return ""
    return f" [{keys[0]}]" if len(keys) == 1 else f" in {len(keys)} partitions ({keys[0]} .. {keys[-1]})"


def step_line(result: StepResult) -> str:
    word = STATUS_WORD.get(result.status, result.status.upper())
    where = result.partition if not result.batch else f"{result.batch[0][0]} .. {result.batch[-1][0]}"
    text = f"{word:<4} {label(result.asset, where)}"
    if result.status == "success":
        retried = f", {result.attempts} attempts" if result.attempts > 1 else ""
        rows = f"  {result.rows} rows" if result.rows is not None else ""     # a view has no row count
        return f"{text}{rows}  {result.seconds:.2f}s{retried}"
    first_line = (result.error or "").splitlines()[0] if result.error else ""
    return f"{text}  {first_line}"


def check_lines(outcomes: Iterable[Any]) -> list[str]:
    """One line per asset and check result, with the partitions it holds for."""
    lines = []
    for (asset, name, severity, passed, error), same in _grouped(
            outcomes, lambda o: (o.asset, o.result.name, o.result.severity, o.result.passed, o.result.error)):
        word = "PASS" if passed else ("WARN" if severity == "warn" else "FAIL")
        failing = sum(max(o.result.failing, 0) for o in same)
        detail = "" if passed else f"  ({failing} {'rows' if name.startswith('row_count') else 'failing rows'})"
        if error:
            detail = f"  (not run: {error})"
        lines.append(f"  {word} {asset}: {name}{_where([o.partition for o in same])}{detail}")
    return lines


def run_summary(run_id: str | None, results: Iterable[StepResult], database: str, seconds: float,
                plan: Plan | None = None, checks: Iterable[Any] = ()) -> str:
    results = list(results)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("success", "failed", "skipped")}
    lines = [f"Done in {seconds:.2f}s: {counts['success']} succeeded, {counts['failed']} failed, "
             f"{counts['skipped']} skipped.  run {run_id}"]
    failures = [r for r in results if r.status == "failed"]
    if failures:
        lines.append("Failures:")
        for (asset, error, attempts), same in _grouped(failures, lambda r: (r.asset, r.error or "", r.attempts)):
            each = " each" if len(same) > 1 else ""
            lines.append(f"  {label_many(asset, [r.partition for r in same])} after {attempts} attempt(s){each}:")
            lines.extend(f"    {line}" for line in error.splitlines())
    notes = check_lines(checks)
    if notes:
        lines.append("Checks:")
        lines.extend(notes)
    blocked = plan.blocked if plan is not None else ()
    if blocked:
        lines.append(f"Blocked ({len(blocked)}), not run:")
        lines.extend(f"  {label(b.asset, b.partition)}: {', '.join(b.reasons)}" for b in blocked[:20])
        if len(blocked) > 20:
            lines.append(f"  ... and {len(blocked) - 20} more")
    lines.append(f"database: {database}")
    return "\n".join(lines)


def check_json(outcomes: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"asset": o.asset, "partition": o.partition, "check": o.result.name, "severity": o.result.severity,
             "passed": o.result.passed, "failing": o.result.failing, "error": o.result.error}
            for o in outcomes]


def run_json(run_id: str | None, status: str, results: Iterable[StepResult], plan: Plan,
             checks: Iterable[Any] = ()) -> dict[str, Any]:
    return {"run_id": run_id, "status": status, "checks": check_json(checks),
            "results": [{"asset": r.asset, "partition": r.partition, "status": r.status, "attempts": r.attempts,
                         "rows": r.rows, "error": r.error} for r in results],
            "blocked": [{"asset": b.asset, "partition": b.partition, "reasons": list(b.reasons)}
                        for b in plan.blocked]}


def dry_run_json(plan: Plan) -> dict[str, Any]:
    return {"run_id": None, "status": "planned",
            "results": [{"asset": s.asset, "partition": key, "status": "planned", "attempts": 0,
                         "rows": None, "error": None, "reasons": list(s.reasons)}
                        for s in plan.steps for key in s.keys],
            "blocked": [{"asset": b.asset, "partition": b.partition, "reasons": list(b.reasons)}
                        for b in plan.blocked]}


# ---------------------------------------------------------------- status --verify and moved sources

def moved_sources_text(moved: Iterable[Any]) -> str:
    """Source views that still read the files' old place (the project folder moved)."""
    return "\n".join(f"source {m.name}: its view reads {m.reads or 'an old path'}, the files are now at {m.glob}; "
                     "`assetflow materialize` recreates it" for m in moved)


def moved_sources_json(moved: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"name": m.name, "view_reads": m.reads, "files": m.glob} for m in moved]


def drift_text(drift: Iterable[Any], outside: Iterable[Any] = ()) -> str:
    """`--verify`: drift, then what lies outside the partition ranges (not drift: state agrees)."""
    drift, beyond = list(drift), outside_text(outside)
    if not drift:
        return "verify: state and data agree" + (f"\n{beyond}" if beyond else "")
    lines = [f"verify: {len(drift)} partition(s) where state and data disagree:"]
    for d in drift[:50]:
        lines.append(f"  {label(d.asset, d.partition)}: {d.problem} (recorded {d.recorded}, found {d.actual})")
    return "\n".join(lines + ([beyond] if beyond else []))


# ---------------------------------------------------------------- clean

def outside_text(outside: Iterable[Any]) -> str:
    lines = [f"  {o.asset}: {_outside_what(o)} outside its partitions ({o.range})" for o in outside]
    if not lines:
        return ""
    return "\n".join(["outside the partition range (`assetflow clean` removes it):", *lines])


def _outside_what(o: Any) -> str:
    keys = o.partitions[0] if len(o.partitions) == 1 else f"{o.partitions[0]} .. {o.partitions[-1]}"
    what = [f"{o.rows} rows"] if o.rows else []
    what += [f"{o.records} partition record(s)"] if o.records else []
    return f"{' and '.join(what)} in {len(o.partitions)} partition(s) ({keys})"


def outside_json(outside: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"asset": o.asset, "range": o.range, "rows": o.rows, "records": o.records,
             "partitions": list(o.partitions)} for o in outside]


def clean_text(report: Any) -> str:
    if report.empty:
        return "Nothing to clean: every table, view and record belongs to an asset, inside its partitions."
    lines = []
    if report.orphans:
        lines.append("Orphaned (no asset defines them now):")
        for o in report.orphans:
            what = [f"{o.kind}" if o.kind else "no table left"]
            what += [f"{o.records} partition record(s)"] if o.records else []
            lines.append(f"  {o.name}  {', '.join(what)}")
    if report.out_of_range:
        lines.append("Outside the current partition range:")
        lines.extend(f"  {o.asset}: {_outside_what(o)}; the range is {o.range}" for o in report.out_of_range)
    if report.cleaned:
        lines.append(f"Dropped and deleted all of it in one transaction.  run {report.run_id}")
    else:
        lines.append("Nothing was changed; run `assetflow clean --yes` to drop and delete all of it.")
    return "\n".join(lines)


def clean_json(report: Any) -> dict[str, Any]:
    return {"orphans": [{"name": o.name, "kind": o.kind, "records": o.records} for o in report.orphans],
            "out_of_range": outside_json(report.out_of_range), "cleaned": report.cleaned, "run_id": report.run_id}


# ---------------------------------------------------------------- runs

def _slots(record: Any) -> dict[str, Any]:
    return {s: getattr(record, s) for s in record.__slots__}


def run_record_json(record: Any, attempts: Iterable[Any]) -> dict[str, Any]:
    return {"run": _slots(record), "attempts": [_slots(a) for a in attempts]}


def run_record_text(record: Any, attempts: Iterable[Any]) -> str:
    """A run and every attempt, with the whole error (traceback included) and the asset's log."""
    ended = utc_text(record.ended_at) if record.ended_at else "-"
    lines = [f"run {record.run_id}  {record.status}  {record.command}",
             f"started {utc_text(record.started_at)}  ended {ended}"]
    if getattr(record, "tick", None) is not None:
        lines.append(f"trigger {record.trigger}  tick {utc_iso(record.tick)}")
    for a in attempts:
        rows = f"  {a.rows} rows" if a.rows is not None else ""
        lines.append(f"  {a.status:<8} {label(a.asset, a.partition)}  attempt {a.attempt}{rows}")
        lines.extend(f"           | {line}" for entry in a.log for line in entry.splitlines())
        lines.extend(f"           {line}" for line in (a.error or "").splitlines())
    return "\n".join(lines)
