"""A worker's parse batches, run in a child process of their own (or in the worker itself).

Parsing and encoding are about a third of a worker's CPU (measured on the bench workload: ~31 µs
an event, against ~28 for decoding and detecting a batch) and Python runs one thread at a time:
with parse and detect in one process a worker used one core and stopped near 16,000 events/s. So
the parse stage (``ParseStage``: the parsers of the files followed, the file marks) lives in a
child process, and the worker's event loop sends it a batch of raw messages and gets back what
goes on: events messages already encoded for their partitions, dead letters, the file marks to
store. While the child parses one batch, the worker sends the one before and detects.

The child is the only holder of the parse state, as the stage was before: batches go to it one
at a time and in order, and a rebalance's ``forget`` goes the same way. It cannot read the
worker's Faust table, so the worker looks up each file's saved mark the first time a batch
names the file (since the last ``forget``) and sends it along — what ``ParseStage`` asks its
``load`` for, once per file.

If the child dies (killed, out of memory) the parse state went with it and a batch was not
done; the worker exits at once (``ParseChildDied``), as if killed, rather than store or commit
anything past records the child held.
Nothing is lost: that batch's offsets were not committed, and the next worker to hold the
partitions starts from the last commit and the marks stored with it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka.partitioner import DefaultPartitioner

from auditwatch.config import Config
from auditwatch.core import Core
from auditwatch.model import SourceRef
from auditwatch.streams.scaleout.gctune import tune_gc
from auditwatch.streams.scaleout.parse import ParseStage
from auditwatch.streams.scaleout.wire import encode_events, event_to_wire
from auditwatch.streams.sources.base import DeadLetter

# a parse batch's events for one partition of the events topic travel together (Faust's cost is
# per message), in messages well under Kafka's 1 MB default (an event is 0.3-1 KB on the wire)
EVENTS_PER_MESSAGE = 500
# ... and never over this: the producer refuses a bigger message (max_request_size 1 MB), and a
# refused send crashes the agent and loses its batch. One event can be near this (a huge statement)
MAX_MESSAGE_BYTES = 900 * 1024
ANONYMOUS = "anonymous"

FileKey = tuple[str, str]  # (stream, file id)


def key_partition(key: bytes, n: int) -> int:
    return int(DefaultPartitioner()(key, list(range(n)), list(range(n))))


class Partitions:
    """Identity -> events partition, the producer's hash, remembered."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._of: dict[str, int] = {}

    def __call__(self, ident: str) -> int:
        p = self._of.get(ident)
        if p is None:
            if len(self._of) > 200_000:
                self._of.clear()
            p = self._of[ident] = key_partition(ident.encode(), self.n)
        return p


@dataclass(slots=True)
class ParsedBatch:
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # (events partition, events message)
    dead: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, dead letter JSON)
    events: int = 0
    repeats: int = 0  # raw chunks seen before (dropped)
    raw: int = 0
    reached: list[float] = field(default_factory=list)  # produce time of each chunk that made events
    marks: list[tuple[str, str, list[Any] | None]] = field(default_factory=list)  # (stream, fid, mark) to store


