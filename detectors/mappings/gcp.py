"""GCP Cloud Audit Log ``methodName`` -> taxonomy categories.

``METHODS`` is keyed by the methodName exactly as Cloud Audit Logs spell it.
Names differ in style from service to service (``cloudsql.instances.delete``,
``v1.compute.disks.delete``, ``google.cloud.kms.v1.KeyManagementService.
DestroyCryptoKeyVersion``, the legacy BigQuery ``tableservice.delete``); two
rules make the table shorter without guessing:

* Compute Engine writes the API version first (``v1.``, ``beta.``,
  ``alpha.``): it is dropped before the look-up, so ``compute.disks.delete``
  covers all three.
* ``SetIamPolicy`` exists on almost every service (projects, folders, service
  accounts, buckets, disks, datasets ...): any methodName whose last segment
  is ``SetIamPolicy``/``SetIAMPolicy``/``setIamPermissions`` goes to the
  ``set_iam_policy`` condition.

Conditions receive the whole ``protoPayload`` (request, serviceData,
metadata), because what decides differs per method:

* ``cloudsql.instances.update``/``patch`` destroys backups only if the body
  turns automated backups (or point-in-time recovery / binary logging) off;
* ``cloudsql.instances.delete`` deletes the instance's backups with it unless
  the request keeps a final backup (``enableFinalBackup``);
* ``SetIamPolicy`` escalates only when a binding of an administrative role
  (``ESCALATION_ROLES``) is *added* (``policyDelta.bindingDeltas`` with action
  ADD); it blinds logging when a Data Access audit config is removed
  (``auditConfigDeltas`` REMOVE). A service that logs no delta leaves only
  the new policy: any binding of such a role in it counts, since what was
  added cannot be told apart;
* logging sinks count as disabled only when ``UpdateSink`` sets
  ``disabled: true``; an exclusion created with ``disabled: true`` excludes
  nothing and does not count;
* a KMS key version ``UpdateCryptoKeyVersion`` to state ``DISABLED`` is treated
  like AWS ``DisableKey`` (data encrypted under it is unreadable).

SQL that an entry carries (Cloud SQL MySQL/PostgreSQL audit entries, Spanner
ExecuteSql and DDL) is not categorised here: ``sql_texts`` hands the
statements to the SQL classifier, which decides what they do.

Not categorised on purpose: reads, ``Create*``/``Get*``/``List*``, Bigtable
``ModifyColumnFamilies`` (a column family *drop* is not visible in every
log shape), ``iamcredentials GenerateAccessToken`` (the everyday
impersonation path; its delegation chain is kept on the actor instead).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from auditwatch.detectors.taxonomy import (
    BACKUP_DESTROY,
    CREDENTIAL_CREATE,
    DATA_DESTROY,
    INFRA_DESTROY,
    KEY_DESTROY,
    LOGGING_DISABLE,
    PRIVILEGE_ESCALATE,
)

Payload = Mapping[str, Any]
Condition = Callable[[Payload], tuple[str, ...]]

# Roles whose grant hands over control of IAM itself (or everything): owner and
# editor, the IAM administrators, and the service-account roles that allow
# impersonating or minting keys for an identity that may hold more.
ESCALATION_ROLES: frozenset[str] = frozenset({
    "roles/owner",
    "roles/editor",
    "roles/resourcemanager.organizationAdmin",
    "roles/resourcemanager.folderAdmin",
    "roles/resourcemanager.folderIamAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/iam.securityAdmin",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountKeyAdmin",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountUser",
})


def _get(obj: Any, *path: str) -> Any:
    for k in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(k)
    return obj


def _false(v: Any) -> bool:
    return v is False or (isinstance(v, str) and v.lower() == "false")


def _true(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def _cloudsql_delete(p: Payload) -> tuple[str, ...]:
    # Deleting an instance deletes its automated and on-demand backups, unless a
    # final backup is requested (retained for finalBackupTtlDays).
    if _true(_get(p, "request", "enableFinalBackup")):
        return (DATA_DESTROY, INFRA_DESTROY)
    return (DATA_DESTROY, INFRA_DESTROY, BACKUP_DESTROY)


def _cloudsql_update(p: Payload) -> tuple[str, ...]:
    req = p.get("request")
    settings = _get(req, "body", "settings")
    if not isinstance(settings, Mapping):
        settings = _get(req, "settings")  # some entries log the instance at the top of the request
    backup = _get(settings, "backupConfiguration")
    if not isinstance(backup, Mapping):
        return ()
    if any(_false(backup.get(k)) for k in ("enabled", "pointInTimeRecoveryEnabled", "binaryLogEnabled")):
        return (BACKUP_DESTROY,)
    return ()


def _policy_deltas(p: Payload) -> Mapping[str, Any] | None:
    for where in ("serviceData", "metadata"):
        delta = _get(p, where, "policyDelta")
        if isinstance(delta, Mapping):
            return delta
    return None


def _set_iam_policy(p: Payload) -> tuple[str, ...]:
    cats: list[str] = []
    delta = _policy_deltas(p)
    if delta is not None:
        for b in delta.get("bindingDeltas") or []:
            if (isinstance(b, Mapping) and str(b.get("action", "")).upper() == "ADD"
                    and b.get("role") in ESCALATION_ROLES):
                cats.append(PRIVILEGE_ESCALATE)
                break
        for a in delta.get("auditConfigDeltas") or []:
            if isinstance(a, Mapping) and str(a.get("action", "")).upper() == "REMOVE":
                cats.append(LOGGING_DISABLE)
                break
        return tuple(cats)
    bindings = _get(p, "request", "policy", "bindings")
    if isinstance(bindings, list) and any(
            isinstance(b, Mapping) and b.get("role") in ESCALATION_ROLES and b.get("members")
            for b in bindings):
        return (PRIVILEGE_ESCALATE,)
    return ()


def _update_sink(p: Payload) -> tuple[str, ...]:
    return (LOGGING_DISABLE,) if _true(_get(p, "request", "sink", "disabled")) else ()


def _create_exclusion(p: Payload) -> tuple[str, ...]:
    return () if _true(_get(p, "request", "exclusion", "disabled")) else (LOGGING_DISABLE,)


def _kms_version_update(p: Payload) -> tuple[str, ...]:
    state = _get(p, "request", "cryptoKeyVersion", "state")
    return (KEY_DESTROY,) if str(state or "").upper() == "DISABLED" else ()


CONDITIONS: dict[str, Condition] = {
    "cloudsql_delete": _cloudsql_delete,
    "cloudsql_update": _cloudsql_update,
    "set_iam_policy": _set_iam_policy,
    "update_sink": _update_sink,
    "create_exclusion": _create_exclusion,
    "kms_version_update": _kms_version_update,
}

# methodName -> (static categories | condition name, resource type)
GcpRule = tuple[tuple[str, ...] | str, str]

_BIGTABLE_INSTANCE = "google.bigtable.admin.v2.BigtableInstanceAdmin"
_BIGTABLE_TABLE = "google.bigtable.admin.v2.BigtableTableAdmin"
_SPANNER_DB = "google.spanner.admin.database.v1.DatabaseAdmin"
_LOGGING_CONFIG = "google.logging.v2.ConfigServiceV2"
_KMS = "google.cloud.kms.v1.KeyManagementService"

METHODS: dict[str, GcpRule] = {
    # Cloud SQL (Admin API)
    "cloudsql.instances.delete": ("cloudsql_delete", "db_instance"),
    "cloudsql.instances.update": ("cloudsql_update", "db_instance"),
    "cloudsql.instances.patch": ("cloudsql_update", "db_instance"),
    "cloudsql.backupRuns.delete": ((BACKUP_DESTROY,), "db_backup"),
    "cloudsql.databases.delete": ((DATA_DESTROY,), "database"),
    # Cloud Storage
    "storage.buckets.delete": ((DATA_DESTROY, INFRA_DESTROY), "bucket"),
    "storage.objects.delete": ((DATA_DESTROY,), "object"),
    "storage.hmacKeys.create": ((CREDENTIAL_CREATE,), "hmac_key"),
    # Compute Engine (after dropping the v1./beta./alpha. prefix)
    "compute.disks.delete": ((DATA_DESTROY, INFRA_DESTROY), "disk"),
    "compute.regionDisks.delete": ((DATA_DESTROY, INFRA_DESTROY), "disk"),
    "compute.snapshots.delete": ((BACKUP_DESTROY,), "snapshot"),
    "compute.machineImages.delete": ((BACKUP_DESTROY,), "machine_image"),
    "compute.instances.delete": ((INFRA_DESTROY,), "instance"),
    # GKE
    "google.container.v1.ClusterManager.DeleteCluster": ((INFRA_DESTROY,), "cluster"),
    # BigQuery (BigQueryAuditMetadata names and the legacy AuditData names)
    "google.cloud.bigquery.v2.DatasetService.DeleteDataset": ((DATA_DESTROY,), "dataset"),
    "google.cloud.bigquery.v2.TableService.DeleteTable": ((DATA_DESTROY,), "table"),
    "datasetservice.delete": ((DATA_DESTROY,), "dataset"),
    "tableservice.delete": ((DATA_DESTROY,), "table"),
    # Bigtable
    f"{_BIGTABLE_INSTANCE}.DeleteInstance": ((DATA_DESTROY, INFRA_DESTROY), "bigtable_instance"),
    f"{_BIGTABLE_INSTANCE}.DeleteCluster": ((INFRA_DESTROY,), "bigtable_cluster"),
    f"{_BIGTABLE_TABLE}.DeleteTable": ((DATA_DESTROY,), "table"),
    f"{_BIGTABLE_TABLE}.DropRowRange": ((DATA_DESTROY,), "table"),
    f"{_BIGTABLE_TABLE}.DeleteBackup": ((BACKUP_DESTROY,), "db_backup"),
    # Spanner
    f"{_SPANNER_DB}.DropDatabase": ((DATA_DESTROY,), "database"),
    f"{_SPANNER_DB}.DeleteBackup": ((BACKUP_DESTROY,), "db_backup"),
    "google.spanner.admin.instance.v1.InstanceAdmin.DeleteInstance": (
        (DATA_DESTROY, INFRA_DESTROY), "spanner_instance"),
    # Firestore
    "google.firestore.admin.v1.FirestoreAdmin.DeleteDatabase": ((DATA_DESTROY,), "database"),
    # Cloud Logging
    f"{_LOGGING_CONFIG}.DeleteSink": ((LOGGING_DISABLE,), "log_sink"),
    f"{_LOGGING_CONFIG}.UpdateSink": ("update_sink", "log_sink"),
    f"{_LOGGING_CONFIG}.DeleteBucket": ((LOGGING_DISABLE, DATA_DESTROY), "log_bucket"),
    f"{_LOGGING_CONFIG}.CreateExclusion": ("create_exclusion", "log_exclusion"),
    "google.logging.v2.LoggingServiceV2.DeleteLog": ((LOGGING_DISABLE, DATA_DESTROY), "log"),
    # Cloud KMS
    f"{_KMS}.DestroyCryptoKeyVersion": ((KEY_DESTROY,), "kms_key_version"),
    f"{_KMS}.UpdateCryptoKeyVersion": ("kms_version_update", "kms_key_version"),
    # IAM credentials
    "google.iam.admin.v1.CreateServiceAccountKey": ((CREDENTIAL_CREATE,), "service_account"),
    "google.iam.admin.v1.UploadServiceAccountKey": ((CREDENTIAL_CREATE,), "service_account"),
    "google.api.apikeys.v2.ApiKeys.CreateKey": ((CREDENTIAL_CREATE,), "api_key"),
}

_COMPUTE_VERSION = re.compile(r"^(?:v1|beta|alpha)\.(?=compute\.)")
_SET_IAM = frozenset({"setiampolicy", "setiampermissions"})


def rule_for(method: str) -> GcpRule | None:
    rule = METHODS.get(method)
    if rule is None and method.startswith(("v1.", "beta.", "alpha.")):
        rule = METHODS.get(_COMPUTE_VERSION.sub("", method))
    if rule is None and method.rsplit(".", 1)[-1].lower() in _SET_IAM:
        rule = ("set_iam_policy", "iam_policy")
    return rule


def gcp_categories(method: str, payload: Payload | None) -> tuple[tuple[str, ...], str]:
    """Categories and resource type for one audited call."""
    rule = rule_for(method)
    if rule is None:
        return (), ""
    cats, rtype = rule
    if isinstance(cats, str):
        cats = CONDITIONS[cats](payload if isinstance(payload, Mapping) else {})
    return cats, rtype


# -------------------------------------------------------------------- entries that carry SQL

# request @type suffix of the Cloud SQL database audit entries -> SQL dialect
CLOUDSQL_AUDIT_ENTRIES: dict[str, str] = {
    "google.cloud.sql.audit.v1.MysqlAuditEntry": "mysql",
    "google.cloud.sql.audit.v1.PgAuditEntry": "postgres",
}
_SPANNER = "google.spanner.v1.Spanner"
SPANNER_SQL_METHODS = frozenset({f"{_SPANNER}.ExecuteSql", f"{_SPANNER}.ExecuteStreamingSql"})
SPANNER_DML_BATCH = f"{_SPANNER}.ExecuteBatchDml"
SPANNER_DDL = f"{_SPANNER_DB}.UpdateDatabaseDdl"


def audit_entry_dialect(request: Any) -> str:
    """The SQL dialect of a Cloud SQL database audit entry (``""`` if the request is not one)."""
    typ = str(_get(request, "@type") or "")
    for suffix, dialect in CLOUDSQL_AUDIT_ENTRIES.items():
        if typ.endswith(suffix):
            return dialect
    return ""


def sql_texts(method: str, payload: Payload) -> tuple[list[str], str]:
    """The SQL statements an entry carries, and their dialect (empty if none).

    Cloud SQL: ``request.query`` (MySQL) / ``request.statement`` (pgAudit; only
    the first chunk of a statement split over several entries is analysed).
    Spanner: ``request.sql``, ``request.statements[].sql`` (batch DML) and the
    DDL list of ``UpdateDatabaseDdl``. Spanner's GoogleSQL is read with the
    PostgreSQL tokenizer: DDL and DML keywords are the same.
    """
    req = payload.get("request")
    if not isinstance(req, Mapping):
        return [], ""
    dialect = audit_entry_dialect(req)
    if dialect == "mysql":
        q = req.get("query")
        return ([q] if isinstance(q, str) and q.strip() else []), dialect
    if dialect == "postgres":
        if str(req.get("chunkIndex", "1")) not in ("", "1"):
            return [], dialect
        s = req.get("statement")
        return ([s] if isinstance(s, str) and s.strip() and not s.startswith("<") else []), dialect
    if method in SPANNER_SQL_METHODS:
        s = req.get("sql")
        return ([s] if isinstance(s, str) and s.strip() else []), "postgres"
    if method == SPANNER_DML_BATCH:
        stmts = req.get("statements")
        texts = [str(st.get("sql")) for st in stmts if isinstance(st, Mapping) and st.get("sql")] \
            if isinstance(stmts, list) else []
        return texts, "postgres"
    if method == SPANNER_DDL:
        stmts = req.get("statements")
        return ([s for s in stmts if isinstance(s, str) and s.strip()] if isinstance(stmts, list) else []), \
            "postgres"
    return [], ""
