"""Signed webhooks per the Standard Webhooks spec.

Headers ``webhook-id`` (the idempotency key: one per incident and purpose, the
same on every retry), ``webhook-timestamp`` (this attempt, seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``). A
receiver that dedups on ``webhook-id`` sees each revocation once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from auditwatch.responders.outbox import Attempt


class WebhookSender:
    name = "webhook"

    def __init__(self, url: str, secret: str, timeout: float = 5.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url
        self._wh = Webhook(secret)
        self._client = client or httpx.Client(timeout=timeout, headers={"user-agent": "auditwatch-webhook/1"})

    def headers(self, msg_id: str, body: str, now: float | None = None) -> dict[str, str]:
        ts = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(ts.timestamp())),
            "webhook-signature": self._wh.sign(msg_id, ts, body),
            "content-type": "application/json",
        }

    def send(self, key: str, payload: bytes) -> Attempt:
        body = payload.decode()
        t0 = time.perf_counter()
        try:
            r = self._client.post(self.url, content=payload, headers=self.headers(key, body))
        except httpx.HTTPError as e:
            return Attempt(ok=False, status_code=None, error=f"{type(e).__name__}: {e}"[:300],
                           duration_ms=(time.perf_counter() - t0) * 1000, retry_after=None)
        ms = (time.perf_counter() - t0) * 1000
        ok = 200 <= r.status_code < 300
        retry_after = None
        if r.status_code in (429, 503) and r.headers.get("retry-after", "").isdigit():
            retry_after = float(r.headers["retry-after"])
        # 4xx other than 408/409/429 will not get better by retrying, but a receiver
        # misconfiguration is fixed by people in minutes: keep retrying within budget.
        return Attempt(ok=ok, status_code=r.status_code, error=None if ok else f"HTTP {r.status_code}",
                       duration_ms=ms, retry_after=retry_after)

    def close(self) -> None:
        self._client.close()
