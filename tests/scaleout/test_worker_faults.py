"""Faults around a real `auditwatch worker` on the real broker.

Hostile bytes on the raw topics and garbage on the worker's own topics must end up
on the deadletter topic, each with a reason that says what was wrong, and never stop
the worker: the good records after them are still detected (the same alerts as
`auditwatch replay`). Faust restarts an agent that raised, so a live process is not
enough: the worker's log must not show a crashed agent either (an agent that raises
loses the batch it was working on).

A revocation receiver that is down when the alerts come, and one that is still down
when the worker is stopped, gets every revocation once it is back: they wait in the
durable outbox (``kafka.data_dir``/responder.db), which a restarted worker delivers.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from auditwatch.config import KafkaConfig
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.demo.scenario import write as write_demo
from auditwatch.streams.reader import HEAD_BYTES, framing, read_path
from auditwatch.streams.scaleout.broker import free_port
from auditwatch.streams.scaleout.topics import create_topics, raw_topic
from auditwatch.streams.scaleout.wire import encode_raw
from tests.scaleout.harness import (
    SECRET,
    WorkerProc,
    assert_alert_set,
    outbox,
    produce,
    read_records,
    read_topic,
    replay,
    replay_key,
    ship_once,
    wait_until,
    wire_key,
    write_config,
)
from tests.scaleout.test_worker_e2e import _demo_files, _revoked, _wait_revocations

# a receiver may be down for a while: the budget must outlast the outage (the harness's
# 0.05 s doubling over the default 8 attempts is spent in about 6 s)
PATIENT = {"max_attempts": 100_000, "backoff_max_seconds": 0.5}
CRASHED = re.compile(r"(\w+)\]: Crashed reason=(.*\S)")

# one CloudTrail record, to be hidden in hostile framing
CT_RECORD = orjson.dumps({
    "eventVersion": "1.08", "eventTime": "2026-04-24T09:00:00Z", "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject", "awsRegion": "us-east-1", "eventID": "hostile-1",
    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"}})


# -- helpers ------------------------------------------------------------------------
def _header(path: str, fmt: str = "json", kind: str = "lines", **kw: Any) -> dict[str, Any]:
    """A raw message's header as the shipper writes it (see ``ship._meta``)."""
    return {"path": path, "inode": 1, "format": fmt, "kind": kind, "line": 1, "offset": 0, "tail": True,
            "environment": "", "stream": os.path.dirname(path), "sent": time.time()} | kw


def _good_chunk(f: Path) -> tuple[str, bytes]:
    """(raw topic, message) of a whole log file as one chunk of lines, as `ship` frames it."""
    data = f.read_bytes()
    fmt, kind = framing(data[:HEAD_BYTES])
    assert kind == "lines"
    meta = _header(str(f), fmt, inode=f.stat().st_ino, stream=str(f.parent))
    return fmt, encode_raw(meta, data)


def _crashes(w: WorkerProc) -> list[str]:
    """The agents Faust restarted after they raised (each costs the batch in hand), as
    "agent: exception"."""
    return [f"{agent}: {why}" for agent, why in CRASHED.findall(w.log.read_text(errors="replace"))]


def _where(md: Any) -> str:
    """How the worker names a message it could not read: topic[partition]@offset."""
    return f"{md.topic}[{md.partition}]@{md.offset}"


def _dead_by_name(k: KafkaConfig) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in read_topic(k, "deadletter", k.raw_partitions):  # topics.py: raw_partitions
        out.setdefault(d["source"]["name"], []).append(d)
    return out


@dataclass
class Bad:
    what: str
    topic: str
    value: bytes
    reason: str  # a regular expression the dead letter's reason must match
    path: str = ""  # the dead letter names this file; "" = it names the message (topic[partition]@offset)


