"""The identity registry: who is who, declared by the people who run the estate.

A YAML list of identities, each with the selectors that recognise it
(principal ARNs, role session names, sourceIdentity values, access keys, DB
roles, application names; ``*`` globs allowed), its kind, owner, the
environments it may touch and whether it must never be revoked automatically.
The registry is the strongest evidence attribution has.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditwatch.errors import ConfigError
from auditwatch.model import Actor

SELECTORS = ("principals", "role_sessions", "source_identities", "access_keys", "db_roles",
             "application_names", "user_agents")


class Match(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principals: list[str] = Field(default_factory=list)
    role_sessions: list[str] = Field(default_factory=list)
    source_identities: list[str] = Field(default_factory=list)
    access_keys: list[str] = Field(default_factory=list)
    db_roles: list[str] = Field(default_factory=list)
    application_names: list[str] = Field(default_factory=list)
    user_agents: list[str] = Field(default_factory=list)


class RegistryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: Literal["human", "agent", "service"]
    owner: str = ""
    environments: list[str] = Field(default_factory=list)
    protected: bool = False  # break-glass / on-call: never revoked automatically
    purpose: str = ""  # what the credential was issued for (least-privilege checks)
    # the action categories this identity may perform; anything else is outside its
    # purpose (e.g. a DNS token: []). Omit for "not declared".
    allowed_categories: list[str] | None = None
    match: Match = Field(default_factory=Match)


def _values(a: Actor) -> dict[str, list[str]]:
    return {
        # a registered role covers its sessions: the session issuer is matched too
        "principals": [x for x in (a.principal, *a.role_chain[:1]) if x],
        "role_sessions": [a.session_name] if a.session_name else [],
        "source_identities": [a.source_identity] if a.source_identity else [],
        "access_keys": [a.credential_id] if a.credential_id and not a.credential_id.startswith("pg:") else [],
        "db_roles": [a.principal] if a.principal_type == "db_user" and a.principal else [],
        "application_names": [a.application_name] if a.application_name else [],
        "user_agents": [a.user_agent] if a.user_agent else [],
    }


class Registry:
    """Exact selectors are a dict look-up; globs are tried after, in file order."""

    def __init__(self, entries: list[RegistryEntry]) -> None:
        self.entries = entries
        self._exact: dict[tuple[str, str], RegistryEntry] = {}
        self._globs: list[tuple[str, str, RegistryEntry]] = []
        seen: set[str] = set()
        for e in entries:
            if e.id in seen:
                raise ConfigError(f"registry: duplicate identity id {e.id!r}")
            seen.add(e.id)
            for sel in SELECTORS:
                for pat in getattr(e.match, sel):
                    if any(c in pat for c in "*?["):
                        self._globs.append((sel, pat, e))
                    else:
                        self._exact.setdefault((sel, pat), e)

    def lookup(self, actor: Actor) -> tuple[RegistryEntry, str] | None:
        vals = _values(actor)
        # the most specific selectors first: a source identity or access key names one
        # actor even when it uses a shared role
        for sel in ("source_identities", "access_keys", "role_sessions", "principals",
                    "db_roles", "application_names", "user_agents"):
            for v in vals[sel]:
                e = self._exact.get((sel, v))
                if e is not None:
                    return e, f"registry: {sel[:-1].replace('_', ' ')} {v!r} -> {e.id}"
        for sel, pat, e in self._globs:
            for v in vals[sel]:
                if fnmatch.fnmatchcase(v, pat):
                    return e, f"registry: {sel[:-1].replace('_', ' ')} {v!r} matches {pat!r} -> {e.id}"
        return None

    def by_id(self, ident: str) -> RegistryEntry | None:
        for e in self.entries:
            if e.id == ident:
                return e
        return None


def load_registry(path: str | Path | None, inline: list[dict[str, Any]] | None = None) -> Registry:
    items: list[Any] = list(inline or [])
    where = "config identities"
    if path:
        p = Path(path)
        where = str(p)
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"{p}: {e}") from None
        if isinstance(data, dict):
            data = data.get("identities", [])
        if not isinstance(data, list):
            raise ConfigError(f"{p}: expected a list of identities (or a mapping with 'identities')")
        items += data
    entries = []
    for i, raw in enumerate(items):
        try:
            entries.append(RegistryEntry.model_validate(raw))
        except ValidationError as e:
            msgs = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
            raise ConfigError(f"{where}: identities[{i}]: {msgs}") from None
    return Registry(entries)