def parse_values(stage: ParseStage, values: Iterable[tuple[bytes, str]], partition_of: Partitions,
                 marks: dict[FileKey, list[Any] | None]) -> ParsedBatch:
    """One parse batch: ``values`` are (raw message, where it was read) in order; ``marks`` the
    saved marks of files the stage may not know yet."""
    out = ParsedBatch()
    groups: dict[int, list[list[Any]]] = {}
    rep0 = stage.repeats
    load = marks.get

    def load_mark(stream: str, fid: str) -> list[Any] | None:
        return load((stream, fid))

    dead: list[DeadLetter] = []
    for value, where in values:
        out.raw += 1
        evs, dls, fid = stage.chunk(value, where, load_mark)
        if evs and evs[0][2]:
            out.reached.append(evs[0][2])
        dead += dls
        ranks: dict[tuple[int, int], int] = {}
        for ev, late, sent in evs:
            part = partition_of(ev.identity.id if ev.identity is not None else ANONYMOUS)
            where_ = (ev.source.offset or 0, ev.source.index or 0)
            rank = ranks[where_] = ranks.get(where_, -1) + 1
            groups.setdefault(part, []).append(event_to_wire(ev, late, sent, [fid, where_[0], where_[1], rank]))
            out.events += 1
    for part, rows in groups.items():
        for i in range(0, len(rows), EVENTS_PER_MESSAGE):
            values_, too_big = events_messages(rows[i:i + EVENTS_PER_MESSAGE])
            out.messages += [(part, v) for v in values_]
            dead += too_big
    out.dead = [(dl.source.name.encode(), orjson.dumps(dl.to_dict())) for dl in dead]
    out.repeats = stage.repeats - rep0
    out.marks = stage.take_dirty()
    return out


def events_messages(rows: list[list[Any]], limit: int = MAX_MESSAGE_BYTES) -> tuple[list[bytes], list[DeadLetter]]:
    """``rows`` as events messages of at most ``limit`` bytes each (halved until they fit); an
    event too big to travel alone is a dead letter, with its source and the start of its row."""
    value = encode_events(rows)
    if len(value) <= limit:
        return [value], []
    if len(rows) == 1:
        w = rows[0]
        s = w[4]
        src = SourceRef(s[0], s[1], s[2], s[3], s[4])
        return [], [DeadLetter(f"event of {len(value)} bytes is over the events topic's message limit ({limit})",
                               src, value[:4096].decode("utf-8", "replace"))]
    half = len(rows) // 2
    a, da = events_messages(rows[:half], limit)
    b, db = events_messages(rows[half:], limit)
    return a + b, da + db


def file_key(value: bytes) -> FileKey | None:
    """(stream, file id) a raw message is from, as ``ParseStage`` derives them; None for a
    message without a readable header (the stage dead-letters it)."""
    head, sep, _ = value.partition(b"\n")
    if not sep:
        return None
    try:
        meta = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(meta, dict) or not meta.get("path"):
        return None
    path = str(meta["path"])
    return str(meta.get("stream") or path), f"{path}\x1f{meta.get('inode', '')}"


class ParseChildDied(RuntimeError):
    pass


