"""The detection core: enrich → attribute → detect → group.

Plain synchronous Python over in-memory objects with an injected clock: it
knows nothing of files, Kafka or HTTP, so the embedded runner and the Faust
workers run exactly the same code. Detection is the rule engine (the built-in
pack plus the user's rules) and the anomaly detectors; their state can be
dumped and loaded so it survives restarts.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditwatch.config import Config, EnvironmentsConfig
from auditwatch.detectors.anomaly.anomalous_sequence import AnomalousSequence
from auditwatch.detectors.anomaly.base import AnomalyDetector
from auditwatch.detectors.anomaly.first_time_seen import FirstTimeSeen
from auditwatch.detectors.anomaly.off_hours import OffHours
from auditwatch.detectors.anomaly.rate_anomaly import RateAnomaly
from auditwatch.detectors.rules.engine import RuleEngine
from auditwatch.detectors.rules.loader import PACK_DIR, Rule, load_dir
from auditwatch.errors import ConfigError
from auditwatch.incidents import Incident, IncidentGrouper
from auditwatch.model import Alert, Event
from auditwatch.streams.identity.attribute import Attributor
from auditwatch.streams.identity.registry import Registry, load_registry

log = logging.getLogger("auditwatch.core")


class EnvironmentResolver:
    """Which environment an event touched, when the source did not say."""

    def __init__(self, cfg: EnvironmentsConfig) -> None:
        self.accounts = cfg.accounts
        self.databases = cfg.databases
        self.patterns = [(env, re.compile(p, re.IGNORECASE)) for env, pats in cfg.patterns.items() for p in pats]
        self._cache: dict[tuple[str, str, str], str] = {}

    def resolve(self, ev: Event) -> str:
        r = ev.resource
        if r.environment:
            return r.environment
        key = (r.name, r.database, ev.actor.account)
        env = self._cache.get(key)
        if env is None:
            env = self._decide(*key)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = env
        r.environment = env
        return env

    def _decide(self, name: str, database: str, account: str) -> str:
        if database and database in self.databases:
            return self.databases[database]
        for text in (name, database):
            if not text:
                continue
            for env, pat in self.patterns:
                if pat.search(text):
                    return env
        if account and account in self.accounts:
            return self.accounts[account]
        return ""


@dataclass(slots=True)
class Decision:
    alerts: list[Alert] = field(default_factory=list)
    incidents: list[tuple[Incident, bool]] = field(default_factory=list)  # (incident, created)


def load_rules(config: Config) -> list[Rule]:
    protected = frozenset(config.environments.protected)
    rules: list[Rule] = []
    sources = ([str(PACK_DIR)] if config.detectors.builtin_rules else []) + [
        str(config.path(p)) for p in config.detectors.rules]
    for src in sources:
        loaded, errors = load_dir(src, protected)
        if errors:
            raise ConfigError("invalid rules:\n" + "\n".join(str(e) for e in errors))
        rules += loaded
    ids = [r.id for r in rules]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ConfigError(f"duplicate rule ids across rule sources: {', '.join(sorted(dup))}")
    for r in rules:
        ov = config.detectors.overrides.get(r.id)
        if ov is not None:
            r.enabled = ov.enabled
            if ov.severity:
                r.severity = ov.severity
    return rules


class Core:
    def __init__(self, config: Config, registry: Registry | None = None,
                 clock: Callable[[], float] | None = None, rules: list[Rule] | None = None) -> None:
        self.config = config
        self.clock = clock or time.time
        if registry is None:
            registry = load_registry(config.path(config.registry) if config.registry else None,
                                     config.identities)
        self.registry = registry
        self.attributor = Attributor(registry)
        self.envs = EnvironmentResolver(config.environments)
        self.rules = rules if rules is not None else load_rules(config)
        self.engine = RuleEngine(self.rules, allowed_lateness=config.detectors.allowed_lateness_seconds)
        self.anomaly: list[AnomalyDetector] = self.new_anomaly_detectors()
        self.grouper = IncidentGrouper(config.detectors.incident_window_seconds)

    def new_anomaly_detectors(self) -> list[AnomalyDetector]:
        out: list[AnomalyDetector] = []
        an = self.config.detectors.anomaly
        if an.enabled:
            protected = frozenset(self.config.environments.protected)
            for det in (FirstTimeSeen(an.learn_seconds, protected), RateAnomaly(an.learn_seconds),
                        OffHours(an.learn_seconds), AnomalousSequence(an.learn_seconds)):
                ov = self.config.detectors.overrides.get(det.id)
                if ov is not None and not ov.enabled:
                    continue
                if ov is not None and ov.severity:
                    det.severity = ov.severity  # type: ignore[misc]
                out.append(det)
        return out

    def handle(self, ev: Event) -> Decision:
        self.enrich(ev)
        return self.detect(ev)

    def enrich(self, ev: Event) -> None:
        """Environment and identity: what the Kafka parse stage does before repartitioning."""
        self.envs.resolve(ev)
        self.attributor.attribute(ev)

    def detect(self, ev: Event, late: bool | None = None) -> Decision:
        """Rules, anomaly detectors, incidents for one enriched event."""
        d = Decision()
        alerts = self.engine.on_event(ev, late)
        for det in self.anomaly:
            try:
                alerts += det.on_event(ev)
            except Exception as e:  # a detector bug costs that detector's verdict, not the stream
                log.exception("detector %s failed on %s: %s", det.id, ev.event_id, e)
        for a in alerts:
            d.alerts.append(a)
            d.incidents.append(self.grouper.add(a))
        return d

    # -- state that survives a restart ------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        return {"version": 1, "rules": self.engine.dump(), "anomaly": {d.id: d.dump() for d in self.anomaly},
                "identity": self.attributor.dump()}

    def load_state(self, state: dict[str, Any]) -> None:
        if state.get("version") != 1:
            log.warning("ignoring detector state of unknown version %r", state.get("version"))
            return
        self.engine.load(state.get("rules", {}))
        self.attributor.load(state.get("identity", {}))
        for d in self.anomaly:
            if d.id in state.get("anomaly", {}):
                d.load(state["anomaly"][d.id])
