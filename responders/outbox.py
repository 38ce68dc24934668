"""The durable outbox: every response is written to the store before it is
sent, and a delivery thread per responder sends it, retrying with exponential
backoff and full jitter until it is acknowledged or its budget is spent.

A crash between enqueue and acknowledgement loses nothing: on start the
thread picks up every pending row and sends it again under the same
idempotency key.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from auditwatch.store import Store

log = logging.getLogger("auditwatch.outbox")


@dataclass(slots=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float
    retry_after: float | None = None


class Sender(Protocol):
    name: str

    def send(self, key: str, payload: bytes) -> Attempt: ...


@dataclass(slots=True)
class Outcome:
    key: str
    incident_id: str
    delivered: bool
    dead: bool
    attempts: int
    acked_mono: float
    status_code: int | None
    error: str | None


class DeliveryWorker:
    def __init__(self, store: Store, sender: Sender, *, max_attempts: int = 8,
                 backoff_initial: float = 0.2, backoff_max: float = 30.0,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.sender = sender
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.on_outcome = on_outcome
        self.rng = rng or random.Random()
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"deliver-{sender.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is due now (pending rows may remain, scheduled later)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._idle.wait(0.01):
                nd = self.store.next_due(self.sender.name)
                if nd is None:
                    return True
                if nd > self.clock():
                    # something is waiting for its backoff; keep waiting while budget lasts
                    pass
        return self.store.next_due(self.sender.name) is None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rows = self.store.due(self.sender.name, self.clock())
            except Exception:  # the store may be briefly locked; never let the thread die
                log.exception("outbox read failed")
                rows = []
            if not rows:
                self._idle.set()
                try:
                    nd = self.store.next_due(self.sender.name)
                except Exception:
                    log.exception("outbox read failed")
                    nd = None
                wait = 1.0 if nd is None else max(0.0, min(1.0, nd - self.clock()))
                self._wake.wait(wait)
                self._wake.clear()
                continue
            for row in rows:
                try:
                    self._deliver(row)
                except Exception:  # never let the thread die; the row stays pending and is retried
                    log.exception("outbox write failed for %s", row["idempotency_key"])
                    self._wake.wait(0.5)

    def _deliver(self, row: Any) -> None:
        attempt_no = row["attempts"] + 1
        try:
            res = self.sender.send(row["idempotency_key"], row["payload"])
        except Exception as e:  # a sender bug is a failed attempt, not a dead thread
            res = Attempt(ok=False, status_code=None, error=f"{type(e).__name__}: {e}", duration_ms=0.0)
        acked = time.perf_counter()
        now = self.clock()
        dead = not res.ok and attempt_no >= self.max_attempts
        delay = self._backoff(attempt_no, res.retry_after)
        self.store.record_attempt(row["id"], attempt_no, now, res.status_code, res.error, res.duration_ms,
                                  delivered=res.ok, dead=dead, next_attempt=now + delay)
        if res.ok or dead:
            if dead:
                log.error("response %s dead after %d attempts: %s", row["idempotency_key"], attempt_no, res.error)
            if self.on_outcome:
                self.on_outcome(Outcome(row["idempotency_key"], row["incident_id"], res.ok, dead, attempt_no,
                                        acked, res.status_code, res.error))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.backoff_max, self.backoff_initial * (2 ** (attempt - 1)))
        d = self.rng.uniform(0, cap)  # full jitter
        if retry_after is not None:
            d = max(d, retry_after)
        return d
