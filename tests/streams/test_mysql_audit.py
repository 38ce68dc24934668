"""MySQL-family audit sources: MariaDB server_audit (file and syslog), MySQL Enterprise
Audit JSON, Percona audit_log JSON — the public corpus samples, constructed records
for every mapped action, look-alikes, failures and malformed input.

The real-server counterpart is tests/streams/test_mariadb_live.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditwatch.detectors.taxonomy import (
    BACKUP_DESTROY,
    CREDENTIAL_CREATE,
    DATA_DESTROY,
    LOGGING_DISABLE,
    PRIVILEGE_ESCALATE,
)
from auditwatch.model import Event
from auditwatch.streams.sources import cloudtrail, postgres  # noqa: F401  (register)
from auditwatch.streams.sources import mariadb_audit, mysql_audit
from auditwatch.streams.sources.base import DeadLetter, Line, ParseContext
from auditwatch.streams.sources.json_records import JsonLinesParser
from auditwatch.streams.sources.registry import detect
from auditwatch.streams.reader import drive, make_parser, read_path, read_stream
from auditwatch.timeparse import parse_time

MARIADB = "ibm-universal-connectors/mariadb"
MYSQL = "ibm-universal-connectors/mysql"


# -- helpers -------------------------------------------------------------------------


def read_text(
    text: str, fmt: str = "auto", name: str = "t.log"
) -> tuple[list[Event], list[DeadLetter]]:
    stream = io.BufferedReader(io.BytesIO(text.encode()))  # type: ignore[arg-type]
    items = list(read_stream(stream, name, fmt))
    return _split(items)


def _split(items: list[Any]) -> tuple[list[Event], list[DeadLetter]]:
    events = [i for i in items if isinstance(i, Event)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert len(events) + len(dead) == len(items)
    return events, dead


def lines_of(text: str) -> list[Line]:
    out, off = [], 0
    for n, ln in enumerate(text.splitlines(keepends=True), 1):
        out.append(Line(ln, n, off))
        off += len(ln.encode())
    return out


def esc(sql: str) -> str:
    """What server_audit does to a statement before quoting it."""
    return (
        sql.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )


def sa(
    op: str,
    obj: str = "",
    rc: str = "0",
    *,
    conn: int = 7,
    qid: int = 100,
    user: str = "agent_rw",
    host: str = "10.0.0.9",
    db: str = "prod_app",
    ts: str = "20240501 10:00:00",
    srv: str = "db1",
) -> str:
    return f"{ts},{srv},{user},{host},{conn},{qid},{op},{db},{obj},{rc}\n"


def q(sql: str, rc: int = 0, **kw: Any) -> str:
    return sa("QUERY", "'" + esc(sql) + "'", str(rc), **kw)


def tbl(op: str, table: str, **kw: Any) -> str:
    return sa(op, table, "", **kw)


def mariadb(text: str) -> tuple[list[Event], list[DeadLetter]]:
    events, dead = read_text(text, "mariadb-audit")
    assert all(e.source.type == "mariadb-audit" for e in events)
    return events, dead


def summary(e: Event) -> tuple[Any, ...]:
    return (e.action.name, e.action.outcome, e.action.error, e.action.categories)


def done_destroys(events: list[Event]) -> int:
    return sum(1 for e in events if e.succeeded and DATA_DESTROY in e.action.categories)


# == MariaDB server_audit: corpus ======================================================

ONPREM_EXPECTED = [
    # (line, action, outcome, error, via, resource name)
    (1, "CONNECT", "success", "", "connection", "ip-172-31-44-208.ap-south-1.compute.internal"),
    (2, "SELECT", "success", "", "query", ""),
    (3, "CREATE DATABASE", "success", "", "query", "martiadb"),
    (4, "SELECT", "success", "", "query", ""),
    (5, "CREATE DATABASE", "success", "", "query", "mariadb"),
    (6, "SELECT", "success", "", "query", ""),
    (7, "SHOW", "success", "", "query", ""),
    (8, "SHOW", "success", "", "query", ""),
    (9, "CREATE", "success", "", "table", "connector_details"),
    (10, "CREATE TABLE", "success", "", "query", "connector_details"),
    (11, "INSERT", "failure", "retcode 1064", "query", "connector_details"),
    (12, "WRITE", "success", "", "table", "connector_details"),
    (13, "INSERT", "success", "", "query", "connector_details"),
    (14, "SELECT", "failure", "retcode 1146", "query", "connector_details"),
    (15, "READ", "success", "", "table", "connector_details"),
    (16, "SELECT", "success", "", "query", "connector_details"),
    (17, "CREATE PROCEDURE", "success", "", "query", ""),
    (18, "CREATE PROCEDURE", "failure", "retcode 1064", "query", ""),
    (19, "END", "failure", "retcode 1064", "query", ""),
    (20, "WRITE", "success", "", "table", "proc"),
    (21, "CREATE PROCEDURE", "success", "", "query", ""),
    (22, "GETORDERSBYCUSTOMERNAME", "failure", "retcode 1064", "query", ""),
    (
        22,
        "UNKNOWN",
        "failure",
        "retcode 1064",
        "query",
        "",
    ),  # "...\n;\n\n\n&&": the classifier splits it
    (23, "GETORDERSBYCUSTOMERNAME", "failure", "retcode 1064", "query", ""),
    (24, "EXEC", "failure", "retcode 1064", "query", ""),
    (25, "READ", "unknown", "", "table", "proc"),  # query id 514: no QUERY record followed
    (26, "READ", "success", "", "table", "Orders"),
    (27, "READ", "success", "", "table", "Customers"),
    (28, "SELECT", "success", "", "query", "orders"),
    (29, "CALL", "success", "", "query", ""),
    (30, "READ", "success", "", "table", "Orders"),
    (31, "READ", "success", "", "table", "Customers"),
    (32, "SELECT", "success", "", "query", "orders"),
    (33, "CALL", "success", "", "query", ""),
    (34, "DISCONNECT", "success", "", "connection", "ip-172-31-44-208.ap-south-1.compute.internal"),
    (35, "DISCONNECT", "success", "", "connection", "ip-172-31-44-208.ap-south-1.compute.internal"),
    (36, "CONNECT", "success", "", "connection", "ip-172-31-44-208.ap-south-1.compute.internal"),
]


def test_corpus_mariadb_onprem_exact_events(corpus: Path) -> None:
    path = corpus / MARIADB / "mariadb_server_audit_onprem_sample_audit_log.log"
    events, dead = _split(list(read_path(path)))  # auto-detected
    assert dead == []
    got = [
        (
            e.source.line,
            e.action.name,
            e.action.outcome,
            e.action.error,
            e.raw["via"],
            e.resource.name,
        )
        for e in events
    ]
    assert got == ONPREM_EXPECTED
    # independently from the raw file: one event per record, two for the record holding ';'
    records = [ln.split(",") for ln in path.read_text().splitlines() if ln.strip()]
    ops = [r[6] for r in records]
    assert sum(1 for e in events if e.raw["via"] == "query") == ops.count("QUERY") + 1
    assert sum(1 for e in events if e.raw["via"] == "table") == sum(
        ops.count(o) for o in ("READ", "WRITE", "CREATE")
    )
    assert sum(1 for e in events if e.raw["via"] == "connection") == ops.count(
        "CONNECT"
    ) + ops.count("DISCONNECT")
    assert [e.source.line for e in events if e.action.outcome == "failure"] == [
        n
        for n, r in enumerate(records, 1)
        if r[-1] not in ("", "0")
        for _ in range(2 if n == 22 else 1)
    ]
    # nothing in this file destroys anything
    assert all(e.action.categories == () for e in events)
    assert {e.source.type for e in events} == {"mariadb-audit"}
    for e in events:
        assert e.actor.principal == "root" and e.actor.principal_type == "db_user"
        assert e.actor.credential_id == "mysql:root" and e.actor.client_addr == "localhost"
        assert e.activity == "sql" and e.action.service == "mariadb"
    assert {e.actor.session_id for e in events} == {"21", "76", "62", "60", "63"}
    first = events[0]
    assert first.time == parse_time("2022-01-21 11:12:26")
    assert first.raw["server"] == "ip-172-31-44-208.ap-south-1.compute.internal"
    # literals never reach the statement; the routine's body is folded into its CREATE
    ins = next(e for e in events if e.source.line == 13)
    assert "Redis" not in ins.action.statement and "Brijesh" not in ins.action.statement
    assert next(e for e in events if e.source.line == 17).raw["routine_body_statements"] == 1
    assert next(e for e in events if e.source.line == 13).resource.database == "MariaDB"
    assert len({e.event_id for e in events}) == len(events)


def test_corpus_mariadb_rds_multiline_statements(corpus: Path) -> None:
    path = corpus / MARIADB / "mariadb_rds_server_audit_sample_audit_log.log"
    events, dead = _split(list(read_path(path)))
    assert dead == []
    assert [(e.source.line, e.action.name, e.action.outcome) for e in events] == (
        [(1, "CREATE TABLE", "success"), (2, "INSERT", "success")]
        + [(n, "SELECT", "success") for n in range(3, 14)]
    )
    assert all(e.action.categories == () for e in events)
    assert {
        (e.actor.principal, e.actor.client_addr, e.actor.session_id, e.resource.database)
        for e in events
    } == {("admin", "136.185.152.250", "29", "ORG")}
    # the quoted statement spans lines once unescaped: newlines and tabs come back
    first_line = path.read_text().splitlines()[0]
    rec = mariadb_audit.parse_record(first_line, 0.0)
    assert rec is not None
    assert rec.obj.startswith(
        "CREATE TABLE Worker (\n\tWORKER_ID INT NOT NULL PRIMARY KEY AUTO_INCREMENT,\n"
    )
    assert rec.obj.endswith("\tDEPARTMENT CHAR(25)\n)")
    assert events[0].resource.name == "worker"
    insert = events[1]
    assert "Monika" not in insert.action.statement and "100000" not in insert.action.statement
    # lines 7 and 8 are the same record written twice: same shape, two records, two ids
    assert events[6].action.fingerprint == events[7].action.fingerprint
    assert events[6].event_id != events[7].event_id


# == MariaDB server_audit: constructed records =========================================


@pytest.mark.parametrize(
    ("sql", "kind", "cats"),
    [
        ("DROP TABLE customers", "DROP TABLE", (DATA_DESTROY,)),
        ("TRUNCATE TABLE orders", "TRUNCATE", (DATA_DESTROY,)),
        ("DELETE FROM invoices", "DELETE", (DATA_DESTROY,)),
        ("UPDATE invoices SET amount = 0", "UPDATE", (DATA_DESTROY,)),
        ("DROP DATABASE prod_app", "DROP DATABASE", (DATA_DESTROY,)),
        ("DROP TABLE orders_backup", "DROP TABLE", (BACKUP_DESTROY, DATA_DESTROY)),
        ("RENAME TABLE customers TO customers_old", "RENAME TABLE", (DATA_DESTROY,)),
        (
            "GRANT ALL PRIVILEGES ON *.* TO 'agent_rw'@'%' WITH GRANT OPTION",
            "GRANT",
            (PRIVILEGE_ESCALATE,),
        ),
        ("CREATE USER 'x'@'%' IDENTIFIED BY *****", "CREATE USER", (CREDENTIAL_CREATE,)),
        ("SET GLOBAL server_audit_logging = OFF", "SET", (LOGGING_DISABLE,)),
    ],
)
def test_destructive_statements_categorised(sql: str, kind: str, cats: tuple[str, ...]) -> None:
    events, dead = mariadb(q(sql))
    assert dead == []
    assert [summary(e) for e in events] == [(kind, "success", "", cats)]
    e = events[0]
    assert (
        e.actor.principal,
        e.actor.principal_type,
        e.actor.credential_id,
        e.actor.client_addr,
        e.actor.session_id,
    ) == ("agent_rw", "db_user", "mysql:agent_rw", "10.0.0.9", "7")
    assert e.resource.database == "prod_app" and e.activity == "sql"
    assert e.time == parse_time("2024-05-01T10:00:00Z")
    assert e.raw["query_id"] == "100" and e.raw["server"] == "db1"


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM invoices WHERE id = 1",
        "UPDATE invoices SET amount = 0 WHERE id = 2",
        "SELECT 'DROP TABLE customers'",
        "SELECT * FROM drop_log",
        "CREATE TABLE drop_me (id INT)",
        "INSERT INTO audit_notes VALUES ('TRUNCATE TABLE orders')",
    ],
)
def test_look_alikes_not_categorised(sql: str) -> None:
    events, dead = mariadb(q(sql))
    assert dead == []
    assert len(events) == 1 and events[0].action.categories == () and events[0].succeeded


def test_failed_statement_keeps_categories_and_never_counts_as_done() -> None:
    events, dead = mariadb(
        q("DROP TABLE does_not_exist", rc=1051) + sa("FAILED_CONNECT", "", "1045", qid=0)
    )
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DROP TABLE", "failure", "retcode 1051", (DATA_DESTROY,)),
        ("FAILED_CONNECT", "failure", "retcode 1045", ()),
    ]
    assert done_destroys(events) == 0


def test_table_records_standalone() -> None:
    """No QUERY record for their query id (QUERY events not logged): the table record decides."""
    text = (
        tbl("DROP", "customers", qid=1)
        + tbl("RENAME", "orders|prod_app.orders_old", qid=2)
        + tbl("DROP", "orders_backup", qid=3)
        + tbl("CREATE", "t_new", qid=4)
        + tbl("ALTER", "t_new", qid=5)
        + tbl("READ", "t_new", qid=6)
        + tbl("WRITE", "t_new", qid=7)
        + tbl("READ", "t_new", qid=8, conn=9)
    )
    events, dead = mariadb(text)
    assert dead == []
    assert [summary(e) + (e.resource.name,) for e in events] == [
        ("DROP", "success", "", (DATA_DESTROY,), "customers"),
        ("RENAME", "success", "", (DATA_DESTROY,), "orders"),
        ("DROP", "success", "", (BACKUP_DESTROY, DATA_DESTROY), "orders_backup"),
        ("CREATE", "success", "", (), "t_new"),
        ("ALTER", "unknown", "", (), "t_new"),
        ("READ", "unknown", "", (), "t_new"),
        ("WRITE", "unknown", "", (), "t_new"),
        ("READ", "unknown", "", (), "t_new"),  # another connection's record, released by flush
    ]
    assert events[1].raw["renamed_to"] == "prod_app.orders_old"
    assert all(e.raw["via"] == "table" and e.resource.type == "table" for e in events)
    assert events[0].action.statement == "DROP prod_app.customers"


def test_table_record_paired_with_its_statement_counts_once() -> None:
    text = (
        tbl("WRITE", "table_stats", db="mysql")
        + tbl("DROP", "customers")
        + q("DROP TABLE customers")
        + sa("DISCONNECT", qid=0)
    )
    events, dead = mariadb(text)
    assert dead == []
    assert [(e.raw["via"], *summary(e)) for e in events] == [
        ("table", "WRITE", "success", "", ()),
        ("table", "DROP", "success", "", ()),
        ("query", "DROP TABLE", "success", "", (DATA_DESTROY,)),
        ("connection", "DISCONNECT", "success", "", ()),
    ]
    assert events[1].raw["categories_on_statement"] == [DATA_DESTROY]
    assert done_destroys(events) == 1


def test_statement_failing_after_dropping_one_table() -> None:
    """DROP TABLE t9, missing: the server drops t9 (DROP record), then fails with 1051."""
    events, dead = mariadb(
        tbl("WRITE", "t9") + tbl("DROP", "t9") + q("DROP TABLE t9, missing", rc=1051)
    )
    assert dead == []
    assert [summary(e) for e in events] == [
        ("WRITE", "failure", "retcode 1051", ()),
        ("DROP", "success", "", (DATA_DESTROY,)),
        ("DROP TABLE", "failure", "retcode 1051", (DATA_DESTROY,)),
    ]
    assert done_destroys(events) == 1


def test_table_record_released_before_its_statement_is_not_counted_twice() -> None:
    """A follower flushes when the file goes idle: the DROP record leaves alone, carrying
    the destroy; the statement that follows drops it."""
    p = mariadb_audit.ServerAuditParser(ParseContext("t.log"))
    lines = lines_of(
        tbl("DROP", "customers")
        + q("DROP TABLE customers")
        + tbl("DROP", "orders", qid=101)
        + q("DROP TABLE orders", rc=1051, qid=101)
    )
    out = (
        p.feed(lines[0])
        + p.flush()
        + p.feed(lines[1])
        + p.feed(lines[2])
        + p.flush()
        + p.feed(lines[3])
        + p.flush()
    )
    events, dead = _split(out)
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DROP", "success", "", (DATA_DESTROY,)),
        ("DROP TABLE", "success", "", ()),
        ("DROP", "success", "", (DATA_DESTROY,)),
        ("DROP TABLE", "failure", "retcode 1051", (DATA_DESTROY,)),  # a failure keeps what it tried
    ]
    assert events[1].raw["categories_on_objects"] == [DATA_DESTROY]
    assert done_destroys(events) == 2


def test_routine_dropping_a_table_counts_on_the_drop_record() -> None:
    """CALL cleanup() whose body drops a table, the inner statement's record missing
    (older servers log it with the CALL's query id, filters may omit it)."""
    events, dead = mariadb(tbl("DROP", "customers", qid=5) + q("CALL cleanup()", qid=5))
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DROP", "success", "", (DATA_DESTROY,)),
        ("CALL", "success", "", ()),
    ]


