"""Slack incoming-webhook messages: `{"text", "blocks"}` in Block Kit. Pure.

`text` is the notification and fallback line; `blocks` hold the project, run and trigger, one
section per failed asset (its first failing partition and error line), the blocked partitions and
failed checks, and the command that shows everything. Long runs are cut to stay inside Slack's
limits (50 blocks, 3,000 characters per section, 150 per header).
"""
from __future__ import annotations

from typing import Any

from assetflow.alerts.summary import Recovery, RunSummary, first_line

MAX_ASSET_SECTIONS = 10
MAX_LIST_LINES = 10
SECTION_LIMIT = 3000
HEADER_LIMIT = 150


def failure_message(summary: RunSummary) -> dict[str, Any]:
    if summary.tick is not None:
        return _tick_message(summary)
    blocks: list[dict[str, Any]] = [
        _header(f"assetflow: {summary.project} run failed"),
        {"type": "section", "fields": [
            _field("Project", summary.project), _field("Run", f"`{_escape(summary.run_id)}`"),
            _field("Trigger", _trigger(summary)), _field("Status", summary.status)]},
    ]
    assets = summary.failed_assets
    blocks += [_section(_asset_text(summary, asset)) for asset in assets[:MAX_ASSET_SECTIONS]]
    if len(assets) > MAX_ASSET_SECTIONS:
        blocks.append(_section(f"…and {len(assets) - MAX_ASSET_SECTIONS} more failed assets"))
    if summary.blocked:
        lines = [f"`{_escape(b.asset)}`{_partition(b.partition)}: {_escape(first_line(b.reason))}"
                 for b in summary.blocked]
        blocks.append(_section(_listing(f"*Blocked* ({len(lines)} partition{_s(len(lines))})", lines)))
    if summary.checks:
        lines = [f"`{_escape(c.asset)}`: `{_escape(first_line(c.check))}` ({_escape(c.error)})" for c in summary.checks]
        blocks.append(_section(_listing(f"*Failed checks* ({len(lines)})", lines)))
    blocks.append(_see_more(summary.run_id))
    return {"text": failure_text(summary), "blocks": blocks}


def failure_text(summary: RunSummary) -> str:
    """One line for the notification: what broke, in counts."""
    parts = []
    if summary.failures:
        count = len(summary.failed_assets)
        parts.append(f"{count} failed asset{_s(count)} ({len(summary.failures)} partition{_s(len(summary.failures))})")
    if summary.blocked:
        parts.append(f"{len(summary.blocked)} blocked partition{_s(len(summary.blocked))}")
    if summary.checks:
        parts.append(f"{len(summary.checks)} failed check{_s(len(summary.checks))}")
    return (f"{summary.project}: run {summary.run_id} failed ({summary.trigger}): "
            + (", ".join(parts) or "see the run"))


def _tick_message(summary: RunSummary) -> dict[str, Any]:
    """A tick that failed without a run of its own to report (it could not begin one, or its
    run was killed and the tick finished on restart): which schedule and tick, and why."""
    tick = summary.tick
    reason = first_line(tick.reason).replace("```", "'''")
    return {
        "text": f"{summary.project}: the {tick.schedule} tick at {tick.tick} failed: {first_line(tick.reason)}",
        "blocks": [
            _header(f"assetflow: {summary.project} scheduled tick failed"),
            {"type": "section", "fields": [
                _field("Project", summary.project), _field("Schedule", f"`{_escape(tick.schedule)}`"),
                _field("Tick", tick.tick), _field("Status", summary.status)]},
            _section(f"*Why*\n```{_escape(reason)}```"),
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": "See more: `assetflow schedule list`"}]},
        ],
    }


def recovery_message(recovery: Recovery) -> dict[str, Any]:
    names = ", ".join(recovery.assets)
    lines = [f"`{_escape(a)}`" for a in recovery.assets]
    return {
        "text": f"{recovery.project}: recovered in run {recovery.run_id}: {names}",
        "blocks": [
            _header(f"assetflow: {recovery.project} recovered"),
            _section(_listing(f"*Recovered* in run `{_escape(recovery.run_id)}` ({_escape(recovery.trigger)})",
                              lines)),
            _see_more(recovery.run_id),
        ],
    }


def _asset_text(summary: RunSummary, asset: str) -> str:
    failures = summary.failures_of(asset)
    first = failures[0]
    count = len(failures)
    head = f"*{_escape(asset)}* failed"
    if first.partition is not None:
        head += f": {count} partition{_s(count)}, first `{_escape(first.partition)}`"
    head += f" (after {first.attempts} attempt{_s(first.attempts)})"
    error = first_line(first.error).replace("```", "'''")
    return head + (f"\n```{_escape(error)}```" if error else "")


def _trigger(summary: RunSummary) -> str:
    if summary.command:
        return f"{_escape(summary.trigger)}: `assetflow {_escape(summary.command)}`"
    return _escape(summary.trigger)


def _see_more(run_id: str) -> dict[str, Any]:
    return {"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"See more: `assetflow runs show {_escape(run_id)}`"}]}


def _listing(title: str, lines: list[str]) -> str:
    shown = lines[:MAX_LIST_LINES]
    more = [f"…and {len(lines) - len(shown)} more"] if len(lines) > len(shown) else []
    return "\n".join([title, *(f"• {line}" for line in shown), *more])


def _partition(key: str | None) -> str:
    return f" `{_escape(key)}`" if key is not None else ""


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, HEADER_LIMIT)}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def _field(name: str, value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", 2000)}


def _escape(text: str) -> str:
    """Slack's three control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _s(count: int) -> str:
    return "" if count == 1 else "s"
