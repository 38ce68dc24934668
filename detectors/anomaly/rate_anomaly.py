"""Rate anomaly: an identity doing far more of a kind of action than it usually does.

Threat: a runaway agent or a stolen credential working much faster than the
identity's habit — the same credential that deletes a snapshot a week now
deleting dozens a minute.
Evidence: per identity and action category, counts per one-minute bucket of
event time; an exponentially weighted mean and mean absolute deviation of past
buckets form the baseline (robust to one-off spikes). After the learn period a
bucket whose count exceeds mean + k·deviation (and a floor) alerts once per
bucket, with mean, deviation and count.
False positives: batch jobs on a new schedule; the baseline adapts after a few
windows.
"""

from __future__ import annotations

from typing import Any

from auditwatch.detectors.anomaly.base import AnomalyDetector
from auditwatch.model import Alert, Event

BUCKET = 60.0


class RateAnomaly(AnomalyDetector):
    id = "anomaly-rate"
    title = "Unusual rate of sensitive actions for this identity"
    severity = "high"
    attack = ("T1485",)
    response = "page"

    def __init__(self, learn_seconds: float = 7 * 86400, alpha: float = 0.1, k: float = 6.0,
                 floor: int = 10) -> None:
        super().__init__(learn_seconds)
        self.alpha, self.k, self.floor = alpha, k, floor
        # (identity, category) -> [bucket, count in bucket, ewma mean, ewma abs deviation, buckets, alerted bucket]
        self.st: dict[tuple[str, str], list[float]] = {}

    def on_event(self, ev: Event) -> list[Alert]:
        learning = self.learning(ev.time)
        if not ev.action.categories or ev.identity is None or ev.action.outcome != "success":
            return []
        b = float(int(ev.time // BUCKET))
        out: list[Alert] = []
        for cat in ev.action.categories:
            key = (ev.identity.id, cat)
            s = self.st.get(key)
            if s is None:
                self.st[key] = [b, 1.0, 0.0, 0.0, 0.0, -1.0]
                continue
            if b > s[0]:
                # close the finished bucket and the empty ones after it
                self._fold(s, s[1])
                for _ in range(int(min(b - s[0] - 1, 60))):
                    self._fold(s, 0.0)
                s[0], s[1] = b, 0.0
            elif b < s[0]:
                continue  # an old bucket: already folded into the baseline
            s[1] += 1
            limit = max(self.floor, s[2] + self.k * max(s[3], 1.0))
            if not learning and s[1] > limit and s[5] != b and s[4] >= 3:
                s[5] = b
                out.append(self.alert(ev, f"{int(s[1])} {cat} events in one minute by {ev.identity.id} "
                                          f"(usual {s[2]:.1f} ± {s[3]:.1f})",
                                      {"category": cat, "count_this_minute": int(s[1]), "mean_per_minute": round(s[2], 3),
                                       "deviation": round(s[3], 3), "threshold": round(limit, 2),
                                       "minutes_observed": int(s[4])}))
        return out

    def _fold(self, s: list[float], x: float) -> None:
        a = self.alpha
        dev = abs(x - s[2])
        s[2] = (1 - a) * s[2] + a * x
        s[3] = (1 - a) * s[3] + a * dev
        s[4] += 1

    def dump(self) -> dict[str, Any]:
        return super().dump() | {"st": [[k[0], k[1], v] for k, v in self.st.items()]}

    def load(self, d: dict[str, Any]) -> None:
        super().load(d)
        self.st = {(a, b): list(v) for a, b, v in d.get("st", [])}
