"""First time seen: an identity or a credential doing a kind of action, or touching
a protected environment, it has never done before.

Threat: a credential made for one job used for another — the domain-management
token whose first destructive call is a volume deletion; a service account that
has only ever read, suddenly dropping. Known-good history is the baseline.
Evidence: per identity and per credential, the set of action categories and of
protected environments seen (one int and a short tuple each); after the learn
period, a successful event bringing a category or protected environment not in
that set alerts, with the history that made it new.
False positives: new duties; they alert once, then are part of the baseline.
"""

from __future__ import annotations

from typing import Any

from auditwatch.detectors.anomaly.base import AnomalyDetector, mask
from auditwatch.model import Alert, Event, iso


class FirstTimeSeen(AnomalyDetector):
    id = "anomaly-first-time-seen"
    title = "Identity or credential did something for the first time"
    severity = "medium"
    attack = ("T1078.004",)

    def __init__(self, learn_seconds: float = 7 * 86400, protected: frozenset[str] = frozenset({"prod"})) -> None:
        super().__init__(learn_seconds)
        self.protected = protected
        # key -> [events seen, categories mask, protected environments seen, first seen time]
        self.seen: dict[str, list[Any]] = {}

    def on_event(self, ev: Event) -> list[Alert]:
        learning = self.learning(ev.time)
        if ev.action.outcome != "success":
            return []
        ident = ev.identity
        keys = []
        if ident is not None:
            keys.append(("identity", ident.id))
        cred = ev.actor.credential_id
        if cred and (ident is None or cred != ident.id):
            keys.append(("credential", cred))
        m = mask(ev.action.categories)
        env = ev.resource.environment if ev.resource.environment in self.protected else ""
        out: list[Alert] = []
        for kind, k in keys:
            st = self.seen.get(k)
            if st is None:
                st = self.seen[k] = [0, 0, (), ev.time]
            new_cats = m & ~st[1]
            new_env = bool(env) and env not in st[2]
            if not learning and (new_cats or new_env) and st[0] > 0:
                what = [c for c in ev.action.categories if mask((c,)) & new_cats]
                if new_env:
                    what.append(f"environment {env}")
                out.append(self.alert(ev, f"first time {kind} {k} did {', '.join(what)} ({ev.action.name})", {
                    "key": kind, "events_seen_before": st[0], "first_seen": iso(st[3]),
                    "categories_seen": [c for c in _cats(st[1])], "protected_environments_seen": list(st[2]),
                }))
            st[0] += 1
            st[1] |= m
            if new_env:
                st[2] = st[2] + (env,)
        return out[:1]  # identity and credential new at once: one alert

    def dump(self) -> dict[str, Any]:
        return super().dump() | {"seen": self.seen}

    def load(self, d: dict[str, Any]) -> None:
        super().load(d)
        self.seen = {k: [v[0], v[1], tuple(v[2]), v[3]] for k, v in d.get("seen", {}).items()}


def _cats(m: int) -> list[str]:
    from auditwatch.detectors.anomaly.base import CAT_BIT

    return [c for c, b in CAT_BIT.items() if m & b]
