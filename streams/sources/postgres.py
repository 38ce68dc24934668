"""PostgreSQL server logs: jsonlog (PG 15+), csvlog and stderr lines, carrying
pgaudit ``AUDIT:`` records and ``log_statement`` lines.

Three things make this harder than reading lines:

* A statement is logged *before* it runs; if it fails, an ``ERROR`` record of
  the same session follows. Audit events are therefore held per session until
  the session's next record (or until ``flush``, which the follower calls after
  a few idle milliseconds) so a failed DROP is recorded as a failure and never
  counts as done.
* pgaudit logs one record per object and may log SESSION and OBJECT records
  for the same statement; they are merged on (session, statement id,
  substatement id).
* One query string can carry several statements (``DROP TABLE a; DROP SCHEMA
  b``); pgaudit logs the whole string with each statement, so the string is
  split and each record is matched to the statement its command names.
"""

from __future__ import annotations

import csv
import io
from collections import deque
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from auditwatch.detectors.sql.classify import SqlVerdict, classify, classify_one, split_statements
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, Line, ParseContext, stable_id
from auditwatch.streams.sources.registry import SourceSpec, register
from auditwatch.timeparse import parse_time

TYPE = "postgres"

CSV_COLUMNS = (
    "log_time", "user_name", "database_name", "process_id", "connection_from", "session_id",
    "session_line_num", "command_tag", "session_start_time", "virtual_transaction_id",
    "transaction_id", "error_severity", "sql_state_code", "message", "detail", "hint",
    "internal_query", "internal_query_pos", "context", "query", "query_pos", "location",
    "application_name", "backend_type", "leader_pid", "query_id",
)
_SEVERITIES = ("LOG", "ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", "INFO", "DEBUG",
               "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5", "STATEMENT", "DETAIL",
               "HINT", "CONTEXT", "LOCATION", "QUERY")
_SEV_RE = "|".join(_SEVERITIES)
# stderr: "<prefix>SEVERITY:  message"; the prefix starts with a timestamp when
# log_line_prefix has %m/%t (the default) and may hold [pid], user@db, app, ...
_STDERR_RE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?: ?(?:[A-Z]{2,5}|[+-]\d\d(?::?\d\d)?|Z))?)?"
    r"(?P<prefix>.*?)\b(?P<sev>" + _SEV_RE + r"):  (?P<msg>.*)$",
    re.S,
)
# a line that begins a record: a timestamp, or a bare severity (client-side transcripts)
_RECORD_START = re.compile(r"^(?:\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d|(?:" + _SEV_RE + r"):  |[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d )")
_PID_RE = re.compile(r"\[(\d+)\]")
_KV_RE = re.compile(r"\b(user|db|app|client|host)=([^,\s\]]*)")
_USERDB_RE = re.compile(r"(?:^|\s)([A-Za-z_][\w$.-]*)@([A-Za-z_][\w$.-]*)(?:\s|$)")
_STATEMENT_MSG = re.compile(r"^(?:duration: [\d.]+ ms\s+)?(?:statement|execute [^:]*): (.*)$", re.S)

_SET_ROLE = re.compile(r"^(?:SET\s+(?:SESSION\s+|LOCAL\s+)?(?:ROLE|SESSION\s+AUTHORIZATION)\s+(\S+)|RESET\s+(?:ROLE|SESSION\s+AUTHORIZATION)(\b))", re.I)

# An audited statement waits for its session's next record (an ERROR would follow at once);
# a session quiet for this long, by the log's clock, is released anyway.
HOLD_SECONDS = 2.0

# log_statement messages and pgaudit records share the hold-for-errors path
_ERROR_SEVERITIES = frozenset({"ERROR", "FATAL", "PANIC"})

_OBJ_TYPES = {
    "TABLE": "table", "VIEW": "view", "INDEX": "index", "SCHEMA": "schema",
    "DATABASE": "database", "FUNCTION": "function", "SEQUENCE": "sequence",
    "MATERIALIZED VIEW": "view", "ROLE": "role", "USER": "role", "OWNED": "role",
    "PUBLICATION": "publication", "SUBSCRIPTION": "subscription", "TRUNCATE": "table",
}


