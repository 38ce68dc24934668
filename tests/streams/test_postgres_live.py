"""auditwatch's PostgreSQL source against a REAL PostgreSQL 15 + pgaudit server.

A throw-away cluster (tests/pgcluster.py) logs to ``jsonlog`` and ``csvlog`` at
once; each test runs SQL through psql, waits for the logging collector to write
the records, and reads both files through ``read_path`` — what auditwatch sees
in production, not hand-written fixtures.

Tests share the session's cluster but not its objects: each one works in its
own database (or on ``prod_app``, which only the agent test touches) and tags
its connection with its own application_name, and looks only at its events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from auditwatch.model import Event
from auditwatch.streams.reader import read_path
from auditwatch.streams.sources.base import DeadLetter
from tests.pgcluster import ADMIN_USER, AGENT_USER, PROD_DB, PgCluster

pytestmark = pytest.mark.system

FORMATS = ("postgres-jsonlog", "postgres-csvlog")
WAIT = 10.0


# -- helpers ----------------------------------------------------------------
def log_path(c: PgCluster, fmt: str) -> Path:
    return c.json_log if fmt == "postgres-jsonlog" else c.csv_log


def read_all(path: Path, fmt: str) -> tuple[list[Event], list[DeadLetter]]:
    events: list[Event] = []
    dead: list[DeadLetter] = []
    for item in read_path(path, fmt=fmt):
        (dead if isinstance(item, DeadLetter) else events).append(item)
    return events, dead


def _complete(path: Path) -> bool:
    """The collector has finished the last record it started (no half-written line)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    return data.endswith(b"\n")


def wait_events(c: PgCluster, fmt: str, select: Callable[[Event], bool],
                done: Callable[[list[Event]], bool], timeout: float = WAIT) -> list[Event]:
    """Re-read the log until the selected events satisfy ``done``; those events.

    The logging collector writes asynchronously, so a record may land a moment
    after psql returns. On timeout the selected events are returned as they are
    and the caller's assertions say what is missing.
    """
    path = log_path(c, fmt)
    deadline = time.monotonic() + timeout
    while True:
        sel: list[Event] = []
        if _complete(path):
            events, _ = read_all(path, fmt)
            sel = [e for e in events if select(e)]
            if done(sel):
                return sel
        if time.monotonic() >= deadline:
            return sel
        time.sleep(0.1)


def of(db: str, app: str) -> Callable[[Event], bool]:
    return lambda e: e.resource.database == db and e.actor.application_name == app


def named(events: list[Event], name: str) -> list[Event]:
    return [e for e in events if e.action.name == name]


def raw_lines(c: PgCluster, fmt: str, needle: str) -> str:
    """The raw log records containing ``needle`` (for failure messages)."""
    text = c.log_text("json" if fmt == "postgres-jsonlog" else "csv")
    return "\n".join(ln for ln in text.splitlines() if needle in ln)


def assert_no_dead_letters(c: PgCluster) -> None:
    for fmt in FORMATS:
        path = log_path(c, fmt)
        c.wait_for(lambda _t, p=path: _complete(p), which="json" if fmt == "postgres-jsonlog" else "csv")
        events, dead = read_all(path, fmt)
        assert events, f"no events at all in {path}"
        assert dead == [], f"{fmt}: dead letters from what the server wrote:\n" + "\n".join(
            f"{d.reason} @ line {d.source.line}: {d.raw[:300]!r}" for d in dead)


def fresh_db(c: PgCluster, name: str, sql: str) -> None:
    c.create_db(name, owner=AGENT_USER, sql=sql)


