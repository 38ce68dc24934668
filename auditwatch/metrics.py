"""Prometheus metrics: what the pipeline did, how fast, and whether responses land.

Every metric lives in one injectable ``CollectorRegistry`` held by a
:class:`Metrics` object (tests build a fresh one, so nothing is global). The
names follow Prometheus conventions: base units (``_seconds``), ``_total`` for
counters, and only bounded label values:

- ``source``: the source format name (``cloudtrail``, ``postgres``, ...), from the
  source registry, plus the user's mappings; anything else becomes ``other``;
- ``kind``: the identity kind (human, agent, service, unknown);
- ``category``: the action taxonomy's fixed vocabulary, or ``none`` (``other`` for a
  name outside it, which the mapping loader already refuses);
- ``rule``: rule and detector ids, bounded by the configuration;
- ``responder``: the configured responders (webhook, postgres, aws-iam, slack, ...);
- ``severity``, ``outcome``, ``direction``: small fixed sets.

Never a principal, an ARN, a database role or an incident id: who did what is in
the store and the web view, not in Prometheus.

Series over small fixed sets (outcomes, severities, kind x category, the configured
rules, responders and source formats) are created at 0 on start, so the first
increment shows in ``rate()`` and a dashboard panel has data from the first scrape.
``auditwatch_kafka_consumer_lag`` is defined for the Kafka workers; the embedded
runner never sets it.

Values that already live in the pipeline (open sequence state, outbox depth,
the circuit breaker, events the rule engine judged too late) are read at scrape
time by a collector bound to the pipeline, so the hot path pays nothing for them.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from auditwatch.detectors.taxonomy import CATEGORIES
from auditwatch.model import SEVERITY_RANK, Alert, Event
from auditwatch.responders.outbox import DeliveryWorker, Outcome, Sender

if TYPE_CHECKING:
    from auditwatch.core import Core, Decision
    from auditwatch.responders.policy import ResponsePolicy
    from auditwatch.store import Store
    from auditwatch.streams.sources.base import DeadLetter

log = logging.getLogger("auditwatch.metrics")

# 1 ms .. 10 s, about three buckets a decade: the pipeline's own latency.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Event time -> alert includes the source's delivery delay (CloudTrail: typically
# 5 to 15 minutes), so the same 1 ms .. 10 s resolution continues up to an hour.
DETECTION_BUCKETS: tuple[float, ...] = LATENCY_BUCKETS + (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
# Queued -> acknowledged by the responder: retries with backoff take seconds to minutes.
RESPONSE_BUCKETS: tuple[float, ...] = LATENCY_BUCKETS + (30.0, 60.0, 120.0, 300.0)

KINDS: tuple[str, ...] = ("human", "agent", "service", "unknown")
SEVERITIES: tuple[str, ...] = tuple(SEVERITY_RANK)
EVENT_OUTCOMES: tuple[str, ...] = ("parsed", "dead_lettered")
RESPONSE_OUTCOMES: tuple[str, ...] = ("delivered", "retry", "dead")
# requested: queued for a revoker (one per incident and revoker); duplicate: that
# was already queued; dry_run: decided, recorded, not sent; unconfigured: asked
# for with no revoker configured; withheld: a rule asked for revocation and the
# policy refused (protected identity, a kind not revoked automatically, the
# circuit breaker); delivered / dead: the revoker acknowledged / gave up.
REVOCATION_OUTCOMES: tuple[str, ...] = (
    "requested", "duplicate", "dry_run", "unconfigured", "withheld", "delivered", "dead")
SKEW_DIRECTIONS: tuple[str, ...] = ("future", "past")
# what ``generate_latest`` writes: the classic text exposition format
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER = "other"
NONE = "none"

# Source type names that are not registry names: what parsers put in SourceRef.type.
_EXTRA_SOURCE_TYPES = frozenset({"postgres", "json", "unknown"})
_CATEGORY_SET = frozenset(CATEGORIES)
_KIND_SET = frozenset(KINDS)
_SEVERITY_SET = frozenset(SEVERITIES)


def _known_source(name: str) -> bool:
    # imported lazily: the registry fills as source modules (and the user's mappings) load
    from auditwatch.streams.sources.registry import ALIASES, SOURCES

    return name in SOURCES or name in ALIASES or name in _EXTRA_SOURCE_TYPES


def _source_type(fmt: str) -> str:
    """The source type a configured format's events carry ("postgres-jsonlog" -> "postgres");
    "" for auto-detection or an unknown format."""
    try:
        from auditwatch.streams.reader import make_parser
        from auditwatch.streams.sources.base import ParseContext
        from auditwatch.streams.sources.registry import canonical

        f = canonical(fmt)
        return "" if f == "auto" else make_parser(f, ParseContext("metrics")).type
    except (ValueError, KeyError):  # a format the registry does not know: series appear with its first record
        return ""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("auditwatch")
    except PackageNotFoundError:  # not installed as a distribution (a source checkout on sys.path)
        return "unknown"


class Metrics:
    """Every auditwatch metric, registered in one registry.

    ``clock`` is wall-clock time (epoch seconds) and ``mono`` a monotonic clock;
    both are injectable so tests are deterministic. An event whose time is more
    than ``skew_future_seconds`` ahead of ``clock`` or more than
    ``skew_past_seconds`` behind it is counted in ``auditwatch_clock_skew_events_total``.
    ``runtime=True`` adds the client's process, platform and GC collectors (the
    service does; tests leave them out).
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, clock: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.perf_counter, skew_future_seconds: float = 300.0,
                 skew_past_seconds: float = 3600.0, runtime: bool = False) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = clock
        self.mono = mono
        self.skew_future = skew_future_seconds
        self.skew_past = skew_past_seconds
        r = self.registry
        if runtime:
            from prometheus_client.gc_collector import GCCollector
            from prometheus_client.platform_collector import PlatformCollector
            from prometheus_client.process_collector import ProcessCollector

            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

        self.build_info = Info("auditwatch_build", "Version of auditwatch and of the Python running it.", registry=r)
        self.build_info.info({"version": _version(), "python_version": platform.python_version()})

        self.events = Counter(
            "auditwatch_events_total",
            "Records read from the sources: parsed into events, or dead-lettered (kept with their reason).",
            ["source", "outcome"], registry=r)
        self.events_by_kind = Counter(
            "auditwatch_events_by_kind_total",
            "Events by the kind of identity attribution gave them and by action category "
            "(an event with several categories counts once in each; category=\"none\" when it has none).",
            ["kind", "category"], registry=r)
        self.attributed = Counter(
            "auditwatch_attributed_events_total",
            "Events by the kind of identity attribution gave them, each event once.",
            ["kind"], registry=r)
        self.alerts = Counter(
            "auditwatch_alerts_total",
            "Alerts raised, by rule (or detector) id and severity; joined alerts (inside a rule's "
            "suppression window) included.", ["rule", "severity"], registry=r)
        self.incidents = Counter(
            "auditwatch_incidents_total", "Incidents opened, by their severity when opened.",
            ["severity"], registry=r)
        self.detection_latency = Histogram(
            "auditwatch_detection_latency_seconds",
            "From the event's own time (what the source says) to the alert: includes the source's delivery delay.",
            ["source"], buckets=DETECTION_BUCKETS, registry=r)
        self.ingest_to_alert = Histogram(
            "auditwatch_ingest_to_alert_seconds",
            "From the event entering the pipeline to the alert: the detection core's own latency.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.response_latency = Histogram(
            "auditwatch_response_latency_seconds",
            "From a response being queued in the outbox to the responder acknowledging it (retries included).",
            ["responder"], buckets=RESPONSE_BUCKETS, registry=r)
        self.responses = Counter(
            "auditwatch_responses_total",
            "Delivery attempts by responder: delivered, failed and to be retried (retry), "
            "or failed with the budget spent (dead).",
            ["responder", "outcome"], registry=r)
        self.revocations = Counter(
            "auditwatch_revocations_total",
            "Revocations by outcome: requested, duplicate, dry_run, unconfigured, withheld (policy refused), "
            "delivered, dead.", ["outcome"], registry=r)
        self.clock_skew = Counter(
            "auditwatch_clock_skew_events_total",
            "Events whose time is far from now: ahead of the clock (future) or long behind it (past: "
            "a wrong clock at the source, or a backlog being read).", ["direction"], registry=r)
        self.kafka_consumer_lag = Gauge(
            "auditwatch_kafka_consumer_lag",
            "Kafka worker mode: messages between the committed offset and the log end, per topic and partition.",
            ["topic", "partition"], registry=r)
        self._pipeline = _PipelineCollector()
        r.register(self._pipeline)

        for o in REVOCATION_OUTCOMES:
            self.revocations.labels(o)
        for d in SKEW_DIRECTIONS:
            self.clock_skew.labels(d)
        for s in SEVERITIES:
            self.incidents.labels(s)
        for k in KINDS:
            self.attributed.labels(k)
            for c in (*CATEGORIES, NONE):  # 4 kinds x 9: every panel over them has a series at 0
                self.events_by_kind.labels(k, c)
        self._skew_future = self.clock_skew.labels("future")
        self._skew_past = self.clock_skew.labels("past")
        # label children cached: the hot path does a dict look-up, not labels()
        self._parsed: dict[str, Any] = {}
        self._dead: dict[str, Any] = {}
        self._by_kind: dict[tuple[str, str], Any] = {}
        self._kind: dict[str, Any] = {k: self.attributed.labels(k) for k in KINDS}
        self._rules: frozenset[str] | None = None

    # -- binding: what is read at scrape time ----------------------------------
    def bind(self, *, core: Core | None = None, policy: ResponsePolicy | None = None,
             store: Store | None = None, extra_rules: Iterable[tuple[str, str]] = (),
             sources: Iterable[str] = ()) -> None:
        """Read the circuit breaker, the sequence state, the outbox depth and the
        too-late count from these objects at every scrape.

        The ``rule`` label is bounded by the core's rules and anomaly detectors plus
        ``extra_rules`` ((id, severity) pairs): any other id becomes ``other``. Their
        series, and those of the ``sources`` formats (the configured inputs), start at
        0, so the first alert after a start shows in ``rate()`` and ``increase()``."""
        self._pipeline.core = core
        self._pipeline.policy = policy
        self._pipeline.store = store
        pairs = list(extra_rules)
        if core is not None:
            pairs += [(r.id, r.severity) for r in core.rules if r.enabled]
            pairs += [(d.id, d.severity) for d in core.anomaly]
            known = {r.id for r in core.rules} | {d.id for d in core.anomaly} | {i for i, _ in pairs}
            self._rules = frozenset(known)
        elif pairs:
            self._rules = frozenset(i for i, _ in pairs) | (self._rules or frozenset())
        for rid, sev in pairs:
            self.alerts.labels(rid, sev if sev in _SEVERITY_SET else OTHER)
        for fmt in sources:
            typ = _source_type(fmt)
            if typ:
                self._source_children(typ)

    # -- the hot path ---------------------------------------------------------
    def _source(self, typ: str) -> str:
        return typ if _known_source(typ) else OTHER

    def _source_children(self, typ: str) -> tuple[Any, Any]:
        src = self._source(typ)
        # both outcomes appear together, so a dead-letter rate reads 0, not "no data"
        p = self.events.labels(src, "parsed")
        d = self.events.labels(src, "dead_lettered")
        self.detection_latency.labels(src)
        if src != OTHER:  # cache known names only: the cache stays as bounded as the label
            self._parsed[typ] = p
            self._dead[typ] = d
        return p, d

    def event(self, ev: Event, now: float | None = None) -> None:
        """One parsed event, after attribution."""
        c = self._parsed.get(ev.source.type)
        if c is None:
            c = self._source_children(ev.source.type)[0]
        c.inc()
        ident = ev.identity
        kind = ident.kind if ident is not None and ident.kind in _KIND_SET else "unknown"
        self._kind[kind].inc()
        for cat in ev.action.categories or (NONE,):
            k = self._by_kind.get((kind, cat))
            if k is None:
                known = cat in _CATEGORY_SET or cat == NONE
                k = self.events_by_kind.labels(kind, cat if known else OTHER)
                if known:  # cache known names only: the cache stays as bounded as the label
                    self._by_kind[(kind, cat)] = k
            k.inc()
        t = self.clock() if now is None else now
        if ev.time - t > self.skew_future:
            self._skew_future.inc()
        elif t - ev.time > self.skew_past:
            self._skew_past.inc()

    def dead_letter(self, dl: DeadLetter) -> None:
        c = self._dead.get(dl.source.type)
        if c is None:
            c = self._source_children(dl.source.type)[1]
        c.inc()

    def alert(self, alert: Alert, *, source: str = "", ingest_mono: float = 0.0, alerted_mono: float | None = None,
              now: float | None = None, incident_created: bool = False, incident_severity: str = "") -> None:
        """One alert; ``source`` and ``ingest_mono`` from the event that completed it,
        ``alerted_mono`` when the core returned it (default: now)."""
        rule = alert.rule_id if self._rules is None or alert.rule_id in self._rules else OTHER
        sev = alert.severity if alert.severity in _SEVERITY_SET else OTHER
        self.alerts.labels(rule, sev).inc()
        if incident_created:
            isev = incident_severity or alert.severity
            self.incidents.labels(isev if isev in _SEVERITY_SET else OTHER).inc()
        if ingest_mono:
            at = self.mono() if alerted_mono is None else alerted_mono
            self.ingest_to_alert.observe(max(0.0, at - ingest_mono))
        if source:
            t = self.clock() if now is None else now
            self.detection_latency.labels(self._source(source)).observe(max(0.0, t - alert.time))

    def decision(self, item: Event, d: Decision, alerted_mono: float | None = None,
                 now: float | None = None) -> None:
        """Every alert (and incident opened) of one event's decision."""
        at = self.mono() if alerted_mono is None else alerted_mono
        t = self.clock() if now is None else now
        for a, (inc, created) in zip(d.alerts, d.incidents):
            self.alert(a, source=item.source.type, ingest_mono=item.ingest_mono, alerted_mono=at, now=t,
                       incident_created=created, incident_severity=inc.severity)

    def revocation(self, outcome: str) -> None:
        self.revocations.labels(outcome if outcome in REVOCATION_OUTCOMES else OTHER).inc()

    def revocation_outcome(self, o: Outcome) -> None:
        self.revocation("delivered" if o.delivered else "dead")

    def response(self, responder: str, outcome: str, latency: float | None = None) -> None:
        self.responses.labels(responder, outcome).inc()
        if latency is not None:
            self.response_latency.labels(responder).observe(max(0.0, latency))

    def responder(self, name: str) -> None:
        """Make a responder's series exist (at 0) before its first delivery."""
        for o in RESPONSE_OUTCOMES:
            self.responses.labels(name, o)
        self.response_latency.labels(name)

    def delivery_worker(self, store: Store, sender: Sender, **kw: Any) -> MeteredDeliveryWorker:
        return MeteredDeliveryWorker(store, sender, metrics=self, **kw)


