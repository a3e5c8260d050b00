"""A real HTTP server in a thread that receives outgoing webhooks, as a host's CRM would: it records
every request and answers what the test queued (default 200). :meth:`Receiver.verified` checks every
signature with the ``standardwebhooks`` package itself."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

#: Settings every outgoing-webhook test needs to reach a server on 127.0.0.1 over plain HTTP.
LOCAL_DELIVERY = pytest.mark.settings(WEBHOOKS_ALLOW_HTTP=True, WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=True)


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def header(self, name: str) -> str | None:
        return {key.lower(): value for key, value in self.headers.items()}.get(name.lower())


@dataclass
class Answer:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes = b"ok"
    #: Seconds to wait before answering (longer than the timeout setting: a timeout).
    delay: float = 0.0


class Receiver:
    def __init__(self):
        self.requests: list[Received] = []
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self.url = ""

    def answer(self, status: int = 200, body: bytes | str = b"ok", headers: dict | None = None,
               delay: float = 0.0, times: int = 1) -> None:
        """Queue the answer to the next request(s); once the queue is empty the answer is 200 "ok"."""
        body = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._answers.extend(Answer(status, headers or {}, body, delay) for _ in range(times))

    def next_answer(self) -> Answer:
        with self._lock:
            return self._answers.pop(0) if self._answers else Answer()

    def record(self, received: Received) -> None:
        with self._lock:
            self.requests.append(received)

    def verified(self, secret: str) -> list[dict]:
        """Every request's payload, each verified with ``standardwebhooks`` (raises on a bad one)."""
        return [Webhook(secret).verify(request.body, request.headers) for request in self.requests]

    def events(self, secret: str) -> list[str]:
        return [payload["type"] for payload in self.verified(secret)]

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.record(Received(self.path, dict(self.headers.items()), body))
            answer = receiver.next_answer()
            if answer.delay:
                time.sleep(answer.delay)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format, *args):
            pass

    return Handler


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 and a free port: ``receiver.url`` is ``http://127.0.0.1:<port>/hooks``."""
    found = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_port}/hooks"
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
