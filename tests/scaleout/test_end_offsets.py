"""Where a partition ends, as table recovery must know it.

Faust restores a table up to the end offsets the broker reports. The test broker
(Tansu) reports one past the first record of the partition's last batch, not one
past its last record; a worker restoring from it went on from older state and lost
alerts after a rebalance. ``true_end_offsets`` reads the last batch to be sure,
and leaves a right answer (Apache Kafka's) as it is.
"""

from __future__ import annotations

import asyncio

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from auditwatch.config import KafkaConfig
from auditwatch.streams.scaleout.worker import true_end_offsets


def _new_topic(k: KafkaConfig, name: str, partitions: int) -> str:
    topic = k.topic(name)
    admin = KafkaAdminClient(bootstrap_servers=k.bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    return topic


def test_true_end_offsets_is_one_past_the_last_record_of_batched_writes(kafka_cfg: KafkaConfig) -> None:
    boot = kafka_cfg.bootstrap
    topic = _new_topic(kafka_cfg, "ends", 2)
    prod = KafkaProducer(bootstrap_servers=boot, linger_ms=50, batch_size=1 << 20)
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    sent = {tps[0]: 0, tps[1]: 0}
    # batches of several records, as a table's changelog writes come (one flush, many keys)
    for n0, n1 in ((1, 4), (3, 1), (10, 25), (7, 2)):
        for tp, n in ((tps[0], n0), (tps[1], n1)):
            for i in range(n):
                prod.send(topic, key=b"k%d" % i, value=b"v" * 100, partition=tp.partition)
            sent[tp] += n
        prod.flush()
    prod.close()
    c = KafkaConsumer(bootstrap_servers=boot)
    reported = c.end_offsets(tps)
    c.close()
    got = asyncio.run(true_end_offsets(boot, dict(reported)))
    assert got == sent, {"reported by the broker": reported, "read": got, "sent": sent}


def test_an_empty_partition_ends_at_zero(kafka_cfg: KafkaConfig) -> None:
    tp = TopicPartition(_new_topic(kafka_cfg, "empty", 1), 0)
    assert asyncio.run(true_end_offsets(kafka_cfg.bootstrap, {tp: 0})) == {tp: 0}
