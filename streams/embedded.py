"""The embedded runner's pipeline: one process, no broker.

Items from the sources (events and dead letters) go through the detection
core; alerts are stored, revocations are queued in the durable outbox and sent
at once by a delivery thread (revoke first), then alerts are handed to the
printers. Dead letters are appended to a JSONL file with their reason and
position, never dropped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from auditwatch.config import Config
from auditwatch.core import Core, Decision
from auditwatch.incidents import Incident
from auditwatch.inventory import Inventory
from auditwatch.metrics import Metrics  # metrics (issue 9)
from auditwatch.model import SEVERITY_RANK, Alert, Event, Identity, iso
from auditwatch.responders.outbox import DeliveryWorker, Outcome, Sender
from auditwatch.responders.policy import ResponsePolicy
from auditwatch.store import Store
from auditwatch.streams.sources.base import DeadLetter, Item

log = logging.getLogger("auditwatch.pipeline")
MAX_ALERTS_IN_MEMORY = 2_000


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


def _pg_protected(extra: list[str]) -> frozenset[str]:
    """The revoker's built-in never-revoke roles, plus the configuration's."""
    from auditwatch.responders.revokers.postgres import DEFAULT_PROTECTED_ROLES

    return DEFAULT_PROTECTED_ROLES | frozenset(extra)


def _aws_protected(extra: list[str]) -> frozenset[str]:
    from auditwatch.responders.revokers.aws_iam import DEFAULT_PROTECTED_PRINCIPALS

    return DEFAULT_PROTECTED_PRINCIPALS | frozenset(extra)


def incident_credentials(inc: Incident) -> list[dict[str, str]]:
    """The credentials the incident's evidence was done with: what a revoker acts on."""
    creds: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for a in inc.alerts:
        for e in a.evidence:
            for typ, val in _credentials(e):
                if (typ, val) not in seen:
                    seen.add((typ, val))
                    creds.append({"type": typ, "id": val} | (
                        {"database": e.resource.database} if typ == "db_role" and e.resource.database else {}))
    return creds


