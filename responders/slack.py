"""Slack: one thread per incident, a card an analyst reads in five seconds.

The first message about an incident is a channel message; its ``ts`` is
remembered (``ThreadStore``) and every later message about the same incident
is a reply in that thread, after which the parent is edited (``chat.update``)
to show the latest severity and whether the credentials were revoked.

Retries belong to the outbox (``DeliveryWorker``), which resends a row under
the same idempotency key until it is acknowledged. Slack has no idempotency
key of its own, so this sender remembers which keys it has already posted
(key → message ts, in the same ``ThreadStore``) and answers a resent key
without posting again; a send that posted its reply but failed to update the
parent resumes at the update. The one exception is HTTP 429: Slack did not
accept the call, so the client waits for ``Retry-After`` and retries it
itself (``RateLimitErrorRetryHandler``); a 429 that outlasts those retries
becomes a failed ``Attempt`` carrying ``retry_after`` for the outbox.

Interactive buttons (Acknowledge / Revoke now / Dismiss) come back through
``handle_interaction``: signature and timestamp checked, the action handed to
the caller, an answer within Slack's 3-second budget.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import Clock, SignatureVerifier

from auditwatch.responders.outbox import Attempt
from auditwatch.responders.slack_blocks import ACTION_IDS, parent_message, reply_message
from auditwatch.store import Store

log = logging.getLogger("auditwatch.slack")

# a reply whose parent is gone (deleted in Slack) starts a new thread instead of failing forever
_THREAD_GONE = {"thread_not_found", "message_not_found"}


# -- where threads and delivered keys are remembered --------------------------
class ThreadStore(Protocol):
    def get(self, incident_id: str) -> str | None:
        """The ts of the incident's parent message, if one was posted."""

    def set(self, incident_id: str, ts: str, channel: str = "") -> None:
        """Remember the parent message (and the channel id Slack answered with)."""

    def channel(self, incident_id: str) -> str | None:
        """The channel id of the parent message (chat.update needs an id, not a name)."""

    def delivered(self, key: str) -> str | None:
        """The ts posted for an idempotency key (or step of one), if any."""

    def mark_delivered(self, key: str, ts: str) -> None: ...


class MemoryThreadStore:
    """For tests and one-shot runs: forgets everything when the process ends."""

    def __init__(self) -> None:
        self._threads: dict[str, tuple[str, str]] = {}
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, incident_id: str) -> str | None:
        with self._lock:
            t = self._threads.get(incident_id)
            return t[0] if t else None

    def set(self, incident_id: str, ts: str, channel: str = "") -> None:
        with self._lock:
            self._threads[incident_id] = (ts, channel)

    def channel(self, incident_id: str) -> str | None:
        with self._lock:
            t = self._threads.get(incident_id)
            return (t[1] or None) if t else None

    def delivered(self, key: str) -> str | None:
        with self._lock:
            return self._keys.get(key)

    def mark_delivered(self, key: str, ts: str) -> None:
        with self._lock:
            self._keys[key] = ts


SLACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS slack_threads (
    kind TEXT NOT NULL,          -- 'thread': incident id -> parent ts; 'key': idempotency key -> ts
    name TEXT NOT NULL,
    ts TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


class SqliteThreadStore:
    """Threads and delivered keys in the auditwatch store, so a restart neither
    starts a second thread for an open incident nor posts a delivered key again."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        store.conn().executescript(SLACK_SCHEMA)

    def _get(self, kind: str, name: str) -> tuple[str, str] | None:
        r = (
            self.store.conn()
            .execute("SELECT ts, channel FROM slack_threads WHERE kind=? AND name=?", (kind, name))
            .fetchone()
        )
        return (str(r[0]), str(r[1])) if r else None

    def _put(self, kind: str, name: str, ts: str, channel: str = "") -> None:
        self.store.conn().execute(
            "INSERT INTO slack_threads(kind, name, ts, channel, at) VALUES (?,?,?,?,?)"
            " ON CONFLICT(kind, name) DO UPDATE SET ts=excluded.ts, channel=excluded.channel,"
            " at=excluded.at",
            (kind, name, ts, channel, self.clock()),
        )

    def get(self, incident_id: str) -> str | None:
        r = self._get("thread", incident_id)
        return r[0] if r else None

    def set(self, incident_id: str, ts: str, channel: str = "") -> None:
        self._put("thread", incident_id, ts, channel)

    def channel(self, incident_id: str) -> str | None:
        r = self._get("thread", incident_id)
        return (r[1] or None) if r else None

    def delivered(self, key: str) -> str | None:
        r = self._get("key", key)
        return r[0] if r else None

    def mark_delivered(self, key: str, ts: str) -> None:
        self._put("key", key, ts)


# -- the sender -----------------------------------------------------------------
class PayloadError(ValueError):
    """The outbox row is not a Slack payload; resending will not help."""


def parse_payload(payload: bytes) -> dict[str, Any]:
    try:
        msg = orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise PayloadError(f"not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise PayloadError("not a JSON object")
    inc = msg.get("incident")
    if (
        not isinstance(inc, dict)
        or not isinstance(inc.get("incident_id"), str)
        or not inc["incident_id"]
    ):
        raise PayloadError("incident.incident_id missing")
    if not isinstance(inc.get("identity"), dict):
        inc["identity"] = {}
    alerts = msg.get("alerts")
    if alerts is not None and not isinstance(alerts, list):
        raise PayloadError("alerts is not a list")
    return msg


INCIDENT_FIELDS = (
    "incident_id",
    "identity",
    "severity",
    "status",
    "rule_ids",
    "revoked",
    "opened",
    "updated",
)


def slack_payload(
    incident: dict[str, Any],
    alerts: list[dict[str, Any]],
    *,
    update: bool,
    credentials: list[dict[str, str]] | None = None,
) -> bytes:
    """The outbox row for Slack: the incident as stored (``_incident_dict``), the alerts
    as stored (``Alert.to_dict()`` plus ``decision``), whether the incident already had a
    message, and optionally the credentials a revocation targeted (shown on the card)."""
    inc = {k: incident[k] for k in INCIDENT_FIELDS if k in incident}
    ident = inc.get("identity") or {}
    inc["identity"] = {k: ident.get(k) for k in ("id", "kind", "owner", "confidence")}
    body: dict[str, Any] = {"incident": inc, "alerts": alerts, "update": update}
    if credentials:
        body["credentials"] = credentials
    return orjson.dumps(body)


class SlackSender:
    """Sender for the outbox: ``send(key, payload)`` never raises."""

    name = "slack"

    def __init__(
        self,
        token: str,
        channel: str,
        base_url: str = "https://slack.com/api/",
        threads: ThreadStore | None = None,
        *,
        timeout: int = 10,
        rate_limit_retries: int = 2,
    ) -> None:
        self.channel = channel
        self.base_url = base_url
        self.threads: ThreadStore = threads if threads is not None else MemoryThreadStore()
        self._token = token
        self._client = WebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            # only 429 is retried here: Slack refused the call, so resending cannot duplicate it.
            # Anything ambiguous (a reset connection, a 5xx) goes back to the outbox.
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries)],
        )
        self._lock = (
            threading.Lock()
        )  # one message at a time: two parents for one incident never race

    def __repr__(self) -> str:  # no token, ever
        return f"SlackSender(channel={self.channel!r}, base_url={self.base_url!r})"

    def send(self, key: str, payload: bytes) -> Attempt:
        t0 = time.perf_counter()
        try:
            msg = parse_payload(payload)
            with self._lock:
                self._send(key, msg)
            return Attempt(ok=True, status_code=200, error=None, duration_ms=_ms(t0))
        except PayloadError as e:
            return Attempt(
                ok=False, status_code=None, error=f"bad payload: {e}", duration_ms=_ms(t0)
            )
        except SlackApiError as e:
            resp = e.response
            status = getattr(resp, "status_code", None)
            err = resp.get("error") if hasattr(resp, "get") else None
            retry_after = _retry_after(getattr(resp, "headers", None) or {})
            return Attempt(
                ok=False,
                status_code=status,
                error=self._scrub(f"slack {_api_method(resp)}: {err or 'HTTP ' + str(status)}"),
                duration_ms=_ms(t0),
                retry_after=retry_after,
            )
        except Exception as e:  # connection refused, timeouts, a bug in rendering: a failed attempt
            log.debug("slack send failed", exc_info=True)
            return Attempt(
                ok=False,
                status_code=None,
                error=self._scrub(f"{type(e).__name__}: {e}"),
                duration_ms=_ms(t0),
            )

    def _send(self, key: str, msg: dict[str, Any]) -> None:
        inc_id: str = msg["incident"]["incident_id"]
        parent = self.threads.get(inc_id)
        if parent is None:
            if self.threads.delivered(key):
                return  # delivered before, and the thread since forgotten: nothing to do
            self._start_thread(key, inc_id, msg)
            return
        if not self.threads.delivered(key):
            text, blocks = reply_message(msg)
            try:
                r = self._client.chat_postMessage(
                    channel=self.threads.channel(inc_id) or self.channel,
                    thread_ts=parent,
                    text=text,
                    blocks=blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as e:
                if e.response.get("error") in _THREAD_GONE:
                    log.warning("slack thread of %s is gone; starting a new one", inc_id)
                    self._start_thread(key, inc_id, msg)
                    return
                raise
            self.threads.mark_delivered(key, str(r["ts"]))
        step = key + "#parent"
        if not self.threads.delivered(step):
            text, blocks = parent_message(msg, updated=True)
            try:
                self._client.chat_update(
                    channel=self.threads.channel(inc_id) or self.channel,
                    ts=parent,
                    text=text,
                    blocks=blocks,
                )
            except SlackApiError as e:
                if e.response.get("error") not in _THREAD_GONE:
                    raise
                log.warning("slack parent of %s is gone; the reply stands alone", inc_id)
            self.threads.mark_delivered(step, parent)

    def _start_thread(self, key: str, inc_id: str, msg: dict[str, Any]) -> None:
        text, blocks = parent_message(msg)
        r = self._client.chat_postMessage(
            channel=self.channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        ts = str(r["ts"])
        # the thread first: a crash between the two writes costs at most one extra reply,
        # never a second thread for the incident
        self.threads.set(inc_id, ts, str(r.get("channel") or ""))
        self.threads.mark_delivered(key, ts)
        self.threads.mark_delivered(key + "#parent", ts)

    def _scrub(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "[token]")
        return text[:300]

    def close(self) -> None:
        """Nothing to release: WebClient opens a connection per call."""


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _api_method(resp: Any) -> str:
    url = str(getattr(resp, "api_url", "") or "")
    return url.rsplit("/", 1)[-1] or "call"


def _retry_after(headers: Any) -> float | None:
    try:
        for k, v in dict(headers).items():
            if str(k).lower() == "retry-after":
                v = v[0] if isinstance(v, list) else v
                return float(v)
    except (TypeError, ValueError):
        return None
    return None


# -- interactive buttons -----------------------------------------------------------
REPLAY_WINDOW_SECONDS = 300
ACK_BUDGET_SECONDS = 2.5  # Slack wants an answer within 3 s


class _Clock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def _ephemeral(text: str) -> dict[str, Any]:
    # shown to the clicking user only; leaves the card (and its thread) untouched
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def handle_interaction(
    body: bytes,
    headers: dict[str, str],
    signing_secret: str,
    on_action: Callable[[str, str, str], str],
    now: Callable[[], float] = time.time,
    *,
    budget: float = ACK_BUDGET_SECONDS,
) -> tuple[int, dict[str, Any]]:
    """Slack's request to the interactivity URL → (HTTP status, JSON body).

    401 unless ``X-Slack-Signature`` is the HMAC of ``v0:timestamp:body`` and the
    timestamp is within five minutes of ``now()`` (an older request is a replay).
    Then ``on_action(action_id, incident_id, user_id)`` runs; if it has not
    returned within ``budget`` seconds the answer is sent anyway and the action
    finishes in the background, so Slack never shows the user a timeout.
    """
    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    ts = lower.get("x-slack-request-timestamp", "")
    if not ts.strip().lstrip("-").isdigit() or "x-slack-signature" not in lower:
        return 401, {"error": "invalid signature"}
    if abs(now() - int(ts)) > REPLAY_WINDOW_SECONDS:
        return 401, {"error": "stale request"}
    verifier = SignatureVerifier(signing_secret, clock=_Clock(now))
    try:
        valid = verifier.is_valid(body=body, timestamp=ts, signature=lower["x-slack-signature"])
    except (ValueError, UnicodeDecodeError):
        valid = False
    if not valid:
        return 401, {"error": "invalid signature"}

    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        payload = json.loads(form["payload"][0])
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        return 400, {"error": "no interaction payload"}
    if not isinstance(payload, dict):
        return 400, {"error": "no interaction payload"}
    if payload.get("type") != "block_actions":
        return 400, {"error": "unsupported interaction type"}
    actions = payload.get("actions") or []
    act = (
        actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    )
    action_id, incident_id = act.get("action_id"), act.get("value")
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(action_id, str) or action_id not in ACTION_IDS:
        return 400, {"error": "unknown action"}
    if not isinstance(incident_id, str) or not incident_id or len(incident_id) > 200:
        return 400, {"error": "no incident id"}
    if not isinstance(user_id, str) or not user_id:
        return 400, {"error": "no user"}

    done: list[str] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(str(on_action(action_id, incident_id, user_id)))
        except Exception as e:
            failed.append(e)
            log.exception("slack action %s on %s failed", action_id, incident_id)

    worker = threading.Thread(target=run, name=f"slack-{action_id}", daemon=True)
    worker.start()
    worker.join(max(0.0, budget))
    if worker.is_alive():
        return 200, _ephemeral("Received — auditwatch is working on it.")
    if failed:
        return 200, _ephemeral("auditwatch could not do that; the error is in its log.")
    return 200, _ephemeral(done[0][:3000] if done else "Done.")
