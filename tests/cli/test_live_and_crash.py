"""The live PostgreSQL demo stops the second statement; `auditwatch restore` undoes a
revocation; a revocation survives kill -9 of the process that was delivering it."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.demo.scenario import _audit, _pg
from auditwatch.pgcluster import missing
from auditwatch.responders.revokers.postgres import PostgresRevoker
from tests.cli.test_run import free_port, wait_health
from tests.conftest import need
from tests.pgcluster import ADMIN_USER, PgCluster

AW = [sys.executable, "-m", "auditwatch.cli"]


def test_live_postgres_demo_stops_the_second_statement() -> None:
    why = missing()
    need(why is None, why or "")
    p = subprocess.run([*AW, "demo", "--live-postgres", "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["revoked"] and d["second_statement_failed"] and d["backups_intact"]
    assert "agent-destroys-protected" in d["alerts"] and d["revocation_status"] == ["delivered"]
    assert isinstance(d["destructive_to_revocation_ms"], float)


def test_restore_lets_the_role_log_in_again(pg_cluster: PgCluster, tmp_path: Path) -> None:
    c = pg_cluster
    c.psql_ok("CREATE ROLE restore_me LOGIN", user=ADMIN_USER)
    dsn = f"host=127.0.0.1 port={c.port} user={ADMIN_USER} dbname=postgres"
    (res,) = PostgresRevoker(dsn).revoke([{"type": "db_role", "id": "restore_me"}])
    assert res.ok and res.verified
    assert c.psql("SELECT 1", user="restore_me", check=False).returncode == 2  # refused
    (tmp_path / "c.yaml").write_text("store: ':memory:'\nresponders:\n  postgres:\n    dsn_env: AW_T_DSN\n")
    p = subprocess.run([*AW, "restore", "--config", str(tmp_path / "c.yaml"), "--db-role", "restore_me", "--json"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "AW_T_DSN": dsn})
    assert p.returncode == 0, p.stderr
    (row,) = [json.loads(x) for x in p.stdout.splitlines()]
    assert row["ok"] and row["verified"] and row["action"] == "restore"
    assert c.psql("SELECT 1", user="restore_me", check=False).returncode == 0
    assert "AW_T_DSN" not in p.stdout and dsn not in p.stdout + p.stderr  # the DSN never leaks


def test_revocation_survives_kill_9_during_retries(tmp_path: Path) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    with WebhookReceiver(secret) as rx:
        rx.state.fail_next = 10**6  # the receiver is down: the webhook sits in its retry loop
        port = free_port()
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"""
listen: 127.0.0.1:{port}
store: {tmp_path / 'aw.db'}
dead_letter: {tmp_path / 'dl.jsonl'}
identities:
  - {{id: "agent:x", kind: agent, match: {{db_roles: [agent_rw]}}}}
responders:
  webhook: {{url: "{rx.url}", secret_env: AW_T_SECRET, backoff_initial_seconds: 0.05, backoff_max_seconds: 0.2,
             max_attempts: 1000}}
""")
        env = {**os.environ, "AW_T_SECRET": secret}
        proc = subprocess.Popen([*AW, "run", "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env)
        base = f"http://127.0.0.1:{port}"
        wait_health(base)
        line = json.dumps(_pg(1, "agent_rw", "prod_app", "cursor", "s1", 1, 9,
                              _audit(1, "DDL", "DROP TABLE", "TABLE", "public.t", "DROP TABLE t")))
        assert httpx.post(base + "/ingest", content=line + "\n").json()["alerts"] >= 1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and rx.state.requests < 3:
            time.sleep(0.02)
        assert rx.state.requests >= 3 and not rx.state.accepted  # retrying
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        rx.state.fail_next = 0  # the receiver comes back
        proc2 = subprocess.Popen([*AW, "run", "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=env)
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not rx.state.accepted:
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            proc2.send_signal(signal.SIGTERM)
            proc2.communicate(timeout=30)
        assert len(rx.state.accepted) == 1 and rx.state.duplicates == 0
        assert rx.state.accepted[0].payload["data"]["identity"]["id"] == "agent:x"
