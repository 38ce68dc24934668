"""Labelled evaluation set for identity attribution (human | agent | service).

One estate ("Northwind", example.com), four days of event time
(2026-04-20 .. 2026-04-23 UTC), six log formats. Every record is written the
way the real system writes it; the label says who really acted, as the
people who ran the estate know it (the scenario below), not what the record
makes easy to guess. See README.md for the cases and why each hard case is
hard.

Run:  python tests/identity/labelled/make_set.py [--out DIR]
Writes events.jsonl (sorted by event time) and registry.yaml next to this file (or in DIR).
Deterministic: everything random comes from random.Random(SEED).
"""

from __future__ import annotations

import json
import random
import string
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SEED = 20260420
HERE = Path(__file__).resolve().parent
DAY0 = datetime(2026, 4, 20, tzinfo=UTC)  # Monday

rng = random.Random(SEED)

# --------------------------------------------------------------------------- estate

PROD = "111122223333"
STAGING = "444455556666"
REGION = "eu-west-1"
ORG = "example.com"

GCP_PROD = "nw-prod-4471"
GCP_ML = "nw-ml-2231"
GCP_PROD_NUMBER = "803615246120"

AZ_SUB = "3f2c7a9e-1b4d-4c8e-9a61-2d7e5b0c9f14"
AZ_TENANT = "8a1d3c5e-7f90-4b2a-8c6d-1e3f5a7b9c0d"
AZ_PORTAL = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
AZ_CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

# client addresses (documentation ranges)
IP = {
    "office": "203.0.113.24",       # Northwind office NAT
    "dana": "198.51.100.77",        # dana's home office
    "farid": "198.51.100.142",
    "erik": "203.0.113.61",
    "greg": "192.0.2.180",
    "priya": "198.51.100.9",
    "claude.martin": "192.0.2.33",
    "gha": "4.180.12.77",           # a GitHub-hosted runner
    "gha2": "20.61.126.41",
}


def email(local: str) -> str:
    return f"{local}@{ORG}"


# --------------------------------------------------------------------------- helpers

def at(day: int, hms: str) -> datetime:
    """Event time: day offset from Monday 2026-04-20, 'HH:MM:SS[.fff]' UTC; a time given to the
    second gets the milliseconds a real clock would show."""
    h, m, s = hms.split(":")
    sec = float(s) if "." in s else int(s) + rng.randint(0, 999) / 1000
    return DAY0 + timedelta(days=day, hours=int(h), minutes=int(m), seconds=sec)


def uid() -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def rand(chars: str, n: int) -> str:
    return "".join(rng.choice(chars) for _ in range(n))


B32 = string.ascii_uppercase + "234567"
ALNUM_LO = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits


def akia() -> str:
    return "AKIA" + rand(B32, 16)


def asia() -> str:
    return "ASIA" + rand(B32, 16)


def aroa() -> str:
    return "AROA" + rand(B32, 17)


def aida() -> str:
    return "AIDA" + rand(B32, 17)


def iso_z(t: datetime, digits: int = 0) -> str:
    if digits == 0:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    frac = f"{t.microsecond:06d}"[:digits] if digits <= 6 else f"{t.microsecond:06d}" + rand(string.digits, digits - 6)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


# --------------------------------------------------------------------------- output

@dataclass
class Labelled:
    t: datetime
    seq: int
    source: str
    record: Any
    truth: str
    who: str
    owner: str
    case: str
    evidence: str


EVENTS: list[Labelled] = []
_seq = 0


def add(t: datetime, source: str, record: Any, truth: str, who: str, owner: str, case: str,
        evidence: str) -> None:
    global _seq
    # the time as the record writes it (CloudTrail and server_audit: seconds; PostgreSQL: ms),
    # so the file is in the order a reader of the records sees
    if source in ("cloudtrail", "mariadb-audit"):
        t = t.replace(microsecond=0)
    elif source == "postgres-jsonlog":
        t = t.replace(microsecond=t.microsecond // 1000 * 1000)
    assert truth in ("human", "agent", "service")
    assert (truth == "agent") == bool(owner), (who, owner)
    _seq += 1
    EVENTS.append(Labelled(t, _seq, source, record, truth, who, owner, case, evidence))


# =========================================================================== CloudTrail

UA_CLI_MAC = ("aws-cli/2.27.49 md/awscrt#0.26.1 ua/2.1 os/macos#24.5.0 md/arch#arm64 lang/python#3.13.4 "
              "md/pyimpl#CPython m/{m} cfg/retry-mode#standard md/installer#source md/prompt#off md/command#{cmd}")
UA_CLI_LINUX = ("aws-cli/2.31.2 md/awscrt#0.27.6 ua/2.1 os/linux#6.11.0-1018-azure md/arch#x86_64 "
                "lang/python#3.13.7 md/pyimpl#CPython m/{m} cfg/retry-mode#standard md/installer#exe "
                "md/distrib#ubuntu.24 md/prompt#off md/command#{cmd}")
UA_BOTO3 = ("Boto3/1.38.36 md/Botocore#1.38.36 ua/2.1 os/linux#6.8.0-1029-aws md/arch#x86_64 "
            "lang/python#3.12.3 md/pyimpl#CPython m/{m} cfg/retry-mode#legacy Botocore/1.38.36")
UA_BOTO3_LAMBDA = ("Boto3/1.38.36 md/Botocore#1.38.36 ua/2.1 os/linux#5.10.237-250.950.amzn2.x86_64 "
                   "md/arch#x86_64 lang/python#3.12.11 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 "
                   "m/{m} cfg/retry-mode#legacy Botocore/1.38.36")
UA_BOTO3_BARE = "Boto3/1.34.162 md/Botocore#1.34.162 ua/2.0 os/linux#5.15.0-139-generic md/arch#x86_64 lang/python#3.10.12 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.162"
UA_TF = ("APN/1.0 HashiCorp/1.0 Terraform/1.12.2 (+https://www.terraform.io) terraform-provider-aws/6.3.0 "
         "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.36.5 ua/2.1 os/linux "
         "lang/go#1.24.4 md/GOOS#linux md/GOARCH#amd64 api/{api} m/{m}")
UA_TF_MAC = ("APN/1.0 HashiCorp/1.0 Terraform/1.12.1 (+https://www.terraform.io) terraform-provider-aws/6.3.0 "
             "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.36.5 ua/2.1 os/macos "
             "lang/go#1.24.4 md/GOOS#darwin md/GOARCH#arm64 api/{api} m/{m}")
UA_GHA_CREDS = ("aws-sdk-js/3.848.0 ua/2.1 os/linux#6.11.0-1018-azure lang/js md/nodejs#20.19.4 "
                "api/sts#3.848.0 m/N,E configure-aws-credentials-for-github-actions")
UA_CURSOR = ("Cursor/1.7.2 aws-sdk-js/3.888.0 ua/2.1 os/darwin#24.6.0 lang/js md/nodejs#20.19.1 "
             "api/{api}#3.888.0 m/E,N")
UA_CLAUDE = ("claude-code/2.1.12 aws-sdk-js/3.864.0 ua/2.1 os/darwin#24.6.0 lang/js md/nodejs#22.18.0 "
             "api/{api}#3.864.0 m/E,N")
UA_AIDER = ("aider/0.80.4 Boto3/1.38.36 md/Botocore#1.38.36 ua/2.1 os/linux#6.14.0-29-generic md/arch#x86_64 "
            "lang/python#3.12.11 md/pyimpl#CPython m/{m} cfg/retry-mode#legacy Botocore/1.38.36")
UA_TOOLKIT_CURSOR = ("aws-sdk-js/3.840.0 ua/2.1 os/darwin#24.6.0 lang/js md/nodejs#20.19.1 api/{api}#3.840.0 "
                     "m/E,N AWS-Toolkit-For-VSCode/3.73.0 Cursor/1.99.3 "
                     "ClientId/5b1e0c2a-93f4-4d8e-b6a7-0f2c9e4d1a83")
UA_CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                 "Chrome/138.0.0.0 Safari/537.36")
UA_EDGE_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/138.0.0.0 Safari/537.36 Edg/138.0.0.0")
UA_FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
UA_SSM = "aws-sdk-go/1.55.7 (go1.23.10; linux; amd64) amazon-ssm-agent/3.3.2299.0"


def m_flags() -> str:
    return rng.choice(["b,Z", "E,Z", "b,Z,E", "Z,b"])