def test_multi_statement_record_one_event_each() -> None:
    events, dead = mariadb(q("DROP TABLE a; DELETE FROM b WHERE id = 1; TRUNCATE c"))
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DROP TABLE", "success", "", (DATA_DESTROY,)),
        ("DELETE", "success", "", ()),
        ("TRUNCATE", "success", "", (DATA_DESTROY,)),
    ]
    assert [e.resource.name for e in events] == ["a", "b", "c"]
    assert len({e.event_id for e in events}) == 3 and {e.raw["query_id"] for e in events} == {"100"}


def test_creating_a_routine_does_not_run_its_body() -> None:
    events, dead = mariadb(q("CREATE PROCEDURE cleanup() BEGIN DROP TABLE c1; DELETE FROM c2; END"))
    assert dead == []
    assert [summary(e) for e in events] == [("CREATE PROCEDURE", "success", "", ())]
    assert events[0].raw["routine_body_statements"] == 2


def test_connection_records() -> None:
    text = (
        sa("CONNECT", qid=0)
        + sa("CHANGEUSER", qid=0, user="other")
        + sa("PROXY_CONNECT", "`app_role`@`%`", "0", qid=0)
        + sa("DISCONNECT", qid=0)
        + sa("FAILED_CONNECT", "", "1045", qid=0, user="mallory", host="203.0.113.9", conn=8)
    )
    events, dead = mariadb(text)
    assert dead == []
    assert [summary(e) for e in events] == [
        ("CONNECT", "success", "", ()),
        ("CHANGEUSER", "success", "", ()),
        ("PROXY_CONNECT", "success", "", ()),
        ("DISCONNECT", "success", "", ()),
        ("FAILED_CONNECT", "failure", "retcode 1045", ()),
    ]
    assert events[2].actor.tags == {"proxy_user": "`app_role`@`%`"}
    assert (events[4].actor.principal, events[4].actor.client_addr) == ("mallory", "203.0.113.9")
    assert all(e.resource.type == "server" and e.resource.name == "db1" for e in events)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'it''s', \"dq\"",
        "SELECT 'it\\'s'",
        "SELECT 'C:\\\\dir\\\\'",
        "SELECT 'a\nb\tc\r'",
        "SELECT ''''",
        "SELECT 1 -- trailing quote'",
    ],
)
def test_quoted_statement_round_trip(sql: str) -> None:
    rec = mariadb_audit.parse_record(q(sql), 0.0)
    assert rec is not None and rec.obj == sql and rec.retcode == "0"


