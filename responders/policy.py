"""What a revocation may never do, decided in one place.

An alert asks for a response (alert, page, revoke); the policy decides what
happens: only identity kinds listed in ``auto_revoke_kinds`` (default: agents)
are revoked automatically, never a protected identity (break-glass, on-call),
never in dry-run. Every decision carries its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from auditwatch.config import RespondersConfig
from auditwatch.model import Alert


@dataclass(slots=True)
class PolicyDecision:
    action: Literal["revoke", "page", "alert"]
    reason: str
    dry_run: bool = False


def decide(alert: Alert, cfg: RespondersConfig) -> PolicyDecision:
    ident = alert.identity
    if alert.response != "revoke":
        return PolicyDecision(alert.response, f"rule {alert.rule_id} asks for {alert.response}")
    if ident.protected:
        return PolicyDecision("page", f"{ident.id} is protected: never revoked automatically")
    if ident.kind not in cfg.auto_revoke_kinds:
        return PolicyDecision("page", f"{ident.kind} identities need a person's approval to revoke")
    if cfg.dry_run:
        return PolicyDecision("revoke", "dry-run: revocation recorded, not sent", dry_run=True)
    return PolicyDecision("revoke", f"{ident.kind} {ident.id}: automatic revocation by {alert.rule_id}")
