"""Off-hours activity by a person.

Threat: a human credential used at an hour its owner never works — stolen
session cookies, a contractor's key used from elsewhere, or a person doing
something they would not do in daylight.
Evidence: per human identity, the set of UTC hours in which it has acted (a
24-bit mask) during and after the learn period; a sensitive event (one with a
category) in an hour never seen, once the identity has at least 20 events of
history, alerts with the hours it usually works.
False positives: on-call work; expect a few and mark the on-call as such.
"""

from __future__ import annotations

from typing import Any

from auditwatch.detectors.anomaly.base import AnomalyDetector
from auditwatch.model import Alert, Event

MIN_HISTORY = 20


class OffHours(AnomalyDetector):
    id = "anomaly-off-hours"
    title = "Person acting at an hour they never work"
    severity = "low"
    attack = ("T1078",)

    def __init__(self, learn_seconds: float = 7 * 86400) -> None:
        super().__init__(learn_seconds)
        self.hours: dict[str, list[int]] = {}  # identity -> [hour mask, events]

    def on_event(self, ev: Event) -> list[Alert]:
        learning = self.learning(ev.time)
        ident = ev.identity
        if ident is None or ident.kind != "human":
            return []
        h = int(ev.time // 3600) % 24
        st = self.hours.get(ident.id)
        if st is None:
            st = self.hours[ident.id] = [0, 0]
        out: list[Alert] = []
        bit = 1 << h
        if not learning and not st[0] & bit and st[1] >= MIN_HISTORY and ev.action.categories:
            usual = [i for i in range(24) if st[0] >> i & 1]
            out.append(self.alert(ev, f"{ident.id} acted at {h:02d}:00 UTC, outside its usual hours",
                                  {"hour_utc": h, "usual_hours_utc": usual, "events_seen": st[1]}))
        st[0] |= bit
        st[1] += 1
        return out

    def dump(self) -> dict[str, Any]:
        return super().dump() | {"hours": self.hours}

    def load(self, d: dict[str, Any]) -> None:
        super().load(d)
        self.hours = {k: list(v) for k, v in d.get("hours", {}).items()}
