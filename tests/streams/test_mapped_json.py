"""Mapped-JSON source: the shipped Railway and GitHub mappings, the loader's
load-time checks, and a user's own mapping for a platform invented here.

Records are whole, built in this file (ids, times and tokens different from the
mappings' own examples, so a test cannot pass by echoing the YAML), written to
``tmp_path`` and read back through ``read_path`` with auto-detection, as
``auditwatch replay`` reads them. No public sample of either format is in the
corpus, so there is no corpus test here.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditwatch.errors import ConfigError
from auditwatch.model import Event
from auditwatch.streams.sources import mapped_json  # noqa: F401  (registers the shipped mappings)
from auditwatch.streams.reader import read_path
from auditwatch.streams.sources.base import DeadLetter
from auditwatch.streams.sources.mapped_json import (
    MAPPINGS_DIR,
    load_mapping,
    load_mappings,
    parse_path,
    register_mappings,
)
from auditwatch.streams.sources.registry import ALIASES, SOURCES, detect

DATA = "data.destroy"
BACKUP = "backup.destroy"
LOGGING = "logging.disable"
PRIV = "privilege.escalate"
CRED = "credential.create"
INFRA = "infra.destroy"

WORKSPACE = {"id": "e1d2c3b4-a5f6-4e7d-8c9b-0a1b2c3d4e5f", "name": "northwind"}
PROJECT = {"id": "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d", "name": "orders-api"}
PROD = {"id": "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f", "name": "production"}
DOMAINS_TOKEN = {"id": "f0e1d2c3-b4a5-4968-8776-655443322110", "name": "domains-manager"}
PG_VOLUME = {"id": "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", "name": "pg-data",
             "mountPath": "/var/lib/postgresql/data", "sizeMB": 50000}


# --------------------------------------------------------------------------- helpers


def read_all(path: Path, **kw: Any) -> tuple[list[Event], list[DeadLetter]]:
    evs: list[Event] = []
    dls: list[DeadLetter] = []
    for item in read_path(path, **kw):
        (evs if isinstance(item, Event) else dls).append(item)  # type: ignore[arg-type]
    return evs, dls


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def one(tmp_path: Path, record: dict[str, Any]) -> Event:
    evs, dls = read_all(write_jsonl(tmp_path / "one.jsonl", [record]))
    assert dls == []
    assert len(evs) == 1
    return evs[0]


def epoch(s: str) -> float:
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def railway(event_type: str, *, rid: str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            created: str = "2025-08-02T07:14:03.250Z", env: dict[str, str] | None = None,
            data: dict[str, Any] | None = None, actor: dict[str, Any] | None = None,
            token: dict[str, str] | None = None, project: dict[str, str] | None = None) -> dict[str, Any]:
    """A Railway audit-log entry in the shape the shipped mapping expects (see railway.yaml)."""
    rec: dict[str, Any] = {
        "id": rid,
        "eventType": event_type,
        "createdAt": created,
        "workspace": WORKSPACE,
        "project": PROJECT if project is None else project,
        "environment": PROD if env is None else env,
        "eventData": data or {},
        "actor": actor or {"type": "User", "id": "d4c3b2a1-0f9e-4d8c-b7a6-f5e4d3c2b1a0",
                           "email": "ops@northwind.dev"},
    }
    if token is not None:
        rec["apiToken"] = token
    return rec


def github(action: str, *, doc_id: str = "Tq7Hs2Kd9Lw4Mx1Nz6Pv3R", ts: int = 1754118843250,
           **fields: Any) -> dict[str, Any]:
    """A GitHub audit-log event as streaming / the REST API write it."""
    rec: dict[str, Any] = {
        "@timestamp": ts,
        "_document_id": doc_id,
        "action": action,
        "actor": "kim-northwind",
        "actor_id": 71234560,
        "actor_ip": "192.0.2.44",
        "actor_location": {"country_code": "FR"},
        "created_at": ts,
        "org": "northwind",
        "org_id": 81234567,
        "business": "northwind-ent",
        "business_id": 5512,
        "operation_type": "modify",
        "user_agent": "GitHub CLI 2.55.0",
        "request_id": "D2B4:3C7A:2F1E55:4C0D21:688DB3BB",
    }
    rec.update(fields)
    return rec


PAT = {"hashed_token": "kP3xV9sQ2mR7tY1uW5zA8bC4dE6fG0hJ2kL4nM6pQ8r=",
       "programmatic_access_type": "Fine-grained personal access token", "token_id": 412093377}


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Sources registered by a test are gone afterwards."""
    sources, aliases = dict(SOURCES), dict(ALIASES)
    yield
    SOURCES.clear()
    SOURCES.update(sources)
    ALIASES.clear()
    ALIASES.update(aliases)


def line_of(text: str, needle: str) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


# --------------------------------------------------------------------------- shipped mappings


