"""PagerDuty Events API v2 pages: built from real incidents (the detection core on
SQL the classifier redacted), sent over real HTTP to a stand-in that validates
like PagerDuty, retried by the real outbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import orjson
import pytest

from auditwatch.config import Config
from auditwatch.core import Core
from auditwatch.detectors.sql.classify import classify
from auditwatch.incidents import Incident
from auditwatch.responders.outbox import DeliveryWorker, Outcome
from auditwatch.responders.pagerduty import PagerDutySender, page_key, page_payload
from auditwatch.store import Store
from tests.factories import event
from tests.responders.pagerduty_standin import PagerDutyStandIn

ROUTING_KEY = "e93facc04764012d7bfb002500d5d1a6"  # 32 characters, as PagerDuty issues them
T0 = 1_700_000_000.0
CFG = Config(
    store=":memory:",
    identities=[
        {
            "id": "agent:cleanup-bot",
            "kind": "agent",
            "owner": "dana",
            "match": {"db_roles": ["agent_rw"]},
        }
    ],
)
LITERAL_SQL = [
    "DELETE FROM customers WHERE 1 = 1 OR email = 'alice@example.com'",
    "UPDATE accounts SET balance = 0, note = 'wiped by agent 9931'",
]
LITERALS = ("alice@example.com", "wiped by agent", "9931")


@pytest.fixture
def pd() -> Iterator[PagerDutyStandIn]:
    with PagerDutyStandIn() as s:
        yield s


def incident(sqls: list[str], *, role: str = "agent_rw") -> Incident:
    """Run statements through the real detection core; the incident they open."""
    core = Core(CFG)
    found: Incident | None = None
    for i, sql in enumerate(sqls):
        v = classify(sql)[0]
        ev = event(
            v.kind,
            cats=v.categories,
            env="prod",
            activity="sql",
            t=T0 + i,
            resource=v.objects[0] if v.objects else "",
            actor={"principal": role, "principal_type": "db_user"},
        )
        ev.resource.type = "table"
        ev.action.statement = v.redacted  # what the PostgreSQL source stores
        for inc, _created in core.handle(ev).incidents:
            found = inc
    assert found is not None, "the statements raised no alert"
    return found


def body(inc: Incident, action: str = "trigger") -> bytes:
    return orjson.dumps(page_payload(inc, action))


def deliver(
    store: Store, sender: PagerDutySender, rows: int, timeout: float = 8.0
) -> list[Outcome]:
    """Run the real delivery thread until ``rows`` outcomes (delivered or dead) came back."""
    outcomes: list[Outcome] = []
    done = threading.Event()

    def on_outcome(o: Outcome) -> None:
        outcomes.append(o)
        if len(outcomes) >= rows:
            done.set()

    worker = DeliveryWorker(
        store, sender, backoff_initial=0.01, backoff_max=0.05, on_outcome=on_outcome
    )
    worker.start()
    try:
        assert done.wait(timeout), f"the outbox did not finish: {outcomes}"
    finally:
        worker.stop()
    return outcomes


def test_trigger_then_resolve_share_the_dedup_key_and_arrive_in_order(pd: PagerDutyStandIn) -> None:
    inc = incident(["DROP TABLE orders", "TRUNCATE invoices"])
    inc.revoked = True
    store = Store(":memory:")
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    for i, action in enumerate(("trigger", "resolve")):
        assert store.enqueue(
            page_key(inc.incident_id, action),
            inc.incident_id,
            sender.name,
            sender.url,
            body(inc, action),
            T0 + i,
            time.perf_counter(),
        )
    outcomes = deliver(store, sender, rows=2)
    sender.close()
    assert [(o.key, o.delivered) for o in outcomes] == [
        (page_key(inc.incident_id, "trigger"), True),
        (page_key(inc.incident_id, "resolve"), True),
    ]
    assert pd.state.arrivals == [(inc.incident_id, "trigger"), (inc.incident_id, "resolve")]
    trigger, resolve = pd.state.events[inc.incident_id]
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": inc.incident_id,
    }
    p = trigger["payload"]
    assert (p["source"], p["severity"], p["component"], p["group"], p["class"]) == (
        "auditwatch",
        "critical",
        "table",
        "prod",
        "agent-destroys-protected",
    )
    assert p["timestamp"] == "2023-11-14T22:13:21.000Z"  # the latest alert's event time
    assert p["summary"].startswith("critical: agent agent:cleanup-bot (owner dana)")
    assert "DROP TABLE orders" in p["summary"] and "[credentials revoked]" in p["summary"]
    d = p["custom_details"]
    assert d["identity"] == {"id": "agent:cleanup-bot", "kind": "agent", "owner": "dana"}
    assert (
        d["owner"] == "dana" and d["revoked"] is True and d["rules"] == ["agent-destroys-protected"]
    )
    assert d["attack"] == ["T1485", "T1490"] and d["evidence_total"] == 2
    assert [e["statement"] for e in d["evidence"]] == ["DROP TABLE orders", "TRUNCATE invoices"]
    assert trigger["client"] == "auditwatch"
    assert trigger["links"][0] == {
        "href": "https://attack.mitre.org/techniques/T1485/",
        "text": "ATT&CK T1485",
    }
    assert [(r["status"], r["attempts"]) for r in store.outbox()] == [
        ("delivered", 1),
        ("delivered", 1),
    ]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("critical", "critical"),
        ("high", "error"),
        ("medium", "warning"),
        ("low", "info"),
        ("info", "info"),
        ("catastrophic", "error"),  # a severity this module does not know still pages
    ],
)
def test_severity_mapping(pd: PagerDutyStandIn, ours: str, theirs: str) -> None:
    inc = incident(["DROP TABLE orders"])
    inc.severity = ours  # type: ignore[assignment]
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    res = sender.send("k", body(inc))
    sender.close()
    assert res.ok and res.status_code == 202, res.error
    assert pd.state.events[inc.incident_id][0]["payload"]["severity"] == theirs


def test_invalid_routing_key_fails_without_showing_the_key() -> None:
    key = "pdkey-Zq81-not-thirty-two"  # what a mistyped secret looks like
    with PagerDutyStandIn(echo_routing_key=True) as pd:
        sender = PagerDutySender(key, url=pd.url)
        res = sender.send("k", body(incident(["DROP TABLE orders"])))
        sender.close()
    assert key in orjson.dumps(pd.state.rejected).decode()  # the stand-in did quote it back
    assert not res.ok and res.status_code == 400 and res.retry_after is None
    assert res.error is not None and key not in res.error and key not in repr(sender)
    assert "routing_key' is incorrect" in res.error and "not retryable" in res.error
    assert pd.state.events == {}


def test_throttled_then_delivered_exactly_once_by_the_outbox(pd: PagerDutyStandIn) -> None:
    inc = incident(["DROP TABLE orders"])
    pd.throttle_next(1, retry_after="1")
    store = Store(":memory:")
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    store.enqueue(
        page_key(inc.incident_id, "trigger"),
        inc.incident_id,
        sender.name,
        sender.url,
        body(inc),
        time.time(),
        time.perf_counter(),
    )
    t0 = time.monotonic()
    [outcome] = deliver(store, sender, rows=1)
    waited = time.monotonic() - t0
    time.sleep(0.2)  # nothing more may arrive once delivered
    sender.close()
    assert (outcome.delivered, outcome.attempts, outcome.status_code) == (True, 2, 202)
    assert waited >= 0.9  # Retry-After: 1 was honoured, not the 10 ms backoff
    assert pd.state.statuses == [429, 202]
    assert [a for _k, a in pd.state.arrivals] == ["trigger"] and len(
        pd.state.events[inc.incident_id]
    ) == 1
    row = store.outbox()[0]
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert [a["status_code"] for a in store.attempts(row["id"])] == [429, 202]


def test_throttle_waits_as_told_else_30_seconds() -> None:
    with PagerDutyStandIn(per_minute=2) as pd:
        sender = PagerDutySender(ROUTING_KEY, url=pd.url)
        payload = body(incident(["DROP TABLE orders"]))
        assert sender.send("k", payload).ok and sender.send("k", payload).ok
        limited = sender.send("k", payload)  # the third event in a minute on this key
        pd.throttle_next(1, retry_after="7")
        told = sender.send("k", payload)
        pd.throttle_next(1, retry_after=formatdate(time.time() + 120, usegmt=True))
        dated = sender.send("k", payload)
        sender.close()
    assert (limited.ok, limited.status_code, limited.retry_after) == (False, 429, 30.0)
    assert (told.status_code, told.retry_after) == (429, 7.0)
    assert (
        dated.status_code == 429
        and dated.retry_after is not None
        and 110 <= dated.retry_after <= 121
    )


def test_server_errors_and_timeouts_fail_retryably(pd: PagerDutyStandIn) -> None:
    payload = body(incident(["DROP TABLE orders"]))
    sender = PagerDutySender(ROUTING_KEY, url=pd.url, timeout=0.3)
    pd.fail_next(1)
    err500 = sender.send("k", payload)
    pd.stall_next(1, 1.0)
    slow = sender.send("k", payload)
    sender.close()
    down = PagerDutySender(ROUTING_KEY, url="http://127.0.0.1:9/v2/enqueue", timeout=0.3).send(
        "k", payload
    )
    assert (err500.ok, err500.status_code, err500.retry_after) == (False, 500, None)
    assert "retryable" in (err500.error or "") and "not retryable" not in (err500.error or "")
    assert (slow.ok, slow.status_code) == (False, None) and "Timeout" in (slow.error or "")
    assert (down.ok, down.status_code) == (False, None) and "ConnectError" in (down.error or "")
    for a in (err500, slow, down):
        assert ROUTING_KEY not in (a.error or "")
    assert pd.state.events == {}


def test_summary_carries_no_literal_from_the_sql(pd: PagerDutyStandIn) -> None:
    inc = incident(LITERAL_SQL)
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    assert sender.send("k", body(inc)).ok
    sender.close()
    sent = pd.state.events[inc.incident_id][0]
    summary = sent["payload"]["summary"]
    assert "DELETE FROM customers WHERE ? = ? OR email = ?" in summary
    assert "UPDATE accounts SET balance = ?, note = ?" in summary
    everything = orjson.dumps(sent).decode()
    for lit in LITERALS:
        assert lit not in everything


def test_literals_a_source_let_through_are_blanked_and_the_summary_stays_bounded(
    pd: PagerDutyStandIn,
) -> None:
    inc = incident(["DROP TABLE orders"])
    req: dict[str, Any] = page_payload(inc, "trigger")
    ev = req["alerts"][0]["evidence"][0]
    # a source that forgot to redact, a comment, a dollar-quoted body, a hostile identity id
    ev["statement"] = (
        "DELETE FROM t WHERE ssn = '078-05-1120' /* by 'ops' */ AND note = E'x\\'y'; "
        "DO $body$ secret_body_text $body$ -- trailing 'comment'"
    )
    req["incident"]["identity"]["id"] = "agent:x\nSEVERITY: info\r\x1b[31m" + "A" * 3000
    # every other part at its longest too: the summary must still fit PagerDuty's 1024
    req["incident"]["identity"]["owner"] = "o" * 3000
    req["incident"]["revoked"] = True
    alert = req["alerts"][0]
    alert["title"] = "T" * 3000
    more = [
        dict(
            ev,
            statement=f"DROP TABLE t{i}_" + "x" * 3000,
            resource=dict(ev["resource"], environment="e" * 3000),
        )
        for i in range(4)
    ]
    alert["evidence"] = [dict(more[0], statement=ev["statement"]), *more]
    req["alerts"].append(dict(alert))
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    res = sender.send("k", orjson.dumps(req))
    sender.close()
    assert res.ok, res.error  # the stand-in rejects a summary over 1024 characters
    sent = orjson.dumps(pd.state.events[inc.incident_id][0]).decode()
    for lit in ("078-05-1120", "ops", "x\\'y", "secret_body_text", "comment"):
        assert lit not in sent
    summary = pd.state.events[inc.incident_id][0]["payload"]["summary"]
    assert len(summary) <= 1024 and "\n" not in summary and "\x1b" not in summary


def test_a_bad_page_request_is_a_failed_attempt_not_an_exception(pd: PagerDutyStandIn) -> None:
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    results = [
        sender.send("k", b)
        for b in (
            b"not json",
            b"[]",
            b'{"incident": {}}',
            b'{"incident": {"incident_id": "i"}, "event_action": "page"}',
        )
    ]
    bad_url = PagerDutySender(ROUTING_KEY, url="not a url").send(
        "k", body(incident(["DROP TABLE x"]))
    )
    sender.close()
    for r in results:
        assert not r.ok and r.status_code is None and "not retryable" in (r.error or "")
    assert not bad_url.ok and bad_url.error
    assert pd.state.requests == 0


def test_a_resolve_never_overtakes_a_throttled_trigger(pd: PagerDutyStandIn) -> None:
    inc = incident(["DROP TABLE orders"])
    pd.throttle_next(1, retry_after="1")
    store = Store(":memory:")
    sender = PagerDutySender(ROUTING_KEY, url=pd.url)
    now = time.time()
    store.enqueue(
        page_key(inc.incident_id, "trigger"),
        inc.incident_id,
        sender.name,
        sender.url,
        body(inc),
        now,
        time.perf_counter(),
    )
    worker = DeliveryWorker(store, sender, backoff_initial=0.01, backoff_max=0.05)
    worker.start()
    deadline = time.monotonic() + 2
    while pd.state.statuses != [429] and time.monotonic() < deadline:
        time.sleep(0.01)
    # the incident is resolved while the trigger waits out its Retry-After
    store.enqueue(
        page_key(inc.incident_id, "resolve"),
        inc.incident_id,
        sender.name,
        sender.url,
        body(inc, "resolve"),
        time.time(),
        time.perf_counter(),
    )
    worker.kick()
    try:
        assert worker.wait_idle(8)
    finally:
        worker.stop()
        sender.close()
    assert [a for _k, a in pd.state.arrivals] == ["trigger", "resolve"]
