"""The rule engine: single, threshold and sequence rules over event time.

Per event the work is one dict look-up (rules indexed by the event's
categories and identity kind) plus the predicates of the few rules that can
match. State is kept per rule and key (``by`` fields) in plain dicts, bounded
three ways: entries expire by window/maxspan, each key keeps a capped number
of events, and each rule keeps a capped number of keys (oldest evicted).

Event time, not arrival time: sequences and thresholds hold the matching
events sorted by event time, so an event arriving out of order within
``allowed_lateness`` still completes a sequence. An event older than its
source's watermark (the newest event time seen from that source minus the
allowed lateness) is counted as too late and judged by single-event rules only.

Suppression: the first match of a rule for a key opens a window; later
matches inside it come out as alerts with ``joined=True`` (they join the open
incident and are not notified again).
"""

from __future__ import annotations

import bisect
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from auditwatch.detectors.rules.loader import Rule
from auditwatch.model import Alert, Event, Identity

MAX_EVENTS_PER_KEY = 32
MAX_KEYS_PER_RULE = 50_000


@dataclass(slots=True)
class _Entry:
    rule: Rule
    role: str  # "match" | "until" | "step"
    step: int = -1


@dataclass(slots=True)
class RuleState:
    """Windows, sequences and suppression: everything the engine remembers."""

    thr: dict[str, OrderedDict[tuple[Any, ...], list[tuple[float, Any, Event]]]]
    seq: dict[str, OrderedDict[tuple[Any, ...], list[list[tuple[float, Event]]]]]
    until: dict[str, dict[tuple[Any, ...], list[float]]]
    suppress: dict[tuple[str, tuple[Any, ...]], float]


@dataclass
class EngineStats:
    events: int = 0
    too_late: int = 0
    alerts: int = 0
    joined: int = 0
    per_rule: dict[str, list[int]] = field(default_factory=dict)  # rule -> [alerts, incidents]


