"""The rule engine's semantics: event time, lateness, until, thresholds, state across
restarts, bounded memory; and the anomaly detectors with their baselines."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from auditwatch.detectors.anomaly.anomalous_sequence import AnomalousSequence
from auditwatch.detectors.anomaly.first_time_seen import FirstTimeSeen
from auditwatch.detectors.anomaly.off_hours import OffHours
from auditwatch.detectors.anomaly.rate_anomaly import RateAnomaly
from auditwatch.detectors.rules import engine as engine_mod
from auditwatch.detectors.rules.engine import RuleEngine
from auditwatch.detectors.rules.loader import load_dir, load_rule
from auditwatch.detectors.rules.state import load_event
from auditwatch.model import Event

T0 = 1_777_000_000.0
PACK, _ = load_dir()


def ev(t: float, who: str, action: str, cats: tuple[str, ...] = (), kind: str = "unknown", env: str = "",
       outcome: str = "success", **extra: Any) -> Event:
    d = {"time": T0 + t, "action": action, "categories": list(cats), "outcome": outcome,
         "identity": {"id": who, "kind": kind, **extra}, "resource": {"environment": env, "name": action.lower()}}
    return load_event(d, n=int(t * 1000) + hash(who) % 1000)


def story(rng: random.Random, identities: int = 30) -> list[Event]:
    """Ordinary work and, for some identities, attack patterns, in event-time order."""
    out: list[Event] = []
    for i in range(identities):
        who = f"id-{i}"
        base = rng.uniform(0, 3600)
        for k in range(20):
            out.append(ev(base + k * rng.uniform(1, 30), who, "SELECT"))
        pattern = i % 5
        t = base + rng.uniform(0, 300)
        if pattern == 0:  # data then backups, minutes apart
            out += [ev(t, who, "DROP TABLE", ("data.destroy",)), ev(t + rng.uniform(1, 500), who, "DeleteDBSnapshot",
                                                                   ("backup.destroy",))]
        elif pattern == 1:  # escalation then destruction
            out += [ev(t, who, "AttachUserPolicy", ("privilege.escalate",)),
                    ev(t + rng.uniform(10, 3000), who, "DeleteBucket", ("data.destroy", "infra.destroy"))]
        elif pattern == 2:  # destruction then blinding
            out += [ev(t, who, "DeleteBucket", ("data.destroy",)), ev(t + rng.uniform(1, 1500), who, "StopLogging",
                                                                      ("logging.disable",))]
        elif pattern == 3:  # too far apart for any sequence
            out += [ev(t, who, "DROP TABLE", ("data.destroy",)), ev(t + 5000, who, "DeleteDBSnapshot",
                                                                   ("backup.destroy",))]
    return sorted(out, key=lambda e: e.time)


def incidents(events: list[Event]) -> set[tuple[str, str]]:
    eng = RuleEngine(PACK, allowed_lateness=60)
    return {(a.rule_id, a.identity.id) for e in events for a in eng.on_event(e) if not a.joined}


@pytest.mark.parametrize("seed", range(8))
def test_shuffled_arrival_within_lateness_gives_the_same_incidents(seed: int) -> None:
    rng = random.Random(seed)
    in_order = story(rng)
    expected = incidents(in_order)
    assert ("data-and-backup-destroyed", "id-0") in expected
    assert ("privilege-escalation-then-destruction", "id-1") in expected
    assert ("logging-disabled-around-destruction", "id-2") in expected
    assert not any(who == "id-3" and rule.endswith("-destroyed") for rule, who in expected)
    # arrival order perturbed: every event arrives before anything more than 59 s of event time newer
    shuffled = sorted(in_order, key=lambda e: e.time + rng.uniform(0, 59))
    assert shuffled != in_order
    assert incidents(shuffled) == expected


def test_too_late_events_are_counted_and_judged_alone() -> None:
    eng = RuleEngine(PACK, allowed_lateness=60)
    eng.on_event(ev(1000, "x", "SELECT"))
    late = eng.on_event(ev(0, "x", "DeleteDBSnapshot", ("backup.destroy",)))
    assert eng.stats.too_late == 1 and late == []
    # a late event takes no part in a sequence: the data destruction alone completes nothing
    got = eng.on_event(ev(1001, "x", "DROP TABLE", ("data.destroy",)))
    assert [a.rule_id for a in got] == []
    # but single-event rules still judge a too-late event
    got = eng.on_event(ev(10, "a", "StopLogging", ("logging.disable",)))
    assert [a.rule_id for a in got] == ["logging-disabled"] and eng.stats.too_late == 2


def test_until_step_cancels_a_sequence(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""
id: r
title: R
description: Threat x. Evidence y.
severity: high
attack: [T1485]
kind: sequence
by: identity.id
maxspan: 10m
steps:
  - match: {action: login}
  - match: {action: drop}
until: {match: {action: logout}}
""")
    rule = load_rule(tmp_path / "r.yaml")
    eng = RuleEngine([rule])
    assert eng.on_event(ev(0, "a", "login")) == [] and eng.on_event(ev(5, "a", "logout")) == []
    assert eng.on_event(ev(10, "a", "drop")) == []
    eng2 = RuleEngine([rule])
    eng2.on_event(ev(0, "a", "login"))
    assert [a.rule_id for a in eng2.on_event(ev(10, "a", "drop"))] == ["r"]