def test_raw_newlines_span_physical_lines() -> None:
    """Older plugins wrote newlines unescaped: the record is held until its quote closes."""
    text = (
        "20240501 10:00:00,db1,agent_rw,10.0.0.9,7,100,QUERY,prod_app,"
        "'DROP\nTABLE\n\ncustomers',0\n" + sa("DISCONNECT", qid=0)
    )
    events, dead = mariadb(text)
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DROP TABLE", "success", "", (DATA_DESTROY,)),
        ("DISCONNECT", "success", "", ()),
    ]
    assert (events[0].source.line, events[0].source.offset) == (1, 0)
    assert events[1].source.line == 5


def test_dbeaver_comment_names_the_application() -> None:
    events, _ = mariadb(
        q("/* ApplicationName=DBeaver 24.1.0 - SQLEditor <Script.sql> */ DROP TABLE t")
    )
    assert events[0].actor.application_name == "DBeaver 24.1.0 - SQLEditor <Script.sql>"
    assert events[0].action.categories == (DATA_DESTROY,)


def test_malformed_records_are_dead_letters_and_the_stream_goes_on() -> None:
    text = (
        "this is not an audit record\n"
        + sa("QUERY", "'SELECT 1'", "x")
        + sa("QUERY", "'SELECT 1'", ts="20241301 10:00:00")
        + "20240501 10:00:00,db1,agent_rw,h,7,100,QUERY,prod_app,'SELECT 1' trailing,0\n"
        + q("DROP TABLE customers")
    )
    events, dead = mariadb(text)
    expected = [
        (1, "not a server_audit record (expected"),
        (2, "retcode 'x' is not a number"),
        (3, "bad timestamp '20241301 10:00:00,"),
        (4, "unexpected text after the object field: ' trailing"),
    ]
    assert len(dead) == len(expected)
    for d, (line, reason) in zip(dead, expected, strict=True):
        assert d.source.line == line and d.reason.startswith(reason), (d.source.line, d.reason)
    assert [summary(e) for e in events] == [("DROP TABLE", "success", "", (DATA_DESTROY,))]
    assert events[0].source.line == 5


