"""A local stand-in for a provider's HTTP API: records every request and answers from a script.

Nothing here reaches the internet: the real SDKs are pointed at ``127.0.0.1:<port>``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Captured:
    method: str
    path: str  # without the query
    query: list[tuple[str, str]]  # decoded, in the order sent
    raw_query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_port: int = 0  # the caller's TCP port: equal ports mean one kept-alive connection

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def params(self) -> dict[str, str]:
        return dict(self.query)


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | dict = b""
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before answering (to make a client time out)
    headers: dict[str, str] = field(default_factory=dict)


class FakeProvider:
    """``answer`` is a callable ``Captured -> Answer`` (or a fixed ``Answer``); ``requests`` lists what came in."""

    def __init__(self):
        self.requests: list[Captured] = []
        self.answer = Answer(body={})
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, raw_query = self.path.partition("?")
                captured = Captured(self.command, path, urllib.parse.parse_qsl(raw_query, keep_blank_values=True),
                                    raw_query, {k.lower(): v for k, v in self.headers.items()}, body,
                                    self.client_address[1])
                provider.requests.append(captured)
                answer = provider.answer(captured) if callable(provider.answer) else provider.answer
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.body
                if isinstance(payload, dict):
                    payload = json.dumps(payload, ensure_ascii=False)
                if isinstance(payload, str):
                    payload = payload.encode("utf-8")
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.endpoint}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Both SDKs and urllib honour *_PROXY variables; the local servers must be reached directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def provider():
    p = FakeProvider()
    yield p
    p.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