# -- a. an agent drops a table and the backups schema --------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_agent_drops_table_and_backup_schema(pg_cluster: PgCluster, fmt: str) -> None:
    c = pg_cluster
    app = "cursor-agent"
    if not getattr(c, "_agent_drop_done", False):  # once for both formats: the log has both
        r = c.psql(["DROP TABLE customers CASCADE", "DROP SCHEMA backups CASCADE"],
                   user=AGENT_USER, db=PROD_DB, app=app)
        assert r.returncode == 0, r.stderr
        c._agent_drop_done = True  # type: ignore[attr-defined]

    sel = wait_events(c, fmt, of(PROD_DB, app),
                      lambda evs: bool(named(evs, "DROP TABLE")) and bool(named(evs, "DROP SCHEMA")))

    drops = named(sel, "DROP TABLE")
    # pgaudit writes 8 records for this one statement (the table, its index,
    # constraints, RI triggers): one statement, one event
    assert len(drops) == 1, [e.to_dict() for e in sel]
    d = drops[0]
    assert "data.destroy" in d.action.categories
    assert d.action.outcome == "success"
    assert d.action.error == ""
    assert d.actor.principal == AGENT_USER
    assert d.actor.application_name == app
    assert d.actor.client_addr == "127.0.0.1"
    assert d.actor.session_id
    assert d.resource.database == PROD_DB
    assert d.resource.type == "table"
    assert "public.customers" in d.resource.name.split(",")
    assert d.action.statement == "DROP TABLE customers CASCADE"
    assert d.activity == "sql"

    schemas = named(sel, "DROP SCHEMA")
    assert len(schemas) == 1, [e.to_dict() for e in sel]
    s = schemas[0]
    assert "backup.destroy" in s.action.categories
    assert "data.destroy" in s.action.categories
    assert s.action.outcome == "success"
    assert s.actor.principal == AGENT_USER
    assert s.actor.application_name == app
    assert s.resource.database == PROD_DB
    assert s.action.statement == "DROP SCHEMA backups CASCADE"
    # both statements ran in one psql session
    assert s.actor.session_id == d.actor.session_id
    assert len(sel) == 2, [e.to_dict() for e in sel]

    # every record the server wrote so far (startup, setup, the drops) parses
    assert_no_dead_letters(c)


# -- b. a failing statement --------------------------------------------------------
FAIL_DB = "t_fail"
_fail_setup_done: set[str] = set()


def _fail_setup(c: PgCluster) -> None:
    if FAIL_DB in _fail_setup_done:
        return
    fresh_db(c, FAIL_DB, """
        CREATE TABLE parent (id int PRIMARY KEY);
        CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id));
        INSERT INTO parent VALUES (1), (2);
        INSERT INTO child VALUES (10, 1);
    """)
    # a second database that also writes log_statement lines (statement logged before it runs)
    fresh_db(c, FAIL_DB + "_ls", "")
    c.psql_ok(f"ALTER DATABASE {FAIL_DB}_ls SET log_statement = 'ddl'", user=ADMIN_USER, app="auditwatch-setup")
    r = c.psql("DROP TABLE does_not_exist", user=AGENT_USER, db=FAIL_DB, app="aw-fail-pgaudit")
    assert r.returncode == 1 and "does not exist" in r.stderr, r
    r = c.psql("DROP TABLE does_not_exist", user=AGENT_USER, db=FAIL_DB + "_ls", app="aw-fail-logstmt")
    assert r.returncode == 1 and "does not exist" in r.stderr, r
    r = c.psql("DELETE FROM parent", user=AGENT_USER, db=FAIL_DB, app="aw-fail-dml")
    assert r.returncode == 1 and "violates foreign key" in r.stderr, r
    _fail_setup_done.add(FAIL_DB)


def _failed(evs: list[Event]) -> bool:
    return any(e.action.outcome == "failure" for e in evs)


@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_drop_logged_by_log_statement_is_a_failure(pg_cluster: PgCluster, fmt: str) -> None:
    """log_statement writes the DROP before it runs, then the ERROR (42P01) follows."""
    c = pg_cluster
    _fail_setup(c)
    sel = wait_events(c, fmt, of(FAIL_DB + "_ls", "aw-fail-logstmt"), _failed)
    assert len(sel) == 1, ([e.to_dict() for e in sel], raw_lines(c, fmt, "aw-fail-logstmt"))
    e = sel[0]
    assert e.action.name == "DROP TABLE"
    assert e.action.outcome == "failure"
    assert "42P01" in e.action.error
    assert "does_not_exist" in e.action.error
    assert "data.destroy" in e.action.categories
    assert e.actor.principal == AGENT_USER
    assert e.action.statement == "DROP TABLE does_not_exist"


