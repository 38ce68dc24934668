"""Azure Activity Log source: whole records built here in the two shapes Azure writes
(diagnostic settings / Event Hub records, and the Activity Log REST API), every
container they arrive in, and the public samples (PROVENANCE.md section 3).

Also: a JSON-lines file mixing CloudTrail, GCP and Azure records is read record
by record, each by its own source.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from auditwatch.streams.reader import read_path, read_stream
from auditwatch.streams.sources import azure_activity, gcp_audit  # noqa: F401  (register the sources)
from auditwatch.streams.sources.base import DeadLetter
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

SUB = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
TENANT = "0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
PORTAL = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
AZ_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
XML = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS = "http://schemas.microsoft.com/identity/claims/"
RG = f"/subscriptions/{SUB}/resourceGroups/orders-prod"


# --------------------------------------------------------------------------- record builders


def user_claims(upn: str = "alice@contoso.com", appid: str = PORTAL,
                oid: str = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d") -> dict[str, Any]:
    """The claims of a person's ARM token, as the Activity Log copies them."""
    return {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": "1709647200", "nbf": "1709647200", "exp": "1709651999",
        "http://schemas.microsoft.com/claims/authnclassreference": "1",
        "aio": "AVQAq/8WAAAAx1y2z3",
        "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
        "appid": appid, "appidacr": "0",
        "idtyp": "user",
        "ipaddr": "198.51.100.7",
        "name": "Alice Example",
        f"{MS}objectidentifier": oid,
        "puid": "10032002F9C78227",
        "rh": "0.AVYAmMLPT0E8Z0WJt5gklmYpOUZIf3kAutdPukPawfj2MBOfABY.",
        f"{MS}scope": "user_impersonation",
        f"{XML}nameidentifier": "JObOiML3N8F8kmgR_C6SWukLJiCe7NdwPt1JyKdMVio",
        f"{MS}tenantid": TENANT,
        f"{XML}name": upn,
        f"{XML}upn": upn,
        "uti": "b1d2WtcbMEWnPgvXMWN6AA",
        "ver": "1.0",
        "xms_tcdt": "1671088307",
    }


