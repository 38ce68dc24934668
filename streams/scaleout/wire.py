"""The bytes on every topic: raw chunks, events, alerts.

Raw messages carry many records each (a chunk of whole lines, or one document)
and events messages carry one identity's events from one parse batch: per
message overhead in Kafka and Faust is paid once per chunk, not once per
record. Everything is orjson; events travel as positional lists (half the
bytes of dicts, and no key strings to parse).
"""

from __future__ import annotations

from typing import Any

import orjson

from auditwatch.model import Action, Actor, Alert, Event, Identity, Resource, SourceRef

WIRE_VERSION = 1


# -- raw: one JSON header line, then the payload bytes as read ------------------------
def encode_raw(meta: dict[str, Any], data: bytes) -> bytes:
    """``meta``: path, format, kind ("lines" | "document"), line, offset, tail, environment, sent."""
    return orjson.dumps(meta) + b"\n" + data


def decode_raw(value: bytes) -> tuple[dict[str, Any], bytes]:
    head, sep, data = value.partition(b"\n")
    if not sep:
        raise ValueError("raw message without a header line")
    meta = orjson.loads(head)
    if not isinstance(meta, dict) or "path" not in meta:
        raise ValueError("raw message header is not an auditwatch raw header")
    for name, types in _RAW_FIELDS.items():
        v = meta.get(name)
        # bool is an int to Python, never an offset or a line number
        if v is not None and (not isinstance(v, types) or (isinstance(v, bool) and bool not in types)):
            raise ValueError(f"raw header field {name!r} is {type(v).__name__}, not {_names(types)}")
    if meta.get("path") is None or meta["path"] == "":
        raise ValueError("raw header field 'path' is empty")
    return meta, data


_RAW_FIELDS: dict[str, tuple[type, ...]] = {
    "path": (str,), "stream": (str,), "format": (str,), "kind": (str,), "environment": (str,),
    "offset": (int,), "line": (int,), "sent": (int, float), "tail": (bool,), "gzip": (bool,), "inode": (int, str),
}


def _names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


# -- events --------------------------------------------------------------------
def identity_to_wire(i: Identity | None) -> list[Any] | None:
    if i is None:
        return None
    return [i.id, i.kind, i.confidence, i.owner, list(i.evidence), list(i.environments), i.protected, i.purpose,
            None if i.allowed_categories is None else list(i.allowed_categories)]


def identity_from_wire(w: list[Any] | None) -> Identity | None:
    if w is None:
        return None
    return Identity(w[0], w[1], w[2], w[3], tuple(w[4]), tuple(w[5]), w[6], w[7],
                    None if w[8] is None else tuple(w[8]))


class IdentityCache:
    """``identity_from_wire`` for a stream of events: the same few identities act again and
    again, so one that arrives exactly as last time is the object built then (identities are
    never changed once attributed). A fifth of decoding an events message went into them."""

    __slots__ = ("_of", "limit")

    def __init__(self, limit: int = 100_000) -> None:
        self._of: dict[str, tuple[list[Any], Identity]] = {}
        self.limit = limit

    def __call__(self, w: list[Any] | None) -> Identity | None:
        if w is None:
            return None
        hit = self._of.get(w[0]) if w and type(w[0]) is str else None
        if hit is not None and hit[0] == w:
            return hit[1]
        ident = identity_from_wire(w)
        if ident is not None and type(ident.id) is str:
            if len(self._of) >= self.limit:
                self._of.clear()
            self._of[ident.id] = (w, ident)
        return ident


def event_to_wire(ev: Event, late: bool = False, sent: float = 0.0,
                  origin: list[Any] | None = None) -> list[Any]:
    """``origin``: [file id (path and inode), source offset, source index, rank among events
    with that offset and index]: where in which file the event came from, the same however
    often the file's lines are parsed again."""
    s, a, c, r = ev.source, ev.actor, ev.action, ev.resource
    return [ev.event_id, ev.time, ev.observed_time, ev.activity,
            [s.type, s.name, s.line, s.offset, s.index],
            [a.principal, a.principal_type, a.account, a.credential_id, a.user_agent, a.application_name,
             a.client_addr, a.session_id, a.session_name, a.source_identity, list(a.role_chain), a.tags,
             a.invoked_by],
            [c.name, c.service, c.outcome, c.error, list(c.categories), c.statement, c.fingerprint],
            [r.type, r.name, r.environment, r.region, r.database],
            identity_to_wire(ev.identity), late, sent, origin]


def event_from_wire(w: list[Any], identity: Any = identity_from_wire) -> tuple[Event, bool, float]:
    """(event, judged too late at its source, wall time its raw chunk was produced);
    ``w[11]`` is its origin (see ``event_to_wire``); ``identity`` builds its identity (an
    ``IdentityCache`` in the detect stage)."""
    s, a, c, r = w[4], w[5], w[6], w[7]
    # positional: keyword arguments made this a third slower, and it runs for every event
    ev = Event(w[0], w[1], w[2],
               SourceRef(s[0], s[1], s[2], s[3], s[4]),
               Actor(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], tuple(a[10]), a[11], a[12]),
               Action(c[0], c[1], c[2], c[3], tuple(c[4]), c[5], c[6]),
               Resource(r[0], r[1], r[2], r[3], r[4]),
               w[3], None, identity(w[8]))
    return ev, bool(w[9]), float(w[10])


def encode_events(rows: list[list[Any]]) -> bytes:
    return orjson.dumps({"v": WIRE_VERSION, "events": rows})


def decode_events(value: bytes) -> list[list[Any]]:
    d = orjson.loads(value)
    if not isinstance(d, dict) or d.get("v") != WIRE_VERSION:
        raise ValueError(f"events message of unknown version {d.get('v') if isinstance(d, dict) else '?'}")
    return list(d["events"])


# -- alerts --------------------------------------------------------------------
def alert_to_wire(a: Alert, incident: dict[str, Any], sent: float = 0.0) -> dict[str, Any]:
    return {"v": WIRE_VERSION, "rule_id": a.rule_id, "title": a.title, "severity": a.severity,
            "identity": identity_to_wire(a.identity), "categories": list(a.categories),
            "evidence": [event_to_wire(e) for e in a.evidence], "time": a.time, "attack": list(a.attack),
            "response": a.response, "reason": a.reason, "alert_id": a.alert_id, "incident_id": a.incident_id,
            "joined": a.joined, "baseline": a.baseline, "incident": incident, "sent": sent}


def alert_from_wire(d: dict[str, Any]) -> tuple[Alert, dict[str, Any]]:
    if d.get("v") != WIRE_VERSION:
        raise ValueError(f"alert message of unknown version {d.get('v')!r}")
    ident = identity_from_wire(d["identity"])
    assert ident is not None
    alert = Alert(rule_id=d["rule_id"], title=d["title"], severity=d["severity"], identity=ident,
                  categories=tuple(d["categories"]), evidence=[event_from_wire(w)[0] for w in d["evidence"]],
                  time=d["time"], attack=tuple(d["attack"]), response=d["response"], reason=d["reason"],
                  alert_id=d["alert_id"], incident_id=d["incident_id"], joined=d["joined"], baseline=d["baseline"])
    return alert, d["incident"]
