"""CloudTrail source on the real public samples (../shared/corpus, PROVENANCE.md section 1).

The files are read in place, never copied. Every count asserted here is first
established independently in the test (plain ``gzip`` + ``json`` over the same
files), then compared with what auditwatch produces.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from auditwatch.model import Event
from auditwatch.streams.reader import read_path, read_stream
from auditwatch.streams.sources.base import DeadLetter
from tests.conftest import need

DATA = "data.destroy"
BACKUP = "backup.destroy"
LOGGING = "logging.disable"
PRIV = "privilege.escalate"
CRED = "credential.create"
INFRA = "infra.destroy"
KEY = "key.destroy"


def split(items: list[Any]) -> tuple[list[Event], list[DeadLetter]]:
    events = [i for i in items if isinstance(i, Event)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    assert len(events) + len(dead) == len(items)
    return events, dead


def files(corpus: Path, folder: str, pattern: str, expected: int) -> list[Path]:
    d = corpus / folder
    need(d.is_dir(), f"CloudTrail samples not found at {d}")
    found = sorted(d.glob(pattern))
    assert len(found) == expected, f"{d}/{pattern}: expected {expected} files, found {len(found)}"
    return found


def cats(e: Event) -> tuple[str, ...]:
    return tuple(sorted(e.action.categories))


# =========================================================================== invictus-ir


class Invictus:
    def __init__(self, paths: list[Path]) -> None:
        self.raw: list[dict[str, Any]] = []
        self.events: list[Event] = []
        self.dead: list[DeadLetter] = []
        self.per_file: list[tuple[int, int]] = []  # (records in file, events read)
        for p in paths:
            with gzip.open(p, "rb") as f:
                recs = json.load(f)["Records"]
            ev, dl = split(list(read_path(p)))
            self.raw.extend(recs)
            self.events.extend(ev)
            self.dead.extend(dl)
            self.per_file.append((len(recs), len(ev)))


@pytest.fixture(scope="module")
def invictus(corpus: Path) -> Invictus:
    return Invictus(files(corpus, "invictus-ir-aws-dataset/CloudTrail", "*.json.gz", 55))


def test_invictus_all_files_parse_with_no_dead_letters(invictus: Invictus) -> None:
    assert invictus.dead == []
    assert len(invictus.raw) == 2900  # PROVENANCE 1a, and the independent gzip+json count
    assert len(invictus.events) == len(invictus.raw)
    assert all(n_rec == n_ev for n_rec, n_ev in invictus.per_file)
    # events come out in file order, one per record
    assert [e.raw["eventID"] for e in invictus.events] == [r["eventID"] for r in invictus.raw]
    assert [e.event_id for e in invictus.events] == [f"ct-{r['eventID']}" for r in invictus.raw]
    assert all(e.source.index is not None for e in invictus.events)


def test_invictus_outcome_follows_error_code(invictus: Invictus) -> None:
    failed = 0
    for r, e in zip(invictus.raw, invictus.events, strict=True):
        if r.get("errorCode"):
            failed += 1
            assert e.action.outcome == "failure", r["eventID"]
            assert e.action.error.startswith(r["errorCode"]), r["eventID"]
        else:
            assert e.action.outcome == "success", r["eventID"]
            assert e.action.error == "", r["eventID"]
    assert sum(e.action.outcome == "failure" for e in invictus.events) == failed


# (eventName, errorCode or None) -> (how many, categories); established by an independent
# count over the raw records below, then checked against the events.
INVICTUS_DESTRUCTIVE: dict[tuple[str, str | None], tuple[int, tuple[str, ...]]] = {
    ("DeleteTrail", None): (2, (LOGGING,)),
    ("DeleteTrail", "TrailNotFoundException"): (1, (LOGGING,)),
    ("StopLogging", "TrailNotFoundException"): (3, (LOGGING,)),
    ("DeleteBucket", None): (5, tuple(sorted((DATA, INFRA)))),
    ("DeleteBucket", "BucketNotEmpty"): (3, tuple(sorted((DATA, INFRA)))),
    ("DeleteVolume", None): (2, tuple(sorted((DATA, INFRA)))),
    ("DeleteSnapshot", None): (2, (BACKUP,)),
    ("DeleteDBSnapshot", None): (1, (BACKUP,)),
    ("TerminateInstances", None): (2, (INFRA,)),
    ("DeleteFlowLogs", None): (1, (LOGGING,)),
    ("DeleteLogGroup", None): (1, tuple(sorted((DATA, LOGGING)))),
    ("LeaveOrganization", "AccessDenied"): (1, (LOGGING,)),
    ("CreateAccessKey", None): (2, (CRED,)),
    ("CreateLoginProfile", None): (2, (CRED,)),
}


def test_invictus_destructive_events(invictus: Invictus) -> None:
    names = {n for n, _ in INVICTUS_DESTRUCTIVE}
    raw_counts = Counter((r["eventName"], r.get("errorCode")) for r in invictus.raw if r["eventName"] in names)
    assert dict(raw_counts) == {k: n for k, (n, _) in INVICTUS_DESTRUCTIVE.items()}
    seen: Counter[tuple[str, str | None]] = Counter()
    for r, e in zip(invictus.raw, invictus.events, strict=True):
        key = (r["eventName"], r.get("errorCode"))
        if key[0] not in names:
            continue
        seen[key] += 1
        _, expected = INVICTUS_DESTRUCTIVE[key]
        assert e.action.name == key[0]
        assert cats(e) == expected, (r["eventID"], e.action.categories)
        assert e.action.outcome == ("failure" if key[1] else "success"), r["eventID"]
    assert dict(seen) == dict(raw_counts)


def test_invictus_every_delete_trail_success_disables_logging(invictus: Invictus) -> None:
    ok = [e for e in invictus.events if e.action.name == "DeleteTrail" and e.action.outcome == "success"]
    assert len(ok) == 2
    assert all(LOGGING in e.action.categories for e in ok)
    assert sorted(e.resource.name for e in ok) == ["stratus-red-team-ctes-trail-qyxyekjbtk",
                                                    "stratus-red-team-ctlr-trail-zqfsvooxqj"]


def test_invictus_stop_logging_failed_with_trail_not_found(invictus: Invictus) -> None:
    stops = [e for e in invictus.events if e.action.name == "StopLogging"]
    assert len(stops) == 3
    for e in stops:
        assert e.action.outcome == "failure"
        assert e.action.error.startswith("TrailNotFoundException")
        assert e.action.categories == (LOGGING,)
        assert (e.resource.type, e.resource.name) == ("trail", "stratus-red-team-ct-stop-trail-qzbgnfqisx")


def _rds_delete_instance_expectation(p: dict[str, Any]) -> tuple[str, ...]:
    """What the taxonomy promises for DeleteDBInstance, written out from its rules:
    always data.destroy + infra.destroy; backup.destroy when the automated backups go
    (DeleteAutomatedBackups defaults to true in the RDS API) or no final snapshot is taken."""
    expected = {DATA, INFRA}
    backups_deleted = p.get("deleteAutomatedBackups", True) is not False
    no_final_snapshot = p.get("skipFinalSnapshot") is True
    if backups_deleted or no_final_snapshot:
        expected.add(BACKUP)
    return tuple(sorted(expected))


def test_invictus_delete_db_instance(invictus: Invictus) -> None:
    pairs = [(r, e) for r, e in zip(invictus.raw, invictus.events, strict=True)
             if r["eventName"] == "DeleteDBInstance"]
    assert [(r["eventID"], r.get("errorCode")) for r, _ in pairs] == [
        ("c704b1d0-d5a6-4eed-aaf6-caecd497993b", "InvalidDBInstanceStateFault"),
        ("b5232796-c668-4d71-a006-d9cabb3d607d", None),
    ]
    for r, e in pairs:
        p = r["requestParameters"]
        # both requests ask for the automated backups to go, so backup.destroy is expected
        assert p["deleteAutomatedBackups"] is True
        expected = _rds_delete_instance_expectation(p)
        assert expected == tuple(sorted((BACKUP, DATA, INFRA)))
        assert cats(e) == expected
        assert (e.resource.type, e.resource.name) == ("db_instance", "terraform-20230710121504061500000001")
        if r.get("errorCode"):
            assert e.action.outcome == "failure"
            assert e.action.error.startswith("InvalidDBInstanceStateFault")
            assert p["skipFinalSnapshot"] is True
        else:
            assert e.action.outcome == "success"
            assert e.action.error == ""
            assert p["skipFinalSnapshot"] is False
            assert p["finalDBSnapshotIdentifier"] == "terraform-20230710121504061500000001-snapshot"


def test_invictus_event_selectors_and_admin_policies(invictus: Invictus) -> None:
    sel = [e for e in invictus.events if e.action.name == "PutEventSelectors"]
    assert len(sel) == 2
    by_id = {e.event_id: e for e in sel}
    # ReadOnly + includeManagementEvents false: blinding
    assert by_id["ct-076e96d5-2983-473f-920a-2fc2d7e02777"].action.categories == (LOGGING,)
    # All + includeManagementEvents true: restoring full logging, not blinding
    assert by_id["ct-3d6df238-f83c-4a34-bea8-45cf80a2050b"].action.categories == ()

    attach = [(r, e) for r, e in zip(invictus.raw, invictus.events, strict=True)
              if r["eventName"] in ("AttachUserPolicy", "AttachRolePolicy")]
    assert len(attach) == 7
    admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    admin = [e for r, e in attach if r["requestParameters"]["policyArn"] == admin_arn]
    assert sorted(e.action.name for e in admin) == ["AttachRolePolicy", "AttachUserPolicy"]
    for r, e in attach:
        is_admin = r["requestParameters"]["policyArn"].endswith("/AdministratorAccess")
        assert e.action.categories == ((PRIV,) if is_admin else ()), r["eventID"]
    # the five inline role policies grant ec2:Describe* / logs:* and nothing wider
    inline = [e for e in invictus.events if e.action.name == "PutRolePolicy"]
    assert len(inline) == 5
    assert all(e.action.categories == () for e in inline)


def test_invictus_identities(invictus: Invictus) -> None:
    def expected_type(ui: dict[str, Any]) -> str:
        return ui.get("type") or ("AWSService" if ui.get("invokedBy") else "")

    raw_types = Counter(expected_type(r["userIdentity"]) for r in invictus.raw)
    assert dict(raw_types) == {"IAMUser": 2748, "AssumedRole": 76, "AWSService": 76}
    assert Counter(e.actor.principal_type for e in invictus.events) == raw_types
    # 42 service records carry only invokedBy (no type)
    assert sum(1 for r in invictus.raw if "type" not in r["userIdentity"]) == 42
    for r, e in zip(invictus.raw, invictus.events, strict=True):
        ui = r["userIdentity"]
        if ui.get("type") == "AssumedRole":
            assert e.actor.session_name == ui["arn"].rsplit("/", 1)[1]
            assert e.actor.role_chain == (ui["sessionContext"]["sessionIssuer"]["arn"],)
            assert e.actor.credential_id == ui.get("accessKeyId", "")
        if ui.get("invokedBy"):
            assert e.actor.invoked_by == ui["invokedBy"]
        assert e.actor.account == (ui.get("accountId") or r.get("recipientAccountId"))


# =========================================================================== stratus-red-team


class Stratus:
    def __init__(self, paths: list[Path]) -> None:
        self.raw: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[str, list[Event]] = {}
        self.dead: list[DeadLetter] = []
        for p in paths:
            self.raw[p.name] = json.loads(p.read_text())
            ev, dl = split(list(read_path(p)))
            self.events[p.name] = ev
            self.dead.extend(dl)


@pytest.fixture(scope="module")
def stratus(corpus: Path) -> Stratus:
    return Stratus(files(corpus, "stratus-red-team", "*.json", 35))


def test_stratus_all_files_parse_with_no_dead_letters(stratus: Stratus) -> None:
    assert stratus.dead == []
    assert all(isinstance(v, list) for v in stratus.raw.values())
    total = sum(len(v) for v in stratus.raw.values())
    assert total == 310
    for name, recs in stratus.raw.items():
        assert [e.event_id for e in stratus.events[name]] == [f"ct-{r['eventID']}" for r in recs], name
    types = Counter(e.actor.principal_type for evs in stratus.events.values() for e in evs)
    assert types == Counter({"IAMUser": 241, "AssumedRole": 68, "FederatedUser": 1})


# Every categorised event across the 35 files, in file order: (eventName, outcome, categories).
STRATUS_CATEGORISED: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "aws.defense-evasion.cloudtrail-delete.json": [("DeleteTrail", "success", (LOGGING,))],
    "aws.defense-evasion.cloudtrail-event-selectors.json": [("PutEventSelectors", "success", (LOGGING,))],
    "aws.defense-evasion.cloudtrail-stop.json": [("StopLogging", "success", (LOGGING,))],
    "aws.defense-evasion.dns-delete-logs.json": [("DeleteResolverQueryLogConfig", "success", (LOGGING,))],
    "aws.defense-evasion.organizations-leave.json": [("LeaveOrganization", "failure", (LOGGING,))],
    "aws.defense-evasion.vpc-remove-flow-logs.json": [("DeleteFlowLogs", "success", (LOGGING,))],
    "aws.persistence.iam-backdoor-user.json": [("CreateAccessKey", "success", (CRED,))],
    "aws.persistence.iam-create-admin-user.json": [("AttachUserPolicy", "success", (PRIV,)),
                                                   ("CreateAccessKey", "success", (CRED,))],
    "aws.persistence.iam-create-backdoor-role.json": [("AttachRolePolicy", "success", (PRIV,))],
    "aws.persistence.iam-create-user-login-profile.json": [("CreateLoginProfile", "success", (CRED,))],
    "aws.persistence.sts-federation-token.json": [("GetFederationToken", "success", (CRED,))],
    "aws.privilege-escalation.iam-update-user-login-profile.json": [("UpdateLoginProfile", "success", (CRED,))],
}


def test_stratus_categorised_events(stratus: Stratus) -> None:
    got = {}
    for name, evs in stratus.events.items():
        c = [(e.action.name, e.action.outcome, cats(e)) for e in evs if e.action.categories]
        if c:
            got[name] = c
    assert got == STRATUS_CATEGORISED


@pytest.mark.parametrize(("file", "event_name", "params", "category"), [
    ("aws.defense-evasion.cloudtrail-stop.json", "StopLogging",
     {"name": "stratus-red-team-ct-stop-trail-buykxbqejv"}, LOGGING),
    ("aws.defense-evasion.cloudtrail-delete.json", "DeleteTrail",
     {"name": "stratus-red-team-cloudtraild-trail-kvrwohmiai"}, LOGGING),
    ("aws.defense-evasion.cloudtrail-event-selectors.json", "PutEventSelectors", None, LOGGING),
    ("aws.defense-evasion.vpc-remove-flow-logs.json", "DeleteFlowLogs", None, LOGGING),
], ids=["cloudtrail-stop", "cloudtrail-delete", "event-selectors", "remove-flow-logs"])
def test_stratus_defense_evasion(stratus: Stratus, file: str, event_name: str,
                                 params: dict[str, Any] | None, category: str) -> None:
    (rec,) = stratus.raw[file]
    (e,) = stratus.events[file]
    assert rec["eventName"] == event_name and "errorCode" not in rec
    if params is not None:
        assert rec["requestParameters"] == params
    assert e.action.name == event_name
    assert e.action.outcome == "success"
    assert e.action.categories == (category,)
    assert e.actor.principal_type == "IAMUser"


def test_stratus_event_selectors_really_drop_management_events(stratus: Stratus) -> None:
    (rec,) = stratus.raw["aws.defense-evasion.cloudtrail-event-selectors.json"]
    (sel,) = rec["requestParameters"]["eventSelectors"]
    assert sel["includeManagementEvents"] is False and sel["readWriteType"] == "ReadOnly"


def test_stratus_create_admin_user(stratus: Stratus) -> None:
    f = "aws.persistence.iam-create-admin-user.json"
    assert [r["eventName"] for r in stratus.raw[f]] == ["AttachUserPolicy", "CreateAccessKey", "CreateUser"]
    attach, key, create = stratus.events[f]
    assert attach.raw["requestParameters"]["policyArn"] == "arn:aws:iam::aws:policy/AdministratorAccess"
    assert attach.action.categories == (PRIV,)
    assert (attach.resource.type, attach.resource.name) == ("iam_user", "malicious-iam-user")
    assert key.action.categories == (CRED,)
    assert (key.resource.type, key.resource.name) == ("iam_user", "malicious-iam-user")
    assert create.action.name == "CreateUser" and create.action.categories == ()
    assert {e.action.outcome for e in (attach, key, create)} == {"success"}


def test_stratus_delete_flow_logs_resource_is_the_flow_log_id(stratus: Stratus) -> None:
    (rec,) = stratus.raw["aws.defense-evasion.vpc-remove-flow-logs.json"]
    assert rec["requestParameters"] == {"DeleteFlowLogsRequest": {"FlowLogId": {"content": "fl-0e17aa62a21d4bbfe",
                                                                              "tag": 1}}}
    (e,) = stratus.events["aws.defense-evasion.vpc-remove-flow-logs.json"]
    assert (e.resource.type, e.resource.name) == ("flow_log", "fl-0e17aa62a21d4bbfe")


# =========================================================================== traildiscover


TRAILDISCOVER_DESTRUCTIVE = {"DeleteBucket", "DeleteDBInstance", "DeleteDBCluster", "DeleteTrail", "StopLogging",
                             "DeleteVolume", "DeleteSnapshot", "TerminateInstances"}


class TrailDiscover:
    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.raw: dict[str, list[dict[str, Any]]] = {}
        self.shape: Counter[str] = Counter()
        self.events: dict[str, list[Event]] = {}
        self.dead: list[DeadLetter] = []
        for p in paths:
            doc = json.loads(p.read_bytes())
            if isinstance(doc, list):
                self.shape["empty-array" if not doc else f"array-of-{len(doc)}"] += 1
                self.raw[p.name] = doc
            else:
                self.shape["object"] += 1
                self.raw[p.name] = [doc]
            ev, dl = split(list(read_path(p)))
            self.events[p.name] = ev
            self.dead.extend(dl)


@pytest.fixture(scope="module")
def traildiscover(corpus: Path) -> TrailDiscover:
    return TrailDiscover(files(corpus, "traildiscover/logExamples", "*.json.cloudtrail", 584))


def test_traildiscover_all_files_parse_with_no_dead_letters(traildiscover: TrailDiscover) -> None:
    assert traildiscover.dead == []
    assert traildiscover.shape == Counter({"array-of-1": 543, "object": 20, "empty-array": 21})
    assert sum(len(v) for v in traildiscover.raw.values()) == 563
    assert sum(len(v) for v in traildiscover.events.values()) == 563
    for name, recs in traildiscover.raw.items():
        assert [e.event_id for e in traildiscover.events[name]] == [f"ct-{r['eventID']}" for r in recs], name


def test_traildiscover_empty_arrays_yield_nothing(traildiscover: TrailDiscover) -> None:
    empty = [p for p in traildiscover.paths if traildiscover.raw[p.name] == []]
    assert len(empty) == 21
    for p in empty:
        assert list(read_path(p)) == [], p.name


def test_traildiscover_failures(traildiscover: TrailDiscover) -> None:
    pairs = [(r, e) for name, recs in traildiscover.raw.items()
             for r, e in zip(recs, traildiscover.events[name], strict=True)]
    assert sum(1 for r, _ in pairs if r.get("errorCode")) == 487
    assert sum(1 for _, e in pairs if e.action.outcome == "failure") == 487
    for r, e in pairs:
        assert e.action.outcome == ("failure" if r.get("errorCode") else "success"), r["eventID"]


# eventName -> (errorCode of each of its records, categories)
TRAILDISCOVER_FAILED_DESTRUCTION: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "DeleteBucket": (["NoSuchBucket"] * 2, tuple(sorted((DATA, INFRA)))),
    # RDS deletes a cluster's automated backups by default: backup.destroy as attempted
    "DeleteDBCluster": (["AccessDenied"] * 2, tuple(sorted((BACKUP, DATA, INFRA)))),
    # requestParameters are null (denied before parsing): DeleteAutomatedBackups' default applies
    "DeleteDBInstance": (["AccessDenied"] * 2, tuple(sorted((BACKUP, DATA, INFRA)))),
    "DeleteSnapshot": (["Client.InvalidParameterValue"] * 2, (BACKUP,)),
    "DeleteTrail": (["AccessDenied"] * 2, (LOGGING,)),
    "DeleteVolume": (["Client.InvalidParameterValue"] * 2, tuple(sorted((DATA, INFRA)))),
    "StopLogging": (["AccessDenied"] * 2, (LOGGING,)),
    "TerminateInstances": (["Client.InvalidInstanceID.Malformed"] * 2, (INFRA,)),
}


def test_traildiscover_every_destructive_call_failed(traildiscover: TrailDiscover) -> None:
    raw_codes: dict[str, list[str]] = {}
    got: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for name, recs in sorted(traildiscover.raw.items()):
        for r, e in zip(recs, traildiscover.events[name], strict=True):
            if r["eventName"] in TRAILDISCOVER_DESTRUCTIVE:
                raw_codes.setdefault(r["eventName"], []).append(r.get("errorCode") or "")
                got.setdefault(e.action.name, []).append((e.action.outcome, e.action.error, cats(e)))
    assert raw_codes == {k: codes for k, (codes, _) in TRAILDISCOVER_FAILED_DESTRUCTION.items()}
    assert sum(len(v) for v in got.values()) == 16
    for name, (codes, expected_cats) in TRAILDISCOVER_FAILED_DESTRUCTION.items():
        assert len(got[name]) == len(codes)
        for (outcome, error, c), code in zip(got[name], codes, strict=True):
            assert outcome == "failure", name
            assert error.startswith(code), (name, error)
            assert c == expected_cats, name


# =========================================================================== awsdocs

AWSDOCS = "awsdocs/awsdocs_cloudtrail_examples_extracted.jsonl"


@pytest.fixture(scope="module")
def awsdocs(corpus: Path) -> tuple[Path, list[dict[str, Any]]]:
    p = corpus / AWSDOCS
    need(p.is_file(), f"awsdocs CloudTrail examples not found at {p}")
    lines = [json.loads(ln) for ln in p.read_text().splitlines() if ln.strip()]
    return p, lines


def test_awsdocs_file_is_an_extraction_wrapper_not_cloudtrail(
        awsdocs: tuple[Path, list[dict[str, Any]]]) -> None:
    """Each line is {"source_md", "block_index", "record"}: the derived file wraps the
    documentation's records, so read as-is every line is (rightly) not a CloudTrail record."""
    path, lines = awsdocs
    assert len(lines) == 36
    assert all(set(d) == {"source_md", "block_index", "record"} for d in lines)
    events, dead = split(list(read_path(path)))
    assert events == []
    assert len(dead) == 36
    assert {d.reason for d in dead} == {"not a CloudTrail record (no eventName/eventSource)"}


