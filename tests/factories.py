"""Small builders for normalised events in tests (sources have their own raw-record tests)."""

from __future__ import annotations

import itertools
from typing import Any

from auditwatch.model import Action, Actor, Event, Identity, Resource, SourceRef

_n = itertools.count(1)


def event(name: str = "DescribeDBInstances", *, cats: tuple[str, ...] = (), outcome: str = "success",
          env: str = "", kind: str | None = None, ident: str = "who", t: float = 1_700_000_000.0,
          activity: str = "api", resource: str = "", actor: dict[str, Any] | None = None) -> Event:
    n = next(_n)
    ev = Event(
        event_id=f"t-{n}", time=t, observed_time=t, source=SourceRef("test", "factory", line=n),
        actor=Actor(**(actor or {"principal": ident})),
        action=Action(name=name, outcome=outcome, categories=tuple(sorted(cats))),  # type: ignore[arg-type]
        resource=Resource(type="thing", name=resource, environment=env), activity=activity,  # type: ignore[arg-type]
    )
    if kind is not None:
        ev.identity = Identity(id=ident, kind=kind, confidence=0.9)  # type: ignore[arg-type]
    return ev
