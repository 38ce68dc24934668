"""MySQL audit logs in JSON: MySQL Enterprise Audit (``audit_log_format=JSON``) and
Percona Server's audit_log plugin (``audit_log_format=JSON``, file or syslog).
MariaDB's ``server_audit`` plugin (also on RDS/Aurora MySQL) is read by
``mariadb_audit.py``; statement handling is shared with it.

**MySQL Enterprise Audit** (source ``mysql-audit-json``). One object per event::

    {"timestamp": "2020-08-26 17:29:00", "id": 1, "class": "general", "event": "status",
     "connection_id": 42, "account": {"user": "app", "host": "%"},
     "login": {"user": "app", "os": "", "ip": "192.0.2.1", "proxy": ""},
     "general_data": {"command": "Query", "sql_command": "select", "query": "...", "status": 0}}

* The file is a JSON array written as it goes: ``[`` then one object per line
  followed by a comma, and ``]`` only when the file is closed. Each line is read
  on its own (a leading ``[``, trailing ``,``/``]`` ignored); a pretty-printed
  object spanning lines is gathered until its braces close (10 MB cap). A closed
  file read as one document is unwrapped by ``document``.
* ``timestamp`` is UTC; ``timestamp`` + ``id`` is unique per server, so
  ``event_id`` is ``mysql-audit-<hash>`` of those, the connection, class and event.
* Classes: ``connection`` (``connect``/``change_user``/``disconnect``;
  ``connection_data.status`` non-zero = failed login), ``general`` (``status``:
  the statement in ``general_data.query`` with its error ``status``; commands
  without SQL, such as ``Quit``, are events named after the command), and
  ``table_access`` (``read``/``insert``/``update``/``delete`` of
  ``table_access_data.db``.``table``, written *before* the statement's
  ``general`` event, with the same query text). Any other class (``audit``
  startup/shutdown, ``command``, ``query``, ``message`` ...) becomes an event
  ``<class>.<event>`` without categories.
* Only ``status`` 0 is success; anything else is a failure with error ``"status N"``.
* Table events and double counting follow ``mariadb_audit.py``: a
  ``table_access`` event waits for the connection's next ``general`` event; with
  the same query it takes that statement's outcome, and the statement's
  destructive categories stay on the ``general`` event (once per statement). A
  ``table_access`` event whose statement never came (``general`` not logged)
  keeps the statement's categories (``delete``/``update``/``insert``) with outcome
  ``unknown``: table access is logged before the statement finishes. Records
  dispatched one by one (mixed-JSON input) have no neighbours: their
  ``table_access`` events are ``unknown`` and never count as done.
* Identity: ``login.user`` (what the client logged in as) is the principal,
  ``account.user`` the account whose privileges applied (``credential_id``
  ``mysql:<account.user>``), ``login.ip`` the client (``account.host`` when there
  is no IP and it is not a pattern), ``connection_id`` the session; ``login.os``
  and ``login.proxy`` go into tags. ``connection_data.connection_attributes`` of
  the connect event are remembered for the connection: ``program_name`` (else a
  ``/* ApplicationName=... */`` comment in the statement, else ``_client_name``)
  is the application name, ``_client_name _client_version`` the user agent.

**Percona audit_log JSON** (source ``percona-audit``). One object per line::

    {"audit_record":{"name":"Query","record":"106_2021-02-12T07:18:30",
     "timestamp":"2021-02-12T12:18:30 UTC",
     "command_class":"drop_table","connection_id":"12","status":0,"sqltext":"DROP TABLE t",
     "user":"app[app] @ localhost [10.0.0.5]","host":"localhost","os_user":"","ip":"10.0.0.5",
     "db":"shop"}}

* ``record`` (a counter and the log's start time) is unique per log: ``event_id``
  is ``percona-<hash>`` of it and the timestamp, so the same record delivered
  twice has the same id.
* ``name`` ``Query``/``Execute``/``Prepare`` (or any record with ``sqltext``) is
  classified; ``Connect``/``Quit``/``Change user``/``Audit``/``NoAudit`` are events
  named in capitals. Only ``status`` 0 is success.
* ``user`` in query records is ``priv_user[user] @ host [ip]`` (MySQL's
  user_host): ``user`` is the principal, ``priv_user`` the account
  (``credential_id`` ``mysql:<priv_user>``); connect records carry ``user`` and
  ``priv_user`` as fields of their own.
* Syslog (``audit_log_handler=SYSLOG``) puts the object after ``percona-audit: ``;
  shippers wrap the line again (the corpus has Logstash DEBUG lines quoting the
  syslog message without escaping it). Any line holding
  ``{"audit_record": {...}}`` yields it (the embedded object is decoded where it
  starts; a JSON line whose string field holds the record, escaped, is unwrapped
  too); a line without one is a dead letter saying so.

For both, ``raw`` is ``{"record": <the decoded record>}`` plus the notes
``mariadb_audit.py`` documents (one record can make several events, which must
not share a mutable record).

Statements go through ``mariadb_audit.statement_verdicts`` (the SQL classifier,
MySQL dialect, a routine's body folded into its ``CREATE``).
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from auditwatch.detectors.mappings.mysql_audit import (
    ENTERPRISE_TABLE_ACCESS,
    object_categories,
    object_op,
)
from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Outcome, Resource, SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, Line, ParseContext, stable_id
from auditwatch.streams.sources.json_records import dispatch
from auditwatch.streams.sources.mariadb_audit import (
    StatementJoin,
    application_from_comment,
    apply_verdict,
    statement_verdicts,
)
from auditwatch.streams.sources.registry import SourceSpec, register
from auditwatch.timeparse import parse_time

ENTERPRISE = "mysql-audit-json"
PERCONA = "percona-audit"
SERVICE = "mysql"
MAX_RECORD = 10 * 1024 * 1024
_STATEMENT_COMMANDS = frozenset({"Query", "Execute", "Prepare"})
_CONNECTION_EVENTS = frozenset({"connect", "change_user", "disconnect", "pre_authenticate"})


# -- shared --------------------------------------------------------------------------


def _outcome(status: Any) -> tuple[Outcome, str]:
    if status is None or status == "":
        return "unknown", ""
    try:
        n = int(status)
    except (TypeError, ValueError):
        raise ParseError(f"status {status!r} is not a number") from None
    return ("success", "") if n == 0 else ("failure", f"status {n}")


def _time(v: Any) -> float:
    try:
        return parse_time(str(v))
    except (TypeError, ValueError) as e:
        raise ParseError(f"bad or missing timestamp {v!r}: {e}") from None


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def _statement_events(
    sql: str, make: Callable[[int], Event], outcome: Outcome, error: str
) -> list[Event]:
    """One event per statement of ``sql``; ``make(k)`` builds the bare event."""
    verdicts, body = statement_verdicts(sql)
    out: list[Event] = []
    for k, v in enumerate(verdicts or [None]):
        ev: Event = make(k)
        a = ev.action
        apply_verdict(ev, v)
        if v is None:
            a.name = "QUERY"
        if body and k == len(verdicts) - 1:
            ev.raw["routine_body_statements"] = body
        a.outcome, a.error = outcome, error
        out.append(ev)
    return out


def _wrap(rec: Any) -> dict[str, Any]:
    return {"record": rec}


# -- MySQL Enterprise Audit ------------------------------------------------------------


def is_enterprise(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("class"), str)
        and isinstance(obj.get("event"), str)
        and "timestamp" in obj
        and "id" in obj
        and "connection_id" in obj
    )


class EnterpriseState:
    """What one MySQL Enterprise log teaches about its connections (bounded)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.join = StatementJoin()
        # connection id -> (connection attributes, database at connect)
        self.conns: OrderedDict[str, tuple[dict[str, str], str]] = OrderedDict()
        self.limit = limit

    def remember(self, conn: str, attrs: dict[str, str], db: str) -> None:
        self.conns[conn] = (attrs, db)
        self.conns.move_to_end(conn)
        while len(self.conns) > self.limit:
            self.conns.popitem(last=False)


