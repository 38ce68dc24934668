"""Fuzzing every parser from real samples: whatever the bytes, each input is parsed
or dead-lettered with a reason — never a crash, a hang or a silent drop — and a
10 MB line costs bounded memory.

Seeds are lines of the public corpus (../shared/corpus) and the demo scenario;
mutations: truncation, byte flips, invalid UTF-8, NUL bytes, wrong JSON types,
numbers out of range, deep nesting, huge strings, timestamps in odd formats.
The example count is small in CI; `make fuzz` runs many more
(AUDITWATCH_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditwatch.model import Event
from auditwatch.streams.reader import read_stream
from auditwatch.streams.sources.base import DeadLetter
from auditwatch.streams.sources.detect import SOURCES
from tests.conftest import corpus_dir, need

EXAMPLES = int(os.environ.get("AUDITWATCH_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=5000, derandomize=os.environ.get("CI") == "true",
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

SEED_FILES = {
    "cloudtrail": ["stratus-red-team/aws.defense-evasion.cloudtrail-stop.json", "traildiscover/logExamples/UpdateTrail.json.cloudtrail"],
    "postgres-jsonlog": ["immudb-log-audit/pgaudit_jsonlog.log"],
    "postgres-stderr": ["immudb-log-audit/pgaudit_stderr.log", "ibm-universal-connectors/pgaudit/ibmcloud_postgres_pgaudit_Postgres-Audit-Logs.txt"],
    "gcp-audit": ["ibm-universal-connectors/gcp-audit/bigtable/deleteTable.json"],
    "azure-activity": ["azure-activity-dynatrace-forwarder-fork/log3.sh"],
    "kubernetes-audit": ["falco-k8s-audit/delete_namespace_foo.json", "falco-k8s-audit/attach_cluster_admin_role.json"],
    "mariadb-audit": ["ibm-universal-connectors/mariadb/mariadb_server_audit_onprem_sample_audit_log.log"],
    "mysql-audit-json": ["ibm-universal-connectors/mysql/mysql_enterprise_audit_json.log"],
}


def _seeds() -> dict[str, bytes]:
    root = corpus_dir()
    out = {}
    for fmt, files in SEED_FILES.items():
        data = b""
        for f in files:
            p = root / f
            if p.exists():
                raw = p.read_bytes()
                data += (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)[:20000] + b"\n"
        if data:
            out[fmt] = data
    return out


SEEDS = _seeds()


def read_all(data: bytes, fmt: str = "auto") -> list[Event | DeadLetter]:
    items = list(read_stream(io.BufferedReader(io.BytesIO(data)), "fuzz", fmt))  # type: ignore[arg-type]
    for it in items:
        assert isinstance(it, (Event, DeadLetter))
        if isinstance(it, DeadLetter):
            assert it.reason  # every dead letter says why
    return items


def mutate(data: bytes, ops: list[tuple[int, int, bytes]]) -> bytes:
    b = bytearray(data)
    for kind, pos, payload in ops:
        if not b:
            b.extend(payload)
            continue
        i = pos % len(b)
        if kind == 0:
            del b[i:i + len(payload) + 1]  # delete a run
        elif kind == 1:
            b[i:i] = payload  # insert junk
        elif kind == 2:
            b[i] ^= 0x80  # flip a high bit: invalid UTF-8 somewhere
        else:
            del b[i:]  # truncate
    return bytes(b)


@pytest.fixture(scope="module", autouse=True)
def _need_corpus() -> None:
    need(SEEDS, f"public log corpus not found at {corpus_dir()} (set AUDITWATCH_CORPUS) for fuzz seeds")


@FUZZ
@given(st.sampled_from(sorted(SEED_FILES)), st.booleans(),
       st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                          st.sampled_from([b"\x00", b"\xff\xfe", b"{", b"}", b'"', b"\n", b"\\", b"'", b",",
                                           b"9" * 400, b"[" * 200, b"\xe2\x80\xae", b"\r\n", b"\t"])),
                min_size=1, max_size=6))
def test_mutated_samples_never_crash(fmt: str, explicit: bool, ops: list[tuple[int, int, bytes]]) -> None:
    data = mutate(SEEDS[fmt], ops)
    read_all(data, fmt if explicit else "auto")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True)
    | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


def _records(fmt: str) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for line in SEEDS.get(fmt, b"").splitlines():
        try:
            v = json.loads(line)
        except ValueError:
            continue
        if isinstance(v, dict):
            out.append(v)
        elif isinstance(v, list):
            out += [x for x in v if isinstance(x, dict)]
    return out


@FUZZ
@given(st.sampled_from(["cloudtrail", "postgres-jsonlog", "kubernetes-audit", "mysql-audit-json"]), st.data())
def test_wrong_types_in_known_fields(fmt: str, data: st.DataObject) -> None:
    recs = _records(fmt)
    if not recs:
        return
    rec = dict(data.draw(st.sampled_from(recs)))
    for key in data.draw(st.lists(st.sampled_from(sorted(rec)), min_size=1, max_size=4)):
        rec[key] = data.draw(JSON_VALUES)
    if data.draw(st.booleans()):
        tkey = next((k for k in ("eventTime", "timestamp", "stageTimestamp") if k in rec), None)
        if tkey:
            rec[tkey] = data.draw(st.sampled_from(["", "yesterday", "2026-13-45T99:99:99Z", "1e309", "0",
                                                   "2026-04-24 09:00:00 +0530", "9999-12-31T23:59:59Z",
                                                   "0001-01-01T00:00:00Z", "1777000000123"]))
    line = json.dumps(rec, default=str).encode() + b"\n"
    items = read_all(line, fmt)
    # k8s skips non-final stages on purpose (counted); PostgreSQL records that are not
    # audit or statement records (connections, checkpoints) are no events
    informational = fmt == "postgres-jsonlog" and isinstance(rec.get("message"), str) and \
        "AUDIT: " not in rec["message"] and "statement: " not in rec["message"]
    assert items or fmt == "kubernetes-audit" or informational


def test_deeply_nested_and_huge_lines_are_bounded() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000 + b"\n"
    items = read_all(deep)
    assert len(items) >= 1 and all(isinstance(i, DeadLetter) for i in items)
    tracemalloc.start()
    huge = b'{"eventVersion":"1.08","eventName":"x","eventSource":"s3","eventTime":"2026-04-24T09:00:00Z",' \
           b'"userAgent":"' + b"a" * (10 * 1024 * 1024) + b'"}\n'
    items = read_all(huge, "cloudtrail")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(items) == 1
    assert peak < 12 * len(huge)  # a few copies of the line, not unbounded growth


def test_every_source_survives_empty_and_binary_input() -> None:
    for fmt in sorted(SOURCES):
        for data in (b"", b"\n\n", b"\x00\x01\x02\xff\n", b"\x1f\x8b\x08\x00garbage"):
            read_all(data, fmt)
