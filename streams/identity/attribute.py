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
from collections import OrderedDict
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
    # a browser is a person at a keyboard, whatever AI feature the page carries
    browser = actor.user_agent.startswith("Mozilla/")
    for s in sigs:
        if actor.user_agent and not (browser and s.kind == "agent"):
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


# Structural priors: what a principal's type says when nothing stronger does.
_STRUCTURAL: dict[str, tuple[str, float, str]] = {
    "serviceaccount": ("service", 0.8, "a Kubernetes service account"),
    "system": ("service", 0.8, "a Kubernetes system component"),
    "serviceAccount": ("service", 0.6, "a GCP service account used directly"),
    "workload": ("service", 0.6, "a GCP workload identity"),
    "app": ("service", 0.6, "an Azure application token (idtyp app)"),
}
_PERSON_TYPES: dict[str, tuple[float, str]] = {
    "user": (0.6, "a person's token (GCP user account / Azure idtyp user)"),
    "Root": (0.5, "the AWS root account (used by people, rarely by code)"),
}
_ASSUME = {"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetSessionToken",
           "GetFederationToken", "AssumeRoot"}
# behaviour: many calls with no think time, across many APIs, looks like an agent at work
BURST_GAP = 1.0  # seconds between calls (at most) that no person sustains for long
BURST_CALLS = 20
BREADTH = 12  # distinct actions within BREADTH_WINDOW
BREADTH_WINDOW = 300.0
MAX_TRACKED = 100_000


@dataclass(slots=True)
class _Session:
    """What an AssumeRole-type call told us about the credentials it issued."""

    assumer: str
    assumer_kind: str
    assumer_owner: str
    tags: dict[str, str]
    source_identity: str
    session_name: str


@dataclass(slots=True)
class _Behaviour:
    last: float = 0.0
    fast: int = 0  # consecutive calls with sub-second gaps
    window_start: float = 0.0
    actions: set[str] | None = None


def _sso_session(a: Actor) -> bool:
    issuer = a.role_chain[0] if a.role_chain else a.principal
    return "AWSReservedSSO_" in issuer or "/aws-reserved/sso" in issuer


