"""Metrics move as the pipeline works: each test takes a fresh registry and an
injected clock, feeds events through a real Pipeline and reads the samples back."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from auditwatch.config import Config, RespondersConfig, WebhookConfig
from auditwatch.demo import scenario
from auditwatch.detectors.rules.state import load_event
from auditwatch.detectors.taxonomy import CATEGORIES
from auditwatch.metrics import (
    DETECTION_BUCKETS,
    KINDS,
    LATENCY_BUCKETS,
    RESPONSE_OUTCOMES,
    REVOCATION_OUTCOMES,
    SEVERITIES,
    Metrics,
)
from auditwatch.model import Event, SourceRef
from auditwatch.responders.outbox import Attempt
from auditwatch.streams.embedded import Pipeline
from auditwatch.streams.reader import read_path
from auditwatch.streams.sources.base import DeadLetter

T0 = 1_700_000_000.0
AGENT = {"id": "agent:x", "kind": "agent", "owner": "dana", "match": {"db_roles": ["agent_rw"]}}
HUMAN = {"id": "bob@example.com", "kind": "human", "owner": "bob", "match": {"db_roles": ["bob"]}}


class Sender:
    """An in-memory responder: acknowledges, or fails every attempt."""

    def __init__(self, name: str = "webhook", ok: bool = True) -> None:
        self.name = name
        self.ok = ok
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def send(self, key: str, payload: bytes) -> Attempt:
        with self.lock:
            self.keys.append(key)
        return Attempt(ok=self.ok, status_code=200 if self.ok else 503, error=None if self.ok else "unavailable",
                       duration_ms=0.1)


def sql(action: str, role: str, t: float, cats: tuple[str, ...] = (), env: str = "prod", table: str = "t",
        source: str = "postgres") -> Event:
    return load_event({"time": t, "action": action, "categories": list(cats), "activity": "sql",
                       "source": {"type": source, "name": "/var/log/postgresql/pg.json"},
                       "resource": {"environment": env, "name": table, "database": "prod_app"},
                       "actor": {"principal": role, "principal_type": "db_user"}}, n=int(t * 1000))


def pipeline(tmp: Path, metrics: Metrics, *, sender: Sender | None = None, now: float = T0 + 5,
             **responders: Any) -> Pipeline:
    cfg = Config(store=str(tmp / "aw.db"), dead_letter="", identities=[AGENT, HUMAN],
                 responders=RespondersConfig(**responders))
    return Pipeline(cfg, sender=sender, metrics=metrics, clock=lambda: now)


def value(m: Metrics, name: str, **labels: str) -> float:
    v = m.registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def fresh(now: float = T0 + 5) -> Metrics:
    return Metrics(CollectorRegistry(), clock=lambda: now)


def test_events_and_dead_letters_are_counted_by_source(tmp_path: Path) -> None:
    m = fresh()
    p = pipeline(tmp_path, m)
    p.process(sql("SELECT", "bob", T0))
    p.process(sql("SELECT", "agent_rw", T0 + 1, env="staging"))
    p.process(sql("DROP TABLE", "bob", T0 + 2, cats=("data.destroy",), env="staging"))
    p.process(DeadLetter("bad json: x", SourceRef("cloudtrail", "ct.json.gz", line=3), "{"))
    p.close()
    assert value(m, "auditwatch_events_total", source="postgres", outcome="parsed") == 3 == p.events
    assert value(m, "auditwatch_events_total", source="cloudtrail", outcome="dead_lettered") == 1 == p.dead.count
    # both outcomes of a source exist as soon as it is seen: a dead-letter rate reads 0, not "no data"
    assert m.registry.get_sample_value("auditwatch_events_total",
                                       {"source": "postgres", "outcome": "dead_lettered"}) == 0
    assert value(m, "auditwatch_attributed_events_total", kind="human") == 2
    assert value(m, "auditwatch_attributed_events_total", kind="agent") == 1
    assert value(m, "auditwatch_events_by_kind_total", kind="human", category="none") == 1
    assert value(m, "auditwatch_events_by_kind_total", kind="human", category="data.destroy") == 1
    assert value(m, "auditwatch_events_by_kind_total", kind="agent", category="none") == 1


def test_alerts_incidents_latency_and_a_delivered_revocation(tmp_path: Path) -> None:
    m = fresh()
    tx = Sender()
    p = pipeline(tmp_path, m, sender=tx)
    p.process(sql("DROP TABLE", "agent_rw", T0, cats=("data.destroy",), table="customers"))
    p.process(sql("DROP SCHEMA", "agent_rw", T0 + 3, cats=("data.destroy", "backup.destroy"), table="backups"))
    assert p.drain(10)
    p.close()
    by_rule: dict[str, int] = {}
    for a in p.alerts:
        by_rule[a.rule_id] = by_rule.get(a.rule_id, 0) + 1
    assert by_rule  # the scenario raised alerts
    for rule, n in by_rule.items():
        sev = next(a.severity for a in p.alerts if a.rule_id == rule)
        assert value(m, "auditwatch_alerts_total", rule=rule, severity=sev) == n
    assert sum(value(m, "auditwatch_incidents_total", severity=s) for s in SEVERITIES) == \
        len({a.incident_id for a in p.alerts})
    assert value(m, "auditwatch_ingest_to_alert_seconds_count") == len(p.alerts)
    assert value(m, "auditwatch_detection_latency_seconds_count", source="postgres") == len(p.alerts)
    # clock is T0 + 5: the first alert's event is 5 s old, the second's 2 s
    assert 2.0 <= value(m, "auditwatch_detection_latency_seconds_sum", source="postgres") <= 5.0 * len(p.alerts)
    assert value(m, "auditwatch_revocations_total", outcome="requested") == 1
    assert value(m, "auditwatch_revocations_total", outcome="delivered") == 1 == len(tx.keys)
    assert value(m, "auditwatch_responses_total", responder="webhook", outcome="delivered") == 1
    assert value(m, "auditwatch_responses_total", responder="webhook", outcome="retry") == 0
    assert value(m, "auditwatch_response_latency_seconds_count", responder="webhook") == 1
    assert value(m, "auditwatch_outbox_pending") == 0


def test_retries_then_dead_are_counted_per_attempt(tmp_path: Path) -> None:
    m = fresh()
    tx = Sender(ok=False)
    p = pipeline(tmp_path, m, sender=tx, webhook=WebhookConfig(url="http://127.0.0.1:9/unused", secret_env="X",
                                                               max_attempts=3, backoff_initial_seconds=0.001,
                                                               backoff_max_seconds=0.002))
    p.process(sql("DROP TABLE", "agent_rw", T0, cats=("data.destroy",), table="customers"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and value(m, "auditwatch_revocations_total", outcome="dead") < 1:
        time.sleep(0.01)
    p.close()
    assert len(tx.keys) == 3
    assert value(m, "auditwatch_responses_total", responder="webhook", outcome="retry") == 2
    assert value(m, "auditwatch_responses_total", responder="webhook", outcome="dead") == 1
    assert value(m, "auditwatch_responses_total", responder="webhook", outcome="delivered") == 0
    assert value(m, "auditwatch_response_latency_seconds_count", responder="webhook") == 0
    assert value(m, "auditwatch_revocations_total", outcome="dead") == 1
    # the failed delivery is itself an alert, counted like any other
    assert value(m, "auditwatch_alerts_total", rule="responder-delivery-failed", severity="high") == 1


def test_dry_run_unconfigured_and_withheld_revocations(tmp_path: Path) -> None:
    m = fresh()
    p = pipeline(tmp_path / "a", m, dry_run=True)
    p.process(sql("DROP TABLE", "agent_rw", T0, cats=("data.destroy",)))
    p.close()
    assert value(m, "auditwatch_revocations_total", outcome="dry_run") == 1
    m2 = fresh()
    p2 = pipeline(tmp_path / "b", m2)  # no revoker configured at all
    p2.process(sql("DROP TABLE", "agent_rw", T0, cats=("data.destroy",)))
    p2.close()
    assert value(m2, "auditwatch_revocations_total", outcome="unconfigured") == 1
    m3 = fresh()
    p3 = pipeline(tmp_path / "c", m3, sender=Sender(), protected=["agent:x"])
    p3.process(sql("DROP TABLE", "agent_rw", T0, cats=("data.destroy",)))
    p3.close()
    assert value(m3, "auditwatch_revocations_total", outcome="withheld") >= 1
    assert value(m3, "auditwatch_revocations_total", outcome="requested") == 0


def test_clock_skew_by_direction() -> None:
    now = T0 + 100_000
    m = fresh(now)
    for t in (now, now - 60, now + 60, now + 3600, now - 2 * 86400, now - 7200):
        ev = sql("SELECT", "bob", t)
        m.event(ev)
    assert value(m, "auditwatch_clock_skew_events_total", direction="future") == 1
    assert value(m, "auditwatch_clock_skew_events_total", direction="past") == 2


def test_gauges_read_the_pipeline_at_scrape_time(tmp_path: Path) -> None:
    m = fresh()
    p = pipeline(tmp_path, m, sender=Sender())
    assert value(m, "auditwatch_circuit_breaker_open") == 0
    p.policy.breaker_open_since = p.policy.clock()
    assert value(m, "auditwatch_circuit_breaker_open") == 1
    p.policy.reset_breaker()
    # half a sequence (data destroyed, backups not yet) is open sequence state
    p.process(sql("DROP TABLE", "bob", T0, cats=("data.destroy",), env="staging"))
    assert value(m, "auditwatch_sequence_state_entries") >= 1
    # an event far older than its source's watermark is too late
    p.process(sql("SELECT", "bob", T0 + 3600))
    p.process(sql("SELECT", "bob", T0))
    assert value(m, "auditwatch_too_late_events_total") == 1 == p.core.engine.stats.too_late
    p.store.enqueue("k1", "inc-1", "nobody", "x", b"{}", T0, 0.0)  # a responder with no worker: stays pending
    assert value(m, "auditwatch_outbox_pending") == 1
    p.close(drain_timeout=0)


def test_configured_sources_and_rules_start_at_zero(tmp_path: Path) -> None:
    m = fresh()
    cfg = Config(store=":memory:", dead_letter="", identities=[AGENT],
                 sources=[{"path": str(tmp_path / "pg.json"), "format": "postgres-jsonlog"},
                          {"path": str(tmp_path / "any.log"), "format": "auto"}])  # type: ignore[list-item]
    p = Pipeline(cfg, metrics=m)
    for outcome in ("parsed", "dead_lettered"):
        assert m.registry.get_sample_value("auditwatch_events_total",
                                           {"source": "postgres", "outcome": outcome}) == 0
    assert m.registry.get_sample_value("auditwatch_detection_latency_seconds_count", {"source": "postgres"}) == 0
    for r in p.core.rules:
        if r.enabled:
            assert m.registry.get_sample_value("auditwatch_alerts_total",
                                               {"rule": r.id, "severity": r.severity}) == 0, r.id
    assert m.registry.get_sample_value("auditwatch_alerts_total",
                                       {"rule": "responder-delivery-failed", "severity": "high"}) == 0
    p.close()


def test_registries_are_independent(tmp_path: Path) -> None:
    a, b = fresh(), fresh()
    pa = pipeline(tmp_path / "a", a)
    pb = pipeline(tmp_path / "b", b)
    pa.process(sql("SELECT", "bob", T0))
    assert value(a, "auditwatch_events_total", source="postgres", outcome="parsed") == 1
    assert value(b, "auditwatch_events_total", source="postgres", outcome="parsed") == 0
    # without an injected one, each pipeline gets a registry of its own (no duplicate registration)
    p1 = Pipeline(Config(store=":memory:", dead_letter=""))
    p2 = Pipeline(Config(store=":memory:", dead_letter=""))
    assert p1.metrics.registry is not p2.metrics.registry
    for p in (pa, pb, p1, p2):
        p.close()


# -- label values stay bounded --------------------------------------------------
def allowed(m: Metrics, rule_ids: set[str], responders: set[str]) -> dict[str, set[str]]:
    from auditwatch.streams.sources.registry import ALIASES, SOURCES

    return {
        "source": set(SOURCES) | set(ALIASES) | {"postgres", "json", "unknown", "other"},
        "outcome": {"parsed", "dead_lettered", *RESPONSE_OUTCOMES, *REVOCATION_OUTCOMES, "other"},
        "kind": set(KINDS),
        "category": {*CATEGORIES, "none", "other"},
        "rule": rule_ids | {"other"},
        "severity": {*SEVERITIES, "other"},
        "responder": responders,
        "direction": {"future", "past"},
        "le": {*(str(float(b)) for b in DETECTION_BUCKETS), "+Inf"},
        "version": {"0.1.0", "unknown"} | {s.labels["version"] for mf in m.registry.collect()
                                           if mf.name == "auditwatch_build" for s in mf.samples},
        "python_version": {s.labels.get("python_version", "") for mf in m.registry.collect()
                           if mf.name == "auditwatch_build" for s in mf.samples},
    }


def test_label_values_are_bounded_after_the_demo(tmp_path: Path) -> None:
    files = scenario.write(tmp_path / "logs")
    m = fresh(time.time())
    tx = Sender()
    cfg = Config(registry=str(files["registry"]), store=str(tmp_path / "aw.db"), dead_letter="")
    p = Pipeline(cfg, sender=tx, metrics=m)
    principals: set[str] = set()
    for f in (files["cloudtrail"], files["postgres"]):
        for item in read_path(f):
            if not isinstance(item, DeadLetter):
                principals |= {item.actor.principal, item.actor.credential_id, item.actor.session_name}
            p.process(item)
    # hostile input: a source type and a category nobody registered, a very long principal
    weird = sql("DROP TABLE", "arn:aws:iam::1:user/" + "x" * 300, T0, cats=("made.up",), source="arn:aws:weird")
    p.process(weird)
    p.process(DeadLetter("bad", SourceRef("s3://bucket/some/key/" + "y" * 50, "n"), "raw"))
    assert p.drain(10)
    p.close()
    assert p.alerts and tx.keys
    rule_ids = {r.id for r in p.core.rules} | {d.id for d in p.core.anomaly} | {"responder-delivery-failed"}
    ok = allowed(m, rule_ids, {"webhook"})
    principals.discard("")
    seen: dict[str, set[str]] = {}
    for mf in m.registry.collect():
        for s in mf.samples:
            if not s.name.startswith("auditwatch_"):
                continue
            for k, v in s.labels.items():
                seen.setdefault(k, set()).add(v)
                assert k in ok, f"unexpected label {k} on {s.name}"
                if k == "le":
                    assert v in ok[k] or float(v) in LATENCY_BUCKETS, (s.name, k, v)
                else:
                    assert v in ok[k], (s.name, k, v)
                assert v not in principals and "arn:" not in v and "@" not in v, (s.name, k, v)
    assert "other" in seen["source"] and "other" in seen["category"]
    assert {"cloudtrail", "postgres"} <= seen["source"]


def test_rule_label_is_bounded_by_the_configured_rules() -> None:
    from auditwatch.model import Alert, Identity

    m = fresh()
    m.bind(extra_rules=[("known-rule", "high")])
    # the series exists (at 0) before any alert: the first one shows in rate()
    assert m.registry.get_sample_value("auditwatch_alerts_total", {"rule": "known-rule", "severity": "high"}) == 0
    for rid in ("known-rule", "user-typed-" + "z" * 40):
        m.alert(Alert(rule_id=rid, title="t", severity="high", identity=Identity(id="agent:x"), categories=(),
                      evidence=[], time=T0))
    assert value(m, "auditwatch_alerts_total", rule="known-rule", severity="high") == 1
    assert value(m, "auditwatch_alerts_total", rule="other", severity="high") == 1


def test_exposition_names_follow_the_conventions() -> None:
    m = fresh()
    text = generate_latest(m.registry).decode()
    types = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
    expected = {
        "auditwatch_events_total": "counter", "auditwatch_events_by_kind_total": "counter",
        "auditwatch_attributed_events_total": "counter", "auditwatch_alerts_total": "counter",
        "auditwatch_incidents_total": "counter", "auditwatch_detection_latency_seconds": "histogram",
        "auditwatch_ingest_to_alert_seconds": "histogram", "auditwatch_response_latency_seconds": "histogram",
        "auditwatch_responses_total": "counter", "auditwatch_revocations_total": "counter",
        "auditwatch_circuit_breaker_open": "gauge", "auditwatch_sequence_state_entries": "gauge",
        "auditwatch_too_late_events_total": "counter", "auditwatch_outbox_pending": "gauge",
        "auditwatch_clock_skew_events_total": "counter", "auditwatch_kafka_consumer_lag": "gauge",
        "auditwatch_build_info": "gauge",
    }
    for name, typ in expected.items():
        assert types.get(name) == typ, (name, types.get(name))
    # buckets resolve 1 ms to 10 s
    assert LATENCY_BUCKETS[0] == 0.001 and LATENCY_BUCKETS[-1] == 10.0
    assert 'auditwatch_ingest_to_alert_seconds_bucket{le="0.001"}' in text
    assert 'auditwatch_ingest_to_alert_seconds_bucket{le="10.0"}' in text


def test_metrics_route_serves_the_pipeline_registry(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from auditwatch.streams.serve import Service

    cfg = Config(store=str(tmp_path / "aw.db"), dead_letter="", identities=[AGENT])

    async def go() -> tuple[int, str, str]:
        svc = Service(cfg)
        svc.pipe.process(sql("SELECT", "agent_rw", time.time()))
        async with TestClient(TestServer(svc.app())) as client:
            r = await client.get("/metrics")
            body = await r.text()
        svc.pipe.close(drain_timeout=0)
        return r.status, r.headers["content-type"], body

    status, ctype, body = asyncio.run(go())
    assert status == 200 and ctype.startswith("text/plain") and "version=0.0.4" in ctype
    assert 'auditwatch_events_total{outcome="parsed",source="postgres"} 1.0' in body
    assert "process_resident_memory_bytes" in body  # the service adds the runtime collectors
    assert "auditwatch_build_info{" in body


@pytest.mark.parametrize("n", [2000])
def test_hot_path_cost_is_small(tmp_path: Path, n: int) -> None:
    """A few microseconds per event: the metrics must not show in the pipeline's throughput."""
    m = fresh()
    evs = [sql("SELECT", "bob", T0 + i) for i in range(n)]
    t = time.perf_counter()
    for ev in evs:
        m.event(ev)
    per = (time.perf_counter() - t) / n
    assert per < 50e-6, f"{per * 1e6:.1f} µs per event"


