"""Alerts on the same identity within a window become one incident.

An incident is what a person acts on and what a revocation is tied to: the
revocation key is the incident id, so a receiver never sees the same
revocation twice as new, however many alerts join the incident.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from auditwatch.model import SEVERITY_RANK, Alert, Identity, Severity

Status = Literal["open", "acknowledged", "resolved", "dismissed"]
MAX_ALERTS_KEPT = 50
MAX_OPEN_IDENTITIES = 10_000
KEEP_FIRST = 10


@dataclass(slots=True)
class Incident:
    incident_id: str
    identity: Identity
    opened: float  # event time of the first alert
    updated: float
    severity: Severity
    status: Status = "open"
    alerts: list[Alert] = field(default_factory=list)
    revoked: bool = False  # a revocation was requested for this incident
    paged: bool = False
    count: int = 0  # alerts ever joined (``alerts`` keeps the first and the latest only)

    def rule_ids(self) -> list[str]:
        return sorted({a.rule_id for a in self.alerts})


class IncidentGrouper:
    def __init__(self, window_seconds: float = 1800.0) -> None:
        self.window = window_seconds
        self._open: dict[str, Incident] = {}

    def add(self, alert: Alert) -> tuple[Incident, bool]:
        if len(self._open) > MAX_OPEN_IDENTITIES:
            self._expire(alert.time)
        """Attach an alert to its identity's open incident (or a new one)."""
        ident = alert.identity.id
        inc = self._open.get(ident)
        created = False
        if inc is None or inc.status in ("resolved", "dismissed") or alert.time - inc.updated > self.window:
            iid = "inc-" + hashlib.blake2b(f"{ident}\x1f{alert.time:.3f}\x1f{alert.rule_id}".encode(),
                                           digest_size=8).hexdigest()
            inc = Incident(incident_id=iid, identity=alert.identity, opened=alert.time,
                           updated=alert.time, severity=alert.severity)
            self._open[ident] = inc
            created = True
        inc.alerts.append(alert)
        inc.count += 1
        if len(inc.alerts) > MAX_ALERTS_KEPT:
            # a long-running incident keeps its first alerts and its latest: memory stays bounded
            del inc.alerts[KEEP_FIRST]
        inc.updated = max(inc.updated, alert.time)
        if SEVERITY_RANK[alert.severity] > SEVERITY_RANK[inc.severity]:
            inc.severity = alert.severity
        alert.incident_id = inc.incident_id
        alert.alert_id = f"{inc.incident_id}-{inc.count}"
        return inc, created

    def _expire(self, now: float) -> None:
        """Forget incidents whose window has passed (they are in the store)."""
        for k in [k for k, inc in self._open.items() if now - inc.updated > self.window]:
            del self._open[k]

    def get(self, incident_id: str) -> Incident | None:
        for inc in self._open.values():
            if inc.incident_id == incident_id:
                return inc
        return None
