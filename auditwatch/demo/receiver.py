"""A revocation receiver as a real one would be written: it verifies the
Standard Webhooks signature and timestamp, and dedups on ``webhook-id`` so a
retried delivery is acknowledged but not acted on twice.

Used by the demo (to prove the revocation arrived) and by the tests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any]
    at_mono: float


@dataclass
class ReceiverState:
    accepted: list[Received] = field(default_factory=list)  # first delivery of each id
    duplicates: int = 0
    rejected: int = 0
    fail_next: int = 0  # answer this many requests with 503 (fault injection for tests)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class WebhookReceiver:
    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = ReceiverState()
        wh = Webhook(secret)
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(n)
                with state.lock:
                    state.requests += 1
                    if state.fail_next > 0:
                        state.fail_next -= 1
                        self._answer(503, b'{"error":"unavailable"}')
                        return
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = wh.verify(body, headers)
                except WebhookVerificationError as e:
                    with state.lock:
                        state.rejected += 1
                    self._answer(401, orjson.dumps({"error": str(e)}))
                    return
                wid = headers["webhook-id"]
                with state.lock:
                    if any(r.webhook_id == wid for r in state.accepted):
                        state.duplicates += 1
                    else:
                        state.accepted.append(Received(wid, payload, time.perf_counter()))
                self._answer(200, b'{"ok":true}')

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/revoke"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
