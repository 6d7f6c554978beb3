"""The web UI of `assetflow serve`: server-rendered pages over `api`, a little vanilla JS, and the
runs the UI launches (see docs/ui.md). Everything it sends ships in this package (static/)."""
from __future__ import annotations

from pathlib import Path


def build_server(root: Path, host: str = "127.0.0.1", port: int = 8765, target: str | None = None,
                 schedules: bool = False):
    """A bound, not yet serving `server.Server` for the project at `root` (port 0: a free port).
    The project is loaded and its graph built here, so a broken project fails before the address is
    printed."""
    from assetflow import api
    from assetflow.ui.app import App
    from assetflow.ui.reads import Reads
    from assetflow.ui.server import Server, new_token
    reads = Reads(root, target)
    reads.graph(reads.project())          # (a project whose graph cannot be built fails here)
    from assetflow.ui.scheduling import schedule_state
    return Server(App(reads, new_token(), schedule_state(reads, schedules)), host, port)
