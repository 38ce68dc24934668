"""The shipper against a real broker: what lands on the raw topics, byte for byte.

Messages are read back with ``assign()`` (consumer groups do not work on the
Tansu test broker) and reassembled: every line once, in order, chunks on line
boundaries, offsets and line numbers right, documents byte-identical. The
outage test runs the real command in a subprocess and stops the broker under it.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, TopicPartition

from auditwatch.cli_ship import register
from auditwatch.config import Config, KafkaConfig, SourceConfig
from auditwatch.streams.scaleout.broker import ENV, Broker, free_port
from auditwatch.streams.scaleout.ship import Shipper
from auditwatch.streams.scaleout.topics import raw_topic
from auditwatch.streams.scaleout.wire import decode_raw
from tests.conftest import ROOT

PG = "postgres-jsonlog"


# -- helpers -----------------------------------------------------------------------------
def pg_line(i: int, who: str = "bob", text: str = "") -> bytes:
    """One PostgreSQL jsonlog record with a pgaudit message, as the server writes it."""
    stmt = text or f"SELECT id, status FROM orders WHERE id = {i}"
    rec = {"timestamp": f"2026-04-25 10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d} UTC",
           "user": who, "dbname": "prod_app", "pid": 4000 + i % 7, "remote_host": "10.0.12.34",
           "session_id": "6627a1f0.3e8", "line_num": i, "ps": "idle", "error_severity": "LOG",
           "message": f"AUDIT: SESSION,{i},1,READ,SELECT,TABLE,public.orders,{stmt},<not logged>",
           "application_name": "psql", "backend_type": "client backend", "query_id": 0}
    return json.dumps(rec).encode() + b"\n"


def trail_file(path: Path, n: int) -> bytes:
    """A CloudTrail S3 delivery: one compact {"Records": [...]} document, gzipped."""
    alice = {"type": "IAMUser", "accountId": "111122223333", "userName": "alice",
             "arn": "arn:aws:iam::111122223333:user/alice", "accessKeyId": "AKIAALICE"}
    recs = [{"eventVersion": "1.09", "eventTime": f"2026-04-25T10:00:{k:02d}Z",
             "eventSource": "rds.amazonaws.com", "eventName": "DescribeDBInstances",
             "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
             "userAgent": "aws-cli/2.15", "userIdentity": alice, "requestID": f"req-{n}-{k}",
             "eventID": f"ev-{n}-{k}", "readOnly": True, "recipientAccountId": "111122223333"}
            for k in range(3)]
    data = gzip.compress(json.dumps({"Records": recs}).encode())
    path.write_bytes(data)
    return data


def config(tmp_path: Path, kafka_cfg: KafkaConfig, **kafka: Any) -> Config:
    return Config(base_dir=str(tmp_path), store=":memory:", dead_letter="",
                  kafka=kafka_cfg.model_copy(update=kafka))


def read_topic(k: KafkaConfig, topic: str, timeout: float = 10.0) -> list[tuple[bytes, bytes]]:
    """(key, value) of every message on ``topic``, each partition in its order."""
    c = KafkaConsumer(bootstrap_servers=k.bootstrap, enable_auto_commit=False, group_id=None)
    try:
        deadline = time.monotonic() + timeout
        parts = c.partitions_for_topic(topic)
        while not parts and time.monotonic() < deadline:
            time.sleep(0.1)
            parts = c.partitions_for_topic(topic)
        if not parts:
            return []
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        end = c.end_offsets(tps)
        got: dict[int, list[tuple[bytes, bytes]]] = {tp.partition: [] for tp in tps}
        while any(c.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for tp, recs in c.poll(timeout_ms=200).items():
                got[tp.partition] += [(r.key, r.value) for r in recs]
        return [m for p in sorted(got) for m in got[p]]
    finally:
        c.close()


def raw(k: KafkaConfig, fmt: str) -> list[tuple[bytes, dict[str, Any], bytes]]:
    return [(key, *decode_raw(v)) for key, v in read_topic(k, raw_topic(k, fmt))]


def dead_letters(k: KafkaConfig) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _, v in read_topic(k, k.topic("deadletter"))]


def state(cfg: Config) -> dict[str, Any]:
    try:
        return dict(orjson.loads(cfg.path(cfg.kafka.ship_state).read_bytes())["files"])
    except FileNotFoundError:
        return {}


def wait_for(cond: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")


def segments(msgs: list[tuple[bytes, dict[str, Any], bytes]], path: Path) -> list[bytes]:
    """A followed file's contents as shipped: a new segment wherever it starts again at 0."""
    out: list[bytearray] = []
    for _, meta, data in msgs:
        if meta["path"] != str(path):
            continue
        if meta["offset"] == 0:
            out.append(bytearray())
        assert meta["offset"] == len(out[-1]), "chunks follow each other without gap or overlap"
        out[-1] += data
    return [bytes(s) for s in out]


