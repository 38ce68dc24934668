"""The identity inventory: who is acting in the estate, what kind, whose, since when,
doing what — the first view a SOC lead asks for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditwatch.model import Event, iso


@dataclass(slots=True)
class Seen:
    id: str
    kind: str
    owner: str
    confidence: float
    evidence: str
    first_seen: float
    last_seen: float
    events: int = 0
    failures: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)


class Inventory:
    def __init__(self) -> None:
        self.seen: dict[str, Seen] = {}

    def update(self, ev: Event) -> None:
        i = ev.identity
        if i is None:
            return
        s = self.seen.get(i.id)
        if s is None:
            s = self.seen[i.id] = Seen(i.id, i.kind, i.owner, i.confidence, i.evidence[0] if i.evidence else "",
                                       ev.time, ev.time)
        elif i.confidence > s.confidence or (i.kind != s.kind and i.confidence >= s.confidence):
            # keep the strongest verdict seen for this identity
            s.kind, s.owner, s.confidence = i.kind, i.owner or s.owner, i.confidence
            s.evidence = i.evidence[0] if i.evidence else s.evidence
        s.events += 1
        if ev.action.outcome == "failure":
            s.failures += 1
        else:  # what an identity did, not what it tried: failed attempts are counted apart
            for c in ev.action.categories:
                s.categories[c] = s.categories.get(c, 0) + 1
        s.first_seen = min(s.first_seen, ev.time)
        s.last_seen = max(s.last_seen, ev.time)
        if len(s.sources) < 8:
            s.sources.add(ev.source.type)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for s in sorted(self.seen.values(), key=lambda s: (-sum(s.categories.values()), -s.events, s.id)):
            out.append({"id": s.id, "kind": s.kind, "owner": s.owner, "confidence": round(s.confidence, 2),
                        "evidence": s.evidence, "first_seen": iso(s.first_seen), "last_seen": iso(s.last_seen),
                        "events": s.events, "failures": s.failures, "categories": dict(sorted(s.categories.items())),
                        "sources": sorted(s.sources)})
        return out

    def dump(self) -> list[list[Any]]:
        return [[s.id, s.kind, s.owner, s.confidence, s.evidence, s.first_seen, s.last_seen, s.events, s.failures,
                 s.categories, sorted(s.sources)] for s in self.seen.values()]

    def load(self, rows: list[list[Any]]) -> None:
        for r in rows:
            self.seen[r[0]] = Seen(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], dict(r[9]), set(r[10]))
