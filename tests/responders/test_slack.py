"""Slack: one thread per incident, delivered once (even through HTTP 429 and
outbox retries), cards that cannot be hijacked by log content, and signed
button clicks — against a local Slack Web API stand-in over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from auditwatch.model import Action, Actor, Alert, Event, Identity, Resource, SourceRef
from auditwatch.responders.outbox import DeliveryWorker
from auditwatch.responders.slack import (
    MemoryThreadStore,
    SlackSender,
    SqliteThreadStore,
    handle_interaction,
    slack_payload,
)
from auditwatch.responders.slack_blocks import code, escape, parent_message, prose
from auditwatch.store import Store
from tests.responders.slack_standin import Message, SlackStandIn

TOKEN = "xoxb-1111-2222-standinsecretvalue"
CHANNEL = "#aw-alerts"
CHANNEL_ID = "C0AWALERTS"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T0 = 1_700_000_000.0
HOSTILE_ID = "<!channel> <@U123> *boss* _it_ ~gone~ `x` <http://evil|click> & co"


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TOKEN, channels={CHANNEL: CHANNEL_ID}) as s:
        yield s


def sender(slack: SlackStandIn, **kw: Any) -> SlackSender:
    return SlackSender(kw.pop("token", TOKEN), CHANNEL, base_url=slack.base_url, **kw)


def alert_dict(
    n: int,
    *,
    inc: str = "inc-1",
    ident: str = "agent:x",
    kind: str = "agent",
    owner: str = "dana",
    action: str = "DROP TABLE",
    resource: str = "orders",
    statement: str = "DROP TABLE public.orders",
    env: str = "prod",
    decision: tuple[str, str, bool] = ("revoke", "agent agent:x: automatic revocation", False),
    severity: str = "critical",
    reason: str = "agent destroyed data in prod",
) -> dict[str, Any]:
    """What the pipeline stores: Alert.to_dict() plus the policy decision."""
    ev = Event(
        event_id=f"e-{n}",
        time=T0 + n,
        observed_time=T0 + n,
        source=SourceRef("postgres", "pg.log", line=n),
        actor=Actor(principal="agent_rw", principal_type="db_user"),
        action=Action(
            name=action,
            service="postgres",
            outcome="success",
            categories=("data.destroy",),
            statement=statement,
        ),
        resource=Resource(type="table", name=resource, environment=env, database="shop"),
        activity="sql",
    )
    a = Alert(
        rule_id="agent-destroys-protected",
        title="AI agent destroyed something in a protected environment",
        severity=severity,  # type: ignore[arg-type]
        identity=Identity(id=ident, kind=kind, confidence=0.9, owner=owner),  # type: ignore[arg-type]
        categories=("data.destroy",),
        evidence=[ev],
        time=T0 + n,
        attack=("T1485", "T1490"),
        response="revoke",
        reason=reason,
        alert_id=f"{inc}-{n}",
        incident_id=inc,
    )
    return a.to_dict() | {
        "decision": {"action": decision[0], "reason": decision[1], "dry_run": decision[2]}
    }


def payload(
    alerts: list[dict[str, Any]],
    *,
    inc: str = "inc-1",
    revoked: bool = True,
    update: bool = False,
    severity: str = "critical",
    status: str = "open",
    **extra: Any,
) -> bytes:
    ident = alerts[-1]["identity"]
    return orjson.dumps(
        {
            "incident": {
                "incident_id": inc,
                "identity": {k: ident[k] for k in ("id", "kind", "owner", "confidence")},
                "severity": severity,
                "status": status,
                "rule_ids": sorted({a["rule_id"] for a in alerts}),
                "revoked": revoked,
                "opened": "2023-11-14T22:13:21.000Z",
                "updated": alerts[-1]["time"],
            },
            "alerts": alerts,
            "update": update,
            **extra,
        }
    )


def texts(msg: Message | dict[str, Any]) -> list[str]:
    """Every mrkdwn/plain text a client would render, including the fallback."""
    blocks = msg.blocks if isinstance(msg, Message) else msg["blocks"]
    fallback = msg.text if isinstance(msg, Message) else msg["text"]
    out: list[str] = [fallback or ""]

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            if o.get("type") in ("mrkdwn", "plain_text") and isinstance(o.get("text"), str):
                out.append(o["text"])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(blocks)
    return out


def mrkdwn_texts(msg: Message) -> list[str]:
    out = [msg.text or ""]

    def walk(o: Any) -> None:
        if isinstance(o, dict):
            if o.get("type") == "mrkdwn":
                out.append(o["text"])
            for v in o.values():
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    walk(msg.blocks)
    return out


# -- threads --------------------------------------------------------------------
def test_first_message_starts_a_thread_later_ones_reply_and_update_the_parent(
    slack: SlackStandIn,
) -> None:
    s = sender(slack)
    a1 = alert_dict(
        1, severity="high", decision=("page", "agent identities need a person's approval", False)
    )
    assert s.send("slack-inc-1-1", payload([a1], revoked=False, severity="high")).ok
    a2 = alert_dict(2)
    assert s.send("slack-inc-1-2", payload([a2], revoked=True, update=True)).ok
    a3 = alert_dict(3, action="TRUNCATE", resource="payments", statement="TRUNCATE payments")
    assert s.send("slack-inc-1-3", payload([a3], revoked=True, update=True)).ok
    other = alert_dict(1, inc="inc-2", ident="agent:y")
    assert s.send("slack-inc-2-1", payload([other], inc="inc-2")).ok

    parents = slack.state.parents()
    assert len(parents) == 2 and len(slack.state.messages) == 4 and not slack.state.rejected
    p = parents[0]
    assert p.channel == CHANNEL_ID
    replies = slack.state.replies(p.ts)
    assert len(replies) == 2 and replies[0].ts < replies[1].ts
    assert "TRUNCATE" in json.dumps(replies[1].blocks)
    assert not slack.state.replies(parents[1].ts)
    # the parent shows the latest status: first "Not revoked" at high, then revoked at critical
    first = p.edits[0]["blocks"] if p.edits else None
    assert first is not None and len(p.edits) == 2
    assert "Not revoked" not in json.dumps(p.edits[-1]["blocks"])
    assert "Revoked (credentials" in json.dumps(p.blocks)
    assert p.blocks[0]["type"] == "header" and "CRITICAL" in p.blocks[0]["text"]["text"]
    assert [u["channel"] for u in slack.state.updates] == [
        CHANNEL_ID,
        CHANNEL_ID,
    ]  # an id, never a name


def test_a_deleted_parent_starts_a_new_thread(slack: SlackStandIn) -> None:
    s = sender(slack)
    assert s.send("k1", payload([alert_dict(1)])).ok
    slack.delete(slack.state.parents()[0].ts)
    assert s.send("k2", payload([alert_dict(2)], update=True)).ok
    assert len(slack.state.parents()) == 1 and slack.state.parents()[0].thread_ts is None
    assert s.threads.get("inc-1") == slack.state.parents()[0].ts


# -- exactly once -----------------------------------------------------------------
def test_a_retried_key_posts_once_even_after_a_restart(slack: SlackStandIn, tmp_path: Path) -> None:
    store = Store(tmp_path / "aw.db")
    s = sender(slack, threads=SqliteThreadStore(store))
    p1, p2 = payload([alert_dict(1)]), payload([alert_dict(2)], update=True)
    for _ in range(2):  # the outbox resends when it did not record the acknowledgement
        assert s.send("slack-inc-1-1", p1).ok
        assert s.send("slack-inc-1-2", p2).ok
    assert len(slack.state.messages) == 2 and len(slack.state.updates) == 1
    restarted = sender(slack, threads=SqliteThreadStore(Store(tmp_path / "aw.db")))
    assert restarted.send("slack-inc-1-2", p2).ok
    assert restarted.send("slack-inc-1-3", payload([alert_dict(3)], update=True)).ok
    parent = slack.state.parents()
    assert (
        len(parent) == 1 and len(slack.state.replies(parent[0].ts)) == 2
    )  # same thread after restart


def test_a_failed_parent_update_resumes_without_a_second_reply(slack: SlackStandIn) -> None:
    s = sender(slack, rate_limit_retries=0)
    assert s.send("k1", payload([alert_dict(1)])).ok
    slack.rate_limit(1, method="chat.update")
    a = s.send("k2", payload([alert_dict(2)], update=True))
    assert not a.ok and a.status_code == 429 and a.retry_after == 1.0
    assert len(slack.state.messages) == 2 and not slack.state.updates
    assert s.send("k2", payload([alert_dict(2)], update=True)).ok
    assert len(slack.state.messages) == 2 and len(slack.state.updates) == 1


def test_rate_limited_message_is_delivered_once_through_the_outbox(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    store = Store(tmp_path / "aw.db")
    s = sender(slack, threads=SqliteThreadStore(store))
    worker = DeliveryWorker(store, s, backoff_initial=0.01, rng=random.Random(7))
    for i in (1, 2, 3):
        store.enqueue(
            f"slack-inc-1-{i}",
            "inc-1",
            "slack",
            slack.base_url,
            payload([alert_dict(i)], update=i > 1),
            T0,
            0.0,
        )
    slack.rate_limit(1)  # the very first chat.postMessage is refused with 429, Retry-After: 1
    t0 = time.monotonic()
    worker.start()
    try:
        deadline = time.monotonic() + 8
        while store.pending_count() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
    assert store.pending_count() == 0
    assert time.monotonic() - t0 >= 1.0  # Retry-After was honoured
    assert slack.state.calls[0] == ("chat.postMessage", 429)
    assert slack.state.calls[1] == ("chat.postMessage", 200)
    rows = store.outbox()
    assert [r["status"] for r in rows] == ["delivered"] * 3
    assert rows[0]["attempts"] == 1  # the client retried the 429 itself, inside one attempt
    parents = slack.state.parents()
    assert len(parents) == 1 and len(slack.state.messages) == 3
    assert len(slack.state.replies(parents[0].ts)) == 2


def test_a_429_that_outlasts_the_client_retries_goes_back_to_the_outbox(
    slack: SlackStandIn,
) -> None:
    s = sender(slack, rate_limit_retries=0)
    slack.rate_limit(1)
    a = s.send("k1", payload([alert_dict(1)]))
    assert (
        not a.ok
        and a.status_code == 429
        and a.retry_after == 1.0
        and "ratelimited" in (a.error or "")
    )
    assert not slack.state.messages
    assert s.send("k1", payload([alert_dict(1)])).ok and len(slack.state.messages) == 1


# -- failures ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad", ["xoxb-1111-2222-wrongsecretvalue", "xoxp-1111-user-token-secretvalue"]
)
def test_bad_token_is_a_failed_attempt_without_the_token(
    slack: SlackStandIn, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    s = sender(slack, token=bad)
    a = s.send("k1", payload([alert_dict(1)]))
    assert not a.ok and a.status_code == 401 and "invalid_auth" in (a.error or "")
    assert "chat.postMessage" in (a.error or "")
    for where in (repr(a), str(a.error), repr(s), caplog.text):
        assert bad not in where and "secretvalue" not in where
    assert slack.state.auth_headers[-1] == f"Bearer {bad}"  # it did reach the server
    assert not slack.state.messages


def test_unreachable_slack_and_bad_payload_never_raise(tmp_path: Path) -> None:
    s = SlackSender(TOKEN, CHANNEL, base_url="http://127.0.0.1:9/api/", timeout=2)
    a = s.send("k1", payload([alert_dict(1)]))
    assert not a.ok and a.status_code is None and a.error and TOKEN not in a.error
    for bad in (
        b"not json",
        b"[]",
        b'{"incident": {}}',
        b'{"incident": {"incident_id": "i"}, "alerts": 3}',
    ):
        b = s.send("k2", bad)
        assert not b.ok and (b.error or "").startswith("bad payload")


# -- the card ------------------------------------------------------------------------
def test_card_answers_who_what_when_why_and_what_was_done(slack: SlackStandIn) -> None:
    s = sender(slack)
    s.send(
        "k1",
        payload(
            [alert_dict(1)], credentials=[{"type": "db_role", "id": "agent_rw", "database": "shop"}]
        ),
    )
    s.send(
        "k9",
        payload(
            [
                alert_dict(
                    1,
                    inc="inc-9",
                    kind="human",
                    ident="bob",
                    owner="",
                    decision=("page", "human identities need a person's approval to revoke", False),
                )
            ],
            inc="inc-9",
            revoked=False,
        ),
    )
    assert not slack.state.rejected
    revoked, not_revoked = slack.state.parents()
    body = "\n".join(texts(revoked))
    assert revoked.blocks[0]["type"] == "header"
    assert (
        "🔴 CRITICAL · AI agent destroyed something in a protected environment"
        == revoked.blocks[0]["text"]["text"]
    )
    assert "*Who*\n`agent:x`\nagent (90% sure) · owner dana" in body
    assert "`DROP TABLE` on `shop.orders`" in body and "`prod`" in body
    assert "`DROP TABLE public.orders`" in body  # the redacted statement
    assert f"<!date^{int(T0 + 1)}^" in body and "2023-11-14 22:13:21 UTC" in body
    assert "(`agent-destroys-protected`)" in body and "|T1485>" in body and "|T1490>" in body
    assert "agent destroyed data in prod" in body
    assert "🔒 Revoked (credentials db_role `agent_rw`)" in body
    buttons = next(b for b in revoked.blocks if b["type"] == "actions")["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("aw_ack", "inc-1"),
        ("aw_revoke", "inc-1"),
        ("aw_dismiss", "inc-1"),
    ]
    assert buttons[1]["style"] == "danger" and "confirm" in buttons[1]
    assert revoked.text and "agent:x" in revoked.text and "revoked" in revoked.text
    nb = "\n".join(texts(not_revoked))
    assert "Not revoked: human identities need a person's approval to revoke" in nb
    assert "no owner on record" in nb
    assert len(revoked.blocks) <= 12  # one screen


def test_huge_incident_stays_within_block_kit_limits(slack: SlackStandIn) -> None:
    alerts = [
        alert_dict(
            i, statement="DELETE FROM t WHERE id = ? " * 400, resource="r" * 5000, reason="&" * 5000
        )
        for i in range(30)
    ]
    for a in alerts:
        a["evidence"] = a["evidence"] * 10
    s = sender(slack)
    assert s.send("k1", payload(alerts, credentials=[{"type": "db_role", "id": "x" * 3000}] * 9)).ok
    assert s.send("k2", payload(alerts, update=True)).ok
    assert not slack.state.rejected  # the stand-in checks the limits Slack checks
    for m in slack.state.messages:
        assert len(m.blocks) <= 50
        assert "more alert(s) not shown" in json.dumps(m.blocks)
        for t in texts(m):
            assert t.count("`") % 2 == 0  # truncation never cuts a code span open
            assert not re.search(r"&(?!amp;|lt;|gt;)", t.replace("&amp;CK", ""))  # nor an entity


_OURS = re.compile(
    r"\*(Who|What|Environment|When|SQL / API|Why|auditwatch|[A-Z]+)\*"
    r"|<!date\^\d+\^\{date_short_pretty\} \{time_secs\}\|[^<>|]*>"
    r"|<https://attack\.mitre\.org/techniques/T\d{4}(/\d{3})?/\|T\d{4}(\.\d{3})?>"
)


def _outside_code(t: str) -> str:
    return _OURS.sub("", re.sub(r"`[^`]*`", "", t))


def test_log_content_cannot_mention_link_or_format(slack: SlackStandIn) -> None:
    statement = "DROP TABLE `orders`; -- <!here> ```\x1b[2J\u202eevil <https://evil.example|docs>"
    a = alert_dict(
        1,
        ident=HOSTILE_ID,
        owner="*ceo* <!everyone> _x_",
        resource="<@U999> `x`",
        statement=statement,
        action="DROP <!subteam^S1>",
        env="prod~x~",
        reason="because <http://evil|click> *now* & _then_ ~strike~ `tick`",
        decision=("page", "<!channel> please _look_", False),
    )
    s = sender(slack)
    assert s.send("k1", payload([a], revoked=False)).ok
    assert s.send(
        "k2", payload([alert_dict(2, ident=HOSTILE_ID, statement=statement)], update=True)
    ).ok
    assert not slack.state.rejected and len(slack.state.messages) == 2
    for m in slack.state.messages:
        for t in mrkdwn_texts(m):
            for evil in (
                "<!channel>",
                "<!here>",
                "<!everyone>",
                "<@U123>",
                "<@U999>",
                "<!subteam",
                "<http://evil|click>",
                "<https://evil",
            ):
                assert evil not in t
            assert t.count("`") % 2 == 0, t
            rest = _outside_code(t)
            assert not re.search(r"[<>*~`]", rest), rest
            assert not re.search(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])", rest), rest
            assert "\x1b" not in t and "\u202e" not in t
        for t in texts(m):  # plain_text too (header, buttons)
            assert "\x1b" not in t and "\u202e" not in t
    body = "\n".join(mrkdwn_texts(slack.state.messages[0]))
    assert "&lt;!channel&gt; &lt;@U123&gt;" in body  # readable as text
    assert (
        "`DROP TABLE ˋordersˋ; -- &lt;!here&gt; ˋˋˋ\\x1b[2J\\u202eevil &lt;https://evil.example|docs&gt;`"
        in body
    )
    header = slack.state.messages[0].blocks[0]
    assert header["type"] == "header" and HOSTILE_ID not in header["text"]["text"]


def test_escaping_helpers() -> None:
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert prose("*bold* _it_ ~s~ `c` snake_case_name") == "∗bold∗ ＿it＿ ∼s∼ ˋcˋ snake_case_name"
    assert code("a`b\nc") == "`aˋb c`" and code("") == "—"
    long = code("&" * 5000, 300)
    assert len(long) <= 300 and long.endswith("…`") and long.startswith("`&amp;")
    assert len(prose("<" * 5000, 100)) <= 100
    _, blocks = parent_message({"incident": {"incident_id": "i"}})  # nothing else: still a card
    assert blocks[0]["type"] == "header" and blocks[-1]["type"] == "actions"


# -- interactive buttons -------------------------------------------------------------
def signed(body: bytes, ts: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's scheme, computed here independently: v0=HMAC-SHA256(secret, 'v0:ts:body')."""
    sig = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": f"v0={sig}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def click(action_id: str = "aw_revoke", value: str = "inc-1", user: str = "U123") -> bytes:
    p = {
        "type": "block_actions",
        "user": {"id": user, "username": "ana"},
        "container": {"type": "message"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "aw_incident_actions",
                "value": value,
                "action_ts": "1700000000.1",
            }
        ],
    }
    return urlencode({"payload": json.dumps(p)}).encode()


