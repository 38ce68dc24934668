"""Kubernetes API server audit logs: ``audit.k8s.io/v1`` (and ``v1beta1``) ``Event``
objects, one JSON object per line (the log backend, EKS/AKS exports), and the
webhook backend's ``{"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
"items": [...]}`` batches (items usually carry no ``kind``).

Format facts that matter here:

* **One request, several records.** The API server writes a record per stage
  of a request, all with the same ``auditID``: ``RequestReceived``,
  ``ResponseStarted`` (only for long-running requests: watch, exec, attach,
  port-forward, proxy), then ``ResponseComplete``, or ``Panic`` instead when the
  handler crashed. Exactly one auditwatch event is made per request:

  - ordinary requests count at ``ResponseComplete`` / ``Panic`` (the outcome is
    known only then);
  - interactive sessions into pods (``pods/exec``, ``pods/attach``,
    ``pods/portforward``) count at ``ResponseStarted``: that is when the shell
    opened (code 101), and ``ResponseComplete`` follows only when it closes,
    possibly hours later or never if the log is cut. The session's later
    ``ResponseComplete``/``Panic`` is skipped when its ``ResponseStarted`` was
    seen by this process (a bounded memory of auditIDs) and made into the
    event otherwise (an audit policy that omits ``ResponseStarted``). Both carry
    the same ``event_id`` (``k8s-<auditID>``), so a rare double (the two stages
    read by different processes) is recognisable.

  Every record of a stage that makes no event is a valid record, not a dead
  letter: it is counted in ``STAGES_SKIPPED`` (a ``collections.Counter`` keyed
  by stage), nothing is dropped uncounted. A request seen only at
  ``RequestReceived`` (a file cut mid-request, a watch still open) is an
  accepted loss of a duplicate stage.
* **Outcome.** ``responseStatus.code`` 2xx is success, and so is 101 Switching
  Protocols (exec/attach/port-forward/proxy streams: the stream was opened); anything
  else, and every ``Panic``, is a failure with error
  ``"<code> <reason>: <message>"``; no status at all is ``unknown``.
* **Identity.** ``user.username`` is who authenticated. With
  ``impersonatedUser`` (``kubectl --as``) the impersonated user is who acted:
  it becomes the principal, the real caller goes into ``actor.role_chain`` and
  ``actor.tags["impersonated-by"]``; the credential (``credential_id``) stays
  the real caller's, since that is what would be revoked. ``principal_type``
  is ``serviceaccount`` (``system:serviceaccount:ns:name``), ``system`` (other
  ``system:`` users: nodes, controllers, ``system:anonymous``) or ``user``.
  ``user.extra`` is kept in ``actor.tags``; its
  ``authentication.kubernetes.io/credential-id`` (token JTI or certificate
  fingerprint) or EKS's ``accessKeyId`` is the ``credential_id``, EKS's
  ``sessionName``/``arn`` fill ``session_name``/``account``. ``sourceIPs[0]``
  is the client (further entries are proxies, kept in ``tags["source-ips"]``).
* **Resource.** ``objectRef.resource[/subresource]`` is the type; the name is
  ``namespace/name`` (``namespace/*`` for a collection request, the bare name
  for cluster-scoped objects and namespaces). Creates often have no
  ``objectRef.name``: it is taken from the logged request or response object.
  Non-resource requests (``/healthz``) have type ``url`` and the path as name.
* **Time** is ``stageTimestamp`` (when this stage happened), falling back to
  ``requestReceivedTimestamp`` and v1beta1's ``timestamp``.

Categories come from the table in ``detectors/mappings/kubernetes.py``.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from auditwatch.detectors.mappings.kubernetes import (
    DB_POD_HINTS,
    Request,
    kubernetes_categories,
    table_key,
)
from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, ParseContext, stable_id
from auditwatch.streams.sources.json_records import JsonLinesParser
from auditwatch.streams.sources.registry import SourceSpec, register
from auditwatch.timeparse import parse_time

TYPE = "kubernetes-audit"

STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
FINAL_STAGES = frozenset({"ResponseComplete", "Panic"})

# Records of a stage that made no event (see the module docstring), by stage.
STAGES_SKIPPED: Counter[str] = Counter()

# pods/<sub> requests that open an interactive stream: counted when it opens
SESSION_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
# auditIDs of sessions already made into an event at ResponseStarted
_OPENED: OrderedDict[str, None] = OrderedDict()
_OPENED_MAX = 8192

_EXTRA_TAG_MAX = 256  # longer extra values (signed assertions) stay only in raw


def is_record(obj: Any) -> bool:
    """An audit Event: ``kind: Event`` with an auditID and a stage (core ``v1``
    Events, the cluster's own event objects, have neither), or a kind-less
    record as webhook items and some exporters write them."""
    if not isinstance(obj, dict) or "auditID" not in obj or "stage" not in obj:
        return False
    kind = obj.get("kind")
    api = obj.get("apiVersion")
    if api is not None and not (isinstance(api, str) and api.startswith("audit.k8s.io/")):
        return False
    if kind == "Event":
        return True
    return kind is None and "verb" in obj and ("requestURI" in obj or "objectRef" in obj)


def is_event_list(obj: Any) -> bool:
    return (isinstance(obj, dict) and obj.get("kind") == "EventList"
            and str(obj.get("apiVersion", "")).startswith("audit.k8s.io/"))


def normalise(rec: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
    """The event of one audit record, or nothing for a stage that is not counted."""
    if not isinstance(rec, dict):
        raise ParseError(
            f"not a Kubernetes audit event: a JSON {type(rec).__name__}, not an object")
    kind = rec.get("kind", "Event")
    if kind != "Event":
        raise ParseError(f"not a Kubernetes audit event: kind is {kind!r}, expected 'Event'")
    stage = rec.get("stage")
    if stage not in STAGES:
        raise ParseError(
            f"unknown or missing audit stage {stage!r} (expected one of {', '.join(STAGES)})")
    verb = rec.get("verb")
    if not isinstance(verb, str) or not verb:
        raise ParseError("missing verb")
    user = rec.get("user")
    if not isinstance(user, Mapping):
        raise ParseError("missing or malformed user (expected an object)")
    oref = rec.get("objectRef") or {}
    if not isinstance(oref, Mapping):
        raise ParseError("objectRef is not an object")
    resource = str(oref.get("resource") or "")
    sub = str(oref.get("subresource") or "")
    audit_id = str(rec.get("auditID") or "")
    session = resource == "pods" and sub in SESSION_SUBRESOURCES
    t = _time(rec)
    status = rec.get("responseStatus")
    if status is not None and not isinstance(status, Mapping):
        raise ParseError("responseStatus is not an object")
    if not _counts(stage, session, audit_id):
        STAGES_SKIPPED[stage] += 1
        return []
    outcome, error = _outcome(stage, status)

    ns = str(oref.get("namespace") or "")
    group = str(oref.get("apiGroup") or "")
    body, response = rec.get("requestObject"), rec.get("responseObject")
    name = str(oref.get("name") or "") or _object_name(body) or _object_name(response)
    query = parse_qs(urlsplit(str(rec.get("requestURI") or "")).query)
    actor = _actor(rec, user)
    req = Request(verb=verb, resource=resource, group=group, subresource=sub, namespace=ns,
                  name=name, body=body, response=response,
                  containers=tuple(query.get("container", ())), db_hints=_db_hints(ctx))
    cats = kubernetes_categories(req, actor.principal) if resource else ()

    if resource:
        rtype = f"{resource}/{sub}" if sub else resource
        rname = _resource_name(resource, ns, name)
        action_name = f"{verb} {rtype}"
        fingerprint = f"{verb} {table_key(resource, group, sub)}"
    else:
        rtype = "url"
        rname = urlsplit(str(rec.get("requestURI") or "")).path
        action_name = fingerprint = f"{verb} {rname}"
    event_id = (f"k8s-{audit_id}" if audit_id
                else stable_id("k8s", ref.name, ref.offset, ref.index, ref.line))
    return [Event(
        event_id=event_id,
        time=t,
        observed_time=ctx.observed or time.time(),
        source=ref,
        actor=actor,
        action=Action(
            name=action_name,
            service=(group or "core") if resource else "",
            outcome=outcome,  # type: ignore[arg-type]
            error=error,
            categories=cats,
            statement=_statement(action_name, rname if resource else "", req, query, actor),
            fingerprint=fingerprint,
        ),
        resource=Resource(type=rtype, name=rname, environment=ctx.environment),
        activity="api",
        raw=rec,
    )]


def _counts(stage: str, session: bool, audit_id: str) -> bool:
    """Is this the one record of its request that becomes an event?"""
    if stage == "RequestReceived":
        return False
    if not session:
        return stage in FINAL_STAGES
    if stage == "ResponseStarted":
        if audit_id:
            _OPENED[audit_id] = None
            _OPENED.move_to_end(audit_id)
            while len(_OPENED) > _OPENED_MAX:
                _OPENED.popitem(last=False)
        return True
    # the session's end: already an event if its start was seen here
    if audit_id in _OPENED:
        del _OPENED[audit_id]
        return False
    return True


def _time(rec: Mapping[str, Any]) -> float:
    for key in ("stageTimestamp", "requestReceivedTimestamp", "timestamp"):
        v = rec.get(key)
        if v:
            try:
                return parse_time(str(v))
            except ValueError as e:
                raise ParseError(f"bad {key} {v!r}: {e}") from None
    raise ParseError("no stageTimestamp, requestReceivedTimestamp or timestamp")


def _outcome(stage: str, status: Mapping[str, Any] | None) -> tuple[str, str]:
    code = status.get("code") if status else None
    if stage != "Panic":
        if code is None:
            return "unknown", ""
        if isinstance(code, int) and (200 <= code < 300 or code == 101):
            return "success", ""
    reason = str(status.get("reason") or "") if status else ""
    message = str(status.get("message") or "") if status else ""
    head = f"{code if code is not None else 'Panic'} {reason}".strip()
    return "failure", (f"{head}: {message}" if message else head)[:300]


def _actor(rec: Mapping[str, Any], user: Mapping[str, Any]) -> Actor:
    caller = str(user.get("username") or "")
    imp = rec.get("impersonatedUser")
    acting: Mapping[str, Any] = user
    chain: tuple[str, ...] = ()
    tags: dict[str, str] = {}
    if isinstance(imp, Mapping) and imp.get("username"):
        acting = imp
        chain = (caller,)
        tags["impersonated-by"] = caller
        if user.get("groups"):
            tags["impersonated-by-groups"] = _join(user.get("groups"))
    principal = str(acting.get("username") or "")
    if acting.get("groups"):
        tags["groups"] = _join(acting.get("groups"))
    if acting.get("uid"):
        tags["uid"] = str(acting["uid"])
    extra = user.get("extra")  # the real caller's authentication details
    extras: dict[str, str] = {}
    if isinstance(extra, Mapping):
        for k, v in extra.items():
            s = _join(v)
            if s and len(s) <= _EXTRA_TAG_MAX:
                extras[str(k)] = s
    tags.update(extras)
    ips = rec.get("sourceIPs")
    ips = [str(i) for i in ips if i] if isinstance(ips, list) else []
    if len(ips) > 1:
        tags["source-ips"] = ",".join(ips)
    arn = extras.get("canonicalArn") or extras.get("arn") or ""
    return Actor(
        principal=principal,
        principal_type=principal_type(principal),
        account=arn.split(":")[4] if arn.startswith("arn:") and arn.count(":") >= 5 else "",
        credential_id=(extras.get("authentication.kubernetes.io/credential-id")
                       or extras.get("accessKeyId", "")),
        user_agent=str(rec.get("userAgent") or ""),
        client_addr=ips[0] if ips else "",
        session_name=extras.get("sessionName", ""),
        role_chain=chain,
        tags=tags,
    )


def principal_type(username: str) -> str:
    if not username:
        return ""
    if username.startswith("system:serviceaccount:"):
        return "serviceaccount"
    if username.startswith("system:"):
        return "system"
    return "user"


def _join(v: Any) -> str:
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return "" if v is None else str(v)


def _object_name(obj: Any) -> str:
    if isinstance(obj, Mapping):
        md = obj.get("metadata")
        if isinstance(md, Mapping):
            return str(md.get("name") or "")
    return ""


def _resource_name(resource: str, ns: str, name: str) -> str:
    if resource == "namespaces" or not ns:
        return name
    return f"{ns}/{name}" if name else f"{ns}/*"


def _db_hints(ctx: ParseContext) -> tuple[str, ...]:
    v = ctx.extra.get("db_pod_hints")
    if not v:
        return DB_POD_HINTS
    return tuple(h.strip().lower() for h in v.split(",") if h.strip())


def _statement(action_name: str, rname: str, req: Request, query: Mapping[str, list[str]],
               actor: Actor) -> str:
    """A short summary; never request bodies (secrets) and only the program of an exec."""
    bits: list[str] = []
    if req.subresource in SESSION_SUBRESOURCES and req.resource == "pods":
        if query.get("container"):
            bits.append(f"container={query['container'][0]}")
        if query.get("command"):
            bits.append(f"command={query['command'][0].rsplit('/', 1)[-1][:40]}")
    ref = _role_ref(req)
    if ref:
        bits.append(f"roleRef={ref}")
    if "impersonated-by" in actor.tags:
        bits.append(f"impersonated by {actor.tags['impersonated-by']}")
    s = f"{action_name} {rname}".strip()
    return f"{s} ({', '.join(bits)})" if bits else s


def _role_ref(req: Request) -> str:
    if not req.resource.endswith("rolebindings"):
        return ""
    for obj in (req.body, req.response):
        if isinstance(obj, Mapping) and isinstance(obj.get("roleRef"), Mapping):
            r = obj["roleRef"]
            return f"{r.get('kind', '')}/{r.get('name', '')}"
    return ""


def parse_event_list(doc: Mapping[str, Any], ref: SourceRef, ctx: ParseContext) -> list[Item]:
    items = doc.get("items")
    if items is None:
        return []  # an empty EventList may omit items
    if not isinstance(items, list):
        return [DeadLetter("EventList 'items' is not a list", ref, _dump(doc))]
    out: list[Item] = []
    for i, rec in enumerate(items):
        r = SourceRef(TYPE, ref.name, line=ref.line, offset=ref.offset, index=i)
        try:
            out += normalise(rec, r, ctx)
        except ParseError as e:
            out.append(DeadLetter(e.reason, r, _dump(rec)))
        # a wrong type deep in a record must not stop the batch
        except Exception as e:  # noqa: BLE001
            out.append(DeadLetter(f"cannot normalise: {type(e).__name__}: {e}", r, _dump(rec)))
    return out


def _dump(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _document(doc: Any, ref: SourceRef, ctx: ParseContext) -> list[Item] | None:
    return parse_event_list(doc, ref, ctx) if is_event_list(doc) else None


def _sniff(head: bytes) -> bool:
    s = head.lstrip()
    if s[:1] not in (b"{", b"["):
        return False
    return ((b'"auditID"' in s and b'"stage"' in s)
            or (b'"EventList"' in s and b'"audit.k8s.io/' in s))


SPEC = register(SourceSpec(
    name=TYPE,
    sniff=_sniff,
    line_parser=lambda ctx: JsonLinesParser(ctx, only=SPEC),
    is_record=is_record,
    normalise=normalise,
    document=_document,
    priority=60,
    aliases=("k8s", "kubernetes"),
))
