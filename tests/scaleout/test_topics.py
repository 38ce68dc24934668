"""``auditwatch topics create`` against a real broker: every topic with its configured
partitions, idempotent, and a clear refusal when an existing topic is too small."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from kafka.admin import KafkaAdminClient, NewTopic

from auditwatch.cli_ship import register
from auditwatch.config import KafkaConfig
from auditwatch.streams.scaleout.broker import ENV, free_port
from auditwatch.streams.scaleout.topics import topic_specs


def run(*args: str) -> Result:
    group = click.Group("auditwatch")
    register(group)
    return CliRunner().invoke(group, list(args))


def write_config(tmp_path: Path, k: KafkaConfig, bootstrap: str | None = None) -> str:
    p = tmp_path / "auditwatch.yaml"
    p.write_text(f"""kafka:
  bootstrap_servers: "{bootstrap or k.bootstrap_servers}"
  topic_prefix: {k.topic_prefix}
  partitions: {k.partitions}
  raw_partitions: {k.raw_partitions}
""")
    return str(p)


def partitions(k: KafkaConfig) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=k.bootstrap)
    try:
        names = [s.name for s in topic_specs(k)]
        return {m["name"]: len(m["partitions"]) for m in admin.describe_topics(names)}
    finally:
        admin.close()


def test_create_makes_every_topic_with_its_partitions_and_is_idempotent(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    cfg = write_config(tmp_path, kafka_cfg)
    specs = topic_specs(kafka_cfg)
    assert {s.partitions for s in specs} == {kafka_cfg.raw_partitions, kafka_cfg.partitions}

    first = run("topics", "create", "--config", cfg)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert len(lines) == len(specs)
    for s, line in zip(specs, lines, strict=True):
        assert line.split()[:3] == ["created", s.name, str(s.partitions)]
    assert partitions(kafka_cfg) == {s.name: s.partitions for s in specs}

    second = run("topics", "create", "--config", cfg)
    assert second.exit_code == 0, second.output
    assert [ln.split()[:3] for ln in second.stdout.splitlines()] == \
        [["exists", s.name, str(s.partitions)] for s in specs]

    listed = run("topics", "list", "--config", cfg)
    assert listed.exit_code == 0, listed.output
    assert all("missing" not in ln for ln in listed.stdout.splitlines())


def test_existing_topic_with_fewer_partitions_is_refused(
        tmp_path: Path, kafka_cfg: KafkaConfig) -> None:
    events = kafka_cfg.topic("events")
    admin = KafkaAdminClient(bootstrap_servers=kafka_cfg.bootstrap)
    try:
        admin.create_topics([NewTopic(events, 1, 1)])
    finally:
        admin.close()
    r = run("topics", "create", "--config", write_config(tmp_path, kafka_cfg))
    assert r.exit_code == 1
    assert f"{events} has 1 partitions, config says {kafka_cfg.partitions}" in r.stderr


def test_unreachable_broker_is_a_clear_error(tmp_path: Path, kafka_cfg: KafkaConfig,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)  # point at nothing, even when an external Kafka is named
    nowhere = f"127.0.0.1:{free_port()}"
    cfg = write_config(tmp_path, kafka_cfg, nowhere)
    r = run("topics", "create", "--config", cfg, "--timeout", "1")
    assert r.exit_code == 1
    assert f"broker {nowhere} unreachable within 1s" in r.stderr