class RuleEngine:
    def __init__(self, rules: list[Rule], allowed_lateness: float = 60.0) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.lateness = allowed_lateness
        # one watermark per source: sources lag differently (CloudTrail delivers minutes
        # late, a database log at once), and a replay reads one file after another
        self.watermarks: dict[str, float] = {}
        self.stats = EngineStats()
        self._index: dict[tuple[tuple[str, ...], str], list[_Entry]] = {}
        # rule id -> key -> state
        self._thr: dict[str, OrderedDict[tuple[Any, ...], list[tuple[float, Any, Event]]]] = {}
        self._seq: dict[str, OrderedDict[tuple[Any, ...], list[list[tuple[float, Event]]]]] = {}
        self._until: dict[str, dict[tuple[Any, ...], list[float]]] = {}
        self._suppress: dict[tuple[str, tuple[Any, ...]], float] = {}
        for r in self.rules:
            self.stats.per_rule[r.id] = [0, 0]
            if r.kind == "threshold":
                self._thr[r.id] = OrderedDict()
            elif r.kind == "sequence":
                self._seq[r.id] = OrderedDict()
                self._until[r.id] = {}

    # -- indexing -----------------------------------------------------------
    def _entries(self, cats: tuple[str, ...], kind: str) -> list[_Entry]:
        key = (cats, kind)
        got = self._index.get(key)
        if got is None:
            got = []
            for r in self.rules:
                if r.kind == "sequence":
                    for i, st in enumerate(r.steps):
                        if _may(st.hints, cats, kind):
                            got.append(_Entry(r, "step", i))
                    if r.until is not None and _may(r.until_hints, cats, kind):
                        got.append(_Entry(r, "until"))
                elif _may(r.hints, cats, kind):
                    got.append(_Entry(r, "match"))
            if len(self._index) > 4096:
                self._index.clear()
            self._index[key] = got
        return got

    # -- whose state: the Kafka worker swaps in one identity's at a time ----------
    def fresh_state(self) -> RuleState:
        return RuleState({rid: OrderedDict() for rid in self._thr}, {rid: OrderedDict() for rid in self._seq},
                         {rid: {} for rid in self._until}, {})

    def current_state(self) -> RuleState:
        return RuleState(self._thr, self._seq, self._until, self._suppress)

    def use(self, st: RuleState) -> None:
        """Work on ``st`` from now on (state partitioned by identity lives outside the engine)."""
        self._thr, self._seq, self._until, self._suppress = st.thr, st.seq, st.until, st.suppress

    def is_late(self, ev: Event) -> bool:
        """Judge ``ev`` against its source's watermark and advance the watermark."""
        src = ev.source.name
        wm = self.watermarks.get(src, float("-inf"))
        if ev.time < wm:
            return True
        if ev.time - self.lateness > wm:
            if len(self.watermarks) > 10_000 and src not in self.watermarks:
                self.watermarks.clear()
            self.watermarks[src] = ev.time - self.lateness
        return False

    # -- the hot path -------------------------------------------------------
    def on_event(self, ev: Event, late: bool | None = None) -> list[Alert]:
        """``late``: already judged where the source's order is known (the Kafka
        parse stage, which sees a stream in order); None judges it here."""
        self.stats.events += 1
        if late is None:
            late = self.is_late(ev)
        if late:
            self.stats.too_late += 1
        ident = ev.identity
        entries = self._entries(ev.action.categories, ident.kind if ident is not None else "unknown")
        if not entries:
            return []
        out: list[Alert] = []
        for e in entries:
            r = e.rule
            if r.kind == "single":
                if r.match is not None and r.match(ev):
                    out.append(self._alert(r, ev, [ev], ""))
            elif late:
                continue  # too late for windows and sequences: judged as a single event only
            elif r.kind == "threshold":
                if r.match is not None and r.match(ev):
                    a = self._threshold(r, ev)
                    if a is not None:
                        out.append(a)
            elif e.role == "step":
                if r.steps[e.step].pred(ev):
                    a = self._sequence(r, e.step, ev)
                    if a is not None:
                        out.append(a)
            elif e.role == "until" and r.until is not None and r.until(ev):
                key = tuple(g(ev) for g in r.by)
                times = self._until[r.id].setdefault(key, [])
                bisect.insort(times, ev.time)
                del times[:-MAX_EVENTS_PER_KEY]
        return out

    def _threshold(self, r: Rule, ev: Event) -> Alert | None:
        states = self._thr[r.id]
        key = tuple(g(ev) for g in r.by)
        st = states.get(key)
        if st is None:
            st = states[key] = []
            if len(states) > MAX_KEYS_PER_RULE:
                states.popitem(last=False)
        else:
            states.move_to_end(key)
        val = r.distinct(ev) if r.distinct is not None else ev.event_id
        bisect.insort(st, (ev.time, val, ev), key=lambda x: x[0])
        newest = st[-1][0]
        cut = bisect.bisect_left(st, newest - r.window, key=lambda x: x[0])
        del st[:cut]
        if len(st) > 4 * max(r.count, MAX_EVENTS_PER_KEY):
            del st[: len(st) - 4 * max(r.count, MAX_EVENTS_PER_KEY)]
        n = len({v for _, v, _ in st}) if r.distinct is not None else len(st)
        if n < r.count:
            return None
        evidence = [x[2] for x in st[-r.count:]]
        what = f"{n} distinct {r.distinct_name}" if r.distinct is not None else f"{n} matching events"
        st.clear()  # start counting again; suppression keeps it one incident
        return self._alert(r, ev, evidence, f"{what} within {r.window:g}s by {', '.join(map(str, key))}")

    def _sequence(self, r: Rule, step: int, ev: Event) -> Alert | None:
        states = self._seq[r.id]
        key = tuple(g(ev) for g in r.by)
        slots = states.get(key)
        if slots is None:
            slots = states[key] = [[] for _ in r.steps]
            if len(states) > MAX_KEYS_PER_RULE:
                states.popitem(last=False)
        else:
            states.move_to_end(key)
        lst = slots[step]
        bisect.insort(lst, (ev.time, ev), key=lambda x: x[0])
        # forget what can no longer be part of a sequence with anything newer
        horizon = max((s[-1][0] for s in slots if s), default=ev.time) - r.maxspan - self.lateness
        for s in slots:
            cut = bisect.bisect_left(s, horizon, key=lambda x: x[0])
            del s[:cut]
            del s[:-MAX_EVENTS_PER_KEY]
        chain = self._complete(r, slots, key, step, ev)
        if chain is None:
            return None
        used = {id(e) for _, e in chain}
        for s in slots:
            s[:] = [x for x in s if id(x[1]) not in used]
        ordered = sorted({id(e): (t, e) for t, e in chain}.values(), key=lambda x: x[0])
        names = " then ".join(f"{e.action.name}" for _, e in ordered)
        span = ordered[-1][0] - ordered[0][0]
        return self._alert(r, ev, [e for _, e in ordered],
                           f"{names} by {', '.join(map(str, key))} within {span:.0f}s (maxspan {r.maxspan:g}s)")

    def _complete(self, r: Rule, slots: list[list[tuple[float, Event]]], key: tuple[Any, ...], step: int,
                  ev: Event) -> list[tuple[float, Event]] | None:
        pools = [s if i != step else [(ev.time, ev)] for i, s in enumerate(slots)]
        if any(not p for p in pools):
            return None
        until = self._until.get(r.id, {}).get(key, [])
        best: list[tuple[float, Event]] | None = None
        for combo in itertools.product(*pools):
            # one event may fill several steps only when order does not matter
            # (DeleteDBInstance that also deletes the backups is both steps at once)
            if r.order == "strict" and len({id(e) for _, e in combo}) < len(combo):
                continue
            times = [t for t, _ in combo]
            if r.order == "strict" and any(a > b for a, b in zip(times, times[1:])):
                continue
            lo, hi = min(times), max(times)
            if hi - lo > r.maxspan:
                continue
            if until and any(lo < u < hi for u in until):
                continue
            if best is None or hi - lo < max(t for t, _ in best) - min(t for t, _ in best):
                best = list(combo)
        return best

    def _alert(self, r: Rule, ev: Event, evidence: list[Event], reason: str) -> Alert:
        ident = ev.identity or Identity(id="anonymous")
        skey = (r.id, tuple(g(ev) for g in r.suppress_by))
        until = self._suppress.get(skey)
        joined = until is not None and ev.time <= until
        if not joined:
            self._suppress[skey] = ev.time + r.suppress_window
            if len(self._suppress) > MAX_KEYS_PER_RULE * 4:
                self._expire_suppression(ev.time)
        cats = tuple(sorted({c for e in evidence for c in e.action.categories}))
        counts = self.stats.per_rule.setdefault(r.id, [0, 0])
        counts[0] += 1
        self.stats.alerts += 1
        if joined:
            self.stats.joined += 1
        else:
            counts[1] += 1
        return Alert(rule_id=r.id, title=r.title, severity=r.severity, identity=ident, categories=cats,
                     evidence=evidence, time=ev.time, attack=r.attack, response=r.response,
                     reason=reason or _single_reason(r, ev), joined=joined)

    def _expire_suppression(self, now: float) -> None:
        for k in [k for k, t in self._suppress.items() if t < now]:
            del self._suppress[k]

    # -- state: survives restarts ----------------------------------------------
    def dump(self) -> dict[str, Any]:
        from auditwatch.detectors.rules.state import dump_events

        return {
            "watermarks": self.watermarks,
            "suppress": [[rid, list(k), t] for (rid, k), t in self._suppress.items()],
            "threshold": {rid: [[list(k), [[t, v, dump_events(e)] for t, v, e in st]] for k, st in states.items()]
                          for rid, states in self._thr.items()},
            "sequence": {rid: [[list(k), [[[t, dump_events(e)] for t, e in s] for s in slots]]
                               for k, slots in states.items()] for rid, states in self._seq.items()},
            "until": {rid: [[list(k), ts] for k, ts in d.items()] for rid, d in self._until.items()},
        }

    def load(self, d: dict[str, Any]) -> None:
        from auditwatch.detectors.rules.state import load_event

        self.watermarks.update({k: float(v) for k, v in d.get("watermarks", {}).items()})
        for rid, k, t in d.get("suppress", []):
            self._suppress[(rid, _tup(k))] = t
        for rid, items in d.get("threshold", {}).items():
            if rid in self._thr:
                for k, st in items:
                    self._thr[rid][_tup(k)] = [(t, v, load_event(e)) for t, v, e in st]
        for rid, items in d.get("sequence", {}).items():
            if rid in self._seq:
                for k, slots in items:
                    self._seq[rid][_tup(k)] = [[(t, load_event(e)) for t, e in s] for s in slots]
        for rid, items in d.get("until", {}).items():
            if rid in self._until:
                for k, ts in items:
                    self._until[rid][_tup(k)] = list(ts)


def _tup(k: Any) -> tuple[Any, ...]:
    return tuple(tuple(x) if isinstance(x, list) else x for x in k)


def _may(h: Any, cats: tuple[str, ...], kind: str) -> bool:
    if h.categories is not None and h.categories.isdisjoint(cats):
        return False
    if h.kinds is not None and kind not in h.kinds:
        return False
    return True


def _single_reason(r: Rule, ev: Event) -> str:
    ident = ev.identity
    who = f"{ident.kind} {ident.id}" if ident else "?"
    where = ev.resource.name or ev.resource.type or "?"
    env = f" in {ev.resource.environment}" if ev.resource.environment else ""
    return f"{who} ran {ev.action.name} on {where}{env}"
