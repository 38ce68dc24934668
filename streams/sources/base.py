"""What every source parser shares: the dead letter, the parser protocol, ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditwatch.model import Event, SourceRef

# A raw record larger than this is kept only as its head in the dead-letter file:
# the reason and position still lead back to the full bytes in the source.
DEAD_LETTER_RAW_CAP = 64 * 1024


@dataclass(slots=True)
class DeadLetter:
    reason: str
    source: SourceRef
    raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        raw = self.raw
        truncated = len(raw) > DEAD_LETTER_RAW_CAP
        return {
            "reason": self.reason,
            "source": {k: v for k, v in (
                ("type", self.source.type), ("name", self.source.name),
                ("line", self.source.line), ("offset", self.source.offset),
                ("index", self.source.index)) if v is not None},
            "raw": raw[:DEAD_LETTER_RAW_CAP],
            "raw_truncated": truncated,
            "raw_bytes": len(raw.encode("utf-8", "surrogateescape")),
        }


Item = Event | DeadLetter


@dataclass(slots=True)
class Line:
    text: str
    lineno: int  # 1-based
    offset: int  # byte offset of the line start


class LineParser(Protocol):
    """A stateful parser fed one line at a time.

    ``feed`` may hold records back (a multi-line record, a statement whose
    error line may follow); ``flush`` releases everything held, called at the
    end of input and whenever the followed file has been idle briefly.
    """

    type: str

    def feed(self, line: Line) -> list[Item]: ...

    def flush(self) -> list[Item]: ...


@dataclass(slots=True)
class ParseContext:
    source_name: str
    environment: str = ""  # declared by config for this source, "" if not
    observed: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic event id from where the record sits, so re-reads agree."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=10).hexdigest()
    return f"{prefix}-{h}"