def test_unterminated_statement_before_the_next_record() -> None:
    text = (
        "20240501 10:00:00,db1,agent_rw,h,7,100,QUERY,prod_app,'DROP TABLE x\n"
        "still inside\n" + q("DROP TABLE customers", qid=101)
    )
    events, dead = mariadb(text)
    assert [(d.source.line, d.reason) for d in dead] == [
        (1, "unterminated quoted statement (the next record began at line 3)")
    ]
    assert dead[0].raw.endswith("still inside\n")
    assert [(e.source.line, *summary(e)) for e in events] == [
        (3, "DROP TABLE", "success", "", (DATA_DESTROY,))
    ]


def test_unterminated_statement_at_end_and_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    _, dead = mariadb("20240501 10:00:00,db1,agent_rw,h,7,100,QUERY,prod_app,'DROP TABLE x\n")
    assert [d.reason for d in dead] == ["unterminated quoted statement at the end of the input"]
    monkeypatch.setattr(mariadb_audit, "MAX_RECORD", 1000)
    row = "(1111111111, 2222222222, 3333333333, 4444444444, 5555555555, 6666666666),\n"
    text = (
        "20240501 10:00:00,db1,agent_rw,h,7,100,QUERY,prod_app,'INSERT INTO t VALUES\n"
        + row * 20
        + q("DROP TABLE customers", qid=101)
    )
    first_len = len(text.splitlines(keepends=True)[0])
    held_lines = 1 + -(
        -(1000 - first_len + 1) // len(row)
    )  # lines read until the buffer passed 1000 bytes
    events, dead = mariadb(text)
    assert [(d.source.line, d.reason) for d in dead] == [
        (1, "quoted statement still open after 1000 bytes"),
        (held_lines + 1, f"rest of an oversized record ({21 - held_lines} more lines)"),
    ]
    assert dead[0].raw.count("\n") == held_lines
    assert [(e.source.line, e.action.name) for e in events] == [(22, "DROP TABLE")]


