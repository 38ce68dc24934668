"""Azure Activity Log ``operationName`` -> taxonomy categories.

Keys are the ARM operation names in lower case: Azure spells the same
operation ``Microsoft.Sql/servers/databases/delete`` in the REST API and
``MICROSOFT.SQL/SERVERS/DATABASES/DELETE`` in diagnostic-settings records, so
the look-up folds case (the event keeps the name as written).

What the categories mean for Azure resources:

* SQL servers, PostgreSQL/MySQL flexible (and single) servers: deleting the
  server deletes its databases *and* their automated backups (a dropped
  server's backups are not kept), so data, infra and backup. Deleting one
  Azure SQL database is data only: its backups stay restorable for the
  retention period.
* Recovery Services / Backup vaults and protected items are backups.
* A resource group delete takes everything in it: infra and data.
* ``roleAssignments/write`` is always an escalation: the Activity Log shows
  the role only in the request/response body (when at all), so every
  assignment counts; the role name, when visible, goes into the statement
  (``ROLE_DEFINITIONS`` names the ones that hand over the subscription).
  ``elevateAccess/action`` makes a Global Administrator User Access
  Administrator of every subscription.
* Key Vault: deleting a vault (or purging a deleted one) destroys its keys.
  Key Vault's own resource logs (category ``AuditEvent``, same envelope) name
  data-plane operations without a provider prefix: ``KeyDelete``,
  ``KeyPurge``, ``VaultDelete``.

Not categorised (no request body in the Activity Log to tell): writes of
diagnostic settings, storage lifecycle policies, backup policies and vault
soft-delete configuration; ``listKeys``/``listAccountSas`` (reads of existing
credentials, called constantly by portals and tools).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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

# lower-case operation name -> (categories, resource type)
AzureRule = tuple[tuple[str, ...], str]

_SERVER_GONE = (DATA_DESTROY, INFRA_DESTROY, BACKUP_DESTROY)
_PROTECTED_ITEM = "microsoft.recoveryservices/vaults/backupfabrics/protectioncontainers/protecteditems"

OPERATIONS: dict[str, AzureRule] = {
    # databases
    "microsoft.sql/servers/delete": (_SERVER_GONE, "db_server"),
    "microsoft.sql/servers/databases/delete": ((DATA_DESTROY,), "database"),
    "microsoft.sql/managedinstances/delete": (_SERVER_GONE, "db_server"),
    "microsoft.sql/managedinstances/databases/delete": ((DATA_DESTROY,), "database"),
    "microsoft.dbforpostgresql/flexibleservers/delete": (_SERVER_GONE, "db_server"),
    "microsoft.dbforpostgresql/flexibleservers/databases/delete": ((DATA_DESTROY,), "database"),
    "microsoft.dbforpostgresql/servers/delete": (_SERVER_GONE, "db_server"),
    "microsoft.dbformysql/flexibleservers/delete": (_SERVER_GONE, "db_server"),
    "microsoft.dbformysql/flexibleservers/databases/delete": ((DATA_DESTROY,), "database"),
    "microsoft.dbformysql/servers/delete": (_SERVER_GONE, "db_server"),
    "microsoft.documentdb/databaseaccounts/delete": ((DATA_DESTROY, INFRA_DESTROY), "db_account"),
    "microsoft.documentdb/databaseaccounts/sqldatabases/delete": ((DATA_DESTROY,), "database"),
    "microsoft.documentdb/databaseaccounts/sqldatabases/containers/delete": ((DATA_DESTROY,), "table"),
    # backups
    f"{_PROTECTED_ITEM}/delete": ((BACKUP_DESTROY,), "backup_item"),
    "microsoft.recoveryservices/vaults/delete": ((BACKUP_DESTROY,), "backup_vault"),
    "microsoft.dataprotection/backupvaults/delete": ((BACKUP_DESTROY,), "backup_vault"),
    "microsoft.dataprotection/backupvaults/backupinstances/delete": ((BACKUP_DESTROY,), "backup_item"),
    "microsoft.compute/snapshots/delete": ((BACKUP_DESTROY,), "snapshot"),
    "microsoft.compute/restorepointcollections/delete": ((BACKUP_DESTROY,), "restore_point"),
    # storage
    "microsoft.storage/storageaccounts/delete": ((DATA_DESTROY, INFRA_DESTROY), "storage_account"),
    "microsoft.storage/storageaccounts/blobservices/containers/delete": ((DATA_DESTROY,), "bucket"),
    "microsoft.storage/storageaccounts/fileservices/shares/delete": ((DATA_DESTROY,), "file_share"),
    "microsoft.storage/storageaccounts/regeneratekey/action": ((CREDENTIAL_CREATE,), "storage_account"),
    # compute
    "microsoft.compute/disks/delete": ((DATA_DESTROY, INFRA_DESTROY), "disk"),
    "microsoft.compute/virtualmachines/delete": ((INFRA_DESTROY,), "instance"),
    "microsoft.compute/virtualmachinescalesets/delete": ((INFRA_DESTROY,), "instance_group"),
    "microsoft.containerservice/managedclusters/delete": ((INFRA_DESTROY,), "cluster"),
    "microsoft.resources/subscriptions/resourcegroups/delete": ((INFRA_DESTROY, DATA_DESTROY),
                                                                "resource_group"),
    # logging
    "microsoft.insights/diagnosticsettings/delete": ((LOGGING_DISABLE,), "diagnostic_setting"),
    "microsoft.insights/logprofiles/delete": ((LOGGING_DISABLE,), "log_profile"),
    "microsoft.aadiam/diagnosticsettings/delete": ((LOGGING_DISABLE,), "diagnostic_setting"),
    "microsoft.operationalinsights/workspaces/delete": ((LOGGING_DISABLE, DATA_DESTROY), "log_workspace"),
    # keys
    "microsoft.keyvault/vaults/delete": ((KEY_DESTROY,), "key_vault"),
    "microsoft.keyvault/vaults/keys/delete": ((KEY_DESTROY,), "kms_key"),
    "microsoft.keyvault/locations/deletedvaults/purge/action": ((KEY_DESTROY,), "key_vault"),
    "keydelete": ((KEY_DESTROY,), "kms_key"),  # Key Vault AuditEvent resource logs
    "keypurge": ((KEY_DESTROY,), "kms_key"),
    "vaultdelete": ((KEY_DESTROY,), "key_vault"),
    # authorization
    "microsoft.authorization/roleassignments/write": ((PRIVILEGE_ESCALATE,), "role_assignment"),
    "microsoft.authorization/elevateaccess/action": ((PRIVILEGE_ESCALATE,), "tenant"),
}

# Built-in role definition ids (the same in every tenant) that hand over control.
ROLE_DEFINITIONS: dict[str, str] = {
    "8e3af657a8ff443ca75c2fe8c4bcb635": "Owner",
    "b24988ac618042a0ab8820f7382dd24c": "Contributor",
    "18d7d88dd35e4fb5a5c37773c20a72d9": "User Access Administrator",
}


def azure_categories(operation: str) -> tuple[tuple[str, ...], str]:
    """Categories and resource type for one operation name (any case)."""
    rule = OPERATIONS.get(operation.strip().lower())
    return rule if rule is not None else ((), "")


def role_name(role_definition_id: str) -> str:
    """A built-in role's name from its id (a GUID or a full ARM id, dashes optional)."""
    guid = role_definition_id.rstrip("/").rsplit("/", 1)[-1].replace("-", "").lower()
    return ROLE_DEFINITIONS.get(guid, "")


def assigned_role(properties: Any) -> tuple[str, str]:
    """(role definition id, principal id) of a role assignment, from the request or response
    body the Activity Log copies into ``properties`` (as a JSON string), if it does."""
    if not isinstance(properties, Mapping):
        return "", ""
    for key, body in properties.items():
        if str(key).lower() not in ("requestbody", "responsebody"):
            continue
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except ValueError:
                continue
        if not isinstance(body, Mapping):
            continue
        inner = next((v for k, v in body.items() if str(k).lower() == "properties"), body)
        if not isinstance(inner, Mapping):
            continue
        fields = {str(k).lower(): v for k, v in inner.items()}
        rid = fields.get("roledefinitionid")
        if isinstance(rid, str) and rid:
            return rid, str(fields.get("principalid") or "")
    return "", ""
