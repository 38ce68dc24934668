"""Real processes around the real broker: `auditwatch ship`, `auditwatch worker`,
`auditwatch replay`, and a reader of the alerts topic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import yaml

from auditwatch.bench.pipeline import corpus as bench_corpus
from auditwatch.config import KafkaConfig
from auditwatch.streams.scaleout.broker import free_port

SECRET_ENV = "AUDITWATCH_TEST_WEBHOOK_SECRET"
SECRET = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
AW = [sys.executable, "-m", "auditwatch.cli"]


def write_config(d: Path, k: KafkaConfig, name: str, webhook_url: str | None = None,
                 extra: dict[str, Any] | None = None, webhook: dict[str, Any] | None = None) -> Path:
    """``webhook``: more settings of ``responders.webhook`` (its retry budget, say)."""
    d.mkdir(parents=True, exist_ok=True)
    # the circuit breaker (5 a minute by default) is tested elsewhere; here every decided
    # revocation must arrive, as replay --dry-run decides them
    responders: dict[str, Any] = {"dry_run": webhook_url is None, "max_auto_revocations_per_minute": 100_000}
    if webhook_url:
        responders["webhook"] = {"url": webhook_url, "secret_env": SECRET_ENV, "backoff_initial_seconds": 0.05,
                                 **(webhook or {})}
    cfg = {"store": str(d / f"{name}.db"), "dead_letter": str(d / f"{name}-dead.jsonl"), "responders": responders,
           "kafka": k.model_dump() | {"web_port": free_port(), "web_host": "127.0.0.1",
                                      "data_dir": str(d / f"{name}-data"), "session_timeout_seconds": 6.0,
                                      "ship_state": str(d / "ship-state.json")}}
    cfg |= extra or {}
    p = d / f"{name}.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def env() -> dict[str, str]:
    return os.environ | {SECRET_ENV: SECRET}


class WorkerProc:
    def __init__(self, cfg: Path) -> None:
        self.cfg = cfg
        self.port = int(yaml.safe_load(cfg.read_text())["kafka"]["web_port"])
        self.log = cfg.with_suffix(f".{time.monotonic_ns()}.log")
        self.proc = subprocess.Popen([*AW, "worker", "--config", str(cfg)], env=env(),
                                     stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return bytes(r.read())
        except OSError:
            return None

    def detected(self) -> float:
        return self.metric("auditwatch_kafka_events_detected_total")

    def metric(self, sample: str) -> float:
        """A sample of /metrics by its full name, labels included (``name{stage="parse"}``):
        -1 if the worker does not answer, 0 if it has no such sample yet."""
        body = self._get("/metrics")
        if body is None:
            return -1.0
        for line in body.decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def assigned(self) -> int:
        body = self._get("/healthz")
        return -1 if body is None else int(orjson.loads(body)["assigned"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def ship_once(cfg: Path, paths: list[Path]) -> None:
    r = subprocess.run([*AW, "ship", "--config", str(cfg), "--once", *map(str, paths)], env=env(),
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-3000:]


def replay(paths: list[Path], cfg: Path | None = None) -> list[dict[str, Any]]:
    args = [*AW, "replay", "--format", "jsonl", "--dry-run"] + (["--config", str(cfg)] if cfg else [])
    r = subprocess.run(args + [str(p) for p in paths], capture_output=True, timeout=300, env=env())
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    return [orjson.loads(line) for line in r.stdout.splitlines() if line.startswith(b"{")]


def replay_key(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["rule_id"], a["identity"]["id"], tuple(e["event_id"] for e in a["evidence"]), a["joined"])


def wire_key(a: dict[str, Any]) -> tuple[Any, ...]:
    return (a["rule_id"], a["identity"][0], tuple(w[0] for w in a["evidence"]), a["joined"])


def read_topic(k: KafkaConfig, name: str, partitions: int) -> list[dict[str, Any]]:
    """Everything in a topic now (assign(), not a consumer group: kafka-python groups don't work on Tansu)."""
    return [orjson.loads(m.value) for m in read_records(k, name, partitions)]


def read_records(k: KafkaConfig, name: str, partitions: int) -> list[Any]:
    """Everything in a topic now, as kafka-python's records (topic, partition, offset, key, value)."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=k.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
    try:
        tps = [TopicPartition(k.topic(name), p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning()
        end = c.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + 20
        while any(c.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for msgs in c.poll(200).values():
                out += msgs
        return out
    finally:
        c.close()


def produce(k: KafkaConfig, records: list[tuple[str, bytes | None, bytes, int | None]]) -> list[Any]:
    """Send (topic, key, value, partition or None) in order and wait for the broker's acks;
    returns each record's metadata (its partition and offset). Topics must exist."""
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=k.bootstrap, acks="all", allow_auto_create_topics=False,
                      max_request_size=8 * 1024 * 1024)
    try:
        futures = [p.send(topic, key=key, value=value, partition=part) for topic, key, value, part in records]
        p.flush(30)
        return [f.get(timeout=30) for f in futures]
    finally:
        p.close(10)


def wait_alert_set(k: KafkaConfig, want: set[tuple[Any, ...]], workers: list[WorkerProc],
                   timeout: float = 150.0) -> set[tuple[Any, ...]]:
    """Poll the alerts topic until it holds exactly ``want`` (as a set) or time runs out."""
    deadline = time.monotonic() + timeout
    got: set[tuple[Any, ...]] = set()
    while time.monotonic() < deadline:
        got = {wire_key(a) for a in read_topic(k, "alerts", k.partitions)}
        if got == want:
            time.sleep(1.0)  # nothing more arrives after the set is complete
            return {wire_key(a) for a in read_topic(k, "alerts", k.partitions)}
        for w in workers:
            assert w.alive(), w.output()
        time.sleep(0.5)
    return got


def outbox(cfg: Path) -> dict[str, dict[str, Any]]:
    """A worker's durable outbox (``kafka.data_dir``/responder.db), read beside the worker:
    idempotency key (``revoke-<incident>``) -> status (pending | delivered | dead), attempts."""
    import sqlite3

    db = Path(yaml.safe_load(cfg.read_text())["kafka"]["data_dir"]) / "responder.db"
    if not db.exists():
        return {}
    c = sqlite3.connect(db, timeout=10)
    try:
        rows = c.execute("SELECT idempotency_key, status, attempts, last_error FROM outbox").fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):  # the worker has not made its tables yet
            return {}
        raise
    finally:
        c.close()
    return {k: {"status": s, "attempts": n, "last_error": e} for k, s, n, e in rows}


def wait_until(cond: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def assert_alert_set(k: KafkaConfig, want: set[tuple[Any, ...]], workers: list[WorkerProc],
                     timeout: float = 150.0) -> None:
    """The alerts topic holds exactly ``want`` within ``timeout``, or the difference is shown."""
    got = wait_alert_set(k, want, workers, timeout)
    assert got == want, {"only in replay": sorted(want - got), "only from workers": sorted(got - want)}


def big_workload(d: Path, n: int) -> list[Path]:
    """Two streams (a trail folder, a PostgreSQL log folder) whose identities are disjoint:
    which stream's alert opens an identity's incident first then never depends on how the
    workers interleave streams (suppression follows arrival, in replay as in `run`)."""
    ct, pg = bench_corpus(n)
    (d / "load" / "trail").mkdir(parents=True)
    (d / "load" / "pg").mkdir(parents=True)
    a = d / "load" / "trail" / "cloudtrail.jsonl"
    b = d / "load" / "pg" / "postgresql.json"
    a.write_bytes(ct)
    b.write_bytes(pg)
    return [a, b]