def _conn_attrs(rec: Mapping[str, Any]) -> dict[str, str]:
    cd = rec.get("connection_data")
    attrs = cd.get("connection_attributes") if isinstance(cd, Mapping) else None
    if not isinstance(attrs, Mapping):
        return {}
    return {str(k): _s(v) for k, v in list(attrs.items())[:32] if isinstance(v, (str, int, float))}


def normalise_enterprise(
    rec: Any, ref: SourceRef, ctx: ParseContext, state: EnterpriseState | None = None
) -> list[Event]:
    if not is_enterprise(rec):
        raise ParseError(
            "not a MySQL Enterprise Audit record (no class/event/timestamp/id/connection_id)"
        )
    t = _time(rec.get("timestamp"))
    cls, event = str(rec["class"]), str(rec["event"])
    conn = _s(rec.get("connection_id"))
    account = rec.get("account") if isinstance(rec.get("account"), Mapping) else {}
    login = rec.get("login") if isinstance(rec.get("login"), Mapping) else {}
    cd = rec.get("connection_data") if isinstance(rec.get("connection_data"), Mapping) else {}
    if cls == "connection" and event == "connect" and state is not None:
        state.remember(conn, _conn_attrs(rec), _s(cd.get("db")))
    attrs, conn_db = (state.conns.get(conn) if state is not None else None) or (
        _conn_attrs(rec),
        "",
    )

    def make(k: object, app_sql: str = "") -> Event:
        acct_user, acct_host = _s(account.get("user")), _s(account.get("host"))
        user = _s(login.get("user")) or acct_user
        client = _s(login.get("ip")) or (acct_host if acct_host and "%" not in acct_host else "")
        actor = Actor(
            principal=user,
            principal_type="db_user" if user else "",
            credential_id=f"mysql:{acct_user or user}" if (acct_user or user) else "",
            user_agent=" ".join(
                x for x in (attrs.get("_client_name", ""), attrs.get("_client_version", "")) if x
            ),
            application_name=(
                attrs.get("program_name")
                or application_from_comment(app_sql)
                or attrs.get("_client_name", "")
            ),
            client_addr=client,
            session_id=conn,
        )
        for tag, v in (
            ("os_user", login.get("os")),
            ("proxy_user", login.get("proxy")),
            ("account_host", acct_host),
        ):
            if v:
                actor.tags[tag] = _s(v)
        return Event(
            event_id=stable_id(
                "mysql-audit", rec.get("timestamp"), rec.get("id"), conn, cls, event, k
            ),
            time=t,
            observed_time=ctx.observed or time.time(),
            source=ref,
            actor=actor,
            action=Action(
                name=f"{cls}.{event}",
                service=SERVICE,
                fingerprint=f"{cls}.{event}",
                statement=f"{cls}.{event}",
            ),
            resource=Resource(environment=ctx.environment),
            activity="sql",
            raw=_wrap(rec),
        )

    if cls == "general":
        gd = rec.get("general_data") if isinstance(rec.get("general_data"), Mapping) else {}
        sql, command = _s(gd.get("query")), _s(gd.get("command"))
        outcome, error = _outcome(gd.get("status"))
        if sql and (command in _STATEMENT_COMMANDS or not command):
            events = _statement_events(sql, lambda k: make(k, sql), outcome, error)
            for ev in events:
                ev.resource.database = conn_db
            if state is None:
                return events
            return state.join.statement(conn, (conn, sql), events)
        ev = make(0)
        ev.action.name = ev.action.statement = ev.action.fingerprint = (command or event).upper()
        ev.action.outcome, ev.action.error = outcome, error
        return [ev]
    if cls == "table_access":
        td = (
            rec.get("table_access_data")
            if isinstance(rec.get("table_access_data"), Mapping)
            else {}
        )
        sql, db, table = _s(td.get("query")), _s(td.get("db")), _s(td.get("table"))
        op = object_op(ENTERPRISE_TABLE_ACCESS, event)
        ev = make(0, sql)
        ev.action.name = event.upper()
        ev.action.categories = object_categories(
            op, f"{db}.{table}" if db else table, statement=sql
        )
        ev.action.statement = f"{event.upper()} {db}.{table}" if db else f"{event.upper()} {table}"
        ev.action.fingerprint = f"table:{event}"
        ev.resource.type, ev.resource.name, ev.resource.database = op.resource_type, table, db
        if state is None:
            ev.action.outcome = "unknown"
            return [ev]
        return state.join.hold(conn, (conn, sql), ev, op)
    ev = make(0)
    if cls == "connection":
        ev.action.name = ev.action.statement = ev.action.fingerprint = event.upper()
        outcome, error = _outcome(cd.get("status"))
        if outcome == "unknown" and event in _CONNECTION_EVENTS:
            outcome = "success"  # disconnect, change_user: the event is the fact
        ev.action.outcome, ev.action.error = outcome, error
        ev.resource.type, ev.resource.database = "server", _s(cd.get("db"))
        if cd.get("connection_type"):
            ev.actor.tags["connection_type"] = _s(cd.get("connection_type"))
        if event == "disconnect" and state is not None:
            out = state.join.release(conn)
            state.conns.pop(conn, None)
            return out + [ev]
        return [ev]
    # another class: recorded, never categorised; its status, if any, decides the outcome
    status = next(
        (d.get("status") for d in rec.values() if isinstance(d, Mapping) and "status" in d), None
    )
    ev.action.outcome, ev.action.error = _outcome(status)
    return [ev]


