"""JSON input of any registered JSON source: one record per line, or one document.

Records are dispatched one by one to the source that recognises them, so a
file that mixes CloudTrail, GCP and Kubernetes records (a SIEM export, an
HTTP ingest batch) is read correctly; a record no source recognises is
dead-lettered with that reason.
"""

from __future__ import annotations

from typing import Any

import orjson

from auditwatch.model import SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, Line, ParseContext
from auditwatch.streams.sources.registry import SourceSpec, by_priority, record_source

TYPE = "json"

# Above this, decode with the standard library: orjson's peak memory on one huge
# string is many times its size, json's about twice (a 10 MB line stays bounded).
BIG_JSON = 2 * 1024 * 1024


def loads(data: bytes | str) -> Any:
    """Decode JSON; raises orjson.JSONDecodeError (a ValueError) on bad input."""
    if len(data) <= BIG_JSON:
        return orjson.loads(data)
    import json

    try:
        return json.loads(data)
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as e:
        raise orjson.JSONDecodeError(str(e), "", 0) from None


def dispatch(obj: Any, ref: SourceRef, ctx: ParseContext, raw_text: str = "",
             only: SourceSpec | None = None) -> list[Item]:
    """Items from one decoded JSON value: a record, or a document of records."""
    spec = only if only is not None and only.is_record and only.is_record(obj) else record_source(obj)
    if spec is not None and spec.normalise is not None:
        r = SourceRef(spec.name, ref.name, line=ref.line, offset=ref.offset, index=ref.index)
        return _guard(spec, obj, r, ctx)
    for s in ([only] if only is not None else []) + by_priority():
        if s.document is None:
            continue
        try:
            items = s.document(obj, ref, ctx)
        except Exception as e:  # a document unwrapper bug costs this document, not the stream
            return [DeadLetter(f"{s.name}: cannot read document: {type(e).__name__}: {e}", ref, _text(obj, raw_text))]
        if items is not None:
            return items
    if isinstance(obj, list):
        out: list[Item] = []
        for i, rec in enumerate(obj):
            out += dispatch(rec, SourceRef(ref.type, ref.name, line=ref.line, offset=ref.offset, index=i), ctx,
                            only=only)
        return out
    if only is not None and only.normalise is not None:
        # the source chosen for this input says why the record is not its kind
        return _guard(only, obj, SourceRef(only.name, ref.name, line=ref.line, offset=ref.offset, index=ref.index), ctx)
    return [DeadLetter("unrecognised JSON record (no source matched it)", ref, _text(obj, raw_text))]


def _guard(spec: SourceSpec, obj: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
    from auditwatch.errors import ParseError

    try:
        return spec.normalise(obj, ref, ctx)  # type: ignore[misc]
    except ParseError as e:
        return [DeadLetter(e.reason, ref, _text(obj, ""))]
    except Exception as e:  # wrong types deep in a record must not stop the file
        return [DeadLetter(f"cannot normalise: {type(e).__name__}: {e}", ref, _text(obj, ""))]


def _text(obj: Any, raw_text: str) -> str:
    if raw_text:
        return raw_text
    try:
        return orjson.dumps(obj, default=str).decode()
    except TypeError:
        return repr(obj)


class JsonLinesParser:
    """One JSON value per line, each dispatched to its source."""

    type = TYPE

    def __init__(self, ctx: ParseContext, only: SourceSpec | None = None) -> None:
        self.ctx = ctx
        self.only = only
        if only is not None:
            self.type = only.name

    def feed(self, line: Line) -> list[Item]:
        text = line.text.strip()
        if not text:
            return []
        ref = SourceRef(self.type, self.ctx.source_name, line=line.lineno, offset=line.offset)
        try:
            obj = loads(text)
        except orjson.JSONDecodeError as e:
            return [DeadLetter(f"invalid JSON: {e}", ref, line.text)]
        return dispatch(obj, ref, self.ctx, raw_text=line.text, only=self.only)

    def flush(self) -> list[Item]:
        return []
