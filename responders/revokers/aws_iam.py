"""Revoke AWS IAM credentials: deactivate access keys, deny principals, read both back.

Threat: an identity holding AWS credentials (an agent's access key, a role
session) is deleting cloud resources. Credentials already handed out cannot be
recalled, so the revoker makes IAM refuse them:

* ``aws_access_key`` (``AKIA…``): ``UpdateAccessKey Status=Inactive`` on the
  key's user (found with ``GetAccessKeyLastUsed``, else by listing users' keys).
  A temporary key (``ASIA…``) cannot be deactivated: it is covered by the
  revocation of its principal when the request names one, and fails otherwise.
* ``aws_principal`` — an IAM user, an IAM role, or an assumed-role session
  (``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION``, acted on as ROLE): an inline
  policy ``auditwatch-revoke-<incident>`` that denies ``*`` on ``*``:

  - for roles and users, with ``DateLessThan aws:TokenIssueTime <now>``: every
    temporary credential issued before now (role sessions, ``GetSessionToken``
    tokens) stops working; sessions issued later still work — this is what the
    IAM console's "Revoke active sessions" does. Blocking new ``AssumeRole``
    calls needs a change to the role's trust policy, which a person decides.
  - for users also an unconditional Deny: requests signed with a user's
    long-term access keys carry no ``aws:TokenIssueTime``, so the conditional
    statement never matches them (a condition on a missing key is false);
    only an unconditional Deny stops a user's keys and new sign-ins.

Success is reported only after reading the change back (the policy document
equals what was put; ``ListAccessKeys`` shows the key Inactive). IAM is
eventually consistent: the change takes seconds to reach every endpoint, and
each Result says so. ``restore`` deletes every ``auditwatch-revoke-*`` inline
policy of the principal and re-activates the key.

Untrusted input: ARNs and key ids come from audit logs. They are parsed
strictly (names ``[\\w+=,.@-]``), a principal of another account than the
revoker's is refused (the same name there is a different principal), and so
are protected principals (break-glass and organisation roles, the revoker's
own identity).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

import boto3  # type: ignore[import-untyped]
from botocore.config import Config as BotoConfig  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from auditwatch.responders.console import safe
from auditwatch.responders.revokers.postgres import (
    Credential,
    Result,
    RevokerBase,
    elapsed_ms,
    matches_any,
)

POLICY_PREFIX = "auditwatch-revoke-"
PROPAGATION = "IAM changes take seconds to propagate: calls may still succeed for a few seconds"

#: Never revoked automatically (names or ARNs; shell-style patterns allowed).
DEFAULT_PROTECTED_PRINCIPALS: frozenset[str] = frozenset({
    "OrganizationAccountAccessRole", "AWSControlTowerExecution",
    "AWSCloudFormationStackSetExecutionRole", "AWSServiceRole*",
    "break-glass*", "BreakGlass*",
})  # fmt: skip

_NAME = r"[\w+=,.@-]{1,64}"  # IAM user, role and session names
_ARN = re.compile(
    rf"^arn:(?P<partition>aws|aws-cn|aws-us-gov):(?P<svc>iam|sts)::(?P<acct>\d{{12}}):"
    rf"(?:(?P<kind>user|role)/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>{_NAME})"
    rf"|assumed-role/(?P<arole>{_NAME})/(?P<session>{_NAME}))$",
    re.ASCII,
)
_KEY = re.compile(r"^[A-Z0-9]{16,128}$")


class _Stop(Exception):
    """Ends one credential's action with this (refusal or failure) detail."""


_Outcome = tuple[bool, bool, str]  # ok, verified, detail


def _verified(detail: str) -> _Outcome:
    return True, True, detail


