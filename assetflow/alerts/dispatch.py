"""A run's end, for alerts: decide (incidents), store (the outbox, in the transaction that records
the end), then send within the budget. And the flush a run start or the scheduler does.

Nothing here changes a run's outcome: a failed send is a warning line, and the outbox keeps it.
"""
from __future__ import annotations

import logging
import socket
from datetime import datetime
from typing import Iterable, Protocol

from assetflow.alert_state import DeliveryUpdate, Incident, OutboxEntry
from assetflow.alerts import outbox
from assetflow.alerts.delivery import BUDGET
from assetflow.alerts.incidents import RunEnd, decide
from assetflow.alerts.summary import RunSummary
from assetflow.project.alert_settings import AlertSettings
from assetflow.project.interpolate import Masks
from assetflow.state import RunRecord

log = logging.getLogger("assetflow.alerts")

START_BUDGET = BUDGET / 2            # seconds a run start spends on what earlier runs left unsent


class AlertStore(Protocol):
    def end_run(self, record: RunRecord, entries: Iterable[OutboxEntry], incidents: Iterable[Incident],
                closed: Iterable[tuple[str, str]], folded: bool = False) -> None: ...
    def due(self, now: datetime, limit: int = 100, run_id: str | None = None) -> list[OutboxEntry]: ...
    def record_deliveries(self, updates: Iterable[DeliveryUpdate]) -> None: ...
    def open_incidents(self, project: str) -> dict[str, Incident]: ...
    def failed_assets(self, assets: Iterable[str]) -> set[str]: ...


def source_name() -> str:
    """PagerDuty's `payload.source`: where the run happened."""
    return f"assetflow@{socket.gethostname()}"


def end_run(store: AlertStore, settings: AlertSettings, masks: Masks, record: RunRecord,
            summary: RunSummary | None, examined: Iterable[str], project: str, trigger: str, now: datetime,
            folded: bool = False) -> tuple[str, ...]:
    """Record the run's end with its notifications and incident changes in one transaction, then
    send them. Returns a masked line per notification that did not arrive."""
    incidents = store.open_incidents(project)
    examined = frozenset(examined)
    end = RunEnd(project, record.run_id, trigger, summary, examined,
                 frozenset(store.failed_assets(examined & set(incidents))))
    decision = decide(settings, end, incidents, now, source_name())
    entries = outbox.to_entries(decision.notifications, record.run_id, now)
    store.end_run(record, entries, decision.incidents, [(project, a) for a in decision.closed], folded)
    if decision.quiet:
        log.info("alerts: %s still broken, notified less than %g s ago; not notified again",
                 ", ".join(decision.quiet), settings.repeat_after)
    return flush_due(store, settings, masks, now, BUDGET, record.run_id)


def flush_due(store: AlertStore, settings: AlertSettings, masks: Masks, now: datetime,
              budget: float = START_BUDGET, run_id: str | None = None) -> tuple[str, ...]:
    """Send what is due in the outbox (a run's own entries first); never raises."""
    try:
        return outbox.flush(store, settings, masks, now, budget, run_id)
    except Exception as exc:  # the store failing here must not fail the run that reports
        log.info("alerts: the outbox could not be sent: %s", masks.mask(f"{type(exc).__name__}: {exc}"))
        return (masks.mask(f"alerts not sent now ({type(exc).__name__}: {exc}); the next run sends them"),)