def test_syslog_forms() -> None:
    observed = parse_time("2024-05-03T00:00:00Z")
    bsd = (
        "Jan 21 11:12:26 dbhost mysql-server_auditing:  "
        "dbhost,root,localhost,21,37,QUERY,shop,'DROP TABLE t',0\n"
    )
    iso = (
        "<14>1 2024-05-01T10:00:00.250Z dbhost mysql-server_auditing: myinfo "
        "dbhost,agent_rw,10.0.0.9,22,38,QUERY,shop,'DELETE FROM invoices',0\n"
    )
    cut = (
        "May  2 23:59:59 dbhost mysql-server_auditing:  dbhost,agent_rw,10.0.0.9,23,39,QUERY,shop,"
        "'DROP TABLE customers, ord\n"
    )
    dec = "Dec 31 23:00:00 dbhost mysql-server_auditing:  dbhost,root,localhost,24,0,CONNECT,,,0\n"
    p = mariadb_audit.ServerAuditParser(ParseContext("syslog", observed=observed))
    events, dead = _split(
        [i for ln in lines_of(bsd + iso + cut + dec) for i in p.feed(ln)] + p.flush()
    )
    assert dead == []
    assert [(e.time, *summary(e)) for e in events] == [
        (parse_time("2024-01-21T11:12:26Z"), "DROP TABLE", "success", "", (DATA_DESTROY,)),
        (parse_time("2024-05-01T10:00:00.250Z"), "DELETE", "success", "", (DATA_DESTROY,)),
        (
            parse_time("2024-05-02T23:59:59Z"),
            "DROP TABLE",
            "unknown",
            "",
            (DATA_DESTROY,),
        ),  # retcode cut off
        (
            parse_time("2023-12-31T23:00:00Z"),
            "CONNECT",
            "success",
            "",
            (),
        ),  # in 2024 it would lie ahead
    ]
    assert events[0].raw["syslog"] is True and events[0].raw["server"] == "dbhost"
    assert events[2].raw["truncated"] is True
    assert (events[1].actor.principal, events[1].actor.client_addr) == ("agent_rw", "10.0.0.9")
    assert detect((bsd + iso).encode()) == "mariadb-audit"


def test_syslog_year_rollover() -> None:
    observed = parse_time("2024-01-01T00:10:00Z")
    line = "Dec 31 23:59:00 dbhost mysql-server_auditing:  dbhost,root,localhost,24,0,CONNECT,,,0\n"
    p = mariadb_audit.ServerAuditParser(ParseContext("syslog", observed=observed))
    (e,) = p.feed(lines_of(line)[0])
    assert isinstance(e, Event) and e.time == parse_time("2023-12-31T23:59:00Z")


def test_aurora_epoch_microseconds_and_extra_fields() -> None:
    text = (
        "1714557600250000,db1,agent_rw,10.0.0.9,7,5,QUERY,prod_app,"
        "'TRUNCATE TABLE orders',0,TCP/IP\n"
    )
    events, dead = read_text(text)  # auto-detected
    assert dead == []
    assert [summary(e) for e in events] == [("TRUNCATE", "success", "", (DATA_DESTROY,))]
    assert events[0].time == 1714557600.25 and events[0].raw["extra_fields"] == "TCP/IP"


def test_event_ids_stable_across_reads_and_names(tmp_path: Path) -> None:
    text = q("DROP TABLE a") + q("DROP TABLE a") + tbl("DROP", "b", qid=3)
    a, b = tmp_path / "server_audit.log", tmp_path / "server_audit.log.1"
    a.write_text(text)
    b.write_text(text)
    ids_a = [e.event_id for e in read_path(a) if isinstance(e, Event)]
    ids_b = [e.event_id for e in read_path(b) if isinstance(e, Event)]
    assert ids_a == ids_b and len(set(ids_a)) == 3 and all(i.startswith("mariadb-") for i in ids_a)


# == sniffing ==========================================================================

PG_STDERR = (
    "2024-05-01 10:00:00.123 UTC [42] agent@prod LOG:  "
    "AUDIT: SESSION,1,1,DDL,DROP TABLE,,,DROP TABLE t,<none>\n"
)
CLOUDTRAIL = (
    '{"eventVersion":"1.08","eventSource":"rds.amazonaws.com",'
    '"eventName":"DeleteDBInstance","eventTime":"2024-05-01T10:00:00Z"}\n'
)


def test_sniffers_claim_their_own_and_nothing_else(corpus: Path) -> None:
    assert detect(q("DROP TABLE t").encode()) == "mariadb-audit"
    assert detect(ENTERPRISE_LINES.encode()) == "mysql-audit-json"
    assert detect(percona("DROP TABLE t").encode() + b"\n") == "percona-audit"
    for path, fmt in (
        (MARIADB + "/mariadb_server_audit_onprem_sample_audit_log.log", "mariadb-audit"),
        (MARIADB + "/mariadb_rds_server_audit_sample_audit_log.log", "mariadb-audit"),
        (MYSQL + "/mysql_enterprise_audit_json.log", "mysql-audit-json"),
        (MYSQL + "/percona_audit_via_logstash_debug.log", "percona-audit"),
    ):
        assert detect((corpus / path).read_bytes()[:65536]) == fmt
    for other in (PG_STDERR, CLOUDTRAIL):
        h = other.encode()
        assert not mariadb_audit._sniff(h)
        assert not mysql_audit._sniff_enterprise(h)
        assert not mysql_audit._sniff_percona(h)


# == MySQL Enterprise Audit ==============================================================


