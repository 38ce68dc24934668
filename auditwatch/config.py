"""Configuration: one YAML file, validated at start, errors that name the key.

Secrets never live in the YAML in clear: a secret is given as ``*_env`` (the
name of an environment variable) or ``*_file`` (a path), and resolved here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditwatch.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceConfig(_Strict):
    path: str
    format: str = "auto"
    environment: str = ""  # every event of this source is in this environment
    name: str = ""


class EnvironmentsConfig(_Strict):
    protected: list[str] = Field(default_factory=lambda: ["prod", "production"])
    # environment -> regexes searched (case-insensitive) in resource, database and account names
    patterns: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "prod": [r"(^|[^a-z0-9])prod(uction)?([^a-z0-9]|$)", r"(^|[^a-z0-9])prd([^a-z0-9]|$)"],
            "staging": [r"(^|[^a-z0-9])stag(e|ing)([^a-z0-9]|$)"],
            "dev": [r"(^|[^a-z0-9])dev(elopment)?([^a-z0-9]|$)", r"(^|[^a-z0-9])test([^a-z0-9]|$)"],
        }
    )
    accounts: dict[str, str] = Field(default_factory=dict)  # AWS account id -> environment
    databases: dict[str, str] = Field(default_factory=dict)  # database name -> environment

    @field_validator("patterns")
    @classmethod
    def _compile(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for env, pats in v.items():
            for p in pats:
                try:
                    re.compile(p)
                except re.error as e:
                    raise ValueError(f"environments.patterns.{env}: bad regex {p!r}: {e}") from None
        return v


class WebhookConfig(_Strict):
    url: str
    secret_env: str = ""  # env var holding the Standard Webhooks secret ("whsec_...")
    secret_file: str = ""
    timeout_seconds: float = 5.0
    max_attempts: int = 8
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 30.0

    def secret(self) -> str:
        return resolve_secret("responders.webhook", self.secret_env, self.secret_file)


class PostgresRevokerConfig(_Strict):
    dsn_env: str = ""  # env var holding a libpq DSN of a role allowed to ALTER ROLE / terminate
    dsn_file: str = ""
    protected_roles: list[str] = Field(default_factory=lambda: ["postgres", "rdsadmin", "cloudsqladmin",
                                                                 "azure_superuser"])

    def dsn(self) -> str:
        return resolve_secret("responders.postgres", self.dsn_env, self.dsn_file)


class AwsRevokerConfig(_Strict):
    region: str = "us-east-1"
    endpoint_url: str = ""  # for tests (moto) and partitions; "" = AWS
    protected_principals: list[str] = Field(default_factory=list)


class SlackConfig(_Strict):
    channel: str
    token_env: str = ""
    token_file: str = ""
    signing_secret_env: str = ""
    signing_secret_file: str = ""
    base_url: str = "https://slack.com/api/"

    def token(self) -> str:
        return resolve_secret("responders.slack.token", self.token_env, self.token_file)

    def signing_secret(self) -> str:
        return resolve_secret("responders.slack.signing_secret", self.signing_secret_env, self.signing_secret_file)


class PagerDutyConfig(_Strict):
    routing_key_env: str = ""
    routing_key_file: str = ""
    url: str = "https://events.pagerduty.com/v2/enqueue"
    min_severity: Literal["info", "low", "medium", "high", "critical"] = "high"

    def routing_key(self) -> str:
        return resolve_secret("responders.pagerduty.routing_key", self.routing_key_env, self.routing_key_file)


class RespondersConfig(_Strict):
    dry_run: bool = False
    webhook: WebhookConfig | None = None
    postgres: PostgresRevokerConfig | None = None
    aws: AwsRevokerConfig | None = None
    slack: SlackConfig | None = None
    pagerduty: PagerDutyConfig | None = None
    # identity kinds that may be revoked automatically; humans are paged instead
    auto_revoke_kinds: list[Literal["agent", "service", "unknown", "human"]] = Field(
        default_factory=lambda: ["agent"])
    protected: list[str] = Field(default_factory=list)  # identity ids / principals never revoked automatically
    max_auto_revocations_per_minute: int = 5
    breaker_cooldown_seconds: float = 900.0


class DetectorOverride(_Strict):
    enabled: bool = True
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None


class AnomalyConfig(_Strict):
    enabled: bool = True
    learn_seconds: float = 7 * 86400  # event time before anomaly detectors may alert


class DetectorsConfig(_Strict):
    builtin_rules: bool = True  # the rule pack shipped in detectors/rules/pack
    rules: list[str] = Field(default_factory=list)  # more rule files or directories
    allowed_lateness_seconds: float = 60.0
    incident_window_seconds: float = 1800.0
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)
    overrides: dict[str, DetectorOverride] = Field(default_factory=dict)


class KafkaConfig(_Strict):
    """Scale-out mode: where the broker is and how topics and workers are laid out.

    ``AUDITWATCH_KAFKA_BOOTSTRAP`` in the environment overrides ``bootstrap_servers``
    (one config file for every environment; the broker address is deployment's).
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "auditwatch"  # topics: <prefix>.raw.<source>, .events, .alerts, .responses, .deadletter
    partitions: int = Field(default=8, ge=1, le=1024)  # events/alerts partitions: the worker parallelism ceiling
    raw_partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)
    app_id: str = "auditwatch"  # Faust application id: consumer group and changelog topic names
    store: str = "memory://"  # Faust table store; "rocksdb://" (rocksdict) for state larger than memory
    data_dir: str = "auditwatch-worker-data"
    batch_max: int = Field(default=2000, ge=1)  # records per stream.take() batch
    batch_within_ms: float = Field(default=5.0, gt=0)  # a lone record waits at most this long for company
    # each commit first stores the slices and parse marks of its interval (~40 ms for 250
    # identities, agents held): at 0.5 s that stalled 8% of the time; measured at 5k events/s,
    # p99 produce->alert 207/210 ms at 0.5 s, 171/184 ms at 2.0 s. Longer: more redone after a crash
    commit_interval_seconds: float = Field(default=2.0, gt=0)
    producer_linger_ms: int = Field(default=2, ge=0)
    # aiokafka keeps one open batch per partition and a send that finds it full waits for the
    # broker's answer; at Faust's 16 KB a detect batch's slice writes went one round trip each
    # (154 writes, 400 ms). Under the broker's 1 MB message limit, which applies to a whole batch
    producer_batch_bytes: int = Field(default=512 * 1024, ge=16 * 1024, le=1024 * 1024)
    # how long a fetch may wait on the broker for data. Apache Kafka answers as soon as data
    # arrives; a broker that holds the fetch for the whole wait (the test Tansu) adds it to
    # every hop between agents, so keep it short. (Faust itself hard-codes 1,500 ms.)
    fetch_max_wait_ms: int = Field(default=10, ge=1, le=10_000)
    # a worker killed without goodbye holds its partitions this long before the group moves them
    session_timeout_seconds: float = Field(default=30.0, ge=1.0, le=300.0)
    compression: Literal["gzip", "none"] = "gzip"
    # parse in a child process: parsing is about a third of a worker's CPU, and in one Python
    # process it competes with detection for one core (measured in the closing note of issue 8)
    parse_process: bool = True
    web_port: int = Field(default=6066, ge=0, le=65535)  # worker /healthz and /metrics
    web_host: str = "0.0.0.0"
    ship_state: str = "auditwatch-ship.json"  # the shipper's file offsets
    ship_chunk_bytes: int = Field(default=256 * 1024, ge=1024, le=900 * 1024)  # one raw message at most
    ship_max_message_bytes: int = Field(default=900 * 1024, ge=1024)

    @property
    def bootstrap(self) -> str:
        return os.environ.get("AUDITWATCH_KAFKA_BOOTSTRAP") or self.bootstrap_servers

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


