"""Pages through the PagerDuty Events API v2 (``POST /v2/enqueue``).

One incident is one PagerDuty alert: ``dedup_key`` is the auditwatch incident
id, so a retried trigger lands on the same alert (PagerDuty appends a log
entry instead of opening a second one) and the resolve closes it. The outbox
row carries the auditwatch page request (:func:`page_payload`); this module
turns it into the Events v2 body at send time, so the routing key lives only in
this object, never in the store.

Responses, per PagerDuty's retry table: 202 accepted; 400 invalid event (the
same bytes will be rejected again: the error says so and the outbox budget
ends it); 429 throttled (``retry_after`` from ``Retry-After`` when present,
else 30 s: PagerDuty asks for a back-off of minutes, not milliseconds); 5xx,
timeouts and network errors are retried by the outbox.

Nothing that reaches PagerDuty carries a SQL literal: the summary and the
evidence use the statements as the sources redacted them, and a guard blanks
any quoted string, dollar-quoted body or comment a source might have let
through. The routing key never appears in an error, a log line or a repr.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from auditwatch.incidents import Incident
from auditwatch.model import iso
from auditwatch.responders.outbox import Attempt

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SOURCE = "auditwatch"
CLIENT = "auditwatch"

# auditwatch severity -> PD-CEF severity (critical, error, warning, info)
SEVERITY_MAP: dict[str, str] = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "info": "info",
}
# an auditwatch severity this module does not know must not hide a page
UNKNOWN_SEVERITY = "error"

EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SUMMARY_MAX = 1024  # PagerDuty's limit for payload.summary
DEDUP_KEY_MAX = 255  # PagerDuty's limit for dedup_key
EVIDENCE_MAX = 10  # evidence items in custom_details
STATEMENTS_IN_SUMMARY = 3
STATEMENT_MAX = 512  # per statement in custom_details
LINKS_MAX = 10
RETRY_AFTER_DEFAULT = 30.0
RETRY_AFTER_MAX = 3600.0  # a hostile or broken Retry-After must not park a page for days
ERROR_MAX = 400

_ATTACK_ID = re.compile(r"T\d{4}(?:\.\d{3})?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# string literals (standard, E'', B'', X'', N'', U&''), dollar-quoted bodies and comments:
# blanked in case a source let one through unredacted. Double quotes are left alone: in
# redacted statements they are identifiers.
_LITERALISH = re.compile(
    r"""(?:[EeBbXxNn]|[Uu]&)?'(?:[^'\\]|''|\\.)*(?:'|$)"""
    r"""|\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$.*?(?:\$(?P=tag)\$|$)"""
    r"""|/\*.*?(?:\*/|$)|--[^\n]*|\#[^\n]*""",
    re.DOTALL,
)


class PayloadError(ValueError):
    """The outbox row is not an auditwatch page request; resending will not help."""


def page_key(incident_id: str, event_action: str) -> str:
    """The outbox idempotency key: one trigger and one resolve per incident."""
    return f"pagerduty-{event_action}-{incident_id}"


def page_payload(inc: Incident, event_action: str) -> dict[str, Any]:
    """The auditwatch page request the outbox stores (JSON-ready)."""
    if event_action not in EVENT_ACTIONS:
        raise ValueError(f"event_action must be one of {', '.join(EVENT_ACTIONS)}")
    ident = inc.identity
    return {
        "incident": {
            "incident_id": inc.incident_id,
            "identity": {"id": ident.id, "kind": ident.kind, "owner": ident.owner},
            "severity": inc.severity,
            "status": inc.status,
            "rule_ids": inc.rule_ids(),
            "revoked": inc.revoked,
            "opened": iso(inc.opened),
        },
        "alerts": [a.to_dict() for a in inc.alerts],
        "event_action": event_action,
    }


