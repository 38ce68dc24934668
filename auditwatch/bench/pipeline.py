"""``auditwatch bench pipeline``: the embedded pipeline on a mixed corpus.

The corpus is generated (deterministic seed): CloudTrail records and
PostgreSQL jsonlog pgaudit lines from a few hundred identities — people,
services and agents — about 1% of them destructive, some in production.
Measured from bytes to alerts: parse, normalise, attribute, detect, group,
store, queue revocations (delivered to a local receiver).
"""

from __future__ import annotations

import io
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from auditwatch.config import Config, RespondersConfig, WebhookConfig
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.demo.scenario import CLAUDE_UA, CONSOLE_UA, CURSOR_UA, TERRAFORM_UA, _ct, _iam_user, _pg, _role, _audit
from auditwatch.model import Alert
from auditwatch.streams.embedded import Pipeline
from auditwatch.streams.reader import read_stream

BENIGN_API = [("DescribeDBInstances", "rds.amazonaws.com", None), ("GetObject", "s3.amazonaws.com", None),
              ("ListBuckets", "s3.amazonaws.com", None), ("Decrypt", "kms.amazonaws.com", None),
              ("AssumeRole", "sts.amazonaws.com", None), ("PutObject", "s3.amazonaws.com", None),
              ("DescribeInstances", "ec2.amazonaws.com", None), ("GetSecretValue", "secretsmanager.amazonaws.com", None)]
DESTRUCTIVE_API = [("DeleteDBInstance", "rds.amazonaws.com", {"dBInstanceIdentifier": "prod-db-{n}", "skipFinalSnapshot": True}),
                   ("DeleteBucket", "s3.amazonaws.com", {"bucketName": "prod-assets-{n}"}),
                   ("DeleteDBSnapshot", "rds.amazonaws.com", {"dBSnapshotIdentifier": "prod-db-{n}-snap"}),
                   ("StopLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"})]
BENIGN_SQL = ["SELECT * FROM orders WHERE id = {n}", "INSERT INTO events (kind, payload) VALUES ('click', '{n}')",
              "UPDATE users SET last_seen = now() WHERE id = {n}", "SELECT count(*) FROM sessions WHERE user_id = {n}"]
DESTRUCTIVE_SQL = ["DROP TABLE customers_{n}", "TRUNCATE orders_{n}", "DELETE FROM invoices", "DROP SCHEMA backups_{n} CASCADE"]


def corpus(n: int, seed: int = 7) -> tuple[bytes, bytes]:
    rng = random.Random(seed)
    ct_lines, pg_lines = [], []
    people = [_iam_user(f"user{i}", f"AKIAUSER{i:012d}") for i in range(100)]
    agents = [_role("agent-role", f"session-{i}", f"ASIAAGENT{i:011d}") for i in range(100)]
    services = [_role("ci-deploy", f"run-{i}", f"ASIACI{i:014d}") for i in range(50)]
    uas = {"p": CONSOLE_UA, "a": CURSOR_UA, "s": TERRAFORM_UA}
    for k in range(n):
        destructive = rng.random() < 0.01
        if k % 2 == 0:
            who = rng.choice("ppaass")
            ident = {"p": people, "a": agents, "s": services}[who][rng.randrange(50)]
            ua = uas[who] if who != "a" or rng.random() < 0.5 else CLAUDE_UA
            name, src, params = rng.choice(DESTRUCTIVE_API if destructive else BENIGN_API)
            p = {k2: (v.format(n=rng.randrange(1000)) if isinstance(v, str) else v) for k2, v in (params or {}).items()}
            ct_lines.append(json.dumps(_ct(k * 0.01, name, src, ident, ua, p or None)))
        else:
            who = rng.choice(["bob", "orders_app", "agent_rw", "docs_bot"])
            app = {"bob": "psql", "orders_app": "orders-api", "agent_rw": "cursor-agent", "docs_bot": "claude-code"}[who]
            db = rng.choice(["prod_app", "staging_app"])
            sql = rng.choice(DESTRUCTIVE_SQL if destructive else BENIGN_SQL).format(n=rng.randrange(10**6))
            cmd = sql.split()[0].upper() if not sql.startswith("DROP") else " ".join(sql.split()[:2]).upper()
            pg_lines.append(json.dumps(_pg(k * 0.01, who, db, app, f"s{rng.randrange(200)}", k, 1000 + k % 200,
                                           _audit(k, "WRITE", cmd, "TABLE", "", sql))))
    return ("\n".join(ct_lines) + "\n").encode(), ("\n".join(pg_lines) + "\n").encode()


def run_bench(n_events: int = 100_000) -> dict[str, Any]:
    ct, pg = corpus(n_events)
    lat: list[float] = []

    def on_alert(a: Alert, _d: dict[str, Any]) -> None:
        now = time.perf_counter()
        lat.append((now - max(e.ingest_mono for e in a.evidence)) * 1000)

    with tempfile.TemporaryDirectory() as d, WebhookReceiver("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY") as rx:
        import os

        os.environ["AUDITWATCH_BENCH_SECRET"] = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
        cfg = Config(store=str(Path(d) / "bench.db"), dead_letter=str(Path(d) / "dl.jsonl"),
                     responders=RespondersConfig(webhook=WebhookConfig(url=rx.url, secret_env="AUDITWATCH_BENCH_SECRET")))
        pipe = Pipeline(cfg, on_alert=on_alert)
        t0 = time.perf_counter()
        for name, data in (("cloudtrail.jsonl", ct), ("postgres.json", pg)):
            for item in read_stream(io.BufferedReader(io.BytesIO(data)), name):  # type: ignore[arg-type]
                pipe.process(item)
        elapsed = time.perf_counter() - t0
        pipe.drain(30)
        pipe.close()
        events, alerts, dead = pipe.events, len(pipe.alerts), pipe.dead.count
        delivered = len(rx.state.accepted)
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    return {
        "events": events,
        "dead_letters": dead,
        "alerts": alerts,
        "revocations_delivered": delivered,
        "seconds": round(elapsed, 3),
        "events_per_s": round(events / elapsed, 1),
        "ingest_to_alert_ms": {"p50": round(q[49], 3), "p99": round(q[98], 3), "max": round(max(lat or [0]), 3)},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def render(r: dict[str, Any]) -> str:
    lat = r["ingest_to_alert_ms"]
    return (f"embedded pipeline: {r['events']} events in {r['seconds']} s = {r['events_per_s']:.0f} events/s\n"
            f"  ingest->alert latency: p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms "
            f"over {r['alerts']} alerts\n"
            f"  revocations delivered: {r['revocations_delivered']}, dead letters: {r['dead_letters']}, "
            f"peak RSS {r['peak_rss_mb']} MB")
