"""MariaDB Audit Plugin (``server_audit``) logs: the plugin's own file, and the
same records sent to syslog. The plugin also runs on MySQL (Amazon RDS/Aurora
MySQL, AWS's audit-plugin-for-mysql), which write the same lines.

File lines (``server_audit_output_type=file``)::

    20220121 11:13:15,db1,root,localhost,21,46,CREATE,MariaDB,connector_details,
    20220121 11:13:15,db1,root,localhost,21,46,QUERY,MariaDB,'create table connector_details(...)',0

``timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode``;
syslog lines carry the same fields from ``serverhost`` on, after the ident
(``mysql-server_auditing: ``, then ``server_audit_syslog_info`` if set).

Format facts that matter here (checked against MariaDB 10.11 writing the log,
see ``tests/streams/test_mariadb_live.py``):

* **Time.** ``YYYYMMDD HH:MM:SS`` in the *server's local time*, without a zone:
  read as UTC (run database hosts on UTC, as RDS does). Aurora writes epoch
  microseconds instead; both are read. Syslog lines take the syslog time
  (RFC 3164 without a year: the year of observation; or RFC 3339).
* **The statement.** For ``QUERY`` the object is the statement in single
  quotes, with ``\\'`` ``\\\\`` ``\\n`` ``\\r`` ``\\t`` escaped; older plugin versions
  wrote newlines raw, so a record can span physical lines: it is held until
  its closing quote (a record still open after 10 MB, or when the next record
  begins, is a dead letter). The text is cut at ``server_audit_query_log_limit``
  (1024 by default) and passwords in ``GRANT``/``CREATE USER`` are already
  masked (``IDENTIFIED BY *****``).
* **One statement per record.** The server logs each statement of a
  multi-statement query as its own record with its own query id; a record is
  still split with the SQL classifier (one event per statement) for writers
  that do not. A record that begins with ``CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT
  ... BEGIN`` is one statement: what the splitter finds after it is the
  routine's body, which does not run when the routine is created (its
  statements are logged, each as a record, when it is ``CALL``\\ed), so the body
  makes no events (counted in ``raw["routine_body_statements"]``).
* **Outcome.** ``retcode`` 0 is success; anything else is a failure with error
  ``"retcode N"`` (1064 syntax, 1146 no such table, 1051 unknown table ...).
  ``FAILED_CONNECT`` carries the login error (1045).
* **Table records and double counting.** With ``server_audit_events=TABLE`` the
  plugin also writes, *before* the ``QUERY`` record and with the same connection
  and query id, one record per table the statement opened: ``READ``/``WRITE``
  (lock time), ``CREATE``/``ALTER``/``DROP``/``RENAME`` (``RENAME`` names
  ``old|newdb.new``). They are events of their own (activity ``sql``, action
  name = the operation, resource = the table), held until their statement's
  record arrives so that one statement's destructive act is counted once:

  - the ``QUERY`` event carries the statement's categories (classifier);
  - a table event carries its operation's categories from
    ``detectors/mappings/mysql_audit.py`` (``DROP``/``RENAME`` → data.destroy, as
    the classifier sees ``DROP TABLE db.t``)
    only where no *successful* ``QUERY`` event of the same (serverhost,
    connection, query id) carries them, and once per statement; a table event
    that is not proof of the act (``READ``/``WRITE``/``ALTER``) never repeats
    what its statement carries, even a failed one (the attempt is on the
    statement). So
    ``DROP TABLE customers`` is one data.destroy (on the ``QUERY`` event);
    ``CALL cleanup()`` whose body drops a table is counted on the ``DROP``
    record if the inner statement's record is missing; and
    ``DROP TABLE t9, missing`` (the server drops ``t9``, then fails with 1051)
    is a failed ``QUERY`` plus a successful ``DROP t9`` that carries data.destroy.
  - ``DROP``/``RENAME``/``CREATE`` are written only once done, so their events
    are successes whatever the statement's retcode; ``READ``/``WRITE``/``ALTER``
    take the statement's outcome, or ``unknown`` when no statement record
    came (``QUERY`` events not logged).
  - Table events wait for the connection's next record with another query id,
    its ``DISCONNECT``, or ``flush`` (the file went idle). If one had to be
    released before its ``QUERY`` record came, it carries its categories and the
    later successful ``QUERY`` event drops those (``raw["categories_on_objects"]``).
* **Identity.** ``username`` is the login user (``principal``, principal_type
  ``db_user``, credential ``mysql:<user>``), ``host`` the client host (or IP),
  ``connectionid`` the session; ``PROXY_CONNECT`` names the proxied account in
  its object (``tags["proxy_user"]``). The database field is the session's
  current database.
* **raw** is ``{"record": <the line(s)>, "via": "query"|"table"|"connection",
  "server", "query_id", "operation"}`` plus notes: ``categories_on_statement`` /
  ``categories_on_objects`` (what this event does not carry because another
  event of the statement does), ``renamed_to``, ``routine_body_statements``,
  ``truncated``, ``extra_fields``, ``syslog``.
* **Event ids.** ``mariadb-<hash>`` of serverhost, time, connection, query id,
  operation and the record's byte offset: query ids repeat inside stored
  routines on older servers, so the record's position is part of its identity
  (stable across re-reads and renames of the file).

The helpers ``statement_verdicts``, ``application_from_comment``, ``rtype_of`` and
``StatementJoin`` are shared with ``mysql_audit.py`` (MySQL Enterprise Audit,
Percona).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from auditwatch.detectors.mappings.mysql_audit import (
    SERVER_AUDIT_CONNECTION_OPS,
    SERVER_AUDIT_TABLE_OPS,
    ObjectOp,
    object_categories,
    object_op,
)
from auditwatch.detectors.sql.classify import SqlVerdict, classify
from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Outcome, Resource, SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, Line, ParseContext, stable_id
from auditwatch.streams.sources.registry import SourceSpec, register
from auditwatch.timeparse import parse_time

TYPE = "mariadb-audit"
SERVICE = "mariadb"
MAX_RECORD = 10 * 1024 * 1024  # a quoted statement still open after this is a dead letter
MAX_HELD_PER_STATEMENT = 10_000  # table records waiting for one statement before they are released

# -- shared with mysql_audit.py ---------------------------------------------------

_ROUTINE = re.compile(
    r"^\s*CREATE\b.{0,400}?\b(PROCEDURE|FUNCTION|TRIGGER|EVENT)\b.*\bBEGIN\b",
    re.IGNORECASE | re.DOTALL,
)
_APP_COMMENT = re.compile(r"/\*\s*ApplicationName=([^*]{1,200}?)\s*\*/")


def statement_verdicts(sql: str) -> tuple[list[SqlVerdict], int]:
    """The statements of one logged query string (MySQL dialect), and how many
    verdicts were a routine's body folded into its ``CREATE`` (see module doc)."""
    verdicts = classify(sql, "mysql")
    for i, v in enumerate(verdicts):
        if v.kind.startswith("CREATE") and _ROUTINE.match(v.redacted):
            return verdicts[: i + 1], len(verdicts) - i - 1
    return verdicts, 0


