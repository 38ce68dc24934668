"""The demo scenario: the April 2026 incident, told in real log formats.

Act one (AWS): a coding agent (Cursor) on a staging task hits a credential
mismatch, finds an unrelated IAM user's key made for managing custom domains —
allowed far more than that — and in one call deletes the production database
together with its automated backups (``DeleteDBInstance`` with
``skipFinalSnapshot`` and ``deleteAutomatedBackups``).

Act two (PostgreSQL with pgaudit, jsonlog): an agent role connects to the
production database with a password from a ``.env`` file, drops the production
tables and, seconds later, the ``backups`` schema.

Around it, ordinary traffic: people (console, psql, DBeaver), services
(Terraform in CI, AWS services) and a well-behaved agent doing harmless work.
The files are written fresh on every run, in the exact formats the real
systems write, and read back through the same sources users point at theirs.
"""

from __future__ import annotations

import gzip
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ACCOUNT = "111122223333"
BASE = datetime(2026, 4, 24, 9, 0, 0, tzinfo=UTC)
_ids = itertools.count(1)

REGISTRY_YAML = f"""\
# Who is who in the demo estate.
identities:
  - id: alice@example.com
    kind: human
    owner: alice@example.com
    match:
      principals: ["arn:aws:iam::{ACCOUNT}:user/alice"]
  - id: bob@example.com
    kind: human
    owner: bob@example.com
    match:
      db_roles: [bob]
  - id: carol@example.com
    kind: human
    owner: carol@example.com
    match:
      db_roles: [carol]
  - id: svc:ci-terraform
    kind: service
    owner: platform-team
    environments: [staging, prod]
    match:
      principals: ["arn:aws:sts::{ACCOUNT}:assumed-role/ci-terraform/*"]
  - id: svc:orders-api
    kind: service
    owner: orders-team
    environments: [prod]
    match:
      db_roles: [orders_app]
  - id: agent:docs-bot
    kind: agent
    owner: erin@example.com
    environments: [staging]
    match:
      role_sessions: ["claude-code-docs-*"]
      db_roles: [docs_bot]
  - id: agent:dana-cursor
    kind: agent
    owner: dana@example.com
    environments: [staging]
    match:
      db_roles: [agent_rw]
  - id: oncall-breakglass
    kind: human
    owner: sre-oncall
    protected: true
    match:
      principals: ["arn:aws:iam::{ACCOUNT}:user/breakglass"]
"""


