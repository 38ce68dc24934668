"""A stand-in for PagerDuty's Events API v2 (``POST /v2/enqueue``), over real HTTP.

It validates an event the way PagerDuty documents it: a JSON object; a
32-character ``routing_key``; ``event_action`` one of trigger, acknowledge,
resolve; ``dedup_key`` at most 255 characters (required to acknowledge or
resolve); for a trigger, ``payload.summary`` (at most 1024 characters: the
stand-in rejects a longer one, where PagerDuty may cut it, so an overlong
summary fails the tests), ``payload.source`` and ``payload.severity`` (critical,
error, warning, info), an ISO 8601 ``payload.timestamp`` if given, an object
``custom_details``, ``links`` with an ``href``; 512 KB at most. It answers 202
``{"status": "success", "message": "Event processed", "dedup_key": ...}`` or 400
``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}``.

Throttling: PagerDuty allows about 120 events a minute per routing key
(``per_minute``, a sliding window on an injected clock); ``throttle_next(n)``
answers the next n requests with 429 (with ``Retry-After`` when given; the
real service's 429 body is not documented, this one is a guess);
``fail_next(n)`` answers 500; ``stall_next(n, seconds)`` answers late (client
timeouts). Accepted events are recorded per ``dedup_key`` in arrival order.

``echo_routing_key`` makes the 400 errors quote the routing key, as a careless
proxy in front of PagerDuty might: the sender must still never show it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import orjson

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_BODY = 512 * 1024


@dataclass
class StandInState:
    events: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict
    )  # dedup_key -> accepted events
    arrivals: list[tuple[str, str]] = field(
        default_factory=list
    )  # (dedup_key, event_action), all keys
    rejected: list[dict[str, Any]] = field(default_factory=list)  # the 400 answers sent
    statuses: list[int] = field(default_factory=list)  # every answer, in order
    requests: int = 0
    throttle: int = 0
    throttle_retry_after: str | None = None
    fail: int = 0
    stall: int = 0
    stall_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def validate(ev: Any) -> list[str]:
    """PagerDuty's checks on one event; the errors, empty when valid."""
    if not isinstance(ev, dict):
        return ["Event object must be a JSON object"]
    errs: list[str] = []
    rk = ev.get("routing_key")
    if not isinstance(rk, str) or not rk.strip():
        errs.append("'routing_key' is missing or blank")
    elif len(rk) != 32:
        errs.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = ev.get("event_action")
    if action not in ACTIONS:
        errs.append(
            "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' "
            "or 'resolve')"
        )
    dk = ev.get("dedup_key")
    if dk is not None and (not isinstance(dk, str) or len(dk) > 255):
        errs.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not (isinstance(dk, str) and dk.strip()):
        errs.append("'dedup_key' is missing or blank")
    if action == "trigger":
        p = ev.get("payload")
        if not isinstance(p, dict):
            errs.append("'payload' is missing or not an object")
        else:
            for f in ("summary", "source", "severity"):
                if not isinstance(p.get(f), str) or not p[f].strip():
                    errs.append(f"'payload.{f}' is missing or blank")
            if isinstance(p.get("summary"), str) and len(p["summary"]) > 1024:
                errs.append(
                    "Length of 'payload.summary' is too long (should be at most 1024 characters)"
                )
            if (
                isinstance(p.get("severity"), str)
                and p["severity"].strip()
                and p["severity"] not in SEVERITIES
            ):
                errs.append(
                    "'payload.severity' is invalid (must be one of the following: 'critical', "
                    "'warning', 'error' or 'info')"
                )
            ts = p.get("timestamp")
            if ts is not None and not _iso8601(ts):
                errs.append("'payload.timestamp' is invalid (should be an ISO 8601 timestamp)")
            for f in ("component", "group", "class"):
                if f in p and not isinstance(p[f], str):
                    errs.append(f"'payload.{f}' must be a string")
            if "custom_details" in p and not isinstance(p["custom_details"], dict):
                errs.append("'payload.custom_details' must be an object")
        links = ev.get("links")
        if links is not None and (
            not isinstance(links, list)
            or not all(isinstance(x, dict) and isinstance(x.get("href"), str) for x in links)
        ):
            errs.append("'links' must be a list of objects with an 'href'")
        images = ev.get("images")
        if images is not None and (
            not isinstance(images, list)
            or not all(isinstance(x, dict) and isinstance(x.get("src"), str) for x in images)
        ):
            errs.append("'images' must be a list of objects with a 'src'")
    return errs