@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_dml_audited_by_pgaudit_is_a_failure(pg_cluster: PgCluster, fmt: str) -> None:
    """pgaudit logs DML before it executes; the FK violation (23503) follows."""
    c = pg_cluster
    _fail_setup(c)
    sel = wait_events(c, fmt, of(FAIL_DB, "aw-fail-dml"), _failed)
    assert len(sel) == 1, ([e.to_dict() for e in sel], raw_lines(c, fmt, "aw-fail-dml"))
    e = sel[0]
    assert e.action.name == "DELETE"
    assert e.action.outcome == "failure"
    assert "23503" in e.action.error
    assert "data.destroy" in e.action.categories
    assert e.actor.principal == AGENT_USER


@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_drop_with_pgaudit_only_is_a_failure(pg_cluster: PgCluster, fmt: str) -> None:
    """With pgaudit alone the server writes only the ERROR record (it carries the
    statement); pgaudit logs DDL after it succeeds, so there is no AUDIT record."""
    c = pg_cluster
    _fail_setup(c)
    app = "aw-fail-pgaudit"
    # the ERROR record itself must be in the log before judging the parser
    c.wait_for(lambda t: "42P01" in t and app in t, which="json" if fmt == "postgres-jsonlog" else "csv")
    sel = wait_events(c, fmt, of(FAIL_DB, app), _failed, timeout=2.0)
    assert len(sel) == 1, ([e.to_dict() for e in sel], raw_lines(c, fmt, app))
    e = sel[0]
    assert e.action.name == "DROP TABLE"
    assert e.action.outcome == "failure"
    assert "42P01" in e.action.error
    assert "does_not_exist" in e.action.error
    assert "data.destroy" in e.action.categories
    assert e.action.statement == "DROP TABLE does_not_exist"
    assert e.actor.principal == AGENT_USER
    assert e.actor.application_name == app
    assert e.resource.database == FAIL_DB


# -- c. several statements in one query string --------------------------------------
MULTI_DB = "t_multi"


@pytest.mark.parametrize("fmt", FORMATS)
def test_multi_statement_query_string(pg_cluster: PgCluster, fmt: str) -> None:
    c = pg_cluster
    app = "aw-multi"
    if not getattr(c, "_multi_done", False):
        fresh_db(c, MULTI_DB, """
            CREATE TABLE orders (id int PRIMARY KEY, note text);
            INSERT INTO orders VALUES (1, 'a'), (2, 'b');
            CREATE TABLE orders_archive (id int PRIMARY KEY, note text);
            INSERT INTO orders_archive VALUES (1, 'old');
        """)
        r = c.psql("DELETE FROM orders; TRUNCATE orders_archive", user=AGENT_USER, db=MULTI_DB, app=app)
        assert r.returncode == 0, r.stderr
        c._multi_done = True  # type: ignore[attr-defined]

    sel = wait_events(c, fmt, of(MULTI_DB, app),
                      lambda evs: bool(named(evs, "DELETE")) and any(
                          e.action.name.startswith("TRUNCATE") for e in evs))
    assert len(sel) == 2, ([e.to_dict() for e in sel], raw_lines(c, fmt, app))
    dele, trunc = sel
    assert dele.action.name == "DELETE"
    assert dele.action.categories == ("data.destroy",)
    assert dele.action.statement == "DELETE FROM orders"
    assert dele.action.outcome == "success"
    # pgaudit's command tag for TRUNCATE is "TRUNCATE TABLE"
    assert trunc.action.name == "TRUNCATE TABLE"
    # "orders_archive" is a backup-ish name to the classifier (…_archive), hence both
    assert trunc.action.categories == ("backup.destroy", "data.destroy")
    assert trunc.action.statement == "TRUNCATE orders_archive"
    assert trunc.action.outcome == "success"
    assert dele.event_id != trunc.event_id
    assert dele.actor.principal == trunc.actor.principal == AGENT_USER


# -- d. a targeted DELETE: not destructive, literals redacted -------------------------
REDACT_DB = "t_redact"


