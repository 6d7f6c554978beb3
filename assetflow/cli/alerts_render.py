"""How `runs show` prints a run's alerts (`alerts.run_alerts.RunAlert`), in text and JSON."""
from __future__ import annotations

from typing import Any, Iterable


def alerts_json(alerts: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"destination": a.destination, "kind": a.kind, "status": a.status, "attempts": a.attempts,
             "last_error": a.last_error, "subject": a.subject, "created_at": a.created_at,
             "next_attempt": a.next_attempt} for a in alerts]


def alerts_text(alerts: Iterable[Any]) -> str | None:
    """An `alerts (N):` block, a line per notification; None for a run that sent none."""
    alerts = list(alerts)
    if not alerts:
        return None
    lines = [f"alerts ({len(alerts)}):"]
    for a in alerts:
        retry = f", next at {a.next_attempt:%Y-%m-%dT%H:%M:%S}Z" if a.next_attempt is not None else ""
        lines.append(f"  {a.status:<10} {a.kind:<10} {a.destination}  {a.attempts} attempt"
                     f"{'' if a.attempts == 1 else 's'}{retry}  ({a.subject})")
        if a.last_error:
            lines.append(f"  {'':<10} {'':<10} last error: {a.last_error}")
    return "\n".join(lines)
