"""Events as compact dicts and back: for rule samples written by people, and for
detector state that must survive a restart (only what rules and alerts read)."""

from __future__ import annotations

from typing import Any

from auditwatch.model import Action, Actor, Event, Identity, Resource, SourceRef


def dump_events(ev: Event) -> dict[str, Any]:
    i = ev.identity
    return {
        "event_id": ev.event_id, "time": ev.time, "activity": ev.activity,
        "source": {"type": ev.source.type, "name": ev.source.name, "line": ev.source.line,
                   "offset": ev.source.offset, "index": ev.source.index},
        "action": ev.action.name, "service": ev.action.service, "outcome": ev.action.outcome,
        "error": ev.action.error, "categories": list(ev.action.categories), "statement": ev.action.statement,
        "resource": {"type": ev.resource.type, "name": ev.resource.name, "environment": ev.resource.environment,
                     "region": ev.resource.region, "database": ev.resource.database},
        "actor": {"principal": ev.actor.principal, "principal_type": ev.actor.principal_type,
                  "credential_id": ev.actor.credential_id, "account": ev.actor.account},
        "identity": None if i is None else {
            "id": i.id, "kind": i.kind, "confidence": i.confidence, "owner": i.owner,
            "evidence": list(i.evidence), "environments": list(i.environments), "protected": i.protected,
            "purpose": i.purpose,
            "allowed_categories": None if i.allowed_categories is None else list(i.allowed_categories)},
    }


def load_event(d: dict[str, Any], base_time: float = 0.0, n: int = 0) -> Event:
    """An Event from a compact dict. ``t`` (seconds after ``base_time``) may stand for ``time``."""
    t = float(d["time"]) if "time" in d else base_time + float(d.get("t", 0))
    src = d.get("source") or {}
    res = d.get("resource") or {}
    act = d.get("actor") or {}
    i = d.get("identity")
    ident = None
    if i is not None:
        ident = Identity(
            id=str(i.get("id", "who")), kind=i.get("kind", "unknown"), confidence=float(i.get("confidence", 0.9)),
            owner=str(i.get("owner", "")), evidence=tuple(i.get("evidence", ())),
            environments=tuple(i.get("environments", ())), protected=bool(i.get("protected", False)),
            purpose=str(i.get("purpose", "")),
            allowed_categories=None if i.get("allowed_categories") is None else tuple(i["allowed_categories"]))
    return Event(
        event_id=str(d.get("event_id", f"sample-{n}")), time=t, observed_time=t,
        source=SourceRef(src.get("type", "sample"), src.get("name", "sample"), line=src.get("line"),
                         offset=src.get("offset"), index=src.get("index")),
        actor=Actor(principal=str(act.get("principal", i.get("id", "") if i else "")),
                    principal_type=str(act.get("principal_type", "")), credential_id=str(act.get("credential_id", "")),
                    account=str(act.get("account", "")), user_agent=str(act.get("user_agent", "")),
                    application_name=str(act.get("application_name", ""))),
        action=Action(name=str(d.get("action", "?")), service=str(d.get("service", "")),
                      outcome=d.get("outcome", "success"), error=str(d.get("error", "")),
                      categories=tuple(sorted(d.get("categories", ()))), statement=str(d.get("statement", ""))),
        resource=Resource(type=str(res.get("type", "")), name=str(res.get("name", "")),
                          environment=str(res.get("environment", "")), region=str(res.get("region", "")),
                          database=str(res.get("database", ""))),
        activity=d.get("activity", "api"),
        identity=ident,
    )
