"""Attribution: registry first, then declared markers, then tool signatures;
unknown stays unknown with low confidence."""

from __future__ import annotations

import pytest

from auditwatch.errors import ConfigError
from auditwatch.model import Actor
from auditwatch.streams.identity.attribute import Attributor, load_signatures, match_signature
from auditwatch.streams.identity.registry import load_registry
from tests.factories import event

REG = [
    {"id": "alice", "kind": "human", "owner": "alice", "match": {"principals": ["arn:aws:iam::1:user/alice"]}},
    {"id": "agent:dana", "kind": "agent", "owner": "dana", "environments": ["staging"],
     "match": {"db_roles": ["agent_rw"], "role_sessions": ["cursor-*"]}},
    {"id": "breakglass", "kind": "human", "protected": True, "match": {"principals": ["*:user/breakglass"]}},
]


def attribute(**actor: str):  # type: ignore[no-untyped-def]
    a = Attributor(load_registry(None, REG))
    return a.attribute(event(actor=actor))


def test_registry_exact_and_glob() -> None:
    i = attribute(principal="arn:aws:iam::1:user/alice", user_agent="aws-cli/2.17 Python/3.11")
    assert (i.id, i.kind, i.confidence) == ("alice", "human", 0.99)
    # alice's credential driven by an agent tool: the actor is an agent working for alice
    i = attribute(principal="arn:aws:iam::1:user/alice", user_agent="claude-code/1.0")
    assert (i.id, i.kind, i.owner) == ("agent-on:alice", "agent", "alice")
    assert any("registered holder" in e for e in i.evidence)
    i = attribute(principal="arn:aws:sts::1:assumed-role/dev/cursor-42", session_name="cursor-42")
    assert (i.id, i.kind, i.owner) == ("agent:dana", "agent", "dana")
    assert i.environments == ("staging",)
    i = attribute(principal="arn:aws:iam::9:user/breakglass")
    assert i.protected and i.id == "breakglass"


def test_db_role_in_registry() -> None:
    i = attribute(principal="agent_rw", principal_type="db_user", application_name="psql")
    assert (i.id, i.kind) == ("agent:dana", "agent")


def test_declared_markers() -> None:
    i = attribute(principal="arn:aws:sts::1:assumed-role/r/s", source_identity="agent:deploy-bot")
    assert (i.id, i.kind, i.confidence) == ("agent:deploy-bot", "agent", 0.9)
    i = attribute(principal="app", principal_type="db_user", application_name="agent:migrator;owner=erin")
    assert (i.id, i.owner) == ("agent:migrator", "erin")


def test_signatures_are_medium_confidence() -> None:
    i = attribute(principal="arn:aws:iam::1:user/domains", user_agent="Cursor/1.7.2 aws-sdk-js/3.5")
    assert i.kind == "agent" and 0.5 < i.confidence < 0.9
    assert "unauthenticated" in i.evidence[0]
    i = attribute(principal="bob", principal_type="db_user", application_name="psql")
    assert (i.id, i.kind) == ("db:bob", "human")


def test_aws_service_and_unknown() -> None:
    i = attribute(principal="backup.amazonaws.com", principal_type="AWSService", invoked_by="backup.amazonaws.com")
    assert i.kind == "service"
    i = attribute(principal="arn:aws:iam::1:user/mystery", user_agent="Boto3/1.34 Python/3.11")
    assert (i.kind, i.confidence) == ("unknown", 0.1)


SIGNATURE_CASES = [
    ("ide-toolkit", {"user_agent": "aws-sdk-js/3.840.0 AWS-Toolkit-For-VSCode/3.73.0 Cursor/1.99.3"}),
    ("claude-code", {"user_agent": "claude-code/2.1.12 aws-cli/2.17"}),
    ("claude-code", {"application_name": "claude-code"}),
    ("cursor", {"user_agent": "Cursor/1.7.2 aws-sdk-js/3.592.0"}),
    ("cursor", {"application_name": "cursor-agent"}),
    ("github-copilot", {"user_agent": "GitHub-Copilot/1.2 node"}),
    ("openai-codex", {"user_agent": "codex_cli_rs/0.40.0"}),
    ("aider", {"user_agent": "aider/0.80 litellm"}),
    ("devin", {"user_agent": "devin/1.0"}),
    ("langchain", {"user_agent": "langchain-aws/0.2 botocore/1.35"}),
    ("mcp-server", {"application_name": "mcp-server-postgres"}),
    ("openhands", {"user_agent": "OpenHands/0.30"}),
    ("cline", {"user_agent": "Cline/3.2"}),
    ("windsurf", {"user_agent": "windsurf/1.3"}),
    ("goose", {"user_agent": "goose/1.0 block"}),
    ("openai-agents-sdk", {"user_agent": "openai-agents/0.3 python"}),
    ("aws-console", {"user_agent": "console.amazonaws.com"}),
    ("psql", {"application_name": "psql"}),
    ("gui-sql-client", {"application_name": "DBeaver 24.0.3 - SQLEditor <prod>"}),
    ("terraform", {"user_agent": "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 terraform-provider-aws/5.53.0"}),
    ("aws-service", {"user_agent": "rds.amazonaws.com"}),
    ("db-app-pool", {"application_name": "PostgreSQL JDBC Driver"}),
    ("cloud-runtime", {"user_agent": "aws-sdk-go/1.55.7 (go1.23.10; linux; amd64) amazon-ssm-agent/3.3.2299.0"}),
    ("cloud-runtime", {"application_name": "datadog-agent"}),
]


@pytest.mark.parametrize("name,hints", SIGNATURE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(SIGNATURE_CASES)])
def test_each_signature(name: str, hints: dict[str, str]) -> None:
    hit = match_signature(load_signatures(), Actor(**hints))
    assert hit is not None and hit[0].name == name


def test_every_signature_has_a_case() -> None:
    assert {s.name for s in load_signatures()} == {c[0] for c in SIGNATURE_CASES}


@pytest.mark.parametrize("ua", ["Mozilla/5.0 (X11; Linux) Firefox/125.0", "Boto3/1.34.0 Python/3.11",
                                "aws-cli/2.17.0 Python/3.11", "kubectl/v1.30.0", "PostmanRuntime/7.37"])
def test_ordinary_clients_match_no_agent_signature(ua: str) -> None:
    hit = match_signature(load_signatures(), Actor(user_agent=ua))
    assert hit is None or hit[0].kind != "agent"


def test_registry_errors_name_the_entry() -> None:
    with pytest.raises(ConfigError, match=r"identities\[0\]: kind"):
        load_registry(None, [{"id": "x", "kind": "robot"}])
    with pytest.raises(ConfigError, match="duplicate identity id 'x'"):
        load_registry(None, [{"id": "x", "kind": "human"}, {"id": "x", "kind": "agent"}])
