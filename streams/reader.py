"""Reading a file (or stdin) into events: decompression, format detection,
line framing with byte offsets, and the dead-letter path for bad bytes."""

from __future__ import annotations

import gzip
import io
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from auditwatch.model import SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, Line, LineParser, ParseContext
from auditwatch.streams.sources.detect import SOURCES, canonical, detect, is_json_lines
from auditwatch.streams.sources.json_records import JsonLinesParser, dispatch, loads
from auditwatch.streams.sources.registry import SourceSpec

# A whole-document JSON file (CloudTrail's S3 delivery) is read at once; above
# this it is refused with a dead letter instead of exhausting memory.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
HEAD_BYTES = 64 * 1024


def make_parser(fmt: str, ctx: ParseContext) -> LineParser:
    spec = SOURCES[canonical(fmt)]
    if spec.line_parser is None:
        return JsonLinesParser(ctx, only=spec)
    return spec.line_parser(ctx)


def open_maybe_gzip(path: Path) -> BinaryIO:
    f = open(path, "rb")
    magic = f.read(2)
    f.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f)  # type: ignore[return-value]
    return f


def read_stream(stream: BinaryIO, name: str, fmt: str = "auto", environment: str = "") -> Iterator[Item]:
    """Every event and dead letter in a byte stream, in order."""
    ctx = ParseContext(source_name=name, environment=environment, observed=time.time())
    try:
        head = stream.peek(HEAD_BYTES)[:HEAD_BYTES] if hasattr(stream, "peek") else b""
    except (OSError, EOFError, zlib.error) as e:
        yield DeadLetter(f"unreadable stream: {e}", SourceRef("unknown", name))
        return
    if not head and not hasattr(stream, "peek"):
        data = stream.read()
        stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
        head = data[:HEAD_BYTES]
    f, kind = framing(head, fmt)
    if kind == "unknown":
        yield from unknown_lines(stream, name)
        return
    spec = SOURCES.get(f)
    if kind == "document":
        yield from _read_document(stream, name, ctx, spec)
        return
    parser = JsonLinesParser(ctx, only=spec) if spec is None or spec.line_parser is None else make_parser(f, ctx)
    yield from drive(parser, lines(stream, name, parser.type))


def framing(head: bytes, fmt: str = "auto") -> tuple[str, str]:
    """(source format, "document" | "lines" | "unknown") from a stream's first bytes.

    The shipper decides with this what to send as one message (a whole JSON
    document) and what as chunks of lines; ``read_stream`` decides the same way.
    """
    f = canonical(fmt)
    if f == "auto":
        f = detect(head) or "unknown"
    if f == "unknown":
        if head.lstrip()[:1] not in (b"{", b"["):
            return "unknown", "unknown"
        f = "json"  # JSON that no sniffer claimed: let each record find its source
    spec = SOURCES.get(f)
    json_input = spec is None or spec.is_record is not None or spec.document is not None
    if json_input and head.lstrip()[:1] in (b"{", b"[") and not is_json_lines(head):
        return f, "document"
    return f, "lines"


def drive(parser: LineParser, lines: Iterator[Line | DeadLetter]) -> Iterator[Item]:
    for ln in lines:
        if isinstance(ln, DeadLetter):
            yield ln
            continue
        try:
            yield from parser.feed(ln)
        except Exception as e:  # a parser bug must cost one record, not the stream
            yield DeadLetter(f"parser error: {type(e).__name__}: {e}",
                             SourceRef(parser.type, parser_name(parser), line=ln.lineno, offset=ln.offset), ln.text)
    yield from parser.flush()


def parser_name(parser: LineParser) -> str:
    ctx = getattr(parser, "ctx", None)
    return getattr(ctx, "source_name", "?")


def lines(stream: BinaryIO, name: str, typ: str, lineno: int = 0,
          offset: int = 0) -> Iterator[Line | DeadLetter]:
    """Lines with their 1-based number and byte offset; ``lineno``/``offset`` say where
    ``stream`` starts in the file (a shipped chunk starts mid-file)."""
    try:
        for raw in stream:
            lineno += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield DeadLetter(f"invalid UTF-8: {e.reason} at byte {e.start}",
                                 SourceRef(typ, name, line=lineno, offset=offset),
                                 raw.decode("utf-8", "backslashreplace"))
            else:
                if "\x00" in text:
                    yield DeadLetter("NUL byte in record", SourceRef(typ, name, line=lineno, offset=offset),
                                     text.replace("\x00", "\\x00"))
                else:
                    yield Line(text, lineno, offset)
            offset += len(raw)
    except (OSError, EOFError, zlib.error) as e:
        # truncated gzip: everything read so far was processed; say where it stopped
        yield DeadLetter(f"stream ended with an error: {e}", SourceRef(typ, name, line=lineno + 1, offset=offset))


def _read_document(stream: BinaryIO, name: str, ctx: ParseContext, spec: SourceSpec | None) -> Iterator[Item]:
    typ = spec.name if spec else "json"
    ref = SourceRef(typ, name, line=1, offset=0)
    try:
        data = _read_at_most(stream, MAX_DOCUMENT_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:
        yield DeadLetter(f"unreadable document: {e}", ref)
        return
    if len(data) > MAX_DOCUMENT_BYTES:
        yield DeadLetter(f"JSON document over {MAX_DOCUMENT_BYTES} bytes", ref, data[:4096].decode("utf-8", "replace"))
        return
    try:
        doc = loads(data)
    except orjson.JSONDecodeError as e:
        # JSON lines whose first lines are broken look like a document; if other lines
        # stand on their own, read it as lines so one bad record costs one record
        fallback = spec.line_parser(ctx) if spec is not None and spec.line_parser is not None \
            else JsonLinesParser(ctx, only=spec)
        items = list(drive(fallback, lines(io.BytesIO(data), name, typ)))  # type: ignore[arg-type]
        if any(not isinstance(i, DeadLetter) for i in items):
            yield from items
            return
        yield DeadLetter(f"invalid JSON document: {e}", ref, data.decode("utf-8", "backslashreplace"))
        return
    yield from dispatch(doc, ref, ctx, raw_text="", only=spec)


def _read_at_most(stream: BinaryIO, limit: int, chunk: int = 1 << 20) -> bytes:
    """Read up to ``limit`` bytes in chunks (read(limit) would allocate all of it up front)."""
    parts: list[bytes] = []
    total = 0
    while total < limit:
        b = stream.read(min(chunk, limit - total))
        if not b:
            break
        parts.append(b)
        total += len(b)
    return b"".join(parts)


def unknown_lines(stream: BinaryIO, name: str, lineno: int = 0, offset: int = 0) -> Iterator[Item]:
    for ln in lines(stream, name, "unknown", lineno, offset):
        if isinstance(ln, DeadLetter):
            yield ln
        elif ln.text.strip():
            yield DeadLetter("unrecognised format (no source matched this input)",
                             SourceRef("unknown", name, line=ln.lineno, offset=ln.offset), ln.text)


def read_path(path: str | Path, fmt: str = "auto", environment: str = "") -> Iterator[Item]:
    p = Path(path)
    try:
        stream = open_maybe_gzip(p)
    except OSError as e:
        yield DeadLetter(f"cannot open: {e}", SourceRef("unknown", str(p)))
        return
    with stream:
        buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
        yield from read_stream(buffered, str(p), fmt, environment)
