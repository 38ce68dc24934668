"""The Faust worker: the embedded pipeline's core, scaled out on Kafka.

    raw.<source> ──parse──▶ events (keyed by identity) ──detect──▶ alerts ──respond──▶ responses
                  enrich,                               per-identity              revoke first,
                  attribute,                            slices in a               then notify;
                  judge lateness                        Faust table               idempotent

Three agents in one app; run as many workers as the events topic has
partitions. Parsing runs in a child process of the worker (``parse_child``),
one batch ahead: the child parses a batch while this process sends the last
one's events and detects, so a worker uses two cores, not one. Every agent
takes batches (``take_events``): a batch costs one table write per identity it
touched and one message per identity it sends, not one per event. ``batch_within_ms`` bounds how long a lone event waits for
company, so a sparse stream keeps its latency.

Delivery guarantees: Kafka is at-least-once here. A batch is acknowledged only
after its results are handed to the producer, and Faust flushes the producer
before it commits offsets, so a crash replays at most the uncommitted batches.
Replayed raw chunks are dropped by the parse stage (per-file offsets) or, after
a restart, by the detect stage (each slice remembers its recent events'
positions); a replayed alert is dropped by the responder (each identity's
record of incidents and the alerts already answered), and revocations carry
the incident id as their idempotency key, as in the embedded runner.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import time
from collections import OrderedDict, deque
from typing import Any, NoReturn

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from auditwatch.config import Config
from auditwatch.core import Core, Decision
from auditwatch.incidents import Incident
from auditwatch.model import Alert, Event, SourceRef
from auditwatch.store import Store
from auditwatch.streams.scaleout.gctune import tune_gc
from auditwatch.streams.scaleout.parse_child import (
    ANONYMOUS,
    ParseChildDied,
    ParsedBatch,
    Parser,
    Partitions,
    key_partition,
)
from auditwatch.streams.scaleout.slices import SliceDetector
from auditwatch.streams.scaleout.topics import RAW_KINDS, raw_topic
from auditwatch.streams.scaleout.wire import (
    IdentityCache,
    alert_from_wire,
    alert_to_wire,
    decode_events,
    event_from_wire,
    event_to_wire,
    identity_from_wire,
)
from auditwatch.streams.sources.base import DeadLetter

log = logging.getLogger("auditwatch.worker")

HTTP_PATHS = ("/healthz", "/metrics")
MAX_INCIDENTS_IN_MEMORY = 10_000
# a partition sought back to a missing offset that still has not come after this long: the
# offset is gone from the broker (retention), and waiting longer would stop the partition
HOLE_GIVE_UP_SECONDS = 30.0
# a partition the broker has more of, whose agent is idle, and from which nothing has come for this
# long: its messages were dropped before they reached the agent; fetch again from the offset due
STALL_SECONDS = 5.0
# how long the respond agent waits for the revocations a batch queued to be acknowledged before it
# records the batch's alerts as answered (``_revocations_sent``); a healthy receiver takes milliseconds
REVOKE_WAIT_SECONDS = 5.0
# parse batches handed to the child and not yet sent, besides the newest: with one, the child
# sat idle between batches while the worker's threads (GIL-bound, on a busy core) moved the next
# batch into its pipe — 4.2 s idle in a 15 s bench run; with two, 2.1-3.1 s
PARSE_AHEAD = 2


_PRODUCE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)  # seconds from a raw chunk's produce


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.raw = Counter("auditwatch_kafka_raw_messages_total", "Raw chunks consumed", registry=r)
        self.events = Counter("auditwatch_kafka_events_parsed_total", "Events parsed and attributed", registry=r)
        self.detected = Counter("auditwatch_kafka_events_detected_total", "Events through detection", registry=r)
        self.dead = Counter("auditwatch_kafka_dead_letters_total", "Records dead-lettered", ["stage"], registry=r)
        self.alerts = Counter("auditwatch_kafka_alerts_total", "Alerts emitted", ["rule"], registry=r)
        self.duplicates = Counter("auditwatch_kafka_duplicates_dropped_total",
                                  "Re-delivered records dropped", ["stage"], registry=r)
        self.batch = Histogram("auditwatch_kafka_batch_records", "Records per batch", ["stage"],
                               buckets=(1, 10, 100, 500, 1000, 2000, 5000), registry=r)
        self.latency = Histogram("auditwatch_kafka_produce_to_alert_seconds",
                                 "Raw chunk produced to alert emitted (wall clock)",
                                 buckets=_PRODUCE_BUCKETS, registry=r)
        # where the produce-to-alert time goes: how long after its raw chunk was produced a
        # message reached each agent (observed once per message, not per event)
        self.reached = Histogram("auditwatch_kafka_produce_to_stage_seconds",
                                 "Raw chunk produced to its message starting a stage (wall clock)", ["stage"],
                                 buckets=_PRODUCE_BUCKETS, registry=r)
        self.flush = Histogram("auditwatch_kafka_state_flush_seconds",
                               "Storing parse marks and slices before an offset commit (agents held)",
                               buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1), registry=r)
        self.lag = Gauge("auditwatch_kafka_consumer_lag", "Messages behind the partition end", ["topic", "partition"],
                         registry=r)
        self.responded = Counter("auditwatch_kafka_alerts_responded_total", "Alerts answered by the responder",
                                 ["outcome"], registry=r)
        self.refetched = Counter("auditwatch_kafka_refetched_total",
                                 "Partitions fetched again from a message that did not reach an agent", registry=r)


def _tune_fetch_wait(ms: int) -> None:
    """Faust builds its aiokafka consumer with ``fetch_max_wait_ms=1500`` and no setting to
    change it; set ours on the consumer it built, before the consumer starts fetching."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    orig = getattr(AIOKafkaConsumerThread, "_aw_orig_create", None) or AIOKafkaConsumerThread._create_worker_consumer

    def create(self: Any, transport: Any) -> Any:
        consumer = orig(self, transport)
        consumer._fetch_max_wait_ms = ms  # read by aiokafka when it starts its fetcher
        return consumer

    AIOKafkaConsumerThread._aw_orig_create = orig  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]