def application_from_comment(sql: str) -> str:
    """``/* ApplicationName=DBeaver 7.1.4 - SQLEditor <Script.sql> */`` (DBeaver and
    other JDBC tools prefix each statement with it): the declared name, or ""."""
    if "ApplicationName=" not in sql[:1000]:
        return ""
    m = _APP_COMMENT.search(sql[:1000])
    return m.group(1).strip() if m else ""


_RTYPES = (
    ("DATABASE", "database"),
    ("SCHEMA", "database"),
    ("TABLE", "table"),
    ("VIEW", "view"),
    ("INDEX", "index"),
    ("FUNCTION", "function"),
    ("PROCEDURE", "procedure"),
    ("TRIGGER", "trigger"),
    ("EVENT", "event"),
    ("USER", "user"),
    ("ROLE", "role"),
    ("TRUNCATE", "table"),
    ("DELETE", "table"),
    ("UPDATE", "table"),
    ("INSERT", "table"),
    ("REPLACE", "table"),
    ("SELECT", "table"),
    ("GRANT", "user"),
    ("REVOKE", "user"),
)


def rtype_of(kind: str) -> str:
    """The resource type a statement kind acts on (``DROP TABLE`` -> table)."""
    k = kind.upper()
    for word, rt in _RTYPES:
        if word in k:
            return rt
    return ""


