"""CloudTrail source: unit tests on whole records built here, as AWS writes them.

Every record below carries the fields CloudTrail really writes (eventVersion,
userIdentity, requestParameters, requestID, eventType, tlsDetails ...); the
files are written to ``tmp_path`` and read back through ``read_path`` with
format auto-detection, exactly as ``auditwatch replay`` would read them.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditwatch.model import Event
from auditwatch.streams.reader import read_path
from auditwatch.streams.sources.base import DeadLetter

ACCOUNT = "111122223333"
REGION = "eu-west-1"

DATA = "data.destroy"
BACKUP = "backup.destroy"
LOGGING = "logging.disable"
PRIV = "privilege.escalate"
CRED = "credential.create"
INFRA = "infra.destroy"
KEY = "key.destroy"


# --------------------------------------------------------------------------- record builders


def iam_user(name: str = "alice", key: str = "AKIAIOSFODNN7EXAMPLE") -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDAJ45Q7YFFAREXAMPLE",
        "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "userName": name,
    }


def assumed_role(role: str = "ci-deployer", session: str = "deploy-7f3a", key: str = "ASIAQNZGKIQY7EXAMPLE",
                 source_identity: str | None = "alice@example.com") -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROAQNZGKIQY2EXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
            "accountId": ACCOUNT,
            "userName": role,
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": "2024-03-05T14:02:11Z", "mfaAuthenticated": "false"},
    }
    if source_identity is not None:
        ctx["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "principalId": f"AROAQNZGKIQY2EXAMPLE:{session}",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": ctx,
    }


def ct_record(
    event_name: str,
    event_source: str,
    request_parameters: dict[str, Any] | None,
    *,
    event_id: str = "5b6c1d7e-2f3a-4b8c-9d0e-1f2a3b4c5d6e",
    event_time: str = "2024-03-05T14:22:31Z",
    user_identity: Any = None,
    error_code: str | None = None,
    error_message: str | None = None,
    response_elements: Any = None,
    read_only: bool = False,
    user_agent: str = ("aws-cli/2.15.21 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off "
                       "command/rds.delete-db-instance"),
    source_ip: str = "203.0.113.17",
) -> dict[str, Any]:
    """One management-event record in the shape CloudTrail delivers it."""
    host = f"{event_source.split('.')[0]}.{REGION}.amazonaws.com"
    rec: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": iam_user() if user_identity is None else user_identity,
        "eventTime": event_time,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error_code:
        rec["errorCode"] = error_code
        if error_message:
            rec["errorMessage"] = error_message
    rec.update({
        "requestParameters": request_parameters,
        "responseElements": response_elements,
        "requestID": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": host,
        },
    })
    return rec


def eventbridge(rec: dict[str, Any], envelope_id: str) -> dict[str, Any]:
    """The EventBridge envelope CloudTrail API calls arrive in (record under ``detail``)."""
    return {
        "version": "0",
        "id": envelope_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws." + rec["eventSource"].split(".")[0],
        "account": ACCOUNT,
        "time": rec["eventTime"],
        "region": rec["awsRegion"],
        "resources": [],
        "detail": rec,
    }


def read_all(path: Path, **kw: Any) -> tuple[list[Event], list[DeadLetter]]:
    events: list[Event] = []
    dead: list[DeadLetter] = []
    for item in read_path(path, **kw):
        if isinstance(item, DeadLetter):
            dead.append(item)
        else:
            assert isinstance(item, Event), item
            events.append(item)
    return events, dead


def epoch(s: str) -> float:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


# ------------------------------------------------------------- the same records, every container

R_DELETE_DB = ct_record(
    "DeleteDBInstance", "rds.amazonaws.com",
    {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": True, "deleteAutomatedBackups": True},
    event_id="6d1e2f0a-8c4b-4c55-9d0e-3b2a1f0e9c7d",
    event_time="2024-03-05T14:22:31Z",
    user_identity=assumed_role(),
    response_elements={"dBInstanceIdentifier": "orders-prod", "dBInstanceStatus": "deleting",
                       "engine": "postgres", "dBInstanceClass": "db.r6g.large"},
    user_agent=("Boto3/1.34.49 md/Botocore#1.34.49 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.6 "
                "cfg/retry-mode#legacy Botocore/1.34.49"),
)
R_DENIED_BUCKET = ct_record(
    "DeleteBucket", "s3.amazonaws.com",
    {"bucketName": "orders-exports", "Host": "orders-exports.s3.eu-west-1.amazonaws.com"},
    event_id="a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
    event_time="2024-03-05T14:23:02Z",
    user_identity=iam_user("mallory", "AKIAI44QH8DHBEXAMPLE"),
    error_code="AccessDenied",
    error_message="Access Denied",
    user_agent=("[aws-cli/2.15.21 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off "
                "command/s3api.delete-bucket]"),
)
R_SERVICE = ct_record(
    "Decrypt", "kms.amazonaws.com",
    {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
     "encryptionContext": {"aws:rds:db-id": "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ"}},
    event_id="3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
    event_time="2024-03-05T14:24:59Z",
    user_identity={"type": "AWSService", "invokedBy": "rds.amazonaws.com"},
    read_only=True,
    user_agent="rds.amazonaws.com",
    source_ip="rds.amazonaws.com",
)
RECORDS = [R_DELETE_DB, R_DENIED_BUCKET, R_SERVICE]

# What each record must normalise to, spelled out (not derived from the code under test).
EXPECTED: list[dict[str, Any]] = [
    {
        "event_id": "ct-6d1e2f0a-8c4b-4c55-9d0e-3b2a1f0e9c7d",
        "time": epoch("2024-03-05T14:22:31Z"),
        "name": "DeleteDBInstance",
        "service": "rds.amazonaws.com",
        "outcome": "success",
        "error": "",
        "categories": sorted([DATA, INFRA, BACKUP]),
        "resource": ("db_instance", "orders-prod", REGION),
        "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/deploy-7f3a",
        "principal_type": "AssumedRole",
        "account": ACCOUNT,
        "credential_id": "ASIAQNZGKIQY7EXAMPLE",
        "client_addr": "203.0.113.17",
        "user_agent": R_DELETE_DB["userAgent"],
        "session_name": "deploy-7f3a",
        "source_identity": "alice@example.com",
        "role_chain": (f"arn:aws:iam::{ACCOUNT}:role/ci-deployer",),
        "invoked_by": "",
    },
    {
        "event_id": "ct-a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
        "time": epoch("2024-03-05T14:23:02Z"),
        "name": "DeleteBucket",
        "service": "s3.amazonaws.com",
        "outcome": "failure",
        "error": "AccessDenied: Access Denied",
        "categories": sorted([DATA, INFRA]),
        "resource": ("bucket", "orders-exports", REGION),
        "principal": f"arn:aws:iam::{ACCOUNT}:user/mallory",
        "principal_type": "IAMUser",
        "account": ACCOUNT,
        "credential_id": "AKIAI44QH8DHBEXAMPLE",
        "client_addr": "203.0.113.17",
        "user_agent": R_DENIED_BUCKET["userAgent"],
        "session_name": "",
        "source_identity": "",
        "role_chain": (),
        "invoked_by": "",
    },
    {
        "event_id": "ct-3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7",
        "time": epoch("2024-03-05T14:24:59Z"),
        "name": "Decrypt",
        "service": "kms.amazonaws.com",
        "outcome": "success",
        "error": "",
        "categories": [],
        "resource": ("", "", REGION),
        "principal": "rds.amazonaws.com",
        "principal_type": "AWSService",
        # an AWSService identity carries no accountId: the recipient account stands in
        "account": ACCOUNT,
        "credential_id": "",
        "client_addr": "rds.amazonaws.com",
        "user_agent": "rds.amazonaws.com",
        "session_name": "",
        "source_identity": "",
        "role_chain": (),
        "invoked_by": "rds.amazonaws.com",
    },
]


def project(e: Event) -> dict[str, Any]:
    a = e.actor
    return {
        "event_id": e.event_id,
        "time": e.time,
        "name": e.action.name,
        "service": e.action.service,
        "outcome": e.action.outcome,
        "error": e.action.error,
        "categories": sorted(e.action.categories),
        "resource": (e.resource.type, e.resource.name, e.resource.region),
        "principal": a.principal,
        "principal_type": a.principal_type,
        "account": a.account,
        "credential_id": a.credential_id,
        "client_addr": a.client_addr,
        "user_agent": a.user_agent,
        "session_name": a.session_name,
        "source_identity": a.source_identity,
        "role_chain": tuple(a.role_chain),
        "invoked_by": a.invoked_by,
    }


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def write_records_doc(p: Path) -> Path:
    # CloudTrail's S3 delivery: one compact {"Records":[...]} document
    p = p / "111122223333_CloudTrail_eu-west-1_20240305T1425Z_h1Xb.json"
    p.write_text(_compact({"Records": RECORDS}))
    return p


def write_records_gzip(p: Path) -> Path:
    p = p / "111122223333_CloudTrail_eu-west-1_20240305T1425Z_h1Xb.json.gz"
    p.write_bytes(gzip.compress(_compact({"Records": RECORDS}).encode()))
    return p


def write_records_pretty(p: Path) -> Path:
    p = p / "records-pretty.json"
    p.write_text(json.dumps({"Records": RECORDS}, indent=2))
    return p


def write_array_pretty(p: Path) -> Path:
    p = p / "array.json"
    p.write_text(json.dumps(RECORDS, indent=2))
    return p


def write_array_compact(p: Path) -> Path:
    p = p / "array-compact.json"
    p.write_text(_compact(RECORDS) + "\n")
    return p


def write_jsonl(p: Path) -> Path:
    p = p / "records.jsonl"
    p.write_text("".join(_compact(r) + "\n" for r in RECORDS))
    return p


def write_eventbridge_jsonl(p: Path) -> Path:
    p = p / "eventbridge.jsonl"
    ids = ["9b2f3c4d-1111-2222-3333-444455556666", "9b2f3c4d-1111-2222-3333-444455556667",
           "9b2f3c4d-1111-2222-3333-444455556668"]
    p.write_text("".join(_compact(eventbridge(r, i)) + "\n" for r, i in zip(RECORDS, ids, strict=True)))
    return p


WRITERS = {
    "records-doc": write_records_doc,
    "records-doc-gzip": write_records_gzip,
    "records-doc-pretty": write_records_pretty,
    "json-array-pretty": write_array_pretty,
    "json-array-one-line": write_array_compact,
    "json-lines": write_jsonl,
    "eventbridge-json-lines": write_eventbridge_jsonl,
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_every_container_gives_the_same_normalised_events(tmp_path: Path, fmt: str) -> None:
    path = WRITERS[fmt](tmp_path)
    events, dead = read_all(path)
    assert dead == []
    assert [project(e) for e in events] == EXPECTED
    assert all(e.source.type == "cloudtrail" and e.source.name == str(path) for e in events)
    # raw is the CloudTrail record itself (EventBridge's envelope is taken off)
    assert [e.raw for e in events] == RECORDS


@pytest.mark.parametrize("fmt", ["records-doc", "records-doc-gzip", "records-doc-pretty",
                                 "json-array-pretty"])
def test_document_positions_are_record_indexes(tmp_path: Path, fmt: str) -> None:
    events, _ = read_all(WRITERS[fmt](tmp_path))
    positions = [(e.source.line, e.source.offset, e.source.index) for e in events]
    assert positions == [(1, 0, 0), (1, 0, 1), (1, 0, 2)]


def test_json_lines_positions_are_lines_and_byte_offsets(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    offsets = [0, len(lines[0]), len(lines[0]) + len(lines[1])]
    events, _ = read_all(path)
    assert [(e.source.line, e.source.offset, e.source.index) for e in events] == [
        (1, offsets[0], None), (2, offsets[1], None), (3, offsets[2], None)]


def test_pretty_printed_eventbridge_envelope(tmp_path: Path) -> None:
    path = tmp_path / "eventbridge-one.json"
    path.write_text(json.dumps(eventbridge(R_DELETE_DB, "7c1d2e3f-aaaa-bbbb-cccc-ddddeeeeffff"), indent=2))
    events, dead = read_all(path)
    assert dead == []
    assert [project(e) for e in events] == EXPECTED[:1]
    assert events[0].raw == R_DELETE_DB


def test_to_dict_of_a_normalised_event(tmp_path: Path) -> None:
    events, _ = read_all(write_records_doc(tmp_path))
    d = events[1].to_dict()
    assert d["event_id"] == "ct-a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
    assert d["time"] == "2024-03-05T14:23:02.000Z"
    assert d["action"] == "DeleteBucket"
    assert d["outcome"] == "failure"
    assert d["error"] == "AccessDenied: Access Denied"
    assert sorted(d["categories"]) == sorted([DATA, INFRA])
    assert d["resource"]["type"] == "bucket" and d["resource"]["name"] == "orders-exports"
    assert d["actor"]["principal"] == f"arn:aws:iam::{ACCOUNT}:user/mallory"
    assert d["class_uid"] == 6003
    json.dumps(d)  # JSON-ready


# --------------------------------------------------------------------------- taxonomy table


LIFECYCLE_EXPIRE_ALL_EMPTY_PREFIX = {
    "bucketName": "orders-exports",
    "Host": "orders-exports.s3.eu-west-1.amazonaws.com",
    "lifecycle": "",
    "LifecycleConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Rule": {"ID": "expire-everything", "Status": "Enabled", "Filter": {"Prefix": ""},
                 "Expiration": {"Days": 1}},
    },
}
LIFECYCLE_EXPIRE_ALL_EMPTY_FILTER = {
    "bucketName": "orders-exports",
    "Host": "orders-exports.s3.eu-west-1.amazonaws.com",
    "lifecycle": "",
    "LifecycleConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Rule": [{"ID": "expire-everything", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}],
    },
}
LIFECYCLE_EXPIRE_LOGS_ONLY = {
    "bucketName": "orders-exports",
    "Host": "orders-exports.s3.eu-west-1.amazonaws.com",
    "lifecycle": "",
    "LifecycleConfiguration": {
        "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
        "Rule": {"ID": "expire-logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                 "Expiration": {"Days": 30}},
    },
}

ADMIN_INLINE_POLICY = (
    '{\n    "Version": "2012-10-17",\n    "Statement": [\n        {\n            "Effect": "Allow",\n'
    '            "Action": "*",\n            "Resource": "*"\n        }\n    ]\n}'
)
# A region guardrail: deny everything outside eu-west-1, allow reading one bucket.
# Nothing here grants anything beyond s3:GetObject.
GUARDRAIL_INLINE_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "DenyOutsideEU", "Effect": "Deny", "Action": "*", "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}},
        {"Sid": "ReadReports", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": "arn:aws:s3:::reports/*"},
    ],
})

RECOVERY_POINT_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"

# (id, eventName, eventSource, requestParameters, expected categories, expected (resource type, name))
TAXONOMY: list[Any] = [
    ("rds-delete-instance-skip-final-delete-backups", "DeleteDBInstance", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": True, "deleteAutomatedBackups": True},
     {DATA, INFRA, BACKUP}, ("db_instance", "orders-prod")),
    ("rds-delete-instance-final-snapshot-keep-backups", "DeleteDBInstance", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": False,
      "finalDBSnapshotIdentifier": "orders-prod-final", "deleteAutomatedBackups": False},
     {DATA, INFRA}, ("db_instance", "orders-prod")),
    # DeleteAutomatedBackups defaults to true: not saying it deletes the automated backups
    ("rds-delete-instance-final-snapshot-backups-default", "DeleteDBInstance", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": False,
      "finalDBSnapshotIdentifier": "orders-prod-final"},
     {DATA, INFRA, BACKUP}, ("db_instance", "orders-prod")),
    ("rds-delete-instance-skip-final-keep-backups", "DeleteDBInstance", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": True, "deleteAutomatedBackups": False},
     {DATA, INFRA, BACKUP}, ("db_instance", "orders-prod")),
    ("rds-delete-cluster-skip-final", "DeleteDBCluster", "rds.amazonaws.com",
     {"dBClusterIdentifier": "orders-aurora", "skipFinalSnapshot": True},
     {DATA, INFRA, BACKUP}, ("db_cluster", "orders-aurora")),
    ("rds-delete-cluster-final-snapshot-keep-backups", "DeleteDBCluster", "rds.amazonaws.com",
     {"dBClusterIdentifier": "orders-aurora", "skipFinalSnapshot": False,
      "finalDBSnapshotIdentifier": "orders-aurora-final", "deleteAutomatedBackups": False},
     {DATA, INFRA}, ("db_cluster", "orders-aurora")),
    pytest.param(
        "rds-delete-cluster-final-snapshot-backups-default", "DeleteDBCluster", "rds.amazonaws.com",
        {"dBClusterIdentifier": "orders-aurora", "skipFinalSnapshot": False,
         "finalDBSnapshotIdentifier": "orders-aurora-final"},
        {DATA, INFRA, BACKUP}, ("db_cluster", "orders-aurora")),
    ("rds-delete-db-snapshot", "DeleteDBSnapshot", "rds.amazonaws.com",
     {"dBSnapshotIdentifier": "orders-prod-2024-03-01"}, {BACKUP}, ("db_snapshot", "orders-prod-2024-03-01")),
    ("rds-delete-db-cluster-snapshot", "DeleteDBClusterSnapshot", "rds.amazonaws.com",
     {"dBClusterSnapshotIdentifier": "orders-aurora-manual"}, {BACKUP},
     ("db_snapshot", "orders-aurora-manual")),
    ("rds-modify-retention-0", "ModifyDBInstance", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod", "backupRetentionPeriod": 0, "applyImmediately": True},
     {BACKUP}, ("db_instance", "orders-prod")),
    ("rds-modify-retention-7", "ModifyDBInstance", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod", "backupRetentionPeriod": 7, "applyImmediately": True},
     set(), ("db_instance", "orders-prod")),
    ("backup-delete-recovery-point", "DeleteRecoveryPoint", "backup.amazonaws.com",
     {"backupVaultName": "prod-vault", "recoveryPointArn": RECOVERY_POINT_ARN},
     {BACKUP}, ("recovery_point", RECOVERY_POINT_ARN)),
    ("backup-delete-vault", "DeleteBackupVault", "backup.amazonaws.com",
     {"backupVaultName": "prod-vault"}, {BACKUP}, ("backup_vault", "prod-vault")),
    ("s3-delete-bucket", "DeleteBucket", "s3.amazonaws.com",
     {"bucketName": "orders-exports", "Host": "orders-exports.s3.eu-west-1.amazonaws.com"},
     {DATA, INFRA}, ("bucket", "orders-exports")),
    ("s3-delete-objects", "DeleteObjects", "s3.amazonaws.com",
     {"bucketName": "orders-exports", "Host": "orders-exports.s3.eu-west-1.amazonaws.com", "delete": ""},
     {DATA}, ("bucket", "orders-exports")),
    ("s3-lifecycle-config-expire-all-empty-prefix", "PutBucketLifecycleConfiguration", "s3.amazonaws.com",
     LIFECYCLE_EXPIRE_ALL_EMPTY_PREFIX, {DATA}, ("bucket", "orders-exports")),
    ("s3-lifecycle-config-expire-all-empty-filter", "PutBucketLifecycleConfiguration", "s3.amazonaws.com",
     LIFECYCLE_EXPIRE_ALL_EMPTY_FILTER, {DATA}, ("bucket", "orders-exports")),
    ("s3-lifecycle-config-expire-logs-prefix", "PutBucketLifecycleConfiguration", "s3.amazonaws.com",
     LIFECYCLE_EXPIRE_LOGS_ONLY, set(), ("bucket", "orders-exports")),
    # the name CloudTrail actually records for the lifecycle-configuration API
    ("s3-lifecycle-expire-all", "PutBucketLifecycle", "s3.amazonaws.com",
     LIFECYCLE_EXPIRE_ALL_EMPTY_PREFIX, {DATA}, ("bucket", "orders-exports")),
    ("s3-lifecycle-expire-logs-prefix", "PutBucketLifecycle", "s3.amazonaws.com",
     LIFECYCLE_EXPIRE_LOGS_ONLY, set(), ("bucket", "orders-exports")),
    ("ec2-delete-volume", "DeleteVolume", "ec2.amazonaws.com",
     {"volumeId": "vol-0a1b2c3d4e5f67890"}, {DATA, INFRA}, ("volume", "vol-0a1b2c3d4e5f67890")),
    ("ec2-delete-snapshot", "DeleteSnapshot", "ec2.amazonaws.com",
     {"snapshotId": "snap-0123456789abcdef0"}, {BACKUP}, ("snapshot", "snap-0123456789abcdef0")),
    ("ec2-terminate-instances", "TerminateInstances", "ec2.amazonaws.com",
     {"instancesSet": {"items": [{"instanceId": "i-0abc1234def567890"}, {"instanceId": "i-0def9876abc543210"}]}},
     {INFRA}, ("instance", "i-0abc1234def567890,i-0def9876abc543210")),
    ("cloudtrail-stop-logging", "StopLogging", "cloudtrail.amazonaws.com",
     {"name": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail"}, {LOGGING},
     ("trail", f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail")),
    ("cloudtrail-delete-trail", "DeleteTrail", "cloudtrail.amazonaws.com",
     {"name": "org-trail"}, {LOGGING}, ("trail", "org-trail")),
    ("cloudtrail-update-trail", "UpdateTrail", "cloudtrail.amazonaws.com",
     {"name": "org-trail", "s3BucketName": "elsewhere-logs", "isMultiRegionTrail": False}, {LOGGING},
     ("trail", "org-trail")),
    ("cloudtrail-event-selectors-no-management", "PutEventSelectors", "cloudtrail.amazonaws.com",
     {"trailName": "org-trail", "eventSelectors": [
         {"readWriteType": "All", "includeManagementEvents": False, "dataResources": [],
          "excludeManagementEventSources": []}]},
     {LOGGING}, ("trail", "org-trail")),
    ("cloudtrail-event-selectors-all-management", "PutEventSelectors", "cloudtrail.amazonaws.com",
     {"trailName": "org-trail", "eventSelectors": [
         {"readWriteType": "All", "includeManagementEvents": True, "dataResources": [],
          "excludeManagementEventSources": []}]},
     set(), ("trail", "org-trail")),
    ("kms-schedule-key-deletion", "ScheduleKeyDeletion", "kms.amazonaws.com",
     {"keyId": KEY_ID, "pendingWindowInDays": 7}, {KEY}, ("kms_key", KEY_ID)),
    ("kms-disable-key", "DisableKey", "kms.amazonaws.com", {"keyId": KEY_ID}, {KEY}, ("kms_key", KEY_ID)),
    ("iam-attach-admin", "AttachUserPolicy", "iam.amazonaws.com",
     {"userName": "mallory", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
     {PRIV}, ("iam_user", "mallory")),
    ("iam-attach-read-only", "AttachUserPolicy", "iam.amazonaws.com",
     {"userName": "mallory", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
     set(), ("iam_user", "mallory")),
    ("iam-put-role-policy-allow-star", "PutRolePolicy", "iam.amazonaws.com",
     {"roleName": "ci-deployer", "policyName": "break-glass", "policyDocument": ADMIN_INLINE_POLICY},
     {PRIV}, ("iam_role", "ci-deployer")),
    pytest.param(
        "iam-put-user-policy-deny-star-guardrail", "PutUserPolicy", "iam.amazonaws.com",
        {"userName": "analyst", "policyName": "eu-only-read-reports", "policyDocument": GUARDRAIL_INLINE_POLICY},
        set(), ("iam_user", "analyst")),
    ("iam-create-access-key", "CreateAccessKey", "iam.amazonaws.com",
     {"userName": "mallory"}, {CRED}, ("iam_user", "mallory")),
    ("rds-describe-db-instances", "DescribeDBInstances", "rds.amazonaws.com",
     {"dBInstanceIdentifier": "orders-prod"}, set(), ("", "")),
]


def _case_id(case: Any) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize(("case", "name", "source", "params", "expected", "resource"), TAXONOMY,
                         ids=[_case_id(c) for c in TAXONOMY])
def test_taxonomy(tmp_path: Path, case: str, name: str, source: str, params: dict[str, Any],
                  expected: set[str], resource: tuple[str, str]) -> None:
    rec = ct_record(name, source, params, event_id="c0ffee00-0000-4000-8000-000000000001")
    path = tmp_path / f"{case}.json"
    path.write_text(_compact({"Records": [rec]}))
    events, dead = read_all(path)
    assert dead == []
    assert len(events) == 1
    e = events[0]
    assert e.action.name == name
    assert e.action.outcome == "success"
    assert sorted(e.action.categories) == sorted(expected)
    assert len(e.action.categories) == len(set(e.action.categories))  # no category twice
    assert (e.resource.type, e.resource.name) == resource


# --------------------------------------------------------------------------- failed calls


def test_failed_call_keeps_categories_and_says_it_failed(tmp_path: Path) -> None:
    msg = (f"User: arn:aws:iam::{ACCOUNT}:user/mallory is not authorized to perform: rds:DeleteDBInstance "
           f"on resource: arn:aws:rds:{REGION}:{ACCOUNT}:db:orders-prod because no identity-based policy "
           "allows the rds:DeleteDBInstance action")
    rec = ct_record("DeleteDBInstance", "rds.amazonaws.com",
                    {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": True,
                     "deleteAutomatedBackups": True},
                    event_id="deadbeef-1111-4222-8333-444455556666",
                    user_identity=iam_user("mallory"), error_code="AccessDenied", error_message=msg)
    # AccessDenied records carry no responseElements
    path = tmp_path / "denied.json"
    path.write_text(_compact({"Records": [rec]}))
    events, dead = read_all(path)
    assert dead == []
    assert len(events) == 1
    e = events[0]
    assert e.action.outcome == "failure"
    assert not e.succeeded
    assert e.action.error.startswith("AccessDenied")
    assert e.action.error == f"AccessDenied: {msg}"
    assert sorted(e.action.categories) == sorted([DATA, INFRA, BACKUP])
    assert (e.resource.type, e.resource.name) == ("db_instance", "orders-prod")


def test_failed_call_without_error_message(tmp_path: Path) -> None:
    rec = ct_record("StopLogging", "cloudtrail.amazonaws.com", {"name": "org-trail"},
                    error_code="TrailNotFoundException")
    path = tmp_path / "stop.json"
    path.write_text(_compact({"Records": [rec]}))
    events, dead = read_all(path)
    assert dead == [] and len(events) == 1
    assert events[0].action.outcome == "failure"
    assert events[0].action.error == "TrailNotFoundException"
    assert events[0].action.categories == (LOGGING,)


# --------------------------------------------------------------------------- identity hints


def test_assumed_role_identity_hints(tmp_path: Path) -> None:
    rec = ct_record("DeleteDBSnapshot", "rds.amazonaws.com", {"dBSnapshotIdentifier": "orders-prod-2024-03-01"},
                    user_identity=assumed_role("ci-deployer", "gha-run-8812", "ASIAQNZGKIQYHTEXAMPLE",
                                               source_identity="bob@example.com"))
    path = tmp_path / "assumed.json"
    path.write_text(_compact({"Records": [rec]}))
    (e,), dead = read_all(path)
    assert dead == []
    a = e.actor
    assert a.principal == f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deployer/gha-run-8812"
    assert a.principal_type == "AssumedRole"
    assert a.session_name == "gha-run-8812"
    assert a.role_chain == (f"arn:aws:iam::{ACCOUNT}:role/ci-deployer",)
    assert a.credential_id == "ASIAQNZGKIQYHTEXAMPLE"
    assert a.source_identity == "bob@example.com"
    assert a.account == ACCOUNT
    assert a.invoked_by == ""


def test_assumed_role_without_source_identity(tmp_path: Path) -> None:
    rec = ct_record("DescribeDBInstances", "rds.amazonaws.com", None, read_only=True,
                    user_identity=assumed_role(source_identity=None))
    path = tmp_path / "assumed-no-si.json"
    path.write_text(_compact({"Records": [rec]}))
    (e,), dead = read_all(path)
    assert dead == []
    assert e.actor.source_identity == ""
    assert e.actor.session_name == "deploy-7f3a"
    assert e.action.categories == ()


@pytest.mark.parametrize("identity", [
    {"type": "AWSService", "invokedBy": "backup.amazonaws.com"},
    # secretsmanager / ec2 service events carry invokedBy with no type at all
    {"accountId": ACCOUNT, "invokedBy": "backup.amazonaws.com"},
], ids=["type-AWSService", "invokedBy-only"])
def test_aws_service_identity(tmp_path: Path, identity: dict[str, Any]) -> None:
    rec = ct_record("DeleteRecoveryPoint", "backup.amazonaws.com",
                    {"backupVaultName": "prod-vault", "recoveryPointArn": RECOVERY_POINT_ARN},
                    user_identity=identity, user_agent="backup.amazonaws.com", source_ip="backup.amazonaws.com")
    path = tmp_path / "service.json"
    path.write_text(_compact({"Records": [rec]}))
    (e,), dead = read_all(path)
    assert dead == []
    assert e.actor.principal_type == "AWSService"
    assert e.actor.invoked_by == "backup.amazonaws.com"
    assert e.actor.principal == "backup.amazonaws.com"
    assert e.actor.account == ACCOUNT
    assert e.actor.credential_id == ""
    assert e.actor.role_chain == ()
    assert e.action.categories == (BACKUP,)


# --------------------------------------------------------------------------- dead letters


def test_bad_records_in_a_records_document_are_dead_letters(tmp_path: Path) -> None:
    good = [ct_record("DeleteBucket", "s3.amazonaws.com", {"bucketName": f"b-{i}"},
                      event_id=f"11111111-2222-4333-8444-00000000000{i}") for i in range(3)]
    no_time = ct_record("DeleteVolume", "ec2.amazonaws.com", {"volumeId": "vol-0a1b2c3d4e5f67890"},
                        event_id="11111111-2222-4333-8444-0000000000aa")
    del no_time["eventTime"]
    str_identity = ct_record("DeleteTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"},
                             event_id="11111111-2222-4333-8444-0000000000bb",
                             user_identity=f"arn:aws:iam::{ACCOUNT}:user/alice")
    recs = [good[0], no_time, good[1], str_identity, good[2]]
    path = tmp_path / "mixed.json"
    path.write_text(_compact({"Records": recs}))
    items = list(read_path(path))
    assert len(items) == 5
    events = [i for i in items if isinstance(i, Event)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert [e.event_id for e in events] == [f"ct-11111111-2222-4333-8444-00000000000{i}" for i in range(3)]
    assert [e.source.index for e in events] == [0, 2, 4]
    assert len(dead) == 2
    assert dead[0].reason.startswith("bad or missing eventTime")
    assert dead[0].source.index == 1
    assert json.loads(dead[0].raw)["eventID"] == "11111111-2222-4333-8444-0000000000aa"
    assert dead[1].reason == "userIdentity is not an object"
    assert dead[1].source.index == 3
    assert json.loads(dead[1].raw)["eventID"] == "11111111-2222-4333-8444-0000000000bb"


TRUNCATED = ('{"eventVersion":"1.09","userIdentity":{"type":"IAMUser",'
             '"principalId":"AIDAJ45Q7YFFAREXAMPLE","arn":"arn:aws:iam::1111')


def _jsonl_with_bad(tmp_path: Path, bad_at: int, bad: str = TRUNCATED) -> tuple[Path, list[str]]:
    ids = [f"22222222-3333-4444-8555-00000000000{i}" for i in range(3)]
    lines = [_compact(ct_record("DeleteSnapshot", "ec2.amazonaws.com", {"snapshotId": f"snap-000{i}"},
                                event_id=ids[i])) for i in range(3)]
    lines.insert(bad_at, bad)
    path = tmp_path / "with-bad-line.jsonl"
    path.write_text("".join(ln + "\n" for ln in lines))
    return path, ids


@pytest.mark.parametrize("bad_at", [
    0,
    1, 2, 3,
], ids=["first-line", "second-line", "third-line", "last-line"])
def test_non_json_line_in_json_lines_is_one_dead_letter(tmp_path: Path, bad_at: int) -> None:
    path, ids = _jsonl_with_bad(tmp_path, bad_at)
    events, dead = read_all(path)
    assert [e.event_id for e in events] == [f"ct-{i}" for i in ids]
    assert len(dead) == 1
    assert dead[0].reason.startswith("invalid JSON")
    assert dead[0].source.line == bad_at + 1
    assert dead[0].raw.rstrip("\n") == TRUNCATED


def test_bad_records_in_json_lines(tmp_path: Path) -> None:
    no_time = ct_record("DeleteVolume", "ec2.amazonaws.com", {"volumeId": "vol-0a1b2c3d4e5f67890"},
                        event_id="33333333-0000-4000-8000-0000000000aa")
    del no_time["eventTime"]
    str_identity = ct_record("DeleteTrail", "cloudtrail.amazonaws.com", {"name": "org-trail"},
                             event_id="33333333-0000-4000-8000-0000000000bb", user_identity="AIDAJ45Q7YFFAREXAMPLE")
    good = [ct_record("ListBuckets", "s3.amazonaws.com", None, read_only=True,
                      event_id=f"33333333-0000-4000-8000-00000000000{i}") for i in range(2)]
    lines = [good[0], no_time, "}{ not json", str_identity, good[1]]
    path = tmp_path / "bad.jsonl"
    path.write_text("".join((ln if isinstance(ln, str) else _compact(ln)) + "\n" for ln in lines))
    events, dead = read_all(path)
    assert [e.event_id for e in events] == ["ct-33333333-0000-4000-8000-000000000000",
                                            "ct-33333333-0000-4000-8000-000000000001"]
    assert [e.source.line for e in events] == [1, 5]
    assert [d.source.line for d in dead] == [2, 3, 4]
    assert dead[0].reason.startswith("bad or missing eventTime")
    assert dead[1].reason.startswith("invalid JSON")
    assert dead[2].reason == "userIdentity is not an object"


# --------------------------------------------------------------------------- ids


def test_event_id_is_ct_event_id_and_stable(tmp_path: Path) -> None:
    path = write_records_gzip(tmp_path)
    first = [e.event_id for e in read_all(path)[0]]
    second = [e.event_id for e in read_all(path)[0]]
    assert first == second == [f"ct-{r['eventID']}" for r in RECORDS]


def test_event_without_event_id_gets_a_stable_positional_id(tmp_path: Path) -> None:
    recs = [ct_record("DeleteBucket", "s3.amazonaws.com", {"bucketName": f"b-{i}"}) for i in range(2)]
    for r in recs:
        del r["eventID"]
    path = tmp_path / "no-ids.json"
    path.write_text(_compact({"Records": recs}))
    first = [e.event_id for e in read_all(path)[0]]
    second = [e.event_id for e in read_all(path)[0]]
    assert len(first) == 2
    assert first == second
    assert first[0] != first[1]
    assert all(i.startswith("ct-") for i in first)
