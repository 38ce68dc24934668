"""``auditwatch ship`` and ``auditwatch topics``: the scale-out mode's command line.

Kept apart from ``auditwatch.cli`` so the Kafka client is imported only by the
commands that talk to a broker; ``register(main)`` adds them to the main group.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

import click
import orjson

from auditwatch.errors import ConfigError


def _load(config: str | None) -> Any:
    from auditwatch.config import load_config

    try:
        return load_config(config)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def _quiet_kafka(verbose: bool) -> None:
    """kafka-python logs every reconnect attempt; the shipper reports an outage once itself."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not verbose:
        logging.getLogger("kafka").setLevel(logging.CRITICAL)


def _partitions(bootstrap: str, names: list[str], timeout_s: float) -> dict[str, int]:
    """Partition count of each topic that exists."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="auditwatch-topics",
                             request_timeout_ms=int(timeout_s * 1000),
                             bootstrap_timeout_ms=int(timeout_s * 1000))
    try:
        there = set(admin.list_topics())
        want = [n for n in names if n in there]
        meta = admin.describe_topics(want) if want else []
        return {str(m.get("name", m.get("topic"))): len(m.get("partitions") or []) for m in meta}
    finally:
        admin.close()


@click.group()
def topics() -> None:
    """The Kafka topics of the scale-out mode (names from kafka.topic_prefix)."""


@topics.command("create")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="YAML configuration.")
@click.option("--timeout", "timeout_s", type=float, default=15.0, show_default=True,
              help="Seconds to reach the broker before giving up.")
def topics_create(config: str | None, timeout_s: float) -> None:
    """Create every topic that does not exist yet (idempotent)."""
    from kafka.errors import KafkaError

    from auditwatch.streams.scaleout.topics import create_topics, topic_specs

    cfg = _load(config)
    _quiet_kafka(False)
    k = cfg.kafka
    try:
        created, _ = create_topics(k, timeout_s=timeout_s)
        counts = _partitions(k.bootstrap, [s.name for s in topic_specs(k)], timeout_s)
    except KafkaError as e:
        raise click.ClickException(f"broker {k.bootstrap} unreachable within {timeout_s:.0f}s: "
                                   f"{type(e).__name__}: {e}") from None
    except RuntimeError as e:  # existing topics with fewer partitions than configured
        raise click.ClickException(str(e)) from None
    for s in topic_specs(k):
        status = "created" if s.name in created else "exists"
        n = counts.get(s.name, s.partitions)
        click.echo(f"{status:8} {s.name:44} {n:>4} partitions  {s.purpose}")


@topics.command("list")
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="YAML configuration.")
@click.option("--timeout", "timeout_s", type=float, default=15.0, show_default=True)
def topics_list(config: str | None, timeout_s: float) -> None:
    """Each configured topic with its partition count on the broker, or 'missing'."""
    from kafka.errors import KafkaError

    from auditwatch.streams.scaleout.topics import topic_specs

    cfg = _load(config)
    _quiet_kafka(False)
    k = cfg.kafka
    specs = topic_specs(k)
    try:
        counts = _partitions(k.bootstrap, [s.name for s in specs], timeout_s)
    except KafkaError as e:
        raise click.ClickException(f"broker {k.bootstrap} unreachable within {timeout_s:.0f}s: "
                                   f"{type(e).__name__}: {e}") from None
    for s in specs:
        have = counts.get(s.name)
        state = "missing" if have is None else f"{have} partitions"
        short = have is not None and have < s.partitions
        note = f"  (config says {s.partitions})" if short else ""
        click.echo(f"{s.name:44} {state:>14}{note}")


@click.command()
@click.option("--config", "config", type=click.Path(exists=True, dir_okay=False),
              help="YAML configuration (kafka:, sources:).")
@click.option("--once", is_flag=True,
              help="Ship what the files hold now, wait for the acks, and exit.")
@click.option("--input-format", default="auto", show_default=True,
              help="Source format of PATHS (auto-detected by default).")
@click.option("--environment", default="", help="Declare the environment of every event in PATHS.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the counters as JSON on stdout at exit.")
@click.option("--ack-timeout", type=float, default=10.0, show_default=True,
              help="Seconds the broker has to acknowledge a send before it counts as down.")
@click.option("--timeout", "timeout_s", type=float, default=None,
              help="--once: give up (exit 1) after this many seconds without a complete ship.")
@click.option("-v", "--verbose", is_flag=True, help="Log kafka-python's own messages as well.")
@click.argument("paths", nargs=-1, type=click.Path())
def ship(config: str | None, once: bool, input_format: str, environment: str, as_json: bool,
         ack_timeout: float, timeout_s: float | None, verbose: bool,
         paths: tuple[str, ...]) -> None:
    """Follow PATHS (files or folders; the config's sources if none) into the raw Kafka topics."""
    from auditwatch.config import SourceConfig
    from auditwatch.streams.scaleout.ship import Shipper
    from auditwatch.streams.sources.detect import canonical

    cfg = _load(config)
    try:
        canonical(input_format)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--input-format") from None
    if paths:
        sources = [SourceConfig(path=os.path.abspath(p), format=input_format,
                                environment=environment) for p in paths]
    else:
        if not cfg.sources:
            raise click.UsageError("give PATHS to ship, or sources: in --config")
        sources = [s.model_copy(update={k: v for k, v in (("format", input_format),
                                                          ("environment", environment))
                                        if v not in ("", "auto")}) for s in cfg.sources]
    _quiet_kafka(verbose)
    try:
        shipper = Shipper(cfg, sources, ack_timeout_s=ack_timeout)
    except ValueError as e:  # an unreadable state file, a source's unknown format
        raise click.ClickException(str(e)) from None
    stop = threading.Event()
    # a signal ends the current cycle (acknowledged, saved), not the process in mid-write
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    complete = True
    try:
        if once:
            complete = shipper.run_once(timeout_s=timeout_s, stop=stop)
        else:
            shipper.run_forever(stop)
    except RuntimeError as e:  # topics smaller than configured
        raise click.ClickException(str(e)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    s = shipper.stats
    if as_json:
        click.echo(orjson.dumps(s.to_dict() | {"complete": complete}).decode())
    click.echo(f"auditwatch ship: {s.files} files, {s.chunks} chunks ({s.lines} lines), "
               f"{s.documents} documents, {s.bytes} bytes, {s.dead_letters} dead letters, "
               f"{s.retries} retries in {s.outages} outages; positions in {shipper.state.path}",
               err=True)
    if not complete:
        click.echo("auditwatch ship: not everything was acknowledged (broker unreachable or "
                   "stopped); the next run resumes from the saved positions", err=True)
        sys.exit(1)


def register(main: click.Group) -> None:
    main.add_command(topics)
    main.add_command(ship)