def ent(
    cls: str, event: str, conn: int = 5, i: int = 0, sec: int = 0, **data: Any
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "timestamp": f"2024-05-01 10:00:{sec:02d}",
        "id": i,
        "class": cls,
        "event": event,
        "connection_id": conn,
        "account": {"user": "app_acct", "host": "%"},
        "login": {"user": "agent_rw", "os": "runner", "ip": "10.0.0.5", "proxy": ""},
    }
    rec.update(data)
    return rec


def gen(sql: str, status: int = 0, command: str = "Query", **kw: Any) -> dict[str, Any]:
    return ent(
        "general",
        "status",
        general_data={"command": command, "sql_command": "x", "query": sql, "status": status},
        **kw,
    )


def tacc(event: str, table: str, sql: str, **kw: Any) -> dict[str, Any]:
    return ent(
        "table_access",
        event,
        table_access_data={"db": "prod_app", "table": table, "query": sql, "sql_command": event},
        **kw,
    )


def connect(status: int = 0, **kw: Any) -> dict[str, Any]:
    return ent(
        "connection",
        "connect",
        connection_data={
            "connection_type": "tcp/ip",
            "status": status,
            "db": "prod_app",
            "connection_attributes": {
                "program_name": "claude-agent",
                "_client_name": "libmariadb",
                "_client_version": "3.3.8",
            },
        },
        **kw,
    )


def as_file(recs: list[dict[str, Any]], opening: bool = True) -> str:
    """The way the server writes it: '[' then one object per line with a trailing comma."""
    return ("[\n" if opening else "") + "".join(orjson.dumps(r).decode() + ",\n" for r in recs)


ENTERPRISE_LINES = as_file([connect(), gen("SELECT 1")])


def enterprise(text: str) -> tuple[list[Event], list[DeadLetter]]:
    """Through the source's own line parser (what the follower and read_path use)."""
    ctx = ParseContext("audit.log")
    return _split(list(drive(make_parser("mysql-audit-json", ctx), iter(lines_of(text)))))


def test_corpus_mysql_enterprise_exact_events(corpus: Path) -> None:
    path = corpus / MYSQL / "mysql_enterprise_audit_json.log"
    events, dead = _split(list(read_path(path)))
    assert dead == []
    got = [
        (
            e.source.line,
            *summary(e),
            e.actor.principal,
            e.actor.client_addr,
            e.actor.session_id,
            e.actor.application_name,
        )
        for e in events
    ]
    dbeaver = "DBeaver 7.1.4 - SQLEditor <Script.sql>"
    assert got == [
        (1, "CONNECT", "success", "", (), "guardium_qa", "192.0.2.1", "41", "MySQL Connector/J"),
        (2, "CONNECT", "failure", "status 1045", (), "guardium_qa", "localhost", "43", ""),
        (3, "USE", "success", "", (), "guardium_qa", "192.0.2.1", "42", dbeaver),
        (4, "SELECT", "failure", "status 1046", (), "guardium_qa", "localhost", "45", ""),
        (
            5,
            "READ",
            "success",
            "",
            (),
            "guardium_qa",
            "192.0.2.1",
            "42",
            dbeaver,
        ),  # paired with line 6
        (6, "SELECT", "success", "", (), "guardium_qa", "192.0.2.1", "42", dbeaver),
    ]
    # independently: six JSON objects in the file, one event each
    assert len([ln for ln in path.read_text().splitlines() if ln.strip().startswith("{")]) == len(
        events
    )
    assert events[0].actor.user_agent == "MySQL Connector/J 8.0.17"
    assert events[0].resource.database == "guardium_qa"
    assert events[4].resource.name == "pet" and events[4].resource.database == "guardium_qa"
    assert all(
        e.source.type == "mysql-audit-json" and e.actor.credential_id == "mysql:guardium_qa"
        for e in events
    )
    assert events[0].time == parse_time("2020-08-26 17:28:58")
    assert len({e.event_id for e in events}) == 6


def test_enterprise_connection_attributes_follow_the_session() -> None:
    events, dead = enterprise(as_file([connect(), gen("DROP TABLE customers", i=1)]))
    assert dead == []
    drop = events[1]
    assert summary(drop) == ("DROP TABLE", "success", "", (DATA_DESTROY,))
    a = drop.actor
    assert (
        a.principal,
        a.credential_id,
        a.client_addr,
        a.session_id,
        a.application_name,
        a.user_agent,
    ) == ("agent_rw", "mysql:app_acct", "10.0.0.5", "5", "claude-agent", "libmariadb 3.3.8")
    assert a.tags == {"os_user": "runner", "account_host": "%"}
    assert drop.resource.database == "prod_app" and drop.resource.name == "customers"


def test_enterprise_table_access_paired_with_its_statement() -> None:
    recs = [
        tacc("delete", "invoices", "DELETE FROM invoices"),
        gen("DELETE FROM invoices", i=1),
        tacc("delete", "invoices", "DELETE FROM invoices WHERE id = 1", sec=1),
        gen("DELETE FROM invoices WHERE id = 1", sec=1, i=1),
        tacc("delete", "orders", "DELETE FROM orders", sec=2),
        gen("DELETE FROM orders", status=1146, sec=2, i=1),
    ]
    events, dead = enterprise(as_file(recs))
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DELETE", "success", "", ()),
        ("DELETE", "success", "", (DATA_DESTROY,)),
        ("DELETE", "success", "", ()),
        ("DELETE", "success", "", ()),
        ("DELETE", "failure", "status 1146", ()),  # the attempt is on the statement event
        ("DELETE", "failure", "status 1146", (DATA_DESTROY,)),
    ]
    assert events[0].raw["categories_on_statement"] == [DATA_DESTROY]
    assert events[4].raw["categories_on_statement"] == [DATA_DESTROY]
    assert done_destroys(events) == 1