def test_shipped_mappings_load_and_are_registered() -> None:
    files = sorted(p.name for p in MAPPINGS_DIR.glob("*.yaml"))
    assert files == ["github.yaml", "railway.yaml"]
    assert {"railway-audit", "github-audit"} <= set(SOURCES)
    assert ALIASES["railway"] == "railway-audit"
    assert ALIASES["github"] == "github-audit"
    for f in files:
        m = load_mapping(MAPPINGS_DIR / f)
        assert len(m.doc.examples) >= 5
        # every shipped example is recognised by its own mapping and by no other
        for ex in m.doc.examples:
            assert [s.name for s in SOURCES.values() if s.is_record and s.is_record(ex)] == [m.name]


def test_load_mappings_returns_specs_without_registering() -> None:
    specs = load_mappings([MAPPINGS_DIR / "railway.yaml"])
    assert [s.name for s in specs] == ["railway-audit"]
    assert specs[0] is not SOURCES["railway-audit"]  # a fresh spec; the registry is untouched


# --------------------------------------------------------------------------- Railway


@pytest.mark.parametrize("event_type", ["volume.deleted", "volumeDelete"])
def test_railway_domains_token_deletes_production_volume(tmp_path: Path, event_type: str) -> None:
    rec = railway(event_type, token=DOMAINS_TOKEN,
                  data={"volume": PG_VOLUME, "service": {"id": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
                                                         "name": "Postgres"}})
    ev = one(tmp_path, rec)
    assert ev.source.type == "railway-audit"
    assert ev.event_id == "railway-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    assert ev.time == epoch("2025-08-02T07:14:03.250Z")
    assert ev.activity == "api"
    assert ev.action.name == event_type
    assert ev.action.service == "railway"
    assert ev.action.categories == (DATA, BACKUP, INFRA)
    assert ev.action.outcome == "success"
    assert (ev.resource.type, ev.resource.name, ev.resource.environment) == ("volume", "pg-data", "production")
    assert ev.actor.credential_id == DOMAINS_TOKEN["id"]
    assert ev.actor.principal == "ops@northwind.dev"
    assert ev.actor.principal_type == "User"
    assert ev.actor.account == "northwind"
    assert ev.actor.tags == {
        "workspace_id": WORKSPACE["id"], "project": "orders-api", "project_id": PROJECT["id"],
        "actor_id": "d4c3b2a1-0f9e-4d8c-b7a6-f5e4d3c2b1a0", "token_name": "domains-manager",
        # a member's token used by code: the "User" hint is overridden
        "actor_kind": "token", "access": "api_token",
    }
    assert ev.action.statement == (f"{event_type}(volume=pg-data, environment=production, project=orders-api, "
                                   "mount_path=/var/lib/postgresql/data)")
    assert ev.raw == rec


def test_railway_token_recorded_by_name_only(tmp_path: Path) -> None:
    ev = one(tmp_path, railway("volume.deleted", token={"name": "domains-manager"}, data={"volume": PG_VOLUME}))
    assert ev.actor.credential_id == "domains-manager"
    assert ev.actor.tags["token_name"] == "domains-manager"
    assert "access" not in ev.actor.tags  # the hint keys on apiToken.id, absent here
    assert ev.actor.tags["actor_kind"] == "human"


@pytest.mark.parametrize(("event_type", "data", "cats", "rtype", "rname"), [
    ("service.deleted", {"service": {"id": "s1", "name": "api"}}, (INFRA,), "service", "api"),
    ("service.deleted", {"service": {"id": "s2", "name": "Postgres"}, "volume": PG_VOLUME},
     (INFRA, DATA, BACKUP), "service", "Postgres"),
    ("serviceDelete", {"service": {"id": "s3", "name": "Postgres"}, "volumes": [PG_VOLUME]},
     (INFRA, DATA, BACKUP), "service", "Postgres"),
    ("environment.deleted", {}, (INFRA,), "environment", "production"),
    ("environmentDelete", {"volumes": [PG_VOLUME]}, (INFRA, DATA, BACKUP), "environment", "production"),
    ("project.deleted", {"volumes": [PG_VOLUME, {"id": "v2", "name": "redis-data"}]},
     (INFRA, DATA, BACKUP), "project", "orders-api"),
    ("projectDelete", {"volumes": []}, (INFRA,), "project", "orders-api"),
    ("volumeInstanceBackup.deleted", {"backup": {"id": "b1", "name": "nightly-2025-08-01"}},
     (BACKUP,), "volume_backup", "nightly-2025-08-01"),
    ("apiTokenCreate", {"apiToken": {"id": "t9", "name": "deploy-bot"}}, (CRED,), "api_token", "deploy-bot"),
    ("workspaceMember.updated", {"member": {"id": "m1", "email": "new@northwind.dev"}, "role": "ADMIN"},
     (PRIV,), "workspace_member", "new@northwind.dev"),
    ("workspaceMember.updated", {"member": {"id": "m1", "email": "new@northwind.dev"}, "role": "admin"},
     (PRIV,), "workspace_member", "new@northwind.dev"),
])
def test_railway_action_table(tmp_path: Path, event_type: str, data: dict[str, Any], cats: tuple[str, ...],
                              rtype: str, rname: str) -> None:
    ev = one(tmp_path, railway(event_type, data=data))
    assert ev.action.categories == cats
    assert (ev.resource.type, ev.resource.name) == (rtype, rname)
    assert ev.resource.environment == "production"


