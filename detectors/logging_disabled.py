"""Audit logging turned off or weakened, by anyone.

Threat: blinding the watcher comes before (or right after) the damage:
CloudTrail StopLogging/DeleteTrail, event selectors that drop management
events, ``ALTER SYSTEM SET log_statement = 'none'``, ``SET pgaudit.log =
'none'``, MariaDB ``server_audit_logging=OFF``. (ATT&CK T1562.008.)

Evidence: a successful event in category logging.disable. Failed attempts do
not fire.

False positives: planned logging migrations; they are rare and worth a look.
"""

from __future__ import annotations

from auditwatch.detectors.base import Detector, register
from auditwatch.detectors.taxonomy import LOGGING_DISABLE
from auditwatch.model import Alert, Event


@register
class LoggingDisabled(Detector):
    id = "logging-disabled"
    title = "Audit logging disabled or weakened"
    severity = "high"
    attack = ("T1562.008",)
    response = "page"
    runbook = ("Re-enable logging first (StartLogging / restore the setting), then review what "
               "the identity did in the blind window from other sources.")

    def on_event(self, ev: Event) -> list[Alert]:
        ident = ev.identity
        if ident is None or not ev.succeeded or LOGGING_DISABLE not in ev.action.categories:
            return []
        return [self.alert(ev, ident, (LOGGING_DISABLE,),
                           f"{ev.action.name} by {ident.id} ({ident.kind})")]
