"""auditwatch's MariaDB source against a REAL MariaDB server with the server_audit plugin.

A throw-away server (tests/mariadb_server.py) writes ``server_audit.log``; the
agent account runs destructive and harmless statements through the
``mariadb`` client, and the file the server wrote is read through
``read_path`` with auto-detection and through the file follower, which is
what auditwatch does in production.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from auditwatch.detectors.taxonomy import DATA_DESTROY
from auditwatch.model import Event
from auditwatch.streams.follow import FileFollower
from auditwatch.streams.sources import mariadb_audit  # noqa: F401  (registers the source)
from auditwatch.streams.sources.base import DeadLetter
from auditwatch.streams.reader import read_path
from tests.mariadb_server import AGENT_USER, PROD_DB, MariaDbServer, mariadb_server  # noqa: F401

pytestmark = pytest.mark.system

# What the agent runs, each through its own connection unless grouped (one session,
# one query string). The expectations below are written from these, not from the log.
RUN: list[tuple[str, ...]] = [
    ("DROP TABLE customers",),
    ("TRUNCATE TABLE orders",),
    ("DELETE FROM invoices WHERE id = 1",),
    ("DELETE FROM invoices",),
    ("DROP TABLE does_not_exist",),
    (
        "DROP TABLE scratch_a",
        "UPDATE scratch_b SET v = 2 WHERE id = 1",
        "SELECT 1",
    ),  # one multi-statement query
    ("DROP TABLE scratch_c, missing_table",),  # drops scratch_c, then fails on the other
]
# statement (redacted as the classifier prints it) -> (outcome, error, categories)
EXPECTED_STATEMENTS = {
    "DROP TABLE customers": ("success", "", (DATA_DESTROY,)),
    "TRUNCATE TABLE orders": ("success", "", (DATA_DESTROY,)),
    "DELETE FROM invoices WHERE id = ?": ("success", "", ()),
    "DELETE FROM invoices": ("success", "", (DATA_DESTROY,)),
    "DROP TABLE does_not_exist": ("failure", "retcode 1051", (DATA_DESTROY,)),
    "DROP TABLE scratch_a": ("success", "", (DATA_DESTROY,)),
    "UPDATE scratch_b SET v = ? WHERE id = ?": ("success", "", ()),
    "SELECT ?": ("success", "", ()),
    "DROP TABLE scratch_c, missing_table": ("failure", "retcode 1051", (DATA_DESTROY,)),
}
# DROP records the server writes for tables it really dropped: table -> categories on
# the table event (none where the successful statement event already carries them)
EXPECTED_DROPS = {"customers": (), "scratch_a": (), "scratch_c": (DATA_DESTROY,)}
# one successful data.destroy per destroyed thing: customers, orders, invoices, scratch_a, scratch_c
EXPECTED_DONE_DESTROYS = 5


@dataclass
class AgentRun:
    server: MariaDbServer
    followed: list[object]  # what the file follower produced while the server wrote


def _agent_done(text: str) -> bool:
    """Every agent connection has been closed and logged (the last DISCONNECT is written
    by the server after the client returns)."""
    lines = text.splitlines()
    return sum(1 for ln in lines if f",{AGENT_USER}," in ln and ",DISCONNECT," in ln) == len(RUN)


@pytest.fixture(scope="module")
def agent_run(mariadb_server: MariaDbServer) -> AgentRun:  # noqa: F811
    """Runs RUN once as the agent, following the audit log while the server writes it."""
    s = mariadb_server
    follower = FileFollower(s.audit_log, fmt="auto", idle_flush_seconds=0.0)
    followed: list[object] = list(follower.poll())
    for group in RUN:
        r = s.sql(group[0], user=AGENT_USER, db=PROD_DB) if len(group) == 1 else s.sql_multi(group)
        if "does_not_exist" in group[0] or "missing_table" in group[0]:
            assert "ERROR 1051" in r.stderr, r.stderr
        else:
            assert r.returncode == 0 and not r.stderr, r.stderr
        # idle flushes may fall between a table record and its statement
        followed += follower.poll()
    s.wait_for(_agent_done)
    size = s.audit_log.stat().st_size
    deadline = time.monotonic() + 10
    while follower.offset < size and time.monotonic() < deadline:
        followed += follower.poll()
    followed += follower.poll()  # idle: flush what the parser holds
    followed += follower.close()
    assert follower.offset == size
    return AgentRun(s, followed)


def _split(items: list[object]) -> tuple[list[Event], list[DeadLetter]]:
    events = [i for i in items if isinstance(i, Event)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert len(events) + len(dead) == len(items)
    return events, dead


def _agent(events: list[Event]) -> list[Event]:
    return [e for e in events if e.actor.principal == AGENT_USER]


def test_real_audit_log_is_detected_and_read_without_dead_letters(agent_run: AgentRun) -> None:
    events, dead = _split(list(read_path(agent_run.server.audit_log)))
    assert dead == []
    assert {e.source.type for e in events} == {"mariadb-audit"}
    # every record line the server wrote is an event (the multi-statement query is three records)
    lines = [ln for ln in agent_run.server.audit_text().splitlines() if ln.strip()]
    assert len(events) == len(lines)


def test_agent_statements_attributed_categorised_and_failures_kept(agent_run: AgentRun) -> None:
    events, _ = _split(list(read_path(agent_run.server.audit_log)))
    agent = _agent(events)
    now = time.time()
    for e in agent:
        assert e.actor.principal_type == "db_user"
        assert e.actor.credential_id == f"mysql:{AGENT_USER}"
        assert e.actor.client_addr == "127.0.0.1"  # --skip-name-resolve: the client by IP
        assert e.actor.session_id.isdigit()
        assert e.activity == "sql"
        assert now - 300 < e.time <= now + 5  # server writes local time; the fixture runs it in UTC
    connects = [e for e in agent if e.action.name == "CONNECT"]
    assert len(connects) == len(RUN) and all(e.succeeded for e in connects)
    assert all(e.actor.principal == "root" for e in events if e.actor.client_addr == "localhost")
    queries = [e for e in agent if e.raw["via"] == "query"]
    got = {
        e.action.statement: (e.action.outcome, e.action.error, e.action.categories) for e in queries
    }
    assert got == EXPECTED_STATEMENTS
    assert len(queries) == len(EXPECTED_STATEMENTS)
    assert all(e.resource.database == PROD_DB for e in queries)
    by_stmt = {e.action.statement: e for e in queries}
    assert by_stmt["DROP TABLE customers"].resource.name == "customers"
    assert by_stmt["DROP TABLE customers"].resource.type == "table"
    # the multi-statement query: one session, three records with their own query ids
    multi = [
        by_stmt[s]
        for s in ("DROP TABLE scratch_a", "UPDATE scratch_b SET v = ? WHERE id = ?", "SELECT ?")
    ]
    assert len({e.actor.session_id for e in multi}) == 1
    assert len({e.raw["query_id"] for e in multi}) == 3
    # each RUN group is its own connection
    assert len({e.actor.session_id for e in queries}) == len(RUN)


def test_table_records_pair_with_their_statements(agent_run: AgentRun) -> None:
    events, _ = _split(list(read_path(agent_run.server.audit_log)))
    agent = _agent(events)
    drops = {
        e.resource.name: e for e in agent if e.raw["via"] == "table" and e.action.name == "DROP"
    }
    assert {k: v.action.categories for k, v in drops.items()} == EXPECTED_DROPS
    assert all(
        e.action.outcome == "success" and e.resource.database == PROD_DB for e in drops.values()
    )
    assert (
        "does_not_exist" not in drops and "missing_table" not in drops
    )  # nothing dropped, nothing written
    # TRUNCATE and DELETE open their table for writing: WRITE records, outcome of their statement
    writes = [
        e
        for e in agent
        if e.raw["via"] == "table" and e.action.name == "WRITE" and e.resource.database == PROD_DB
    ]
    assert {e.resource.name for e in writes} >= {"orders", "invoices", "scratch_b"}
    assert all(e.action.outcome == "success" and e.action.categories == () for e in writes)
    # a statement's destructive act is counted once
    done = [e for e in agent if e.succeeded and DATA_DESTROY in e.action.categories]
    assert len(done) == EXPECTED_DONE_DESTROYS


def test_follower_sees_the_same_acts_counted_once(agent_run: AgentRun) -> None:
    """Read while the server writes, with idle flushes between records: a table record
    released before its statement arrived must not make a destructive act count twice."""
    events, dead = _split(agent_run.followed)
    assert dead == []
    replay, _ = _split(list(read_path(agent_run.server.audit_log)))
    assert sorted(e.event_id for e in events) == sorted(e.event_id for e in replay)
    agent = _agent(events)
    done = [e for e in agent if e.succeeded and DATA_DESTROY in e.action.categories]
    assert len(done) == EXPECTED_DONE_DESTROYS
    # per statement (connection + query id), at most one successful destroy
    keys = [(e.actor.session_id, e.raw["query_id"]) for e in done]
    assert len(keys) == len(set(keys))
