"""PostgresParser on log lines written here, in the exact shapes PostgreSQL 15 writes.

* jsonlog: one JSON object per line, keys in the server's order; keys whose
  value is empty (application_name, state_code on LOG records, detail ...) are
  left out, as the server does.
* csvlog: the 26 PG15 columns; text columns quoted by the server
  (user, database, connection_from, command tag, message, detail, hint, query,
  application_name, backend_type ...) are always quoted, the rest never.
* stderr: the Debian default ``log_line_prefix = '%m [%p] %q%u@%d '``; the
  lines after the first of a multi-line message start with a TAB.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditwatch.model import Event
from auditwatch.streams.reader import read_path, read_stream
from auditwatch.streams.sources.base import DeadLetter, Line, ParseContext
from auditwatch.streams.sources.detect import detect
from auditwatch.streams.sources.postgres import PostgresParser

TS = "2026-04-24 09:11:45.123 UTC"
T0 = datetime(2026, 4, 24, 9, 11, 45, 123000, tzinfo=UTC).timestamp()
SESSION_A = "6628cd31.41a"  # PostgreSQL session ids: hex start time "." hex pid
SESSION_B = "6628cd35.41b"

DROP_ORDERS = "AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,public.orders,DROP TABLE orders,<not logged>"


# -- builders for the three formats ---------------------------------------------------
def jsonlog(message: str, *, severity: str = "LOG", user: str = "agent_rw", db: str = "prod_app",
            pid: int = 1050, session: str = SESSION_A, line_num: int = 3, ps: str = "DROP TABLE",
            app: str = "cursor-agent", ts: str = TS, state_code: str = "", detail: str = "",
            hint: str = "", statement: str = "") -> str:
    d: dict[str, object] = {
        "timestamp": ts, "user": user, "dbname": db, "pid": pid,
        "remote_host": "10.0.0.7", "remote_port": 51234, "session_id": session,
        "line_num": line_num, "ps": ps, "session_start": "2026-04-24 09:10:01 UTC",
        "vxid": "4/17", "txid": 0, "error_severity": severity,
    }
    if state_code:
        d["state_code"] = state_code
    d["message"] = message
    if detail:
        d["detail"] = detail
    if hint:
        d["hint"] = hint
    if statement:
        d["statement"] = statement
    if app:
        d["application_name"] = app
    d["backend_type"] = "client backend"
    d["query_id"] = 0
    return json.dumps(d, separators=(",", ":")) + "\n"


def _q(s: str) -> str:
    """A quoted csvlog literal (the server's appendCSVLiteral); empty when absent."""
    return '"' + s.replace('"', '""') + '"' if s else ""


def csvlog(message: str, *, severity: str = "LOG", user: str = "agent_rw", db: str = "prod_app",
           pid: int = 1050, session: str = SESSION_A, line_num: int = 3, tag: str = "DROP TABLE",
           app: str = "cursor-agent", ts: str = TS, sqlstate: str = "00000", detail: str = "",
           hint: str = "", query: str = "") -> str:
    cols = [
        ts, _q(user), _q(db), str(pid), _q("10.0.0.7:51234"), session, str(line_num), _q(tag),
        "2026-04-24 09:10:01 UTC", "4/17", "0", severity, sqlstate, _q(message), _q(detail),
        _q(hint), "", "", "", _q(query), "", "", _q(app), _q("client backend"), "", "0",
    ]
    assert len(cols) == 26
    return ",".join(cols) + "\n"


def stderr(message: str, *, severity: str = "LOG", pid: int = 1050, user: str = "agent_rw",
           db: str = "prod_app", ts: str = TS) -> str:
    # the server writes continuation lines of a multi-line message with a leading TAB
    return f"{ts} [{pid}] {user}@{db} {severity}:  " + message.replace("\n", "\n\t") + "\n"


# -- driving the parser -----------------------------------------------------------------
def run(fmt: str, text: str, *, flush: bool = True) -> list[Event | DeadLetter]:
    p = PostgresParser(ParseContext(source_name="test.log"), fmt)
    out: list[Event | DeadLetter] = []
    offset = 0
    for n, raw in enumerate(text.splitlines(keepends=True), 1):
        out += p.feed(Line(raw, n, offset))
        offset += len(raw.encode())
    if flush:
        out += p.flush()
    return out


def events(items: list[Event | DeadLetter]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def dead(items: list[Event | DeadLetter]) -> list[DeadLetter]:
    return [i for i in items if isinstance(i, DeadLetter)]


FORMATS = ("jsonlog", "csvlog", "stderr")


def line_for(fmt: str, message: str, *, tag: str = "DROP TABLE", **kw: object) -> str:
    """One record in ``fmt``; ``tag`` is jsonlog's ps / csvlog's command_tag, and the
    session of stderr is its pid (``session`` is ignored there)."""
    if fmt == "jsonlog":
        return jsonlog(message, ps=tag, **kw)  # type: ignore[arg-type]
    if fmt == "csvlog":
        return csvlog(message, tag=tag, **kw)  # type: ignore[arg-type]
    keep = ("severity", "pid", "user", "db", "ts")
    return stderr(message, **{k: v for k, v in kw.items() if k in keep})  # type: ignore[arg-type]


# -- one DROP TABLE per format ------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_drop_table_one_event_held_until_flush(fmt: str) -> None:
    text = line_for(fmt, DROP_ORDERS)
    held = run(fmt, text, flush=False)
    assert held == []  # held: an ERROR of the same session may still follow
    items = run(fmt, text)
    assert dead(items) == []
    [ev] = events(items)
    assert ev.action.name == "DROP TABLE"
    assert ev.action.categories == ("data.destroy",)
    assert ev.action.outcome == "success"
    assert ev.action.error == ""
    assert ev.action.statement == "DROP TABLE orders"
    assert ev.action.service == "postgres"
    assert ev.activity == "sql"
    assert ev.resource.type == "table"
    assert ev.resource.name == "public.orders"
    assert ev.resource.database == "prod_app"
    assert ev.actor.principal == "agent_rw"
    assert ev.actor.principal_type == "db_user"
    assert ev.time == pytest.approx(T0)
    assert ev.source.type == "postgres"
    assert (ev.source.line, ev.source.offset) == (1, 0)
    if fmt == "stderr":
        # the Debian prefix has neither %a nor %h; the session is the [pid]
        assert ev.actor.session_id == "1050"
        assert ev.actor.application_name == ""
        assert ev.actor.client_addr == ""
    else:
        assert ev.actor.session_id == SESSION_A
        assert ev.actor.application_name == "cursor-agent"
        assert ev.actor.client_addr == "10.0.0.7"  # csvlog "host:port" loses the port


def test_stderr_prefix_with_app_and_client() -> None:
    # log_line_prefix = '%m [%p] user=%u,db=%d,app=%a,client=%h '
    text = f"{TS} [2211] user=agent_rw,db=prod_app,app=cursor-agent,client=10.0.0.7 LOG:  {DROP_ORDERS}\n"
    [ev] = events(run("stderr", text))
    assert (ev.actor.principal, ev.resource.database) == ("agent_rw", "prod_app")
    assert (ev.actor.application_name, ev.actor.client_addr) == ("cursor-agent", "10.0.0.7")
    assert ev.actor.session_id == "2211"


def test_the_next_record_of_the_session_releases_the_held_event() -> None:
    text = jsonlog(DROP_ORDERS) + jsonlog(
        "duration: 4.210 ms", line_num=4)
    items = run("jsonlog", text, flush=False)
    [ev] = events(items)
    assert ev.action.outcome == "success"


# -- errors ----------------------------------------------------------------------------
# pgaudit logs DML from the executor hooks, before the statement runs, so a DELETE
# that breaks a foreign key is logged and then followed by the session's ERROR.
# (DDL is logged only after it succeeded; a failing DROP leaves just the ERROR.)
DELETE_CUSTOMERS = ("AUDIT: SESSION,4,1,WRITE,DELETE,TABLE,public.customers,"
                    "DELETE FROM customers,<not logged>")
FK_MSG = ('update or delete on table "customers" violates foreign key constraint '
          '"orders_customer_id_fkey" on table "orders"')
FK_DETAIL = 'Key (id)=(1) is still referenced from table "orders".'


def _fk_error(fmt: str) -> str:
    if fmt == "jsonlog":
        return jsonlog(FK_MSG, severity="ERROR", state_code="23503", detail=FK_DETAIL,
                       statement="DELETE FROM customers", ps="DELETE", line_num=4)
    if fmt == "csvlog":
        return csvlog(FK_MSG, severity="ERROR", sqlstate="23503", detail=FK_DETAIL,
                      query="DELETE FROM customers", tag="DELETE", line_num=4)
    return (stderr(FK_MSG, severity="ERROR") + stderr(FK_DETAIL, severity="DETAIL")
            + stderr("DELETE FROM customers", severity="STATEMENT"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_in_same_session_marks_the_audited_statement_failed(fmt: str) -> None:
    text = line_for(fmt, DELETE_CUSTOMERS, tag="DELETE") + _fk_error(fmt)
    items = run(fmt, text)
    assert dead(items) == []
    [ev] = events(items)
    assert (ev.action.name, ev.action.categories) == ("DELETE", ("data.destroy",))
    assert ev.action.outcome == "failure"
    assert not ev.succeeded
    assert FK_MSG in ev.action.error
    if fmt == "stderr":
        assert ev.action.error == FK_MSG  # no SQLSTATE: the Debian prefix has no %e
    else:
        assert ev.action.error == "23503: " + FK_MSG


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_in_same_session_is_applied_without_flush(fmt: str) -> None:
    # the ERROR record itself releases the held event (stderr: once its STATEMENT
    # line has been followed by another record)
    text = line_for(fmt, DELETE_CUSTOMERS, tag="DELETE") + _fk_error(fmt) + line_for(
        fmt, "duration: 0.512 ms", tag="idle", line_num=5)
    [ev] = events(run(fmt, text, flush=False))
    assert ev.action.outcome == "failure"


@pytest.mark.parametrize("fmt", FORMATS)
def test_error_in_another_session_does_not_touch_the_held_statement(fmt: str) -> None:
    other = {"session": SESSION_B, "pid": 1051, "user": "analyst", "app": "psql", "line_num": 2}
    if fmt == "jsonlog":
        err = jsonlog('relation "nope" does not exist', severity="ERROR", state_code="42P01",
                      statement="SELECT * FROM nope", ps="SELECT", **other)  # type: ignore[arg-type]
    elif fmt == "csvlog":
        err = csvlog('relation "nope" does not exist', severity="ERROR", sqlstate="42P01",
                     query="SELECT * FROM nope", tag="SELECT", **other)  # type: ignore[arg-type]
    else:
        err = (stderr('relation "nope" does not exist at character 15', severity="ERROR", pid=1051, user="analyst")
               + stderr("SELECT * FROM nope", severity="STATEMENT", pid=1051, user="analyst"))
    items = run(fmt, line_for(fmt, DELETE_CUSTOMERS, tag="DELETE") + err)
    assert dead(items) == []
    sess_a = "1050" if fmt == "stderr" else SESSION_A
    sess_b = "1051" if fmt == "stderr" else SESSION_B
    mine = [e for e in events(items) if e.actor.session_id == sess_a]
    assert [(e.action.name, e.action.outcome, e.action.error) for e in mine] == [("DELETE", "success", "")]
    # the other session's failed statement is its own event, never ours
    theirs = [e for e in events(items) if e.actor.session_id == sess_b]
    assert [(e.action.name, e.action.outcome, e.actor.principal) for e in theirs] == [
        ("SELECT", "failure", "analyst")]
    assert len(events(items)) == 2


def test_error_fails_only_the_statement_it_names() -> None:
    # two audited statements pending in one session, then an ERROR naming the second
    text = (jsonlog("AUDIT: SESSION,1,1,WRITE,UPDATE,TABLE,public.t,UPDATE t SET a = 1,<not logged>", ps="UPDATE")
            + jsonlog(DELETE_CUSTOMERS, ps="DELETE", line_num=4)
            + jsonlog(FK_MSG, severity="ERROR", state_code="23503",
                      statement="DELETE FROM customers", line_num=5))
    evs = events(run("jsonlog", text))
    assert [(e.action.name, e.action.outcome) for e in evs] == [
        ("UPDATE", "success"), ("DELETE", "failure")]
    assert evs[1].action.error.startswith("23503: ")


# -- merging pgaudit records ---------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_session_and_object_records_of_one_statement_merge(fmt: str) -> None:
    text = (line_for(fmt, "AUDIT: SESSION,5,1,WRITE,DELETE,TABLE,public.customers,"
                          "DELETE FROM customers,<not logged>", tag="DELETE")
            + line_for(fmt, "AUDIT: OBJECT,5,1,WRITE,DELETE,TABLE,public.customers,"
                            "<previously logged>,<previously logged>", tag="DELETE",
                       line_num=4)
            + line_for(fmt, "AUDIT: OBJECT,5,1,READ,SELECT,TABLE,public.orders,"
                            "<previously logged>,<previously logged>", tag="DELETE",
                       line_num=5))
    items = run(fmt, text)
    assert dead(items) == []
    [ev] = events(items)
    assert ev.action.name == "DELETE"
    assert ev.action.categories == ("data.destroy",)
    assert ev.resource.name == "public.customers,public.orders"
    assert ev.action.outcome == "success"


def test_pgaudit_one_record_per_object_drop_table_is_one_event() -> None:
    # what pgaudit writes for DROP TABLE of a table with a primary key
    stmt = "DROP TABLE test.test2"
    recs = [
        f"AUDIT: SESSION,42,1,DDL,DROP TABLE,TABLE,test.test2,{stmt},<none>",
        f"AUDIT: SESSION,42,1,DDL,DROP TABLE,TABLE CONSTRAINT,test_id_not_null on test.test2,{stmt},<none>",
        f"AUDIT: SESSION,42,1,DDL,DROP TABLE,TABLE CONSTRAINT,test_pkey on test.test2,{stmt},<none>",
        f"AUDIT: SESSION,42,1,DDL,DROP TABLE,INDEX,test.test_pkey,{stmt},<none>",
    ]
    text = "".join(jsonlog(r, line_num=10 + k) for k, r in enumerate(recs))
    items = run("jsonlog", text)
    assert dead(items) == []
    [ev] = events(items)
    assert ev.action.name == "DROP TABLE"
    assert ev.action.categories == ("data.destroy",)
    # the resource is the dropped table; the constraints and the index pgaudit lists
    # are dependent objects of other types and do not rename it
    assert (ev.resource.type, ev.resource.name) == ("table", "test.test2")
    assert ev.action.outcome == "success"


def test_same_statement_id_different_statement_is_not_merged() -> None:
    text = (f"{TS} LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<not logged>\n"
            f"{TS} LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,TABLE,public.orders,drop table orders,<not logged>\n")
    evs = events(run("stderr", text))
    assert [e.action.name for e in evs] == ["SELECT", "DROP TABLE"]
    assert evs[1].action.categories == ("data.destroy",)


# -- multi-statement query strings -----------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_multi_statement_string_two_pgaudit_records(fmt: str) -> None:
    q = '"DROP TABLE a; DROP SCHEMA backups CASCADE"'
    text = (line_for(fmt, f"AUDIT: SESSION,1,1,DDL,DROP TABLE,,,{q},<not logged>")
            + line_for(fmt, f"AUDIT: SESSION,2,1,DDL,DROP SCHEMA,,,{q},<not logged>", line_num=4))
    items = run(fmt, text)
    assert dead(items) == []
    evs = events(items)
    assert [e.action.name for e in evs] == ["DROP TABLE", "DROP SCHEMA"]
    assert evs[0].action.categories == ("data.destroy",)
    assert evs[0].action.statement == "DROP TABLE a"
    assert evs[0].resource.name == "a"
    assert evs[1].action.categories == ("backup.destroy", "data.destroy")
    assert evs[1].action.statement == "DROP SCHEMA backups CASCADE"
    assert evs[1].resource.name == "backups"
    assert evs[1].resource.type == "schema"
    assert [e.action.outcome for e in evs] == ["success", "success"]
    assert evs[0].event_id != evs[1].event_id


# -- log_statement ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_log_statement_multi_statement(fmt: str) -> None:
    items = run(fmt, line_for(fmt, "statement: DELETE FROM t; TRUNCATE u", tag="idle"))
    assert dead(items) == []
    evs = events(items)
    assert [e.action.name for e in evs] == ["DELETE", "TRUNCATE"]
    assert [e.action.categories for e in evs] == [("data.destroy",), ("data.destroy",)]
    assert [e.resource.name for e in evs] == ["t", "u"]
    assert [e.action.outcome for e in evs] == ["success", "success"]
    assert len({e.event_id for e in evs}) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_log_statement_and_pgaudit_of_the_same_statement_one_event(fmt: str) -> None:
    text = (line_for(fmt, "statement: DROP TABLE orders", tag="idle")
            + line_for(fmt, DROP_ORDERS, line_num=4))
    items = run(fmt, text)
    assert dead(items) == []
    [ev] = events(items)
    assert ev.action.name == "DROP TABLE"
    assert ev.action.categories == ("data.destroy",)
    assert ev.raw["_via"] == "pgaudit"  # the richer record wins
    assert ev.resource.name == "public.orders"


@pytest.mark.parametrize("fmt", FORMATS)
def test_log_statement_then_error_marks_failure(fmt: str) -> None:
    msg = "cannot drop table orders because other objects depend on it"
    if fmt == "jsonlog":
        err = jsonlog(msg, severity="ERROR", state_code="2BP01", statement="DROP TABLE orders", line_num=4)
    elif fmt == "csvlog":
        err = csvlog(msg, severity="ERROR", sqlstate="2BP01", query="DROP TABLE orders", line_num=4)
    else:
        err = stderr(msg, severity="ERROR") + stderr("DROP TABLE orders", severity="STATEMENT")
    items = run(fmt, line_for(fmt, "statement: DROP TABLE orders", tag="idle") + err)
    assert dead(items) == []
    [ev] = events(items)
    assert (ev.action.name, ev.action.outcome) == ("DROP TABLE", "failure")
    assert ev.action.categories == ("data.destroy",)
    assert ev.action.error == (msg if fmt == "stderr" else "2BP01: " + msg)


# -- records over several lines ----------------------------------------------------------
def test_stderr_multiline_quoted_statement_is_one_record() -> None:
    stmt = "DELETE FROM customers\n WHERE note = 'a \"quoted\"\nword'\n   AND id > 10"
    pg_csv = '"' + stmt.replace('"', '""') + '"'
    text = (stderr(f"AUDIT: SESSION,3,1,WRITE,DELETE,TABLE,public.customers,{pg_csv},<not logged>")
            + stderr("AUDIT: SESSION,4,1,DDL,DROP TABLE,TABLE,public.orders,DROP TABLE orders,<not logged>"))
    assert text.count("\n\t") == 3  # the server's continuation lines
    items = run("stderr", text)
    assert dead(items) == []
    evs = events(items)
    assert [e.action.name for e in evs] == ["DELETE", "DROP TABLE"]
    d = evs[0]
    assert d.action.categories == ()  # it has a WHERE: not a whole-table delete
    assert d.action.statement == "DELETE FROM customers WHERE note = ? AND id > ?"
    assert d.resource.name == "public.customers"
    assert (d.source.line, evs[1].source.line) == (1, 5)
    offs = [0]
    for ln in text.splitlines(keepends=True):
        offs.append(offs[-1] + len(ln.encode()))
    assert evs[1].source.offset == offs[4]


def test_stderr_multiline_log_statement_with_tab_continuations() -> None:
    text = stderr("statement: DELETE\n  FROM audit_trail") + stderr("statement: SELECT 1", pid=1051)
    items = run("stderr", text)
    assert dead(items) == []
    evs = events(items)
    assert [e.action.name for e in evs] == ["DELETE", "SELECT"]
    assert evs[0].action.categories == ("data.destroy",)
    assert evs[0].resource.name == "audit_trail"


def test_csvlog_embedded_newline_in_quoted_field() -> None:
    stmt = "DROP TABLE\n  orders"
    msg = f'AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,public.orders,"{stmt}",<not logged>'
    text = csvlog(msg) + csvlog("AUDIT: SESSION,3,1,WRITE,INSERT,TABLE,public.t,INSERT INTO t VALUES (1),<not logged>",
                                line_num=4, tag="INSERT")
    assert text.count("\n") == 3
    items = run("csvlog", text)
    assert dead(items) == []
    evs = events(items)
    assert [e.action.name for e in evs] == ["DROP TABLE", "INSERT"]
    assert evs[0].action.categories == ("data.destroy",)
    assert evs[0].action.statement == "DROP TABLE orders"
    assert (evs[0].source.line, evs[1].source.line) == (1, 3)


def test_csvlog_truncated_record_at_end_is_dead_lettered() -> None:
    # the file ends inside the quoted message of the second record (rotation, crash)
    cut = csvlog('AUDIT: SESSION,3,1,DDL,DROP TABLE,,,"DROP\nTABLE x",<not logged>', line_num=4)
    text = csvlog(DROP_ORDERS) + cut.split("\n")[0] + "\n"
    items = run("csvlog", text)
    assert len(events(items)) == 1
    [dl] = dead(items)
    assert dl.reason == "truncated CSV record at end of input"
    assert dl.source.line == 2


# -- malformed input ----------------------------------------------------------------------
def test_jsonlog_non_json_line_is_dead_lettered_and_next_record_parses() -> None:
    text = ('{"timestamp":"2026-04-24 09:11:44.000 UTC","user":"agent_rw",\n'
            + jsonlog(DROP_ORDERS))
    items = run("jsonlog", text)
    [dl] = dead(items)
    assert dl.reason.startswith("invalid JSON")
    assert dl.source.line == 1
    assert dl.raw.startswith('{"timestamp"')
    [ev] = events(items)
    assert ev.action.name == "DROP TABLE"
    assert ev.source.line == 2


def test_jsonlog_object_without_message_is_dead_lettered() -> None:
    no_msg = json.dumps({"timestamp": TS, "user": "agent_rw", "dbname": "prod_app", "pid": 1050,
                         "error_severity": "LOG", "backend_type": "client backend"}) + "\n"
    items = run("jsonlog", no_msg + "[1, 2]\n" + jsonlog(DROP_ORDERS))
    dls = dead(items)
    assert len(dls) == 2
    assert all("no message/error_severity" in d.reason for d in dls)
    assert [d.source.line for d in dls] == [1, 2]
    [ev] = events(items)
    assert ev.source.line == 3


def test_jsonlog_bad_timestamp_is_dead_lettered() -> None:
    items = run("jsonlog", jsonlog(DROP_ORDERS, ts="yesterday") + jsonlog(DROP_ORDERS, line_num=9))
    [dl] = dead(items)
    assert dl.reason.startswith("bad timestamp")
    assert len(events(items)) == 1


def test_csvlog_too_few_fields_is_dead_lettered_and_next_record_parses() -> None:
    short = '2026-04-24 09:11:44.000 UTC,"agent_rw","prod_app",1050,LOG\n'
    items = run("csvlog", short + csvlog(DROP_ORDERS))
    [dl] = dead(items)
    assert dl.reason == "not a PostgreSQL csvlog record (5 fields)"
    assert dl.source.line == 1
    assert dl.raw == short
    [ev] = events(items)
    assert (ev.action.name, ev.source.line) == ("DROP TABLE", 2)


def test_stderr_garbage_is_dead_lettered_and_next_record_parses() -> None:
    text = ("this is not a postgres log line\n"
            "\x1b[31m<<binary-ish junk>>\n"
            "\n"
            + stderr(DROP_ORDERS))
    items = run("stderr", text)
    dls = dead(items)
    assert [d.reason for d in dls] == ["not a PostgreSQL log record"] * 2
    assert [d.source.line for d in dls] == [1, 2]
    [ev] = events(items)
    assert (ev.action.name, ev.source.line, ev.action.outcome) == ("DROP TABLE", 4, "success")


@pytest.mark.parametrize("fmt", FORMATS)
def test_bad_pgaudit_body_is_dead_lettered(fmt: str) -> None:
    text = (line_for(fmt, "AUDIT: SESSION,1,1,DDL")
            + line_for(fmt, "AUDIT: SOMETHING,1,1,DDL,DROP TABLE,,,DROP TABLE x,<none>", line_num=4)
            + line_for(fmt, DROP_ORDERS, line_num=5))
    items = run(fmt, text)
    dls = dead(items)
    assert [d.reason for d in dls] == [
        "bad pgaudit record: 4 fields, expected at least 8",
        "bad pgaudit record: audit type 'SOMETHING'"]
    assert [d.source.line for d in dls] == [1, 2]
    [ev] = events(items)
    assert ev.source.line == 3


# -- redaction ------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_literals_are_redacted(fmt: str) -> None:
    sql = "DELETE FROM users WHERE email = 'a@b.example'"
    pg_csv = '"' + sql.replace('"', '""') + '"'
    text = (line_for(fmt, f"AUDIT: SESSION,7,1,WRITE,DELETE,TABLE,public.users,{pg_csv},<not logged>")
            + line_for(fmt, f"statement: {sql}", pid=1077, session=SESSION_B))
    evs = events(run(fmt, text))
    assert len(evs) == 2
    for ev in evs:
        assert "a@b.example" not in ev.action.statement
        assert "?" in ev.action.statement
        assert ev.action.statement == "DELETE FROM users WHERE email = ?"
        assert ev.action.categories == ()
    assert evs[0].action.fingerprint == evs[1].action.fingerprint


# -- auto-detection -------------------------------------------------------------------------
def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_path_detects_jsonlog(tmp_path: Path) -> None:
    insert = "AUDIT: SESSION,3,1,WRITE,INSERT,TABLE,public.t,INSERT INTO t VALUES (1),<not logged>"
    p = _write(tmp_path, "postgresql.json", jsonlog(DROP_ORDERS) + jsonlog(insert, line_num=4))
    assert detect(p.read_bytes()) == "postgres-jsonlog"
    items = list(read_path(p))
    assert dead(items) == []
    evs = events(items)
    assert [e.action.name for e in evs] == ["DROP TABLE", "INSERT"]
    assert evs[0].actor.application_name == "cursor-agent"  # only jsonlog/csvlog carry it here
    assert evs[0].actor.session_id == SESSION_A
    assert evs[0].source.name == str(p)
    assert evs[1].source.offset == len(jsonlog(DROP_ORDERS).encode())


def test_read_path_detects_csvlog(tmp_path: Path) -> None:
    p = _write(tmp_path, "postgresql.csv", csvlog(DROP_ORDERS))
    assert detect(p.read_bytes()) == "postgres-csvlog"
    items = list(read_path(p))
    assert dead(items) == []
    [ev] = events(items)
    assert (ev.action.name, ev.actor.session_id, ev.actor.client_addr) == (
        "DROP TABLE", SESSION_A, "10.0.0.7")


def test_read_path_detects_stderr(tmp_path: Path) -> None:
    p = _write(tmp_path, "postgresql-15-main.log",
               stderr("connection authorized: user=agent_rw database=prod_app application_name=cursor-agent")
               + stderr(DROP_ORDERS))
    assert detect(p.read_bytes()) == "postgres-stderr"
    items = list(read_path(p))
    assert dead(items) == []
    [ev] = events(items)
    assert (ev.action.name, ev.actor.session_id, ev.actor.principal) == ("DROP TABLE", "1050", "agent_rw")


def test_read_stream_gzip_and_explicit_format(tmp_path: Path) -> None:
    import gzip
    import io

    raw = gzip.compress(stderr(DROP_ORDERS).encode())
    p = tmp_path / "postgresql.log.gz"
    p.write_bytes(raw)
    [ev] = events(list(read_path(p)))
    assert ev.action.name == "DROP TABLE"
    # the same bytes forced through the jsonlog parser are dead letters, not events
    items = list(read_stream(io.BufferedReader(io.BytesIO(stderr(DROP_ORDERS).encode())), "x", fmt="jsonlog"))
    assert events(items) == []
    assert [d.reason.startswith("invalid JSON") for d in dead(items)] == [True]