def _not_verified(detail: str) -> _Outcome:
    return False, False, f"not verified: {detail}"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["user", "role"]
    name: str
    account: str
    path: str = "/"
    session: str = ""  # set when the request named an assumed-role session

    @classmethod
    def parse(cls, arn: str) -> Principal:
        m = _ARN.match(arn)
        if m is None:
            raise _Stop(
                "refused: not an IAM user, IAM role or assumed-role session ARN "
                "(root, federated and service principals are not revoked automatically)"
            )
        if m["arole"]:
            if m["svc"] != "sts":
                raise _Stop("refused: malformed assumed-role ARN")
            return cls("role", m["arole"], m["acct"], session=m["session"])
        if m["svc"] != "iam":
            raise _Stop("refused: IAM user and role ARNs are arn:aws:iam::…")
        return cls(m["kind"], m["name"], m["acct"], path="/" + m["path"])  # type: ignore[arg-type]


def deny_document(issued_before: str, *, user: bool) -> dict[str, Any]:
    """The inline policy a revocation puts (see the module docstring for why two statements)."""
    stmts: list[dict[str, Any]] = [
        {
            "Sid": "AuditwatchDenyCredentialsIssuedBefore",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
        }
    ]
    if user:
        stmts.append(
            {"Sid": "AuditwatchDenyUser", "Effect": "Deny", "Action": "*", "Resource": "*"}
        )
    return {"Version": "2012-10-17", "Statement": stmts}


def policy_name(incident_id: str) -> str:
    """``auditwatch-revoke-<incident>``: the incident id's hex part, sanitised and bounded."""
    iid = incident_id.removeprefix("revoke-").removeprefix("inc-")
    clean = re.sub(r"[^\w+=,.@-]", "", iid)[:32] or "manual"
    return POLICY_PREFIX + clean


def _err(e: Exception) -> str:
    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        return safe(f"{err.get('Code', 'ClientError')}: {err.get('Message', '')}")[:240]
    return safe(f"{type(e).__name__}: {e}")[:240]


def _code(e: Exception) -> str:
    return str(e.response.get("Error", {}).get("Code", "")) if isinstance(e, ClientError) else ""