class EnterpriseParser:
    """MySQL Enterprise Audit JSON, as the server writes it (see module doc)."""

    type = ENTERPRISE

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.state = EnterpriseState()
        self._buf: list[Line] = []
        self._buf_bytes = 0
        self._depth = 0
        self._in_str = False
        self._esc = False

    def feed(self, line: Line) -> list[Item]:
        if self._buf:
            self._buf.append(line)
            self._buf_bytes += len(line.text)
            end = self._scan(line.text)
            if end < 0:
                if self._buf_bytes > MAX_RECORD:
                    return self._dead_buffer(f"JSON object still open after {MAX_RECORD} bytes")
                return []
            first = self._buf[0]
            text = "".join(x.text for x in self._buf[:-1]) + line.text[: end + 1]
            self._buf = []
            return self._object(text, first) + self._rest(line, end + 1)
        text = line.text.strip()
        core = text.strip("[], \t")
        if not core:
            return []
        ref = self._ref(line)
        if core.startswith("{") and core.endswith("}"):
            for candidate in (core, f"[{core}]"):  # one object, or several on one line
                try:
                    return self._value(orjson.loads(candidate), ref, line.text)
                except orjson.JSONDecodeError:
                    continue
        if core.startswith("{"):
            # a pretty-printed object: gather lines until its braces close
            self._buf, self._buf_bytes = [line], len(line.text)
            self._depth, self._in_str, self._esc = 0, False, False
            start = line.text.index("{")
            end = self._scan(line.text, start)
            if end >= 0:  # closed on this line after all: it was not valid JSON
                self._buf = []
                return self._object(line.text[start : end + 1], line) + self._rest(line, end + 1)
            return []
        return [
            DeadLetter(
                "not a MySQL Enterprise Audit JSON record (expected '{...}' or '[', ',', ']')",
                ref,
                line.text,
            )
        ]

    def flush(self) -> list[Item]:
        out: list[Item] = []
        if self._buf:
            out += self._dead_buffer("unterminated JSON object at the end of the input")
        out += self.state.join.release_all()
        return out

    def _rest(self, line: Line, pos: int) -> list[Item]:
        """What follows a closed object on the same line (another object), read on."""
        rest = line.text[pos:]
        if not rest.strip("[], \t\r\n"):
            return []
        return self.feed(Line(rest, line.lineno, line.offset + len(line.text[:pos].encode())))

    def _ref(self, line: Line) -> SourceRef:
        return SourceRef(ENTERPRISE, self.ctx.source_name, line=line.lineno, offset=line.offset)

    def _scan(self, text: str, start: int = 0) -> int:
        """Advance the brace count over ``text``; the index of the closing brace, or -1."""
        depth, in_str, esc = self._depth, self._in_str, self._esc
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    self._depth, self._in_str, self._esc = 0, False, False
                    return i
        self._depth, self._in_str, self._esc = depth, in_str, esc
        return -1

    def _object(self, text: str, first: Line) -> list[Item]:
        ref = self._ref(first)
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            return [DeadLetter(f"invalid JSON: {e}", ref, text)]
        return self._value(obj, ref, text)

    def _value(self, obj: Any, ref: SourceRef, raw: str) -> list[Item]:
        if isinstance(obj, list):
            out: list[Item] = []
            for i, rec in enumerate(obj):
                out += self._value(
                    rec,
                    SourceRef(ref.type, ref.name, line=ref.line, offset=ref.offset, index=i),
                    "",
                )
            return out
        if not is_enterprise(obj):
            # another source's record in the same stream: let it find its source
            return dispatch(obj, ref, self.ctx, raw_text=raw)
        try:
            return list(normalise_enterprise(obj, ref, self.ctx, self.state))
        except ParseError as e:
            return [DeadLetter(e.reason, ref, raw or orjson.dumps(obj, default=str).decode())]

    def _dead_buffer(self, reason: str) -> list[Item]:
        first = self._buf[0]
        text = "".join(x.text for x in self._buf)
        self._buf = []
        self._depth, self._in_str, self._esc = 0, False, False
        return [DeadLetter(reason, self._ref(first), text)]


