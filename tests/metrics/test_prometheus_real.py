"""The metrics, dashboards and alerting rules against a real Prometheus.

A real ``auditwatch run`` (a subprocess) follows a PostgreSQL jsonlog and takes
the CloudTrail file over ``POST /ingest`` — the demo scenario — and revokes
through a webhook receiver that verifies signatures. A real Prometheus scrapes
its ``/metrics`` every second and loads ``deploy/prometheus/alerts.yaml``. Then
every query of every panel of every dashboard goes through Prometheus' HTTP API
and must return data, every alerting rule must evaluate without error, and
``promtool`` must accept the exposition, the rules (and their unit tests) and
the shipped Prometheus configuration.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from auditwatch.demo import scenario
from auditwatch.demo.receiver import WebhookReceiver
from tests.cli.test_run import free_port, wait_health
from tests.conftest import ROOT, need

pytestmark = pytest.mark.system

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
# what Grafana would put in: the rate interval is at least four scrape intervals (1 s here)
VARIABLES = {"$__rate_interval": "1m", "${__rate_interval}": "1m", "$__range": "5m", "${__range}": "5m",
             "$__interval": "15s", "${__interval}": "15s", "$instance": ".*", "${instance}": ".*"}


def have_prometheus() -> None:
    need(Path(PROMETHEUS).exists() and Path(PROMTOOL).exists(),
         "Prometheus and promtool are not installed (Debian: apt-get install prometheus)")


def substitute(expr: str) -> str:
    for k in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(k, VARIABLES[k])
    left = re.findall(r"\$\{?\w+", expr)
    assert not left, f"unsubstituted template variables {left} in {expr}"
    return expr


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for p in board["panels"]:
        yield p
        yield from p.get("panels", [])  # collapsed rows hold their panels


def queries() -> list[tuple[str, str, str]]:
    out = []
    for f in DASHBOARDS:
        board = json.loads(f.read_text())
        for p in panels(board):
            for t in p.get("targets", []):
                out.append((f.name, p["title"], t["expr"]))
    return out


@dataclass
class Stack:
    base: str  # auditwatch run
    prom: str  # Prometheus
    run: subprocess.Popen[str]
    rx: WebhookReceiver

    def query(self, q: str) -> list[dict[str, Any]]:
        r = httpx.get(f"{self.prom}/api/v1/query", params={"query": q}, timeout=10)
        doc = r.json()
        assert r.status_code == 200 and doc["status"] == "success", (q, doc)
        return doc["data"]["result"]  # type: ignore[no-any-return]

    def wait_for(self, q: str, ok: Any, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        res: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            res = self.query(q)
            if res and ok(res):
                return res
            time.sleep(0.2)
        raise AssertionError(f"{q} never satisfied; last result {res}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    have_prometheus()
    tmp = tmp_path_factory.mktemp("prom")
    files = scenario.write(tmp / "logs")
    followed = tmp / "follow" / "postgresql-prod.json"
    followed.parent.mkdir()
    followed.write_text("")
    port, pport = free_port(), free_port()
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    env = {**os.environ, "AW_PROM_TEST_SECRET": secret}
    (tmp / "aw.yaml").write_text(f"""
listen: 127.0.0.1:{port}
store: {tmp / 'aw.db'}
dead_letter: {tmp / 'dl.jsonl'}
registry: {files['registry']}
sources:
  - path: {followed}
    format: postgres-jsonlog
responders:
  webhook:
    url: PLACEHOLDER
    secret_env: AW_PROM_TEST_SECRET
