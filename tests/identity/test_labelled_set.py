"""The labelled identity-attribution set (tests/identity/labelled/) is well formed:
big enough, balanced, every record readable by auditwatch's own source for its
format, the registry loadable, and the committed files what make_set.py writes."""

from __future__ import annotations

import collections
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from auditwatch.streams.identity.registry import load_registry
from auditwatch.streams.reader import read_stream
from auditwatch.streams.sources.base import DeadLetter
from auditwatch.streams.sources.detect import SOURCES

HERE = Path(__file__).resolve().parent / "labelled"
EVENTS = HERE / "events.jsonl"
REGISTRY = HERE / "registry.yaml"

FORMATS = ("cloudtrail", "postgres-jsonlog", "gcp-audit", "azure-activity", "kubernetes-audit", "mariadb-audit")
TEXT_FORMATS = ("postgres-jsonlog", "mariadb-audit")
KINDS = ("human", "agent", "service")


def _lines() -> list[dict]:
    return [json.loads(x) for x in EVENTS.read_text(encoding="utf-8").splitlines() if x.strip()]


LINES = _lines()


def _items(line: dict) -> list:
    fmt = line["source"]
    rec = line["record"]
    raw = rec.encode("utf-8") if fmt in TEXT_FORMATS else json.dumps(rec).encode("utf-8")
    return list(read_stream(io.BufferedReader(io.BytesIO(raw + b"\n")), "labelled", fmt))


def test_size_and_formats() -> None:
    assert len(LINES) >= 240
    per_format = collections.Counter(x["source"] for x in LINES)
    assert set(per_format) == set(FORMATS), per_format
    for fmt in FORMATS:
        assert fmt in SOURCES
        assert per_format[fmt] >= 20, (fmt, per_format[fmt])


def test_kind_shares() -> None:
    kinds = collections.Counter(x["truth"] for x in LINES)
    assert set(kinds) == set(KINDS)
    n = len(LINES)
    assert 0.35 <= kinds["agent"] / n <= 0.45, kinds
    # the rest split between people and services, neither negligible
    assert kinds["human"] / n >= 0.2 and kinds["service"] / n >= 0.2, kinds
    # several identities of each kind, most with several events over time
    for kind in KINDS:
        whos = collections.Counter(x["who"] for x in LINES if x["truth"] == kind)
        assert len(whos) >= 5, (kind, whos)
        assert sum(1 for c in whos.values() if c >= 3) >= 4, (kind, whos)


def test_line_schema() -> None:
    for i, x in enumerate(LINES, 1):
        assert {"source", "record", "truth", "who", "owner", "case"} <= set(x), i
        assert x["truth"] in KINDS, i
        assert x["who"] and x["case"], i
        # an agent works for someone; people and services are their own principals here
        assert bool(x["owner"]) == (x["truth"] == "agent"), (i, x["who"], x["owner"])
        want = str if x["source"] in TEXT_FORMATS else dict
        assert isinstance(x["record"], want), (i, x["source"])


@pytest.mark.parametrize("n", range(len(LINES)), ids=lambda n: f"line{n + 1}")
def test_record_parses_to_one_event(n: int) -> None:
    line = LINES[n]
    items = _items(line)
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert not dead, f"line {n + 1} ({line['source']}, {line['case']}): {[d.reason for d in dead]}"
    assert len(items) == 1, f"line {n + 1} ({line['source']}, {line['case']}): {len(items)} events"


def test_ordered_in_time() -> None:
    times = []
    for line in LINES:
        (ev,) = _items(line)
        times.append(ev.time)
    late = [(i + 1, times[i - 1], t) for i, t in enumerate(times) if i and t + 0.001 < times[i - 1]]
    assert not late, late[:5]
    assert max(times) - min(times) >= 3 * 86400  # a few days of history


def test_registry_loads_and_covers_only_some_actors() -> None:
    reg = load_registry(REGISTRY)
    assert reg is not None
    import yaml

    ids = yaml.safe_load(REGISTRY.read_text())["identities"]
    kinds = collections.Counter(e["kind"] for e in ids)
    assert all(kinds[k] >= 2 for k in KINDS), kinds
    actors = {x["who"] for x in LINES}
    assert len(ids) < len(actors) / 2  # realistic: many principals are not registered


def test_generator_is_deterministic(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(HERE / "make_set.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    assert (tmp_path / "events.jsonl").read_bytes() == EVENTS.read_bytes()
    assert (tmp_path / "registry.yaml").read_bytes() == REGISTRY.read_bytes()
