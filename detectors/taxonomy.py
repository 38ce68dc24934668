"""The action taxonomy: which actions destroy data, backups, logs, keys or
infrastructure, escalate privilege or mint credentials.

The category names are a fixed vocabulary: rules, dashboards and users' own
detections depend on them, so they are added to, never renamed.

The cloud mapping is data (a table from API name to categories), with a few
named conditions for calls whose meaning depends on their parameters
(``ModifyDBInstance`` is harmless unless it sets ``BackupRetentionPeriod`` to 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

DATA_DESTROY = "data.destroy"
BACKUP_DESTROY = "backup.destroy"
LOGGING_DISABLE = "logging.disable"
PRIVILEGE_ESCALATE = "privilege.escalate"
CREDENTIAL_CREATE = "credential.create"
INFRA_DESTROY = "infra.destroy"
KEY_DESTROY = "key.destroy"
# additions (never renames)
DANGEROUS_EXEC = "exec.dangerous"  # COPY ... PROGRAM, dynamic SQL running DROP

CATEGORIES: tuple[str, ...] = (
    DATA_DESTROY,
    BACKUP_DESTROY,
    LOGGING_DISABLE,
    PRIVILEGE_ESCALATE,
    CREDENTIAL_CREATE,
    INFRA_DESTROY,
    KEY_DESTROY,
    DANGEROUS_EXEC,
)

# Categories that mean something is gone or blinded; "destructive" in rules.
DESTRUCTIVE: frozenset[str] = frozenset(
    {DATA_DESTROY, BACKUP_DESTROY, LOGGING_DISABLE, KEY_DESTROY, INFRA_DESTROY}
)

Params = Mapping[str, Any]
Condition = Callable[[Params], tuple[str, ...]]


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


def _rds_delete(p: Params) -> tuple[str, ...]:
    cats = [DATA_DESTROY, INFRA_DESTROY]
    # RDS removes automated backups with the instance/cluster unless told not to
    # (DeleteAutomatedBackups defaults to true); without a final snapshot nothing is left
    keeps_backups = str(p.get("deleteAutomatedBackups", "")).lower() == "false"
    if not keeps_backups or _truthy(p.get("skipFinalSnapshot")):
        cats.append(BACKUP_DESTROY)
    return tuple(cats)


def _rds_modify(p: Params) -> tuple[str, ...]:
    if str(p.get("backupRetentionPeriod", "")) == "0":
        return (BACKUP_DESTROY,)
    return ()


def _s3_lifecycle(p: Params) -> tuple[str, ...]:
    # An expiration rule with no filter / empty prefix and a short expiry deletes everything.
    cfg = p.get("LifecycleConfiguration") or p.get("lifecycleConfiguration") or {}
    rules = cfg.get("Rule") or cfg.get("rules") or []
    if isinstance(rules, dict):
        rules = [rules]
    for r in rules:
        if not isinstance(r, dict):
            continue
        if str(r.get("Status", r.get("status", ""))).lower() != "enabled":
            continue
        exp = r.get("Expiration") or r.get("expiration")
        if not exp:
            continue
        prefix = r.get("Prefix", "")
        flt = r.get("Filter") or {}
        if isinstance(flt, dict) and (flt.get("Prefix") or flt.get("Tag") or flt.get("And")):
            continue
        if not prefix:
            return (DATA_DESTROY,)
    return ()


_ADMIN_POLICY_MARKERS = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")


def _iam_attach(p: Params) -> tuple[str, ...]:
    arn = str(p.get("policyArn", ""))
    return (PRIVILEGE_ESCALATE,) if arn.endswith(_ADMIN_POLICY_MARKERS) else ()


def _iam_put_inline(p: Params) -> tuple[str, ...]:
    doc: Any = p.get("policyDocument", "")
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError:
            return ()
    stmts = doc.get("Statement", []) if isinstance(doc, dict) else []
    for st in stmts if isinstance(stmts, list) else [stmts]:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if any(a in ("*", "iam:*") or a.endswith(":*") and a.startswith(("iam:", "sts:"))
               for a in actions if isinstance(a, str)):
            return (PRIVILEGE_ESCALATE,)
    return ()


def _put_event_selectors(p: Params) -> tuple[str, ...]:
    # Blinding: management events dropped, or only reads kept (writes are what destroy).
    sels = p.get("eventSelectors")
    if isinstance(sels, list):
        for s in sels:
            if isinstance(s, dict) and (
                s.get("includeManagementEvents") is False or s.get("readWriteType") == "ReadOnly"
            ):
                return (LOGGING_DISABLE,)
        return () if sels else (LOGGING_DISABLE,)
    # advanced selectors are too expressive to judge here; changing them is worth a look
    return (LOGGING_DISABLE,) if p.get("advancedEventSelectors") is not None else ()


CONDITIONS: dict[str, Condition] = {
    "rds_delete": _rds_delete,
    "rds_modify": _rds_modify,
    "s3_lifecycle": _s3_lifecycle,
    "iam_attach": _iam_attach,
    "iam_put_inline": _iam_put_inline,
    "put_event_selectors": _put_event_selectors,
}

# eventName -> (static categories | condition name, resource type, request parameter keys
# that name the resource, first present wins)
CloudRule = tuple[tuple[str, ...] | str, str, tuple[str, ...]]

CLOUDTRAIL: dict[str, CloudRule] = {
    # RDS
    "DeleteDBInstance": ("rds_delete", "db_instance", ("dBInstanceIdentifier",)),
    "DeleteDBCluster": ("rds_delete", "db_cluster", ("dBClusterIdentifier",)),
    "DeleteGlobalCluster": ((DATA_DESTROY, INFRA_DESTROY), "db_cluster", ("globalClusterIdentifier",)),
    "DeleteDBSnapshot": ((BACKUP_DESTROY,), "db_snapshot", ("dBSnapshotIdentifier",)),
    "DeleteDBClusterSnapshot": ((BACKUP_DESTROY,), "db_snapshot", ("dBClusterSnapshotIdentifier",)),
    "DeleteDBInstanceAutomatedBackup": ((BACKUP_DESTROY,), "db_backup", ("dbiResourceId", "dBInstanceAutomatedBackupsArn")),
    "DeleteDBClusterAutomatedBackup": ((BACKUP_DESTROY,), "db_backup", ("dbClusterResourceId",)),
    "ModifyDBInstance": ("rds_modify", "db_instance", ("dBInstanceIdentifier",)),
    "ModifyDBCluster": ("rds_modify", "db_cluster", ("dBClusterIdentifier",)),
    # AWS Backup
    "DeleteRecoveryPoint": ((BACKUP_DESTROY,), "recovery_point", ("recoveryPointArn",)),
    "DeleteBackupVault": ((BACKUP_DESTROY,), "backup_vault", ("backupVaultName",)),
    "DeleteBackupPlan": ((BACKUP_DESTROY,), "backup_plan", ("backupPlanId",)),
    "DeleteBackupSelection": ((BACKUP_DESTROY,), "backup_plan", ("backupPlanId",)),
    "PutBackupVaultAccessPolicy": ((), "backup_vault", ("backupVaultName",)),
    # S3
    "DeleteBucket": ((DATA_DESTROY, INFRA_DESTROY), "bucket", ("bucketName",)),
    "DeleteObjects": ((DATA_DESTROY,), "bucket", ("bucketName",)),
    "DeleteObject": ((DATA_DESTROY,), "object", ("bucketName",)),
    "PutBucketLifecycle": ("s3_lifecycle", "bucket", ("bucketName",)),
    "PutBucketLifecycleConfiguration": ("s3_lifecycle", "bucket", ("bucketName",)),
    "DeleteBucketReplication": ((BACKUP_DESTROY,), "bucket", ("bucketName",)),
    "PutBucketLogging": ((), "bucket", ("bucketName",)),
    # EC2 / EBS
    "DeleteVolume": ((DATA_DESTROY, INFRA_DESTROY), "volume", ("volumeId",)),
    "DeleteSnapshot": ((BACKUP_DESTROY,), "snapshot", ("snapshotId",)),
    "TerminateInstances": ((INFRA_DESTROY,), "instance", ("instancesSet",)),
    "DeleteFlowLogs": ((LOGGING_DISABLE,), "flow_log", ("DeleteFlowLogsRequest",)),
    # DynamoDB, EFS
    "DeleteTable": ((DATA_DESTROY,), "table", ("tableName",)),
    "DeleteBackup": ((BACKUP_DESTROY,), "db_backup", ("backupArn",)),
    "DeleteFileSystem": ((DATA_DESTROY, INFRA_DESTROY), "file_system", ("fileSystemId",)),
    # CloudTrail, Config, CloudWatch Logs, GuardDuty, Route 53 resolver logs
    "StopLogging": ((LOGGING_DISABLE,), "trail", ("name",)),
    "DeleteTrail": ((LOGGING_DISABLE,), "trail", ("name",)),
    "UpdateTrail": ((LOGGING_DISABLE,), "trail", ("name",)),
    "PutEventSelectors": ("put_event_selectors", "trail", ("trailName",)),
    "StopConfigurationRecorder": ((LOGGING_DISABLE,), "config_recorder", ("configurationRecorderName",)),
    "DeleteConfigurationRecorder": ((LOGGING_DISABLE,), "config_recorder", ("configurationRecorderName",)),
    "DeleteDeliveryChannel": ((LOGGING_DISABLE,), "delivery_channel", ("deliveryChannelName",)),
    "DeleteLogGroup": ((LOGGING_DISABLE, DATA_DESTROY), "log_group", ("logGroupName",)),
    "DeleteLogStream": ((LOGGING_DISABLE,), "log_group", ("logGroupName",)),
    "DeleteDetector": ((LOGGING_DISABLE,), "detector", ("detectorId",)),
    "DeleteResolverQueryLogConfig": ((LOGGING_DISABLE,), "resolver_log_config", ("resolverQueryLogConfigId",)),
    # KMS
    "ScheduleKeyDeletion": ((KEY_DESTROY,), "kms_key", ("keyId",)),
    "DisableKey": ((KEY_DESTROY,), "kms_key", ("keyId",)),
    # the service event when a key scheduled for deletion is actually destroyed
    "DeleteKey": ((KEY_DESTROY,), "kms_key", ("keyId",)),
    "DeleteImportedKeyMaterial": ((KEY_DESTROY,), "kms_key", ("keyId",)),
    # IAM
    "AttachUserPolicy": ("iam_attach", "iam_user", ("userName",)),
    "AttachRolePolicy": ("iam_attach", "iam_role", ("roleName",)),
    "AttachGroupPolicy": ("iam_attach", "iam_group", ("groupName",)),
    "PutUserPolicy": ("iam_put_inline", "iam_user", ("userName",)),
    "PutRolePolicy": ("iam_put_inline", "iam_role", ("roleName",)),
    "PutGroupPolicy": ("iam_put_inline", "iam_group", ("groupName",)),
    "AddUserToGroup": ((), "iam_group", ("groupName",)),
    "CreateAccessKey": ((CREDENTIAL_CREATE,), "iam_user", ("userName",)),
    "CreateLoginProfile": ((CREDENTIAL_CREATE,), "iam_user", ("userName",)),
    "UpdateLoginProfile": ((CREDENTIAL_CREATE,), "iam_user", ("userName",)),
    "GetFederationToken": ((CREDENTIAL_CREATE,), "iam_user", ("name",)),
    "CreateServiceSpecificCredential": ((CREDENTIAL_CREATE,), "iam_user", ("userName",)),
    # Organizations: leaving takes the account out of org-wide trails and SCPs
    "LeaveOrganization": ((LOGGING_DISABLE,), "account", ()),
}


def cloudtrail_categories(event_name: str, params: Params | None) -> tuple[tuple[str, ...], str, str]:
    """Categories, resource type and resource name for one CloudTrail call."""
    rule = CLOUDTRAIL.get(event_name)
    if rule is None:
        return (), "", ""
    cats, rtype, keys = rule
    p: Params = params if isinstance(params, Mapping) else {}
    if isinstance(cats, str):
        cats = CONDITIONS[cats](p)
    name = ""
    for k in keys:
        v = p.get(k)
        if v:
            name = _resource_name(v)
            break
    return cats, rtype, name


def _resource_name(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        if "content" in v:  # XML-derived parameters: {"content": "fl-123", "tag": 1}
            return _resource_name(v["content"])
        items = v.get("items")
        if isinstance(items, list):
            ids = [str(i.get("instanceId", "")) for i in items if isinstance(i, dict)]
            return ",".join(i for i in ids if i)
        for k in ("flowLogIds", "FlowLogId"):
            if k in v:
                return _resource_name(v[k])
    if isinstance(v, list):
        return ",".join(_resource_name(x) for x in v)
    return str(v)
