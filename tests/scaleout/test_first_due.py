"""What is due first on a partition in a new generation of the group (``Worker._first_due``).

Faust learns the group's committed offsets only once recovery resumes and seeks the partitions,
and a message can reach an agent before that. When nothing was known, that first message —
whatever its offset — was taken as the start, and the messages before it that Faust had dropped
were skipped for good (issue 8's rebalance bug). The worker now reads the committed offsets from
the broker at assignment; a stand-in consumer plays Faust's not-yet-sought one here.
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
    def __init__(self) -> None:
        self._committed_offset: dict[TP, int] = {}  # Faust has not sought yet
        self.sought: list[dict[TP, int]] = []

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.sought.append(offsets)


def _worker(tmp_path: Path) -> Worker:
    k = KafkaConfig(bootstrap_servers="127.0.0.1:1", topic_prefix="fd", app_id="fd", partitions=2,
                    raw_partitions=1, web_port=0, parse_process=False, data_dir=str(tmp_path / "data"))
    return Worker(Config(store=":memory:", kafka=k), respond=False)


def _msg(tp: TP, offset: int, generation: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset, generation_id=generation, acked=False))


def test_a_first_message_past_the_committed_offset_is_a_hole(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    tp, other = TP(w.events_topic.get_topic_name(), 0), TP(w.events_topic.get_topic_name(), 1)
    consumer = w.app.consumer = _Consumer()
    w.app.consumer_generation_id = 7
    w._group_offsets = lambda: {(tp.topic, tp.partition): 31}  # type: ignore[method-assign]

    async def go() -> tuple[list[Any], list[Any]]:
        await w._read_committed()
        # Faust dropped 31..34 (fetched across the generation change); 35 comes first
        first = await w._in_order([_msg(tp, 35, 7), _msg(other, 4, 7)])
        again = await w._in_order([_msg(tp, 31, 7), _msg(tp, 32, 7)])
        return first, again

    first, again = asyncio.run(go())
    # the partition with no commit read is taken as it comes (a group's first start)
    assert [e.message.offset for e in first] == [4]
    assert consumer.sought == [{tp: 31}]  # fetched again from the committed offset
    assert [e.message.offset for e in again] == [31, 32]


def test_offsets_read_in_an_older_generation_are_not_used(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    tp = TP(w.events_topic.get_topic_name(), 0)
    w.app.consumer = _Consumer()
    w.app.consumer_generation_id = 7
    w._group_offsets = lambda: {(tp.topic, tp.partition): 31}  # type: ignore[method-assign]
    asyncio.run(w._read_committed())
    assert w._first_due(tp) == 31
    w.app.consumer_generation_id = 8  # partitions moved again; this generation's read is to come
    assert w._first_due(tp) is None
    w.app.consumer._committed_offset[tp] = 40  # Faust's own, once it has sought
    assert w._first_due(tp) == 40


def test_a_broker_that_does_not_answer_leaves_faust_s_view(tmp_path: Path) -> None:
    w = _worker(tmp_path)
    tp = TP(w.events_topic.get_topic_name(), 0)
    w.app.consumer = _Consumer()
    w.app.consumer._committed_offset[tp] = 12
    w.app.consumer_generation_id = 2

    def down() -> dict[tuple[str, int], int]:
        raise OSError("connection refused")

    w._group_offsets = down  # type: ignore[method-assign]
    asyncio.run(w._read_committed())
    assert w._first_due(tp) == 12


def test_committed_offsets_are_read_from_a_real_broker(kafka_cfg: KafkaConfig, tmp_path: Path) -> None:
    """The read itself, against the test broker: a group's commits, as a worker would find them."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from auditwatch.streams.scaleout.topics import create_topics

    create_topics(kafka_cfg)
    w = Worker(Config(store=":memory:", kafka=kafka_cfg.model_copy(update={
        "web_port": 0, "parse_process": False, "data_dir": str(tmp_path / "data")})), respond=False)
    events = w.events_topic.get_topic_name()
    prod = KafkaProducer(bootstrap_servers=kafka_cfg.bootstrap)
    for i in range(5):
        prod.send(events, value=b"x%d" % i, partition=1)
    prod.flush()
    prod.close()
    c = KafkaConsumer(bootstrap_servers=kafka_cfg.bootstrap, group_id=kafka_cfg.app_id, enable_auto_commit=False)
    c.assign([TopicPartition(events, 1)])
    c.commit({TopicPartition(events, 1): OffsetAndMetadata(3, "", -1)})
    c.close()
    try:
        assert w._group_offsets() == {(events, 1): 3}
    finally:
        w.close()