def _true_highwaters(bootstrap: str) -> None:
    """Faust restores a table by reading its changelog up to the end offsets the broker reports
    (ListOffsets) and no further. The test broker (Tansu) reports the base offset of a
    partition's last record batch plus one, not its last offset plus one: measured, 25 records
    sent in one batch after 15, and it said 15 for 40. A worker restoring slices then stopped
    short of the newest writes of the last batch and went on from older state — the alerts a
    rebalance lost. So the end is checked by reading: fetch from the reported end minus one
    (the start of the last batch there, the last record on Apache Kafka, which answers right
    and is left as is) and take what comes after it too."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    orig = getattr(AIOKafkaConsumerThread, "_aw_orig_highwaters", None) or AIOKafkaConsumerThread._highwaters

    async def _highwaters(self: Any, partitions: list[Any]) -> Any:
        return await true_end_offsets(bootstrap, dict(await orig(self, partitions)))

    AIOKafkaConsumerThread._aw_orig_highwaters = orig  # type: ignore[attr-defined]
    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]


async def true_end_offsets(bootstrap: str, ends: dict[Any, int]) -> dict[Any, int]:
    """``ends`` (partition -> end offset as the broker reported it), each raised to one past the
    last record actually there (see ``_true_highwaters``)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ends = dict(ends)
    # Faust's TP and aiokafka's TopicPartition are different tuples: map back to the caller's
    todo = {TopicPartition(tp.topic, tp.partition): tp for tp, end in ends.items() if end}
    if not todo:
        return ends
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                              fetch_max_wait_ms=50)
    await reader.start()
    try:
        reader.assign(list(todo))
        for atp, tp in todo.items():
            reader.seek(atp, ends[tp] - 1)
        deadline = time.monotonic() + 5.0
        seen: set[Any] = set()
        while len(seen) < len(todo) and time.monotonic() < deadline:
            for atp, recs in (await reader.getmany(timeout_ms=200)).items():
                seen.add(atp)
                if recs:
                    tp = todo[atp]
                    ends[tp] = max(ends[tp], recs[-1].offset + 1)
    finally:
        await reader.stop()
    return ends


