"""PostgresParser on the real PostgreSQL / pgaudit samples of the public corpus
(PROVENANCE.md section 5). The expected numbers were counted on the files
themselves; how is written next to each."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditwatch.model import Event
from auditwatch.streams.reader import read_path
from auditwatch.streams.sources.base import DeadLetter

DESTRUCTIVE = {"data.destroy", "backup.destroy", "logging.disable", "privilege.escalate",
               "credential.create", "exec.dangerous"}

_cache: dict[Path, list[Event | DeadLetter]] = {}


def load(path: Path) -> list[Event | DeadLetter]:
    if path not in _cache:
        _cache[path] = list(read_path(path))
    return _cache[path]


def events(items: list[Event | DeadLetter]) -> list[Event]:
    return [i for i in items if isinstance(i, Event)]


def dead(items: list[Event | DeadLetter]) -> list[DeadLetter]:
    return [i for i in items if isinstance(i, DeadLetter)]


def sample(corpus: Path, rel: str) -> Path:
    p = corpus / rel
    if not p.is_file():
        pytest.fail(f"corpus sample missing: {p}")
    return p


# -- immudb-log-audit/pgaudit_jsonlog.log -------------------------------------------------
JSONLOG = "immudb-log-audit/pgaudit_jsonlog.log"


def test_immudb_jsonlog(corpus: Path) -> None:
    path = sample(corpus, JSONLOG)
    raw = path.read_text()
    # PROVENANCE says "11 lines": that is `wc -l`, i.e. 11 newlines. The last record
    # has no trailing newline, so the file holds 12 jsonlog records (line_num 1..12),
    # each a single statement (no multi-statement strings here): 12 events.
    assert raw.count("\n") == 11 and not raw.endswith("\n")
    assert len(raw.splitlines()) == 12
    items = load(path)
    assert dead(items) == []
    evs = events(items)
    assert len(evs) == 12
    assert [e.source.line for e in evs] == list(range(1, 13))
    assert [e.action.name for e in evs] == ["CREATE TABLE"] + ["INSERT"] * 11
    assert {e.actor.principal for e in evs} == {"postgres"}
    assert {e.resource.database for e in evs} == {"postgres"}
    assert {e.actor.session_id for e in evs} == {"645ffc74.8a"}
    assert {e.actor.client_addr for e in evs} == {"172.22.0.1"}
    assert {e.actor.application_name for e in evs} == {""}  # not set by the client
    assert {e.action.outcome for e in evs} == {"success"}
    assert {e.resource.name for e in evs} == {"audit_trail"}
    assert all(not (set(e.action.categories) & DESTRUCTIVE) for e in evs)
    assert len({e.event_id for e in evs}) == 12
    assert evs[0].time == datetime(2023, 5, 13, 21, 9, 8, 502000, tzinfo=UTC).timestamp()
    assert evs[-1].time == datetime(2023, 5, 13, 21, 9, 58, 564000, tzinfo=UTC).timestamp()
    # literals of the INSERTs are redacted: one shape for all eleven
    assert {e.action.statement for e in evs[1:]} == {
        "insert into audit_trail (id, ts, usr, action, sourceip, context) "
        "VALUES (?, NOW (), ?, ?, ?, ?)"}
    assert len({e.action.fingerprint for e in evs[1:]}) == 1
    assert not any("user0" in e.action.statement or "127.0.0.1" in e.action.statement for e in evs)


# -- immudb-log-audit/pgaudit_stderr.log --------------------------------------------------
STDERR = "immudb-log-audit/pgaudit_stderr.log"


def test_immudb_stderr(corpus: Path) -> None:
    path = sample(corpus, STDERR)
    lines = path.read_text().splitlines()
    # 1005 lines, every one "%m [%p] LOG:  AUDIT: SESSION,..." and one statement each
    assert len(lines) == 1005
    pids = Counter(re.match(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  AUDIT: SESSION,", ln).group(1)  # type: ignore[union-attr]
                   for ln in lines)
    assert pids == Counter({"294": 1000, "143": 3, "156": 1, "199": 1})
    items = load(path)
    assert dead(items) == []
    evs = events(items)
    assert len(evs) == 1005
    # events leave in the order their sessions release them; each line gives one
    assert sorted(e.source.line for e in evs) == list(range(1, 1006))
    evs.sort(key=lambda e: e.source.line)
    assert Counter(e.actor.session_id for e in evs) == pids  # the [pid] is the session
    assert Counter(e.action.name for e in evs) == Counter(
        {"INSERT": 1001, "SELECT": 3, "CREATE TABLE": 1})
    assert all(not (set(e.action.categories) & DESTRUCTIVE) for e in evs)
    assert {e.action.outcome for e in evs} == {"success"}
    # the prefix has no %u/%d: nobody to name
    assert {e.actor.principal for e in evs} == {""}
    # line 2's statement is cut off in the log (an opening quote, no closing one)
    assert lines[1].endswith('"select * from audit_trail')
    assert (evs[1].action.name, evs[1].action.statement) == ("SELECT", "select * from audit_trail")
    assert evs[0].time == datetime(2023, 2, 3, 20, 29, 44, 139000, tzinfo=UTC).timestamp()


# -- IBM Cloud: syslog-wrapped stderr lines -----------------------------------------------
IBM = "ibm-universal-connectors/pgaudit/ibmcloud_postgres_pgaudit_Postgres-Audit-Logs.txt"
PGADMIN = "pgAdmin 4 - CONN:3040112"
DBEAVER = "DBeaver 23.3.1 - SQLEditor <Script-49.sql>"


def _brief(e: Event) -> tuple[object, ...]:
    return (e.source.line, e.action.name, e.action.categories, e.resource.name,
            e.actor.principal, e.resource.database, e.actor.application_name,
            e.actor.client_addr, e.actor.session_id, e.action.outcome)


def test_ibm_cloud_syslog_wrapped_records(corpus: Path) -> None:
    """The file's 9 lines: 1-5 are syslog lines wrapping {"message":"<CRI> <server line>"}
    (line 4 repeats line 1 byte for byte), 6 is blank, 7 is the title "IBM Cloud Logs",
    8-9 are IBM Cloud Logs records (escaped JSON) for DBeaver's CREATE/DROP TABLE
    pg_guardium_123. This test checks lines 1-5; 7-9 are the next test."""
    path = sample(corpus, IBM)
    lines = path.read_text().splitlines()
    assert len(lines) == 9 and lines[0] == lines[3] and lines[6] == "IBM Cloud Logs"
    items = load(path)
    assert not any("AUDIT: " in d.raw for d in dead(items))
    # the only line that may be a dead letter is the title line
    assert all(d.raw.strip() == "IBM Cloud Logs" for d in dead(items))
    wrapped = [e for e in events(items) if e.source.line <= 5]
    assert [_brief(e) for e in wrapped] == [
        # "create table science_report(...);" has its opening quote but lost its end in
        # the wrapper; line 4 is the same record again and merges into this event
        (1, "CREATE TABLE", (), "science_report", "admin", "ibmclouddb", PGADMIN,
         "10.163.20.125", "8077", "success"),
        (2, "DROP TABLE", ("data.destroy",), "sst1_report", "admin", "ibmclouddb", PGADMIN,
         "10.163.20.125", "7971", "success"),
        (3, "CREATE TABLE", (), "student", "admin", "ibmclouddb", "psql",
         "172.30.152.128", "7271", "success"),
        (5, "ALTER TABLE", ("data.destroy",), "science_report", "admin", "ibmclouddb", PGADMIN,
         "10.163.20.125", "8077", "success"),
    ]
    assert wrapped[1].action.statement == "drop table sst1_report"
    assert wrapped[3].action.statement == "ALTER TABLE science_report RENAME TO socialscience_report"
    # the server line's own timestamp, not the syslog or CRI one
    assert wrapped[1].time == datetime(2022, 8, 10, 11, 29, 26, tzinfo=UTC).timestamp()


def test_ibm_cloud_logs_records_are_not_swallowed(corpus: Path) -> None:
    items = load(sample(corpus, IBM))
    evs = events(items)
    # 5 distinct statements on lines 1-5 (line 4 repeats line 1) + 2 on lines 8-9
    assert len(evs) == 6
    drops = [e for e in evs if e.action.name == "DROP TABLE"]
    assert [(e.source.line, e.resource.name, e.actor.application_name, e.actor.session_id,
             e.actor.principal, e.resource.database, e.action.categories) for e in drops] == [
        (2, "sst1_report", PGADMIN, "7971", "admin", "ibmclouddb", ("data.destroy",)),
        (9, "pg_guardium_123", DBEAVER, "11276", "admin", "ibmclouddb", ("data.destroy",)),
    ]
    # the title line is not a log record: it is a dead letter, never silently gone
    assert [(d.source.line, d.reason) for d in dead(items)] == [(7, "not a PostgreSQL log record")]


# -- pgaudit/pgaudit.out: the regression transcript ----------------------------------------
PGAUDIT_OUT = "pgaudit/pgaudit.out"
_AUDIT_LINE = re.compile(r"^(NOTICE|WARNING):  AUDIT: (.*)$")


def audit_records(lines: list[str]) -> list[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each AUDIT record; quoted statements span lines."""
    out = []
    i = 0
    while i < len(lines):
        m = _AUDIT_LINE.match(lines[i])
        if not m:
            i += 1
            continue
        first, body = i, m.group(2)
        while body.count('"') % 2:
            i += 1
            body += "\n" + lines[i]
        out.append((first + 1, i + 1, next(csv.reader(io.StringIO(body)))))
        i += 1
    return out


