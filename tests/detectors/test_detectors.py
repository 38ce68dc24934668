"""Every detector fires on its positive samples and stays quiet on the negatives,
including a failed call that must never count as done."""

from __future__ import annotations

import sys

import pytest

from auditwatch.core import Core  # noqa: F401  (registers the detectors)
from auditwatch.detectors.base import ATTACK_ID, REGISTRY, DetectorContext
from auditwatch.model import Event
from tests.factories import event

D, B, L = "data.destroy", "backup.destroy", "logging.disable"
T = 1_700_000_000.0

# detector id -> list of (name, events, expected number of alerts after the last event)
SAMPLES: dict[str, list[tuple[str, list[Event], int]]] = {
    "agent-destroys-protected": [
        ("agent drops prod table", [event("DROP TABLE", cats=(D,), env="prod", kind="agent")], 1),
        ("agent deletes prod db + backups", [event("DeleteDBInstance", cats=(D, B, "infra.destroy"), env="prod", kind="agent")], 1),
        ("agent drops staging table", [event("DROP TABLE", cats=(D,), env="staging", kind="agent")], 0),
        ("human drops prod table", [event("DROP TABLE", cats=(D,), env="prod", kind="human")], 0),
        ("agent's failed prod drop", [event("DROP TABLE", cats=(D,), env="prod", kind="agent", outcome="failure")], 0),
        ("agent reads prod", [event("SELECT", env="prod", kind="agent")], 0),
        ("agent creates a key in prod", [event("CreateAccessKey", cats=("credential.create",), env="prod", kind="agent")], 0),
    ],
    "data-and-backup-destroyed": [
        ("data then backup 5 min apart", [event("DROP TABLE", cats=(D,), kind="human", t=T),
                                          event("DeleteDBSnapshot", cats=(B,), kind="human", t=T + 300)], 1),
        ("backup then data", [event("DeleteDBSnapshot", cats=(B,), kind="unknown", t=T),
                              event("TRUNCATE", cats=(D,), kind="unknown", t=T + 10)], 1),
        ("one call does both", [event("DeleteDBInstance", cats=(D, B), kind="service")], 1),
        ("11 minutes apart", [event("DROP TABLE", cats=(D,), kind="human", t=T),
                              event("DeleteDBSnapshot", cats=(B,), kind="human", t=T + 660)], 0),
        ("different identities", [event("DROP TABLE", cats=(D,), kind="human", ident="a", t=T),
                                  event("DeleteDBSnapshot", cats=(B,), kind="human", ident="b", t=T + 5)], 0),
        ("failed backup delete", [event("DROP TABLE", cats=(D,), kind="human", t=T),
                                  event("DeleteDBSnapshot", cats=(B,), kind="human", t=T + 5, outcome="failure")], 0),
    ],
    "logging-disabled": [
        ("StopLogging by a service", [event("StopLogging", cats=(L,), kind="service")], 1),
        ("pgaudit off by a human", [event("SET", cats=(L,), kind="human", activity="sql")], 1),
        ("failed StopLogging", [event("StopLogging", cats=(L,), kind="agent", outcome="failure")], 0),
        ("StartLogging", [event("StartLogging", kind="human")], 0),
    ],
    "destructive-in-protected": [
        ("human drops prod table", [event("DROP TABLE", cats=(D,), env="prod", kind="human")], 1),
        ("unknown deletes prod bucket", [event("DeleteBucket", cats=(D,), env="prod", kind="unknown")], 1),
        ("service deletes prod bucket", [event("DeleteBucket", cats=(D,), env="prod", kind="service")], 0),
        ("agent (other rule)", [event("DeleteBucket", cats=(D,), env="prod", kind="agent")], 0),
        ("human in staging", [event("DROP TABLE", cats=(D,), env="staging", kind="human")], 0),
        ("human failed in prod", [event("DROP TABLE", cats=(D,), env="prod", kind="human", outcome="failure")], 0),
    ],
}


def _cases() -> list[tuple[str, str, list[Event], int]]:
    return [(did, name, evs, n) for did, samples in SAMPLES.items() for name, evs, n in samples]


@pytest.mark.parametrize("did,name,events,expected", _cases(), ids=[f"{c[0]}:{c[1]}" for c in _cases()])
def test_samples(did: str, name: str, events: list[Event], expected: int) -> None:
    det = REGISTRY[did](DetectorContext())
    alerts = []
    for ev in events:
        alerts = det.on_event(ev)
    assert len(alerts) == expected, name
    for a in alerts:
        assert a.rule_id == did and a.evidence and a.reason


def test_every_detector_is_well_formed_and_has_samples() -> None:
    assert set(REGISTRY) == set(SAMPLES)
    for did, cls in REGISTRY.items():
        doc = sys.modules[cls.__module__].__doc__ or ""
        assert "Threat" in doc and "Evidence" in doc and "False positives" in doc, did
        assert cls.runbook and cls.title and cls.severity in ("info", "low", "medium", "high", "critical")
        assert cls.attack and all(ATTACK_ID.match(t) for t in cls.attack)
        assert cls.__module__.rsplit(".", 1)[-1] == did.replace("-", "_")
        expects = [n for _, _, n in SAMPLES[did]]
        assert any(expects) and not all(expects), f"{did} needs positive and negative samples"
        assert any(e.action.outcome == "failure" for _, evs, n in SAMPLES[did] if n == 0 for e in evs), \
            f"{did} needs a failed-call sample that must not fire"


def test_missing_fields_never_raise() -> None:
    bare = event("X")
    for cls in REGISTRY.values():
        assert cls(DetectorContext()).on_event(bare) == []  # no identity: nothing to say