class Config(_Strict):
    registry: str = ""  # path to the identity registry YAML ("" = none)
    identities: list[dict[str, Any]] = Field(default_factory=list)  # inline registry entries
    environments: EnvironmentsConfig = Field(default_factory=EnvironmentsConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    mappings: list[str] = Field(default_factory=list)  # your own JSON audit-log mappings (YAML files)
    detectors: DetectorsConfig = Field(default_factory=DetectorsConfig)
    responders: RespondersConfig = Field(default_factory=RespondersConfig)
    store: str = "auditwatch.db"  # SQLite path; ":memory:" for none
    dead_letter: str = "auditwatch-deadletter.jsonl"
    listen: str = "127.0.0.1:8765"  # HTTP ingest, health
    base_dir: str = ""  # where relative paths resolve (the config file's folder)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)

    def path(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() or not self.base_dir else Path(self.base_dir) / q


def resolve_secret(key: str, env: str, file: str) -> str:
    if env:
        v = os.environ.get(env)
        if not v:
            raise ConfigError(f"{key}.secret_env: environment variable {env} is not set")
        return v
    if file:
        try:
            return Path(file).read_text().strip()
        except OSError as e:
            raise ConfigError(f"{key}.secret_file: {e}") from None
    raise ConfigError(f"{key}: no secret given (set secret_env or secret_file)")


def _format_validation(e: ValidationError, where: str) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{where}: {loc}: {err['msg']}")
    return "\n".join(parts)


def load_config(path: str | Path | None) -> Config:
    if path is None:
        # no configuration: nothing kept but the dead letters, next to where you are
        return Config(store=":memory:", dead_letter="auditwatch-deadletter.jsonl")
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except OSError as e:
        raise ConfigError(f"{p}: {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping")
    for secretish in ("secret", "token", "password", "routing_key"):
        _refuse_clear_secret(data, secretish, str(p))
    data.setdefault("base_dir", str(p.parent.resolve()))
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e, str(p))) from None


def _refuse_clear_secret(node: Any, word: str, where: str, trail: str = "") -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            key = f"{trail}.{k}" if trail else str(k)
            if isinstance(k, str) and k == word and isinstance(v, str):
                raise ConfigError(
                    f"{where}: {key}: secrets are not accepted in clear; use {k}_env or {k}_file")
            _refuse_clear_secret(v, word, where, key)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _refuse_clear_secret(v, word, where, f"{trail}[{i}]")
