"""The HTTP layer of `assetflow serve`: stdlib `ThreadingHTTPServer`, the security checks, static files.

Security (SPEC section 14):
- it binds 127.0.0.1 unless told otherwise;
- every request's Host must name this server when it listens on loopback (a DNS-rebinding page
  cannot read the token from a page it fetched under its own name);
- every POST (the only requests that change anything) must carry the per-process random token in
  the `X-Assetflow-Token` header, which only a page served by this process can read (from its
  <meta> tag: the same-origin policy keeps it from other sites), must be JSON (so a cross-site form
  cannot send it without a CORS preflight, which is never granted), and must not come from another
  Origin; anything else is 403;
- pages carry a Content-Security-Policy that allows only this server's own scripts and styles.
"""
from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import urlsplit

from assetflow.ui.app import App
from assetflow.ui.html import Page
from assetflow.ui.reads import POLL

TOKEN_HEADER = "X-Assetflow-Token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_BODY = 64 * 1024
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8", ".png": "image/png"}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


@dataclass(frozen=True)
class Guard:
    """Which Host and Origin values this server answers, and its token."""

    token: str
    host: str
    port: int

    def host_ok(self, header: str | None) -> bool:
        if not is_loopback(self.host):
            return True            # bound to a public address on purpose (serve warned): any name
        if not header:
            return False
        name, _, port = header.rpartition(":") if not header.endswith("]") else (header, "", "")
        name = name or header
        return is_loopback(name) and (port == "" or port == str(self.port))

    def post_ok(self, headers) -> str | None:
        """None when a state-changing request may go ahead, else why it is refused."""
        token = headers.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return f"missing or wrong {TOKEN_HEADER} header: reload the page"
        origin = headers.get("Origin")
        if origin and (origin == "null" or not self.host_ok(urlsplit(origin).netloc)):
            return f"cross-origin request from {origin} refused"
        if headers.get("Sec-Fetch-Site") not in (None, "same-origin", "none"):
            return "cross-site request refused"
        if (headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return "actions take a JSON body (Content-Type: application/json)"
        return None


def _handler(app: App, guard: Guard):
    static = resources.files("assetflow.ui") / "static"

    class Handler(BaseHTTPRequestHandler):
        server_version = "assetflow"
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):       # quiet: serve prints only its address and problems
            pass

        def do_GET(self):
            if not guard.host_ok(self.headers.get("Host")):
                return self._send(Page(403, "unknown Host", "text/plain; charset=utf-8"))
            url = urlsplit(self.path)
            if url.path.startswith("/static/"):
                return self._send(_static(static, url.path.removeprefix("/static/")))
            self._send(app.get(url.path, url.query))

        def do_POST(self):
            if not guard.host_ok(self.headers.get("Host")):
                return self._send(Page(403, "unknown Host", "text/plain; charset=utf-8"))
            refused = guard.post_ok(self.headers)
            length = int(self.headers.get("Content-Length") or 0)
            if refused is None and length > MAX_BODY:
                refused = "request body too large"
            if refused is not None:
                import json
                return self._send(Page(403, json.dumps({"error": refused}), "application/json"))
            self._send(app.post(urlsplit(self.path).path, self.rfile.read(length) if length else b""))

        def _send(self, page: Page) -> None:
            data = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store" if not page.content_type.startswith(("text/javascript",
                                                                                            "text/css")) else "max-age=60")
            for name, value in _HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _static(root, name: str) -> Page:
    """A file shipped in assetflow/ui/static (no `..`, no hidden files)."""
    parts = name.split("/")
    if not name or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        return Page(404, "not found", "text/plain; charset=utf-8")
    item = root.joinpath(*parts)
    suffix = "." + parts[-1].rpartition(".")[2]
    if suffix not in _TYPES or not item.is_file():
        return Page(404, "not found", "text/plain; charset=utf-8")
    data = item.read_bytes()
    return Page(200, data if suffix == ".png" else data.decode("utf-8"), _TYPES[suffix])


class Server:
    """A started UI server: `address`, `serve_forever()` (blocks), `stop(grace)`."""

    def __init__(self, app: App, host: str, port: int):
        self.app = app
        self.httpd = ThreadingHTTPServer((host, port), lambda *a: None)    # handler set below, once bound
        self.httpd.daemon_threads = True
        bound_port = self.httpd.server_address[1]
        self.guard = Guard(app.token, host, bound_port)
        self.httpd.RequestHandlerClass = _handler(app, self.guard)
        self.host, self.port = host, bound_port
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def warm(self) -> None:
        """Read what the first pages need (the status, the column types) before serving: a page
        then never waits for a read that its server could have made before it was asked."""
        for read in (self.app.reads.status, self.app.reads.columns):
            try:
                read()
            except Exception:       # noqa: BLE001 - the first page shows the error instead
                pass

    def serve_forever(self) -> None:
        threading.Thread(target=self._refresh, name="assetflow-refresh", daemon=True).start()
        self.httpd.serve_forever(poll_interval=0.2)

    def _refresh(self) -> None:
        """Keep the status current in the background (`Reads.refresh`) until the server stops."""
        while not self._stopped.wait(POLL):
            try:
                self.app.reads.refresh()
            except Exception:       # noqa: BLE001 - a failed background read is retried; pages read themselves
                pass

    def stop(self, timeout: float | None = None) -> None:
        """Stop starting runs and answering; a running build gets its grace period (api.RunEvents.stop)."""
        self._stopped.set()
        self.app.launcher.stop_all(timeout)
        self.httpd.shutdown()
        self.httpd.server_close()