# -- the dashboards follow the conventions (STYLE.md) ----------------------------
def _dashboards() -> list[tuple[str, dict[str, Any]]]:
    import json

    from tests.conftest import ROOT

    files = sorted((ROOT / "dashboards").glob("*.json"))
    assert {f.name for f in files} >= {"auditwatch-overview.json", "auditwatch-identities.json",
                                       "auditwatch-pipeline.json"}
    return [(f.name, json.loads(f.read_text())) for f in files]


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in board["panels"]:
        out.append(p)
        out += p.get("panels", [])
    return out


def test_dashboards_follow_the_conventions() -> None:
    import re

    from auditwatch.streams.scaleout.worker import WorkerMetrics

    # the embedded runner's metrics, and the Kafka workers' own (worker-mode panels)
    exposed = {line.split(" ")[2] for reg in (fresh().registry, WorkerMetrics().registry)
               for line in generate_latest(reg).decode().splitlines() if line.startswith("# TYPE ")}
    exposed |= {"process_resident_memory_bytes", "process_cpu_seconds_total", "up"}
    uids = set()
    for name, board in _dashboards():
        assert board["uid"] not in uids
        uids.add(board["uid"])
        variables = {v["name"]: v for v in board["templating"]["list"]}
        ds = variables["datasource"]
        assert ds["type"] == "datasource" and ds["query"] == "prometheus"
        for v in variables.values():
            if v["type"] == "query":
                assert v["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        ids = [p["id"] for p in _panels(board)]
        assert len(ids) == len(set(ids)), name
        for p in _panels(board):
            where = f"{name} / {p['title']}"
            if p["type"] == "row":
                continue
            assert p.get("description"), f"{where}: no description"
            if p["type"] == "text":  # no query, no data source, no unit
                continue
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            assert p["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
            assert p["targets"], where
            for t in p["targets"]:
                assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
                expr = t["expr"]
                for rng in re.findall(r"\[([^\]]*)\]", expr):
                    assert rng in ("$__rate_interval", "$__range"), f"{where}: range [{rng}] in {expr}"
                for fn_range in re.findall(r"\b(?:rate|irate)\((?:[^()]|\([^()]*\))*?\[([^\]]*)\]", expr):
                    assert fn_range == "$__rate_interval", f"{where}: rate over [{fn_range}]"
                assert 'instance=~"$instance"' in expr, f"{where}: not filtered on $instance: {expr}"
                for metric in re.findall(r"\b((?:auditwatch|process)_[a-z_]+)", expr):
                    base = re.sub(r"_(bucket|count|sum)$", "", metric)
                    assert metric in exposed or base in exposed, f"{where}: unknown metric {metric}"
    boards = dict(_dashboards())
    texts = [p["options"]["content"] for p in _panels(boards["auditwatch-identities.json"]) if p["type"] == "text"]
    assert any("web view" in t and "principal" in t for t in texts)


def test_provisioning_files() -> None:
    import yaml

    from tests.conftest import ROOT

    prov = ROOT / "dashboards" / "provisioning"
    d = yaml.safe_load((prov / "dashboards.yaml").read_text())
    assert d["apiVersion"] == 1 and d["providers"][0]["type"] == "file"
    s = yaml.safe_load((prov / "datasources.yaml").read_text())
    assert s["apiVersion"] == 1 and s["datasources"][0]["type"] == "prometheus"
