"""The web view SOC analysts investigate with.

Threat: the page shows attacker-controlled text. Application names, resource
names, SQL and principals come from logs, and an unregistered principal becomes
an identity id, so anyone who can write to an audited database can put markup
in front of an analyst with revoke rights. Nothing from a log is ever read as
HTML. The server escapes every dynamic value (``html.escape``, through ``_el``,
the only thing that builds markup). The browser script (``static/app.js``) only
sets ``textContent``. The Content-Security-Policy forbids inline script, so a
missed escape still could not run.

Access: every page, the JSON API and the event stream need the token. A browser
gets a session cookie (HttpOnly, SameSite=Strict) from the login form. API
clients send ``Authorization: Bearer <token>``. Every POST made with the cookie
carries the session's CSRF token. Bearer requests carry no ambient credential,
so they need none.

Routes, relative to where the app is mounted (``/ui/`` in ``auditwatch run``):

- ``GET /``: open incidents (``?status=all`` shows closed ones too).
- ``GET /incidents/{id}``: one incident.
- ``POST /incidents/{id}/actions``: form, ``action`` and ``csrf``.
- ``GET /api/incidents``, ``GET /api/incidents/{id}``: JSON, the same view models
  as the pages.
- ``POST /api/incidents/{id}/actions``: JSON or form, ``{"action": ...}``.
- ``GET /events``: Server-Sent Events, ``alert``, ``incident`` and ``resync``.
- ``GET|POST /login``, ``POST /logout``.
- ``GET /static/app.js``, ``GET /static/style.css``: public, no data in them.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.resources
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from auditwatch.model import SEVERITY_RANK, Event, iso

if TYPE_CHECKING:
    from auditwatch.model import Alert
    from auditwatch.streams.embedded import Pipeline

log = logging.getLogger("auditwatch.web")

SESSION_COOKIE = "aw_session"
SESSION_SECONDS = 12 * 3600.0
MAX_SESSIONS = 1000
MAX_FORM_BYTES = 8192
LOGIN_FAILURES_ALLOWED = 20  # per client address and window; then 429 until the window passes
LOGIN_FAILURE_WINDOW_SECONDS = 300.0
KEEPALIVE_SECONDS = 15.0
TIMELINE_MARGIN_SECONDS = 1800.0  # the identity's actions this long before the incident and after its last alert
MAX_TIMELINE_ROWS = 500
MAX_LIST_ROWS = 500

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# what the buttons may do; anything else is refused before it reaches the pipeline
ACTIONS = {"ack": "Acknowledge", "dismiss": "Dismiss", "revoke": "Revoke"}
OPEN_STATUSES = ("open", "acknowledged")
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
_KIND_RE = re.compile(r"^[a-z_]{1,32}$")
_NEXT_RE = re.compile(r"^/[A-Za-z0-9/_.\-~%]*$")


# --------------------------------------------------------------------------
# live updates
# --------------------------------------------------------------------------
class _Subscriber:
    """One open event stream: a bounded queue on the loop that serves it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=size)
        self.lagged = False  # events were dropped; the client must refetch

    def offer(self, msg: bytes | None) -> None:
        try:
            self.loop.call_soon_threadsafe(self._put, msg)
        except RuntimeError:  # the loop is closed: the stream is gone
            pass

    def _put(self, msg: bytes | None) -> None:
        if msg is None:  # closing: make room so the stream sees it
            while self.queue.full():
                self.queue.get_nowait()
        elif self.queue.full():
            self.lagged = True
            return
        self.queue.put_nowait(msg)


