"""Failure alerts: a JSON payload POSTed to webhooks or piped to commands, once per failed run.

An alert that fails is logged and never changes the run's outcome.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterable

from assetflow.project.config import AlertTarget

log = logging.getLogger("assetflow.run.alerts")
WEBHOOK_TIMEOUT = 5.0
COMMAND_TIMEOUT = 30.0


def failure_payload(project: str, run_id: str, failures: Iterable[Any]) -> dict[str, Any]:
    return {"project": project, "run_id": run_id, "status": "failed",
            "failures": [{"asset": f.asset, "partition": f.partition, "error": f.error, "attempts": f.attempts}
                         for f in failures]}


def send_alerts(targets: Iterable[AlertTarget], payload: dict[str, Any]) -> list[str]:
    """Fire every alert; return one message per alert that could not be delivered."""
    import subprocess
    import urllib.request
    body = json.dumps(payload).encode()
    problems = []
    for target in targets:
        try:
            if target.webhook:
                request = urllib.request.Request(target.webhook, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                    response.read()
            elif target.command:
                done = subprocess.run(target.command, shell=True, input=body, timeout=COMMAND_TIMEOUT,
                                      capture_output=True)
                if done.returncode != 0:
                    raise RuntimeError(f"exit code {done.returncode}: {done.stderr.decode(errors='replace')[:200]}")
        except Exception as exc:  # an alert must never break the run that reports the failure
            what = target.webhook or target.command
            log.debug("alert %s failed: %s", what, exc)       # the caller reports it
            problems.append(f"alert {what} failed: {exc}")
    return problems
