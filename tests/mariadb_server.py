"""A throw-away MariaDB server with the ``server_audit`` plugin, for tests that read
the audit log the server really writes.

Debian's ``mariadb-server`` is enough: ``mariadb-install-db`` initialises a
datadir in a temp dir, ``mariadbd --no-defaults`` serves it on a free
127.0.0.1 port and a socket in the same dir, and writes
``<tmp>/server_audit.log``. Test files share one server per session::

    from tests.mariadb_server import mariadb_server  # noqa: F401

    def test_something(mariadb_server):
        mariadb_server.sql("DROP TABLE customers", user=AGENT_USER)
        mariadb_server.wait_for(lambda text: "DROP TABLE customers" in text)

Settings that matter: ``--skip-name-resolve`` (the audit log names the client
by IP, ``127.0.0.1``), ``server_audit_events=CONNECT,QUERY_DDL,QUERY_DML,QUERY_DCL,TABLE``
(TABLE adds the per-table records the source pairs with their statements), and
the query cache off (with it the plugin warns that cached reads hide TABLE
records). Under root (CI) ``mariadbd`` runs with ``--user=root``, which it
accepts when told explicitly; as any other user it runs as that user.

SQL runs through the ``mariadb`` command-line client over TCP (no Python
driver needed); ``sql_multi`` sends several statements as *one* query (the
client's ``DELIMITER``), the way an application with multi-statements does.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from auditwatch.pgcluster import _tail, free_port  # noqa: F401  (shared with the PostgreSQL fixture)
from tests.conftest import need

MARIADBD = Path(os.environ.get("AUDITWATCH_MARIADBD", "/usr/sbin/mariadbd"))
PLUGIN_DIR = Path(os.environ.get("AUDITWATCH_MARIADB_PLUGIN_DIR", "/usr/lib/mysql/plugin"))
SERVER_AUDIT_SO = PLUGIN_DIR / "server_audit.so"
START_TIMEOUT = 30.0
AUDIT_EVENTS = "CONNECT,QUERY_DDL,QUERY_DML,QUERY_DCL,TABLE"

# What the fixture builds for the tests (see ``MariaDbServer.seed``).
AGENT_USER = "agent_rw"
AGENT_PASSWORD = "agent-rw-Secret-1"
PROD_DB = "prod_app"

_SEED_SQL = f"""
CREATE DATABASE {PROD_DB};
CREATE USER '{AGENT_USER}'@'%' IDENTIFIED BY '{AGENT_PASSWORD}';
GRANT ALL PRIVILEGES ON {PROD_DB}.* TO '{AGENT_USER}'@'%';
USE {PROD_DB};
CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL, name VARCHAR(100));
INSERT INTO customers VALUES (1, 'ann@example.com', 'Ann'), (2, 'bob@example.com', 'Bob');
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2));
INSERT INTO orders VALUES (1, 1, 10.00), (2, 2, 25.50);
CREATE TABLE invoices (id INT PRIMARY KEY, amount DECIMAL(10,2));
INSERT INTO invoices VALUES (1, 10.00), (2, 20.00), (3, 30.00);
CREATE TABLE scratch_a (id INT);
CREATE TABLE scratch_b (id INT PRIMARY KEY, v INT);
INSERT INTO scratch_b VALUES (1, 1);
CREATE TABLE scratch_c (id INT);
"""


def tool(name: str) -> str:
    return shutil.which(name) or f"/usr/bin/{name}"


class MariaDbError(RuntimeError):
    pass


class MariaDbServer:
    """One datadir in a temp dir; ``start``/``stop``; ``sql``; the audit log path."""

    def __init__(self) -> None:
        self.as_root = os.geteuid() == 0
        self.base = Path()
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    # -- paths -------------------------------------------------------------
    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def sock(self) -> Path:
        return self.base / "mariadb.sock"

    @property
    def audit_log(self) -> Path:
        return self.base / "server_audit.log"

    @property
    def error_log(self) -> Path:
        return self.base / "error.log"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL", "MARIADB"))}
        env["LC_ALL"] = "C"
        env["TZ"] = "UTC"  # server_audit writes local time without a zone; the source reads UTC
        return env

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="auditwatch-mariadb-", dir="/tmp"))
        user = ["--user=root"] if self.as_root else []
        r = subprocess.run(
            check=False,
            args=[
                tool("mariadb-install-db"),
                "--no-defaults",
                f"--datadir={self.data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *user,
            ],
            cwd=self.base,
            env=self._env(),
            text=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if r.returncode != 0:
            raise MariaDbError(
                f"mariadb-install-db failed ({r.returncode}):\n"
                f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            )
        last = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self._spawn(user)
            try:
                self._wait_ready()
                return
            except MariaDbError as e:
                last = str(e)
                self._kill()
                if "already in use" not in last and "Can't start server: Bind" not in last:
                    raise
        raise MariaDbError(last)

    def _spawn(self, user: list[str]) -> None:
        argv = [
            str(MARIADBD),
            "--no-defaults",
            *user,
            f"--datadir={self.data}",
            f"--socket={self.sock}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            f"--pid-file={self.base / 'mariadbd.pid'}",
            f"--log-error={self.error_log}",
            f"--tmpdir={self.base}",
            f"--plugin-dir={PLUGIN_DIR}",
            "--innodb-buffer-pool-size=16M",
            "--innodb-flush-log-at-trx-commit=0",
            "--query-cache-type=OFF",
            "--query-cache-size=0",
            "--max-connections=20",
            "--plugin-load-add=server_audit",
            "--server-audit-logging=ON",
            f"--server-audit-events={AUDIT_EVENTS}",
            f"--server-audit-file-path={self.audit_log}",
            "--server-audit-file-rotate-size=100000000",  # 0 would rotate at every record
        ]
        self.proc = subprocess.Popen(
            argv,
            cwd=self.base,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise MariaDbError(
                    f"mariadbd exited with {self.proc.returncode} while starting:\n"
                    f"{_tail(self.error_log)}"
                )
            r = subprocess.run(
                check=False,
                args=[
                    tool("mariadb-admin"),
                    "--no-defaults",
                    f"--socket={self.sock}",
                    "-uroot",
                    "--connect-timeout=2",
                    "ping",
                ],
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=10,
            )
            if r.returncode == 0:
                return
            last = (r.stdout + r.stderr).strip()
            time.sleep(0.1)
        raise MariaDbError(
            f"MariaDB on port {self.port} not ready after {START_TIMEOUT:.0f}s: {last}\n"
            f"--- {self.error_log} ---\n{_tail(self.error_log)}"
        )

    def stop(self) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                subprocess.run(
                    check=False,
                    args=[
                        tool("mariadb-admin"),
                        "--no-defaults",
                        f"--socket={self.sock}",
                        "-uroot",
                        "--connect-timeout=2",
                        "shutdown",
                    ],
                    env=self._env(),
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self._kill()
        finally:
            self.proc = None
            if self.base != Path() and self.base.exists():
                shutil.rmtree(self.base, ignore_errors=True)

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
            self.proc.wait(timeout=10)

    # -- SQL ---------------------------------------------------------------
    def sql(
        self,
        sql: str | Sequence[str],
        user: str = "root",
        password: str = "",
        db: str = "",
        check: bool = False,
        timeout: float = 30.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run SQL through the ``mariadb`` client over TCP, one session; a list runs each
        string as its own query. With ``check`` an error raises."""
        text = sql if isinstance(sql, str) else "\n".join(s.rstrip().rstrip(";") + ";" for s in sql)
        return self._client(
            text,
            user,
            password or (AGENT_PASSWORD if user == AGENT_USER else ""),
            db,
            check,
            timeout,
        )

    def sql_multi(
        self,
        statements: Sequence[str],
        user: str = AGENT_USER,
        db: str = PROD_DB,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Several statements sent as one query string (a multi-statement query)."""
        text = "DELIMITER //\n" + "; ".join(statements) + "//\n"
        return self._client(
            text, user, AGENT_PASSWORD if user == AGENT_USER else "", db, check, 30.0
        )

    def _client(
        self, text: str, user: str, password: str, db: str, check: bool, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        argv = [
            tool("mariadb"),
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            str(self.port),
            "-u",
            user,
            "--connect-timeout=5",
            "--force",
            "--batch",
        ]
        if password:
            argv.append(f"--password={password}")
        if db:
            argv.append(db)
        r = subprocess.run(
            argv,
            check=False,
            input=text,
            env=self._env(),
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        if check and (r.returncode != 0 or "ERROR" in r.stderr):
            raise MariaDbError(f"SQL failed as {user}: {text!r}\n{r.stdout}\n{r.stderr}")
        return r

    def seed(self) -> None:
        r = subprocess.run(
            check=False,
            args=[tool("mariadb"), "--no-defaults", f"--socket={self.sock}", "-uroot", "--batch"],
            input=_SEED_SQL,
            env=self._env(),
            text=True,
            capture_output=True,
            timeout=60,
        )
        if r.returncode != 0:
            raise MariaDbError(f"seeding failed:\n{r.stdout}\n{r.stderr}")

    # -- the audit log -------------------------------------------------------
    def audit_text(self) -> str:
        try:
            return self.audit_log.read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 10.0) -> str:
        """Poll the audit log until ``predicate(text)`` holds; its text, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.audit_text()
            if predicate(text) and text.endswith("\n"):
                return text
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the audit log did not show the expected records within {timeout}s; "
                    "tail:\n" + "\n".join(text.splitlines()[-20:])
                )
            time.sleep(0.05)


def _preconditions() -> None:
    need(
        MARIADBD.exists(),
        f"MariaDB server not installed ({MARIADBD} missing: apt-get install mariadb-server)",
    )
    need(SERVER_AUDIT_SO.exists(), f"server_audit plugin not installed ({SERVER_AUDIT_SO} missing)")
    for t in ("mariadb-install-db", "mariadb", "mariadb-admin"):
        need(shutil.which(t) is not None or Path(f"/usr/bin/{t}").exists(), f"`{t}` not installed")


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDbServer]:
    """A running MariaDB with server_audit, seeded; stopped and removed at session end."""
    _preconditions()
    s = MariaDbServer()
    try:
        s.start()
        s.seed()
        yield s
    finally:
        s.stop()