def app_claims(appid: str = "3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b",
               oid: str = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", mirid: str | None = None) -> dict[str, Any]:
    """The claims of a service principal's (or managed identity's) app-only token."""
    c: dict[str, Any] = {
        "aud": "https://management.azure.com/",
        "iss": f"https://sts.windows.net/{TENANT}/",
        "iat": "1709647200", "nbf": "1709647200", "exp": "1709733900",
        "aio": "E2NgYPj8",
        "appid": appid, "appidacr": "2",
        f"{MS}identityprovider": f"https://sts.windows.net/{TENANT}/",
        "idtyp": "app",
        f"{MS}objectidentifier": oid,
        "rh": "0.AAAAo-PrcDBbXUOdZ3cW10yhkAUyv929xq5GgSdg65M2OGRFAAA.",
        f"{XML}nameidentifier": oid,
        f"{MS}tenantid": TENANT,
        "uti": "Y-3A0KDIoUmAybfVcngMAA",
        "ver": "1.0",
    }
    if mirid:
        c["xms_mirid"] = mirid
        c["xms_az_rid"] = mirid
    return c


def diag(op: str, result_type: str = "Success", result_signature: str = "Succeeded.", *,
         resource_id: str = f"{RG}/providers/Microsoft.Sql/servers/orders-sql",
         claims: dict[str, Any] | None = None, role: str = "Owner", principal_type: str = "User",
         correlation: str = "0c808bf1-beec-4a23-88d7-ed1a5adcbee6",
         time: str = "2024-03-05T14:22:31.0559464Z", properties: dict[str, Any] | None = None,
         caller_ip: str = "203.0.113.17") -> dict[str, Any]:
    """One record as diagnostic settings deliver it (Event Hub, storage account)."""
    c = user_claims() if claims is None else claims
    return {
        "RoleLocation": "West Europe",
        "time": time,
        "resourceId": resource_id.upper(),
        "operationName": op.upper(),
        "category": "Administrative",
        "resultType": result_type,
        "resultSignature": result_signature,
        "durationMs": "0",
        "callerIpAddress": caller_ip,
        "correlationId": correlation,
        "identity": {
            "authorization": {
                "scope": resource_id,
                "action": op,
                "evidence": {
                    "role": role,
                    "roleAssignmentScope": f"/subscriptions/{SUB}",
                    "roleAssignmentId": "95a6e1077f8c434d9400106e7d9ba68c",
                    "roleDefinitionId": "8e3af657a8ff443ca75c2fe8c4bcb635",
                    "principalId": "f7202482ee084d1c86651b25942e1c59",
                    "principalType": principal_type,
                },
            },
            "claims": c,
        },
        "level": "Information",
        "properties": properties if properties is not None else {
            "statusCode": "OK", "serviceRequestId": None, "eventCategory": "Administrative",
            "entity": resource_id, "message": op, "hierarchy": f"{TENANT}/{SUB}",
        },
        "tenantId": TENANT,
    }


def rest(op: str, status: str = "Succeeded", sub_status: str = "", *,
         resource_id: str = f"{RG}/providers/Microsoft.Sql/servers/orders-sql",
         caller: str = "alice@contoso.com", claims: dict[str, Any] | None = None,
         event_data_id: str = "1c6a8b8e-0f3a-4c1e-9d2b-3e4f5a6b7c8d",
         correlation: str = "0c808bf1-beec-4a23-88d7-ed1a5adcbee6",
         timestamp: str = "2024-03-05T14:22:31.0559464Z",
         properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """One event as the Activity Log REST API / ``az monitor activity-log list`` returns it."""
    provider = op.split("/", 1)[0]
    return {
        "authorization": {"action": op, "scope": resource_id},
        "caller": caller,
        "channels": "Operation",
        "claims": user_claims() if claims is None else claims,
        "correlationId": correlation,
        "description": "",
        "eventDataId": event_data_id,
        "eventName": {"value": "EndRequest", "localizedValue": "End request"},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "eventTimestamp": timestamp,
        "id": f"{resource_id}/events/{event_data_id}/ticks/638452261510559464",
        "level": "Informational",
        "operationId": "7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        "operationName": {"value": op, "localizedValue": op.rsplit("/", 1)[-1].title()},
        "resourceGroupName": "orders-prod",
        "resourceProviderName": {"value": provider, "localizedValue": provider},
        "resourceType": {"value": op.rsplit("/", 1)[0], "localizedValue": op.rsplit("/", 1)[0]},
        "resourceId": resource_id,
        "status": {"value": status, "localizedValue": status},
        "subStatus": {"value": sub_status, "localizedValue": sub_status},
        "submissionTimestamp": "2024-03-05T14:24:02.1234567Z",
        "subscriptionId": SUB,
        "tenantId": TENANT,
        "properties": properties if properties is not None else {
            "eventCategory": "Administrative", "entity": resource_id, "message": op,
            "hierarchy": f"{TENANT}/{SUB}"},
        "httpRequest": {"clientRequestId": "5f6e7d8c-9b0a-4c1d-8e2f-3a4b5c6d7e8f",
                        "clientIpAddress": "203.0.113.17", "method": "DELETE"},
    }


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
    events, dead = read_all(write_lines(tmp_path / "activity.jsonl", [rec]))
    assert dead == []
    assert len(events) == 1
    return events[0]


def epoch(s: str) -> float:
    return datetime.fromisoformat(s).astimezone(UTC).timestamp()


# =========================================================================== one record, in full


def test_diagnostic_record_in_full(tmp_path: Path) -> None:
    rid = f"{RG}/providers/Microsoft.Sql/servers/orders-sql/databases/orders"
    rec = diag("Microsoft.Sql/servers/databases/delete", resource_id=rid)
    e = one(tmp_path, rec)
    assert e.time == pytest.approx(epoch("2024-03-05T14:22:31.055946Z"), abs=1e-6)
    assert e.source.type == "azure-activity" and e.source.line == 1
    assert e.activity == "api" and e.raw == rec
    a = e.action
    assert (a.name, a.service, a.outcome, a.error) == (
        "MICROSOFT.SQL/SERVERS/DATABASES/DELETE", "MICROSOFT.SQL", "success", "")
    assert a.categories == (DATA,)
    assert a.statement == f"MICROSOFT.SQL/SERVERS/DATABASES/DELETE {rid.upper()}"
    assert a.fingerprint == "microsoft.sql/servers/databases/delete"
    r = e.resource
    assert (r.type, r.name, r.database, r.environment) == ("database", rid.upper(), "ORDERS", "")
    act = e.actor
    assert (act.principal, act.principal_type, act.account) == ("alice@contoso.com", "user", SUB)
    assert (act.credential_id, act.application_name) == ("", "Azure Portal")
    assert (act.client_addr, act.session_id) == ("203.0.113.17", "b1d2WtcbMEWnPgvXMWN6AA")
    assert act.tags == {"object-id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "rbac-role": "Owner"}


def test_rest_record_in_full(tmp_path: Path) -> None:
    rid = f"{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/orders-pg"
    rec = rest("Microsoft.DBforPostgreSQL/flexibleServers/delete", resource_id=rid, sub_status="OK")
    e = one(tmp_path, rec)
    assert e.event_id == "az-1c6a8b8e-0f3a-4c1e-9d2b-3e4f5a6b7c8d"
    assert e.time == pytest.approx(epoch("2024-03-05T14:22:31.055946Z"), abs=1e-6)
    assert (e.action.name, e.action.service, e.action.outcome) == (
        "Microsoft.DBforPostgreSQL/flexibleServers/delete", "Microsoft.DBforPostgreSQL", "success")
    assert sorted(e.action.categories) == sorted((DATA, INFRA, BACKUP))
    assert (e.resource.type, e.resource.name) == ("db_server", rid)
    assert (e.actor.principal, e.actor.principal_type, e.actor.client_addr, e.actor.account) == (
        "alice@contoso.com", "user", "203.0.113.17", SUB)


# =========================================================================== taxonomy

SQL = f"{RG}/providers/Microsoft.Sql/servers/orders-sql"
ST = f"{RG}/providers/Microsoft.Storage/storageAccounts/ordersexports"
RSV = f"{RG}/providers/Microsoft.RecoveryServices/vaults/orders-rsv"
KV = f"{RG}/providers/Microsoft.KeyVault/vaults/orders-kv"
CASES: list[tuple[str, str, tuple[str, ...], str]] = [
    ("Microsoft.Sql/servers/databases/delete", f"{SQL}/databases/orders", (DATA,), "database"),
    ("Microsoft.Sql/servers/delete", SQL, (DATA, INFRA, BACKUP), "db_server"),
    ("Microsoft.DBforPostgreSQL/flexibleServers/delete",
     f"{RG}/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg", (DATA, INFRA, BACKUP), "db_server"),
    ("Microsoft.DBforMySQL/flexibleServers/delete",
     f"{RG}/providers/Microsoft.DBforMySQL/flexibleServers/my", (DATA, INFRA, BACKUP), "db_server"),
    ("Microsoft.DBforMySQL/flexibleServers/databases/delete",
     f"{RG}/providers/Microsoft.DBforMySQL/flexibleServers/my/databases/shop", (DATA,), "database"),
    ("Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems/delete",
     (f"{RSV}/backupFabrics/Azure/protectionContainers/IaasVMContainer;iaasvmcontainerv2;orders-prod;vm1/"
      "protectedItems/VM;iaasvmcontainerv2;orders-prod;vm1"), (BACKUP,), "backup_item"),
    ("Microsoft.RecoveryServices/vaults/delete", RSV, (BACKUP,), "backup_vault"),
    ("Microsoft.DataProtection/backupVaults/delete",
     f"{RG}/providers/Microsoft.DataProtection/backupVaults/bv", (BACKUP,), "backup_vault"),
    ("Microsoft.Storage/storageAccounts/delete", ST, (DATA, INFRA), "storage_account"),
    ("Microsoft.Storage/storageAccounts/blobServices/containers/delete",
     f"{ST}/blobServices/default/containers/exports", (DATA,), "bucket"),
    ("Microsoft.Storage/storageAccounts/regenerateKey/action", ST, (CRED,), "storage_account"),
    ("Microsoft.Compute/disks/delete", f"{RG}/providers/Microsoft.Compute/disks/orders-data", (DATA, INFRA), "disk"),
    ("Microsoft.Compute/snapshots/delete", f"{RG}/providers/Microsoft.Compute/snapshots/orders-daily",
     (BACKUP,), "snapshot"),
    ("Microsoft.Compute/virtualMachines/delete", f"{RG}/providers/Microsoft.Compute/virtualMachines/app-1",
     (INFRA,), "instance"),
    ("Microsoft.Resources/subscriptions/resourceGroups/delete", RG, (INFRA, DATA), "resource_group"),
    ("Microsoft.Insights/diagnosticSettings/delete",
     f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/to-siem", (LOGGING,),
     "diagnostic_setting"),
    ("Microsoft.OperationalInsights/workspaces/delete",
     f"{RG}/providers/Microsoft.OperationalInsights/workspaces/siem", (LOGGING, DATA), "log_workspace"),
    ("Microsoft.KeyVault/vaults/delete", KV, (KEY,), "key_vault"),
    ("Microsoft.KeyVault/vaults/keys/delete", f"{KV}/keys/cmek", (KEY,), "kms_key"),
    ("Microsoft.KeyVault/locations/deletedVaults/purge/action",
     f"/subscriptions/{SUB}/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/orders-kv",
     (KEY,), "key_vault"),
    ("Microsoft.Authorization/roleAssignments/write",
     f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
     (PRIV,), "role_assignment"),
    ("Microsoft.Authorization/elevateAccess/action", "/providers/Microsoft.Authorization", (PRIV,), "tenant"),
]
NEGATIVE: list[tuple[str, str]] = [
    ("Microsoft.Sql/servers/databases/write", f"{SQL}/databases/orders"),
    ("Microsoft.Sql/servers/write", SQL),
    ("Microsoft.Compute/virtualMachines/write", f"{RG}/providers/Microsoft.Compute/virtualMachines/app-1"),
    ("Microsoft.Compute/virtualMachines/deallocate/action",
     f"{RG}/providers/Microsoft.Compute/virtualMachines/app-1"),
    ("Microsoft.Insights/diagnosticSettings/write",
     f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/to-siem"),
    ("Microsoft.Storage/storageAccounts/listKeys/action", ST),
    ("Microsoft.Storage/storageAccounts/blobServices/containers/write", f"{ST}/blobServices/default/containers/x"),
    ("Microsoft.Authorization/roleAssignments/delete",
     f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/0b1c2d3e"),
    ("Microsoft.KeyVault/vaults/write", KV),
    ("Microsoft.Resources/deployments/delete", f"{RG}/providers/Microsoft.Resources/deployments/release-42"),
    ("Microsoft.Resources/subscriptions/resourceGroups/write", RG),
    ("Microsoft.RecoveryServices/vaults/write", RSV),
]


@pytest.mark.parametrize("shape", ["diagnostic", "rest"])
@pytest.mark.parametrize("op,rid,cats,rtype", CASES, ids=[c[0] for c in CASES])
def test_mapped_operations(tmp_path: Path, shape: str, op: str, rid: str, cats: tuple[str, ...], rtype: str) -> None:
    rec = diag(op, resource_id=rid) if shape == "diagnostic" else rest(op, resource_id=rid)
    e = one(tmp_path, rec)
    assert sorted(e.action.categories) == sorted(cats)
    assert e.resource.type == rtype
    assert e.action.outcome == "success"
    # the name is kept as written: upper case in diagnostic records
    assert e.action.name == (op.upper() if shape == "diagnostic" else op)


@pytest.mark.parametrize("op,rid", NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_look_alikes_are_not_categorised(tmp_path: Path, op: str, rid: str) -> None:
    for rec in (diag(op, resource_id=rid), rest(op, resource_id=rid)):
        e = one(tmp_path, rec)
        assert e.action.categories == (), rec["operationName"]
        assert e.resource.type == ""


@pytest.mark.parametrize("spelling", [
    "microsoft.resources/subscriptions/resourcegroups/delete",
    "MICROSOFT.RESOURCES/SUBSCRIPTIONS/RESOURCEGROUPS/DELETE",
    "Microsoft.Resources/subscriptions/resourcegroups/delete",
])
def test_operation_name_case_is_folded_for_lookup_only(tmp_path: Path, spelling: str) -> None:
    rec = rest("Microsoft.Resources/subscriptions/resourceGroups/delete", resource_id=RG)
    rec["operationName"]["value"] = spelling
    e = one(tmp_path, rec)
    assert e.action.name == spelling
    assert sorted(e.action.categories) == sorted((INFRA, DATA))


def test_role_assignment_names_the_role_when_the_body_shows_it(tmp_path: Path) -> None:
    rid = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/0b1c2d3e"
    body = {"Id": "0b1c2d3e", "Properties": {
        "PrincipalId": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "PrincipalType": "ServicePrincipal",
        "RoleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "Scope": f"/subscriptions/{SUB}"}}
    started = rest("Microsoft.Authorization/roleAssignments/write", "Started", resource_id=rid,
                   event_data_id="e-started", properties={"requestbody": json.dumps(body),
                                                          "eventCategory": "Administrative"})
    response = {"properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
                                                   "0a1b2c3d-1111-2222-3333-444455556666",
                               "principalId": "p-1", "scope": f"/subscriptions/{SUB}"}}
    custom = rest("Microsoft.Authorization/roleAssignments/write", "Succeeded", "Created", resource_id=rid,
                  event_data_id="e-custom", properties={"responseBody": json.dumps(response)})
    silent = rest("Microsoft.Authorization/roleAssignments/write", resource_id=rid, event_data_id="e-silent")
    events, dead = read_all(write_lines(tmp_path / "a.jsonl", [started, custom, silent]))
    assert dead == []
    assert [e.action.statement for e in events] == [
        f"Microsoft.Authorization/roleAssignments/write {rid} [role=Owner principal=9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d]",
        f"Microsoft.Authorization/roleAssignments/write {rid} [role=0a1b2c3d-1111-2222-3333-444455556666 principal=p-1]",
        f"Microsoft.Authorization/roleAssignments/write {rid}",
    ]
    assert all(e.action.categories == (PRIV,) for e in events)
    assert [e.action.outcome for e in events] == ["unknown", "success", "success"]


# =========================================================================== outcomes


def test_one_operation_written_three_times_counts_once(tmp_path: Path) -> None:
    """Azure writes Start, Accept and Success for one delete: all categorised, one success."""
    op = "Microsoft.Resources/subscriptions/resourceGroups/delete"
    recs = [diag(op, "Start", "Started.", resource_id=RG, time="2024-03-05T14:22:31.0000000Z"),
            diag(op, "Accept", "Accepted.Accepted", resource_id=RG, time="2024-03-05T14:22:31.5000000Z"),
            diag(op, "Success", "Succeeded.", resource_id=RG, time="2024-03-05T14:31:02.0000000Z")]
    events, dead = read_all(write_lines(tmp_path / "a.jsonl", recs))
    assert dead == []
    assert [e.action.outcome for e in events] == ["unknown", "unknown", "success"]
    assert all(sorted(e.action.categories) == sorted((INFRA, DATA)) for e in events)
    assert len({e.event_id for e in events}) == 3
    assert sum(e.succeeded for e in events) == 1


@pytest.mark.parametrize("status,outcome", [
    ("Started", "unknown"), ("Accepted", "unknown"), ("Succeeded", "success"), ("Failed", "failure"),
    ("Canceled", "failure"), ("Active", "unknown"), ("Resolved", "unknown"), ("", "unknown"),
])
def test_rest_status_values(tmp_path: Path, status: str, outcome: str) -> None:
    e = one(tmp_path, rest("Microsoft.Compute/disks/delete", status,
                           resource_id=f"{RG}/providers/Microsoft.Compute/disks/d"))
    assert e.action.outcome == outcome
    assert sorted(e.action.categories) == sorted((DATA, INFRA))


@pytest.mark.parametrize("result_type,signature,outcome", [
    ("Start", "Started.", "unknown"), ("Accept", "Accepted.Created", "unknown"), ("Success", "Succeeded.", "success"),
    ("Succeeded.", "", "success"), ("Failure", "Failed.Conflict", "failure"), ("", "Failed.Forbidden", "failure"),
    ("", "Succeeded.OK", "success"), ("Updated", "", "unknown"),
])
def test_diagnostic_result_types(tmp_path: Path, result_type: str, signature: str, outcome: str) -> None:
    e = one(tmp_path, diag("Microsoft.Sql/servers/delete", result_type, signature))
    assert e.action.outcome == outcome


def test_failed_operation_keeps_categories_and_says_why(tmp_path: Path) -> None:
    msg = {"error": {"code": "ScopeLocked", "message": "The scope 'orders-prod' cannot perform delete operation "
                                                      "because following scope(s) are locked: 'orders-prod'."}}
    rec = diag("Microsoft.Resources/subscriptions/resourceGroups/delete", "Failure", "Failed.Conflict",
               resource_id=RG, properties={"statusCode": "Conflict", "statusMessage": json.dumps(msg),
                                           "eventCategory": "Administrative"})
    e = one(tmp_path, rec)
    assert e.action.outcome == "failure"
    assert e.action.error == ("Failure: Conflict: ScopeLocked: The scope 'orders-prod' cannot perform delete "
                              "operation because following scope(s) are locked: 'orders-prod'.")
    assert sorted(e.action.categories) == sorted((INFRA, DATA))


def test_failed_rest_operation_with_substatus_only(tmp_path: Path) -> None:
    e = one(tmp_path, rest("Microsoft.KeyVault/vaults/delete", "Failed", "Forbidden", resource_id=KV))
    assert (e.action.outcome, e.action.error, e.action.categories) == ("failure", "Failed: Forbidden", (KEY,))


# =========================================================================== identity hints


def test_service_principal(tmp_path: Path) -> None:
    claims = app_claims()
    rec = rest("Microsoft.Sql/servers/delete", caller="3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b", claims=claims)
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type, a.credential_id) == (
        "3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b", "app", "3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b")
    assert a.application_name == "3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b"
    assert a.tags == {"object-id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"}


def test_diagnostic_service_principal_without_caller(tmp_path: Path) -> None:
    rec = diag("Microsoft.Storage/storageAccounts/delete", resource_id=ST, claims=app_claims(),
               role="Contributor", principal_type="ServicePrincipal")
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type, a.credential_id) == (
        "3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b", "app", "3f4e5d6c-7b8a-4998-8a7b-6c5d4e3f2a1b")
    assert a.tags["rbac-role"] == "Contributor"


def test_managed_identity(tmp_path: Path) -> None:
    mi = f"{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/backup-janitor"
    claims = app_claims(mirid=mi)
    del claims["idtyp"]
    rec = diag("Microsoft.Compute/snapshots/delete", resource_id=f"{RG}/providers/Microsoft.Compute/snapshots/s",
               claims=claims, principal_type="ServicePrincipal")
    a = one(tmp_path, rec).actor
    assert a.principal_type == "app"
    assert a.tags["managed-identity"] == mi


def test_azure_cli_user_without_idtyp(tmp_path: Path) -> None:
    claims = user_claims(appid=AZ_CLI)
    del claims["idtyp"]
    rec = diag("Microsoft.Compute/disks/delete", resource_id=f"{RG}/providers/Microsoft.Compute/disks/d",
               claims=claims, principal_type="Group")
    a = one(tmp_path, rec).actor
    assert (a.principal, a.principal_type, a.credential_id, a.application_name) == (
        "alice@contoso.com", "user", "", "Microsoft Azure CLI")


@pytest.mark.parametrize("ptype,expected", [("User", "user"), ("ServicePrincipal", "app"), ("Group", "")])
def test_evidence_principal_type_when_claims_say_nothing(tmp_path: Path, ptype: str, expected: str) -> None:
    rec = diag("Microsoft.Compute/disks/delete", resource_id=f"{RG}/providers/Microsoft.Compute/disks/d",
               claims={"iss": f"https://sts.windows.net/{TENANT}/"}, principal_type=ptype)
    a = one(tmp_path, rec).actor
    assert a.principal_type == expected
    assert a.principal == "f7202482ee084d1c86651b25942e1c59"  # the evidence's principal id, nothing better


def test_platform_event_has_no_actor(tmp_path: Path) -> None:
    rec = {"time": "2024-03-05T14:22:31.498Z",
           "resourceId": f"{RG}/providers/Microsoft.Network/loadBalancers/kubernetes".upper(),
           "correlationId": "55dc161c-c72e-4cb7-b41a-4e7e6835c076",
           "operationName": "Microsoft.Resourcehealth/healthevent/Activated/action", "level": "Critical",
           "resultType": "Active", "category": "ResourceHealth",
           "properties": {"eventCategory": "ResourceHealth", "eventProperties": {"title": "Unavailable"}}}
    e = one(tmp_path, rec)
    assert (e.actor.principal, e.actor.principal_type, e.actor.account) == ("", "", SUB)
    assert (e.action.outcome, e.action.categories) == ("unknown", ())


# =========================================================================== containers

_OPS = [("Microsoft.Sql/servers/delete", SQL, "e-1"),
        ("Microsoft.Compute/virtualMachines/write", f"{RG}/providers/Microsoft.Compute/virtualMachines/app-1", "e-2"),
        ("Microsoft.Insights/diagnosticSettings/delete",
         f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/to-siem", "e-3")]
_CATS = [sorted((DATA, INFRA, BACKUP)), [], [LOGGING]]


def _diags() -> list[dict[str, Any]]:
    return [diag(op, resource_id=rid, correlation=f"corr-{eid}") for op, rid, eid in _OPS]


def _rests() -> list[dict[str, Any]]:
    return [rest(op, resource_id=rid, event_data_id=eid) for op, rid, eid in _OPS]


def _check(events: list[Event]) -> None:
    assert [sorted(e.action.categories) for e in events] == _CATS
    assert all(e.source.type == "azure-activity" for e in events)


def test_records_document(tmp_path: Path) -> None:
    p = tmp_path / "PT1H.json"
    p.write_text(json.dumps({"records": _diags()}, indent=2))
    events, dead = read_all(p)
    assert dead == []
    _check(events)
    assert [e.source.index for e in events] == [0, 1, 2]


def test_records_documents_one_per_line(tmp_path: Path) -> None:
    """An Event Hub capture: one ``{"records": [...]}`` message per line."""
    d = _diags()
    events, dead = read_all(write_lines(tmp_path / "eh.jsonl", [{"records": d[:2]}, {"records": d[2:]}]))
    assert dead == []
    _check(events)
    assert [(e.source.line, e.source.index) for e in events] == [(1, 0), (1, 1), (2, 0)]


def test_json_lines(tmp_path: Path) -> None:
    events, dead = read_all(write_lines(tmp_path / "a.jsonl", _diags()))
    assert dead == []
    _check(events)
    assert [e.source.line for e in events] == [1, 2, 3]


def test_rest_array_from_az_cli(tmp_path: Path) -> None:
    p = tmp_path / "activity.json"
    p.write_text(json.dumps(_rests(), indent=2))
    events, dead = read_all(p)
    assert dead == []
    _check(events)
    assert [e.event_id for e in events] == ["az-e-1", "az-e-2", "az-e-3"]


def test_rest_value_page(tmp_path: Path) -> None:
    p = tmp_path / "page.json"
    p.write_text(json.dumps({"value": _rests(), "nextLink": "https://management.azure.com/...&$skipToken=x"}))
    events, dead = read_all(p)
    assert dead == []
    _check(events)


def test_text_line_before_a_pretty_printed_record(tmp_path: Path) -> None:
    p = tmp_path / "capture.txt"
    p.write_text("Content\n" + json.dumps(_diags()[0], indent=2) + "\n")
    events, dead = read_all(p)
    assert [(d.source.line, d.source.offset, d.reason, d.raw) for d in dead] == [
        (1, 0, "not JSON: text outside any JSON value", "Content\n")]
    assert [(e.source.line, e.source.offset) for e in events] == [(2, 8)]
    assert events[0].raw == _diags()[0]


def test_non_azure_items_in_a_records_document_are_dead_letters(tmp_path: Path) -> None:
    d = _diags()
    p = tmp_path / "PT1H.json"
    p.write_text(json.dumps({"records": [d[0], {"time": "2024-03-05T14:22:31Z"}, "text", d[2]]}))
    events, dead = read_all(p)
    _check_ids = [e.source.index for e in events]
    assert _check_ids == [0, 3]
    assert [(x.source.index, x.reason.split(" (")[0]) for x in dead] == [
        (1, "not an Azure Activity Log record"), (2, "not an Azure Activity Log record")]


def test_malformed_records_are_dead_letters_and_following_records_read(tmp_path: Path) -> None:
    d = _diags()
    bad_time = diag("Microsoft.Sql/servers/delete", time="last tuesday")
    no_op = diag("Microsoft.Sql/servers/delete")
    no_op["operationName"] = ""
    rest_bad = rest("Microsoft.Sql/servers/delete", timestamp="2024-13-45T99:99:99Z")
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join([json.dumps(d[0]), "not json at all", json.dumps(bad_time), json.dumps(no_op),
                            json.dumps(rest_bad), json.dumps(d[2])]) + "\n")
    events, dead = read_all(p, fmt="azure")
    assert [sorted(e.action.categories) for e in events] == [_CATS[0], _CATS[2]]
    got = [(x.source.line, x.reason) for x in dead]
    assert [g[0] for g in got] == [2, 3, 4, 5]
    assert got[0][1] == "not JSON: text outside any JSON value"
    assert got[1][1].startswith("bad time 'last tuesday'")
    assert got[2][1] == "Azure record has no operationName"
    assert got[3][1].startswith("bad eventTimestamp '2024-13-45T99:99:99Z'")


def test_diagnostic_event_ids_follow_content_not_position(tmp_path: Path) -> None:
    d = _diags()
    a, _ = read_all(write_lines(tmp_path / "a.jsonl", [d[0], d[1]]))
    b, _ = read_all(write_lines(tmp_path / "b.jsonl", [d[1], d[0]]))
    assert [e.event_id for e in a] == [e.event_id for e in reversed(b)]
    assert a[0].event_id != a[1].event_id
    assert all(e.event_id.startswith("az-") for e in a)


def test_properties_and_identity_written_as_json_text(tmp_path: Path) -> None:
    rec = diag("Microsoft.Resources/subscriptions/resourceGroups/delete", "Failure", "Failed.Conflict",
               resource_id=RG, properties={"statusCode": "Conflict"})
    rec["properties"] = json.dumps(rec["properties"])
    rec["identity"] = json.dumps(rec["identity"])
    e = one(tmp_path, rec)
    assert e.actor.principal == "alice@contoso.com"
    assert e.action.error == "Failure: Conflict"


# =========================================================================== is_record precision


def test_is_record_claims_only_azure_records() -> None:
    assert azure_activity.is_record(diag("Microsoft.Sql/servers/delete"))
    assert azure_activity.is_record(rest("Microsoft.Sql/servers/delete"))
    cloudtrail = {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket",
                  "eventTime": "2024-03-05T14:22:31Z", "eventID": "x"}
    gcp = {"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog", "methodName": "m"},
           "insertId": "i", "timestamp": "2024-03-05T14:22:31Z", "logName": "projects/p/logs/x"}
    pg = {"timestamp": "2024-03-05 14:22:31.123 UTC", "error_severity": "LOG", "message": "AUDIT: SESSION"}
    k8s = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a", "stage": "ResponseComplete",
           "verb": "delete", "requestReceivedTimestamp": "2024-03-05T14:22:31.000000Z"}
    wrapper = {"python_variable": "x", "record": diag("Microsoft.Sql/servers/delete")}
    for other in (cloudtrail, gcp, pg, k8s, wrapper, [diag("x/delete")], None):
        assert not azure_activity.is_record(other), other


def test_sniffer() -> None:
    assert detect(json.dumps({"records": _diags()}).encode()) == "azure-activity"
    assert detect(json.dumps(_diags()[0]).encode() + b"\n") == "azure-activity"
    assert detect(json.dumps(_rests(), indent=2).encode()) == "azure-activity"
    assert detect(b"Content\n" + json.dumps(_diags()[0], indent=2).encode()) == "azure-activity"


# =========================================================================== mixed sources


def test_json_lines_mixing_cloudtrail_gcp_and_azure(tmp_path: Path) -> None:
    """A SIEM export: every record is read by its own source; an unknown object is a dead letter."""
    cloudtrail = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAJ45Q7YFFAREXAMPLE",
                         "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333",
                         "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "alice"},
        "eventTime": "2024-03-05T14:22:31Z", "eventSource": "rds.amazonaws.com", "eventName": "DeleteDBInstance",
        "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.17", "userAgent": "aws-cli/2.15.21",
        "requestParameters": {"dBInstanceIdentifier": "orders-prod", "skipFinalSnapshot": True},
        "responseElements": None, "requestID": "0f1e2d3c", "eventID": "6d1e2f0a-8c4b-4c55-9d0e-3b2a1f0e9c7d",
        "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
        "recipientAccountId": "111122223333", "eventCategory": "Management",
    }
    gcp = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog", "status": {},
            "authenticationInfo": {"principalEmail": "alice@example.com"},
            "requestMetadata": {"callerIp": "203.0.113.17", "callerSuppliedUserAgent": "google-cloud-sdk",
                                "requestAttributes": {}, "destinationAttributes": {}},
            "serviceName": "storage.googleapis.com", "methodName": "storage.buckets.delete",
            "resourceName": "projects/_/buckets/orders-exports"},
        "insertId": "1x2y3z", "resource": {"type": "gcs_bucket", "labels": {"project_id": "orders-prod-4711"}},
        "timestamp": "2024-03-05T14:22:32.5Z", "severity": "NOTICE",
        "logName": "projects/orders-prod-4711/logs/cloudaudit.googleapis.com%2Factivity",
    }
    azure = diag("Microsoft.Sql/servers/delete", correlation="mixed-1")
    unknown = {"ts": "2024-03-05T14:22:33Z", "msg": "backup finished", "level": "info"}
    p = write_lines(tmp_path / "siem.jsonl", [gcp, azure, unknown, cloudtrail])
    # the file is claimed by the lowest-priority sniffer that matches; records still find their sources
    assert detect(p.read_bytes()) == "cloudtrail"
    events, dead = read_all(p)
    assert [(e.source.line, e.source.type, e.action.name) for e in events] == [
        (1, "gcp-audit", "storage.buckets.delete"),
        (2, "azure-activity", "MICROSOFT.SQL/SERVERS/DELETE"),
        (4, "cloudtrail", "DeleteDBInstance"),
    ]
    assert [e.event_id for e in events][::2] == ["gcp-1x2y3z", "ct-6d1e2f0a-8c4b-4c55-9d0e-3b2a1f0e9c7d"]
    assert [sorted(e.action.categories) for e in events] == [
        sorted((DATA, INFRA)), sorted((DATA, INFRA, BACKUP)), sorted((DATA, INFRA, BACKUP))]
    assert [(d.source.line, json.loads(d.raw)) for d in dead] == [(3, unknown)]
    # the source the file was detected as says the record is not its kind
    assert dead[0].reason == "not a CloudTrail record (no eventName/eventSource)"


def test_mixed_records_from_memory_without_cloudtrail() -> None:
    """No CloudTrail record: the GCP sniffer claims the stream, the Azure record still finds its source
    and an unknown object is dead-lettered with GCP's reason."""
    gcp = {"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                            "methodName": "v1.compute.instances.delete", "serviceName": "compute.googleapis.com",
                            "resourceName": "projects/p/zones/z/instances/i"},
           "insertId": "g1", "timestamp": "2024-03-05T14:22:31Z", "logName": "projects/p/logs/x"}
    data = "\n".join(json.dumps(r) for r in (gcp, {"hello": "world"}, diag("Microsoft.Compute/disks/delete",
                                                                            resource_id=f"{RG}/providers/"
                                                                            "Microsoft.Compute/disks/d"))) + "\n"
    items = list(read_stream(io.BufferedReader(io.BytesIO(data.encode())), "http"))  # type: ignore[arg-type]
    kinds = [(type(i).__name__, i.source.type, i.source.line) for i in items]
    assert kinds == [("Event", "gcp-audit", 1), ("DeadLetter", "gcp-audit", 2), ("Event", "azure-activity", 3)]
    assert items[1].reason == "not a GCP Cloud Audit Log entry (no protoPayload)"  # type: ignore[union-attr]