@dataclass(slots=True)
class LogRecord:
    """One PostgreSQL log record, whatever the format it came in."""

    time: float
    severity: str
    message: str
    user: str = ""
    database: str = ""
    session: str = ""  # session_id, or pid for stderr
    application: str = ""
    client: str = ""
    sql_state: str = ""
    query: str = ""  # the statement an ERROR refers to
    line_num: str = ""
    ref: SourceRef | None = None
    raw: str = ""


@dataclass(slots=True)
class _Pending:
    events: list[Event] = field(default_factory=list)
    keys: dict[tuple[str, str], Event] = field(default_factory=dict)


@dataclass(slots=True)
class _Cursor:
    text: str = ""
    used: set[int] = field(default_factory=set)
    parts: list[str] = field(default_factory=list)


class PostgresParser:
    """Parses one of ``jsonlog``, ``csvlog``, ``stderr`` into events."""

    type = TYPE

    def __init__(self, ctx: ParseContext, fmt: str = "stderr") -> None:
        if fmt not in ("jsonlog", "csvlog", "stderr"):
            raise ValueError(f"unknown PostgreSQL log format {fmt!r}")
        self.ctx = ctx
        self.fmt = fmt
        self._pending: dict[str, _Pending] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._buf: list[Line] = []  # lines of a record still being read (stderr/csv)
        self._done: dict[str, deque[str]] = {}
        self._roles: dict[str, str] = {}  # session -> role set by SET ROLE
        self._last_error: dict[str, LogRecord] = {}
        self._seq = 0

    # -- record assembly -------------------------------------------------
    def feed(self, line: Line) -> list[Item]:
        if self.fmt == "jsonlog":
            text = line.text.strip()
            if not text:
                return []
            return self._record(self._from_json(line))
        if self.fmt == "csvlog":
            self._buf.append(line)
            joined = "".join(x.text for x in self._buf)
            if joined.count('"') % 2:  # a quoted field goes on over the newline
                if len(joined) > 10 * 1024 * 1024:
                    return self._dead_buffer("unterminated quoted field")
                return []
            first = self._buf[0]
            self._buf = []
            if not joined.strip():
                return []
            return self._record(self._from_csv(joined, first))
        # stderr: a record starts with a prefix match; tab-led lines continue it
        out: list[Item] = []
        if self._buf and not _RECORD_START.match(line.text) and (
                line.text.startswith("\t") or self._in_open_quote()):
            self._buf.append(line)
            if sum(len(x.text) for x in self._buf) > 10 * 1024 * 1024:
                return self._dead_buffer("record over 10 MB")
            return out
        if self._buf:
            out += self._emit_stderr()
        if not line.text.strip():
            return out
        # complete unless continuation lines follow; the next line or flush decides
        self._buf = [line]
        return out

    def flush(self) -> list[Item]:
        out: list[Item] = []
        if self._buf:
            if self.fmt == "csvlog":
                out += self._dead_buffer("truncated CSV record at end of input")
            else:
                out += self._emit_stderr()
        for sess in list(self._pending):
            out += self._release(sess)
        return out

    def _dead_buffer(self, reason: str) -> list[Item]:
        first = self._buf[0]
        raw = "".join(x.text for x in self._buf)
        self._buf = []
        return [DeadLetter(reason, self._ref(first), raw)]

    def _in_open_quote(self) -> bool:
        # pgaudit quotes multi-line statements CSV-style; a record is open while a quote is
        joined = _unwrap_shipper("".join(x.text for x in self._buf))
        i = joined.find("AUDIT: ")
        return i >= 0 and joined.count('"', i) % 2 == 1

    def _emit_stderr(self) -> list[Item]:
        lines = self._buf
        self._buf = []
        raw = "".join(x.text for x in lines)
        text = raw.rstrip("\n")
        text = _unwrap_shipper(text)
        m = _STDERR_RE.match(text)
        if not m:
            return [DeadLetter("not a PostgreSQL log record", self._ref(lines[0]), raw)]
        prefix = m.group("prefix") or ""
        rec = LogRecord(
            time=parse_time(m.group("ts")) if m.group("ts") else 0.0,
            severity=m.group("sev"),
            message=m.group("msg").replace("\n\t", "\n"),
            ref=self._ref(lines[0]),
            raw=raw,
        )
        pid = _pid(prefix)
        kv = dict(_KV_RE.findall(prefix))
        rec.user = kv.get("user", "")
        rec.database = kv.get("db", "")
        rec.client = kv.get("client", "") or kv.get("host", "")
        rec.application = kv.get("app", "")
        if not rec.user:
            ud = _USERDB_RE.search(prefix)
            if ud:
                rec.user, rec.database = ud.group(1), ud.group(2)
        if not rec.application:
            # "[pgAdmin 4 - CONN:3040112]" style: the first bracket that is not a number
            for b in re.findall(r"\[([^\]]*)\]", prefix):
                if b and not re.fullmatch(r"[\d\-]+", b):
                    rec.application = b
                    break
        rec.session = pid
        if not rec.time:
            rec.time = self.ctx.observed or time.time()
        if rec.severity in ("STATEMENT", "DETAIL", "HINT", "CONTEXT", "QUERY", "LOCATION"):
            return self._attach_to_error(rec)
        return self._record(rec)

    def _ref(self, line: Line) -> SourceRef:
        return SourceRef(TYPE, self.ctx.source_name, line=line.lineno, offset=line.offset)

    def _from_json(self, line: Line) -> LogRecord | DeadLetter:
        ref = self._ref(line)
        try:
            d = orjson.loads(line.text)
        except orjson.JSONDecodeError as e:
            return DeadLetter(f"invalid JSON: {e}", ref, line.text)
        if not isinstance(d, dict) or "message" not in d or "error_severity" not in d:
            return DeadLetter("not a PostgreSQL jsonlog record (no message/error_severity)", ref, line.text)
        if not isinstance(d.get("message"), str) or not isinstance(d.get("error_severity"), str):
            return DeadLetter("PostgreSQL jsonlog record with a non-text message or error_severity", ref, line.text)
        try:
            t = parse_time(str(d.get("timestamp", "")))
        except ValueError as e:
            return DeadLetter(f"bad timestamp: {e}", ref, line.text)
        return LogRecord(
            time=t,
            severity=str(d.get("error_severity")),
            message=str(d.get("message")),
            user=str(d.get("user") or ""),
            database=str(d.get("dbname") or ""),
            session=str(d.get("session_id") or d.get("pid") or ""),
            application=str(d.get("application_name") or ""),
            client=str(d.get("remote_host") or ""),
            sql_state=str(d.get("state_code") or ""),
            query=str(d.get("statement") or ""),
            line_num=str(d.get("line_num") or ""),
            ref=ref,
            raw=line.text,
        )

    def _from_csv(self, text: str, first: Line) -> LogRecord | DeadLetter:
        ref = self._ref(first)
        try:
            rows = list(csv.reader(io.StringIO(text)))
        except csv.Error as e:
            return DeadLetter(f"invalid CSV: {e}", ref, text)
        if len(rows) != 1 or len(rows[0]) < 14:
            return DeadLetter(f"not a PostgreSQL csvlog record ({len(rows[0]) if rows else 0} fields)", ref, text)
        d = dict(zip(CSV_COLUMNS, rows[0]))
        try:
            t = parse_time(d["log_time"])
        except ValueError as e:
            return DeadLetter(f"bad log_time: {e}", ref, text)
        client = d.get("connection_from", "")
        return LogRecord(
            time=t,
            severity=d.get("error_severity", ""),
            message=d.get("message", ""),
            user=d.get("user_name", ""),
            database=d.get("database_name", ""),
            session=d.get("session_id", "") or d.get("process_id", ""),
            application=d.get("application_name", ""),
            client=client.rsplit(":", 1)[0] if client.count(":") == 1 else client,
            sql_state=d.get("sql_state_code", ""),
            query=d.get("query", ""),
            line_num=d.get("session_line_num", ""),
            ref=ref,
            raw=text,
        )

    # -- from records to events -----------------------------------------
    def _record(self, rec: LogRecord | DeadLetter) -> list[Item]:
        if isinstance(rec, DeadLetter):
            return [rec]
        # sessions that have been quiet for a while (by the log's own clock) ran their
        # last statement without error: release them, so reading a whole file keeps
        # events close to log order instead of piling them up until the end
        return self._release_quiet(rec.time - HOLD_SECONDS) + self._dispatch(rec)

    def held_from(self) -> int | None:
        """Byte offset of the earliest line whose record is still held back (None: nothing is).
        A parser that must start mid-file (the Kafka worker after a crash) is fed the lines
        from here again, so nothing held is lost with the old parser."""
        offs = [ev.source.offset for p in self._pending.values() for ev in p.events if ev.source.offset is not None]
        if self._buf:
            offs.append(self._buf[0].offset)
        return min(offs) if offs else None

    def _release_quiet(self, cutoff: float) -> list[Item]:
        out: list[Item] = []
        while self._pending:
            sess = next(iter(self._pending))
            p = self._pending[sess]
            if p.events and p.events[0].time >= cutoff:
                break
            out += self._release(sess)
        return out

    def _track_role(self, sess: str, redacted: str) -> None:
        m = _SET_ROLE.match(redacted)
        if m:
            role = (m.group(1) or "").strip('"')
            if not role or role.upper() in ("NONE", "DEFAULT"):
                self._roles.pop(sess, None)
            else:
                self._roles[sess] = role
                if len(self._roles) > 100_000:
                    self._roles.pop(next(iter(self._roles)))

    def _dispatch(self, rec: LogRecord) -> list[Item]:
        sess = rec.session or "-"
        out: list[Item] = []
        msg = rec.message
        if rec.severity in _ERROR_SEVERITIES:
            return self._fail(sess, rec)
        audit_at = msg.find("AUDIT: ")
        if audit_at >= 0 and audit_at < 16:
            # anything pending for the session ran without error
            try:
                events = self._audit_events(rec, msg[audit_at + 7 :])
            except ValueError as e:
                return self._release(sess) + [DeadLetter(f"bad pgaudit record: {e}", rec.ref or SourceRef(TYPE, self.ctx.source_name), rec.raw)]
            return self._hold(sess, events, merge=True)
        m = _STATEMENT_MSG.match(msg) if rec.severity == "LOG" else None
        if m:
            out += self._release(sess)
            out += self._hold(sess, [("", e) for e in self._statement_events(rec, m.group(1))], merge=False)
            return out
        # any other record of the session (duration, disconnection...) ends its pending statement
        out += self._release(sess)
        return out

    def _attach_to_error(self, rec: LogRecord) -> list[Item]:
        # stderr writes the failing statement on its own "STATEMENT:" record after "ERROR:"
        sess = rec.session or "-"
        err = self._last_error.pop(sess, None)
        if err is None or rec.severity != "STATEMENT":
            return []
        err.query = rec.message
        return self._failed_statement(sess, err)

    def _failed_statement(self, sess: str, rec: LogRecord) -> list[Item]:
        """A statement that failed before pgaudit logged it (DDL is audited only once it
        succeeded; syntax errors never reach the executor): the ERROR is the only trace."""
        done = self._done.get(sess, ())
        err = f"{rec.sql_state}: {rec.message}" if rec.sql_state else rec.message
        for k, v in enumerate(classify(rec.query)):
            if v.fingerprint in done:
                continue  # ran (and was logged) before the failing one
            ev = self._event(rec, name=v.kind, verdict=v, cats=set(v.categories), rtype=_rtype(v.kind),
                             rname=v.objects[0] if v.objects else "", key=f"e{k}", extra={"_via": "error"})
            ev.action.outcome = "failure"
            ev.action.error = err[:300]
            return [ev]  # PostgreSQL stops the query string at its first error
        return []

    def _hold(self, sess: str, events: list[tuple[str, Event]], merge: bool) -> list[Item]:
        out: list[Item] = []
        p = self._pending.get(sess)
        if p is None:
            p = self._pending[sess] = _Pending()
        for key, ev in events:
            existing = p.keys.get(("k", key)) if merge else None
            if existing is not None and existing.raw.get("text") not in (ev.raw.get("text"), None) \
                    and ev.raw.get("text") is not None:
                # same statement id, different statement: another session sharing our key
                # (no session id in the log line prefix) - never fold it away
                existing = None
                out += self._release(sess)
                p = self._pending[sess] = _Pending()
            if existing is not None:
                # SESSION + OBJECT records, or one record per object: one statement, one event
                names = existing.resource.name.split(",") if existing.resource.name else []
                if ev.resource.name and ev.resource.name not in names:
                    existing.resource.name = ",".join(names + [ev.resource.name])
                continue
            if merge:
                # the log_statement line for this statement is superseded by the richer pgaudit record
                p.events = [old for old in p.events if not (
                    isinstance(old.raw, dict) and old.raw.get("_via") == "statement"
                    and old.action.fingerprint == ev.action.fingerprint)]
                if p.events:
                    # a new statement was audited, so the earlier ones ran without error
                    out += self._release(sess)
                    p = self._pending[sess] = _Pending()
                p.keys[("k", key)] = ev
            p.events.append(ev)
        return out

    def _release(self, sess: str) -> list[Item]:
        p = self._pending.pop(sess, None)
        if p is None:
            return []
        for ev in p.events:
            if ev.action.outcome == "unknown":
                ev.action.outcome = "success"
        self._remember(sess, p.events)
        return list(p.events)

    def _remember(self, sess: str, events: list[Event]) -> None:
        # shapes of the session's last statements, so an ERROR for a multi-statement
        # string is pinned on the statement that had not run yet
        d = self._done.setdefault(sess, deque(maxlen=16))
        d.extend(ev.action.fingerprint for ev in events)
        if len(self._done) > 10_000:
            self._done.pop(next(iter(self._done)))

    def _fail(self, sess: str, rec: LogRecord) -> list[Item]:
        p = self._pending.pop(sess, None)
        if p is None:
            if rec.query:
                return self._failed_statement(sess, rec)
            if rec.severity == "ERROR":
                self._last_error[sess] = rec  # stderr: the STATEMENT record follows
            return []
        err = f"{rec.sql_state}: {rec.message}" if rec.sql_state else rec.message
        # PostgreSQL aborts the whole query string at the first error; with
        # several statements pending, the last one failed and earlier ones ran
        # (unless inside a transaction block, which the log cannot tell us).
        events = p.events
        failed: list[Event] = []
        if rec.query:
            shapes = {v.fingerprint for v in classify(rec.query)}
            failed = [ev for ev in events if ev.action.fingerprint in shapes]
        if not failed and events:
            failed = [events[-1]]
        for ev in events:
            if ev in failed:
                ev.action.outcome = "failure"
                ev.action.error = err[:300]
            elif ev.action.outcome == "unknown":
                ev.action.outcome = "success"
        self._remember(sess, events)
        return list(events)

    # -- pgaudit ----------------------------------------------------------
    def _audit_events(self, rec: LogRecord, body: str) -> list[tuple[str, Event]]:
        try:
            fields = next(csv.reader(io.StringIO(body), strict=True))
        except csv.Error:
            # a statement cut short in the log (unterminated quote): read what is there
            fields = next(csv.reader(io.StringIO(body + '"')))
        if len(fields) < 8:
            raise ValueError(f"{len(fields)} fields, expected at least 8")
        audit_type, stmt_id, sub_id, cls, command, obj_type, obj_name, statement = fields[:8]
        if audit_type not in ("SESSION", "OBJECT"):
            raise ValueError(f"audit type {audit_type!r}")
        sess = rec.session or "-"
        cur = self._cursors.get(sess)
        if statement in ("<previously logged>", "<not logged>"):
            text = cur.text if cur else ""
        else:
            text = statement
        stmt, verdict = self._pick(sess, text, command, stmt_id, sub_id)
        cats = set(verdict.categories) if verdict else set()
        names = verdict.objects if verdict else []
        # The resource is what the command acts on (DROP SCHEMA -> the schema). pgaudit also
        # writes one record per dependent object (constraints, triggers, the schema's
        # tables); those only add names of the same type.
        rtype = _rtype(command) or _rtype(verdict.kind if verdict else "")
        own_type = _OBJ_TYPES.get(obj_type.upper(), "") if obj_type else ""
        if own_type and (own_type == rtype or not rtype):
            rtype = rtype or own_type
            rname = obj_name
        elif verdict and names and not obj_type:
            rname = names[0]
        else:
            rname = ""
        ev = self._event(
            rec,
            name=command or (verdict.kind if verdict else "UNKNOWN"),
            verdict=verdict,
            cats=cats,
            rtype=rtype,
            rname=rname,
            key=f"{stmt_id}.{sub_id}",
            extra={"_via": "pgaudit", "audit_type": audit_type, "class": cls,
                   # the statement's shape, to tell two statements with the same id apart
                   "text": None if statement in ("<previously logged>", "<not logged>")
                   else (verdict.fingerprint if verdict else "")},
        )
        return [(f"{stmt_id}.{sub_id}", ev)]

    def _pick(self, sess: str, text: str, command: str, stmt_id: str, sub_id: str) -> tuple[str, SqlVerdict | None]:
        if not text:
            return "", None
        cur = self._cursors.get(sess)
        if cur is None or cur.text != text:
            cur = _Cursor(text=text, parts=split_statements(text) or [text])
            self._cursors[sess] = cur
        if len(cur.parts) == 1:
            return cur.parts[0], _one(cur.parts[0])
        # several statements: the first unused one whose command matches
        cmd = command.upper()
        for i, part in enumerate(cur.parts):
            if i in cur.used:
                continue
            v = _one(part)
            if v.kind == cmd or v.kind.startswith(cmd) or cmd.startswith(v.kind):
                if sub_id == "1":
                    cur.used.add(i)
                return part, v
        # DO blocks and functions: the record's command is a statement inside the body
        return cur.parts[0], _one(cur.parts[0])

    # -- log_statement ----------------------------------------------------
    def _statement_events(self, rec: LogRecord, sql: str) -> list[Event]:
        out = []
        for k, v in enumerate(classify(sql)):
            out.append(self._event(rec, name=v.kind, verdict=v, cats=set(v.categories),
                                   rtype=_rtype(v.kind), rname=v.objects[0] if v.objects else "",
                                   key=f"s{k}", extra={"_via": "statement"}))
        return out

    def _event(self, rec: LogRecord, *, name: str, verdict: SqlVerdict | None, cats: set[str],
               rtype: str, rname: str, key: str, extra: dict[str, Any]) -> Event:
        ref = rec.ref or SourceRef(TYPE, self.ctx.source_name)
        if rec.line_num and rec.session:
            eid = stable_id("pg", rec.session, rec.line_num, key)
        else:
            eid = stable_id("pg", ref.name, ref.offset, ref.line, key)
        sess = rec.session
        actor = Actor(
            principal=rec.user,
            principal_type="db_user" if rec.user else "",
            credential_id=f"pg:{rec.user}" if rec.user else "",
            application_name=rec.application,
            client_addr=rec.client,
            session_id=sess,
        )
        role = self._roles.get(sess or "-")
        if role:
            # the session user logged in (and is who acted); SET ROLE changed its privileges
            actor.tags["set_role"] = role
        if verdict is not None and verdict.kind in ("SET", "RESET"):
            self._track_role(sess or "-", verdict.redacted)
        raw = {"_via": extra.pop("_via"), "record": rec.raw} | extra
        return Event(
            event_id=eid,
            time=rec.time,
            observed_time=self.ctx.observed or time.time(),
            source=ref,
            actor=actor,
            action=Action(
                name=name,
                service="postgres",
                outcome="unknown",
                categories=tuple(sorted(cats)),
                statement=verdict.redacted if verdict else "",
                fingerprint=verdict.fingerprint if verdict else name,
            ),
            resource=Resource(type=rtype, name=rname, environment=self.ctx.environment,
                              database=rec.database),
            activity="sql",
            raw=raw,
        )


