"""A real HTTP receiver on 127.0.0.1 for alert tests: it records every POST and answers from a
script (status, headers, body), so Slack's 400s, PagerDuty's 202, 429 with Retry-After, 5xx, a
redirect and a slow answer are all real HTTP exchanges."""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str = "ok"
    headers: dict = field(default_factory=dict)
    hold: bool = False              # do not answer until the receiver is closed (a hung server)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):                                    # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver: Receiver = self.server.receiver
        answer = receiver.next_answer(self.path)
        receiver.received.append(Received(self.path, dict(self.headers), body))
        if answer.hold:
            receiver.released.wait(30)
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        payload = answer.body.encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


class Receiver:
    """`answers[path]` is a list consumed one per request (the last one repeats); default 200 ok."""

    def __init__(self, port: int = 0):
        """`port`: 0 for a free one; a given one brings a receiver that was down back up where it was."""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.receiver = self
        self.received: list[Received] = []
        self.answers: dict[str, list[Answer]] = {}
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def answer(self, path: str, *answers: Answer) -> None:
        self.answers[path] = list(answers)

    def next_answer(self, path: str) -> Answer:
        with self._lock:
            queue = self.answers.get(path.split("?")[0])
            if not queue:
                return Answer()
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def bodies(self, path: str) -> list:
        return [r.json() for r in self.received if r.path == path]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
