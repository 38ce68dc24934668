"""No offset commit goes past the last message an agent finished (``Worker._hook_commit``).

Faust acknowledges messages no agent processed — those it skips while its flow is suspended at
a stop or a rebalance, the batch a cancelled agent held — and its ``_new_offset`` commits over a
one-message gap at the committed offset. Traced in a SIGTERM'd worker of the two-worker test:
raw chunks parsed up to 76, Faust's final commit 78. A stand-in consumer plays Faust's here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from auditwatch.config import Config, KafkaConfig
from auditwatch.streams.scaleout.worker import Worker


class _Consumer:
    def __init__(self, would: dict[TP, int | None]) -> None:
        self.would = would  # what Faust's own _new_offset says

    def _new_offset(self, tp: TP) -> int | None:
        return self.would.get(tp)

    async def force_commit(self, *args: Any, **kw: Any) -> bool:
        return True

    async def _add_gap(self, *args: Any) -> None:
        raise AssertionError("the worker switches Faust's gap-filling off")


def _worker(tmp_path: Path) -> Worker:
    k = KafkaConfig(bootstrap_servers="127.0.0.1:1", topic_prefix="cc", app_id="cc", partitions=2,
                    raw_partitions=1, web_port=0, parse_process=False, data_dir=str(tmp_path / "data"))
    return Worker(Config(store=":memory:", kafka=k), respond=False)


def _msg(tp: TP, offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, generation_id=1, acked=False))


def test_a_commit_stops_after_the_last_message_an_agent_finished(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    raw = TP(next(iter(w._raw_names)), 0)
    events, idle = TP(w.events_topic.get_topic_name(), 0), TP(w.events_topic.get_topic_name(), 1)
    changelog = TP("cc-slices-changelog", 0)
    consumer = _Consumer({raw: 78, events: 12, idle: 5, changelog: 40})
    w.app.consumer = consumer
    w.app.consumer_generation_id = 1
    w._hook_commit()

    class _Stream:
        async def take_events(self, n: int, within: float) -> Any:
            yield [_msg(raw, o) for o in range(70, 77)]  # the agent finishes 70..76
            yield [_msg(events, o) for o in range(0, 12)]

    async def work(batch: list[Any]) -> None:
        pass

    asyncio.run(w._agent("parse", _Stream(), work))
    assert consumer._new_offset(raw) == 77  # Faust said 78: 77 reached no agent
    assert consumer._new_offset(events) == 12  # as far as done: Faust's answer stands
    assert consumer._new_offset(idle) is None  # no agent finished anything there: no commit
    assert consumer._new_offset(changelog) == 40  # not an agent's topic: Faust's own


def test_a_batch_the_agent_did_not_finish_is_not_done(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    raw = TP(next(iter(w._raw_names)), 0)
    consumer = _Consumer({raw: 10})
    w.app.consumer = consumer
    w.app.consumer_generation_id = 1
    w._hook_commit()
    held = [_msg(raw, o) for o in range(0, 10)]

    class _Stream:
        async def take_events(self, n: int, within: float) -> Any:
            yield held

    async def cancelled(batch: list[Any]) -> None:
        raise asyncio.CancelledError  # a stop, while the batch was in hand

    try:
        asyncio.run(w._agent("parse", _Stream(), cancelled))
    except asyncio.CancelledError:
        pass
    assert consumer._new_offset(raw) is None
    assert all(e.message.acked for e in held)  # Consumer.ack skips them: never counted as done
