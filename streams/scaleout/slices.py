"""Detection state partitioned by identity: one slice per identity.

A worker owns some partitions of the events topic, hence some identities. Each
identity's state — rule windows and sequences, suppression, anomaly baselines,
its open incident, and the positions of its recent events — is one slice, kept
in memory while the identity is active and written to a Faust table (one
changelog message per identity per batch, never per event) so that a worker
that dies hands its identities, state included, to the one taking over.

The rule engine and anomaly detectors are the core's own: the worker swaps an
identity's slice in, runs the events of the batch, and swaps the next one in.

Re-delivery: Kafka gives at-least-once; a batch replayed after a crash carries
events the slice has already counted. Each slice remembers the source positions
of its recent events and skips a repeat, so a threshold never counts an event
twice and a sequence never completes on a replayed copy.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from auditwatch.core import Core, Decision
from auditwatch.detectors.anomaly.base import AnomalyDetector
from auditwatch.detectors.rules.engine import RuleState
from auditwatch.incidents import Incident, IncidentGrouper
from auditwatch.model import Event

SLICE_VERSION = 1
SEEN_PER_IDENTITY = 4096  # positions remembered for de-duplication (well past any re-delivered batch)


def position(ev: Event) -> str:
    s = ev.source
    return f"{ev.event_id}\x1f{s.name}\x1f{s.offset}\x1f{s.index}\x1f{s.line}"


class Slice:
    __slots__ = ("anomaly", "grouper", "identity", "rules", "seen")

    def __init__(self, identity: str, rules: RuleState, anomaly: list[AnomalyDetector],
                 grouper: IncidentGrouper) -> None:
        self.identity = identity
        self.rules = rules
        self.anomaly = anomaly
        self.grouper = grouper
        self.seen: OrderedDict[str, None] = OrderedDict()


class SliceDetector:
    """Runs the core's detection over batches of one identity's events."""

    def __init__(self, core: Core, max_cached: int = 50_000) -> None:
        self.core = core
        self.max_cached = max_cached
        self.cache: OrderedDict[str, Slice] = OrderedDict()
        self.started: float | None = None  # anomaly learn period: the earliest event time this worker saw
        self.duplicates = 0

    def new_slice(self, identity: str) -> Slice:
        return Slice(identity, self.core.engine.fresh_state(), self.core.new_anomaly_detectors(),
                     IncidentGrouper(self.core.config.detectors.incident_window_seconds))

    def get(self, identity: str, stored: bytes | None) -> Slice:
        sl = self.cache.get(identity)
        if sl is not None:
            self.cache.move_to_end(identity)
            return sl
        sl = self.load(identity, stored) if stored else self.new_slice(identity)
        self.cache[identity] = sl
        if len(self.cache) > self.max_cached:
            self.cache.popitem(last=False)  # its state is in the table; reloaded when it returns
        return sl

    def forget(self) -> None:
        """Partitions moved (a rebalance): the table, not this cache, is the truth now."""
        self.cache.clear()

    def run(self, sl: Slice, events: list[tuple[Event, bool]]) -> list[Decision]:
        if events:
            t0 = min(ev.time for ev, _ in events)
            if self.started is None or t0 < self.started:
                self.started = t0
        core = self.core
        core.engine.use(sl.rules)
        core.anomaly = sl.anomaly
        core.grouper = sl.grouper
        for det in sl.anomaly:
            det.started = self.started
        out: list[Decision] = []
        seen = sl.seen
        for ev, late in events:
            pos = position(ev)
            if pos in seen:
                self.duplicates += 1
                continue
            seen[pos] = None
            if len(seen) > SEEN_PER_IDENTITY:
                seen.popitem(last=False)
            d = core.detect(ev, late)
            if d.alerts:
                out.append(d)
        return out

    # -- the table's bytes ----------------------------------------------------
    def dump(self, sl: Slice) -> bytes:
        eng = self.core.engine
        eng.use(sl.rules)
        rules = eng.dump()
        rules.pop("watermarks", None)  # judged upstream, per stream
        inc = sl.grouper._open.get(sl.identity)
        return orjson.dumps({
            "v": SLICE_VERSION, "rules": rules, "anomaly": {d.id: d.dump() for d in sl.anomaly},
            "incident": None if inc is None else [inc.incident_id, inc.opened, inc.updated, inc.severity,
                                                  inc.count, inc.status],
            "seen": list(sl.seen), "started": self.started,
        }, option=orjson.OPT_NON_STR_KEYS)

    def load(self, identity: str, data: bytes) -> Slice:
        sl = self.new_slice(identity)
        d: dict[str, Any] = orjson.loads(data)
        if d.get("v") != SLICE_VERSION:
            return sl  # an older layout: start this identity afresh rather than misread it
        eng = self.core.engine
        eng.use(sl.rules)
        eng.load(d.get("rules", {}))
        for det in sl.anomaly:
            if det.id in d.get("anomaly", {}):
                det.load(d["anomaly"][det.id])
        inc = d.get("incident")
        if inc:
            from auditwatch.model import Identity

            iid, opened, updated, sev, count, status = inc
            sl.grouper._open[identity] = Incident(incident_id=iid, identity=Identity(id=identity), opened=opened,
                                                  updated=updated, severity=sev, status=status, count=count)
        sl.seen.update((p, None) for p in d.get("seen", []))
        st = d.get("started")
        if st is not None and (self.started is None or st < self.started):
            self.started = st
        return sl
