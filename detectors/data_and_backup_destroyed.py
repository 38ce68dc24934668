"""Data and its backups destroyed by the same identity within minutes.

Threat: ransomware operators, insiders and runaway automation delete the data
and then the means to restore it (snapshots, automated backups, a ``backups``
schema), or the other way round. Either alone can be routine; both from one
identity in a short window is how recoverable incidents become unrecoverable.

Evidence: successful events with data.destroy and with backup.destroy from the
same identity, in either order, within ``destroy_pair_window_seconds`` of event
time (default 10 minutes). One event carrying both (``DeleteDBInstance`` that
also deletes automated backups) is enough.

False positives: decommissioning a database on purpose; expect it in a change
window and dismiss the incident, or register the decommissioning service.
"""

from __future__ import annotations

from auditwatch.detectors.base import Detector, register
from auditwatch.detectors.taxonomy import BACKUP_DESTROY, DATA_DESTROY
from auditwatch.model import Alert, Event


@register
class DataAndBackupDestroyed(Detector):
    id = "data-and-backup-destroyed"
    title = "Data and its backups destroyed by one identity within minutes"
    severity = "critical"
    attack = ("T1485", "T1490")
    response = "revoke"
    runbook = ("Treat as an attempt to make data unrecoverable. Revoke (automatic for agents), "
               "page the owner, look for copies outside the account or volume.")

    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        # identity id -> (last data.destroy event, last backup.destroy event)
        self._last: dict[str, list[Event | None]] = {}

    def on_event(self, ev: Event) -> list[Alert]:
        ident = ev.identity
        if ident is None or not ev.succeeded:
            return []
        cats = ev.action.categories
        has_data, has_backup = DATA_DESTROY in cats, BACKUP_DESTROY in cats
        if not (has_data or has_backup):
            return []
        if has_data and has_backup:
            return [self.alert(ev, ident, (DATA_DESTROY, BACKUP_DESTROY),
                               f"{ev.action.name} destroyed data and its backups in one call")]
        slot = self._last.setdefault(ident.id, [None, None])
        mine, other = (0, 1) if has_data else (1, 0)
        slot[mine] = ev
        prev = slot[other]
        window = self.ctx.destroy_pair_window_seconds
        if prev is None or abs(ev.time - prev.time) > window:
            self._expire(ev.time)
            return []
        first, second = sorted((prev, ev), key=lambda e: e.time)
        return [self.alert(ev, ident, (DATA_DESTROY, BACKUP_DESTROY),
                           f"{first.action.name} then {second.action.name} by {ident.id} "
                           f"{abs(second.time - first.time):.0f}s apart",
                           evidence=[first, second])]

    def _expire(self, now: float) -> None:
        # bounded memory: forget identities whose last destroy is older than the window
        if len(self._last) < 10_000:
            return
        w = self.ctx.destroy_pair_window_seconds
        for k in [k for k, (a, b) in self._last.items()
                  if max((e.time for e in (a, b) if e is not None), default=0) < now - w]:
            del self._last[k]