def _hostile(k: KafkaConfig, topic: str, demo_trail: Path) -> list[Bad]:
    h = "/hostile"
    no_header = b"DROP TABLE customers; -- bytes no shipper framed"
    not_raw = "^not an auditwatch raw message: "
    trail_gz = demo_trail.read_bytes()
    deep_doc = b'{"Records": [' + b'{"a": ' * 1000 + b"1" + b"}" * 1000 + b"]}"
    return [
        Bad("no header line", topic, no_header, not_raw + "raw message without a header line$"),
        Bad("no header line (raw.unknown)", raw_topic(k, "unknown"), no_header,
            not_raw + "raw message without a header line$"),
        Bad("no header line (raw.json)", raw_topic(k, "json"), no_header + b"\x00\xff",
            not_raw + "raw message without a header line$"),
        Bad("header is not JSON", topic, b"{path: /var/log/pg.json, offset: 0}\n" + CT_RECORD + b"\n",
            not_raw + "unexpected character"),
        Bad("header is binary", topic, b"\x1f\x8b\x08\x00\xff\xfe\xfd\n\x00\x01\x02",
            not_raw + "str is not valid UTF-8"),
        Bad("header is a JSON list", topic, b'["path", "/var/log/pg.json"]\n' + CT_RECORD + b"\n",
            not_raw + "raw message header is not an auditwatch raw header$"),
        Bad("header without a path", topic, b'{"format": "json", "kind": "lines"}\n' + CT_RECORD + b"\n",
            not_raw + "raw message header is not an auditwatch raw header$"),
        Bad("invalid UTF-8", topic, encode_raw(_header(f"{h}/latin1.json"), b'{"user": "M\xfcller"}\n'),
            r"^invalid UTF-8: invalid start byte at byte \d+$", f"{h}/latin1.json"),
        Bad("NUL byte", topic, encode_raw(_header(f"{h}/nul.json"), b'{"user": "a\x00b"}\n'),
            r"^NUL byte in record$", f"{h}/nul.json"),
        Bad("truncated JSON record", topic,
            encode_raw(_header(f"{h}/truncated.json"), CT_RECORD[: len(CT_RECORD) // 2] + b"\n"),
            r"^invalid JSON: unexpected end of data", f"{h}/truncated.json"),
        Bad("nested past the JSON decoder's depth", topic,
            encode_raw(_header(f"{h}/deep.json"), b"[" * 100_000 + b"]" * 100_000 + b"\n"),
            r"^invalid JSON: depth limit exceeded", f"{h}/deep.json"),
        Bad("a record nested past the parser's recursion", topic,
            encode_raw(_header(f"{h}/deep-record.json"), b"[" * 1020 + CT_RECORD + b"]" * 1020 + b"\n"),
            r"^parser error: RecursionError: maximum recursion depth exceeded", f"{h}/deep-record.json"),
        Bad("CloudTrail document nested too deep", topic,
            encode_raw(_header(f"{h}/deep-trail.json", "cloudtrail", "document"), deep_doc),
            r"^cloudtrail: cannot read document: .*[Rr]ecursion", f"{h}/deep-trail.json"),
        Bad("truncated gzip document", topic,
            encode_raw(_header(f"{h}/trail.json.gz", "cloudtrail", "document", gzip=True),
                       trail_gz[: len(trail_gz) // 2]),
            r"^unreadable (stream|document): Compressed file ended before the end-of-stream marker",
            f"{h}/trail.json.gz"),
        Bad("gzip document that is not gzip", topic,
            encode_raw(_header(f"{h}/plain.json.gz", "cloudtrail", "document", gzip=True),
                       b'{"Records": [' + CT_RECORD + b"]}"),
            r"^unreadable (stream|document): Not a gzipped file", f"{h}/plain.json.gz"),
    ]


def _check_dead_letters(k: KafkaConfig, expect: dict[str, tuple[str, str]]) -> None:
    """``expect``: dead letter's source name -> (what was sent, reason regex). Each is on the
    deadletter topic exactly once with a matching reason, and nothing else is."""
    try:
        wait_until(lambda: set(_dead_by_name(k)) >= set(expect), 30, "every dead letter")
    except AssertionError:
        got = _dead_by_name(k)
        raise AssertionError({"missing": {n: w for n, (w, _) in expect.items() if n not in got},
                              "dead letters": got}) from None
    dead = _dead_by_name(k)
    wrong = {}
    for name, (what, reason) in expect.items():
        ds = dead[name]
        if len(ds) != 1 or not re.search(reason, ds[0]["reason"]):
            wrong[what] = [d["reason"] for d in ds]
    assert not wrong, {"wrong or repeated reasons": wrong}
    assert set(dead) == set(expect), {"unexpected dead letters": {n: dead[n] for n in set(dead) - set(expect)}}


def _names(bad: list[Bad], mds: list[Any]) -> dict[str, tuple[str, str]]:
    return {(b.path or _where(md)): (b.what, b.reason) for b, md in zip(bad, mds)}


# -- 1. hostile input ----------------------------------------------------------------
def test_hostile_raw_input_is_dead_lettered_and_the_worker_goes_on(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    k = kafka_cfg
    demo = write_demo(tmp_path / "demo")
    pg = demo["postgres"]
    ref = replay([pg])
    want = {replay_key(a) for a in ref}
    assert want, "the good chunk must lead to alerts, or 'still detected' proves little"
    n_events = sum(1 for it in read_path(pg) if not hasattr(it, "reason"))
    fmt, good = _good_chunk(pg)
    topic = raw_topic(k, fmt)
    bad = _hostile(k, topic, demo["cloudtrail"])
    create_topics(k)
    w = WorkerProc(write_config(tmp_path, k, "w1"))
    try:
        wait_until(lambda: w.assigned() > 0, 60, "the worker to take its partitions")
        # in this order on one partition of the good chunk's topic: it is read only after them
        mds = produce(k, [(b.topic, b"hostile", b.value, 0) for b in bad] + [(topic, b"hostile", good, 0)])
        assert_alert_set(k, want, [w], timeout=60)
        wait_until(lambda: w.detected() >= n_events, 30, "the good chunk's events through detection")
        assert w.detected() == n_events
        _check_dead_letters(k, _names(bad, mds))
        assert w.metric('auditwatch_kafka_dead_letters_total{stage="parse"}') == len(bad)
        assert w.alive(), w.output()
        assert not _crashes(w), _crashes(w)
    finally:
        w.stop()


def test_garbage_on_events_and_alerts_topics_is_dead_lettered(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    """Records no worker wrote, on the topics between the worker's own agents: each is
    dead-lettered by the agent that reads it, and that agent goes on with what follows on
    the same partition (the demo scenario, shipped after the garbage)."""
    k = kafka_cfg
    files = _demo_files(tmp_path)
    ref = replay(files)
    want = {replay_key(a) for a in ref}
    events_garbage = [b"\xff\xfe\x00 not JSON at all", b'{"v": 99, "events": []}', b'{"v": 1}', b"[1, 2, 3]"]
    alerts_garbage = [b"<html>not an alert</html>", b'{"v": 99}', b'{"v": 1, "rule_id": "x"}', b"{}"]
    create_topics(k)
    cfg = write_config(tmp_path, k, "w1")
    w = WorkerProc(cfg)
    try:
        wait_until(lambda: w.assigned() > 0, 60, "the worker to take its partitions")
        recs = [(k.topic("events"), b"garbage", v, p) for p in range(k.partitions) for v in events_garbage]
        recs += [(k.topic("alerts"), b"garbage", v, p) for p in range(k.partitions) for v in alerts_garbage]
        mds = produce(k, recs)
        garbage = {_where(md) for md in mds}
        ship_once(cfg, files)

        def alerts() -> list[dict[str, Any]]:
            return [orjson.loads(r.value) for r in read_records(k, "alerts", k.partitions)
                    if _where(r) not in garbage]

        wait_until(lambda: {wire_key(a) for a in alerts()} == want, 60, "the demo scenario's alerts")
        good = alerts()
        assert {wire_key(a) for a in good} == want
        # the responder went past the garbage on every partition: each alert is answered
        wait_until(lambda: {r["alert_id"] for r in read_topic(k, "responses", k.partitions)}
                   >= {a["alert_id"] for a in good}, 30, "a response to every alert")
        assert {r["alert_id"] for r in read_topic(k, "responses", k.partitions)} == {a["alert_id"] for a in good}
        expect = {_where(md): ("events garbage", r"^undecodable events message: .+")
                  for md in mds if md.topic == k.topic("events")}
        expect |= {_where(md): ("alerts garbage", r"^undecodable alert message: .+")
                   for md in mds if md.topic == k.topic("alerts")}
        _check_dead_letters(k, expect)
        assert w.metric('auditwatch_kafka_dead_letters_total{stage="detect"}') == len(events_garbage) * k.partitions
        assert w.metric('auditwatch_kafka_dead_letters_total{stage="respond"}') == len(alerts_garbage) * k.partitions
        assert w.alive(), w.output()
        assert not _crashes(w), _crashes(w)
    finally:
        w.stop()


# -- 2. the revocation receiver is down, then back --------------------------------------
def _decided_while_down(k: KafkaConfig, cfg: Path, w: WorkerProc, ref: list[dict[str, Any]]) -> set[str]:
    """Wait for the scenario's alerts and for the responder to have decided every revocation
    and tried (and failed) to deliver each; returns the revocations' webhook ids."""
    want_rev = _revoked(ref)
    assert want_rev, "the scenario must lead to revocations, or 'delivered once' proves nothing"
    want = {replay_key(a) for a in ref}
    assert_alert_set(k, want, [w], timeout=60)
    wait_until(lambda: {f"revoke-{r['incident_id']}" for r in read_topic(k, "responses", k.partitions)
                        if r["revoked"]} == want_rev, 30, "the responder to decide every revocation")
    wait_until(lambda: all(outbox(cfg).get(key, {}).get("attempts", 0) >= 2 for key in want_rev), 30,
               "failed delivery attempts")
    box = outbox(cfg)
    assert set(box) == want_rev, box
    assert all(r["status"] == "pending" and r["last_error"] for r in box.values()), box
    return want_rev


def _delivered_once(rx: WebhookReceiver, cfg: Path, k: KafkaConfig, ref: list[dict[str, Any]]) -> None:
    want_rev = _revoked(ref)
    _wait_revocations(rx, ref, k)
    # the outbox has recorded every acknowledgement: nothing is left that could be sent again
    wait_until(lambda: {key for key, r in outbox(cfg).items() if r["status"] == "delivered"} == want_rev, 30,
               "the outbox to record the deliveries")
    assert {r.webhook_id for r in rx.state.accepted} == want_rev
    assert rx.state.duplicates == 0 and rx.state.rejected == 0
    assert rx.state.requests == len(want_rev), "each revocation was sent once the receiver was up"


def test_receiver_down_then_back_gets_each_revocation_once(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    files = _demo_files(tmp_path)
    ref = replay(files)
    port = free_port()  # nothing listens here until the receiver starts
    cfg = write_config(tmp_path, kafka_cfg, "w1", webhook_url=f"http://127.0.0.1:{port}/revoke", webhook=PATIENT)
    ship_once(cfg, files)
    w = WorkerProc(cfg)
    try:
        _decided_while_down(kafka_cfg, cfg, w, ref)
        with WebhookReceiver(SECRET, port=port) as rx:
            assert rx.url == f"http://127.0.0.1:{port}/revoke"
            _delivered_once(rx, cfg, kafka_cfg, ref)
            assert w.alive(), w.output()
    finally:
        w.stop()


def test_sigterm_while_receiver_down_then_restart_delivers_from_the_outbox(kafka_cfg: KafkaConfig,
                                                                          tmp_path: Path) -> None:
    files = _demo_files(tmp_path)
    ref = replay(files)
    port = free_port()
    cfg = write_config(tmp_path, kafka_cfg, "w1", webhook_url=f"http://127.0.0.1:{port}/revoke", webhook=PATIENT)
    ship_once(cfg, files)
    w = WorkerProc(cfg)
    try:
        want_rev = _decided_while_down(kafka_cfg, cfg, w, ref)
        w.stop()  # SIGTERM: a graceful stop drains the outbox for a while, then leaves it queued
        assert w.proc.returncode == 0, w.output()
        box = outbox(cfg)
        assert set(box) == want_rev and all(r["status"] == "pending" for r in box.values()), box
        tried = {key: r["attempts"] for key, r in box.items()}
    finally:
        w.stop()
    w2 = WorkerProc(cfg)
    try:
        # the restarted worker's outbox takes up the queued revocations (still nobody there)
        wait_until(lambda: all(outbox(cfg)[key]["attempts"] > n for key, n in tried.items()), 60,
                   "the restarted worker to retry the queued revocations")
        with WebhookReceiver(SECRET, port=port) as rx:
            _delivered_once(rx, cfg, kafka_cfg, ref)
            assert w2.alive(), w2.output()
    finally:
        w2.stop()


def test_worker_killed_before_its_revocation_was_acknowledged_and_never_back(kafka_cfg: KafkaConfig,
                                                                             tmp_path: Path) -> None:
    """A revocation queued in a worker's outbox but not yet acknowledged, and the worker killed
    for good (its machine gone, its outbox with it): the alert must not be on record as
    answered, so the worker that takes the partitions over revokes again. Seen in the two-worker
    kill -9 test before the fix: the record said "revoked", the revocation never arrived."""
    files = _demo_files(tmp_path)
    ref = replay(files)
    want_rev = _revoked(ref)
    assert want_rev
    with WebhookReceiver(SECRET) as rx:
        rx.state.fail_next = 10**9  # down (503) until the first worker is gone
        cfg_a = write_config(tmp_path, kafka_cfg, "wa", webhook_url=rx.url, webhook=PATIENT)
        ship_once(cfg_a, files)
        a = WorkerProc(cfg_a)
        try:
            wait_until(lambda: rx.state.requests > 0, 90, "the first revocation attempt")
            a.kill9()
        finally:
            a.stop()
        answered = {f"revoke-{r['incident_id']}" for r in read_topic(kafka_cfg, "responses", kafka_cfg.partitions)
                    if r["revoked"]}
        assert not answered & want_rev, f"recorded as revoked, never acknowledged: {sorted(answered & want_rev)}"
        rx.state.fail_next = 0
        b = WorkerProc(write_config(tmp_path, kafka_cfg, "wb", webhook_url=rx.url, webhook=PATIENT))
        try:
            _wait_revocations(rx, ref, kafka_cfg)
            assert {r.webhook_id for r in rx.state.accepted} == want_rev
        finally:
            b.stop()


def test_revocation_never_delivered_is_an_alert_on_the_alerts_topic(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    """The receiver never comes back and the budget runs out: the embedded pipeline raises
    "responder-delivery-failed"; a worker must put it where the SOC looks (the alerts topic),
    once per revocation, and answer it (page) once."""
    k = kafka_cfg
    files = _demo_files(tmp_path)
    ref = replay(files)
    want_rev = _revoked(ref)
    assert want_rev
    port = free_port()  # nothing ever listens here
    cfg = write_config(tmp_path, k, "w1", webhook_url=f"http://127.0.0.1:{port}/revoke",
                       webhook={"max_attempts": 2, "backoff_max_seconds": 0.1})
    ship_once(cfg, files)
    w = WorkerProc(cfg)
    try:
        def failed() -> dict[str, int]:
            out: dict[str, int] = {}
            for a in read_topic(k, "alerts", k.partitions):
                if a.get("rule_id") == "responder-delivery-failed":
                    out[a["alert_id"]] = out.get(a["alert_id"], 0) + 1
            return out

        wait_until(lambda: len(failed()) == len(want_rev), 90, "a delivery-failed alert per revocation")
        assert {aid.split("-failed-", 1)[1] for aid in failed()} == want_rev
        assert all(r["status"] == "dead" for r in outbox(cfg).values()), outbox(cfg)
        wait_until(lambda: {r["incident_id"] for r in read_topic(k, "responses", k.partitions)} >= set(failed()), 30,
                   "the responder to answer each delivery-failed alert")
        time.sleep(2.0)  # a second copy would come within the next ticks of the worker's timer
        assert set(failed().values()) == {1}, failed()
        answers = [r for r in read_topic(k, "responses", k.partitions) if r["incident_id"] in failed()]
        assert len(answers) == len(want_rev) and not any(r["revoked"] for r in answers), answers
        assert w.alive(), w.output()
    finally:
        w.stop()


# -- input that once made an agent raise ------------------------------------------------
# Faust restarts an agent that raised, so the process lives on, but the batch in hand was
# lost (its other records' events never sent, its offsets committed past them) and the
# record that raised was on no dead-letter topic. Each case is now a dead letter.
def _crash_or(w: WorkerProc, cond: Any, what: str) -> None:
    """Wait for ``cond`` or for an agent to crash, whichever comes first; fail on a crash."""
    wait_until(lambda: bool(_crashes(w)) or cond(), 60, what)
    assert not _crashes(w), _crashes(w)


def test_json_document_no_source_claims_is_dead_lettered(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    """A pretty-printed JSON file beside the audit log, shipped by `auditwatch ship`: replay
    dead-letters it ("unrecognised JSON record"), the worker must too, and go on with the log."""
    k = kafka_cfg
    pg = write_demo(tmp_path / "demo")["postgres"]
    doc = pg.parent / "settings.json"
    doc.write_text('{\n  "retention_days": 30,\n  "owners": ["dba"]\n}\n')
    ref = replay([doc, pg])
    want = {replay_key(a) for a in ref}
    assert want
    cfg = write_config(tmp_path, k, "w1")
    ship_once(cfg, [doc, pg])  # one stream (their folder): one partition, most likely one batch
    w = WorkerProc(cfg)
    try:
        _crash_or(w, lambda: str(doc) in _dead_by_name(k), "the document's dead letter")
        assert re.search(r"unrecognised JSON record", _dead_by_name(k)[str(doc)][0]["reason"])
        assert_alert_set(k, want, [w], timeout=30)
    finally:
        w.stop()


def test_raw_header_with_wrong_field_types_is_dead_lettered_and_its_batch_kept(kafka_cfg: KafkaConfig,
                                                                               tmp_path: Path) -> None:
    k = kafka_cfg
    pg = write_demo(tmp_path / "demo")["postgres"]
    ref = replay([pg])
    want = {replay_key(a) for a in ref}
    fmt, good = _good_chunk(pg)
    topic = raw_topic(k, fmt)
    h = "/hostile"
    bad = [Bad("offset is not a number", topic, encode_raw(_header(f"{h}/o.json", offset="x"), CT_RECORD + b"\n"),
               "offset", f"{h}/o.json"),
           Bad("line is a list", topic, encode_raw(_header(f"{h}/l.json", line=[1]), CT_RECORD + b"\n"),
               "line", f"{h}/l.json"),
           Bad("sent is not a number", topic, encode_raw(_header(f"{h}/s.json", sent="yesterday"),
                                                         CT_RECORD + b"\n"), "sent", f"{h}/s.json"),
           Bad("format nobody knows", topic, encode_raw(_header(f"{h}/f.log", "nonsense"), b"hello\n"),
               "format|nonsense", f"{h}/f.log")]
    create_topics(k)
    # the good chunk first, the bad ones behind it, before the worker starts: one batch
    mds = produce(k, [(topic, b"hostile", good, 0)] + [(b.topic, b"hostile", b.value, 0) for b in bad])
    w = WorkerProc(write_config(tmp_path, k, "w1"))
    try:
        # a fix may name the message (topic[partition]@offset) rather than the header's path
        def named() -> int:
            return sum(1 for b, md in zip(bad, mds[1:]) if {b.path, _where(md)} & set(_dead_by_name(k)))

        _crash_or(w, lambda: named() == len(bad), "every bad header's dead letter")
        dead = _dead_by_name(k)
        for b, md in zip(bad, mds[1:]):
            ds = dead.get(b.path) or dead[_where(md)]
            assert len(ds) == 1 and re.search(b.reason, ds[0]["reason"]), (b.what, ds)
        assert_alert_set(k, want, [w], timeout=30)
    finally:
        w.stop()


def test_malformed_events_and_alerts_records_are_dead_lettered(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    """Records of the right wire version whose insides are wrong."""
    k = kafka_cfg
    files = _demo_files(tmp_path)
    want = {replay_key(a) for a in replay(files)}
    create_topics(k)
    cfg = write_config(tmp_path, k, "w1")
    w = WorkerProc(cfg)
    try:
        wait_until(lambda: w.assigned() > 0, 60, "the worker to take its partitions")
        recs = [(k.topic("events"), b"garbage", v, 0) for v in
                (b'{"v": 1, "events": [["too", "short"]]}', b'{"v": 1, "events": [null]}')]
        recs += [(k.topic("alerts"), b"garbage", v, 0) for v in
                 (b'"a JSON string"', b'{"v": 1, "identity": ["x"]}', b"[]")]
        mds = produce(k, recs)
        _crash_or(w, lambda: {_where(md) for md in mds} <= set(_dead_by_name(k)), "the garbage's dead letters")
        dead = _dead_by_name(k)
        for md in mds:
            stage = "events" if md.topic == k.topic("events") else "alert"
            assert re.search(f"^undecodable {stage} message: .+", dead[_where(md)][0]["reason"]), dead[_where(md)]
        ship_once(cfg, files)
        garbage = {_where(md) for md in mds}
        _crash_or(w, lambda: {wire_key(orjson.loads(r.value)) for r in read_records(k, "alerts", k.partitions)
                              if _where(r) not in garbage} == want, "the demo scenario's alerts")
    finally:
        w.stop()