@dataclass
class Principal:
    """A CloudTrail caller: IAM user, assumed-role session (SSO or role), web identity."""

    ui: dict[str, Any]

    @staticmethod
    def iam_user(account: str, name: str, key: str, pid: str, console: bool = False,
                 created: datetime | None = None) -> Principal:
        ui: dict[str, Any] = {"type": "IAMUser", "principalId": pid,
                              "arn": f"arn:aws:iam::{account}:user/{name}", "accountId": account,
                              "accessKeyId": key, "userName": name}
        if console and created is not None:
            ui["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                    "attributes": {"creationDate": iso_z(created), "mfaAuthenticated": "true"}}
        return Principal(ui)

    @staticmethod
    def role_session(account: str, role: str, session: str, key: str, role_id: str, created: datetime,
                     path: str = "", mfa: bool = False, source_identity: str = "") -> Principal:
        ctx: dict[str, Any] = {
            "sessionIssuer": {"type": "Role", "principalId": role_id,
                              "arn": f"arn:aws:iam::{account}:role/{path}{role}", "accountId": account,
                              "userName": role},
            "webIdFederationData": {},
            "attributes": {"creationDate": iso_z(created), "mfaAuthenticated": "true" if mfa else "false"},
        }
        if source_identity:
            ctx["sourceIdentity"] = source_identity
        return Principal({"type": "AssumedRole", "principalId": f"{role_id}:{session}",
                          "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
                          "accountId": account, "accessKeyId": key, "sessionContext": ctx})


def ct(t: datetime, who: Principal | dict[str, Any], source: str, name: str, ua: str, ip: str,
       params: dict[str, Any] | None = None, response: Any = None, *, account: str = PROD,
       region: str = REGION, read_only: bool | None = None, resources: list[dict[str, Any]] | None = None,
       error: tuple[str, str] | None = None, console: bool = False, event_type: str = "AwsApiCall",
       host: str | None = None) -> dict[str, Any]:
    ui = who.ui if isinstance(who, Principal) else who
    rec: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": ui,
        "eventTime": iso_z(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    rec["requestParameters"] = params
    rec["responseElements"] = response
    rec["requestID"] = uid()
    rec["eventID"] = uid()
    if read_only is None:
        read_only = name.startswith(("Describe", "List", "Get", "Lookup"))
    rec["readOnly"] = read_only
    if resources:
        rec["resources"] = resources
    rec["eventType"] = event_type
    rec["managementEvent"] = True
    rec["recipientAccountId"] = account
    if event_type == "AwsServiceEvent":
        rec["sharedEventID"] = uid()
    rec["eventCategory"] = "Management"
    if event_type == "AwsApiCall" and not ip.endswith(".amazonaws.com"):
        svc = source.split(".")[0]
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                             "clientProvidedHostHeader": host or f"{svc}.{region}.amazonaws.com"}
    if console:
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def assume_role(t: datetime, caller: Principal | dict[str, Any], ua: str, ip: str, account: str, role: str,
                session: str, new_key: str, role_id: str, *, tags: list[tuple[str, str]] | None = None,
                source_identity: str = "", duration: int = 3600) -> dict[str, Any]:
    params: dict[str, Any] = {"roleArn": f"arn:aws:iam::{account}:role/{role}", "roleSessionName": session,
                              "durationSeconds": duration}
    if tags:
        params["tags"] = [{"key": k, "value": v} for k, v in tags]
    if source_identity:
        params["sourceIdentity"] = source_identity
    exp = t + timedelta(seconds=duration)
    resp: dict[str, Any] = {
        "credentials": {"accessKeyId": new_key, "sessionToken": "IQoJb3JpZ2luX2VjE" + rand(ALNUM, 40),
                        "expiration": exp.strftime("%b %-d, %Y, %-I:%M:%S %p")},
        "assumedRoleUser": {"assumedRoleId": f"{role_id}:{session}",
                            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}"},
    }
    if tags:
        resp["packedPolicySize"] = rng.choice([3, 4, 5])
    if source_identity:
        resp["sourceIdentity"] = source_identity
    return ct(t, caller, "sts.amazonaws.com", "AssumeRole", ua, ip, params, resp, account=account,
              read_only=True, resources=[{"accountId": account, "type": "AWS::IAM::Role",
                                          "ARN": f"arn:aws:iam::{account}:role/{role}"}],
              host=f"sts.{REGION}.amazonaws.com")


def web_identity(t: datetime, repo_ref: str, account: str, role: str, session: str, new_key: str,
                 role_id: str, ip: str) -> dict[str, Any]:
    sub = f"repo:{repo_ref}"
    ui = {"type": "WebIdentityUser",
          "principalId": f"arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:{sub}",
          "userName": sub, "identityProvider": "token.actions.githubusercontent.com"}
    exp = t + timedelta(hours=1)
    params = {"roleArn": f"arn:aws:iam::{account}:role/{role}", "roleSessionName": session,
              "durationSeconds": 3600}
    resp = {"credentials": {"accessKeyId": new_key, "sessionToken": "IQoJb3JpZ2luX2VjE" + rand(ALNUM, 40),
                            "expiration": exp.strftime("%b %-d, %Y, %-I:%M:%S %p")},
            "subjectFromWebIdentityToken": sub,
            "assumedRoleUser": {"assumedRoleId": f"{role_id}:{session}",
                                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}"},
            "provider": f"arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com",
            "audience": "sts.amazonaws.com"}
    return ct(t, ui, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", UA_GHA_CREDS, ip, params, resp,
              account=account, read_only=True,
              resources=[{"accountId": account, "type": "AWS::IAM::Role",
                          "ARN": f"arn:aws:iam::{account}:role/{role}"}],
              host=f"sts.{REGION}.amazonaws.com")


# A few realistic calls per service: (eventSource, eventName, params, cli command)
def vol() -> str:
    return "vol-0" + rand("0123456789abcdef", 16)


def inst() -> str:
    return "i-0" + rand("0123456789abcdef", 16)


# =========================================================================== PostgreSQL jsonlog + pgaudit

PG_CLASS = {"SELECT": "READ", "COPY": "READ", "INSERT": "WRITE", "UPDATE": "WRITE", "DELETE": "WRITE",
            "TRUNCATE TABLE": "WRITE", "CREATE TABLE": "DDL", "CREATE INDEX": "DDL", "ALTER TABLE": "DDL",
            "DROP TABLE": "DDL", "CREATE VIEW": "DDL", "GRANT": "ROLE", "VACUUM": "MISC", "ANALYZE": "MISC",
            "SET": "MISC", "CREATE EXTENSION": "DDL"}


def pg_ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{t.microsecond // 1000:03d} UTC"


def csv_field(s: str) -> str:
    if any(c in s for c in '",\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


@dataclass
class PgSession:
    user: str
    db: str
    host: str
    app: str
    start: datetime
    pid: int = field(default_factory=lambda: rng.randint(2000, 4_000_000))
    port: int = field(default_factory=lambda: rng.randint(40000, 65000))
    line: int = 0
    stmt: int = 0
    backend: int = field(default_factory=lambda: rng.randint(3, 60))
    lxid: int = field(default_factory=lambda: rng.randint(100, 90000))

    @property
    def session_id(self) -> str:
        return f"{int(self.start.timestamp()):x}.{self.pid:x}"

    def audit(self, t: datetime, command: str, statement: str, txid: int = 0) -> str:
        self.line += 1
        self.stmt += 1
        self.lxid += 1
        cls = PG_CLASS.get(command, "MISC")
        msg = f"AUDIT: SESSION,{self.stmt},1,{cls},{command},,,{csv_field(statement)},<not logged>"
        d: dict[str, Any] = {
            "timestamp": pg_ts(t), "user": self.user, "dbname": self.db, "pid": self.pid,
        }
        if self.host == "[local]":
            d["remote_host"] = "[local]"
        else:
            d["remote_host"] = self.host
            d["remote_port"] = self.port
        d.update({
            "session_id": self.session_id, "line_num": self.line, "ps": command,
            "session_start": self.start.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "vxid": f"{self.backend}/{self.lxid}", "txid": txid,
            "error_severity": "LOG", "message": msg,
        })
        if self.app:
            d["application_name"] = self.app
        d["backend_type"] = "client backend"
        d["query_id"] = rng.randint(-(2**63), 2**63 - 1)
        return json.dumps(d, separators=(",", ":"), ensure_ascii=False)


def txid() -> int:
    return rng.randint(880_000, 990_000)


# =========================================================================== GCP audit

def gcp(t: datetime, *, principal: str, method: str, service: str, resource_name: str, ua: str, ip: str,
        project: str, rtype: str, labels: dict[str, str], permission: str, perm_type: str,
        request: dict[str, Any] | None = None, response: dict[str, Any] | None = None,
        delegation: list[str] | None = None, sa_key: str = "", location: str = "",
        log: str = "activity", status: dict[str, Any] | None = None,
        operation: dict[str, Any] | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {"principalEmail": principal}
    if principal.endswith(".gserviceaccount.com"):
        auth["principalSubject"] = f"serviceAccount:{principal}"
    else:
        auth["principalSubject"] = f"user:{principal}"
    if sa_key:
        auth["serviceAccountKeyName"] = sa_key
    if delegation:
        auth["serviceAccountDelegationInfo"] = [
            {"firstPartyPrincipal": {"principalEmail": d}, "principalSubject": f"user:{d}"}
            if not d.endswith(".gserviceaccount.com") else
            {"firstPartyPrincipal": {"principalEmail": d}, "principalSubject": f"serviceAccount:{d}"}
            for d in delegation]
    pp: dict[str, Any] = {"@type": "type.googleapis.com/google.cloud.audit.AuditLog"}
    pp["status"] = status or {}
    pp["authenticationInfo"] = auth
    meta: dict[str, Any] = {"callerIp": ip}
    if ua:
        meta["callerSuppliedUserAgent"] = ua
    meta["requestAttributes"] = {"time": iso_z(t - timedelta(milliseconds=rng.randint(3, 40)), 9), "auth": {}}
    meta["destinationAttributes"] = {}
    pp["requestMetadata"] = meta
    pp["serviceName"] = service
    pp["methodName"] = method
    pp["authorizationInfo"] = [{"resource": resource_name, "permission": permission, "granted": True,
                                "resourceAttributes": {"service": service, "name": resource_name},
                                "permissionType": perm_type}]
    pp["resourceName"] = resource_name
    if request is not None:
        pp["request"] = request
    if response is not None:
        pp["response"] = response
    if location:
        pp["resourceLocation"] = {"currentLocations": [location]}
    rec: dict[str, Any] = {
        "protoPayload": pp,
        "insertId": rand(ALNUM_LO, 12),
        "resource": {"type": rtype, "labels": {**labels, "project_id": project}},
        "timestamp": iso_z(t, 9),
        "severity": "NOTICE" if log == "activity" else "INFO",
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2F{log}",
    }
    if operation:
        rec["operation"] = operation
    rec["receiveTimestamp"] = iso_z(t + timedelta(milliseconds=rng.randint(300, 2400)), 9)
    return rec


UA_GCLOUD = ("google-cloud-sdk gcloud/541.0.0 command/gcloud.{cmd} invocation-id/{inv} environment/None "
             "environment-version/None client-os/{os} client-os-ver/{osv} client-pltf-arch/{arch} "
             "interactive/{inter} from-script/{script} python/3.12.8 term/xterm-256color ({uname}),gzip(gfe)")


def ua_gcloud(cmd: str, who: str, interactive: bool = True, script: bool = False) -> str:
    if who in ("erik",):
        os_, osv, arch, uname = "LINUX", "6.14.0", "x86_64", "Linux 6.14.0-29-generic"
    else:
        os_, osv, arch, uname = "MACOSX", "24.6.0", "arm", "Macintosh; Intel Mac OS X 24.6.0"
    return UA_GCLOUD.format(cmd=cmd, inv=rand("0123456789abcdef", 32), os=os_, osv=osv, arch=arch,
                            inter=interactive, script=script, uname=uname)


UA_GCP_CONSOLE = UA_CHROME_MAC + ",gzip(gfe),gzip(gfe)"
UA_GCP_PY = "gl-python/3.12.11 grpc/1.73.1 gax/2.25.1 gapic/2.31.0 gccl/2.31.0,gzip(gfe)"
UA_GCP_GO = "google-api-go-client/0.5 gl-go/1.24.4 gdcl/0.238.0,gzip(gfe)"
UA_GCP_TF = ("Terraform/1.12.2 (+https://www.terraform.io) Terraform-Plugin-SDK/2.36.0 "
             "terraform-provider-google/6.42.0,gzip(gfe)")
UA_CODEX = "codex_cli_rs/0.40.0 (Mac OS 15.6.1; arm64) Apple_Terminal/455.1,gzip(gfe)"


# =========================================================================== Azure Activity Log

def oid() -> str:
    return uid()


@dataclass
class AzCaller:
    kind: str  # user | app | mi
    appid: str
    oid: str
    upn: str = ""
    given: str = ""
    surname: str = ""
    name: str = ""
    mi_id: str = ""


def az(t: datetime, caller: AzCaller, op: str, resource_id: str, ip: str, *, result: str = "Success",
       role: str = "Contributor", status_code: str = "OK", correlation: str = "") -> dict[str, Any]:
    iat = int((t - timedelta(minutes=rng.randint(3, 50))).timestamp())
    claims: dict[str, Any] = {
        "aud": "https://management.core.windows.net/",
        "iss": f"https://sts.windows.net/{AZ_TENANT}/",
        "iat": str(iat), "nbf": str(iat), "exp": str(iat + 4500 + rng.randint(0, 900)),
    }
    if caller.kind == "user":
        claims.update({
            "http://schemas.microsoft.com/claims/authnclassreference": "1",
            "aio": rand(ALNUM + "+/", 96) + "=",
            "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
            "appid": caller.appid, "appidacr": "0",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": caller.surname,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": caller.given,
            "idtyp": "user", "ipaddr": ip, "name": caller.name,
            "http://schemas.microsoft.com/identity/claims/objectidentifier": caller.oid,
            "puid": rand("0123456789ABCDEF", 16), "rh": "1.A" + rand(ALNUM, 50) + ".",
            "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
            "sid": uid(),
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": rand(ALNUM + "_-", 43),
            "http://schemas.microsoft.com/identity/claims/tenantid": AZ_TENANT,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": caller.upn,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": caller.upn,
            "uti": rand(ALNUM + "_-", 22), "ver": "1.0", "xms_cae": "1", "xms_ftd": rand(ALNUM + "_-", 43),
            "xms_idrel": "1 18", "xms_tcdt": "1602144511",
        })
        ptype = "User"
    else:
        claims.update({
            "aio": rand(ALNUM + "+/", 56) + "=",
            "appid": caller.appid, "appidacr": "2" if caller.kind == "mi" else "1",
            "http://schemas.microsoft.com/identity/claims/identityprovider": f"https://sts.windows.net/{AZ_TENANT}/",
            "idtyp": "app",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": caller.oid,
            "rh": "1.A" + rand(ALNUM, 50) + ".",
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": caller.oid,
            "http://schemas.microsoft.com/identity/claims/tenantid": AZ_TENANT,
            "uti": rand(ALNUM + "_-", 22), "ver": "1.0", "xms_ftd": rand(ALNUM + "_-", 43),
            "xms_idrel": "7 24", "xms_tcdt": "1602144511",
        })
        if caller.kind == "mi":
            claims["xms_az_rid"] = caller.mi_id
            claims["xms_mirid"] = caller.mi_id
        ptype = "ServicePrincipal"
    action = "/".join(op.split("/"))
    scope = resource_id.lower().replace("/subscriptions/", "/subscriptions/")
    sig = {"Success": "Succeeded.", "Start": "Started.", "Failure": "Failed.Forbidden", "Accept": "Accepted."}[result]
    rec = {
        "RoleLocation": "West Europe",
        "ReleaseVersion": "6.2026.14.3+7c1a9e2.release_2026w14",
        "time": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}" + "0Z",
        "resourceId": resource_id.upper(),
        "operationName": op.upper(),
        "category": "Administrative",
        "resultType": result,
        "resultSignature": sig,
        "durationMs": str(rng.randint(40, 3000)) if result == "Success" else "0",
        "callerIpAddress": ip,
        "correlationId": correlation or uid(),
        "identity": {
            "authorization": {
                "scope": scope,
                "action": action,
                "evidence": {
                    "role": role,
                    "roleAssignmentScope": f"/subscriptions/{AZ_SUB}",
                    "roleAssignmentId": rand("0123456789abcdef", 32),
                    "roleDefinitionId": {"Contributor": "b24988ac618042a0ab8820f7382dd24c",
                                         "Reader": "acdd72a7338548efbd42f606fffbc9c7",
                                         "Virtual Machine Contributor": "9980e02c6c6f4b5c8f39ae4b4e2f25c3",
                                         "Owner": "8e3af657a8ff443ca75c2fe8c4bcb635"}.get(role, rand("0123456789abcdef", 32)),
                    "principalId": caller.oid.replace("-", ""),
                    "principalType": ptype,
                },
            },
            "claims": claims,
        },
        "level": "Information",
        "properties": {
            "statusCode": status_code,
            "serviceRequestId": uid() if result == "Success" else None,
            "eventCategory": "Administrative",
            "entity": resource_id,
            "message": action,
            "hierarchy": f"{AZ_TENANT}/{AZ_SUB}",
        },
        "tenantId": AZ_TENANT,
    }
    if rec["properties"]["serviceRequestId"] is None:
        del rec["properties"]["serviceRequestId"]
    return rec


def az_rid(rg: str, provider: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{AZ_SUB}/resourceGroups/{rg}/providers/{provider}/{rtype}/{name}"


# =========================================================================== Kubernetes audit

UA_KUBECTL_MAC = "kubectl/v1.33.2 (darwin/arm64) kubernetes/a57b6f7"
UA_KUBECTL_LINUX = "kubectl/v1.33.2 (linux/amd64) kubernetes/a57b6f7"
UA_K9S = "k9s/v0.50.9 (linux/amd64) kubernetes/$Format"
UA_K8S_MCP = "kubernetes-mcp-server/v0.0.0 (darwin/arm64) kubernetes/$Format"
UA_K8S_PY = "OpenAPI-Generator/33.1.0/python"
UA_KCM = "kube-controller-manager/v1.33.1 (linux/amd64) kubernetes/8adc0f0"
UA_ARGO = "argocd-application-controller/v3.0.11 (linux/amd64) kubernetes/$Format"
UA_DD = "datadog-cluster-agent/v0.0.0 (linux/amd64) kubernetes/$Format"
UA_CERTMGR = "cert-manager-controller/v1.18.2 (linux/amd64) cert-manager/6e8d1e1c1c3d10b5e4d8b6c5e4bb34b1a2c0b5d2"


def eks_user(account: str, role: str, session: str, key: str, role_id: str) -> dict[str, Any]:
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    return {"username": arn, "uid": f"aws-iam-authenticator:{account}:{role_id}",
            "groups": ["system:authenticated"],
            "extra": {"accessKeyId": [key], "arn": [arn],
                      "canonicalArn": [f"arn:aws:iam::{account}:role/{role}"],
                      "principalId": [role_id], "sessionName": [session],
                      "sigs.k8s.io/aws-iam-authenticator/principalId": [role_id]}}


def sa_user(ns: str, name: str, node: str, pod: str) -> dict[str, Any]:
    return {"username": f"system:serviceaccount:{ns}:{name}", "uid": uid(),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/credential-id": [f"JTI={uid()}"],
                      "authentication.kubernetes.io/node-name": [node],
                      "authentication.kubernetes.io/node-uid": [uid()],
                      "authentication.kubernetes.io/pod-name": [pod],
                      "authentication.kubernetes.io/pod-uid": [uid()]}}


def k8s(t: datetime, user: dict[str, Any], verb: str, uri: str, ua: str, ip: str, *,
        resource: str = "", ns: str = "", name: str = "", group: str = "", version: str = "v1",
        sub: str = "", code: int = 200, impersonate: dict[str, Any] | None = None,
        reason: str = "", level: str = "Metadata") -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                           "auditID": uid(), "stage": "ResponseComplete", "requestURI": uri, "verb": verb,
                           "user": user}
    if impersonate:
        rec["impersonatedUser"] = impersonate
    rec["sourceIPs"] = [ip]
    rec["userAgent"] = ua
    if resource:
        oref: dict[str, Any] = {"resource": resource}
        if ns:
            oref["namespace"] = ns
        if name:
            oref["name"] = name
        if group:
            oref["apiGroup"] = group
        oref["apiVersion"] = version
        if sub:
            oref["subresource"] = sub
        rec["objectRef"] = oref
    status: dict[str, Any] = {"metadata": {}, "code": code}
    if code >= 400:
        status.update({"status": "Failure", "reason": "Forbidden" if code == 403 else "NotFound",
                       "message": "forbidden" if code == 403 else "not found"})
    rec["responseStatus"] = status
    received = t - timedelta(milliseconds=rng.randint(2, 60))
    rec["requestReceivedTimestamp"] = iso_z(received, 6)
    rec["stageTimestamp"] = iso_z(t, 6)
    rec["annotations"] = {"authorization.k8s.io/decision": "allow" if code < 400 else "forbid",
                          "authorization.k8s.io/reason": reason}
    return rec


# =========================================================================== MariaDB server_audit

def my_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


@dataclass
class MyServer:
    host: str
    qid: int = 731_204
    conn: int = 18_220

    def connect(self) -> int:
        self.conn += rng.randint(1, 40)
        return self.conn

    def line(self, t: datetime, user: str, client: str, conn: int, op: str, db: str, obj: str = "",
             rc: int = 0) -> str:
        ts = t.strftime("%Y%m%d %H:%M:%S")
        if op == "QUERY":
            self.qid += rng.randint(1, 30)
            return f"{ts},{self.host},{user},{client},{conn},{self.qid},QUERY,{db},'{my_escape(obj)}',{rc}"
        return f"{ts},{self.host},{user},{client},{conn},0,{op},{db},{obj},{rc}"


MARIA = MyServer("billing-db-1")


# =========================================================================== the scenario

def jitter(lo: float, hi: float) -> timedelta:
    return timedelta(seconds=rng.uniform(lo, hi))


def scenario() -> dict[str, Any]:
    """Builds EVENTS; returns what registry.yaml needs to know."""
    reg: dict[str, Any] = {}

    # ------------------------------------------------------------ AWS principals
    # SSO (IAM Identity Center) permission-set roles, prod account
    sso_admin = ("AWSReservedSSO_AdministratorAccess_7d1f2a9c4b3e8f60", aroa())
    sso_dev = ("AWSReservedSSO_Developer_2c8e4f1a6b9d3e07", aroa())
    sso_data = ("AWSReservedSSO_DataEngineer_9a4c2e7f1b5d8c36", aroa())
    sso_support = ("AWSReservedSSO_ReadOnlySupport_5e9b1c3a7d2f4e81", aroa())
    sso_path = "aws-reserved/sso.amazonaws.com/eu-west-1/"
    sso_dev_stg = ("AWSReservedSSO_Developer_b4d81e5c2a7f9e13", aroa())

    def sso(perm: tuple[str, str], who: str, created: datetime, account: str = PROD) -> Principal:
        return Principal.role_session(account, perm[0], email(who), asia(), perm[1], created, path=sso_path)

    # ================================================================ HUMANS (AWS)

    # alice.claude: SRE, Identity Center admin; console morning triage (hard negative: name)
    s = sso(sso_admin, "alice.claude", at(0, "08:41:07"))
    t = at(0, "08:41:12")
    for src, name, params in [
        ("cloudwatch.amazonaws.com", "DescribeAlarms", {"stateValue": "ALARM", "maxRecords": 100}),
        ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}}),
        ("rds.amazonaws.com", "DescribeDBInstances", {"dBInstanceIdentifier": "orders-prod"}),
        ("logs.amazonaws.com", "DescribeLogGroups", {"limit": 50, "logGroupNamePrefix": "/aws/lambda/orders"}),
        ("ec2.amazonaws.com", "RebootInstances", {"instancesSet": {"items": [{"instanceId": inst()}]}}),
        ("cloudwatch.amazonaws.com", "SetAlarmState", None),
    ]:
        if name == "SetAlarmState":
            params = {"alarmName": "orders-api-5xx", "stateValue": "OK", "stateReason": "reboot done, watching"}
        add(t, "cloudtrail", ct(t, s, src, name, UA_CHROME_MAC, IP["office"], params, None, console=True),
            "human", email("alice.claude"), "", "human/console-sso (name contains 'claude')", "client")
        t += jitter(20, 140)

    # alice.claude: aws-cli from her laptop with the same SSO role, day 1 afternoon
    s = sso(sso_admin, "alice.claude", at(1, "13:02:40"))
    t = at(1, "13:02:58")
    for src, name, params, cmd in [
        ("sts.amazonaws.com", "GetCallerIdentity", None, "sts.get-caller-identity"),
        ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", {"autoScalingGroupNames": ["orders-api-asg"]},
         "autoscaling.describe-auto-scaling-groups"),
        ("autoscaling.amazonaws.com", "SetDesiredCapacity", {"autoScalingGroupName": "orders-api-asg",
                                                             "desiredCapacity": 6, "honorCooldown": False},
         "autoscaling.set-desired-capacity"),
        ("autoscaling.amazonaws.com", "DescribeScalingActivities", {"autoScalingGroupName": "orders-api-asg"},
         "autoscaling.describe-scaling-activities"),
    ]:
        add(t, "cloudtrail", ct(t, s, src, name, UA_CLI_MAC.format(m=m_flags(), cmd=cmd), IP["office"], params),
            "human", email("alice.claude"), "", "human/aws-cli-sso (name contains 'claude')", "generic-client")
        t += jitter(9, 75)

    # alice.claude assumes the break-fix role; its trust policy requires SourceIdentity, which the
    # team sets to the person's e-mail (STS allows only [A-Za-z0-9_+=,.@-] there, so never "agent:x")
    s = sso(sso_admin, "alice.claude", at(3, "07:48:02"))
    breakfix = ("prod-breakfix", aroa())
    t = at(3, "07:52:19")
    k = asia()
    add(t, "cloudtrail", assume_role(t, s, UA_CLI_MAC.format(m=m_flags(), cmd="sts.assume-role"), IP["office"],
                                     PROD, breakfix[0], "alice.claude", k, breakfix[1],
                                     source_identity=email("alice.claude")),
        "human", email("alice.claude"), "", "human/sourceIdentity is the person ('claude' in it)", "generic-client")
    bf = Principal.role_session(PROD, breakfix[0], "alice.claude", k, breakfix[1], t,
                                source_identity=email("alice.claude"))
    t += jitter(25, 60)
    for src, name, params, cmd in [
        ("rds.amazonaws.com", "DescribeDBClusters", {"dBClusterIdentifier": "orders-aurora"}, "rds.describe-db-clusters"),
        ("rds.amazonaws.com", "RebootDBInstance", {"dBInstanceIdentifier": "orders-aurora-2"}, "rds.reboot-db-instance"),
        ("rds.amazonaws.com", "DescribeEvents", {"sourceIdentifier": "orders-aurora-2", "sourceType": "db-instance"},
         "rds.describe-events"),
    ]:
        add(t, "cloudtrail", ct(t, bf, src, name, UA_CLI_MAC.format(m=m_flags(), cmd=cmd), IP["office"], params),
            "human", email("alice.claude"), "", "human/sourceIdentity is the person ('claude' in it)",
            "generic-client")
        t += jitter(30, 120)

    # greg: support, console in Edge with Copilot Chat open in the sidebar; he clicks
    s = sso(sso_support, "greg", at(1, "10:15:02"))
    t = at(1, "10:15:09")
    for src, name, params in [
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.eu-west-1.amazonaws.com"}),
        ("logs.amazonaws.com", "FilterLogEvents", {"logGroupName": "/aws/lambda/orders-webhook",
                                                   "filterPattern": "\"payment_failed\"", "limit": 100}),
        ("logs.amazonaws.com", "StartQuery", {"logGroupNames": ["/aws/lambda/orders-webhook"],
                                              "queryString": "fields @timestamp, @message | filter @message like /payment_failed/ | sort @timestamp desc | limit 50",
                                              "startTime": 1776665700, "endTime": 1776679700}),
        ("lambda.amazonaws.com", "GetFunction20150331v2", {"functionName": "orders-webhook"}),
    ]:
        add(t, "cloudtrail", ct(t, s, src, name, UA_EDGE_WIN, IP["greg"], params, None, console=True,
                                read_only=name != "StartQuery"),
            "human", email("greg"), "", "human/console-with-copilot-chat-in-browser", "client")
        t += jitter(35, 190)

    # erik: data engineer runs his own boto3 inventory script: a burst, sub-second gaps, one API
    s = sso(sso_data, "erik", at(2, "07:58:30"))
    t = at(2, "07:59:01.210")
    for reg_name in ["eu-west-1", "eu-west-2", "eu-central-1", "eu-north-1", "us-east-1", "us-east-2",
                     "us-west-2", "ap-southeast-2"]:
        add(t, "cloudtrail", ct(t, s, "ec2.amazonaws.com", "DescribeVolumes", UA_BOTO3.format(m="b,Z"),
                                IP["erik"], {"volumeSet": {}, "filterSet": {}, "maxResults": 500},
                                region=reg_name),
            "human", email("erik"), "", "human/boto3-script-burst", "generic-client")
        t += jitter(0.18, 0.55)

    # carol: platform engineer runs terraform plan from her laptop (Terraform UA, but a person)
    s = sso(sso_admin, "carol", at(2, "15:20:11"))
    t = at(2, "15:20:44")
    for src, name, params, api in [
        ("sts.amazonaws.com", "GetCallerIdentity", None, "sts#1.34.4"),
        ("ec2.amazonaws.com", "DescribeVpcs", {"vpcSet": {"items": [{"vpcId": "vpc-0a1b2c3d4e5f60718"}]}}, "ec2#1.231.0"),
        ("iam.amazonaws.com", "GetRole", {"roleName": "orders-api-task"}, "iam#1.43.1"),
    ]:
        add(t, "cloudtrail", ct(t, s, src, name, UA_TF_MAC.format(api=api, m="E,g"), IP["office"], params,
                                region="us-east-1" if src == "iam.amazonaws.com" else REGION),
            "human", email("carol"), "", "human/terraform-from-laptop", "generic-client")
        t += jitter(0.4, 2.5)

    # breakglass: alice uses the break-glass IAM user in the console (registered, protected)
    bg_key = asia()
    bg = Principal.iam_user(PROD, "breakglass", bg_key, aida(), console=True, created=at(2, "03:12:40"))
    t = at(2, "03:13:02")
    for src, name, params in [
        ("iam.amazonaws.com", "ListAttachedRolePolicies", {"roleName": "orders-api-task"}),
        ("iam.amazonaws.com", "DetachRolePolicy", {"roleName": "orders-api-task",
                                                   "policyArn": f"arn:aws:iam::{PROD}:policy/orders-debug-wide"}),
    ]:
        add(t, "cloudtrail", ct(t, bg, src, name, UA_FIREFOX, IP["office"], params, None, console=True,
                                region="us-east-1"),
            "human", email("alice.claude"), "", "human/breakglass-console (registered, protected)", "registry")
        t += jitter(40, 90)

    # dana uses the AWS Toolkit explorer inside her Cursor IDE: she clicks; the UA names Cursor
    s = sso(sso_dev, "dana", at(0, "14:05:10"))
    t = at(0, "14:05:31")
    for src, name, params, api in [
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.eu-west-1.amazonaws.com"}, "s3"),
        ("s3.amazonaws.com", "ListObjects", {"bucketName": "nw-orders-exports", "prefix": "2026/04/",
                                             "delimiter": "/", "Host": "nw-orders-exports.s3.eu-west-1.amazonaws.com"}, "s3"),
        ("lambda.amazonaws.com", "ListFunctions20150331", {"maxItems": 50}, "lambda"),
    ]:
        add(t, "cloudtrail", ct(t, s, src, name, UA_TOOLKIT_CURSOR.format(api=api), IP["dana"], params),
            "human", email("dana"), "", "human/aws-toolkit-in-cursor-ide (UA names Cursor)", "client")
        t += jitter(6, 40)

    # mlopez: analyst, unregistered IAM user, bare boto3 from a notebook: no evidence either way
    ml_key = akia()
    ml = Principal.iam_user(PROD, "mlopez", ml_key, aida())
    for hms in ("11:31:05", "11:47:52"):
        t = at(3, hms)
        add(t, "cloudtrail", ct(t, ml, "athena.amazonaws.com", "StartQueryExecution", UA_BOTO3_BARE, IP["office"],
                                {"queryString": "SELECT status, count(*) FROM orders_daily WHERE dt = '2026-04-22' GROUP BY 1",
                                 "queryExecutionContext": {"database": "analytics"},
                                 "workGroup": "analysts"}, {"queryExecutionId": uid()}),
            "human", email("mlopez"), "", "human/no-evidence (bare boto3, unregistered)", "none")

    # ================================================================ AGENTS (AWS)

    # --- Cursor (dana), staging, registered role sessions "cursor-*" --------------------
    sess_name = "cursor-dana-20260420"
    agent_dev = ("agent-dev", aroa())
    dana_stg = sso(sso_dev_stg, "dana", at(0, "09:02:18"), account=STAGING)
    t = at(0, "09:31:04.410")
    k = asia()
    add(t, "cloudtrail", assume_role(t, dana_stg, UA_CURSOR.format(api="sts"), IP["dana"], STAGING, agent_dev[0],
                                     sess_name, k, agent_dev[1]),
        "agent", "agent:cursor@dana", email("dana"), "agent/cursor-assumes-registered-role", "tool-ua")
    cur = Principal.role_session(STAGING, agent_dev[0], sess_name, k, agent_dev[1], t)
    t += jitter(0.6, 1.2)
    for src, name, params, api in [
        ("ecs.amazonaws.com", "ListClusters", {}, "ecs"),
        ("ecs.amazonaws.com", "DescribeServices", {"cluster": "staging", "services": ["orders-api"]}, "ecs"),
        ("logs.amazonaws.com", "FilterLogEvents", {"logGroupName": "/ecs/orders-api", "filterPattern": "ERROR"}, "cloudwatch-logs"),
        ("ecs.amazonaws.com", "DescribeTaskDefinition", {"taskDefinition": "orders-api:412"}, "ecs"),
        ("ssm.amazonaws.com", "GetParameters", {"names": ["/staging/orders/DB_URL"], "withDecryption": True}, "ssm"),
        ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": "staging/orders/db"}, "secrets-manager"),
        ("ecs.amazonaws.com", "RegisterTaskDefinition", {"family": "orders-api", "cpu": "512", "memory": "1024"}, "ecs"),
        ("ecs.amazonaws.com", "UpdateService", {"cluster": "staging", "service": "orders-api",
                                                "taskDefinition": "orders-api:413", "forceNewDeployment": True}, "ecs"),
        ("ecs.amazonaws.com", "DescribeServices", {"cluster": "staging", "services": ["orders-api"]}, "ecs"),
    ]:
        add(t, "cloudtrail", ct(t, cur, src, name, UA_CURSOR.format(api=api), IP["dana"], params, account=STAGING,
                                read_only=name.startswith(("Describe", "List", "Get", "Filter"))),
            "agent", "agent:cursor@dana", email("dana"), "agent/registry-role-session + cursor UA (fast, broad)",
            "registry")
        t += jitter(0.25, 1.6)

    # --- Claude Code (dana): unmarked, on dana's own AssumeRole session key -----------
    # dana assumes DeployOps herself (aws-cli), runs two commands, then Claude Code uses the
    # exported credentials (its own SDK calls, UA claude-code); dana keeps using them too.
    deploy_ops = ("DeployOps", aroa())
    dana_sso = sso(sso_dev, "dana", at(1, "08:55:03"))
    t = at(1, "09:10:22")
    k = asia()
    add(t, "cloudtrail", assume_role(t, dana_sso, UA_CLI_MAC.format(m=m_flags(), cmd="sts.assume-role"),
                                     IP["dana"], PROD, deploy_ops[0], "dana", k, deploy_ops[1]),
        "human", email("dana"), "", "human/assumes-role-later-shared-with-agent", "generic-client")
    ops = Principal.role_session(PROD, deploy_ops[0], "dana", k, deploy_ops[1], t)
    t += jitter(20, 40)
    add(t, "cloudtrail", ct(t, ops, "lambda.amazonaws.com", "ListFunctions20150331",
                            UA_CLI_MAC.format(m=m_flags(), cmd="lambda.list-functions"), IP["dana"], {"maxItems": 50}),
        "human", email("dana"), "", "human/own-calls-on-session-an-agent-also-uses", "generic-client")
    t += jitter(60, 120)
    for src, name, params, api in [
        ("lambda.amazonaws.com", "GetFunction20150331v2", {"functionName": "orders-webhook"}, "lambda"),
        ("lambda.amazonaws.com", "GetFunctionConfiguration20150331v2", {"functionName": "orders-webhook"}, "lambda"),
        ("logs.amazonaws.com", "StartQuery", {"logGroupNames": ["/aws/lambda/orders-webhook"],
                                              "queryString": "fields @message | filter @message like /Timeout/ | limit 20"}, "cloudwatch-logs"),
        ("logs.amazonaws.com", "GetQueryResults", {"queryId": uid()}, "cloudwatch-logs"),
        ("sqs.amazonaws.com", "GetQueueAttributes", {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{PROD}/orders-webhook-dlq",
                                                     "attributeNames": ["All"]}, "sqs"),
        ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", {"functionName": "orders-webhook", "timeout": 30}, "lambda"),
        ("lambda.amazonaws.com", "GetFunctionConfiguration20150331v2", {"functionName": "orders-webhook"}, "lambda"),
        ("sqs.amazonaws.com", "StartMessageMoveTask", {"sourceArn": f"arn:aws:sqs:eu-west-1:{PROD}:orders-webhook-dlq"}, "sqs"),
    ]:
        add(t, "cloudtrail", ct(t, ops, src, name, UA_CLAUDE.format(api=api), IP["dana"], params,
                                read_only=name.startswith(("Get", "List", "Describe")) or name == "StartQuery"),
            "agent", "agent:claude-code@dana", email("dana"),
            "agent/unmarked-on-human-assumed-session (claude-code UA)", "tool-ua")
        t += jitter(0.3, 2.2)
    t += jitter(90, 200)
    for src, name, params, cmd in [
        ("sqs.amazonaws.com", "GetQueueAttributes", {"queueUrl": f"https://sqs.eu-west-1.amazonaws.com/{PROD}/orders-webhook-dlq",
                                                     "attributeNames": ["ApproximateNumberOfMessages"]}, "sqs.get-queue-attributes"),
        ("lambda.amazonaws.com", "GetFunctionConfiguration20150331v2", {"functionName": "orders-webhook"}, "lambda.get-function-configuration"),
    ]:
        add(t, "cloudtrail", ct(t, ops, src, name, UA_CLI_MAC.format(m=m_flags(), cmd=cmd), IP["dana"], params),
            "human", email("dana"), "", "human/own-calls-on-session-an-agent-also-uses", "generic-client")
        t += jitter(30, 80)

    # --- Claude Code (dana): declared by session tags on its own role, aws-cli UA --------
    agent_claude = ("agent-claude", aroa())
    dana_sso2 = sso(sso_dev, "dana", at(2, "09:01:44"))
    t = at(2, "09:40:12.020")
    k = asia()
    add(t, "cloudtrail", assume_role(t, dana_sso2, UA_CLI_MAC.format(m=m_flags(), cmd="sts.assume-role"),
                                     IP["dana"], PROD, agent_claude[0], "claude-code-7f3a", k, agent_claude[1],
                                     tags=[("agent", "claude-code"), ("on-behalf-of", email("dana"))], duration=1800),
        "agent", "agent:claude-code@dana", email("dana"), "agent/declared-session-tags (AssumeRole)", "declared")
    cc = Principal.role_session(PROD, agent_claude[0], "claude-code-7f3a", k, agent_claude[1], t)
    t += jitter(2, 5)
    for src, name, params, cmd in [
        ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "orders-webhook"}, "cloudformation.describe-stacks"),
        ("cloudformation.amazonaws.com", "DescribeStackEvents", {"stackName": "orders-webhook"}, "cloudformation.describe-stack-events"),
        ("s3.amazonaws.com", "GetObject", {"bucketName": "nw-deploy-artifacts", "key": "orders-webhook/build-1187.zip",
                                           "Host": "nw-deploy-artifacts.s3.eu-west-1.amazonaws.com"}, "s3.cp"),
        ("cloudformation.amazonaws.com", "CreateChangeSet", {"stackName": "orders-webhook", "changeSetName": "cc-timeout-fix",
                                                             "changeSetType": "UPDATE"}, "cloudformation.deploy"),
        ("cloudformation.amazonaws.com", "DescribeChangeSet", {"stackName": "orders-webhook", "changeSetName": "cc-timeout-fix"}, "cloudformation.deploy"),
        ("cloudformation.amazonaws.com", "ExecuteChangeSet", {"stackName": "orders-webhook", "changeSetName": "cc-timeout-fix"}, "cloudformation.deploy"),
        ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "orders-webhook"}, "cloudformation.deploy"),
    ]:
        rec = ct(t, cc, src, name, UA_CLI_MAC.format(m=m_flags(), cmd=cmd), IP["dana"], params)
        add(t, "cloudtrail", rec, "agent", "agent:claude-code@dana", email("dana"),
            "agent/declared-session-tags (calls with the tagged session's key)", "declared")
        t += jitter(0.4, 3.5)

    # --- Copilot coding agent (erik): GitHub Actions OIDC into a registered role ----------
    copilot_role = ("copilot-coding-agent", aroa())
    t = at(1, "16:44:09")
    k = asia()
    add(t, "cloudtrail", web_identity(t, "northwind/shop:ref:refs/heads/copilot/fix-flaky-checkout-test", STAGING,
                                      copilot_role[0], "GitHubActions", k, copilot_role[1], IP["gha"]),
        "agent", "agent:copilot@erik", email("erik"), "agent/copilot-coding-agent OIDC (branch copilot/*, registered role)",
        "registry-target")
    cp = Principal.role_session(STAGING, copilot_role[0], "GitHubActions", k, copilot_role[1], t)
    t += jitter(8, 20)
    for src, name, params, cmd in [
        ("sts.amazonaws.com", "GetCallerIdentity", None, "sts.get-caller-identity"),
        ("dynamodb.amazonaws.com", "DescribeTable", {"tableName": "checkout-sessions-staging"}, "dynamodb.describe-table"),
        ("dynamodb.amazonaws.com", "CreateTable", {"tableName": "checkout-sessions-test-5521", "billingMode": "PAY_PER_REQUEST"}, "dynamodb.create-table"),
        ("dynamodb.amazonaws.com", "DescribeTable", {"tableName": "checkout-sessions-test-5521"}, "dynamodb.wait"),
        ("dynamodb.amazonaws.com", "DescribeTable", {"tableName": "checkout-sessions-test-5521"}, "dynamodb.wait"),
        ("dynamodb.amazonaws.com", "DeleteTable", {"tableName": "checkout-sessions-test-5521"}, "dynamodb.delete-table"),
        ("dynamodb.amazonaws.com", "DeleteTable", {"tableName": "checkout-sessions-staging"}, "dynamodb.delete-table"),
    ]:
        err = ("AccessDenied", f"User: arn:aws:sts::{STAGING}:assumed-role/copilot-coding-agent/GitHubActions is not authorized to perform: dynamodb:DeleteTable on resource: arn:aws:dynamodb:eu-west-1:{STAGING}:table/checkout-sessions-staging because no identity-based policy allows the dynamodb:DeleteTable action") \
            if params and params.get("tableName") == "checkout-sessions-staging" and name == "DeleteTable" else None
        add(t, "cloudtrail", ct(t, cp, src, name, UA_CLI_LINUX.format(m=m_flags(), cmd=cmd), IP["gha"], params,
                                account=STAGING, error=err),
            "agent", "agent:copilot@erik", email("erik"), "agent/copilot-coding-agent in Actions (registered role)",
            "registry")
        t += jitter(1.5, 9)

    # --- Codex (farid): session tags on the sandbox role; aws-cli UA ----------------------
    sandbox = ("agent-sandbox", aroa())
    farid_sso = sso(sso_dev_stg, "farid", at(3, "10:02:00"), account=STAGING)
    t = at(3, "10:20:47.300")
    k = asia()
    add(t, "cloudtrail", assume_role(t, farid_sso, UA_CLI_MAC.format(m=m_flags(), cmd="sts.assume-role"),
                                     IP["farid"], STAGING, sandbox[0], "farid-codex", k, sandbox[1],
                                     tags=[("agent", "codex"), ("on-behalf-of", email("farid"))], duration=3600),
        "agent", "agent:codex@farid", email("farid"), "agent/declared-session-tags (AssumeRole)", "declared")
    cx = Principal.role_session(STAGING, sandbox[0], "farid-codex", k, sandbox[1], t)
    t += jitter(1, 3)
    for src, name, params, cmd in [
        ("ec2.amazonaws.com", "DescribeInstances", {"filterSet": {"items": [{"name": "tag:app", "valueSet": {"items": [{"value": "search"}]}}]}}, "ec2.describe-instances"),
        ("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", {"targetGroupArn": f"arn:aws:elasticloadbalancing:eu-west-1:{STAGING}:targetgroup/search-stg/5c2e9a1b7d3f4e60"}, "elbv2.describe-target-health"),
        ("ssm.amazonaws.com", "SendCommand", {"documentName": "AWS-RunShellScript", "instanceIds": [inst()],
                                              "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}, "ssm.send-command"),
        ("ssm.amazonaws.com", "ListCommandInvocations", {"details": True}, "ssm.list-command-invocations"),
        ("ec2.amazonaws.com", "CreateSnapshot", {"volumeId": vol(), "description": "pre-reindex search-stg"}, "ec2.create-snapshot"),
        ("ec2.amazonaws.com", "DescribeSnapshots", {"snapshotSet": {}, "ownersSet": {"items": [{"owner": "self"}]}}, "ec2.describe-snapshots"),
    ]:
        add(t, "cloudtrail", ct(t, cx, src, name, UA_CLI_MAC.format(m=m_flags(), cmd=cmd), IP["farid"], params,
                                account=STAGING),
            "agent", "agent:codex@farid", email("farid"),
            "agent/declared-session-tags (calls with the tagged session's key)", "declared")
        t += jitter(0.5, 4)

    # --- Aider (farid): Bedrock through litellm with aider's UA, on farid's SSO session ----
    farid_prod = sso(sso_dev, "farid", at(0, "13:10:30"))
    t = at(0, "13:12:05")
    for i in range(4):
        add(t, "cloudtrail", ct(t, farid_prod, "bedrock.amazonaws.com", "InvokeModel", UA_AIDER.format(m="b,Z"),
                                IP["farid"], {"modelId": "eu.anthropic.claude-sonnet-4-20250514-v1:0"}, None,
                                read_only=True, host="bedrock-runtime.eu-west-1.amazonaws.com"),
            "agent", "agent:aider@farid", email("farid"), "agent/aider UA on human SSO session", "tool-ua")
        t += jitter(8, 70)

    # --- The April 2026 incident (day 2): Cursor finds the domains user's key -------------
    # svc-domains is an IAM user made only to manage custom domains (Route 53); the domains
    # manager service uses it. On a staging task Cursor hit a credential mismatch, found the
    # key in an .env file and used it: 9 calls in ~9 s ending in DeleteVolume.
    dom_key = akia()
    dom = Principal.iam_user(PROD, "svc-domains", dom_key, aida())
    reg["svc_domains_key"] = dom_key
    # legitimate use by the domains manager (a container on the edge host): regular cadence
    for day, hms in [(0, "04:00:02"), (1, "04:00:01"), (2, "04:00:03"), (3, "04:00:02")]:
        t = at(day, hms)
        add(t, "cloudtrail", ct(t, dom, "route53.amazonaws.com", "ListResourceRecordSets", UA_BOTO3.format(m="b"),
                                "52.214.18.201", {"hostedZoneId": "Z0428173J3W5ZP2QHQ8E", "maxItems": "300"},
                                region="us-east-1", host="route53.amazonaws.com"),
            "service", "service:domains-manager", "", "service/registered IAM user, daily cron", "registry")
    t = at(1, "11:20:40")
    add(t, "cloudtrail", ct(t, dom, "route53.amazonaws.com", "ChangeResourceRecordSets", UA_BOTO3.format(m="b"),
                            "52.214.18.201", {"hostedZoneId": "Z0428173J3W5ZP2QHQ8E",
                                              "changeBatch": {"changes": [{"action": "UPSERT", "resourceRecordSet": {
                                                  "name": "shop.customer-a.example.", "type": "CNAME", "tTL": 300,
                                                  "resourceRecords": [{"value": "edge.northwind.example."}]}}]}},
                            {"changeInfo": {"id": "/change/C04481132CN8R6ZB2LUAB", "status": "PENDING",
                                            "submittedAt": "Apr 21, 2026, 11:20:40 AM"}},
                            region="us-east-1", read_only=False, host="route53.amazonaws.com"),
        "service", "service:domains-manager", "", "service/registered IAM user, on demand", "registry")

    t = at(2, "14:03:10.118")
    victim_vol = vol()
    for src, name, params, api, err in [
        ("sts.amazonaws.com", "GetCallerIdentity", None, "sts", None),
        ("route53.amazonaws.com", "ListHostedZones", {}, "route-53", None),
        ("ec2.amazonaws.com", "DescribeVolumes", {"volumeSet": {}, "filterSet": {}}, "ec2", None),
        ("rds.amazonaws.com", "DescribeDBInstances", {}, "rds", ("AccessDenied", f"User: arn:aws:iam::{PROD}:user/svc-domains is not authorized to perform: rds:DescribeDBInstances")),
        ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}, "filterSet": {}}, "ec2", None),
        ("backup.amazonaws.com", "ListBackupVaults", None, "backup", ("AccessDeniedException", "Insufficient privileges to perform this action.")),
        ("ec2.amazonaws.com", "DescribeSnapshots", {"snapshotSet": {}, "ownersSet": {"items": [{"owner": "self"}]}}, "ec2", None),
        ("ec2.amazonaws.com", "DetachVolume", {"volumeId": victim_vol, "force": True}, "ec2", None),
        ("ec2.amazonaws.com", "DeleteVolume", {"volumeId": victim_vol}, "ec2", None),
    ]:
        add(t, "cloudtrail", ct(t, dom, src, name, UA_CURSOR.format(api=api), IP["dana"], params,
                                {"_return": True} if name == "DeleteVolume" else None,
                                region="us-east-1" if src == "route53.amazonaws.com" else REGION, error=err,
                                host="route53.amazonaws.com" if src == "route53.amazonaws.com" else None),
            "agent", "agent:cursor@dana", email("dana"),
            "agent/borrowed-service-key (April 2026 incident; registry says service)", "registry-conflict")
        t += jitter(0.45, 1.6)

    # ================================================================ SERVICES (AWS)

    # terraform-ci: GitHub Actions OIDC (main branch) into the registered terraform-ci role
    tf_role = ("terraform-ci", aroa())
    for day, hms in [(0, "10:12:31"), (3, "15:40:02")]:
        t = at(day, hms)
        k = asia()
        add(t, "cloudtrail", web_identity(t, "northwind/infra:ref:refs/heads/main", PROD, tf_role[0], "GitHubActions",
                                          k, tf_role[1], IP["gha2"]),
            "service", "service:terraform-ci", "", "service/ci-oidc (same mechanism as the Copilot agent)", "registry-target")
        tf = Principal.role_session(PROD, tf_role[0], "GitHubActions", k, tf_role[1], t)
        t += jitter(25, 50)
        for src, name, params, api in [
            ("ec2.amazonaws.com", "DescribeSecurityGroups", {"securityGroupIdSet": {"items": [{"groupId": "sg-0b1c2d3e4f5a69788"}]}}, "ec2#1.231.0"),
            ("ec2.amazonaws.com", "DescribeLaunchTemplateVersions", {"launchTemplateId": "lt-0d2e4f6a8b1c3e5f7"}, "ec2#1.231.0"),
            ("iam.amazonaws.com", "GetRole", {"roleName": "orders-api-task"}, "iam#1.43.1"),
            ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress" if day == 0 else "CreateTags",
             {"groupId": "sg-0b1c2d3e4f5a69788", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 443}]}}
             if day == 0 else {"resourcesSet": {"items": [{"resourceId": inst()}]}, "tagSet": {"items": [{"key": "cost-center", "value": "orders"}]}},
             "ec2#1.231.0"),
        ]:
            add(t, "cloudtrail", ct(t, tf, src, name, UA_TF.format(api=api, m="E,g"), IP["gha2"], params,
                                    region="us-east-1" if src == "iam.amazonaws.com" else REGION),
                "service", "service:terraform-ci", "", "service/terraform-ci (APN UA, registered role)", "registry")
            t += jitter(0.05, 0.4)

    # AWS service principals acting on their own (invokedBy)
    slr_as = ("AWSServiceRoleForAutoScaling", aroa())
    slr_bk = ("AWSBackupDefaultServiceRole", aroa())
    for t, who, src, name, params, ui, etype in [
        (at(0, "02:14:55"), "rds.amazonaws.com", "kms.amazonaws.com", "Decrypt",
         {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, {"type": "AWSService", "invokedBy": "rds.amazonaws.com"}, "AwsApiCall"),
        (at(1, "02:14:51"), "rds.amazonaws.com", "kms.amazonaws.com", "Decrypt",
         {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, {"type": "AWSService", "invokedBy": "rds.amazonaws.com"}, "AwsApiCall"),
        (at(1, "17:30:08"), "autoscaling.amazonaws.com", "ec2.amazonaws.com", "RunInstances",
         {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]},
          "launchTemplate": {"launchTemplateId": "lt-0d2e4f6a8b1c3e5f7", "version": "14"}},
         None, "AwsApiCall"),
        (at(2, "00:00:14"), "secretsmanager.amazonaws.com", "secretsmanager.amazonaws.com", "RotationSucceeded",
         None, {"accountId": PROD, "invokedBy": "secretsmanager.amazonaws.com"}, "AwsServiceEvent"),
        (at(3, "06:02:33"), "backup.amazonaws.com", "ec2.amazonaws.com", "CreateSnapshot",
         {"volumeId": vol(), "description": "This snapshot is created by the AWS Backup service."}, None, "AwsApiCall"),
    ]:
        if ui is None:
            slr = slr_as if who.startswith("autoscaling") else slr_bk
            sess = "AutoScaling" if who.startswith("autoscaling") else "AWSBackup-AWSBackupDefaultServiceRole"
            p = Principal.role_session(PROD, slr[0], sess, asia(), slr[1], t - timedelta(minutes=3),
                                       path="aws-service-role/autoscaling.amazonaws.com/" if who.startswith("autoscaling") else "service-role/")
            p.ui["invokedBy"] = who
            ui = p.ui
        rec = ct(t, ui, src, name, who, who, params, None, read_only=name == "Decrypt", event_type=etype)
        if etype == "AwsServiceEvent":
            rec["serviceEventDetails"] = {"rotationSucceeded": {"secretId": f"arn:aws:secretsmanager:eu-west-1:{PROD}:secret:prod/orders/db-Xk2p9Q"}}
            rec.pop("requestParameters"); rec.pop("responseElements"); rec.pop("requestID"); rec.pop("readOnly")
        add(t, "cloudtrail", rec, "service", f"service:aws-{who.split('.')[0]}", "", "service/aws-service-principal",
            "platform")

    # SSM Agent on EC2 hosts: instance-role sessions (hard negative: 'agent' in the UA)
    ssm_role = ("orders-api-ec2", aroa())
    for day, hms in [(0, "05:17:40"), (1, "11:17:41"), (2, "17:17:39"), (3, "23:17:40")]:
        t = at(day, hms)
        iid = "i-0a7c3e9f1b2d4c5e6"
        p = Principal.role_session(PROD, ssm_role[0], iid, asia(), ssm_role[1], t - timedelta(hours=2))
        p.ui["sessionContext"]["ec2RoleDelivery"] = "2.0"
        add(t, "cloudtrail", ct(t, p, "ssm.amazonaws.com", "UpdateInstanceInformation", UA_SSM, "10.40.3.118",
                                {"instanceId": iid, "agentVersion": "3.3.2299.0", "agentStatus": "Active",
                                 "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2023"},
                                read_only=False),
            "service", "service:amazon-ssm-agent", "", "service/ssm-agent heartbeat ('agent' in UA)", "platform")

    # nightly snapshot Lambda (own role), 02:00:0x every night
    snap_role = ("nightly-snapshots-lambda", aroa())
    for day in range(4):
        t = at(day, f"02:00:0{rng.randint(1, 4)}")
        p = Principal.role_session(PROD, snap_role[0], "nightly-snapshots", asia(), snap_role[1], t - timedelta(seconds=1))
        add(t, "cloudtrail", ct(t, p, "ec2.amazonaws.com", "CreateSnapshots", UA_BOTO3_LAMBDA.format(m="b,Z"),
                                "3.250.14.92", {"instanceSpecification": {"instanceId": "i-0f3e2d1c0b9a87654",
                                                                         "excludeBootVolume": True},
                                                "copyTagsFromSource": "volume"}),
            "service", "service:nightly-snapshots", "", "service/backup-lambda cron (exec-env AWS_Lambda)", "client")

    # reporting-export: an unregistered IAM user with bare boto3, hourly (no evidence)
    rep = Principal.iam_user(PROD, "reporting-export", akia(), aida())
    for day, hh in [(0, 1), (1, 13), (3, 20)]:
        t = at(day, f"{hh:02d}:05:0{rng.randint(0, 9)}")
        add(t, "cloudtrail", ct(t, rep, "s3.amazonaws.com", "PutObject", UA_BOTO3_BARE, "10.40.7.22",
                                {"bucketName": "nw-reporting", "key": f"exports/orders/{t:%Y%m%d%H}.parquet",
                                 "Host": "nw-reporting.s3.eu-west-1.amazonaws.com"}, None, read_only=False),
            "service", "service:reporting-export", "", "service/no-evidence (bare boto3, unregistered)", "none")

    pg_scenario(reg)
    gcp_scenario(reg)
    azure_scenario(reg)
    k8s_scenario(reg)
    maria_scenario(reg)
    return reg