class Parser:
    """The parse stage as the worker drives it; ``child``: in a process of its own."""

    def __init__(self, core: Core, partitions: int, *, child: bool) -> None:
        """``core``: the worker's own; in this process the stage parses with it, and a child
        builds its own from ``core.config``."""
        self._asked: set[FileKey] = set()  # files whose saved mark went along since the last forget
        self._pool: ProcessPoolExecutor | None = None
        self._ping: Future[bool] | None = None  # ``check``'s last
        if child:
            # spawn, not fork: the worker has threads (aiokafka's, the outbox's) by the time a
            # child would be forked again, and a forked lock held by one of them never opens
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_child_init, initargs=(core.config, partitions))
            self._pool.submit(_child_ready).result()  # started and imported before the first batch
            _widen_pipes(self._pool)
        else:
            self._stage = ParseStage(core)
            self._partitions = Partitions(partitions)

    @property
    def in_child(self) -> bool:
        return self._pool is not None

    def marks_for(self, values: Iterable[bytes], load: Any) -> dict[FileKey, list[Any] | None]:
        """The saved marks of the files in ``values`` not asked for since the last forget."""
        out: dict[FileKey, list[Any] | None] = {}
        for v in values:
            k = file_key(v)
            if k is not None and k not in self._asked:
                self._asked.add(k)
                out[k] = load(*k)
        return out

    def submit(self, values: list[tuple[bytes, str]],
               marks: dict[FileKey, list[Any] | None]) -> asyncio.Future[ParsedBatch]:
        """Start parsing a batch; batches are parsed in the order submitted. The future fails
        with ``ParseChildDied`` if the child is gone."""
        loop = asyncio.get_running_loop()
        if self._pool is None:
            done: asyncio.Future[ParsedBatch] = loop.create_future()
            try:
                done.set_result(parse_values(self._stage, values, self._partitions, marks))
            except Exception as e:  # noqa: BLE001 (raised where the agent awaits it, as before)
                done.set_exception(e)
            return done
        try:
            running = loop.run_in_executor(self._pool, _child_batch, values, marks)
        except BrokenProcessPool as e:
            running = loop.create_future()
            running.set_exception(e)
        return asyncio.ensure_future(_child_result(running))

    def check(self) -> None:
        """Raise ``ParseChildDied`` once the child is found gone; call it every second or so.
        A batch finds a dead child only when the worker next has one for it: a child killed
        while the worker had parsed all there was went unnoticed, and the worker went on
        detecting without a parser (seen in CI). So a ping waits in the child's queue: the
        pool fails it the moment its process dies."""
        if self._pool is None:
            return
        ping = self._ping
        if ping is not None and ping.done() and not ping.cancelled() and isinstance(ping.exception(), BrokenProcessPool):
            raise ParseChildDied(f"the parse process died: {ping.exception()}")
        if ping is None or ping.done():
            try:
                self._ping = self._pool.submit(_child_ready)
            except BrokenProcessPool as e:
                raise ParseChildDied(f"the parse process died: {e}") from e

    async def forget(self) -> None:
        self._asked.clear()
        if self._pool is None:
            self._stage.forget()
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, _child_forget)
        except BrokenProcessPool as e:
            raise ParseChildDied(f"the parse process died: {e}") from e

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _widen_pipes(pool: ProcessPoolExecutor, want: int = 1 << 20) -> None:
    """A parse batch is ~3.6 MB of raw chunks in and ~1.5 MB of events out; through Linux's
    default 64 KB pipe that is ~80 hand-overs between a worker thread (which needs the GIL
    for each, from a busy event loop) and the child. Pipes of 1 MB make it a few. Best effort:
    the queues are the pool's own attributes, and the size is capped by fs.pipe-max-size."""
    try:
        import fcntl

        cap = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        for q, end in (("_call_queue", "_writer"), ("_result_queue", "_reader")):
            conn = getattr(getattr(pool, q, None), end, None)
            if conn is not None:
                fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), min(want, cap))
    except (OSError, ValueError, ImportError):
        pass


async def _child_result(running: asyncio.Future[ParsedBatch]) -> ParsedBatch:
    try:
        return await running
    except BrokenProcessPool as e:
        raise ParseChildDied(f"the parse process died: {e}") from e


# -- in the child -----------------------------------------------------------------
_STAGE: ParseStage | None = None
_PARTITIONS: Partitions | None = None


def _child_init(config: Config, partitions: int) -> None:
    global _STAGE, _PARTITIONS
    # Ctrl-C in a terminal reaches the whole process group: the worker decides when to stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(os.getppid())
    _STAGE = ParseStage(Core(config))
    _PARTITIONS = Partitions(partitions)
    tune_gc()


def _die_with(parent: int) -> None:
    """Exit when the worker is gone: a worker killed with SIGKILL cannot stop its child, and
    the child, waiting on its work queue, would wait forever (seen: orphans left by kill -9)."""
    try:  # Linux: the kernel sends the signal the moment the parent dies
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

    def watch() -> None:  # elsewhere, and in case the parent died before the prctl
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_ready() -> bool:
    return _STAGE is not None


def _child_batch(values: list[tuple[bytes, str]], marks: dict[FileKey, list[Any] | None]) -> ParsedBatch:
    assert _STAGE is not None and _PARTITIONS is not None
    return parse_values(_STAGE, values, _PARTITIONS, marks)


def _child_forget() -> None:
    assert _STAGE is not None
    _STAGE.forget()
