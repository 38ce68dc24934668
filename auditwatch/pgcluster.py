"""A throw-away PostgreSQL 15 cluster with pgaudit: for ``auditwatch demo
--live-postgres`` and for the tests that read the log a real server writes.

The cluster logs through the logging collector in ``jsonlog`` and ``csvlog`` at
once (``log_filename = 'pg.log'`` becomes ``pg.json`` and ``pg.csv``).
PostgreSQL refuses to run as root: under root initdb/pg_ctl run as the
``postgres`` system user, in a temp dir that user owns. ``psql`` runs as the
calling user: every connection uses trust auth over 127.0.0.1.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

PG_BIN = Path(os.environ.get("AUDITWATCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
PGAUDIT_SO = Path(os.environ.get("AUDITWATCH_PGAUDIT_SO", "/usr/lib/postgresql/15/lib/pgaudit.so"))
RUN_AS = "postgres"  # the system user that runs the server when we are root
START_TIMEOUT = 30.0

# What the fixture builds for the tests (see ``PgCluster.seed``).
ADMIN_USER = "admin_user"
AGENT_USER = "agent_rw"
AGENT_PASSWORD = "agent-rw-Secret-1"
PROD_DB = "prod_app"

_SEED_SQL = """
CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, name text);
INSERT INTO customers VALUES (1, 'ann@example.com', 'Ann'), (2, 'bob@example.com', 'Bob'),
                             (3, 'cyd@example.com', 'Cyd');
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id),
                     amount numeric(10,2), note text);