@pytest.mark.parametrize(("event_type", "data"), [
    ("volume.updated", {"volume": PG_VOLUME}),
    ("volume.created", {"volume": PG_VOLUME}),
    ("variable.deleted", {"variable": {"name": "DATABASE_URL"}}),
    ("deployment.removed", {"deployment": {"id": "d1"}}),
    ("volume.deleted.preview", {"volume": PG_VOLUME}),  # not the exact type; no glob covers it
    ("workspaceMember.updated", {"member": {"id": "m1", "email": "x@northwind.dev"}, "role": "MEMBER"}),
    ("workspaceMember.updated", {"member": {"id": "m1", "email": "x@northwind.dev"}, "role": "ADMINISTRATOR"}),
])
def test_railway_lookalikes_are_not_categorised(tmp_path: Path, event_type: str, data: dict[str, Any]) -> None:
    ev = one(tmp_path, railway(event_type, data=data))
    assert ev.action.categories == ()


@pytest.mark.parametrize(("actor", "principal", "tags"), [
    ({"type": "User", "id": "u1", "email": "ops@northwind.dev"}, "ops@northwind.dev", {"actor_kind": "human"}),
    ({"type": "Railway Staff", "id": "st1"}, "st1", {"actor_kind": "vendor_staff", "vendor": "railway"}),
    ({"type": "RAILWAY_STAFF", "id": "st2"}, "st2", {"actor_kind": "vendor_staff", "vendor": "railway"}),
    ({"type": "RailwayStaff", "id": "st3"}, "st3", {"actor_kind": "vendor_staff", "vendor": "railway"}),
    ({"type": "Railway System", "id": "railway-system"}, "railway-system",
     {"actor_kind": "service", "vendor": "railway"}),
    ({"type": "RAILWAY_SYSTEM", "id": "sys"}, "sys", {"actor_kind": "service", "vendor": "railway"}),
])
def test_railway_actor_type_hints(tmp_path: Path, actor: dict[str, Any], principal: str,
                                  tags: dict[str, str]) -> None:
    ev = one(tmp_path, railway("volume.updated", actor=actor, data={"volume": PG_VOLUME}))
    assert ev.actor.principal == principal
    assert ev.actor.principal_type == actor["type"]
    assert ev.actor.credential_id == ""
    hint_tags = {k: v for k, v in ev.actor.tags.items() if k in ("actor_kind", "vendor", "access")}
    assert hint_tags == tags


def test_railway_unknown_actor_type_is_not_railway(tmp_path: Path) -> None:
    rec = railway("volume.deleted", actor={"type": "Robot", "id": "r1"}, data={"volume": PG_VOLUME})
    evs, dls = read_all(write_jsonl(tmp_path / "x.jsonl", [rec]))
    assert evs == []
    assert [d.reason for d in dls] == ["unrecognised JSON record (no source matched it)"]


def test_railway_graphql_envelope(tmp_path: Path) -> None:
    rec1 = railway("volume.deleted", rid="r-1", token=DOMAINS_TOKEN, data={"volume": PG_VOLUME})
    rec2 = railway("service.deleted", rid="r-2", data={"service": {"id": "s", "name": "web"}})
    doc = {"data": {"auditLogs": {"edges": [{"node": rec1}, {"cursor": "abc"}, {"node": rec2}],
                                  "pageInfo": {"hasNextPage": False}}}}
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(doc, indent=2))
    evs, dls = read_all(path)
    assert [(e.event_id, e.source.index, e.action.categories) for e in evs] == [
        ("railway-r-1", 0, (DATA, BACKUP, INFRA)), ("railway-r-2", 2, (INFRA,))]
    assert [(d.reason, d.source.index) for d in dls] == [("railway-audit: envelope item has no 'node'", 1)]


def test_railway_missing_time_is_a_dead_letter_naming_the_path(tmp_path: Path) -> None:
    bad = railway("volume.deleted", rid="r-bad", data={"volume": PG_VOLUME})
    del bad["createdAt"]
    worse = railway("volume.deleted", rid="r-worse", created="last tuesday", data={"volume": PG_VOLUME})
    good = railway("volume.deleted", rid="r-good", data={"volume": PG_VOLUME})
    evs, dls = read_all(write_jsonl(tmp_path / "x.jsonl", [bad, worse, good]))
    assert [e.event_id for e in evs] == ["railway-r-good"]
    assert [(d.source.line, d.reason) for d in dls] == [
        (1, "railway-audit: required field 'time' is missing (path 'createdAt')"),
        (2, "railway-audit: bad time at path 'createdAt' (iso8601): 'last tuesday': "
            "Invalid isoformat string: 'last tuesday'"),
    ]
    assert json.loads(dls[0].raw)["id"] == "r-bad"


def test_railway_environment_falls_back_to_the_declared_one(tmp_path: Path) -> None:
    rec = railway("volume.deleted", data={"volume": PG_VOLUME})
    del rec["environment"]
    path = write_jsonl(tmp_path / "x.jsonl", [rec])
    (ev,), dls = read_all(path, environment="prod-eu")
    assert dls == []
    assert ev.resource.environment == "prod-eu"
    (ev2,), _ = read_all(write_jsonl(tmp_path / "y.jsonl", [railway("volume.deleted", data={})]),
                         environment="prod-eu")
    assert ev2.resource.environment == "production"  # what the record says wins