class MeteredDeliveryWorker(DeliveryWorker):
    """A delivery worker that counts each attempt: delivered, retry (failed, will be
    tried again) or dead (failed, budget spent), and times queued -> acknowledged.

    The outbox reports only final outcomes; an attempt that reported nothing was a
    retry (or could not be recorded, and will be retried all the same).
    """

    def __init__(self, store: Store, sender: Sender, *, metrics: Metrics,
                 on_outcome: Callable[[Outcome], None] | None = None, **kw: Any) -> None:
        super().__init__(store, sender, on_outcome=self._seen, **kw)
        self.metrics = metrics
        self._forward = on_outcome
        self._last: Outcome | None = None
        metrics.responder(sender.name)

    def _seen(self, o: Outcome) -> None:
        self._last = o
        if self._forward is not None:
            self._forward(o)

    def _deliver(self, row: Any) -> None:
        self._last = None
        try:
            super()._deliver(row)
        finally:
            o, name = self._last, self.sender.name
            try:
                if o is None:
                    self.metrics.response(name, "retry")
                elif o.delivered:
                    created = float(row["created_mono"] or 0.0)
                    # created_mono is perf_counter (CLOCK_MONOTONIC): comparable across a restart
                    # on the same boot; a row from before a reboot is counted but not timed
                    lat = o.acked_mono - created if created and o.acked_mono >= created else None
                    self.metrics.response(name, "delivered", lat)
                else:
                    self.metrics.response(name, "dead")
            except Exception:  # metrics never break delivery
                log.exception("could not count a delivery attempt")


