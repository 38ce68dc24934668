"""The Faust worker on the real broker gives the alerts `auditwatch replay` gives.

Files are shipped with `auditwatch ship --once`, workers are `auditwatch worker`
processes, alerts are read off the alerts topic; the reference is `auditwatch
replay` on the same files. Revocations go to a real Standard Webhooks receiver
that counts every delivery, so a revocation sent twice is seen.
"""

from __future__ import annotations

from pathlib import Path

from auditwatch.config import KafkaConfig
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.demo.scenario import write as write_demo
from tests.scaleout.harness import (
    SECRET,
    WorkerProc,
    assert_alert_set,
    big_workload,
    read_topic,
    replay,
    replay_key,
    ship_once,
    wait_until,
    write_config,
)


def _demo_files(d: Path) -> list[Path]:
    files = write_demo(d / "demo")
    return [p for p in files.values() if p.suffix != ".yaml"]


def _revoked(alerts: list[dict]) -> set[str]:
    return {f"revoke-{a['incident_id']}" for a in alerts if a.get("decision", {}).get("action") == "revoke"}


def _wait_revocations(rx: WebhookReceiver, ref: list[dict], k: KafkaConfig | None = None) -> None:
    want = _revoked(ref)
    try:
        wait_until(lambda: {r.webhook_id for r in rx.state.accepted} >= want, 30, "revocations")
    except AssertionError:
        got = {r.webhook_id for r in rx.state.accepted}
        missing = {m.removeprefix("revoke-") for m in want - got}
        said = [] if k is None else [r for r in read_topic(k, "responses", k.partitions) if r["incident_id"] in missing]
        alerts = [] if k is None else [
            (a["alert_id"], a["rule_id"], a["response"], a["incident"]) for a in read_topic(k, "alerts", k.partitions)
            if a["incident_id"] in missing]
        raise AssertionError({"missing": sorted(want - got), "unexpected": sorted(got - want),
                              "requests": rx.state.requests, "responses": said, "alerts": alerts}) from None


def test_demo_scenario_same_alerts_as_replay_and_revoked_once(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    files = _demo_files(tmp_path)
    ref = replay(files)
    want = {replay_key(a) for a in ref}
    assert any(a["rule_id"] == "agent-destroys-protected" for a in ref)  # the scenario is the incident
    with WebhookReceiver(SECRET) as rx:
        cfg = write_config(tmp_path, kafka_cfg, "w1", webhook_url=rx.url)
        ship_once(cfg, files)
        w = WorkerProc(cfg)
        try:
            assert_alert_set(kafka_cfg, want, [w])
            _wait_revocations(rx, ref, kafka_cfg)
            assert {r.webhook_id for r in rx.state.accepted} == _revoked(ref)
            assert rx.state.duplicates == 0
            resp = read_topic(kafka_cfg, "responses", kafka_cfg.partitions)
            assert {f"revoke-{r['incident_id']}" for r in resp if r["revoked"]} == _revoked(ref)
        finally:
            w.stop()


def test_corpus_same_alerts_as_replay(kafka_cfg: KafkaConfig, tmp_path: Path, corpus: Path) -> None:
    paths = sorted((corpus / "invictus-ir-aws-dataset" / "CloudTrail").glob("*.json.gz"))
    paths += sorted(p for p in (corpus / "pgaudit").rglob("*") if p.is_file() and p.suffix in (".log", ".json", ".csv"))
    assert len(paths) > 50
    ref = replay(paths)
    want = {replay_key(a) for a in ref}
    assert len(want) >= 10
    cfg = write_config(tmp_path, kafka_cfg, "w1")
    ship_once(cfg, paths)
    w = WorkerProc(cfg)
    try:
        assert_alert_set(kafka_cfg, want, [w])
    finally:
        w.stop()


def test_kill9_mid_stream_then_restart(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    files = big_workload(tmp_path, 40_000)
    ref = replay(files)
    want = {replay_key(a) for a in ref}
    assert _revoked(ref), "the workload must lead to revocations, or 'never twice' proves nothing"
    with WebhookReceiver(SECRET) as rx:
        cfg = write_config(tmp_path, kafka_cfg, "w1", webhook_url=rx.url)
        ship_once(cfg, files)
        w = WorkerProc(cfg)
        try:
            wait_until(lambda: w.detected() > 2000, 90, "the worker to get going")
            w.kill9()
            w2 = WorkerProc(cfg)
            try:
                assert w.detected() < 0  # really gone
                assert_alert_set(kafka_cfg, want, [w2])
                _wait_revocations(rx, ref, kafka_cfg)
            finally:
                w2.stop()
        finally:
            w.stop()
        assert {r.webhook_id for r in rx.state.accepted} == _revoked(ref)
        # acted on once each: a delivery the kill cut off after the receiver took it (before the
        # 2xx was recorded) is sent again after the restart with the same webhook-id, and the
        # receiver acknowledges that copy without acting; at most the deliveries in flight
        assert len(rx.state.accepted) == len(_revoked(ref))
        assert rx.state.duplicates <= 2, f"{rx.state.duplicates} re-sent revocations for one kill"


# Two workers with a rebalance mid-stream: tests/scaleout/test_rebalance_two_workers.py.