def _enterprise_document(doc: Any, ref: SourceRef, ctx: ParseContext) -> list[Item] | None:
    """A closed log file read whole: ``[{...}, {...}]``, records paired as in the line parser."""
    if not (isinstance(doc, list) and doc and is_enterprise(doc[0])):
        return None
    p = EnterpriseParser(ctx)
    items = p._value(doc, SourceRef(ENTERPRISE, ref.name, line=ref.line, offset=ref.offset), "")
    return items + p.flush()


def _sniff_enterprise(head: bytes) -> bool:
    s = head.lstrip()
    if s[:1] == b"[":
        s = s[1:].lstrip()
    if s[:1] != b"{":
        return False
    first = s[:8192]
    return (
        b'"class"' in first
        and b'"connection_id"' in first
        and b'"timestamp"' in first
        and b'"event"' in first
    )


# -- Percona audit_log -------------------------------------------------------------------

_USER_HOST = re.compile(
    r"^(?P<priv>[^\[]*)\[(?P<user>[^\]]*)\] @ (?P<host>\S*) \[(?P<ip>[^\]]*)\]\s*$"
)
_EMBEDDED = re.compile(r'\{\s*"audit_record"\s*:')
_DECODER = json.JSONDecoder()


def is_percona(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("audit_record"), dict)
        and "name" in obj["audit_record"]
        and "timestamp" in obj["audit_record"]
    )


