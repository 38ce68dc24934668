"""Alerts for terminals and pipes: JSON lines, or a table people can read.

Log content is attacker-influenced: control characters (ANSI escapes that
could rewrite a terminal) are replaced before anything is printed.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def jsonl(obj: dict[str, Any]) -> str:
    # orjson escapes control characters inside strings, so JSON output is terminal-safe
    return orjson.dumps(obj).decode()


SEV_MARK = {"critical": "CRIT", "high": "HIGH", "medium": "MED ", "low": "LOW ", "info": "INFO"}


def table_header() -> str:
    return f"{'TIME':24} {'SEV':4} {'RULE':28} {'IDENTITY':44} {'KIND':7} WHAT"


def table_row(a: dict[str, Any]) -> str:
    ident = a["identity"]
    what = "; ".join(
        f"{e['action']} {e['resource'].get('name') or e['resource'].get('type') or ''}".strip()
        + (f" [{e['resource']['environment']}]" if e["resource"].get("environment") else "")
        for e in a["evidence"]
    )
    idtxt = ident["id"] if len(ident["id"]) <= 44 else "…" + ident["id"][-43:]
    return safe(f"{a['time']:24} {SEV_MARK.get(a['severity'], a['severity']):4} {a['rule_id']:28} "
                f"{idtxt:44} {ident['kind']:7} {what}")
