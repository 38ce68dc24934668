"""The shipper: follow audit-log files and produce their bytes to the raw topics.

Files are not parsed here, only framed: a file is either whole JSON documents
(CloudTrail's S3 delivery: one message per file, its bytes as on disk) or lines
(PostgreSQL, MariaDB, JSON lines: chunks of whole lines, never a line split).
Parsing happens in the workers, so the shipper stays cheap enough to run next
to the database. A message's key is its stream (the file's folder, or the
source's ``name``): one stream's files stay in order on one partition.

Delivery guarantee: at-least-once. A file's position (inode, byte offset,
line) is written to the state file only after the broker has acknowledged
every message up to it (``acks=all``), atomically (tmp + rename). A crash
between the broker's ack and the state write re-ships at most the chunks sent
since the last state write; each chunk carries its (path, offset), which lets
the worker drop a repeat. Nothing is skipped silently: a line longer than
``ship_chunk_bytes`` or a document over ``ship_max_message_bytes`` becomes a
dead-letter record (reason and position) on the deadletter topic, and only
then does the position move past it.

Broker outages never stop the shipper: it warns once per outage, backs off
(0.2 s doubling to 5 s), rebuilds the producer, re-creates the topics (a
memory-only broker forgets them on restart; creation is idempotent) and
re-sends from the last acknowledged position.

Following: rotation (a new file at the path) drains the old file through its
open descriptor before the new one starts at 0; truncation (size below the
position, or the first 64 bytes changed) starts again at 0; a partial last line
waits for its newline (``run_once`` ships it as the last line: the rest of that
line, written later, arrives as a line of its own). A file renamed inside a
watched folder keeps its position (files are tracked by inode). A gzip file
that fits in one message travels as one document, as on disk; a larger one is
decompressed and shipped as lines; either once. Documents and gzip files are
shipped in follow mode only after their size and mtime held still for one poll,
so a file still being written is not shipped half. A folder's file that has been
quiet for a minute gives its descriptor back (folders of thousands of files);
if it is then renamed out of every watched folder and written within the same
poll, that last write is not seen.
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import orjson
from kafka.errors import KafkaError

from auditwatch.config import Config, KafkaConfig, SourceConfig
from auditwatch.errors import ConfigError
from auditwatch.model import SourceRef
from auditwatch.streams.reader import HEAD_BYTES, framing
from auditwatch.streams.scaleout.topics import create_topics, raw_topic
from auditwatch.streams.scaleout.wire import encode_raw
from auditwatch.streams.sources.base import DeadLetter
from auditwatch.streams.sources.detect import canonical

log = logging.getLogger("auditwatch.ship")

POLL_SECONDS = 0.15
READ_MAX = 4 * 1024 * 1024  # read per file per cycle: a backlog is shipped in slices
CYCLE_BUDGET = 16 * 1024 * 1024  # read per cycle over all files: bounds memory
HEADER_ROOM = 8 * 1024  # the JSON header in front of a chunk (the path is most of it)
HEAD_CHECK = 64  # a file whose first bytes change was truncated and rewritten
IDLE_CLOSE_SECONDS = 60.0  # a quiet file in a folder gives its descriptor back
BACKOFF_MIN, BACKOFF_MAX = 0.2, 5.0
GZIP_MAGIC = b"\x1f\x8b"


class Producer(Protocol):
    def send(self, topic: str, value: bytes | None = None, key: bytes | None = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self, timeout: float | None = None) -> None: ...


ProducerFactory = Callable[[KafkaConfig], Producer]


def kafka_producer(cfg: KafkaConfig, ack_timeout_s: float = 10.0) -> Producer:
    """kafka-python's producer, with every wait bounded by ``ack_timeout_s``.

    Unacknowledged records expire within the timeout (``delivery_timeout_ms``),
    so a flush always resolves every send and ``close`` never hangs on a dead
    broker. Topics are never auto-created: only ``create_topics`` sets their
    partition counts.
    """
    from kafka import KafkaProducer

    ack_ms = max(1000, int(ack_timeout_s * 1000))
    request_ms = max(500, ack_ms // 2)
    return KafkaProducer(  # type: ignore[no-any-return]
        bootstrap_servers=cfg.bootstrap, client_id="auditwatch-ship", acks="all",
        compression_type=None if cfg.compression == "none" else cfg.compression,
        linger_ms=cfg.producer_linger_ms, batch_size=256 * 1024,
        max_request_size=cfg.ship_max_message_bytes + 64 * 1024,
        request_timeout_ms=request_ms,
        delivery_timeout_ms=max(ack_ms, request_ms + cfg.producer_linger_ms),
        max_block_ms=ack_ms, bootstrap_timeout_ms=min(ack_ms, 3000), allow_auto_create_topics=False)


@dataclass
class ShipStats:
    """What the broker acknowledged, and how often it was not there."""

    files: int = 0  # files followed now
    chunks: int = 0
    lines: int = 0
    documents: int = 0
    bytes: int = 0  # payload bytes acknowledged
    dead_letters: int = 0
    retries: int = 0  # cycles that failed on the broker
    outages: int = 0  # distinct periods without a broker

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class _Msg(NamedTuple):
    """One message and the file position it commits once acknowledged."""

    topic: str | None  # None: nothing to send, only the position moves (inside a skipped line)
    key: bytes
    value: bytes
    after: dict[str, Any]  # _File fields to set once this message and all before it are acked
    kind: str  # chunk | document | dead | skip
    lines: int = 0
    nbytes: int = 0


@dataclass
class _File:
    """One file being shipped, tracked by identity (device, inode), named by its current path."""

    path: str
    src: SourceConfig
    ident: tuple[int, int]
    member: bool  # found by listing a folder (may give its descriptor back when idle)
    offset: int = 0  # acknowledged byte position (decompressed for .gz)
    line: int = 0  # lines acknowledged: the next chunk starts at line + 1
    skipping: bool = False  # inside a line over the chunk limit, already dead-lettered
    fmt: str = ""  # decided once from the first bytes
    kind: str = ""  # document | lines | unknown
    gz: bool = False
    done: bool = False  # whole-file kinds: shipped
    shipped: tuple[int, int] = (0, 0)  # whole-file kinds: (size, mtime_ns) that was shipped
    head: bytes = b""
    seen: tuple[int, int] = (-1, -1)  # (size, mtime_ns) at the previous poll: settled if unchanged
    settled: bool = False
    quiet: tuple[int, int] | None = None  # closed at this (size, mtime): idle until it changes
    reachable: bool = True  # a listed path leads to it; if not, it is drained and dropped
    fd: int | None = None
    gzr: _GzReader | None = None
    last_data: float = field(default_factory=time.monotonic)

    @property
    def whole(self) -> bool:
        return self.gz or self.kind == "document"

    def entry(self) -> dict[str, Any]:
        e: dict[str, Any] = {"inode": self.ident[1], "offset": self.offset, "line": self.line,
                             "format": self.fmt, "kind": self.kind, "head": self.head.hex()}
        if self.skipping:
            e["skipping"] = True
        if self.whole:
            e |= {"size": self.shipped[0], "mtime": self.shipped[1], "done": self.done}
        return e

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.gzr is not None:
            self.gzr.close()
            self.gzr = None


class _GzReader:
    """Decompressed bytes of a .gz file by position; a truncated stream yields what it holds."""

    def __init__(self, fd: int) -> None:
        # its own descriptor on the file already open: the same file even if renamed since
        self._raw = os.fdopen(os.dup(fd), "rb")
        self._gz = gzip.GzipFile(fileobj=self._raw)
        self.pos = 0

    def read_at(self, offset: int, n: int) -> tuple[bytes, bool, str]:
        """(bytes, reached the end, error that ended the stream or "")."""
        parts: list[bytes] = []
        got = 0
        try:
            if offset != self.pos:
                self.pos = offset
                self._gz.seek(offset)  # after a failed send: rewinds by decompressing again
            while got < n:
                b = self._gz.read(min(64 * 1024, n - got))
                if not b:
                    return self._took(b"".join(parts)), True, ""
                parts.append(b)
                got += len(b)
        except (OSError, EOFError, zlib.error) as e:
            return self._took(b"".join(parts)), True, f"{type(e).__name__}: {e}"
        return self._took(b"".join(parts)), False, ""

    def _took(self, data: bytes) -> bytes:
        self.pos += len(data)
        return data

    def close(self) -> None:
        self._gz.close()
        self._raw.close()


class StateFile:
    """The acknowledged positions, one JSON entry per file path, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written = b""

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            self._written = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            d = orjson.loads(self._written)
        except orjson.JSONDecodeError as e:
            # the write is atomic, so this is not our own torn write: refuse rather than re-ship all
            raise ValueError(f"{self.path}: not a shipper state file: {e}") from None
        return {str(k): v for k, v in d.get("files", {}).items()} if isinstance(d, dict) else {}

    def save(self, files: dict[str, dict[str, Any]]) -> None:
        data = orjson.dumps({"version": 1, "files": files}, option=orjson.OPT_SORT_KEYS)
        if data == self._written:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._written = data