def normalise_percona(obj: Any, ref: SourceRef, ctx: ParseContext) -> list[Event]:
    if not is_percona(obj):
        raise ParseError("not a Percona audit_record (no audit_record with name and timestamp)")
    rec: Mapping[str, Any] = obj["audit_record"]
    t = _time(rec.get("timestamp"))
    name = _s(rec.get("name"))
    outcome, error = _outcome(rec.get("status"))
    conn = _s(rec.get("connection_id"))
    user_field = _s(rec.get("user"))
    m = _USER_HOST.match(user_field)
    if m:
        priv, user, host, ip = m.group("priv"), m.group("user"), m.group("host"), m.group("ip")
    else:
        priv, user, host, ip = _s(rec.get("priv_user")), user_field, "", ""
    user = user or priv
    priv = priv or user
    ip = _s(rec.get("ip")) or ip
    host = _s(rec.get("host")) or host
    sql = _s(rec.get("sqltext"))
    db = _s(rec.get("db"))

    def make(k: object) -> Event:
        actor = Actor(
            principal=user,
            principal_type="db_user" if user else "",
            credential_id=f"mysql:{priv}" if priv else "",
            application_name=application_from_comment(sql),
            client_addr=ip or host,
            session_id=conn,
        )
        for tag, v in (
            ("os_user", rec.get("os_user") or rec.get("os_login")),
            ("proxy_user", rec.get("proxy_user")),
        ):
            if v:
                actor.tags[tag] = _s(v)
        return Event(
            event_id=stable_id("percona", rec.get("record"), rec.get("timestamp"), conn, name, k)
            if rec.get("record")
            else stable_id("percona", ref.name, ref.offset, ref.index, ref.line, k),
            time=t,
            observed_time=ctx.observed or time.time(),
            source=ref,
            actor=actor,
            action=Action(
                name=name.upper(), service=SERVICE, statement=name.upper(), fingerprint=name.upper()
            ),
            resource=Resource(environment=ctx.environment, database=db),
            activity="sql",
            raw=_wrap(obj),
        )

    if sql and name not in ("Connect", "Quit", "Change user"):
        events = _statement_events(sql, make, outcome, error)
        if rec.get("command_class"):
            for ev in events:
                ev.raw["command_class"] = rec.get("command_class")
        return events
    ev = make(0)
    ev.action.outcome, ev.action.error = outcome, error
    if name in ("Connect", "Quit", "Change user"):
        ev.resource.type = "server"
        if ev.action.outcome == "unknown":
            ev.action.outcome = "success"
    return [ev]


