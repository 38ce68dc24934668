"""Intent analysis of agent shell commands (the pre-tool guard's input).

1. the corpus (commands.yaml): every command's destructive verdict and its exact
   taxonomy categories, the April 2026 Railway incident first;
2. credentials: fingerprints by value (a token in a header and the same token in the
   environment fingerprint alike), kinds and sources, and the secret never appears in
   anything returned (redacted, summaries, targets, notes, repr, to_dict);
3. robustness: malformed commands report a parse error and never raise; arbitrary
   text up to 10 KB never raises (hypothesis); oversized input is truncated and judged
   conservatively; ordinary commands stay well under the 50 ms budget.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditwatch.detectors.intent.shell import (
    MAX_ANALYSED,
    CredentialUse,
    Intent,
    analyse_command,
    fingerprint,
)
from auditwatch.detectors.taxonomy import CATEGORIES, DESTRUCTIVE

CORPUS_PATH = Path(__file__).with_name("commands.yaml")
CORPUS: list[dict[str, Any]] = yaml.safe_load(CORPUS_PATH.read_text())

INCIDENT = (
    'curl -s -X POST https://backboard.railway.app/graphql/v2 -H "Authorization: Bearer $RAILWAY_TOKEN" '
    '-H "Content-Type: application/json" '
    '-d \'{"query":"mutation { volumeDelete(volumeId: \\"vol_...\\") }"}\''
)
TOKEN = "4f1c9a7e-52b3-4d0e-8c1a-9e7b3f2d6a10"  # a made-up Railway token


def _all_text(intent: Intent) -> str:
    """Everything the analysis hands back, as one string."""
    return "\n".join([repr(intent), json.dumps(intent.to_dict()), intent.redacted, *intent.notes,
                      *(a.summary + a.target for a in intent.actions)])


# =============================================================================
# 1. the corpus
# =============================================================================


def test_corpus_shape() -> None:
    assert len(CORPUS) >= 160
    destructive = [c for c in CORPUS if c["destructive"]]
    harmless = [c for c in CORPUS if not c["destructive"] and not c.get("categories")]
    assert len(destructive) >= 70
    assert len(harmless) >= 90
    seen = set()
    for c in CORPUS:
        assert set(c) <= {"cmd", "destructive", "categories", "note"}, c
        assert isinstance(c["cmd"], str) and c["cmd"].strip()
        assert c.get("note"), c["cmd"]
        assert c["cmd"] not in seen, f"duplicate: {c['cmd']}"
        seen.add(c["cmd"])
        cats = c.get("categories") or []
        assert set(cats) <= set(CATEGORIES), cats
        # the label agrees with the taxonomy's meaning of destructive
        assert c["destructive"] == bool(set(cats) & DESTRUCTIVE), c["cmd"]
    assert any(c["cmd"] == INCIDENT for c in CORPUS), "the incident's exact shape is in the corpus"


@pytest.mark.parametrize("case", CORPUS, ids=[f"{i:03d}-{c['note'][:40]}" for i, c in enumerate(CORPUS)])
def test_corpus_command(case: dict[str, Any]) -> None:
    intent = analyse_command(case["cmd"])
    expected = tuple(sorted(case.get("categories") or []))
    assert intent.destructive == case["destructive"], (case["cmd"], intent.actions)
    assert intent.categories == expected, (case["cmd"], intent.actions)
    assert list(intent.categories) == sorted(intent.categories)
    assert not intent.parse_error.startswith("internal error"), intent.parse_error


# =============================================================================
# the incident, and what the guard needs from it
# =============================================================================


def test_incident_without_environment() -> None:
    intent = analyse_command(INCIDENT)
    assert intent.categories == ("backup.destroy", "data.destroy", "infra.destroy")
    assert intent.destructive
    (action,) = intent.actions
    assert action.kind == "railway.graphql.volumeDelete"
    assert action.target == "vol_..."
    assert "backboard.railway.app/graphql/v2" in action.summary
    # the token is only referenced: fingerprinted by its name, kind env-ref
    assert intent.credentials == [
        CredentialUse(kind="env-ref", fingerprint=fingerprint("RAILWAY_TOKEN"), source="env", name="RAILWAY_TOKEN")
    ]
    assert intent.parse_error == ""
    assert not intent.truncated


def test_incident_with_environment_fingerprints_the_value() -> None:
    intent = analyse_command(INCIDENT, env={"RAILWAY_TOKEN": TOKEN, "HOME": "/home/agent"})
    assert intent.categories == ("backup.destroy", "data.destroy", "infra.destroy")
    assert intent.credentials == [
        CredentialUse(kind="bearer", fingerprint=fingerprint(TOKEN), source="env", name="RAILWAY_TOKEN")
    ]
    assert TOKEN not in _all_text(intent)


def test_railway_token_in_production_environment_hint() -> None:
    intent = analyse_command(INCIDENT, env={"RAILWAY_ENVIRONMENT": "production"})
    assert intent.actions[0].environment_hint == "prod"


# =============================================================================
# 2. credentials
# =============================================================================


def test_same_token_in_header_and_env_has_one_fingerprint() -> None:
    url = "https://api.vercel.com/v9/projects/prj_1"
    literal = analyse_command(f'curl -X DELETE {url} -H "Authorization: Bearer {TOKEN}"')
    from_env = analyse_command(f'curl -X DELETE {url} -H "Authorization: Bearer $VERCEL_TOKEN"',
                               env={"VERCEL_TOKEN": TOKEN})
    inline = analyse_command(f'VERCEL_TOKEN={TOKEN} curl -X DELETE {url} -H "Authorization: Bearer $VERCEL_TOKEN"')
    fp = fingerprint(TOKEN)
    assert fp == __import__("hashlib").sha256(TOKEN.encode()).hexdigest()[:16]
    assert [(c.kind, c.fingerprint, c.source) for c in literal.credentials] == [("bearer", fp, "header")]
    assert [(c.kind, c.fingerprint, c.source) for c in from_env.credentials] == [("bearer", fp, "env")]
    assert {(c.fingerprint, c.source) for c in inline.credentials} == {(fp, "env")}
    for intent in (literal, from_env, inline):
        assert intent.categories == ("infra.destroy",)
        assert TOKEN not in _all_text(intent)
    assert f"<redacted:{fp}>" in literal.redacted
    assert f"VERCEL_TOKEN=<redacted:{fp}>" in inline.redacted


@pytest.mark.parametrize(
    ("cmd", "kind", "source", "secret"),
    [
        ("curl -u deploy:Tr0ub4dor3 -X DELETE https://api.heroku.com/apps/shop-prod", "password", "arg",
         "Tr0ub4dor3"),
        ("psql postgres://app:Sup3rSecretPw@prod-db:5432/app -c 'select 1'", "url_password", "url",
         "Sup3rSecretPw"),
        ("curl 'https://api.example.com/v1/items?api_key=k_9f8e7d6c5b4a' ", "api_key", "url", "k_9f8e7d6c5b4a"),
        ("curl -H 'x-api-key: xk-1234567890abcdef' https://api.example.com/v1/items", "api_key", "header",
         "xk-1234567890abcdef"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 rb s3://acme-prod --force",
         "aws_key", "env", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("mysql -u root -pHunter2Hunter2 -e 'DROP DATABASE shop'", "password", "arg", "Hunter2Hunter2"),
        ("curl -H 'Authorization: Basic ZGVwbG95OnMzY3JldC1wYXNz' https://api.example.com/x", "password",
         "header", "s3cret-pass"),
        ("aws s3 ls --profile x AKIAIOSFODNN7EXAMPLE", "aws_key", "arg", "AKIAIOSFODNN7EXAMPLE"),
        ("fly apps destroy api-prod --access-token fo1_abcdefghijklmnopqrstuvwxyz", "api_key", "arg",
         "fo1_abcdefghijklmnopqrstuvwxyz"),
    ],
)
def test_credential_kinds_and_sources(cmd: str, kind: str, source: str, secret: str) -> None:
    intent = analyse_command(cmd)
    assert (kind, fingerprint(secret), source) in {(c.kind, c.fingerprint, c.source) for c in intent.credentials}
    assert secret not in _all_text(intent)


def test_secret_never_in_summary_or_target() -> None:
    secret = "pw_0123456789abcdef"
    cmd = f"curl -X DELETE 'https://user:{secret}@api.render.com/v1/postgres/dpg-1?token={secret}'"
    intent = analyse_command(cmd)
    assert intent.categories == ("backup.destroy", "data.destroy", "infra.destroy")
    assert secret not in _all_text(intent)
    assert all(c.fingerprint == fingerprint(secret) for c in intent.credentials)


def test_env_secret_used_anywhere_is_redacted() -> None:
    secret = "tok_abcdefghijklmnop"
    # a secret-named variable's value lands in a URL path: never shown
    intent = analyse_command('curl -X DELETE "https://api.github.com/repos/acme/$TOKEN"', env={"TOKEN": secret})
    assert intent.categories == ("data.destroy", "infra.destroy")
    assert secret not in _all_text(intent)
    # and used as a credential: fingerprinted by value, source env
    intent2 = analyse_command('curl -H "Authorization: token $GH" -X DELETE "https://api.github.com/repos/acme/x"',
                              env={"GH": secret})
    assert secret not in _all_text(intent2)
    assert [(c.kind, c.fingerprint, c.source, c.name) for c in intent2.credentials] == [
        ("bearer", fingerprint(secret), "env", "GH")]


# =============================================================================
# environment hints
# =============================================================================


@pytest.mark.parametrize(
    ("cmd", "hint"),
    [
        ("railway environment delete old --environment production", "prod"),
        ("kubectl --context prod delete ns payments", "prod"),
        ("kubectl --context staging-eu delete ns payments", "staging"),
        ("fly apps destroy api-prod -y", "prod"),
        ("dropdb -h localhost myapp_dev", "dev"),
        ("terraform workspace select production && terraform destroy -auto-approve", "prod"),
        ("cd envs/staging && terraform destroy -auto-approve", "staging"),
        ("AWS_PROFILE=prod aws ec2 delete-volume --volume-id vol-1", "prod"),
        ("aws ec2 delete-volume --volume-id vol-1", ""),
        ("dropdb preprod_app", "staging"),
        ("dropdb products", ""),
    ],
)
def test_environment_hints(cmd: str, hint: str) -> None:
    intent = analyse_command(cmd)
    assert intent.destructive, cmd
    assert intent.actions[0].environment_hint == hint


# =============================================================================
# 3. robustness
# =============================================================================

MALFORMED = [
    'echo "unterminated',
    "echo 'unterminated",
    "echo $(dropdb prod",
    "cat <<EOF\nno end",
    "echo `unclosed",
    "echo ${unclosed",
    "bash -c",
    "psql -c",
    "curl -X",
    "(((((",
    ")))) ;; && || |",
    "\\",
    "$'\\x",
    "\x00\x01\x02",
    "<<",
    "a=$(" * 200,
    "$(" * 5000,
    "`" * 999,
    "echo ${a:-${b:-${c:-" * 100,
    "'" * 10001,
]


@pytest.mark.parametrize("cmd", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_never_raises(cmd: str) -> None:
    intent = analyse_command(cmd)
    assert isinstance(intent, Intent)
    assert not intent.parse_error.startswith("internal error")


def test_parse_error_reported_and_best_effort_kept() -> None:
    intent = analyse_command("dropdb prod; echo 'oops")
    assert "quote" in intent.parse_error
    assert intent.categories == ("data.destroy",)
    assert analyse_command("dropdb prod").parse_error == ""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=10_000))
def test_arbitrary_text_never_raises(cmd: str) -> None:
    start = time.perf_counter()
    intent = analyse_command(cmd)
    assert isinstance(intent, Intent)
    assert not intent.parse_error.startswith("internal error"), intent.parse_error
    assert time.perf_counter() - start < 2.0


FRAGMENTS = [*"$()`'\"\\|&;<>{}#!=-:/ \n\tabcdEOF0123456789xX*~", "<<", "$(", "${", "<<'EOF'\n", "\nEOF\n",
             "bash -c ", "eval ", "| base64 -d | sh", "curl -d ", "psql -c ", "xargs ", "sudo ", "rm -rf ",
             "mutation { volumeDelete }", "$'\\x", "\\\n", "python -c "]
SHELLISH = st.lists(st.sampled_from(FRAGMENTS), max_size=400).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SHELLISH)
def test_shell_shaped_noise_never_raises(cmd: str) -> None:
    intent = analyse_command(cmd)
    assert not intent.parse_error.startswith("internal error"), intent.parse_error


def test_oversized_command_is_truncated_and_judged_by_keywords() -> None:
    filler = "echo " + "a" * (MAX_ANALYSED + 100)
    intent = analyse_command(filler + "\ndropdb prod")
    assert intent.truncated
    assert intent.destructive
    assert any("analysed the first" in n for n in intent.notes)
    clean = analyse_command(filler + "\necho done")
    assert clean.truncated and not clean.destructive


def test_ordinary_commands_are_fast() -> None:
    cmds = [c["cmd"] for c in CORPUS]
    for c in cmds:  # warm caches (the SQL classifier keeps statement shapes)
        analyse_command(c)
    times = []
    for c in cmds:
        t = time.perf_counter()
        analyse_command(c)
        times.append(time.perf_counter() - t)
    times.sort()
    assert times[int(len(times) * 0.99) - 1] < 0.050


def test_intent_serialises() -> None:
    d = analyse_command(INCIDENT).to_dict()
    assert d["destructive"] is True
    assert d["actions"][0]["categories"] == ["backup.destroy", "data.destroy", "infra.destroy"]
    json.dumps(d)
