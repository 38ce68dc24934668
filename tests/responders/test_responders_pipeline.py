"""All responders wired in the pipeline: revoke first, then Slack (one thread per
incident) and PagerDuty (one page per incident), over real HTTP; people act on the
incident through Slack's buttons; the policy's protected list and circuit breaker."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from pathlib import Path

from auditwatch.config import (
    Config,
    PagerDutyConfig,
    RespondersConfig,
    SlackConfig,
    WebhookConfig,
)
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.detectors.rules.state import load_event
from auditwatch.responders.slack import handle_interaction
from auditwatch.streams.embedded import Pipeline
from tests.responders.pagerduty_standin import PagerDutyStandIn
from tests.responders.slack_standin import SlackStandIn

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
ROUTING = "R0UTINGKEY0123456789abcdefABCDEF"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"


def cfg(tmp: Path, rx: WebhookReceiver, slack: SlackStandIn, pd: PagerDutyStandIn, **kw: object) -> Config:
    os.environ.update(AW_T_WH=SECRET, AW_T_SLACK=slack.token, AW_T_PD=ROUTING, AW_T_SIGN=SIGNING)
    return Config(
        store=str(tmp / "aw.db"), dead_letter="",
        identities=[{"id": "agent:x", "kind": "agent", "owner": "dana", "match": {"db_roles": ["agent_rw"]}},
                    {"id": "oncall", "kind": "agent", "protected": True, "match": {"db_roles": ["oncall"]}}],
        responders=RespondersConfig(
            webhook=WebhookConfig(url=rx.url, secret_env="AW_T_WH", backoff_initial_seconds=0.01),
            slack=SlackConfig(channel="#aw-alerts", token_env="AW_T_SLACK", signing_secret_env="AW_T_SIGN",
                              base_url=slack.base_url),
            pagerduty=PagerDutyConfig(routing_key_env="AW_T_PD", url=pd.url), **kw))  # type: ignore[arg-type]


def drop(role: str, t: float, table: str = "customers") -> object:
    return load_event({"time": t, "action": "DROP TABLE", "categories": ["data.destroy"], "activity": "sql",
                       "resource": {"environment": "prod", "name": table, "database": "prod_app"},
                       "actor": {"principal": role, "principal_type": "db_user"}}, n=int(t))


def test_revoke_first_then_one_thread_and_one_page(tmp_path: Path) -> None:
    with WebhookReceiver(SECRET) as rx, SlackStandIn() as slack, PagerDutyStandIn() as pd:
        slack.rate_limit(2)  # Slack is throttling: the revocation must not wait for it
        pipe = Pipeline(cfg(tmp_path, rx, slack, pd))
        for i, table in enumerate(("customers", "orders", "payments")):
            pipe.process(drop("agent_rw", 1_700_000_000 + i, table))  # type: ignore[arg-type]
        assert pipe.drain(20)
        pipe.close()
        assert len(rx.state.accepted) == 1
        revoked_at = rx.state.accepted[0].at_mono
        parents = slack.state.parents()
        assert len(parents) == 1 and "agent:x" in json.dumps(parents[0].blocks)
        assert slack.state.replies(parents[0].ts) == []  # later matches joined: no message per event
        assert [m for m, code in slack.state.calls if code == 429]  # the rate limit was really hit
        (inc_id,) = {a.incident_id for a in pipe.alerts}
        assert [e["event_action"] for e in pd.state.events[inc_id]] == ["trigger"]
        assert pd.state.events[inc_id][0]["payload"]["severity"] == "critical"
        # revoke first: the webhook row was created and acknowledged before any notifier row
        rows = pipe.store.outbox()
        assert rows[0]["responder"] == "webhook" and rows[0]["status"] == "delivered"
        assert all(r["id"] > rows[0]["id"] for r in rows if r["responder"] != "webhook")
        assert revoked_at > 0


def test_a_person_acts_through_slack_buttons(tmp_path: Path) -> None:
    with WebhookReceiver(SECRET) as rx, SlackStandIn() as slack, PagerDutyStandIn() as pd:
        c = cfg(tmp_path, rx, slack, pd, auto_revoke_kinds=["service"])  # agents need approval here
        pipe = Pipeline(c)
        pipe.process(drop("agent_rw", 1_700_000_000))  # type: ignore[arg-type]
        (alert,) = pipe.alerts
        assert alert.response == "revoke" and rx.state.accepted == []  # not automatic under this policy

        def click(action: str, ts: float | None = None, secret: str = SIGNING) -> tuple[int, dict]:  # type: ignore[type-arg]
            payload = {"type": "block_actions", "user": {"id": "U1"},
                       "actions": [{"action_id": action, "value": alert.incident_id}]}
            body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
            stamp = str(int(ts if ts is not None else time.time()))
            sig = "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
            return handle_interaction(body, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": sig},
                                      SIGNING, lambda a, i, u: pipe.act(i, a, u))

        assert click("aw_revoke", secret="wrong-secret")[0] == 401
        assert click("aw_revoke", ts=time.time() - 600)[0] == 401  # a replayed, stale request
        status, _ = click("aw_revoke")
        assert status == 200
        assert pipe.drain(10)
        assert len(rx.state.accepted) == 1  # approved by a person, then sent
        assert click("aw_revoke")[0] == 200 and pipe.drain(5) and len(rx.state.accepted) == 1  # once only
        assert click("aw_dismiss")[0] == 200 and pipe.drain(10)
        pipe.close()
        assert [e["event_action"] for e in pd.state.events[alert.incident_id]] == ["trigger", "resolve"]


def test_protected_identity_and_circuit_breaker(tmp_path: Path) -> None:
    with WebhookReceiver(SECRET) as rx, SlackStandIn() as slack, PagerDutyStandIn() as pd:
        pipe = Pipeline(cfg(tmp_path, rx, slack, pd, max_auto_revocations_per_minute=2))
        pipe.process(drop("oncall", 1_700_000_000))  # type: ignore[arg-type]
        decisions = [a for a in pipe.alerts if a.response == "revoke"]
        assert decisions and rx.state.requests == 0
        # three different agents destroying at once: the third trips the breaker
        for i, role in enumerate(("a1", "a2", "a3")):
            pipe.config.identities.append({"id": f"agent:{role}", "kind": "agent", "match": {"db_roles": [role]}})
        from auditwatch.streams.identity.registry import load_registry

        pipe.core.attributor.registry = load_registry(None, pipe.config.identities)
        pipe.core.attributor._cache.clear()
        for i, role in enumerate(("a1", "a2", "a3")):
            pipe.process(drop(role, 1_700_000_100 + i))  # type: ignore[arg-type]
        assert pipe.drain(10)
        pipe.close()
        assert len(rx.state.accepted) == 2
        assert pipe.policy.breaker_open
        third = [a for a in pipe.alerts if a.identity.id == "agent:a3"]
        stored = {a["alert_id"]: a for a in pipe.store.alerts()}
        assert "circuit breaker opened" in stored[third[0].alert_id]["decision"]["reason"]