def test_pgaudit_out_every_audit_record_is_read(corpus: Path) -> None:
    path = sample(corpus, PGAUDIT_OUT)
    lines = path.read_text().split("\n")
    assert lines[-1] == ""  # the file ends with a newline
    lines = lines[:-1]
    assert len(lines) == 2669
    recs = audit_records(lines)
    # PROVENANCE says 416; counted here there are 415 lines starting "NOTICE:  AUDIT: "
    # or "WARNING:  AUDIT: " (grep -c 'AUDIT: ' agrees), spanning 922 lines
    assert len(recs) == 415
    audit_lines = {n for a, b, _ in recs for n in range(a, b + 1)}
    assert len(audit_lines) == 922

    items = load(path)
    evs, dls = events(items), dead(items)
    # no AUDIT record is dead-lettered ...
    assert not any("AUDIT: " in d.raw for d in dls)
    # ... and every event starts at an AUDIT record; a record that is not the start of
    # an event continues the statement of the record before it (same statement and
    # substatement id): SESSION+OBJECT pairs, one record per object, nested objects
    starts = [a for a, _, _ in recs]
    ev_lines = [e.source.line for e in evs]
    assert ev_lines == sorted(ev_lines) and set(ev_lines) <= set(starts)
    for k, (a, _, f) in enumerate(recs):
        if a not in ev_lines:
            assert k > 0 and recs[k - 1][2][1:3] == f[1:3], f"AUDIT record at line {a} lost"

    # everything else is psql transcript: SQL echo, result tables, comments, \connect
    assert {d.reason for d in dls} == {"not a PostgreSQL log record"}
    assert all(d.source.line not in audit_lines for d in dls)
    # every line is accounted for: blank, an AUDIT record, one of the 6 other bare
    # severity records (an MD5 warning, 2 "NOTICE:  test", 2 ERRORs, an extension
    # notice), or part of a dead letter (TAB-led echo lines join the line above)
    blank = {n for n, ln in enumerate(lines, 1) if not ln.strip()}
    other = {n for n, ln in enumerate(lines, 1)
             if re.match(r"^(NOTICE|WARNING|ERROR):  ", ln) and n not in audit_lines}
    assert len(other) == 6
    dl_lines = {n for d in dls for n in range(d.source.line, d.source.line + d.raw.count("\n"))}
    assert len(dl_lines) == sum(d.raw.count("\n") for d in dls)  # no line in two dead letters
    assert dl_lines | audit_lines | blank | other == set(range(1, len(lines) + 1))
    assert not (dl_lines & (audit_lines | blank | other))
    assert len(dls) == 1458


