"""The shared model: what one audit event, one identity, one alert look like.

Hot-path objects are slotted dataclasses (cheap to build: a few hundred ns);
pydantic validates and serialises them at the edges (HTTP ingest, exported
findings) through ``TypeAdapter``. Field names follow OCSF 1.8 so the mapping
to API Activity (6003) and Datastore Activity (6005) is a projection, not a
rename: ``time``, ``actor``, ``api``/``query`` live under ``action``,
``resources``, ``status`` (our ``outcome``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Outcome = Literal["success", "failure", "unknown"]
Kind = Literal["human", "agent", "service", "unknown"]
Severity = Literal["info", "low", "medium", "high", "critical"]

SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
# OCSF severity_id: 1 informational ... 5 critical
OCSF_SEVERITY_ID: dict[str, int] = {"info": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

OCSF_API_ACTIVITY = 6003
OCSF_DATASTORE_ACTIVITY = 6005
OCSF_DETECTION_FINDING = 2004


@dataclass(slots=True)
class SourceRef:
    """Where a record came from, precise enough to find the raw bytes again."""

    type: str  # cloudtrail | postgres | ...
    name: str  # file path, "stdin", "http", topic name
    line: int | None = None  # 1-based first line of the record
    offset: int | None = None  # byte offset of the record in the (decompressed) stream
    index: int | None = None  # position inside a multi-record document (Records[i])


@dataclass(slots=True)
class Actor:
    """Who the source says acted, plus every raw hint attribution may use."""

    principal: str = ""  # ARN, DB user, e-mail ...
    principal_type: str = ""  # IAMUser, AssumedRole, AWSService, db_user ...
    account: str = ""
    credential_id: str = ""  # access key id, DB role, token fingerprint
    user_agent: str = ""
    application_name: str = ""
    client_addr: str = ""
    session_id: str = ""
    session_name: str = ""  # role session name
    source_identity: str = ""  # CloudTrail sourceIdentity (survives role chaining)
    role_chain: tuple[str, ...] = ()  # outermost issuer first
    tags: dict[str, str] = field(default_factory=dict)  # session tags, declared markers
    invoked_by: str = ""  # AWS service acting on behalf


@dataclass(slots=True)
class Action:
    name: str  # DeleteDBInstance, DROP TABLE ...
    service: str = ""  # rds.amazonaws.com, postgres ...
    outcome: Outcome = "unknown"
    error: str = ""  # errorCode / SQL error, empty on success
    categories: tuple[str, ...] = ()
    statement: str = ""  # SQL or request summary, literals redacted
    fingerprint: str = ""  # statement shape hash (SQL) or api name


@dataclass(slots=True)
class Resource:
    type: str = ""  # db_instance, table, schema, bucket ...
    name: str = ""
    environment: str = ""  # prod, staging ... ("" when unknown)
    region: str = ""
    database: str = ""


@dataclass(slots=True)
class Identity:
    """The attribution verdict: who acted, what kind, how sure, and why."""

    id: str
    kind: Kind = "unknown"
    confidence: float = 0.1
    owner: str = ""
    evidence: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()  # registry scope, empty = unrestricted/unknown
    protected: bool = False  # never revoked automatically (break-glass, on-call)
    purpose: str = ""  # what the credential was issued for (registry)
    # categories the registry allows this identity (None = not declared, unrestricted)
    allowed_categories: tuple[str, ...] | None = None

    def brief(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "confidence": round(self.confidence, 2),
                "owner": self.owner}


@dataclass(slots=True)
class Event:
    event_id: str
    time: float  # event time, epoch seconds (what the source says)
    observed_time: float  # when auditwatch read it, epoch seconds
    source: SourceRef
    actor: Actor
    action: Action
    resource: Resource
    activity: Literal["api", "sql"] = "api"
    raw: Any = None  # the raw record (dict or str); kept for explain and dead letters
    identity: Identity | None = None
    ingest_mono: float = 0.0  # time.perf_counter() at pipeline entry, for latency

    @property
    def class_uid(self) -> int:
        return OCSF_DATASTORE_ACTIVITY if self.activity == "sql" else OCSF_API_ACTIVITY

    @property
    def succeeded(self) -> bool:
        return self.action.outcome == "success"

    def to_dict(self, raw: bool = False) -> dict[str, Any]:
        """The exported shape of ``replay --events``: stable, JSON-ready."""
        ident = self.identity
        d: dict[str, Any] = {
            "event_id": self.event_id,
            "time": iso(self.time),
            "observed_time": iso(self.observed_time),
            "class_uid": self.class_uid,
            "source": _drop_none(asdict(self.source)),
            "action": self.action.name,
            "service": self.action.service,
            "outcome": self.action.outcome,
            "error": self.action.error or None,
            "categories": list(self.action.categories),
            "statement": self.action.statement or None,
            "resource": asdict(self.resource),
            "actor": _actor_dict(self.actor),
            "identity": ident.brief() | {"evidence": list(ident.evidence)} if ident else None,
        }
        if raw:
            d["raw"] = self.raw
        return d


@dataclass(slots=True)
class Alert:
    rule_id: str
    title: str
    severity: Severity
    identity: Identity
    categories: tuple[str, ...]
    evidence: list[Event]
    time: float  # event time of the event that completed the match
    attack: tuple[str, ...] = ()
    response: Literal["alert", "page", "revoke"] = "alert"
    reason: str = ""
    alert_id: str = ""
    incident_id: str = ""
    joined: bool = False  # a later match inside the rule's suppression window: not notified again
    baseline: dict[str, Any] | None = None  # anomaly alerts: the numbers that made them fire

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "incident_id": self.incident_id,
            "rule_id": self.rule_id,
            "title": self.title,
            "severity": self.severity,
            "time": iso(self.time),
            "identity": self.identity.brief() | {"evidence": list(self.identity.evidence)},
            "categories": list(self.categories),
            "attack": list(self.attack),
            "response": self.response,
            "reason": self.reason,
            "joined": self.joined,
            **({"baseline": self.baseline} if self.baseline is not None else {}),
            "evidence": [
                {
                    "source": _drop_none(asdict(e.source)),
                    "event_id": e.event_id,
                    "time": iso(e.time),
                    "action": e.action.name,
                    "outcome": e.action.outcome,
                    "statement": e.action.statement or None,
                    "resource": asdict(e.resource),
                    # an access key id, DB role or token fingerprint: never a secret
                    "credential": e.actor.credential_id or None,
                }
                for e in self.evidence
            ],
        }


def _actor_dict(a: Actor) -> dict[str, Any]:
    d = asdict(a)
    d["role_chain"] = list(a.role_chain)
    return {k: v for k, v in d.items() if v not in ("", (), [], {}, None)}


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def iso(t: float) -> str:
    """RFC 3339 UTC with milliseconds; the one time format that leaves the process."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
