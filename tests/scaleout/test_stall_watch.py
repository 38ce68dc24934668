"""The stall watch (``Worker._stalled``): a partition whose messages stopped reaching its agent
while the broker has more is fetched again from the offset due — and only such a partition.

No broker is needed: the watch reads the consumer's assignment, committed offsets and highwaters,
which a stand-in gives here as Faust's consumer would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from faust.types import TP

from auditwatch.config import Config, KafkaConfig
from auditwatch.streams.scaleout.worker import STALL_SECONDS, Worker


class _Consumer:
    def __init__(self, hw: dict[TP, int], committed: dict[TP, int]) -> None:
        self._hw = hw
        self._committed_offset = committed

    def assignment(self) -> set[TP]:
        return set(self._hw)

    def highwater(self, tp: TP) -> int:
        return self._hw[tp]


def _worker(tmp_path: Path) -> Worker:
    k = KafkaConfig(bootstrap_servers="127.0.0.1:1", topic_prefix="sw", app_id="sw", partitions=2,
                    raw_partitions=1, web_port=0, parse_process=False, data_dir=str(tmp_path / "data"))
    return Worker(Config(store=":memory:", kafka=k), respond=False)


def test_only_an_idle_partition_behind_its_highwater_is_fetched_again(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    events = w.events_topic.get_topic_name()
    behind, caught_up, fresh = TP(events, 0), TP(events, 1), TP(next(iter(w._raw_names)), 0)
    changelog = TP("sw-slices-changelog", 0)
    w.app.consumer = _Consumer({behind: 40, caught_up: 12, fresh: 9, changelog: 99},
                               {behind: 31, caught_up: 12, fresh: 3, changelog: 0})
    w.app.consumer_generation_id = 3
    t0 = 1000.0
    assert w._stalled(t0) == []  # a new generation starts the clock
    w._came[fresh] = t0 + 2.0  # a message of it reached the parse agent lately
    assert w._stalled(t0 + STALL_SECONDS - 0.5) == []
    # 31..39 are on the broker, nothing came: from 31 again; the caught-up partition, the one that
    # moved lately and a changelog (no agent of ours reads it) are left alone
    assert w._stalled(t0 + STALL_SECONDS + 0.5) == [(behind, 31)]


def test_a_busy_agent_or_a_rebalance_is_not_a_stall(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    tp = TP(w.events_topic.get_topic_name(), 0)
    w.app.consumer = _Consumer({tp: 40}, {tp: 31})
    w.app.consumer_generation_id = 1
    assert w._stalled(0.0) == []
    later = STALL_SECONDS + 1.0

    async def hold() -> Any:
        async with w._busy["detect"]:
            return w._stalled(later)

    assert asyncio.run(hold()) == []  # the detect agent is in a batch: its messages are coming
    w._paused = True
    assert w._stalled(later) == []  # partitions are moving
    w._paused = False
    w.app.consumer_generation_id = 2
    assert w._stalled(later) == []  # a new generation: the clock starts again
    assert w._stalled(later + STALL_SECONDS + 0.5) == [(tp, 31)]
