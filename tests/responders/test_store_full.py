"""A full disk under the store: a clear error, detection and revocation go on, and the
database is not corrupted."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

from auditwatch.config import Config, RespondersConfig, WebhookConfig
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.detectors.rules.state import load_event
from auditwatch.store import Store
from auditwatch.streams.embedded import Pipeline

SECRET = "whsec_" + base64.b64encode(b"f" * 32).decode()


def test_store_full_keeps_detecting_and_revoking(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    os.environ["AW_T_FULL"] = SECRET
    with WebhookReceiver(SECRET) as rx:
        cfg = Config(store=str(tmp_path / "aw.db"), dead_letter="",
                     identities=[{"id": "agent:x", "kind": "agent", "match": {"db_roles": ["agent_rw"]}}],
                     responders=RespondersConfig(webhook=WebhookConfig(url=rx.url, secret_env="AW_T_FULL")))
        store = Store(tmp_path / "aw.db")
        pipe = Pipeline(cfg, store=store)
        # the disk is full: SQLite may not grow the file any more
        pages = store.conn().execute("PRAGMA page_count").fetchone()[0]
        store.conn().execute(f"PRAGMA max_page_count = {pages}")
        big = "x" * 200_000
        for i in range(5):
            ev = load_event({"time": 1_700_000_000 + i, "action": "DROP TABLE", "categories": ["data.destroy"],
                             "activity": "sql", "statement": big,
                             "resource": {"environment": "prod", "name": f"t{i}", "database": "prod_app"},
                             "actor": {"principal": "agent_rw", "principal_type": "db_user"}}, n=i)
            pipe.process(ev)  # must not raise
        assert len(pipe.alerts) == 5 and pipe.store_errors > 0
        assert any("write failed" in r.getMessage() for r in caplog.records)
        assert len(rx.state.accepted) == 1  # the revocation still went out, once
        pipe.close(drain_timeout=2)
    ok = sqlite3.connect(tmp_path / "aw.db").execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok"
