"""The parse stage of a worker: raw chunks from the shipper → events and dead letters.

One parser per followed file, fed the chunks of that file in order (one stream's
files share a partition, so order holds). A parser may hold a record back
until the next line says how it ended (pgaudit's statement, then its ERROR);
the shipper marks the chunk that reached the end of the file (``tail``) and
the parser is flushed there, as the embedded follower flushes an idle file.

Repeats: the shipper is at-least-once and a worker that crashes re-reads its
uncommitted raw messages. Per file (stream, path and inode), the stage keeps how
far into it it got, in a Faust table written at each offset commit once the
broker has the events (``Worker._flush_state``) — one record per file, not one
per stream: a stream of a thousand files would make a record past Kafka's
message limit, and rewrite all of it every time;
a chunk below that mark is a repeat and is dropped, a document already read
(same file, same size) too. With the mark it keeps the lines the parser still
holds records of (``held_from``; the last few lines for a parser that cannot
say): a parser that starts mid-file (after a crash, a rebalance) is fed them
first, so a record the lost parser was holding back is not lost with it. Events made
twice that way are dropped by the detect stage (see ``slices``): every event
says which file and position it came from.

Lateness is judged here, where a stream is seen in its own order, and travels
with the event: the detect stage, partitioned by identity, no longer sees
streams whole.
"""

from __future__ import annotations

import gzip
import io
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditwatch.core import Core
from auditwatch.model import Event, SourceRef
from auditwatch.streams.reader import drive, lines, make_parser, read_stream, unknown_lines
from auditwatch.streams.scaleout.wire import decode_raw
from auditwatch.streams.sources.base import DeadLetter, Item, Line, LineParser, ParseContext
from auditwatch.streams.sources.json_records import JsonLinesParser

MAX_PARSERS = 10_000  # files followed at once per worker; the least recent is flushed and dropped


@dataclass(slots=True)
class _FileState:
    parser: LineParser | None
    inode: Any  # a new inode at the same path is a rotated file: its own parser, from offset 0


MAX_FILES_PER_STREAM = 1000  # progress remembered per stream; a CloudTrail folder gains a file every 5 minutes
TAIL_LINES = 8  # lines kept per file for a parser that cannot say what it holds (a held record spans fewer)
TAIL_BYTES = 256 * 1024  # at most this much kept per file (a table message stays well under 1 MB)

Load = Callable[[str, str], "list[Any] | None"]  # (stream, file id) -> the file's saved mark


