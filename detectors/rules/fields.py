"""The fields a rule can name, and how to read each from a normalised event.

Getters are plain functions built once per field path, so matching costs a
function call, not a path walk. Unknown paths are an error at load time.
Derived fields answer the questions rules keep asking:
``resource.protected`` (the environment is protected), ``identity.out_of_scope``
(the registry scopes the identity and this environment is not in it),
``identity.out_of_purpose`` (the registry lists what the credential may do and
this action's categories go beyond it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auditwatch.model import Event

Getter = Callable[[Event], Any]


def _ident(attr: str, default: Any = "") -> Getter:
    def get(ev: Event) -> Any:
        i = ev.identity
        return getattr(i, attr) if i is not None else default
    return get


def _out_of_scope(ev: Event) -> bool:
    i = ev.identity
    env = ev.resource.environment
    return bool(i is not None and i.environments and env and env not in i.environments)


def _out_of_purpose(ev: Event) -> bool:
    i = ev.identity
    if i is None or i.allowed_categories is None:
        return False
    return any(c not in i.allowed_categories for c in ev.action.categories)


def make_fields(protected: frozenset[str]) -> dict[str, Getter]:
    return {
        "event_id": lambda ev: ev.event_id,
        "time": lambda ev: ev.time,
        "activity": lambda ev: ev.activity,
        "source.type": lambda ev: ev.source.type,
        "source.name": lambda ev: ev.source.name,
        "action": lambda ev: ev.action.name,
        "action.name": lambda ev: ev.action.name,
        "service": lambda ev: ev.action.service,
        "action.service": lambda ev: ev.action.service,
        "outcome": lambda ev: ev.action.outcome,
        "error": lambda ev: ev.action.error,
        "categories": lambda ev: ev.action.categories,
        "statement": lambda ev: ev.action.statement,
        "resource.type": lambda ev: ev.resource.type,
        "resource.name": lambda ev: ev.resource.name,
        "resource.environment": lambda ev: ev.resource.environment,
        "resource.region": lambda ev: ev.resource.region,
        "resource.database": lambda ev: ev.resource.database,
        "resource.protected": lambda ev: ev.resource.environment in protected,
        "actor.principal": lambda ev: ev.actor.principal,
        "actor.principal_type": lambda ev: ev.actor.principal_type,
        "actor.account": lambda ev: ev.actor.account,
        "actor.credential_id": lambda ev: ev.actor.credential_id,
        "actor.user_agent": lambda ev: ev.actor.user_agent,
        "actor.application_name": lambda ev: ev.actor.application_name,
        "actor.client_addr": lambda ev: ev.actor.client_addr,
        "actor.session_id": lambda ev: ev.actor.session_id,
        "actor.session_name": lambda ev: ev.actor.session_name,
        "actor.source_identity": lambda ev: ev.actor.source_identity,
        "identity.id": _ident("id"),
        "identity.kind": _ident("kind", "unknown"),
        "identity.owner": _ident("owner"),
        "identity.confidence": _ident("confidence", 0.0),
        "identity.protected": _ident("protected", False),
        "identity.purpose": _ident("purpose"),
        "identity.environments": _ident("environments", ()),
        "identity.out_of_scope": _out_of_scope,
        "identity.out_of_purpose": _out_of_purpose,
        "credential": lambda ev: ev.actor.credential_id or ev.actor.principal,
    }