def test_enterprise_table_access_without_its_statement() -> None:
    recs = [
        tacc("delete", "invoices", "DELETE FROM invoices"),
        gen("SELECT 1", i=1),
        tacc("update", "orders", "UPDATE orders SET amount = 0", sec=1),
        tacc("read", "orders", "SELECT * FROM orders", sec=2),
        ent("connection", "disconnect", sec=3, connection_data={"connection_type": "tcp/ip"}),
    ]
    events, dead = enterprise(as_file(recs))
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DELETE", "unknown", "", (DATA_DESTROY,)),  # logged before it ran: never counts as done
        ("SELECT", "success", "", ()),
        ("UPDATE", "unknown", "", (DATA_DESTROY,)),
        ("READ", "unknown", "", ()),
        ("DISCONNECT", "success", "", ()),
    ]
    assert done_destroys(events) == 0


def test_enterprise_other_records() -> None:
    recs = [
        gen("", command="Quit"),
        connect(status=1045, conn=6),
        ent("audit", "startup", conn=0, startup_data={"server_id": 1}),
        ent(
            "command",
            "command_end",
            command_data={"name": "command_end", "status": 1064, "command": "query"},
        ),
    ]
    events, dead = enterprise(as_file(recs))
    assert dead == []
    assert [summary(e) for e in events] == [
        ("QUIT", "success", "", ()),
        ("CONNECT", "failure", "status 1045", ()),
        ("audit.startup", "unknown", "", ()),
        ("command.command_end", "failure", "status 1064", ()),
    ]


def test_enterprise_file_shapes(tmp_path: Path) -> None:
    recs = [connect()] + [gen(f"SELECT {i}", i=i) for i in range(1, 9)]
    # the file as written while open: '[', one object per line with ',' (no closing ']')
    events, dead = enterprise(as_file(recs))
    assert dead == [] and len(events) == 9
    # pretty-printed objects, two objects on one line, the closing ']'
    pretty = orjson.dumps(gen("DROP TABLE customers"), option=orjson.OPT_INDENT_2).decode()
    two = (
        orjson.dumps(gen("SELECT 1", i=1)).decode()
        + ", "
        + orjson.dumps(gen("SELECT 2", i=2)).decode()
    )
    events, dead = enterprise("[\n" + pretty + ",\n" + two + "\n]\n")
    assert dead == []
    assert [(e.source.line, e.source.index, e.action.name) for e in events] == [
        (2, None, "DROP TABLE"),
        (2 + pretty.count("\n") + 1, 0, "SELECT"),
        (2 + pretty.count("\n") + 1, 1, "SELECT"),
    ]
    # a closed file is valid JSON: read whole, records still paired
    closed = tmp_path / "audit.log"
    closed.write_text(
        orjson.dumps([tacc("delete", "t", "DELETE FROM t"), gen("DELETE FROM t", i=1)]).decode()
    )
    events, dead = _split(list(read_path(closed)))
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DELETE", "success", "", ()),
        ("DELETE", "success", "", (DATA_DESTROY,)),
    ]


def test_enterprise_open_file_through_read_path(tmp_path: Path) -> None:
    """The file while the server writes it is not valid JSON as a whole: the reader
    falls back to this source's own line parser."""
    path = tmp_path / "audit.log"
    path.write_text(as_file([connect()] + [gen(f"SELECT {i}", i=i) for i in range(1, 9)]))
    events, dead = _split(list(read_path(path)))
    assert dead == [] and len(events) == 9


def test_enterprise_malformed_then_stream_goes_on() -> None:
    bad_time = ent("general", "status", general_data={"query": "SELECT 1", "status": 0})
    bad_time["timestamp"] = "yesterday"
    text = (
        '{"timestamp": "2024-05-01 10:00:00", "class": "general", oops},\n'
        + orjson.dumps(bad_time).decode()
        + ",\n"
        + '{"something": "else"},\n'
        + "garbage\n"
        + orjson.dumps(gen("DROP TABLE customers")).decode()
        + ",\n"
        + '{\n  "timestamp": "2024-05-01 10:00:00",\n'
    )
    events, dead = enterprise(text)
    assert [(d.source.line, d.reason.split(":")[0]) for d in dead] == [
        (1, "invalid JSON"),
        (2, "bad or missing timestamp 'yesterday'"),
        (3, "unrecognised JSON record (no source matched it)"),
        (4, "not a MySQL Enterprise Audit JSON record (expected '{...}' or '[', ',', ']')"),
        (6, "unterminated JSON object at the end of the input"),
    ]
    assert [(e.source.line, *summary(e)) for e in events] == [
        (5, "DROP TABLE", "success", "", (DATA_DESTROY,))
    ]


def test_enterprise_is_record_precise() -> None:
    assert mysql_audit.is_enterprise(gen("SELECT 1"))
    for other in (
        orjson.loads(CLOUDTRAIL),
        {"timestamp": "x", "error_severity": "LOG", "message": "m"},
        {"audit_record": {"name": "Query", "timestamp": "2024-05-01T10:00:00Z"}},
        {"class": "general", "event": "status", "timestamp": "x"},  # no id / connection_id
        {"logName": "projects/p/logs/cloudaudit.googleapis.com%2Fdata_access", "protoPayload": {}},
    ):
        assert not mysql_audit.is_enterprise(other)
        assert mysql_audit.is_percona(other) == ("audit_record" in other)


def test_enterprise_records_dispatched_one_by_one() -> None:
    """Mixed JSON lines (an HTTP batch): each record finds its source, with no
    neighbours to pair with."""
    ctx = ParseContext("mixed")
    text = (
        CLOUDTRAIL
        + orjson.dumps(tacc("delete", "t", "DELETE FROM t")).decode()
        + "\n"
        + orjson.dumps(gen("DELETE FROM t", i=1)).decode()
        + "\n"
        + percona("TRUNCATE t")
        + "\n"
    )
    events, dead = _split(list(drive(JsonLinesParser(ctx), iter(lines_of(text)))))
    assert dead == []
    assert [(e.source.type, *summary(e)) for e in events] == [
        ("cloudtrail", "DeleteDBInstance", "success", "", events[0].action.categories),
        ("mysql-audit-json", "DELETE", "unknown", "", (DATA_DESTROY,)),
        ("mysql-audit-json", "DELETE", "success", "", (DATA_DESTROY,)),
        ("percona-audit", "TRUNCATE", "success", "", (DATA_DESTROY,)),
    ]
    assert done_destroys(events[1:]) == 2