class ParseStage:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.files: OrderedDict[str, _FileState] = OrderedDict()
        # stream -> "path\x1finode" -> [next offset, last lines [[lineno, offset, text]...]] or [document size]
        # (the files of a stream seen since the start, least recent first: the oldest is forgotten)
        self.progress: dict[str, OrderedDict[str, list[Any]]] = {}
        self._dirty: dict[tuple[str, str], list[Any] | None] = {}  # (stream, file id) -> mark; None: forgotten
        self.repeats = 0  # chunks seen again (the shipper's at-least-once, a crash's re-read): dropped here
        self.gaps = 0  # chunks that start past where the last one ended (lost upstream)

    def forget(self) -> None:
        """Partitions moved (a rebalance). Parsers are dropped unflushed: the records they held
        are in the saved progress (the lines from ``held_from``) and whoever follows a stream now
        is fed them first; a parser kept here would be behind by the time its stream came back."""
        self.files.clear()
        self.progress.clear()
        self._dirty.clear()

    def take_dirty(self) -> list[tuple[str, str, list[Any] | None]]:
        """(stream, file id, mark or None for a file forgotten) changed since the last call."""
        out = [(s, f, m) for (s, f), m in self._dirty.items()]
        self._dirty.clear()
        return out

    def chunk(self, value: bytes, where: str, load: Load | None = None
              ) -> tuple[list[tuple[Event, bool, float]], list[DeadLetter], str]:
        """(events with their lateness and produce time, dead letters, file id) of one raw message.
        ``load(stream, file id)`` gives a file's saved mark the first time the file is seen."""
        events: list[tuple[Event, bool, float]] = []
        dead: list[DeadLetter] = []
        self.fid = ""
        try:
            meta, data = decode_raw(value)
        except (ValueError, TypeError) as e:
            dead.append(DeadLetter(f"not an auditwatch raw message: {e}", SourceRef("unknown", where),
                                   value[:4096].decode("utf-8", "backslashreplace")))
            return events, dead, ""
        sent = float(meta.get("sent") or 0.0)
        try:
            items = self._items(meta, data, load)
        except Exception as e:  # a parser bug or a format no parser knows: this chunk, not the batch
            self.files.pop(str(meta["path"]), None)  # its parser may be half-way through a record
            dead.append(DeadLetter(f"parse failed: {type(e).__name__}: {e}", SourceRef(str(meta.get("format")),
                                   str(meta["path"]), meta.get("line"), meta.get("offset")),
                                   data[:4096].decode("utf-8", "backslashreplace")))
            return events, dead, self.fid
        for it in items:
            if isinstance(it, DeadLetter):
                dead.append(it)
                continue
            try:
                self.core.enrich(it)
            except Exception as e:  # attribution bug: the event still goes on, unattributed
                dead.append(DeadLetter(f"attribution failed: {type(e).__name__}: {e}", it.source))
                continue
            it.raw = None  # parsed and attributed: the bytes are not sent on
            events.append((it, self.core.engine.is_late(it), sent))
        return events, dead, self.fid

    def _items(self, meta: dict[str, Any], data: bytes, load: Load | None) -> list[Item]:
        path = str(meta["path"])
        fmt = str(meta.get("format") or "auto")
        env = str(meta.get("environment") or "")
        inode = meta.get("inode", "")
        stream = str(meta.get("stream") or path)
        prog = self.progress.get(stream)
        if prog is None:
            prog = self.progress[stream] = OrderedDict()
        fid = self.fid = f"{path}\x1f{inode}"
        saved = prog.get(fid)
        if saved is None and load is not None:
            saved = load(stream, fid)
            if saved is not None:
                prog[fid] = saved  # the table is asked once per file
        if meta.get("kind") == "document":
            if saved is not None and saved[0] == len(data):
                self.repeats += 1
                return []
            self._mark(stream, prog, fid, [len(data)])
            return self._document(path, fmt, env, data, bool(meta.get("gzip")))
        offset = int(meta.get("offset") or 0)
        first_line = int(meta.get("line") or 1)
        done = saved[0] if saved else 0
        if offset < done:
            self.repeats += 1
            return []
        if offset > done:
            self.gaps += 1
        out: list[Item] = []
        st = self.files.get(path)
        if st is not None and st.inode != inode:
            st = None  # rotated: the old file's parser is flushed in _open
        if st is None:
            st = self._open(path, inode, fmt, env, out)
            if saved and offset == done and st.parser is not None and len(saved) > 1:
                # a parser starting mid-file: what the last one may have been holding back first
                out += drive_lines(st.parser, iter([Line(t, n, o) for n, o, t in saved[1]]))
        else:
            self.files.move_to_end(path)
        stream_io = io.BytesIO(data)
        if st.parser is None:
            self._mark(stream, prog, fid, [offset + len(data)])
            out += unknown_lines(stream_io, path, first_line - 1, offset)  # type: ignore[arg-type]
            return out
        out += drive_lines(st.parser, lines(stream_io, path, st.parser.type, first_line - 1, offset))  # type: ignore[arg-type]
        if meta.get("tail"):
            out += st.parser.flush()
        held = getattr(st.parser, "held_from", None)
        self._mark(stream, prog, fid, [offset + len(data),
                                       _tail(saved, data, first_line, offset, held() if held else -1)])
        return out

    def _mark(self, stream: str, prog: OrderedDict[str, list[Any]], fid: str, value: list[Any]) -> None:
        prog[fid] = value
        prog.move_to_end(fid)
        self._dirty[(stream, fid)] = value
        while len(prog) > MAX_FILES_PER_STREAM:
            old, _ = prog.popitem(last=False)
            self._dirty[(stream, old)] = None

    def _open(self, path: str, inode: Any, fmt: str, env: str, out: list[Item]) -> _FileState:
        old = self.files.pop(path, None)
        if old is not None and old.parser is not None:
            out += old.parser.flush()
        ctx = ParseContext(path, env, observed=time.time())
        parser: LineParser | None
        if fmt == "unknown":
            parser = None
        elif fmt == "json":
            parser = JsonLinesParser(ctx)  # JSON lines no sniffer claimed: each record finds its source
        else:
            parser = make_parser(fmt, ctx)
        st = self.files[path] = _FileState(parser, inode)
        if len(self.files) > MAX_PARSERS:
            _, lru = self.files.popitem(last=False)
            if lru.parser is not None:
                out += lru.parser.flush()
        return st

    def _document(self, path: str, fmt: str, env: str, data: bytes, gz: bool) -> list[Item]:
        # read exactly as ``replay`` reads the file: a truncated gzip yields what it holds, then a dead letter
        raw: Any = gzip.GzipFile(fileobj=io.BytesIO(data)) if gz else io.BytesIO(data)
        # "json": JSON no source claimed when the shipper looked; ``replay`` reads it as "auto" too
        return list(read_stream(io.BufferedReader(raw), path, "auto" if fmt == "json" else fmt, env))


def _tail(saved: list[Any] | None, data: bytes, first_line: int, offset: int,
          held_from: int | None) -> list[list[Any]]:
    """The lines a new parser needs to hold what the old one holds, as [lineno, offset, text]:
    from ``held_from`` on (None: nothing held, -1: the parser cannot say, keep TAIL_LINES)."""
    if held_from is None:
        return []
    prev = list(saved[1]) if saved and len(saved) > 1 else []
    out = [x for x in prev if held_from < 0 or x[1] >= held_from]
    off = offset
    for i, b in enumerate(data.splitlines(keepends=True)):
        if held_from < 0 or off >= held_from:
            out.append([first_line + i, off, b.decode("utf-8", "replace")])
        off += len(b)
    if held_from < 0:
        out = out[-TAIL_LINES:]
    size = sum(len(x[2]) for x in out)
    while out and size > TAIL_BYTES:
        size -= len(out.pop(0)[2])
    return out


def drive_lines(parser: LineParser, src: Any) -> list[Item]:
    """``drive`` without the final flush: more of the file may follow in the next chunk."""
    return list(drive(_NoFlush(parser), src))


class _NoFlush:
    __slots__ = ("_p", "ctx", "type")

    def __init__(self, p: LineParser) -> None:
        self._p = p
        self.type = p.type
        self.ctx = getattr(p, "ctx", None)

    def feed(self, line: Any) -> list[Item]:
        return self._p.feed(line)

    def flush(self) -> list[Item]:
        return []