# --------------------------------------------------------------------------- GitHub


def test_github_repo_destroy_with_fine_grained_token(tmp_path: Path) -> None:
    rec = github("repo.destroy", repo="northwind/billing", repo_id=812093841, visibility="private",
                 operation_type="remove", user_agent="curl/8.7.1", **PAT)
    ev = one(tmp_path, rec)
    assert ev.source.type == "github-audit"
    assert ev.event_id == "gh-Tq7Hs2Kd9Lw4Mx1Nz6Pv3R"
    assert ev.time == 1754118843.25
    assert ev.action.name == "repo.destroy"
    assert ev.action.service == "github"
    assert ev.action.categories == (DATA,)
    assert ev.action.outcome == "success"
    assert (ev.resource.type, ev.resource.name, ev.resource.environment) == ("repository", "northwind/billing", "")
    assert ev.action.statement == "repo.destroy(repository=northwind/billing)"
    a = ev.actor
    assert (a.principal, a.credential_id, a.user_agent, a.client_addr, a.account) == (
        "kim-northwind", PAT["hashed_token"], "curl/8.7.1", "192.0.2.44", "northwind")
    assert a.tags == {"access": "Fine-grained personal access token", "token_id": "412093377",
                      "actor_id": "71234560", "business": "northwind-ent", "country": "FR",
                      "actor_kind": "token"}


@pytest.mark.parametrize(("action", "extra", "rtype", "rname"), [
    ("oauth_access.create", {}, "access_token", "kim-northwind"),  # resource_name: [user, actor]
    ("oauth_authorization.create", {}, "access_token", "kim-northwind"),
    ("public_key.create", {"repo": "northwind/billing"}, "ssh_key", "northwind/billing"),
])
def test_github_credential_creation(tmp_path: Path, action: str, extra: dict[str, Any], rtype: str,
                                    rname: str) -> None:
    ev = one(tmp_path, github(action, operation_type="create", **extra))
    assert ev.action.categories == (CRED,)
    assert (ev.resource.type, ev.resource.name) == (rtype, rname)


def test_github_fine_grained_token_created_in_a_user_account(tmp_path: Path) -> None:
    rec = github("personal_access_token.create", operation_type="create", user="kim-northwind")
    del rec["org"]  # a user-account event: no organization
    ev = one(tmp_path, rec)
    assert ev.action.categories == (CRED,)
    assert (ev.resource.type, ev.resource.name) == ("access_token", "kim-northwind")  # [user, actor]
    assert ev.actor.account == "northwind-ent"  # account: [org, business]
    assert ev.actor.credential_id == ""  # made in the web UI: no token used


@pytest.mark.parametrize(("action", "cats"), [
    ("audit_log_streaming.destroy", (LOGGING,)),
    ("audit_log_streaming.update", (LOGGING,)),
    ("audit_log_streaming.create", ()),
    ("audit_log_streaming.check", ()),
])
def test_github_audit_log_stream(tmp_path: Path, action: str, cats: tuple[str, ...]) -> None:
    rec = github(action, hashed_token="aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2yZ3aB4c=",
                 programmatic_access_type="Personal access token (classic)",
                 token_scopes="admin:enterprise")
    del rec["org"]
    ev = one(tmp_path, rec)
    assert ev.action.categories == cats
    assert ev.actor.tags["token_scopes"] == "admin:enterprise"
    if cats:
        assert (ev.resource.type, ev.resource.name) == ("audit_log_stream", "northwind-ent")


@pytest.mark.parametrize(("action", "fields", "cats"), [
    ("org.update_member", {"user": "lou-northwind", "permission": "admin", "old_permission": "read"}, (PRIV,)),
    ("org.update_member", {"user": "lou-northwind", "permission": "read", "old_permission": "admin"}, ()),
    ("org.add_member", {"user": "lou-northwind", "permission": "admin"}, (PRIV,)),
    ("org.add_member", {"user": "lou-northwind", "permission": "read"}, ()),
    ("team.add_repository", {"team": "northwind/ops", "repo": "northwind/infra", "permission": "admin"}, (PRIV,)),
    ("team.add_repository", {"team": "northwind/ops", "repo": "northwind/infra", "permission": "push"}, ()),
    ("team.add_repository", {"team": "northwind/ops", "repo": "northwind/infra"}, ()),
    ("repo.update_member", {"repo": "northwind/infra", "user": "ext-dev", "permission": "admin"}, (PRIV,)),
    ("business.add_admin", {"user": "lou-northwind"}, (PRIV,)),
])
def test_github_privilege_escalation_where_the_data_shows_it(tmp_path: Path, action: str,
                                                             fields: dict[str, Any], cats: tuple[str, ...]) -> None:
    ev = one(tmp_path, github(action, **fields))
    assert ev.action.categories == cats


