"""Which source wrote these bytes: auto-detection from a file's head."""

from __future__ import annotations

import re

import orjson

FORMATS = ("cloudtrail", "postgres-jsonlog", "postgres-csvlog", "postgres-stderr")
ALIASES = {
    "postgres": "postgres-stderr",
    "jsonlog": "postgres-jsonlog",
    "csvlog": "postgres-csvlog",
    "stderr": "postgres-stderr",
    "pgaudit": "postgres-stderr",
}

_CSV_HEAD = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z]{1,5}|[+-]\d\d)?,")
_PG_LINE = re.compile(
    rb"(?m)^(?:.*?\d\d:\d\d:\d\d.*?)?\b(?:LOG|ERROR|FATAL|WARNING|NOTICE|STATEMENT|DETAIL):  "
)


def canonical(fmt: str) -> str:
    f = ALIASES.get(fmt, fmt)
    if f not in FORMATS and f != "auto":
        raise ValueError(f"unknown format {fmt!r}; one of: auto, {', '.join(FORMATS + tuple(ALIASES))}")
    return f


def detect(head: bytes) -> str | None:
    """Guess the format from the first bytes of a (decompressed) stream."""
    s = head.lstrip()
    if not s:
        return None
    if s[:1] in (b"{", b"["):
        first = s.split(b"\n", 1)[0]
        if b'"error_severity"' in first:
            return "postgres-jsonlog"
        if (b'"eventVersion"' in s[:65536] or b'"eventSource"' in s[:65536]
                or b'"Records"' in s[:200] or b'"detail-type"' in first):
            return "cloudtrail"
        if s.startswith(b"[]") or s.startswith(b"[ ]"):
            return "cloudtrail"  # an empty CloudTrail array (traildiscover ships these)
        return None
    if _CSV_HEAD.match(s):
        return "postgres-csvlog"
    if _PG_LINE.search(s[:65536]) or b"AUDIT: SESSION," in s[:65536] or b"AUDIT: OBJECT," in s[:65536]:
        return "postgres-stderr"
    return None


def is_json_lines(head: bytes) -> bool:
    """True if the first line is a JSON value on its own (JSONL), not a pretty document."""
    first = head.lstrip().split(b"\n", 1)[0]
    try:
        orjson.loads(first)
        return True
    except orjson.JSONDecodeError:
        return False
