"""A person, or an identity nobody has vouched for, destroys something in a
protected environment.

Threat: mistakes and misuse at the keyboard — a DROP run against the wrong
database, a console click on the production cluster — and actors auditwatch
cannot attribute. These are not revoked automatically (a human may be fixing
an outage); they are raised so someone looks.

Evidence: a successful destructive event in a protected environment by an
identity of kind ``human`` or ``unknown``. Agents are covered by
agent-destroys-protected; registered services are trusted with their jobs.

False positives: planned maintenance by DBAs; tune with registry entries.
"""

from __future__ import annotations

from auditwatch.detectors.base import Detector, register
from auditwatch.detectors.taxonomy import DESTRUCTIVE
from auditwatch.model import Alert, Event


@register
class DestructiveInProtected(Detector):
    id = "destructive-in-protected"
    title = "Destructive action in a protected environment"
    severity = "medium"
    attack = ("T1485",)
    response = "alert"
    runbook = "Confirm with the person (or find who holds the credential) that it was intended."

    def on_event(self, ev: Event) -> list[Alert]:
        ident = ev.identity
        if ident is None or ident.kind not in ("human", "unknown") or not ev.succeeded:
            return []
        cats = tuple(c for c in ev.action.categories if c in DESTRUCTIVE)
        if not cats or not self.protected(ev):
            return []
        return [self.alert(ev, ident, cats,
                           f"{ident.kind} {ident.id} ran {ev.action.name} on "
                           f"{ev.resource.name or ev.resource.type} in {ev.resource.environment}")]
