"""``auditwatch bench rules``: the whole detection stage (rule pack and anomaly
detectors) with 10,000 identities active.

Events are built beforehand (normalised and attributed: that cost belongs to
other stages and has its own benches); what is timed is ``Core``'s detection
on each event: the rule engine's index, predicates, windows and sequences, and
the four anomaly detectors. Memory is measured with tracemalloc as the growth
of detector state after every identity has acted, divided by the identities.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from typing import Any

from auditwatch.config import Config
from auditwatch.core import Core
from auditwatch.model import Action, Actor, Event, Identity, Resource, SourceRef

BENIGN = ["SELECT", "INSERT", "UPDATE", "DescribeDBInstances", "GetObject", "PutObject", "ListBuckets", "Decrypt"]
SENSITIVE = [("DROP TABLE", ("data.destroy",)), ("DeleteDBSnapshot", ("backup.destroy",)),
             ("StopLogging", ("logging.disable",)), ("AttachUserPolicy", ("privilege.escalate",)),
             ("CreateAccessKey", ("credential.create",)), ("DeleteBucket", ("data.destroy", "infra.destroy"))]


def workload(n: int, identities: int, seed: int = 5) -> tuple[list[Event], list[Identity]]:
    rng = random.Random(seed)
    kinds = ["human", "agent", "service", "unknown"]
    idents = [Identity(id=f"id-{i}", kind=kinds[i % 4], confidence=0.9,  # type: ignore[arg-type]
                       environments=("staging",) if i % 4 == 1 and i % 8 == 1 else ())
              for i in range(identities)]
    t0 = 1_777_000_000.0
    evs = []
    for k in range(n):
        ident = idents[k % identities] if k < identities else idents[rng.randrange(identities)]
        if rng.random() < 0.01:
            name, cats = rng.choice(SENSITIVE)
        else:
            name, cats = rng.choice(BENIGN), ()
        env = rng.choice(("prod", "staging", "dev", ""))
        e = Event(event_id=f"b{k}", time=t0 + k * 0.01, observed_time=t0, source=SourceRef("bench", "bench"),
                  actor=Actor(principal=ident.id, credential_id=f"key-{ident.id}"),
                  action=Action(name=name, outcome="success" if rng.random() < 0.97 else "failure",
                                categories=cats),
                  resource=Resource(type="table", name=f"t{rng.randrange(50)}", environment=env))
        e.identity = ident
        evs.append(e)
    return evs, idents


def run_bench(n: int = 200_000, identities: int = 10_000) -> dict[str, Any]:
    events, _ = workload(n, identities)
    cfg = Config(store=":memory:", dead_letter="")
    gc.collect()
    tracemalloc.start()
    core = Core(cfg)
    base, _ = tracemalloc.get_traced_memory()
    for e in events[:identities]:  # every identity acts once: the state an idle identity leaves behind
        core.engine.on_event(e)
        for d in core.anomaly:
            d.on_event(e)
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_idle = (after - base) / identities
    core = Core(cfg)
    engine, anomaly = core.engine, core.anomaly
    alerts = 0
    t0 = time.perf_counter()
    for e in events:
        alerts += len(engine.on_event(e))
        for d in anomaly:
            alerts += len(d.on_event(e))
    elapsed = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine2 = Core(cfg).engine
    for e in events:
        engine2.on_event(e)
    rules_only = time.perf_counter() - t0
    return {
        "events": n,
        "identities": identities,
        "rules": len(core.rules),
        "anomaly_detectors": len(anomaly),
        "events_per_s": round(n / elapsed, 1),
        "rules_only_events_per_s": round(n / rules_only, 1),
        "alerts": alerts,
        "bytes_per_idle_identity": round(per_idle, 1),
    }


def render(r: dict[str, Any]) -> str:
    return (f"detection ({r['rules']} rules + {r['anomaly_detectors']} anomaly detectors), {r['identities']} identities: "
            f"{r['events_per_s']:,.0f} events/s (rules alone {r['rules_only_events_per_s']:,.0f}/s), "
            f"{r['alerts']} alerts; {r['bytes_per_idle_identity']:.0f} bytes of state per idle identity")
