"""Who acted through delegation: role sessions, impersonation, learned credentials,
behaviour — on constructed chains of whole records, read by the real sources."""

from __future__ import annotations

import io
import json
from typing import Any

from auditwatch.demo.scenario import CURSOR_UA, _ct, _iam_user
from auditwatch.model import Event
from auditwatch.streams.identity.attribute import Attributor
from auditwatch.streams.identity.registry import load_registry
from auditwatch.streams.reader import read_stream

ACCT = "111122223333"


def events(records: list[Any], fmt: str = "cloudtrail") -> list[Event]:
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    out = [e for e in read_stream(io.BufferedReader(io.BytesIO(data)), "t", fmt) if isinstance(e, Event)]  # type: ignore[arg-type]
    assert len(out) == len(records)
    return out


def assume(at: float, caller: dict[str, Any], key: str, ua: str, tags: dict[str, str] | None = None,
           source_identity: str = "") -> dict[str, Any]:
    params: dict[str, Any] = {"roleArn": f"arn:aws:iam::{ACCT}:role/deployer", "roleSessionName": "s1"}
    if tags:
        params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if source_identity:
        params["sourceIdentity"] = source_identity
    rec = _ct(at, "AssumeRole", "sts.amazonaws.com", caller, ua, params)
    rec["responseElements"] = {"credentials": {"accessKeyId": key, "expiration": "x", "sessionToken": "t"},
                               "assumedRoleUser": {"arn": f"arn:aws:sts::{ACCT}:assumed-role/deployer/s1"}}
    return rec


def role_session(key: str) -> dict[str, Any]:
    return {"type": "AssumedRole", "principalId": "AROAX:s1", "arn": f"arn:aws:sts::{ACCT}:assumed-role/deployer/s1",
            "accountId": ACCT, "accessKeyId": key,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCT}:role/deployer"}}}


REG = load_registry(None, [{"id": "alice@corp", "kind": "human", "owner": "alice@corp",
                            "match": {"principals": [f"arn:aws:iam::{ACCT}:user/alice"]}}])
CONSOLE = "Mozilla/5.0 (Macintosh) Safari/605.1.15"


def test_human_assumes_a_role_that_an_agent_then_uses() -> None:
    a = Attributor(REG)
    evs = events([assume(0, _iam_user("alice", "AKIAALICE"), "ASIASESSION1", "aws-cli/2.17 Python/3.11"),
                  _ct(30, "DescribeDBInstances", "rds.amazonaws.com", role_session("ASIASESSION1"), CURSOR_UA),
                  _ct(40, "DeleteDBInstance", "rds.amazonaws.com", role_session("ASIASESSION1"), CURSOR_UA,
                      {"dBInstanceIdentifier": "prod-db"})])
    ids = [a.attribute(e) for e in evs]
    assert (ids[0].id, ids[0].kind) == ("alice@corp", "human")
    assert ids[2].kind == "agent" and ids[2].owner == "alice@corp"
    assert any("session issued to alice@corp" in x for x in ids[2].evidence)


def test_the_same_session_used_by_alice_herself_stays_human() -> None:
    a = Attributor(REG)
    evs = events([assume(0, _iam_user("alice", "AKIAALICE"), "ASIASESSION2", CONSOLE),
                  _ct(30, "DescribeDBInstances", "rds.amazonaws.com", role_session("ASIASESSION2"), "aws-cli/2.17")])
    ids = [a.attribute(e) for e in evs]
    assert (ids[1].kind, ids[1].owner) == ("human", "alice@corp") and ids[1].confidence < 0.9


def test_session_tags_declared_on_assume_role_carry_to_the_session() -> None:
    a = Attributor(REG)
    evs = events([assume(0, _iam_user("alice", "AKIAALICE"), "ASIASESSION3", "aws-cli/2.17",
                         tags={"agent": "release-bot", "on-behalf-of": "alice@corp"}),
                  _ct(5, "PutObject", "s3.amazonaws.com", role_session("ASIASESSION3"), "Boto3/1.34")])
    i = [a.attribute(e) for e in evs][1]
    assert (i.id, i.kind, i.confidence, i.owner) == ("agent:release-bot", "agent", 0.9, "alice@corp")