def test_threshold_distinct_and_suppression(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("""
id: t
title: T
description: Threat x. Evidence y.
severity: high
attack: [T1485]
kind: threshold
by: identity.id
window: 60s
count: 3
distinct: resource.name
match: {categories: data.destroy}
suppress: {by: identity.id, window: 10m}
""")
    eng = RuleEngine([load_rule(tmp_path / "t.yaml")])

    def drop(t: float, table: str) -> list[Any]:
        e = ev(t, "a", "DROP TABLE", ("data.destroy",))
        e.resource.name = table
        return eng.on_event(e)

    assert drop(0, "x") == [] and drop(1, "x") == [] and drop(2, "y") == []  # 2 distinct
    (a,) = drop(3, "z")
    assert not a.joined and "3 distinct resource.name" in a.reason and len(a.evidence) == 3
    for t, name in ((4, "p"), (5, "q"), (6, "r")):
        got = drop(t, name)
    assert len(got) == 1 and got[0].joined  # same window: joins the open incident
    assert eng.stats.per_rule["t"] == [2, 1]


def test_state_survives_a_restart_mid_sequence() -> None:
    first = RuleEngine(PACK)
    first.on_event(ev(0, "agent:x", "DROP TABLE", ("data.destroy",), kind="agent"))
    state = first.dump()
    import orjson

    state = orjson.loads(orjson.dumps(state))  # as it is stored
    second = RuleEngine(PACK)
    second.load(state)
    got = second.on_event(ev(30, "agent:x", "DeleteDBSnapshot", ("backup.destroy",), kind="agent"))
    (a,) = [a for a in got if a.rule_id == "data-and-backup-destroyed"]
    assert [e.action.name for e in a.evidence] == ["DROP TABLE", "DeleteDBSnapshot"]


def test_sequence_state_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_mod, "MAX_KEYS_PER_RULE", 100)
    eng = RuleEngine(PACK)
    for i in range(1000):
        eng.on_event(ev(i, f"who-{i}", "DROP TABLE", ("data.destroy",)))
    assert all(len(states) <= 101 for states in eng._seq.values())
    assert all(len(states) <= 101 for states in eng._thr.values())


# -- anomaly detectors -----------------------------------------------------------
DAY = 86400.0


def test_first_time_seen_the_domain_token_case() -> None:
    d = FirstTimeSeen(learn_seconds=DAY, protected=frozenset({"production"}))
    for k in range(50):  # a week of DNS work
        assert d.on_event(ev(k * 3600, "token:domains", "customDomainCreate", env="production")) == []
    (a,) = d.on_event(ev(2 * DAY, "token:domains", "volumeDelete", ("data.destroy", "backup.destroy"),
                         env="production"))
    assert a.rule_id == "anomaly-first-time-seen" and a.baseline["events_seen_before"] == 50
    assert a.baseline["categories_seen"] == [] and "data.destroy" in a.reason
    assert d.on_event(ev(2 * DAY + 5, "token:domains", "volumeDelete", ("data.destroy",), env="production")) == []


def test_first_time_seen_is_quiet_while_learning_and_on_failures() -> None:
    d = FirstTimeSeen(learn_seconds=DAY)
    d.on_event(ev(0, "a", "SELECT"))
    assert d.on_event(ev(10, "a", "DROP TABLE", ("data.destroy",))) == []  # learning
    assert d.on_event(ev(2 * DAY, "a", "DeleteBucket", ("infra.destroy",), outcome="failure")) == []


def test_rate_anomaly_fires_with_its_baseline() -> None:
    d = RateAnomaly(learn_seconds=DAY)
    t = 0.0
    for minute in range(2000):  # two snapshot deletions a minute, for days
        for k in range(2):
            d.on_event(ev(minute * 60 + k, "svc", "DeleteDBSnapshot", ("backup.destroy",)))
    t = 2000 * 60 + (60 - T0 % 60)  # the start of a one-minute bucket
    alerts = []
    for k in range(40):
        alerts += d.on_event(ev(t + k, "svc", "DeleteDBSnapshot", ("backup.destroy",)))
    assert len(alerts) == 1
    b = alerts[0].baseline
    assert 1.5 < b["mean_per_minute"] < 2.5 and b["count_this_minute"] > b["threshold"]


def test_off_hours_for_people_only() -> None:
    d = OffHours(learn_seconds=DAY)
    midnight = DAY - T0 % DAY  # offsets below count from a UTC midnight
    for day in range(10):
        for h in (9, 10, 14):
            d.on_event(ev(midnight + day * DAY + h * 3600, "alice", "DROP TABLE", ("data.destroy",), kind="human"))
    (a,) = d.on_event(ev(midnight + 11 * DAY + 3 * 3600, "alice", "DROP TABLE", ("data.destroy",), kind="human"))
    assert a.baseline["hour_utc"] == 3 and a.baseline["usual_hours_utc"] == [9, 10, 14]
    assert d.on_event(ev(11 * DAY + 3 * 3600, "bot", "DROP TABLE", ("data.destroy",), kind="agent")) == []


def test_anomalous_sequence() -> None:
    d = AnomalousSequence(learn_seconds=DAY, min_support=50)
    for i in range(200):  # agents read then write, over and over
        who = f"agent-{i % 10}"
        d.on_event(ev(i * 100, who, "SELECT", kind="agent"))
        d.on_event(ev(i * 100 + 1, who, "INSERT", kind="agent"))
    d.on_event(ev(2 * DAY, "agent-1", "SELECT", kind="agent"))
    (a,) = d.on_event(ev(2 * DAY + 1, "agent-1", "DROP SCHEMA", ("data.destroy",), kind="agent"))
    assert a.baseline["previous"] == "SELECT" and a.baseline["probability"] < 0.005
