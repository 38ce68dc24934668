"""``auditwatch demo``: replay the incident scenario on the embedded runner,
with a local webhook receiver that proves the revocation arrived."""

from __future__ import annotations

import base64
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from auditwatch.config import Config, RespondersConfig, WebhookConfig
from auditwatch.demo import scenario
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.model import Alert
from auditwatch.responders.console import table_header, table_row
from auditwatch.streams.embedded import Pipeline
from auditwatch.streams.reader import read_path


def run_demo(workdir: Path | None = None) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="auditwatch-demo-") if workdir is None else None
    d = Path(tmp.name) if tmp else workdir
    assert d is not None
    try:
        files = scenario.write(d / "logs")
        secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
        os.environ["AUDITWATCH_DEMO_WEBHOOK_SECRET"] = secret
        with WebhookReceiver(secret) as rx:
            cfg = Config(
                registry=str(files["registry"]),
                store=str(d / "auditwatch.db"),
                dead_letter=str(d / "deadletter.jsonl"),
                responders=RespondersConfig(webhook=WebhookConfig(
                    url=rx.url, secret_env="AUDITWATCH_DEMO_WEBHOOK_SECRET")),
            )
            alerts: list[dict[str, Any]] = []

            def keep(_a: Alert, ad: dict[str, Any]) -> None:
                alerts.append(ad)

            pipe = Pipeline(cfg, on_alert=keep)
            t0 = time.perf_counter()
            for path in (files["cloudtrail"], files["postgres"]):
                pipe.process_all(read_path(path))
            pipe.drain(10.0)
            wall = time.perf_counter() - t0
            pipe.close()
            received = {r.webhook_id: r for r in rx.state.accepted}
            revs = []
            lat = []
            first: tuple[float, float] | None = None  # (first destructive ingest, its latency)
            for rec in pipe.revocations.values():
                r = received.get(rec["key"])
                ms = None
                if rec.get("acked_mono") and rec.get("first_destructive_mono"):
                    ms = (rec["acked_mono"] - rec["first_destructive_mono"]) * 1000
                    lat.append(ms)
                    if first is None or rec["first_destructive_mono"] < first[0]:
                        first = (rec["first_destructive_mono"], ms)
                revs.append({
                    "incident_id": rec["incident_id"],
                    "identity": rec["identity"],
                    "rule_id": rec["rule_id"],
                    "status": rec["status"],
                    "attempts": rec.get("attempts"),
                    "receiver_verified": r is not None,
                    "credentials": r.payload["data"]["credentials"] if r else [],
                    "destructive_to_ack_ms": round(ms, 3) if ms is not None else None,
                })
            kinds_seen = {}
            for inc_ident in pipe.core.attributor._cache.values():
                kinds_seen.setdefault(inc_ident.kind, set()).add(inc_ident.id)
            return {
                "events": pipe.events,
                "dead_letters": pipe.dead.count,
                "alerts": alerts,
                "incidents": len({a["incident_id"] for a in alerts}),
                "revocations": revs,
                # from the first destructive event entering the pipeline to the receiver's 2xx
                "first_destructive_to_revocation_ms": round(first[1], 3) if first else None,
                "median_destructive_to_revocation_ms": round(statistics.median(lat), 3) if lat else None,
                "receiver": {"accepted": len(rx.state.accepted), "duplicates": rx.state.duplicates,
                             "rejected_signatures": rx.state.rejected},
                "identities": {k: sorted(v) for k, v in sorted(kinds_seen.items())},
                "wall_seconds": round(wall, 4),
            }
    finally:
        if tmp:
            tmp.cleanup()


def render(r: dict[str, Any]) -> str:
    lines = [
        "auditwatch demo: the April 2026 incident, replayed on the embedded runner (no broker)",
        "",
        "  An AI coding agent on a staging task finds an over-broad token and deletes the",
        "  production database with its backups; then an agent role drops the production",
        "  tables and the backups schema. Around it: people, services, a well-behaved agent.",
        "",
        f"  events read: {r['events']}   dead letters: {r['dead_letters']}   "
        f"alerts: {len(r['alerts'])}   incidents: {r['incidents']}",
        "",
        "ALERTS",
        "  " + table_header(),
    ]
    lines += ["  " + table_row(a) for a in r["alerts"]]
    lines += ["", "REVOCATIONS (signed webhook, Standard Webhooks; receiver verified signature, dedups on webhook-id)"]
    for v in r["revocations"]:
        creds = ", ".join(f"{c['type']}={c['id']}" for c in v["credentials"])
        lines.append(f"  REVOKED {v['identity']['id']} ({v['identity']['kind']}, owner "
                     f"{v['identity'].get('owner') or 'unknown'}) incident {v['incident_id']}: {v['status']} "
                     f"after {v['attempts']} attempt(s), {v['destructive_to_ack_ms']} ms after the destructive event")
        lines.append(f"          credentials: {creds}")
    lines += [
        "",
        f"  first destructive event -> revocation acknowledged: {r['first_destructive_to_revocation_ms']} ms "
        "(the incident took nine seconds)",
    ]
    alerted = {a["identity"]["id"] for a in r["alerts"]}
    calm = [f"{i} ({k})" for k, ids in r["identities"].items() for i in ids if i not in alerted]
    lines.append(f"  not alerted on: {', '.join(calm)}")
    return "\n".join(lines)