# =========================================================================== PostgreSQL

def pg_scenario(reg: dict[str, Any]) -> None:
    def run(sess: PgSession, t: datetime, stmts: list[tuple[str, str]], truth: str, who: str, owner: str,
            case: str, evidence: str, gap: tuple[float, float]) -> datetime:
        for command, sql in stmts:
            tx = txid() if PG_CLASS.get(command) in ("WRITE", "DDL", "ROLE") else 0
            add(t, "postgres-jsonlog", sess.audit(t, command, sql, tx), truth, who, owner, case, evidence)
            t += jitter(*gap)
        return t

    # ---------------- humans
    # bob (DBA) in psql: slow, exploratory
    s = PgSession("bob", "orders", "10.20.8.15", "psql", at(0, "10:02:11"))
    run(s, at(0, "10:02:40.120"), [
        ("SELECT", "select count(*) from orders where status = 'pending';"),
        ("SELECT", "select id, customer_id, created_at from orders where status = 'pending' order by created_at limit 20;"),
        ("SELECT", "select pid, state, query_start, left(query, 60) from pg_stat_activity where datname = 'orders';"),
        ("UPDATE", "update orders set status = 'cancelled' where id = 88120417;"),
        ("VACUUM", "vacuum (analyze) orders;"),
    ], "human", email("bob"), "", "human/psql", "generic-client", (25, 160))

    # bob in pgAdmin; one statement pasted from Copilot Chat (comment says so)
    s = PgSession("bob", "orders", "10.20.8.15", "pgAdmin 4 - CONN:5521844", at(1, "14:30:02"))
    run(s, at(1, "14:30:18.300"), [
        ("SELECT", "SELECT * FROM public.customers\nORDER BY id ASC LIMIT 100"),
        ("SELECT", ("-- Suggested by GitHub Copilot Chat: find duplicate customers by normalised e-mail\n"
                   "SELECT lower(trim(email)) AS e, count(*) FROM customers GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC;")),
        ("CREATE INDEX", "CREATE INDEX CONCURRENTLY customers_email_lower_idx ON customers (lower(trim(email)));"),
        ("ANALYZE", "ANALYZE customers;"),
    ], "human", email("bob"), "", "human/pgadmin (one statement pasted from Copilot Chat)", "client", (40, 300))

    # bob uses the shared role cursor_reports in psql (hard negative: 'cursor' in the role name)
    s = PgSession("cursor_reports", "analytics", "10.20.8.15", "psql", at(2, "11:05:30"))
    run(s, at(2, "11:05:51.900"), [
        ("SELECT", "select date_trunc('week', created_at) w, sum(total_cents)/100.0 from orders_daily group by 1 order by 1 desc limit 8;"),
        ("SELECT", "select * from refunds_weekly where week >= '2026-03-30';"),
        ("CREATE VIEW", "create or replace view refunds_by_reason as select reason, count(*) n from refunds group by reason;"),
    ], "human", email("bob"), "", "human/psql-as-role-named-cursor_reports", "generic-client", (45, 200))

    # dana in DBeaver
    s = PgSession("dana", "orders", "10.20.8.41", "DBeaver 25.1.3 - SQLEditor <Script-7.sql>", at(0, "15:40:09"))
    run(s, at(0, "15:40:33.500"), [
        ("SELECT", "SELECT o.id, o.status, p.provider_ref FROM orders o JOIN payments p ON p.order_id = o.id WHERE o.id = 88119031"),
        ("SELECT", "SELECT * FROM payment_events WHERE order_id = 88119031 ORDER BY created_at"),
        ("UPDATE", "UPDATE payments SET status = 'settled' WHERE order_id = 88119031 AND status = 'pending'"),
        ("SELECT", "SELECT status FROM payments WHERE order_id = 88119031"),
    ], "human", email("dana"), "", "human/dbeaver", "client", (20, 140))

    # erik from a Jupyter notebook (psycopg, no application_name): no evidence
    s = PgSession("erik", "analytics", "10.20.9.3", "", at(3, "13:15:00"))
    run(s, at(3, "13:15:07.000"), [
        ("SELECT", "SELECT customer_id, sum(total_cents) FROM orders_daily WHERE dt >= '2026-04-01' GROUP BY 1"),
        ("COPY", "COPY (SELECT * FROM churn_features WHERE snapshot = '2026-04-22') TO STDOUT WITH CSV HEADER"),
    ], "human", email("erik"), "", "human/no-evidence (notebook, no application_name)", "none", (60, 240))

    # ---------------- agents
    # Claude Code on dana's own role, declared application_name with owner; fast and broad
    s = PgSession("dana", "orders", "10.20.8.41", f"agent:claude-code;owner={email('dana')}", at(1, "10:21:04"))
    run(s, at(1, "10:21:04.850"), [
        ("SELECT", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"),
        ("SELECT", "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'payments'"),
        ("SELECT", "SELECT count(*) FROM payments WHERE status = 'pending' AND created_at < now() - interval '2 days'"),
        ("SELECT", "SELECT id, order_id, provider_ref FROM payments WHERE status = 'pending' AND created_at < now() - interval '2 days' LIMIT 50"),
        ("SELECT", "SELECT * FROM payment_events WHERE payment_id IN (SELECT id FROM payments WHERE status = 'pending' LIMIT 50)"),
        ("CREATE TABLE", "CREATE TABLE payments_backup_20260421 AS SELECT * FROM payments WHERE status = 'pending'"),
        ("UPDATE", "UPDATE payments SET status = 'expired' WHERE status = 'pending' AND created_at < now() - interval '2 days'"),
        ("SELECT", "SELECT status, count(*) FROM payments GROUP BY status"),
    ], "agent", "agent:claude-code@dana", email("dana"),
        "agent/declared application_name agent:<name>;owner= on a human's DB role", "declared", (0.2, 1.4))

    # Cursor's agent with the registered role agent_rw (staging DB), no application_name
    s = PgSession("agent_rw", "orders_staging", "10.30.2.7", "", at(0, "09:48:20"))
    run(s, at(0, "09:48:20.700"), [
        ("SELECT", "SELECT * FROM schema_migrations ORDER BY version DESC LIMIT 5"),
        ("ALTER TABLE", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS webhook_attempts integer NOT NULL DEFAULT 0"),
        ("INSERT", "INSERT INTO schema_migrations (version) VALUES ('20260420094800')"),
        ("SELECT", "SELECT webhook_attempts, count(*) FROM orders GROUP BY 1"),
        ("UPDATE", "UPDATE orders SET webhook_attempts = 1 WHERE id IN (SELECT order_id FROM webhook_log WHERE status = 'retry')"),
        ("SELECT", "SELECT id, webhook_attempts FROM orders WHERE webhook_attempts > 0 LIMIT 10"),
    ], "agent", "agent:cursor@dana", email("dana"), "agent/registry-db-role (agent_rw)", "registry", (0.3, 2.0))

    # Aider (farid) running a script it wrote: application_name set by the script to aider/<ver>
    s = PgSession("farid", "search", "10.20.8.77", "aider/0.80.4", at(3, "14:02:15"))
    run(s, at(3, "14:02:15.400"), [
        ("SELECT", "SELECT id, title FROM products WHERE search_vector IS NULL LIMIT 1000"),
        ("UPDATE", "UPDATE products SET search_vector = to_tsvector('simple', coalesce(title,'') || ' ' || coalesce(description,'')) WHERE search_vector IS NULL"),
        ("CREATE INDEX", "CREATE INDEX IF NOT EXISTS products_search_idx ON products USING gin (search_vector)"),
        ("ANALYZE", "ANALYZE products"),
        ("SELECT", "SELECT count(*) FROM products WHERE search_vector IS NULL"),
    ], "agent", "agent:aider@farid", email("farid"), "agent/aider application_name", "tool-ua", (0.4, 3.0))

    # MCP postgres server (Claude Desktop) on bob's own role: application_name only
    s = PgSession("bob", "orders", "10.20.8.15", "mcp-server-postgres", at(2, "16:10:05"))
    run(s, at(2, "16:10:05.220"), [
        ("SELECT", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"),
        ("SELECT", "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 and table_schema = 'public'"),
        ("SELECT", "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 and table_schema = 'public'"),
        ("SELECT", "SELECT c.segment, count(*) AS customers, avg(o.total_cents) AS avg_order FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.segment"),
        ("SELECT", "SELECT date_trunc('day', created_at) AS d, count(*) FROM orders WHERE created_at > now() - interval '30 days' GROUP BY 1 ORDER BY 1"),
        ("SELECT", "SELECT status, count(*) FROM orders WHERE created_at > now() - interval '30 days' GROUP BY status"),
    ], "agent", "agent:mcp-postgres@bob", email("bob"), "agent/mcp-server-postgres application_name on a human's role",
        "tool-ua", (0.05, 0.9))

    # priya's MCP postgres server with the registered read-only role
    s = PgSession("mcp_readonly", "analytics", "10.20.9.60", "", at(3, "09:12:40"))
    run(s, at(3, "09:12:40.050"), [
        ("SELECT", "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"),
        ("SELECT", "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 and table_schema = 'public'"),
        ("SELECT", "SELECT model, count(*) FROM inference_log WHERE ts > now() - interval '1 day' GROUP BY model"),
        ("SELECT", "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FROM inference_log WHERE ts > now() - interval '1 day'"),
        ("SELECT", "SELECT model, avg(latency_ms) FROM inference_log WHERE ts > now() - interval '7 days' GROUP BY model"),
    ], "agent", "agent:mcp-postgres@priya", email("priya"), "agent/registry-db-role (mcp_readonly)", "registry", (0.1, 1.2))

    # LangGraph triage agent: declared application_name, 24/7 (its checkpointer + queries)
    for day, hms in [(0, "03:41:10"), (1, "21:07:55"), (3, "02:58:30")]:
        s = PgSession("triage_app", "incidents", "10.50.1.12", "agent:langgraph-triage", at(day, hms))
        stmts = [("SELECT", "SELECT id, service, opened_at FROM incidents WHERE state = 'open' ORDER BY opened_at"),
                 ("INSERT", "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata")]
        if day == 1:
            stmts = stmts[:1]
        run(s, at(day, hms) + jitter(0.1, 0.5), stmts, "agent", "agent:langgraph-triage", email("priya"),
            "agent/declared application_name (deployed LangGraph app)", "declared", (0.05, 0.6))

    # ---------------- services
    # orders-api: JDBC pool, registered role, 24/7
    for day, hms in [(0, "00:12:08"), (0, "06:33:41"), (0, "19:02:10"), (1, "03:20:55"), (1, "12:45:02"),
                     (2, "04:51:19"), (2, "22:30:44"), (3, "08:15:37")]:
        s = PgSession("orders_api", "orders", "10.40.3.118", "PostgreSQL JDBC Driver", at(day, hms) - timedelta(hours=5))
        s.line = s.stmt = rng.randint(20_000, 900_000)  # a pooled connection hours old
        q = rng.choice([
            ("SELECT", "select o1_0.id,o1_0.created_at,o1_0.customer_id,o1_0.status,o1_0.total_cents from orders o1_0 where o1_0.id=$1"),
            ("INSERT", "insert into orders (created_at,customer_id,status,total_cents,id) values ($1,$2,$3,$4,$5)"),
            ("UPDATE", "update orders set status=$1,updated_at=$2 where id=$3"),
        ])
        run(s, at(day, hms), [q], "service", "service:orders-api", "", "service/app-pool JDBC (registered role)",
            "registry", (0.01, 0.05))

    # nightly pg_dump backup
    for day in range(3):
        s = PgSession("backup", "orders", "10.40.9.4", "pg_dump", at(day, "01:30:00"))
        run(s, at(day, "01:30:00") + jitter(0.2, 0.6), [
            ("COPY", "COPY public.orders (id, created_at, customer_id, status, total_cents, updated_at, webhook_attempts) TO stdout;")],
            "service", "service:pg-dump-backup", "", "service/pg_dump nightly", "client", (0.01, 0.05))

    # Datadog's Postgres integration: application_name datadog-agent, every 15 s (hard negative)
    s = PgSession("datadog", "orders", "10.40.5.30", "datadog-agent", at(0, "18:40:12"))
    s.line = s.stmt = rng.randint(5_000, 40_000)
    t = at(1, "03:00:04.512")
    for _ in range(4):
        add(t, "postgres-jsonlog", s.audit(t, "SELECT",
                                           "SELECT relname, seq_scan, idx_scan, n_live_tup, n_dead_tup FROM pg_stat_user_tables"),
            "service", "service:datadog-agent", "", "service/monitoring ('agent' in application_name, 15 s cadence)",
            "client")
        t += timedelta(seconds=15, microseconds=rng.randint(-900, 900))

    # ETL (Airflow) with the registered etl role: nightly
    for day in (0, 1, 2):
        s = PgSession("etl", "analytics", "10.40.6.11", "", at(day, "02:30:00"))
        run(s, at(day, "02:30:01") + jitter(0, 1), [
            ("INSERT", "INSERT INTO orders_daily (dt, customer_id, orders, total_cents) SELECT created_at::date, customer_id, count(*), sum(total_cents) FROM orders_fdw.orders WHERE created_at::date = current_date - 1 GROUP BY 1, 2")],
            "service", "service:etl", "", "service/etl nightly (registered role)", "registry", (0.01, 0.05))


# =========================================================================== GCP

def gcp_scenario(reg: dict[str, Any]) -> None:
    zone = "europe-west1-b"

    def compute(t: datetime, who: str, method: str, name: str, ua: str, ip: str, truth: str, whoname: str,
                owner: str, case: str, evidence: str, project: str = GCP_PROD, delegation: list[str] | None = None,
                write: bool | None = None) -> None:
        verb = method.rsplit(".", 1)[-1]
        write = verb not in ("list", "get", "aggregatedList") if write is None else write
        rn = f"projects/{project}/zones/{zone}/instances/{name}" if name else f"projects/{project}/zones/{zone}/instances"
        labels = {"instance_id": str(rng.randint(10**18, 10**19 - 1)), "zone": zone} if name else {"zone": zone}
        rec = gcp(t, principal=who, method=method, service="compute.googleapis.com", resource_name=rn, ua=ua, ip=ip,
                  project=project, rtype="gce_instance", labels=labels,
                  permission=f"compute.instances.{verb if verb != 'aggregatedList' else 'list'}",
                  perm_type="ADMIN_WRITE" if write else "ADMIN_READ", delegation=delegation,
                  request={"@type": f"type.googleapis.com/compute.instances.{verb}"}, location=zone,
                  log="activity" if write else "data_access",
                  operation={"id": f"operation-{int(t.timestamp()*1000)}-{rand(ALNUM_LO, 13)}", "producer": "compute.googleapis.com",
                             "last": True} if write else None)
        add(t, "gcp-audit", rec, truth, whoname, owner, case, evidence)

    def storage(t: datetime, who: str, method: str, bucket: str, obj: str, ua: str, ip: str, truth: str,
                whoname: str, owner: str, case: str, evidence: str, project: str = GCP_PROD,
                delegation: list[str] | None = None) -> None:
        rn = f"projects/_/buckets/{bucket}" + (f"/objects/{obj}" if obj else "")
        perm = {"storage.objects.get": "storage.objects.get", "storage.objects.list": "storage.objects.list",
                "storage.objects.create": "storage.objects.create", "storage.objects.delete": "storage.objects.delete",
                "storage.buckets.update": "storage.buckets.update", "storage.buckets.get": "storage.buckets.get"}[method]
        admin = method.startswith("storage.buckets.update")
        rec = gcp(t, principal=who, method=method, service="storage.googleapis.com", resource_name=rn, ua=ua, ip=ip,
                  project=project, rtype="gcs_bucket", labels={"bucket_name": bucket, "location": "europe-west1"},
                  permission=perm, perm_type="ADMIN_WRITE" if admin else ("DATA_WRITE" if method.endswith(("create", "delete")) else "DATA_READ"),
                  delegation=delegation, location="europe-west1", log="activity" if admin else "data_access")
        add(t, "gcp-audit", rec, truth, whoname, owner, case, evidence)

    # ---------------- humans
    # greg in the Cloud console
    t = at(0, "11:02:14.5")
    for method, name in [("v1.compute.instances.list", ""), ("v1.compute.instances.get", "web-eu-1"),
                         ("v1.compute.instances.get", "web-eu-2"), ("v1.compute.instances.reset", "web-eu-2")]:
        compute(t, email("greg"), method, name, UA_GCP_CONSOLE, IP["greg"], "human", email("greg"), "",
                "human/gcp-console", "client")
        t += jitter(15, 120)

    # erik with gcloud, interactive
    t = at(1, "09:30:03")
    for cmd, method, bucket, obj in [
        ("storage.ls", "storage.objects.list", "nw-ml-datasets", ""),
        ("storage.cp", "storage.objects.get", "nw-ml-datasets", "churn/2026-04-19/features.parquet"),
        ("storage.cp", "storage.objects.create", "nw-ml-datasets", "churn/2026-04-20/features.parquet"),
        ("storage.buckets.describe", "storage.buckets.get", "nw-ml-datasets", ""),
    ]:
        storage(t, email("erik"), method, bucket, obj, ua_gcloud(cmd, "erik"), IP["erik"], "human", email("erik"), "",
                "human/gcloud-interactive", "generic-client", project=GCP_ML)
        t += jitter(12, 95)

    # priya impersonates the deployer service account with gcloud (human, delegation chain)
    dep_sa = f"deployer@{GCP_PROD}.iam.gserviceaccount.com"
    t = at(2, "13:44:20")
    for method, name in [("v1.compute.instances.list", ""), ("v1.compute.instances.stop", "batch-eu-3"),
                         ("v1.compute.instances.setMachineType", "batch-eu-3"), ("v1.compute.instances.start", "batch-eu-3")]:
        compute(t, dep_sa, method, name, ua_gcloud("compute.instances." + method.rsplit(".", 1)[-1].lower(), "priya"),
                IP["priya"], "human", email("priya"), "", "human/impersonates-service-account (delegation chain)",
                "delegation", delegation=[email("priya")])
        t += jitter(20, 70)

    # alice.claude with gcloud
    t = at(3, "16:20:30")
    for method, name in [("v1.compute.instances.get", "web-eu-1"), ("v1.compute.instances.reset", "web-eu-1")]:
        compute(t, email("alice.claude"), method, name, ua_gcloud("compute.instances." + method.rsplit(".", 1)[-1], "alice"),
                IP["office"], "human", email("alice.claude"), "", "human/gcloud (name contains 'claude')", "generic-client")
        t += jitter(30, 90)

    # ---------------- agents
    # Codex (farid) on his own login; the REST client it used carries codex's UA
    t = at(3, "11:05:12.3")
    for method, bucket, obj in [
        ("storage.objects.list", "nw-search-index", ""),
        ("storage.objects.get", "nw-search-index", "snapshots/latest/manifest.json"),
        ("storage.objects.get", "nw-search-index", "snapshots/latest/shard-000.bin"),
        ("storage.objects.create", "nw-search-index", "snapshots/2026-04-23/manifest.json"),
        ("storage.objects.delete", "nw-search-index", "snapshots/2026-03-01/manifest.json"),
    ]:
        storage(t, email("farid"), method, bucket, obj, UA_CODEX, IP["farid"], "agent", "agent:codex@farid",
                email("farid"), "agent/codex UA on a human login", "tool-ua")
        t += jitter(0.2, 1.5)

    # LangGraph triage agent: its own workload service account (registered as an agent), 24/7
    lg_sa = f"langgraph-triage@{GCP_ML}.iam.gserviceaccount.com"
    for day, hms, method, name in [
        (0, "03:41:22", "v1.compute.instances.list", ""),
        (0, "03:41:23", "v1.compute.instances.get", "batch-eu-1"),
        (1, "21:08:05", "v1.compute.instances.list", ""),
        (1, "21:08:07", "v1.compute.instances.reset", "batch-eu-2"),
        (3, "02:58:41", "v1.compute.instances.list", ""),
        (3, "02:58:42", "v1.compute.instances.get", "web-eu-2"),
    ]:
        compute(at(day, hms) + jitter(0, 0.9), lg_sa, method, name, UA_GCP_PY, "35.195.77.14", "agent",
                "agent:langgraph-triage", email("priya"), "agent/registry service account (looks like a workload)",
                "registry")

    # ---------------- services
    # orders-worker on GKE (workload identity), writes exports
    wk_sa = f"orders-worker@{GCP_PROD}.iam.gserviceaccount.com"
    for day, hms in [(0, "00:30:02"), (1, "00:30:01"), (2, "00:30:03"), (3, "00:30:02"), (2, "12:30:02")]:
        storage(at(day, hms), wk_sa, "storage.objects.create", "nw-orders-exports",
                f"daily/{(DAY0 + timedelta(days=day)):%Y-%m-%d}/orders-{rand(string.digits, 4)}.csv",
                UA_GCP_GO, "10.132.0.41", "service", "service:orders-worker", "", "service/workload service account",
                "platform")

    # GKE node-pool managed instance group (Google-managed service agent)
    for day, hms, method, name in [(1, "17:31:40", "v1.compute.instances.insert", "gke-prod-pool-2-8d1f-x7c2"),
                                   (2, "02:10:05", "v1.compute.instances.delete", "gke-prod-pool-2-8d1f-x7c2"),
                                   (3, "17:29:12", "v1.compute.instances.insert", "gke-prod-pool-2-8d1f-k2m9")]:
        compute(at(day, hms), f"{GCP_PROD_NUMBER}@cloudservices.gserviceaccount.com", method, name,
                "GCE Managed Instance Group for GKE", "private", "service", "service:gce-managed-instance-group", "",
                "service/google-managed service agent", "platform")

    # Terraform from Cloud Build (registered SA)
    tf_sa = f"terraform@{GCP_PROD}.iam.gserviceaccount.com"
    t = at(0, "10:20:18")
    for method, name in [("v1.compute.instances.get", "web-eu-1"), ("v1.compute.instances.get", "web-eu-2"),
                         ("v1.compute.instances.setLabels", "web-eu-1"), ("v1.compute.instances.setLabels", "web-eu-2")]:
        compute(t, tf_sa, method, name, UA_GCP_TF, "34.78.12.200", "service", "service:terraform-ci", "",
                "service/terraform in Cloud Build (registered SA)", "registry")
        t += jitter(0.1, 0.6)

    # db-backup job (Cloud Scheduler -> Cloud Run) nightly
    bk_sa = f"db-backup@{GCP_PROD}.iam.gserviceaccount.com"
    for day in range(3):
        storage(at(day, "01:45:00") + jitter(0.5, 2), bk_sa, "storage.objects.create", "nw-db-backups",
                f"orders/{(DAY0 + timedelta(days=day)):%Y-%m-%d}.dump.zst", UA_GCP_PY, "10.132.0.88", "service",
                "service:db-backup", "", "service/backup job nightly (unregistered SA)", "platform")


# =========================================================================== Azure

def azure_scenario(reg: dict[str, Any]) -> None:
    cmartin = AzCaller("user", AZ_PORTAL, oid(), email("claude.martin"), "Claude", "Martin", "Claude Martin")
    alice_cli = AzCaller("user", AZ_CLI, oid(), email("alice.claude"), "Alice", "Claude", "Alice Claude")
    erik_cli = AzCaller("user", AZ_CLI, oid(), email("erik"), "Erik", "Lund", "Erik Lund")
    finops = AzCaller("app", uid(), oid())
    costbot = AzCaller("app", uid(), oid())
    deployer = AzCaller("app", uid(), oid())
    backup_mi = AzCaller("mi", uid(), oid(),
                         mi_id=f"/subscriptions/{AZ_SUB}/resourcegroups/rg-ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-sql-backup")
    cost_export = AzCaller("app", uid(), oid())
    reg["az_finops_appid"] = finops.appid
    reg["az_deployer_appid"] = deployer.appid

    vm = lambda n: az_rid("rg-prod-web", "Microsoft.Compute", "virtualMachines", n)
    sql = az_rid("rg-prod-data", "Microsoft.Sql", "servers", "nw-sql-prod")

    # ---------------- humans
    # Claude Martin (finance ops) in the portal: first name Claude (hard negative)
    t = at(0, "09:12:44")
    for op, rid in [
        ("Microsoft.Compute/virtualMachines/write", vm("vm-report-01")),
        ("Microsoft.Resources/tags/write", az_rid("rg-prod-web", "Microsoft.Resources", "tags", "default")),
        ("Microsoft.Compute/virtualMachines/deallocate/action", vm("vm-report-02")),
        ("Microsoft.Compute/disks/write", az_rid("rg-prod-web", "Microsoft.Compute", "disks", "vm-report-02-os")),
        ("Microsoft.Consumption/budgets/write", f"/subscriptions/{AZ_SUB}/providers/Microsoft.Consumption/budgets/prod-monthly"),
    ]:
        add(t, "azure-activity", az(t, cmartin, op, rid, IP["claude.martin"]), "human", email("claude.martin"), "",
            "human/azure-portal (first name Claude)", "client")
        t += jitter(30, 240)

    # alice.claude with az CLI
    t = at(1, "15:02:10")
    for op, rid in [
        ("Microsoft.Sql/servers/firewallRules/write", sql + "/firewallRules/office"),
        ("Microsoft.Sql/servers/databases/write", sql + "/databases/orders-replica"),
        ("Microsoft.Compute/virtualMachines/restart/action", vm("vm-web-01")),
        ("Microsoft.Network/networkSecurityGroups/securityRules/write",
         az_rid("rg-prod-web", "Microsoft.Network", "networkSecurityGroups", "nsg-web") + "/securityRules/allow-office-ssh"),
    ]:
        add(t, "azure-activity", az(t, alice_cli, op, rid, IP["office"], role="Owner"), "human", email("alice.claude"),
            "", "human/az-cli (name contains 'claude')", "generic-client")
        t += jitter(20, 150)

    # erik's own loop over VMs with az CLI: sub-second, one operation (hard negative burst)
    t = at(2, "18:30:05.120")
    for n in ("vm-batch-01", "vm-batch-02", "vm-batch-03", "vm-batch-04"):
        add(t, "azure-activity", az(t, erik_cli, "Microsoft.Compute/virtualMachines/deallocate/action", vm(n), IP["erik"],
                                    role="Virtual Machine Contributor"),
            "human", email("erik"), "", "human/az-cli-script-burst", "generic-client")
        t += jitter(0.2, 0.7)

    # ---------------- agents
    # finops agent (Azure AI Foundry agent) with its own app registration: registered as agent
    t = at(1, "06:00:12.4")
    for op, rid in [
        ("Microsoft.Compute/virtualMachines/deallocate/action", vm("vm-dev-01")),
        ("Microsoft.Compute/virtualMachines/deallocate/action", vm("vm-dev-02")),
        ("Microsoft.Compute/disks/write", az_rid("rg-dev", "Microsoft.Compute", "disks", "vm-dev-02-data")),
        ("Microsoft.Resources/tags/write", az_rid("rg-dev", "Microsoft.Resources", "tags", "default")),
        ("Microsoft.Compute/snapshots/delete", az_rid("rg-dev", "Microsoft.Compute", "snapshots", "snap-old-2025-11")),
        ("Microsoft.Compute/snapshots/delete", az_rid("rg-dev", "Microsoft.Compute", "snapshots", "snap-old-2025-12")),
        ("Microsoft.Sql/servers/databases/write", sql + "/databases/orders-dev"),
    ]:
        add(t, "azure-activity", az(t, finops, op, rid, "20.71.40.5"), "agent", "agent:finops-agent",
            email("claude.martin"), "agent/registry app registration (idtyp app)", "registry")
        t += jitter(0.4, 4)

    # an unregistered app registration used by an OpenAI Agents SDK bot erik built: no evidence
    t = at(3, "19:44:02")
    add(t, "azure-activity", az(t, costbot, "Microsoft.Compute/virtualMachines/deallocate/action", vm("vm-gpu-01"),
                                "20.71.40.9"),
        "agent", "agent:unregistered-cost-bot@erik", email("erik"), "agent/no-evidence (unregistered app, idtyp app)",
        "none")

    # Claude Code running `az` under alice.claude's login: only its pace gives it away
    t = at(3, "10:31:40.010")
    for op, rid in [
        ("Microsoft.Network/networkSecurityGroups/securityRules/write",
         az_rid("rg-prod-web", "Microsoft.Network", "networkSecurityGroups", "nsg-web") + "/securityRules/allow-lb-probe"),
        ("Microsoft.Network/loadBalancers/write", az_rid("rg-prod-web", "Microsoft.Network", "loadBalancers", "lb-web")),
    ]:
        add(t, "azure-activity", az(t, alice_cli, op, rid, IP["office"], role="Owner"), "agent",
            "agent:claude-code@alice.claude", email("alice.claude"),
            "agent/behaviour-only (agent runs az under a human login)", "behaviour")
        t += jitter(0.3, 0.8)

    # ---------------- services
    # GitHub Actions deployer app registration (registered service)
    for day, hms in [(0, "10:40:05"), (1, "16:12:40"), (3, "15:55:31")]:
        t = at(day, hms)
        add(t, "azure-activity", az(t, deployer, "Microsoft.Web/sites/write",
                                    az_rid("rg-prod-web", "Microsoft.Web", "sites", "nw-storefront"), "4.180.12.90"),
            "service", "service:gh-deployer", "", "service/ci app registration (registered)", "registry")
    t = at(1, "16:12:43")
    add(t, "azure-activity", az(t, deployer, "Microsoft.Web/sites/restart/action",
                                az_rid("rg-prod-web", "Microsoft.Web", "sites", "nw-storefront"), "4.180.12.90"),
        "service", "service:gh-deployer", "", "service/ci app registration (registered)", "registry")

    # SQL backup job with a managed identity, nightly
    for day in range(3):
        t = at(day, "01:00:00") + jitter(1, 3)
        add(t, "azure-activity", az(t, backup_mi, "Microsoft.Storage/storageAccounts/listKeys/action",
                                    az_rid("rg-ops", "Microsoft.Storage", "storageAccounts", "nwsqlbackups"), "10.60.0.4"),
            "service", "service:sql-backup", "", "service/managed identity nightly", "platform")

    # hourly cost export app (unregistered, idtyp app)
    for day, hh in [(0, 7), (2, 7), (3, 7)]:
        t = at(day, f"{hh:02d}:00:0{rng.randint(1, 5)}")
        add(t, "azure-activity", az(t, cost_export, "Microsoft.CostManagement/exports/run/action",
                                    f"/subscriptions/{AZ_SUB}/providers/Microsoft.CostManagement/exports/daily-amortized",
                                    "20.71.40.20", role="Reader"),
            "service", "service:cost-export", "", "service/app registration daily (unregistered)", "platform")


# =========================================================================== Kubernetes (EKS)

def k8s_scenario(reg: dict[str, Any]) -> None:
    sso_platform = ("AWSReservedSSO_PlatformAdmin_4f7c2a1e9b3d5c86", aroa())
    sso_dev = ("AWSReservedSSO_Developer_2c8e4f1a6b9d3e07", aroa())

    def user_sso(perm: tuple[str, str], who: str) -> dict[str, Any]:
        return eks_user(PROD, perm[0], email(who), asia(), perm[1])

    def dep(ns: str, name: str = "") -> str:
        return f"/apis/apps/v1/namespaces/{ns}/deployments" + (f"/{name}" if name else "")

    # ---------------- humans
    carol = user_sso(sso_platform, "carol")
    t = at(0, "13:31:02")
    for verb, uri, res, ns, name, group, sub in [
        ("list", "/api/v1/namespaces/orders/pods?limit=500", "pods", "orders", "", "", ""),
        ("get", "/apis/apps/v1/namespaces/orders/deployments/orders-api", "deployments", "orders", "orders-api", "apps", ""),
        ("get", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-q2x4m/log?container=api&tailLines=200", "pods", "orders", "orders-api-7c9d8b6f5-q2x4m", "", "log"),
        ("patch", "/apis/apps/v1/namespaces/orders/deployments/orders-api?fieldManager=kubectl-edit", "deployments", "orders", "orders-api", "apps", ""),
        ("create", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-q2x4m/exec?command=sh&container=api&stdin=true&stdout=true&tty=true", "pods", "orders", "orders-api-7c9d8b6f5-q2x4m", "", "exec"),
        ("delete", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-q2x4m", "pods", "orders", "orders-api-7c9d8b6f5-q2x4m", "", ""),
    ]:
        add(t, "kubernetes-audit", k8s(t, carol, verb, uri, UA_KUBECTL_MAC, IP["office"], resource=res, ns=ns, name=name,
                                       group=group, sub=sub, code=101 if sub == "exec" else 200,
                                       reason="EKS Access Policy: allowed by ClusterRoleBinding \"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformAdmin_4f7c2a1e9b3d5c86/{{SessionName}}+arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\" of ClusterRole \"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy\" to User \"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformAdmin_4f7c2a1e9b3d5c86/carol@example.com\""),
            "human", email("carol"), "", "human/kubectl (EKS, SSO)", "generic-client")
        t += jitter(8, 90)

    # carol impersonates the CI deployer service account (kubectl --as)
    carol = user_sso(sso_platform, "carol")
    t = at(1, "10:05:40")
    imp = {"username": "system:serviceaccount:ci:deployer",
           "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]}
    for verb, uri, res, name in [
        ("get", dep("orders", "orders-api"), "deployments", "orders-api"),
        ("patch", dep("orders", "orders-api") + "?fieldManager=kubectl-rollout", "deployments", "orders-api"),
        ("get", dep("orders", "orders-api"), "deployments", "orders-api"),
    ]:
        add(t, "kubernetes-audit", k8s(t, carol, verb, uri, UA_KUBECTL_MAC, IP["office"], resource=res, ns="orders",
                                       name=name, group="apps", impersonate=imp,
                                       reason="RBAC: allowed by RoleBinding \"deployer-edit/orders\" of ClusterRole \"edit\" to ServiceAccount \"deployer/ci\""),
            "human", email("carol"), "", "human/impersonates-service-account (kubectl --as)", "delegation")
        t += jitter(3, 25)

    # alice.claude with kubectl
    alice = user_sso(sso_platform, "alice.claude")
    t = at(2, "08:12:05")
    for verb, uri, res, ns, name in [
        ("list", "/api/v1/nodes?limit=500", "nodes", "", ""),
        ("patch", "/api/v1/nodes/ip-10-40-12-7.eu-west-1.compute.internal", "nodes", "", "ip-10-40-12-7.eu-west-1.compute.internal"),
        ("create", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-h8k1z/eviction", "pods", "orders", "orders-api-7c9d8b6f5-h8k1z"),
    ]:
        add(t, "kubernetes-audit", k8s(t, alice, verb, uri, UA_KUBECTL_MAC, IP["office"], resource=res, ns=ns, name=name,
                                       sub="eviction" if uri.endswith("eviction") else "", code=201 if verb == "create" else 200),
            "human", email("alice.claude"), "", "human/kubectl (name contains 'claude')", "generic-client")
        t += jitter(20, 80)

    # dana herself with kubectl
    dana = user_sso(sso_dev, "dana")
    t = at(1, "11:40:00")
    for verb, uri, res, name in [("list", "/api/v1/namespaces/orders/pods?limit=500", "pods", ""),
                                 ("get", "/api/v1/namespaces/orders/configmaps/orders-api-config", "configmaps", "orders-api-config")]:
        add(t, "kubernetes-audit", k8s(t, dana, verb, uri, UA_KUBECTL_MAC, IP["dana"], resource=res, ns="orders", name=name),
            "human", email("dana"), "", "human/kubectl (EKS, SSO)", "generic-client")
        t += jitter(10, 40)

    # erik in k9s
    erik = user_sso(("AWSReservedSSO_DataEngineer_9a4c2e7f1b5d8c36", aroa()), "erik")
    t = at(3, "09:05:14")
    for verb, uri, res, name in [("list", "/apis/batch/v1/namespaces/ml/jobs?limit=500", "jobs", ""),
                                 ("delete", "/apis/batch/v1/namespaces/ml/jobs/churn-train-20260422", "jobs", "churn-train-20260422")]:
        add(t, "kubernetes-audit", k8s(t, erik, verb, uri, UA_K9S, IP["erik"], resource=res, ns="ml", name=name, group="batch"),
            "human", email("erik"), "", "human/k9s", "client")
        t += jitter(10, 60)

    # ---------------- agents
    # Cursor (dana) on the staging cluster through the registered role session cursor-*
    stg_key = asia()
    agent_dev_id = aroa()
    cur = eks_user(STAGING, "agent-dev", "cursor-dana-20260421", stg_key, agent_dev_id)
    t = at(1, "13:20:11.200")
    for verb, uri, res, name in [
        ("list", "/api/v1/namespaces/orders/pods?limit=500", "pods", ""),
        ("get", "/api/v1/namespaces/orders/pods/orders-api-5d8f7b9c4-rt6wq/log?container=api&tailLines=100", "pods", "orders-api-5d8f7b9c4-rt6wq"),
        ("patch", "/apis/apps/v1/namespaces/orders/deployments/orders-api?fieldManager=kubectl-set", "deployments", "orders-api"),
        ("get", "/apis/apps/v1/namespaces/orders/deployments/orders-api", "deployments", "orders-api"),
    ]:
        add(t, "kubernetes-audit", k8s(t, cur, verb, uri, UA_KUBECTL_MAC, IP["dana"], resource=res, ns="orders",
                                       name=name, group="apps" if res == "deployments" else "",
                                       sub="log" if "/log" in uri else ""),
            "agent", "agent:cursor@dana", email("dana"), "agent/registry-role-session via EKS sessionName", "registry")
        t += jitter(0.3, 1.8)

    # Claude Code (dana) through kubernetes-mcp-server on dana's own identity
    t = at(2, "10:02:30.000")
    for verb, uri, res, ns, name in [
        ("list", "/api/v1/namespaces?limit=500", "namespaces", "", ""),
        ("list", "/api/v1/namespaces/orders/events?limit=500", "events", "orders", ""),
        ("list", "/api/v1/namespaces/orders/pods?limit=500", "pods", "orders", ""),
        ("get", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-w9c3d/log?container=api&tailLines=256", "pods", "orders", "orders-api-7c9d8b6f5-w9c3d"),
        ("delete", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-w9c3d", "pods", "orders", "orders-api-7c9d8b6f5-w9c3d"),
    ]:
        add(t, "kubernetes-audit", k8s(t, dana, verb, uri, UA_K8S_MCP, IP["dana"], resource=res, ns=ns, name=name,
                                       sub="log" if "/log" in uri else ""),
            "agent", "agent:claude-code@dana", email("dana"), "agent/kubernetes-mcp-server UA on a human identity",
            "tool-ua")
        t += jitter(0.1, 1.1)

    # LangGraph triage agent: its own service account (registered as an agent), 24/7
    lg = sa_user("agents", "langgraph-triage", "ip-10-40-14-22.eu-west-1.compute.internal", "langgraph-triage-6f9c7d5b8-2xk4p")
    for day, hms, verb, uri, res, ns, name in [
        (0, "03:41:30", "list", "/api/v1/namespaces/orders/events?limit=100", "events", "orders", ""),
        (0, "03:41:31", "list", "/api/v1/namespaces/orders/pods?labelSelector=app%3Dorders-api", "pods", "orders", ""),
        (0, "03:41:33", "get", "/api/v1/namespaces/orders/pods/orders-api-7c9d8b6f5-q2x4m/log?tailLines=200", "pods", "orders", "orders-api-7c9d8b6f5-q2x4m"),
        (1, "21:08:10", "list", "/api/v1/namespaces/payments/events?limit=100", "events", "payments", ""),
        (1, "21:08:11", "list", "/api/v1/namespaces/payments/pods?labelSelector=app%3Dpsp-gateway", "pods", "payments", ""),
        (1, "21:08:14", "delete", "/api/v1/namespaces/payments/pods/psp-gateway-84c6d9f7b-ml2vn", "pods", "payments", "psp-gateway-84c6d9f7b-ml2vn"),
        (3, "02:58:50", "list", "/api/v1/namespaces/orders/events?limit=100", "events", "orders", ""),
        (3, "02:58:52", "patch", "/apis/apps/v1/namespaces/orders/deployments/orders-api/scale", "deployments", "orders", "orders-api"),
    ]:
        t = at(day, hms) + jitter(0, 0.8)
        add(t, "kubernetes-audit", k8s(t, lg, verb, uri, UA_K8S_PY, "10.40.14.22", resource=res, ns=ns, name=name,
                                       group="apps" if res == "deployments" else "",
                                       sub="log" if "/log" in uri else ("scale" if uri.endswith("/scale") else "")),
            "agent", "agent:langgraph-triage", email("priya"), "agent/registry service account (looks like a workload)",
            "registry")

    # Claude Code running kubectl with carol's credentials: nothing but the pace
    carol = user_sso(sso_platform, "carol")
    t = at(3, "14:22:05.030")
    for verb, uri, res, ns, name in [
        ("list", "/api/v1/namespaces/payments/pods?limit=500", "pods", "payments", ""),
        ("list", "/api/v1/namespaces/payments/events?limit=500", "events", "payments", ""),
        ("get", "/apis/apps/v1/namespaces/payments/deployments/psp-gateway", "deployments", "payments", "psp-gateway"),
    ]:
        add(t, "kubernetes-audit", k8s(t, carol, verb, uri, UA_KUBECTL_MAC, IP["office"], resource=res, ns=ns, name=name,
                                       group="apps" if res == "deployments" else ""),
            "agent", "agent:claude-code@carol", email("carol"), "agent/behaviour-only (agent runs kubectl as a human)",
            "behaviour")
        t += jitter(0.2, 0.6)

    # ---------------- services
    kcm = {"username": "system:kube-controller-manager", "groups": ["system:authenticated"]}
    for day, hms in [(0, "00:00:07"), (1, "12:00:09"), (3, "06:00:04")]:
        t = at(day, hms)
        add(t, "kubernetes-audit", k8s(t, kcm, "update", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-controller-manager?timeout=5s",
                                       UA_KCM + "/leader-election", "10.40.0.10", resource="leases", ns="kube-system",
                                       name="kube-controller-manager", group="coordination.k8s.io"),
            "service", "service:kube-controller-manager", "", "service/control-plane component", "platform")

    rs = {"username": "system:serviceaccount:kube-system:replicaset-controller", "uid": uid(),
          "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
    for day, hms in [(0, "13:33:20"), (1, "10:06:15"), (2, "08:13:40"), (3, "02:58:55")]:
        t = at(day, hms)
        add(t, "kubernetes-audit", k8s(t, rs, "create", "/api/v1/namespaces/orders/pods", UA_KCM + "/system:serviceaccount:kube-system:replicaset-controller",
                                       "10.40.0.10", resource="pods", ns="orders", code=201),
            "service", "service:replicaset-controller", "", "service/kubernetes controller", "platform")

    argo = sa_user("argocd", "argocd-application-controller", "ip-10-40-11-5.eu-west-1.compute.internal",
                   "argocd-application-controller-0")
    for day, hms in [(0, "10:45:12"), (1, "16:15:30"), (2, "03:00:05"), (3, "16:00:41")]:
        t = at(day, hms)
        add(t, "kubernetes-audit", k8s(t, argo, "patch", dep("orders", "orders-api") + "?fieldManager=argocd-controller&force=true",
                                       UA_ARGO, "10.40.11.5", resource="deployments", ns="orders", name="orders-api", group="apps"),
            "service", "service:argocd", "", "service/gitops controller service account", "platform")

    dd = sa_user("datadog", "datadog-cluster-agent", "ip-10-40-12-7.eu-west-1.compute.internal",
                 "datadog-cluster-agent-5b8c9f6d7-v4m2t")
    t = at(2, "04:00:00.400")
    for _ in range(3):
        add(t, "kubernetes-audit", k8s(t, dd, "list", "/api/v1/nodes?limit=500", UA_DD, "10.40.12.7", resource="nodes"),
            "service", "service:datadog-cluster-agent", "", "service/monitoring ('agent' in SA and UA)", "platform")
        t += timedelta(seconds=10, microseconds=rng.randint(-2000, 2000))

    cm = sa_user("cert-manager", "cert-manager", "ip-10-40-11-5.eu-west-1.compute.internal", "cert-manager-6c9f8d7b5-ptq7w")
    for day, hms in [(1, "04:12:33"), (3, "04:12:31")]:
        t = at(day, hms)
        add(t, "kubernetes-audit", k8s(t, cm, "update", "/api/v1/namespaces/orders/secrets/orders-api-tls", UA_CERTMGR,
                                       "10.40.11.5", resource="secrets", ns="orders", name="orders-api-tls"),
            "service", "service:cert-manager", "", "service/controller service account", "platform")


# =========================================================================== MariaDB server_audit

def maria_scenario(reg: dict[str, Any]) -> None:
    M = MARIA

    def session(t: datetime, user: str, client: str, db: str, stmts: list[str], truth: str, who: str, owner: str,
                case: str, evidence: str, gap: tuple[float, float], connect: bool = False) -> datetime:
        conn = M.connect()
        if connect:
            add(t, "mariadb-audit", M.line(t, user, client, conn, "CONNECT", db), truth, who, owner, case, evidence)
            t += jitter(*gap)
        for sqltext in stmts:
            add(t, "mariadb-audit", M.line(t, user, client, conn, "QUERY", db, sqltext), truth, who, owner, case, evidence)
            t += jitter(*gap)
        return t

    dbv = "/* ApplicationName=DBeaver 25.1.3 - SQLEditor <Script-4.sql> */ "
    # ---------------- humans
    session(at(0, "16:02:10"), "erik", "10.20.9.3", "billing", [
        dbv + "SELECT * FROM invoices WHERE status = 'overdue' ORDER BY due_date LIMIT 200",
        dbv + "SELECT customer_id, SUM(amount_cents) FROM invoices WHERE status = 'overdue' GROUP BY customer_id",
        dbv + "-- from GitHub Copilot Chat: overdue by age bucket\nSELECT CASE WHEN DATEDIFF(NOW(), due_date) > 60 THEN '60+' WHEN DATEDIFF(NOW(), due_date) > 30 THEN '31-60' ELSE '0-30' END AS bucket, COUNT(*) FROM invoices WHERE status = 'overdue' GROUP BY bucket",
        dbv + "UPDATE invoices SET status = 'written_off' WHERE id = 5581120",
    ], "human", email("erik"), "", "human/dbeaver (one statement pasted from Copilot Chat)", "client", (20, 150))

    # Marie-Claude (user mclaude), mysql CLI: hard negative name
    session(at(1, "09:20:00"), "mclaude", "10.20.8.90", "billing", [
        "select @@version_comment limit 1",
        "SELECT COUNT(*) FROM payouts WHERE payout_date = '2026-04-21'",
        "SELECT * FROM payouts WHERE payout_date = '2026-04-21' AND status <> 'sent'",
        "UPDATE payouts SET status = 'held' WHERE id = 440912",
    ], "human", email("mclaude"), "", "human/mysql-cli (user name contains 'claude')", "generic-client", (15, 120),
        connect=True)

    session(at(2, "13:40:30"), "bob", "10.20.8.15", "billing", [
        "SHOW PROCESSLIST",
        "SELECT id, user, time, state FROM information_schema.processlist WHERE time > 60",
    ], "human", email("bob"), "", "human/mysql-cli", "generic-client", (20, 90), connect=True)

    # ---------------- agents
    # Codex (farid) with the registered user codex_agent
    session(at(3, "15:10:05.2"), "codex_agent", "10.20.8.77", "billing", [
        "SELECT DATABASE()",
        "SHOW TABLES",
        "SHOW CREATE TABLE invoices",
        "SELECT COUNT(*) FROM invoices WHERE currency IS NULL",
        "SELECT id, customer_id, amount_cents FROM invoices WHERE currency IS NULL LIMIT 50",
        "UPDATE invoices SET currency = 'EUR' WHERE currency IS NULL AND customer_id IN (SELECT id FROM customers WHERE country IN ('DE','FR','NL'))",
        "ALTER TABLE invoices MODIFY currency CHAR(3) NOT NULL DEFAULT 'EUR'",
    ], "agent", "agent:codex@farid", email("farid"), "agent/registry-db-user (codex_agent)", "registry", (0.2, 1.5),
        connect=True)

    # Cursor (dana) with the registered agent_rw user on the billing DB
    session(at(0, "10:05:40.0"), "agent_rw", "10.30.2.7", "billing_staging", [
        "SELECT * FROM schema_migrations ORDER BY version DESC LIMIT 5",
        "CREATE TABLE IF NOT EXISTS invoice_webhooks (id BIGINT PRIMARY KEY AUTO_INCREMENT, invoice_id BIGINT NOT NULL, attempts INT NOT NULL DEFAULT 0)",
        "INSERT INTO schema_migrations (version) VALUES ('20260420100540')",
        "SELECT COUNT(*) FROM invoice_webhooks",
    ], "agent", "agent:cursor@dana", email("dana"), "agent/registry-db-user (agent_rw)", "registry", (0.2, 1.2))

    # ---------------- services
    for day, hms in [(0, "00:40:12"), (1, "08:22:51"), (1, "23:59:58"), (2, "14:05:33"), (3, "05:41:09")]:
        t = at(day, hms)
        conn = M.connect()
        q = rng.choice(["SELECT id, customer_id, amount_cents, status FROM invoices WHERE id = 5580321",
                        "INSERT INTO invoice_events (invoice_id, kind, created_at) VALUES (5580321, 'viewed', NOW())",
                        "UPDATE invoices SET status = 'paid', paid_at = NOW() WHERE id = 5580321 AND status = 'open'"])
        add(t, "mariadb-audit", M.line(t, "billing_svc", "10.40.3.120", conn, "QUERY", "billing", q),
            "service", "service:billing", "", "service/app pool (registered user)", "registry")

    conn = M.connect()
    t = at(2, "04:00:00.000")
    for q in ["SHOW GLOBAL STATUS", "SHOW GLOBAL VARIABLES", "SHOW GLOBAL STATUS", "SHOW GLOBAL VARIABLES"]:
        add(t, "mariadb-audit", M.line(t, "exporter", "10.40.5.31", conn, "QUERY", "", q),
            "service", "service:mysqld-exporter", "", "service/monitoring 15 s cadence (unregistered)", "none")
        t += timedelta(seconds=15) if q.endswith("VARIABLES") else timedelta(milliseconds=rng.randint(2, 9))

    for day in range(3):
        t = at(day, "02:15:00")
        conn = M.connect()
        add(t, "mariadb-audit", M.line(t, "backup", "10.40.9.4", conn, "CONNECT", ""),
            "service", "service:mariabackup", "", "service/mariabackup nightly (unregistered)", "none")


# =========================================================================== registry

def registry(reg: dict[str, Any]) -> str:
    """The estate's registry: SOME actors, as the platform team wrote it."""
    return f"""\
# Northwind identity registry (auditwatch format). It covers SOME principals only, as
# real registries do: most people, the declared-marker agents and several services are
# not in it. svc-domains is registered as what it was made for; see README.md.
identities:
  - id: agent:dana-cursor
    kind: agent
    owner: {email('dana')}
    environments: [staging]
    purpose: Cursor agent for dana's staging work
    match:
      role_sessions: ["cursor-*"]
      db_roles: [agent_rw]

  - id: agent:erik-copilot-coding-agent
    kind: agent
    owner: {email('erik')}
    environments: [staging]
    purpose: GitHub Copilot coding agent runs (GitHub Actions OIDC)
    match:
      principals: ["arn:aws:iam::{STAGING}:role/copilot-coding-agent"]

  - id: agent:farid-codex
    kind: agent
    owner: {email('farid')}
    environments: [prod]
    match:
      db_roles: [codex_agent]

  - id: agent:priya-mcp-postgres
    kind: agent
    owner: {email('priya')}
    purpose: read-only MCP postgres server for analytics questions
    match:
      db_roles: [mcp_readonly]

  - id: agent:langgraph-triage
    kind: agent
    owner: {email('priya')}
    environments: [prod]
    purpose: incident triage agent (LangGraph), restarts unhealthy workloads
    match:
      principals:
        - "langgraph-triage@{GCP_ML}.iam.gserviceaccount.com"
        - "system:serviceaccount:agents:langgraph-triage"

  - id: agent:finops-agent
    kind: agent
    owner: {email('claude.martin')}
    purpose: cost clean-up agent (Azure AI Foundry)
    match:
      principals: ["{reg['az_finops_appid']}"]

  - id: service:terraform-ci
    kind: service
    environments: [prod]
    match:
      principals:
        - "arn:aws:iam::{PROD}:role/terraform-ci"
        - "terraform@{GCP_PROD}.iam.gserviceaccount.com"

  - id: service:domains-manager
    kind: service
    environments: [prod]
    purpose: custom domains (Route 53 records) for customer storefronts
    allowed_categories: []
    match:
      principals: ["arn:aws:iam::{PROD}:user/svc-domains"]
      access_keys: ["{reg['svc_domains_key']}"]

  - id: service:orders-api
    kind: service
    environments: [prod]
    match:
      db_roles: [orders_api]

  - id: service:etl
    kind: service
    match:
      db_roles: [etl]

  - id: service:billing
    kind: service
    environments: [prod]
    match:
      db_roles: [billing_svc]

  - id: service:gh-deployer
    kind: service
    environments: [prod]
    match:
      principals: ["{reg['az_deployer_appid']}"]

  - id: human:alice.claude
    kind: human
    owner: {email('alice.claude')}
    match:
      role_sessions: ["{email('alice.claude')}"]

  - id: oncall-breakglass
    kind: human
    protected: true
    match:
      principals: ["arn:aws:iam::{PROD}:user/breakglass"]
"""


# =========================================================================== main

def renumber_server_audit() -> None:
    """The server hands out connection and query ids in time order; the scenario is written
    actor by actor, so give the server_audit lines their ids again in event-time order."""
    conns: dict[str, str] = {}
    next_conn, next_qid = 18_214, 731_188
    for e in EVENTS:
        if e.source != "mariadb-audit":
            continue
        ts, host, user, client, conn, qid, rest = e.record.split(",", 6)
        if conn not in conns:
            next_conn += rng.randint(1, 37)
            conns[conn] = str(next_conn)
        if qid != "0":
            next_qid += rng.randint(1, 60)
            qid = str(next_qid)
        e.record = ",".join((ts, host, user, client, conns[conn], qid, rest))


def main(argv: list[str]) -> int:
    out_dir = Path(argv[argv.index("--out") + 1]) if "--out" in argv else HERE
    reg = scenario()
    EVENTS.sort(key=lambda e: (e.t, e.seq))
    renumber_server_audit()
    out = out_dir / "events.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for e in EVENTS:
            f.write(json.dumps({"source": e.source, "record": e.record, "truth": e.truth, "who": e.who,
                                "owner": e.owner, "case": e.case, "evidence": e.evidence},
                               ensure_ascii=False, separators=(",", ":")) + "\n")
    (out_dir / "registry.yaml").write_text(registry(reg), encoding="utf-8")
    kinds: dict[str, int] = {}
    for e in EVENTS:
        kinds[e.truth] = kinds.get(e.truth, 0) + 1
    print(f"{len(EVENTS)} events -> {out}: "
          + ", ".join(f"{k} {v} ({v / len(EVENTS):.0%})" for k, v in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
