"""GCP Cloud Audit Logs source: whole LogEntries built here as Cloud Logging writes
them, every container they arrive in, and the public samples (PROVENANCE.md section 2).

Records are written to ``tmp_path`` and read back through ``read_path`` with
format auto-detection, as ``auditwatch replay`` reads them. Corpus files are
read in place; every count asserted on them is first established here with
plain ``json``.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from auditwatch.streams.reader import drive, read_path, read_stream
from auditwatch.streams.sources import gcp_audit
from auditwatch.streams.sources.base import DeadLetter, Line, ParseContext
from auditwatch.streams.sources.registry import detect

from auditwatch.model import Event
from tests.conftest import need

DATA = "data.destroy"
BACKUP = "backup.destroy"
LOGGING = "logging.disable"
PRIV = "privilege.escalate"
CRED = "credential.create"
INFRA = "infra.destroy"
KEY = "key.destroy"

PROJECT = "orders-prod-4711"
AUDIT = "type.googleapis.com/google.cloud.audit.AuditLog"
UA_GCLOUD = "google-cloud-sdk gcloud/465.0.0 command/gcloud.sql.instances.delete invocation-id/3f1c os/Linux"


# --------------------------------------------------------------------------- record builders


def entry(
    method: str,
    service: str,
    resource_name: str,
    *,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    service_data: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    principal: str = "alice@example.com",
    auth: dict[str, Any] | None = None,
    insert_id: str = "1x2y3z4a5b6c",
    timestamp: str = "2024-03-05T14:22:31.123456789Z",
    log: str = "activity",
    resource: dict[str, Any] | None = None,
    operation: dict[str, Any] | None = None,
    user_agent: str = UA_GCLOUD,
    caller_ip: str = "203.0.113.17",
    severity: str = "NOTICE",
) -> dict[str, Any]:
    """One LogEntry with an AuditLog payload, in the shape Cloud Logging writes it."""
    pp: dict[str, Any] = {
        "@type": AUDIT,
        "status": status if status is not None else {},
        "authenticationInfo": auth if auth is not None else {"principalEmail": principal},
        "requestMetadata": {
            "callerIp": caller_ip,
            "callerSuppliedUserAgent": user_agent,
            "requestAttributes": {"time": timestamp, "auth": {}},
            "destinationAttributes": {},
        },
        "serviceName": service,
        "methodName": method,
        "authorizationInfo": [{"resource": resource_name, "permission": "x.y.z", "granted": True,
                               "resourceAttributes": {}}],
        "resourceName": resource_name,
    }
    if request is not None:
        pp["request"] = request
    if response is not None:
        pp["response"] = response
    if service_data is not None:
        pp["serviceData"] = service_data
    if metadata is not None:
        pp["metadata"] = metadata
    rec: dict[str, Any] = {
        "protoPayload": pp,
        "insertId": insert_id,
        "resource": resource or {"type": "audited_resource",
                                 "labels": {"project_id": PROJECT, "service": service, "method": method}},
        "timestamp": timestamp,
        "severity": severity,
        "logName": f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2F{log}",
        "receiveTimestamp": "2024-03-05T14:22:32.004Z",
    }
    if operation is not None:
        rec["operation"] = operation
    return rec


def sql_instance(name: str = "orders-db") -> dict[str, Any]:
    return {"type": "cloudsql_database",
            "labels": {"project_id": PROJECT, "database_id": f"{PROJECT}:{name}", "region": "europe-west1"}}


def policy_delta(*deltas: tuple[str, str, str], audit: list[dict[str, str]] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"bindingDeltas": [{"action": a, "role": r, "member": m} for a, r, m in deltas]}
    if audit is not None:
        d["auditConfigDeltas"] = audit
    return {"@type": "type.googleapis.com/google.iam.v1.logging.AuditData", "policyDelta": d}


def write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


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


def one(tmp_path: Path, rec: dict[str, Any]) -> Event:
    events, dead = read_all(write_lines(tmp_path / "audit.jsonl", [rec]))
    assert dead == []
    assert len(events) == 1
    return events[0]


def epoch(s: str) -> float:
    return datetime.fromisoformat(s).astimezone(UTC).timestamp()


def b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def push(rec: Any, message_id: str = "10761583423541981", data: str | None = None) -> dict[str, Any]:
    """A Pub/Sub push request body carrying one LogEntry from a log sink."""
    return {
        "message": {
            "attributes": {"logging.googleapis.com/timestamp": "2024-03-05T14:22:31.123456789Z"},
            "data": b64(rec) if data is None else data,
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": "2024-03-05T14:22:33.51Z",
            "publish_time": "2024-03-05T14:22:33.51Z",
        },
        "subscription": f"projects/{PROJECT}/subscriptions/auditwatch-push",
    }


# =========================================================================== one record, in full


def test_cloud_sql_instance_delete_in_full(tmp_path: Path) -> None:
    rec = entry(
        "cloudsql.instances.delete", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/orders-db",
        request={"@type": "type.googleapis.com/google.cloud.sql.v1.SqlInstancesDeleteRequest",
                 "instance": "orders-db", "project": PROJECT},
        response={"@type": "type.googleapis.com/google.cloud.sql.v1.Operation", "status": "PENDING",
                  "operationType": "DELETE"},
        insert_id="-k2f9xqe1l3a6", resource=sql_instance(), caller_ip="198.51.100.23",
    )
    e = one(tmp_path, rec)
    assert e.event_id == "gcp--k2f9xqe1l3a6"
    assert e.time == pytest.approx(epoch("2024-03-05T14:22:31.123456Z"), abs=1e-6)
    assert e.source.type == "gcp-audit"
    assert e.source.line == 1 and e.source.offset == 0
    assert e.activity == "api"
    assert e.raw == rec
    a = e.action
    assert (a.name, a.service, a.outcome, a.error) == (
        "cloudsql.instances.delete", "cloudsql.googleapis.com", "success", "")
    assert sorted(a.categories) == sorted((DATA, INFRA, BACKUP))
    assert a.statement == f"cloudsql.instances.delete projects/{PROJECT}/instances/orders-db"
    assert a.fingerprint == "cloudsql.instances.delete"
    r = e.resource
    assert (r.type, r.name, r.region, r.environment) == (
        "db_instance", f"projects/{PROJECT}/instances/orders-db", "europe-west1", "")
    act = e.actor
    assert (act.principal, act.principal_type, act.account) == ("alice@example.com", "user", PROJECT)
    assert (act.user_agent, act.client_addr, act.credential_id) == (UA_GCLOUD, "198.51.100.23", "")
    assert act.role_chain == () and act.tags == {}


def test_environment_comes_from_the_reader(tmp_path: Path) -> None:
    rec = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/exports")
    events, _ = read_all(write_lines(tmp_path / "a.jsonl", [rec]), environment="prod")
    assert [e.resource.environment for e in events] == ["prod"]


# =========================================================================== taxonomy

SQL_REQ = "type.googleapis.com/google.cloud.sql.v1.SqlInstancesUpdateRequest"
CASES: list[tuple[str, str, str, str, dict[str, Any], tuple[str, ...], str]] = [
    # (case, methodName, serviceName, resourceName, extra protoPayload fields, categories, resource type)
    ("sql-delete", "cloudsql.instances.delete", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
     {"request": {"instance": "db", "project": PROJECT}}, (DATA, INFRA, BACKUP), "db_instance"),
    ("sql-delete-final-backup", "cloudsql.instances.delete", "cloudsql.googleapis.com",
     f"projects/{PROJECT}/instances/db",
     {"request": {"instance": "db", "project": PROJECT, "enableFinalBackup": True, "finalBackupTtlDays": "30"}},
     (DATA, INFRA), "db_instance"),
    ("sql-backups-off", "cloudsql.instances.update", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
     {"request": {"@type": SQL_REQ, "instance": "db", "project": PROJECT,
                  "body": {"settings": {"backupConfiguration": {"enabled": False, "binaryLogEnabled": False}}}}},
     (BACKUP,), "db_instance"),
    ("sql-pitr-off-patch", "cloudsql.instances.patch", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
     {"request": {"instance": "db", "project": PROJECT,
                  "body": {"settings": {"backupConfiguration": {"enabled": True,
                                                                "pointInTimeRecoveryEnabled": False}}}}},
     (BACKUP,), "db_instance"),
    ("sql-backup-run-delete", "cloudsql.backupRuns.delete", "cloudsql.googleapis.com",
     f"projects/{PROJECT}/instances/db/backupRuns/1709640000000",
     {"request": {"instance": "db", "id": "1709640000000", "project": PROJECT}}, (BACKUP,), "db_backup"),
    ("sql-database-delete", "cloudsql.databases.delete", "cloudsql.googleapis.com",
     f"projects/{PROJECT}/instances/db/databases/orders", {}, (DATA,), "database"),
    ("bucket-delete", "storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/orders-exports",
     {}, (DATA, INFRA), "bucket"),
    ("object-delete", "storage.objects.delete", "storage.googleapis.com",
     "projects/_/buckets/orders-exports/objects/2024/03/orders.parquet", {}, (DATA,), "object"),
    ("hmac-key", "storage.hmacKeys.create", "storage.googleapis.com", f"projects/{PROJECT}/hmacKeys", {},
     (CRED,), "hmac_key"),
    ("sink-delete", "google.logging.v2.ConfigServiceV2.DeleteSink", "logging.googleapis.com",
     f"projects/{PROJECT}/sinks/siem-export", {"request": {"sinkName": f"projects/{PROJECT}/sinks/siem-export"}},
     (LOGGING,), "log_sink"),
    ("log-bucket-delete", "google.logging.v2.ConfigServiceV2.DeleteBucket", "logging.googleapis.com",
     f"projects/{PROJECT}/locations/global/buckets/audit-archive", {}, (LOGGING, DATA), "log_bucket"),
    ("sink-disabled", "google.logging.v2.ConfigServiceV2.UpdateSink", "logging.googleapis.com",
     f"projects/{PROJECT}/sinks/siem-export",
     {"request": {"@type": "type.googleapis.com/google.logging.v2.UpdateSinkRequest",
                  "sinkName": f"projects/{PROJECT}/sinks/siem-export",
                  "sink": {"name": "siem-export", "destination": "pubsub.googleapis.com/projects/p/topics/t",
                           "disabled": True}, "updateMask": "disabled"}},
     (LOGGING,), "log_sink"),
    ("exclusion", "google.logging.v2.ConfigServiceV2.CreateExclusion", "logging.googleapis.com",
     f"projects/{PROJECT}/exclusions/drop-all",
     {"request": {"parent": f"projects/{PROJECT}",
                  "exclusion": {"name": "drop-all", "filter": "logName:cloudaudit.googleapis.com"}}},
     (LOGGING,), "log_exclusion"),
    ("log-delete", "google.logging.v2.LoggingServiceV2.DeleteLog", "logging.googleapis.com",
     f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Fdata_access", {}, (LOGGING, DATA), "log"),
    ("kms-destroy", "google.cloud.kms.v1.KeyManagementService.DestroyCryptoKeyVersion", "cloudkms.googleapis.com",
     f"projects/{PROJECT}/locations/europe/keyRings/db/cryptoKeys/cmek/cryptoKeyVersions/3",
     {"request": {"name": f"projects/{PROJECT}/locations/europe/keyRings/db/cryptoKeys/cmek/cryptoKeyVersions/3"}},
     (KEY,), "kms_key_version"),
    ("kms-disable", "google.cloud.kms.v1.KeyManagementService.UpdateCryptoKeyVersion", "cloudkms.googleapis.com",
     f"projects/{PROJECT}/locations/europe/keyRings/db/cryptoKeys/cmek/cryptoKeyVersions/3",
     {"request": {"cryptoKeyVersion": {"state": "DISABLED"}, "updateMask": "state"}}, (KEY,), "kms_key_version"),
    ("iam-owner", "SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(("ADD", "roles/owner", "user:mallory@example.net"))}, (PRIV,), "iam_policy"),
    ("iam-editor-v3", "google.cloud.resourcemanager.v3.Projects.SetIamPolicy",
     "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(("REMOVE", "roles/viewer", "user:bob@example.com"),
                                  ("ADD", "roles/editor", "serviceAccount:ci@x.iam.gserviceaccount.com"))},
     (PRIV,), "iam_policy"),
    ("iam-sa-token-creator", "google.iam.admin.v1.SetIAMPolicy", "iam.googleapis.com",
     "projects/-/serviceAccounts/112233445566778899001",
     {"serviceData": policy_delta(("ADD", "roles/iam.serviceAccountTokenCreator", "user:mallory@example.net"))},
     (PRIV,), "iam_policy"),
    ("iam-audit-config-removed", "SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(audit=[{"action": "REMOVE", "service": "allServices", "logType": "DATA_READ"}])},
     (LOGGING,), "iam_policy"),
    ("iam-no-delta-owner-in-policy", "storage.setIamPermissions", "storage.googleapis.com",
     "projects/_/buckets/orders-exports",
     {"request": {"policy": {"bindings": [{"role": "roles/owner", "members": ["user:mallory@example.net"]}]}}},
     (PRIV,), "iam_policy"),
    ("sa-key", "google.iam.admin.v1.CreateServiceAccountKey", "iam.googleapis.com",
     "projects/-/serviceAccounts/112233445566778899001",
     {"request": {"@type": "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountKeyRequest",
                  "name": f"projects/-/serviceAccounts/deployer@{PROJECT}.iam.gserviceaccount.com",
                  "private_key_type": 2}},
     (CRED,), "service_account"),
    ("disk-delete", "v1.compute.disks.delete", "compute.googleapis.com",
     f"projects/{PROJECT}/zones/europe-west1-b/disks/orders-data", {}, (DATA, INFRA), "disk"),
    ("snapshot-delete-beta", "beta.compute.snapshots.delete", "compute.googleapis.com",
     f"projects/{PROJECT}/global/snapshots/orders-data-daily", {}, (BACKUP,), "snapshot"),
    ("instance-delete", "v1.compute.instances.delete", "compute.googleapis.com",
     f"projects/{PROJECT}/zones/europe-west1-b/instances/app-1", {}, (INFRA,), "instance"),
    ("bq-dataset", "google.cloud.bigquery.v2.DatasetService.DeleteDataset", "bigquery.googleapis.com",
     f"projects/{PROJECT}/datasets/analytics", {}, (DATA,), "dataset"),
    ("bq-table", "google.cloud.bigquery.v2.TableService.DeleteTable", "bigquery.googleapis.com",
     f"projects/{PROJECT}/datasets/analytics/tables/orders", {}, (DATA,), "table"),
    ("bq-legacy-dataset", "datasetservice.delete", "bigquery.googleapis.com",
     f"projects/{PROJECT}/datasets/analytics", {}, (DATA,), "dataset"),
    ("bq-legacy-table", "tableservice.delete", "bigquery.googleapis.com",
     f"projects/{PROJECT}/datasets/analytics/tables/orders", {}, (DATA,), "table"),
    ("bigtable-instance", "google.bigtable.admin.v2.BigtableInstanceAdmin.DeleteInstance",
     "bigtableadmin.googleapis.com", f"projects/{PROJECT}/instances/events", {}, (DATA, INFRA),
     "bigtable_instance"),
    ("bigtable-table", "google.bigtable.admin.v2.BigtableTableAdmin.DeleteTable", "bigtableadmin.googleapis.com",
     f"projects/{PROJECT}/instances/events/tables/clicks", {}, (DATA,), "table"),
    ("spanner-drop", "google.spanner.admin.database.v1.DatabaseAdmin.DropDatabase", "spanner.googleapis.com",
     f"projects/{PROJECT}/instances/main/databases/orders", {}, (DATA,), "database"),
    ("firestore-db", "google.firestore.admin.v1.FirestoreAdmin.DeleteDatabase", "firestore.googleapis.com",
     f"projects/{PROJECT}/databases/sessions", {}, (DATA,), "database"),
    ("gke", "google.container.v1.ClusterManager.DeleteCluster", "container.googleapis.com",
     f"projects/{PROJECT}/locations/europe-west1/clusters/prod", {}, (INFRA,), "cluster"),
]

NEGATIVE: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("sql-backups-on", "cloudsql.instances.update", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
     {"request": {"body": {"settings": {"backupConfiguration": {"enabled": True, "startTime": "02:00"}}}}}),
    ("sql-tier-change", "cloudsql.instances.patch", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
     {"request": {"body": {"settings": {"tier": "db-custom-4-16384"}}}}),
    ("sql-create", "cloudsql.instances.create", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db", {}),
    ("sql-restore", "cloudsql.instances.restoreBackup", "cloudsql.googleapis.com",
     f"projects/{PROJECT}/instances/db", {}),
    ("bucket-create", "storage.buckets.create", "storage.googleapis.com", "projects/_/buckets/new", {}),
    ("object-get", "storage.objects.get", "storage.googleapis.com", "projects/_/buckets/b/objects/o", {}),
    ("iam-viewer", "SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(("ADD", "roles/viewer", "user:bob@example.com"))}),
    ("iam-owner-removed", "SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(("REMOVE", "roles/owner", "user:mallory@example.net"))}),
    # the delta decides: the new policy still lists the existing owner, but only a viewer was added
    ("iam-delta-beats-policy", "SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(("ADD", "roles/viewer", "user:bob@example.com")),
      "request": {"policy": {"bindings": [{"role": "roles/owner", "members": ["user:alice@example.com"]},
                                          {"role": "roles/viewer", "members": ["user:bob@example.com"]}]}}}),
    ("iam-audit-config-added", "SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}",
     {"serviceData": policy_delta(audit=[{"action": "ADD", "service": "allServices", "logType": "DATA_READ"}])}),
    ("iam-get", "GetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}", {}),
    ("sink-destination-change", "google.logging.v2.ConfigServiceV2.UpdateSink", "logging.googleapis.com",
     f"projects/{PROJECT}/sinks/siem-export",
     {"request": {"sink": {"name": "siem-export", "destination": "storage.googleapis.com/archive"},
                  "updateMask": "destination"}}),
    ("sink-create", "google.logging.v2.ConfigServiceV2.CreateSink", "logging.googleapis.com",
     f"projects/{PROJECT}/sinks/new", {}),
    ("exclusion-created-disabled", "google.logging.v2.ConfigServiceV2.CreateExclusion", "logging.googleapis.com",
     f"projects/{PROJECT}/exclusions/later",
     {"request": {"exclusion": {"name": "later", "filter": "severity<ERROR", "disabled": True}}}),
    ("kms-enable", "google.cloud.kms.v1.KeyManagementService.UpdateCryptoKeyVersion", "cloudkms.googleapis.com",
     f"projects/{PROJECT}/locations/europe/keyRings/db/cryptoKeys/cmek/cryptoKeyVersions/3",
     {"request": {"cryptoKeyVersion": {"state": "ENABLED"}}}),
    ("kms-restore", "google.cloud.kms.v1.KeyManagementService.RestoreCryptoKeyVersion", "cloudkms.googleapis.com",
     f"projects/{PROJECT}/locations/europe/keyRings/db/cryptoKeys/cmek/cryptoKeyVersions/3", {}),
    ("sa-create", "google.iam.admin.v1.CreateServiceAccount", "iam.googleapis.com", f"projects/{PROJECT}", {}),
    ("sa-keys-list", "google.iam.admin.v1.ListServiceAccountKeys", "iam.googleapis.com",
     "projects/-/serviceAccounts/112233445566778899001", {}),
    ("instance-stop", "v1.compute.instances.stop", "compute.googleapis.com",
     f"projects/{PROJECT}/zones/europe-west1-b/instances/app-1", {}),
    ("disk-snapshot", "v1.compute.disks.createSnapshot", "compute.googleapis.com",
     f"projects/{PROJECT}/zones/europe-west1-b/disks/orders-data", {}),
    # a look-alike: not Compute Engine, so the version prefix is not dropped
    ("not-compute", "v1.storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/b", {}),
    ("bigtable-create", "google.bigtable.admin.v2.BigtableTableAdmin.CreateTable", "bigtableadmin.googleapis.com",
     f"projects/{PROJECT}/instances/events/tables/clicks", {}),
]


def _with(rec: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    rec["protoPayload"].update(extra)
    return rec


@pytest.mark.parametrize("case,method,service,rname,extra,cats,rtype", CASES, ids=[c[0] for c in CASES])
def test_mapped_methods(tmp_path: Path, case: str, method: str, service: str, rname: str,
                        extra: dict[str, Any], cats: tuple[str, ...], rtype: str) -> None:
    e = one(tmp_path, _with(entry(method, service, rname), extra))
    assert sorted(e.action.categories) == sorted(cats)
    assert e.resource.type == rtype
    assert e.action.name == method
    assert e.action.outcome == "success"


@pytest.mark.parametrize("case,method,service,rname,extra", NEGATIVE, ids=[c[0] for c in NEGATIVE])
def test_look_alikes_are_not_categorised(tmp_path: Path, case: str, method: str, service: str, rname: str,
                                         extra: dict[str, Any]) -> None:
    e = one(tmp_path, _with(entry(method, service, rname), extra))
    assert e.action.categories == ()
    assert e.action.outcome == "success"


def test_set_iam_policy_statement_names_the_grant(tmp_path: Path) -> None:
    e = one(tmp_path, _with(entry("SetIamPolicy", "cloudresourcemanager.googleapis.com", f"projects/{PROJECT}"),
                            {"serviceData": policy_delta(("ADD", "roles/owner", "user:mallory@example.net"))}))
    assert e.action.statement == f"SetIamPolicy projects/{PROJECT} [ADD roles/owner user:mallory@example.net]"


# =========================================================================== outcomes


def test_failed_call_keeps_categories_and_says_why(tmp_path: Path) -> None:
    rec = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/orders-exports",
                status={"code": 7, "message": "PERMISSION_DENIED"}, severity="ERROR")
    e = one(tmp_path, rec)
    assert e.action.outcome == "failure"
    assert e.action.error == "7 PERMISSION_DENIED: PERMISSION_DENIED"
    assert sorted(e.action.categories) == sorted((DATA, INFRA))
    assert not e.succeeded


def test_failed_call_without_message_and_a_non_rpc_code(tmp_path: Path) -> None:
    rec = entry("cloudsql.instances.delete", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
                status={"code": 404})
    e = one(tmp_path, rec)
    assert (e.action.outcome, e.action.error) == ("failure", "404")


def test_compute_operation_counts_when_its_last_entry_says_so(tmp_path: Path) -> None:
    op = "operation-1709648551123-6130f2c0a1b2c-3d4e5f60-7a8b9c0d"
    name = f"projects/{PROJECT}/zones/europe-west1-b/disks/orders-data"
    first = entry("v1.compute.disks.delete", "compute.googleapis.com", name, insert_id="first",
                  request={"@type": "type.googleapis.com/compute.disks.delete"},
                  response={"@type": "type.googleapis.com/operation", "status": "RUNNING", "name": op},
                  operation={"id": op, "producer": "compute.googleapis.com", "first": True})
    last = entry("v1.compute.disks.delete", "compute.googleapis.com", name, insert_id="last",
                 timestamp="2024-03-05T14:22:40Z",
                 operation={"id": op, "producer": "compute.googleapis.com", "last": True})
    failed = entry("v1.compute.disks.delete", "compute.googleapis.com", name, insert_id="last-failed",
                   status={"code": 9, "message": "The disk resource is already being used by 'app-1'"},
                   operation={"id": op + "x", "producer": "compute.googleapis.com", "last": True})
    events, dead = read_all(write_lines(tmp_path / "a.jsonl", [first, last, failed]))
    assert dead == []
    assert [(e.event_id, e.action.outcome) for e in events] == [
        ("gcp-first", "unknown"), ("gcp-last", "success"), ("gcp-last-failed", "failure")]
    assert all(sorted(e.action.categories) == sorted((DATA, INFRA)) for e in events)
    assert events[2].action.error == "9 FAILED_PRECONDITION: The disk resource is already being used by 'app-1'"


def test_a_first_and_last_entry_in_one_is_done(tmp_path: Path) -> None:
    rec = entry("v1.compute.instances.delete", "compute.googleapis.com", f"projects/{PROJECT}/zones/z/instances/i",
                operation={"id": "operation-1", "producer": "compute.googleapis.com", "first": True, "last": True})
    assert one(tmp_path, rec).action.outcome == "success"


# =========================================================================== identity hints


def test_service_account_key(tmp_path: Path) -> None:
    sa = f"deployer@{PROJECT}.iam.gserviceaccount.com"
    key = f"//iam.googleapis.com/projects/{PROJECT}/serviceAccounts/{sa}/keys/0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
    rec = entry("cloudsql.instances.delete", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
                auth={"principalEmail": sa, "serviceAccountKeyName": key,
                      "principalSubject": f"serviceAccount:{sa}"},
                user_agent="Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-google/5.19.0")
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type, a.credential_id) == (sa, "serviceAccount", key)
    assert a.user_agent.startswith("Terraform/1.7.4")
    assert a.role_chain == () and a.tags == {}


def test_impersonation_chain_starting_with_a_person(tmp_path: Path) -> None:
    target = f"prod-admin@{PROJECT}.iam.gserviceaccount.com"
    hop = f"ci-runner@{PROJECT}.iam.gserviceaccount.com"
    rec = entry("cloudsql.instances.delete", "cloudsql.googleapis.com", f"projects/{PROJECT}/instances/db",
                auth={"principalEmail": target,
                      "serviceAccountDelegationInfo": [
                          {"firstPartyPrincipal": {"principalEmail": "alice@example.com"},
                           "principalSubject": "user:alice@example.com"},
                          {"firstPartyPrincipal": {"principalEmail": hop,
                                                   "serviceMetadata": {"@type": "x"}}},
                      ],
                      "principalSubject": f"serviceAccount:{target}"})
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type) == (target, "serviceAccount")
    assert a.role_chain == ("alice@example.com", hop)
    assert a.tags == {"on-behalf-of": "alice@example.com"}


def test_impersonation_chain_of_service_accounts_names_no_person(tmp_path: Path) -> None:
    target = f"prod-admin@{PROJECT}.iam.gserviceaccount.com"
    hop = f"ci-runner@{PROJECT}.iam.gserviceaccount.com"
    rec = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/b",
                auth={"principalEmail": target,
                      "serviceAccountDelegationInfo": [{"principalSubject": f"serviceAccount:{hop}"}]})
    a = one(tmp_path, rec).actor
    assert a.role_chain == (hop,)
    assert a.tags == {}


@pytest.mark.parametrize("subject,ptype", [
    ("principal://iam.googleapis.com/locations/global/workforcePools/staff/subject/alice", "user"),
    ("principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/gh/subject/repo:o/r",
     "workload"),
])
def test_federated_principal_subject_only(tmp_path: Path, subject: str, ptype: str) -> None:
    rec = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/b",
                auth={"principalSubject": subject})
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type) == (subject, ptype)


def test_no_principal_at_all(tmp_path: Path) -> None:
    rec = entry("v1.compute.instances.preempted", "compute.googleapis.com", f"projects/{PROJECT}/zones/z/instances/i",
                auth={}, log="system_event", user_agent="", caller_ip="")
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type, a.account) == ("", "", PROJECT)


def test_account_from_log_name_when_resource_has_no_project(tmp_path: Path) -> None:
    rec = entry("SetIamPolicy", "cloudresourcemanager.googleapis.com", "organizations/123456789012",
                resource={"type": "organization", "labels": {"organization_id": "123456789012"}})
    rec["logName"] = "organizations/123456789012/logs/cloudaudit.googleapis.com%2Factivity"
    assert one(tmp_path, rec).actor.account == "organizations/123456789012"


# =========================================================================== SQL inside entries


def test_spanner_ddl_drop_is_classified_as_sql(tmp_path: Path) -> None:
    rec = entry("google.spanner.admin.database.v1.DatabaseAdmin.UpdateDatabaseDdl", "spanner.googleapis.com",
                f"projects/{PROJECT}/instances/main/databases/orders",
                request={"@type": "type.googleapis.com/google.spanner.admin.database.v1.UpdateDatabaseDdlRequest",
                         "database": f"projects/{PROJECT}/instances/main/databases/orders",
                         "statements": ["DROP INDEX OrdersByCustomer", "DROP TABLE Orders"]})
    e = one(tmp_path, rec)
    assert e.activity == "sql"
    assert e.action.categories == (DATA,)
    assert e.action.statement == "DROP INDEX OrdersByCustomer; DROP TABLE Orders"
    assert (e.resource.type, e.resource.database) == ("index", "orders")


def test_cloud_sql_pgaudit_entry(tmp_path: Path) -> None:
    rec = entry("cloudsql.instances.query", "cloudsql.googleapis.com", "instances/orders-pg",
                auth={}, log="data_access", severity="INFO", resource=sql_instance("orders-pg"),
                request={"@type": "type.googleapis.com/google.cloud.sql.audit.v1.PgAuditEntry",
                         "auditClass": "DDL", "auditType": "SESSION", "chunkCount": "1", "chunkIndex": "1",
                         "command": "DROP TABLE", "database": "orders", "databaseSessionId": 48213,
                         "object": "", "objectType": "", "parameter": "<not logged>",
                         "statement": "DROP TABLE public.customers CASCADE", "statementId": 7,
                         "substatementId": 1, "user": "app_owner"})
    e = one(tmp_path, rec)
    assert e.activity == "sql"
    assert e.action.categories == (DATA,)
    assert e.action.outcome == "success"
    assert (e.actor.principal, e.actor.principal_type, e.actor.session_id) == ("app_owner", "db_user", "48213")
    assert (e.resource.type, e.resource.database) == ("table", "orders")


def test_sql_literals_are_redacted_in_the_statement(tmp_path: Path) -> None:
    rec = entry("google.spanner.v1.Spanner.ExecuteSql", "spanner.googleapis.com",
                f"projects/{PROJECT}/instances/main/databases/orders/sessions/AN4G3x",
                request={"sql": "DELETE FROM Users WHERE Email = 'victim@example.com'"})
    e = one(tmp_path, rec)
    assert "victim@example.com" not in e.action.statement
    assert e.action.statement == "DELETE FROM Users WHERE Email = ?"
    assert e.action.categories == ()


# =========================================================================== containers


def _records() -> list[dict[str, Any]]:
    return [
        entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/a", insert_id="r1"),
        entry("v1.compute.instances.stop", "compute.googleapis.com", f"projects/{PROJECT}/zones/z/instances/i",
              insert_id="r2"),
        entry("google.cloud.kms.v1.KeyManagementService.DestroyCryptoKeyVersion", "cloudkms.googleapis.com",
              f"projects/{PROJECT}/locations/l/keyRings/k/cryptoKeys/c/cryptoKeyVersions/1", insert_id="r3"),
    ]


EXPECTED_IDS = ["gcp-r1", "gcp-r2", "gcp-r3"]
EXPECTED_CATS = [(DATA, INFRA), (), (KEY,)]


def _check(events: list[Event]) -> None:
    assert [e.event_id for e in events] == EXPECTED_IDS
    assert [tuple(sorted(e.action.categories)) for e in events] == [tuple(sorted(c)) for c in EXPECTED_CATS]
    assert all(e.source.type == "gcp-audit" for e in events)


def test_json_lines(tmp_path: Path) -> None:
    events, dead = read_all(write_lines(tmp_path / "a.jsonl", _records()))
    assert dead == []
    _check(events)
    assert [e.source.line for e in events] == [1, 2, 3]


def test_json_array_from_gcloud_logging_read(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text(json.dumps(_records(), indent=2))
    events, dead = read_all(p)
    assert dead == []
    _check(events)
    assert [e.source.index for e in events] == [0, 1, 2]


def test_logging_api_entries_page(tmp_path: Path) -> None:
    p = tmp_path / "page.json"
    p.write_text(json.dumps({"entries": _records(), "nextPageToken": "EAA4AQ"}, indent=1))
    events, dead = read_all(p)
    assert dead == []
    _check(events)
    assert [e.source.index for e in events] == [0, 1, 2]


def test_pubsub_push_envelopes_one_per_line(tmp_path: Path) -> None:
    events, dead = read_all(write_lines(tmp_path / "push.jsonl", [push(r) for r in _records()]))
    assert dead == []
    _check(events)
    assert [e.raw for e in events] == _records()


def test_pubsub_push_body_as_one_document(tmp_path: Path) -> None:
    p = tmp_path / "push.json"
    p.write_text(json.dumps(push(_records()[0]), indent=2))
    events, dead = read_all(p)
    assert dead == []
    assert [e.event_id for e in events] == ["gcp-r1"]


def test_pubsub_pull_response(tmp_path: Path) -> None:
    p = tmp_path / "pull.json"
    p.write_text(json.dumps({"receivedMessages": [{"ackId": f"ack-{i}", "message": push(r)["message"]}
                                                  for i, r in enumerate(_records())]}))
    events, dead = read_all(p)
    assert dead == []
    _check(events)


def test_pubsub_bad_payloads_are_dead_letters_and_the_rest_is_read(tmp_path: Path) -> None:
    recs = _records()
    lines = [
        push(recs[0]),
        push(None, data="%%% not base64 %%%"),
        push(None, data=base64.b64encode(b"\xff\xfe\x00binary").decode()),
        push(None, data=base64.b64encode(b'{"insertId": "cut-off').decode()),
        {"message": {"messageId": "5", "attributes": {"k": "v"}}, "subscription": "projects/p/subscriptions/s"},
        push({"insertId": "t1", "logName": f"projects/{PROJECT}/logs/syslog", "textPayload": "hello",
              "timestamp": "2024-03-05T14:22:31Z"}),
        push(recs[2]),
    ]
    events, dead = read_all(write_lines(tmp_path / "push.jsonl", lines))
    assert [e.event_id for e in events] == ["gcp-r1", "gcp-r3"]
    assert [(d.source.line, d.reason.split(":")[0]) for d in dead] == [
        (2, "Pub/Sub message data is not base64"),
        (3, "Pub/Sub message data is not UTF-8"),
        (4, "Pub/Sub message data is not JSON"),
        (5, "Pub/Sub message has no data"),
        (6, "GCP LogEntry without an AuditLog protoPayload (textPayload/jsonPayload"),
    ]


def test_url_safe_base64_is_accepted(tmp_path: Path) -> None:
    rec = _records()[0]
    rec["protoPayload"]["resourceName"] = "projects/_/buckets/a?>>"  # '>' makes '+' or '/' in base64
    data = base64.urlsafe_b64encode(json.dumps(rec).encode()).decode().rstrip("=")
    assert "-" in data or "_" in data
    events, dead = read_all(write_lines(tmp_path / "push.jsonl", [push(None, data=data)]))
    assert dead == [] and [e.raw for e in events] == [rec]


def test_pretty_printed_entries_with_text_around_them(tmp_path: Path) -> None:
    recs = _records()
    text = ("// exported by hand\n" + json.dumps(recs[0], indent=2) + "\n\n" + json.dumps(recs[1], indent=4)
            + ",\n" + json.dumps(recs[2], indent=2) + "\n]\n")
    p = tmp_path / "pretty.log"
    p.write_text(text)
    events, dead = read_all(p)
    _check(events)
    lines = text.split("\n")
    starts = [i + 1 for i, ln in enumerate(lines) if ln == "{"]
    assert [e.source.line for e in events] == starts
    assert [(d.source.line, d.reason, d.raw) for d in dead] == [
        (1, "not JSON: text outside any JSON value", "// exported by hand\n"),
        (len(lines) - 1, "not JSON: text outside any JSON value", "]\n"),
    ]


def test_brackets_quotes_and_backslashes_inside_strings_do_not_end_a_value(tmp_path: Path) -> None:
    rec = entry("storage.objects.delete", "storage.googleapis.com",
                'projects/_/buckets/b/objects/we}ird]"{na\\me[\\', insert_id="tricky",
                user_agent='curl/8.5 "}" \\"{')
    p = tmp_path / "tricky.log"
    p.write_text("## dump\n" + json.dumps(rec, indent=2) + "\n" + json.dumps(rec, indent=1) + "\n")
    events, dead = read_all(p)
    assert [e.raw for e in events] == [rec, rec]
    assert [d.source.line for d in dead] == [1]


def test_cut_off_pretty_printed_entry_then_json_lines(tmp_path: Path) -> None:
    recs = _records()
    cut = "\n".join(json.dumps(recs[0], indent=2).split("\n")[:6])
    p = tmp_path / "cut.log"
    p.write_text("/* head */\n" + cut + "\n" + json.dumps(recs[1]) + "\n" + json.dumps(recs[2]) + "\n")
    events, dead = read_all(p)
    assert [e.event_id for e in events] == ["gcp-r2", "gcp-r3"]
    assert [(d.source.line, d.reason) for d in dead] == [
        (1, "not JSON: text outside any JSON value"),
        (2, "unterminated JSON value: a new record starts on line 8 (held lines 2-7)"),
    ]


def test_unterminated_entry_at_end_of_input(tmp_path: Path) -> None:
    p = tmp_path / "end.log"
    p.write_text("# tail\n" + json.dumps(_records()[0], indent=2)[:-2] + "\n")
    events, dead = read_all(p)
    assert events == []
    assert [d.reason.split(" (")[0] for d in dead] == [
        "not JSON: text outside any JSON value", "unterminated JSON value at end of input"]


def test_invalid_pretty_printed_entry_is_one_dead_letter(tmp_path: Path) -> None:
    bad = json.dumps(_records()[0], indent=2).replace('"insertId": "r1",', '"insertId": "r1"', 1)
    p = tmp_path / "bad.log"
    p.write_text("-- start\n" + bad + "\n" + json.dumps(_records()[1], indent=2) + "\n")
    events, dead = read_all(p)
    assert [e.event_id for e in events] == ["gcp-r2"]
    n = bad.count("\n") + 1
    assert [(d.source.line, d.reason.split(":")[0]) for d in dead] == [
        (1, "not JSON"), (2, f"invalid JSON (lines 2-{n + 1})")]


# =========================================================================== malformed records


def test_malformed_records_are_dead_letters_and_following_records_read(tmp_path: Path) -> None:
    recs = _records()
    no_time = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/x", insert_id="nt")
    del no_time["timestamp"], no_time["receiveTimestamp"]
    bad_time = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/x",
                     insert_id="bt", timestamp="yesterday")
    no_method = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/x", insert_id="nm")
    del no_method["protoPayload"]["methodName"]
    wrong_type = entry("x", "y", "z", insert_id="wt")
    wrong_type["protoPayload"]["@type"] = "type.googleapis.com/google.cloud.audit.Other"
    p = tmp_path / "mixed.jsonl"
    p.write_text("\n".join([json.dumps(recs[0]), "{not json", json.dumps(no_time), json.dumps(bad_time),
                            json.dumps(no_method), json.dumps(wrong_type), json.dumps(recs[2])]) + "\n")
    events, dead = read_all(p, fmt="gcp")
    assert [e.event_id for e in events] == ["gcp-r1", "gcp-r3"]
    got = [(d.source.line, d.reason) for d in dead]
    assert [g[0] for g in got] == [2, 3, 4, 5, 6]
    # '{not json' never closes: it is held until the next record begins
    assert got[0][1] == "unterminated JSON value: a new record starts on line 3 (held lines 2-2)"
    assert got[1][1] == "LogEntry has no timestamp"
    assert got[2][1].startswith("bad timestamp 'yesterday'")
    assert got[3][1] == "AuditLog has no methodName"
    assert got[4][1] == ("not a GCP Cloud Audit Log entry: protoPayload is "
                         "'type.googleapis.com/google.cloud.audit.Other', not an AuditLog")


def test_event_id_without_insert_id_is_positional_and_stable(tmp_path: Path) -> None:
    a = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/x")
    del a["insertId"]
    p = write_lines(tmp_path / "a.jsonl", [a, a])
    first, _ = read_all(p)
    again, _ = read_all(p)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id != first[1].event_id
    assert all(e.event_id.startswith("gcp-") for e in first)


# =========================================================================== is_record precision


def test_is_record_claims_only_audit_log_entries() -> None:
    ok = entry("storage.buckets.delete", "storage.googleapis.com", "projects/_/buckets/x")
    assert gcp_audit.is_record(ok)
    cloudtrail = {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket",
                  "eventTime": "2024-03-05T14:22:31Z"}
    azure = {"time": "2024-03-05T14:22:31Z", "resourceId": "/subscriptions/s", "operationName": "X/delete"}
    pg = {"timestamp": "2024-03-05 14:22:31.123 UTC", "error_severity": "LOG", "message": "AUDIT: SESSION"}
    text_entry = {"insertId": "1", "logName": "projects/p/logs/syslog", "textPayload": "hello",
                  "timestamp": "2024-03-05T14:22:31Z"}
    for other in (cloudtrail, azure, pg, text_entry, [ok], "protoPayload", None):
        assert not gcp_audit.is_record(other), other


def test_sniffer() -> None:
    assert detect(json.dumps(_records()[0]).encode()) == "gcp-audit"
    assert detect(json.dumps(push(_records()[0])).encode() + b"\n") == "gcp-audit"
    assert detect(b'"message" => "{\\"protoPayload\\":{\\"@type\\":\\"' + AUDIT.encode() + b'\\"}}",\n') \
        == "gcp-audit"
    assert detect(b'{"message": "hello", "level": "info"}\n') is None


# =========================================================================== public samples

SAMPLES = "ibm-universal-connectors/gcp-audit"
# the files whose entries carry a non-zero status.code (read off the files by hand)
BIGTABLE_FAILED = {"deleteInstance.json", "error.json", "error2.json", "errorLogs_CannotDeleteTable.json",
                   "errorLogs_InstanceNotFound.json", "errorLogs_TableNotFound.json", "executeQueryError.json"}
BIGTABLE_CATEGORIES = {"deleteInstance.json": (DATA, INFRA), "deleteTable.json": (DATA,),
                       "errorLogs_CannotDeleteTable.json": (DATA,)}


def _sample_dir(corpus: Path) -> Path:
    d = corpus / SAMPLES
    need(d.is_dir(), f"GCP audit samples not found at {d}")
    return d


def _json_without_comment(path: Path) -> tuple[Any, int]:
    """The file's JSON, and how many leading non-JSON lines were cut (getOperation.json has one)."""
    text = path.read_text()
    cut = 0
    while not text.lstrip().startswith("{"):
        text = text.split("\n", 1)[1]
        cut += 1
    return json.loads(text), cut


