"""An AI agent destroys something in a protected environment.

Threat: the April 2026 incident — a coding agent on a staging task found an
over-broad token and, in one call, deleted a production volume and the backups
on it. An agent has no business destroying production data, backups, logs,
keys or infrastructure; the first such act is the one to stop.

Evidence: a successful event whose categories include a destructive one
(data.destroy, backup.destroy, logging.disable, key.destroy, infra.destroy), in
an environment configured as protected, by an identity attributed as ``agent``.
Failed calls never count.

False positives: an agent deliberately given production clean-up duties; give
it a registry entry of kind ``service`` or narrow its environments instead.
"""

from __future__ import annotations

from auditwatch.detectors.base import Detector, register
from auditwatch.detectors.taxonomy import DESTRUCTIVE
from auditwatch.model import Alert, Event


@register
class AgentDestroysProtected(Detector):
    id = "agent-destroys-protected"
    title = "AI agent destroyed something in a protected environment"
    severity = "critical"
    attack = ("T1485", "T1490")
    response = "revoke"
    runbook = ("Revocation is automatic. Confirm the credential is dead, find the agent session "
               "and its owner, start restore from the newest backup outside the deleted resource.")

    def on_event(self, ev: Event) -> list[Alert]:
        ident = ev.identity
        if ident is None or ident.kind != "agent" or not ev.succeeded:
            return []
        cats = tuple(c for c in ev.action.categories if c in DESTRUCTIVE)
        if not cats or not self.protected(ev):
            return []
        return [self.alert(ev, ident, cats,
                           f"agent {ident.id} ran {ev.action.name} on {ev.resource.type} "
                           f"{ev.resource.name or '?'} in {ev.resource.environment}")]
