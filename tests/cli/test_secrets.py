"""Secrets come from the environment or files, never from the YAML in clear, and never
show up in --help, errors or output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AW = [sys.executable, "-m", "auditwatch.cli"]
SECRET = "xoxb-super-secret-token-value-123"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AW, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_help_never_shows_secret_values() -> None:
    env = {"SLACK_BOT_TOKEN": SECRET, "AUDITWATCH_INGEST_TOKEN": SECRET, "AW_WEBHOOK": SECRET}
    for cmd in ([], ["run"], ["replay"], ["demo"], ["restore"], ["bench"], ["rules"]):
        p = run(*cmd, "--help", env=env)
        assert p.returncode == 0 and SECRET not in p.stdout + p.stderr


def test_clear_text_secrets_are_refused_naming_the_key(tmp_path: Path) -> None:
    for snippet, key in (("responders:\n  slack:\n    channel: '#x'\n    token: " + SECRET, "responders.slack.token"),
                         ("responders:\n  pagerduty:\n    routing_key: " + SECRET, "responders.pagerduty.routing_key"),
                         ("responders:\n  postgres:\n    password: " + SECRET, "responders.postgres.password")):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(snippet + "\n")
        p = run("replay", "--config", str(cfg), "/dev/null")
        assert p.returncode != 0 and key in p.stderr and SECRET not in p.stderr


def test_a_missing_secret_variable_is_named_not_shown(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("responders:\n  webhook:\n    url: http://127.0.0.1:9/x\n    secret_env: AW_NOT_SET_ANYWHERE\n")
    p = run("replay", "--config", str(cfg), "/dev/null")
    assert p.returncode != 0 and "AW_NOT_SET_ANYWHERE" in p.stderr
