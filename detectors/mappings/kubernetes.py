"""Kubernetes API requests -> taxonomy categories.

The table is keyed the way ``kubectl`` names a resource: ``resource.group`` for
named API groups, the bare plural for the core group, plus ``/subresource``
(``statefulsets.apps``, ``secrets``, ``serviceaccounts/token``,
``volumesnapshots.snapshot.storage.k8s.io``). Each entry lists verb sets and
what they mean: fixed categories, or the name of a condition in
``CONDITIONS`` when the request body decides (a binding is an escalation only
if it points at ``cluster-admin``; an exec is dangerous only into a database
pod).

What is deliberately *not* here: deletes of configmaps, service accounts,
roles and bindings, and plain reads. Changes to the API server's audit policy
are flags and files on the control plane, not API objects, so the only audit
switch an API request can flip is the (alpha, removed in 1.19) ``AuditSink``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from auditwatch.detectors.taxonomy import (
    BACKUP_DESTROY,
    CREDENTIAL_CREATE,
    DANGEROUS_EXEC,
    DATA_DESTROY,
    INFRA_DESTROY,
    LOGGING_DISABLE,
    PRIVILEGE_ESCALATE,
)

# Pod / namespace / container names that mean "a database runs here". A name
# matches when one of its words (split on anything not a letter) equals a
# hint, starts with a hint of four letters or more (postgresql, mongodb), or
# ends in "db" (immudb, influxdb, cockroachdb). Overridable per source with
# ``ParseContext.extra["db_pod_hints"] = "postgres,mysql,..."``.
DB_POD_HINTS: tuple[str, ...] = ("postgres", "mysql", "mariadb", "mongo", "redis", "db", "database")

# Controllers that only carry out a deletion someone else already asked for:
# the namespace controller empties a namespace being deleted (deletecollection
# of every resource in it), the PV binder deletes a released volume whose
# claim was deleted. The originating request (the namespace or PVC delete) is
# categorised; the follow-through is recorded without categories so one
# ``kubectl delete ns`` is one destructive event, not fifty. The garbage
# collector is *not* here: the owner it follows may be a custom resource this
# table does not know (a database operator's cluster object), so its deletes
# may be the only categorised trace.
CASCADE_PRINCIPALS: frozenset[str] = frozenset({
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:persistent-volume-binder",
})

DELETES = frozenset({"delete", "deletecollection"})
WRITES = frozenset({"create", "update", "patch"})
CHANGES = frozenset({"update", "patch", "delete", "deletecollection"})
# kubectl < 1.29 opens exec/attach with POST (verb create), newer ones with a
# WebSocket GET (verb get)
SESSION_OPEN = frozenset({"create", "get"})


@dataclass(frozen=True, slots=True)
class Request:
    """What a condition may look at: one API request, already taken apart."""

    verb: str
    resource: str  # plural, "pods"
    group: str = ""  # "" is the core group
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    # requestObject: absent below the Request audit level, a list for JSON patches
    body: Any = None
    response: Any = None  # responseObject (RequestResponse level only)
    containers: tuple[str, ...] = ()  # exec/attach ?container= parameters
    db_hints: tuple[str, ...] = DB_POD_HINTS


Condition = Callable[[Request], tuple[str, ...]]


def _field(req: Request, key: str) -> Any:
    """A top-level field of the object as sent, else as stored (patches may omit it)."""
    for obj in (req.body, req.response):
        if isinstance(obj, Mapping) and key in obj:
            return obj[key]
    return None


_WORD = re.compile(r"[a-z]+")


def is_db_name(name: str, hints: tuple[str, ...] = DB_POD_HINTS) -> bool:
    for w in _WORD.findall(name.lower()):
        if w.endswith("db"):
            return True
        for h in hints:
            if w == h or (len(h) >= 4 and w.startswith(h)):
                return True
    return False


def _db_pod_exec(req: Request) -> tuple[str, ...]:
    names = (req.name, req.namespace, *req.containers)
    return (DANGEROUS_EXEC,) if any(n and is_db_name(n, req.db_hints) for n in names) else ()


def _cluster_admin_binding(req: Request) -> tuple[str, ...]:
    ref = _field(req, "roleRef")
    if isinstance(ref, Mapping) and ref.get("name") == "cluster-admin":
        return (PRIVILEGE_ESCALATE,)
    return ()


# verbs that let the holder grant itself more: RBAC's escalate/bind, impersonation
_ESCALATING_VERBS = frozenset({"*", "escalate", "bind", "impersonate"})


def _wildcard_role(req: Request) -> tuple[str, ...]:
    rules = _field(req, "rules")
    if not isinstance(rules, list):
        return ()
    for r in rules:
        if not isinstance(r, Mapping):
            continue
        verbs = r.get("verbs") or []
        resources = r.get("resources") or []
        # nonResourceURLs ("/api/*") grant no access to objects; they do not count
        if isinstance(verbs, list) and any(isinstance(v, str) and v in _ESCALATING_VERBS
                                           for v in verbs):
            return (PRIVILEGE_ESCALATE,)
        if isinstance(resources, list) and ("*" in resources or "*/*" in resources):
            return (PRIVILEGE_ESCALATE,)
    return ()


def _csr_approved(req: Request) -> tuple[str, ...]:
    # The /approval subresource both approves and denies. When the body is logged
    # and carries no Approved condition it was a denial; when it is not logged
    # (Metadata level) the approval is assumed.
    status = _field(req, "status")
    if isinstance(status, Mapping) and isinstance(status.get("conditions"), list):
        kinds = {c.get("type") for c in status["conditions"] if isinstance(c, Mapping)}
        return (CREDENTIAL_CREATE,) if "Approved" in kinds else ()
    return (CREDENTIAL_CREATE,)


_TOKEN_SECRET_TYPES = frozenset({
    "kubernetes.io/service-account-token",
    "bootstrap.kubernetes.io/token",
})


def _token_secret(req: Request) -> tuple[str, ...]:
    # A long-lived service-account token, or a bootstrap token (node join
    # credential; the bootstrap-token spec fixes its name and namespace, so it
    # is recognised even at Metadata level where the body is not logged).
    if _field(req, "type") in _TOKEN_SECRET_TYPES:
        return (CREDENTIAL_CREATE,)
    if req.namespace == "kube-system" and req.name.startswith("bootstrap-token-"):
        return (CREDENTIAL_CREATE,)
    return ()


CONDITIONS: dict[str, Condition] = {
    "db_pod_exec": _db_pod_exec,
    "cluster_admin_binding": _cluster_admin_binding,
    "wildcard_role": _wildcard_role,
    "csr_approved": _csr_approved,
    "token_secret": _token_secret,
}

Rule = tuple[frozenset[str], tuple[str, ...] | str]

_DATA_INFRA = (DATA_DESTROY, INFRA_DESTROY)
_RBAC = "rbac.authorization.k8s.io"
_SNAP = "snapshot.storage.k8s.io"

KUBERNETES: dict[str, tuple[Rule, ...]] = {
    # data and the things that hold it
    "namespaces": ((DELETES, _DATA_INFRA),),
    "persistentvolumeclaims": ((DELETES, (DATA_DESTROY,)),),
    "persistentvolumes": ((DELETES, (DATA_DESTROY,)),),
    "statefulsets.apps": ((DELETES, _DATA_INFRA),),
    "secrets": ((DELETES, (DATA_DESTROY,)), (frozenset({"create"}), "token_secret")),
    # deleting a CRD deletes every object of that kind (a database operator's clusters)
    "customresourcedefinitions.apiextensions.k8s.io": ((DELETES, _DATA_INFRA),),
    # workloads and their front doors
    "deployments.apps": ((DELETES, (INFRA_DESTROY,)),),
    "deployments.extensions": ((DELETES, (INFRA_DESTROY,)),),
    "daemonsets.apps": ((DELETES, (INFRA_DESTROY,)),),
    "daemonsets.extensions": ((DELETES, (INFRA_DESTROY,)),),
    "services": ((DELETES, (INFRA_DESTROY,)),),
    "nodes": ((DELETES, (INFRA_DESTROY,)),),
    # backups: CSI snapshots, Velero
    f"volumesnapshots.{_SNAP}": ((DELETES, (BACKUP_DESTROY,)),),
    f"volumesnapshotcontents.{_SNAP}": ((DELETES, (BACKUP_DESTROY,)),),
    "backups.velero.io": ((DELETES, (BACKUP_DESTROY,)),),
    "schedules.velero.io": ((DELETES, (BACKUP_DESTROY,)),),
    # what `velero backup delete` actually sends: the server then deletes the
    # backup's data in object storage (a kubectl delete of the Backup object
    # alone is re-synced from storage, but still says what was intended)
    "deletebackuprequests.velero.io": ((frozenset({"create"}), (BACKUP_DESTROY,)),),
    # a shell in a database pod: the database's own audit may not see what follows
    "pods/exec": ((SESSION_OPEN, "db_pod_exec"),),
    "pods/attach": ((SESSION_OPEN, "db_pod_exec"),),
    # privilege
    f"clusterrolebindings.{_RBAC}": ((WRITES, "cluster_admin_binding"),),
    f"rolebindings.{_RBAC}": ((WRITES, "cluster_admin_binding"),),
    f"clusterroles.{_RBAC}": ((WRITES, "wildcard_role"),),
    # credentials
    "serviceaccounts/token": ((frozenset({"create"}), (CREDENTIAL_CREATE,)),),
    "certificatesigningrequests.certificates.k8s.io/approval": (
        (frozenset({"update", "patch"}), "csr_approved"),),
    # audit (dynamic audit sinks, alpha until 1.19)
    "auditsinks.auditregistration.k8s.io": ((CHANGES, (LOGGING_DISABLE,)),),
}


def table_key(resource: str, group: str = "", subresource: str = "") -> str:
    key = f"{resource}.{group}" if group else resource
    return f"{key}/{subresource}" if subresource else key


def kubernetes_categories(req: Request, principal: str = "") -> tuple[str, ...]:
    """Categories of one request (whatever its outcome; the caller records that)."""
    rules = KUBERNETES.get(table_key(req.resource, req.group, req.subresource))
    if not rules:
        return ()
    if principal in CASCADE_PRINCIPALS and req.verb in DELETES:
        return ()
    for verbs, cats in rules:
        if req.verb in verbs:
            return CONDITIONS[cats](req) if isinstance(cats, str) else cats
    return ()