class Worker:
    def __init__(self, config: Config, *, respond: bool = True, one_at_a_time: bool = False) -> None:
        """``one_at_a_time``: the naive baseline ``bench kafka`` compares against — every
        agent handles one message per iteration (no ``take``), one table write per event."""
        import faust

        self.config = config
        k = config.kafka
        self.metrics = WorkerMetrics()
        self.core = Core(config)
        # parsing in a process of its own, on the other core (``parse_child``); the naive
        # baseline parses in this one, as a plain Faust agent would
        self.parser = Parser(self.core, k.partitions, child=k.parse_process and not one_at_a_time)
        self.slices = SliceDetector(self.core)
        self.respond_enabled = respond
        self.one_at_a_time = one_at_a_time
        _tune_fetch_wait(k.fetch_max_wait_ms)
        _true_highwaters(k.bootstrap)
        data_dir = config.path(k.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            k.app_id, broker=f"kafka://{k.bootstrap}", store=k.store, datadir=str(data_dir / "faust"),
            topic_partitions=k.partitions, topic_replication_factor=k.replication_factor,
            broker_commit_interval=k.commit_interval_seconds, producer_linger_ms=k.producer_linger_ms,
            producer_max_batch_size=k.producer_batch_bytes,
            producer_compression_type=None if k.compression == "none" else k.compression,
            consumer_auto_offset_reset="earliest", web_enabled=k.web_port > 0, web_port=k.web_port or 6066,
            web_bind=k.web_host, web_in_thread=False, table_cleanup_interval=60.0,
            stream_wait_empty=False, broker_session_timeout=k.session_timeout_seconds,
            broker_heartbeat_interval=max(0.3, k.session_timeout_seconds / 10),
        )
        raw_opts: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self.raw_topics = self.app.topic(*[raw_topic(k, s) for s in RAW_KINDS], **raw_opts)
        self._raw_names = {raw_topic(k, s) for s in RAW_KINDS}
        self.events_topic = self.app.topic(k.topic("events"), partitions=k.partitions, **raw_opts)
        self.alerts_topic = self.app.topic(k.topic("alerts"), partitions=k.partitions, **raw_opts)
        self.responses_topic = self.app.topic(k.topic("responses"), partitions=k.partitions, **raw_opts)
        self.dead_topic = self.app.topic(k.topic("deadletter"), **raw_opts)
        # co-partitioned with events/alerts: key = identity id, partition by the same hash
        self.table = self.app.Table("slices", partitions=k.partitions, use_partitioner=True,
                                    key_type=bytes, value_type=bytes)
        # per stream (the raw messages' key): how far into each file the parse stage got
        self.progress = self.app.Table("streams", partitions=k.raw_partitions, use_partitioner=True,
                                       key_type=bytes, value_type=bytes)
        self.responded = self.app.Table("responded", partitions=k.partitions, use_partitioner=True,
                                        key_type=bytes, value_type=bytes)
        self.pipeline: Any = None
        self._own_alerts: queue.SimpleQueue[Alert] = queue.SimpleQueue()  # from the outbox's thread
        self._responding: set[str] = set()  # alert ids the respond agent is handing the pipeline
        self.incidents: OrderedDict[str, Incident] = OrderedDict()
        self._within = k.batch_within_ms / 1000.0
        # the events partition of an identity: the hash the shipper's and Faust's producers use
        # (Kafka's murmur2), so an identity's events and its slice meet on one worker
        self._partition_of = Partitions(k.partitions)
        self._identities = IdentityCache()  # decoding events: an identity seen before is not built again
        # held by an agent while it works on a batch: a rebalance or a stop waits for the batch
        # in flight (Faust's own wait, ``stream_wait_empty``, can stall on a ``take`` buffer)
        self._busy = {stage: asyncio.Lock() for stage in ("parse", "detect", "respond")}
        self._paused = False
        self._unacked: list[Any] = []  # sends of batches since the last commit
        self._dirty_slices: dict[str, tuple[Any, int]] = {}  # identity -> (slice, partition), not yet stored
        # parse batches' sendings not yet awaited, oldest first; the newest is always here (each
        # waits for the one before it, so it stands for all of them) until a state flush
        self._parse_sends: deque[asyncio.Future[None]] = deque()
        self._marks: dict[tuple[str, str], Any] = {}  # (stream, file id) -> parse mark (None: forget), not yet stored
        self._generation: int | None = None
        self._next: dict[Any, int] = {}  # partition -> next offset due to an agent
        self._seeking: dict[Any, list[Any]] = {}  # partition -> [offset sought back to, since, last seek]
        # partition -> one past the last message an agent finished: no commit goes further
        # (``_hook_commit``). Faust acknowledges messages no agent saw — those it skips while its
        # flow is suspended at a stop or a rebalance, a ``take`` batch whose agent let go of it —
        # and its ``_new_offset`` commits over a one-message gap at the committed offset; a
        # SIGTERM'd worker of the two-worker test committed a raw chunk and an alert it never
        # processed that way (traced: done up to 76, committed 78)
        self._done: dict[Any, int] = {}
        self._came: dict[Any, float] = {}  # partition -> when a message of it last reached an agent
        self._watched: tuple[int | None, float] = (None, 0.0)  # (generation, since) of the stall watch
        # (generation, (topic, partition) -> the group's committed offset) read from the broker at
        # assignment: what is due first in that generation (``_first_due``)
        self._start: tuple[int | None, dict[tuple[str, int], int]] = (None, {})
        self._admin: Any = None
        self._wire()
        if respond:
            # at start, not at the first alert: responses a killed worker left in its outbox
            # are delivered now, even if no new alert ever comes
            self._pipeline()

    # -- the three agents ----------------------------------------------------------
    def _wire(self) -> None:
        app, k = self.app, self.config.kafka

        @app.agent(self.raw_topics, name="parse")
        async def parse(stream: Any) -> None:
            await self._agent("parse", stream, self.parse_batch)

        @app.agent(self.events_topic, name="detect")
        async def detect(stream: Any) -> None:
            await self._agent("detect", stream, self.detect_batch)

        if self.respond_enabled:
            @app.agent(self.alerts_topic, name="respond")
            async def respond(stream: Any) -> None:
                await self._agent("respond", stream, self.respond_batch)

        @app.timer(interval=1.0)
        async def reseek() -> None:
            await self._reseek()

        if self.parser.in_child:
            @app.timer(interval=1.0)
            async def parse_child_watch() -> None:
                try:
                    self.parser.check()
                except ParseChildDied as e:
                    _exit_for(e)

        if self.respond_enabled:
            @app.timer(interval=0.5)
            async def own_alerts() -> None:
                await self._send_own_alerts()

        @app.on_before_shutdown.connect  # type: ignore[misc]
        async def on_shutdown(app_: Any, **kw: Any) -> None:
            await self._pause()  # and never resume: the process is going
            self.close()  # drain queued responses (bounded) before the process goes

        @app.on_partitions_revoked.connect  # type: ignore[misc]
        async def on_revoked(app_: Any, revoked: Any, **kw: Any) -> None:
            await self._pause()
            # whoever holds these partitions next starts from what the tables say; a parser or
            # slice kept here would be stale by the time the partition came back
            try:
                await self.parser.forget()
            except ParseChildDied as e:
                _exit_for(e)
            self.slices.forget()
            self.incidents.clear()

        @app.on_partitions_assigned.connect  # type: ignore[misc]
        async def on_assigned(app_: Any, assigned: Any, **kw: Any) -> None:
            self._hook_commit()
            await self._read_committed()
            self._resume()

        if k.web_port > 0:
            @app.page("/healthz")
            async def healthz(web: Any, request: Any) -> Any:
                assigned = sorted(f"{tp.topic}[{tp.partition}]" for tp in app.consumer.assignment()) \
                    if app.consumer is not None else []
                return web.json({"status": "ok", "app": k.app_id, "assigned": len(assigned),
                                 "identities_cached": len(self.slices.cache)})

            @app.page("/metrics")
            async def metrics(web: Any, request: Any) -> Any:
                self._update_lag()
                # aiohttp refuses a charset inside content_type: the header says it instead
                return web.bytes(generate_latest(self.metrics.registry),
                                 headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    async def _agent(self, stage: str, stream: Any, work: Any) -> None:
        """An agent's loop: batches (``take_events``; one message each with ``--one-at-a-time``)
        in order (``_in_order``), each worked on holding the stage's lock."""
        k = self.config.kafka
        batches = (([e] async for e in stream.events()) if self.one_at_a_time
                   else stream.take_events(k.batch_max, within=self._within))
        async for batch in batches:
            try:
                async with self._busy[stage]:
                    batch = await self._in_order(batch)
                    if batch:
                        await work(batch)
                        done = self._done
                        for e in batch:
                            m = e.message
                            if m.offset >= done.get(m.tp, -1):
                                done[m.tp] = m.offset + 1
            except BaseException:
                _never_done(batch)
                raise

    async def parse_batch(self, batch: list[Any]) -> None:
        """Hand a batch to the parse process and return once the batch ``PARSE_AHEAD`` before it
        is sent: the child parses while the worker sends earlier results and detects."""
        self.metrics.batch.labels("parse").observe(len(batch))
        t_start = time.time()
        values = [(e.value, f"{e.message.topic}[{e.message.partition}]@{e.message.offset}") for e in batch]
        parsed = self.parser.submit(values, self.parser.marks_for((v for v, _ in values), self._load_progress))
        before = self._parse_sends[-1] if self._parse_sends else None
        self._parse_sends.append(asyncio.ensure_future(self._send_parsed(before, parsed, t_start)))
        while len(self._parse_sends) > PARSE_AHEAD:
            await self._parse_sends.popleft()

    async def _send_parsed(self, before: asyncio.Future[None] | None, parsed: asyncio.Future[ParsedBatch],
                           t_start: float) -> None:
        """Send what a parse batch made — after the batch before it (``before``), so a file's
        events reach their partitions in the order they were written."""
        if before is not None:
            await before
        try:
            got = await parsed
        except ParseChildDied as e:
            _exit_for(e)
        m = self.metrics
        m.raw.inc(got.raw)
        for sent in got.reached:
            m.reached.labels("parse").observe(max(0.0, t_start - sent))
        m.events.inc(got.events)
        if got.repeats:
            m.duplicates.labels("parse").inc(got.repeats)
        for mark in got.marks:
            self._marks[(mark[0], mark[1])] = mark[2]
        sent_msgs = [await self.events_topic.send(key=None, partition=part, value=value)
                     for part, value in got.messages]
        if got.dead:
            m.dead.labels("parse").inc(len(got.dead))
            for key, value in got.dead:
                sent_msgs.append(await self.dead_topic.send(key=key, value=value))
        # the file marks are stored at the next commit (``_flush_state``), after these sends
        self._unacked += sent_msgs

    async def detect_batch(self, batch: list[Any]) -> None:
        m = self.metrics
        slices: dict[str, Any] = {}
        per: dict[str, list[tuple[Event, bool]]] = {}
        sent_of: dict[int, float] = {}
        sent_msgs: list[Any] = []
        n = dup = 0
        t_start = time.time()
        for e in batch:
            offset = e.message.offset
            try:
                # the whole message decoded before any of it is used: a bad row dead-letters its
                # message, never half of it, and never the batch
                rows = [_checked_row(w, self._identities) for w in decode_events(e.value)]
            except (ValueError, orjson.JSONDecodeError, KeyError, TypeError, IndexError, AttributeError) as err:
                m.dead.labels("detect").inc()
                sent_msgs.append(await self.dead_topic.send(key=b"events", value=orjson.dumps({
                    "reason": f"undecodable events message: {type(err).__name__}: {err}", "source": {
                        "type": "kafka", "name": f"{e.message.topic}[{e.message.partition}]@{offset}"}})))
                continue
            if rows and rows[0][2][2]:
                m.reached.labels("detect").observe(max(0.0, t_start - rows[0][2][2]))
            for ident, w, (ev, late, sent) in rows:
                sl = slices.get(ident)
                if sl is None:
                    held = self._dirty_slices.get(ident)  # newer than the table until the next commit
                    sl = slices[ident] = held[0] if held is not None else \
                        self.slices.get(ident, self.table.get(ident.encode()))
                if self.slices.seen(sl, w[11], ev.actor.session_id):
                    dup += 1  # made again from a re-read raw message, or re-delivered: already applied
                    continue
                sent_of[id(ev)] = sent
                per.setdefault(ident, []).append((ev, late))
                n += 1
        m.batch.labels("detect").observe(n)
        if dup:
            m.duplicates.labels("detect").inc(dup)
        for ident, sl in slices.items():
            key = ident.encode()
            evs = per.get(ident, [])
            try:
                decisions = self.slices.run(sl, evs)
            except Exception as err:  # a detector bug: this identity's events are kept, the batch goes on
                log.exception("detection failed for %s", ident)
                m.dead.labels("detect").inc(len(evs))
                for ev, _ in evs:
                    sent_msgs.append(await self.dead_topic.send(key=b"events", value=orjson.dumps(DeadLetter(
                        f"detection failed: {type(err).__name__}: {err}", ev.source,
                        orjson.dumps(event_to_wire(ev)).decode()).to_dict())))
                decisions = []
            self._dirty_slices[ident] = (sl, self._partition_of(ident))
            for d in decisions:
                for alert, (inc, created) in zip(d.alerts, d.incidents):
                    # the newest evidence completed the match: its chunk's produce time starts the clock
                    sent = max((sent_of.get(id(ev), 0.0) for ev in alert.evidence), default=0.0)
                    # the alert's own place in its incident (alert ids are "<incident>-<n>"): the incident
                    # object has moved on by now if the batch held more of its alerts
                    inc_d = {"incident_id": inc.incident_id, "opened": inc.opened, "updated": inc.updated,
                             "severity": inc.severity, "count": int(alert.alert_id.rsplit("-", 1)[1]),
                             "created": created}
                    sent_msgs.append(await self.alerts_topic.send(
                        key=key, value=orjson.dumps(alert_to_wire(alert, inc_d, sent))))
                    m.alerts.labels(alert.rule_id).inc()
                    if sent:
                        m.latency.observe(max(0.0, time.time() - sent))
        # the slices are stored at the next commit (``_flush_state``), after these alerts
        self._unacked += sent_msgs
        m.detected.inc(n)

    async def _pause(self) -> None:
        """A rebalance (or a stop) begins: let the batches in flight finish, get their messages to
        the broker and start no other batch until the partitions are assigned again — whoever takes
        a partition next starts from what this worker wrote, never from half a batch."""
        if not self._paused:
            for lock in self._busy.values():
                await lock.acquire()
            self._paused = True
        await self._flush_state()
        if self.app.producer is not None:
            await self.app.producer.flush()

    async def _flush_state(self) -> None:
        """Store the parse marks and slices the batches since the last call left in memory —
        once the broker has acknowledged everything those batches sent. A mark past a chunk
        makes the chunk a repeat, and a slice that says "applied" makes an event a duplicate, so
        neither may be stored before the events, dead letters and alerts they stand for. Called
        with the parse and detect agents held, right before each offset commit (``_hook_commit``)
        and when partitions move: one table write per file and per identity per commit
        interval, as Kafka Streams' state cache does, instead of one per batch (a detect batch
        touched ~150 identities; their writes were most of its time). A crash in between loses
        nothing: the offsets were not committed either, and the batches are done again."""
        # a parse batch the agent has let go of is not sent yet: its messages go first
        tail = self._parse_sends[-1] if self._parse_sends else None
        self._parse_sends.clear()
        if tail is not None:
            await tail
        pending, self._unacked = self._unacked, []
        await _acked(pending)
        raw_parts = self.config.kafka.raw_partitions
        marks, self._marks = self._marks, {}
        for (stream, fid), mark in marks.items():
            await self._put(self.progress, _progress_key(stream, fid), None if mark is None else orjson.dumps(mark),
                            key_partition(stream.encode(), raw_parts))
        dirty, self._dirty_slices = self._dirty_slices, {}
        for ident, (sl, part) in dirty.items():
            await self._put(self.table, ident.encode(), self.slices.dump(sl), part)

    def _hook_commit(self) -> None:
        """Every offset commit first stores what the committed messages led to (``_flush_state``).
        Faust commits on its own timer and around rebalances, through ``force_commit``."""
        consumer = self.app.consumer
        if consumer is None or getattr(consumer, "_aw_hooked", False):
            return
        orig = consumer.force_commit

        async def force_commit(*args: Any, **kw: Any) -> bool:
            if self._paused:  # the locks are ours already (a rebalance, a stop)
                await self._flush_state()
                return bool(await orig(*args, **kw))
            # most of the wait for the broker's acks without holding the agents up
            await _acked(list(self._unacked))
            # no batch may finish, and be acknowledged, between the flush and the commit
            async with self._busy["parse"], self._busy["detect"]:
                with self.metrics.flush.time():
                    await self._flush_state()
                return bool(await orig(*args, **kw))

        consumer.force_commit = force_commit

        new_offset = consumer._new_offset
        ours = {self.events_topic.get_topic_name(), self.alerts_topic.get_topic_name(), *self._raw_names}

        def within_done(tp: Any) -> int | None:
            off = new_offset(tp)
            if off is None or tp.topic not in ours:
                return off
            done = self._done.get(tp)
            if done is None or off > done:
                log.warning("%s: Faust would commit offset %d, past the last message an agent finished (%s); "
                            "committing %s", tp, off, "none" if done is None else done - 1,
                            "nothing" if done is None else done)
                return done
            return off

        consumer._new_offset = within_done

        async def no_gap(*args: Any, **kw: Any) -> None:
            return None

        consumer._add_gap = no_gap
        consumer._aw_hooked = True

    def _resume(self) -> None:
        if self._paused:
            self._paused = False
            for lock in self._busy.values():
                lock.release()

    async def _in_order(self, batch: list[Any]) -> list[Any]:
        """The batch's messages that come next, partition by partition, in this generation of
        the group. Every message of a partition must pass through an agent once and in order: a
        parse mark or a slice's applied position that ran ahead of a message would drop it as a
        repeat when it came. Faust can hand over less: a ``take`` buffer still holds messages
        fetched before a rebalance, and around a rebalance Faust skips messages fetched then and
        counts the hole as a compaction gap (seen on the test broker: a raw chunk never parsed).
        So per partition this keeps the next offset due — the committed one at the start of a
        generation — drops what is older (done already), and on a hole seeks back to the offset
        due and drops what follows until it comes. A dropped message is marked done without
        being acknowledged: its offset is not committed by it."""
        generation = self.app.consumer_generation_id
        if generation != self._generation:
            self._generation = generation
            self._next.clear()
            self._seeking.clear()
        out = []
        holes: dict[Any, int] = {}
        for e in batch:
            msg = e.message
            tp = msg.tp
            due = self._next.get(tp)
            if due is None:
                due = self._first_due(tp)
            if due is not None and msg.offset < due:
                msg.acked = True  # Consumer.ack() skips a message already marked acked
                continue
            if msg.generation_id != generation:
                # fetched before the rebalance and not done: dropped here, so fetched again.
                # The fetcher's position is already past it, and if nothing after it comes in
                # this generation no hole ever shows (seen: a restarted worker that fetched a
                # partition to its end just before the group's second rebalance, then waited)
                msg.acked = True
                back = msg.offset if due is None else due
                sought = self._seeking.get(tp)
                if due is None and sought is not None:  # no commit known yet: the earliest dropped
                    back = min(back, sought[0])
                holes[tp] = min(holes.get(tp, back), back)
                continue
            if due is not None and msg.offset > due:
                sought = self._seeking.get(tp)
                if sought is None or sought[0] != due or time.monotonic() - sought[1] < HOLE_GIVE_UP_SECONDS:
                    msg.acked = True
                    holes[tp] = due
                    continue
                # sought back long ago and the offset due never came: gone from the broker
                # (retention, a deleted topic re-created); nothing left to wait for
                log.warning("%s: offsets %d..%d are not on the broker; going on from %d", tp, due, msg.offset - 1,
                            msg.offset)
            self._next[tp] = msg.offset + 1
            self._came[tp] = time.monotonic()
            self._seeking.pop(tp, None)
            out.append(e)
        for tp, due in holes.items():
            if self._next.get(tp, due) > due:
                continue  # the message due came later in this batch
            sought = self._seeking.get(tp)
            if sought is None or sought[0] != due:
                self._seek_back(tp, due, "message %d did not come in this generation")
            # again after every batch that shows the hole: a message fetched before the seek
            # moves Faust's read offset past it again, and Faust then drops the copies fetched
            # after the seek as already read
            await self._seek(tp)
        return out

    def _first_due(self, tp: Any) -> int | None:
        """The offset due first in this generation: the group's committed offset as read from the
        broker at assignment (``_read_committed``), else as Faust knows it. Faust learns it only
        once recovery has resumed the partitions and sought them (``perform_seek``), and a
        message can reach an agent before that; with nothing known, that message — whatever its
        offset — was taken as the start, and if Faust had dropped the ones before it (it
        discards a fetch that straddles a generation change) they were skipped for good. (Issue
        8's rebalance bug turned out to be the commits, see ``_done``; this closes another way.)"""
        generation, start = self._start
        if generation == self.app.consumer_generation_id:
            off = start.get((tp.topic, tp.partition))
            if off is not None:
                return off
        return _committed(self.app.consumer, tp)

    async def _read_committed(self) -> None:
        """Read the group's committed offsets from the broker (a rebalance: agents are paused)."""
        generation = self.app.consumer_generation_id
        try:
            got = await asyncio.get_running_loop().run_in_executor(None, self._group_offsets)
        except Exception as e:  # noqa: BLE001 (the broker answers later: Faust's own view, as before)
            log.warning("could not read the group's committed offsets (%s: %s); relying on Faust's", type(e).__name__, e)
            got = {}
        self._start = (generation, got)

    def _group_offsets(self) -> dict[tuple[str, int], int]:
        from kafka.admin import KafkaAdminClient

        if self._admin is None:
            k = self.config.kafka
            self._admin = KafkaAdminClient(bootstrap_servers=k.bootstrap, client_id=f"{k.app_id}-offsets",
                                           request_timeout_ms=10_000, bootstrap_timeout_ms=10_000)
        group = self.config.kafka.app_id
        got = self._admin.list_group_offsets(group).get(group, {})  # kafka-python 3: {group: {tp: offset}}
        return {(tp.topic, tp.partition): om.offset for tp, om in got.items() if om.offset is not None and om.offset >= 0}

    def _seek_back(self, tp: Any, due: int, why: str) -> None:
        """Start fetching ``tp`` again from ``due`` (``_seek`` does it, and ``_reseek`` again
        until the message comes); ``why`` names the offset with %d."""
        self._seeking[tp] = [due, time.monotonic(), 0.0]
        self.metrics.refetched.inc()
        log.warning("%s: " + why + "; fetching again from it", tp, due)

    async def _seek(self, tp: Any) -> None:
        sought = self._seeking.get(tp)
        if sought is not None and self.app.consumer is not None:
            sought[2] = time.monotonic()
            # seek_wait, not seek: it runs on the consumer's thread between fetches (a plain seek
            # from here races the fetcher, which then crashes)
            await self.app.consumer.seek_wait({tp: sought[0]})

    async def _reseek(self) -> None:
        """Once a second: a hole sought back to whose message has still not come (Faust dropped
        the copies fetched after the seek, with nothing after them to show the hole) — seek again;
        and a stalled partition (``_stalled``) — seek back to the offset due."""
        now = time.monotonic()
        for tp, (_, _, last) in list(self._seeking.items()):
            if now - last >= 1.0:
                await self._seek(tp)
        for tp, due in self._stalled(now):
            self._seek_back(tp, due, f"nothing from offset %d on reached an agent in {STALL_SECONDS:.0f} s, "
                                     "and the broker has more")
            await self._seek(tp)

    def _stalled(self, now: float) -> list[tuple[Any, int]]:
        """Partitions whose messages stopped reaching their agent though the broker has more:
        dropped before ``_in_order`` could see them (Faust discards messages it fetched around a
        rebalance; when nothing after them is fetched in the new generation, no hole ever shows
        and the partition waits forever — seen once in ~14 two-worker rebalance runs)."""
        c = self.app.consumer
        if c is None or self._paused:
            return []
        generation = self.app.consumer_generation_id
        if self._watched[0] != generation:
            self._watched = (generation, now)
            return []
        idle = {self.events_topic.get_topic_name(): not self._busy["detect"].locked(),
                self.alerts_topic.get_topic_name(): not self._busy["respond"].locked()}
        parse_idle = not self._busy["parse"].locked() and (not self._parse_sends or self._parse_sends[-1].done())
        out = []
        for tp in c.assignment():
            if tp in self._seeking or now - max(self._came.get(tp, 0.0), self._watched[1]) < STALL_SECONDS:
                continue
            if not idle.get(tp.topic, parse_idle if tp.topic in self._raw_names else False):
                continue
            due = self._next.get(tp) if self._generation == generation else None
            if due is None:
                due = self._first_due(tp)
            hw = c.highwater(tp)
            if due is not None and isinstance(hw, int) and hw > due:
                out.append((tp, due))
        return out

    @staticmethod
    async def _put(table: Any, key: bytes, value: bytes | None, partition: int) -> None:
        """``table[key] = value`` with the changelog partition given (Faust would look it up in
        producer metadata it may not have fetched yet: a fresh worker, a rebalance) and sent
        straight to the producer. ``table[key] = value`` queues the changelog message in Faust's
        own buffer, and Faust's flush before an offset commit gives up on that buffer after
        0.1 s without progress: an offset could be committed while the state it led to was still
        queued, and a crash then loses that state. Sent like this, the flush covers it.
        ``value`` None deletes the key (a tombstone in the changelog)."""
        if value is None:
            table.data.pop(key, None)
        else:
            table.data[key] = value
        await table.changelog_topic.send(key=key, value=value, partition=partition,
                                         key_serializer=table.key_serializer,
                                         value_serializer=table.value_serializer,
                                         callback=table._on_changelog_sent)

    def _load_progress(self, stream: str, fid: str) -> list[Any] | None:
        raw = self.progress.get(_progress_key(stream, fid))
        return orjson.loads(raw) if raw else None

    # -- responder -----------------------------------------------------------
    def _pipeline(self) -> Any:
        if self.pipeline is None:
            from auditwatch.streams.embedded import Pipeline

            store_path = self.config.path(self.config.kafka.data_dir) / "responder.db"
            self.pipeline = Pipeline(self.config, store=Store(store_path), core=self.core, on_alert=self._on_own_alert)
        return self.pipeline

    def _on_own_alert(self, alert: Alert, _d: dict[str, Any]) -> None:
        """The responder's own alerts — a revocation that could not be delivered within its
        budget — go to the alerts topic like any other, for the dashboards and to be paged;
        called from the outbox's thread. The alerts the respond agent hands the pipeline come
        back here too: those are on the topic already."""
        if alert.alert_id not in self._responding:
            self._own_alerts.put(alert)

    async def _send_own_alerts(self) -> None:
        while not self._own_alerts.empty():
            alert = self._own_alerts.get_nowait()
            # its own incident: the revocation's incident was answered already, and this one
            # must be paged once, re-delivered or not
            alert.incident_id = alert.alert_id
            t = alert.time
            inc_d = {"incident_id": alert.incident_id, "opened": t, "updated": t, "severity": alert.severity,
                     "count": 1, "created": True}
            try:
                await self.alerts_topic.send(key=alert.identity.id.encode(),
                                             value=orjson.dumps(alert_to_wire(alert, inc_d, 0.0)))
            except Exception:
                # the next tick tries again (the local store has it meanwhile); raising here would
                # crash the timer, and with it the worker
                self._own_alerts.put(alert)
                log.exception("could not send the responder's own alert %s; will retry", alert.alert_id)
                return

    async def respond_batch(self, batch: list[Any]) -> None:
        """Answer a batch of alerts: every revocation and page is queued at once, then the
        revocations queued are waited for (``_revocations_sent``), and only then is each alert
        recorded as answered (the ``responded`` table, the responses topic)."""
        pipe = self._pipeline()
        recs: dict[bytes, dict[str, Any]] = {}  # identity key -> its answered-record as this batch leaves it
        changed: set[bytes] = set()
        said: list[tuple[bytes, bytes]] = []  # responses messages, sent once the records are
        revoking: list[str] = []
        for e in batch:
            key = e.key if isinstance(e.key, bytes) else str(e.key).encode()
            try:
                alert, inc_d = alert_from_wire(orjson.loads(e.value))
                _check_incident(inc_d)
            except (ValueError, orjson.JSONDecodeError, KeyError, TypeError, AssertionError, IndexError,
                    AttributeError) as err:
                self.metrics.dead.labels("respond").inc()
                await self.dead_topic.send(key=key, value=orjson.dumps({
                    "reason": f"undecodable alert message: {err}", "source": {"type": "kafka", "name":
                    f"{e.message.topic}[{e.message.partition}]@{e.message.offset}"}}))
                continue
            rec = recs.get(key)
            if rec is None:
                stored = self.responded.get(key)
                rec = recs[key] = orjson.loads(stored) if stored else {}
            iid = alert.incident_id
            done = rec.get(iid)
            count = int(inc_d.get("count") or 0)
            if done is not None and count <= int(done.get("done", 0)):
                self.metrics.responded.labels("duplicate").inc()
                continue  # answered before a crash or a rebalance: never a second page or revocation
            inc = self._incident(alert, inc_d, done)
            d = Decision(alerts=[alert], incidents=[(inc, bool(inc_d.get("created")) and done is None)])
            trigger: Event = alert.evidence[-1] if alert.evidence else _no_event(alert)
            revoked_before = inc.revoked
            self._responding.add(alert.alert_id)
            try:
                pipe.respond(d, trigger)
            finally:
                self._responding.discard(alert.alert_id)
            if inc.revoked and not revoked_before:
                revoking.append(iid)
            rec[iid] = {"done": count, "revoked": inc.revoked, "paged": inc.paged, "t": alert.time}
            if len(rec) > 64:  # keep the latest incidents of this identity
                for old in sorted(rec, key=lambda i: rec[i].get("t", 0))[:-64]:
                    del rec[old]
            changed.add(key)
            self.metrics.responded.labels("revoked" if inc.revoked else "answered").inc()
            said.append((iid.encode(), orjson.dumps({
                "incident_id": iid, "alert_id": alert.alert_id, "rule_id": alert.rule_id,
                "identity": alert.identity.brief(), "revoked": inc.revoked, "paged": inc.paged,
                "response": alert.response, "at": time.time()})))
        if revoking:
            await self._revocations_sent(pipe, revoking)
        for key in changed:
            await self._put(self.responded, key, orjson.dumps(recs[key]), self._partition_of(key.decode()))
        for k, v in said:
            await self.responses_topic.send(key=k, value=v)

    async def _revocations_sent(self, pipe: Any, incidents: list[str]) -> None:
        """Wait until the revocations a batch queued are acknowledged (or given up on), at most
        ``REVOKE_WAIT_SECONDS``, before its alerts are recorded as answered. The outbox is this
        worker's own file: a worker killed between queueing and delivery, and never started
        again, took the revocation with it while the record told the next owner "answered"
        (seen: one revocation missing in a two-worker kill -9 run). Unrecorded, the alerts are
        answered again by whoever holds the partition next, and the receiver de-duplicates on
        the webhook-id. A receiver that is down holds the agent this long once per batch; after
        it, those revocations are retried from this worker's outbox only (a warning says so)."""
        deadline = time.monotonic() + REVOKE_WAIT_SECONDS
        waiting = list(incidents)
        while waiting:
            waiting = [i for i in waiting if pipe.store.pending_revocations(i)]
            if not waiting:
                return
            if time.monotonic() >= deadline:
                log.warning("revocations of %s not acknowledged within %.0f s; they are retried from this "
                            "worker's outbox (%s) only", ", ".join(waiting), REVOKE_WAIT_SECONDS, pipe.store.uri)
                return
            await asyncio.sleep(0.005)

    def _incident(self, alert: Alert, inc_d: dict[str, Any], done: dict[str, Any] | None) -> Incident:
        iid = alert.incident_id
        inc = self.incidents.get(iid)
        if inc is None:
            inc = Incident(incident_id=iid, identity=alert.identity, opened=float(inc_d["opened"]),
                           updated=float(inc_d["updated"]), severity=inc_d["severity"],
                           revoked=bool(done and done.get("revoked")), paged=bool(done and done.get("paged")))
            self.incidents[iid] = inc
            if len(self.incidents) > MAX_INCIDENTS_IN_MEMORY:
                self.incidents.popitem(last=False)
        else:
            self.incidents.move_to_end(iid)
        inc.alerts.append(alert)
        if len(inc.alerts) > 50:
            del inc.alerts[10]
        inc.count = int(inc_d.get("count") or inc.count + 1)
        inc.updated = max(inc.updated, float(inc_d["updated"]))
        inc.severity = inc_d["severity"]
        return inc

    def _update_lag(self) -> None:
        c = self.app.consumer
        if c is None:
            return
        for tp in c.assignment():
            try:
                hw = c.highwater(tp)
                pos = c._last_offset.get(tp)
            except Exception:  # metrics must never break the worker
                continue
            if hw is not None and pos is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, hw - pos - 1))

    # -- running -------------------------------------------------------------
    def run(self, loglevel: str = "warn") -> None:
        """Run until SIGTERM/SIGINT (Faust's worker: graceful stop, final commit)."""
        from faust.worker import Worker as FaustWorker

        tune_gc()
        os.environ.setdefault("F_DATADIR", str(self.config.path(self.config.kafka.data_dir)))
        fw = FaustWorker(self.app, loglevel=loglevel, quiet=True)
        # Faust's start-up spinner sets the root logger to DEBUG so that every record turns it:
        # aiokafka and Faust then build a debug record for every request sent (measured: 4% of
        # the worker's time), and the log gets terminal escapes
        fw.spinner = None
        fw.execute_from_commandline()

    def close(self) -> None:
        if self.pipeline is not None:
            self.pipeline.close(drain_timeout=10.0)
        self.parser.close()
        if self._admin is not None:
            self._admin.close()


