"""``auditwatch run``: the embedded runner as a service.

One asyncio process: followers poll the configured files, ``POST /ingest``
accepts log bytes over HTTP (any supported format, auto-detected), ``/healthz``
reports liveness and counts, ``/metrics`` serves Prometheus metrics.
SIGTERM/SIGINT stop intake, flush what parsers hold, drain the outbox, and exit.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import os
import signal
import time
from typing import Any

from aiohttp import web

from auditwatch.config import Config
from auditwatch.metrics import CONTENT_TYPE, Metrics  # metrics (issue 9)
from auditwatch.responders.console import jsonl
from auditwatch.streams.embedded import Pipeline
from auditwatch.streams.follow import FileFollower
from auditwatch.streams.reader import read_stream
from auditwatch.streams.sources.detect import canonical
from auditwatch.web import Broadcaster, Timeline, web_app

log = logging.getLogger("auditwatch.serve")

MAX_INGEST_BYTES = 64 * 1024 * 1024
STATE_SAVE_SECONDS = 5.0  # detector state checkpoint; a crash replays at most this much state
INGEST_TOKEN_ENV = "AUDITWATCH_INGEST_TOKEN"
UI_TOKEN_ENV = "AUDITWATCH_UI_TOKEN"  # the web view (/ui/) is served only when this is set


class Service:
    def __init__(self, cfg: Config, poll_seconds: float = 0.02) -> None:
        self.cfg = cfg
        self.poll_seconds = poll_seconds

        # the web view: live updates to open pages, and each identity's recent actions
        self.broadcaster = Broadcaster()
        self.timeline = Timeline()

        def printer(_a: Any, ad: dict[str, Any]) -> None:
            print(jsonl(ad), flush=True)
            self.broadcaster.publish(ad)

        # metrics (issue 9): the service's registry, with the process/platform/GC collectors
        self.pipe = Pipeline(cfg, on_alert=printer, persist_state=True, metrics=Metrics(runtime=True),
                             on_event=self.timeline.add)
        self.followers: list[FileFollower] = []
        for s in cfg.sources:
            path = str(cfg.path(s.path))
            self.followers.append(FileFollower(path, s.format, s.environment,
                                               start=self.pipe.store.get_offset(path)))
        self.started = time.time()
        self.stopping = asyncio.Event()
        self.token = os.environ.get(INGEST_TOKEN_ENV, "")
        self.ui_token = os.environ.get(UI_TOKEN_ENV, "")

    async def follow(self) -> None:
        last_save = time.monotonic()
        while not self.stopping.is_set():
            if time.monotonic() - last_save > STATE_SAVE_SECONDS:
                self.pipe.save_state()
                last_save = time.monotonic()
            for f in self.followers:
                for item in f.poll():
                    self.pipe.process(item)
                pos = f.committable
                if pos is not None and pos[0] >= 0:
                    self.pipe.store.set_offset(str(f.path), *pos)
            await asyncio.sleep(self.poll_seconds)

    async def ingest(self, request: web.Request) -> web.Response:
        if self.token:
            got = request.headers.get("authorization", "")
            if not hmac.compare_digest(got, f"Bearer {self.token}"):
                return web.json_response({"error": "unauthorized"}, status=401)
        fmt = request.query.get("format", "auto")
        try:
            canonical(fmt)
        except ValueError as e:
            return web.json_response({"error": str(e)}, status=400)
        if request.content_length is not None and request.content_length > MAX_INGEST_BYTES:
            return web.json_response({"error": f"body over {MAX_INGEST_BYTES} bytes"}, status=413)
        body = await request.content.read(MAX_INGEST_BYTES + 1)
        if len(body) > MAX_INGEST_BYTES:
            return web.json_response({"error": f"body over {MAX_INGEST_BYTES} bytes"}, status=413)
        ev = dl = al = 0
        name = f"http:{request.remote}"
        for item in read_stream(io.BufferedReader(io.BytesIO(body)), name, fmt,  # type: ignore[arg-type]
                                request.query.get("environment", "")):
            if hasattr(item, "reason"):
                dl += 1
            else:
                ev += 1
            al += len(self.pipe.process(item))
        return web.json_response({"events": ev, "dead_letters": dl, "alerts": al})

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({
            "status": "ok",
            "uptime_seconds": round(time.time() - self.started, 3),
            "events": self.pipe.events,
            "dead_letters": self.pipe.dead.count,
            "alerts": len(self.pipe.alerts),
            "revocations": len(self.pipe.revocations),
            "outbox_pending": self.pipe.store.pending_count(),
            "followed": [str(f.path) for f in self.followers],
        })

    async def metrics(self, _request: web.Request) -> web.Response:
        """Prometheus scrape endpoint (metrics, issue 9): text exposition format 0.0.4."""
        from prometheus_client import generate_latest

        return web.Response(body=generate_latest(self.pipe.metrics.registry), headers={"Content-Type": CONTENT_TYPE})

    async def slack_actions(self, request: web.Request) -> web.Response:
        """Slack's interactivity URL: Acknowledge / Revoke now / Dismiss, signature-verified."""
        sc = self.cfg.responders.slack
        if sc is None:
            return web.json_response({"error": "slack is not configured"}, status=404)
        from auditwatch.responders.slack import handle_interaction

        body = await request.read()
        status, doc = handle_interaction(body, dict(request.headers), sc.signing_secret(),
                                         self._act)
        return web.json_response(doc, status=status)

    def _act(self, action: str, incident: str, user: str) -> str:
        msg = self.pipe.act(incident, action, user)
        self.broadcaster.publish({"type": "incident", "incident_id": incident, "message": msg})  # open pages update
        return msg

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_INGEST_BYTES)
        app.router.add_post("/ingest", self.ingest)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)  # metrics (issue 9)
        app.router.add_post("/slack/actions", self.slack_actions)
        if self.ui_token:
            app.add_subapp("/ui/", web_app(self.pipe, self.ui_token, broadcaster=self.broadcaster,
                                           timeline=self.timeline))
        return app

    async def main(self) -> None:
        host, _, port = self.cfg.listen.rpartition(":")
        runner = web.AppRunner(self.app())
        await runner.setup()
        site = web.TCPSite(runner, host or "127.0.0.1", int(port))
        await site.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        log.warning("auditwatch listening on http://%s (following %d files)", self.cfg.listen, len(self.followers))
        task = asyncio.create_task(self.follow())
        await self.stopping.wait()
        await task
        await runner.cleanup()
        for f in self.followers:
            for item in f.close():
                self.pipe.process(item)
        self.pipe.close(drain_timeout=10.0)


def serve(cfg: Config) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(Service(cfg).main())