class Calls(list[tuple[str, str, str]]):
    def __call__(self, action_id: str, incident_id: str, user_id: str) -> str:
        self.append((action_id, incident_id, user_id))
        return f"{action_id} on {incident_id} by <@{user_id}>"


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Calls]]:
    """A minimal interactivity URL built on handle_interaction, over real HTTP."""
    calls = Calls()

    class H(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, out = handle_interaction(
                body, dict(self.headers.items()), SIGNING_SECRET, calls
            )
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    th.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/slack/actions", calls
    finally:
        srv.shutdown()
        srv.server_close()


def test_signed_click_reaches_the_action_over_http(endpoint: tuple[str, Calls]) -> None:
    url, calls = endpoint
    body = click()
    r = httpx.post(url, content=body, headers=signed(body, int(time.time())))
    assert r.status_code == 200 and calls == [("aw_revoke", "inc-1", "U123")]
    assert r.json() == {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": "aw_revoke on inc-1 by <@U123>",
    }
    forged = httpx.post(
        url, content=body, headers=signed(body, int(time.time()), secret="not-the-secret")
    )
    assert forged.status_code == 401 and len(calls) == 1


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "stale",
        "future",
        "tampered",
        "no signature",
        "no timestamp",
        "junk timestamp",
        "v1 scheme",
    ],
)
def test_unsigned_wrong_or_replayed_clicks_are_refused(case: str) -> None:
    now = T0
    body = click()
    h = signed(body, int(now))
    if case == "wrong secret":
        h = signed(body, int(now), secret="0" * 32)
    elif case == "stale":  # a captured request replayed six minutes later
        h = signed(body, int(now) - 301)
    elif case == "future":
        h = signed(body, int(now) + 301)
    elif case == "tampered":
        body = click(action_id="aw_dismiss")
    elif case == "no signature":
        del h["X-Slack-Signature"]
    elif case == "no timestamp":
        del h["X-Slack-Request-Timestamp"]
    elif case == "junk timestamp":
        h["X-Slack-Request-Timestamp"] = "17e8"
    elif case == "v1 scheme":
        h["X-Slack-Signature"] = h["X-Slack-Signature"].replace("v0=", "v1=")
    calls = Calls()
    status, out = handle_interaction(body, h, SIGNING_SECRET, calls, now=lambda: now)
    assert status == 401 and not calls and SIGNING_SECRET not in json.dumps(out)
    # the same request, correctly signed and fresh, is accepted (so the test can fail)
    ok_status, _ = handle_interaction(
        click(), signed(click(), int(now)), SIGNING_SECRET, calls, now=lambda: now
    )
    assert ok_status == 200 and len(calls) == 1


