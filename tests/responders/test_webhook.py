"""Revocation webhooks: signed per Standard Webhooks, retried with backoff,
once per incident, durable across a restart — against a real HTTP receiver."""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from auditwatch.config import Config, RespondersConfig, WebhookConfig
from auditwatch.demo.receiver import WebhookReceiver
from auditwatch.responders.outbox import DeliveryWorker
from auditwatch.responders.webhook import WebhookSender
from auditwatch.store import Store
from auditwatch.streams.embedded import Pipeline
from tests.factories import event

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    with WebhookReceiver(SECRET) as rx:
        yield rx


def config(tmp_path: Path, url: str, **kw: object) -> Config:
    os.environ["AW_TEST_SECRET"] = SECRET
    return Config(
        store=str(tmp_path / "aw.db"),
        dead_letter=str(tmp_path / "dl.jsonl"),
        identities=[
            {
                "id": "agent:x",
                "kind": "agent",
                "owner": "dana",
                "match": {"db_roles": ["agent_rw"]},
            },
            {"id": "bob", "kind": "human", "match": {"db_roles": ["bob"]}},
        ],
        responders=RespondersConfig(
            webhook=WebhookConfig(
                url=url, secret_env="AW_TEST_SECRET", **({"backoff_initial_seconds": 0.01} | kw)
            )
        ),
    )  # type: ignore[arg-type]


def agent_drop(t: float, role: str = "agent_rw", name: str = "DROP TABLE") -> object:
    return event(
        name,
        cats=("data.destroy",),
        env="prod",
        t=t,
        activity="sql",
        actor={"principal": role, "principal_type": "db_user"},
    )


def test_signature_matches_the_spec() -> None:
    s = WebhookSender("http://127.0.0.1:9/x", SECRET)
    h = s.headers("msg_1", '{"a":1}', now=1_700_000_000)
    assert h["webhook-id"] == "msg_1" and h["webhook-timestamp"] == "1700000000"
    assert h["webhook-signature"] == Webhook(SECRET).sign(
        "msg_1",
        __import__("datetime").datetime.fromtimestamp(1_700_000_000, __import__("datetime").UTC),
        '{"a":1}',
    )
    assert h["webhook-signature"].startswith("v1,")
    s.close()


def test_receiver_rejects_a_bad_signature(receiver: WebhookReceiver) -> None:
    body = b'{"type":"x"}'
    h = WebhookSender(
        receiver.url, "whsec_" + base64.b64encode(b"another-secret-entirely-0000").decode()
    ).headers("m1", body.decode())
    r = httpx.post(receiver.url, content=body, headers=h)
    assert r.status_code == 401 and receiver.state.rejected == 1 and not receiver.state.accepted


def test_agent_revoked_once_per_incident(tmp_path: Path, receiver: WebhookReceiver) -> None:
    pipe = Pipeline(config(tmp_path, receiver.url))
    for i in range(3):  # three destructive statements, one incident
        pipe.process(agent_drop(1_700_000_000 + i))  # type: ignore[arg-type]
    assert pipe.drain(5)
    pipe.close()
    assert len(pipe.alerts) == 3 and len({a.incident_id for a in pipe.alerts}) == 1
    assert len(receiver.state.accepted) == 1 and receiver.state.duplicates == 0
    got = receiver.state.accepted[0]
    assert got.webhook_id == f"revoke-{pipe.alerts[0].incident_id}"
    data = got.payload["data"]
    assert got.payload["type"] == "auditwatch.revocation.requested"
    assert data["identity"]["id"] == "agent:x" and data["identity"]["owner"] == "dana"
    assert data["credentials"] == [{"type": "db_role", "id": "agent_rw"}]
    assert data["evidence"][0]["action"] == "DROP TABLE"
    rows = Store(tmp_path / "aw.db").outbox()
    assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 1)]


def test_human_is_not_revoked(tmp_path: Path, receiver: WebhookReceiver) -> None:
    pipe = Pipeline(config(tmp_path, receiver.url))
    pipe.process(agent_drop(1_700_000_000, role="bob"))  # type: ignore[arg-type]
    pipe.close()
    assert [a.rule_id for a in pipe.alerts] == ["destructive-in-protected"]
    assert pipe.revocations == {} and receiver.state.requests == 0