class PagerDutySender:
    """Outbox sender for the PagerDuty Events API v2."""

    name = "pagerduty"

    def __init__(self, routing_key: str, url: str = DEFAULT_URL, timeout: float = 5.0, *,
                 client_url: str | None = None, client: httpx.Client | None = None) -> None:
        self.url = url
        self.client_url = client_url
        self.__routing_key = routing_key
        self._client = client or httpx.Client(
            timeout=timeout, headers={"user-agent": "auditwatch-pagerduty/1"})

    def __repr__(self) -> str:
        return f"PagerDutySender(url={self.url!r})"

    # -- building the Events v2 body ------------------------------------------------
    def event(self, payload: bytes) -> dict[str, Any]:
        """The Events v2 body for one stored page request (raises PayloadError)."""
        try:
            req = orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise PayloadError(f"not JSON: {e}") from None
        if not isinstance(req, dict):
            raise PayloadError("top level must be an object")
        inc = req.get("incident")
        if not isinstance(inc, dict):
            raise PayloadError("'incident' must be an object")
        iid = inc.get("incident_id")
        if not isinstance(iid, str) or not iid:
            raise PayloadError("'incident.incident_id' must be a non-empty string")
        action = req.get("event_action")
        if action not in EVENT_ACTIONS:
            raise PayloadError(f"'event_action' must be one of {', '.join(EVENT_ACTIONS)}")
        body: dict[str, Any] = {
            "routing_key": self.__routing_key,
            "event_action": action,
            "dedup_key": dedup_key(iid),
        }
        if action != "trigger":
            return body
        alerts = [a for a in req.get("alerts") or [] if isinstance(a, dict)]
        body["payload"] = build_payload(inc, alerts)
        links = attack_links(inc, alerts)
        if links:
            body["links"] = links
        body["client"] = CLIENT
        if self.client_url:
            body["client_url"] = self.client_url
        return body

    # -- the Sender interface --------------------------------------------------------
    def send(self, key: str, payload: bytes) -> Attempt:
        t0 = time.perf_counter()
        try:
            return self._send(payload, t0)
        except Exception as e:  # noqa: BLE001  (the public send never raises into the delivery thread)
            return Attempt(ok=False, status_code=None, error=self._clean(f"{type(e).__name__}: {e}"),
                           duration_ms=_ms(t0))

    def _send(self, payload: bytes, t0: float) -> Attempt:
        try:
            body = orjson.dumps(self.event(payload))
        except PayloadError as e:
            return Attempt(ok=False, status_code=None, duration_ms=_ms(t0),
                           error=self._clean(f"invalid page request: {e}; not retryable, the outbox "
                                             "budget will end it"))
        try:
            r = self._client.post(self.url, content=body, headers={"content-type": "application/json"})
        except httpx.HTTPError as e:
            # timeouts and network errors: PagerDuty says retry
            return Attempt(ok=False, status_code=None, duration_ms=_ms(t0),
                           error=self._clean(f"{type(e).__name__}: {e}"))
        ms = _ms(t0)
        code = r.status_code
        if 200 <= code < 300:  # PagerDuty answers 202
            return Attempt(ok=True, status_code=code, error=None, duration_ms=ms)
        detail = _response_detail(r, self._scrub)
        if code == 400:
            err = (f"HTTP 400 invalid event: {detail}; not retryable: PagerDuty will reject the same "
                   "event again (check the routing key and the event), the outbox budget will end it")
            return Attempt(ok=False, status_code=code, error=self._clean(err), duration_ms=ms)
        if code == 429:
            ra = _retry_after(r.headers.get("retry-after"))
            wait = RETRY_AFTER_DEFAULT if ra is None else ra
            return Attempt(ok=False, status_code=code, duration_ms=ms, retry_after=wait,
                           error=self._clean(f"HTTP 429 throttled by PagerDuty; retry in {wait:g} s"))
        if code >= 500:
            return Attempt(ok=False, status_code=code, duration_ms=ms,
                           retry_after=_retry_after(r.headers.get("retry-after")),
                           error=self._clean(f"HTTP {code} PagerDuty server error: {detail}; retryable"))
        return Attempt(ok=False, status_code=code, duration_ms=ms,
                       error=self._clean(f"HTTP {code} unexpected answer: {detail} (check the url)"))

    def _scrub(self, text: str) -> str:
        """The text without the routing key, however an error got hold of it (before any cut,
        so no prefix of the key survives a truncation)."""
        key = self.__routing_key
        return text.replace(key, "[routing key]") if len(key) >= 4 else text

    def _clean(self, text: str) -> str:
        """One line, bounded, never the routing key."""
        return _one_line(self._scrub(text), ERROR_MAX)

    def close(self) -> None:
        self._client.close()