def revocation_payload(inc: Incident, alert: Alert, dry_run: bool, now: float) -> dict[str, Any]:
    """The documented revocation request (Standard Webhooks envelope: type, timestamp, data)."""
    creds = incident_credentials(inc)
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
                 clock: Callable[[], float] = time.time, persist_state: bool = False,
                 metrics: Metrics | None = None, on_event: Callable[[Event], None] | None = None) -> None:
        self.config = config
        self.clock = clock
        # metrics (issue 9): an injected registry; by default a private one per pipeline
        self.metrics = metrics if metrics is not None else Metrics(clock=clock)
        if config.mappings:
            from auditwatch.streams.sources.mapped_json import ensure_registered

            ensure_registered([config.path(p) for p in config.mappings])
        self.core = core or Core(config, clock=clock)
        self.store = store or Store(config.path(config.store) if config.store != ":memory:" else ":memory:")
        # run mode keeps detector state (open sequences, baselines) across restarts;
        # replay starts fresh so a backtest sees only the history it is given
        self.persist_state = persist_state
        self.inventory = Inventory()
        self.store_errors = 0
        if persist_state:
            st = self.store.load_state()
            if st:
                self.core.load_state(st)
                self.inventory.load(st.get("inventory", []))
        self.dead = DeadLetterSink(config.path(config.dead_letter) if config.dead_letter else None)
        self.on_alert = on_alert
        self.on_event = on_event  # every event after attribution, before its alerts (the web view's timeline)
        self.events = 0
        # the latest alerts, for the web view and callers; all of them are in the store
        self.alerts: deque[Alert] = deque(maxlen=MAX_ALERTS_IN_MEMORY)
        self.policy = ResponsePolicy(config.responders)
        self.revocations: dict[str, dict[str, Any]] = {}  # idempotency key -> record
        self._lock = threading.Lock()
        # revokers first: each has its own delivery thread, so nothing queued for a
        # notifier (Slack allows about a message a second) ever sits in front of them
        self.revokers: list[DeliveryWorker] = []
        self.sender = sender
        rc = config.responders
        if sender is None and rc.webhook is not None:
            from auditwatch.responders.webhook import WebhookSender

            sender = self.sender = WebhookSender(rc.webhook.url, rc.webhook.secret(),
                                                 timeout=rc.webhook.timeout_seconds)
        self.worker: DeliveryWorker | None = None  # the webhook revoker
        if sender is not None:
            w = rc.webhook
            self.worker = self._worker(sender, w.max_attempts if w else 8, w.backoff_initial_seconds if w else 0.2,
                                       w.backoff_max_seconds if w else 30.0)
            self.revokers.append(self.worker)
        if rc.postgres is not None:
            from auditwatch.responders.revokers.postgres import PostgresRevoker

            self.revokers.append(self._worker(PostgresRevoker(rc.postgres.dsn(),
                                                              _pg_protected(rc.postgres.protected_roles))))
        if rc.aws is not None:
            from auditwatch.responders.revokers.aws_iam import AwsIamRevoker

            self.revokers.append(self._worker(AwsIamRevoker(
                endpoint_url=rc.aws.endpoint_url or None, region=rc.aws.region,
                protected_principals=_aws_protected(rc.aws.protected_principals + rc.protected))))
        self.slack: DeliveryWorker | None = None
        if rc.slack is not None:
            from auditwatch.responders.slack import SlackSender, SqliteThreadStore

            self.slack = self._worker(SlackSender(rc.slack.token(), rc.slack.channel, base_url=rc.slack.base_url,
                                                  threads=SqliteThreadStore(self.store)), outcome=False)
        self.pager: DeliveryWorker | None = None
        if rc.pagerduty is not None:
            from auditwatch.responders.pagerduty import PagerDutySender

            self.pager = self._worker(PagerDutySender(rc.pagerduty.routing_key(), url=rc.pagerduty.url),
                                      outcome=False)
        # metrics (issue 9): breaker, sequence state, outbox depth and too-late read at scrape time
        self.metrics.bind(core=self.core, policy=self.policy, store=self.store,
                          extra_rules=[("responder-delivery-failed", "high")],
                          sources=[s.format for s in config.sources])

    def _worker(self, sender: Sender, max_attempts: int = 8, backoff_initial: float = 0.2,
                backoff_max: float = 30.0, outcome: bool = True) -> DeliveryWorker:
        # metrics (issue 9): the metered worker counts each attempt and times queued -> acknowledged
        w = self.metrics.delivery_worker(self.store, sender, max_attempts=max_attempts,
                                         backoff_initial=backoff_initial, backoff_max=backoff_max,
                                         on_outcome=self._outcome if outcome else None)
        w.start()
        return w

    # -- the hot path -----------------------------------------------------
    def process(self, item: Item) -> list[Alert]:
        if isinstance(item, DeadLetter):
            self.metrics.dead_letter(item)  # metrics (issue 9)
            self.dead.write(item)
            return []
        item.ingest_mono = time.perf_counter()
        self.events += 1
        d = self.core.handle(item)
        # the raw record has served (parsing, attribution); alerts and incidents keep the
        # event, not the bytes: memory stays flat however long the process runs
        item.raw = None
        self.inventory.update(item)
        self.metrics.event(item)  # metrics (issue 9)
        if self.on_event is not None:
            self.on_event(item)
        if not d.alerts:
            return []
        return self.respond(d, item)

    def respond(self, d: Decision, item: Event) -> list[Alert]:
        """Revoke, store, notify for one event's alerts. The embedded runner calls it
        right after detection; the Kafka responder agent calls it for alerts that
        workers detected (``item`` is then the alert's last evidence event)."""
        alerted_mono = time.perf_counter()  # metrics (issue 9): observed only after revocations are queued
        # revoke first: queue and wake the delivery thread before storing or printing anything
        ready: list[tuple[Alert, dict[str, Any], Incident]] = []
        for alert, (inc, _created) in zip(d.alerts, d.incidents):
            pd = self.policy.decide(alert, item.actor.principal, incident_revoked=inc.revoked)
            alert_dict = alert.to_dict() | {"decision": {"action": pd.action, "reason": pd.reason,
                                                          "dry_run": pd.dry_run}}
            if pd.action == "revoke" and not inc.revoked:
                inc.revoked = True
                self._revoke(inc, alert, pd.dry_run)
            elif alert.response == "revoke" and pd.action != "revoke":
                self.metrics.revocation("withheld")  # metrics (issue 9)
            ready.append((alert, alert_dict, inc))
        self.metrics.decision(item, d, alerted_mono)  # metrics (issue 9)
        out = []
        for alert, alert_dict, inc in ready:
            try:
                self.store.save_alert(alert_dict, alert.time)
                self.store.save_incident(_incident_dict(inc))
            except sqlite3.Error as e:  # disk full, read-only: say so clearly, keep detecting
                self.store_errors += 1
                log.error("store write failed (%s): alert %s kept in memory and printed, not stored",
                          e, alert.alert_id)
            self.alerts.append(alert)
            out.append(alert)
            self._notify(alert, alert_dict, inc)
            if self.on_alert:
                self.on_alert(alert, alert_dict)
        return out

    def _notify(self, alert: Alert, alert_dict: dict[str, Any], inc: Incident) -> None:
        """Notify second: Slack (one thread per incident) and PagerDuty (one page per incident)."""
        now = self.clock()
        if self.slack is not None and not alert.joined:
            from auditwatch.responders.slack import slack_payload

            first = inc.alerts[0] is alert
            creds = incident_credentials(inc) if inc.revoked else None
            if self.store.enqueue(f"slack-{alert.alert_id}", inc.incident_id, "slack", "slack",
                                  slack_payload(_incident_dict(inc), [alert_dict], update=not first, credentials=creds),
                                  now, time.perf_counter()):
                self.slack.kick()
        pdc = self.config.responders.pagerduty
        if self.pager is not None and pdc is not None and not inc.paged and \
                SEVERITY_RANK[inc.severity] >= SEVERITY_RANK[pdc.min_severity]:
            from auditwatch.responders.pagerduty import page_key, page_payload

            inc.paged = True
            if self.store.enqueue(page_key(inc.incident_id, "trigger"), inc.incident_id, "pagerduty", pdc.url,
                                  orjson.dumps(page_payload(inc, "trigger")), now, time.perf_counter()):
                self.pager.kick()

    # -- what people do with an incident (Slack buttons, the web view) ----------
    def act(self, incident_id: str, action: str, user: str = "") -> str:
        inc = self.core.grouper.get(incident_id)
        if inc is None:
            return f"incident {incident_id} is not open here"
        if action in ("ack", "acknowledge", "aw_ack"):
            inc.status = "acknowledged"
            msg = f"acknowledged by {user or 'someone'}"
        elif action in ("dismiss", "aw_dismiss", "resolve"):
            inc.status = "dismissed" if action != "resolve" else "resolved"
            msg = f"{inc.status} by {user or 'someone'}"
            pdc = self.config.responders.pagerduty
            if self.pager is not None and pdc is not None and inc.paged:
                from auditwatch.responders.pagerduty import page_key, page_payload

                if self.store.enqueue(page_key(inc.incident_id, "resolve"), inc.incident_id, "pagerduty", pdc.url,
                                      orjson.dumps(page_payload(inc, "resolve")), self.clock(), time.perf_counter()):
                    self.pager.kick()
        elif action in ("revoke", "aw_revoke"):
            if inc.revoked:
                return "already revoked"
            inc.revoked = True
            self._revoke(inc, inc.alerts[-1], self.config.responders.dry_run)
            msg = f"revocation approved by {user or 'someone'}"
        else:
            return f"unknown action {action!r}"
        self.store.save_incident(_incident_dict(inc) | {"last_action": msg})
        return msg

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
            self.metrics.revocation("dry_run")  # metrics (issue 9)
            return
        if not self.revokers:
            self.metrics.revocation("unconfigured")  # metrics (issue 9)
            rec["status"] = "no-revoker-configured"
            log.warning("revocation for %s requested but no revoker is configured", inc.identity.id)
            return
        payload = orjson.dumps(revocation_payload(inc, alert, dry_run, now))
        for w in self.revokers:
            # the webhook keeps the plain key (it is the receiver's webhook-id); built-in
            # revokers get their own, so each is delivered and retried on its own
            k = key if w is self.worker else f"{key}:{w.sender.name}"
            if k != key:
                with self._lock:
                    self.revocations[k] = rec | {"key": k, "responder": w.sender.name, "status": "queued"}
            endpoint = getattr(w.sender, "url", w.sender.name)
            try:
                queued = self.store.enqueue(k, inc.incident_id, w.sender.name, str(endpoint), payload, now,
                                            time.perf_counter())
            except sqlite3.Error as e:
                # the durable outbox is unavailable: send once now rather than not at all
                self.store_errors += 1
                log.error("outbox write failed (%s): sending %s directly, without retries", e, k)
                att = w.sender.send(k, payload)
                self.revocations[k]["status"] = "delivered" if att.ok else "failed-unqueued"
                continue
            if queued:
                self.metrics.revocation("requested")  # metrics (issue 9)
                w.kick()
            else:
                self.metrics.revocation("duplicate")  # metrics (issue 9)
                self.revocations[k]["status"] = "already-queued"
        if self.worker is not None:
            rec["responder"] = self.worker.sender.name
        else:
            # no webhook: the decision lives on in each revoker's own record; keeping the
            # plain-key record too would count one revocation twice and leave it "queued"
            with self._lock:
                self.revocations.pop(key, None)

    def _outcome(self, o: Outcome) -> None:
        with self._lock:
            rec = self.revocations.setdefault(o.key, {"key": o.key, "incident_id": o.incident_id})
            rec["status"] = "delivered" if o.delivered else "dead"
            rec["attempts"] = o.attempts
            rec["acked_mono"] = o.acked_mono
            rec["status_code"] = o.status_code
            rec["error"] = o.error
        self.metrics.revocation_outcome(o)  # metrics (issue 9)
        if o.dead:
            self._delivery_failed(o, rec)

    def _delivery_failed(self, o: Outcome, rec: dict[str, Any]) -> None:
        """A revocation that could not be delivered within its budget is itself an alert:
        it stays dead-lettered in the store, and people are told it did not happen."""
        inc = self.core.grouper.get(o.incident_id)
        ident = inc.identity if inc is not None else Identity(id=str(rec.get("identity", {}).get("id", "?")))
        alert = Alert(rule_id="responder-delivery-failed", title="A revocation could not be delivered",
                      severity="high", identity=ident, categories=(), evidence=[], time=self.clock(),
                      attack=("T1485",), response="page",
                      reason=f"{o.key} gave up after {o.attempts} attempts: {o.error}",
                      incident_id=o.incident_id, alert_id=f"{o.incident_id}-failed-{o.key}")
        ad = alert.to_dict()
        try:
            self.store.save_alert(ad, alert.time)
        except Exception:  # the store may be the problem; the log line below still says it
            log.exception("could not store the delivery-failure alert")
        log.error("revocation %s for %s was NOT delivered: %s", o.key, ident.id, o.error)
        self.metrics.alert(alert)  # metrics (issue 9)
        self.alerts.append(alert)
        if self.on_alert:
            self.on_alert(alert, ad)

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait for queued responses to be delivered (or given up)."""
        if not self.revokers and self.slack is None and self.pager is None:
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
        for w in [*self.revokers, self.slack, self.pager]:
            if w is None:
                continue
            w.stop()
            close = getattr(w.sender, "close", None)
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
