"""AWS CloudTrail: S3-delivered ``{"Records": [...]}`` files (gzipped or not),
JSON arrays, one event per line, and EventBridge envelopes (``detail``).

Normalisation keeps every identity hint CloudTrail offers; the categories come
from the taxonomy table in ``detectors/taxonomy.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from auditwatch.detectors.taxonomy import cloudtrail_categories
from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, ParseContext, stable_id
from auditwatch.streams.sources.json_records import JsonLinesParser
from auditwatch.streams.sources.registry import SourceSpec, register
from auditwatch.timeparse import parse_time

TYPE = "cloudtrail"


def is_record(obj: Any) -> bool:
    return isinstance(obj, dict) and (
        ("eventName" in obj and ("eventSource" in obj or "eventTime" in obj)) or is_insight(obj))


def is_insight(obj: Any) -> bool:
    """CloudTrail Insights events: CloudTrail's own finding of an unusual call rate."""
    return isinstance(obj, dict) and obj.get("eventType") == "AwsCloudTrailInsight" and isinstance(
        obj.get("insightDetails"), dict)


def unwrap(obj: Any) -> Any:
    """EventBridge delivers the CloudTrail record under ``detail``."""
    if isinstance(obj, dict) and "detail" in obj and isinstance(obj["detail"], dict) and (
        "detail-type" in obj or "source" in obj
    ):
        return obj["detail"]
    return obj


def records_of(doc: Any) -> Iterator[tuple[int | None, Any]]:
    """Records inside one parsed JSON document: a file, an array or a single event."""
    if isinstance(doc, dict) and "Records" in doc:
        recs = doc["Records"]
        if not isinstance(recs, list):
            raise ParseError("'Records' is not a list")
        for i, r in enumerate(recs):
            yield i, r
    elif isinstance(doc, list):
        for i, r in enumerate(doc):
            yield i, r
    else:
        yield None, doc


def normalise(rec: Any, ref: SourceRef, ctx: ParseContext) -> Event:
    rec = unwrap(rec)
    if not is_record(rec):
        raise ParseError("not a CloudTrail record (no eventName/eventSource)")
    try:
        t = parse_time(str(rec["eventTime"]))
    except (KeyError, ValueError) as e:
        raise ParseError(f"bad or missing eventTime: {e}") from None
    if is_insight(rec):
        return _insight(rec, t, ref, ctx)
    ui = rec.get("userIdentity") or {}
    if not isinstance(ui, dict):
        raise ParseError("userIdentity is not an object")
    sc = ui.get("sessionContext") or {}
    issuer = sc.get("sessionIssuer") or {} if isinstance(sc, dict) else {}
    arn = str(ui.get("arn") or "")
    utype = str(ui.get("type") or "")
    invoked_by = str(ui.get("invokedBy") or "")
    principal = arn or str(ui.get("principalId") or "") or invoked_by or utype
    session_name = ""
    if ":assumed-role/" in arn:
        session_name = arn.rsplit("/", 1)[-1]
    elif utype == "FederatedUser" and "/" in arn:
        session_name = arn.rsplit("/", 1)[-1]
    chain: tuple[str, ...] = ()
    if isinstance(issuer, dict) and issuer.get("arn"):
        chain = (str(issuer["arn"]),)
    src_identity = ""
    if isinstance(sc, dict):
        src_identity = str(sc.get("sourceIdentity") or "")
    actor = Actor(
        principal=principal,
        principal_type=utype or ("AWSService" if invoked_by else ""),
        account=str(ui.get("accountId") or rec.get("recipientAccountId") or ""),
        credential_id=str(ui.get("accessKeyId") or ""),
        user_agent=str(rec.get("userAgent") or ""),
        client_addr=str(rec.get("sourceIPAddress") or ""),
        session_name=session_name,
        source_identity=src_identity,
        role_chain=chain,
        invoked_by=invoked_by,
    )
    tags = _on_behalf_of(ui)
    if tags:
        actor.tags.update(tags)
    params_ = rec.get("requestParameters")
    if isinstance(params_, dict) and str(rec.get("eventName", "")).startswith(("AssumeRole", "GetFederationToken")):
        # the caller declares who it is for the session it asks for (session tags,
        # SourceIdentity): the same declaration speaks for this call
        for tag in params_.get("tags") or []:
            if isinstance(tag, dict) and str(tag.get("key", "")).lower() in ("agent", "on-behalf-of"):
                actor.tags.setdefault(str(tag["key"]).lower(), str(tag.get("value", "")))
        if params_.get("sourceIdentity") and not actor.source_identity:
            actor.source_identity = str(params_["sourceIdentity"])
        if utype in ("WebIdentityUser", "SAMLUser") and params_.get("roleArn"):
            # no IAM principal yet: the role being assumed is who this is
            actor.role_chain = (str(params_["roleArn"]),)
    name = str(rec.get("eventName"))
    params = rec.get("requestParameters")
    cats, rtype, rname = cloudtrail_categories(name, params if isinstance(params, dict) else None)
    err = rec.get("errorCode")
    outcome = "failure" if err else "success"
    error = ""
    if err:
        msg = str(rec.get("errorMessage") or "")
        error = f"{err}: {msg}"[:300] if msg else str(err)
    action = Action(
        name=name,
        service=str(rec.get("eventSource") or ""),
        outcome=outcome,  # type: ignore[arg-type]
        error=error,
        categories=cats,
        statement=_summary(name, params),
        fingerprint=name,
    )
    resource = Resource(
        type=rtype,
        name=rname or _first_resource(rec),
        environment=ctx.environment,
        region=str(rec.get("awsRegion") or ""),
    )
    eid = rec.get("eventID")
    event_id = f"ct-{eid}" if eid else stable_id("ct", ref.name, ref.offset, ref.index, ref.line)
    return Event(
        event_id=event_id,
        time=t,
        observed_time=ctx.observed or time.time(),
        source=ref,
        actor=actor,
        action=action,
        resource=resource,
        activity="api",
        raw=rec,
    )


