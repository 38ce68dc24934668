"""``auditwatch bench identity``: attribution against a labelled history.

The labelled set (tests/identity/labelled/events.jsonl, with its registry) is
one estate's history in real log formats, each record labelled with who really
acted. Records are parsed by their own sources, then attributed in time order
by a fresh Attributor (learning and behaviour depend on history). Reported:
accuracy, precision and recall per kind (``unknown`` answers count against
recall, never for precision), and attribution events/s.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import orjson

from auditwatch.model import Event
from auditwatch.streams.identity.attribute import Attributor
from auditwatch.streams.identity.registry import load_registry
from auditwatch.streams.reader import read_stream

KINDS = ("human", "agent", "service")


def labelled_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "identity" / "labelled"


def load_set(d: Path | None = None) -> tuple[list[tuple[Event, dict[str, Any]]], Path]:
    d = d or labelled_dir()
    path = d / "events.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"labelled set not found at {path} (it lives in the source tree's tests/)")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        row = orjson.loads(line)
        rec = row["record"]
        data = (rec if isinstance(rec, str) else orjson.dumps(rec).decode()).encode() + b"\n"
        evs = [e for e in read_stream(io.BufferedReader(io.BytesIO(data)), f"labelled:{n}", row["source"])  # type: ignore[arg-type]
               if isinstance(e, Event)]
        if len(evs) != 1:
            raise ValueError(f"{path}:{n}: expected one event from the record, got {len(evs)}")
        out.append((evs[0], row))
    return out, d


def run_bench(passes: int = 50) -> dict[str, Any]:
    rows, d = load_set()
    registry = load_registry(d / "registry.yaml")
    events = [e for e, _ in rows]
    preds: list[str] = []
    owners_ok = owners_n = 0
    a = Attributor(registry)
    for e, row in rows:
        i = a.attribute(e)
        preds.append(i.kind)
        if row["truth"] == "agent" and row.get("owner") and i.kind == "agent":
            owners_n += 1
            owners_ok += i.owner == row["owner"]
    truths = [row["truth"] for _, row in rows]
    per_kind = {}
    for k in KINDS:
        tp = sum(1 for p, t in zip(preds, truths) if p == k and t == k)
        fp = sum(1 for p, t in zip(preds, truths) if p == k and t != k)
        fn = sum(1 for p, t in zip(preds, truths) if p != k and t == k)
        per_kind[k] = {"precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
                       "recall": round(tp / (tp + fn), 4) if tp + fn else 1.0, "support": tp + fn}
    mistakes = [{"case": row.get("case"), "truth": t, "predicted": p, "who": row.get("who")}
                for (_, row), p, t in zip(rows, preds, truths) if p != t]
    t0 = time.perf_counter()
    for _ in range(passes):
        fresh = Attributor(registry)
        for e in events:
            fresh.attribute(e)
    elapsed = time.perf_counter() - t0
    return {
        "events": len(rows),
        "accuracy": round(sum(p == t for p, t in zip(preds, truths)) / len(rows), 4),
        "per_kind": per_kind,
        "unknown": preds.count("unknown"),
        "agent_owner_accuracy": round(owners_ok / owners_n, 4) if owners_n else None,
        "events_per_s": round(passes * len(events) / elapsed, 1),
        "mistakes": mistakes[:20],
    }


def render(r: dict[str, Any]) -> str:
    lines = [f"identity attribution on {r['events']} labelled events: accuracy {r['accuracy']:.3f}, "
             f"{r['unknown']} left unknown, {r['events_per_s']:,.0f} events/s"]
    for k, v in r["per_kind"].items():
        lines.append(f"  {k:8} precision {v['precision']:.3f}  recall {v['recall']:.3f}  (n={v['support']})")
    if r["agent_owner_accuracy"] is not None:
        lines.append(f"  agents' owners right: {r['agent_owner_accuracy']:.3f}")
    for m in r["mistakes"]:
        lines.append(f"  miss: {m['case']}: truth {m['truth']}, said {m['predicted']} ({m['who']})")
    return "\n".join(lines)