def test_a_request_just_inside_the_window_is_accepted_and_headers_are_case_insensitive() -> None:
    calls = Calls()
    body = click("aw_ack", "inc-7", "U9")
    h = {k.lower(): v for k, v in signed(body, int(T0) - 299).items()}
    assert handle_interaction(body, h, SIGNING_SECRET, calls, now=lambda: T0)[0] == 200
    assert calls == [("aw_ack", "inc-7", "U9")]


def test_bad_interactions_are_rejected_after_the_signature() -> None:
    calls = Calls()
    for body in (
        click(action_id="aw_delete_everything"),
        click(value=""),
        b"payload=%7Bnot-json",
        b"nothing=here",
        urlencode({"payload": json.dumps({"type": "view_submission"})}).encode(),
    ):
        status, _ = handle_interaction(
            body, signed(body, int(T0)), SIGNING_SECRET, calls, now=lambda: T0
        )
        assert status == 400
    assert not calls


def test_a_slow_action_is_answered_within_the_budget() -> None:
    release = threading.Event()
    seen: list[str] = []

    def slow(action_id: str, incident_id: str, user_id: str) -> str:
        release.wait(5)
        seen.append(incident_id)
        return "done"

    body = click()
    t0 = time.perf_counter()
    status, out = handle_interaction(
        body, signed(body, int(T0)), SIGNING_SECRET, slow, now=lambda: T0, budget=0.2
    )
    assert status == 200 and time.perf_counter() - t0 < 1.0 and "working on it" in out["text"]
    release.set()
    deadline = time.monotonic() + 2
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == ["inc-1"]  # the action still ran


