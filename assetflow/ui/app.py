"""What each URL answers: pages (GET) and actions (POST, JSON). The HTTP layer (`server`) has
already checked the Host, and for a POST the token and the Origin, before calling these.

No request runs SQL of its own: pages read through `api`, and actions are materialize, backfill,
retry and cancel, whose inputs are asset names, selections and partition keys.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Callable
from urllib.parse import parse_qs, unquote

from assetflow import api
from assetflow.errors import AssetflowError
from assetflow.ui import actions
from assetflow.ui.html import Page, esc, layout, not_found
from assetflow.ui.launcher import Launcher
from assetflow.ui.pages_asset import asset_body
from assetflow.ui.pages_assets import DEFAULT_DEPTH, assets_body
from assetflow.ui.pages_runs import run_body, runs_body
from assetflow.ui.pages_schedules import Heartbeat, TickRow, schedules_body
from assetflow.ui.reads import Reads

RUNS_LISTED = 50


class App:
    def __init__(self, reads: Reads, token: str,
                 schedule_state: Callable[[], tuple[Heartbeat, list[TickRow]]] | None = None):
        self.reads = reads
        self.token = token
        self.launcher = Launcher(reads.project, on_end=reads.forget_status)
        self._schedule_state = schedule_state or (lambda: (Heartbeat(None, "no scheduler runs in this process"), []))

    # ---------------------------------------------------------------- GET

    def get(self, path: str, query: str) -> Page:
        with self.reads.request():
            return self._get(path, query)

    def _get(self, path: str, query: str) -> Page:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        try:
            if not parts or parts == ["assets"]:
                return self._assets(params)
            if parts[0] == "assets" and len(parts) == 2:
                return self._asset(parts[1])
            if parts == ["runs"]:
                return self._runs()
            if parts[0] == "runs" and len(parts) == 2:
                return self._run(parts[1])
            if parts[:2] == ["api", "runs"] and len(parts) == 3:
                return self._progress(parts[2])
            if parts == ["schedules"]:
                return self._schedules()
        except AssetflowError as exc:
            return self._error(exc)
        return not_found(f"There is no page at {path}.", self.token, self._name())

    def _name(self) -> str:
        try:
            return self.reads.project().config.name
        except AssetflowError:
            return ""

    def _page(self, title: str, body: str, active: str, scripts=(), banner: str | None = None) -> Page:
        error = self.reads.load_error
        if error is not None:
            banner = f"The project does not load now; showing it as last loaded. {error.render()}"
        return Page(200, layout(title, body, self.token, self._name(), active, scripts, banner))

    def _error(self, exc: AssetflowError) -> Page:
        body = f'<h1>Error</h1><pre class="error">{esc(exc.render())}</pre><p><a href="/">Back to the assets</a></p>'
        return Page(500 if exc.exit_code == 1 else 400, layout("Error", body, self.token, self._name()))

    def _assets(self, params: dict) -> Page:
        view = self.reads.status()
        depth = int(params["depth"]) if params.get("depth", "").isdigit() else DEFAULT_DEPTH
        focus = params.get("focus") or None
        if focus is not None and focus not in view.report.graph.assets:
            return not_found(f"There is no asset '{focus}' in this project.", self.token, self._name())
        body = assets_body(view.report, focus, max(1, min(depth, 9)))
        return self._page("Assets", body, "/", ("vendor/dagre.min.js", "graph.js"), view.note)

    def _asset(self, name: str) -> Page:
        view = self.reads.status()
        if name not in view.report.graph.assets:
            return not_found(f"There is no asset '{name}' in this project.", self.token, self._name())
        project = self.reads.project()
        columns, runs = self._optional(self.reads.columns), self._optional(lambda: self.reads.asset_runs(name, 10))
        body = asset_body(name, view.report, project.root, columns, runs or [])
        return self._page(name, body, "/", ("asset.js",), view.note)

    @staticmethod
    def _optional(read):
        """A secondary read (column types, recent runs) that a busy database must not fail the page for."""
        try:
            return read()
        except AssetflowError:
            return None

    def _runs(self) -> Page:
        project = self.reads.project()
        records = self._optional(lambda: api.list_runs(project, self.reads.target_name, RUNS_LISTED))
        body = runs_body(records or [], self.launcher.launches())
        note = None if records is not None else "the database is in use: showing only the runs started here"
        return self._page("Runs", body, "/runs", (), note)

    def _run(self, run_id: str) -> Page:
        launch = self.launcher.find(run_id)
        live = launch.snapshot() if launch else None
        running = launch is not None and not launch.finished
        record, attempts = None, []
        stored_id = launch.run_id if launch else run_id
        if stored_id and not running:
            try:
                record, attempts = api.show_run(self.reads.project(), self.reads.target_name, stored_id)
            except AssetflowError as exc:
                if launch is None:
                    return not_found(f"There is no run '{run_id}': {exc.message}.", self.token, self._name())
        body = run_body(run_id, record, attempts, live if running or record is None else None)
        return self._page(f"Run {run_id}", body, "/runs", ("run.js",))

    def _progress(self, run_id: str) -> Page:
        launch = self.launcher.find(run_id)
        if launch is None:
            return _json(404, {"error": f"no run '{run_id}' was launched by this process"})
        return _json(200, launch.snapshot())

    def _schedules(self) -> Page:
        project = self.reads.project()
        heartbeat, history = self._schedule_state()
        body = schedules_body(project.config.schedules, heartbeat, history, datetime.now(timezone.utc))
        return self._page("Schedules", body, "/schedules")

    # ---------------------------------------------------------------- POST

    def post(self, path: str, body: bytes) -> Page:
        with self.reads.request():
            return self._post(path, body)

    def _post(self, path: str, body: bytes) -> Page:
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        try:
            form = json.loads(body or b"{}")
            if not isinstance(form, dict):
                raise ValueError("not an object")
        except ValueError:
            return _json(400, {"error": "the request body must be a JSON object"})
        try:
            return self._action(parts, form)
        except AssetflowError as exc:
            return _json(400, {"error": exc.render(), "message": exc.message, "hint": exc.hint})

    def _action(self, parts: list[str], form: dict) -> Page:
        project = self.reads.project()
        if parts == ["api", "materialize"]:
            selection = tuple(str(form.get("selection") or "").split())
            return self._launched(actions.materialize_options(project, selection))
        if parts in (["api", "backfill", "preview"], ["api", "backfill"]):
            options = actions.backfill_options(project, actions.BackfillForm(
                str(form.get("asset", "")), str(form.get("from", "")), str(form.get("to", "")),
                bool(form.get("downstream", True)), bool(form.get("only_missing", False))))
            if parts[-1] == "preview":
                found = actions.preview(project, options)
                return _json(200, {**asdict(found), "sentence": found.sentence})
            return self._launched(options)
        if len(parts) == 4 and parts[:2] == ["api", "runs"] and parts[3] in ("cancel", "retry"):
            return self._run_action(parts[2], parts[3])
        return _json(404, {"error": f"no action at /{'/'.join(parts)}"})

    def _run_action(self, run_id: str, verb: str) -> Page:
        if verb == "cancel":
            launch = self.launcher.cancel(run_id)
            if launch is None:
                return _json(404, {"error": f"run '{run_id}' was not launched by this serve process: "
                                            "stop it where it runs (Ctrl-C or SIGTERM)"})
            return _json(200, {"status": launch.status, "cancelling": True})
        launch = self.launcher.find(run_id)
        stored = launch.run_id if launch else run_id
        _, attempts = api.show_run(self.reads.project(), self.reads.target_name, stored or run_id)
        return self._launched(actions.retry_options(self.reads.project(), stored, attempts))

    def _launched(self, options: api.MaterializeOptions) -> Page:
        launch = self.launcher.launch(options)
        return _json(202, {"launch_id": launch.launch_id, "url": f"/runs/{launch.launch_id}"})


def _json(status: int, value) -> Page:
    return Page(status, json.dumps(value, default=str), "application/json")