class Shipper:
    """Follows ``paths`` (files or folders; ``config.sources`` when None) into the raw topics.

    ``stats`` counts what the broker acknowledged. ``producer_factory`` builds
    the producer again after an outage (default: ``kafka_producer``).
    """

    def __init__(self, config: Config, paths: list[SourceConfig] | None = None,
                 producer_factory: ProducerFactory | None = None, ack_timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.kcfg = config.kafka
        self.sources = list(paths) if paths else list(config.sources)
        for src in self.sources:
            try:
                canonical(src.format)
            except ValueError as e:
                raise ConfigError(f"source {src.path}: {e}") from None
        self.ack_timeout_s = ack_timeout_s
        self._factory: ProducerFactory = (producer_factory
                                          or (lambda c: kafka_producer(c, ack_timeout_s)))
        self._clock = clock
        self.stats = ShipStats()
        self.state = StateFile(config.path(self.kcfg.ship_state))
        self._saved = self.state.load()
        self._by_inode = {int(e.get("inode", -1)): e for e in self._saved.values()}
        self.files: dict[tuple[int, int], _File] = {}
        self._producer: Producer | None = None
        self._down_since: float | None = None
        self._backoff = 0.0
        self._warned: set[str] = set()
        self._dirty = False
        # the JSON header in front of a chunk must fit in one message as well
        most = self.kcfg.ship_max_message_bytes
        self.chunk_limit = min(self.kcfg.ship_chunk_bytes, most - min(HEADER_ROOM, most // 2))

    # -- running -------------------------------------------------------------------
    def run_once(self, timeout_s: float | None = None, stop: threading.Event | None = None) -> bool:
        """Ship everything the files hold now (partial last lines too) and wait for the acks.

        True when all of it was acknowledged; False if ``timeout_s`` passed or
        ``stop`` was set first (the state file holds what was acknowledged).
        """
        stop = stop or threading.Event()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                ok, more = self._cycle(final=True)
                if ok and not more:
                    return True
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                if not ok and stop.wait(self._backoff):
                    return False
                if stop.is_set():
                    return False
        finally:
            self.close()

    def run_forever(self, stop: threading.Event) -> None:
        """Follow the files until ``stop`` is set; every cycle ends acknowledged and saved."""
        try:
            while not stop.is_set():
                ok, more = self._cycle(final=False)
                if ok and more:
                    continue
                stop.wait(POLL_SECONDS if ok else self._backoff)
        finally:
            self.close()

    def close(self) -> None:
        self._close_producer()
        for f in self.files.values():
            f.close()

    # -- one cycle: scan, read, send, wait for acks, commit, save -----------------------
    def _cycle(self, final: bool) -> tuple[bool, bool]:
        """(everything sent was acknowledged, a file has more to read than one cycle takes)."""
        if self._producer is None and not self._connect():
            return False, True
        producer = self._producer
        assert producer is not None
        self._scan()
        sent: list[tuple[_File, list[_Msg], list[Any]]] = []
        more = False
        budget = CYCLE_BUDGET
        error: BaseException | None = None
        try:
            # a rotated-away file's rest goes before its successor, which shares its key
            for f in sorted(self.files.values(), key=lambda f: f.reachable):
                if budget <= 0:
                    more = True
                    break
                msgs, m, used = self._plan(f, final or not f.reachable)
                more |= m
                budget -= used
                futs: list[Any] = []
                sent.append((f, msgs, futs))
                for msg in msgs:
                    futs.append(None if msg.topic is None
                                else producer.send(msg.topic, key=msg.key, value=msg.value))
            # every send resolves within the delivery timeout: acknowledged, or failed
            producer.flush(timeout=self.ack_timeout_s + 5.0)
        except (KafkaError, OSError) as e:
            error = e
        error = self._commit(sent) or error
        if error is not None:
            self._outage(error)
            self._save()
            return False, True
        if self._down_since is not None:
            log.warning("Kafka at %s acknowledging again after %.1fs: re-sent from the last "
                        "acknowledged positions", self.kcfg.bootstrap,
                        time.monotonic() - self._down_since)
            self._down_since = None
        self._backoff = 0.0
        self._retire()
        self._save()
        return True, more

    def _commit(self, sent: list[tuple[_File, list[_Msg], list[Any]]]) -> BaseException | None:
        """Move each file's position over its acknowledged prefix; the first failure, if any."""
        failure: BaseException | None = None
        for f, msgs, futs in sent:
            for msg, fut in zip(msgs, futs, strict=False):
                if fut is not None and not (fut.is_done and fut.succeeded()):
                    if fut.is_done and failure is None:
                        failure = fut.exception
                    break
                for k, v in msg.after.items():
                    setattr(f, k, v)
                self._count(msg)
                self._dirty = True
            if len(futs) < len(msgs) and failure is None:
                failure = RuntimeError("send interrupted")
        return failure

    def _count(self, msg: _Msg) -> None:
        s = self.stats
        if msg.kind == "chunk":
            s.chunks += 1
            s.lines += msg.lines
        elif msg.kind == "document":
            s.documents += 1
        elif msg.kind == "dead":
            s.dead_letters += 1
        s.bytes += msg.nbytes

    # -- the broker --------------------------------------------------------------------
    def _connect(self) -> bool:
        # a RuntimeError from create_topics (topics smaller than configured) is a
        # configuration error, not an outage: it goes up to the caller
        try:
            self._producer = self._factory(self.kcfg)
            create_topics(self.kcfg, timeout_s=self.ack_timeout_s)
        except (KafkaError, OSError) as e:  # unreachable broker, unknown host, timeouts
            self._outage(e)
            return False
        return True

    def _outage(self, e: BaseException) -> None:
        self.stats.retries += 1
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.stats.outages += 1
            why = str(e) if str(e).startswith(type(e).__name__) else f"{type(e).__name__}: {e}"
            log.warning("Kafka at %s did not acknowledge (%s): positions held, retrying with "
                        "backoff up to %.0fs", self.kcfg.bootstrap, why, BACKOFF_MAX)
        self._close_producer()
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))

    def _close_producer(self) -> None:
        p, self._producer = self._producer, None
        if p is None:
            return
        try:
            p.close(timeout=1.0)
        except (KafkaError, OSError) as e:  # records still pending: never acked, so sent again
            log.debug("producer close: %s", e)

    # -- which files -------------------------------------------------------------------
    def _listing(self) -> list[tuple[str, SourceConfig, bool]]:
        out: list[tuple[str, SourceConfig, bool]] = []
        for src in self.sources:
            p = os.path.abspath(self.config.path(src.path))
            if os.path.isdir(p):
                try:
                    names = sorted(os.listdir(p))
                except OSError as e:
                    self._warn_once(p, f"cannot list {p}: {e}")
                    continue
                # dot files are editors' and downloaders' temporaries, and our own state
                out += [(os.path.join(p, n), src, True) for n in names if not n.startswith(".")]
            else:
                out.append((p, src, False))  # may not exist yet: shipped when it appears
        return out

    def _scan(self) -> None:
        for f in self.files.values():
            f.reachable = False
        state_path = os.path.abspath(self.state.path)
        for path, src, member in self._listing():
            if path == state_path:
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            ident = (st.st_dev, st.st_ino)
            f = self.files.get(ident)
            if f is None:
                f = self.files[ident] = self._resume(_File(path, src, ident, member))
                self._dirty = True
            elif f.path != path:
                f.path, self._dirty = path, True  # renamed (rotated into a watched folder)
            f.reachable = True
            sig = (st.st_size, st.st_mtime_ns)
            f.settled, f.seen = sig == f.seen, sig
        self.stats.files = sum(f.reachable for f in self.files.values())

    def _resume(self, f: _File) -> _File:
        """Continue from the saved position if it is this very file (inode and first bytes)."""
        saved = self._saved.get(f.path)
        if saved is None or int(saved.get("inode", -1)) != f.ident[1]:
            saved = self._by_inode.get(f.ident[1])  # renamed while we were down
        if not saved:
            return f
        head = bytes.fromhex(str(saved.get("head", "")))
        try:
            with open(f.path, "rb") as fh:
                same = fh.read(len(head)) == head
        except OSError:
            return f
        if not same:
            return f
        f.offset, f.line = int(saved.get("offset", 0)), int(saved.get("line", 0))
        f.skipping = bool(saved.get("skipping", False))
        f.fmt, f.kind, f.head = str(saved.get("format", "")), str(saved.get("kind", "")), head
        f.gz = head[:2] == GZIP_MAGIC
        f.done = bool(saved.get("done", False))
        f.shipped = (int(saved.get("size", 0)), int(saved.get("mtime", 0)))
        if f.done:
            f.quiet = f.shipped  # not opened again unless it changes
        return f

    def _retire(self) -> None:
        """Drop files no path leads to once their rest is shipped; give descriptors back that
        are not needed (whole files shipped, quiet files in a folder)."""
        now = time.monotonic()
        for ident, f in list(self.files.items()):
            if f.fd is None and f.gzr is None:
                if not f.reachable:
                    del self.files[ident]
                continue
            drained = f.done if f.whole else f.fd is None or f.offset >= os.fstat(f.fd).st_size
            if not f.reachable and drained:
                f.close()
                del self.files[ident]
            elif f.done or (f.member and drained and now - f.last_data > IDLE_CLOSE_SECONDS):
                f.close()
                f.quiet = f.seen

    def _save(self) -> None:
        if self._dirty:
            self.state.save({f.path: f.entry() for f in self.files.values() if f.reachable})
            self._dirty = False

    def _warn_once(self, key: str, msg: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", msg)

    # -- what to send for one file -------------------------------------------------------
    def _plan(self, f: _File, final: bool) -> tuple[list[_Msg], bool, int]:
        """(messages, more to read, bytes read) for one file; a read error costs this file only."""
        try:
            return self._plan_file(f, final)
        except OSError as e:
            self._warn_once(f.path, f"cannot read {f.path}: {e}")
            f.close()
            return [], False, 0

    def _plan_file(self, f: _File, final: bool) -> tuple[list[_Msg], bool, int]:
        if f.fd is None and f.gzr is None:
            if f.reachable and f.seen == f.quiet:
                return [], False, 0
            if not self._open(f):
                return [], False, 0
        if f.reachable:
            size, mtime = f.seen
        else:  # rotated away: what its descriptor still reads
            size, mtime = (os.fstat(f.fd).st_size if f.fd is not None else 0), 0
        if f.reachable and self._rewritten(f, size, mtime):
            log.info("%s was truncated or rewritten: shipping it again from the start", f.path)
            f.close()
            f.offset = f.line = 0
            f.skipping = f.done = False
            f.fmt = f.kind = ""
            f.head = b""
            self._dirty = True
            if not self._open(f):
                return [], False, 0
        if f.done or (f.gz and not final and not f.settled):
            return [], False, 0
        if not f.kind and not self._decide(f, final, size):
            return [], False, 0
        if f.kind == "document":
            return self._plan_document(f, final, size, mtime)
        return self._plan_lines(f, final, size, mtime)

    def _open(self, f: _File) -> bool:
        fd = os.open(f.path, os.O_RDONLY)
        if os.fstat(fd).st_ino != f.ident[1]:
            os.close(fd)  # replaced between the scan and now: the next scan sees the new file
            return False
        f.fd = fd
        if not f.head:
            f.head = os.pread(fd, HEAD_CHECK, 0)
        return True

    def _rewritten(self, f: _File, size: int, mtime: int) -> bool:
        if f.done:
            return (size, mtime) != f.shipped
        if f.gz:
            return False  # shipped whole once settled: a change before is still its first write
        if size < f.offset:
            return True
        assert f.fd is not None
        now = os.pread(f.fd, HEAD_CHECK, 0)
        if len(f.head) < HEAD_CHECK and now[:len(f.head)] == f.head:
            f.head = now  # still growing into its first bytes
            return False
        return now[:len(f.head)] != f.head

    def _decide(self, f: _File, final: bool, size: int) -> bool:
        """Framing from the first bytes, once they are enough to tell (a line, 64 KB, or a
        settled file).

        A gzip file that fits in one message travels as one document, compressed as on
        disk: the worker reads it as ``replay`` would (documents and lines alike), and a
        one-line CloudTrail file, which ``framing`` calls lines, arrives byte-identical.
        Larger gzip files are decompressed and shipped as lines.
        """
        assert f.fd is not None
        f.gz = os.pread(f.fd, 2, 0) == GZIP_MAGIC
        if f.gz:
            if not final and not f.settled:
                return False
            r = f.gzr = f.gzr or _GzReader(f.fd)
            head, _, err = r.read_at(0, HEAD_BYTES)
            # a gzip that yields nothing: its error is dead-lettered by the worker or by _plan_lines
            f.fmt, f.kind = framing(head, f.src.format) if head or not err else ("unknown", "lines")
            if size <= self.kcfg.ship_max_message_bytes:
                f.kind = "document"
                r.close()
                f.gzr = None
        else:
            head = os.pread(f.fd, HEAD_BYTES, 0)
            if not head or (not final and not f.settled and b"\n" not in head
                            and len(head) < HEAD_BYTES):
                return False
            f.fmt, f.kind = framing(head, f.src.format)
        self._dirty = True
        return True

    def _meta(self, f: _File, kind: str, line: int, offset: int, tail: bool) -> dict[str, Any]:
        # the inode tells the worker a rotated file (a new inode at offset 0) from a re-sent chunk
        return {"path": _text(f.path), "inode": f.ident[1], "format": f.fmt, "kind": kind, "line": line,
                "offset": offset, "tail": tail, "environment": f.src.environment,
                "stream": _text(self._stream(f)), "sent": self._clock()}

    def _stream(self, f: _File) -> str:
        return f.src.name or os.path.dirname(f.path)

    def _key(self, f: _File) -> bytes:
        return os.fsencode(self._stream(f))

    def _dead(self, f: _File, reason: str, line: int, offset: int, raw: bytes,
              after: dict[str, Any]) -> _Msg:
        where = SourceRef(f.fmt or "unknown", _text(f.path), line=line, offset=offset)
        dl = DeadLetter(reason, where, raw[:4096].decode("utf-8", "backslashreplace"))
        value = orjson.dumps(dl.to_dict() | {"stage": "ship", "stream": _text(self._stream(f)),
                                              "environment": f.src.environment,
                                              "sent": self._clock()})
        log.warning("%s:%d (offset %d): %s: dead-lettered", f.path, line, offset, reason)
        return _Msg(self.kcfg.topic("deadletter"), self._key(f), value, after, "dead")

    def _plan_document(self, f: _File, final: bool, size: int,
                       mtime: int) -> tuple[list[_Msg], bool, int]:
        if not final and not f.settled:
            return [], False, 0  # still being written, perhaps
        done = {"done": True, "shipped": (size, mtime), "offset": size, "line": 1}
        limit = self.kcfg.ship_max_message_bytes
        assert f.fd is not None
        if size > limit:
            if f.gz:  # the reason is read by people: show them text
                r = _GzReader(f.fd)
                head = r.read_at(0, 4096)[0]
                r.close()
            else:
                head = os.pread(f.fd, 4096, 0)
            return [self._dead(f, f"document of {size} bytes over ship_max_message_bytes ({limit})",
                               1, 0, head, done)], False, 0
        data = os.pread(f.fd, size, 0)
        meta = self._meta(f, "document", 1, 0, True) | {"gzip": f.gz}
        msg = _Msg(raw_topic(self.kcfg, f.fmt), self._key(f), encode_raw(meta, data), done,
                   "document", nbytes=len(data))
        return [msg], False, len(data)

    def _plan_lines(self, f: _File, final: bool, size: int,
                    mtime: int) -> tuple[list[_Msg], bool, int]:
        err = ""
        if f.gz:
            assert f.fd is not None
            f.gzr = f.gzr or _GzReader(f.fd)
            buf, eof, err = f.gzr.read_at(f.offset, READ_MAX)
            end = f.offset + len(buf) if eof else -1  # a .gz is whole: it ends where reading did
            final = final or eof
        else:
            assert f.fd is not None
            buf = os.pread(f.fd, READ_MAX, f.offset)
            end = os.fstat(f.fd).st_size
            eof = f.offset + len(buf) >= end
        if buf:
            f.last_data = time.monotonic()
        msgs = self._chunks(f, buf, end, final and eof)
        if f.gz and eof:
            last = msgs[-1].after if msgs else {}
            at = (last.get("line", f.line) + 1, last.get("offset", f.offset))
            done = {"done": True, "shipped": (size, mtime)}
            if err:
                msgs.append(self._dead(f, f"gzip stream ended with an error: {err}", *at, b"",
                                       done))
            else:
                msgs.append(_Msg(None, b"", b"", done, "skip"))
        return msgs, not eof, len(buf)

    def _chunks(self, f: _File, buf: bytes, end: int, final: bool) -> list[_Msg]:
        """Whole lines of ``buf`` (read at ``f.offset``) in chunks up to the limit; over-long lines
        dead-lettered. ``end``: the file's size now (a chunk reaching it is the tail)."""
        out: list[_Msg] = []
        limit, base, line = self.chunk_limit, f.offset, f.line
        topic, key = raw_topic(self.kcfg, f.fmt), self._key(f)
        pos = 0
        if f.skipping:
            nl = buf.find(b"\n")
            pos = len(buf) if nl < 0 else nl + 1
            line += 0 if nl < 0 else 1
            if pos:
                after = {"offset": base + pos, "line": line, "skipping": nl < 0}
                out.append(_Msg(None, key, b"", after, "skip"))
            if nl < 0:
                return out
        while pos < len(buf):
            cut = buf.rfind(b"\n", pos, min(len(buf), pos + limit))
            if cut < 0:
                nl = buf.find(b"\n", pos)
                if nl >= 0:  # a whole line over the limit
                    out.append(self._dead(f, f"line of {nl + 1 - pos} bytes over ship_chunk_bytes "
                                          f"({limit})", line + 1, base + pos, buf[pos:nl + 1],
                                          {"offset": base + nl + 1, "line": line + 1}))
                    pos, line = nl + 1, line + 1
                    continue
                rest = len(buf) - pos
                if rest > limit:  # no newline yet and already too long: skip to its end
                    after = {"offset": base + len(buf), "line": line, "skipping": True}
                    out.append(self._dead(f, f"line over ship_chunk_bytes ({limit}), still growing",
                                          line + 1, base + pos, buf[pos:], after))
                    break
                if not final:
                    break  # a partial last line waits for its newline
                cut = len(buf) - 1  # the end of the input: the partial line is the last line
            data = buf[pos:cut + 1]
            n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            meta = self._meta(f, "lines", line + 1, base + pos, base + cut + 1 == end)
            out.append(_Msg(topic, key, encode_raw(meta, data),
                            {"offset": base + cut + 1, "line": line + n}, "chunk", n, len(data)))
            pos, line = cut + 1, line + n
        return out


def _text(path: str) -> str:
    """A path as valid UTF-8 for a JSON header (file names are bytes on Linux)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