def _embedded(text: str) -> list[Any]:
    """Every ``{"audit_record": ...}`` object that starts somewhere in ``text``."""
    found: list[Any] = []
    pos = 0
    while True:
        m = _EMBEDDED.search(text, pos)
        if m is None:
            return found
        try:
            obj, end = _DECODER.raw_decode(text, m.start())
        except json.JSONDecodeError as e:
            raise ParseError(f"embedded audit_record is not valid JSON: {e}") from None
        found.append(obj)
        pos = end


def _in_strings(obj: Any, depth: int = 0) -> list[Any]:
    """Records embedded (escaped) in the string fields of a shipper's JSON envelope."""
    if depth > 4:
        return []
    if isinstance(obj, str):
        return _embedded(obj) if '"audit_record"' in obj else []
    if isinstance(obj, dict):
        return [r for v in obj.values() for r in _in_strings(v, depth + 1)]
    if isinstance(obj, list):
        return [r for v in obj[:100] for r in _in_strings(v, depth + 1)]
    return []


class PerconaParser:
    """Percona audit_log JSON: raw lines, syslog lines, or lines a shipper wrapped."""

    type = PERCONA

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx

    def feed(self, line: Line) -> list[Item]:
        s = line.text.strip()
        if not s:
            return []
        ref = SourceRef(PERCONA, self.ctx.source_name, line=line.lineno, offset=line.offset)
        try:
            recs = self._records(s)
            out: list[Item] = []
            for i, obj in enumerate(recs):
                r = (
                    ref
                    if len(recs) == 1
                    else SourceRef(PERCONA, ref.name, line=ref.line, offset=ref.offset, index=i)
                )
                out += normalise_percona(obj, r, self.ctx)
            return out
        except ParseError as e:
            return [DeadLetter(e.reason, ref, line.text)]

    def flush(self) -> list[Item]:
        return []

    @staticmethod
    def _records(s: str) -> list[Any]:
        obj: Any = None
        if s.startswith("{"):
            try:
                obj = orjson.loads(s)
            except orjson.JSONDecodeError:
                obj = None
        if obj is not None:
            if isinstance(obj, dict) and "audit_record" in obj:
                return [obj]  # ours; normalise says what is wrong with it, if anything
            found = _in_strings(obj)
            if found:
                return found
            raise ParseError("JSON line without a Percona audit_record")
        found = _embedded(s)
        if found:
            return found
        if '\\"audit_record\\"' in s:
            raise ParseError(
                "audit_record escaped inside a line that is not JSON: cannot unwrap it"
            )
        raise ParseError("no Percona audit_record in this line")


def _sniff_percona(head: bytes) -> bool:
    h = head[:65536]
    return b'"audit_record"' in h or b'\\"audit_record\\"' in h


ENTERPRISE_SPEC = register(
    SourceSpec(
        name=ENTERPRISE,
        sniff=_sniff_enterprise,
        line_parser=EnterpriseParser,
        is_record=is_enterprise,
        normalise=lambda obj, ref, ctx: list(normalise_enterprise(obj, ref, ctx)),
        document=_enterprise_document,
        priority=55,
        aliases=("mysql-enterprise-audit",),
    )
)

PERCONA_SPEC = register(
    SourceSpec(
        name=PERCONA,
        sniff=_sniff_percona,
        line_parser=PerconaParser,
        is_record=is_percona,
        normalise=lambda obj, ref, ctx: list(normalise_percona(obj, ref, ctx)),
        priority=45,
        aliases=("percona",),
    )
)