INSERT INTO orders VALUES (1, 1, 10.00, 'first'), (2, 2, 25.50, 'second'), (3, 3, 7.25, 'third');
CREATE SCHEMA backups;
CREATE TABLE backups.orders_2026_04 AS SELECT * FROM orders;
"""


def _tool(name: str) -> str:
    return str(PG_BIN / name)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text("utf-8", "replace")
    except OSError as e:
        return f"<{path}: {e}>"
    return "\n".join(text.splitlines()[-lines:])


class PgClusterError(RuntimeError):
    pass


class PgCluster:
    """One initdb'd cluster in a temp dir; ``start``/``stop``; ``psql``; log paths."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.as_root = os.geteuid() == 0
        self.base = Path()
        self.data = Path()
        self.log_dir = Path()
        self.startup_log = Path()
        self.port = 0
        self.started = False
        self.extra_settings = dict(settings or {})

    # -- paths -------------------------------------------------------------
    @property
    def json_log(self) -> Path:
        return self.log_dir / "pg.json"

    @property
    def csv_log(self) -> Path:
        return self.log_dir / "pg.csv"

    @property
    def stderr_log(self) -> Path:
        return self.log_dir / "pg.log"

    # -- running server tools ---------------------------------------------
    def _server_cmd(self, argv: Sequence[str]) -> list[str]:
        if self.as_root:
            return ["runuser", "-u", RUN_AS, "--", *argv]
        return list(argv)

    def _run_server_tool(self, argv: Sequence[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        return subprocess.run(self._server_cmd(argv), cwd=self.base, env=env, text=True,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------
    def settings(self) -> dict[str, str]:
        s = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.base}'",
            "shared_preload_libraries": "'pgaudit'",
            "logging_collector": "on",
            "log_destination": "'jsonlog,csvlog'",
            "log_directory": f"'{self.log_dir}'",
            "log_filename": "'pg.log'",
            "log_rotation_age": "0",
            "log_rotation_size": "0",
            "log_min_messages": "warning",
            "log_min_error_statement": "error",
            "log_statement": "'none'",
            "pgaudit.log": "'ddl,write,role,misc_set'",
            "pgaudit.log_parameter": "off",
            "pgaudit.log_catalog": "off",
            "pgaudit.log_relation": "off",
            "password_encryption": "'scram-sha-256'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "20",
            "shared_buffers": "16MB",
        }
        s.update(self.extra_settings)
        return s

    def start(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="auditwatch-pg-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        if self.as_root:
            pw = pwd.getpwnam(RUN_AS)
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        self.data = self.base / "data"
        self.log_dir = self.base / "log"
        self.startup_log = self.base / "startup.log"
        r = self._run_server_tool([_tool("initdb"), "-D", str(self.data), "--auth=trust",
                                   "--username=postgres", "--encoding=UTF8", "--locale=C",
                                   "--no-sync"])
        if r.returncode != 0:
            raise PgClusterError(f"initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
        last_err = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self._write_conf()
            r = self._run_server_tool([_tool("pg_ctl"), "start", "-D", str(self.data),
                                       "-l", str(self.startup_log), "-w", "-t", str(int(START_TIMEOUT))],
                                      timeout=START_TIMEOUT + 15)
            if r.returncode == 0:
                break
            last_err = f"pg_ctl start failed ({r.returncode}):\n{r.stdout}\n{r.stderr}\n{self.log_tail()}"
            if "could not bind" not in self.log_tail() and "Address already in use" not in self.log_tail():
                raise PgClusterError(last_err)
        else:
            raise PgClusterError(last_err)
        self.started = True
        self._wait_ready()

    def _write_conf(self) -> None:
        conf = self.data / "postgresql.conf"
        text = conf.read_text()
        marker = "\n# --- auditwatch test cluster ---\n"
        text = text.split(marker, 1)[0]
        text += marker + "".join(f"{k} = {v}\n" for k, v in self.settings().items())
        conf.write_text(text)  # written in place: ownership (postgres) is kept

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            r = subprocess.run([_tool("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                                "-U", "postgres", "-d", "postgres", "-t", "2"],
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0:
                q = self.psql("SELECT 1", check=False)
                if q.returncode == 0:
                    return
                last = q.stderr
            else:
                last = r.stdout + r.stderr
            time.sleep(0.2)
        raise PgClusterError(f"PostgreSQL on port {self.port} not ready after {START_TIMEOUT:.0f}s: "
                             f"{last}\n{self.log_tail()}")

    def stop(self) -> None:
        try:
            if self.started:
                self._run_server_tool([_tool("pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate",
                                       "-w", "-t", "30"], timeout=45)
                self.started = False
        finally:
            if self.base != Path() and self.base.exists():
                shutil.rmtree(self.base, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for p in (self.startup_log, self.stderr_log, self.csv_log):
            if p.exists():
                parts.append(f"--- {p} (last {lines} lines) ---\n{_tail(p, lines)}")
        return "\n".join(parts) or "<no server log written>"

    # -- SQL ---------------------------------------------------------------
    def psql(self, sql: str | Sequence[str], user: str = "postgres", db: str = "postgres",
             app: str = "auditwatch-test", check: bool = True,
             timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run SQL through psql; a list runs each string as its own query in one session.

        With ``check`` a failed connection raises; an SQL error does not (ON_ERROR_STOP=0).
        """
        cmds = [sql] if isinstance(sql, str) else list(sql)
        argv = [_tool("psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", user,
                "-d", db, "-v", "ON_ERROR_STOP=0"]
        for c in cmds:
            argv += ["-c", c]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGAPPNAME=app, PGCONNECT_TIMEOUT="5", LC_ALL="C")
        r = subprocess.run(argv, env=env, text=True, capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        if check and r.returncode == 2:  # psql: 2 = connection failed
            raise PgClusterError(f"psql could not connect as {user}@{db}: {r.stderr}")
        return r

    def psql_ok(self, sql: str | Sequence[str], **kw: object) -> subprocess.CompletedProcess[str]:
        """psql that must not report any error (setup statements)."""
        r = self.psql(sql, **kw)  # type: ignore[arg-type]
        if r.returncode != 0 or "ERROR" in r.stderr:
            raise PgClusterError(f"setup SQL failed: {sql!r}\n{r.stdout}\n{r.stderr}")
        return r

    # -- the log -----------------------------------------------------------
    def log_text(self, which: str = "json") -> str:
        path = self.json_log if which == "json" else self.csv_log
        try:
            return path.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10.0,
                 which: str = "json") -> str:
        """Poll a log file until ``predicate(text)`` holds; its text, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log_text(which)
            if predicate(text):
                return text
            if time.monotonic() >= deadline:
                raise TimeoutError(f"log {which} did not show the expected records within {timeout}s; "
                                   f"tail:\n" + "\n".join(text.splitlines()[-20:]))
            time.sleep(0.05)

    # -- the fixture's data --------------------------------------------------
    def seed(self) -> None:
        self.psql_ok([
            f"CREATE ROLE {ADMIN_USER} LOGIN SUPERUSER",
            f"CREATE ROLE {AGENT_USER} LOGIN PASSWORD '{AGENT_PASSWORD}'",
        ])
        self.create_db(PROD_DB, owner=AGENT_USER, sql=_SEED_SQL)

    def create_db(self, name: str, owner: str = AGENT_USER, sql: str = "") -> None:
        """A fresh database owned by ``owner``; ``sql`` then runs in it as ``owner``."""
        self.psql_ok(f'CREATE DATABASE "{name}" OWNER "{owner}"', user=ADMIN_USER, app="auditwatch-setup")
        self.psql_ok("CREATE EXTENSION IF NOT EXISTS pgaudit", user=ADMIN_USER, db=name,
                     app="auditwatch-setup")
        if sql:
            self.psql_ok(sql, user=owner, db=name, app="auditwatch-setup")


def missing() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if not all((PG_BIN / t).exists() for t in ("initdb", "pg_ctl", "postgres", "psql", "pg_isready")):
        return f"PostgreSQL 15 server binaries not found in {PG_BIN}"
    if not PGAUDIT_SO.exists():
        return f"pgaudit not installed ({PGAUDIT_SO} missing)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root but `runuser` is not installed"
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root but there is no `{RUN_AS}` system user to run PostgreSQL"
    return None
