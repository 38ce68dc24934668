"""``auditwatch bench soak --minutes N``: the embedded pipeline at a fixed rate for N
minutes, with the incident's attack injected every minute.

Traffic is real log text (CloudTrail JSON lines and PostgreSQL jsonlog with
pgaudit records, from the pipeline bench's generator) read through the sources,
fed once a second at the offered rate. Every minute a fresh agent identity
drops a production table and then the backups schema; it counts as detected
when the pipeline raises agent-destroys-protected for it. Reported: throughput,
attacks injected/detected, ingest→alert latency percentiles per minute, RSS per
minute and its growth after the first fifth of the run.
"""

from __future__ import annotations

import io
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from auditwatch.bench.pipeline import corpus
from auditwatch.config import Config
from auditwatch.demo.scenario import _audit, _pg
from auditwatch.model import Alert
from auditwatch.streams.embedded import Pipeline
from auditwatch.streams.reader import read_stream


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _attack(n: int, t0: float) -> bytes:
    role = f"agent_soak_{n}"
    lines = [
        _pg(0, role, "prod_app", "cursor-agent", f"soak{n}", 1, 5000 + n,
            _audit(1, "DDL", "DROP TABLE", "TABLE", "public.customers", "DROP TABLE customers")),
        _pg(3, role, "prod_app", "cursor-agent", f"soak{n}", 2, 5000 + n,
            _audit(2, "DDL", "DROP SCHEMA", "SCHEMA", "backups", "DROP SCHEMA backups CASCADE")),
    ]
    for d in lines:  # the attack happens now, in event time too
        ts = t0 + (0 if d["line_num"] == 1 else 3)
        d["timestamp"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) + ".000 UTC"
    return ("\n".join(json.dumps(x) for x in lines) + "\n").encode()


def run_soak(minutes: float = 1.0, rate: int = 2000) -> dict[str, Any]:
    ct, pg = corpus(50_000)
    ct_lines, pg_lines = ct.splitlines(keepends=True), pg.splitlines(keepends=True)
    lat_by_min: dict[int, list[float]] = {}
    detected: set[str] = set()
    start = time.monotonic()

    def on_alert(a: Alert, _d: dict[str, Any]) -> None:
        m = int((time.monotonic() - start) // 60)
        if a.evidence:
            # from the moment the event that completed the match entered the pipeline
            latest = max(e.ingest_mono for e in a.evidence)
            lat_by_min.setdefault(m, []).append((time.perf_counter() - latest) * 1000)
        if a.rule_id == "agent-destroys-protected" and a.identity.id.startswith("db:agent_soak_"):
            detected.add(a.identity.id)

    with tempfile.TemporaryDirectory() as d:
        cfg = Config(store=str(Path(d) / "soak.db"), dead_letter=str(Path(d) / "dl.jsonl"))
        cfg.responders.dry_run = True  # decide revocations, send none: the soak has no receivers
        pipe = Pipeline(cfg, on_alert=on_alert)
        rss: list[tuple[float, float]] = [(0.0, _rss_mb())]
        events = 0
        injected = 0
        i = 0
        second = 0
        total_seconds = int(minutes * 60)
        while second < total_seconds:
            tick = start + second
            now = time.monotonic()
            if now < tick:
                time.sleep(tick - now)
            chunk_ct = b"".join(ct_lines[(i + k) % len(ct_lines)] for k in range(rate // 2))
            chunk_pg = b"".join(pg_lines[(i + k) % len(pg_lines)] for k in range(rate // 2))
            i += rate // 2
            for name, data in (("soak-ct", chunk_ct), ("soak-pg", chunk_pg)):
                for item in read_stream(io.BufferedReader(io.BytesIO(data)), name):  # type: ignore[arg-type]
                    pipe.process(item)
                    events += not hasattr(item, "reason")
            if second % 60 == 0:
                injected += 1
                for item in read_stream(io.BufferedReader(io.BytesIO(_attack(injected, time.time()))),  # type: ignore[arg-type]
                                        f"soak-attack-{injected}"):
                    pipe.process(item)
            second += 1
            if second % max(1, total_seconds // 20) == 0 or second == total_seconds:
                rss.append((second, _rss_mb()))
        elapsed = time.monotonic() - start
        pipe.close(drain_timeout=5)
    fifth = next((r for s, r in rss if s >= total_seconds / 5), rss[-1][1])
    per_min = {}
    for m, xs in sorted(lat_by_min.items()):
        q = statistics.quantiles(xs, n=100) if len(xs) >= 2 else [xs[0]] * 99
        per_min[str(m)] = {"alerts": len(xs), "p50": round(q[49], 3), "p99": round(q[98], 3)}
    all_lat = sorted(x for xs in lat_by_min.values() for x in xs)
    q = statistics.quantiles(all_lat, n=100) if len(all_lat) >= 2 else [0.0] * 99
    return {
        "minutes": minutes,
        "offered_rate": rate,
        "events": events,
        "events_per_s": round(events / elapsed, 1),
        "attacks_injected": injected,
        "attacks_detected": len(detected),
        "latency_ms": {"p50": round(q[49], 3), "p90": round(q[89], 3), "p99": round(q[98], 3),
                       "max": round(max(all_lat or [0]), 3)},
        "latency_by_minute": per_min,
        "rss_mb": [[s, round(r, 1)] for s, r in rss],
        "rss_growth_ratio": round(rss[-1][1] / fifth - 1, 4) if fifth else None,
    }


def render(r: dict[str, Any]) -> str:
    lat = r["latency_ms"]
    return (f"soak {r['minutes']} min at {r['offered_rate']} events/s offered: {r['events']} events "
            f"({r['events_per_s']:.0f}/s); attacks detected {r['attacks_detected']}/{r['attacks_injected']}; "
            f"ingest->alert p50 {lat['p50']} ms p99 {lat['p99']} ms; RSS growth after the first fifth "
            f"{r['rss_growth_ratio']:+.2%} (RSS {r['rss_mb'][0][1]} -> {r['rss_mb'][-1][1]} MB)")
