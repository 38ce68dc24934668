"""The analysts' web view: nothing is shown without the token, no POST without
the CSRF token, log content never becomes markup, and a real browser sees a new
incident arrive live, opens it, reads its timeline and evidence, and acts on it."""

from __future__ import annotations

import asyncio
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from auditwatch.config import Config
from auditwatch.detectors.rules.state import load_event
from auditwatch.model import Event
from auditwatch.responders.outbox import Attempt
from auditwatch.streams.embedded import Pipeline
from auditwatch.web import Broadcaster, Timeline, web_app
from tests.conftest import ROOT, need

TOKEN = "correct-horse-battery-staple-42"
T0 = 1_700_000_000.0
XSS_APP = "<script>alert(1)</script>"
XSS_PRINCIPAL = "<script>alert(2)</script>"  # unregistered: becomes the identity id "db:<script>..."
XSS_TABLE = "<img src=x onerror=alert(3)>"
# every element the pages are made of: anything else would have come from data
TAGS = {"html", "head", "meta", "title", "link", "script", "body", "header", "main", "a", "span", "form", "input",
        "button", "label", "p", "h1", "h2", "h3", "section", "article", "div", "dl", "dt", "dd", "ul", "li",
        "table", "caption", "thead", "tbody", "tr", "th", "td", "code"}
XSS_SQL = 'DROP TABLE "<img src=x onerror=alert(4)>"'


class AcceptingRevoker:
    """A revocation receiver that says yes at once (the webhook's place in the outbox)."""

    name = "webhook"
    url = "https://revoker.example/hook"

    def __init__(self) -> None:
        self.keys: list[str] = []

    def send(self, key: str, payload: bytes) -> Attempt:
        self.keys.append(key)
        return Attempt(ok=True, status_code=200, error=None, duration_ms=1.0)


def sql(t: float, action: str, principal: str = "agent_rw", table: str = "customers",
        categories: tuple[str, ...] = ("data.destroy",), statement: str = "") -> Event:
    return load_event({"time": t, "action": action, "categories": list(categories), "activity": "sql",
                       "statement": statement or f"{action} {table}", "event_id": f"ev-{principal}-{t}",
                       "source": {"type": "postgres", "name": "/var/log/postgresql/audit.log", "line": int(t - T0)},
                       "resource": {"environment": "prod", "name": table, "database": "prod_app"},
                       "actor": {"principal": principal, "principal_type": "db_user",
                                 "application_name": XSS_APP, "client_addr": "10.0.4.17"}})


def select(t: float, principal: str = "agent_rw", table: str = "customers") -> Event:
    return sql(t, "SELECT", principal, table, ("data.read",), f"SELECT * FROM {table} WHERE id = ?")


class Rig:
    """A real pipeline wired the way ``auditwatch run`` wires the web view."""

    def __init__(self) -> None:
        self.broadcaster = Broadcaster()
        self.timeline = Timeline()
        self.revoker = AcceptingRevoker()
        self.pipe = Pipeline(Config(store=":memory:", dead_letter="", identities=[
            {"id": "agent:report-writer", "kind": "agent", "owner": "dana", "match": {"db_roles": ["agent_rw"]}}]),
            sender=self.revoker, on_alert=self.broadcaster.on_alert)
        # the proposed Pipeline(on_event=timeline.add) hook: right after attribution, before any alert is published
        handle = self.pipe.core.handle

        def handle_and_record(ev: Event) -> Any:
            d = handle(ev)
            self.timeline.add(ev)
            return d

        self.pipe.core.handle = handle_and_record  # type: ignore[method-assign]

    def app(self) -> web.Application:
        root = web.Application()
        root.add_subapp("/ui/", web_app(self.pipe, TOKEN, broadcaster=self.broadcaster, timeline=self.timeline))
        return root

    def agent_incident(self) -> str:
        self.pipe.process(select(T0 - 120))
        self.pipe.process(sql(T0 - 60, "UPDATE", categories=("data.write",), statement="UPDATE customers SET x = ?"))
        (alert,) = self.pipe.process(sql(T0, "DROP TABLE"))
        return alert.incident_id

    def close(self) -> None:
        self.pipe.close(drain_timeout=2)


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.close()


def run(rig: Rig, body: Callable[[TestClient[Any, Any]], Any], app: web.Application | None = None) -> Any:
    async def go() -> Any:
        async with TestClient(TestServer(app or rig.app())) as client:
            return await body(client)

    return asyncio.run(go())


