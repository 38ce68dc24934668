"""The built-in rule pack tests itself, and every rule is well formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditwatch.detectors.base import ATTACK_ID
from auditwatch.detectors.rules.loader import PACK_DIR, load_dir
from auditwatch.detectors.rules.samples import run_samples

RULES, ERRORS = load_dir()


def test_pack_loads_cleanly() -> None:
    assert ERRORS == []
    assert {r.id for r in RULES} == {
        "agent-destroys-protected", "data-and-backup-destroyed", "logging-disabled", "destructive-in-protected",
        "logging-disabled-around-destruction", "privilege-escalation-then-destruction", "mass-deletion",
        "agent-creates-credential", "agent-outside-scope", "credential-outside-purpose", "privilege-escalation",
        "key-destruction", "agent-guard-denied"}


@pytest.mark.parametrize("result", run_samples(RULES), ids=lambda r: f"{r.rule_id}:{r.name}")
def test_every_sample(result) -> None:  # type: ignore[no-untyped-def]
    assert result.ok, f"{result.file}:{result.line}: {result.rule_id} '{result.name}' expected {result.expect}, " \
                      f"fired {result.fired} {result.problem}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_is_well_formed(rule) -> None:  # type: ignore[no-untyped-def]
    assert Path(rule.file).stem == rule.id and Path(rule.file).parent == PACK_DIR
    assert "Threat" in rule.description and "Evidence" in rule.description
    assert all(ATTACK_ID.match(t) for t in rule.attack)
    expects = [s["expect"] for s in rule.samples]
    assert "fire" in expects and "quiet" in expects
    # a failed call must never fire
    failed = [s for s in rule.samples if s["expect"] == "quiet"
              and any(e.get("outcome") == "failure" for e in s["events"])]
    assert failed, f"{rule.id} needs a quiet sample with a failed call"
    raw = Path(rule.file).read_text()
    assert "false_positives:" in raw


def test_lint_points_at_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "id: a\ntitle: A\ndescription: x\nseverity: high\nattack: [T1485]\nmatch:\n  outcome: success\n"
        "  identity.knid: agent\n")
    (tmp_path / "b.yaml").write_text("id: b\ntitle: B\ndescription: x\nseverity: huge\nattack: [T1485]\n"
                                     "match: {outcome: success}\n")
    (tmp_path / "c.yaml").write_text("id: c\ntitle: C\ndescription: x\nseverity: low\nattack: [T1485]\n"
                                     "kind: sequence\nmaxspan: soon\nsteps: []\n")
    (tmp_path / "d.yaml").write_text("id: d\n  bad: [\n")
    (tmp_path / "e.yaml").write_text("id: e\ntitle: E\ndescription: x\nseverity: low\nattack: [T1485]\n"
                                     "match:\n  resource.name: {regex: '(unclosed'}\n")
    rules, errors = load_dir(tmp_path)
    got = sorted((Path(e.file).name, e.line, e.message.split(" (")[0]) for e in errors)
    assert rules == []
    assert got[0] == ("a.yaml", 8, "unknown field 'identity.knid'")
    assert got[1] == ("b.yaml", 4, "severity must be one of info, low, medium, high, critical")
    assert got[2][0:2] == ("c.yaml", 7) and "bad duration" in got[2][2]
    assert got[3][0] == "d.yaml" and got[3][2].startswith("invalid YAML")
    assert got[4][0:2] == ("e.yaml", 7) and got[4][2].startswith("bad regex")
