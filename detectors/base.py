"""The detector interface: one detector, one module, metadata as class variables.

A detector sees normalised, attributed events only (never raw records), keeps
whatever per-identity state it needs in plain dicts, and never raises on a
missing field. ``REGISTRY`` maps ids to classes so configuration can name them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from auditwatch.model import Alert, Event, Identity, Severity

ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")


@dataclass(slots=True)
class DetectorContext:
    protected_environments: frozenset[str] = frozenset({"prod", "production"})
    destroy_pair_window_seconds: float = 600.0


@dataclass(slots=True)
class Sample:
    """A sample event that must (or must not) make the detector fire."""

    name: str
    events: list[Event]
    expect: bool
    note: str = ""


class Detector:
    id: ClassVar[str]
    title: ClassVar[str]
    severity: ClassVar[Severity]
    attack: ClassVar[tuple[str, ...]]
    response: ClassVar[Literal["alert", "page", "revoke"]] = "alert"
    runbook: ClassVar[str]

    def __init__(self, ctx: DetectorContext) -> None:
        self.ctx = ctx

    def on_event(self, ev: Event) -> list[Alert]:
        raise NotImplementedError

    def alert(self, ev: Event, ident: Identity, cats: tuple[str, ...], reason: str,
              evidence: list[Event] | None = None, severity: Severity | None = None) -> Alert:
        return Alert(
            rule_id=self.id,
            title=self.title,
            severity=severity or self.severity,
            identity=ident,
            categories=cats,
            evidence=evidence or [ev],
            time=ev.time,
            attack=self.attack,
            response=self.response,
            reason=reason,
        )

    def protected(self, ev: Event) -> bool:
        return ev.resource.environment in self.ctx.protected_environments


REGISTRY: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    if cls.id in REGISTRY:
        raise ValueError(f"duplicate detector id {cls.id!r}")
    for t in cls.attack:
        if not ATTACK_ID.match(t):
            raise ValueError(f"{cls.id}: bad ATT&CK technique id {t!r}")
    REGISTRY[cls.id] = cls
    return cls
