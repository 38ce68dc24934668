"""The PostgreSQL revoker against a real cluster: an agent's open session is
ended and its uncommitted DELETE rolled back, new logins fail, restore works,
hostile role names revoke that role and nothing else, protected roles are
refused, and the outbox delivers a revocation request end to end."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from auditwatch.errors import ConfigError
from auditwatch.incidents import Incident
from auditwatch.model import Alert, Identity
from auditwatch.responders.outbox import DeliveryWorker
from auditwatch.responders.revokers.postgres import (
    NOTHING_FOR_THIS_REVOKER,
    Credential,
    PostgresRevoker,
)
from auditwatch.store import Store
from auditwatch.streams.embedded import revocation_payload
from tests.factories import event
from tests.pgcluster import ADMIN_USER, PG_BIN, PgCluster


def qi(name: str) -> str:
    """Quote an identifier by hand for setup SQL (independent of the code under test)."""
    return '"' + name.replace('"', '""') + '"'


def ql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Env:
    """Roles and a database of this module's own, so other tests' roles stay untouched."""

    def __init__(self, pg: PgCluster) -> None:
        self.pg = pg
        self.tag = uuid.uuid4().hex[:8]
        self.db = f"rv_{self.tag}"
        self.dsn = f"host=127.0.0.1 port={pg.port} user={ADMIN_USER} dbname=postgres"
        pg.psql_ok(f"CREATE DATABASE {self.db}", user=ADMIN_USER)
        pg.psql_ok(
            [
                "CREATE TABLE items (id int PRIMARY KEY, note text)",
                "INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 5) g",
            ],
            user=ADMIN_USER,
            db=self.db,
        )

    def role(self, name: str | None = None) -> str:
        name = name or f"rv_agent_{uuid.uuid4().hex[:8]}"
        self.pg.psql_ok(
            [f"CREATE ROLE {qi(name)} LOGIN", f"GRANT CONNECT ON DATABASE {self.db} TO {qi(name)}"],
            user=ADMIN_USER,
        )
        self.pg.psql_ok(f"GRANT SELECT, DELETE ON items TO {qi(name)}", user=ADMIN_USER, db=self.db)
        return name

    def _psql(self, user: str, db: str) -> list[str]:
        port = str(self.pg.port)
        return [str(PG_BIN / "psql"), "-X", "-h", "127.0.0.1", "-p", port, "-U", user, "-d", db]

    def scalar(self, query: str, db: str = "postgres") -> str:
        argv = [*self._psql(ADMIN_USER, db), "-At", "-c", query]
        r = subprocess.run(
            argv, capture_output=True, text=True, timeout=10, env=_env(), check=False
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def can_login(self, role: str) -> bool:
        return self.scalar(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = {ql(role)}") == "t"

    def sessions(self, role: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM pg_stat_activity WHERE usename = {ql(role)}"))

    def rows(self) -> int:
        return int(self.scalar("SELECT count(*) FROM items", db=self.db))

    def hold_session(self, role: str, sql: str) -> subprocess.Popen[str]:
        """A psql client of ``role`` running ``sql`` (an agent mid-transaction), in pg_sleep."""
        argv = [*self._psql(role, self.db), "-v", "ON_ERROR_STOP=1", "-c", sql]
        p = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = self.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                f" AND usename = {ql(role)}"
            )
            if n == "1":
                return p
            assert p.poll() is None, p.communicate()
            time.sleep(0.05)
        p.kill()
        raise AssertionError("the held session never reached pg_sleep")

    def end(self, held: subprocess.Popen[str], role: str) -> None:
        """Kill a held client and its backend (a killed psql leaves its backend, locks and all)."""
        if held.poll() is None:
            held.kill()
        if held.stdout is not None and not held.stdout.closed:
            held.communicate(timeout=5)  # also closes the pipes
        held.wait()
        self.scalar(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {ql(role)}"
        )

    def login(self, role: str) -> subprocess.CompletedProcess[str]:
        return self.pg.psql("SELECT 1", user=role, db=self.db, check=False)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGCONNECT_TIMEOUT="5", LC_ALL="C")
    return env


@pytest.fixture(scope="module")
def env(pg_cluster: PgCluster) -> Env:
    return Env(pg_cluster)


@pytest.fixture
def revoker(env: Env) -> Iterator[PostgresRevoker]:
    r = PostgresRevoker(env.dsn)
    yield r
    r.close()


def test_revoke_ends_the_open_session_and_rolls_back_its_delete(
    env: Env, revoker: PostgresRevoker
) -> None:
    role = env.role()
    held = env.hold_session(role, "BEGIN; DELETE FROM items; SELECT pg_sleep(30);")
    assert env.rows() == 5  # the DELETE is not committed: other sessions still see every row
    try:
        [res] = revoker.revoke([{"type": "db_role", "id": role, "database": env.db}])
        assert res.ok and res.verified, res.detail
        assert res.action == "revoke" and res.credential == Credential("db_role", role, env.db)
        assert "1 session(s) terminated" in res.detail and " ms)" in res.detail
        assert 0 < res.duration_ms < 5000
        _out, err = held.communicate(timeout=5)
        assert held.returncode != 0 and "terminat" in err, err  # psql saw its backend end
        assert env.rows() == 5  # the uncommitted DELETE was rolled back
        assert not env.can_login(role) and env.sessions(role) == 0
    finally:
        env.end(held, role)
    r = env.login(role)
    assert r.returncode != 0 and "not permitted to log in" in r.stderr, r.stderr


def test_restore_lets_the_role_log_in_again(env: Env, revoker: PostgresRevoker) -> None:
    role = env.role()
    assert revoker.revoke([Credential("db_role", role)])[0].ok
    assert env.login(role).returncode != 0
    [res] = revoker.restore([Credential("db_role", role)])
    assert res.ok and res.verified and res.action == "restore", res.detail
    assert env.can_login(role)
    r = env.login(role)
    assert r.returncode == 0, r.stderr


def test_revoking_twice_is_verified_both_times(env: Env, revoker: PostgresRevoker) -> None:
    role = env.role()
    assert revoker.revoke([Credential("db_role", role)])[0].ok
    [again] = revoker.revoke([Credential("db_role", role)])
    assert again.ok and again.verified and "already NOLOGIN" in again.detail


def test_hostile_role_name_revokes_that_role_and_nothing_else(
    env: Env, revoker: PostgresRevoker
) -> None:
    victim_db = f"rv_victim_{env.tag}"
    env.pg.psql_ok(f"CREATE DATABASE {victim_db}", user=ADMIN_USER)
    bystander = env.role()
    hostile = env.role(f'x"; DROP DATABASE {victim_db}; --')
    hostile2 = env.role(f"{bystander}' OR usename <> '")  # aimed at the usename literal
    held = env.hold_session(bystander, "SELECT pg_sleep(30)")
    try:
        results = revoker.revoke([Credential("db_role", hostile), Credential("db_role", hostile2)])
        assert all(r.ok and r.verified for r in results), [r.detail for r in results]
        assert not env.can_login(hostile) and not env.can_login(hostile2)
        assert (
            env.scalar(f"SELECT count(*) FROM pg_database WHERE datname = {ql(victim_db)}") == "1"
        )
        assert env.can_login(bystander) and env.sessions(bystander) == 1 and held.poll() is None
        assert env.login(bystander).returncode == 0
    finally:
        env.end(held, bystander)


def test_a_name_postgres_would_truncate_is_refused(env: Env, revoker: PostgresRevoker) -> None:
    target = env.role(f"rv_long_{uuid.uuid4().hex}_" + "x" * 40)[
        :63
    ]  # stored as its 63-byte prefix
    assert env.can_login(target)
    [res] = revoker.revoke([Credential("db_role", target + "-and-more")])
    assert not res.ok and not res.verified and "longer than 63 bytes" in res.detail
    assert env.can_login(target)


def test_protected_roles_are_refused(env: Env) -> None:
    special = env.role()
    r = PostgresRevoker(env.dsn, protected_roles=frozenset({"postgres", "rv_breakglass_*"}))
    try:
        env.role("rv_breakglass_ops")
        results = r.revoke(
            [
                Credential("db_role", "postgres"),
                Credential("db_role", ADMIN_USER),
                Credential("db_role", "rv_breakglass_ops"),
                Credential("db_role", special),
            ]
        )
        refused = {x.credential.id: x for x in results}
        for name in ("postgres", ADMIN_USER, "rv_breakglass_ops"):
            assert not refused[name].ok and refused[name].detail.startswith("refused:"), refused[
                name
            ].detail
            assert env.can_login(name)
        assert "own login role" in refused[ADMIN_USER].detail
        assert refused[special].ok  # the others in the same request still go through
    finally:
        r.close()


def test_default_protection_covers_system_roles(env: Env, revoker: PostgresRevoker) -> None:
    [a, b] = revoker.revoke(
        [Credential("db_role", "postgres"), Credential("db_role", "pg_monitor")]
    )
    assert not a.ok and "protected" in a.detail and not b.ok and "protected" in b.detail
    assert env.can_login("postgres")


def test_a_missing_role_fails_clearly(revoker: PostgresRevoker) -> None:
    [res] = revoker.revoke([Credential("db_role", "rv_nobody_" + uuid.uuid4().hex[:8])])
    assert not res.ok and not res.verified and res.detail.startswith("role does not exist")
    [res] = revoker.restore([Credential("db_role", "rv_nobody_" + uuid.uuid4().hex[:8])])
    assert not res.ok and res.detail.startswith("role does not exist")


def test_reconnects_after_its_connection_is_killed(env: Env) -> None:
    app = f"rv-revoker-{env.tag}"
    revoker = PostgresRevoker(env.dsn, application_name=app)
    try:
        first, second = env.role(), env.role()
        assert revoker.revoke([Credential("db_role", first)])[0].ok
        killed = env.scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            f" WHERE application_name = {ql(app)}"
        )
        assert killed == "1"
        [res] = revoker.revoke([Credential("db_role", second)])
        assert res.ok and res.verified, res.detail
        assert not env.can_login(second)
    finally:
        revoker.close()


def test_an_unreachable_server_is_a_failed_result_without_the_dsn() -> None:
    r = PostgresRevoker(
        "host=127.0.0.1 port=1 user=admin password=s3cret-pw dbname=postgres", connect_timeout=1
    )
    [res] = r.revoke([Credential("db_role", "someone")])
    assert not res.ok and "s3cret-pw" not in res.detail and "s3cret-pw" not in repr(r)
    a = r.send(
        "revoke-inc-x", orjson.dumps({"data": {"credentials": [{"type": "db_role", "id": "x"}]}})
    )
    assert not a.ok and a.error and "s3cret-pw" not in a.error


# -- the outbox ----------------------------------------------------------------


def payload(
    role: str, database: str, extra: list[dict[str, str]] | None = None, dry_run: bool = False
) -> bytes:
    ev = event(
        "DELETE",
        cats=("data.destroy",),
        env="prod",
        activity="sql",
        actor={"principal": role, "principal_type": "db_user"},
    )
    ev.resource.database = database
    ident = Identity(id="agent:x", kind="agent", confidence=0.9)
    alert = Alert(
        rule_id="sql.mass_delete",
        title="t",
        severity="critical",
        identity=ident,
        categories=("data.destroy",),
        evidence=[ev],
        time=ev.time,
        response="revoke",
        incident_id="inc-00aa11bb22cc33dd",
    )
    inc = Incident("inc-00aa11bb22cc33dd", ident, ev.time, ev.time, "critical", alerts=[alert])
    doc: dict[str, Any] = revocation_payload(inc, alert, dry_run, time.time())
    doc["data"]["credentials"] += extra or []
    return orjson.dumps(doc)


def test_send_revokes_what_the_request_names(env: Env, revoker: PostgresRevoker) -> None:
    role = env.role()
    a = revoker.send(
        "revoke-inc-1",
        payload(role, env.db, [{"type": "aws_access_key", "id": "AKIAEXAMPLE0000000"}]),
    )
    assert a.ok and a.error is None and a.status_code is None, a.error
    assert [r.credential.id for r in revoker.last_results] == [role]  # aws key left to its revoker
    assert not env.can_login(role)


def test_send_with_nothing_for_postgres_is_done(revoker: PostgresRevoker) -> None:
    body = orjson.dumps(
        {
            "type": "auditwatch.revocation.requested",
            "data": {
                "incident_id": "inc-1",
                "credentials": [{"type": "aws_principal", "id": "arn:aws:iam::1:user/x"}],
            },
        }
    )
    a = revoker.send("revoke-inc-1", body)
    assert a.ok and a.status_code is None and a.error is None
    assert revoker.last_note == NOTHING_FOR_THIS_REVOKER


def test_send_dry_run_changes_nothing(env: Env, revoker: PostgresRevoker) -> None:
    role = env.role()
    a = revoker.send("revoke-inc-1", payload(role, env.db, dry_run=True))
    assert a.ok and env.can_login(role)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"data": {"credentials": "x"}}',
        b'{"data": {"credentials": [{"type": 1}]}}',
    ],
)
def test_send_never_raises_on_a_bad_request(revoker: PostgresRevoker, body: bytes) -> None:
    a = revoker.send("k", body)
    assert not a.ok and a.error and a.error.startswith("bad revocation request")


def test_send_fails_while_a_credential_is_refused(env: Env, revoker: PostgresRevoker) -> None:
    role = env.role()
    a = revoker.send("k", payload(role, env.db, [{"type": "db_role", "id": "postgres"}]))
    assert not a.ok and a.error and "postgres" in a.error and "protected" in a.error
    assert not env.can_login(role)  # the revocable one was still revoked


def test_delivery_worker_marks_the_revocation_delivered(
    env: Env, revoker: PostgresRevoker, tmp_path: Path
) -> None:
    role = env.role()
    held = env.hold_session(role, "BEGIN; DELETE FROM items; SELECT pg_sleep(30);")
    store = Store(tmp_path / "aw.db")
    worker = DeliveryWorker(store, revoker, backoff_initial=0.01)
    worker.start()
    try:
        store.enqueue(
            "revoke-postgres-inc-1",
            "inc-1",
            revoker.name,
            "postgres",
            payload(role, env.db),
            time.time(),
            time.perf_counter(),
        )
        worker.kick()
        assert worker.wait_idle(10), store.outbox()
        [row] = store.outbox()
        assert row["status"] == "delivered" and row["attempts"] == 1, store.attempts(row["id"])
        assert held.wait(5) != 0
        assert env.rows() == 5 and not env.can_login(role)
    finally:
        worker.stop()
        env.end(held, role)


def test_a_malformed_dsn_is_a_config_error_that_hides_it() -> None:
    with pytest.raises(ConfigError) as e:
        PostgresRevoker("host=127.0.0.1 password=s3cret-pw junk")
    assert "s3cret-pw" not in str(e.value)
