"""A local stand-in for the two Slack Web API methods auditwatch calls.

``POST /api/chat.postMessage`` and ``POST /api/chat.update`` over real HTTP on
127.0.0.1, checked the way Slack checks them: a ``Bearer xoxb-…`` token (401
``invalid_auth`` otherwise — Slack itself answers 200 with the same body; the
status makes the failure unmistakable in tests), a known channel (by name or
id; ``chat.update`` wants the id), ``text`` or ``blocks``, at most 50 blocks of
known types within Slack's length limits, a ``thread_ts`` that names an
existing parent, an existing ``ts`` to update. Accepted messages get increasing
``ts`` values and are recorded; ``rate_limit(n)`` answers the next n calls with
HTTP 429 and ``Retry-After: 1``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

BLOCK_TYPES = {
    "header",
    "section",
    "context",
    "actions",
    "divider",
    "image",
    "rich_text",
    "input",
    "file",
    "video",
    "markdown",
    "table",
}
ELEMENT_TYPES = {
    "button",
    "static_select",
    "overflow",
    "datepicker",
    "users_select",
    "conversations_select",
    "channels_select",
    "external_select",
    "multi_static_select",
    "checkboxes",
    "radio_buttons",
    "timepicker",
    "image",
    "plain_text",
    "mrkdwn",
}


class Invalid(Exception):
    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.detail = detail


@dataclass
class Message:
    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # each chat.update body, in order


@dataclass
class SlackState:
    messages: list[Message] = field(
        default_factory=list
    )  # accepted chat.postMessage calls, in order
    updates: list[dict[str, Any]] = field(default_factory=list)  # accepted chat.update calls
    calls: list[tuple[str, int]] = field(
        default_factory=list
    )  # (method, HTTP status) of every call
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (method, error)
    auth_headers: list[str] = field(default_factory=list)

    def by_ts(self, ts: str) -> Message | None:
        return next((m for m in self.messages if m.ts == ts), None)

    def parents(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == ts]


class SlackStandIn:
    def __init__(
        self, token: str = "xoxb-standin-0000", channels: dict[str, str] | None = None
    ) -> None:
        self.token = token
        self.channels = channels or {"#aw-alerts": "C0AWALERTS"}  # name -> id
        self.state = SlackState()
        self._lock = threading.Lock()
        self._seq = 0
        self._limited = 0
        self._limited_method: str | None = None
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="slack-standin", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def rate_limit(self, n: int, method: str | None = None) -> None:
        """Answer the next n calls (to ``method`` only, if given) with HTTP 429 and Retry-After: 1."""
        with self._lock:
            self._limited = n
            self._limited_method = method

    def delete(self, ts: str) -> None:
        """Delete a message as a person in Slack might (its replies stay, unreachable)."""
        with self._lock:
            self.state.messages = [m for m in self.state.messages if m.ts != ts]

    # -- the API ------------------------------------------------------------
    def _channel_id(self, ch: object) -> str:
        if not isinstance(ch, str) or not ch:
            raise Invalid("channel_not_found", "channel is required")
        if ch in self.channels.values():
            return ch
        if ch in self.channels:
            return self.channels[ch]
        raise Invalid("channel_not_found")

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{1_700_000_000 + self._seq}.{self._seq:06d}"

    def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "chat.postMessage":
            ch = self._channel_id(args.get("channel"))
            text, blocks = _content(args)
            thread_ts = args.get("thread_ts")
            if thread_ts is not None:
                parent = self.state.by_ts(str(thread_ts))
                if parent is None or parent.channel != ch or parent.thread_ts is not None:
                    raise Invalid("thread_not_found")
            m = Message(ch, self._next_ts(), text, blocks, str(thread_ts) if thread_ts else None)
            self.state.messages.append(m)
            return {
                "ok": True,
                "channel": ch,
                "ts": m.ts,
                "message": {"text": text, "blocks": blocks, "ts": m.ts},
            }
        if method == "chat.update":
            upd_ch = args.get("channel")
            if not isinstance(upd_ch, str) or upd_ch not in self.channels.values():
                raise Invalid("channel_not_found", "chat.update needs a channel id")
            ch = upd_ch
            target = self.state.by_ts(str(args.get("ts") or ""))
            if target is None or target.channel != ch:
                raise Invalid("message_not_found")
            text, blocks = _content(args)
            target.text, target.blocks = text, blocks
            target.edits.append({"text": text, "blocks": blocks})
            self.state.updates.append(
                {"channel": ch, "ts": target.ts, "text": text, "blocks": blocks}
            )
            return {"ok": True, "channel": ch, "ts": target.ts, "text": text}
        raise Invalid("unknown_method")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet tests
                pass

            def _answer(
                self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = self.path.rsplit("/", 1)[-1] if self.path.startswith("/api/") else ""
                auth = self.headers.get("Authorization") or ""
                with outer._lock:
                    outer.state.auth_headers.append(auth)
                    if outer._limited > 0 and outer._limited_method in (None, method):
                        outer._limited -= 1
                        outer.state.calls.append((method, 429))
                        self._answer(
                            429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
                        )
                        return
                    if not auth.startswith("Bearer xoxb-") or auth != f"Bearer {outer.token}":
                        outer.state.calls.append((method, 401))
                        outer.state.rejected.append((method, "invalid_auth"))
                        self._answer(401, {"ok": False, "error": "invalid_auth"})
                        return
                    try:
                        args = _parse_body(self.headers.get("Content-Type") or "", raw)
                        body = outer.call(method, args)
                    except Invalid as e:
                        outer.state.calls.append((method, 200))
                        outer.state.rejected.append(
                            (method, e.error + (f": {e.detail}" if e.detail else ""))
                        )
                        self._answer(200, {"ok": False, "error": e.error})
                        return
                    outer.state.calls.append((method, 200))
                self._answer(200, body)

        return Handler


def _parse_body(ctype: str, raw: bytes) -> dict[str, Any]:
    if ctype.startswith("application/json"):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise Invalid("invalid_json") from None
        if not isinstance(body, dict):
            raise Invalid("invalid_json")
        return body
    form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
    if "blocks" in form:
        try:
            form["blocks"] = json.loads(form["blocks"])
        except ValueError:
            raise Invalid("invalid_blocks_format") from None
    return form


def _content(args: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    text = args.get("text")
    blocks = args.get("blocks")
    if blocks is None:
        blocks = []
    if not isinstance(blocks, list):
        raise Invalid("invalid_blocks_format")
    if not text and not blocks:
        raise Invalid("no_text")
    if text is not None and (not isinstance(text, str) or len(text) > 40_000):
        raise Invalid("msg_too_long")
    if len(blocks) > 50:
        raise Invalid("invalid_blocks", "more than 50 blocks")
    action_ids: set[str] = set()
    for i, b in enumerate(blocks):
        _check_block(i, b, action_ids)
    return text, blocks


def _text_obj(
    where: str, t: Any, limit: int, kinds: tuple[str, ...] = ("plain_text", "mrkdwn")
) -> None:
    if not isinstance(t, dict) or t.get("type") not in kinds or not isinstance(t.get("text"), str):
        raise Invalid("invalid_blocks", f"{where}: bad text object")
    if not t["text"] or len(t["text"]) > limit:
        raise Invalid("invalid_blocks", f"{where}: text must be 1..{limit} characters")


def _check_block(i: int, b: Any, action_ids: set[str]) -> None:
    where = f"blocks[{i}]"
    if not isinstance(b, dict) or b.get("type") not in BLOCK_TYPES:
        raise Invalid("invalid_blocks", f"{where}: unknown block type")
    bid = b.get("block_id")
    if bid is not None and (not isinstance(bid, str) or len(bid) > 255):
        raise Invalid("invalid_blocks", f"{where}: block_id")
    kind = b["type"]
    if kind == "header":
        _text_obj(where, b.get("text"), 150, ("plain_text",))
    elif kind == "section":
        if "text" not in b and "fields" not in b:
            raise Invalid("invalid_blocks", f"{where}: section needs text or fields")
        if "text" in b:
            _text_obj(where, b["text"], 3000)
        fields = b.get("fields", [])
        if not isinstance(fields, list) or len(fields) > 10:
            raise Invalid("invalid_blocks", f"{where}: at most 10 fields")
        for f in fields:
            _text_obj(where, f, 2000)
    elif kind == "context":
        els = b.get("elements")
        if not isinstance(els, list) or not 1 <= len(els) <= 10:
            raise Invalid("invalid_blocks", f"{where}: context needs 1..10 elements")
        for e in els:
            if isinstance(e, dict) and e.get("type") == "image":
                continue
            _text_obj(where, e, 3000)
    elif kind == "actions":
        els = b.get("elements")
        if not isinstance(els, list) or not 1 <= len(els) <= 25:
            raise Invalid("invalid_blocks", f"{where}: actions needs 1..25 elements")
        for e in els:
            if not isinstance(e, dict) or e.get("type") not in ELEMENT_TYPES:
                raise Invalid("invalid_blocks", f"{where}: unknown element")
            if e["type"] == "button":
                _text_obj(where, e.get("text"), 75, ("plain_text",))
                aid = e.get("action_id")
                if not isinstance(aid, str) or not aid or len(aid) > 255 or aid in action_ids:
                    raise Invalid(
                        "invalid_blocks", f"{where}: action_id missing, too long or repeated"
                    )
                action_ids.add(aid)
                if len(str(e.get("value", ""))) > 2000:
                    raise Invalid("invalid_blocks", f"{where}: value over 2000")
                if e.get("style") not in (None, "primary", "danger"):
                    raise Invalid("invalid_blocks", f"{where}: style")
