"""Rules that test themselves: every rule's samples must fire (or stay quiet)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditwatch.detectors.rules import yamlines
from auditwatch.detectors.rules.engine import RuleEngine
from auditwatch.detectors.rules.loader import Rule
from auditwatch.detectors.rules.state import load_event
from auditwatch.model import Event

BASE_TIME = 1_777_000_000.0


@dataclass
class SampleResult:
    rule_id: str
    name: str
    expect: str
    fired: int
    ok: bool
    file: str
    line: int
    problem: str = ""


def sample_events(sample: dict[str, Any], base: float = BASE_TIME) -> list[Event]:
    evs = sample.get("events", [])
    rep = sample.get("repeat") or {}
    count, every = int(rep.get("count", 1)), float(rep.get("every", 0))
    out = []
    n = 0
    for k in range(count):
        for d in evs:
            out.append(load_event(dict(d), base + k * every, n))
            n += 1
    return out


def run_samples(rules: list[Rule]) -> list[SampleResult]:
    results = []
    for r in rules:
        if not r.samples:
            results.append(SampleResult(r.id, "(none)", "fire", 0, False, r.file, r.line,
                                        "rule has no samples: every rule ships events that must fire and must not"))
            continue
        expects = set()
        for i, s in enumerate(r.samples):
            line = yamlines.line_of(r.samples, i, r.line)
            if not isinstance(s, dict) or s.get("expect") not in ("fire", "quiet") or not s.get("events"):
                results.append(SampleResult(r.id, str(s.get("name", i) if isinstance(s, dict) else i), "?", 0, False,
                                            r.file, line, "a sample needs 'expect: fire|quiet' and 'events'"))
                continue
            expects.add(s["expect"])
            eng = RuleEngine([r])
            fired = 0
            try:
                for ev in sample_events(s):
                    fired += sum(1 for a in eng.on_event(ev) if a.rule_id == r.id)
            except Exception as e:  # a malformed sample event is a test failure, with where
                results.append(SampleResult(r.id, str(s.get("name", i)), s["expect"], 0, False, r.file, line,
                                            f"sample could not run: {type(e).__name__}: {e}"))
                continue
            ok = (fired > 0) == (s["expect"] == "fire")
            results.append(SampleResult(r.id, str(s.get("name", i)), s["expect"], fired, ok, r.file, line))
        if expects != {"fire", "quiet"}:
            results.append(SampleResult(r.id, "(coverage)", "fire+quiet", 0, False, r.file, r.line,
                                        "samples must include at least one 'fire' and one 'quiet'"))
    return results