def apply_verdict(ev: Event, v: SqlVerdict | None) -> None:
    """Put one statement's verdict on its event (kind, categories, redacted SQL, object)."""
    a, r = ev.action, ev.resource
    if v is None:
        a.fingerprint = "QUERY"
        return
    a.name, a.categories, a.statement, a.fingerprint = v.kind, v.categories, v.redacted, v.fingerprint
    r.type, r.name = rtype_of(v.kind), (v.objects[0] if v.objects else "")
    if v.truncated:
        ev.raw["truncated"] = True


@dataclass(slots=True)
class _Stmt:
    held: list[tuple[Event, ObjectOp]] = field(default_factory=list)
    # categories carried by object events already out (successful ones)
    by_objects: set[str] = field(default_factory=set)
    # categories carried by successful statement events
    by_statements: set[str] = field(default_factory=set)


class StatementJoin:
    """Object-level events (a table read, dropped, renamed) wait for the event of
    the statement they belong to, so that a statement's categories are counted
    once: on the statement event when it succeeded, else on the first object
    event that was carried out. See the module docstring for the rules.

    ``session`` is whatever serialises a connection's records; ``key`` names one
    statement within it. Memory is bounded (``limit`` statements remembered).
    """

    def __init__(self, limit: int = 4096) -> None:
        self._stmts: OrderedDict[tuple[str, ...], _Stmt] = OrderedDict()
        self._open: dict[str, tuple[str, ...]] = {}  # session -> the statement with held objects
        self._limit = limit

    def _get(self, key: tuple[str, ...]) -> _Stmt:
        st = self._stmts.get(key)
        if st is None:
            st = self._stmts[key] = _Stmt()
            for _ in range(len(self._stmts) - self._limit):  # forget the oldest, not the waiting
                old = next(iter(self._stmts))
                if self._stmts[old].held:
                    self._stmts.move_to_end(old)
                else:
                    del self._stmts[old]
        return st

    def hold(self, session: str, key: tuple[str, ...], ev: Event, op: ObjectOp) -> list[Event]:
        out = self._switch(session, key)
        st = self._get(key)
        st.held.append((ev, op))
        self._open[session] = key
        if len(st.held) >= MAX_HELD_PER_STATEMENT:
            out += self.release(session)
        return out

    def statement(self, session: str, key: tuple[str, ...], events: list[Event]) -> list[Event]:
        """The statement's events (outcomes set), preceded by the objects held for it."""
        out = self._switch(session, key)
        st = self._get(key)
        failed = next((e for e in events if e.action.outcome == "failure"), None)
        for ev in events:
            if ev.action.outcome != "success":
                continue
            dup = set(ev.action.categories) & st.by_objects
            if dup:  # an object record released before this one came already carries them
                ev.action.categories = tuple(c for c in ev.action.categories if c not in dup)
                _note(ev, "categories_on_objects", sorted(dup))
            st.by_statements.update(ev.action.categories)
        held, st.held = st.held, []
        self._open.pop(session, None)
        outcome: Outcome | None = (
            "failure" if failed is not None else ("success" if events else None)
        )
        error = failed.action.error if failed is not None else ""
        attempted = {c for e in events for c in e.action.categories}
        for ev, op in held:
            self._finish(st, ev, op, outcome, error, set() if op.done_when_logged else attempted)
        return out + [ev for ev, _ in held] + events

    def release(self, session: str) -> list[Event]:
        """The session's held objects, without a statement record (outcome from the table)."""
        key = self._open.pop(session, None)
        if key is None:
            return []
        st = self._stmts.get(key)
        if st is None:
            return []
        held, st.held = st.held, []
        for ev, op in held:
            self._finish(st, ev, op, None, "")
        return [ev for ev, _ in held]

    def release_all(self) -> list[Event]:
        out: list[Event] = []
        for session in list(self._open):
            out += self.release(session)
        return out

    def _switch(self, session: str, key: tuple[str, ...]) -> list[Event]:
        cur = self._open.get(session)
        return self.release(session) if cur is not None and cur != key else []

    @staticmethod
    def _finish(
        st: _Stmt,
        ev: Event,
        op: ObjectOp,
        outcome: Outcome | None,
        error: str,
        attempted: set[str] | None = None,
    ) -> None:
        a = ev.action
        if op.done_when_logged:
            a.outcome = "success"
        elif outcome is not None:
            a.outcome, a.error = outcome, error
        else:
            a.outcome = "unknown"
        on_statement = st.by_statements | (attempted or set())
        cats = tuple(c for c in a.categories if c not in on_statement and c not in st.by_objects)
        if cats != a.categories:
            removed = set(a.categories) - set(cats)
            if removed & on_statement:
                _note(ev, "categories_on_statement", sorted(removed & on_statement))
            if removed - on_statement:
                _note(ev, "categories_on_objects", sorted(removed - on_statement))
            a.categories = cats
        if a.outcome == "success":
            st.by_objects.update(cats)


