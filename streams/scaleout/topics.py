"""Topic names and their creation (kafka-python's admin client).

raw.<source>   what the shipper read, keyed by stream (a followed file's folder):
               one stream's files stay in order on one partition
events         normalised, attributed events, keyed by identity id
alerts         alerts with their incident, keyed by identity id
responses      what the responder decided and did, keyed by incident id
deadletter     anything that could not be parsed or handled, with the reason
"""

from __future__ import annotations

from dataclasses import dataclass

from auditwatch.config import KafkaConfig
from auditwatch.streams.sources.detect import SOURCES

# raw topics exist for every known source, JSON that no sniffer claims, and
# bytes nothing recognised (the worker dead-letters those with their position)
RAW_KINDS = tuple(sorted(set(SOURCES) | {"json", "unknown"}))


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    purpose: str


def raw_topic(cfg: KafkaConfig, source: str) -> str:
    kind = source if source in RAW_KINDS else "unknown"
    return cfg.topic(f"raw.{kind}")


def topic_specs(cfg: KafkaConfig) -> list[TopicSpec]:
    specs = [TopicSpec(raw_topic(cfg, k), cfg.raw_partitions, f"raw {k} records, keyed by stream")
             for k in RAW_KINDS]
    specs += [
        TopicSpec(cfg.topic("events"), cfg.partitions, "normalised events, keyed by identity"),
        TopicSpec(cfg.topic("alerts"), cfg.partitions, "alerts and their incidents, keyed by identity"),
        TopicSpec(cfg.topic("responses"), cfg.partitions, "responder decisions and outcomes, keyed by incident"),
        TopicSpec(cfg.topic("deadletter"), cfg.raw_partitions, "records that could not be handled, with reasons"),
    ]
    return specs


def create_topics(cfg: KafkaConfig, timeout_s: float = 30.0) -> tuple[list[str], list[str]]:
    """Create every topic that does not exist yet. Returns (created, already there).

    A topic that exists with fewer partitions than configured is an error: keys
    would land on other partitions than the workers' state expects.
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    # bootstrap_timeout_ms: an unreachable broker fails within the timeout, not kafka-python's 30 s
    admin = KafkaAdminClient(bootstrap_servers=cfg.bootstrap, client_id="auditwatch-topics",
                             request_timeout_ms=int(timeout_s * 1000),
                             bootstrap_timeout_ms=int(timeout_s * 1000))
    try:
        existing = set(admin.list_topics())
        want = topic_specs(cfg)
        new = [NewTopic(s.name, s.partitions, cfg.replication_factor) for s in want if s.name not in existing]
        created: list[str] = []
        if new:
            try:
                admin.create_topics(new, timeout_ms=int(timeout_s * 1000))
                created = [t.name for t in new]
            except TopicAlreadyExistsError:  # a race with another creator: fine, checked below
                created = []
        there = [s.name for s in want if s.name in existing]
        if there:
            meta = admin.describe_topics(there)
            # kafka-python 3 names the topic "name"; 2.x called it "topic"
            short = [f"{s.name} has {len(m['partitions'])} partitions, config says {s.partitions}"
                     for m in meta for s in want
                     if s.name == m.get("name", m.get("topic"))
                     and len(m.get("partitions") or []) < s.partitions]
            if short:
                raise RuntimeError("existing topics are smaller than configured:\n" + "\n".join(short))
        return created, there
    finally:
        admin.close()
