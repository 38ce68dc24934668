"""``auditwatch run`` as a real process: follows a file, takes POST /ingest,
serves /healthz, drains and exits on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from auditwatch.demo.scenario import _audit, _ct, _iam_user, _pg, CURSOR_UA


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_health(url: str, timeout: float = 20) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return httpx.get(url + "/healthz", timeout=1).json()  # type: ignore[no-any-return]
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("auditwatch run did not come up")


def test_run_follows_ingests_and_stops_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "pg.json"
    log.write_text("")
    port = free_port()
    (tmp_path / "c.yaml").write_text(f"""
listen: 127.0.0.1:{port}
store: {tmp_path / 'aw.db'}
dead_letter: {tmp_path / 'dl.jsonl'}
identities:
  - id: agent:dana
    kind: agent
    owner: dana
    match: {{db_roles: [agent_rw]}}
sources:
  - path: {log}
    format: postgres-jsonlog
""")
    proc = subprocess.Popen([sys.executable, "-m", "auditwatch.cli", "run", "--config", str(tmp_path / "c.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_health(base)["status"] == "ok"
        with open(log, "a") as f:
            f.write(json.dumps(_pg(1, "agent_rw", "prod_app", "cursor", "s9", 1, 9,
                                   _audit(1, "DDL", "DROP TABLE", "TABLE", "public.customers", "DROP TABLE customers"))) + "\n")
        rec = _ct(5, "DeleteDBInstance", "rds.amazonaws.com", _iam_user("domains", "AKIAX"), CURSOR_UA,
                  {"dBInstanceIdentifier": "prod-db", "skipFinalSnapshot": True})
        r = httpx.post(base + "/ingest", content=json.dumps(rec) + "\nnot json\n")
        assert r.json() == {"events": 1, "dead_letters": 1, "alerts": 2}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and wait_health(base)["alerts"] < 3:
            time.sleep(0.05)
        h = wait_health(base)
        assert (h["events"], h["dead_letters"], h["alerts"]) == (2, 1, 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    rules = sorted(json.loads(x)["rule_id"] for x in out.splitlines())
    assert rules == ["agent-destroys-protected", "agent-destroys-protected", "data-and-backup-destroyed"]
    dl = [json.loads(x) for x in (tmp_path / "dl.jsonl").read_text().splitlines()]
    assert [d["raw"] for d in dl] == ["not json\n"]


def test_ingest_requires_the_token_when_configured(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "c.yaml").write_text(f"listen: 127.0.0.1:{port}\nstore: ':memory:'\ndead_letter: ''\n")
    env = {**__import__("os").environ, "AUDITWATCH_INGEST_TOKEN": "t0ken"}
    proc = subprocess.Popen([sys.executable, "-m", "auditwatch.cli", "run", "--config", str(tmp_path / "c.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_health(base)
        assert httpx.post(base + "/ingest", content=b"x").status_code == 401
        r = httpx.post(base + "/ingest", content=b"x\n", headers={"authorization": "Bearer t0ken"})
        assert r.status_code == 200 and r.json()["dead_letters"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
