"""GCP Cloud Audit Logs: ``LogEntry`` records whose ``protoPayload`` is a
``type.googleapis.com/google.cloud.audit.AuditLog``.

Inputs read:

* one LogEntry per line (a Cloud Logging export to Cloud Storage, ``gcloud
  logging read --format=json`` piped through ``jq -c``), a JSON array of
  LogEntries (``gcloud logging read --format=json``), the Logging API's
  ``{"entries": [...], "nextPageToken": ...}`` page;
* Pub/Sub: push envelopes ``{"message": {"data": <base64 LogEntry JSON>,
  "messageId": ..., "attributes": ...}, "subscription": ...}`` and pull
  responses ``{"receivedMessages": [{"ackId": ..., "message": {...}}]}``. A
  message whose data is not base64, not UTF-8 or not JSON is a dead letter
  that says which; a decoded payload that is not a LogEntry is handed to the
  source that recognises it (or dead-lettered);
* pretty-printed LogEntries, one after the other, and text around them (a
  ``// comment``, a stray ``]``): each text line outside a JSON value is one
  dead letter, the values are read (``JsonTextParser``);
* Logstash ``rubydebug`` dumps of the Pub/Sub payload (``"message" => "{\\"insertId\\":...}",``),
  when the quoted message is a JSON-compatible string literal; otherwise the
  line is a dead letter saying why (Ruby's inspect escapes are not JSON's).

Format facts that matter:

* ``insertId`` is the entry's id (event id ``gcp-<insertId>``); ``timestamp``
  is the event time (RFC 3339 with nanoseconds), ``receiveTimestamp`` when
  Logging got it; ``logName`` ends in ``cloudaudit.googleapis.com%2Factivity``
  (Admin Activity, always on), ``%2Fdata_access`` (off by default: object
  deletes and SQL only appear if enabled), ``%2Fsystem_event`` or ``%2Fpolicy``.
* Who: ``authenticationInfo.principalEmail`` (principal_type
  ``serviceAccount`` when it ends in ``.gserviceaccount.com``, else
  ``user``; federated identities carry only ``principalSubject``: a
  workforce-pool subject is a ``user``, a workload-identity-pool subject a
  ``workload``); Cloud SQL engine audit entries name only the database user
  (``db_user``); ``serviceAccountKeyName`` names the key used;
  ``serviceAccountDelegationInfo`` lists who impersonated whom, the original
  caller first: it becomes ``actor.role_chain`` in that order, and a chain
  starting with a person puts that person in ``tags["on-behalf-of"]``.
  ``requestMetadata.callerSuppliedUserAgent`` is set by the client
  (unauthenticated); ``callerIp`` may read ``private`` or ``gce-internal-ip``.
* Outcome: a non-zero ``status.code`` (google.rpc.Code) is a failure, with
  ``error = "<code> <NAME>: <message>"``; an empty or missing status is
  success. Compute Engine logs a long-running operation twice: the entry
  that starts it (``operation.first``) is outcome ``unknown``, the entry
  with ``operation.last`` says how it ended. Cloud SQL database audit
  entries (``MysqlAuditEntry``) carry their own ``status``/``errCode``.
* Categories come from ``detectors/mappings/gcp.py`` by ``methodName``;
  SQL carried by Cloud SQL audit entries and Spanner is classified like any
  other SQL (activity ``sql``, literals redacted in ``statement``).
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from auditwatch.detectors.mappings.gcp import audit_entry_dialect, gcp_categories, sql_texts
from auditwatch.detectors.sql.classify import SqlVerdict, classify
from auditwatch.streams.sources.base import DeadLetter, Item, Line, ParseContext, stable_id
from auditwatch.streams.sources.json_records import dispatch
from auditwatch.streams.sources.registry import SourceSpec, register

from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.timeparse import parse_time

TYPE = "gcp-audit"
AUDIT_LOG_TYPE = "google.cloud.audit.AuditLog"

# google.rpc.Code names, for readable errors
RPC_CODES: dict[int, str] = {
    1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
    6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
    10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
    15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}
_SQL_RTYPES = {"TABLE": "table", "DATABASE": "database", "SCHEMA": "schema", "INDEX": "index",
               "VIEW": "view", "TRUNCATE": "table", "DELETE": "table", "UPDATE": "table", "USER": "role",
               "ROLE": "role"}
_DATABASE_IN_NAME = re.compile(r"/databases/([^/]+)")


# =========================================================================== records


def is_record(obj: Any) -> bool:
    """A LogEntry carrying an AuditLog (``@type`` may be missing in hand-made exports)."""
    if not isinstance(obj, dict):
        return False
    pp = obj.get("protoPayload")
    if not isinstance(pp, dict):
        return False
    typ = pp.get("@type")
    if typ is None:
        return "methodName" in pp and ("logName" in obj or "insertId" in obj)
    return isinstance(typ, str) and typ.endswith(AUDIT_LOG_TYPE)


def looks_like_log_entry(obj: Any) -> bool:
    """Any Cloud Logging LogEntry, audit or not."""
    return isinstance(obj, dict) and "logName" in obj and (
        "insertId" in obj or "protoPayload" in obj or "textPayload" in obj or "jsonPayload" in obj)


def _not_audit_reason(obj: Any) -> str:
    if not isinstance(obj, dict):
        return f"not a GCP Cloud Audit Log entry: a JSON {type(obj).__name__}, not an object"
    pp = obj.get("protoPayload")
    if isinstance(pp, dict):
        return f"not a GCP Cloud Audit Log entry: protoPayload is {pp.get('@type')!r}, not an AuditLog"
    if looks_like_log_entry(obj):
        return "GCP LogEntry without an AuditLog protoPayload (textPayload/jsonPayload: not an audit log)"
    return "not a GCP Cloud Audit Log entry (no protoPayload)"


def normalise(rec: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
    if not is_record(rec):
        raise ParseError(_not_audit_reason(rec))
    pp: Mapping[str, Any] = rec["protoPayload"]
    ts = rec.get("timestamp") or rec.get("receiveTimestamp")
    if not isinstance(ts, str):
        raise ParseError("LogEntry has no timestamp")
    try:
        t = parse_time(ts)
    except ValueError as e:
        raise ParseError(f"bad timestamp {ts!r}: {e}") from None
    method = str(pp.get("methodName") or "")
    if not method:
        raise ParseError("AuditLog has no methodName")
    mres = _mapping(rec.get("resource"))
    labels = _mapping(mres.get("labels"))

    cats, rtype = gcp_categories(method, pp)
    texts, dialect = sql_texts(method, pp)
    verdicts: list[SqlVerdict] = [v for s in texts for v in classify(s, dialect)]
    if verdicts:
        cats = tuple(sorted(set(cats) | {c for v in verdicts for c in v.categories}))
        rtype = rtype or _sql_rtype(verdicts)
    outcome, error = _outcome(rec, pp)
    resource_name = str(pp.get("resourceName") or "")
    action = Action(
        name=method,
        service=str(pp.get("serviceName") or ""),
        outcome=outcome,  # type: ignore[arg-type]
        error=error,
        categories=tuple(cats),
        statement=_sql_statement(verdicts) if verdicts else _summary(method, resource_name, pp),
        fingerprint="+".join(v.fingerprint for v in verdicts[:4]) if verdicts else method,
    )
    mtype = str(mres.get("type") or "")
    resource = Resource(
        type=rtype or ("" if mtype == "audited_resource" else mtype),
        name=resource_name,
        environment=ctx.environment,
        region=_region(labels, pp),
        database=_database(pp, resource_name, labels),
    )
    iid = rec.get("insertId")
    return [Event(
        event_id=f"gcp-{iid}" if iid else stable_id("gcp", ref.name, ref.offset, ref.index, ref.line),
        time=t,
        observed_time=ctx.observed or time.time(),
        source=ref,
        actor=_actor(rec, pp, labels),
        action=action,
        resource=resource,
        activity="sql" if verdicts else "api",
        raw=rec,
    )]


def _mapping(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _get(obj: Any, *path: str) -> Any:
    for k in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(k)
    return obj


def _strip_kind(subject: str) -> str:
    for p in ("user:", "serviceAccount:", "group:", "domain:"):
        if subject.startswith(p):
            return subject[len(p):]
    return subject


def principal_type(principal: str, subject: str = "") -> str:
    if not principal:
        return ""
    if principal.endswith(".gserviceaccount.com") or subject.startswith("serviceAccount:"):
        return "serviceAccount"
    if "/workloadIdentityPools/" in principal:
        return "workload"
    return "user"


def _actor(rec: Mapping[str, Any], pp: Mapping[str, Any], labels: Mapping[str, Any]) -> Actor:
    auth = _mapping(pp.get("authenticationInfo"))
    meta = _mapping(pp.get("requestMetadata"))
    subject = str(auth.get("principalSubject") or "")
    principal = str(auth.get("principalEmail") or "") or _strip_kind(subject)
    ptype = principal_type(principal, subject)
    chain = _delegation_chain(auth.get("serviceAccountDelegationInfo"))
    req = pp.get("request")
    actor = Actor(
        principal=principal,
        principal_type=ptype,
        account=_project(rec, labels),
        credential_id=str(auth.get("serviceAccountKeyName") or ""),
        user_agent=str(meta.get("callerSuppliedUserAgent") or ""),
        client_addr=str(meta.get("callerIp") or ""),
        role_chain=chain,
    )
    if chain and principal_type(chain[0]) == "user":
        actor.tags["on-behalf-of"] = chain[0]
    if audit_entry_dialect(req) and isinstance(req, Mapping):
        # a database engine's own audit record: the database user acted
        user = str(req.get("user") or "")
        if user and not principal:
            actor.principal = user
            actor.principal_type = "db_user"
        actor.client_addr = actor.client_addr or str(req.get("ip") or "")
        actor.session_id = str(req.get("threadId") or req.get("databaseSessionId") or "")
    return actor


def _delegation_chain(info: Any) -> tuple[str, ...]:
    """Who impersonated whom, the original caller first (the order GCP logs them in)."""
    if not isinstance(info, list):
        return ()
    out: list[str] = []
    for d in info:
        if not isinstance(d, Mapping):
            continue
        who = str(_get(d, "firstPartyPrincipal", "principalEmail") or "") or _strip_kind(
            str(d.get("principalSubject") or ""))
        if not who and isinstance(d.get("thirdPartyPrincipal"), Mapping):
            claims = _get(d, "thirdPartyPrincipal", "thirdPartyClaims")
            who = str(_get(claims, "email") or _get(claims, "sub") or "third-party")
        if who:
            out.append(who)
    return tuple(out)


def _project(rec: Mapping[str, Any], labels: Mapping[str, Any]) -> str:
    """The project id; for organisation/folder/billing logs, ``organizations/<id>`` etc."""
    pid = labels.get("project_id")
    if pid:
        return str(pid)
    parts = str(rec.get("logName") or "").split("/")
    if len(parts) < 2 or not parts[1]:
        return ""
    return parts[1] if parts[0] == "projects" else f"{parts[0]}/{parts[1]}"


def _outcome(rec: Mapping[str, Any], pp: Mapping[str, Any]) -> tuple[str, str]:
    status = pp.get("status")
    code: Any = status.get("code") if isinstance(status, Mapping) else None
    try:
        icode = int(code) if code not in (None, "") else 0
    except (TypeError, ValueError):
        icode = -1
    if icode != 0:
        msg = str(status.get("message") or "") if isinstance(status, Mapping) else ""
        head = f"{code} {RPC_CODES[icode]}" if icode in RPC_CODES else str(code)
        return "failure", (f"{head}: {msg}" if msg else head)[:300]
    req = pp.get("request")
    if audit_entry_dialect(req) and isinstance(req, Mapping):
        err = str(req.get("errCode") or "")
        if (err and err != "0") or str(req.get("status") or "").lower() == "unsuccessful":
            engine = "MySQL" if audit_entry_dialect(req) == "mysql" else "PostgreSQL"
            return "failure", f"{engine} error {err}" if err else f"{engine}: unsuccessful"
    op = rec.get("operation")
    if (isinstance(op, Mapping) and op.get("first") is True and op.get("last") is not True
            and pp.get("serviceName") == "compute.googleapis.com"):
        return "unknown", ""  # the operation's last entry says how it ended
    return "success", ""


def _region(labels: Mapping[str, Any], pp: Mapping[str, Any]) -> str:
    for k in ("location", "region", "zone"):
        if labels.get(k):
            return str(labels[k])
    locs = _get(pp, "resourceLocation", "currentLocations")
    return str(locs[0]) if isinstance(locs, list) and locs else ""


def _database(pp: Mapping[str, Any], resource_name: str, labels: Mapping[str, Any]) -> str:
    req = pp.get("request")
    if audit_entry_dialect(req) and isinstance(req, Mapping):
        if req.get("database"):
            return str(req["database"])
        objs = req.get("objects")
        if isinstance(objs, list) and objs and isinstance(objs[0], Mapping) and objs[0].get("db"):
            return str(objs[0]["db"])
        return ""
    m = _DATABASE_IN_NAME.search(resource_name)
    if m:
        return m.group(1)
    return str(labels.get("database_id") or "")


def _sql_rtype(verdicts: list[SqlVerdict]) -> str:
    for v in verdicts:
        if v.categories:
            words = v.kind.split()
            return _SQL_RTYPES.get(words[-1], _SQL_RTYPES.get(words[0], ""))
    return ""


def _sql_statement(verdicts: list[SqlVerdict]) -> str:
    s = "; ".join(v.redacted for v in verdicts)
    return s if len(s) <= 500 else s[:497] + "..."


def _summary(method: str, resource_name: str, pp: Mapping[str, Any]) -> str:
    """The call, its target and the parameters that decide what it did (no secrets in them)."""
    bits: list[str] = []
    delta = _get(pp, "serviceData", "policyDelta") or _get(pp, "metadata", "policyDelta")
    if isinstance(delta, Mapping):
        for b in (delta.get("bindingDeltas") or [])[:5]:
            if isinstance(b, Mapping):
                bits.append(f"{b.get('action', '?')} {b.get('role', '?')} {b.get('member', '?')}")
        for a in (delta.get("auditConfigDeltas") or [])[:3]:
            if isinstance(a, Mapping):
                bits.append(f"{a.get('action', '?')} audit {a.get('service', '?')} {a.get('logType', '?')}")
    backup = _get(pp, "request", "body", "settings", "backupConfiguration")
    if isinstance(backup, Mapping) and "enabled" in backup:
        bits.append(f"backups enabled={backup['enabled']}")
    if _get(pp, "request", "sink", "disabled") is not None:
        bits.append(f"sink disabled={_get(pp, 'request', 'sink', 'disabled')}")
    state = _get(pp, "request", "cryptoKeyVersion", "state")
    if state:
        bits.append(f"state={state}")
    s = f"{method} {resource_name}".strip()
    return f"{s} [{'; '.join(bits)}]" if bits else s


# =========================================================================== documents


def is_pubsub_push(obj: Any) -> bool:
    msg = obj.get("message") if isinstance(obj, dict) else None
    return isinstance(msg, dict) and ("subscription" in obj or "messageId" in msg or "message_id" in msg) and (
        "data" in msg or "attributes" in msg)


def _b64(data: str) -> bytes:
    s = data.strip()
    s += "=" * (-len(s) % 4)
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return base64.b64decode(s, altchars=b"-_", validate=True)  # URL-safe alphabet


def pubsub_message(msg: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
    """The LogEntry (or whatever record) inside one Pub/Sub message."""
    raw = orjson.dumps(msg, default=str).decode()
    if not isinstance(msg, Mapping):
        return [DeadLetter("Pub/Sub message is not an object", ref, raw)]
    data = msg.get("data")
    if not isinstance(data, str) or not data.strip():
        return [DeadLetter("Pub/Sub message has no data", ref, raw)]
    try:
        payload = _b64(data)
    except (binascii.Error, ValueError) as e:
        return [DeadLetter(f"Pub/Sub message data is not base64: {e}", ref, raw)]
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        return [DeadLetter(f"Pub/Sub message data is not UTF-8: {e.reason} at byte {e.start}", ref, raw)]
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return [DeadLetter(f"Pub/Sub message data is not JSON: {e}", ref, text)]
    r = SourceRef(TYPE, ref.name, line=ref.line, offset=ref.offset, index=ref.index)
    return dispatch(obj, r, ctx, raw_text=text, only=SPEC if looks_like_log_entry(obj) else None)


def _document(doc: Any, ref: SourceRef, ctx: ParseContext) -> list[Item] | None:
    if is_pubsub_push(doc):
        return pubsub_message(doc["message"], ref, ctx)
    if not isinstance(doc, dict):
        return None
    received = doc.get("receivedMessages")
    if isinstance(received, list) and set(doc) <= {"receivedMessages"}:
        out: list[Item] = []
        for i, m in enumerate(received):
            r = SourceRef(TYPE, ref.name, line=ref.line, offset=ref.offset, index=i)
            out += pubsub_message(m.get("message") if isinstance(m, Mapping) else m, r, ctx)
        return out
    entries = doc.get("entries")
    if isinstance(entries, list) and set(doc) <= {"entries", "nextPageToken"}:
        out = []
        for i, e in enumerate(entries):
            out += dispatch(e, SourceRef(TYPE, ref.name, line=ref.line, offset=ref.offset, index=i), ctx,
                            only=SPEC)
        return out
    return None


# =========================================================================== text framing

_TOKENS = re.compile(r'["\\{}\[\]]')
MAX_VALUE_BYTES = 16 * 1024 * 1024
TextHook = Callable[[str], Any]


class JsonTextParser:
    """JSON values in a text stream, however they are laid out on lines.

    One value per line (JSON lines) is the fast path. A value that does not
    close on its line is pretty-printed: lines are held until its brackets
    balance (strings and escapes respected), then it is parsed and dispatched
    with the position of its first line. Values may follow one another,
    separated by commas (an array whose brackets were cut off). Any other
    text outside a value is one dead letter per line, unless ``text_line``
    recognises it (returns a decoded value, or raises ``ParseError``).

    A line that is itself a complete JSON object at column 0 while a value is
    held means the held value was cut short: it is dead-lettered and the new
    record read. ``flush`` dead-letters a value still open (end of input, or a
    followed file idle mid-record).
    """

    def __init__(self, ctx: ParseContext, only: SourceSpec | None = None,
                 text_line: TextHook | None = None) -> None:
        self.ctx = ctx
        self.only = only
        self.text_line = text_line
        self.type = only.name if only is not None else "json"
        self._buf: list[str] = []
        self._size = 0
        self._depth = 0
        self._in_str = False
        self._first = (0, 0)  # (line, byte offset) where the held value starts
        self._last_line = 0

    def _ref(self, lineno: int, offset: int) -> SourceRef:
        return SourceRef(self.type, self.ctx.source_name, line=lineno, offset=offset)

    def _dispatch(self, obj: Any, lineno: int, offset: int, raw: str) -> list[Item]:
        return dispatch(obj, self._ref(lineno, offset), self.ctx, raw_text=raw, only=self.only)

    def feed(self, line: Line) -> list[Item]:
        text = line.text.rstrip("\r\n")
        if self._buf:
            if text[:1] in ("{", "["):
                obj = _loads(text)
                if obj is not _INVALID:
                    out = self._abandon(f"unterminated JSON value: a new record starts on line {line.lineno}")
                    return out + self._dispatch(obj, line.lineno, line.offset, line.text)
            return self._scan(line, text, 0)
        stripped = text.strip()
        if not stripped:
            return []
        if stripped[0] in "{[":
            obj = _loads(stripped)
            if obj is not _INVALID:
                return self._dispatch(obj, line.lineno, line.offset, line.text)
            return self._scan(line, text, 0)
        return self._outside(line, stripped, line.text)

    def _outside(self, line: Line, stripped: str, raw: str, offset: int | None = None) -> list[Item]:
        off = line.offset if offset is None else offset
        if self.text_line is not None:
            try:
                obj = self.text_line(stripped)
            except ParseError as e:
                return [DeadLetter(e.reason, self._ref(line.lineno, off), raw)]
            if obj is not None:
                return self._dispatch(obj, line.lineno, off, raw)
        return [DeadLetter("not JSON: text outside any JSON value", self._ref(line.lineno, off), raw)]

    def _scan(self, line: Line, text: str, col: int) -> list[Item]:
        self._last_line = line.lineno
        if not self._buf:
            n = len(text)
            while col < n and (text[col].isspace() or text[col] == ","):
                col += 1
            if col >= n:
                return []
            if text[col] not in "{[":
                offset = line.offset + len(text[:col].encode("utf-8", "surrogateescape"))
                return self._outside(line, text[col:].strip(), text[col:], offset)
            self._first = (line.lineno, line.offset + len(text[:col].encode("utf-8", "surrogateescape")))
        skip = -1
        for m in _TOKENS.finditer(text, col):
            pos = m.start()
            c = m.group()
            if self._in_str:
                if pos < skip:
                    continue
                if c == "\\":
                    skip = pos + 2
                elif c == '"':
                    self._in_str = False
                continue
            if c == '"':
                self._in_str = True
            elif c in "{[":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._hold(text[col:pos + 1])
                    out = self._finish()
                    return out + self._scan(line, text, pos + 1)
        self._hold(text[col:] + "\n")
        return []

    def _hold(self, piece: str) -> None:
        self._size += len(piece)
        if self._size <= MAX_VALUE_BYTES:
            self._buf.append(piece)
        elif not self._buf or self._buf[-1] != "":
            self._buf.append("")  # marks an oversized value; its text is no longer kept

    def _reset(self) -> tuple[str, int, int, bool]:
        text = "".join(self._buf)
        oversized = self._size > MAX_VALUE_BYTES
        first_line, first_off = self._first
        self._buf, self._size, self._depth, self._in_str = [], 0, 0, False
        return text, first_line, first_off, oversized

    def _finish(self) -> list[Item]:
        end = self._last_line
        text, first_line, first_off, oversized = self._reset()
        ref = self._ref(first_line, first_off)
        if oversized:
            return [DeadLetter(f"JSON value over {MAX_VALUE_BYTES} bytes (lines {first_line}-{end})", ref, text)]
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            return [DeadLetter(f"invalid JSON (lines {first_line}-{end}): {e}", ref, text)]
        return dispatch(obj, ref, self.ctx, raw_text=text, only=self.only)

    def _abandon(self, reason: str) -> list[Item]:
        end = self._last_line
        text, first_line, first_off, _ = self._reset()
        return [DeadLetter(f"{reason} (held lines {first_line}-{end})", self._ref(first_line, first_off), text)]

    def flush(self) -> list[Item]:
        if not self._buf:
            return []
        return self._abandon("unterminated JSON value at end of input")


_INVALID = object()


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _INVALID


# Logstash rubydebug: "message" => "<the Pub/Sub payload as a quoted string>",
_RUBYDEBUG = re.compile(r'^"message"\s*=>\s*(".*")\s*,?$', re.DOTALL)


def logstash_message(text: str) -> Any:
    """The LogEntry inside a Logstash rubydebug ``"message" => "..."`` line, or None."""
    m = _RUBYDEBUG.match(text)
    if m is None:
        return None
    try:
        inner = orjson.loads(m.group(1))
    except orjson.JSONDecodeError as e:
        raise ParseError(f'Logstash "message" => line: the quoted message is not a JSON string literal '
                         f"(Ruby escapes?): {e}") from None
    try:
        return orjson.loads(inner)
    except orjson.JSONDecodeError as e:
        raise ParseError(f'Logstash "message" => line: the message is not JSON: {e}') from None


def _sniff(head: bytes) -> bool:
    s = head.lstrip()
    h = s[:65536]
    if s.startswith(b'"message" =>'):
        return AUDIT_LOG_TYPE.encode() in h
    if b'"protoPayload"' in h and (AUDIT_LOG_TYPE.encode() in h or b'"methodName"' in h):
        return True
    first = s.split(b"\n", 1)[0]
    return s[:1] == b"{" and b'"subscription"' in first and b'"message"' in first


SPEC: SourceSpec = register(SourceSpec(
    name=TYPE,
    sniff=_sniff,
    line_parser=lambda ctx: JsonTextParser(ctx, only=SPEC, text_line=logstash_message),
    is_record=is_record,
    normalise=normalise,
    document=_document,
    priority=65,
    aliases=("gcp",),
))
