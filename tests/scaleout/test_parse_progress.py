"""The worker's parse marks and events messages, without a broker.

A stream of many files (a CloudTrail folder, rotated PostgreSQL logs) must not
make one table record that outgrows Kafka's message limit: marks are kept per
file. An event too big for the events topic is a dead letter, not a crashed agent.
"""

from __future__ import annotations

from typing import Any

import orjson

from auditwatch.bench.pipeline import corpus
from auditwatch.config import Config
from auditwatch.core import Core
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.streams.scaleout.parse import MAX_FILES_PER_STREAM, ParseStage
from auditwatch.streams.scaleout.parse_child import events_messages
from auditwatch.streams.scaleout.wire import decode_events, encode_raw, event_to_wire


def _pg_lines(n: int) -> bytes:
    _, pg = corpus(n)
    return b"".join(pg.splitlines(keepends=True)[:n])


def _raw(path: str, data: bytes, offset: int = 0, line: int = 1) -> bytes:
    return encode_raw({"path": path, "format": "postgres-jsonlog", "kind": "lines", "line": line,
                       "offset": offset, "tail": False, "environment": "", "stream": "/pg/stream"}, data)


def test_marks_are_per_file_and_each_stays_small() -> None:
    stage = ParseStage(Core(Config()))
    data = _pg_lines(40)
    n_files = MAX_FILES_PER_STREAM + 200
    for i in range(n_files):
        stage.chunk(_raw(f"/pg/postgresql-{i}.json", data), "t")
    dirty = stage.take_dirty()
    kept = [m for _, _, m in dirty if m is not None]
    forgotten = [f for _, f, m in dirty if m is None]
    assert len(kept) == MAX_FILES_PER_STREAM
    # the least recent files are forgotten (a tombstone each), the newest kept
    assert len(forgotten) == 200
    assert all(f.startswith(f"/pg/postgresql-{i}.json") for i, f in enumerate(sorted(forgotten, key=_num)))
    biggest = max(len(orjson.dumps(m)) for m in kept)
    assert biggest < 300 * 1024, biggest
    assert sum(len(orjson.dumps(m)) for m in kept) > 1024 * 1024  # one record per stream would be over the limit
    assert stage.take_dirty() == []


def _num(fid: str) -> int:
    return int(fid.split("-")[1].split(".")[0])


def test_a_new_stage_loads_one_files_mark_and_drops_the_repeat() -> None:
    data = _pg_lines(60)
    cut = data.index(b"\n", len(data) // 2) + 1
    first, second = data[:cut], data[cut:]
    a = ParseStage(Core(Config()))
    ev_a, dead_a, fid = a.chunk(_raw("/pg/p.json", first), "t")
    assert ev_a and not dead_a
    saved: dict[tuple[str, str], Any] = {(s, f): orjson.loads(orjson.dumps(m)) for s, f, m in a.take_dirty()}
    assert list(saved) == [("/pg/stream", fid)]

    asked: list[tuple[str, str]] = []

    def load(stream: str, f: str) -> Any:
        asked.append((stream, f))
        return saved.get((stream, f))

    b = ParseStage(Core(Config()))
    again, _, _ = b.chunk(_raw("/pg/p.json", first), "t", load)
    assert again == [] and b.repeats == 1
    nxt, dead, _ = b.chunk(_raw("/pg/p.json", second, offset=len(first), line=first.count(b"\n") + 1), "t", load)
    assert nxt and not dead and b.gaps == 0
    assert asked == [("/pg/stream", fid)]  # loaded once, then kept in memory


def _event(i: int, statement: str) -> list[Any]:
    ev = Event(event_id=f"e{i}", time=1.0e9 + i, observed_time=1.0e9 + i, source=SourceRef("pg", "/f", i, i * 10),
               actor=Actor(principal="app"), action=Action(name="QUERY", statement=statement), resource=Resource())
    return event_to_wire(ev, False, 0.0, ["/f\x1f", i * 10, 0, 0])


def test_events_messages_split_to_fit_and_keep_order() -> None:
    rows = [_event(i, "select " + "x" * 3000) for i in range(500)]
    values, dead = events_messages(rows, limit=256 * 1024)
    assert not dead and len(values) > 1
    assert all(len(v) <= 256 * 1024 for v in values)
    assert [r[0] for v in values for r in decode_events(v)] == [r[0] for r in rows]


def test_an_event_too_big_to_travel_is_a_dead_letter_with_its_source() -> None:
    rows = [_event(0, "select 1"), _event(1, "select '" + "y" * 2_000_000 + "'"), _event(2, "select 2")]
    values, dead = events_messages(rows)
    assert [r[0] for v in values for r in decode_events(v)] == ["e0", "e2"]
    assert len(dead) == 1
    d = dead[0].to_dict()
    assert "over the events topic's message limit" in d["reason"]
    assert d["source"] == {"type": "pg", "name": "/f", "line": 1, "offset": 10}