class Broadcaster:
    """Passes pipeline events to every open event stream (``GET /events``).

    ``publish`` may be called from any thread (the pipeline's, a delivery
    worker's) and never raises into the caller. Each stream has a bounded queue.
    A slow browser loses events rather than holding the pipeline back, and is
    then told to refetch (``resync``).
    """

    def __init__(self, queue_size: int = 256, max_subscribers: int = 64) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._subs: set[_Subscriber] = set()
        self._lock = threading.Lock()
        self._closed = False
        self.published = 0

    def publish(self, event: Mapping[str, Any], kind: str | None = None) -> None:
        """Send an event to the open streams: an alert dict (``Alert.to_dict()``), or
        ``{"type": "incident", "incident_id": ...}`` for a change to an incident."""
        try:
            msg = _sse_message(event, kind)
        except Exception:  # a bad event must not break the pipeline that published it
            log.exception("web: could not publish an event")
            return
        with self._lock:
            subs = list(self._subs)
            self.published += 1
        for s in subs:
            s.offer(msg)

    def on_alert(self, _alert: Alert, alert_dict: dict[str, Any]) -> None:
        """Has ``Pipeline(on_alert=...)``'s signature."""
        self.publish(alert_dict, "alert")

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> _Subscriber | None:
        """A new stream on the running loop; None when closed or full."""
        sub = _Subscriber(asyncio.get_running_loop(), self.queue_size)
        with self._lock:
            if self._closed or len(self._subs) >= self.max_subscribers:
                return None
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def close(self) -> None:
        """End every open stream (shutdown)."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        for s in subs:
            s.offer(None)


_SSE_FIELDS = ("incident_id", "alert_id", "rule_id", "title", "severity", "status", "message")


def _sse_message(event: Mapping[str, Any], kind: str | None) -> bytes:
    """``event: <kind>`` and a small JSON summary. The client refetches the details
    through the API, so the stream never has to carry (or be trusted with) a whole record."""
    k = kind or str(event.get("type") or ("alert" if "alert_id" in event else "incident"))
    if not _KIND_RE.match(k):
        k = "message"
    data: dict[str, Any] = {"type": k}
    for f in _SSE_FIELDS:
        v = event.get(f)
        if isinstance(v, str | int | float | bool):
            data[f] = v if not isinstance(v, str) else v[:500]
    ident = event.get("identity")
    if isinstance(ident, Mapping) and isinstance(ident.get("id"), str):
        data["identity_id"] = ident["id"][:500]
    # orjson never writes a newline, so one data line is always one message
    return b"event: " + k.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


# --------------------------------------------------------------------------
# the identities' recent actions
# --------------------------------------------------------------------------
class Timeline:
    """The last actions of each identity: a bounded ring buffer per identity, and
    a bound on the total (the identity not seen for longest loses its oldest
    actions first).

    ``add`` takes an ``Event`` after attribution (``event.identity`` set), or an
    event dict in the ``Event.to_dict()`` shape. It is called for every event, so
    it copies a dozen fields instead of running ``to_dict`` (34 µs). It never raises.
    """

    def __init__(self, per_identity: int = 200, max_events: int = 50_000) -> None:
        self.per_identity = per_identity
        self.max_events = max_events
        self._by_identity: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._total

    def add(self, event: Event | Mapping[str, Any]) -> None:
        try:
            key, row = _from_event(event) if isinstance(event, Event) else _from_dict(event)
        except Exception:  # a malformed record is not worth losing an event stream over
            log.debug("web: timeline skipped a malformed event", exc_info=True)
            return
        with self._lock:
            ring = self._by_identity.get(key)
            if ring is None:
                ring = self._by_identity[key] = deque(maxlen=self.per_identity)
            else:
                self._by_identity.move_to_end(key)
            if len(ring) == ring.maxlen:
                self._total -= 1
            ring.append(row)
            self._total += 1
            while self._total > self.max_events:
                oldest_key, oldest = next(iter(self._by_identity.items()))
                oldest.popleft()
                self._total -= 1
                if not oldest:
                    del self._by_identity[oldest_key]

    def around(self, identity_id: str, start: float, end: float) -> list[dict[str, Any]]:
        """The identity's recorded actions with start <= time <= end, oldest first."""
        with self._lock:
            rows = list(self._by_identity.get(identity_id, ()))
        return sorted((r for r in rows if start <= r["ts"] <= end), key=lambda r: r["ts"])


def _from_event(e: Event) -> tuple[str, dict[str, Any]]:
    a, act, r, s = e.actor, e.action, e.resource, e.source
    key = e.identity.id if e.identity is not None else (a.principal or "?")
    return key, {
        "event_id": e.event_id, "ts": e.time, "action": act.name, "outcome": act.outcome, "error": act.error,
        "statement": act.statement, "environment": r.environment, "database": r.database, "rtype": r.type,
        "rname": r.name, "principal": a.principal, "app": a.application_name, "client": a.client_addr,
        "user_agent": a.user_agent, "session": a.session_id or a.session_name, "src_type": s.type,
        "src_name": s.name, "src_line": s.line,
    }


def _from_dict(d: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    actor = d.get("actor") or {}
    ident = d.get("identity") or {}
    key = str(ident.get("id") or actor.get("principal") or "?")
    return key, _evidence_row(d) | {
        "principal": str(actor.get("principal") or ""), "app": str(actor.get("application_name") or ""),
        "client": str(actor.get("client_addr") or ""), "user_agent": str(actor.get("user_agent") or ""),
        "session": str(actor.get("session_id") or actor.get("session_name") or ""),
    }


def _evidence_row(d: Mapping[str, Any]) -> dict[str, Any]:
    """A timeline row from an event dict (``Event.to_dict()`` or an alert's evidence)."""
    res = d.get("resource") or {}
    src = d.get("source") or {}
    return {
        "event_id": str(d.get("event_id") or ""), "ts": _ts(d.get("time")), "action": str(d.get("action") or ""),
        "outcome": str(d.get("outcome") or ""), "error": str(d.get("error") or ""),
        "statement": str(d.get("statement") or ""), "environment": str(res.get("environment") or ""),
        "database": str(res.get("database") or ""), "rtype": str(res.get("type") or ""),
        "rname": str(res.get("name") or ""), "src_type": str(src.get("type") or ""),
        "src_name": str(src.get("name") or ""), "src_line": src.get("line"),
    }


def _ts(v: object) -> float:
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str) and v:
        return datetime.fromisoformat(v).timestamp()
    return 0.0