def test_pgaudit_out_outcomes(corpus: Path) -> None:
    evs = events(load(sample(corpus, PGAUDIT_OUT)))
    failed = [(e.source.line, e.action.name, e.action.error) for e in evs if e.action.outcome != "success"]
    # the two DO blocks creating a table in schema "bogus" are followed by the ERROR
    # (lines 977 and 2189); the transcript carries no SQLSTATE
    assert failed == [
        (970, "DO", 'schema "bogus" does not exist at character 14'),
        (2182, "DO", 'schema "bogus" does not exist at character 14'),
    ]


def test_pgaudit_out_destructive_statements(corpus: Path) -> None:
    evs = events(load(sample(corpus, PGAUDIT_OUT)))
    by_line = {e.source.line: e for e in evs}

    def at(n: int) -> Event:
        assert n in by_line, f"no event starts at line {n}"
        return by_line[n]

    # every DROP of data the file audits (grep "AUDIT: .*,DROP "): 16 DROP TABLE records
    # heads (lines 1005-1008 are one statement, one record per object), 2 DROP DATABASE,
    # 2 DROP INDEX, 1 DROP VIEW, 2 DROP FUNCTION, 1 DROP SCHEMA, 2 DROP EXTENSION
    drops = {e.source.line: e.action.name for e in evs
             if e.action.name.startswith("DROP ") and "data.destroy" in e.action.categories}
    assert drops == {
        81: "DROP TABLE", 960: "DROP TABLE", 1005: "DROP TABLE", 1068: "DROP DATABASE",
        1292: "DROP TABLE", 1322: "DROP INDEX", 1324: "DROP TABLE", 1652: "DROP TABLE",
        1654: "DROP VIEW", 1656: "DROP TABLE", 1658: "DROP FUNCTION", 1660: "DROP FUNCTION",
        1837: "DROP TABLE", 2007: "DROP TABLE", 2172: "DROP TABLE", 2213: "DROP TABLE",
        2223: "DROP TABLE", 2225: "DROP TABLE", 2227: "DROP SCHEMA", 2273: "DROP DATABASE",
        2468: "DROP TABLE", 2498: "DROP INDEX", 2500: "DROP TABLE", 2545: "DROP TABLE",
        2562: "DROP EXTENSION", 2578: "DROP EXTENSION",
    }
    assert Counter(e.action.name for e in evs)["DROP TABLE"] == 16

    t = at(81)
    assert (t.action.statement, t.resource.name, t.resource.type) == ("DROP TABLE test", "public.test", "table")
    for n in (960, 2172):  # inside a DO block: substatement 3 of the DO
        assert at(n).action.statement == "DROP table do_table"
    # pgaudit's one record per object: TABLE, 2 x TABLE CONSTRAINT, INDEX -> one event
    # about the table (dependent objects of another type do not rename the resource)
    assert (at(1005).resource.type, at(1005).resource.name) == ("table", "test.test2")
    assert 1006 not in by_line and 1007 not in by_line and 1008 not in by_line

    # "delete from bar" (no WHERE), as OBJECT+SESSION pairs: one event each
    for n in (1180, 2372):
        d = at(n)
        assert (d.action.name, d.action.statement, d.action.categories) == (
            "DELETE", "delete from bar", ("data.destroy",))
        assert d.resource.name == "public.bar"
        assert n + 1 not in by_line
    for n in (1188, 2380):  # "delete from bar where col = 'test1'"
        assert (at(n).action.name, at(n).action.categories) == ("DELETE", ())
    assert at(1641).action.categories == ("data.destroy",)  # DELETE FROM test2
    assert at(1646).action.categories == ()  # DELETE FROM test3 WHERE id > 0

    u = at(49)
    assert (u.action.name, u.action.categories) == ("CREATE ROLE", ("credential.create",))
    assert u.action.statement == "CREATE USER regress_user1 password < REDACTED >"
    assert u.resource.name == "regress_user1"
    creds = sorted(e.source.line for e in evs if "credential.create" in e.action.categories)
    # CREATE USER/ROLE ... PASSWORD (49, 86), ALTER ROLE/USER ... PASSWORD (55, 60),
    # CREATE/ALTER USER MAPPING ... password (2570, 2572)
    assert creds == [49, 55, 60, 86, 2570, 2572]
    assert not any("'password'" in e.action.statement or "secret" in e.action.statement for e in evs)

    # ALTER TABLE ... DROP COLUMN / RENAME TO
    assert [n for n in (982, 988, 1000, 2194, 2198, 2210)
            if "data.destroy" not in at(n).action.categories] == []
    # SET pgaudit.log = 'NONE' for a role switches auditing off
    assert "logging.disable" in at(461).action.categories