def test_memory_thread_store_round_trip() -> None:
    t = MemoryThreadStore()
    assert t.get("i") is None and t.delivered("k") is None
    t.set("i", "1.000001", "C1")
    t.mark_delivered("k", "1.000001")
    assert (t.get("i"), t.channel("i"), t.delivered("k")) == ("1.000001", "C1", "1.000001")


def test_slack_payload_keeps_the_documented_incident_fields(slack: SlackStandIn) -> None:
    stored = {
        "incident_id": "inc-5",
        "identity": {
            "id": "agent:x",
            "kind": "agent",
            "confidence": 0.9,
            "owner": "dana",
            "evidence": ["registry"],
        },
        "severity": "critical",
        "status": "open",
        "opened": "2023-11-14T22:13:21.000Z",
        "updated": "2023-11-14T22:13:21.000Z",
        "opened_ts": T0,
        "updated_ts": T0,
        "revoked": True,
        "rule_ids": ["agent-destroys-protected"],
        "alert_ids": ["inc-5-1"],
    }
    body = slack_payload(
        stored,
        [alert_dict(1, inc="inc-5")],
        update=False,
        credentials=[{"type": "db_role", "id": "agent_rw"}],
    )
    msg = orjson.loads(body)
    assert set(msg["incident"]) == {
        "incident_id",
        "identity",
        "severity",
        "status",
        "rule_ids",
        "revoked",
        "opened",
        "updated",
    }
    assert msg["incident"]["identity"] == {
        "id": "agent:x",
        "kind": "agent",
        "owner": "dana",
        "confidence": 0.9,
    }
    assert msg["update"] is False and msg["credentials"] == [{"type": "db_role", "id": "agent_rw"}]
    assert sender(slack).send("slack-inc-5-1", body).ok
    assert "Revoked (credentials db_role `agent_rw`)" in json.dumps(slack.state.messages[0].blocks)
