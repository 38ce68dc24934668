"""`auditwatch replay` on the public samples raises the alerts a SOC would expect
(and none on the benign sets), per source."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# sample globs -> {rule: (alerts, incidents)} expected; every other rule must stay at zero
CASES = {
    "invictus-cloudtrail": (["invictus-ir-aws-dataset/CloudTrail/*.json.gz"], 2900, {
        "logging-disabled": (5, 1), "logging-disabled-around-destruction": (5, 1),
        "data-and-backup-destroyed": (4, 1), "privilege-escalation-then-destruction": (2, 1),
        "privilege-escalation": (1, 1)}),
    "stratus-cloudtrail": (["stratus-red-team/*.json"], 310, {"logging-disabled": (5, 5),
                                                            "privilege-escalation": (2, 2)}),
    "traildiscover-failed-calls": (["traildiscover/logExamples/*"], 563, {}),
    "falco-k8s": (["falco-k8s-audit/*.json"], 51, {"privilege-escalation": (3, 1)}),
    "immudb-k8s-benign": (["immudb-log-audit/k8s.log.gz"], 1376, {}),
    "immudb-pgaudit-benign": (["immudb-log-audit/pgaudit_stderr.log", "immudb-log-audit/pgaudit_jsonlog.log"], 1017, {}),
    "mariadb": (["ibm-universal-connectors/mariadb/*.log"], 50, {}),
    "mysql-json": (["ibm-universal-connectors/mysql/*.log"], 9, {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_replay_stats_on_the_public_samples(name: str, corpus: Path, tmp_path: Path) -> None:
    globs, n_events, expected = CASES[name]
    files = sorted(str(f) for g in globs for f in corpus.glob(g))
    assert files, globs
    p = subprocess.run([sys.executable, "-m", "auditwatch.cli", "replay", "--stats", "--format", "jsonl", *files],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    got = {r["rule_id"]: (r["alerts"], r["incidents"]) for r in map(json.loads, p.stdout.splitlines()) if r["alerts"]}
    assert got == expected
    # falco ships one placeholder file, {"kind": 0}, that is no audit event at all
    dead = 1 if name == "falco-k8s" else 0
    assert f"auditwatch: {n_events} events, {dead} dead letters" in p.stderr