def test_github_installation_token_is_a_service(tmp_path: Path) -> None:
    rec = github("team.add_repository", actor="northwind-bot[bot]", actor_is_bot=True, team="northwind/ops",
                 repo="northwind/infra", permission="admin",
                 hashed_token="zZ9yY8xX7wW6vV5uU4tT3sS2rR1qQ0pP9oO8nN7mM6l=",
                 programmatic_access_type="GitHub App server-to-server token")
    ev = one(tmp_path, rec)
    assert ev.action.categories == (PRIV,)
    assert ev.actor.principal == "northwind-bot[bot]"
    assert ev.actor.tags["actor_kind"] == "service"
    assert ev.actor.tags["access"] == "GitHub App server-to-server token"


@pytest.mark.parametrize("action", ["repo.archived", "repo.create", "protected_branch.policy_override",
                                    "repo.destroyed", "git.push", "hook.destroy"])
def test_github_lookalikes_are_not_categorised(tmp_path: Path, action: str) -> None:
    ev = one(tmp_path, github(action, repo="northwind/billing"))
    assert ev.action.categories == ()


def test_github_refused_api_request_is_a_failure(tmp_path: Path) -> None:
    base = dict(actor="Copilot", actor_is_agent=True, repo="northwind/billing", request_method="DELETE",
                url_path="/repos/northwind/billing", route="/repositories/:repository_id",
                hashed_token="mN3bV5cX7zL9kJ1hG3fD5sA7pO9iU1yT3rE5wQ7aZ9x=",
                programmatic_access_type="GitHub App user-to-server token")
    refused = one(tmp_path, github("api.request", status_code=403, **base))
    assert (refused.action.outcome, refused.action.error) == ("failure", "status_code=403")
    assert refused.actor.tags["actor_kind"] == "agent"
    assert refused.action.statement == ("api.request(resource=northwind/billing, method=DELETE, "
                                        "path=/repos/northwind/billing)")
    done = one(tmp_path, github("api.request", status_code=204, **base))
    assert (done.action.outcome, done.action.error) == ("success", "")


def test_github_json_lines_are_auto_detected(tmp_path: Path) -> None:
    records = [
        github("repo.destroy", doc_id="d-1", repo="northwind/a", **PAT),
        github("personal_access_token.create", doc_id="d-2", ts=1754118844000),
        github("audit_log_streaming.destroy", doc_id="d-3", ts=1754118845000),
        github("repo.archived", doc_id="d-4", ts=1754118846000, repo="northwind/b"),
    ]
    text = "".join(json.dumps(r) + "\n" for r in records)
    assert detect(text.encode()[:65536]) == "github-audit"
    for path in (tmp_path / "gh.jsonl", tmp_path / "gh.jsonl.gz"):
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text)
        evs, dls = read_all(path)
        assert dls == []
        assert [(e.event_id, e.source.type, e.source.line, e.action.categories) for e in evs] == [
            ("gh-d-1", "github-audit", 1, (DATA,)), ("gh-d-2", "github-audit", 2, (CRED,)),
            ("gh-d-3", "github-audit", 3, (LOGGING,)), ("gh-d-4", "github-audit", 4, ())]


def test_github_rest_api_array(tmp_path: Path) -> None:
    path = tmp_path / "audit-log.json"
    path.write_text(json.dumps([github("repo.destroy", doc_id="a-1", repo="northwind/a"),
                                github("repo.create", doc_id="a-2", repo="northwind/b")], indent=2))
    evs, dls = read_all(path)
    assert dls == []
    assert [(e.event_id, e.source.index, e.action.categories) for e in evs] == [
        ("gh-a-1", 0, (DATA,)), ("gh-a-2", 1, ())]


def test_github_malformed_records_are_dead_letters_and_the_rest_is_read(tmp_path: Path) -> None:
    no_ts = github("repo.destroy", doc_id="x-1", repo="northwind/a")
    del no_ts["@timestamp"]
    str_ts = github("repo.destroy", doc_id="x-2", repo="northwind/a")
    str_ts["@timestamp"] = "yesterday"
    no_action = github("repo.destroy", doc_id="x-3")
    no_action["action"] = {"name": "repo.destroy"}
    lines = [json.dumps(no_ts), json.dumps(str_ts), "{not json", json.dumps(no_action),
             json.dumps(github("repo.destroy", doc_id="x-5", repo="northwind/e"))]
    path = tmp_path / "gh.jsonl"
    path.write_text("\n".join(lines) + "\n")
    evs, dls = read_all(path)
    assert [e.event_id for e in evs] == ["gh-x-5"]
    reasons = [(d.source.line, d.reason) for d in dls]
    assert reasons[0] == (1, "github-audit: required field 'time' is missing (path '@timestamp')")
    assert reasons[1] == (2, "github-audit: bad time at path '@timestamp' (epoch_ms): 'yesterday': not a number")
    assert reasons[2][0] == 3 and reasons[2][1].startswith("invalid JSON")
    # the action is an object: `match` (action regex) fails, and the file's source says why
    assert reasons[3] == (4, "not a github-audit record: 'action' is '{\"name\":\"repo.destroy\"}', "
                             "expected /^[a-z0-9_]+(\\.[a-z0-9_]+)+$/")
    assert len(dls) == 4


