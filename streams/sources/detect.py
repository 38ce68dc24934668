"""Which source wrote these bytes: auto-detection from a file's head.

Every source module registers itself on import; this module imports them all,
so importing it gives the complete registry.
"""

from __future__ import annotations

import orjson

from auditwatch.streams.sources import (  # noqa: F401  (each registers itself)
    agent_hooks,
    azure_activity,
    cloudtrail,
    gcp_audit,
    kubernetes_audit,
    mapped_json,
    mariadb_audit,
    mysql_audit,
    postgres,
)
from auditwatch.streams.sources.registry import ALIASES, SOURCES, canonical, detect

__all__ = ["ALIASES", "SOURCES", "canonical", "detect", "is_json_lines", "formats"]


def formats() -> list[str]:
    return sorted(SOURCES)


def is_json_lines(head: bytes) -> bool:
    """True if a JSON value stands alone on the first line (JSON lines), or on one of
    the next few lines (a broken first line must not turn the file into one document)."""
    lines = head.lstrip().split(b"\n", 6)[:6]
    if len(lines) > 1 and lines[-1] and not head.endswith(b"\n"):
        lines = lines[:-1]  # the head may end mid-line
    for ln in lines:
        ln = ln.strip()
        if not ln:
            continue
        try:
            orjson.loads(ln)
            return True
        except orjson.JSONDecodeError:
            continue
    return False