@contextmanager
def following(shipper: Shipper) -> Iterator[None]:
    stop = threading.Event()
    t = threading.Thread(target=shipper.run_forever, args=(stop,), daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(15)
        assert not t.is_alive()


# -- 1. lines and documents ---------------------------------------------------------------
def test_run_once_ships_every_line_once_in_order_and_documents_byte_identical(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    pg_dir = tmp_path / "pg"
    pg_dir.mkdir()
    log = pg_dir / "postgresql.json"
    body = b"".join(pg_line(i) for i in range(1, 2001))
    log.write_bytes(body)
    trail = tmp_path / "trail"
    trail.mkdir()
    names = [f"111122223333_CloudTrail_us-east-1_{n:04d}.json.gz" for n in range(3)]
    docs = {name: trail_file(trail / name, n) for n, name in enumerate(names)}
    cfg = config(tmp_path, kafka_cfg, ship_chunk_bytes=32 * 1024)
    sh = Shipper(cfg, [SourceConfig(path=str(log), environment="prod"),
                       SourceConfig(path=str(trail))])
    assert sh.run_once(timeout_s=30)

    msgs = raw(cfg.kafka, PG)
    assert len(msgs) > 5, "a 2,000-line file is several chunks"
    offset, line = 0, 1
    for key, meta, data in msgs:
        assert key == str(pg_dir).encode()
        assert meta["kind"] == "lines" and meta["format"] == PG and meta["environment"] == "prod"
        assert meta["offset"] == offset and meta["line"] == line
        assert data.endswith(b"\n") and len(data) <= 32 * 1024, "chunks end on a line boundary"
        assert meta["tail"] == (offset + len(data) == len(body))
        offset += len(data)
        line += data.count(b"\n")
    assert b"".join(d for _, _, d in msgs) == body, "every line exactly once, in order"
    assert line == 2001

    got = raw(cfg.kafka, "cloudtrail")
    assert [m["path"] for _, m, _ in got] == [str(trail / n) for n in sorted(docs)], "in name order"
    for key, meta, data in got:
        assert key == str(trail).encode()
        assert meta["kind"] == "document" and meta["gzip"] is True
        assert (meta["line"], meta["offset"], meta["tail"]) == (1, 0, True)
        assert data == docs[Path(meta["path"]).name], "the file's bytes as on disk"
    s = sh.stats
    assert (s.lines, s.documents, s.dead_letters, s.outages) == (2000, 3, 0, 0)
    assert s.chunks == len(msgs)


def test_large_gzip_line_file_is_decompressed_and_shipped_as_lines(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "postgresql.json.1.gz"
    body = b"".join(pg_line(i, text=os.urandom(200).hex()) for i in range(1, 301))
    log.write_bytes(gzip.compress(body))
    cfg = config(tmp_path, kafka_cfg, ship_chunk_bytes=8 * 1024, ship_max_message_bytes=16 * 1024)
    assert log.stat().st_size > 16 * 1024, "too big for one message"
    assert Shipper(cfg, [SourceConfig(path=str(log))]).run_once(timeout_s=30)
    msgs = raw(cfg.kafka, PG)
    assert segments(msgs, log) == [body], "offsets count decompressed bytes"
    assert msgs[-1][1]["tail"] and not any(m["tail"] for _, m, _ in msgs[:-1])
    assert state(cfg)[str(log)]["done"] is True


# -- 2. restart ---------------------------------------------------------------------------
def test_restart_ships_nothing_twice_and_only_what_was_appended(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "postgresql.json"
    log.write_bytes(b"".join(pg_line(i) for i in range(1, 201)))
    trail = tmp_path / "trail"
    trail.mkdir()
    trail_file(trail / "a.json.gz", 1)
    cfg = config(tmp_path, kafka_cfg, ship_chunk_bytes=4 * 1024)
    srcs = [SourceConfig(path=str(log)), SourceConfig(path=str(trail))]
    assert Shipper(cfg, srcs).run_once(timeout_s=30)
    before = len(read_topic(cfg.kafka, raw_topic(cfg.kafka, PG)))
    st = state(cfg)[str(log)]
    assert (st["offset"], st["line"], st["inode"]) == (log.stat().st_size, 200, log.stat().st_ino)

    again = Shipper(cfg, srcs)
    assert again.run_once(timeout_s=30)
    assert (again.stats.chunks, again.stats.documents) == (0, 0)
    assert len(read_topic(cfg.kafka, raw_topic(cfg.kafka, PG))) == before
    assert len(raw(cfg.kafka, "cloudtrail")) == 1

    size = log.stat().st_size
    added = b"".join(pg_line(i) for i in range(201, 211))
    with open(log, "ab") as f:
        f.write(added)
    third = Shipper(cfg, srcs)
    assert third.run_once(timeout_s=30)
    assert (third.stats.lines, third.stats.documents) == (10, 0)
    new = raw(cfg.kafka, PG)[before:]
    assert new[0][1]["offset"] == size and new[0][1]["line"] == 201
    assert b"".join(d for _, _, d in new) == added


# -- 3. following: partial lines, rotation, truncation --------------------------------------
def test_follow_holds_partial_lines_and_handles_rotation_and_truncation(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "app.json"
    cfg = config(tmp_path, kafka_cfg)
    first = b"".join(pg_line(i) for i in range(1, 51))
    log.write_bytes(first)
    sh = Shipper(cfg, [SourceConfig(path=str(log), format=PG)])
    k = cfg.kafka

    def shipped() -> list[bytes]:
        return segments(raw(k, PG), log)

    with following(sh):
        wait_for(lambda: shipped() == [first], what="the first 50 lines")
        # a line without its newline yet is held back, then shipped whole
        half = pg_line(51)
        with open(log, "ab") as f:
            f.write(half[:40])
            f.flush()
            time.sleep(0.5)
            assert shipped() == [first], "a partial line is not shipped"
            f.write(half[40:])
        wait_for(lambda: shipped() == [first + half], what="the completed line")

        # rotation: lines written just before the rename are drained from the old file
        tail_old = b"".join(pg_line(i) for i in range(52, 61))
        with open(log, "ab") as f:
            f.write(tail_old)
        os.rename(log, tmp_path / "app.json.1")
        second = b"".join(pg_line(i, who="carol") for i in range(1, 6))
        log.write_bytes(second)
        wait_for(lambda: shipped() == [first + half + tail_old, second],
                 what="the old file's rest, then the new file")

        # truncation (size below the position): again from 0
        third = pg_line(1, who="dave")
        with open(log, "r+b") as f:
            f.truncate(0)
            f.write(third)
        wait_for(lambda: shipped()[2:] == [third], what="the truncated file from 0")

        # rewritten in place, longer than before (first bytes changed): again from 0
        fourth = b"".join(pg_line(i, who="erin") for i in range(1, 4))
        with open(log, "r+b") as f:
            f.write(fourth)
        wait_for(lambda: shipped()[3:] == [fourth], what="the rewritten file from 0")
    assert sh.stats.outages == 0
    assert state(cfg)[str(log)]["offset"] == len(fourth)


def test_follow_ships_a_new_document_in_a_watched_folder_once_it_is_complete(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    cfg = config(tmp_path, kafka_cfg)
    sh = Shipper(cfg, [SourceConfig(path=str(trail))])
    with following(sh):
        a = trail_file(trail / "a.json.gz", 1)
        wait_for(lambda: len(raw(cfg.kafka, "cloudtrail")) == 1, what="the first delivery")
        b = trail_file(trail / "b.json.gz", 2)
        wait_for(lambda: len(raw(cfg.kafka, "cloudtrail")) == 2, what="the second delivery")
        time.sleep(0.5)
    assert [d for _, _, d in raw(cfg.kafka, "cloudtrail")] == [a, b], "each shipped once"


def test_rotation_inside_a_watched_folder_keeps_the_renamed_files_position(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    logs = tmp_path / "pg_log"
    logs.mkdir()
    log, old = logs / "postgresql.json", logs / "postgresql.json.1"
    first = b"".join(pg_line(i) for i in range(1, 31))
    log.write_bytes(first)
    cfg = config(tmp_path, kafka_cfg)
    sh = Shipper(cfg, [SourceConfig(path=str(logs))])
    with following(sh):
        wait_for(lambda: segments(raw(cfg.kafka, PG), log) == [first], what="the first lines")
        os.rename(log, old)  # logrotate: the old file stays in the folder under a new name
        late = pg_line(31)
        with open(old, "ab") as f:  # the server writes once more before it reopens
            f.write(late)
        second = b"".join(pg_line(i, who="carol") for i in range(1, 4))
        log.write_bytes(second)
        wait_for(lambda: len(raw(cfg.kafka, PG)) >= 3, what="the late line and the new file")
        time.sleep(0.5)
    msgs = raw(cfg.kafka, PG)
    assert [d for _, m, d in msgs if m["path"] == str(old)] == [late], "not shipped again"
    assert [m["offset"] for _, m, _ in msgs if m["path"] == str(old)] == [len(first)]
    assert segments(msgs, log) == [first, second]
    assert {p: e["offset"] for p, e in state(cfg).items()} == {str(log): len(second),
                                                              str(old): len(first + late)}


def test_no_broker_at_start_is_retried_not_a_crash(tmp_path: Path, kafka_cfg: KafkaConfig,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    log = tmp_path / "postgresql.json"
    log.write_bytes(pg_line(1))
    cfg = config(tmp_path, kafka_cfg, bootstrap_servers=f"127.0.0.1:{free_port()}")
    sh = Shipper(cfg, [SourceConfig(path=str(log))], ack_timeout_s=1.0)
    assert sh.run_once(timeout_s=2.5) is False
    assert sh.stats.outages == 1 and sh.stats.retries >= 2 and sh.stats.chunks == 0
    assert state(cfg) == {}, "nothing acknowledged, nothing saved"


# -- 4. dead letters and bad bytes ------------------------------------------------------------
def test_overlong_line_is_dead_lettered_and_the_rest_shipped(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "postgresql.json"
    ok1, long, ok2 = pg_line(1), pg_line(2, text="x" * 3000), pg_line(3)
    log.write_bytes(ok1 + long + ok2)
    bad = tmp_path / "bad.log"
    bad_bytes = (b"2026-04-25 10:00:00 UTC [1] LOG:  statement: SELECT 1\n"
                 b"\xff\xfe not utf-8 \xc3\x28\n")
    bad.write_bytes(bad_bytes)
    cfg = config(tmp_path, kafka_cfg, ship_chunk_bytes=1024)
    sh = Shipper(cfg, [SourceConfig(path=str(log)),
                       SourceConfig(path=str(bad), format="postgres-stderr")])
    assert sh.run_once(timeout_s=30)

    msgs = raw(cfg.kafka, PG)
    assert b"".join(d for _, _, d in msgs) == ok1 + ok2
    assert [(m["line"], m["offset"]) for _, m, _ in msgs] == [(1, 0), (3, len(ok1) + len(long))]
    [dl] = dead_letters(cfg.kafka)
    assert "over ship_chunk_bytes" in dl["reason"] and dl["stage"] == "ship"
    assert dl["source"] == {"type": PG, "name": str(log), "line": 2, "offset": len(ok1)}
    assert dl["raw"].startswith('{"timestamp"')
    assert sh.stats.dead_letters == 1

    [(_, _, data)] = raw(cfg.kafka, "postgres-stderr")
    assert data == bad_bytes, "invalid UTF-8 travels as is (the worker dead-letters it)"


def test_overlong_line_still_being_written_is_skipped_to_its_end(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "postgresql.json"
    ok1 = pg_line(1)
    log.write_bytes(ok1 + b'{"message": "' + b"y" * 2000)
    cfg = config(tmp_path, kafka_cfg, ship_chunk_bytes=1024)
    srcs = [SourceConfig(path=str(log), format=PG)]
    assert Shipper(cfg, srcs).run_once(timeout_s=30)
    assert state(cfg)[str(log)]["skipping"] is True
    with open(log, "ab") as f:
        f.write(b"y" * 100 + b'"}\n' + pg_line(3))
    assert Shipper(cfg, srcs).run_once(timeout_s=30)
    msgs = raw(cfg.kafka, PG)
    assert b"".join(d for _, _, d in msgs) == ok1 + pg_line(3)
    assert msgs[-1][1]["line"] == 3, "the skipped line still counts"
    [dl] = dead_letters(cfg.kafka)
    assert dl["source"]["line"] == 2 and dl["source"]["offset"] == len(ok1)


def test_document_over_the_message_limit_is_dead_lettered(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    trail = tmp_path / "trail"
    trail.mkdir()
    big = trail / "big.json"
    records = [{"eventName": "GetObject", "pad": "p" * 3000}] * 8
    big.write_bytes(json.dumps({"Records": records}, indent=1).encode())
    small = trail_file(trail / "small.json.gz", 1)
    cfg = config(tmp_path, kafka_cfg, ship_max_message_bytes=16 * 1024)
    sh = Shipper(cfg, [SourceConfig(path=str(trail))])
    assert sh.run_once(timeout_s=30)
    assert [d for _, _, d in raw(cfg.kafka, "cloudtrail")] == [small]
    [dl] = dead_letters(cfg.kafka)
    assert "over ship_max_message_bytes" in dl["reason"] and dl["source"]["name"] == str(big)
    assert state(cfg)[str(big)]["done"] is True


# -- the command ----------------------------------------------------------------------------
def write_config(tmp_path: Path, k: KafkaConfig) -> Path:
    p = tmp_path / "auditwatch.yaml"
    p.write_text(f"""kafka:
  bootstrap_servers: "{k.bootstrap_servers}"
  topic_prefix: {k.topic_prefix}
  partitions: {k.partitions}
  raw_partitions: {k.raw_partitions}
  ship_state: ship-state.json
store: ":memory:"
dead_letter: ""
""")
    return p


def test_ship_once_command_prints_counters(tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "postgresql.json"
    log.write_bytes(b"".join(pg_line(i) for i in range(1, 21)))
    group = click.Group("auditwatch")
    register(group)
    cfg = write_config(tmp_path, kafka_cfg)
    r = CliRunner().invoke(group, ["ship", "--config", str(cfg), "--once", "--json", str(log)])
    assert r.exit_code == 0, r.output + r.stderr
    counters = json.loads(r.stdout)
    assert counters["lines"] == 20 and counters["complete"] is True
    assert "auditwatch ship: 1 files" in r.stderr
    assert len(raw(kafka_cfg, PG)) == 1


# -- 5. the broker goes away under a running shipper -------------------------------------
def test_broker_outage_keeps_the_shipper_alive_and_loses_nothing(tmp_path: Path, broker: Broker,
                                                                kafka_cfg: KafkaConfig) -> None:
    log = tmp_path / "postgresql.json"
    log.write_bytes(b"".join(pg_line(i) for i in range(1, 101)))
    cfg_path = write_config(tmp_path, kafka_cfg)
    cfg = config(tmp_path, kafka_cfg, ship_state="ship-state.json")
    k = cfg.kafka
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "auditwatch.cli", "ship",
                             "--config", str(cfg_path), "--ack-timeout", "2", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def position() -> int:
        return int(state(cfg).get(str(log), {}).get("offset", -1))

    during = b"".join(pg_line(i) for i in range(101, 151))
    try:
        wait_for(lambda: position() == log.stat().st_size, what="the first 100 lines acknowledged")
        if broker.durable:
            with open(log, "ab") as f:
                f.write(during)
            wait_for(lambda: position() == log.stat().st_size, what="the appended lines")
            assert b"".join(d for _, _, d in raw(k, PG)) == log.read_bytes(), "each line once"
            pytest.skip("external Kafka (AUDITWATCH_KAFKA_BOOTSTRAP) is not stopped by tests: "
                        "outage part skipped")
        acked = log.stat().st_size
        broker.stop()
        with open(log, "ab") as f:
            f.write(during)
        time.sleep(6)  # the sends expire (2 s) and reconnects fail with backoff
        assert proc.poll() is None, "the shipper is still running"
        assert position() == acked, "nothing unacknowledged was saved"

        broker.restart()
        after = b"".join(pg_line(i) for i in range(151, 161))
        with open(log, "ab") as f:
            f.write(after)
        wait_for(lambda: position() == log.stat().st_size, timeout=30,
                 what="the backlog acknowledged")
        # the memory-only broker lost what it held: what was written since the outage is all there,
        # from exactly the last acknowledged position, each chunk once after dropping repeats
        msgs = raw(k, PG)
        assert msgs[0][1]["offset"] == acked
        seen: dict[int, bytes] = {}
        for _, meta, data in msgs:
            seen.setdefault(meta["offset"], data)
        assert b"".join(seen[o] for o in sorted(seen)) == during + after
        assert msgs[0][1]["line"] == 101
    finally:
        if not broker.durable and broker.proc is None:
            broker.restart()  # other tests share the session broker
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert err.count("did not acknowledge") == 1, f"one warning per outage, not per attempt:\n{err}"
    assert "acknowledging again" in err and "1 outages" in err
