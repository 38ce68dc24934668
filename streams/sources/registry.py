"""The source registry: every input format auditwatch reads, and how to tell them apart.

A source registers a ``SourceSpec``: a name (what ``--input-format`` takes), a
sniffer that recognises the head of a file, a line parser, and, for JSON
sources, a record test and a normaliser so that files mixing several JSON
sources are read record by record. Whole-document formats (CloudTrail's
``{"Records": [...]}``, Azure's ``{"records": [...]}``, Kubernetes' EventList,
Pub/Sub push envelopes) unwrap themselves in ``document``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditwatch.model import SourceRef
from auditwatch.streams.sources.base import Item, LineParser, ParseContext


@dataclass(frozen=True)
class SourceSpec:
    name: str
    sniff: Callable[[bytes], bool]  # the first 64 KB (decompressed) look like this source
    line_parser: Callable[[ParseContext], LineParser] | None = None
    # JSON sources: is one decoded record ours, and its events (or dead letters)
    is_record: Callable[[Any], bool] | None = None
    normalise: Callable[[Any, SourceRef, ParseContext], list[Item]] | None = None
    # a whole JSON document (array, envelope): its items, or None if the shape is not ours
    document: Callable[[Any, SourceRef, ParseContext], list[Item] | None] | None = None
    priority: int = 100  # lower is sniffed first
    aliases: tuple[str, ...] = field(default_factory=tuple)


SOURCES: dict[str, SourceSpec] = {}
ALIASES: dict[str, str] = {}


def register(spec: SourceSpec) -> SourceSpec:
    if spec.name in SOURCES or spec.name in ALIASES:
        raise ValueError(f"source {spec.name!r} registered twice")
    SOURCES[spec.name] = spec
    for a in spec.aliases:
        ALIASES[a] = spec.name
    return spec


def canonical(fmt: str) -> str:
    f = ALIASES.get(fmt, fmt)
    if f != "auto" and f not in SOURCES:
        names = sorted(SOURCES) + sorted(ALIASES)
        raise ValueError(f"unknown format {fmt!r}; one of: auto, {', '.join(names)}")
    return f


def by_priority() -> list[SourceSpec]:
    return sorted(SOURCES.values(), key=lambda s: (s.priority, s.name))


def detect(head: bytes) -> str | None:
    """Guess the format from the first bytes of a (decompressed) stream."""
    if not head.strip():
        return None
    for spec in by_priority():
        try:
            if spec.sniff(head):
                return spec.name
        except Exception:  # a sniffer must never stop detection
            continue
    return None


def json_specs() -> list[SourceSpec]:
    return [s for s in by_priority() if s.is_record is not None and s.normalise is not None]


def record_source(obj: Any) -> SourceSpec | None:
    """Which JSON source wrote this decoded record."""
    for spec in json_specs():
        try:
            if spec.is_record(obj):  # type: ignore[misc]
                return spec
        except Exception:
            continue
    return None
