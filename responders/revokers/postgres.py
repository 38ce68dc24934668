"""Revoke a PostgreSQL role: stop new logins, end the open sessions, prove both.

Threat: an identity (an AI agent, a leaked service login) is running
destructive SQL. ``ALTER ROLE … NOLOGIN`` stops new connections but leaves
open sessions running, so the revoker then terminates every backend of the
role; terminating a backend also rolls back its transaction not yet
committed (a ``DELETE`` still in flight is undone, not finished).

Success is reported only after verification: ``pg_roles.rolcanlogin`` is
false and no backend of the role is left (polled for up to a second, ending
late arrivals again). ``restore`` is ``ALTER ROLE … LOGIN``, verified the same
way.

Role names come from audit logs and are untrusted: they are quoted with
``psycopg.sql.Identifier``/``Literal`` only, and names PostgreSQL would
silently truncate (over 63 bytes) are refused, because the truncated name
could be another role. Protected roles (superuser accounts of managed
services, ``pg_*`` system roles, the revoker's own login) are never revoked.

A role is cluster-wide: NOLOGIN applies to every database of the cluster the
DSN points at, whatever ``database`` the request names. Sessions through a
pooler (PgBouncer) are the pooler's own server connections: pause or kill
the client there as well.

This module also holds what every revoker shares (``Credential``,
``Result``, ``RevokerBase`` and the outbox ``send``), until it moves to the
package ``__init__`` (see the hand-over notes).
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from auditwatch.errors import AuditwatchError, ConfigError
from auditwatch.responders.console import safe
from auditwatch.responders.outbox import Attempt

log = logging.getLogger("auditwatch.revoke")

# ---------------------------------------------------------------------------
# shared by every revoker
# ---------------------------------------------------------------------------

NOTHING_FOR_THIS_REVOKER = "nothing for this revoker"


class RevocationRequestError(AuditwatchError):
    """A revocation request (outbox payload) is not the documented shape."""


@dataclass(frozen=True, slots=True)
class Credential:
    """One credential of a request: ``db_role``, ``aws_access_key`` or ``aws_principal``."""

    type: str
    id: str
    database: str = ""

    @classmethod
    def parse(cls, item: Credential | Mapping[str, Any]) -> Credential:
        if isinstance(item, Credential):
            return item
        if not isinstance(item, Mapping):
            raise RevocationRequestError(f"a credential is an object, got {type(item).__name__}")
        typ, cid, db = item.get("type"), item.get("id"), item.get("database") or ""
        if not isinstance(typ, str) or not isinstance(cid, str) or not isinstance(db, str):
            raise RevocationRequestError("a credential needs string 'type' and 'id'")
        return cls(typ, cid, db)

    def label(self) -> str:
        """Printable, control characters escaped, long ids shortened (untrusted text)."""
        cid = self.id if len(self.id) <= 80 else self.id[:77] + "…"
        return safe(f"{self.type}:{cid}" + (f"@{self.database[:63]}" if self.database else ""))

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id} | (
            {"database": self.database} if self.database else {}
        )


@dataclass(frozen=True, slots=True)
class Result:
    """What one revoke or restore did to one credential.

    ``ok`` means the change is in place and was read back (``verified``); a
    refusal (protected credential, invalid name) and any error are
    ``ok=False``. ``ok=True, verified=False`` is a deliberate no-op (a
    temporary AWS key covered by its principal's revocation); ``detail`` says
    which.
    """

    credential: Credential
    action: Literal["revoke", "restore"]
    ok: bool
    verified: bool
    detail: str
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "credential": self.credential.to_dict(),
            "action": self.action,
            "ok": self.ok,
            "verified": self.verified,
            "detail": self.detail,
            "duration_ms": round(self.duration_ms, 1),
        }


@dataclass(frozen=True, slots=True)
class RevocationRequest:
    incident_id: str
    credentials: tuple[Credential, ...]
    dry_run: bool

    @classmethod
    def from_payload(cls, payload: bytes) -> RevocationRequest:
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise RevocationRequestError(f"not JSON: {e}") from None
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict):
            raise RevocationRequestError("no 'data' object")
        creds = data.get("credentials")
        if not isinstance(creds, list):
            raise RevocationRequestError("'data.credentials' is not a list")
        iid = data.get("incident_id")
        return cls(
            incident_id=iid if isinstance(iid, str) else "",
            credentials=tuple(Credential.parse(c) for c in creds),
            dry_run=data.get("dry_run") is True,
        )


def matches_any(candidates: Iterable[str], patterns: Iterable[str]) -> str | None:
    """The first protected pattern (exact, or shell-style ``pg_*``) any candidate matches."""
    pats = list(patterns)
    for c in candidates:
        for p in pats:
            if c == p or fnmatch.fnmatchcase(c, p):
                return p
    return None


_T = TypeVar("_T")


class RevokerBase:
    """An outbox ``Sender`` that revokes the credentials it owns, and a CLI-facing API.

    ``send`` never raises: a bad request, a refusal or an error becomes a failed
    ``Attempt`` (the outbox retries within its budget, then marks it dead for a
    person). A request with none of this revoker's credential types is done at
    once. Subclasses implement ``revoke`` and ``restore``; both act only on
    ``credential_types`` and ignore the rest.
    """

    name: ClassVar[str]
    credential_types: ClassVar[frozenset[str]]

    def __init__(self) -> None:
        self.last_results: list[Result] = []
        self.last_note = ""

    def revoke(
        self, credentials: Iterable[Credential | Mapping[str, Any]], *, incident_id: str = ""
    ) -> list[Result]:
        raise NotImplementedError

    def restore(self, credentials: Iterable[Credential | Mapping[str, Any]]) -> list[Result]:
        raise NotImplementedError

    def own(self, credentials: Iterable[Credential | Mapping[str, Any]]) -> list[Credential]:
        out: list[Credential] = []
        for c in credentials:
            cred = Credential.parse(c)
            if cred.type in self.credential_types and cred not in out:
                out.append(cred)
        return out

    def send(self, key: str, payload: bytes) -> Attempt:
        t0 = time.perf_counter()

        def attempt(ok: bool, error: str | None, note: str = "") -> Attempt:
            self.last_note = note
            if note:
                log.info("%s %s: %s", self.name, safe(key), note)
            return Attempt(
                ok=ok,
                status_code=None,
                error=None if error is None else error[:300],
                duration_ms=(time.perf_counter() - t0) * 1000,
            )

        self.last_results = []
        try:
            req = RevocationRequest.from_payload(payload)
            mine = self.own(req.credentials)
        except RevocationRequestError as e:
            return attempt(False, f"bad revocation request: {e}")
        if not mine:
            return attempt(True, None, NOTHING_FOR_THIS_REVOKER)
        if req.dry_run:
            return attempt(True, None, "dry run: nothing revoked")
        try:
            results = self.revoke(mine, incident_id=req.incident_id or key)
        # a revoker bug is a failed attempt, never an exception into the outbox
        except Exception as e:
            log.exception("%s failed on %s", self.name, safe(key))
            return attempt(False, f"{type(e).__name__}: {safe(e)}")
        self.last_results = results
        for r in results:
            (log.info if r.ok else log.error)(
                "%s %s %s: %s", self.name, r.action, r.credential.label(), safe(r.detail)
            )
        failed = [r for r in results if not r.ok]
        if failed:
            return attempt(
                False, "; ".join(f"{r.credential.label()}: {safe(r.detail)}" for r in failed)
            )
        return attempt(True, None, f"{len(results)} credential(s) revoked and verified")


def elapsed_ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

#: Superuser and system roles of PostgreSQL and the managed services; ``pg_*`` are reserved.
DEFAULT_PROTECTED_ROLES: frozenset[str] = frozenset({
    "postgres", "pg_*",
    # Amazon RDS / Aurora
    "rdsadmin", "rdsrepladmin", "rds_superuser", "rds_replication", "rdstopmgr",
    # Google Cloud SQL and AlloyDB
    "cloudsqladmin", "cloudsqlsuperuser", "cloudsqlreplica", "alloydbadmin",
    # Azure Database for PostgreSQL
    "azure_superuser", "azuresu", "azure_pg_admin",
    "supabase_admin",
})  # fmt: skip

NAMEDATALEN_MAX = 63  # PostgreSQL truncates longer identifiers, which could name another role
VERIFY_SECONDS = 1.0


class PostgresRevoker(RevokerBase):
    """Revokes ``db_role`` credentials on the cluster ``dsn`` points at.

    The DSN's user needs ``CREATEROLE`` (superuser to touch superuser roles) and
    ``pg_signal_backend`` to end other sessions. One autocommit connection is
    kept open and re-opened once when it has gone away.
    """

    name = "revoke-postgres"
    credential_types = frozenset({"db_role"})

    def __init__(
        self,
        dsn: str,
        protected_roles: frozenset[str] = DEFAULT_PROTECTED_ROLES,
        *,
        connect_timeout: float = 5.0,
        statement_timeout_ms: int = 10_000,
        verify_seconds: float = VERIFY_SECONDS,
        application_name: str = "auditwatch-revoker",
    ) -> None:
        super().__init__()
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            raise ConfigError(
                "postgres revoker: malformed DSN (not shown: it may hold a password)"
            ) from None
        self._dsn = dsn  # may hold a password: never logged, never in errors or repr
        self._password = str(params.get("password") or "")
        self.protected_roles = frozenset(protected_roles)
        self.connect_timeout = connect_timeout
        self.statement_timeout_ms = statement_timeout_ms
        self.verify_seconds = verify_seconds
        self.application_name = application_name
        self._conn: psycopg.Connection[Any] | None = None
        self._self_roles: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PostgresRevoker(protected={sorted(self.protected_roles)})"

    # -- connection ----------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(
            self._dsn,
            autocommit=True,
            connect_timeout=max(1, int(self.connect_timeout)),
            application_name=self.application_name,
        )
        conn.execute(
            sql.SQL("SET statement_timeout = {}").format(sql.Literal(self.statement_timeout_ms))
        )
        row = conn.execute("SELECT current_user, session_user").fetchone()
        self._self_roles = frozenset(str(x) for x in (row or ()))
        return conn

    def _with_conn(self, fn: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run ``fn`` on the kept connection; on a lost connection reconnect and run it once more.

        Every action here is idempotent (NOLOGIN twice, terminating gone backends),
        so running it again after a broken connection is safe.
        """
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            try:
                return fn(self._conn)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                broken = self._conn.closed or self._conn.broken
                if not broken or attempt == 2:
                    raise
                log.warning("revoker connection lost; reconnecting")
                self._conn = None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- checks --------------------------------------------------------------
    @staticmethod
    def _invalid(role: str) -> str | None:
        if not role:
            return "empty role name"
        if "\x00" in role:
            return "role name contains a NUL byte"
        if len(role.encode()) > NAMEDATALEN_MAX:
            return (
                f"role name longer than {NAMEDATALEN_MAX} bytes: PostgreSQL would truncate it "
                "and could act on another role"
            )
        return None

    def _refusal(self, role: str) -> str | None:
        bad = self._invalid(role)
        if bad:
            return f"refused: {bad}"
        if role in self._self_roles:
            return "refused: this is the revoker's own login role"
        pat = matches_any([role], self.protected_roles)
        if pat is not None:
            return f"refused: role is protected (matches {pat!r}); never revoked automatically"
        return None

    @staticmethod
    def _state(conn: psycopg.Connection[Any], role: str) -> tuple[bool, int] | None:
        """(rolcanlogin, other backends of the role) or None when the role does not exist."""
        row = conn.execute(
            sql.SQL(
                "SELECT r.rolcanlogin, (SELECT count(*) FROM pg_stat_activity a"
                " WHERE a.usename = r.rolname AND a.pid <> pg_backend_pid())"
                " FROM pg_roles r WHERE r.rolname = {}"
            ).format(sql.Literal(role))
        ).fetchone()
        return None if row is None else (bool(row[0]), int(row[1]))

    @staticmethod
    def _terminate(conn: psycopg.Connection[Any], role: str) -> set[int]:
        """Signal the other backends of ``role``; the pids signalled (a dying one: again)."""
        rows = conn.execute(
            sql.SQL(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE usename = {} AND pid <> pg_backend_pid()"
            ).format(sql.Literal(role))
        ).fetchall()
        return {int(pid) for pid, done in rows if done}

    # -- revoke / restore ----------------------------------------------------
    def revoke(
        self, credentials: Iterable[Credential | Mapping[str, Any]], *, incident_id: str = ""
    ) -> list[Result]:
        """NOLOGIN, end every session, verify; one Result per ``db_role``."""
        return [self._one(c, "revoke") for c in self.own(credentials)]

    def restore(self, credentials: Iterable[Credential | Mapping[str, Any]]) -> list[Result]:
        """LOGIN again, verified. Protected roles are not refused here (nothing was revoked)."""
        return [self._one(c, "restore") for c in self.own(credentials)]

    def _one(self, cred: Credential, action: Literal["revoke", "restore"]) -> Result:
        t0 = time.perf_counter()
        role = cred.id
        with self._lock:
            try:
                if self._conn is None:  # learn our own role before judging protection
                    self._with_conn(lambda c: None)
                if action == "revoke":
                    refusal = self._refusal(role)
                else:
                    bad = self._invalid(role)
                    refusal = f"refused: {bad}" if bad else None
                if refusal:
                    return Result(cred, action, False, False, refusal, elapsed_ms(t0))
                if action == "revoke":
                    ok, detail = self._with_conn(lambda c: self._revoke(c, role, t0))
                else:
                    ok, detail = self._with_conn(lambda c: self._restore(c, role, t0))
            except psycopg.Error as e:
                ms = elapsed_ms(t0)
                return Result(
                    cred,
                    action,
                    False,
                    False,
                    f"{type(e).__name__}: {_pg_message(e, self._password)} ({ms:.1f} ms)",
                    ms,
                )
        ms = elapsed_ms(t0)
        if cred.database and ok:
            detail += (
                f"; the role is cluster-wide, not only for database {safe(cred.database[:63])}"
            )
        return Result(cred, action, ok, ok, detail, ms)

    def _revoke(self, conn: psycopg.Connection[Any], role: str, t0: float) -> tuple[bool, str]:
        before = self._state(conn, role)
        if before is None:
            return False, f"role does not exist ({elapsed_ms(t0):.1f} ms)"
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(role)))
        ended = self._terminate(conn, role)
        deadline = time.monotonic() + self.verify_seconds
        while True:
            st = self._state(conn, role)
            if st is None:
                return False, f"role disappeared during revocation ({elapsed_ms(t0):.1f} ms)"
            can_login, left = st
            if not can_login and left == 0:
                was = "" if before[0] else " (was already NOLOGIN)"
                return True, (
                    f"NOLOGIN set{was}, {len(ended)} session(s) terminated, uncommitted work "
                    f"rolled back; verified: cannot log in, no session left "
                    f"({elapsed_ms(t0):.1f} ms)"
                )
            if time.monotonic() >= deadline:
                why = "rolcanlogin is still true" if can_login else f"{left} session(s) still open"
                return (
                    False,
                    f"not verified after {self.verify_seconds:g} s: {why} "
                    f"({elapsed_ms(t0):.1f} ms)",
                )
            if left:  # a backend ending slowly, or one that authenticated before NOLOGIN committed
                ended |= self._terminate(conn, role)
            time.sleep(0.01)

    def _restore(self, conn: psycopg.Connection[Any], role: str, t0: float) -> tuple[bool, str]:
        if self._state(conn, role) is None:
            return False, f"role does not exist ({elapsed_ms(t0):.1f} ms)"
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role)))
        st = self._state(conn, role)
        if st is None or not st[0]:
            return False, f"not verified: rolcanlogin is still false ({elapsed_ms(t0):.1f} ms)"
        return True, f"LOGIN restored; verified: rolcanlogin is true ({elapsed_ms(t0):.1f} ms)"


def _pg_message(e: psycopg.Error, password: str = "") -> str:
    """The server's primary message (no query text), one line, bounded, the password masked."""
    diag = getattr(e, "diag", None)
    msg = (diag.message_primary if diag is not None else None) or str(e)
    if password:
        msg = msg.replace(password, "***")
    return safe(" ".join(msg.split()))[:200]