class AwsIamRevoker(RevokerBase):
    """Revokes ``aws_access_key`` and ``aws_principal`` credentials in the session's account.

    Needs ``iam:UpdateAccessKey``, ``iam:ListAccessKeys``, ``iam:GetAccessKeyLastUsed``,
    ``iam:ListUsers``, ``iam:{Put,Get,Delete,List}{User,Role}Polic{y,ies}`` and
    ``sts:GetCallerIdentity``.
    """

    name = "revoke-aws"
    credential_types = frozenset({"aws_access_key", "aws_principal"})

    def __init__(
        self,
        session: boto3.Session | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        protected_principals: frozenset[str] = DEFAULT_PROTECTED_PRINCIPALS,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        super().__init__()
        self._session = session or boto3.Session()
        self.endpoint_url = endpoint_url
        self.region = region
        self.protected_principals = frozenset(protected_principals)
        self.clock = clock
        self._cfg = BotoConfig(
            region_name=region,
            connect_timeout=min(5.0, timeout),
            read_timeout=timeout,
            retries={"mode": "standard", "max_attempts": 3},
            user_agent_extra="auditwatch-revoker/1",
        )
        self._clients: dict[str, Any] = {}
        self._me: tuple[str, str, str] | None = None  # (account, kind, name)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AwsIamRevoker(region={self.region!r}, endpoint_url={self.endpoint_url!r})"

    def _client(self, service: str) -> Any:
        c = self._clients.get(service)
        if c is None:
            c = self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint_url, config=self._cfg
            )
        return c

    def _whoami(self) -> tuple[str, str, str]:
        """(account, "user"|"role"|"", name) of the revoker's own credentials."""
        if self._me is None:
            arn = str(self._client("sts").get_caller_identity()["Arn"])
            acct = arn.split(":")[4] if arn.count(":") >= 5 else ""
            kind, name = "", ""
            m = _ARN.match(arn)
            if m and m["arole"]:
                kind, name = "role", m["arole"]
            elif m:
                kind, name = m["kind"], m["name"]
            elif ":user/" in arn:
                kind, name = "user", arn.rsplit("/", 1)[-1]
            self._me = (acct, kind, name)
        return self._me

    def close(self) -> None:
        for c in self._clients.values():
            close = getattr(c, "close", None)
            if close:
                close()
        self._clients.clear()

    # -- public --------------------------------------------------------------
    def revoke(
        self, credentials: Iterable[Credential | Mapping[str, Any]], *, incident_id: str = ""
    ) -> list[Result]:
        creds = self.own(credentials)
        has_principal = any(c.type == "aws_principal" for c in creds)
        pname = policy_name(incident_id)
        out = []
        with self._lock:
            for c in creds:
                if c.type == "aws_access_key":
                    fn = partial(self._deactivate, c.id, has_principal)
                else:
                    fn = partial(self._deny, c.id, pname)
                out.append(self._run(c, "revoke", fn))
        return out

    def restore(self, credentials: Iterable[Credential | Mapping[str, Any]]) -> list[Result]:
        out = []
        with self._lock:
            for c in self.own(credentials):
                fn = partial(self._reactivate if c.type == "aws_access_key" else self._undeny, c.id)
                out.append(self._run(c, "restore", fn))
        return out

    def _run(
        self,
        cred: Credential,
        action: Literal["revoke", "restore"],
        fn: Callable[[], _Outcome],
    ) -> Result:
        t0 = time.perf_counter()
        try:
            ok, verified, detail = fn()
        except _Stop as e:
            ok, verified, detail = False, False, str(e)
        except (ClientError, BotoCoreError) as e:
            ok, verified, detail = False, False, _err(e)
        ms = elapsed_ms(t0)
        return Result(cred, action, ok, verified, f"{detail} ({ms:.0f} ms)", ms)

    # -- checks --------------------------------------------------------------
    def _principal(self, arn: str, *, check_protected: bool) -> Principal:
        p = Principal.parse(arn)
        acct, my_kind, my_name = self._whoami()
        if acct and p.account != acct:
            raise _Stop(f"refused: principal is in account {p.account}, the revoker acts in {acct}")
        if check_protected:
            if (p.kind, p.name) == (my_kind, my_name):
                raise _Stop("refused: this is the revoker's own identity")
            pat = matches_any([arn, p.name, f"{p.kind}/{p.name}"], self.protected_principals)
            if pat is not None:
                raise _Stop(
                    f"refused: principal is protected (matches {pat!r}); "
                    "never revoked automatically"
                )
        return p

    def _key_owner(self, key_id: str) -> str:
        iam = self._client("iam")
        try:
            user = iam.get_access_key_last_used(AccessKeyId=key_id).get("UserName")
            if user:
                return str(user)
        except ClientError as e:
            if _code(e) not in ("NoSuchEntity", "AccessDenied", "AccessDeniedException"):
                raise
        for page in iam.get_paginator("list_users").paginate():
            for u in page["Users"]:
                keys = iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]
                if any(k["AccessKeyId"] == key_id for k in keys):
                    return str(u["UserName"])
        raise _Stop("failed: no IAM user in this account owns this access key")

    def _key_status(self, user: str, key_id: str) -> str:
        for page in self._client("iam").get_paginator("list_access_keys").paginate(UserName=user):
            for k in page["AccessKeyMetadata"]:
                if k["AccessKeyId"] == key_id:
                    return str(k["Status"])
        return "missing"

    def _key_user(self, key_id: str, *, check_protected: bool) -> str:
        if not _KEY.match(key_id):
            raise _Stop("refused: not an access key id")
        user = self._key_owner(key_id)
        if check_protected:
            acct, my_kind, my_name = self._whoami()
            if (my_kind, my_name) == ("user", user):
                raise _Stop("refused: the key belongs to the revoker's own user")
            names = [user, f"user/{user}", f"arn:aws:iam::{acct}:user/{user}"]
            pat = matches_any(names, self.protected_principals)
            if pat is not None:
                raise _Stop(f"refused: the key's user is protected (matches {pat!r})")
        return user

    # -- access keys -----------------------------------------------------------
    def _deactivate(self, key_id: str, has_principal: bool) -> _Outcome:
        if key_id.startswith("ASIA"):
            if has_principal:  # ok, not verified: nothing was done to the key itself
                note = "temporary STS key: cannot be deactivated; covered by the revocation of "
                return True, False, note + "its principal in this request"
            raise _Stop(
                "failed: temporary STS key (ASIA…) cannot be deactivated and the request "
                "names no principal to revoke"
            )
        user = self._key_user(key_id, check_protected=True)
        self._client("iam").update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
        status = self._key_status(user, key_id)
        if status != "Inactive":
            return _not_verified(f"key status reads {status!r} after deactivation")
        return _verified(f"key of user {safe(user)} set Inactive; verified Inactive; {PROPAGATION}")

    def _reactivate(self, key_id: str) -> _Outcome:
        user = self._key_user(key_id, check_protected=False)
        self._client("iam").update_access_key(UserName=user, AccessKeyId=key_id, Status="Active")
        status = self._key_status(user, key_id)
        if status != "Active":
            return _not_verified(f"key status reads {status!r} after re-activation")
        return _verified(f"key of user {safe(user)} set Active; verified Active; {PROPAGATION}")

    # -- principals --------------------------------------------------------------
    def _deny(self, arn: str, pname: str) -> _Outcome:
        p = self._principal(arn, check_protected=True)
        now = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc = deny_document(now, user=p.kind == "user")
        body = json.dumps(doc, separators=(",", ":"))
        iam = self._client("iam")
        if p.kind == "user":
            iam.put_user_policy(UserName=p.name, PolicyName=pname, PolicyDocument=body)
            got = iam.get_user_policy(UserName=p.name, PolicyName=pname)["PolicyDocument"]
        else:
            iam.put_role_policy(RoleName=p.name, PolicyName=pname, PolicyDocument=body)
            got = iam.get_role_policy(RoleName=p.name, PolicyName=pname)["PolicyDocument"]
        if isinstance(got, str):
            got = json.loads(got)
        if got != doc:
            return _not_verified(f"policy {pname} reads back different from what was put")
        what = (
            "denies everything, including its long-term keys"
            if p.kind == "user"
            else "denies every session issued before now; new AssumeRole calls still work"
        )
        via = f" (session {safe(p.session)})" if p.session else ""
        return _verified(
            f"{p.kind} {safe(p.name)}{via}: inline policy {pname} {what} "
            f"(aws:TokenIssueTime < {now}); verified by reading it back; {PROPAGATION}"
        )

    def _undeny(self, arn: str) -> _Outcome:
        p = self._principal(arn, check_protected=False)
        iam = self._client("iam")
        if p.kind == "user":
            lister, deleter, kw = "list_user_policies", iam.delete_user_policy, {"UserName": p.name}
        else:
            lister, deleter, kw = "list_role_policies", iam.delete_role_policy, {"RoleName": p.name}

        def ours() -> list[str]:
            return [
                n
                for page in iam.get_paginator(lister).paginate(**kw)
                for n in page["PolicyNames"]
                if n.startswith(POLICY_PREFIX)
            ]

        removed = ours()
        for n in removed:
            deleter(PolicyName=n, **kw)
        left = ours()
        if left:
            return _not_verified(f"{len(left)} auditwatch deny policies still attached")
        return _verified(
            f"{p.kind} {safe(p.name)}: removed {len(removed)} auditwatch deny "
            f"polic{'y' if len(removed) == 1 else 'ies'}; verified none left; {PROPAGATION}"
        )
