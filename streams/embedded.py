"""The embedded runner's pipeline: one process, no broker.

Items from the sources (events and dead letters) go through the detection
core; alerts are stored, revocations are queued in the durable outbox and sent
at once by a delivery thread (revoke first), then alerts are handed to the
printers. Dead letters are appended to a JSONL file with their reason and
position, never dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from auditwatch.config import Config
from auditwatch.core import Core
from auditwatch.incidents import Incident
from auditwatch.inventory import Inventory
from auditwatch.model import Alert, Event, iso
from auditwatch.responders.outbox import DeliveryWorker, Outcome, Sender
from auditwatch.responders.policy import ResponsePolicy
from auditwatch.store import Store
from auditwatch.streams.sources.base import DeadLetter, Item

log = logging.getLogger("auditwatch.pipeline")


class DeadLetterSink:
    def __init__(self, path: str | Path | None) -> None:
        self.count = 0
        self.reasons: dict[str, int] = {}
        self._f: IO[bytes] | None = None
        self.path = Path(path) if path else None
        self._lock = threading.Lock()

    def write(self, dl: DeadLetter) -> None:
        with self._lock:
            self.count += 1
            key = dl.reason.split(":", 1)[0]
            self.reasons[key] = self.reasons.get(key, 0) + 1
            if self._f is None and self.path is not None:
                # opened at the first dead letter: a clean run leaves no empty file behind
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._f = open(self.path, "ab")
            if self._f is not None:
                self._f.write(orjson.dumps(dl.to_dict() | {"at": iso(time.time())}) + b"\n")
                self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


def revocation_payload(inc: Incident, alert: Alert, dry_run: bool, now: float) -> dict[str, Any]:
    """The documented revocation request (Standard Webhooks envelope: type, timestamp, data)."""
    creds: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for a in inc.alerts:
        for e in a.evidence:
            for typ, val in _credentials(e):
                if (typ, val) not in seen:
                    seen.add((typ, val))
                    creds.append({"type": typ, "id": val} | (
                        {"database": e.resource.database} if typ == "db_role" and e.resource.database else {}))
    ident = inc.identity
    return {
        "type": "auditwatch.revocation.requested",
        "timestamp": iso(now),
        "data": {
            "incident_id": inc.incident_id,
            "identity": {"id": ident.id, "kind": ident.kind, "owner": ident.owner,
                         "confidence": round(ident.confidence, 2), "evidence": list(ident.evidence)},
            "credentials": creds,
            "severity": inc.severity,
            "rule_ids": inc.rule_ids(),
            "reason": alert.reason,
            "dry_run": dry_run,
            "evidence": alert.to_dict()["evidence"],
        },
    }


def _credentials(e: Event) -> list[tuple[str, str]]:
    a = e.actor
    out = []
    if e.activity == "sql" and a.principal:
        out.append(("db_role", a.principal))
    elif a.credential_id:
        out.append(("aws_access_key", a.credential_id))
    if e.activity == "api" and a.principal:
        out.append(("aws_principal", a.principal))
    return out


class Pipeline:
    def __init__(self, config: Config, *, store: Store | None = None, core: Core | None = None,
                 sender: Sender | None = None, on_alert: Callable[[Alert, dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time, persist_state: bool = False) -> None:
        self.config = config
        self.clock = clock
        if config.mappings:
            from auditwatch.streams.sources.mapped_json import ensure_registered

            ensure_registered([config.path(p) for p in config.mappings])
        self.core = core or Core(config, clock=clock)
        self.store = store or Store(config.path(config.store) if config.store != ":memory:" else ":memory:")
        # run mode keeps detector state (open sequences, baselines) across restarts;
        # replay starts fresh so a backtest sees only the history it is given
        self.persist_state = persist_state
        self.inventory = Inventory()
        if persist_state:
            st = self.store.load_state()
            if st:
                self.core.load_state(st)
                self.inventory.load(st.get("inventory", []))
        self.dead = DeadLetterSink(config.path(config.dead_letter) if config.dead_letter else None)
        self.on_alert = on_alert
        self.events = 0
        self.alerts: list[Alert] = []
        self.policy = ResponsePolicy(config.responders)
        self.revocations: dict[str, dict[str, Any]] = {}  # idempotency key -> record
        self._lock = threading.Lock()
        self.sender = sender
        if sender is None and config.responders.webhook is not None:
            from auditwatch.responders.webhook import WebhookSender

            w = config.responders.webhook
            sender = self.sender = WebhookSender(w.url, w.secret(), timeout=w.timeout_seconds)
        self.worker: DeliveryWorker | None = None
        if sender is not None:
            w = config.responders.webhook
            self.worker = DeliveryWorker(
                self.store, sender,
                max_attempts=w.max_attempts if w else 8,
                backoff_initial=w.backoff_initial_seconds if w else 0.2,
                backoff_max=w.backoff_max_seconds if w else 30.0,
                on_outcome=self._outcome)
            self.worker.start()

    # -- the hot path -----------------------------------------------------
    def process(self, item: Item) -> list[Alert]:
        if isinstance(item, DeadLetter):
            self.dead.write(item)
            return []
        item.ingest_mono = time.perf_counter()
        self.events += 1
        d = self.core.handle(item)
        self.inventory.update(item)
        if not d.alerts:
            return []
        # revoke first: queue and wake the delivery thread before storing or printing anything
        ready: list[tuple[Alert, dict[str, Any], Incident]] = []
        for alert, (inc, _created) in zip(d.alerts, d.incidents):
            pd = self.policy.decide(alert, item.actor.principal)
            alert_dict = alert.to_dict() | {"decision": {"action": pd.action, "reason": pd.reason,
                                                          "dry_run": pd.dry_run}}
            if pd.action == "revoke" and not inc.revoked:
                inc.revoked = True
                self._revoke(inc, alert, pd.dry_run)
            ready.append((alert, alert_dict, inc))
        out = []
        for alert, alert_dict, inc in ready:
            self.store.save_alert(alert_dict, alert.time)
            self.store.save_incident(_incident_dict(inc))
            self.alerts.append(alert)
            out.append(alert)
            if self.on_alert:
                self.on_alert(alert, alert_dict)
        return out

    def process_all(self, items: Iterable[Item]) -> None:
        for it in items:
            self.process(it)

    def _revoke(self, inc: Incident, alert: Alert, dry_run: bool) -> None:
        key = f"revoke-{inc.incident_id}"
        now = self.clock()
        first_destructive = min((e.ingest_mono for a in inc.alerts for e in a.evidence if e.ingest_mono),
                                default=time.perf_counter())
        rec = {"key": key, "incident_id": inc.incident_id, "identity": inc.identity.brief(),
               "rule_id": alert.rule_id, "dry_run": dry_run, "status": "dry-run" if dry_run else "queued",
               "attempts": 0, "first_destructive_mono": first_destructive, "acked_mono": None}
        with self._lock:
            self.revocations[key] = rec
        if dry_run:
            return
        if self.worker is None:
            rec["status"] = "no-revoker-configured"
            log.warning("revocation for %s requested but no revoker is configured", inc.identity.id)
            return
        payload = orjson.dumps(revocation_payload(inc, alert, dry_run, now))
        endpoint = getattr(self.sender, "url", self.worker.sender.name)
        if self.store.enqueue(key, inc.incident_id, self.worker.sender.name, str(endpoint), payload, now,
                              time.perf_counter()):
            self.worker.kick()
        else:
            rec["status"] = "already-queued"

    def _outcome(self, o: Outcome) -> None:
        with self._lock:
            rec = self.revocations.setdefault(o.key, {"key": o.key, "incident_id": o.incident_id})
            rec["status"] = "delivered" if o.delivered else "dead"
            rec["attempts"] = o.attempts
            rec["acked_mono"] = o.acked_mono
            rec["status_code"] = o.status_code
            rec["error"] = o.error

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait for queued responses to be delivered (or given up)."""
        if self.worker is None:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.store.pending_count() == 0:
                return True
            time.sleep(0.005)
        return self.store.pending_count() == 0

    def save_state(self) -> None:
        if self.persist_state:
            self.store.save_state(self.core.dump_state() | {"inventory": self.inventory.dump()}, self.clock())

    def close(self, drain_timeout: float = 10.0) -> None:
        self.save_state()
        self.drain(drain_timeout)
        if self.worker is not None:
            self.worker.stop()
        close = getattr(self.sender, "close", None)
        if close:
            close()
        self.dead.close()


def _incident_dict(inc: Incident) -> dict[str, Any]:
    return {
        "incident_id": inc.incident_id,
        "identity": inc.identity.brief(),
        "severity": inc.severity,
        "status": inc.status,
        "opened": iso(inc.opened),
        "updated": iso(inc.updated),
        "opened_ts": inc.opened,
        "updated_ts": inc.updated,
        "revoked": inc.revoked,
        "rule_ids": inc.rule_ids(),
        "alert_ids": [a.alert_id for a in inc.alerts],
    }