def _one(stmt: str) -> SqlVerdict:
    """One statement's verdict through the cached fast path (shared: read-only)."""
    vs = classify(stmt)
    return vs[0] if vs else classify_one(stmt)


def _pid(prefix: str) -> str:
    """The process id in a stderr prefix: a bracketed number, preferring ``[123]:``."""
    cands = [m for m in _PID_RE.finditer(prefix) if m.group(1) != "00000"]
    for m in cands:
        if prefix[m.end() : m.end() + 1] == ":":
            return m.group(1)
    return cands[0].group(1) if cands else ""


def _rtype(kind: str) -> str:
    k = kind.upper()
    for word, rt in (("DATABASE", "database"), ("SCHEMA", "schema"), ("TABLE", "table"),
                     ("VIEW", "view"), ("INDEX", "index"), ("FUNCTION", "function"),
                     ("ROLE", "role"), ("USER", "role"), ("OWNED", "role"),
                     ("PUBLICATION", "publication"), ("SUBSCRIPTION", "subscription"),
                     ("SYSTEM", "server"), ("TRUNCATE", "table"), ("DELETE", "table"),
                     ("UPDATE", "table"), ("INSERT", "table"), ("SELECT", "table")):
        if word in k:
            return rt
    return ""


_SHIPPER_JSON = re.compile(r'"message":"(?P<m>(?:[^"\\]|\\.)*)"')
_CRI_PREFIX = re.compile(r"^\S+Z (?:stdout|stderr) [FP] ")


