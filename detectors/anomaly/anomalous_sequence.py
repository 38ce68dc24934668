"""Anomalous sequence: an action that almost never follows the previous one.

Threat: behaviour that does not fit the pattern of its kind of identity — an
agent that reads and writes rows, then drops a schema; a CI role that applies
infrastructure, then deletes the backup vault. Each step may be allowed; the
transition is the tell.
Evidence: per identity kind, a first-order Markov model of transitions between
action symbols (the action's categories, or its name for uncategorised
actions), learned from every identity of that kind; per identity only its last
symbol is kept. After the learn period, a successful destructive event whose
transition probability from the identity's previous symbol is below
``min_probability`` — with at least ``min_support`` observations of that
previous symbol — alerts, with the probability and counts.
False positives: rare-but-legitimate workflows; they become likely as they recur.
"""

from __future__ import annotations

from typing import Any

from auditwatch.detectors.anomaly.base import AnomalyDetector
from auditwatch.detectors.taxonomy import DESTRUCTIVE
from auditwatch.model import Alert, Event


class AnomalousSequence(AnomalyDetector):
    id = "anomaly-sequence"
    title = "Destructive action that almost never follows the previous one"
    severity = "medium"
    attack = ("T1485",)

    def __init__(self, learn_seconds: float = 7 * 86400, min_probability: float = 0.005,
                 min_support: int = 50) -> None:
        super().__init__(learn_seconds)
        self.min_p, self.min_support = min_probability, min_support
        self.symbols: dict[str, int] = {}
        self.last: dict[str, int] = {}  # identity -> last symbol id
        self.trans: dict[tuple[str, int, int], int] = {}  # (kind, prev, cur) -> count
        self.from_: dict[tuple[str, int], int] = {}  # (kind, prev) -> count

    def _sym(self, ev: Event) -> int:
        name = "+".join(ev.action.categories) if ev.action.categories else ev.action.name
        s = self.symbols.get(name)
        if s is None:
            if len(self.symbols) >= 10_000:
                name = "(other)"
                s = self.symbols.setdefault(name, len(self.symbols))
            else:
                s = self.symbols[name] = len(self.symbols)
        return s

    def on_event(self, ev: Event) -> list[Alert]:
        learning = self.learning(ev.time)
        ident = ev.identity
        if ident is None or ev.action.outcome != "success":
            return []
        cur = self._sym(ev)
        prev = self.last.get(ident.id)
        self.last[ident.id] = cur
        if prev is None:
            return []
        kind = ident.kind
        support = self.from_.get((kind, prev), 0)
        seen = self.trans.get((kind, prev, cur), 0)
        out: list[Alert] = []
        if not learning and support >= self.min_support and DESTRUCTIVE.intersection(ev.action.categories):
            p = (seen + 1) / (support + len(self.symbols))  # Laplace-smoothed
            if p < self.min_p:
                inv = {v: k for k, v in self.symbols.items()}
                out.append(self.alert(ev, f"{inv.get(cur)} after {inv.get(prev)} is rare for {kind} identities "
                                          f"(p={p:.4f})",
                                      {"identity_kind": kind, "previous": inv.get(prev), "current": inv.get(cur),
                                       "probability": round(p, 6), "transitions_seen": seen,
                                       "previous_seen": support}))
        self.trans[(kind, prev, cur)] = seen + 1
        self.from_[(kind, prev)] = support + 1
        return out

    def dump(self) -> dict[str, Any]:
        return super().dump() | {"symbols": self.symbols, "last": self.last,
                                 "trans": [[k, p, c, n] for (k, p, c), n in self.trans.items()],
                                 "from": [[k, p, n] for (k, p), n in self.from_.items()]}

    def load(self, d: dict[str, Any]) -> None:
        super().load(d)
        self.symbols = dict(d.get("symbols", {}))
        self.last = dict(d.get("last", {}))
        self.trans = {(k, p, c): n for k, p, c, n in d.get("trans", [])}
        self.from_ = {(k, p): n for k, p, n in d.get("from", [])}