def test_retries_until_the_receiver_answers(tmp_path: Path, receiver: WebhookReceiver) -> None:
    receiver.state.fail_next = 3
    pipe = Pipeline(config(tmp_path, receiver.url))
    pipe.process(agent_drop(1_700_000_000))  # type: ignore[arg-type]
    assert pipe.drain(10)
    pipe.close()
    assert receiver.state.requests == 4 and len(receiver.state.accepted) == 1
    store = Store(tmp_path / "aw.db")
    row = store.outbox()[0]
    assert row["status"] == "delivered" and row["attempts"] == 4
    assert [a["status_code"] for a in store.attempts(row["id"])] == [503, 503, 503, 200]


def test_dead_after_the_budget(tmp_path: Path) -> None:
    pipe = Pipeline(
        config(tmp_path, "http://127.0.0.1:9/unreachable", max_attempts=3, timeout_seconds=0.5)
    )
    pipe.process(agent_drop(1_700_000_000))  # type: ignore[arg-type]
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline and Store(tmp_path / "aw.db").outbox()[0]["status"] == "pending"
    ):
        time.sleep(0.02)
    pipe.close(drain_timeout=0)
    row = Store(tmp_path / "aw.db").outbox()[0]
    assert row["status"] == "dead" and row["attempts"] == 3 and "ConnectError" in row["last_error"]
    assert next(iter(pipe.revocations.values()))["status"] == "dead"
    failed = [a for a in Store(tmp_path / "aw.db").alerts() if a["rule_id"] == "responder-delivery-failed"]
    assert len(failed) == 1 and "gave up after 3 attempts" in failed[0]["reason"]


def test_pending_revocation_survives_a_restart(tmp_path: Path, receiver: WebhookReceiver) -> None:
    # first process: queued while the receiver is unreachable, then the process "dies"
    pipe = Pipeline(
        config(tmp_path, "http://127.0.0.1:9/down", timeout_seconds=0.2, backoff_initial_seconds=60)
    )
    pipe.process(agent_drop(1_700_000_000))  # type: ignore[arg-type]
    time.sleep(0.3)
    pipe.worker.stop()  # type: ignore[union-attr]
    key = Store(tmp_path / "aw.db").outbox()[0]["idempotency_key"]
    # second process, receiver reachable: the row is picked up and delivered under the same key
    store = Store(tmp_path / "aw.db")
    store.conn().execute("UPDATE outbox SET endpoint=?, next_attempt=0", (receiver.url,))
    worker = DeliveryWorker(store, WebhookSender(receiver.url, SECRET), backoff_initial=0.01)
    worker.start()
    assert worker.wait_idle(5)
    worker.stop()
    assert [r.webhook_id for r in receiver.state.accepted] == [key]
    assert (
        orjson.loads(orjson.dumps(receiver.state.accepted[0].payload))["data"]["identity"]["id"]
        == "agent:x"
    )


def test_detector_state_survives_a_restart(tmp_path: Path, receiver: WebhookReceiver) -> None:
    from auditwatch.detectors.rules.state import load_event

    cfg = config(tmp_path, receiver.url)
    who = {"principal": "bob", "principal_type": "db_user"}
    first = Pipeline(cfg, persist_state=True)
    e1 = load_event(
        {
            "time": 1_700_000_000,
            "action": "DROP TABLE",
            "categories": ["data.destroy"],
            "resource": {"environment": "staging"},
            "actor": who,
            "activity": "sql",
        }
    )
    first.process(e1)
    first.close()
    assert list(first.alerts) == []
    second = Pipeline(cfg, persist_state=True)
    e2 = load_event(
        {
            "time": 1_700_000_120,
            "action": "DROP SCHEMA",
            "categories": ["backup.destroy"],
            "resource": {"environment": "staging"},
            "actor": who,
            "activity": "sql",
        },
        n=2,
    )
    second.process(e2)
    second.close()
    assert [a.rule_id for a in second.alerts] == ["data-and-backup-destroyed"]
    assert [e.action.name for e in second.alerts[0].evidence] == ["DROP TABLE", "DROP SCHEMA"]