def test_records_of_other_sources_are_not_claimed(tmp_path: Path) -> None:
    cloudtrail = {"eventVersion": "1.09", "eventSource": "rds.amazonaws.com", "eventName": "DeleteDBInstance",
                  "eventTime": "2025-08-02T07:14:03Z", "awsRegion": "eu-west-1", "eventID": "c0ffee00-1",
                  "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/x",
                                   "accountId": "111122223333"},
                  "requestParameters": {"dBInstanceIdentifier": "orders"}}
    pg = {"timestamp": "2025-08-02 07:14:03.250 UTC", "user": "app", "dbname": "orders", "pid": 4242,
          "error_severity": "LOG", "message": "statement: SELECT 1"}
    workos = {"id": "audit_event_01", "action": "user.signed_in", "occurred_at": "2025-08-02T07:14:03Z",
              "actor": {"type": "user", "id": "u"}, "targets": []}
    for spec in (SOURCES["github-audit"], SOURCES["railway-audit"]):
        assert spec.is_record is not None
        assert not any(spec.is_record(r) for r in (cloudtrail, pg, workos))
    assert not SOURCES["github-audit"].is_record(railway("volume.deleted"))  # type: ignore[misc]
    assert not SOURCES["railway-audit"].is_record(github("repo.destroy"))  # type: ignore[misc]
    # a mixed file: each record goes to its own source; the stranger is dead-lettered with
    # the reason of the source the file was detected as (its first record's)
    evs, dls = read_all(write_jsonl(tmp_path / "mixed.jsonl", [
        github("repo.destroy", doc_id="m-1", repo="northwind/a"),
        railway("volume.deleted", rid="m-2", data={"volume": PG_VOLUME}), workos]))
    assert [(e.source.type, e.event_id) for e in evs] == [("github-audit", "gh-m-1"), ("railway-audit", "railway-m-2")]
    assert [(d.source.line, d.reason) for d in dls] == [(3, "not a github-audit record: '_document_id' is missing")]


# --------------------------------------------------------------------------- a user's own mapping

ACME = """\
# A platform invented for this test: "acme cloud" audit export.
name: acme-cloud
description: Acme Cloud audit export
service: acme
aliases: [acme]
match:
  - {path: schema, equals: acme.audit/v1}
envelopes:
  - {path: entries}
fields:
  event_id: uid
  time: ts
  time_format: epoch_s
  action: op
  outcome: {path: result.status, success: [ok], error: result.message}
  principal: who.login
  principal_type: who.kind
  credential: [who.key_id, who.key_name]
  client_ip: origin.ip
  user_agent: origin.agent
  environment: target.env
  account: tenant
  resource_type: target.kind
  resource_name: target.name
tags:
  key_name: who.key_name
identity_hints:
  - path: who.kind
    values:
      robot: {actor_kind: service}
      person: {actor_kind: human}
categories:
  "*.purge": [data.destroy, backup.destroy]
  bucket.delete:
    categories: [infra.destroy]
    when:
      - if: {path: target.objects, regex: '^[1-9]'}
        add: [data.destroy]
  snapshot.delete: [backup.destroy]
examples:
  - schema: acme.audit/v1
    uid: ev-0001
    ts: 1754118843.5
    op: bucket.delete
    tenant: northwind
    who: {login: ci-robot, kind: robot, key_id: AK-77, key_name: ci}
    origin: {ip: 198.51.100.9, agent: acme-cli/3.1}
    target: {kind: bucket, name: invoices, env: prod, objects: 1200}
    result: {status: ok}
  - schema: acme.audit/v1
    uid: ev-0002
    ts: 1754118850
    op: snapshot.delete
    tenant: northwind
    who: {login: kim, kind: person}
    target: {kind: snapshot, name: invoices-daily, env: prod}
    result: {status: denied, message: snapshot is locked}
"""


def acme(op: str, uid: str, *, status: str = "ok", objects: int | None = None, **kw: Any) -> dict[str, Any]:
    target: dict[str, Any] = {"kind": "bucket", "name": "reports", "env": "prod"}
    if objects is not None:
        target["objects"] = objects
    rec: dict[str, Any] = {"schema": "acme.audit/v1", "uid": uid, "ts": 1754200000 + int(uid[-1]), "op": op,
                           "tenant": "northwind", "who": {"login": "deploy-robot", "kind": "robot",
                                                          "key_id": "AK-99", "key_name": "deploy"},
                           "origin": {"ip": "203.0.113.5", "agent": "acme-cli/3.2"},
                           "target": target, "result": {"status": status}}
    rec.update(kw)
    return rec