class _PipelineCollector(Collector):
    """Values the pipeline already keeps, read at scrape time."""

    def __init__(self) -> None:
        self.core: Core | None = None
        self.policy: ResponsePolicy | None = None
        self.store: Store | None = None

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        yield from self._families(read=True)

    def _families(self, read: bool = False) -> Iterator[Metric]:
        breaker = GaugeMetricFamily(
            "auditwatch_circuit_breaker_open",
            "1 while the revocation circuit breaker is open (automatic revocation suspended), else 0.")
        seq = GaugeMetricFamily(
            "auditwatch_sequence_state_entries",
            "Open sequence-rule states (one per rule and key) held by the rule engine.")
        late = CounterMetricFamily(
            "auditwatch_too_late_events",
            "Events older than their source's watermark (newest event time minus the allowed lateness): "
            "judged by single-event rules only.")
        pending = GaugeMetricFamily(
            "auditwatch_outbox_pending", "Responses queued in the durable outbox, not yet delivered or given up.")
        if read:
            breaker.add_metric([], _safe(lambda: 1.0 if self.policy is not None and self.policy.breaker_open else 0.0))
            seq.add_metric([], _safe(self._sequence_entries))
            late.add_metric([], _safe(lambda: float(self.core.engine.stats.too_late) if self.core else 0.0))
            pending.add_metric([], _safe(lambda: float(self.store.pending_count()) if self.store else 0.0))
        yield from (breaker, seq, late, pending)

    def _sequence_entries(self) -> float:
        if self.core is None:
            return 0.0
        # the engine keeps one ordered dict of keys per sequence rule (engine.py, _seq)
        states: dict[str, Any] = getattr(self.core.engine, "_seq", {})
        return float(sum(len(s) for s in list(states.values())))


def _safe(f: Callable[[], float]) -> float:
    try:
        return f()
    except Exception:  # a scrape must answer even if one value cannot be read
        log.exception("metric read failed")
        return float("nan")
