"""Timestamps as sources write them, to epoch seconds.

Sources disagree: CloudTrail writes ``2023-07-10T11:42:01Z``, PostgreSQL
``2023-05-13 21:09:08.502 GMT`` or ``... UTC`` or ``+02``. A cache keyed on the
second-resolution prefix makes the common case a dict look-up.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_TZ_NAMES = {"UTC": UTC, "GMT": UTC, "Z": UTC}
_PG_RE = re.compile(
    r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(\.\d+)?\s*([A-Za-z]{1,5}|[+-]\d\d(?::?\d\d)?|Z)?$"
)
_cache: dict[str, float] = {}


def parse_time(s: str) -> float:
    """Parse an ISO-8601 / PostgreSQL timestamp; naive times are UTC. Raises ValueError."""
    s = s.strip()
    m = _PG_RE.match(s)
    if not m:
        # fall back to the stdlib for the rarer shapes (e.g. '+05:30' offsets with 'T')
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    date, hms, frac, tz = m.groups()
    key = f"{date} {hms} {tz or ''}"
    base = _cache.get(key)
    if base is None:
        dt = datetime.fromisoformat(f"{date}T{hms}")
        dt = dt.replace(tzinfo=_tz(tz))
        base = dt.timestamp()
        if len(_cache) > 100_000:
            _cache.clear()
        _cache[key] = base
    return base + (float(frac) if frac else 0.0)


def _tz(tz: str | None) -> timezone:
    if not tz:
        return UTC
    if tz in _TZ_NAMES:
        return _TZ_NAMES[tz]
    if tz[0] in "+-":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    raise ValueError(f"unknown time zone {tz!r}")