def test_user_mapping_end_to_end(tmp_path: Path, clean_registry: None) -> None:
    mapping = tmp_path / "acme.yaml"
    mapping.write_text(ACME)
    (spec,) = register_mappings([mapping])
    assert SOURCES["acme-cloud"] is spec and ALIASES["acme"] == "acme-cloud"
    records = [
        acme("bucket.delete", "u1", objects=12),
        acme("bucket.delete", "u2", objects=0),
        acme("logs.purge", "u3"),
        acme("snapshot.delete", "u4", status="denied", result={"status": "denied", "message": "locked"}),
        acme("bucket.create", "u5"),
        {**acme("bucket.delete", "u6"), "schema": "acme.audit/v2"},
        acme("bucket.delete", "u7", ts="soon"),
    ]
    evs, dls = read_all(write_jsonl(tmp_path / "acme.jsonl", records))
    assert [(e.event_id, e.action.categories, e.action.outcome, e.action.error) for e in evs] == [
        ("acme-cloud-u1", (INFRA, DATA), "success", ""),
        ("acme-cloud-u2", (INFRA,), "success", ""),
        ("acme-cloud-u3", (DATA, BACKUP), "success", ""),
        ("acme-cloud-u4", (BACKUP,), "failure", "locked"),  # failed: categorised, never done
        ("acme-cloud-u5", (), "success", ""),
    ]
    e = evs[0]
    assert e.source.type == "acme-cloud"
    assert e.time == 1754200001.0
    assert e.action.service == "acme"
    assert (e.resource.type, e.resource.name, e.resource.environment) == ("bucket", "reports", "prod")
    assert (e.actor.principal, e.actor.principal_type, e.actor.credential_id, e.actor.account) == (
        "deploy-robot", "robot", "AK-99", "northwind")
    assert (e.actor.client_addr, e.actor.user_agent) == ("203.0.113.5", "acme-cli/3.2")
    assert e.actor.tags == {"key_name": "deploy", "actor_kind": "service"}
    assert [(d.source.line, d.reason) for d in dls] == [
        (6, "not a acme-cloud record: 'schema' is 'acme.audit/v2', expected 'acme.audit/v1'"),
        (7, "acme-cloud: bad time at path 'ts' (epoch_s): 'soon': not a number"),
    ]
    # the declared envelope, with the alias as the format
    doc = tmp_path / "acme-export.json"
    doc.write_text(json.dumps({"entries": [acme("db.purge", "u8")], "next": None}))
    evs2, dls2 = read_all(doc, fmt="acme")
    assert dls2 == []
    assert [(e.event_id, e.source.index, e.action.categories) for e in evs2] == [("acme-cloud-u8", 0, (DATA, BACKUP))]


def test_registering_a_taken_name_is_an_error(tmp_path: Path, clean_registry: None) -> None:
    mapping = tmp_path / "gh2.yaml"
    mapping.write_text(ACME.replace("name: acme-cloud", "name: github-audit"))
    with pytest.raises(ConfigError, match=f"{mapping}: mapping 'github-audit': 'github-audit' is already"):
        register_mappings([mapping])
    assert SOURCES["github-audit"] is not None


# --------------------------------------------------------------------------- load-time errors


def load_text(tmp_path: Path, text: str) -> str:
    path = tmp_path / "user.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_mapping(path)
    return str(ei.value)


def test_missing_path_is_an_error_naming_file_line_key_and_path(tmp_path: Path) -> None:
    text = ACME.replace("credential: [who.key_id, who.key_name]", "credential: [who.key_id, who.keyname]")
    msg = load_text(tmp_path, text)
    line = line_of(text, "who.keyname")
    assert msg == (f"{tmp_path / 'user.yaml'}:{line}: mapping 'acme-cloud': fields.credential[1]: path "
                   "'who.keyname' is not found in any of the 2 example record(s); fix the path or add an "
                   "example that has it")


def test_missing_path_in_a_category_condition(tmp_path: Path) -> None:
    text = ACME.replace("{path: target.objects, regex:", "{path: target.object_count, regex:")
    msg = load_text(tmp_path, text)
    line = line_of(text, "target.object_count")
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:{line}: mapping 'acme-cloud': "
                          "categories['bucket.delete'].when[0].if.path: path 'target.object_count' is not found")


def test_missing_path_in_a_shipped_mapping_is_caught(tmp_path: Path) -> None:
    text = (MAPPINGS_DIR / "railway.yaml").read_text()
    text = text.replace("credential: [apiToken.id, apiToken.name]", "credential: [apiToken.tokenId, apiToken.name]")
    msg = load_text(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:{line_of(text, 'apiToken.tokenId')}: mapping "
                          "'railway-audit': fields.credential[0]: path 'apiToken.tokenId' is not found")


def test_unknown_category_is_an_error(tmp_path: Path) -> None:
    text = ACME.replace("snapshot.delete: [backup.destroy]", "snapshot.delete: [backup.destory]")
    msg = load_text(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:{line_of(text, 'backup.destory')}: mapping 'acme-cloud': "
                          "categories['snapshot.delete'][0]: unknown category 'backup.destory'; the vocabulary is: "
                          "data.destroy, backup.destroy,")


def test_unknown_category_in_a_condition(tmp_path: Path) -> None:
    text = ACME.replace("add: [data.destroy]", "add: [data.delete]")
    msg = load_text(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:{line_of(text, 'data.delete')}: mapping 'acme-cloud': "
                          "categories['bucket.delete'].when[0].add[0]: unknown category 'data.delete'")


