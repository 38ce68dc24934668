"""What anomaly detectors share: a learn period, state that can be saved, and alerts
that carry their baseline."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from auditwatch.detectors.taxonomy import CATEGORIES
from auditwatch.model import Alert, Event, Identity, Severity

# categories as bits: per-identity "seen" sets cost one int
CAT_BIT = {c: 1 << i for i, c in enumerate(CATEGORIES)}


def mask(cats: tuple[str, ...]) -> int:
    m = 0
    for c in cats:
        m |= CAT_BIT.get(c, 0)
    return m


class AnomalyDetector:
    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    attack: ClassVar[tuple[str, ...]]
    response: ClassVar[Literal["alert", "page", "revoke"]] = "alert"

    def __init__(self, learn_seconds: float = 7 * 86400) -> None:
        self.learn_seconds = learn_seconds
        self.started: float | None = None  # event time of the first event seen

    def learning(self, t: float) -> bool:
        if self.started is None:
            self.started = t
        return t - self.started < self.learn_seconds

    def on_event(self, ev: Event) -> list[Alert]:
        raise NotImplementedError

    def alert(self, ev: Event, reason: str, baseline: dict[str, Any]) -> Alert:
        return Alert(rule_id=self.id, title=self.title, severity=self.severity,
                     identity=ev.identity or Identity(id="anonymous"), categories=ev.action.categories,
                     evidence=[ev], time=ev.time, attack=self.attack, response=self.response, reason=reason,
                     baseline=baseline)

    def dump(self) -> dict[str, Any]:
        return {"started": self.started}

    def load(self, d: dict[str, Any]) -> None:
        self.started = d.get("started")