def _never_done(batch: list[Any]) -> None:
    """A batch an agent did not finish — cancelled at a stop while it waited for its lock (the
    stop holds it), or raised — must not count as done: Faust's ``take`` acknowledges every
    message of the batch it handed out when the agent lets go of it, however it let go, and the
    stop's final commit then went past messages no agent had processed (the two-worker SIGTERM
    runs that lost alerts). A message already marked acked is skipped by ``Consumer.ack``, so
    its offset is never committed; whoever holds the partition next starts before it."""
    for e in batch:
        e.message.acked = True


def _exit_for(died: ParseChildDied) -> NoReturn:
    """The parse process is gone, and the records its parsers held with it: exit now, as a kill -9
    would, before any offset, mark or slice past them is stored (a graceful stop commits). The
    next worker to hold these partitions starts from the last commit and the state stored with it."""
    log.critical("%s; the worker exits without committing past it", died)
    for h in logging.getLogger().handlers + log.handlers:
        h.flush()
    os._exit(70)


async def _acked(msgs: list[Any]) -> None:
    """Wait until the broker has acknowledged every message sent (a send only queues it)."""
    if msgs:
        await asyncio.gather(*msgs)


def _checked_row(w: Any, identity: Any = identity_from_wire) -> tuple[str, list[Any], tuple[Event, bool, float]]:
    """(identity id, row, decoded event) of one events row, or ValueError/TypeError/IndexError:
    the parts detection and the slices rely on, checked before any of them is used."""
    ev, late, sent = event_from_wire(w, identity)
    ident = w[8][0] if w[8] else ANONYMOUS
    if not isinstance(ident, str):
        raise TypeError(f"identity id is {type(ident).__name__}")
    if not isinstance(ev.time, (int, float)) or not isinstance(ev.observed_time, (int, float)):
        raise TypeError("event time is not a number")
    origin = w[11]
    if not (isinstance(origin, list) and len(origin) == 4 and isinstance(origin[0], str)
            and type(origin[1]) is int and type(origin[2]) is int and type(origin[3]) is int):
        raise ValueError(f"event origin {origin!r:.80} is not [file, offset, index, rank]")
    if ev.actor.session_id is not None and not isinstance(ev.actor.session_id, str):
        raise TypeError("session id is not a string")
    return ident, w, (ev, late, sent)


def _check_incident(inc: Any) -> None:
    """The parts of an alert's incident the responder reads."""
    if not isinstance(inc, dict):
        raise TypeError(f"incident is {type(inc).__name__}")
    float(inc["opened"])
    float(inc["updated"])
    if not isinstance(inc["severity"], str):
        raise TypeError("incident severity is not a string")
    int(inc.get("count") or 0)


def _progress_key(stream: str, fid: str) -> bytes:
    """One file's parse mark in the progress table (kept in its stream's partition)."""
    return f"{stream}\x1e{fid}".encode()


def _committed(consumer: Any, tp: Any) -> int | None:
    """The group's committed offset of ``tp`` as Faust read it at assignment (None: none yet)."""
    off = getattr(consumer, "_committed_offset", {}).get(tp)
    return off if isinstance(off, int) and off >= 0 else None


def _no_event(alert: Alert) -> Event:
    from auditwatch.model import Action, Actor, Resource

    return Event(event_id=alert.alert_id, time=alert.time, observed_time=time.time(),
                 source=SourceRef("kafka", "alerts"), actor=Actor(), action=Action(name=alert.rule_id),
                 resource=Resource())
