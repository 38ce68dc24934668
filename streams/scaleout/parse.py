"""The parse stage of a worker: raw chunks from the shipper → events and dead letters.

One parser per followed file, fed the chunks of that file in order (one stream's
files share a partition, so order holds). A parser may hold a record back
until the next line says how it ended (pgaudit's statement, then its ERROR);
the shipper marks the chunk that reached the end of the file (``tail``) and
the parser is flushed there, as the embedded follower flushes an idle file.

Lateness is judged here, where a stream is seen in its own order, and travels
with the event: the detect stage, partitioned by identity, no longer sees
streams whole.
"""

from __future__ import annotations

import gzip
import io
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from auditwatch.core import Core
from auditwatch.model import Event, SourceRef
from auditwatch.streams.reader import drive, lines, make_parser, read_stream, unknown_lines
from auditwatch.streams.scaleout.wire import decode_raw
from auditwatch.streams.sources.base import DeadLetter, Item, LineParser, ParseContext
from auditwatch.streams.sources.json_records import JsonLinesParser

MAX_PARSERS = 10_000  # files followed at once per worker; the least recent is flushed and dropped


@dataclass(slots=True)
class _FileState:
    parser: LineParser | None
    next_offset: int  # byte offset just past the last chunk fed: a chunk below it is a repeat


class ParseStage:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.files: OrderedDict[str, _FileState] = OrderedDict()
        self.repeats = 0  # chunks seen again (the shipper's at-least-once): dropped here
        self.gaps = 0  # chunks that start past where the last one ended (lost upstream)

    def chunk(self, value: bytes, where: str) -> tuple[list[tuple[Event, bool, float]], list[DeadLetter]]:
        """(events with their lateness and produce time, dead letters) of one raw message."""
        events: list[tuple[Event, bool, float]] = []
        dead: list[DeadLetter] = []
        try:
            meta, data = decode_raw(value)
        except (ValueError, TypeError) as e:
            dead.append(DeadLetter(f"not an auditwatch raw message: {e}", SourceRef("unknown", where),
                                   value[:4096].decode("utf-8", "backslashreplace")))
            return events, dead
        sent = float(meta.get("sent") or 0.0)
        for it in self._items(meta, data):
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
        return events, dead

    def _items(self, meta: dict[str, Any], data: bytes) -> list[Item]:
        path = str(meta["path"])
        fmt = str(meta.get("format") or "auto")
        env = str(meta.get("environment") or "")
        kind = meta.get("kind")
        if kind == "document":
            return self._document(path, fmt, env, data, bool(meta.get("gzip")))
        offset = int(meta.get("offset") or 0)
        first_line = int(meta.get("line") or 1)
        st = self.files.get(path)
        if st is not None:
            self.files.move_to_end(path)
            if offset < st.next_offset:
                if offset == 0:
                    st = None  # the file was rotated or truncated and starts again
                else:
                    self.repeats += 1
                    return []
            elif offset > st.next_offset:
                self.gaps += 1
        out: list[Item] = []
        if st is None:
            st = self._open(path, fmt, env, out)
        st.next_offset = offset + len(data)
        stream = io.BytesIO(data)
        if st.parser is None:
            out += unknown_lines(stream, path, first_line - 1, offset)  # type: ignore[arg-type]
            return out
        out += drive_lines(st.parser, lines(stream, path, st.parser.type, first_line - 1, offset))  # type: ignore[arg-type]
        if meta.get("tail"):
            out += st.parser.flush()
        return out

    def _open(self, path: str, fmt: str, env: str, out: list[Item]) -> _FileState:
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
        st = self.files[path] = _FileState(parser, 0)
        if len(self.files) > MAX_PARSERS:
            _, lru = self.files.popitem(last=False)
            if lru.parser is not None:
                out += lru.parser.flush()
        return st

    def _document(self, path: str, fmt: str, env: str, data: bytes, gz: bool) -> list[Item]:
        # read exactly as ``replay`` reads the file: a truncated gzip yields what it holds, then a dead letter
        raw: Any = gzip.GzipFile(fileobj=io.BytesIO(data)) if gz else io.BytesIO(data)
        return list(read_stream(io.BufferedReader(raw), path, fmt, env))


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
