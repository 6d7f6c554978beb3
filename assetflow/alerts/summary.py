"""What an alert says about a run: a typed summary, and the JSON payload of SPEC section 7.

Pure. Built once per unsuccessful run; every destination formats the same summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

FAILED, RECOVERED = "failed", "recovered"
MAX_ERROR_LINE = 300
# The planner's propagated reasons ("upstream blocked: ...", "upstream failed: ...") all start so;
# a partition blocked that way is not a cause of its own (its upstream is reported instead).
_PROPAGATED = "upstream "


@dataclass(frozen=True, slots=True)
class Failure:
    """A partition that failed after its retries."""

    asset: str
    partition: str | None
    error: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Blocked:
    """A selected partition that could not be built, e.g. its source file did not arrive."""

    asset: str
    partition: str | None
    reason: str

    @property
    def is_cause(self) -> bool:
        return not self.reason.startswith(_PROPAGATED)


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """An `error` check (declared on the asset, or a custom checks/*.sql) that did not pass."""

    asset: str
    check: str
    error: str


@dataclass(frozen=True, slots=True)
class TickFailure:
    """A scheduled tick that failed before its run began (the project did not load, its
    selection errors): there is no run, so this is what the alert is about."""

    schedule: str
    tick: str                            # ISO 8601 UTC with a Z
    reason: str

    @property
    def incident(self) -> str:
        """What its incident (and PagerDuty's dedup key) is named after, beside the assets."""
        return f"schedule:{self.schedule}"


@dataclass(frozen=True, slots=True)
class RunSummary:
    project: str
    run_id: str
    trigger: str                         # "manual" | "schedule:NAME" | "check"
    failures: tuple[Failure, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    checks: tuple[CheckFailure, ...] = ()
    command: str = ""                    # as typed, shown to people (Slack), not in the JSON payload
    status: str = FAILED
    tick: TickFailure | None = None      # set for a tick that failed before its run (run_id names the tick)

    @property
    def failed_assets(self) -> tuple[str, ...]:
        return tuple(sorted({f.asset for f in self.failures}))

    @property
    def failing_assets(self) -> tuple[str, ...]:
        """Assets this run found broken: a failed partition, a partition blocked by a cause of its
        own (not by its upstream), or a failed error check. One incident each."""
        names = {f.asset for f in self.failures} | {c.asset for c in self.checks}
        names |= {self.tick.incident} if self.tick is not None else set()
        return tuple(sorted(names | {b.asset for b in self.blocked if b.is_cause}))

    def failures_of(self, asset: str) -> tuple[Failure, ...]:
        return tuple(f for f in self.failures if f.asset == asset)

    def blocked_of(self, asset: str) -> tuple[Blocked, ...]:
        return tuple(b for b in self.blocked if b.asset == asset)

    def checks_of(self, asset: str) -> tuple[CheckFailure, ...]:
        return tuple(c for c in self.checks if c.asset == asset)


@dataclass(frozen=True, slots=True)
class Recovery:
    """Assets with an open incident that a later run left with nothing failed."""

    project: str
    run_id: str
    trigger: str
    assets: tuple[str, ...]


def summarize(project: str, run_id: str, trigger: str, results: Iterable[Any] = (), blocked: Iterable[Any] = (),
              checks: Iterable[Any] = (), command: str = "") -> RunSummary:
    """A summary from the run's own records (duck-typed: step results with asset/partition/status/
    error/attempts, planner PartitionStatus, check outcomes), sorted so alerts are reproducible."""
    failures = sorted((Failure(r.asset, r.partition, r.error or "", r.attempts) for r in results
                       if r.status == FAILED), key=lambda f: (f.asset, f.partition or ""))
    stuck = sorted((Blocked(b.asset, b.partition, "; ".join(b.reasons)) for b in blocked),
                   key=lambda b: (b.asset, b.partition or ""))
    failed_checks = sorted((CheckFailure(o.asset, o.result.name, _check_error(o.result)) for o in checks
                            if not o.result.passed and o.result.severity == "error"),
                           key=lambda c: (c.asset, c.check))
    return RunSummary(project, run_id, trigger, tuple(failures), tuple(stuck), tuple(failed_checks), command)


def _check_error(result: Any) -> str:
    if result.failing < 0:
        return getattr(result, "error", None) or "the check could not run"
    return f"{result.failing} failing row{'s' if result.failing != 1 else ''}"


def alert_payload(summary: RunSummary) -> dict[str, Any]:
    """The JSON of SPEC section 7, POSTed to a webhook and piped to a command; a tick that failed
    before its run has `run_id` null and a `tick` key: {"schedule", "tick", "reason"}."""
    tick = summary.tick
    return {
        "project": summary.project, "run_id": None if tick else summary.run_id, "status": summary.status,
        "failures": [{"asset": f.asset, "partition": f.partition, "error": f.error, "attempts": f.attempts}
                     for f in summary.failures],
        "blocked": [{"asset": b.asset, "partition": b.partition, "reason": b.reason} for b in summary.blocked],
        "checks": [{"asset": c.asset, "check": c.check, "error": c.error} for c in summary.checks],
        "trigger": summary.trigger,
        **({"tick": {"schedule": tick.schedule, "tick": tick.tick, "reason": tick.reason}} if tick else {}),
    }


def tick_failure_summary(project: str, failure: TickFailure) -> RunSummary:
    """What a tick that failed before its run alerts with; `run_id` is the tick's own key."""
    return RunSummary(project, tick_key(failure.schedule, failure.tick), f"schedule:{failure.schedule}",
                      tick=failure)


def tick_key(schedule: str, tick: str) -> str:
    """Names a tick without a run in the outbox and the incidents: `tick:nightly:2026-03-02T01:00:00Z`."""
    return f"tick:{schedule}:{tick}"


def recovery_payload(recovery: Recovery) -> dict[str, Any]:
    """What a webhook or command receives when open incidents recover."""
    return {"project": recovery.project, "run_id": recovery.run_id, "status": RECOVERED,
            "recovered": list(recovery.assets), "trigger": recovery.trigger}


def first_line(error: str, limit: int = MAX_ERROR_LINE) -> str:
    """The first non-empty line of an error, cut to `limit` characters.

    >>> first_line("\\nValueError: boom\\n  at line 3")
    'ValueError: boom'
    """
    line = next((x.strip() for x in error.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"
