"""The cyclic garbage collector's settings for a worker's processes (the worker, its parse child)."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """A batch makes tens of thousands of short-lived objects (events, wire lists); with the
    default thresholds (700 allocations) the cyclic collector runs hundreds of times a second
    and scans the long-lived state (slices, parsers, rule tables) again and again. Timed in
    process on the bench workload, the worker's stages ran at 12k events/s with the collector
    on and 20k with it off. Almost all of that garbage is freed by reference counting anyway:
    freeze what start-up made and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