@pytest.mark.parametrize("fmt", FORMATS)
def test_targeted_delete_not_destructive_and_redacted(pg_cluster: PgCluster, fmt: str) -> None:
    c = pg_cluster
    app = "aw-redact"
    if not getattr(c, "_redact_done", False):
        fresh_db(c, REDACT_DB, """
            CREATE TABLE orders (id int PRIMARY KEY, note text);
            INSERT INTO orders VALUES (1, 'secret@example.com'), (2, 'x'), (3, 'y');
        """)
        r = c.psql(["DELETE FROM orders WHERE id = 1",
                    "DELETE FROM orders WHERE note = 'secret@example.com'"],
                   user=AGENT_USER, db=REDACT_DB, app=app)
        assert r.returncode == 0, r.stderr
        c._redact_done = True  # type: ignore[attr-defined]

    sel = wait_events(c, fmt, of(REDACT_DB, app), lambda evs: len(evs) >= 2)
    assert len(sel) == 2, ([e.to_dict() for e in sel], raw_lines(c, fmt, app))
    by_id, by_note = sel
    for e in sel:
        assert e.action.name == "DELETE"
        assert e.action.categories == ()
        assert e.action.outcome == "success"
    assert by_id.action.statement == "DELETE FROM orders WHERE id = ?"
    assert "secret@example.com" not in by_note.action.statement
    assert "secret" not in by_note.action.statement
    assert by_note.action.statement == "DELETE FROM orders WHERE note = ?"


# -- e. turning statement logging off ---------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_alter_system_disables_logging(pg_cluster: PgCluster, fmt: str) -> None:
    c = pg_cluster
    app = "aw-alter-system"
    if not getattr(c, "_alter_done", False):
        try:
            r = c.psql("ALTER SYSTEM SET log_statement = 'none'", user=ADMIN_USER, db="postgres", app=app)
            assert r.returncode == 0, r.stderr
        finally:
            c.psql_ok("ALTER SYSTEM RESET log_statement", user=ADMIN_USER, db="postgres", app=app + "-reset")
        c._alter_done = True  # type: ignore[attr-defined]

    sel = wait_events(c, fmt, of("postgres", app), lambda evs: bool(evs))
    assert len(sel) == 1, ([e.to_dict() for e in sel], raw_lines(c, fmt, app))
    e = sel[0]
    assert e.action.name == "ALTER SYSTEM"
    assert "logging.disable" in e.action.categories
    assert e.action.outcome == "success"
    assert e.actor.principal == ADMIN_USER

    reset = wait_events(c, fmt, of("postgres", app + "-reset"), lambda evs: bool(evs))
    assert len(reset) == 1
    assert reset[0].action.name == "ALTER SYSTEM"
    assert "logging.disable" not in reset[0].action.categories


# -- the files as a whole -------------------------------------------------------------
def test_auto_detects_both_formats(pg_cluster: PgCluster) -> None:
    c = pg_cluster
    c.psql("CREATE TABLE IF NOT EXISTS aw_probe (id int)", user=ADMIN_USER, db="postgres", app="aw-probe")
    for fmt in FORMATS:
        wait_events(c, fmt, of("postgres", "aw-probe"), lambda evs: bool(evs))
        explicit, _ = read_all(log_path(c, fmt), fmt)
        auto, dead = read_all(log_path(c, fmt), "auto")
        assert dead == []
        assert [e.event_id for e in auto] == [e.event_id for e in explicit]


def test_jsonlog_and_csvlog_agree(pg_cluster: PgCluster) -> None:
    """Both files hold the same records: auditwatch must read the same audit trail.

    Nothing else runs meanwhile, so once both show this test's statement they are complete."""
    c = pg_cluster
    c.psql("CREATE TABLE IF NOT EXISTS aw_agree (id int)", user=ADMIN_USER, db="postgres", app="aw-agree")
    per: dict[str, list[tuple[object, ...]]] = {}
    for fmt in FORMATS:
        evs = wait_events(c, fmt, lambda e: True, lambda evs: any(
            e.actor.application_name == "aw-agree" for e in evs))
        per[fmt] = [(e.event_id, e.action.name, e.action.outcome, e.action.categories, e.action.statement,
                     e.actor.principal, e.actor.application_name, e.resource.database, e.resource.name)
                    for e in evs]
    j, k = per["postgres-jsonlog"], per["postgres-csvlog"]
    assert len(j) > 10
    assert j == k


def test_whole_log_has_no_dead_letters(pg_cluster: PgCluster) -> None:
    assert_no_dead_letters(pg_cluster)