def _unwrap_shipper(text: str) -> str:
    """Lines forwarded by syslog/log shippers (IBM Cloud Logs, fluent-bit, CRI) wrap the
    server line in JSON, sometimes JSON escaped inside a string; return the server line."""
    head = text[:600]
    if '"message":"' not in head and '\\"message\\":' not in text:
        return text
    if text.lstrip().startswith('{\\"'):
        try:  # one level of string escaping around the whole object
            text = orjson.loads('"' + text.strip() + '"')
        except orjson.JSONDecodeError:
            return text
    for m in _SHIPPER_JSON.finditer(text):
        try:
            inner = orjson.loads('"' + m.group("m") + '"')
        except orjson.JSONDecodeError:
            continue
        inner = _CRI_PREFIX.sub("", inner)
        if _STDERR_RE.match(inner):
            return inner
    return text


_CSV_HEAD = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z]{1,5}|[+-]\d\d)?,")
_PG_LINE = re.compile(rb"(?m)^(?:.*?\d\d:\d\d:\d\d.*?)?\b(?:LOG|ERROR|FATAL|WARNING|NOTICE|STATEMENT|DETAIL):  ")


def _sniff_jsonlog(head: bytes) -> bool:
    s = head.lstrip()
    return s[:1] == b"{" and b'"error_severity"' in s.split(b"\n", 1)[0]


def _sniff_stderr(head: bytes) -> bool:
    h = head[:65536]
    return bool(_PG_LINE.search(h)) or b"AUDIT: SESSION," in h or b"AUDIT: OBJECT," in h


register(SourceSpec(name="postgres-jsonlog", sniff=_sniff_jsonlog, priority=40, aliases=("jsonlog",),
                    line_parser=lambda ctx: PostgresParser(ctx, "jsonlog")))
register(SourceSpec(name="postgres-csvlog", sniff=lambda h: bool(_CSV_HEAD.match(h.lstrip())), priority=60,
                    aliases=("csvlog",), line_parser=lambda ctx: PostgresParser(ctx, "csvlog")))
register(SourceSpec(name="postgres-stderr", sniff=_sniff_stderr, priority=200,
                    aliases=("postgres", "stderr", "pgaudit"), line_parser=lambda ctx: PostgresParser(ctx, "stderr")))