def _note(ev: Event, k: str, v: Any) -> None:
    if isinstance(ev.raw, dict):
        ev.raw[k] = v


# -- the server_audit record ------------------------------------------------------

_OP = r"[A-Z][A-Z_]*"
_FILE_HEAD = re.compile(
    r"(?P<ts>\d{8} \d\d:\d\d:\d\d|\d{10}(?:\d{3}){0,2}),"
    r"(?P<srv>[^,\n]*),(?P<user>[^,\n]*),(?P<host>[^,\n]*),(?P<conn>\d+),(?P<qid>\d+),(?P<op>"
    + _OP
    + r"),"
    r"(?P<db>[^,\n]*),"
)
_SYSLOG_HEAD = re.compile(
    r"(?P<prefix>[^\n]*?\S): (?:(?P<info>[^,\s]+) )?\s*"
    r"(?P<srv>[^,\s][^,\n]*|),(?P<user>[^,\n]*),(?P<host>[^,\n]*),"
    r"(?P<conn>\d+),(?P<qid>\d+),(?P<op>" + _OP + r"),"
    r"(?P<db>[^,\n]*),"
)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'", re.DOTALL)
_INSIDE = re.compile(r"(?:[^'\\]|\\.)*", re.DOTALL)  # text that cannot end a quoted statement
_PLAIN = re.compile(r"[^,\n]*")
_TAIL = re.compile(r"(?:,(?P<rc>[^,\n]*)(?P<extra>,[^\n]*)?)?[ \t\r\n]*\Z")
_ESC = re.compile(r"\\(.)", re.DOTALL)
_UNESC = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_ISO_PREFIX = re.compile(
    r"^(?:<\d{1,3}>)?(?:1 )?"
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s"
)
_BSD_PREFIX = re.compile(
    r"^(?:<\d{1,3}>)?(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d)\s"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
RECORD_START = re.compile(
    r"^(?:\d{8} \d\d:\d\d:\d\d|\d{10}(?:\d{3}){0,2}),[^,\n]*,[^,\n]*,[^,\n]*,\d+,\d+," + _OP + ","
)


@dataclass(slots=True)
class AuditRecord:
    time: float
    server: str
    user: str
    host: str
    conn: str
    qid: str
    op: str
    db: str
    obj: str
    retcode: str  # "" for table records
    extra: str  # fields after retcode (connection type on some builds)
    syslog: bool = False
    truncated: bool = False  # a syslog message cut inside the quoted statement


def unescape(s: str) -> str:
    return _ESC.sub(lambda m: _UNESC.get(m.group(1), m.group(1)), s) if "\\" in s else s


def file_time(ts: str) -> float:
    if " " in ts:
        return parse_time(f"{ts[:4]}-{ts[4:6]}-{ts[6:8]} {ts[9:]}")
    n = int(ts)
    return n / {10: 1, 13: 1_000, 16: 1_000_000}[len(ts)]


def syslog_time(prefix: str, observed: float) -> float:
    m = _ISO_PREFIX.match(prefix)
    if m:
        return parse_time(m.group("iso"))
    m = _BSD_PREFIX.match(prefix)
    if not m or m.group("mon") not in _MONTHS:
        raise ParseError("syslog line without a timestamp before the server_audit fields")
    year = datetime.fromtimestamp(observed, UTC).year
    hh, mm, ss = (int(x) for x in m.group("hms").split(":"))
    try:
        t = datetime(
            year, _MONTHS[m.group("mon")], int(m.group("day")), hh, mm, ss, tzinfo=UTC
        ).timestamp()
        if t > observed + 2 * 86400:  # "Dec 31" read in early January
            t = datetime(
                year - 1, _MONTHS[m.group("mon")], int(m.group("day")), hh, mm, ss, tzinfo=UTC
            ).timestamp()
    except ValueError as e:
        raise ParseError(f"bad syslog timestamp: {e}") from None
    return t


def parse_record(text: str, observed: float) -> AuditRecord | None:
    """One record, or None while its quoted statement is still open (more lines to come).

    Raises ParseError for text that is not a server_audit record.
    """
    syslog = False
    m = _FILE_HEAD.match(text)
    if m is None:
        m = _SYSLOG_HEAD.match(text)
        if m is None:
            raise ParseError(
                "not a server_audit record (expected 'YYYYMMDD HH:MM:SS,serverhost,username,host,"
                "connectionid,queryid,OPERATION,database,object,retcode' or its syslog form)"
            )
        syslog = True
    pos = m.end()
    truncated = False
    if text.startswith("'", pos):
        q = _QUOTED.match(text, pos)
        if q is None:
            if not syslog:
                return None
            # a syslog message cut inside the statement (syslog's line limit): read what is there
            obj, pos, truncated = unescape(text[pos + 1 :].rstrip("\r\n")), len(text), True
        else:
            obj, pos = unescape(q.group(1)), q.end()
    else:
        p = _PLAIN.match(text, pos)
        assert p is not None  # [^,\n]* always matches
        obj, pos = p.group(0), p.end()
    tail = _TAIL.match(text, pos)
    if tail is None:
        raise ParseError(f"unexpected text after the object field: {text[pos : pos + 40]!r}")
    rc = (tail.group("rc") or "").strip()
    if rc and not rc.lstrip("-").isdigit():
        raise ParseError(f"retcode {rc!r} is not a number")
    try:
        t = syslog_time(m.group("prefix"), observed) if syslog else file_time(m.group("ts"))
    except (ValueError, KeyError) as e:
        raise ParseError(f"bad timestamp {m.group(0)[:20]!r}: {e}") from None
    return AuditRecord(
        time=t,
        server=m.group("srv"),
        user=m.group("user"),
        host=m.group("host"),
        conn=m.group("conn"),
        qid=m.group("qid"),
        op=m.group("op"),
        db=m.group("db"),
        obj=obj,
        retcode=rc,
        extra=(tail.group("extra") or "")[1:],
        syslog=syslog,
        truncated=truncated,
    )


class ServerAuditParser:
    """server_audit file or syslog lines into events (stateful: see module doc)."""

    type = TYPE

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self._buf: list[Line] = []  # physical lines of a record whose quoted statement is open
        self._buf_bytes = 0
        self._skipping = False  # the rest of an oversized record, up to the next record
        self._skipped: list[Line] = []  # its first lines (kept for the dead letter), bounded
        self._skipped_count = 0
        self._join = StatementJoin()

    # -- framing -----------------------------------------------------------------
    def feed(self, line: Line) -> list[Item]:
        if self._skipping:
            if not RECORD_START.match(line.text):
                self._skipped_count += 1
                if len(self._skipped) < 16:
                    self._skipped.append(line)
                return []
            return self._end_skip() + self._start(line)
        if self._buf:
            if RECORD_START.match(line.text):
                return self._dead_buffer(
                    f"unterminated quoted statement (the next record began at line {line.lineno})"
                ) + self._start(line)
            self._buf.append(line)
            self._buf_bytes += len(line.text)
            inside = _INSIDE.match(line.text)
            if inside is not None and inside.end() == len(line.text):
                # no unescaped quote on this line: still inside (re-parsing would be quadratic)
                if self._buf_bytes > MAX_RECORD:
                    self._skipping = True
                    return self._dead_buffer(
                        f"quoted statement still open after {MAX_RECORD} bytes"
                    )
                return []
            return self._try_buffer()
        return self._start(line)

    def flush(self) -> list[Item]:
        out: list[Item] = self._end_skip()
        if self._buf:
            out += self._dead_buffer("unterminated quoted statement at the end of the input")
        out += self._join.release_all()
        return out

    def _start(self, line: Line) -> list[Item]:
        if not line.text.strip():
            return []
        self._buf = [line]
        self._buf_bytes = len(line.text)
        return self._try_buffer()

    def _try_buffer(self) -> list[Item]:
        first = self._buf[0]
        text = "".join(x.text for x in self._buf) if len(self._buf) > 1 else first.text
        ref = SourceRef(TYPE, self.ctx.source_name, line=first.lineno, offset=first.offset)
        try:
            rec = parse_record(text, self.ctx.observed or time.time())
        except ParseError as e:
            self._buf = []
            return [DeadLetter(e.reason, ref, text)]
        if rec is None:
            if self._buf_bytes > MAX_RECORD:
                self._skipping = True  # what follows, up to the next record, is the same record
                return self._dead_buffer(f"quoted statement still open after {MAX_RECORD} bytes")
            return []
        self._buf = []
        return self._record(rec, ref, text.rstrip("\r\n"))

    def _end_skip(self) -> list[Item]:
        if not self._skipping:
            return []
        self._skipping = False
        skipped, n = self._skipped, self._skipped_count
        self._skipped, self._skipped_count = [], 0
        if not skipped:
            return []
        first = skipped[0]
        return [
            DeadLetter(
                f"rest of an oversized record ({n} more lines)",
                SourceRef(TYPE, self.ctx.source_name, line=first.lineno, offset=first.offset),
                "".join(x.text for x in skipped),
            )
        ]

    def _dead_buffer(self, reason: str) -> list[Item]:
        first = self._buf[0]
        text = "".join(x.text for x in self._buf)
        self._buf = []
        return [
            DeadLetter(
                reason,
                SourceRef(TYPE, self.ctx.source_name, line=first.lineno, offset=first.offset),
                text,
            )
        ]

    # -- events ------------------------------------------------------------------
    def _record(self, rec: AuditRecord, ref: SourceRef, text: str) -> list[Item]:
        session = f"{rec.server}\x1f{rec.conn}"
        key = (rec.server, rec.conn, rec.qid)
        if rec.op == "QUERY":
            return list(self._join.statement(session, key, self._statements(rec, ref, text)))
        if rec.op in SERVER_AUDIT_TABLE_OPS:
            op = object_op(SERVER_AUDIT_TABLE_OPS, rec.op)
            return list(self._join.hold(session, key, self._table(rec, ref, text, op), op))
        out: list[Item] = list(self._join.release(session))
        out.append(self._connection(rec, ref, text))
        return out

    def _base(
        self, rec: AuditRecord, ref: SourceRef, text: str, via: str, k: str, app: str = ""
    ) -> Event:
        actor = Actor(
            principal=rec.user,
            principal_type="db_user" if rec.user else "",
            credential_id=f"mysql:{rec.user}" if rec.user else "",
            application_name=app,
            client_addr=rec.host,
            session_id=rec.conn,
        )
        raw: dict[str, Any] = {
            "record": text,
            "via": via,
            "server": rec.server,
            "query_id": rec.qid,
            "operation": rec.op,
        }
        if rec.extra:
            raw["extra_fields"] = rec.extra
        if rec.syslog:
            raw["syslog"] = True
        return Event(
            event_id=stable_id(
                "mariadb", rec.server, rec.time, rec.conn, rec.qid, rec.op, ref.offset, ref.line, k
            ),
            time=rec.time,
            observed_time=self.ctx.observed or time.time(),
            source=ref,
            actor=actor,
            action=Action(name=rec.op, service=SERVICE),
            resource=Resource(environment=self.ctx.environment, database=rec.db),
            activity="sql",
            raw=raw,
        )

    def _outcome(self, rec: AuditRecord, ev: Event) -> None:
        if rec.truncated:
            ev.action.outcome = "unknown"  # the retcode was cut off with the statement
        elif rec.retcode in ("", "0"):
            ev.action.outcome = "success"
        else:
            ev.action.outcome = "failure"
            ev.action.error = f"retcode {rec.retcode}"

    def _statements(self, rec: AuditRecord, ref: SourceRef, text: str) -> list[Event]:
        verdicts, body = statement_verdicts(rec.obj)
        app = application_from_comment(rec.obj)
        out: list[Event] = []
        for k, v in enumerate(verdicts or [None]):
            ev = self._base(rec, ref, text, "query", f"q{k}", app)
            apply_verdict(ev, v)
            if body and k == len(verdicts) - 1:
                ev.raw["routine_body_statements"] = body
            if rec.truncated:
                ev.raw["truncated"] = True
            self._outcome(rec, ev)
            out.append(ev)
        return out

    def _table(self, rec: AuditRecord, ref: SourceRef, text: str, op: ObjectOp) -> Event:
        ev = self._base(rec, ref, text, "table", "t")
        table, _, renamed_to = rec.obj.partition("|")
        qualified = f"{rec.db}.{table}" if rec.db else table
        ev.action.categories = object_categories(op, qualified, renamed_to)
        ev.action.statement = f"{rec.op} {qualified}"
        ev.action.fingerprint = f"table:{rec.op}"
        ev.resource.type, ev.resource.name = op.resource_type, table
        if renamed_to:
            ev.raw["renamed_to"] = renamed_to
        return ev

    def _connection(self, rec: AuditRecord, ref: SourceRef, text: str) -> Event:
        ev = self._base(
            rec, ref, text, "connection" if rec.op in SERVER_AUDIT_CONNECTION_OPS else "other", "c"
        )
        ev.action.statement = ev.action.fingerprint = rec.op
        ev.resource.type, ev.resource.name = "server", rec.server
        if rec.op == "PROXY_CONNECT" and rec.obj:
            ev.actor.tags["proxy_user"] = rec.obj
        self._outcome(rec, ev)
        return ev


# -- detection ------------------------------------------------------------------

_SNIFF_FILE = re.compile(
    rb"(?m)^(?:\d{8} \d\d:\d\d:\d\d|\d{10}(?:\d{3}){0,2}),[^,\n]*,[^,\n]*,[^,\n]*,\d+,\d+,"
    rb"(?:CONNECT|DISCONNECT|FAILED_CONNECT|CHANGEUSER|PROXY_CONNECT|QUERY"
    rb"|READ|WRITE|CREATE|ALTER|RENAME|DROP),"
)
_SNIFF_SYSLOG = re.compile(
    rb"(?m)^[^\n]*server_audit\w*(?:\[\d+\])?: (?:[^,\s]+ )?\s*[^,\n]*,[^,\n]*,[^,\n]*,\d+,\d+,"
    rb"(?:CONNECT|DISCONNECT|FAILED_CONNECT|CHANGEUSER|PROXY_CONNECT|QUERY"
    rb"|READ|WRITE|CREATE|ALTER|RENAME|DROP),"
)


def _sniff(head: bytes) -> bool:
    h = head[:65536]
    return bool(_SNIFF_FILE.search(h) or _SNIFF_SYSLOG.search(h))


SPEC = register(
    SourceSpec(
        name=TYPE,
        sniff=_sniff,
        line_parser=ServerAuditParser,
        priority=55,
        aliases=("server_audit",),
    )
)
