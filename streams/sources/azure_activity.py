"""Azure Activity Log (and Azure Monitor resource-log records in the same envelope).

Inputs read:

* diagnostic settings / Event Hub / storage-account export: ``{"records":
  [...]}`` documents, and the same records one per line. Record fields:
  ``time``, ``resourceId``, ``operationName``, ``category``, ``resultType``,
  ``resultSignature``, ``callerIpAddress``, ``correlationId``, ``level``,
  ``identity.claims`` (the caller's token claims), ``identity.authorization``
  (``action``, ``scope``, ``evidence``: ``role``, ``principalType``,
  ``principalId`` of the role assignment that allowed the call) and
  ``properties`` (object, sometimes JSON text);
* the Activity Log REST API / ``az monitor activity-log list`` shape, an
  array or a ``{"value": [...], "nextLink": ...}`` page: ``eventTimestamp``,
  ``caller``, ``claims``, ``operationName {value, localizedValue}``, ``status
  {value}``, ``subStatus``, ``resourceId``, ``eventDataId``, ``authorization
  {action, scope, role}``, ``httpRequest {clientIpAddress}``, ``properties``;
* pretty-printed records and text around them (``JsonTextParser``): each
  text line outside a JSON value is one dead letter, the records are read.

Format facts that matter:

* One operation writes several events with the same ``correlationId``:
  ``Started``/``Accepted`` (``resultType`` ``Start``/``Accept``), then
  ``Succeeded`` or ``Failed``. All are categorised, but only
  Succeeded/Success is outcome ``success``; Failed/Failure (and Canceled) is
  ``failure``; Started, Accepted and everything else (health events'
  Active/Resolved/Updated) is ``unknown``. Detectors act on ``success`` only,
  so an operation counts once, when it is done.
* ``operationName`` case varies (``MICROSOFT.RESOURCES/SUBSCRIPTIONS/
  RESOURCEGROUPS/DELETE`` in diagnostic records): the look-up folds case,
  ``action.name`` keeps it as written.
* Who: the token claims. ``upn`` (or the long-form ``.../claims/upn``,
  ``.../claims/name``, ``unique_name``), else ``caller``, else the app id.
  ``idtyp`` says user or app; without it, a ``upn`` means a user (app-only
  tokens never carry one), then the evidence's ``principalType``
  (User/ServicePrincipal). For apps ``credential_id`` is the ``appid``; for
  people the ``appid`` is the client they used (``application_name``: the
  portal, Azure CLI, PowerShell by name). ``xms_mirid`` marks a managed
  identity (``tags["managed-identity"]``); ``uti`` (the token's id) is the
  session id; the object id and the RBAC role that allowed the call go to
  ``tags["object-id"]`` and ``tags["rbac-role"]``.
* ``roleAssignments/write`` is always categorised privilege.escalate (the
  Activity Log rarely shows which role); the role is named in the statement
  when the request/response body in ``properties`` shows it.
* Event id: ``az-<eventDataId>`` for REST records; diagnostic records carry no
  id of their own, so theirs is derived from their content (correlation id,
  operation, result, time, resource): the same record read from Event Hub and
  from a storage export gets the same id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from auditwatch.detectors.mappings.azure import assigned_role, azure_categories, role_name
from auditwatch.streams.sources.base import Item, ParseContext, stable_id
from auditwatch.streams.sources.gcp_audit import JsonTextParser
from auditwatch.streams.sources.json_records import dispatch
from auditwatch.streams.sources.registry import SourceSpec, register

from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.timeparse import parse_time

TYPE = "azure-activity"

_XML = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
_MS = "http://schemas.microsoft.com/identity/claims/"
UPN_CLAIMS = (f"{_XML}upn", "upn", f"{_XML}name", "unique_name", "preferred_username")
OID_CLAIMS = (f"{_MS}objectidentifier", "oid")

# First-party client application ids (the same in every tenant).
KNOWN_APPS: dict[str, str] = {
    "c44b4083-3bb0-49c1-b47d-974e53cbdf3c": "Azure Portal",
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46": "Microsoft Azure CLI",
    "1950a258-227b-4e31-a9cf-717495945fc2": "Microsoft Azure PowerShell",
}

_SUCCESS = frozenset({"succeeded", "success"})
_FAILURE = frozenset({"failed", "failure", "canceled", "cancelled"})


# =========================================================================== records


def is_diagnostic(obj: Any) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get("time"), str)
            and isinstance(obj.get("operationName"), str) and isinstance(obj.get("resourceId"), str))


def is_rest(obj: Any) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get("eventTimestamp"), str)
            and isinstance(obj.get("operationName"), (dict, str))
            and ("eventDataId" in obj or "correlationId" in obj or "authorization" in obj))


def is_record(obj: Any) -> bool:
    return is_diagnostic(obj) or is_rest(obj)


def _value(v: Any) -> str:
    """``{"value": x, "localizedValue": y}`` (REST) or a plain string (diagnostic records)."""
    if isinstance(v, Mapping):
        return str(v.get("value") or "")
    return "" if v is None else str(v)


def _object(v: Any) -> Mapping[str, Any]:
    """An object that some exports write as JSON text."""
    if isinstance(v, str) and v.strip().startswith("{"):
        try:
            v = json.loads(v)
        except ValueError:
            return {}
    return v if isinstance(v, Mapping) else {}


def outcome_of(status: str) -> str:
    s = status.strip().rstrip(".").lower()
    if s in _SUCCESS:
        return "success"
    if s in _FAILURE:
        return "failure"
    return "unknown"


def normalise(rec: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
    if is_rest(rec):
        rest = True
    elif is_diagnostic(rec):
        rest = False
    else:
        raise ParseError("not an Azure Activity Log record (diagnostic records need time, operationName "
                         "and resourceId; REST records eventTimestamp and operationName)")
    ts = rec["eventTimestamp"] if rest else rec["time"]
    try:
        t = parse_time(ts)
    except ValueError as e:
        raise ParseError(f"bad {'eventTimestamp' if rest else 'time'} {ts!r}: {e}") from None
    op = _value(rec.get("operationName"))
    if not op:
        raise ParseError("Azure record has no operationName")
    props = _object(rec.get("properties"))
    if rest:
        status, detail = _value(rec.get("status")), _value(rec.get("subStatus"))
        claims = _object(rec.get("claims"))
        authz = _object(rec.get("authorization"))
        evidence = _object(authz.get("evidence"))
        ip = str(_object(rec.get("httpRequest")).get("clientIpAddress") or "")
    else:
        status = str(rec.get("resultType") or "")
        sig = str(rec.get("resultSignature") or "")
        if not status:
            status = sig.split(".", 1)[0]
        detail = sig.split(".", 1)[1] if "." in sig else ""
        identity = _object(rec.get("identity"))
        claims = _object(identity.get("claims"))
        authz = _object(identity.get("authorization"))
        evidence = _object(authz.get("evidence"))
        ip = str(rec.get("callerIpAddress") or "")
    resource_id = str(rec.get("resourceId") or "")
    outcome = outcome_of(status)
    cats, rtype = azure_categories(op)
    action = Action(
        name=op,
        service=_provider(op, resource_id),
        outcome=outcome,  # type: ignore[arg-type]
        error=_error(status, detail, props) if outcome == "failure" else "",
        categories=cats,
        statement=_summary(op, resource_id, props),
        fingerprint=op.lower(),
    )
    resource = Resource(
        type=rtype,
        name=resource_id,
        environment=ctx.environment,
        region=str(props.get("resourceLocation") or rec.get("location") or ""),
        database=_database(resource_id) if rtype == "database" else "",
    )
    if rest and rec.get("eventDataId"):
        event_id = f"az-{rec['eventDataId']}"
    elif rec.get("correlationId"):
        event_id = stable_id("az", rec.get("correlationId"), op.lower(), status.lower(), ts, resource_id.lower())
    else:
        event_id = stable_id("az", ref.name, ref.offset, ref.index, ref.line)
    return [Event(
        event_id=event_id,
        time=t,
        observed_time=ctx.observed or time.time(),
        source=ref,
        actor=_actor(rec, claims, authz, evidence, ip, resource_id),
        action=action,
        resource=resource,
        activity="api",
        raw=rec,
    )]


def _first(claims: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = claims.get(k)
        if v:
            return str(v)
    return ""


def _actor(rec: Mapping[str, Any], claims: Mapping[str, Any], authz: Mapping[str, Any],
           evidence: Mapping[str, Any], ip: str, resource_id: str) -> Actor:
    upn = _first(claims, UPN_CLAIMS)
    appid = str(claims.get("appid") or claims.get("azp") or "")
    oid = _first(claims, OID_CLAIMS) or str(evidence.get("principalId") or "")
    caller = str(rec.get("caller") or "")
    ptype = principal_type(claims, evidence, upn, appid)
    principal = upn or caller or (appid if ptype == "app" else "") or oid
    app_name = KNOWN_APPS.get(appid.lower(), appid)
    actor = Actor(
        principal=principal,
        principal_type=ptype,
        account=_subscription(rec, resource_id),
        credential_id=appid if ptype == "app" else "",
        application_name=app_name,
        client_addr=ip or str(claims.get("ipaddr") or ""),
        session_id=str(claims.get("uti") or ""),
    )
    if oid:
        actor.tags["object-id"] = oid
    role = str(evidence.get("role") or authz.get("role") or "")
    if role:
        actor.tags["rbac-role"] = role
    mirid = claims.get("xms_mirid")
    if mirid:
        actor.tags["managed-identity"] = str(mirid)
    return actor


def principal_type(claims: Mapping[str, Any], evidence: Mapping[str, Any], upn: str, appid: str) -> str:
    idtyp = str(claims.get("idtyp") or "").lower()
    if idtyp in ("user", "app"):
        return idtyp
    if claims.get("xms_mirid"):
        return "app"
    if upn:
        return "user"  # app-only tokens never carry a upn
    ptype = str(evidence.get("principalType") or "").lower()
    if ptype == "user":
        return "user"
    if ptype in ("serviceprincipal", "msi", "managedidentity"):
        return "app"
    return "app" if appid else ""


def _subscription(rec: Mapping[str, Any], resource_id: str) -> str:
    parts = resource_id.split("/")
    if len(parts) > 2 and parts[1].lower() == "subscriptions":
        return parts[2].lower()
    return str(rec.get("subscriptionId") or "").lower()


def _provider(op: str, resource_id: str) -> str:
    """The resource provider namespace (``Microsoft.Sql``), from the operation or the resource id."""
    if "/" in op:
        return op.split("/", 1)[0]
    parts = resource_id.split("/")
    for i, p in enumerate(parts[:-1]):
        if p.lower() == "providers":
            return parts[i + 1]
    return ""


def _database(resource_id: str) -> str:
    parts = resource_id.split("/")
    for i, p in enumerate(parts[:-1]):
        if p.lower() in ("databases", "sqldatabases"):
            return parts[i + 1]
    return ""


def _error(status: str, detail: str, props: Mapping[str, Any]) -> str:
    bits = [status.rstrip(".")]
    code = str(props.get("statusCode") or detail or "")
    if code and code.lower() != status.rstrip(".").lower():
        bits.append(code)
    msg = props.get("statusMessage")
    err = _object(msg).get("error") if isinstance(msg, str) else None
    if isinstance(err, Mapping):
        bits.append(": ".join(str(x) for x in (err.get("code"), err.get("message")) if x))
    elif isinstance(msg, str) and msg:
        bits.append(msg)
    return ": ".join(b for b in bits if b)[:300]


def _summary(op: str, resource_id: str, props: Mapping[str, Any]) -> str:
    s = f"{op} {resource_id}".strip()
    if op.lower() == "microsoft.authorization/roleassignments/write":
        rid, pid = assigned_role(props)
        if rid:
            bits = [f"role={role_name(rid) or rid.rsplit('/', 1)[-1]}"]
            if pid:
                bits.append(f"principal={pid}")
            s += f" [{' '.join(bits)}]"
    return s


# =========================================================================== documents


def _document(doc: Any, ref: SourceRef, ctx: ParseContext) -> list[Item] | None:
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("records"), list):
        recs = doc["records"]
    elif isinstance(doc.get("value"), list) and set(doc) <= {"value", "nextLink"}:
        recs = doc["value"]
    else:
        return None
    out: list[Item] = []
    for i, rec in enumerate(recs):
        out += dispatch(rec, SourceRef(TYPE, ref.name, line=ref.line, offset=ref.offset, index=i), ctx, only=SPEC)
    return out


def _sniff(head: bytes) -> bool:
    s = head.lstrip()
    h = s[:65536]
    if b'"operationName"' not in h:
        return False
    if b'"records"' in s[:200]:
        return True
    return (b'"resourceId"' in h and b'"time"' in h) or b'"eventTimestamp"' in h


SPEC: SourceSpec = register(SourceSpec(
    name=TYPE,
    sniff=_sniff,
    line_parser=lambda ctx: JsonTextParser(ctx, only=SPEC),
    is_record=is_record,
    normalise=normalise,
    document=_document,
    priority=66,
    aliases=("azure",),
))