def test_bigtable_samples(corpus: Path) -> None:
    files = sorted((_sample_dir(corpus) / "bigtable").glob("*.json"))
    assert len(files) == 26
    failures = 0
    for f in files:
        raw, cut = _json_without_comment(f)
        pp = raw["protoPayload"]
        events, dead = read_all(f)
        assert len(events) == 1, f.name
        e = events[0]
        if f.name == "getOperation.json":
            assert cut == 1
            assert [(d.source.line, d.reason, d.raw) for d in dead] == [
                (1, "not JSON: text outside any JSON value",
                 "// TODO: Should not have `request` field in protopayload\n")]
            assert e.source.line == 3
        else:
            assert cut == 0 and dead == [], f.name
        assert e.event_id == f"gcp-{raw['insertId']}"
        assert e.raw == raw
        assert e.action.name == pp["methodName"]
        assert e.action.service == pp["serviceName"]
        assert e.resource.name == pp["resourceName"]
        assert e.actor.principal == pp["authenticationInfo"]["principalEmail"]
        assert e.actor.account == raw["resource"]["labels"]["project_id"]
        assert e.actor.client_addr == pp["requestMetadata"]["callerIp"]
        assert e.time == pytest.approx(epoch(raw["timestamp"][:26].rstrip("Z") + "Z"), abs=1e-3)
        code = (pp.get("status") or {}).get("code", 0)
        assert (code != 0) == (f.name in BIGTABLE_FAILED), f.name
        if f.name in BIGTABLE_FAILED:
            failures += 1
            assert e.action.outcome == "failure"
            assert e.action.error.startswith(str(code)) and pp["status"]["message"] in e.action.error
        else:
            assert (e.action.outcome, e.action.error) == ("success", "")
        assert sorted(e.action.categories) == sorted(BIGTABLE_CATEGORIES.get(f.name, ())), f.name
    assert failures == 7