# =========================================================================== public samples

SAMPLES = "azure-activity-dynatrace-forwarder-fork"


def _sample_dir(corpus: Path) -> Path:
    d = corpus / SAMPLES
    need(d.is_dir(), f"Azure Activity Log samples not found at {d}")
    return d


def test_log3_sample_word_line_then_record(corpus: Path) -> None:
    path = _sample_dir(corpus) / "log3.sh"
    text = path.read_text()
    first, rest_text = text.split("\n", 1)
    assert first == "Content"
    raw = json.loads(rest_text)
    events, dead = read_all(path)
    assert [(d.source.line, d.source.offset, d.reason, d.raw) for d in dead] == [
        (1, 0, "not JSON: text outside any JSON value", "Content\n")]
    assert len(events) == 1
    e = events[0]
    assert (e.source.type, e.source.line, e.source.offset) == ("azure-activity", 2, len("Content\n"))
    assert e.raw == raw
    assert e.action.name == raw["operationName"] == "MICROSOFT.RESOURCES/SUBSCRIPTIONS/RESOURCEGROUPS/DELETE"
    assert (e.action.outcome, e.action.error) == ("success", "")
    assert sorted(e.action.categories) == sorted((INFRA, DATA))
    assert (e.resource.type, e.resource.name) == ("resource_group", raw["resourceId"])
    claims = raw["identity"]["claims"]
    assert e.actor.principal == claims[f"{XML}upn"]
    assert (e.actor.principal_type, e.actor.credential_id) == ("user", "")
    assert e.actor.application_name == "Azure Portal" and claims["appid"] == PORTAL
    assert e.actor.client_addr == raw["callerIpAddress"]
    assert e.actor.account == raw["resourceId"].split("/")[2].lower()
    assert e.actor.tags == {"object-id": claims[f"{MS}objectidentifier"], "rbac-role": "Contributor"}
    assert e.time == pytest.approx(epoch("2023-12-12T12:06:20.055946Z"), abs=1e-6)