def test_bad_yaml_is_an_error_with_its_line(tmp_path: Path) -> None:
    text = ACME.replace("  time_format: epoch_s\n", "  time_format: [epoch_s\n")
    msg = load_text(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:")
    assert "invalid YAML" in msg
    reported = int(msg.split(":")[1])
    assert line_of(text, "[epoch_s") <= reported <= line_of(text, "[epoch_s") + 2


@pytest.mark.parametrize(("old", "new", "needle", "key", "problem"), [
    ("  user_agent: origin.agent\n", "  user_agnet: origin.agent\n", "user_agnet", "fields.user_agnet",
     "Extra inputs are not permitted"),
    ("  time_format: epoch_s\n", "  time_format: unix\n", "time_format", "fields.time_format",
     "Input should be 'iso8601', 'epoch_ms' or 'epoch_s'"),
    ("  - {path: schema, equals: acme.audit/v1}\n", "  - {path: schema, equals: acme.audit/v1, regex: x}\n",
     "regex: x", "match[0]", "a condition has exactly one of"),
    ("      - if: {path: target.objects, regex: '^[1-9]'}\n", "      - if: {path: target.objects, regex: '^[1-9'}\n",
     "'^[1-9'", "categories['bucket.delete'].when[0].if", "bad regex"),
    ("name: acme-cloud\n", "name: Acme Cloud\n", "name: Acme", "name", "String should match pattern"),
    ("match:\n  - {path: schema, equals: acme.audit/v1}\n", "match: []\n", "match: []", "match",
     "should have at least 1 item"),
])
def test_schema_errors_name_file_line_and_key(tmp_path: Path, old: str, new: str, needle: str, key: str,
                                              problem: str) -> None:
    assert old in ACME
    text = ACME.replace(old, new)
    msg = load_text(tmp_path, text)
    line = line_of(text, needle)
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:{line}: mapping ")
    assert f": {key}: " in msg
    assert problem in msg


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    text = ACME.replace("  snapshot.delete: [backup.destroy]\n",
                        "  snapshot.delete: [backup.destroy]\n  snapshot.delete: [data.destroy]\n")
    msg = load_text(tmp_path, text)
    assert msg == f"{tmp_path / 'user.yaml'}:{line_of(text, 'snapshot.delete: [data')}: duplicate key " \
                  "categories['snapshot.delete']"


def test_bad_path_syntax_is_an_error(tmp_path: Path) -> None:
    text = ACME.replace("account: tenant", "account: tenant..name")
    msg = load_text(tmp_path, text)
    assert msg.startswith(f"{tmp_path / 'user.yaml'}:{line_of(text, 'tenant..name')}: mapping 'acme-cloud': "
                          "fields.account: empty key")


def test_example_that_does_not_match_is_an_error(tmp_path: Path) -> None:
    text = ACME.replace("    uid: ev-0002\n", "    uid: ev-0002\n    ts_note: x\n").replace(
        "  - schema: acme.audit/v1\n    uid: ev-0002", "  - schema: acme.audit/v0\n    uid: ev-0002")
    msg = load_text(tmp_path, text)
    assert msg == (f"{tmp_path / 'user.yaml'}:{line_of(text, 'acme.audit/v0')}: mapping 'acme-cloud': examples[1]: "
                   "example 1 does not satisfy 'match': 'schema' is 'acme.audit/v0', expected 'acme.audit/v1'")


def test_example_without_a_required_field_is_an_error(tmp_path: Path) -> None:
    text = ACME.replace("    ts: 1754118850\n", "")
    msg = load_text(tmp_path, text)
    assert msg.endswith("examples[1]: example 1 does not normalise: acme-cloud: required field 'time' is "
                        "missing (path 'ts')")


def test_not_a_mapping_and_unreadable_files(tmp_path: Path) -> None:
    assert load_text(tmp_path, "- a\n- b\n").endswith(":1: a mapping file holds one YAML mapping (name, match, "
                                                      "fields, categories, examples, ...), not list")
    with pytest.raises(ConfigError, match="cannot read mapping"):
        load_mapping(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(("path", "obj", "value"), [
    ("actor.type", {"actor": {"type": "User"}}, "User"),
    ("resources[0].name", {"resources": [{"name": "a"}, {"name": "b"}]}, "a"),
    ("resources[-1].name", {"resources": [{"name": "a"}, {"name": "b"}]}, "b"),
    ('["@timestamp"]', {"@timestamp": 5}, 5),
    ('a["b.c"].d', {"a": {"b.c": {"d": True}}}, True),
    ("m[0][1]", {"m": [[1, 2]]}, 2),
])
def test_path_resolution(path: str, obj: Any, value: Any) -> None:
    assert parse_path(path).get(obj) == value


@pytest.mark.parametrize(("path", "obj"), [
    ("a.b", {"a": "x"}), ("a[2]", {"a": [1]}), ("a.b", {"a": {"b": None}}), ("a[0]", {"a": {"0": 1}}),
])
def test_path_absent(path: str, obj: Any) -> None:
    assert parse_path(path).get(obj) is mapped_json.MISSING


@pytest.mark.parametrize("bad", ["", "a..b", ".a", "a.", "[0]", "a[x]", 'a["b', "a b[0]c"])
def test_path_syntax_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_path(bad)


def test_a_required_key_left_out_is_named(tmp_path: Path) -> None:
    text = ACME.replace("  action: op\n", "")
    msg = load_text(tmp_path, text)
    assert msg == f"{tmp_path / 'user.yaml'}:{line_of(text, 'fields:')}: mapping 'acme-cloud': fields.action: " \
                  "Field required"
