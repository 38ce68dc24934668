"""Who acted: an identity with a kind (human, agent, service, unknown), an
owner, a confidence and the evidence behind it.

Evidence has strengths and is tried strongest first: the registry; declared
markers (CloudTrail ``sourceIdentity``/session tags, the ``agent:<name>``
application-name convention); tool signatures in user agents and application
names (unauthenticated, so medium confidence); the shape of the principal
(AWS service principals). Nothing found means ``unknown`` with low confidence —
never a guess of ``human``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from auditwatch.model import Actor, Event, Identity
from auditwatch.streams.identity.registry import Registry

# Declared markers teams can adopt (documented in the README):
#   PostgreSQL/MySQL application_name "agent:<name>" or "agent:<name>;owner=<who>"
#   AWS sourceIdentity "agent:<name>" (set on AssumeRole, persists across chaining)
#   AWS session tags agent=<name>, on-behalf-of=<who>
_DECLARED = re.compile(r"^agent[:=](?P<name>[\w.@/-]+)(?:;owner=(?P<owner>[\w.@+-]+))?", re.I)


@dataclass(slots=True)
class Signature:
    name: str
    kind: str
    confidence: float
    user_agent: list[re.Pattern[str]]
    application_name: list[re.Pattern[str]]


def load_signatures(data: list[dict[str, Any]] | None = None) -> list[Signature]:
    if data is None:
        text = resources.files("auditwatch.streams.identity").joinpath("signatures.yaml").read_text()
        data = yaml.safe_load(text)
    out = []
    for d in data or []:
        out.append(Signature(
            name=d["name"], kind=d["kind"], confidence=float(d["confidence"]),
            user_agent=[re.compile(p, re.I) for p in d.get("user_agent", [])],
            application_name=[re.compile(p, re.I) for p in d.get("application_name", [])],
        ))
    return out


def match_signature(sigs: list[Signature], actor: Actor) -> tuple[Signature, str] | None:
    for s in sigs:
        if actor.user_agent:
            for p in s.user_agent:
                if p.search(actor.user_agent):
                    return s, f"user agent matches {s.name} signature /{p.pattern}/ (unauthenticated)"
        if actor.application_name:
            for p in s.application_name:
                if p.search(actor.application_name):
                    return s, f"application_name {actor.application_name!r} matches {s.name} signature (unauthenticated)"
    return None


# What a platform's own audit log says about its actor (mapped sources put it in
# actor.tags["actor_kind"]): recorded by the platform, not claimed by the client.
# A member's token used by code ("token") decides nothing: it may be a person or an agent.
_PLATFORM_KINDS: dict[str, tuple[str, float, str]] = {
    "agent": ("agent", 0.85, "an AI agent"),
    "service": ("service", 0.85, "a service or system"),
    "bot": ("service", 0.7, "a bot account"),
    "vendor_staff": ("human", 0.7, "the vendor's staff"),
    "human": ("human", 0.7, "a person"),
}


class Attributor:
    def __init__(self, registry: Registry | None = None, signatures: list[Signature] | None = None) -> None:
        self.registry = registry or Registry([])
        self.signatures = signatures if signatures is not None else load_signatures()
        self._cache: dict[tuple[Any, ...], Identity] = {}

    def attribute(self, ev: Event) -> Identity:
        a = ev.actor
        key = (a.principal, a.principal_type, a.credential_id, a.user_agent, a.application_name,
               a.session_name, a.source_identity, a.invoked_by, tuple(sorted(a.tags.items())))
        ident = self._cache.get(key)
        if ident is None:
            ident = self._decide(a)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[key] = ident
        ev.identity = ident
        return ident

    def _decide(self, a: Actor) -> Identity:
        default_id = self._default_id(a)
        hit = self.registry.lookup(a)
        if hit is not None:
            e, why = hit
            return Identity(id=e.id, kind=e.kind, confidence=0.99, owner=e.owner, evidence=(why,),
                            environments=tuple(e.environments), protected=e.protected, purpose=e.purpose,
                            allowed_categories=None if e.allowed_categories is None else tuple(e.allowed_categories))
        for marker, where in ((a.source_identity, "sourceIdentity"), (a.application_name, "application_name"),
                              (a.tags.get("agent", ""), "session tag agent")):
            m = _DECLARED.match(marker) if marker else None
            if m is None and where == "session tag agent" and marker:
                m = _DECLARED.match("agent:" + marker)
            if m:
                owner = m.group("owner") or a.tags.get("on-behalf-of", "")
                return Identity(id=f"agent:{m.group('name')}", kind="agent", confidence=0.9, owner=owner,
                                evidence=(f"declared marker {where}={marker!r}",))
        platform = _PLATFORM_KINDS.get(a.tags.get("actor_kind", ""))
        if platform is not None:
            kind, conf, why = platform
            owner = a.tags.get("vendor", "") if a.tags.get("actor_kind") == "vendor_staff" else ""
            return Identity(id=default_id, kind=kind, confidence=conf, owner=owner,  # type: ignore[arg-type]
                            evidence=(f"the platform's audit log says the actor is {why}",))
        if a.principal_type == "AWSService" or a.invoked_by:
            svc = a.invoked_by or a.principal
            return Identity(id=f"aws-service:{svc}", kind="service", confidence=0.95,
                            evidence=(f"AWS service principal {svc}",))
        sig = match_signature(self.signatures, a)
        if sig is not None:
            s, why = sig
            return Identity(id=default_id, kind=s.kind, confidence=s.confidence,  # type: ignore[arg-type]
                            owner=a.tags.get("on-behalf-of", ""), evidence=(why,))
        if a.principal_type == "Root":
            return Identity(id=default_id, kind="human", confidence=0.5,
                            evidence=("root account (AWS root is used by people, rarely by code)",))
        return Identity(id=default_id, kind="unknown", confidence=0.1,
                        evidence=("no registry entry, marker or signature",))

    @staticmethod
    def _default_id(a: Actor) -> str:
        if a.principal_type == "db_user":
            return f"db:{a.principal}"
        if a.principal:
            return a.principal
        return "anonymous"