# -- pure helpers (no I/O) ----------------------------------------------------------------
def dedup_key(incident_id: str) -> str:
    """The incident id, or a stable hash of it when it exceeds PagerDuty's 255 characters."""
    if len(incident_id) <= DEDUP_KEY_MAX:
        return incident_id
    return "aw-" + hashlib.blake2b(incident_id.encode(), digest_size=16).hexdigest()


def pd_severity(severity: object) -> str:
    return SEVERITY_MAP.get(str(severity), UNKNOWN_SEVERITY)


def scrub_statement(stmt: object, limit: int = STATEMENT_MAX) -> str:
    """A redacted statement made safe to leave: literal-looking spans blanked, one line."""
    if not isinstance(stmt, str) or not stmt:
        return ""
    return _one_line(_LITERALISH.sub("?", stmt), limit)


def build_payload(inc: dict[str, Any], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    """The PD-CEF ``payload`` object of a trigger."""
    primary = _primary(alerts)
    evidence = _evidence(alerts)
    first_res = _resource(evidence, primary)
    out: dict[str, Any] = {
        "summary": summary(inc, alerts),
        "source": SOURCE,
        "severity": pd_severity(inc.get("severity") or (primary or {}).get("severity")),
    }
    ts = _timestamp(alerts, inc)
    if ts:
        out["timestamp"] = ts
    if first_res.get("type"):
        out["component"] = _one_line(first_res["type"], 255)
    if first_res.get("environment"):
        out["group"] = _one_line(first_res["environment"], 255)
    if primary and primary.get("rule_id"):
        out["class"] = _one_line(primary["rule_id"], 255)
    out["custom_details"] = custom_details(inc, alerts, evidence)
    return out


def summary(inc: dict[str, Any], alerts: list[dict[str, Any]]) -> str:
    """One line, at most 1024 characters, literal-free:
    ``critical: agent agent:x (owner dana) AI agent destroyed ... in prod: DELETE FROM t WHERE ? = ? [revoked]``."""
    ident = _obj(inc.get("identity"))
    primary = _primary(alerts)
    who = _one_line(ident.get("id") or "unknown identity", 160)
    kind = _one_line(ident.get("kind") or "", 20)
    owner = _one_line(ident.get("owner") or "", 80)
    head = f"{_one_line(inc.get('severity') or 'unknown', 12)}: {kind + ' ' if kind else ''}{who}"
    if owner:
        head += f" (owner {owner})"
    title = _one_line((primary or {}).get("title") or (primary or {}).get("rule_id") or "", 160)
    evidence = _evidence(alerts)
    env = _one_line(_resource(evidence, primary).get("environment") or "", 40)
    stmts: list[str] = []
    for _a, e in evidence:
        st = scrub_statement(e.get("statement"), STATEMENT_MAX) or _one_line(e.get("action") or "", 80)
        if st and st not in stmts:
            stmts.append(st)
    text = head
    if title:
        text += f" {title}"
    if env:
        text += f" in {env}"
    # the flags are never cut off; the statements get whatever room is left
    tail = ""
    if len(alerts) > 1:
        tail += f" [{len(alerts)} alerts]"
    if inc.get("revoked"):
        tail += " [credentials revoked]"
    if stmts:
        shown = stmts[:STATEMENTS_IN_SUMMARY]
        more = len(stmts) - len(shown)
        extra = f" (+{more} more)" if more else ""
        room = SUMMARY_MAX - len(text) - len(tail) - len(extra) - 2
        if room > 20:
            text += ": " + _one_line("; ".join(shown), room) + extra
    return _one_line(text + tail, SUMMARY_MAX)


def custom_details(inc: dict[str, Any], alerts: list[dict[str, Any]],
                   evidence: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    ident = _obj(inc.get("identity"))
    attack: list[str] = []
    for a in alerts:
        for t in a.get("attack") or []:
            if isinstance(t, str) and t not in attack:
                attack.append(t)
    items = []
    for a, e in evidence[-EVIDENCE_MAX:]:  # the latest events are the ones a responder needs first
        res, src = _obj(e.get("resource")), _obj(e.get("source"))
        items.append({name: value for name, value in {
            "time": e.get("time"),
            "rule_id": a.get("rule_id"),
            "action": _one_line(e.get("action") or "", 120),
            "outcome": e.get("outcome"),
            "statement": scrub_statement(e.get("statement")) or None,
            "resource": {k: _one_line(v, 255) for k, v in res.items() if isinstance(v, str) and v},
            "source": {k: v for k, v in src.items() if k in ("type", "name", "line", "offset", "index")},
        }.items() if value not in (None, "", {})})
    return {
        "incident_id": inc.get("incident_id"),
        "auditwatch_severity": inc.get("severity"),
        "status": inc.get("status"),
        "opened": inc.get("opened"),
        "identity": {"id": ident.get("id"), "kind": ident.get("kind"), "owner": ident.get("owner")},
        "owner": ident.get("owner") or None,
        "rules": list(inc.get("rule_ids") or sorted({a.get("rule_id") for a in alerts if a.get("rule_id")})),
        "attack": attack,
        "revoked": bool(inc.get("revoked")),
        "alerts": len(alerts),
        "evidence": items,
        "evidence_total": len(evidence),
        "evidence_truncated": len(evidence) > EVIDENCE_MAX,
    }


def attack_links(inc: dict[str, Any], alerts: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Links to the ATT&CK techniques the alerts name (well-formed ids only)."""
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for a in alerts:
        for t in a.get("attack") or []:
            if not isinstance(t, str) or not _ATTACK_ID.fullmatch(t) or t in seen:
                continue
            seen.add(t)
            path = t.replace(".", "/")
            out.append({"href": f"https://attack.mitre.org/techniques/{path}/", "text": f"ATT&CK {t}"})
    return out[:LINKS_MAX]


def _obj(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _evidence(alerts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(alert, event) pairs in alert order."""
    return [(a, e) for a in alerts for e in a.get("evidence") or [] if isinstance(e, dict)]


def _primary(alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The alert the page is about: the most severe, the first of those."""
    rank = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    best: dict[str, Any] | None = None
    for a in alerts:
        if best is None or rank.get(str(a.get("severity")), -1) > rank.get(str(best.get("severity")), -1):
            best = a
    return best


def _resource(evidence: list[tuple[dict[str, Any], dict[str, Any]]],
              primary: dict[str, Any] | None) -> dict[str, Any]:
    """The resource of the primary alert's first event (else the first event at all)."""
    chosen = [e for a, e in evidence if a is primary] or [e for _a, e in evidence]
    for e in chosen:
        res = e.get("resource")
        if isinstance(res, dict):
            return {k: v for k, v in res.items() if isinstance(v, str)}
    return {}


def _timestamp(alerts: list[dict[str, Any]], inc: dict[str, Any]) -> str | None:
    """When auditwatch saw it: the latest alert's event time, else the incident's opening."""
    candidates = [a.get("time") for a in alerts] + [inc.get("opened")]
    best: tuple[datetime, str] | None = None
    for c in candidates:
        if not isinstance(c, str):
            continue
        try:
            dt = datetime.fromisoformat(c)
        except ValueError:
            continue
        if dt.tzinfo is None:
            continue
        if best is None or dt > best[0]:
            best = (dt, c)
    return best[1] if best else None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delay-seconds or an HTTP-date), bounded."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        secs = float(v)
    else:
        try:
            secs = parsedate_to_datetime(v).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, min(RETRY_AFTER_MAX, secs))


def _response_detail(r: httpx.Response, scrub: Callable[[str], str]) -> str:
    """PagerDuty's ``message`` and ``errors`` (untrusted text: scrubbed, then bounded)."""
    try:
        d = r.json()
    except ValueError:
        return _one_line(scrub(r.text), 200) or "(no body)"
    if not isinstance(d, dict):
        return _one_line(scrub(str(d)), 200)
    parts = [str(d.get("message") or d.get("status") or "")]
    errs = d.get("errors")
    if isinstance(errs, list):
        parts += [str(x) for x in errs[:5]]
    return _one_line(scrub("; ".join(p for p in parts if p)), 300) or "(no message)"


def _one_line(value: object, limit: int) -> str:
    s = _CONTROL.sub(" ", str(value)).strip()
    s = re.sub(r" {2,}", " ", s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000