# --------------------------------------------------------------------------
# view models: what both the server's HTML and app.js render, text only
# --------------------------------------------------------------------------
def _row(inc: Mapping[str, Any]) -> dict[str, Any]:
    ident = inc.get("identity") or {}
    sev = str(inc.get("severity", ""))
    return {
        "incident_id": str(inc.get("incident_id", "")),
        "severity": sev if sev in SEVERITY_RANK else "unknown",
        "identity_id": str(ident.get("id", "")),
        "kind": str(ident.get("kind", "")),
        "owner": str(ident.get("owner", "")),
        "confidence": ident.get("confidence"),
        "rules": ", ".join(str(r) for r in inc.get("rule_ids") or ()),
        "status": str(inc.get("status", "")),
        "revoked": bool(inc.get("revoked")),
        "opened": str(inc.get("opened", "")),
        "updated": str(inc.get("updated", "")),
        "last_action": str(inc.get("last_action", "")),
    }


def incident_list(pipeline: Pipeline, include_closed: bool = False) -> list[dict[str, Any]]:
    rows = [_row(i) for i in pipeline.store.incidents()
            if include_closed or i.get("status") in OPEN_STATUSES]
    # open before acknowledged (and closed), then most severe, then most recently updated
    rows.sort(key=lambda r: r["updated"], reverse=True)
    rows.sort(key=lambda r: (r["status"] != "open", r["status"] not in OPEN_STATUSES,
                             -SEVERITY_RANK.get(r["severity"], -1)))
    return rows[:MAX_LIST_ROWS]