@pytest.fixture(scope="module")
def awsdocs_read(awsdocs: tuple[Path, list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The wrapped records, fed in memory as CloudTrail JSON lines (nothing is copied to disk)."""
    path, lines = awsdocs
    recs = [d["record"] for d in lines]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in recs)
    items = list(read_stream(io.BufferedReader(io.BytesIO(data)), str(path)))  # type: ignore[arg-type]
    return recs, items


def test_awsdocs_insights_events_are_events_of_cloudtrail_itself(
        awsdocs_read: tuple[list[dict[str, Any]], list[Any]]) -> None:
    """Two records are CloudTrail *Insights* events (eventType AwsCloudTrailInsight, category
    Insight): CloudTrail's own finding of an unusual API-call rate, with no userIdentity and the
    API name under insightDetails. They come out as events of the CloudTrail service, with no
    category, so nothing is dead-lettered."""
    recs, items = awsdocs_read
    events, dead = split(items)
    assert (len(events), len(dead)) == (36, 0)
    insights = [i for i, r in enumerate(recs) if r.get("eventType") == "AwsCloudTrailInsight"]
    assert insights == [16, 17]
    got = [e for e in events if e.raw.get("eventType") == "AwsCloudTrailInsight"]
    assert [e.source.line for e in got] == [17, 18]
    for e in got:
        assert e.action.name.startswith("Insight:ApiCallRateInsight:")
        assert (e.resource.name, e.action.service) == ("UpdateInstanceInformation", "ssm.amazonaws.com")
        assert e.actor.principal_type == "AWSService" and e.action.categories == ()
    assert {e.action.name.rsplit(":", 1)[1] for e in got} == {"Start", "End"}


AWSDOCS_CATEGORISED = [
    ("UpdateTrail", "failure", (LOGGING,)),
    ("DeleteDeliveryChannel", "success", (LOGGING,)),
    ("StopConfigurationRecorder", "success", (LOGGING,)),
    ("DeleteKey", "success", (KEY,)),  # KMS destroying the key material when the wait ends
    ("DeleteKey", "success", (KEY,)),
    ("DisableKey", "success", (KEY,)),
    ("ScheduleKeyDeletion", "success", (KEY,)),
    ("ScheduleKeyDeletion", "success", (KEY,)),
    ("ScheduleKeyDeletion", "success", (KEY,)),
]


def test_awsdocs_destructive_records(awsdocs_read: tuple[list[dict[str, Any]], list[Any]]) -> None:
    recs, items = awsdocs_read
    events, _ = split(items)
    raw_names = Counter(r.get("eventName") for r in recs)
    assert raw_names["ScheduleKeyDeletion"] == 3
    assert raw_names["DisableKey"] == 1
    assert raw_names["UpdateTrail"] == 1
    assert raw_names["StopConfigurationRecorder"] == 1
    assert raw_names["DeleteDeliveryChannel"] == 1
    got = [(e.action.name, e.action.outcome, cats(e)) for e in events if e.action.categories]
    assert got == AWSDOCS_CATEGORISED
    (update,) = [e for e in events if e.action.name == "UpdateTrail"]
    assert update.action.error.startswith("TrailNotFoundException")
    keys = [e for e in events if e.action.name == "ScheduleKeyDeletion"]
    assert [e.resource.name for e in keys] == [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-1234abcd12ab34cd56ef1234567890ab",
        "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
    ]


def test_awsdocs_kms_service_events(awsdocs_read: tuple[list[dict[str, Any]], list[Any]]) -> None:
    recs, items = awsdocs_read
    events, _ = split(items)
    svc = [e for e in events if e.raw.get("eventType") == "AwsServiceEvent"]
    assert sorted(e.action.name for e in svc) == ["DeleteKey", "DeleteKey", "RotateKey"]
    for e in svc:
        assert e.actor.principal_type == "AWSService"
        assert e.actor.invoked_by == "AWS Internal"
