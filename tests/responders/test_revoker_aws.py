"""The AWS IAM revoker against moto's server over real HTTP: a user's access
key is deactivated, users and roles get the deny policy (read back through a
separate client), assumed-role sessions act on their role, restore undoes
both, protected and foreign principals are refused, unknown ones fail."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import orjson
import pytest
from moto.server import ThreadedMotoServer  # type: ignore[import-untyped]

from auditwatch.responders.revokers.aws_iam import (
    POLICY_PREFIX,
    AwsIamRevoker,
    deny_document,
    policy_name,
)
from auditwatch.responders.revokers.postgres import NOTHING_FOR_THIS_REVOKER, Credential
from tests.pgcluster import free_port

ACCOUNT = "123456789012"  # moto's default account
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
FIXED_NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def session() -> boto3.Session:
    # dummy credentials: every call goes to the local moto server, never to AWS
    return boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name="us-east-1",
    )


@pytest.fixture(scope="module")
def iam(endpoint: str) -> Any:
    """The test's own client: reads back independently of the revoker's."""
    return session().client("iam", endpoint_url=endpoint)


@pytest.fixture
def revoker(endpoint: str) -> Iterator[AwsIamRevoker]:
    r = AwsIamRevoker(session(), endpoint_url=endpoint, clock=lambda: FIXED_NOW)
    yield r
    r.close()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_user(iam: Any, name: str | None = None) -> tuple[str, str, str]:
    """(user name, user ARN, access key id)."""
    name = name or uniq("agent")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    return name, arn, key


def make_role(iam: Any, name: str | None = None) -> tuple[str, str]:
    name = name or uniq("agent-role")
    return name, iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def key_status(iam: Any, user: str, key: str) -> str:
    [k] = [
        k
        for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        if k["AccessKeyId"] == key
    ]
    return str(k["Status"])


def doc_of(got: Any) -> Any:
    return json.loads(got) if isinstance(got, str) else got


def test_user_and_key_revoked_then_restored(iam: Any, revoker: AwsIamRevoker) -> None:
    user, arn, key = make_user(iam)
    results = revoker.revoke(
        [Credential("aws_access_key", key), Credential("aws_principal", arn)],
        incident_id="inc-00aa11bb22cc33dd",
    )
    assert [(r.ok, r.verified) for r in results] == [(True, True), (True, True)], [
        r.detail for r in results
    ]
    assert all("IAM changes take seconds to propagate" in r.detail for r in results)
    assert key_status(iam, user, key) == "Inactive"
    pname = POLICY_PREFIX + "00aa11bb22cc33dd"
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == [pname]
    doc = doc_of(iam.get_user_policy(UserName=user, PolicyName=pname)["PolicyDocument"])
    assert doc == deny_document("2026-01-01T00:00:00Z", user=True)
    conditional, unconditional = doc["Statement"]
    assert (
        conditional["Effect"] == "Deny"
        and conditional["Action"] == "*"
        and conditional["Resource"] == "*"
    )
    assert conditional["Condition"] == {
        "DateLessThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}
    }
    assert unconditional["Effect"] == "Deny" and "Condition" not in unconditional

    restored = revoker.restore(
        [{"type": "aws_access_key", "id": key}, {"type": "aws_principal", "id": arn}]
    )
    assert all(r.ok and r.verified and r.action == "restore" for r in restored), [
        r.detail for r in restored
    ]
    assert key_status(iam, user, key) == "Active"
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == []


def test_role_gets_only_the_session_deny(iam: Any, revoker: AwsIamRevoker) -> None:
    role, arn = make_role(iam)
    [res] = revoker.revoke([Credential("aws_principal", arn)], incident_id="inc-ffff000011112222")
    assert res.ok and res.verified, res.detail
    doc = doc_of(
        iam.get_role_policy(RoleName=role, PolicyName=policy_name("inc-ffff000011112222"))[
            "PolicyDocument"
        ]
    )
    assert doc == deny_document("2026-01-01T00:00:00Z", user=False) and len(doc["Statement"]) == 1
    [back] = revoker.restore([Credential("aws_principal", arn)])
    assert back.ok and iam.list_role_policies(RoleName=role)["PolicyNames"] == []


def test_assumed_role_session_acts_on_its_role(
    endpoint: str, iam: Any, revoker: AwsIamRevoker
) -> None:
    role, role_arn = make_role(iam)
    sts = session().client("sts", endpoint_url=endpoint)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="cursor-agent-42")
    session_arn = creds["AssumedRoleUser"]["Arn"]
    temp_key = creds["Credentials"]["AccessKeyId"]
    assert session_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/cursor-agent-42"
    assert temp_key.startswith("ASIA")
    results = revoker.revoke(
        [Credential("aws_access_key", temp_key), Credential("aws_principal", session_arn)],
        incident_id="inc-1234",
    )
    key_res, role_res = results
    assert (
        key_res.ok
        and not key_res.verified
        and "covered by the revocation of its principal" in key_res.detail
    )
    assert role_res.ok and role_res.verified and "cursor-agent-42" in role_res.detail
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [POLICY_PREFIX + "1234"]
    # a temporary key alone cannot be revoked: that is a failure, not a silent success
    [alone] = revoker.revoke([Credential("aws_access_key", temp_key)])
    assert not alone.ok and "names no principal" in alone.detail


def test_protected_and_own_principals_are_refused(iam: Any, endpoint: str) -> None:
    role, arn = make_role(iam, uniq("BreakGlass"))
    r = AwsIamRevoker(
        session(), endpoint_url=endpoint, protected_principals=frozenset({"BreakGlass*"})
    )
    try:
        me = f"arn:aws:iam::{ACCOUNT}:user/moto"  # who moto says the dummy credentials are
        results = r.revoke([Credential("aws_principal", arn), Credential("aws_principal", me)])
        assert [x.ok for x in results] == [False, False]
        assert "protected" in results[0].detail and "own identity" in results[1].detail
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    finally:
        r.close()


def test_key_of_a_protected_user_is_refused(iam: Any, endpoint: str) -> None:
    user, _arn, key = make_user(iam, uniq("break-glass"))
    r = AwsIamRevoker(session(), endpoint_url=endpoint)  # default protection covers break-glass*
    [res] = r.revoke([Credential("aws_access_key", key)])
    assert not res.ok and "protected" in res.detail
    assert key_status(iam, user, key) == "Active"


def test_unknown_and_foreign_principals_fail(iam: Any, revoker: AwsIamRevoker) -> None:
    creds = [
        Credential("aws_principal", f"arn:aws:iam::{ACCOUNT}:user/{uniq('nobody')}"),
        Credential("aws_principal", f"arn:aws:iam::{ACCOUNT}:role/{uniq('norole')}"),
        Credential("aws_access_key", "AKIA" + uuid.uuid4().hex[:16].upper()),
        Credential("aws_principal", "arn:aws:iam::999999999999:user/agent"),
        Credential("aws_principal", f"arn:aws:iam::{ACCOUNT}:root"),
        Credential("aws_principal", f"arn:aws:iam::{ACCOUNT}:user/x" + '"};{"Effect":"Allow'),
        Credential("aws_access_key", "akia'; DROP"),
    ]
    results = revoker.revoke(creds)
    assert [r.ok for r in results] == [False] * len(creds)
    assert "NoSuchEntity" in results[0].detail and "NoSuchEntity" in results[1].detail
    assert "no IAM user in this account owns this access key" in results[2].detail
    assert "account 999999999999" in results[3].detail
    assert all(r.detail.startswith("refused") for r in results[4:]), [r.detail for r in results[4:]]


def test_a_user_with_a_path_is_found(iam: Any, revoker: AwsIamRevoker) -> None:
    name = uniq("pathy")
    arn = iam.create_user(UserName=name, Path="/agents/ci/")["User"]["Arn"]
    assert arn.endswith(f":user/agents/ci/{name}")
    [res] = revoker.revoke([Credential("aws_principal", arn)], incident_id="inc-9")
    assert res.ok and res.verified, res.detail
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == [POLICY_PREFIX + "9"]


def test_policy_name_is_bounded_and_safe() -> None:
    assert policy_name("inc-00aa11bb22cc33dd") == "auditwatch-revoke-00aa11bb22cc33dd"
    assert policy_name("revoke-inc-abc") == "auditwatch-revoke-abc"
    assert policy_name("") == "auditwatch-revoke-manual"
    n = policy_name("inc-" + "a/b c" * 40)
    assert len(n) <= 128 and all(ch.isalnum() or ch in "+=,.@_-" for ch in n)


# -- send ---------------------------------------------------------------------


def request(*creds: dict[str, str], dry_run: bool = False) -> bytes:
    return orjson.dumps(
        {
            "type": "auditwatch.revocation.requested",
            "timestamp": "2026-01-01T00:00:00.000Z",
            "data": {
                "incident_id": "inc-5555",
                "identity": {"id": "agent:x"},
                "credentials": list(creds),
                "dry_run": dry_run,
            },
        }
    )


def test_send_revokes_and_verifies(iam: Any, revoker: AwsIamRevoker) -> None:
    user, arn, key = make_user(iam)
    t0 = time.perf_counter()
    a = revoker.send(
        "revoke-inc-5555",
        request(
            {"type": "aws_access_key", "id": key},
            {"type": "aws_principal", "id": arn},
            {"type": "db_role", "id": "agent_rw"},
        ),
    )
    assert a.ok and a.status_code is None and a.error is None
    assert 0 < a.duration_ms <= (time.perf_counter() - t0) * 1000 + 1
    assert [r.credential.type for r in revoker.last_results] == ["aws_access_key", "aws_principal"]
    assert key_status(iam, user, key) == "Inactive"
    assert iam.list_user_policies(UserName=user)["PolicyNames"] == [POLICY_PREFIX + "5555"]


def test_send_fails_on_an_unknown_user_without_raising(revoker: AwsIamRevoker) -> None:
    a = revoker.send(
        "k", request({"type": "aws_principal", "id": f"arn:aws:iam::{ACCOUNT}:user/ghost-1"})
    )
    assert not a.ok and a.error and "NoSuchEntity" in a.error and len(a.error) <= 300


def test_send_with_nothing_for_aws_is_done(revoker: AwsIamRevoker) -> None:
    a = revoker.send("k", request({"type": "db_role", "id": "agent_rw"}))
    assert a.ok and a.error is None and revoker.last_note == NOTHING_FOR_THIS_REVOKER


def test_unreachable_endpoint_is_a_failed_attempt() -> None:
    r = AwsIamRevoker(session(), endpoint_url=f"http://127.0.0.1:{free_port()}", timeout=1.0)
    a = r.send("k", request({"type": "aws_principal", "id": f"arn:aws:iam::{ACCOUNT}:user/x"}))
    assert not a.ok and a.error and "testing" not in a.error
