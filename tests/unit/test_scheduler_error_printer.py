"""The foreground scheduler prints an error once while it lasts, not at every retry."""
from __future__ import annotations

from assetflow.cli.schedule import REPEAT_ERROR_AFTER, _error_printer
from assetflow.errors import ProjectError


def test_the_same_error_is_printed_once_per_repeat_period(capsys):
    now = [0.0]
    show = _error_printer(clock=lambda: now[0])
    broken = ProjectError("unknown setting 'bogus'", path="assets/bad.sql", line=3)
    for step in range(20):                       # the loop retrying every few seconds
        now[0] = step * 5.0
        show(broken)
    now[0] = REPEAT_ERROR_AFTER + 1
    show(broken)                                  # still broken ten minutes later: said again
    show(ProjectError("another"))                 # something else: said at once
    show(broken)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    bogus = "error: assets/bad.sql:3: unknown setting 'bogus'"
    assert lines == [bogus, bogus, "error: another", bogus]
