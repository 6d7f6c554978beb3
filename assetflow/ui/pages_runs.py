"""The runs page and the page of one run: live progress while it runs here, each partition's
attempts, errors and log lines, a timeline, and the Cancel and Retry failed buttons."""
from __future__ import annotations

from assetflow.state import FAILED
from assetflow.ui.html import badge, data_json, esc, table, url, when

TIMELINE_ROWS = 300         # attempts drawn one bar each; more are drawn one bar per asset
ATTEMPT_ROWS = 1000


def runs_body(records, launches) -> str:
    stored = {r.run_id for r in records}
    rows = [f'<tr><td><a href="{url("runs", x.launch_id)}">{esc(x.launch_id)}</a></td><td>{badge(x.status)}</td>'
            f'<td>{when(x.started_at)}</td><td>{when(x.ended_at)}</td><td>{esc(x.command)}</td></tr>'
            for x in launches if x.run_id not in stored]
    rows += [f'<tr><td><a href="{url("runs", r.run_id)}">{esc(r.run_id)}</a></td><td>{badge(r.status)}</td>'
             f'<td>{when(r.started_at)}</td><td>{when(r.ended_at)}</td><td>{esc(r.command)}</td></tr>'
             for r in records]
    if not rows:
        return '<h1>Runs</h1><p class="muted">No runs yet.</p>'
    return "<h1>Runs</h1>" + table(("run", "status", "started (UTC)", "ended (UTC)", "command"), rows, "runs")


def run_body(run_id: str, record, attempts, live: dict | None) -> str:
    """`record`/`attempts` from the store (None while a launch has not recorded its run yet);
    `live` is the launch's progress when this process runs it."""
    status = live["status"] if live and live["status"] in ("queued", "running") else \
        (record.status if record else live["status"])
    command = record.command if record else live["command"]
    head = (f'<h1>Run <span class="mono">{esc(record.run_id if record else run_id)}</span> '
            f'<span id="run-status" class="badge s-{esc(status)}">{esc(status)}</span></h1>'
            f'<p class="mono">{esc(command)}</p>')
    if record:
        head += f'<p>started {when(record.started_at)} UTC · ended {when(record.ended_at)} UTC</p>'
    head += _buttons(run_id, status, live, attempts)
    if live and live.get("error"):
        head += f'<pre class="error launch-error">{esc(live["error"])}</pre>'
    progress = ""
    if live is not None:
        progress = (f'<section id="progress" data-poll="{url("api", "runs", run_id)}" '
                    f'data-done-url="{url("runs", live["run_id"] or run_id)}">'
                    f'<h2>Progress</h2><progress max="{max(live["total"], 1)}" value="{live["finished"]}"></progress> '
                    f'<span class="progress-text">{live["finished"]} of {live["total"]} partitions</span>'
                    f'<ul class="running"></ul><script type="application/json" id="live-data">{data_json(live)}'
                    f'</script></section>')
    return head + progress + _attempts(attempts) + _logs(attempts) + _timeline(attempts)


def _buttons(run_id: str, status: str, live: dict | None, attempts) -> str:
    out = '<div class="actions">'
    if live is not None and status in ("queued", "running"):
        out += f'<button type="button" id="cancel" data-post="{url("api", "runs", run_id, "cancel")}">Cancel</button>'
    if status not in ("queued", "running") and any(a.status == FAILED for a in attempts):
        out += f'<button type="button" id="retry" data-post="{url("api", "runs", run_id, "retry")}">Retry failed</button>'
    return out + '<span class="form-error" role="alert"></span></div>'


def _attempts(attempts) -> str:
    if not attempts:
        return ""
    rows = []
    for a in attempts[:ATTEMPT_ROWS]:
        error = (f'<details><summary>{esc(_first_line(a.error))}</summary><pre class="error">{esc(a.error)}</pre>'
                 f'</details>') if a.error else ""
        seconds = (a.ended_at - a.started_at).total_seconds() if a.ended_at and a.started_at else None
        rows.append(f'<tr class="attempt s-{esc(a.status)}"><td><a href="{url("assets", a.asset)}">{esc(a.asset)}</a>'
                    f'</td><td>{esc(a.partition or "")}</td><td class="n">{a.attempt}</td><td>{badge(a.status)}</td>'
                    f'<td class="n">{"" if a.rows is None else a.rows}</td><td>{when(a.started_at)}</td>'
                    f'<td class="n">{"" if seconds is None else f"{seconds:.2f}"}</td><td>{error}</td></tr>')
    more = f'<p>and {len(attempts) - ATTEMPT_ROWS} more attempts</p>' if len(attempts) > ATTEMPT_ROWS else ""
    return ("<h2>Partitions</h2>" + table(("asset", "partition", "attempt", "status", "rows", "started (UTC)",
                                           "seconds", "error"), rows, "attempts") + more)


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def _logs(attempts) -> str:
    lines = [line for a in attempts for line in a.log]
    if not lines:
        return ""
    return f'<h2>Log</h2><pre class="log">{esc(chr(10).join(lines[-2000:]))}</pre>'


def _timeline(attempts) -> str:
    """An SVG bar per attempt (per asset for big runs) from its start to its end."""
    timed = [a for a in attempts if a.started_at and a.ended_at]
    if not timed:
        return ""
    if len(timed) > TIMELINE_ROWS:
        spans: dict[str, list] = {}
        for a in timed:
            s = spans.setdefault(a.asset, [a.started_at, a.ended_at, a.status])
            s[0], s[1] = min(s[0], a.started_at), max(s[1], a.ended_at)
            s[2] = FAILED if a.status == FAILED else s[2]
        bars = [(name, *v) for name, v in spans.items()]
    else:
        bars = [(f"{a.asset} {a.partition or ''}".strip(), a.started_at, a.ended_at, a.status) for a in timed]
    t0 = min(b[1] for b in bars)
    span = max((max(b[2] for b in bars) - t0).total_seconds(), 1e-3)
    row, width, label = 18, 640, 260
    parts = []
    for i, (name, start, end, status) in enumerate(bars):
        x = label + (start - t0).total_seconds() / span * width
        w = max((end - start).total_seconds() / span * width, 2)
        y = i * row
        parts.append(f'<text x="{label - 6}" y="{y + 13}" text-anchor="end">{esc(name[:40])}</text>'
                     f'<rect class="s-{esc(status)}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}">'
                     f'<title>{esc(name)}: {(end - start).total_seconds():.2f} s</title></rect>')
    height = len(bars) * row + 20
    axis = (f'<text x="{label}" y="{height - 4}">0 s</text>'
            f'<text x="{label + width}" y="{height - 4}" text-anchor="end">{span:.2f} s</text>')
    return (f'<h2>Timeline</h2><svg class="timeline" viewBox="0 0 {label + width + 10} {height}" '
            f'width="100%" role="img" aria-label="run timeline">{"".join(parts)}{axis}</svg>')