async def login(client: TestClient[Any, Any], user: str = "ana") -> str:
    r = await client.post("/ui/login", data={"token": TOKEN, "user": user}, allow_redirects=False)
    assert r.status == 303, await r.text()
    page = await (await client.get("/ui/")).text()
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m
    return m.group(1)


# --------------------------------------------------------------------------
# access
# --------------------------------------------------------------------------
def test_unauthenticated_requests_are_refused(rig: Rig) -> None:
    iid = rig.agent_incident()

    async def body(c: TestClient[Any, Any]) -> None:
        r = await c.get("/ui", allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/ui/"
        for path in ("/ui/", f"/ui/incidents/{iid}"):
            r = await c.get(path, allow_redirects=False)
            assert r.status == 303 and r.headers["Location"].startswith("/ui/login?next=")
        for path in ("/ui/api/incidents", f"/ui/api/incidents/{iid}", "/ui/events"):
            r = await c.get(path)
            assert r.status == 401, path
            assert "agent:report-writer" not in await r.text()
        for path in (f"/ui/incidents/{iid}/actions", f"/ui/api/incidents/{iid}/actions", "/ui/logout"):
            r = await c.post(path, data={"action": "ack"}, allow_redirects=False)
            assert r.status == 401, path
        # a wrong bearer token, a forged session cookie, a token given as a cookie
        for headers in ({"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN},
                        {"Cookie": "aw_session=guess"}, {"Cookie": f"aw_session={TOKEN}"}):
            assert (await c.get("/ui/api/incidents", headers=headers)).status == 401
            assert (await c.get("/ui/events", headers=headers)).status == 401
            r = await c.post(f"/ui/api/incidents/{iid}/actions", json={"action": "revoke"}, headers=headers)
            assert r.status == 401
        # the login page and the static files are all that is public
        assert (await c.get("/ui/login")).status == 200
        assert (await c.get("/ui/static/app.js")).status == 200

    run(rig, body)
    assert rig.pipe.core.grouper.get(iid).status == "open"  # type: ignore[union-attr]
    assert rig.revoker.keys == [f"revoke-{iid}"]  # the automatic one only


def test_login_sets_a_strict_httponly_session_cookie(rig: Rig) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        r = await c.post("/ui/login", data={"token": "wrong-token-wrong-token"}, allow_redirects=False)
        assert r.status == 401 and "Set-Cookie" not in r.headers
        assert "Wrong token." in await r.text()
        r = await c.post("/ui/login", data={"token": TOKEN, "next": "/ui/incidents/inc-1"}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == "/ui/incidents/inc-1"
        cookie = r.headers["Set-Cookie"]
        assert cookie.startswith("aw_session=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui/" in cookie
        assert TOKEN not in cookie  # the session id is random, not the token
        assert (await c.get("/ui/api/incidents")).status == 200
        # never a redirect off this app
        for nxt in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/ingest", "/ui//evil"):
            r = await c.post("/ui/login", data={"token": TOKEN, "next": nxt}, allow_redirects=False)
            assert r.headers["Location"] == "/ui/", nxt
        # signing out ends the session for every endpoint
        csrf = re.search(r'name="csrf" value="([^"]+)"', await (await c.get("/ui/")).text())
        assert csrf
        assert (await c.post("/ui/logout", data={"csrf": csrf.group(1)}, allow_redirects=False)).status == 303
        assert (await c.get("/ui/api/incidents")).status == 401

    run(rig, body)


def test_repeated_wrong_tokens_are_throttled(rig: Rig) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        codes = [(await c.post("/ui/login", data={"token": f"guess-{i}"})).status for i in range(21)]
        assert codes[:20] == [401] * 20 and codes[20] == 429
        assert (await c.post("/ui/login", data={"token": TOKEN})).status == 429  # even the right one, for a while

    run(rig, body)


def test_actions_need_the_sessions_csrf_token(rig: Rig) -> None:
    iid = rig.agent_incident()

    async def body(c: TestClient[Any, Any]) -> None:
        csrf = await login(c)
        url = f"/ui/incidents/{iid}/actions"
        for data in ({"action": "dismiss"}, {"action": "dismiss", "csrf": ""},
                     {"action": "dismiss", "csrf": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}):
            r = await c.post(url, data=data, allow_redirects=False)
            assert r.status == 403, data
        r = await c.post(f"/ui/api/incidents/{iid}/actions", json={"action": "dismiss"})
        assert r.status == 403  # the cookie alone is not enough for the API either
        assert rig.pipe.core.grouper.get(iid).status == "open"  # type: ignore[union-attr]
        r = await c.post(url, data={"action": "bogus", "csrf": csrf}, allow_redirects=False)
        assert r.status == 400
        r = await c.post(url, data={"action": "ack", "csrf": csrf}, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"] == f"/ui/incidents/{iid}"
        page = await (await c.get(f"/ui/incidents/{iid}")).text()
        assert "acknowledged by ana (web)" in page  # the flash, once
        assert "acknowledged by ana (web)" not in await (await c.get("/ui/")).text()
        # the header form of the token, as app.js would send it
        r = await c.post(f"/ui/api/incidents/{iid}/actions", json={"action": "dismiss"},
                         headers={"X-CSRF-Token": csrf})
        assert r.status == 200 and (await r.json())["message"] == "dismissed by ana (web)"

    run(rig, body)
    assert rig.pipe.core.grouper.get(iid).status == "dismissed"  # type: ignore[union-attr]
    assert rig.pipe.store.incidents()[0]["status"] == "dismissed"


def test_bearer_token_for_api_calls_needs_no_csrf(rig: Rig) -> None:
    app = rig.app()  # the app exists before the first event, as in `auditwatch run`
    iid = rig.agent_incident()
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def body(c: TestClient[Any, Any]) -> None:
        doc = await (await c.get("/ui/api/incidents", headers=auth)).json()
        (row,) = doc["incidents"]
        assert row["identity_id"] == "agent:report-writer" and row["severity"] == "critical" and row["revoked"]
        d = await (await c.get(f"/ui/api/incidents/{iid}", headers=auth)).json()
        assert [t["action"] for t in d["timeline"]] == ["SELECT", "UPDATE", "DROP TABLE"]
        assert d["timeline"][-1]["evidence"] == "agent-destroys-protected"
        assert d["timeline"][0]["offset"] == "−2m00s" and d["timeline"][-1]["offset"] == "+0s"
        assert f"app {XSS_APP}" in d["timeline"][0]["actor"]
        assert d["responses"][0] | {"created": "", "delivered": ""} == {
            "responder": "webhook", "key": f"revoke-{iid}", "status": d["responses"][0]["status"],
            "attempts": d["responses"][0]["attempts"], "last_error": "", "created": "", "delivered": ""}
        assert d["actionable"] == {"ack": True, "dismiss": True, "revoke": False}  # already revoked
        r = await c.post(f"/ui/api/incidents/{iid}/actions", json={"action": "ack"}, headers=auth)
        assert r.status == 200 and (await r.json())["message"] == "acknowledged by api (web)"
        assert (await c.get("/ui/api/incidents/inc-nope", headers=auth)).status == 404

    run(rig, body, app)


# --------------------------------------------------------------------------
# log content is text, never markup
# --------------------------------------------------------------------------
def test_pages_escape_log_content_and_send_the_security_headers(rig: Rig) -> None:
    iid = rig.agent_incident()
    (alert,) = rig.pipe.process(sql(T0 + 300, "DROP TABLE", XSS_PRINCIPAL, XSS_TABLE, statement=XSS_SQL))

    async def body(c: TestClient[Any, Any]) -> None:
        await login(c, user='"><script>alert(5)</script>')
        for path in ("/ui/", "/ui/?status=all", f"/ui/incidents/{iid}", f"/ui/incidents/{alert.incident_id}",
                     "/ui/login"):
            r = await c.get(path)
            page = await r.text()
            assert r.status == 200, path
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Cache-Control"] == "no-store"
            # the only script is the static file; no inline script, no event handler attribute
            assert re.findall(r"<script[^>]*>", page) == ['<script src="/ui/static/app.js" defer>']
            assert "</script><" not in page.replace("app.js\" defer></script>", "")
            assert not re.search(r"<[^>]+\son[a-z]+=", page)
            assert set(re.findall(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)", page)) <= TAGS, path
        page = await (await c.get(f"/ui/incidents/{alert.incident_id}")).text()
        assert "db:&lt;script&gt;alert(2)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(4)&gt;" in page and "&lt;img src=x onerror=alert(3)&gt;" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&quot;&gt;&lt;script&gt;alert(5)&lt;/script&gt;" in page  # the analyst's own name too
        for path in ("/ui/api/incidents", "/ui/events", "/ui/static/app.js"):
            assert (await c.get(path)).headers["X-Content-Type-Options"] == "nosniff"
        js = await c.get("/ui/static/app.js")
        assert js.headers["Content-Type"].startswith("text/javascript")

    run(rig, body)


def test_the_script_only_ever_writes_text() -> None:
    js = (ROOT / "auditwatch" / "web" / "static" / "app.js").read_text()
    code = re.sub(r"//[^\n]*", "", js)  # the comments may name what the code must not do
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setAttribute(\"on", "DOMParser", "createContextualFragment"):
        assert sink not in code, sink
    assert "textContent" in code


# --------------------------------------------------------------------------
# live updates and the timeline
# --------------------------------------------------------------------------
def test_event_stream_carries_new_alerts(rig: Rig) -> None:
    async def body(c: TestClient[Any, Any]) -> list[str]:
        await login(c)
        r = await c.get("/ui/events")
        assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
        assert (await r.content.readuntil(b"\n\n")).startswith(b"retry: 3000\nevent: hello")
        # the pipeline runs in its own thread, as the followers and ingest do
        t = threading.Thread(target=rig.agent_incident)
        t.start()
        await asyncio.to_thread(t.join)
        msg = (await asyncio.wait_for(r.content.readuntil(b"\n\n"), 5)).decode()
        r.close()
        return msg.splitlines()

    lines = run(rig, body)
    assert lines[0] == "event: alert"
    assert '"identity_id":"agent:report-writer"' in lines[1] and '"severity":"critical"' in lines[1]
    assert rig.broadcaster.subscribers == 0  # the closed stream was let go


def test_broadcaster_never_raises_and_lets_slow_streams_resync() -> None:
    b = Broadcaster(queue_size=2)

    async def go() -> tuple[list[bytes | None], bool]:
        sub = b.subscribe()
        assert sub is not None
        b.publish({"weird": object(), "incident_id": "inc-1", "type": "bad kind\nevent: x"})
        for i in range(5):
            b.publish({"alert_id": f"a{i}", "incident_id": "inc-1", "title": "t\n\ndata: x"})
        await asyncio.sleep(0.01)
        got = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        lagged = sub.lagged
        b.close()
        await asyncio.sleep(0.01)
        assert b.subscribe() is None
        got.append(sub.queue.get_nowait())
        return got, lagged

    got, lagged = asyncio.run(go())
    assert got[0] is not None and got[0].startswith(b"event: message\ndata: {")  # a bad kind is not an SSE line
    assert got[1] is not None and got[1].count(b"\n") == 3  # newlines stay inside the JSON string
    assert lagged and got[-1] is None


def test_timeline_is_bounded_per_identity_and_in_total() -> None:
    tl = Timeline(per_identity=3, max_events=5)
    for i in range(4):  # not attributed (no pipeline here): keyed by the principal
        tl.add(select(T0 + i, "alice"))
    assert [r["ts"] for r in tl.around("alice", 0, 2e9)] == [T0 + 1, T0 + 2, T0 + 3]
    for i in range(3):
        tl.add(select(T0 + 10 + i, "bob"))
    assert len(tl) == 5  # alice, seen longest ago, gave up her oldest
    assert [r["ts"] for r in tl.around("alice", 0, 2e9)] == [T0 + 2, T0 + 3]
    assert [r["ts"] for r in tl.around("alice", T0 + 3, T0 + 3)] == [T0 + 3]
    # the Event.to_dict() shape works too, keyed by the attributed identity
    tl.add({"time": "2023-11-14T22:13:25.000Z", "action": "DROP TABLE", "identity": {"id": "agent:bob"},
            "actor": {"principal": "bob", "application_name": "psql"}, "resource": {"name": "t"}})
    (row,) = tl.around("agent:bob", T0 + 5, T0 + 5)
    assert row["app"] == "psql" and row["rname"] == "t"
    tl.add({"time": "not a time"})  # never raises
    tl.add(None)  # type: ignore[arg-type]
    assert len(tl) == 5


def test_timeline_feed_is_cheap() -> None:
    tl = Timeline()
    ev = sql(T0, "DROP TABLE")
    n = 20_000
    start = time.perf_counter()
    for _ in range(n):
        tl.add(ev)
    per = (time.perf_counter() - start) / n
    assert per < 20e-6, f"{per * 1e6:.1f} µs per event"


def test_a_short_token_is_refused(rig: Rig) -> None:
    with pytest.raises(ValueError, match="16 characters"):
        web_app(rig.pipe, "short")


# --------------------------------------------------------------------------
# a real browser
# --------------------------------------------------------------------------
class Served:
    """The app on a free port, on its own loop in a thread, like ``auditwatch run``."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, name="web-view", daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = self.runner.addresses[0][1]
        self.started.set()
        self.loop.run_forever()

    def __enter__(self) -> str:
        self.thread.start()
        assert self.started.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_browser_sees_incidents_live_and_acts_on_them(rig: Rig) -> None:
    need(Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists(),
         "chromium and chromium-driver (Debian packages) are not installed")
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    app = rig.app()  # before any event, as in `auditwatch run`
    first = rig.agent_incident()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tempfile.TemporaryDirectory(prefix="aw-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run", f"--user-data-dir={profile.name}", "--window-size=1440,1300"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})

    def no_dialog() -> None:
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert  # noqa: B018  (the property raises when no dialog is open)

    with Served(app) as base:
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            wait = WebDriverWait(driver, 10)
            driver.get(f"{base}/ui/")
            assert "/ui/login" in driver.current_url  # not signed in: the login form
            driver.find_element(By.NAME, "token").send_keys(TOKEN)
            driver.find_element(By.NAME, "user").send_keys("ana")
            driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#incidents tr"))
            rows = driver.find_elements(By.CSS_SELECTOR, "#incidents tr")
            assert len(rows) == 1 and "agent:report-writer" in rows[0].text and "critical" in rows[0].text.lower()
            wait.until(lambda d: d.find_element(By.ID, "live").text == "live")  # the event stream is open

            # a new incident while the page is open, log fields carrying markup
            rig.pipe.process(select(T0 + 240, XSS_PRINCIPAL, XSS_TABLE))
            (alert,) = rig.pipe.process(sql(T0 + 300, "DROP TABLE", XSS_PRINCIPAL, XSS_TABLE, statement=XSS_SQL))
            second = alert.incident_id
            link = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-incident='{second}'] td.ident a"))
            assert link[0].text == f"db:{XSS_PRINCIPAL}"  # literal text, arrived without a reload
            assert len(driver.find_elements(By.CSS_SELECTOR, "#incidents tr")) == 2
            no_dialog()

            link[0].click()
            wait.until(lambda d: d.find_elements(By.ID, "f-status"))
            assert driver.find_element(By.ID, "f-identity").text == f"db:{XSS_PRINCIPAL}"
            assert driver.find_element(By.ID, "f-status").text == "open"
            timeline = driver.find_elements(By.CSS_SELECTOR, "#timeline tr")
            assert [r.find_elements(By.TAG_NAME, "td")[2].text for r in timeline] == ["SELECT", "DROP TABLE"]
            assert "evidence" in (timeline[1].get_attribute("class") or "")
            assert f"app {XSS_APP}" in timeline[0].text and XSS_TABLE in timeline[0].text
            evidence = driver.find_element(By.CSS_SELECTOR, "#alerts article.alert")
            assert "destructive-in-protected" in evidence.text
            assert evidence.find_element(By.CSS_SELECTOR, "tbody code").text == XSS_SQL

            # the same identity acts again: the open incident page updates in place
            wait.until(lambda d: d.find_element(By.ID, "live").text == "live")
            rig.pipe.process(sql(T0 + 330, "TRUNCATE", XSS_PRINCIPAL, "orders"))
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline tr")) == 3)

            driver.find_element(By.ID, "btn-ack").click()
            wait.until(lambda d: d.find_element(By.ID, "f-status").text == "acknowledged")
            assert "acknowledged by ana (web)" in driver.find_element(By.CSS_SELECTOR, ".flash").text
            assert not driver.find_element(By.ID, "btn-ack").is_enabled()
            assert rig.pipe.core.grouper.get(second).status == "acknowledged"  # type: ignore[union-attr]
            no_dialog()

            # Revoke asks first (our own confirm), then goes through the outbox
            driver.find_element(By.ID, "btn-revoke").click()
            WebDriverWait(driver, 5).until(lambda d: d.switch_to.alert).accept()
            wait.until(lambda d: d.find_element(By.ID, "f-revoked").text == "yes")
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#responses tr"))
            assert f"revoke-{second}" in driver.find_element(By.ID, "responses").text
            assert rig.revoker.keys == [f"revoke-{first}", f"revoke-{second}"]
            no_dialog()

            # nothing from the logs became an element, and the policy was never violated
            assert driver.find_elements(By.CSS_SELECTOR, "img, [onerror], main script") == []
            assert len(driver.find_elements(By.TAG_NAME, "script")) == 1
            csp = [e for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
            assert csp == []

            out = ROOT / "artifacts"
            out.mkdir(exist_ok=True)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1440, min(int(height) + 140, 4000))  # the whole page, responses included
            driver.save_screenshot(str(out / "web-incident.png"))
        finally:
            driver.quit()
            profile.cleanup()