def test_bigtable_destructive_samples_in_detail(corpus: Path) -> None:
    d = _sample_dir(corpus) / "bigtable"
    (inst,), _ = read_all(d / "deleteInstance.json")
    assert inst.action.outcome == "failure" and inst.action.error.startswith("9 FAILED_PRECONDITION: Unable to delete")
    assert inst.resource.type == "bigtable_instance"
    (table,), _ = read_all(d / "deleteTable.json")
    assert (table.action.outcome, table.resource.type) == ("success", "table")
    assert table.resource.name == "projects/test-project-1234/instances/test-big-table/tables/student"
    (sa,), _ = read_all(d / "authenticationInfo.json")
    assert sa.actor.principal_type == "serviceAccount"
    assert sa.actor.credential_id.startswith("//iam.googleapis.com/projects/test-project-1234/serviceAccounts/")
    assert sa.actor.user_agent.startswith("bigtable-java/2.28.0")


def test_spanner_sample(corpus: Path) -> None:
    path = _sample_dir(corpus) / "spanner_sample-audit-logs.json"
    raw = json.loads(path.read_text())
    assert len(raw) == 4
    events, dead = read_all(path)
    assert dead == []
    assert [e.event_id for e in events] == [f"gcp-{r['insertId']}" for r in raw]
    assert [e.source.index for e in events] == [0, 1, 2, 3]
    assert [e.action.name.rsplit(".", 1)[-1] for e in events] == [
        "ExecuteStreamingSql", "ExecuteStreamingSql", "UpdateDatabaseDdl", "ExecuteStreamingSql"]
    assert all(e.activity == "sql" and e.action.outcome == "success" and e.action.categories == ()
               for e in events)
    assert [e.resource.database for e in events] == ["spanner-db-dev", "test", "test", "test"]
    assert events[3].action.statement.startswith("INSERT INTO Singers")
    assert "Richards" not in events[3].action.statement  # literals redacted
    # principalEmail and principalSubject disagree in the (partly redacted) sample: the email wins
    assert events[2].actor.principal == "xyz@abc.com"