def _iso8601(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


class PagerDutyStandIn:
    def __init__(
        self,
        *,
        per_minute: int | None = 120,
        echo_routing_key: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = StandInState()
        self.per_minute = per_minute
        self.clock = clock
        windows: dict[str, deque[float]] = {}
        state = self.state
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                n = int(self.headers.get("content-length", "0") or 0)
                raw = self.rfile.read(n) if n else b""
                with state.lock:
                    state.requests += 1
                    stall = 0.0
                    if state.stall > 0:
                        state.stall -= 1
                        stall = state.stall_seconds
                if stall:
                    time.sleep(stall)
                if self.path != "/v2/enqueue":
                    self._answer(404, {"status": "not found", "message": "Not Found"})
                    return
                fault, retry_after = "", None
                with state.lock:
                    if state.throttle > 0:
                        state.throttle -= 1
                        fault, retry_after = "throttle", state.throttle_retry_after
                    elif state.fail > 0:
                        state.fail -= 1
                        fault = "fail"
                if fault == "throttle":
                    self._throttled(retry_after)
                    return
                if fault == "fail":
                    self._answer(500, {"status": "error", "message": "Internal Server Error"})
                    return
                if len(raw) > MAX_BODY:
                    self._invalid(["Event object is too large (at most 512 KB)"])
                    return
                try:
                    ev = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    self._invalid(["Invalid JSON"])
                    return
                errs = validate(ev)
                if errs:
                    if (
                        outer.echo
                        and isinstance(ev, dict)
                        and isinstance(ev.get("routing_key"), str)
                    ):
                        errs.append(f"no integration for routing_key {ev['routing_key']}")
                    self._invalid(errs)
                    return
                key = ev["routing_key"]
                dk = ev.get("dedup_key") or uuid.uuid4().hex
                with state.lock:
                    limited = False
                    if outer.per_minute is not None:
                        w = windows.setdefault(key, deque())
                        now = outer.clock()
                        while w and now - w[0] >= 60.0:
                            w.popleft()
                        limited = len(w) >= outer.per_minute
                        if not limited:
                            w.append(now)
                    if not limited:
                        state.events.setdefault(dk, []).append(ev)
                        state.arrivals.append((dk, ev["event_action"]))
                if limited:
                    self._throttled(None)
                    return
                self._answer(
                    202, {"status": "success", "message": "Event processed", "dedup_key": dk}
                )

            def _throttled(self, retry_after: str | None) -> None:
                self._answer(
                    429,
                    {"status": "throttle event", "message": "Too many events, slow down"},
                    {"retry-after": retry_after} if retry_after is not None else {},
                )

            def _invalid(self, errs: list[str]) -> None:
                body = {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": errs,
                }
                with state.lock:
                    state.rejected.append(body)
                self._answer(400, body)

            def _answer(
                self, code: int, obj: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                body = orjson.dumps(obj)
                with state.lock:
                    state.statuses.append(code)
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.echo = echo_routing_key
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="pagerduty-standin",
            daemon=True,
        )

    # -- fault injection -----------------------------------------------------------
    def throttle_next(self, n: int, retry_after: str | None = None) -> None:
        with self.state.lock:
            self.state.throttle = n
            self.state.throttle_retry_after = retry_after

    def fail_next(self, n: int) -> None:
        with self.state.lock:
            self.state.fail = n

    def stall_next(self, n: int, seconds: float) -> None:
        with self.state.lock:
            self.state.stall = n
            self.state.stall_seconds = seconds

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
