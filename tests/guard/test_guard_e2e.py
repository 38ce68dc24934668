"""`auditwatch guard` run exactly as Claude Code runs it (hook JSON on stdin, exit code
and stdout read back) on the incident's curl: denied; the monitor gets the denied
attempt and alerts naming the agent, its owner and the token fingerprint; a provider's
later deletion with the same token is joined to that agent session in one incident."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

AW = [sys.executable, "-m", "auditwatch.cli"]
TOKEN = "railway-token-7f3c9d1e-0a2b-4c5d-8e9f-000000000001"
CURL = ('curl -s -X POST https://backboard.railway.app/graphql/v2 -H "Authorization: Bearer $RAILWAY_TOKEN" '
        '-H "Content-Type: application/json" -d \'{"query":"mutation { volumeDelete(volumeId: \\"3d2c42fb\\") }"}\'')


def hook(command: str, spool: Path, cfg: Path) -> tuple[dict, int]:  # type: ignore[type-arg]
    event = {"session_id": "sess-42", "transcript_path": "/tmp/t.jsonl", "cwd": "/home/dana/app",
             "hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": command}}
    p = subprocess.run([*AW, "guard", "--config", str(cfg)], input=json.dumps(event), capture_output=True, text=True,
                       timeout=60, env={**os.environ, "RAILWAY_TOKEN": TOKEN})
    return json.loads(p.stdout), p.returncode


def test_the_incident_is_denied_recorded_and_joined(tmp_path: Path) -> None:
    spool = tmp_path / "agent-hooks.jsonl"
    cfg = tmp_path / "guard.yaml"
    cfg.write_text(f"guard:\n  agent: agent:dana-claude\n  owner: dana@example.com\n  spool: {spool}\n")
    out, code = hook(CURL, spool, cfg)
    assert code == 0
    hs = out["hookSpecificOutput"]
    assert hs["hookEventName"] == "PreToolUse" and hs["permissionDecision"] == "deny"
    assert "data.destroy" in hs["permissionDecisionReason"] and TOKEN not in json.dumps(out)
    out2, _ = hook("git status && pytest -q tests/unit", spool, cfg)
    assert out2["hookSpecificOutput"]["permissionDecision"] == "allow"
    recs = [json.loads(x) for x in spool.read_text().splitlines()]
    assert [r["decision"] for r in recs] == ["deny", "allow"]
    assert TOKEN not in spool.read_text()
    fp = recs[0]["credentials"][0]["fingerprint"]
    assert fp == hashlib.sha256(TOKEN.encode()).hexdigest()[:16]

    # the provider's own audit log, later: the same token deletes a production repository
    hashed = base64.b64encode(hashlib.sha256(TOKEN.encode()).digest()).decode()
    gh = tmp_path / "github-audit.jsonl"
    gh.write_text(json.dumps({"@timestamp": int((time.time() + 60) * 1000), "_document_id": "doc-1",
                              "action": "repo.destroy", "actor": "dana", "repo": "acme/prod-api", "org": "acme",
                              "hashed_token": hashed, "programmatic_access_type": "Fine-grained personal access token",
                              "user_agent": "curl/8.5.0"}) + "\n")
    (tmp_path / "c.yaml").write_text("store: ':memory:'\n")
    p = subprocess.run([*AW, "replay", "--format", "jsonl", "--config", str(tmp_path / "c.yaml"), str(spool), str(gh)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    alerts = [json.loads(x) for x in p.stdout.splitlines()]
    denied = [a for a in alerts if a["rule_id"] == "agent-guard-denied"]
    assert len(denied) == 1
    d = denied[0]
    assert d["identity"]["id"] == "agent:dana-claude" and d["identity"]["kind"] == "agent"
    assert d["identity"]["owner"] == "dana@example.com"
    assert d["evidence"][0]["credential"] == f"fp:{fp}"
    provider = [a for a in alerts if a["evidence"][0]["action"] == "repo.destroy"]
    assert provider and all(a["identity"]["id"] == "agent:dana-claude" for a in provider)
    assert {a["incident_id"] for a in provider} == {d["incident_id"]}  # one incident: the session and the deletion
    assert any("same credential as agent session sess-42" in e for e in provider[0]["identity"]["evidence"])
