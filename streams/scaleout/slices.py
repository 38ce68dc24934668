"""Detection state partitioned by identity: one slice per identity.

A worker owns some partitions of the events topic, hence some identities. Each
identity's state — rule windows and sequences, suppression, anomaly baselines,
its open incident, and what it has applied — is one slice, kept
in memory while the identity is active and written to a Faust table (one
changelog message per identity per offset commit, never per event or batch:
``Worker._flush_state``) so that a worker
that dies hands its identities, state included, to the one taking over.

The rule engine and anomaly detectors are the core's own: the worker swaps an
identity's slice in, runs the events of the batch, and swaps the next one in.

Re-delivery: Kafka gives at-least-once; after a crash a worker re-reads its
uncommitted raw messages and re-parses them (and a parser that starts mid-file
is fed the file's last lines again), and re-reads uncommitted events. Every
event carries its origin — file (path and inode), byte offset, index in a
document — the same each time it is made again. A parser emits one session's
events of a file in file order (it holds records back per session, never
reorders within one), so per identity, file and session the origin only grows:
each slice keeps the last origin it applied per file and session and skips
anything at or below it. A
threshold never counts an event twice; a sequence never completes on a copy.
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

SLICE_VERSION = 2
# (file, session) pairs whose last applied position a slice remembers; re-reads touch the newest
POSITIONS_PER_SLICE = 256


class Slice:
    __slots__ = ("anomaly", "applied", "grouper", "identity", "rules")

    def __init__(self, identity: str, rules: RuleState, anomaly: list[AnomalyDetector],
                 grouper: IncidentGrouper) -> None:
        self.identity = identity
        self.rules = rules
        self.anomaly = anomaly
        self.grouper = grouper
        # (file id, session) -> last (offset, index, rank) applied
        self.applied: OrderedDict[tuple[str, str], tuple[int, int, int]] = OrderedDict()


class SliceDetector:
    """Runs the core's detection over batches of one identity's events."""

    def __init__(self, core: Core, max_cached: int = 50_000) -> None:
        self.core = core
        self.max_cached = max_cached
        self.cache: OrderedDict[str, Slice] = OrderedDict()
        self.started: float | None = None  # anomaly learn period: the earliest event time this worker saw

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

    @staticmethod
    def seen(sl: Slice, origin: list[Any], session: str) -> bool:
        """True if the event from ``origin`` was applied already; else remember it as applied."""
        fid, off, idx, rank = origin
        key = (fid, session)
        pos = (off, idx, rank)
        last = sl.applied.get(key)
        if last is not None and pos <= last:
            return True
        sl.applied[key] = pos
        sl.applied.move_to_end(key)
        if len(sl.applied) > POSITIONS_PER_SLICE:
            sl.applied.popitem(last=False)
        return False

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
        for ev, late in events:
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
            "applied": [[f, ss, *m] for (f, ss), m in sl.applied.items()], "started": self.started,
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
        sl.applied = OrderedDict(((f, ss), (int(a), int(b), int(c))) for f, ss, a, b, c in d.get("applied") or [])
        st = d.get("started")
        if st is not None and (self.started is None or st < self.started):
            self.started = st
        return sl
