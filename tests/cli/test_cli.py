"""The commands as users run them: real processes, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from auditwatch.demo import scenario

AW = [sys.executable, "-m", "auditwatch.cli"]


def run(*args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([*AW, *args], input=stdin.decode() if stdin else None, capture_output=True, text=True,
                       timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("demo")
    files = scenario.write(d)
    cfg = d / "auditwatch.yaml"
    cfg.write_text(f"registry: {files['registry']}\nstore: {d / 'aw.db'}\ndead_letter: {d / 'dl.jsonl'}\n")
    return files | {"config": cfg, "dir": d}


def test_demo_json_revokes_the_agents_and_nobody_else() -> None:
    d = json.loads(run("demo", "--json").stdout)
    assert d["events"] == 29 and d["dead_letters"] == 0
    kinds = {a["identity"]["kind"] for a in d["alerts"]}
    assert kinds == {"agent"}
    alerted = {a["identity"]["id"] for a in d["alerts"]}
    assert alerted == {"arn:aws:iam::111122223333:user/domains-manager", "agent:dana-cursor"}
    assert "agent:docs-bot" not in alerted  # the well-behaved agent
    assert {r["identity"]["id"] for r in d["revocations"]} == alerted
    assert all(r["status"] == "delivered" and r["receiver_verified"] for r in d["revocations"])
    assert d["receiver"] == {"accepted": 2, "duplicates": 0, "rejected_signatures": 0}
    assert isinstance(d["first_destructive_to_revocation_ms"], float)
    assert 0 < d["first_destructive_to_revocation_ms"] < 10_000
    creds = {c["id"] for r in d["revocations"] for c in r["credentials"]}
    assert {"AKIADOMAINSMGR000001", "agent_rw"} <= creds


def test_demo_story_mentions_the_revocation() -> None:
    out = run("demo").stdout
    assert "REVOKED agent:dana-cursor" in out and "agent-destroys-protected" in out


def test_replay_jsonl_alert_shape(demo_files: dict[str, Path]) -> None:
    p = run("replay", "--config", str(demo_files["config"]), "--format", "jsonl",
            str(demo_files["cloudtrail"]), str(demo_files["postgres"]))
    alerts = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(alerts) == 10
    assert sorted({(a["identity"]["id"], a["rule_id"]) for a in alerts}) == [
        ("agent:dana-cursor", "agent-destroys-protected"), ("agent:dana-cursor", "agent-outside-scope"),
        ("agent:dana-cursor", "data-and-backup-destroyed"),
        ("arn:aws:iam::111122223333:user/domains-manager", "agent-destroys-protected"),
        ("arn:aws:iam::111122223333:user/domains-manager", "data-and-backup-destroyed")]
    for a in alerts:
        assert a["severity"] in ("info", "low", "medium", "high", "critical")
        assert set(a["identity"]) >= {"id", "kind", "confidence"}
        assert isinstance(a["categories"], list)
        assert a["categories"] or a["rule_id"] == "agent-outside-scope"
        assert a["identity"]["kind"] == "agent"
        for e in a["evidence"]:
            assert set(e) >= {"source", "event_id", "time", "action", "resource"}
    # without a webhook configured the revocation is recorded, not silently lost
    assert "2 revocations" in p.stderr


def test_replay_events(demo_files: dict[str, Path]) -> None:
    p = run("replay", "--events", "--config", str(demo_files["config"]), str(demo_files["postgres"]))
    evs = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(evs) == 16
    for e in evs:
        assert set(e) >= {"event_id", "time", "source", "action", "outcome", "categories", "resource", "identity"}
        assert set(e["identity"]) >= {"id", "kind", "confidence"}
    failed = [e for e in evs if e["outcome"] == "failure"]
    assert [(e["action"], e["error"][:5]) for e in failed] == [("DROP TABLE", "42P01")]
    assert len({e["event_id"] for e in evs}) == len(evs)


def test_malformed_line_is_dead_lettered_and_the_rest_processed(tmp_path: Path, demo_files: dict[str, Path]) -> None:
    lines = demo_files["postgres"].read_text().splitlines()
    lines.insert(3, '{"timestamp": "2026-04-24 09:00:41.000 UTC", "error_severity": "LOG", "message": "AUDIT: SES')
    bad = tmp_path / "pg.json"
    bad.write_text("\n".join(lines) + "\n")
    dl = tmp_path / "dl.jsonl"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"registry: {demo_files['registry']}\nstore: ':memory:'\ndead_letter: {dl}\n")
    p = run("replay", "--config", str(cfg), "--format", "jsonl", str(bad))
    assert len(p.stdout.splitlines()) == 8  # the agent's alerts still come out
    assert "16 events, 1 dead letters" in p.stderr
    (rec,) = [json.loads(x) for x in dl.read_text().splitlines()]
    assert rec["reason"].startswith("invalid JSON") and rec["source"]["line"] == 4
    assert rec["raw"].startswith('{"timestamp"')


def test_replay_from_stdin(demo_files: dict[str, Path]) -> None:
    p = run("replay", "--format", "jsonl", "--config", str(demo_files["config"]), "-",
            stdin=demo_files["postgres"].read_bytes())
    assert len(p.stdout.splitlines()) == 8


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("responders:\n  webhook:\n    url: http://x\n    secret: plain-text\n")
    p = run("replay", "--config", str(cfg), "/dev/null", check=False)
    assert p.returncode != 0 and "responders.webhook.secret" in p.stderr and "secret_env" in p.stderr
    cfg.write_text("detectors:\n  allowed_lateness_seconds: soon\n")
    p = run("replay", "--config", str(cfg), "/dev/null", check=False)
    assert p.returncode != 0 and "detectors.allowed_lateness_seconds" in p.stderr


def test_sql_command() -> None:
    p = run("sql", "DROP TABLE a; DELETE FROM b WHERE email = 'x@y.z'")
    rows = [json.loads(x) for x in p.stdout.splitlines()]
    assert [r["kind"] for r in rows] == ["DROP TABLE", "DELETE"]
    assert rows[0]["categories"] == ["data.destroy"] and rows[1]["categories"] == []
    assert "x@y.z" not in p.stdout


def test_replay_stats_backtests_without_revoking(demo_files: dict[str, Path]) -> None:
    p = run("replay", "--stats", "--format", "jsonl", "--config", str(demo_files["config"]),
            str(demo_files["cloudtrail"]), str(demo_files["postgres"]))
    rows = {r["rule_id"]: r for r in (json.loads(x) for x in p.stdout.splitlines())}
    assert (rows["agent-destroys-protected"]["alerts"], rows["agent-destroys-protected"]["incidents"]) == (4, 2)
    assert (rows["data-and-backup-destroyed"]["alerts"], rows["data-and-backup-destroyed"]["incidents"]) == (2, 2)
    assert rows["mass-deletion"]["alerts"] == 0 and "anomaly-first-time-seen" in rows
    assert "2 revocations" in p.stderr  # decided (dry-run), none sent: there is no receiver at all


def test_rules_commands(tmp_path: Path) -> None:
    p = run("rules", "test")
    assert "0 failed, 0 rule files with errors" in p.stdout and p.stdout.count("ok  ") >= 40
    (tmp_path / "mine.yaml").write_text("id: mine\ntitle: M\ndescription: Threat x. Evidence y.\nseverity: low\n"
                                        "attack: [T1485]\nmatch: {action: DROP TABLE}\nsamples:\n"
                                        "  - {name: drop, expect: fire, events: [{t: 0, action: DROP TABLE}]}\n"
                                        "  - {name: select, expect: fire, events: [{t: 0, action: SELECT}]}\n")
    p = run("rules", "test", str(tmp_path), check=False)
    assert p.returncode == 1 and "FAIL mine: select (expected fire, fired 0)" in p.stdout
    (tmp_path / "broken.yaml").write_text("id: broken\ntitle: B\ndescription: x\nseverity: low\nattack: [T1485]\n"
                                          "match: {outcome: {between: 1}}\n")
    p = run("rules", "lint", str(tmp_path), check=False)
    assert p.returncode == 1 and f"{tmp_path / 'broken.yaml'}:6: unknown operator 'between'" in p.stderr


def test_explain_and_identities(demo_files: dict[str, Path]) -> None:
    p = run("explain", "--json", "--line", "17", "--config", str(demo_files["config"]), str(demo_files["postgres"]))
    (doc,) = [json.loads(x) for x in p.stdout.splitlines()]
    assert doc["identity"]["id"] == "agent:dana-cursor" and doc["identity"]["kind"] == "agent"
    assert doc["identity"]["evidence"] == ["registry: db role 'agent_rw' -> agent:dana-cursor"]
    assert {d["rule_id"] for d in doc["detectors"]} == {"agent-destroys-protected", "agent-outside-scope"}
    text = run("explain", "--config", str(demo_files["config"]), str(demo_files["cloudtrail"])).stdout
    assert "because user agent matches cursor signature" in text and "detector  none matched" in text
    rows = [json.loads(x) for x in run("identities", "--json", "--config", str(demo_files["config"]),
                                       str(demo_files["cloudtrail"]), str(demo_files["postgres"])).stdout.splitlines()]
    by = {r["id"]: r for r in rows}
    assert by["agent:dana-cursor"]["kind"] == "agent" and by["agent:dana-cursor"]["owner"] == "dana@example.com"
    assert by["agent:dana-cursor"]["categories"] == {"backup.destroy": 1, "data.destroy": 3}  # + 1 failed DROP
    assert by["agent:dana-cursor"]["failures"] == 1
    assert by["alice@example.com"]["categories"] == {} and by["alice@example.com"]["failures"] == 1
    assert by["svc:orders-api"]["kind"] == "service" and by["svc:orders-api"]["events"] == 6