def test_pgaudit_out_select_for_update_is_not_destructive(corpus: Path) -> None:
    evs = events(load(sample(corpus, PGAUDIT_OUT)))
    locks = [e for e in evs if e.action.name == "SELECT" and e.action.statement.endswith("FOR UPDATE")]
    assert [e.source.line for e in locks] == [588, 607]
    assert [e.action.categories for e in locks] == [(), ()]


def test_pgaudit_out_different_statements_with_the_same_id_are_separate(corpus: Path) -> None:
    path = sample(corpus, PGAUDIT_OUT)
    recs = audit_records(path.read_text().split("\n")[:-1])
    # A record continues the event before it only if it has the same ids and the same
    # statement ("<previously logged>"/"<not logged>" carry no text and so continue
    # it): 366 events.
    heads, prev = [], None
    for a, _, f in recs:
        text = f[7] if not f[7].startswith("<") else None
        if prev is None or prev[0] != f[1:3] or (text is not None and prev[1] is not None and text != prev[1]):
            heads.append(a)
            prev = (f[1:3], text)
        elif text is not None:
            prev = (f[1:3], text)
    assert len(heads) == 366
    evs = events(load(path))
    ev_lines = [e.source.line for e in evs]
    assert set(heads) <= set(ev_lines)
    # 661 (SET, after an OBJECT "<not logged>" record of another session at 651) and 2543
    # (CREATE TABLE wombat after 2516, likewise) are separate statements too; a parser
    # may tell them apart (a "<not logged>" statement has no text in any of its records)
    assert set(ev_lines) - set(heads) <= {661, 2543}
    creates = {e.source.line: e.resource.name for e in evs if e.action.name == "CREATE TABLE"}
    assert creates[436] == "public.account"
    assert [(e.action.name, e.resource.name) for e in evs if e.source.line in (402, 412)] == [
        ("ALTER ROLE", "regress_user2"), ("ALTER ROLE", "regress_user2")]