def _t(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def _ct(at: float, name: str, source: str, identity: dict[str, Any], ua: str,
        params: dict[str, Any] | None = None, error: str | None = None, ip: str = "198.51.100.7",
        read_only: bool = False, region: str = "us-east-1") -> dict[str, Any]:
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": _t(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
        "requestParameters": params,
        "responseElements": None,
        "requestID": str(uuid.UUID(int=next(_ids))),
        "eventID": str(uuid.UUID(int=10**9 + next(_ids))),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
    if error:
        rec["errorCode"] = error
        rec["errorMessage"] = f"User is not authorized to perform: {source.split('.')[0]}:{name}"
    return rec


def _iam_user(name: str, key: str) -> dict[str, Any]:
    return {"type": "IAMUser", "principalId": f"AIDA{name.upper()[:8]:X<16}", "accountId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accessKeyId": key, "userName": name}


def _role(role: str, session: str, key: str, source_identity: str | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "sessionIssuer": {"type": "Role", "principalId": f"AROA{role.upper()[:8]:X<16}",
                          "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}", "accountId": ACCOUNT,
                          "userName": role},
        "attributes": {"creationDate": _t(0).strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"},
    }
    if source_identity:
        ctx["sourceIdentity"] = source_identity
    return {"type": "AssumedRole", "principalId": f"AROA{role.upper()[:8]:X<16}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", "accountId": ACCOUNT,
            "accessKeyId": key, "sessionContext": ctx}


CONSOLE_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
TERRAFORM_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) terraform-provider-aws/5.53.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.27.2 os/linux lang/go#1.22.3 md/GOOS#linux md/GOARCH#amd64 api/rds#1.79.3"
CLAUDE_UA = "claude-code/2.1.12 aws-cli/2.17.0 Python/3.11.8 Linux/6.8 exe/x86_64.ubuntu.24 prompt/off command/rds.describe-db-instances"
CURSOR_UA = "Cursor/1.7.2 aws-sdk-js/3.592.0 ua/2.1 os/darwin#23.4.0 lang/js md/nodejs#20.14.0 api/rds#3.592.0"


def cloudtrail_records() -> list[dict[str, Any]]:
    alice = _iam_user("alice", "AKIAALICEEXAMPLE0001")
    tf = _role("ci-terraform", "gh-actions-8812", "ASIACITERRAFORM00001")
    docs = _role("staging-readonly", "claude-code-docs-4471", "ASIADOCSBOT000000001")
    domains = _iam_user("domains-manager", "AKIADOMAINSMGR000001")
    backup_svc = {"type": "AWSService", "invokedBy": "backup.amazonaws.com"}
    recs = [
        _ct(5, "ConsoleLogin", "signin.amazonaws.com", alice, CONSOLE_UA),
        _ct(12, "DescribeDBInstances", "rds.amazonaws.com", alice, CONSOLE_UA, read_only=True),
        _ct(30, "StartBackupJob", "backup.amazonaws.com", backup_svc, "backup.amazonaws.com",
            {"backupVaultName": "prod-vault", "resourceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:prod-orders-db"}),
        _ct(60, "DescribeDBInstances", "rds.amazonaws.com", tf, TERRAFORM_UA, read_only=True),
        _ct(62, "ModifyDBInstance", "rds.amazonaws.com", tf, TERRAFORM_UA,
            {"dBInstanceIdentifier": "staging-orders-db", "backupRetentionPeriod": 7, "applyImmediately": True}),
        _ct(64, "DeleteDBSnapshot", "rds.amazonaws.com", tf, TERRAFORM_UA,
            {"dBSnapshotIdentifier": "staging-orders-db-2026-03-01"}),
        _ct(90, "DescribeDBInstances", "rds.amazonaws.com", docs, CLAUDE_UA, read_only=True),
        _ct(92, "ListTagsForResource", "rds.amazonaws.com", docs, CLAUDE_UA,
            {"resourceName": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:staging-orders-db"}, read_only=True),
        # alice tries to delete prod by mistake and is denied: a failure never counts as done
        _ct(120, "DeleteDBInstance", "rds.amazonaws.com", alice, CONSOLE_UA,
            {"dBInstanceIdentifier": "prod-orders-db", "skipFinalSnapshot": False}, error="AccessDenied"),
        # the agent on its staging task: describe, then the credential mismatch
        _ct(600, "DescribeDBInstances", "rds.amazonaws.com", domains, CURSOR_UA, read_only=True),
        _ct(604, "ListDomains", "route53domains.amazonaws.com", domains, CURSOR_UA, read_only=True,
            region="us-east-1"),
        # the blow: one call deletes the production database and its automated backups
        _ct(611, "DeleteDBInstance", "rds.amazonaws.com", domains, CURSOR_UA,
            {"dBInstanceIdentifier": "prod-orders-db", "skipFinalSnapshot": True,
             "deleteAutomatedBackups": True}),
        _ct(700, "DescribeDBInstances", "rds.amazonaws.com", tf, TERRAFORM_UA, read_only=True),
    ]
    return recs


def _pg(at: float, user: str, db: str, app: str, session: str, line: int, pid: int, message: str,
        severity: str = "LOG", **extra: Any) -> dict[str, Any]:
    rec = {
        "timestamp": _t(at).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC",
        "user": user, "dbname": db, "pid": pid, "remote_host": "10.0.12.34", "remote_port": 50000 + pid % 1000,
        "session_id": session, "line_num": line, "ps": "idle",
        "session_start": _t(at - 30).strftime("%Y-%m-%d %H:%M:%S") + " UTC",
        "vxid": f"3/{line + 100}", "txid": 0, "error_severity": severity, "message": message,
        "application_name": app, "backend_type": "client backend", "query_id": 0,
    }
    rec.update(extra)
    return rec


def _audit(n: int, cls: str, cmd: str, obj_type: str, obj: str, stmt: str) -> str:
    quoted = '"' + stmt.replace('"', '""') + '"' if ("," in stmt or '"' in stmt or "\n" in stmt) else stmt
    return f"AUDIT: SESSION,{n},1,{cls},{cmd},{obj_type},{obj},{quoted},<not logged>"


def postgres_jsonlog() -> list[dict[str, Any]]:
    out = []
    # bob at psql on prod, reading and fixing one row (a WHERE: not destructive)
    s = "6627a1f0.3e8"
    out += [
        _pg(20, "bob", "prod_app", "psql", s, 1, 1000, _audit(1, "READ", "SELECT", "TABLE", "public.orders",
                                                            "SELECT id, status FROM orders WHERE id = 4211")),
        _pg(25, "bob", "prod_app", "psql", s, 2, 1000, _audit(2, "WRITE", "UPDATE", "TABLE", "public.orders",
                                                            "UPDATE orders SET status = 'shipped' WHERE id = 4211")),
    ]
    # carol in DBeaver on staging, clearing an import table with a WHERE
    s = "6627a1f5.3f2"
    out += [
        _pg(40, "carol", "staging_app", "DBeaver 24.0.3 - SQLEditor <staging_app>", s, 1, 1010,
            _audit(1, "WRITE", "DELETE", "TABLE", "public.tmp_import",
                   "DELETE FROM tmp_import WHERE loaded_at < now() - interval '7 days'")),
    ]
    # the orders service doing its job on prod
    s = "6627a1f7.3fc"
    for i in range(6):
        out.append(_pg(45 + i, "orders_app", "prod_app", "orders-api", s, i + 1, 1020,
                       _audit(i + 1, "WRITE", "INSERT", "TABLE", "public.orders",
                              f"INSERT INTO orders (customer_id, total) VALUES ({100 + i}, {19.99 + i})")))
    # the well-behaved agent reads staging and writes its notes
    s = "6627a1f9.406"
    out += [
        _pg(95, "docs_bot", "staging_app", "claude-code", s, 1, 1030,
            _audit(1, "READ", "SELECT", "TABLE", "public.orders", "SELECT count(*) FROM orders")),
        _pg(97, "docs_bot", "staging_app", "claude-code", s, 2, 1030,
            _audit(2, "WRITE", "INSERT", "TABLE", "public.doc_notes",
                   "INSERT INTO doc_notes (topic, body) VALUES ('orders', 'row counts checked')")),
    ]
    # a statement that fails: the agent role tries a table that does not exist on staging
    s = "6627a2b0.420"
    out += [
        _pg(650, "agent_rw", "staging_app", "cursor-agent", s, 1, 1040,
            _audit(1, "DDL", "DROP TABLE", "", "", "DROP TABLE legacy_orders")),
        _pg(650.001, "agent_rw", "staging_app", "cursor-agent", s, 2, 1040,
            'table "legacy_orders" does not exist', severity="ERROR", state_code="42P01",
            statement="DROP TABLE legacy_orders"),
    ]
    # act two: the agent role on the production database
    s = "6627a2c4.42a"
    out += [
        _pg(700, "agent_rw", "prod_app", "cursor-agent", s, 1, 1050,
            "connection authorized: user=agent_rw database=prod_app application_name=cursor-agent"),
        _pg(702, "agent_rw", "prod_app", "cursor-agent", s, 2, 1050,
            _audit(1, "READ", "SELECT", "TABLE", "public.customers", "SELECT count(*) FROM customers")),
        _pg(705, "agent_rw", "prod_app", "cursor-agent", s, 3, 1050,
            _audit(2, "DDL", "DROP TABLE", "TABLE", "public.customers", "DROP TABLE customers CASCADE")),
        _pg(705.002, "agent_rw", "prod_app", "cursor-agent", s, 4, 1050,
            _audit(3, "DDL", "DROP TABLE", "TABLE", "public.orders", "DROP TABLE orders CASCADE")),
        _pg(711, "agent_rw", "prod_app", "cursor-agent", s, 5, 1050,
            _audit(4, "DDL", "DROP SCHEMA", "SCHEMA", "backups", "DROP SCHEMA backups CASCADE")),
        _pg(712, "agent_rw", "prod_app", "cursor-agent", s, 6, 1050,
            "disconnection: session time: 0:00:12.004 user=agent_rw database=prod_app host=10.0.12.34 port=51050"),
    ]
    return out


def write(dirpath: Path) -> dict[str, Path]:
    """Write the scenario's files; returns their paths."""
    global _ids
    _ids = itertools.count(1)  # same ids every run
    dirpath.mkdir(parents=True, exist_ok=True)
    ct = dirpath / f"{ACCOUNT}_CloudTrail_us-east-1_20260424T0900Z_demo.json.gz"
    with gzip.open(ct, "wt") as f:
        json.dump({"Records": cloudtrail_records()}, f)
    pg = dirpath / "postgresql-prod.json"
    with open(pg, "w") as f:
        for rec in postgres_jsonlog():
            f.write(json.dumps(rec) + "\n")
    reg = dirpath / "identities.yaml"
    reg.write_text(REGISTRY_YAML)
    return {"cloudtrail": ct, "postgres": pg, "registry": reg}
