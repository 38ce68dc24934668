"""``auditwatch demo --live-postgres``: the second act of the incident against a real
server, stopped before it finishes.

A throw-away PostgreSQL 15 cluster with pgaudit writes its jsonlog; auditwatch
follows that file as it would in production. A scripted "agent" role connects
to the production database, runs ``DROP TABLE customers``, waits one second,
then tries ``DROP SCHEMA backups CASCADE``. auditwatch sees the first statement
in the real log, revokes the role (ALTER ROLE ... NOLOGIN, then terminates its
sessions) and the second statement fails: the backups survive.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from auditwatch.config import Config, PostgresRevokerConfig, RespondersConfig
from auditwatch.pgcluster import ADMIN_USER, AGENT_PASSWORD, AGENT_USER, PROD_DB, PgCluster, missing
from auditwatch.streams.embedded import Pipeline
from auditwatch.streams.follow import FileFollower

AGENT_APP = "cursor-agent"


def run_live(pause: float = 1.0) -> dict[str, Any]:
    why = missing()
    if why:
        raise RuntimeError(f"cannot run the live PostgreSQL demo here: {why}")
    import psycopg

    cluster = PgCluster()
    cluster.start()
    try:
        cluster.seed()
        dsn = f"host=127.0.0.1 port={cluster.port} user={ADMIN_USER} dbname=postgres application_name=auditwatch"
        os.environ["AUDITWATCH_DEMO_PG_DSN"] = dsn
        cfg = Config(
            store=":memory:", dead_letter="",
            identities=[{"id": "agent:cursor", "kind": "agent", "owner": "dana@example.com",
                         "environments": ["staging"], "match": {"db_roles": [AGENT_USER]}}],
            responders=RespondersConfig(postgres=PostgresRevokerConfig(dsn_env="AUDITWATCH_DEMO_PG_DSN")),
        )
        acked: dict[str, float] = {}
        pipe = Pipeline(cfg)
        for w in pipe.revokers:  # note when the revoker has verified its effect
            inner = w.on_outcome

            def outcome(o: Any, inner: Any = inner) -> None:
                if o.delivered:
                    acked.setdefault(o.key, o.acked_mono)
                if inner:
                    inner(o)
            w.on_outcome = outcome
        follower = FileFollower(cluster.json_log, "postgres-jsonlog", idle_flush_seconds=0.02)
        stop = threading.Event()

        def follow() -> None:
            while not stop.is_set():
                for item in follower.poll():
                    pipe.process(item)
                stop.wait(0.005)
        t = threading.Thread(target=follow, name="follow-pg-log", daemon=True)
        t.start()

        agent = psycopg.connect(host="127.0.0.1", port=cluster.port, user=AGENT_USER, password=AGENT_PASSWORD,
                                dbname=PROD_DB, application_name=AGENT_APP, autocommit=True)
        agent.execute("DROP TABLE customers CASCADE")
        destructive_at = time.perf_counter()
        time.sleep(pause)
        second_failed, second_error = False, ""
        try:
            agent.execute("DROP SCHEMA backups CASCADE")
        except psycopg.Error as e:
            second_failed, second_error = True, type(e).__name__ + ": " + str(e).strip().splitlines()[0]
        try:
            agent.close()
        except psycopg.Error:
            pass
        relogin_refused = False
        try:
            psycopg.connect(host="127.0.0.1", port=cluster.port, user=AGENT_USER, password=AGENT_PASSWORD,
                            dbname=PROD_DB, connect_timeout=5).close()
        except psycopg.Error:
            relogin_refused = True
        with psycopg.connect(host="127.0.0.1", port=cluster.port, user=ADMIN_USER, dbname=PROD_DB) as admin:
            rows = admin.execute("SELECT count(*) FROM backups.orders_2026_04").fetchone()
            can_login = admin.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s",
                                      (AGENT_USER,)).fetchone()
        stop.set()
        t.join(5)
        pipe.close(drain_timeout=5)
        revocations = [r for r in pipe.revocations.values() if r.get("responder") == "revoke-postgres"]
        ack = min(acked.values()) if acked else None
        return {
            "revoked": bool(revocations) and bool(can_login) and can_login[0] is False and relogin_refused,
            "second_statement_failed": second_failed,
            "second_statement_error": second_error,
            "backups_intact": bool(rows) and rows[0] > 0,
            "backup_rows": rows[0] if rows else 0,
            "destructive_to_revocation_ms": round((ack - destructive_at) * 1000, 1) if ack else None,
            "alerts": sorted({a.rule_id for a in pipe.alerts}),
            "revocation_status": [r.get("status") for r in revocations],
        }
    finally:
        cluster.stop()


def render(r: dict[str, Any]) -> str:
    ok = "STOPPED" if r["second_statement_failed"] and r["backups_intact"] else "NOT STOPPED"
    return "\n".join([
        "auditwatch demo --live-postgres: a real PostgreSQL 15 with pgaudit, followed live",
        "  the agent ran   DROP TABLE customers CASCADE",
        f"  auditwatch      revoked the role {r['destructive_to_revocation_ms']} ms later "
        f"(NOLOGIN + sessions terminated, verified): {r['revoked']}",
        f"  one second later the agent tried DROP SCHEMA backups CASCADE: "
        f"{'failed' if r['second_statement_failed'] else 'SUCCEEDED'} ({r['second_statement_error'] or '-'})",
        f"  backups intact: {r['backups_intact']} ({r['backup_rows']} rows in backups.orders_2026_04)  => {ok}",
        f"  alerts: {', '.join(r['alerts'])}",
    ])