def test_gcp_service_account_impersonated_by_a_human_is_the_human() -> None:
    rec = {"insertId": "x1", "timestamp": "2026-04-24T09:00:00Z", "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
           "resource": {"type": "gce_instance", "labels": {"project_id": "p"}},
           "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "methodName": "v1.compute.instances.get",
                            "serviceName": "compute.googleapis.com", "resourceName": "projects/p/zones/z/instances/i",
                            "authenticationInfo": {"principalEmail": "deployer@p.iam.gserviceaccount.com",
                                                   "serviceAccountDelegationInfo": [{"firstPartyPrincipal": {"principalEmail": "bob@corp.example"}}]},
                            "requestMetadata": {"callerIp": "10.0.0.1", "callerSuppliedUserAgent": "google-cloud-sdk gcloud/470.0.0"}}}
    import auditwatch.streams.sources.gcp_audit  # noqa: F401

    (e,) = events([rec], "gcp-audit")
    i = Attributor().attribute(e)
    assert (i.id, i.kind) == ("bob@corp.example", "human")


def test_unknown_stays_unknown_and_is_never_guessed_human() -> None:
    (e,) = events([_ct(0, "ListBuckets", "s3.amazonaws.com", _iam_user("mystery", "AKIAMYSTERY"), "Boto3/1.34.0")])
    i = Attributor().attribute(e)
    assert (i.kind, i.confidence) == ("unknown", 0.1)


def test_credential_seen_used_by_an_agent_is_remembered_and_survives_restart() -> None:
    a = Attributor()
    evs = events([_ct(0, "ListBuckets", "s3.amazonaws.com", _iam_user("domains", "AKIADOMAINS"), CURSOR_UA),
                  _ct(60, "DeleteBucket", "s3.amazonaws.com", _iam_user("domains", "AKIADOMAINS"), "curl/8.5.0")])
    assert a.attribute(evs[0]).kind == "agent"
    b = Attributor()
    b.load(json.loads(json.dumps(a.dump())))
    i = b.attribute(evs[1])
    assert i.kind == "agent" and i.confidence == 0.8 and "was seen used by agent" in i.evidence[0]
    # the registry always wins over learning
    reg = load_registry(None, [{"id": "svc:domains", "kind": "service",
                                "match": {"access_keys": ["AKIADOMAINS"]}}])
    c = Attributor(reg)
    c.load(a.dump())
    assert c.attribute(evs[1]).kind == "service"


def test_behaviour_alone_is_never_certain() -> None:
    a = Attributor()
    recs = [_ct(k * 0.3, f"Describe{k % 15}", "ec2.amazonaws.com", _iam_user("bot", "AKIABOT"), "Boto3/1.34")
            for k in range(40)]
    ids = [a.attribute(e) for e in events(recs)]
    assert ids[0].kind == "unknown"
    assert ids[-1].kind == "agent" and ids[-1].confidence == 0.5 and "behaviour only" in ids[-1].evidence[0]
    # a person's slow, narrow work never gets there
    slow = [_ct(k * 45, "DescribeInstances", "ec2.amazonaws.com", _iam_user("carol", "AKIACAROL"), "aws-cli/2")
            for k in range(40)]
    assert {a.attribute(e).kind for e in events(slow)} == {"unknown"}


def test_browser_ua_with_an_ai_feature_is_a_person() -> None:
    (e,) = events([_ct(0, "GetObject", "s3.amazonaws.com", _iam_user("erin", "AKIAERIN"),
                       "Mozilla/5.0 (Windows NT 10.0) Edg/124.0 Copilot/1.0")])
    assert Attributor().attribute(e).kind != "agent"


def test_postgres_set_role_is_kept_as_evidence_of_the_session_user() -> None:
    lines = ['2026-01-01 00:00:00 UTC [7] bob@prod LOG:  AUDIT: SESSION,1,1,MISC,SET,,,SET ROLE admin_rw,<not logged>',
             '2026-01-01 00:00:01 UTC [7] bob@prod LOG:  AUDIT: SESSION,2,1,DDL,DROP TABLE,TABLE,public.t,DROP TABLE t,<not logged>',
             '2026-01-01 00:00:02 UTC [7] bob@prod LOG:  AUDIT: SESSION,3,1,MISC,RESET,,,RESET ROLE,<not logged>',
             '2026-01-01 00:00:03 UTC [7] bob@prod LOG:  AUDIT: SESSION,4,1,READ,SELECT,,,SELECT 1,<not logged>']
    evs = [e for e in read_stream(io.BufferedReader(io.BytesIO("\n".join(lines).encode() + b"\n")), "pg",  # type: ignore[arg-type]
                                  "postgres-stderr") if isinstance(e, Event)]
    assert [(e.action.name, e.actor.principal, e.actor.tags.get("set_role")) for e in evs] == [
        ("SET", "bob", None), ("DROP TABLE", "bob", "admin_rw"), ("RESET", "bob", "admin_rw"), ("SELECT", "bob", None)]
