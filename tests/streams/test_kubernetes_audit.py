"""Kubernetes audit source: stage de-duplication, outcome, identity, resource
names, the category table, malformed input, EventList batches, and the real
public samples (../shared/corpus, PROVENANCE.md section 4), read in place.

Every count asserted on a sample is first established independently here
(plain ``json``/``gzip`` over the same file and the stage rule written out
again), then compared with what auditwatch produces.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pytest

from auditwatch.detectors.mappings.kubernetes import KUBERNETES, is_db_name, table_key
from auditwatch.detectors.taxonomy import DESTRUCTIVE
from auditwatch.model import Event, SourceRef
from auditwatch.streams.reader import read_path, read_stream
from auditwatch.streams.sources import kubernetes_audit as k8s  # registers the source
from auditwatch.streams.sources.base import DeadLetter, ParseContext
from auditwatch.streams.sources.registry import SOURCES, canonical, detect, record_source
from tests.conftest import need

DATA = "data.destroy"
BACKUP = "backup.destroy"
LOGGING = "logging.disable"
PRIV = "privilege.escalate"
CRED = "credential.create"
INFRA = "infra.destroy"
EXEC = "exec.dangerous"

RBAC = "rbac.authorization.k8s.io"
NO_STAGE = ("unknown or missing audit stage None "
            "(expected one of RequestReceived, ResponseStarted, ResponseComplete, Panic)")
SNAP = "snapshot.storage.k8s.io"
_ids = itertools.count(1)


def epoch(s: str) -> float:
    return datetime.fromisoformat(s).astimezone(UTC).timestamp()


def new_id() -> str:
    return f"00000000-0000-4000-8000-{next(_ids):012d}"


def k8s_event(verb: str, resource: str = "", *, ns: str = "", name: str = "", group: str = "",
              sub: str = "", stage: str = "ResponseComplete", code: int | None = None,
              user: dict[str, Any] | None = None, body: Any = None, response: Any = None,
              audit_id: str = "", uri: str = "", status: dict[str, Any] | None = None,
              stamp: str = "2024-05-02T10:15:30.250000Z", **more: Any) -> dict[str, Any]:
    """A whole audit.k8s.io/v1 Event as the log backend writes it."""
    if not uri:
        base = f"/apis/{group}/v1" if group else "/api/v1"
        path = base + (f"/namespaces/{ns}" if ns and resource != "namespaces" else "") + f"/{resource}"
        uri = path + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")
    rec: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse" if body is not None else "Metadata",
        "auditID": audit_id or new_id(),
        "stage": stage,
        "requestURI": uri,
        "verb": verb,
        "user": user or {"username": "alice@example.com", "uid": "u-1234",
                         "groups": ["dev-admins", "system:authenticated"]},
        "sourceIPs": ["10.20.30.40"],
        "userAgent": "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        "requestReceivedTimestamp": "2024-05-02T10:15:30.100000Z",
        "stageTimestamp": stamp,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": ""},
    }
    if resource:
        ref: dict[str, Any] = {"resource": resource, "apiVersion": "v1"}
        if ns:
            ref["namespace"] = ns
        if name:
            ref["name"] = name
        if group:
            ref["apiGroup"] = group
        if sub:
            ref["subresource"] = sub
        rec["objectRef"] = ref
    if stage != "RequestReceived":
        if status is None:
            status = {"metadata": {}, "code": code or (201 if verb == "create" else 200)}
        rec["responseStatus"] = status
    if body is not None:
        rec["requestObject"] = body
    if response is not None:
        rec["responseObject"] = response
    rec.update(more)
    return rec


def ctx(**extra: str) -> ParseContext:
    return ParseContext("test.log", environment="", observed=1_700_000_000.0, extra=dict(extra))


def one(rec: dict[str, Any], **extra: str) -> Event:
    items = k8s.normalise(rec, SourceRef(k8s.TYPE, "test.log", line=1, offset=0), ctx(**extra))
    assert len(items) == 1 and isinstance(items[0], Event), items
    return items[0]


def lines(*recs: Any) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in recs)


def read_bytes(data: bytes, fmt: str = "auto") -> list[Any]:
    return list(read_stream(io.BufferedReader(io.BytesIO(data)), "test.log", fmt))  # type: ignore[arg-type]


def split(items: list[Any]) -> tuple[list[Event], list[DeadLetter]]:
    events = [i for i in items if isinstance(i, Event)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert len(events) + len(dead) == len(items)
    return events, dead


class Skipped:
    """The change of ``STAGES_SKIPPED`` across a block (the counter is process-wide)."""

    def __enter__(self) -> Self:
        self.before = Counter(k8s.STAGES_SKIPPED)
        return self

    def __exit__(self, *a: object) -> None:
        self.delta = Counter(k8s.STAGES_SKIPPED)
        self.delta.subtract(self.before)
        self.delta = +self.delta


# ====================================================================== registration


def test_registered_with_aliases_and_claims_only_audit_events() -> None:
    assert "kubernetes-audit" in SOURCES
    assert canonical("k8s") == canonical("kubernetes") == "kubernetes-audit"
    assert k8s.is_record(k8s_event("get", "pods", ns="default", name="web-1"))
    # webhook items carry no kind/apiVersion
    item = k8s_event("get", "pods", ns="default", name="web-1")
    del item["kind"], item["apiVersion"]
    assert k8s.is_record(item)
    core_event = {"kind": "Event", "apiVersion": "v1", "metadata": {"name": "web-1.17a"},
                  "involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "Killing",
                  "type": "Normal", "message": "Stopping container web"}
    cloudtrail = {"eventVersion": "1.08", "eventSource": "rds.amazonaws.com", "eventName": "DeleteDBInstance",
                  "eventTime": "2024-05-02T10:15:30Z", "userIdentity": {"type": "IAMUser"}}
    pg_json = {"timestamp": "2024-05-02 10:15:30.100 UTC", "user": "app", "error_severity": "LOG",
               "message": "statement: DROP TABLE t"}
    for obj in (core_event, cloudtrail, pg_json, {"kind": 0}, {"kind": "EventList", "items": []}, [], "x"):
        assert not k8s.is_record(obj), obj
    assert record_source(k8s_event("delete", "secrets", ns="a", name="b")) is SOURCES["kubernetes-audit"]
    assert record_source(core_event) is None


def test_sniffs_json_lines_and_event_lists_but_not_other_sources() -> None:
    assert detect(lines(k8s_event("get", "pods", ns="default"))) == "kubernetes-audit"
    lst = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": []}
    assert detect(json.dumps(lst, indent=2).encode()) == "kubernetes-audit"
    assert not k8s._sniff(b'{"kind": 0}')
    assert not k8s._sniff(b'{"Records": [{"eventVersion": "1.08", "eventName": "DeleteBucket"}]}')
    assert not k8s._sniff(b"2024-05-02 10:15:30 UTC [12] LOG:  statement: select 1\n")


# ====================================================================== stages


def test_a_request_at_several_stages_is_one_event_and_the_rest_are_counted() -> None:
    aid = new_id()
    rr = k8s_event("delete", "namespaces", ns="shop", name="shop", stage="RequestReceived", audit_id=aid,
                   stamp="2024-05-02T10:15:30.100000Z")
    rc = k8s_event("delete", "namespaces", ns="shop", name="shop", audit_id=aid)
    with Skipped() as s:
        events, dead = split(read_bytes(lines(rr, rc)))
    assert dead == []
    assert [e.event_id for e in events] == [f"k8s-{aid}"]
    assert events[0].source.line == 2  # the ResponseComplete record
    assert events[0].time == epoch("2024-05-02T10:15:30.250000Z")
    assert s.delta == Counter({"RequestReceived": 1})


def test_watch_counts_at_response_complete_and_its_response_started_is_counted_as_skipped() -> None:
    aid = new_id()
    recs = [k8s_event("watch", "pods", ns="default", stage=st, audit_id=aid)
            for st in ("RequestReceived", "ResponseStarted", "ResponseComplete")]
    with Skipped() as s:
        events, dead = split(read_bytes(lines(*recs)))
    assert dead == [] and len(events) == 1 and events[0].source.line == 3
    assert s.delta == Counter({"RequestReceived": 1, "ResponseStarted": 1})
    # a watch still open when the file was cut: no event, both stages counted
    aid2 = new_id()
    with Skipped() as s2:
        events2 = list(read_bytes(lines(*[k8s_event("watch", "pods", stage=st, audit_id=aid2)
                                          for st in ("RequestReceived", "ResponseStarted")])))
    assert events2 == []
    assert s2.delta == Counter({"RequestReceived": 1, "ResponseStarted": 1})


def exec_stages(aid: str, *stages: str, pod: str = "postgres-0", ns: str = "billing",
                code: int = 101) -> list[dict[str, Any]]:
    uri = f"/api/v1/namespaces/{ns}/pods/{pod}/exec?command=psql&container=postgres&stdin=true&tty=true"
    starts = {"RequestReceived": "2024-05-02T10:15:30.100000Z", "ResponseStarted": "2024-05-02T10:15:30.200000Z",
              "ResponseComplete": "2024-05-02T11:42:07.900000Z", "Panic": "2024-05-02T11:42:07.900000Z"}
    return [k8s_event("create", "pods", ns=ns, name=pod, sub="exec", stage=st, audit_id=aid, uri=uri,
                      code=code, stamp=starts[st]) for st in stages]


def test_an_exec_session_counts_when_it_opens_not_when_it_closes() -> None:
    aid = new_id()
    with Skipped() as s:
        events, dead = split(read_bytes(lines(*exec_stages(aid, "RequestReceived", "ResponseStarted",
                                                          "ResponseComplete"))))
    assert dead == [] and len(events) == 1
    e = events[0]
    assert e.event_id == f"k8s-{aid}" and e.source.line == 2
    assert e.time == epoch("2024-05-02T10:15:30.200000Z")  # the shell opened then
    assert e.action.outcome == "success" and e.action.categories == (EXEC,)
    assert e.action.statement == "create pods/exec billing/postgres-0 (container=postgres, command=psql)"
    assert s.delta == Counter({"RequestReceived": 1, "ResponseComplete": 1})


def test_an_exec_whose_start_was_not_logged_counts_at_its_end() -> None:
    aid = new_id()  # e.g. an audit policy with omitStages: [RequestReceived, ResponseStarted]
    with Skipped() as s:
        events = split(read_bytes(lines(*exec_stages(aid, "ResponseComplete"))))[0]
    assert [e.event_id for e in events] == [f"k8s-{aid}"]
    assert events[0].action.categories == (EXEC,) and events[0].action.outcome == "success"
    assert s.delta == Counter()


def test_panic_is_a_failure_and_replaces_response_complete() -> None:
    st = {"metadata": {}, "status": "Failure", "reason": "InternalError", "code": 500,
          "message": "APIServer panic'd: runtime error: invalid memory address or nil pointer dereference"}
    e = one(k8s_event("delete", "persistentvolumeclaims", ns="billing", name="data-postgres-0",
                      stage="Panic", status=st))
    assert e.action.outcome == "failure"
    assert e.action.error == ("500 InternalError: APIServer panic'd: runtime error: invalid memory address "
                              "or nil pointer dereference")
    assert e.action.categories == (DATA,)
    # a panic of an exec session already counted at ResponseStarted is not a second event
    aid = new_id()
    with Skipped() as s:
        events = split(read_bytes(lines(*exec_stages(aid, "ResponseStarted", "Panic"))))[0]
    assert len(events) == 1 and events[0].source.line == 1
    assert s.delta == Counter({"Panic": 1})


# ====================================================================== outcome


@pytest.mark.parametrize("code,outcome", [(200, "success"), (201, "success"), (202, "success"),
                                          (101, "success"), (403, "failure"), (404, "failure"),
                                          (409, "failure"), (500, "failure")])
def test_outcome_by_status_code(code: int, outcome: str) -> None:
    e = one(k8s_event("delete", "secrets", ns="billing", name="db-password", code=code))
    assert e.action.outcome == outcome
    assert e.action.categories == (DATA,)  # kept on failures: they never count as done, but show intent
    assert (e.action.error == "") == (outcome == "success")


def test_failed_calls_keep_categories_and_say_why() -> None:
    forbidden = {"metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403,
                 "details": {"name": "prod", "kind": "namespaces"},
                 "message": 'namespaces "prod" is forbidden: User "ci-bot" cannot delete resource "namespaces" '
                            'in API group "" in the namespace "prod"'}
    e = one(k8s_event("delete", "namespaces", ns="prod", name="prod", status=forbidden,
                      user={"username": "ci-bot", "groups": ["system:authenticated"]}))
    assert e.action.outcome == "failure"
    assert e.action.categories == (DATA, INFRA)
    assert e.action.error == ('403 Forbidden: namespaces "prod" is forbidden: User "ci-bot" cannot delete '
                              'resource "namespaces" in API group "" in the namespace "prod"')
    nf = one(k8s_event("delete", "volumesnapshots", group=SNAP, ns="billing", name="nightly",
                       status={"metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404,
                               "message": 'volumesnapshots.snapshot.storage.k8s.io "nightly" not found'}))
    assert (nf.action.outcome, nf.action.categories) == ("failure", (BACKUP,))
    assert nf.action.error == '404 NotFound: volumesnapshots.snapshot.storage.k8s.io "nightly" not found'
    # an exec refused before the stream opened
    denied = one(exec_stages(new_id(), "ResponseStarted", code=403)[0])
    assert (denied.action.outcome, denied.action.categories, denied.action.error) == ("failure", (EXEC,), "403")
    # no status at all: not known to have happened
    rec = k8s_event("delete", "secrets", ns="a", name="b")
    del rec["responseStatus"]
    assert one(rec).action.outcome == "unknown"


# ====================================================================== identity


def test_identity_hints_are_kept() -> None:
    user = {"username": "system:serviceaccount:ci:deployer", "uid": "6b1f3c2e-3f0a-4a8c-9b1e-1d2c3b4a5f6e",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": ["JTI=3a0d5f6b-8c1e-4e8f-9d2a-7b6c5d4e3f2a"],
                      "authentication.kubernetes.io/pod-name": ["deployer-7d9f8-abcde"],
                      "authentication.kubernetes.io/node-name": ["ip-10-0-1-23.ec2.internal"]}}
    e = one(k8s_event("delete", "deployments", group="apps", ns="shop", name="web", user=user,
                      sourceIPs=["10.0.1.23", "10.0.0.1"], userAgent="argocd-application-controller/v2.10.4"))
    a = e.actor
    assert a.principal == "system:serviceaccount:ci:deployer" and a.principal_type == "serviceaccount"
    assert a.credential_id == "JTI=3a0d5f6b-8c1e-4e8f-9d2a-7b6c5d4e3f2a"
    assert a.user_agent == "argocd-application-controller/v2.10.4"
    assert a.client_addr == "10.0.1.23"
    assert a.role_chain == ()
    assert a.tags["source-ips"] == "10.0.1.23,10.0.0.1"
    assert a.tags["authentication.kubernetes.io/pod-name"] == "deployer-7d9f8-abcde"
    assert a.tags["groups"] == "system:serviceaccounts,system:serviceaccounts:ci,system:authenticated"
    assert a.tags["uid"] == "6b1f3c2e-3f0a-4a8c-9b1e-1d2c3b4a5f6e"
    assert e.action.categories == (INFRA,)


@pytest.mark.parametrize("username,ptype", [
    ("system:serviceaccount:kube-system:replicaset-controller", "serviceaccount"),
    ("system:kube-controller-manager", "system"),
    ("system:node:ip-10-0-1-23", "system"),
    ("system:anonymous", "system"),
    ("minikube-user", "user"),
    ("alice@example.com", "user"),
    ("systemd-admin", "user"),  # not the system: prefix
    ("", ""),
])
def test_principal_type(username: str, ptype: str) -> None:
    assert one(k8s_event("get", "pods", ns="a", user={"username": username})).actor.principal_type == ptype


def test_time_falls_back_to_request_received_and_v1beta1_timestamp() -> None:
    rec = k8s_event("delete", "secrets", ns="a", name="b")
    del rec["stageTimestamp"]
    assert one(rec).time == epoch("2024-05-02T10:15:30.100000Z")
    del rec["requestReceivedTimestamp"]
    rec["timestamp"] = "2018-10-26T13:00:25Z"  # audit.k8s.io/v1beta1
    assert one(rec).time == epoch("2018-10-26T13:00:25Z")
    del rec["timestamp"]
    with pytest.raises(k8s.ParseError, match="no stageTimestamp, requestReceivedTimestamp or timestamp"):
        k8s.normalise(rec, SourceRef(k8s.TYPE, "t"), ctx())


def test_impersonation_makes_the_impersonated_user_the_principal() -> None:
    user = {"username": "alice@example.com", "groups": ["dev-admins", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": ["X509SHA256=9f86d081884c7d65"]}}
    imp = {"username": "system:serviceaccount:billing:db-operator", "groups": ["system:serviceaccounts"]}
    e = one(k8s_event("delete", "persistentvolumeclaims", ns="billing", name="data-postgres-0", user=user,
                      impersonatedUser=imp))
    a = e.actor
    assert a.principal == "system:serviceaccount:billing:db-operator"
    assert a.principal_type == "serviceaccount"
    assert a.role_chain == ("alice@example.com",)
    assert a.tags["impersonated-by"] == "alice@example.com"
    assert a.tags["impersonated-by-groups"] == "dev-admins,system:authenticated"
    assert a.tags["groups"] == "system:serviceaccounts"
    assert a.credential_id == "X509SHA256=9f86d081884c7d65"  # the real caller's: that is what to revoke
    assert e.action.categories == (DATA,)
    assert "impersonated by alice@example.com" in e.action.statement


def test_eks_authenticator_extras() -> None:
    user = {"username": "arn:aws:sts::111122223333:assumed-role/PlatformAdmin/agent-run-42",
            "uid": "aws-iam-authenticator:111122223333:AROAEXAMPLEID",
            "groups": ["system:masters", "system:authenticated"],
            "extra": {"accessKeyId": ["ASIAEXAMPLEKEY"],
                      "arn": ["arn:aws:sts::111122223333:assumed-role/PlatformAdmin/agent-run-42"],
                      "canonicalArn": ["arn:aws:iam::111122223333:role/PlatformAdmin"],
                      "principalId": ["AROAEXAMPLEID"], "sessionName": ["agent-run-42"]}}
    a = one(k8s_event("delete", "statefulsets", group="apps", ns="billing", name="postgres", user=user)).actor
    assert (a.credential_id, a.session_name, a.account) == ("ASIAEXAMPLEKEY", "agent-run-42", "111122223333")
    assert a.tags["canonicalArn"] == "arn:aws:iam::111122223333:role/PlatformAdmin"


def test_long_opaque_extras_stay_only_in_raw() -> None:
    user = {"username": "bob@example.com", "extra": {"iam.gke.io/user-assertion": ["A" * 2000]}}
    e = one(k8s_event("get", "pods", ns="a", user=user))
    assert "iam.gke.io/user-assertion" not in e.actor.tags
    assert e.raw["user"]["extra"]["iam.gke.io/user-assertion"] == ["A" * 2000]


# ====================================================================== resources


def test_resource_type_and_name() -> None:
    sec = one(k8s_event("delete", "secrets", ns="billing", name="db")).resource
    assert (sec.type, sec.name) == ("secrets", "billing/db")
    ns = one(k8s_event("delete", "namespaces", ns="billing", name="billing")).resource
    assert (ns.type, ns.name) == ("namespaces", "billing")  # the apiserver fills namespace for namespaces
    pv = one(k8s_event("delete", "persistentvolumes", name="pvc-0b1c")).resource
    assert (pv.type, pv.name) == ("persistentvolumes", "pvc-0b1c")
    coll = one(k8s_event("deletecollection", "secrets", ns="billing"))
    assert (coll.resource.name, coll.action.categories) == ("billing/*", (DATA,))
    ex = one(exec_stages(new_id(), "ResponseStarted")[0]).resource
    assert (ex.type, ex.name) == ("pods/exec", "billing/postgres-0")
    # create without objectRef.name: from the object sent, else the object stored (generateName)
    sent = one(k8s_event("create", "secrets", ns="a", body={"kind": "Secret", "metadata": {"name": "tls"}}))
    assert sent.resource.name == "a/tls"
    gen = one(k8s_event("create", "pods", ns="a", body={"kind": "Pod", "metadata": {"generateName": "web-"}},
                        response={"kind": "Pod", "metadata": {"name": "web-x7k2p"}}))
    assert gen.resource.name == "a/web-x7k2p"
    url = one(k8s_event("get", uri="/healthz?verbose=1"))
    assert (url.resource.type, url.resource.name, url.action.name, url.action.service) == \
        ("url", "/healthz", "get /healthz", "")
    assert url.action.statement == "get /healthz"


def test_action_fields_and_environment() -> None:
    rec = k8s_event("delete", "statefulsets", group="apps", ns="billing", name="postgres")
    e = k8s.normalise(rec, SourceRef(k8s.TYPE, "f", line=7, offset=99),
                      ParseContext("f", environment="prod", observed=5.0))[0]
    assert isinstance(e, Event)
    assert (e.action.name, e.action.service, e.action.fingerprint) == \
        ("delete statefulsets", "apps", "delete statefulsets.apps")
    assert e.action.statement == "delete statefulsets billing/postgres"
    assert (e.resource.environment, e.observed_time, e.activity, e.raw) == ("prod", 5.0, "api", rec)
    assert (e.source.type, e.source.line, e.source.offset) == ("kubernetes-audit", 7, 99)
    assert one(k8s_event("delete", "secrets", ns="a", name="b")).action.service == "core"


def test_statement_never_carries_the_request_body() -> None:
    body = {"kind": "Secret", "metadata": {"name": "db"}, "type": "Opaque",
            "stringData": {"password": "hunter2-very-secret"}}
    e = one(k8s_event("create", "secrets", ns="billing", name="db", body=body))
    assert "hunter2" not in e.action.statement and e.action.statement == "create secrets billing/db"
    # only the program of an exec, not its arguments
    uri = "/api/v1/namespaces/billing/pods/postgres-0/exec?command=%2Fbin%2Fsh&command=-c&command=PGPASSWORD%3Dx"
    ex = one(k8s_event("create", "pods", ns="billing", name="postgres-0", sub="exec", stage="ResponseStarted",
                       code=101, uri=uri))
    assert ex.action.statement == "create pods/exec billing/postgres-0 (command=sh)"


# ====================================================================== the category table


def binding(kind: str, role: str, verb: str = "create", ns: str = "", **kw: Any) -> dict[str, Any]:
    body = {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": {"name": "grant"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "ai"}]}
    res = "clusterrolebindings" if kind == "ClusterRoleBinding" else "rolebindings"
    return k8s_event(verb, res, group=RBAC, ns=ns, name="grant", body=body, **kw)


def clusterrole(rules: list[dict[str, Any]], verb: str = "create") -> dict[str, Any]:
    body = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "ops"}, "rules": rules}
    return k8s_event(verb, "clusterroles", group=RBAC, name="ops", body=body)


def csr_approval(cond: str | None, verb: str = "update") -> dict[str, Any]:
    body = None
    if cond is not None:
        body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
                "metadata": {"name": "csr-agent"},
                "status": {"conditions": [{"type": cond, "status": "True", "reason": "KubectlApprove"}]}}
    return k8s_event(verb, "certificatesigningrequests", group="certificates.k8s.io", name="csr-agent",
                     sub="approval", body=body, code=200)


def session(sub: str, pod: str, ns: str = "default", verb: str = "create", container: str = "") -> dict[str, Any]:
    q = f"?container={container}&stdin=true" if container else "?stdin=true"
    return k8s_event(verb, "pods", ns=ns, name=pod, sub=sub, stage="ResponseStarted", code=101,
                     uri=f"/api/v1/namespaces/{ns}/pods/{pod}/{sub}{q}")


# (id, record, categories): every table entry has at least one positive case here
POSITIVE: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("delete-namespace", k8s_event("delete", "namespaces", ns="billing", name="billing"), (DATA, INFRA)),
    ("deletecollection-namespaces", k8s_event("deletecollection", "namespaces"), (DATA, INFRA)),
    ("delete-pvc", k8s_event("delete", "persistentvolumeclaims", ns="billing", name="data-pg-0"), (DATA,)),
    ("deletecollection-pvc", k8s_event("deletecollection", "persistentvolumeclaims", ns="billing"), (DATA,)),
    ("delete-pv", k8s_event("delete", "persistentvolumes", name="pvc-0b1c"), (DATA,)),
    ("delete-statefulset", k8s_event("delete", "statefulsets", group="apps", ns="billing", name="pg"),
     (DATA, INFRA)),
    ("delete-secret", k8s_event("delete", "secrets", ns="billing", name="db-password"), (DATA,)),
    ("create-sa-token-secret", k8s_event("create", "secrets", ns="ci", name="deployer-token", body={
        "kind": "Secret", "metadata": {"name": "deployer-token",
                                       "annotations": {"kubernetes.io/service-account.name": "deployer"}},
        "type": "kubernetes.io/service-account-token"}), (CRED,)),
    ("create-bootstrap-token", k8s_event("create", "secrets", ns="kube-system", name="bootstrap-token-abcdef"),
     (CRED,)),
    ("delete-crd", k8s_event("delete", "customresourcedefinitions", group="apiextensions.k8s.io",
                             name="clusters.postgresql.cnpg.io"), (DATA, INFRA)),
    ("delete-deployment", k8s_event("delete", "deployments", group="apps", ns="shop", name="web"), (INFRA,)),
    ("delete-deployment-extensions", k8s_event("delete", "deployments", group="extensions", ns="shop",
                                               name="web"), (INFRA,)),
    ("delete-daemonset", k8s_event("delete", "daemonsets", group="apps", ns="logging", name="fluent-bit"),
     (INFRA,)),
    ("delete-daemonset-extensions", k8s_event("delete", "daemonsets", group="extensions", ns="logging",
                                              name="fluent-bit"), (INFRA,)),
    ("delete-service", k8s_event("delete", "services", ns="shop", name="web"), (INFRA,)),
    ("delete-node", k8s_event("delete", "nodes", name="ip-10-0-1-23.ec2.internal"), (INFRA,)),
    ("delete-volumesnapshot", k8s_event("delete", "volumesnapshots", group=SNAP, ns="billing", name="nightly"),
     (BACKUP,)),
    ("delete-volumesnapshotcontent", k8s_event("delete", "volumesnapshotcontents", group=SNAP,
                                               name="snapcontent-1"), (BACKUP,)),
    ("delete-velero-backup", k8s_event("delete", "backups", group="velero.io", ns="velero", name="daily-2024"),
     (BACKUP,)),
    ("delete-velero-schedule", k8s_event("delete", "schedules", group="velero.io", ns="velero", name="daily"),
     (BACKUP,)),
    ("velero-backup-delete-request", k8s_event("create", "deletebackuprequests", group="velero.io", ns="velero",
                                               name="daily-2024-x9z"), (BACKUP,)),
    ("exec-postgres-pod", session("exec", "postgres-0", ns="billing"), (EXEC,)),
    ("exec-websocket-get", session("exec", "mysql-primary-0", verb="get"), (EXEC,)),
    ("exec-db-namespace", session("exec", "app-7d9f8-abcde", ns="mongodb"), (EXEC,)),
    ("exec-db-container", session("exec", "app-7d9f8-abcde", container="redis"), (EXEC,)),
    ("exec-immudb", session("exec", "immudb-0", ns="tc1"), (EXEC,)),
    ("exec-database", session("exec", "orders-database-1"), (EXEC,)),
    ("attach-mariadb", session("attach", "mariadb-0"), (EXEC,)),
    ("clusterrolebinding-cluster-admin", binding("ClusterRoleBinding", "cluster-admin"), (PRIV,)),
    ("clusterrolebinding-cluster-admin-update", binding("ClusterRoleBinding", "cluster-admin", verb="update"),
     (PRIV,)),
    ("rolebinding-cluster-admin", binding("RoleBinding", "cluster-admin", ns="billing"), (PRIV,)),
    ("binding-patch-roleref-in-response", k8s_event(
        "patch", "clusterrolebindings", group=RBAC, name="grant",
        body={"subjects": [{"kind": "User", "name": "mallory"}]},
        response={"kind": "ClusterRoleBinding", "metadata": {"name": "grant"},
                  "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"}}), (PRIV,)),
    ("clusterrole-wildcard-verbs", clusterrole([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["*"]}]),
     (PRIV,)),
    ("clusterrole-wildcard-resources", clusterrole([{"apiGroups": [""], "resources": ["*"],
                                                     "verbs": ["get"]}], verb="update"), (PRIV,)),
    ("clusterrole-escalate-verb", clusterrole([{"apiGroups": [RBAC], "resources": ["clusterroles"],
                                                "verbs": ["escalate", "bind"]}], verb="patch"), (PRIV,)),
    ("clusterrole-impersonate", clusterrole([{"apiGroups": [""], "resources": ["users"],
                                              "verbs": ["impersonate"]}]), (PRIV,)),
    ("token-request", k8s_event("create", "serviceaccounts", ns="ci", name="deployer", sub="token",
                                body={"kind": "TokenRequest", "spec": {"expirationSeconds": 86400}}), (CRED,)),
    ("csr-approve", csr_approval("Approved"), (CRED,)),
    ("csr-approve-patch", csr_approval("Approved", verb="patch"), (CRED,)),
    ("csr-approve-metadata-level", csr_approval(None), (CRED,)),
    ("auditsink-delete", k8s_event("delete", "auditsinks", group="auditregistration.k8s.io", name="falco"),
     (LOGGING,)),
    ("auditsink-update", k8s_event("update", "auditsinks", group="auditregistration.k8s.io", name="falco"),
     (LOGGING,)),
    ("auditsink-patch", k8s_event("patch", "auditsinks", group="auditregistration.k8s.io", name="falco"),
     (LOGGING,)),
]


@pytest.mark.parametrize("rec,expected", [(r, c) for _, r, c in POSITIVE], ids=[i for i, _, _ in POSITIVE])
def test_mapped_actions(rec: dict[str, Any], expected: tuple[str, ...]) -> None:
    e = one(rec)
    assert e.action.outcome == "success"
    assert tuple(sorted(e.action.categories)) == tuple(sorted(expected))


def test_every_table_entry_has_a_positive_case() -> None:
    covered = {table_key(r["objectRef"]["resource"], r["objectRef"].get("apiGroup", ""),
                         r["objectRef"].get("subresource", "")) for _, r, _ in POSITIVE}
    assert covered == set(KUBERNETES)


NEGATIVE: list[tuple[str, dict[str, Any]]] = [
    ("get-namespace", k8s_event("get", "namespaces", ns="billing", name="billing")),
    ("list-secrets", k8s_event("list", "secrets", ns="billing")),
    ("watch-pvc", k8s_event("watch", "persistentvolumeclaims", ns="billing")),
    ("create-namespace", k8s_event("create", "namespaces", name="billing")),
    ("update-statefulset", k8s_event("update", "statefulsets", group="apps", ns="billing", name="pg")),
    ("namespace-finalize", k8s_event("update", "namespaces", ns="billing", name="billing", sub="finalize")),
    ("statefulset-status", k8s_event("update", "statefulsets", group="apps", ns="tc1", name="q", sub="status")),
    ("delete-configmap", k8s_event("delete", "configmaps", ns="shop", name="web-config")),
    ("delete-serviceaccount", k8s_event("delete", "serviceaccounts", ns="shop", name="web")),
    ("delete-clusterrole", k8s_event("delete", "clusterroles", group=RBAC, name="some-reader")),
    ("delete-pod", k8s_event("delete", "pods", ns="billing", name="postgres-0")),
    ("create-opaque-secret", k8s_event("create", "secrets", ns="billing", name="tls",
                                       body={"kind": "Secret", "type": "Opaque", "metadata": {"name": "tls"}})),
    ("sa-token-secret-name-only", k8s_event("create", "secrets", ns="test2", name="default-token-7v4pb")),
    ("bootstrap-name-outside-kube-system", k8s_event("create", "secrets", ns="default",
                                                     name="bootstrap-token-abcdef")),
    ("delete-cnpg-backup-other-group", k8s_event("delete", "backups", group="postgresql.cnpg.io", ns="billing",
                                                 name="nightly")),
    ("delete-snapshot-other-group", k8s_event("delete", "volumesnapshots", group="example.com", ns="a",
                                              name="s")),
    ("create-velero-backup", k8s_event("create", "backups", group="velero.io", ns="velero", name="daily")),
    ("create-volumesnapshot", k8s_event("create", "volumesnapshots", group=SNAP, ns="billing", name="n")),
    ("exec-nginx", session("exec", "nginx-deployment-7998647bdf-phvq7")),
    ("exec-feedback", session("exec", "feedback-api-6c9f7-x2x9k")),  # "db" inside a word
    ("exec-dbus", session("exec", "dbus-daemon-abcde", ns="system-tools")),
    ("portforward-postgres", session("portforward", "postgres-0", ns="billing")),
    ("get-pod-logs-postgres", k8s_event("get", "pods", ns="billing", name="postgres-0", sub="log")),
    ("binding-view", binding("ClusterRoleBinding", "view")),
    ("binding-admin", binding("RoleBinding", "admin", ns="billing")),
    ("binding-delete-cluster-admin", k8s_event("delete", "clusterrolebindings", group=RBAC, name="cluster-admin")),
    ("clusterrole-nonresource-wildcard", clusterrole([
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"nonResourceURLs": ["/api", "/api/*", "/apis/*"], "verbs": ["get"]}])),
    ("clusterrole-pods-exec", clusterrole([{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}])),
    ("clusterrole-no-body", k8s_event("create", "clusterroles", group=RBAC, name="ops")),
    ("role-wildcard", k8s_event("create", "roles", group=RBAC, ns="a", name="r", body={
        "kind": "Role", "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})),
    ("get-token-subresource", k8s_event("get", "serviceaccounts", ns="ci", name="deployer", sub="token")),
    ("create-serviceaccount", k8s_event("create", "serviceaccounts", ns="ci", name="deployer")),
    ("csr-deny", csr_approval("Denied")),
    ("csr-create", k8s_event("create", "certificatesigningrequests", group="certificates.k8s.io", name="c")),
    ("auditsink-create", k8s_event("create", "auditsinks", group="auditregistration.k8s.io", name="falco")),
    ("delete-flowschema", k8s_event("delete", "flowschemas", group="flowcontrol.apiserver.k8s.io", name="x")),
    ("healthz", k8s_event("get", uri="/healthz")),
]


@pytest.mark.parametrize("rec", [r for _, r in NEGATIVE], ids=[i for i, _ in NEGATIVE])
def test_look_alikes_are_not_categorised(rec: dict[str, Any]) -> None:
    assert one(rec).action.categories == ()


def test_cascade_deletes_by_the_namespace_controller_are_recorded_without_categories() -> None:
    nsc = {"username": "system:serviceaccount:kube-system:namespace-controller",
           "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
    e = one(k8s_event("deletecollection", "persistentvolumeclaims", ns="billing", user=nsc))
    assert e.action.categories == () and e.resource.name == "billing/*"
    pvb = {"username": "system:serviceaccount:kube-system:persistent-volume-binder"}
    assert one(k8s_event("delete", "persistentvolumes", name="pvc-0b1c", user=pvb)).action.categories == ()
    # the garbage collector follows owners this table may not know: its deletes keep their categories
    gc = {"username": "system:serviceaccount:kube-system:generic-garbage-collector"}
    assert one(k8s_event("delete", "statefulsets", group="apps", ns="billing", name="pg-cluster",
                         user=gc)).action.categories == (DATA, INFRA)


def test_db_hints_are_configurable() -> None:
    rec = session("exec", "cassandra-0", ns="storage")
    assert one(rec).action.categories == ()
    assert one(session("exec", "cassandra-0", ns="storage"), db_pod_hints="cassandra, scylla").action.categories \
        == (EXEC,)
    assert one(session("exec", "postgres-0"), db_pod_hints="cassandra").action.categories == ()
    assert is_db_name("postgresql-primary-0") and is_db_name("mongodb-arbiter") and is_db_name("my-db-0")
    assert not is_db_name("feedback-api") and not is_db_name("dbus") and not is_db_name("nginx")


# ====================================================================== malformed input


def test_malformed_records_are_dead_letters_and_following_records_still_parse() -> None:
    good = k8s_event("delete", "namespaces", ns="billing", name="billing")
    no_stage = k8s_event("delete", "secrets", ns="a", name="b")
    del no_stage["stage"]
    bad_stage = k8s_event("delete", "secrets", ns="a", name="b", stage="ResponseFinished")
    no_user = k8s_event("delete", "secrets", ns="a", name="b")
    del no_user["user"]
    bad_time = k8s_event("delete", "secrets", ns="a", name="b", stamp="yesterday")
    no_verb = k8s_event("delete", "secrets", ns="a", name="b")
    del no_verb["verb"]
    bad_status = k8s_event("delete", "secrets", ns="a", name="b", status="OK")  # type: ignore[arg-type]
    data = lines(good, b'{"kind": "Event", "auditID": "x", "stage": ', no_stage, bad_stage, no_user,
                 bad_time, no_verb, bad_status, b'["not", "a", "record"]', {"kind": 0}, good)
    events, dead = split(read_bytes(data, "k8s"))
    assert [e.source.line for e in events] == [1, 11]
    reasons = {d.source.line: d.reason for d in dead}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert reasons[2].startswith("invalid JSON")
    assert reasons[3] == NO_STAGE
    assert reasons[4].startswith("unknown or missing audit stage 'ResponseFinished'")
    assert reasons[5] == "missing or malformed user (expected an object)"
    assert reasons[6].startswith("bad stageTimestamp 'yesterday'")
    assert reasons[7] == "missing verb"
    assert reasons[8] == "responseStatus is not an object"
    assert reasons[10] == "not a Kubernetes audit event: kind is 0, expected 'Event'"
    line9 = [d for d in dead if d.source.line == 9]
    assert [d.reason for d in line9] == ["not a Kubernetes audit event: a JSON str, not an object"] * 3
    assert [d.source.index for d in line9] == [0, 1, 2]
    assert len(dead) == 11
    assert all(d.raw for d in dead)


def test_malformed_records_in_an_auto_detected_file() -> None:
    good = k8s_event("delete", "secrets", ns="billing", name="db-password")
    bad = dict(good, stage=None)
    events, dead = split(read_bytes(lines(good, bad, {"kind": 0}, good)))
    assert [e.source.line for e in events] == [1, 4]
    assert [(d.source.line, d.reason) for d in dead] == [
        (2, NO_STAGE),
        (3, "not a Kubernetes audit event: kind is 0, expected 'Event'"),
    ]


# ====================================================================== EventList (webhook backend)


def webhook_items(*recs: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for r in recs:
        r = dict(r)
        r.pop("kind", None)
        r.pop("apiVersion", None)
        out.append(r)
    return out


def test_event_list_batches() -> None:
    aid = new_id()
    items = webhook_items(
        k8s_event("delete", "persistentvolumeclaims", ns="billing", name="data-pg-0", stage="RequestReceived",
                  audit_id=aid),
        k8s_event("delete", "persistentvolumeclaims", ns="billing", name="data-pg-0", audit_id=aid),
        k8s_event("get", "pods", ns="billing"),
    )
    items.append({"auditID": "broken", "verb": "get"})  # no stage
    doc = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items}
    for data in (json.dumps(doc).encode() + b"\n", json.dumps(doc, indent=2).encode()):
        with Skipped() as s:
            events, dead = split(read_bytes(data))
        assert [(e.event_id, e.source.index, e.action.categories) for e in events] == [
            (f"k8s-{aid}", 1, (DATA,)), (f"k8s-{items[2]['auditID']}", 2, ())]
        assert all(e.source.type == "kubernetes-audit" for e in events)
        assert [(d.source.index, d.reason) for d in dead] == [
            (3, NO_STAGE)]
        assert s.delta == Counter({"RequestReceived": 1})
    # two webhook batches, one per line; a v1beta1 list too
    beta = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1beta1",
            "items": webhook_items(k8s_event("delete", "namespaces", ns="x", name="x"))}
    events, dead = split(read_bytes(lines(doc, beta)))
    assert len(events) == 3 and len(dead) == 1
    assert events[2].action.categories == (DATA, INFRA) and events[2].source.line == 2


def test_event_list_with_bad_items_and_empty_list() -> None:
    bad = {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": {"not": "a list"}}
    events, dead = split(read_bytes(lines(bad), "k8s"))
    assert events == [] and [d.reason for d in dead] == ["EventList 'items' is not a list"]
    assert read_bytes(lines({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}}), "k8s") == []
    # another group's list is not ours
    assert k8s._document({"kind": "EventList", "apiVersion": "v1", "items": []},
                         SourceRef("json", "x"), ctx()) is None


def test_mixed_json_file_routes_each_record_to_its_source() -> None:
    from auditwatch.streams.sources import cloudtrail  # noqa: F401  (registers)

    ct = {"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "DeleteBucket",
          "eventTime": "2024-05-02T10:15:30Z", "eventID": "e1", "awsRegion": "eu-west-1",
          "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob"},
          "requestParameters": {"bucketName": "backups"}}
    events, dead = split(read_bytes(lines(k8s_event("delete", "namespaces", ns="a", name="a"), ct)))
    assert dead == []
    assert [e.source.type for e in events] == ["kubernetes-audit", "cloudtrail"]


# ====================================================================== public samples


def counted(rec: dict[str, Any]) -> bool:
    """The stage rule, written out again for the independent counts."""
    ref = rec.get("objectRef") or {}
    session = ref.get("resource") == "pods" and ref.get("subresource") in ("exec", "attach", "portforward")
    if session:
        return rec["stage"] == "ResponseStarted"
    return rec["stage"] in ("ResponseComplete", "Panic")


def json_lines(text: str) -> Iterator[dict[str, Any]]:
    for ln in text.splitlines():
        if ln.strip():
            yield json.loads(ln)


MK = "minikube-user"
RSC = "system:serviceaccount:kube-system:replicaset-controller"
_CM = ("create configmaps", "default/my-config", MK, ())
_POD = "create pods"

# file -> [(action, resource name, principal, categories)]; principal types checked separately
FALCO: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = {
    "anonymous_creates_namespace_foo.json": [("create namespaces", "foo", "system:anonymous", ())],
    "attach_cluster_admin_role.json": [("create clusterrolebindings", "some-reader-binding", MK, (PRIV,))],
    "attach_pod.json": [("create pods/attach", "default/nginx-deployment-7998647bdf-phvq7", MK, ())],
    "create_cluster_role_pod_exec.json": [("create clusterroles", "some-reader", MK, ())],
    "create_cluster_role_wildcard_resources.json": [("create clusterroles", "some-reader", MK, (PRIV,))],
    "create_cluster_role_wildcard_verbs.json": [("create clusterroles", "some-reader", MK, (PRIV,))],
    "create_cluster_role_write_privileges.json": [("create clusterroles", "some-reader", MK, ())],
    "create_clusterrole.json": [("create clusterroles", "some-reader", MK, ())],
    "create_clusterrolebinding.json": [("create clusterrolebindings", "some-reader-binding", MK, ())],
    "create_configmap.json": [_CM],
    "create_configmap_no_sensitive_values.json": [_CM],
    "create_configmap_sensitive_values.json": [_CM] * 6,
    "create_deployment.json": [("create deployments", "default/nginx-deployment", MK, ())],
    "create_kube_system_secret.json": [("create secrets", "kube-system/bootstrap-token-ne7bxu", "admin", (CRED,))],
    "create_nginx_pod_hostnetwork.json": [(_POD, "default/nginx-deployment-754c877bcd-zh5qx", RSC, ())],
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": [
        (_POD, "default/nginx-deployment-544b59f8b8-ffkxm", RSC, ())],
    "create_nginx_pod_nohostnetwork.json": [(_POD, "default/nginx-deployment-7998647bdf-4j7t7", RSC, ())],
    "create_nginx_pod_privileged.json": [(_POD, "default/nginx-deployment-5cdcc99dbf-rgw6z", RSC, ())],
    "create_nginx_pod_privileged_2nd_container.json": [(_POD, "default/nginx-deployment-544b59f8b8-ffkxm", RSC, ())],
    "create_nginx_pod_sensitive_mount.json": [(_POD, "default/nginx-deployment-7d5b5dd9cf-t8ngb", RSC, ())],
    "create_nginx_pod_sensitive_mount_2nd_container.json": [
        (_POD, "default/nginx-deployment-f7f486546-hzhsw", RSC, ())],
    "create_nginx_pod_unprivileged.json": [(_POD, "default/nginx-deployment-78f5d695bd-nxqz5", RSC, ())],
    # despite its name, the capture is the kubelet reading the pod back
    "create_nginx_pod_unsensitive_mount.json": [
        ("get pods", "default/nginx-deployment-6dfd8b84dc-6dkjc", "system:node:minikube", ())],
    "create_nginx_service_nodeport.json": [("create services", "default/nginx", MK, ())],
    "create_nginx_service_nonodeport.json": [("create services", "default/nginx", MK, ())],
    "create_pod_kube_public_namespace.json": [(_POD, "kube-public/nginx-deployment-7998647bdf-tlpkp", RSC, ())],
    "create_pod_kube_system_namespace.json": [(_POD, "kube-system/nginx-deployment-7998647bdf-7q2sp", RSC, ())],
    "create_secret.json": [("create secrets", "default/example-secret", MK, ())],
    "create_service.json": [("create services", "default/nginx", MK, ())],
    # Metadata level: the Secret's type is not logged, and the name alone is only a convention
    "create_service_account_token_secret.json": [
        ("create secrets", "test2/default-token-7v4pb", "system:kube-controller-manager", ())],
    "create_serviceaccount.json": [("create serviceaccounts", "default/myacct", MK, ())],
    "create_serviceaccount_kube_public_namespace.json": [("create serviceaccounts", "kube-public/myacct", MK, ())],
    "create_serviceaccount_kube_system_namespace.json": [("create serviceaccounts", "kube-system/myacct", MK, ())],
    "delete_cluster_role_kube_aggregator.json": [("delete clusterroles", "system:kube-aggregator", MK, ())],
    "delete_clusterrole.json": [("delete clusterroles", "some-reader", MK, ())],
    "delete_clusterrolebinding.json": [("delete clusterrolebindings", "some-reader-binding", MK, ())],
    "delete_configmap.json": [("delete configmaps", "default/my-config", MK, ())],
    "delete_deployment.json": [("delete deployments", "default/nginx-deployment", MK, (INFRA,))],
    "delete_namespace_foo.json": [("delete namespaces", "foo", MK, (DATA, INFRA))],
    "delete_secret.json": [("delete secrets", "default/example-secret", MK, (DATA,))],
    "delete_service.json": [("delete services", "default/nginx", MK, (INFRA,))],
    "delete_serviceaccount.json": [("delete serviceaccounts", "default/myacct", MK, ())],
    # exec/attach into an nginx pod: recorded, not a database pod, so not exec.dangerous
    "exec_pod.json": [("create pods/exec", "default/nginx-deployment-7998647bdf-phvq7", MK, ())],
    "minikube_creates_namespace_foo.json": [("create namespaces", "foo", MK, ())],
    "modify_cluster_role_node_problem_detector.json": [
        ("patch clusterroles", "system:node-problem-detector", MK, ())],
    "some-user_creates_namespace_foo.json": [("create namespaces", "foo", "some-user", ())],
}
PLACEHOLDER = "fal_01_003.json"


@pytest.fixture(scope="module")
def falco_dir(corpus: Path) -> Path:
    d = corpus / "falco-k8s-audit"
    need(d.is_dir(), f"falco k8s audit samples not found at {d}")
    return d


def test_falco_file_list_is_what_this_test_knows(falco_dir: Path) -> None:
    names = sorted(p.name for p in falco_dir.glob("*.json"))
    assert len(names) == 47  # PROVENANCE 4: 46 event files plus the placeholder
    assert names == sorted([*FALCO, PLACEHOLDER])


@pytest.mark.parametrize("name", sorted(FALCO))
def test_falco_sample(falco_dir: Path, name: str) -> None:
    path = falco_dir / name
    recs = list(json_lines(path.read_text()))
    expected_ids = [f"k8s-{r['auditID']}" for r in recs if counted(r)]
    with Skipped() as s:
        events, dead = split(list(read_path(path)))
    assert dead == []
    assert [e.event_id for e in events] == expected_ids
    assert len(events) == len(FALCO[name])
    assert [(e.action.name, e.resource.name, e.actor.principal, tuple(sorted(e.action.categories)))
            for e in events] == FALCO[name]
    assert s.delta == Counter(r["stage"] for r in recs if not counted(r))
    for e, r in zip(events, [r for r in recs if counted(r)], strict=True):
        assert e.source.type == "kubernetes-audit"
        assert e.action.outcome == "success"  # every capture is an allowed, completed request
        assert e.time == epoch(r["stageTimestamp"])
        assert e.actor.client_addr == r["sourceIPs"][0]
        assert e.actor.principal_type == k8s.principal_type(r["user"]["username"])
        assert e.raw == r


def test_falco_identities_and_details(falco_dir: Path) -> None:
    def ev(name: str) -> Event:
        events = split(list(read_path(falco_dir / name)))[0]
        assert len(events) == 1
        return events[0]

    ns = ev("delete_namespace_foo.json")
    assert (ns.actor.principal, ns.actor.principal_type, ns.actor.client_addr) == (MK, "user", "192.168.99.1")
    assert ns.actor.tags["groups"] == "system:masters,system:authenticated"
    assert ns.time == epoch("2018-10-26T13:00:25.246927Z")
    admin = ev("attach_cluster_admin_role.json")
    assert admin.action.statement == ("create clusterrolebindings some-reader-binding "
                                      "(roleRef=ClusterRole/cluster-admin)")
    ex = ev("exec_pod.json")  # captured at ResponseStarted (101): the shell opened
    assert ex.action.statement == ("create pods/exec default/nginx-deployment-7998647bdf-phvq7 "
                                   "(container=nginx1, command=bash)")
    assert ex.time == epoch("2018-10-26T13:38:34.902914Z")
    kubeadm = ev("create_kube_system_secret.json")
    assert kubeadm.actor.user_agent == "kubeadm/v1.16.2 (linux/amd64) kubernetes/c97fe50"
    assert ev("anonymous_creates_namespace_foo.json").actor.principal_type == "system"
    assert ev("create_nginx_pod_hostnetwork.json").actor.principal_type == "serviceaccount"
    # the same exec, if the pod were a database, would be exec.dangerous
    rec = json.loads((falco_dir / "exec_pod.json").read_text())
    rec["objectRef"]["name"] = "postgres-0"
    rec["auditID"] = new_id()
    assert one(rec).action.categories == (EXEC,)


def test_falco_placeholder_is_a_dead_letter(falco_dir: Path) -> None:
    path = falco_dir / PLACEHOLDER
    assert json.loads(path.read_text()) == {"kind": 0}
    auto = list(read_path(path))
    assert len(auto) == 1 and isinstance(auto[0], DeadLetter)
    assert auto[0].reason == "unrecognised JSON record (no source matched it)"
    assert (auto[0].source.line, auto[0].raw.strip()) == (1, '{"kind": 0}')
    forced = list(read_path(path, fmt="kubernetes"))
    assert len(forced) == 1 and isinstance(forced[0], DeadLetter)
    assert forced[0].reason == "not a Kubernetes audit event: kind is 0, expected 'Event'"
    assert forced[0].source.type == "kubernetes-audit"


class Immudb:
    def __init__(self, path: Path) -> None:
        with gzip.open(path, "rt") as f:
            self.recs = list(json_lines(f.read()))
        with Skipped() as s:
            self.events, self.dead = split(list(read_path(path)))
        self.skipped = s.delta
        self.counted = [r for r in self.recs if counted(r)]


@pytest.fixture(scope="module")
def immudb(corpus: Path) -> Immudb:
    p = corpus / "immudb-log-audit" / "k8s.log.gz"
    need(p.is_file(), f"immudb k8s audit sample not found at {p}")
    return Immudb(p)


def test_immudb_counts(immudb: Immudb) -> None:
    assert len(immudb.recs) == 2971  # PROVENANCE 4
    assert immudb.dead == []
    assert len(immudb.events) == len(immudb.counted) == 1376
    assert [e.event_id for e in immudb.events] == [f"k8s-{r['auditID']}" for r in immudb.counted]
    assert len({e.event_id for e in immudb.events}) == len(immudb.events)  # one event per request
    assert immudb.skipped == Counter(r["stage"] for r in immudb.recs if not counted(r))
    assert immudb.skipped == Counter({"RequestReceived": 1484, "ResponseStarted": 111})
    assert all(e.source.type == "kubernetes-audit" for e in immudb.events)


def test_immudb_is_benign(immudb: Immudb) -> None:
    assert not any(set(e.action.categories) & DESTRUCTIVE for e in immudb.events)
    cats = Counter(e.action.categories for e in immudb.events)
    tokens = [r for r in immudb.counted if (r.get("objectRef") or {}).get("subresource") == "token"
              and r["verb"] == "create"]
    assert cats == Counter({(): len(immudb.counted) - len(tokens), (CRED,): len(tokens)})
    assert len(tokens) == 12
    creds = [e for e in immudb.events if e.action.categories]
    assert {e.actor.principal for e in creds} == {"system:kube-controller-manager"}
    assert {e.action.name for e in creds} == {"create serviceaccounts/token"}


def test_immudb_outcomes_and_identities(immudb: Immudb) -> None:
    failed = [r for r in immudb.counted if not 200 <= r["responseStatus"]["code"] < 300]
    assert len(failed) == 9
    got = [(e.action.outcome, e.action.error) for e in immudb.events if e.action.outcome != "success"]
    assert got == [("failure", " ".join(
        x for x in (str(r["responseStatus"]["code"]), r["responseStatus"].get("reason", "")) if x)
        + (f": {r['responseStatus']['message']}" if r["responseStatus"].get("message") else ""))
        for r in failed]
    assert Counter(g[1] for g in got)["500"] == 7
    assert all(e.action.outcome in ("success", "failure") for e in immudb.events)
    types = Counter(e.actor.principal_type for e in immudb.events)
    assert types == Counter(k8s.principal_type(r["user"]["username"]) for r in immudb.counted)
    admin = [e for e in immudb.events if e.actor.principal == "admin"]
    assert len(admin) == sum(1 for r in immudb.counted if r["user"]["username"] == "admin") == 12
    assert types["user"] == 12