""")
    (tmp / "prometheus.yaml").write_text(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {RULES}
scrape_configs:
  - job_name: auditwatch-run
    static_configs:
      - targets: ["127.0.0.1:{port}"]
""")
    procs: list[subprocess.Popen[Any]] = []
    outputs: dict[int, tuple[Any, Any]] = {}
    with WebhookReceiver(secret) as rx, open(tmp / "prometheus.log", "wb") as plog:
        (tmp / "aw.yaml").write_text((tmp / "aw.yaml").read_text().replace("PLACEHOLDER", rx.url))
        try:
            run = subprocess.Popen([sys.executable, "-m", "auditwatch.cli", "run", "--config", str(tmp / "aw.yaml")],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            procs.append(run)
            prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp / 'prometheus.yaml'}",
                                     f"--storage.tsdb.path={tmp / 'tsdb'}",
                                     f"--web.listen-address=127.0.0.1:{pport}"],
                                    stdout=plog, stderr=subprocess.STDOUT)
            procs.append(prom)
            base, pbase = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{pport}"
            wait_health(base)
            st = Stack(base, pbase, run, rx)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    if httpx.get(pbase + "/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            # a first scrape before the events: the counters then visibly move between scrapes
            st.wait_for('up{job="auditwatch-run"} == 1', bool)
            # the incident: PostgreSQL follows the file, CloudTrail comes over HTTP, plus a bad record
            with open(files["postgres"], "rb") as src, open(followed, "ab") as dst:
                dst.write(src.read())
            ct = gzip.decompress(files["cloudtrail"].read_bytes())
            assert httpx.post(base + "/ingest", content=ct, timeout=30).json()["events"] > 0
            assert httpx.post(base + "/ingest?format=postgres-jsonlog", content=b"{not json\n",
                              timeout=30).json()["dead_letters"] == 1
            deadline = time.monotonic() + 20
            h: dict[str, Any] = {}
            while time.monotonic() < deadline:
                h = wait_health(base)
                if h["events"] >= 29 and h["outbox_pending"] == 0 and rx.state.accepted:
                    break
                time.sleep(0.1)
            assert rx.state.accepted, f"no revocation arrived: {h}"
            # Prometheus has scraped the final counts, and a few samples after them
            st.wait_for('sum(auditwatch_events_total{outcome="parsed"})', lambda r: float(r[0]["value"][1]) >= 29)
            st.wait_for('sum(auditwatch_responses_total{outcome="delivered"})', lambda r: float(r[0]["value"][1]) >= 1)
            time.sleep(3)
            yield st
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    outputs[p.pid] = p.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    outputs[p.pid] = p.communicate()
    assert run.returncode == 0, outputs[run.pid][1]


@pytest.mark.parametrize("board, title, expr", queries(), ids=lambda x: x if len(x) < 60 else x[:57] + "...")
def test_every_panel_query_returns_data(stack: Stack, board: str, title: str, expr: str) -> None:
    res = stack.query(substitute(expr))
    assert res, f"{board} / {title}: no data for {expr}"


def test_template_variable_queries_return_values(stack: Stack) -> None:
    for f in DASHBOARDS:
        for v in json.loads(f.read_text())["templating"]["list"]:
            if v["type"] != "query":
                continue
            q = v["query"] if isinstance(v["query"], str) else v["query"]["query"]
            m = re.fullmatch(r"label_values\((\w+(?:\{.*\})?),\s*(\w+)\)", q)
            assert m, f"{f.name}: variable {v['name']}: unexpected query {q}"
            res = stack.query(m.group(1))
            assert {r["metric"].get(m.group(2)) for r in res} - {None}, f"{f.name}: {q} has no values"


def test_the_demo_moved_the_counters(stack: Stack) -> None:
    def one(q: str) -> float:
        res = stack.query(q)
        assert res, q
        return float(res[0]["value"][1])

    assert one('sum(auditwatch_events_total{outcome="parsed", source="cloudtrail"})') == 13
    assert one('sum(auditwatch_events_total{outcome="parsed", source="postgres"})') == 16
    assert one('sum(auditwatch_events_total{outcome="dead_lettered"})') == 1
    assert one('sum(auditwatch_alerts_total{severity="critical"})') >= 2
    assert one('sum(auditwatch_revocations_total{outcome="delivered"})') >= 1
    assert one('sum(auditwatch_attributed_events_total{kind="agent"})') > 0
    assert one('sum(auditwatch_events_by_kind_total{kind="agent", category="data.destroy"})') > 0
    assert one("auditwatch_ingest_to_alert_seconds_count") > 0
    # the demo's events are from April 2026, long before "now": counted as past skew
    assert one('auditwatch_clock_skew_events_total{direction="past"}') > 0


def test_alerting_rules_load_and_evaluate(stack: Stack) -> None:
    deadline = time.monotonic() + 10
    rules: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        doc = httpx.get(f"{stack.prom}/api/v1/rules", timeout=10).json()
        rules = [r for g in doc["data"]["groups"] for r in g["rules"]]
        if rules and all(not r["lastEvaluation"].startswith("0001") for r in rules):
            break
        time.sleep(0.2)
    names = {r["name"] for r in rules}
    assert {"AuditwatchPipelineStalled", "AuditwatchDeadLettersRising", "AuditwatchResponderFailing",
            "AuditwatchCircuitBreakerOpen", "AuditwatchKafkaConsumerLagHigh"} <= names
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad


def test_promtool_checks_the_exposition(stack: Stack) -> None:
    body = httpx.get(stack.base + "/metrics", timeout=10).content
    assert b"auditwatch_events_total" in body
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


def test_promtool_checks_rules_and_config() -> None:
    have_prometheus()
    d = RULES.parent
    for args in (["check", "rules", str(RULES)], ["test", "rules", "alerts.test.yaml"],
                 ["check", "config", "prometheus.yaml"]):
        r = subprocess.run([PROMTOOL, *args], cwd=d, capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, f"promtool {' '.join(args)}:\n{r.stdout}{r.stderr}"