# == Percona audit_log ====================================================================


def precord(
    sql: str = "",
    *,
    name: str = "Query",
    status: int | str = 0,
    user: str = "app[app] @ localhost [10.0.0.5]",
    **kw: Any,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "name": name,
        "record": "7_2024-05-01T09:00:00",
        "timestamp": "2024-05-01T10:00:00 UTC",
        "command_class": "drop_table",
        "connection_id": "12",
        "status": status,
        "sqltext": sql,
        "user": user,
        "host": "localhost",
        "os_user": "deploy",
        "ip": "10.0.0.5",
        "db": "shop",
    }
    r.update(kw)
    return {"audit_record": r}


def percona(sql: str, **kw: Any) -> str:
    return orjson.dumps(precord(sql, **kw)).decode()


def percona_read(text: str) -> tuple[list[Event], list[DeadLetter]]:
    events, dead = read_text(text, "percona-audit")
    return events, dead


def test_corpus_percona_embedded_in_logstash_debug_lines(corpus: Path) -> None:
    path = corpus / MYSQL / "percona_audit_via_logstash_debug.log"
    events, dead = _split(list(read_path(path)))
    assert dead == []
    lines = path.read_text().splitlines()
    assert len(events) == len(lines) == 3
    assert all('{"audit_record":' in ln and " DEBUG " in ln for ln in lines)
    for n, e in enumerate(events, 1):
        assert (e.source.type, e.source.line) == ("percona-audit", n)
        assert summary(e) == ("SELECT", "success", "", ())
        assert (
            e.actor.principal,
            e.actor.credential_id,
            e.actor.client_addr,
            e.actor.session_id,
        ) == ("root", "mysql:root", "localhost", "12")
        assert (
            e.resource.name == "products" and e.action.statement == "select * from Products limit ?"
        )
        assert e.time == parse_time("2021-02-12T12:18:30Z")
    # the same audit record forwarded three times: one id
    assert len({e.event_id for e in events}) == 1


def test_percona_records() -> None:
    text = (
        "\n".join(
            [
                percona("DROP TABLE customers", record="3_x"),
                percona("DROP TABLE customers", status=1051, record="4_x"),
                percona("DELETE FROM orders WHERE id = 3", command_class="delete", record="5_x"),
                percona(
                    "",
                    name="Connect",
                    status=1045,
                    user="mallory",
                    priv_user="",
                    ip="203.0.113.9",
                    record="6_x",
                ),
                percona("", name="Quit", record="7_x"),
                percona(
                    "TRUNCATE TABLE orders",
                    user="app_role[alice] @ app-host [10.0.0.7]",
                    ip="",
                    record="8_x",
                ),
                percona("DROP TABLE t", status="0", record="9_x"),
            ]
        )
        + "\n"
    )
    events, dead = percona_read(text)
    assert dead == []
    assert [summary(e) for e in events] == [
        ("DROP TABLE", "success", "", (DATA_DESTROY,)),
        ("DROP TABLE", "failure", "status 1051", (DATA_DESTROY,)),
        ("DELETE", "success", "", ()),
        ("CONNECT", "failure", "status 1045", ()),
        ("QUIT", "success", "", ()),
        ("TRUNCATE", "success", "", (DATA_DESTROY,)),
        ("DROP TABLE", "success", "", (DATA_DESTROY,)),
    ]
    a = events[0].actor
    assert (a.principal, a.credential_id, a.client_addr, a.session_id, a.tags) == (
        "app",
        "mysql:app",
        "10.0.0.5",
        "12",
        {"os_user": "deploy"},
    )
    assert events[0].resource.database == "shop" and events[0].raw["command_class"] == "drop_table"
    assert (events[3].actor.principal, events[3].actor.client_addr) == ("mallory", "203.0.113.9")
    assert (
        events[5].actor.principal,
        events[5].actor.credential_id,
        events[5].actor.client_addr,
    ) == ("alice", "mysql:app_role", "10.0.0.7")  # no ip field: the one in user_host
    assert len({e.event_id for e in events}) == len(events)
    assert done_destroys(events) == 3


def test_percona_syslog_and_shipper_envelopes() -> None:
    rec = percona("DROP TABLE customers")
    syslog = f"<14>May  1 10:00:00 db1 percona-audit: {rec}"
    envelope = orjson.dumps({"@timestamp": "2024-05-01T10:00:01Z", "message": syslog}).decode()
    events, dead = read_text(syslog + "\n" + envelope + "\n")  # auto-detected
    assert dead == []
    assert [(e.source.type, *summary(e)) for e in events] == [
        ("percona-audit", "DROP TABLE", "success", "", (DATA_DESTROY,))
    ] * 2
    assert events[0].event_id == events[1].event_id  # one record, forwarded twice


def test_percona_dead_letters_say_why() -> None:
    text = (
        "\n".join(
            [
                "2021-02-15 01:14:08 DEBUG filter - nothing here",
                'percona-audit: {"audit_record":{"name":"Query", broken',
                '{"message": "no record"}',
                '{"audit_record": {"name": "Query"}}',
                'x {\\"audit_record\\": {\\"name\\": \\"Query\\"}}',
                percona("DROP TABLE customers"),
            ]
        )
        + "\n"
    )
    events, dead = percona_read(text)
    assert [(d.source.line, d.reason.split(":")[0]) for d in dead] == [
        (1, "no Percona audit_record in this line"),
        (2, "embedded audit_record is not valid JSON"),
        (3, "JSON line without a Percona audit_record"),
        (4, "not a Percona audit_record (no audit_record with name and timestamp)"),
        (5, "audit_record escaped inside a line that is not JSON"),
    ]
    assert [(e.source.line, e.action.name) for e in events] == [(6, "DROP TABLE")]
