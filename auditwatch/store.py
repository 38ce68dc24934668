"""The local store (SQLite): alerts, incidents, the response outbox and every
delivery attempt.

WAL mode so the pipeline thread writes while the delivery thread reads; one
connection per thread. ``:memory:`` becomes a named shared-cache database so
threads still see one store.
"""

from __future__ import annotations

import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

import orjson

from auditwatch.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    incident_id TEXT PRIMARY KEY,
    identity_id TEXT NOT NULL,
    identity_kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    opened REAL NOT NULL,
    updated REAL NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    time REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,   -- webhook-id: one per incident and responder
    incident_id TEXT NOT NULL,
    responder TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    payload BLOB NOT NULL,
    status TEXT NOT NULL,                   -- pending | delivered | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    created REAL NOT NULL,
    created_mono REAL NOT NULL DEFAULT 0,
    delivered_at REAL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt);
CREATE INDEX IF NOT EXISTS outbox_incident ON outbox(responder, incident_id, status, id);
CREATE TABLE IF NOT EXISTS attempts (
    outbox_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (
    path TEXT PRIMARY KEY,
    inode INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    lineno INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS detector_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    saved REAL NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class Store:
    def __init__(self, path: str | Path) -> None:
        p = str(path)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if p == ":memory:":
            # a private file, not a shared-cache memory database: shared cache takes table
            # locks that threads (pipeline, delivery workers) would trip over
            self._tmp = tempfile.TemporaryDirectory(prefix="auditwatch-store-")
            self.uri = (Path(self._tmp.name) / "store.db").as_uri()
        else:
            try:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"store: cannot create the folder for {p!r}: {e}") from None
            self.uri = Path(p).resolve().as_uri()
        self.path = p
        self._local = threading.local()
        try:
            self._keepalive = self.conn()
            self._keepalive.executescript(SCHEMA)
        except sqlite3.Error as e:
            raise ConfigError(f"store: cannot open SQLite database {p!r}: {e}") from None

    def conn(self) -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.uri, uri=True, timeout=30, isolation_level=None,
                                check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL: a commit survives a process crash; only an OS crash may lose the last ones
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    # -- incidents and alerts ---------------------------------------------
    def save_incident(self, inc: dict[str, Any]) -> None:
        self.conn().execute(
            "INSERT INTO incidents(incident_id, identity_id, identity_kind, severity, status, opened,"
            " updated, revoked, body) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(incident_id) DO UPDATE SET"
            " severity=excluded.severity, status=excluded.status, updated=excluded.updated,"
            " revoked=excluded.revoked, body=excluded.body",
            (inc["incident_id"], inc["identity"]["id"], inc["identity"]["kind"], inc["severity"],
             inc["status"], inc["opened_ts"], inc["updated_ts"], int(inc["revoked"]), orjson.dumps(inc)),
        )

    def save_alert(self, a: dict[str, Any], t: float) -> None:
        self.conn().execute(
            "INSERT OR REPLACE INTO alerts(alert_id, incident_id, rule_id, severity, identity_id, time, body)"
            " VALUES (?,?,?,?,?,?,?)",
            (a["alert_id"], a["incident_id"], a["rule_id"], a["severity"], a["identity"]["id"], t,
             orjson.dumps(a)),
        )

    def alerts(self) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self.conn().execute("SELECT body FROM alerts ORDER BY time, alert_id")]

    def incidents(self) -> list[dict[str, Any]]:
        return [orjson.loads(r[0]) for r in self.conn().execute("SELECT body FROM incidents ORDER BY opened")]

    # -- outbox -----------------------------------------------------------
    def enqueue(self, key: str, incident_id: str, responder: str, endpoint: str, payload: bytes,
                now: float, mono: float) -> bool:
        """Queue a response once per idempotency key; False if it was already queued."""
        cur = self.conn().execute(
            "INSERT OR IGNORE INTO outbox(idempotency_key, incident_id, responder, endpoint, payload,"
            " status, next_attempt, created, created_mono) VALUES (?,?,?,?,?, 'pending', ?, ?, ?)",
            (key, incident_id, responder, endpoint, payload, now, now, mono),
        )
        return cur.rowcount == 1

    def due(self, responder: str, now: float, limit: int = 32) -> list[sqlite3.Row]:
        c = self.conn()
        c.row_factory = sqlite3.Row
        # first in, first out per incident and responder: a resolve never overtakes its
        # throttled trigger, a thread update never overtakes the message it updates
        rows = c.execute(
            "SELECT * FROM outbox o WHERE responder=? AND status='pending' AND next_attempt<=?"
            " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.responder = o.responder"
            " AND p.incident_id = o.incident_id AND p.status = 'pending' AND p.id < o.id)"
            " ORDER BY next_attempt, id LIMIT ?", (responder, now, limit)).fetchall()
        c.row_factory = None
        return rows

    def next_due(self, responder: str) -> float | None:
        r = self.conn().execute(
            "SELECT MIN(next_attempt) FROM outbox o WHERE responder=? AND status='pending'"
            " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.responder = o.responder"
            " AND p.incident_id = o.incident_id AND p.status = 'pending' AND p.id < o.id)",
            (responder,)).fetchone()
        return r[0] if r and r[0] is not None else None

    def record_attempt(self, row_id: int, attempt: int, at: float, status_code: int | None, error: str | None,
                       duration_ms: float, *, delivered: bool, dead: bool, next_attempt: float) -> None:
        c = self.conn()
        c.execute("BEGIN")
        c.execute("INSERT INTO attempts(outbox_id, attempt, at, status_code, error, duration_ms) VALUES (?,?,?,?,?,?)",
                  (row_id, attempt, at, status_code, error, duration_ms))
        status = "delivered" if delivered else ("dead" if dead else "pending")
        c.execute("UPDATE outbox SET attempts=?, status=?, next_attempt=?, delivered_at=?, last_error=? WHERE id=?",
                  (attempt, status, next_attempt, at if delivered else None, error, row_id))
        c.execute("COMMIT")

    def outbox(self) -> list[dict[str, Any]]:
        c = self.conn()
        c.row_factory = sqlite3.Row
        rows = [dict(r) for r in c.execute("SELECT * FROM outbox ORDER BY id")]
        c.row_factory = None
        for r in rows:
            r["payload"] = orjson.loads(r["payload"])
        return rows

    def attempts(self, outbox_id: int) -> list[dict[str, Any]]:
        c = self.conn()
        c.row_factory = sqlite3.Row
        rows = [dict(r) for r in c.execute("SELECT * FROM attempts WHERE outbox_id=? ORDER BY attempt", (outbox_id,))]
        c.row_factory = None
        return rows

    def pending_revocations(self, incident_id: str) -> int:
        """An incident's revocations not yet acknowledged by their receiver, nor given up on."""
        r = self.conn().execute("SELECT COUNT(*) FROM outbox WHERE incident_id=?"
                                " AND status='pending' AND idempotency_key LIKE 'revoke-%'", (incident_id,)).fetchone()
        return int(r[0])

    def pending_count(self) -> int:
        r = self.conn().execute("SELECT COUNT(*) FROM outbox WHERE status='pending'").fetchone()
        return int(r[0])

    def bump(self, name: str, n: int = 1) -> None:
        self.conn().execute("INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE"
                            " SET value = value + excluded.value", (name, n))

    def get_offset(self, path: str) -> tuple[int, int, int] | None:
        r = self.conn().execute("SELECT inode, offset, lineno FROM offsets WHERE path=?", (path,)).fetchone()
        return (int(r[0]), int(r[1]), int(r[2])) if r else None

    def set_offset(self, path: str, inode: int, offset: int, lineno: int) -> None:
        self.conn().execute("INSERT INTO offsets(path, inode, offset, lineno) VALUES (?,?,?,?) ON CONFLICT(path)"
                            " DO UPDATE SET inode=excluded.inode, offset=excluded.offset, lineno=excluded.lineno",
                            (path, inode, offset, lineno))

    def save_state(self, state: dict[str, Any], now: float) -> None:
        self.conn().execute("INSERT INTO detector_state(id, saved, body) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE"
                            " SET saved=excluded.saved, body=excluded.body", (now, orjson.dumps(state)))

    def load_state(self) -> dict[str, Any] | None:
        r = self.conn().execute("SELECT body FROM detector_state WHERE id = 1").fetchone()
        return orjson.loads(r[0]) if r else None

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None