class Attributor:
    """Registry > declared markers > tool signatures > what was learned > structure >
    behaviour; unknown otherwise. State (sessions issued, credentials seen used by
    agents) can be dumped and loaded so it survives restarts."""

    def __init__(self, registry: Registry | None = None, signatures: list[Signature] | None = None) -> None:
        self.registry = registry or Registry([])
        self.signatures = signatures if signatures is not None else load_signatures()
        self._cache: dict[tuple[Any, ...], Identity] = {}
        self.sessions: OrderedDict[str, _Session] = OrderedDict()  # issued access key -> session
        self.agent_used: OrderedDict[str, tuple[str, str]] = OrderedDict()  # credential -> (agent id, owner)
        self._behaviour: OrderedDict[str, _Behaviour] = OrderedDict()
        # credential fingerprints seen in agent sessions (the guard's records) -> the agent
        self.agent_tokens: OrderedDict[str, tuple[str, str, str, str]] = OrderedDict()

    # -- the hot path -----------------------------------------------------------
    def attribute(self, ev: Event) -> Identity:
        a = ev.actor
        sess = self.sessions.get(a.credential_id) if a.credential_id else None
        key = (a.principal, a.principal_type, a.credential_id, a.user_agent, a.application_name,
               a.session_name, a.source_identity, a.invoked_by, tuple(sorted(a.tags.items())), sess is not None)
        ident = self._cache.get(key)
        if ident is None:
            ident = self._decide(a, sess)
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[key] = ident
        if ident.kind == "unknown" or (ident.kind == "human" and ident.confidence <= 0.6):
            # nothing, or only a weak structural prior, was known: learning and behaviour may speak
            ident = self._dynamic(ev, ident)
        elif ident.kind == "agent" and ident.confidence >= 0.7 and a.credential_id:
            self._learn(a.credential_id, ident)
        if ev.source.type == "cloudtrail" and ev.action.name in _ASSUME and ev.succeeded:
            self._remember_session(ev, ident)
        if ev.source.type == "agent-hooks":
            self._remember_tokens(ev, ident)
        elif self.agent_tokens and a.credential_id:
            joined = self.agent_tokens.get(a.credential_id) or self.agent_tokens.get(a.credential_id.removeprefix("fp:"))
            if joined is not None:
                # the provider saw the credential an agent session used: that agent acted
                aid, owner, session, summary = joined
                ident = Identity(id=aid, kind="agent", confidence=0.9, owner=owner,
                                 evidence=(f"same credential as agent session {session or '?'} used "
                                           f"({summary[:120]})", *ident.evidence))
        ev.identity = ident
        return ident

    def _remember_tokens(self, ev: Event, ident: Identity) -> None:
        for k, v in ev.actor.tags.items():
            if v and (k.startswith("token_fp") or k.startswith("token_sha256")):
                self.agent_tokens[v] = (ident.id, ident.owner, ev.actor.session_id, ev.action.statement)
                if len(self.agent_tokens) > MAX_TRACKED:
                    self.agent_tokens.popitem(last=False)

    def _decide(self, a: Actor, sess: _Session | None) -> Identity:
        default_id = self._default_id(a)
        tags = dict(a.tags)
        source_identity = a.source_identity
        inherited: list[str] = []
        if sess is not None:
            # the calls of an issued session inherit what the AssumeRole call declared
            for k, v in sess.tags.items():
                tags.setdefault(k, v)
            source_identity = source_identity or sess.source_identity
            inherited.append(f"session issued to {sess.assumer} ({sess.assumer_kind})")
        hit = self.registry.lookup(a)
        agent_signal = self._agent_signal(a, tags, source_identity)
        if hit is not None:
            e, why = hit
            if e.kind != "agent" and agent_signal is not None:
                # a registered person's or service's credential, driven by an agent tool
                aid, conf, how, owner = agent_signal
                return Identity(id=aid if aid.startswith("agent:") else f"agent-on:{e.id}", kind="agent",
                                confidence=min(0.95, conf + 0.05), owner=owner or e.owner or (e.id if e.kind == "human" else ""),
                                evidence=(how, f"{why} (the credential's registered holder)"),
                                environments=tuple(e.environments), protected=False, purpose=e.purpose,
                                allowed_categories=None if e.allowed_categories is None else tuple(e.allowed_categories))
            return Identity(id=e.id, kind=e.kind, confidence=0.99, owner=e.owner, evidence=(why,),
                            environments=tuple(e.environments), protected=e.protected, purpose=e.purpose,
                            allowed_categories=None if e.allowed_categories is None else tuple(e.allowed_categories))
        if agent_signal is not None:
            aid, conf, how, owner = agent_signal
            declared = self.registry.by_id(aid)  # an agent the registry knows by the name it declared
            if declared is not None:
                owner = owner or declared.owner
            if not owner and sess is not None and sess.assumer_kind == "human":
                owner = sess.assumer
            if not owner:
                owner = tags.get("on-behalf-of", "") or tags.get("impersonated-by", "")
            if not owner and _sso_session(a):
                owner = a.session_name  # an agent driving a person's Identity Center session
            if not owner and a.principal_type == "user" and "@" in a.principal:
                owner = a.principal  # an agent driving a person's own login (GCP/Azure/Kubernetes user)
            return Identity(id=aid, kind="agent", confidence=conf, owner=owner,
                            evidence=(how, *inherited),
                            environments=tuple(declared.environments) if declared else (),
                            purpose=declared.purpose if declared else "")
        platform = _PLATFORM_KINDS.get(tags.get("actor_kind", ""))
        if platform is not None:
            kind, conf, why = platform
            owner = tags.get("vendor", "") if tags.get("actor_kind") == "vendor_staff" else ""
            return Identity(id=default_id, kind=kind, confidence=conf, owner=owner,  # type: ignore[arg-type]
                            evidence=(f"the platform's audit log says the actor is {why}",))
        if a.principal_type == "AWSService" or a.invoked_by:
            svc = a.invoked_by or a.principal
            return Identity(id=f"aws-service:{svc}", kind="service", confidence=0.95,
                            evidence=(f"AWS service principal {svc}",))
        sig = match_signature(self.signatures, a)
        if sig is not None:  # human and service signatures (agent ones were taken above)
            s, why = sig
            return Identity(id=default_id, kind=s.kind, confidence=s.confidence,  # type: ignore[arg-type]
                            owner=tags.get("on-behalf-of", ""), evidence=(why, *inherited))
        obo = tags.get("on-behalf-of", "")
        if obo and a.principal_type in ("serviceAccount", "workload"):
            return Identity(id=obo, kind="human", confidence=0.7, owner=obo,
                            evidence=(f"{a.principal} impersonated by {obo} (delegation chain)",))
        if sess is not None and sess.assumer_kind in ("human", "service", "agent"):
            return Identity(id=default_id, kind=sess.assumer_kind, confidence=0.6,  # type: ignore[arg-type]
                            owner=sess.assumer_owner or (sess.assumer if sess.assumer_kind == "human" else ""),
                            evidence=(f"role session issued to {sess.assumer} ({sess.assumer_kind}), "
                                      "no sign of another client",))
        if _sso_session(a):
            return Identity(id=default_id, kind="human", confidence=0.6, owner=a.session_name,
                            evidence=(f"IAM Identity Center sign-in session ({a.session_name})",))
        st = _STRUCTURAL.get(a.principal_type)
        if st is not None:
            kind, conf, why = st
            return Identity(id=default_id, kind=kind, confidence=conf,  # type: ignore[arg-type]
                            evidence=(f"principal is {why}",))
        person = _PERSON_TYPES.get(a.principal_type)
        if person is not None:
            return Identity(id=default_id, kind="human", confidence=person[0], evidence=(f"principal is {person[1]}",))
        return Identity(id=default_id, kind="unknown", confidence=0.1,
                        evidence=("no registry entry, marker, signature or structural hint",))

    def _agent_signal(self, a: Actor, tags: dict[str, str], source_identity: str
                      ) -> tuple[str, float, str, str] | None:
        """(agent id, confidence, evidence, owner) from declared markers or agent tool signatures."""
        for marker, where in ((source_identity, "sourceIdentity"), (a.application_name, "application_name"),
                              (tags.get("agent", ""), "session tag agent")):
            m = _DECLARED.match(marker) if marker else None
            if m is None and where == "session tag agent" and marker:
                m = _DECLARED.match("agent:" + marker)
            if m:
                owner = m.group("owner") or tags.get("on-behalf-of", "")
                return f"agent:{m.group('name')}", 0.9, f"declared marker {where}={marker!r}", owner
        if tags.get("actor_kind") == "agent":
            return self._default_id(a), 0.85, "the platform's audit log says the actor is an AI agent", ""
        sig = match_signature(self.signatures, a)
        if sig is not None and sig[0].kind == "agent":
            return self._default_id(a), sig[0].confidence, sig[1], ""
        return None

    # -- learning and behaviour ---------------------------------------------------
    def _dynamic(self, ev: Event, static: Identity) -> Identity:
        a = ev.actor
        learned = self.agent_used.get(a.credential_id) if a.credential_id else None
        if learned is not None and static.kind == "unknown":  # a person's own use of the key stays theirs
            aid, owner = learned
            return Identity(id=aid, kind="agent", confidence=0.8, owner=owner,
                            evidence=(f"credential {a.credential_id} was seen used by agent {aid}",
                                      *static.evidence))
        b = self._track(ev)
        if b is not None:
            return Identity(id=static.id, kind="agent", confidence=0.5, owner=static.owner,
                            evidence=(b + " (behaviour only: not certain)", *static.evidence))
        return static

    def _track(self, ev: Event) -> str | None:
        key = ev.actor.principal or ev.actor.credential_id
        if not key:
            return None
        b = self._behaviour.get(key)
        if b is None:
            b = self._behaviour[key] = _Behaviour(last=ev.time, window_start=ev.time, actions={ev.action.name})
            if len(self._behaviour) > MAX_TRACKED:
                self._behaviour.popitem(last=False)
            return None
        gap = ev.time - b.last
        b.fast = b.fast + 1 if 0 <= gap <= BURST_GAP else 0  # CloudTrail times are whole seconds
        b.last = max(b.last, ev.time)
        if ev.time - b.window_start > BREADTH_WINDOW:
            b.window_start, b.actions = ev.time, set()
        if b.actions is not None and len(b.actions) < 64:
            b.actions.add(ev.action.name)
        n = len(b.actions or ())
        if b.fast >= BURST_CALLS and n >= BREADTH:
            return f"{b.fast} calls without a pause and {n} different actions within minutes"
        return None

    def _learn(self, cred: str, ident: Identity) -> None:
        if cred not in self.agent_used:
            self.agent_used[cred] = (ident.id, ident.owner)
            if len(self.agent_used) > MAX_TRACKED:
                self.agent_used.popitem(last=False)

    def _remember_session(self, ev: Event, caller: Identity) -> None:
        raw = ev.raw if isinstance(ev.raw, dict) else {}
        resp = raw.get("responseElements") or {}
        creds = resp.get("credentials") if isinstance(resp, dict) else None
        key = creds.get("accessKeyId") if isinstance(creds, dict) else None
        if not key:
            return
        req = raw.get("requestParameters") or {}
        tags = {}
        for t in (req.get("tags") or []) if isinstance(req, dict) else []:
            if isinstance(t, dict) and "key" in t:
                tags[str(t["key"]).lower()] = str(t.get("value", ""))
        self.sessions[str(key)] = _Session(
            assumer=caller.id, assumer_kind=caller.kind, assumer_owner=caller.owner, tags=tags,
            source_identity=str(req.get("sourceIdentity") or "") if isinstance(req, dict) else "",
            session_name=str(req.get("roleSessionName") or "") if isinstance(req, dict) else "")
        if len(self.sessions) > MAX_TRACKED:
            self.sessions.popitem(last=False)

    # -- state --------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {"sessions": {k: [s.assumer, s.assumer_kind, s.assumer_owner, s.tags, s.source_identity,
                                 s.session_name] for k, s in self.sessions.items()},
                "agent_used": {k: list(v) for k, v in self.agent_used.items()},
                "agent_tokens": {k: list(v) for k, v in self.agent_tokens.items()}}

    def load(self, d: dict[str, Any]) -> None:
        for k, v in d.get("sessions", {}).items():
            self.sessions[k] = _Session(v[0], v[1], v[2], dict(v[3]), v[4], v[5])
        for k, v in d.get("agent_used", {}).items():
            self.agent_used[k] = (v[0], v[1])
        for k, v in d.get("agent_tokens", {}).items():
            self.agent_tokens[k] = (v[0], v[1], v[2], v[3])
        self._cache.clear()

    @staticmethod
    def _default_id(a: Actor) -> str:
        if a.principal_type == "db_user":
            return f"db:{a.principal}"
        if _sso_session(a) and "@" in a.session_name:
            return a.session_name  # Identity Center sessions are named after the person
        if a.principal:
            return a.principal
        return "anonymous"
