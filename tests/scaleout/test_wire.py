"""The events wire format: what the parse stage sends is what the detect stage rebuilds.

``event_from_wire`` builds its dataclasses by position (for speed), so a field added to the
model in another place than the wire expects would silently shift every later field: these
round trips of real parsed events (CloudTrail and pgaudit, with identities) catch that. The
detect stage's ``IdentityCache`` must give the identity that arrived, never a stale one.
"""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from auditwatch.bench.kafka import workload
from auditwatch.config import Config
from auditwatch.core import Core
from auditwatch.model import Identity
from auditwatch.streams.scaleout.parse import ParseStage
from auditwatch.streams.scaleout.wire import (
    IdentityCache,
    decode_events,
    encode_events,
    encode_raw,
    event_from_wire,
    event_to_wire,
    identity_to_wire,
)
from auditwatch.streams.scaleout.worker import _checked_row


def _parsed() -> list:
    stage = ParseStage(Core(Config()))
    out = []
    for i, (_, meta, data) in enumerate(workload(400)):
        evs, dead, _ = stage.chunk(encode_raw(meta, data), f"raw[0]@{i}")
        assert not dead
        out += evs
    return out


def test_events_survive_the_wire_field_for_field() -> None:
    parsed = _parsed()
    kinds = {ev.source.type for ev, _, _ in parsed}
    assert {"cloudtrail", "postgres"} <= kinds, kinds
    assert any(ev.identity is not None and ev.identity.evidence for ev, _, _ in parsed)
    rows = [event_to_wire(ev, late, 123.5, ["f\x1f1", ev.source.offset or 0, ev.source.index or 0, 0])
            for ev, late, _ in parsed]
    cache = IdentityCache()
    for (ev, late, _), w in zip(parsed, decode_events(encode_events(rows)), strict=True):
        for build in (event_from_wire(w), event_from_wire(w, cache)):
            got, got_late, sent = build
            # the raw record stays at the source; the clock of pipeline entry is per process
            assert got == dataclasses.replace(ev, raw=None, ingest_mono=0.0)
            assert (got_late, sent) == (late, 123.5)


def test_identity_cache_gives_the_identity_that_arrived() -> None:
    cache = IdentityCache(limit=2)
    a = Identity("arn:aws:iam::1:user/ci", "agent", 0.8, "team", ("ua: cursor",), ("staging",), False, "", None)
    w = orjson.loads(orjson.dumps(identity_to_wire(a)))
    first = cache(w)
    assert first == a
    assert cache(orjson.loads(orjson.dumps(identity_to_wire(a)))) is first  # the same, built once
    # the registry changed its mind: the new verdict, not the cached one
    b = dataclasses.replace(a, kind="human", confidence=0.9, allowed_categories=("read",))
    got = cache(orjson.loads(orjson.dumps(identity_to_wire(b))))
    assert got == b and got is not first
    for i in range(3):  # past the limit the cache starts again, and still answers right
        c = dataclasses.replace(a, id=f"user-{i}")
        assert cache(identity_to_wire(c)) == c
    assert cache(None) is None


def test_a_bad_identity_id_is_refused_with_the_cache_too() -> None:
    ev, late, _ = _parsed()[0]
    w = orjson.loads(orjson.dumps(event_to_wire(ev, late, 1.0, ["f", 0, 0, 0])))
    w[8][0] = 42
    with pytest.raises(TypeError, match="identity id"):
        _checked_row(w, IdentityCache())
    w[8][0] = "ok"
    w[11] = ["f", 0, "1", 0]
    with pytest.raises(ValueError, match="origin"):
        _checked_row(w, IdentityCache())
