"""The detection core: enrich → attribute → detect → group.

Plain synchronous Python over in-memory objects with an injected clock: it
knows nothing of files, Kafka or HTTP, so the embedded runner and the Faust
workers run exactly the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import auditwatch.detectors.agent_destroys_protected  # noqa: F401  (registers)
import auditwatch.detectors.data_and_backup_destroyed  # noqa: F401
import auditwatch.detectors.destructive_in_protected  # noqa: F401
import auditwatch.detectors.logging_disabled  # noqa: F401
from auditwatch.config import Config, EnvironmentsConfig
from auditwatch.detectors.base import REGISTRY, Detector, DetectorContext
from auditwatch.incidents import Incident, IncidentGrouper
from auditwatch.model import Alert, Event
from auditwatch.streams.identity.attribute import Attributor
from auditwatch.streams.identity.registry import Registry, load_registry


class EnvironmentResolver:
    """Which environment an event touched, when the source did not say."""

    def __init__(self, cfg: EnvironmentsConfig) -> None:
        self.accounts = cfg.accounts
        self.databases = cfg.databases
        self.patterns = [(env, re.compile(p, re.I)) for env, pats in cfg.patterns.items() for p in pats]
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


class Core:
    def __init__(self, config: Config, registry: Registry | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self.config = config
        self.clock = clock or time.time
        if registry is None:
            registry = load_registry(config.path(config.registry) if config.registry else None,
                                     config.identities)
        self.registry = registry
        self.attributor = Attributor(registry)
        self.envs = EnvironmentResolver(config.environments)
        protected = frozenset(config.environments.protected)
        # registry entries may declare environments protected too ("prod-eu" ...)
        ctx = DetectorContext(protected_environments=protected,
                              destroy_pair_window_seconds=config.detectors.destroy_pair_window_seconds)
        self.detectors: list[Detector] = []
        for did, cls in sorted(REGISTRY.items()):
            ov = config.detectors.overrides.get(did)
            if ov is not None and not ov.enabled:
                continue
            self.detectors.append(cls(ctx))
        self._severity_override = {k: v.severity for k, v in config.detectors.overrides.items() if v.severity}
        self.grouper = IncidentGrouper(config.detectors.incident_window_seconds)

    def handle(self, ev: Event) -> Decision:
        self.envs.resolve(ev)
        self.attributor.attribute(ev)
        d = Decision()
        for det in self.detectors:
            try:
                alerts = det.on_event(ev)
            except Exception as e:  # a detector bug costs that detector's verdict, not the stream
                import logging

                logging.getLogger("auditwatch.core").exception("detector %s failed on %s: %s", det.id, ev.event_id, e)
                continue
            for a in alerts:
                sev = self._severity_override.get(a.rule_id)
                if sev:
                    a.severity = sev  # type: ignore[assignment]
                d.alerts.append(a)
                d.incidents.append(self.grouper.add(a))
        return d