def test_extracted_records_sample_as_is_holds_wrappers(corpus: Path) -> None:
    """Each line is ``{"python_variable": ..., "record": {...}}`` (how the records were taken out of
    the upstream test file): not an Azure record, so every line is a dead letter that says so."""
    path = _sample_dir(corpus) / "test_activity_logs_records_extracted.jsonl"
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and all(set(json.loads(ln)) == {"python_variable", "record"} for ln in lines)
    events, dead = read_all(path)
    assert events == []
    assert [(d.source.line, d.reason.split(" (")[0]) for d in dead] == [
        (n, "not an Azure Activity Log record") for n in (1, 2, 3, 4)]


def test_extracted_records_sample(corpus: Path) -> None:
    path = _sample_dir(corpus) / "test_activity_logs_records_extracted.jsonl"
    wrapped = [json.loads(ln) for ln in path.read_text().splitlines()]
    recs = [w["record"] for w in wrapped]
    assert [w["python_variable"] for w in wrapped] == [
        "alert_record", "administrative_record", "policy_record", "resource_health_record"]
    data = "".join(json.dumps(r) + "\n" for r in recs).encode()
    items = list(read_stream(io.BufferedReader(io.BytesIO(data)), str(path)))  # type: ignore[arg-type]
    events = [i for i in items if isinstance(i, Event)]
    assert len(events) == len(items) == 4
    assert [e.raw for e in events] == recs
    assert [e.action.name for e in events] == [r["operationName"] for r in recs]
    assert [e.action.outcome for e in events] == ["success", "failure", "success", "unknown"]
    assert all(e.action.categories == () for e in events)
    alert, admin, policy, health = events
    assert (alert.actor.principal, alert.actor.account) == ("", "69b51384-146c-4685-9dab-5ae01877d7b8")
    assert admin.action.error == ("Failure: NotFound: ResourceGroupNotFound: Resource group 'mw-gr1' could not "
                                  "be found.")
    # a upn in the token means a person, whatever the (synthetic) evidence's principalType says
    assert (admin.actor.principal, admin.actor.principal_type, admin.actor.application_name) == (
        "jan.kowalski@somewhere.com", "user", "Microsoft Azure CLI")
    assert admin.actor.tags["rbac-role"] == "Azure Eventhubs Service Role"
    appid = recs[2]["identity"]["claims"]["appid"]
    assert (policy.actor.principal, policy.actor.principal_type, policy.actor.credential_id) == (
        appid, "app", appid)
    assert health.actor.principal == "" and health.action.outcome == "unknown"