def _firestore_records(text: str) -> list[dict[str, Any]]:
    """The entries of the (malformed) firestore file, found with the stdlib decoder."""
    dec = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(text):
        while i < len(text) and text[i] in " \n\r\t,":
            i += 1
        if i >= len(text) or text[i] == "]" and text[i:].strip() == "]":
            break
        obj, i = dec.raw_decode(text, i)
        out += obj if isinstance(obj, list) else [obj]
    return out


def _lines_of(path: Path) -> Iterator[Line]:
    data = path.read_bytes()
    offset = 0
    for n, raw in enumerate(data.splitlines(keepends=True), 1):
        yield Line(raw.decode(), n, offset)
        offset += len(raw)


def test_firestore_sample_through_read_path(corpus: Path) -> None:
    path = _sample_dir(corpus) / "firestore_logs.json"
    events, dead = read_all(path)
    assert len(events) == 7
    assert [d.raw.strip() for d in dead] == ["]"]


def test_firestore_sample_through_the_line_parser(corpus: Path) -> None:
    """The file is ``[ {entry} ]`` followed by six more entries separated by commas (one comma
    missing) and a closing ``]``: not JSON. Followed (or read with the GCP line parser), the seven
    entries are read and the stray closing bracket on the last line is the one dead letter."""
    path = _sample_dir(corpus) / "firestore_logs.json"
    text = path.read_text()
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    raw = _firestore_records(text)
    assert len(raw) == 7 == text.count('"protoPayload"')
    parser = gcp_audit.SPEC.line_parser(ParseContext(str(path)))  # type: ignore[misc]
    items = list(drive(parser, _lines_of(path)))
    events = [i for i in items if isinstance(i, Event)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert [e.raw for e in events] == raw
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    assert [(d.source.line, d.reason, d.raw.strip()) for d in dead] == [
        (n_lines, "not JSON: text outside any JSON value", "]")]
    assert [e.action.name.rsplit(".", 1)[-1] for e in events] == [
        "BatchGetDocuments", "ListDocuments", "ListDocuments", "BatchGetDocuments", "RunQuery",
        "BatchGetDocuments", "UpdateField"]
    assert all(e.action.categories == () and e.action.outcome == "success" for e in events)
    sa = "fsautosa0617@my-gcp-project.iam.gserviceaccount.com"
    assert [e.actor.principal_type for e in events if e.actor.principal == sa] == ["serviceAccount"] * 4
    # the same entry twice in the file: the same event id twice (downstream dedup by id)
    assert events[0].event_id == events[5].event_id == "gcp-2rzzvsd10ck"


def test_cloud_sql_mysql_rubydebug_sample(corpus: Path) -> None:
    path = _sample_dir(corpus) / "cloudsql_mysql_audit_sample_audit_msg.log"
    lines = path.read_text().split("\n")
    msg_lines = [i + 1 for i, ln in enumerate(lines) if ln.startswith('"message" => "')]
    assert msg_lines == [1, 5]
    assert all(not ln.strip() for i, ln in enumerate(lines) if i + 1 not in msg_lines)
    raw = [json.loads(json.loads(re.match(r'^"message" => (".*"),$', lines[n - 1]).group(1)))  # type: ignore[union-attr]
           for n in msg_lines]
    events, dead = read_all(path)
    assert dead == []
    assert [e.raw for e in events] == raw
    assert [e.source.line for e in events] == msg_lines
    sel, drop = events
    assert (sel.action.name, sel.activity, sel.action.outcome, sel.action.categories) == (
        "cloudsql.instances.query", "sql", "success", ())
    assert sel.action.statement == "SELECT DATABASE ()"
    assert (drop.action.outcome, drop.action.error, drop.action.categories) == ("failure", "MySQL error 1051", (DATA,))
    assert drop.action.statement == "DROP TABLE STU"
    assert (drop.actor.principal, drop.actor.principal_type, drop.actor.client_addr, drop.actor.session_id) == (
        "root", "db_user", "106.220.176.187", "10549")
    assert (drop.resource.type, drop.resource.database, drop.resource.name) == (
        "table", "testuc", "instances/new-shefali-mysql8")
    assert drop.actor.account == "my-gcp-project"


def test_rubydebug_line_with_ruby_only_escapes_is_a_dead_letter(tmp_path: Path) -> None:
    p = tmp_path / "rubydebug.log"
    entry_json = json.dumps(_records()[0])
    good = '"message" => ' + json.dumps(entry_json) + ","
    ruby = '"message" => "{\\"insertId\\": \\"\\#{x}\\", \\"protoPayload\\": {\\"@type\\": \\"' + AUDIT + '\\"}}",'
    p.write_text(ruby + "\n\n" + good + "\n")
    events, dead = read_all(p)
    assert [e.event_id for e in events] == ["gcp-r1"]
    assert [(d.source.line, d.reason.split(":")[0]) for d in dead] == [
        (1, 'Logstash "message" => line')]
    assert "not a JSON string literal" in dead[0].reason


def test_read_stream_from_memory() -> None:
    data = "".join(json.dumps(r) + "\n" for r in _records()).encode()
    items = list(read_stream(io.BufferedReader(io.BytesIO(data)), "pubsub-batch"))  # type: ignore[arg-type]
    _check([i for i in items if isinstance(i, Event)])