def _insight(rec: Mapping[str, Any], t: float, ref: SourceRef, ctx: ParseContext) -> Event:
    d = rec["insightDetails"]
    api = str(d.get("eventName") or "?")
    eid = rec.get("eventID")
    return Event(
        event_id=f"ct-{eid}" if eid else stable_id("ct", ref.name, ref.offset, ref.index, ref.line),
        time=t,
        observed_time=ctx.observed or time.time(),
        source=ref,
        actor=Actor(principal="cloudtrail.amazonaws.com", principal_type="AWSService",
                    account=str(rec.get("recipientAccountId") or ""), invoked_by="cloudtrail.amazonaws.com"),
        action=Action(name=f"Insight:{d.get('insightType', '')}:{d.get('state', '')}",
                      service=str(d.get("eventSource") or ""), outcome="success",
                      statement=f"{d.get('insightType', 'Insight')} {d.get('state', '')} on {api}", fingerprint=api),
        resource=Resource(type="api", name=api, environment=ctx.environment,
                          region=str(rec.get("awsRegion") or "")),
        activity="api",
        raw=rec,
    )


def _on_behalf_of(ui: Mapping[str, Any]) -> dict[str, str]:
    obo = ui.get("onBehalfOf")
    if isinstance(obo, dict) and obo.get("userId"):
        return {"on-behalf-of": str(obo.get("userId"))}
    return {}


def _first_resource(rec: Mapping[str, Any]) -> str:
    res = rec.get("resources")
    if isinstance(res, list) and res and isinstance(res[0], dict):
        return str(res[0].get("ARN") or res[0].get("arn") or "")
    return ""


_SUMMARY_KEYS = (
    "dBInstanceIdentifier", "dBClusterIdentifier", "skipFinalSnapshot", "deleteAutomatedBackups",
    "backupRetentionPeriod", "bucketName", "volumeId", "snapshotId", "name", "trailName",
    "keyId", "pendingWindowInDays", "userName", "roleName", "policyArn", "backupVaultName",
)


def _summary(name: str, params: Any) -> str:
    """A short, literal-free-enough description of the call for humans."""
    if not isinstance(params, dict):
        return name
    bits = [f"{k}={params[k]}" for k in _SUMMARY_KEYS if k in params and params[k] not in (None, "")]
    return f"{name}({', '.join(bits)})" if bits else name


def parse_document(doc: Any, ref: SourceRef, ctx: ParseContext, raw_text: str = "") -> list[Item]:
    out: list[Item] = []
    try:
        recs = list(records_of(doc))
    except ParseError as e:
        return [DeadLetter(e.reason, ref, raw_text)]
    for idx, rec in recs:
        r = SourceRef(ref.type, ref.name, line=ref.line, offset=ref.offset, index=idx)
        try:
            out.append(normalise(rec, r, ctx))
        except ParseError as e:
            out.append(DeadLetter(e.reason, r, orjson.dumps(rec).decode() if not isinstance(rec, str) else rec))
        except Exception as e:  # a wrong type deep in a record must not stop the file
            out.append(DeadLetter(f"cannot normalise: {type(e).__name__}: {e}", r,
                                  orjson.dumps(rec, default=str).decode()))
    return out


def _sniff(head: bytes) -> bool:
    s = head.lstrip()
    if s[:1] not in (b"{", b"["):
        return False
    first = s.split(b"\n", 1)[0]
    return (b'"eventVersion"' in s[:65536] or b'"eventSource"' in s[:65536] or b'"Records"' in s[:200]
            or b'"detail-type"' in first or s.startswith((b"[]", b"[ ]")))


def _document(doc: Any, ref: SourceRef, ctx: ParseContext) -> list[Item] | None:
    if isinstance(doc, dict) and "Records" in doc:
        return parse_document(doc, ref, ctx)
    return None


SPEC = register(SourceSpec(
    name=TYPE,
    sniff=_sniff,
    line_parser=lambda ctx: JsonLinesParser(ctx, only=SPEC),
    is_record=lambda obj: is_record(unwrap(obj)),
    normalise=lambda obj, ref, ctx: [normalise(obj, ref, ctx)],
    document=_document,
    priority=50,
))
