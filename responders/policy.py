"""What a revocation may never do, decided in one place.

An alert asks for a response (alert, page, revoke); the policy decides what
happens, and every decision carries its reason:

- dry-run: revocations are decided and recorded, never sent;
- protected identities (registry ``protected: true``, or listed in
  ``responders.protected``: break-glass accounts, the on-call) are never
  revoked automatically;
- per kind: only kinds in ``auto_revoke_kinds`` (default: agents) are revoked
  automatically; a person is paged and asked for approval (Slack "Revoke now");
- circuit breaker: more than ``max_auto_revocations_per_minute`` automatic
  revocations in a minute of wall-clock time opens the breaker: automation stops
  and people are paged, so a bad rule cannot lock a company out. It closes again
  when a person resets it (``reset_breaker``) or after ``breaker_cooldown_seconds``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from auditwatch.config import RespondersConfig
from auditwatch.model import Alert


@dataclass(slots=True)
class PolicyDecision:
    action: Literal["revoke", "page", "alert"]
    reason: str
    dry_run: bool = False
    breaker_tripped: bool = False  # this decision opened the breaker


class ResponsePolicy:
    def __init__(self, cfg: RespondersConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg
        self.clock = clock
        self._recent: deque[float] = deque()
        self.breaker_open_since: float | None = None
        self.protected = {p.lower() for p in cfg.protected}

    @property
    def breaker_open(self) -> bool:
        if self.breaker_open_since is None:
            return False
        if self.clock() - self.breaker_open_since > self.cfg.breaker_cooldown_seconds:
            self.breaker_open_since = None
            self._recent.clear()
            return False
        return True

    def reset_breaker(self) -> None:
        self.breaker_open_since = None
        self._recent.clear()

    def decide(self, alert: Alert, principal: str = "", incident_revoked: bool = False) -> PolicyDecision:
        ident = alert.identity
        if alert.response != "revoke":
            return PolicyDecision(alert.response, f"rule {alert.rule_id} asks for {alert.response}")
        if incident_revoked:
            # joins an incident whose revocation was already decided: not a new revocation,
            # so it does not count toward the circuit breaker
            return PolicyDecision("revoke", f"{ident.id}: already revoked for this incident")
        if ident.protected or ident.id.lower() in self.protected or (principal and principal.lower() in self.protected):
            return PolicyDecision("page", f"{ident.id} is protected: never revoked automatically")
        if ident.kind not in self.cfg.auto_revoke_kinds:
            return PolicyDecision("page", f"{ident.kind} identities are not revoked automatically: "
                                          "a person must approve (Revoke now)")
        if self.cfg.dry_run:
            return PolicyDecision("revoke", "dry-run: revocation decided and recorded, not sent", dry_run=True)
        if self.breaker_open:
            return PolicyDecision("page", "circuit breaker open: automatic revocation suspended, a person decides")
        now = self.clock()
        while self._recent and now - self._recent[0] > 60.0:
            self._recent.popleft()
        if len(self._recent) >= self.cfg.max_auto_revocations_per_minute:
            self.breaker_open_since = now
            return PolicyDecision("page", f"circuit breaker opened: more than "
                                          f"{self.cfg.max_auto_revocations_per_minute} automatic revocations in a "
                                          "minute; automation suspended", breaker_tripped=True)
        self._recent.append(now)
        return PolicyDecision("revoke", f"{ident.kind} {ident.id}: automatic revocation by {alert.rule_id}")


def decide(alert: Alert, cfg: RespondersConfig) -> PolicyDecision:
    """Stateless form (no circuit breaker), for callers that judge one alert."""
    return ResponsePolicy(cfg).decide(alert)