def _one(c: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[Any]:
    return [orjson.loads(r[0]) for r in c.execute(sql, args)]


def incident_detail(pipeline: Pipeline, timeline: Timeline, incident_id: str) -> dict[str, Any] | None:
    c = pipeline.store.conn()
    inc = _incident_row(pipeline, incident_id)
    if inc is None:
        return None
    alerts = _one(c, "SELECT body FROM alerts WHERE incident_id = ? ORDER BY time, alert_id", (incident_id,))
    row = _row(inc)
    opened = float(inc.get("opened_ts") or _ts(inc.get("opened")))
    updated = float(inc.get("updated_ts") or _ts(inc.get("updated")))
    attribution: list[str] = []
    for a in alerts:
        for reason in (a.get("identity") or {}).get("evidence") or ():
            if str(reason) not in attribution:
                attribution.append(str(reason))

    # the identity's recorded actions around the incident, and every piece of evidence
    # (after a restart or an eviction the evidence is all that is left)
    events = {r["event_id"] or f"#{i}": dict(r) for i, r in enumerate(
        timeline.around(row["identity_id"], opened - TIMELINE_MARGIN_SECONDS, updated + TIMELINE_MARGIN_SECONDS))}
    for a in alerts:
        for ev in a.get("evidence") or ():
            er = _evidence_row(ev)
            r = events.setdefault(er["event_id"] or f"e{len(events)}", er)
            r.setdefault("rules", [])
            if a.get("rule_id") not in r["rules"]:
                r["rules"].append(str(a.get("rule_id")))
    rows = sorted(events.values(), key=lambda r: r["ts"])
    if len(rows) > MAX_TIMELINE_ROWS:  # keep the evidence and the rows nearest the opening
        rows = sorted(sorted(rows, key=lambda r: (not r.get("rules"), abs(r["ts"] - opened)))[:MAX_TIMELINE_ROWS],
                      key=lambda r: r["ts"])

    live = pipeline.core.grouper.get(incident_id)
    return {
        "incident": row | {"attribution": attribution},
        "actionable": {
            "ack": live is not None and live.status == "open",
            "dismiss": live is not None and live.status in OPEN_STATUSES,
            "revoke": live is not None and not live.revoked,
        },
        "not_live": live is None,
        "timeline": [_timeline_view(r, opened) for r in rows],
        "alerts": [_alert_view(a) for a in alerts],
        "responses": _responses(pipeline, c, incident_id),
    }


def _timeline_view(r: Mapping[str, Any], opened: float) -> dict[str, Any]:
    return {
        "time": iso(r["ts"]) if r["ts"] else "",
        "offset": _offset(r["ts"] - opened) if r["ts"] else "",
        "action": r["action"],
        "outcome": r["outcome"] + (f" ({r['error']})" if r.get("error") else ""),
        "resource": _resource(r),
        "statement": r["statement"],
        "actor": " · ".join(f"{label} {r[k]}" for k, label in (
            ("principal", "principal"), ("app", "app"), ("client", "client"), ("session", "session"),
            ("user_agent", "agent")) if r.get(k)),
        "source": _source(r),
        "evidence": ", ".join(r.get("rules") or ()),
    }


def _alert_view(a: Mapping[str, Any]) -> dict[str, Any]:
    d = a.get("decision") or {}
    sev = str(a.get("severity", ""))
    return {
        "alert_id": str(a.get("alert_id", "")),
        "rule_id": str(a.get("rule_id", "")),
        "title": str(a.get("title", "")),
        "severity": sev if sev in SEVERITY_RANK else "unknown",
        "time": str(a.get("time", "")),
        "attack": ", ".join(str(t) for t in a.get("attack") or ()),
        "response": str(a.get("response", "")),
        "decision": (f"{d.get('action', '')}{' (dry run)' if d.get('dry_run') else ''}: {d.get('reason', '')}"
                     if d else ""),
        "reason": str(a.get("reason", "")),
        "joined": bool(a.get("joined")),
        "evidence": [{"time": str(e.get("time", "")), "action": str(e.get("action", "")),
                      "outcome": str(e.get("outcome", "")), "resource": _resource(_evidence_row(e)),
                      "statement": str(e.get("statement") or ""), "source": _source(_evidence_row(e))}
                     for e in a.get("evidence") or ()],
    }


def _responses(pipeline: Pipeline, c: sqlite3.Connection, incident_id: str) -> list[dict[str, Any]]:
    """The outbox rows for the incident (the payload is left out), then the revocations
    that never reached the outbox (dry run, no revoker configured)."""
    out = []
    keys = set()
    for (key, responder, status, attempts, last_error, created, delivered) in c.execute(
            "SELECT idempotency_key, responder, status, attempts, last_error, created, delivered_at"
            " FROM outbox WHERE incident_id = ? ORDER BY id", (incident_id,)):
        keys.add(key)
        out.append({"responder": responder, "key": key, "status": status, "attempts": int(attempts),
                    "last_error": last_error or "", "created": iso(created) if created else "",
                    "delivered": iso(delivered) if delivered else ""})
    for rec in list(pipeline.revocations.values()):
        if rec.get("incident_id") == incident_id and rec.get("key") not in keys:
            out.append({"responder": str(rec.get("responder") or "revocation"), "key": str(rec.get("key", "")),
                        "status": str(rec.get("status", "")), "attempts": int(rec.get("attempts") or 0),
                        "last_error": str(rec.get("error") or ""), "created": "", "delivered": ""})
    return out


def _resource(r: Mapping[str, Any]) -> str:
    return " · ".join(str(r[k]) for k in ("environment", "database", "rtype", "rname") if r.get(k))


def _source(r: Mapping[str, Any]) -> str:
    if not r.get("src_type") and not r.get("src_name"):
        return ""
    return f"{r.get('src_type', '')}:{r.get('src_name', '')}" + (f":{r['src_line']}" if r.get("src_line") else "")


def _offset(dt: float) -> str:
    sign = "−" if dt < 0 else "+"
    s = round(abs(dt))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return sign + (f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s" if m else f"{sec}s")


# --------------------------------------------------------------------------
# markup: built by _el only, which escapes every string it is given
# --------------------------------------------------------------------------
class _Html(str):
    """Markup made by ``_el``. Never wrap data in it."""


_VOID = frozenset({"meta", "link", "input", "br"})


def _el(tag: str, *children: object, **attrs: object) -> _Html:
    """``<tag attrs>children</tag>``: strings, numbers and attribute values are
    escaped. Tag and attribute names come from this module, never from data."""
    parts = ["<", tag]
    for k, v in attrs.items():
        if v is None or v is False:
            continue
        name = k.rstrip("_").replace("_", "-")
        parts.append(f" {name}" if v is True else f' {name}="{escape(str(v), quote=True)}"')
    parts.append(">")
    if tag not in _VOID:
        parts.extend(_frag(c) for c in children)
        parts.append(f"</{tag}>")
    return _Html("".join(parts))


def _frag(c: object) -> str:
    if c is None:
        return ""
    if isinstance(c, _Html):
        return c
    if isinstance(c, list | tuple):
        return "".join(_frag(x) for x in c)
    return escape(str(c), quote=True)


def _page(request: web.Request, title: str, page: str, body: Iterable[object], session: _Session | None,
          **data: object) -> web.Response:
    app = request.app
    head = _el("head", _el("meta", charset="utf-8"),
               _el("meta", name="viewport", content="width=device-width, initial-scale=1"),
               _el("title", f"{title} · auditwatch"),
               _el("link", rel="stylesheet", href=_url(app, "static", name="style.css")),
               _el("script", src=_url(app, "static", name="app.js"), defer=True))
    nav: list[object] = [_el("a", "auditwatch", href=_url(app, "index"), class_="brand")]
    if session is not None:
        nav.append(_el("span", "connecting…", id="live", class_="live off", title="live updates"))
        if session.user:
            nav.append(_el("span", session.user, class_="who"))
        if not session.bearer:
            nav.append(_el("form", _csrf_input(session), _el("button", "Sign out", type="submit"),
                           method="post", action=_url(app, "logout"), class_="logout"))
    flashes = [_el("p", m, class_="flash", role="status") for m in session.take_flash()] if session else []
    body_attrs: dict[str, object] = {"data_page": page, "data_base": _url(app, "index")}
    if session is not None:
        body_attrs |= {"data_events": _url(app, "events"), "data_api": _url(app, "api_incidents")}
    body_attrs |= {f"data_{k}": v for k, v in data.items()}
    doc = "<!doctype html>" + _el("html", head, _el("body", _el("header", nav), _el("main", flashes, list(body)),
                                                    **body_attrs), lang="en")
    return web.Response(text=doc, content_type="text/html", charset="utf-8")


def _csrf_input(session: _Session) -> _Html:
    return _el("input", type="hidden", name="csrf", value=session.csrf or "")


def _table(cols: list[str], rows: list[_Html], tbody_id: str, empty: str) -> _Html:
    return _el("table", _el("thead", _el("tr", [_el("th", c, scope="col") for c in cols])),
               _el("tbody", rows, id=tbody_id), _el("caption", empty, class_="empty", hidden=bool(rows)),
               class_="grid")


def _list_row(app: web.Application, r: Mapping[str, Any]) -> _Html:
    href = _url(app, "incident", incident_id=r["incident_id"])
    return _el("tr",
               _el("td", _el("span", r["severity"], class_=f"sev sev-{r['severity']}")),
               _el("td", _el("a", r["identity_id"], href=href), class_="ident"),
               _el("td", r["kind"]), _el("td", r["owner"]), _el("td", r["rules"]),
               _el("td", r["status"], class_=f"status st-{_css_word(r['status'])}"),
               _el("td", "yes" if r["revoked"] else "no", class_="revoked" if r["revoked"] else None),
               _el("td", r["opened"], class_="time"), _el("td", r["updated"], class_="time"),
               data_incident=r["incident_id"])


LIST_COLUMNS = ["Severity", "Identity", "Kind", "Owner", "Rules", "Status", "Revoked", "Opened", "Updated"]
TIMELINE_COLUMNS = ["Time", "T−open", "Action", "Outcome", "Resource", "Statement (redacted)", "Actor", "Source",
                    "Evidence of"]
EVIDENCE_COLUMNS = ["Time", "Action", "Outcome", "Resource", "Statement (redacted)", "Source"]
RESPONSE_COLUMNS = ["Responder", "Key", "Status", "Attempts", "Last error", "Queued", "Delivered"]


def _timeline_row(t: Mapping[str, Any]) -> _Html:
    return _el("tr", _el("td", t["time"], class_="time"), _el("td", t["offset"], class_="time"),
               _el("td", t["action"]), _el("td", t["outcome"]), _el("td", t["resource"]),
               _el("td", _el("code", t["statement"]), class_="stmt"), _el("td", t["actor"], class_="actor"),
               _el("td", t["source"], class_="src"),
               _el("td", t["evidence"]), class_="evidence" if t["evidence"] else None)


def _alert_article(a: Mapping[str, Any]) -> _Html:
    ev_rows = [_el("tr", _el("td", e["time"], class_="time"), _el("td", e["action"]), _el("td", e["outcome"]),
                   _el("td", e["resource"]), _el("td", _el("code", e["statement"]), class_="stmt"),
                   _el("td", e["source"], class_="src")) for e in a["evidence"]]
    return _el("article",
               _el("h3", _el("span", a["severity"], class_=f"sev sev-{a['severity']}"), " ", a["title"]),
               _el("dl", _el("dt", "Rule"), _el("dd", a["rule_id"]), _el("dt", "Time"), _el("dd", a["time"]),
                   _el("dt", "ATT&CK"), _el("dd", a["attack"]), _el("dt", "Response"), _el("dd", a["response"]),
                   _el("dt", "Decision"), _el("dd", a["decision"]), _el("dt", "Reason"), _el("dd", a["reason"]),
                   class_="meta"),
               _table(EVIDENCE_COLUMNS, ev_rows, "", "No evidence events."),
               class_="alert", data_alert=a["alert_id"])


def _response_row(r: Mapping[str, Any]) -> _Html:
    return _el("tr", _el("td", r["responder"]), _el("td", r["key"], class_="src"),
               _el("td", r["status"], class_=f"status st-{_css_word(r['status'])}"), _el("td", r["attempts"]),
               _el("td", r["last_error"]), _el("td", r["created"], class_="time"),
               _el("td", r["delivered"], class_="time"))


def _css_word(s: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", s.lower())[:32]


# --------------------------------------------------------------------------
# sessions
# --------------------------------------------------------------------------
@dataclass
class _Session:
    csrf: str | None  # None for bearer requests: no ambient credential, nothing to forge
    user: str = ""
    expires: float = 0.0
    bearer: bool = False
    flash: list[str] = field(default_factory=list)

    def take_flash(self) -> list[str]:
        out, self.flash = self.flash, []
        return out


# per-request state the guard hands to the handlers (RequestKey exists from aiohttp 3.12 on)
_SESSION: Any = web.RequestKey("aw_session", _Session) if hasattr(web, "RequestKey") else "aw_session"
_FORM: Any = web.RequestKey("aw_form", dict) if hasattr(web, "RequestKey") else "aw_form"


class _Web:
    def __init__(self, pipeline: Pipeline, token: str, broadcaster: Broadcaster, timeline: Timeline,
                 secure_cookie: bool | None, clock: Callable[[], float]) -> None:
        self.pipe = pipeline
        self.token = token.encode()
        self.broadcaster = broadcaster
        self.timeline = timeline
        self.secure_cookie = secure_cookie
        self.clock = clock
        self.sessions: OrderedDict[str, _Session] = OrderedDict()
        self.failures: dict[str, deque[float]] = {}
        self.static = {name: (importlib.resources.files("auditwatch.web") / "static" / name).read_bytes()
                       for name in STATIC}

    # -- who is asking ------------------------------------------------------
    def _token_ok(self, got: str) -> bool:
        return hmac.compare_digest(got.encode(), self.token)

    def session(self, request: web.Request) -> _Session | None:
        auth = request.headers.get("Authorization", "")
        if auth:
            scheme, _, cred = auth.partition(" ")
            if scheme.lower() == "bearer" and self._token_ok(cred.strip()):
                return _Session(csrf=None, user="api", bearer=True)
            return None
        sid = request.cookies.get(SESSION_COOKIE, "")
        s = self.sessions.get(sid) if sid else None
        if s is None:
            return None
        if s.expires < self.clock():
            self.sessions.pop(sid, None)
            return None
        return s

    def new_session(self, user: str) -> tuple[str, _Session]:
        now = self.clock()
        for sid in [k for k, v in self.sessions.items() if v.expires < now]:
            del self.sessions[sid]
        while len(self.sessions) >= MAX_SESSIONS:
            self.sessions.popitem(last=False)
        sid = secrets.token_urlsafe(32)
        s = self.sessions[sid] = _Session(csrf=secrets.token_urlsafe(32), user=user, expires=now + SESSION_SECONDS)
        return sid, s

    # -- middleware: authentication and CSRF, default deny ------------------
    @web.middleware
    async def guard(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        name = request.match_info.route.name
        if name in ("login", "static"):
            return await handler(request)
        if name is None and request.path + "/" == _url(request.app, "index"):
            return _redirect(_url(request.app, "index"))  # /ui -> /ui/
        s = self.session(request)
        if s is None:
            if request.method == "GET" and name in ("index", "incident"):
                q = urllib.parse.urlencode({"next": request.path})
                return _redirect(f"{_url(request.app, 'login')}?{q}")
            return web.json_response({"error": "unauthorized"}, status=401,
                                     headers={"WWW-Authenticate": 'Bearer realm="auditwatch"'})
        request[_SESSION] = s
        if request.method == "POST":
            form = await _read_form(request)
            if form is None:
                return web.json_response({"error": f"body over {MAX_FORM_BYTES} bytes"}, status=413)
            request[_FORM] = form
            if not s.bearer:
                got = form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
                if not s.csrf or not hmac.compare_digest(got.encode(), s.csrf.encode()):
                    log.warning("web: refused a POST to %s with a missing or wrong CSRF token", request.path)
                    return web.json_response({"error": "bad or missing CSRF token"}, status=403)
        return await handler(request)

    # -- pages ----------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST":
            return await self.login(request)
        if self.session(request) is not None:
            return _redirect(_url(request.app, "index"))
        return self._login_form(request, "", status=200)

    def _login_form(self, request: web.Request, error: str, status: int, nxt: str | None = None) -> web.Response:
        nxt = request.query.get("next", "") if nxt is None else nxt
        form = _el("form",
                   _el("label", "Token", _el("input", type="password", name="token", required=True,
                                             autocomplete="current-password", autofocus=True)),
                   _el("label", "Your name (shown on actions)",
                       _el("input", type="text", name="user", maxlength=64, autocomplete="username")),
                   _el("input", type="hidden", name="next", value=nxt if _safe_next(request, nxt) else ""),
                   _el("button", "Sign in", type="submit"),
                   method="post", action=_url(request.app, "login"), class_="login", id="login")
        body = [_el("h1", "Sign in"), _el("p", error, class_="error", role="alert") if error else None, form]
        resp = _page(request, "Sign in", "login", body, None)
        resp.set_status(status)
        return resp

    async def login(self, request: web.Request) -> web.StreamResponse:
        remote = request.remote or "?"
        now = self.clock()
        fails = self.failures.get(remote)
        if fails is not None:
            while fails and fails[0] < now - LOGIN_FAILURE_WINDOW_SECONDS:
                fails.popleft()
            if len(fails) >= LOGIN_FAILURES_ALLOWED:
                return web.json_response({"error": "too many failed sign-ins; try again later"}, status=429)
        form = await _read_form(request)
        if form is None:
            return web.json_response({"error": f"body over {MAX_FORM_BYTES} bytes"}, status=413)
        if not self._token_ok(form.get("token", "")):
            if len(self.failures) > 10_000:
                self.failures.clear()
            self.failures.setdefault(remote, deque()).append(now)
            log.warning("web: failed sign-in from %s", remote)
            return self._login_form(request, "Wrong token.", status=401, nxt=form.get("next", ""))
        user = re.sub(r"[\x00-\x1f\x7f]", "", form.get("user", "")).strip()[:64]
        sid, _ = self.new_session(user)
        nxt = form.get("next", "")
        resp = _redirect(nxt if _safe_next(request, nxt) else _url(request.app, "index"))
        secure = request.secure if self.secure_cookie is None else self.secure_cookie
        resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Strict", secure=secure,
                        path=_url(request.app, "index"), max_age=int(SESSION_SECONDS))
        log.info("web: %s signed in from %s", user or "someone", remote)
        return resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        resp = _redirect(_url(request.app, "login"))
        resp.del_cookie(SESSION_COOKIE, path=_url(request.app, "index"))
        return resp

    async def index(self, request: web.Request) -> web.StreamResponse:
        include_closed = request.query.get("status") == "all"
        rows = incident_list(self.pipe, include_closed)
        app = request.app
        toggle = (_el("a", "Open incidents only", href=_url(app, "index")) if include_closed else
                  _el("a", "Show closed incidents too", href=_url(app, "index") + "?status=all"))
        body = [_el("div", _el("h1", "All incidents" if include_closed else "Open incidents"), toggle,
                    class_="titlebar"),
                _table(LIST_COLUMNS, [_list_row(app, r) for r in rows], "incidents",
                       "No open incidents." if not include_closed else "No incidents.")]
        return _page(request, "Incidents", "list", body, request[_SESSION],
                     status="all" if include_closed else "open")

    async def incident(self, request: web.Request) -> web.StreamResponse:
        iid = request.match_info["incident_id"]
        d = incident_detail(self.pipe, self.timeline, iid)
        s: _Session = request[_SESSION]
        if d is None:
            resp = _page(request, "Not found", "missing", [_el("h1", "No such incident"),
                                                           _el("p", _el("a", "All incidents",
                                                                        href=_url(request.app, "index")))], s)
            resp.set_status(404)
            return resp
        i = d["incident"]
        act_url = _url(request.app, "act", incident_id=iid)
        buttons = []
        for action, label in ACTIONS.items():
            buttons.append(_el("form", _csrf_input(s), _el("input", type="hidden", name="action", value=action),
                               _el("button", label, type="submit", id=f"btn-{action}",
                                   disabled=not d["actionable"][action], class_=f"btn btn-{action}"),
                               method="post", action=act_url, class_="act", data_action=action))
        summary = _el("section",
                      _el("dl",
                          _el("dt", "Severity"), _el("dd", _el("span", i["severity"], id="f-severity",
                                                               class_=f"sev sev-{i['severity']}")),
                          _el("dt", "Status"), _el("dd", i["status"], id="f-status"),
                          _el("dt", "Revoked"), _el("dd", "yes" if i["revoked"] else "no", id="f-revoked"),
                          _el("dt", "Identity"), _el("dd", i["identity_id"], id="f-identity"),
                          _el("dt", "Kind"), _el("dd", i["kind"], id="f-kind"),
                          _el("dt", "Confidence"), _el("dd", i["confidence"], id="f-confidence"),
                          _el("dt", "Owner"), _el("dd", i["owner"], id="f-owner"),
                          _el("dt", "Rules"), _el("dd", i["rules"], id="f-rules"),
                          _el("dt", "Opened"), _el("dd", i["opened"], id="f-opened"),
                          _el("dt", "Updated"), _el("dd", i["updated"], id="f-updated"),
                          _el("dt", "Last action"), _el("dd", i["last_action"], id="f-last_action"),
                          class_="meta"),
                      _el("h2", "Why this identity"),
                      _el("ul", [_el("li", r) for r in i["attribution"]], id="attribution"),
                      _el("p", "This incident is not open in the running pipeline (it was opened before a "
                               "restart); the buttons are disabled.", class_="note", id="not-live",
                          hidden=not d["not_live"]),
                      _el("div", buttons, class_="actions"),
                      class_="summary")
        body = [_el("p", _el("a", "← All incidents", href=_url(request.app, "index"))),
                _el("h1", "Incident ", _el("span", iid, class_="mono")),
                summary,
                _el("section", _el("h2", "Timeline of the identity's actions"),
                    _table(TIMELINE_COLUMNS, [_timeline_row(t) for t in d["timeline"]], "timeline",
                           "No recorded actions."), id="timeline-section"),
                _el("section", _el("h2", "Alerts and evidence"),
                    _el("div", [_alert_article(a) for a in d["alerts"]], id="alerts"), id="alerts-section"),
                _el("section", _el("h2", "Responses"),
                    _table(RESPONSE_COLUMNS, [_response_row(r) for r in d["responses"]], "responses",
                           "No responses queued."), id="responses-section")]
        return _page(request, f"Incident {iid}", "incident", body, s, incident=iid,
                     incident_api=_url(request.app, "api_incident", incident_id=iid))

    # -- actions ----------------------------------------------------------------
    def _act(self, request: web.Request) -> tuple[int, str]:
        iid = request.match_info["incident_id"]
        action = request[_FORM].get("action", "")
        if action not in ACTIONS:
            return 400, f"unknown action {action[:40]!r}"
        s: _Session = request[_SESSION]
        user = f"{s.user} (web)" if s.user else "web"
        msg = self.pipe.act(iid, action, user)
        log.warning("web: %s on %s by %s: %s", action, iid, user, msg)
        row = _incident_row(self.pipe, iid)
        self.broadcaster.publish({"type": "incident", "incident_id": iid, "message": msg,
                                  "status": (row or {}).get("status", "")}, "incident")
        return (200 if self.pipe.core.grouper.get(iid) is not None else 409), msg

    async def act_form(self, request: web.Request) -> web.StreamResponse:
        status, msg = self._act(request)
        if status == 400:
            return web.json_response({"error": msg}, status=400)
        request[_SESSION].flash.append(msg)
        return _redirect(_url(request.app, "incident", incident_id=request.match_info["incident_id"]))

    async def act_api(self, request: web.Request) -> web.StreamResponse:
        status, msg = self._act(request)
        return web.json_response({"message": msg} if status != 400 else {"error": msg}, status=status)

    # -- JSON -------------------------------------------------------------------
    async def api_incidents(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"incidents": incident_list(self.pipe, request.query.get("status") == "all")},
                                 dumps=_dumps)

    async def api_incident(self, request: web.Request) -> web.StreamResponse:
        d = incident_detail(self.pipe, self.timeline, request.match_info["incident_id"])
        if d is None:
            return web.json_response({"error": "no such incident"}, status=404)
        return web.json_response(d, dumps=_dumps)

    # -- the live stream ----------------------------------------------------------
    async def events(self, request: web.Request) -> web.StreamResponse:
        sub = self.broadcaster.subscribe()
        if sub is None:
            return web.json_response({"error": "too many open event streams"}, status=503)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        try:
            await resp.prepare(request)
            await resp.write(b"retry: 3000\nevent: hello\ndata: {}\n\n")
            while True:
                try:
                    msg = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if self.session(request) is None:  # signed out or expired: stop streaming
                        break
                    await resp.write(b": keepalive\n\n")
                    continue
                if msg is None:
                    break
                if sub.lagged:
                    sub.lagged = False
                    await resp.write(b"event: resync\ndata: {}\n\n")
                await resp.write(msg)
        except (ConnectionResetError, ConnectionError):
            pass  # the browser went away
        finally:
            self.broadcaster.unsubscribe(sub)
        return resp

    async def static_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        return web.Response(body=self.static[name], content_type=STATIC[name], charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def on_prepare(self, _request: web.Request, resp: web.StreamResponse) -> None:
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        resp.headers.setdefault("Cache-Control", "no-store")

    async def on_shutdown(self, _app: web.Application) -> None:
        self.broadcaster.close()


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _incident_row(pipeline: Pipeline, incident_id: str) -> dict[str, Any] | None:
    found = _one(pipeline.store.conn(), "SELECT body FROM incidents WHERE incident_id = ?", (incident_id,))
    return found[0] if found else None


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


async def _read_form(request: web.Request) -> dict[str, str] | None:
    """A small urlencoded or JSON body as str -> str; None when over MAX_FORM_BYTES.
    Read here, bounded, because the app it is mounted in accepts large ingest bodies."""
    if _FORM in request:
        form: dict[str, str] = request[_FORM]
        return form
    body = await request.content.read(MAX_FORM_BYTES + 1)
    if len(body) > MAX_FORM_BYTES:
        return None
    if request.content_type == "application/json":
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v for k, v in pairs}


def _url(app: web.Application, route: str, **parts: str) -> str:
    return str(app.router[route].url_for(**parts))


def _safe_next(request: web.Request, nxt: str) -> bool:
    """Only a path inside this app: never another host (``//evil``, ``/\\evil``)."""
    base = _url(request.app, "index")
    return bool(nxt) and nxt.startswith(base) and "//" not in nxt and bool(_NEXT_RE.match(nxt))


WEB_KEY: web.AppKey[_Web] = web.AppKey("auditwatch_web", _Web)


def web_app(pipeline: Pipeline, token: str, *, broadcaster: Broadcaster | None = None,
            timeline: Timeline | None = None, secure_cookie: bool | None = None,
            clock: Callable[[], float] = time.time) -> web.Application:
    """The web view as an aiohttp application, meant to be mounted with
    ``app.add_subapp("/ui/", web_app(...))`` (it also works as the root app).

    ``broadcaster`` and ``timeline`` are the ones the pipeline feeds. Without
    them the page has no live updates, and the timeline holds only the
    incidents' evidence. ``secure_cookie`` None means Secure when the request
    came over TLS; set True behind a TLS-terminating proxy.
    """
    if len(token) < 16:
        raise ValueError("the web view needs a token of at least 16 characters")
    w = _Web(pipeline, token, broadcaster if broadcaster is not None else Broadcaster(),
             timeline if timeline is not None else Timeline(), secure_cookie, clock)  # an empty Timeline is falsy
    app = web.Application(middlewares=[w.guard])
    r = app.router
    r.add_get("/", w.index, name="index")
    login = r.add_resource("/login", name="login")
    login.add_route("GET", w.login_page)
    login.add_route("POST", w.login_page)
    r.add_post("/logout", w.logout, name="logout")
    iid = "{incident_id:[A-Za-z0-9._:-]{1,128}}"
    r.add_get(f"/incidents/{iid}", w.incident, name="incident")
    r.add_post(f"/incidents/{iid}/actions", w.act_form, name="act")
    r.add_get("/api/incidents", w.api_incidents, name="api_incidents")
    r.add_get(f"/api/incidents/{iid}", w.api_incident, name="api_incident")
    r.add_post(f"/api/incidents/{iid}/actions", w.act_api, name="api_act")
    r.add_get("/events", w.events, name="events")
    r.add_get("/static/{name:app\\.js|style\\.css}", w.static_file, name="static")
    app.on_response_prepare.append(w.on_prepare)
    app.on_shutdown.append(w.on_shutdown)
    app[WEB_KEY] = w
    return app

