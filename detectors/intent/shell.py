"""What a shell command an agent is about to run would do: the guard's intent analysis.

Threat: a coding agent, on an unrelated task, finds a credential and runs one command
that destroys production: a ``curl`` carrying a GraphQL ``volumeDelete`` to Railway
(April 2026: database and its volume backups gone in 9 s), ``dropdb``, ``terraform
destroy``, ``aws rds delete-db-instance``, ``rm -rf`` on a data directory. The command
may be wrapped (``sudo``, ``env``, ``timeout``, ``xargs``, ``ssh``, ``kubectl exec``,
``bash -c``, ``eval``), split over variables (``CMD=volumeDelete; ... $CMD``), quoted
oddly (``"volume""Delete"``, ``$'\\x76...'``), or hidden in base64, a heredoc or a
``python -c`` string.

Evidence: the command text only, read as POSIX sh reads it. A small lexer (quotes,
``$'...'``, ``$(...)``, backticks, ``${...}``, heredocs, line continuations) feeds a
walk that tracks variables, files written earlier in the same command, and what each
pipeline stage statically prints (``echo``/``printf``/``base64 -d``/``xxd -r -p``/
``rev``/``tr``/``gunzip``), then judges every simple command with a table per tool:
SQL through :func:`auditwatch.detectors.sql.classify.classify`, cloud CLIs (the AWS
mapping is the CloudTrail table of :mod:`auditwatch.detectors.taxonomy`, reached by
operation name), platform REST/GraphQL APIs by host, method and path. Nothing is
executed; credentials are reported as fingerprints (sha256, 16 hex) and replaced by
``<redacted:fp>`` in every string this module returns.

Expected false positives: deliberate teardown of disposable resources (``docker compose
down -v``, ``kubectl delete -f`` on a kind cluster) is reported with an environment
hint, never suppressed; a ``find``/``rm`` whose pattern only looks like a database or
backup; GraphQL ``delete*`` mutations to unknown non-local APIs. Look-alikes that only
print, grep, commit or write text (``echo "DROP TABLE"``, ``git commit -m``) stay clean:
text is code only when a shell, SQL client or interpreter runs it.

Limits: scripts named on the command line (``bash deploy.sh``, ``psql -f x.sql``) are
not read from disk (a note says so); aliases and functions defined outside the command
are unknown; unicode look-alike command names are not mapped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from auditwatch.detectors.sql.classify import classify
from auditwatch.detectors.taxonomy import (
    BACKUP_DESTROY,
    CLOUDTRAIL,
    CREDENTIAL_CREATE,
    DANGEROUS_EXEC,
    DATA_DESTROY,
    DESTRUCTIVE,
    INFRA_DESTROY,
    KEY_DESTROY,
    LOGGING_DISABLE,
    PRIVILEGE_ESCALATE,
    cloudtrail_categories,
)

D, B, L, P, C, I, K, X = (DATA_DESTROY, BACKUP_DESTROY, LOGGING_DISABLE, PRIVILEGE_ESCALATE,
                          CREDENTIAL_CREATE, INFRA_DESTROY, KEY_DESTROY, DANGEROUS_EXEC)

# Larger commands are analysed on their first MAX_ANALYSED characters; the rest is
# scanned for destructive keywords (conservative) and the intent is flagged truncated.
MAX_ANALYSED = 64 * 1024
MAX_DEPTH = 24  # nested wrappers (sudo env timeout ...) and scripts together
MAX_SCRIPT_DEPTH = 12  # nested scripts: bash -c, eval, $( ), decoded payloads
MAX_VALUE = 64 * 1024  # one variable / static output
MAX_WORK = 512 * 1024  # characters lexed per analysis, all nesting levels together

__all__ = ["MAX_ANALYSED", "CredentialUse", "Finding", "Intent", "analyse_command", "fingerprint"]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Finding:
    """One action the command would take."""

    kind: str  # "railway.graphql.volumeDelete", "aws.rds.delete-db-instance", "sql.DROP TABLE"
    summary: str  # one line for a human, secrets redacted
    categories: tuple[str, ...] = ()  # taxonomy categories, sorted; () = noted, not judged
    target: str = ""  # volume id, database, bucket, path ... ("" when unknown)
    environment_hint: str = ""  # "prod" | "staging" | "dev" | ""


@dataclass(frozen=True, slots=True)
class CredentialUse:
    """A credential the command carries or references. Never the secret itself."""

    kind: str  # bearer | api_key | aws_key | password | url_password | env-ref
    fingerprint: str  # sha256 hex of the secret, first 16 (of the variable name for env-ref)
    source: str  # header | env | arg | url
    name: str = ""  # variable or header name when known


@dataclass(slots=True)
class Intent:
    categories: tuple[str, ...] = ()
    actions: list[Finding] = field(default_factory=list)
    credentials: list[CredentialUse] = field(default_factory=list)
    redacted: str = ""
    parse_error: str = ""
    truncated: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def destructive(self) -> bool:
        """Anything destroyed or blinded (taxonomy.DESTRUCTIVE)."""
        return any(c in DESTRUCTIVE for c in self.categories)

    @property
    def environment_hints(self) -> tuple[str, ...]:
        return tuple(sorted({a.environment_hint for a in self.actions if a.environment_hint}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "destructive": self.destructive,
            "actions": [
                {"kind": a.kind, "summary": a.summary, "categories": list(a.categories),
                 "target": a.target, "environment_hint": a.environment_hint}
                for a in self.actions
            ],
            "credentials": [
                {"kind": c.kind, "fingerprint": c.fingerprint, "source": c.source, "name": c.name}
                for c in self.credentials
            ],
            "redacted": self.redacted,
            "parse_error": self.parse_error,
            "truncated": self.truncated,
            "notes": list(self.notes),
        }


def fingerprint(secret: str) -> str:
    """sha256 hex of the secret, first 16 characters (what CredentialUse carries)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# --------------------------------------------------------------------------- lexer
#
# A word is a list of parts: (kind, text, default, quoted)
#   "s" literal text   "v" variable (text = name, default = ${x:-default})
#   "c" command substitution (text = source)   "p" process substitution <(...)

Part = tuple[str, str, str | None, bool]


@dataclass(slots=True)
class _Word:
    parts: list[Part]
    raw: str


@dataclass(slots=True)
class _Redir:
    op: str
    fd: str
    target: _Word | None
    body: str | None = None  # heredoc body
    expand: bool = True  # heredoc delimiter unquoted: the body is expanded
    delim: str = ""


@dataclass(slots=True)
class _Cmd:
    words: list[_Word]
    redirs: list[_Redir]



_PLAIN = re.compile(r"[^\s'\"\\$`;&|()<>]+")
_DQ_PLAIN = re.compile(r"[^\"\\$`]+")
_HD_PLAIN = re.compile(r"[^\\$`]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REDIR = re.compile(r"(\d*)(<<<|<<-|<<|<>|<&|>&|>>|>\||&>>|&>|<|>)")
_PARAM = re.compile(r"^#?([A-Za-z_][A-Za-z0-9_]*|\d+|[@*#?$!-])(.*)$", re.DOTALL)
_ANSI = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|c.|.)", re.DOTALL)
_ANSI_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b",
                "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_MAX_LEX_NEST = 40


def _ansi_char(m: re.Match[str]) -> str:
    e = m.group(1)
    try:
        if e[0] in "xuU" and len(e) > 1:
            return chr(int(e[1:], 16))
        if e[0] in "01234567":
            return chr(int(e, 8) & 0xFF)
        if e[0] == "c" and len(e) == 2:
            return chr(ord(e[1]) & 0x1F)
    except (ValueError, OverflowError):
        return ""
    return _ANSI_SIMPLE.get(e, "\\" + e)


def _ansi_c(body: str) -> str:
    return _ANSI.sub(_ansi_char, body)


class _Lexer:
    """POSIX-sh word and operator splitting with bash's common extensions."""

    __slots__ = ("errors", "n", "nest", "pending", "s")

    def __init__(self, s: str, errors: list[str], nest: int = 0) -> None:
        self.s = s
        self.n = len(s)
        self.errors = errors
        self.pending: list[_Redir] = []
        self.nest = nest

    def lex(self, pos: int = 0, until_paren: bool = False) -> tuple[list[Token], int]:
        s, n = self.s, self.n
        toks: list[Token] = []
        depth = 0
        while pos < n:
            c = s[pos]
            if c in " \t\r\f\v":
                pos += 1
            elif c == "\\" and pos + 1 < n and s[pos + 1] == "\n":
                pos += 2
            elif c == "\n":
                toks.append("\n")
                pos = self._heredocs(pos + 1)
            elif c == "#":
                j = s.find("\n", pos)
                pos = n if j < 0 else j
            elif c in "<>" and pos + 1 < n and s[pos + 1] == "(":
                w, pos = self.word(pos)
                toks.append(w)
            elif c in "<>&" or (c.isdigit() and _REDIR.match(s, pos) is not None):
                m = _REDIR.match(s, pos)
                if m is not None and (c != "&" or m.group(2) in ("&>", "&>>")):
                    pos = self._redirect(m, toks)
                elif s.startswith("&&", pos):
                    toks.append("&&")
                    pos += 2
                else:
                    toks.append("&")
                    pos += 1
            elif c in ";|()":
                two = s[pos:pos + 2]
                if two in ("||", ";;", ";&", "|&"):
                    toks.append(two)
                    pos += 2
                    continue
                if c == "(":
                    depth += 1
                elif c == ")":
                    if until_paren and depth == 0:
                        return toks, pos
                    depth = max(0, depth - 1)
                toks.append(c)
                pos += 1
            else:
                w, pos = self.word(pos)
                toks.append(w)
        if self.pending:
            self.errors.append(f"unterminated heredoc <<{self.pending[0].delim}")
            for r in self.pending:
                r.body = ""
            self.pending = []
        if until_paren:
            self.errors.append("unclosed $( or (")
        return toks, pos

    def _redirect(self, m: re.Match[str], toks: list[Token]) -> int:
        s, n = self.s, self.n
        op = m.group(2)
        pos = m.end()
        while pos < n and s[pos] in " \t":
            pos += 1
        target: _Word | None = None
        if pos < n and s[pos] not in "\n;&|()<>":
            target, pos = self.word(pos)
        r = _Redir(op=op, fd=m.group(1), target=target)
        if op in ("<<", "<<-"):
            if target is None:
                self.errors.append("heredoc without delimiter")
                r.body = ""
            else:
                r.delim = "".join(p[1] if p[0] == "s" else "$" + p[1] for p in target.parts)
                r.expand = not any(p[3] for p in target.parts)
                self.pending.append(r)
        toks.append(r)
        return pos

    def _heredocs(self, pos: int) -> int:
        if not self.pending:
            return pos
        s, n = self.s, self.n
        for r in self.pending:
            lines: list[str] = []
            found = False
            while pos < n:
                j = s.find("\n", pos)
                line = s[pos:j] if j >= 0 else s[pos:]
                pos = j + 1 if j >= 0 else n
                cmp = line.lstrip("\t") if r.op == "<<-" else line
                if cmp.rstrip("\r") == r.delim:
                    found = True
                    break
                lines.append(cmp)
            if not found:
                self.errors.append(f"unterminated heredoc <<{r.delim}")
            r.body = "\n".join(lines) + ("\n" if lines else "")
        self.pending = []
        return pos

    def word(self, pos: int) -> tuple[_Word, int]:
        s, n = self.s, self.n
        start = pos
        parts: list[Part] = []
        if s[pos] in "<>" and pos + 1 < n and s[pos + 1] == "(":
            inner, pos = self._subst(pos + 2)
            parts.append(("p", inner, None, False))
        while pos < n:
            c = s[pos]
            if c in " \t\r\n\f\v;&|()<>":
                break
            if c == "'":
                j = s.find("'", pos + 1)
                if j < 0:
                    self.errors.append(f"unclosed single quote at offset {pos}")
                    parts.append(("s", s[pos + 1:], None, True))
                    pos = n
                    break
                parts.append(("s", s[pos + 1:j], None, True))
                pos = j + 1
            elif c == '"':
                pos = self.dquote(pos + 1, parts)
            elif c == "\\":
                if pos + 1 < n:
                    if s[pos + 1] != "\n":
                        parts.append(("s", s[pos + 1], None, True))
                    pos += 2
                else:
                    pos += 1
            elif c == "$":
                pos = self.dollar(pos, parts, False)
            elif c == "`":
                pos = self.backtick(pos, parts, False)
            else:
                m = _PLAIN.match(s, pos)
                if m is None:  # pragma: no cover - every other char matches
                    parts.append(("s", c, None, False))
                    pos += 1
                else:
                    parts.append(("s", m.group(), None, False))
                    pos = m.end()
        return _Word(parts, s[start:pos]), pos

    def dquote(self, pos: int, parts: list[Part], heredoc: bool = False) -> int:
        s, n = self.s, self.n
        buf: list[str] = []
        plain = _HD_PLAIN if heredoc else _DQ_PLAIN
        while pos < n:
            c = s[pos]
            if c == '"' and not heredoc:
                if buf:
                    parts.append(("s", "".join(buf), None, True))
                return pos + 1
            if c == "\\" and pos + 1 < n:
                d = s[pos + 1]
                if d in "$`\\" or (d == '"' and not heredoc):
                    buf.append(d)
                    pos += 2
                    continue
                if d == "\n":
                    pos += 2
                    continue
                buf.append("\\")
                pos += 1
                continue
            if c in "$`":
                if buf:
                    parts.append(("s", "".join(buf), None, True))
                    buf = []
                pos = self.dollar(pos, parts, True) if c == "$" else self.backtick(pos, parts, True)
                continue
            m = plain.match(s, pos)
            if m is None:
                buf.append(c)
                pos += 1
            else:
                buf.append(m.group())
                pos = m.end()
        if not heredoc:
            self.errors.append("unclosed double quote")
        if buf:
            parts.append(("s", "".join(buf), None, True))
        return n

    def dollar(self, pos: int, parts: list[Part], quoted: bool) -> int:
        s, n = self.s, self.n
        nxt = s[pos + 1] if pos + 1 < n else ""
        if nxt == "'" and not quoted:
            j = pos + 2
            while j < n and s[j] != "'":
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                self.errors.append("unclosed $' quote")
            parts.append(("s", _ansi_c(s[pos + 2:min(j, n)]), None, True))
            return min(j + 1, n)
        if nxt == '"' and not quoted:
            return self.dquote(pos + 2, parts)
        if nxt == "(":
            if s.startswith("((", pos + 1):  # arithmetic: kept as text
                end = self._match(pos + 1, "(", ")")
                parts.append(("s", s[pos:end], None, True))
                return end
            inner, end = self._subst(pos + 2)
            parts.append(("c", inner, None, quoted))
            return end
        if nxt == "{":
            end = self._match(pos + 1, "{", "}")
            body = s[pos + 2:end - 1] if end <= n and s[end - 1:end] == "}" else s[pos + 2:end]
            m = _PARAM.match(body)
            if m is None:
                parts.append(("s", s[pos:end], None, quoted))
                return end
            name, rest = m.group(1), m.group(2)
            default: str | None = None
            for op in (":-", ":=", "-", "="):
                if rest.startswith(op):
                    default = rest[len(op):]
                    break
            parts.append(("v", name, default, quoted))
            return end
        m2 = _NAME.match(s, pos + 1)
        if m2 is not None:
            parts.append(("v", m2.group(), None, quoted))
            return m2.end()
        if nxt and (nxt.isdigit() or nxt in "@*#?$!-"):
            parts.append(("v", nxt, None, quoted))
            return pos + 2
        parts.append(("s", "$", None, quoted))
        return pos + 1

    def backtick(self, pos: int, parts: list[Part], quoted: bool) -> int:
        s, n = self.s, self.n
        j = pos + 1
        buf: list[str] = []
        while j < n and s[j] != "`":
            if s[j] == "\\" and j + 1 < n and s[j + 1] in "`\\$":
                buf.append(s[j + 1])
                j += 2
                continue
            buf.append(s[j])
            j += 1
        if j >= n:
            self.errors.append("unclosed backtick")
        parts.append(("c", "".join(buf), None, quoted))
        return min(j + 1, n)

    def _subst(self, pos: int) -> tuple[str, int]:
        """The source of $( ... ) starting after the '(' and the position after ')'."""
        if self.nest >= _MAX_LEX_NEST:
            end = self._match(pos - 1, "(", ")")
            return self.s[pos:max(pos, end - 1)], end
        sub = _Lexer(self.s, self.errors, self.nest + 1)
        _, end = sub.lex(pos, until_paren=True)
        return self.s[pos:end], min(end + 1, self.n)

    def _match(self, pos: int, open_: str, close: str) -> int:
        """Position after the bracket matching the one at pos (quotes ignored)."""
        s, n = self.s, self.n
        depth = 0
        j = pos
        while j < n:
            ch = s[j]
            if ch == "\\":
                j += 2
                continue
            if ch == open_:
                depth += 1
            elif ch == close:
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        self.errors.append(f"unclosed {open_}")
        return n


Token = str | _Word | _Redir


def _parse(toks: list[Token]) -> list[list[_Cmd]]:
    """Pipelines (lists of simple commands); control operators only separate."""
    pipelines: list[list[_Cmd]] = []
    pipe: list[_Cmd] = []
    words: list[_Word] = []
    redirs: list[_Redir] = []
    for t in toks:
        if isinstance(t, _Word):
            words.append(t)
        elif isinstance(t, _Redir):
            redirs.append(t)
        else:
            if words or redirs:
                pipe.append(_Cmd(words, redirs))
                words, redirs = [], []
            if t not in ("|", "|&") and pipe:
                pipelines.append(pipe)
                pipe = []
    if words or redirs:
        pipe.append(_Cmd(words, redirs))
    if pipe:
        pipelines.append(pipe)
    return pipelines


def _literal(w: _Word) -> str | None:
    if all(p[0] == "s" for p in w.parts):
        return "".join(p[1] for p in w.parts)
    return None


# --------------------------------------------------------------------------- helpers

_RESERVED = frozenset({"if", "then", "elif", "else", "fi", "do", "done", "while", "until", "{", "}",
                       "!", "time", "esac", "coproc", "in"})
_HEADERS_ONLY = frozenset({"for", "select", "case", "function"})
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\+?)=")

_ENV_PROD = re.compile(r"(?i)(?<![a-z0-9])(?<!pre-)(?<!pre_)(prod|production|prd)(?![a-z])")
_ENV_STAGING = re.compile(r"(?i)(?<![a-z0-9])(pre-?prod|staging|stage|stg|uat)(?![a-z])")
_ENV_DEV = re.compile(r"(?i)(?<![a-z0-9])(dev|develop|development|local|localhost|sandbox|test|testing)(?![a-z])")
_HINT_VARS = ("RAILWAY_ENVIRONMENT", "RAILWAY_ENVIRONMENT_NAME", "ENVIRONMENT", "APP_ENV", "STAGE",
              "RAILS_ENV", "NODE_ENV", "AWS_PROFILE", "TF_WORKSPACE", "PULUMI_STACK", "KUBE_CONTEXT",
              "VERCEL_ENV", "DEPLOY_ENV", "ENV")

_SECRET_NAME = re.compile(r"(?i)(TOKEN(_|$)|SECRET|PASSW(OR)?D|(^|_)PWD$|API_?KEY|ACCESS_KEY|PRIVATE_KEY"
                          r"|CREDENTIALS?$|AUTH_KEY)")
_TOKEN_HEADER = re.compile(r"(?i)^(x-)?(api[-_]?key|apikey|auth[-_]?token|access[-_]?token|token"
                           r"|private-token|project-access-token|vault-token|secret)$")
_SECRET_PARAM = re.compile(r"(?i)^(api[-_]?key|apikey|key|token|access[-_]?token|auth|auth[-_]?token"
                           r"|secret|client[-_]?secret|password|passwd|pwd|sig|signature)$")
_CRED_OPTS = re.compile(r"(?i)^--(token|access-token|api-key|apikey|auth-token|api-token|secret|password"
                        r"|secret-key|client-secret)$")
_TOKEN_SHAPES = re.compile(
    r"\b(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})")
_URL_CRED = re.compile(r"\b([a-z][a-z0-9+.-]*://)([^/\s:@'\"]*):([^@\s/'\"]+)@")
_CONNINFO_PW = re.compile(r"(?i)(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")

_LOCAL_HOST = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[?::1\]?|host\.docker\.internal"
                         r"|[^.]+\.local|.*\.localhost|kubernetes\.docker\.internal)$", re.IGNORECASE)
_REMOTE_TOOLS = frozenset({"curl", "wget", "http", "https", "xh", "xhs", "fetch", "nc", "ncat"})

_DISK = re.compile(r"^/dev/(sd[a-z]|hd[a-z]|vd[a-z]|xvd[a-z]|nvme\d|mmcblk\d|disk\d|rdisk\d|md\d|dm-\d"
                   r"|mapper/|loop\d|sr\d|root)")
_DATA_PATH = re.compile(
    r"(?i)((^|/)var/lib/(postgresql|pgsql|postgres|mysql|mariadb|mongodb|mongo|redis|docker/volumes"
    r"|elasticsearch|cassandra|clickhouse|influxdb|etcd|rabbitmq|neo4j|couchdb)(/|$)"
    r"|(^|/|\$\{?)(pg_?data|postgres[-_]?data|postgresql[-_]?data|mysql[-_]?data|mariadb[-_]?data"
    r"|mongo[-_]?data|redis[-_]?data|db[-_]?data|database[-_]?data|pg_wal|pg_xlog)(\}?)(/|$)"
    r"|(^|/)data/db(/|$)"
    r"|\.(db|sqlite|sqlite3|db3|mdb|accdb|ibd|frm|myd|wt|tfstate)(\*)?$"
    r"|(^|/)ibdata\d*$)")
# cloud resource names (buckets, prefixes, vaults)
_BACKUP_PATH = re.compile(r"(?i)((^|[/_.:-])(backups?|snapshots?|dumps?|pg_?dumps?|wal[-_]archive|archives?)"
                          r"([/_.-]|\d|$)|\.dump$)")
# local paths: snapshots/archives there are mostly test snapshots and old code, so narrower
_BACKUP_FILE = re.compile(r"(?i)((^|[/_.-])(backups?|dumps?|pg_?dumps?|wal[-_]archive|pgbackrest|barman)"
                          r"([/_.-]|\d|$)|\.dump$)")
_NOT_BACKUP = re.compile(r"(?i)(^|/)(tests?|spec|fixtures?|__snapshots__|__tests__|src|lib|node_modules|tmp"
                         r"|temp)(/|$)|\.(py|ts|tsx|js|jsx|go|rb|java|rs|snap|md)$")
_LOG_PATH = re.compile(r"(?i)(^/var/log(/|$)|(^|/)(audit\.log|auth\.log|secure|syslog|messages|wtmp|btmp"
                       r"|lastlog|\.bash_history|\.zsh_history)$|^/var/audit(/|$))")
_CATASTROPHIC = frozenset({"/", "/*", "~", "~/", "~/*", "$HOME", "${HOME}", "$HOME/*", "${HOME}/*", ".",
                           "./", "./*", "*", "..", "../", "../*", ".*", "/home", "/etc", "/usr", "/var",
                           "/bin", "/sbin", "/boot", "/lib", "/lib64", "/opt", "/root", "/srv", "/mnt",
                           "/data", "/var/lib", "/Users", "/home/*", "/Users/*", "/var/*", "/etc/*",
                           "/usr/*", "/opt/*", "/srv/*"})
_HOME_DIR = re.compile(r"^(/home/[^/]+|/Users/[^/]+|/root)/?\*?$")
_SCRATCH_DIRS = frozenset({"node_modules", "dist", "build", "out", "target", ".next", ".nuxt", ".cache",
                           "coverage", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox",
                           ".venv", "venv", "tmp", "temp", ".turbo", ".parcel-cache", ".gradle", "obj",
                           ".terraform", "public", "_site", ".svelte-kit", "storybook-static"})
_LOG_UNITS = re.compile(r"^(auditd|rsyslog|syslog|syslog-ng|systemd-journald|journald|falco|osqueryd"
                        r"|amazon-cloudwatch-agent|cloudwatch-agent|google-fluentd|fluentd|fluent-bit"
                        r"|datadog-agent|wazuh-agent|splunkd|filebeat|auditbeat|td-agent|ossec)(\.service)?$")
_PRIV_GROUPS = frozenset({"sudo", "wheel", "admin", "root", "docker", "adm"})

_EXEC_MARK = re.compile(r"os\.system|os\.popen|subprocess|popen|spawn|execSync|execFile|child_process"
                        r"|\bexec\s*\(|\bsystem\s*\(|shell_exec|passthru|Runtime\.getRuntime|`|\$\(")
_DB_MARK = re.compile(r"(?i)execute|executescript|\.query\s*\(|cursor|\.sql\s*[`(]|\.raw\s*\(|knex|prisma"
                      r"|\$executeRaw|psycopg|sqlite3|pymysql|mysql|pg\.")
_SQL_START = re.compile(r"(?is)^\s*(drop|truncate|delete|update|alter|grant|create\s+(user|role)|set|copy"
                        r"|do|rename)\b")
_STR_LIT = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'|"((?:[^"\\\n]|\\.)*)"|\'((?:[^\'\\\n]|\\.)*)\''
                      r"|`((?:[^`\\]|\\.)*)`", re.DOTALL)
_PY_ESC = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|[0-7]{1,3}|.)", re.DOTALL)
_PY_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`", "0": "\0"}
_MONGO_DESTROY = re.compile(r"\.dropDatabase\s*\(|\.drop\s*\(\s*\)|\.(deleteMany|remove)\s*\(\s*\{\s*\}\s*\)")
_FILE_REMOVAL = re.compile(r"(shutil\.rmtree|os\.remove|os\.unlink|os\.rmdir|fs\.rmSync|fs\.rm|fs\.unlinkSync"
                           r"|fs\.promises\.rm|rimraf(?:\.sync)?|FileUtils\.rm_rf|File\.delete)\s*\(\s*(['\"])"
                           r"(.*?)\2")


def _fp(secret: str) -> str:
    return fingerprint(secret)


def _basename(a: str) -> str:
    name = a.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if name.lower().endswith(".exe"):
        name = name[:-4]
    if name.startswith("python") and re.fullmatch(r"python[\d.]*", name):
        return "python"
    if name.startswith("mkfs"):
        return "mkfs"
    return name


def _env_of(texts: Iterable[str]) -> str:
    prod = staging = dev = False
    for t in texts:
        if not t or (t.startswith("-") and "=" not in t):
            continue
        if len(t) > 4096:
            t = t[:4096]
        if _ENV_PROD.search(t):
            prod = True
            break
        if not staging and _ENV_STAGING.search(t):
            staging = True
        elif not dev and _ENV_DEV.search(t):
            dev = True
    return "prod" if prod else "staging" if staging else "dev" if dev else ""


def _opt_value(args: list[str], *names: str) -> str | None:
    """Last value of an option: --x=v, --x v, -x v, -xv (single-letter short names)."""
    val: str | None = None
    for i, a in enumerate(args):
        for nm in names:
            if a == nm:
                if i + 1 < len(args):
                    val = args[i + 1]
            elif nm.startswith("--") and a.startswith(nm + "="):
                val = a[len(nm) + 1:]
            elif len(nm) == 2 and nm[0] == "-" and nm[1] != "-" and a.startswith(nm) and len(a) > 2 \
                    and not a.startswith("--"):
                val = a[2:]
    return val


def _has(args: list[str], *flags: str) -> bool:
    for a in args:
        if a in flags:
            return True
        if a.startswith("--") and "=" in a and a.split("=", 1)[0] in flags:
            return True
    return False


def _short_flag(args: list[str], letter: str, long: tuple[str, ...] = ()) -> bool:
    for a in args:
        if a == "--":
            break
        if a in long:
            return True
        if len(a) > 1 and a[0] == "-" and a[1] != "-" and letter in a[1:]:
            return True
    return False


def _positionals(args: list[str], valued: frozenset[str] = frozenset()) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out.extend(args[i + 1:])
            break
        if a.startswith("-") and len(a) > 1:
            i += 2 if ("=" not in a and a in valued) else 1
            continue
        out.append(a)
        i += 1
    return out


def _skip_opts(args: list[str], start: int, valued: frozenset[str]) -> int:
    """Index of the first positional argument at or after start (after a '--')."""
    i = start
    while i < len(args):
        a = args[i]
        if a == "--":
            return i + 1
        if not a.startswith("-") or a == "-":
            return i
        i += 2 if ("=" not in a and a in valued) else 1
    return i


def _b64decode(text: str) -> str | None:
    t = re.sub(r"\s+", "", text)
    if not t:
        return ""
    t = t.rstrip("=")
    t += "=" * (-len(t) % 4)
    try:
        raw = base64.b64decode(t, altchars=b"-_" if ("-" in t or "_" in t) else None, validate=False)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "surrogateescape")


def _py_unescape(s: str) -> str:
    if "\\" not in s:
        return s

    def rep(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] in "xu" and len(e) > 1:
            return chr(int(e[1:], 16))
        if e[0] in "01234567" and len(e) > 1:
            return chr(int(e, 8) & 0xFF)
        return _PY_SIMPLE.get(e, "\\" + e)

    return _PY_ESC.sub(rep, s)


def _string_literals(code: str, limit: int = 64) -> list[str]:
    out: list[str] = []
    for m in _STR_LIT.finditer(code):
        g = next((x for x in m.groups() if x is not None), "")
        out.append(_py_unescape(g))
        if len(out) >= limit:
            break
    return out


def _tr_set(spec: str) -> str:
    spec = _ansi_c(spec)
    out: list[str] = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            a, b = ord(spec[i]), ord(spec[i + 2])
            if a <= b and b - a < 4096:
                out.extend(chr(x) for x in range(a, b + 1))
            i += 3
        else:
            out.append(spec[i])
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- GraphQL

_GQL_TOKEN = re.compile(r'"""[\s\S]*?"""|"(?:\\.|[^"\\])*"|[A-Za-z_]\w*|\.\.\.|#[^\n]*|[{}():$!=@\[\],]|\S')


def _gql_mutation_fields(doc: str) -> list[tuple[str, str]]:
    """Top-level fields of every mutation operation: (field name, argument source)."""
    out: list[tuple[str, str]] = []
    toks = [m.group() for m in _GQL_TOKEN.finditer(doc[:MAX_VALUE]) if not m.group().startswith("#")]
    depth = pdepth = 0
    op: str | None = None
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        if t == "(":
            pdepth += 1
        elif t == ")":
            pdepth = max(0, pdepth - 1)
        elif pdepth == 0 and t == "{":
            if depth == 0 and op is None:
                op = "query"
            depth += 1
        elif pdepth == 0 and t == "}":
            depth = max(0, depth - 1)
            if depth == 0:
                op = None
        elif depth == 0 and pdepth == 0 and t in ("mutation", "query", "subscription", "fragment"):
            op = t
        elif op == "mutation" and depth == 1 and pdepth == 0 and (t[0].isalpha() or t[0] == "_"):
            name = t
            if i + 2 < n and toks[i + 1] == ":" and (toks[i + 2][0].isalpha() or toks[i + 2][0] == "_"):
                name = toks[i + 2]
                i += 2
            args = ""
            if i + 1 < n and toks[i + 1] == "(":
                j, d = i + 1, 0
                while j < n:
                    if toks[j] == "(":
                        d += 1
                    elif toks[j] == ")":
                        d -= 1
                        if d == 0:
                            break
                    j += 1
                args = " ".join(toks[i + 2:j])
                i = j
            out.append((name, args))
        i += 1
    return out


_RAILWAY_HOST = re.compile(r"(^|\.)(backboard\.)?railway\.(app|com)$")
_FLY_GQL_HOST = re.compile(r"^api\.fly\.io$")

# host -> GraphQL mutation -> (categories, kind)
_GQL_MUTATIONS: tuple[tuple[re.Pattern[str], str, dict[str, tuple[str, ...]]], ...] = (
    (_RAILWAY_HOST, "railway", {
        # a volume's backups live with the volume: deleting it deletes them (April 2026)
        "volumeDelete": (D, B, I),
        "volumeInstanceBackupDelete": (B,),
        "volumeBackupDelete": (B,),
        "volumeInstanceBackupScheduleDelete": (B,),
        "serviceDelete": (D, I),
        "environmentDelete": (D, B, I),
        "projectDelete": (D, B, I),
        "pluginDelete": (D, I),
        "teamDelete": (D, B, I),
        "workspaceDelete": (D, B, I),
        "deploymentRemove": (I,),
        "customDomainDelete": (I,),
        "apiTokenCreate": (C,),
        "projectTokenCreate": (C,),
    }),
    (_FLY_GQL_HOST, "fly", {
        "deleteApp": (D, I),
        "deleteVolume": (D, I),
        "deleteOrganization": (D, B, I),
        "createAccessToken": (C,),
    }),
)
_GENERIC_DELETE_MUTATION = re.compile(r"^(delete|destroy|drop|purge|wipe|truncate|nuke)(?=[A-Z_]|$)"
                                      r"|(Delete|Destroy|Drop|Purge|Wipe|Truncate)(All|Many)?$")

# REST: (host, method, path, kind, categories)
_HttpRule = tuple[re.Pattern[str], str, re.Pattern[str], str, tuple[str, ...]]


def _rules(spec: list[tuple[str, str, str, str, tuple[str, ...]]]) -> tuple[_HttpRule, ...]:
    return tuple((re.compile(h, re.IGNORECASE), m, re.compile(p), k, c) for h, m, p, k, c in spec)


_HTTP_RULES = _rules([
    (r"^api\.vercel\.com$", "DELETE", r"^/v\d+/projects/[^/]+$", "vercel.project.delete", (I,)),
    (r"^api\.vercel\.com$", "DELETE", r"^/v\d+/deployments/[^/]+$", "vercel.deployment.delete", (I,)),
    (r"^api\.vercel\.com$", "DELETE", r"^/v\d+/storage/stores/[^/]+", "vercel.store.delete", (D, I)),
    (r"^api\.supabase\.com$", "DELETE", r"^/v1/projects/[^/]+$", "supabase.project.delete", (D, B, I)),
    (r"^api\.supabase\.com$", "DELETE", r"^/v1/branches/[^/]+$", "supabase.branch.delete", (D, I)),
    (r"^(console\.neon\.tech|api\.neon\.tech)$", "DELETE", r"^/api/v2/projects/[^/]+$",
     "neon.project.delete", (D, B, I)),
    (r"^(console\.neon\.tech|api\.neon\.tech)$", "DELETE", r"^/api/v2/projects/[^/]+/branches/[^/]+$",
     "neon.branch.delete", (D, I)),
    (r"^(console\.neon\.tech|api\.neon\.tech)$", "DELETE",
     r"^/api/v2/projects/[^/]+/branches/[^/]+/databases/[^/]+$", "neon.database.delete", (D,)),
    (r"^api\.render\.com$", "DELETE", r"^/v1/services/[^/]+$", "render.service.delete", (D, I)),
    (r"^api\.render\.com$", "DELETE", r"^/v1/postgres/[^/]+$", "render.postgres.delete", (D, B, I)),
    (r"^api\.render\.com$", "DELETE", r"^/v1/(redis|key-value)/[^/]+$", "render.keyvalue.delete", (D, I)),
    (r"^api\.render\.com$", "DELETE", r"^/v1/disks/[^/]+$", "render.disk.delete", (D, I)),
    (r"^(api\.machines\.dev|_api\.internal)$", "DELETE", r"^/v1/apps/[^/]+$", "fly.app.delete", (D, I)),
    (r"^(api\.machines\.dev|_api\.internal)$", "DELETE", r"^/v1/apps/[^/]+/volumes/[^/]+$",
     "fly.volume.delete", (D, I)),
    (r"^(api\.machines\.dev|_api\.internal)$", "DELETE", r"^/v1/apps/[^/]+/machines/[^/]+$",
     "fly.machine.delete", (I,)),
    (r"^api\.heroku\.com$", "DELETE", r"^/apps/[^/]+$", "heroku.app.delete", (D, I)),
    (r"^api\.heroku\.com$", "DELETE", r"^/(apps/[^/]+/)?addons/[^/]+$", "heroku.addon.delete", (D, B, I)),
    (r"^api\.github\.com$", "DELETE", r"^/repos/[^/]+/[^/]+$", "github.repo.delete", (D, I)),
    (r"^api\.digitalocean\.com$", "DELETE", r"^/v2/databases/[^/]+$", "digitalocean.database.delete", (D, B, I)),
    (r"^api\.digitalocean\.com$", "DELETE", r"^/v2/volumes/[^/]+$", "digitalocean.volume.delete", (D, I)),
    (r"^api\.digitalocean\.com$", "DELETE", r"^/v2/droplets/[^/]+$", "digitalocean.droplet.delete", (I,)),
    (r"^api\.digitalocean\.com$", "DELETE", r"^/v2/snapshots/[^/]+$", "digitalocean.snapshot.delete", (B,)),
    (r"^api\.planetscale\.com$", "DELETE", r"^/v1/organizations/[^/]+/databases/[^/]+$",
     "planetscale.database.delete", (D, B, I)),
    (r"^api\.planetscale\.com$", "DELETE", r"^/v1/organizations/[^/]+/databases/[^/]+/branches/[^/]+$",
     "planetscale.branch.delete", (D, I)),
    (r"^api\.netlify\.com$", "DELETE", r"^/api/v1/sites/[^/]+$", "netlify.site.delete", (I,)),
    (r"^api\.cloudflare\.com$", "DELETE", r"^/client/v4/accounts/[^/]+/(d1/database|r2/buckets)/[^/]+$",
     "cloudflare.storage.delete", (D, I)),
    (r"^api\.cloudflare\.com$", "DELETE", r"^/client/v4/zones/[^/]+$", "cloudflare.zone.delete", (I,)),
    (r"^(gitlab\.com)$", "DELETE", r"^/api/v4/projects/[^/]+$", "gitlab.project.delete", (D, I)),
])
_ES_HOST = re.compile(r"(?i)(elastic|opensearch|(^|\.)es\.|search-.*\.es\.amazonaws\.com)")


# --------------------------------------------------------------------------- CLI tables
# tool -> ((subcommand path, categories, kind suffix), ...); "a|b" alternatives per word.

_CliRule = tuple[tuple[frozenset[str], ...], tuple[str, ...], str]


def _cli(spec: list[tuple[str, tuple[str, ...]]]) -> tuple[_CliRule, ...]:
    out: list[_CliRule] = []
    for path, cats in spec:
        words = tuple(frozenset(w.split("|")) for w in path.split())
        out.append((words, cats, ".".join(w.split("|")[0] for w in path.split())))
    return tuple(out)


_CLI: dict[str, tuple[_CliRule, ...]] = {
    "fly": _cli([
        ("apps|app destroy|delete|remove|rm", (D, I)),
        ("destroy", (D, I)),
        ("volumes|volume|vol destroy|delete|remove|rm", (D, I)),
        ("volumes|volume|vol snapshots|snapshot delete|destroy|rm", (B,)),
        ("machine|machines|m destroy|remove|rm|delete", (I,)),
        ("postgres|pg|mpg destroy|delete|remove", (D, B, I)),
        ("tokens|token create", (C,)),
    ]),
    "heroku": _cli([
        ("apps:destroy|apps:delete|destroy", (D, I)),
        ("pg:reset", (D,)),
        ("addons:destroy|addons:remove|addons:delete", (D, B, I)),
        ("pg:backups:delete|pg:backups:destroy", (B,)),
        ("pg:backups:unschedule", (B,)),
        ("authorizations:create", (C,)),
    ]),
    "railway": _cli([
        ("down", (I,)),
        ("delete", (D, B, I)),
        ("volume|volumes delete|remove|rm", (D, B, I)),
        ("environment|env delete|remove|rm", (D, B, I)),
        ("service delete|remove|rm", (D, I)),
    ]),
    "vercel": _cli([
        ("remove|rm", (I,)),
        ("project|projects rm|remove", (I,)),
    ]),
    "supabase": _cli([
        ("projects delete", (D, B, I)),
        ("branches delete", (D, I)),
    ]),
    "neonctl": _cli([
        ("projects|project delete", (D, B, I)),
        ("branches|branch delete|reset", (D, I)),
        ("databases|database|db delete", (D,)),
    ]),
    "doctl": _cli([
        ("databases|database|db delete", (D, B, I)),
        ("databases|database|db db delete", (D,)),
        ("compute volume delete", (D, I)),
        ("compute droplet delete", (I,)),
        ("compute snapshot delete", (B,)),
    ]),
    "pscale": _cli([
        ("database|db delete", (D, B, I)),
        ("branch delete", (D, I)),
        ("backup delete", (B,)),
    ]),
    "netlify": _cli([("sites:delete", (I,))]),
    "gh": _cli([("repo delete", (D, I))]),
    "helm": _cli([("uninstall|delete|del|un", (I,))]),
    "pulumi": _cli([("destroy|down", (D, I))]),
    "cdk": _cli([("destroy", (D, I))]),
    "cdktf": _cli([("destroy", (D, I))]),
    "sst": _cli([("remove", (D, I))]),
    "serverless": _cli([("remove", (I,))]),
    "sam": _cli([("delete", (I,))]),
    "eb": _cli([("terminate", (I,))]),
    "copilot": _cli([("app delete", (D, I)), ("env delete", (I,)), ("svc delete", (I,))]),
    "prisma": _cli([("migrate reset", (D,))]),
    "rails": _cli([("db:drop|db:reset|db:purge|db:schema:load|db:drop:_unsafe", (D,))]),
    "sequelize": _cli([("db:drop|db:migrate:undo:all", (D,))]),
    "typeorm": _cli([("schema:drop", (D,))]),
    "mix": _cli([("ecto.drop|ecto.reset", (D,))]),
    "flyway": _cli([("clean", (D,))]),
    "liquibase": _cli([("drop-all|dropall", (D,))]),
    "artisan": _cli([("migrate:fresh|migrate:reset|db:wipe", (D,))]),
    "dotnet": _cli([("ef database drop", (D,))]),
    "alembic": _cli([("downgrade base", (D,))]),
    "gsutil": _cli([("rm", (D,)), ("rb", (D, I))]),
    "bq": _cli([("rm", (D,))]),
    "gcloud": _cli([
        ("sql instances delete", (D, B, I)),
        ("sql databases delete", (D,)),
        ("sql backups delete", (B,)),
        ("storage rm", (D,)),
        ("storage buckets delete", (D, I)),
        ("compute disks delete", (D, I)),
        ("compute instances delete", (I,)),
        ("compute snapshots delete", (B,)),
        ("projects delete", (D, B, I)),
        ("container clusters delete", (I,)),
        ("spanner instances delete", (D, B, I)),
        ("spanner databases delete", (D,)),
        ("firestore databases delete", (D, I)),
        ("bigtable instances delete", (D, I)),
        ("redis instances delete", (D, I)),
        ("alloydb clusters delete", (D, B, I)),
        ("logging sinks delete", (L,)),
        ("logging buckets delete", (L, D)),
        ("kms keys versions destroy|disable", (K,)),
        ("iam service-accounts keys create", (C,)),
        ("functions delete", (I,)),
        ("run services delete", (I,)),
    ]),
    "az": _cli([
        ("sql db delete", (D,)),
        ("sql server delete", (D, I)),
        ("group delete", (D, I)),
        ("storage account delete", (D, I)),
        ("storage container delete", (D,)),
        ("storage blob delete|delete-batch", (D,)),
        ("storage share delete", (D,)),
        ("postgres flexible-server|server delete", (D, B, I)),
        ("mysql flexible-server|server delete", (D, B, I)),
        ("cosmosdb delete", (D, B, I)),
        ("cosmosdb sql database delete", (D,)),
        ("vm delete", (I,)),
        ("disk delete", (D, I)),
        ("snapshot delete", (B,)),
        ("aks delete", (I,)),
        ("keyvault delete|purge", (K,)),
        ("keyvault key|secret delete|purge", (K,)),
        ("monitor diagnostic-settings delete", (L,)),
        ("monitor log-analytics workspace delete", (L, D)),
        ("backup vault delete", (B,)),
        ("ad sp credential reset", (C,)),
        ("ad sp create-for-rbac", (C,)),
        ("ad app credential reset", (C,)),
    ]),
}
_CLI_ALIASES = {"flyctl": "fly", "neon": "neonctl", "sls": "serverless", "sequelize-cli": "sequelize",
                "rake": "rails", "bin/rails": "rails", "podman": "docker", "oc": "kubectl",
                "tofu": "terraform", "terragrunt": "terraform", "docker-compose": "docker-compose",
                "mariadb": "mysql", "mongo": "mongosh", "xhs": "xh", "https": "http"}
_CLI_VALUED: dict[str, frozenset[str]] = {
    "gcloud": frozenset({"--project", "--account", "--configuration", "--format", "--verbosity",
                         "--impersonate-service-account", "--billing-project", "--region", "--zone"}),
    "az": frozenset({"--subscription", "-o", "--output", "--query", "-g", "--resource-group", "-n", "--name",
                     "--server", "-s", "--location", "-l", "--account-name", "--container-name"}),
    "fly": frozenset({"-a", "--app", "-c", "--config", "--access-token", "-t", "-r", "--region"}),
    "heroku": frozenset({"-a", "--app", "-r", "--remote"}),
    "railway": frozenset({"-e", "--environment", "-s", "--service", "-p", "--project"}),
    "vercel": frozenset({"--token", "-t", "--scope", "-S", "--cwd", "-A", "--local-config"}),
    "pulumi": frozenset({"-s", "--stack", "-C", "--cwd"}),
    "helm": frozenset({"-n", "--namespace", "--kube-context", "--kubeconfig"}),
    "doctl": frozenset({"-t", "--access-token", "--context", "-o", "--output"}),
    "gh": frozenset({"-R", "--repo"}),
    "supabase": frozenset({"--project-ref", "--workdir", "--db-url"}),
    "neonctl": frozenset({"--project-id", "--api-key", "-o", "--output", "--org-id"}),
    "pscale": frozenset({"--org", "--service-token", "--service-token-id"}),
}

# AWS: operation name -> CloudTrail eventName (the taxonomy's table), plus what it lacks
_CT_BY_OP = {name.lower(): name for name in CLOUDTRAIL}
_AWS_EXTRA: dict[str, tuple[str, ...]] = {
    "ecr delete-repository": (D, I),
    "eks delete-cluster": (I,),
    "eks delete-nodegroup": (I,),
    "lambda delete-function": (I,),
    "cloudformation delete-stack": (D, I),
    "elasticache delete-cache-cluster": (D, I),
    "elasticache delete-replication-group": (D, I),
    "elasticache delete-snapshot": (B,),
    "redshift delete-cluster": (D, I),
    "redshift delete-cluster-snapshot": (B,),
    "opensearch delete-domain": (D, I),
    "es delete-elasticsearch-domain": (D, I),
    "route53 delete-hosted-zone": (I,),
    "secretsmanager delete-secret": (K,),
    "sqs purge-queue": (D,),
    "sqs delete-queue": (D, I),
    "glacier delete-vault": (B,),
    "glacier delete-archive": (B,),
    "lightsail delete-relational-database": (D, B, I),
    "lightsail delete-instance": (I,),
    "timestream-write delete-database": (D,),
    "kinesis delete-stream": (D, I),
    "ec2 delete-vpc": (I,),
    "autoscaling delete-auto-scaling-group": (I,),
    "ecs delete-cluster": (I,),
    "ecs delete-service": (I,),
    "apigateway delete-rest-api": (I,),
    "cloudfront delete-distribution": (I,),
}
_AWS_BENIGN_DELETE = re.compile(r"(tags?|message|message-batch|alarms?|permission|change-set|lifecycle-policy"
                                r"|metric-filter|subscription-filter|dashboards?|parameter)$")
_AWS_VALUED = frozenset({"--profile", "--region", "--output", "--endpoint-url", "--query", "--color",
                         "--ca-bundle", "--cli-read-timeout", "--cli-connect-timeout", "--cli-binary-format"})

_KUBE_TYPES: dict[str, tuple[str, ...]] = {}
for _names, _cats in (
    (("ns", "namespace", "namespaces"), (D, I)),
    (("pvc", "pvcs", "persistentvolumeclaim", "persistentvolumeclaims"), (D, I)),
    (("pv", "pvs", "persistentvolume", "persistentvolumes"), (D, I)),
    (("crd", "crds", "customresourcedefinition", "customresourcedefinitions"), (D, I)),
    (("sts", "statefulset", "statefulsets"), (I,)),
    (("deploy", "deployment", "deployments", "ds", "daemonset", "daemonsets", "svc", "service", "services",
      "ing", "ingress", "ingresses", "cj", "cronjob", "cronjobs", "all", "node", "nodes", "no",
      "volumesnapshot", "volumesnapshots", "cluster", "clusters"), (I,)),
):
    for _n in _names:
        _KUBE_TYPES[_n] = _cats
_KUBE_TYPES.update({"volumesnapshot": (B,), "volumesnapshots": (B,), "cluster": (D, B, I),
                    "clusters": (D, B, I)})
_KUBE_VALUED = frozenset({"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s",
                          "--server", "-l", "--selector", "-o", "--output", "--field-selector",
                          "--grace-period", "--timeout", "-c", "--container", "--cascade", "--token",
                          "--as", "--request-timeout"})
_DOCKER_RUN_VALUED = frozenset({
    "-e", "--env", "-v", "--volume", "-p", "--publish", "-w", "--workdir", "-u", "--user", "--name",
    "--network", "--net", "--entrypoint", "--env-file", "-l", "--label", "--mount", "--platform",
    "--restart", "-h", "--hostname", "--add-host", "--cpus", "-m", "--memory", "--volumes-from", "--link",
    "--log-driver", "--log-opt", "--pull", "--cidfile", "--ulimit", "--dns", "--device", "--gpus",
    "--cap-add", "--cap-drop", "--security-opt", "--tmpfs", "--expose", "--shm-size", "--ipc", "--pid",
    "--userns", "--runtime", "-a", "--attach", "--stop-signal", "--stop-timeout", "--health-cmd",
    "--detach-keys", "--memory-swap", "--cpu-shares", "--group-add", "--label-file", "--sysctl"})

_NPM_BINS = {"@railway/cli": "railway", "@neondatabase/cli": "neonctl", "@planetscale/cli": "pscale",
             "sequelize-cli": "sequelize", "@nestjs/cli": "nest", "prisma": "prisma", "supabase": "supabase",
             "vercel": "vercel", "netlify-cli": "netlify", "aws-cdk": "cdk", "cdktf-cli": "cdktf",
             "@aws-amplify/cli": "amplify", "firebase-tools": "firebase", "wrangler": "wrangler"}

_Handler = Callable[["_Analyser", "_Call"], "str | None"]


@dataclass(slots=True)
class _Call:
    name: str
    argv: list[str]
    stdin: str | None
    origin: str  # what produced stdin: "heredoc", "curl", "file:x", "" ...
    depth: int


# --------------------------------------------------------------------------- the walk


class _Analyser:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.vars: dict[str, str] = {}
        self.positional: dict[str, str] = {}
        self.findings: list[Finding] = []
        self.seen: set[tuple[str, str, tuple[str, ...]]] = set()
        self.creds: dict[tuple[str, str, str], CredentialUse] = {}
        self.secrets: dict[str, str] = {}
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.files: dict[str, str] = {}
        self.templates: dict[str, str] = {}
        self.hint_stack: list[list[str]] = []
        self.sticky = ""
        self.cwd = ""
        self.work = 0
        self.fulltext = ""
        self.script_depth = 0
        self.unknown_body = False

    # -- recording ---------------------------------------------------------------------

    def note(self, text: str) -> None:
        if len(self.notes) < 32 and text not in self.notes:
            self.notes.append(text)

    def add(self, kind: str, summary: str, cats: Iterable[str], target: str = "") -> None:
        cs = tuple(sorted(set(cats)))
        key = (kind, target, cs)
        if key in self.seen or len(self.findings) >= 256:
            return
        self.seen.add(key)
        self.findings.append(Finding(kind=kind, summary=summary[:300], categories=cs, target=target[:200],
                                     environment_hint=self.hint(target)))

    def hint(self, target: str) -> str:
        h = _env_of([target])
        if h:
            return h
        for texts in reversed(self.hint_stack):
            h = _env_of(texts)
            if h:
                return h
        if self.sticky:
            return self.sticky
        for v in _HINT_VARS:
            val = self.known(v)
            if val:
                h = _env_of([val])
                if h:
                    return h
        return ""

    def cred(self, kind: str, secret: str, source: str, name: str = "") -> None:
        if not secret:
            return
        fp = _fp(secret)
        self.secrets.setdefault(secret, fp)
        key = (kind, fp, source)
        if key not in self.creds and len(self.creds) < 64:
            self.creds[key] = CredentialUse(kind=kind, fingerprint=fp, source=source, name=name)

    def env_ref(self, name: str) -> None:
        fp = _fp(name)
        key = ("env-ref", fp, "env")
        if key not in self.creds and len(self.creds) < 64:
            self.creds[key] = CredentialUse(kind="env-ref", fingerprint=fp, source="env", name=name)

    def known(self, name: str) -> str | None:
        if name in self.vars:
            return self.vars[name]
        if name in self.positional:
            return self.positional[name]
        v = self.env.get(name)
        return v if isinstance(v, str) else None

    def secret_in(self, kind: str, secret: str, context: str, source: str, name: str = "") -> None:
        """A secret seen inside an expanded word: from a variable, or literal."""
        secret = secret.strip()
        if not secret:
            return
        m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", secret)
        if m:
            self.env_ref(m.group(1))
            return
        tmpl = self.templates.get(context)
        if tmpl:
            for var in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", tmpl):
                if self.known(var) == secret:
                    self.cred(kind, secret, "env", var)
                    return
        if secret.startswith("$("):
            self.note(f"{kind} credential read by a command substitution")
            return
        self.cred(kind, secret, source, name)

    def header_cred(self, header: str) -> None:
        name, sep, value = header.partition(":")
        if not sep:
            return
        lname = name.strip().lower()
        value = value.strip()
        if lname in ("authorization", "proxy-authorization"):
            scheme, _, tok = value.partition(" ")
            if scheme.lower() in ("bearer", "token", "bot", "apikey", "api-key"):
                self.secret_in("bearer", tok, header, "header", name.strip())
            elif scheme.lower() == "basic":
                dec = _b64decode(tok.strip())
                if dec and ":" in dec:
                    self.secret_in("password", dec.split(":", 1)[1], header, "header", name.strip())
                    self.secrets.setdefault(tok.strip(), _fp(dec.split(":", 1)[1]))
                elif tok.strip():
                    self.secret_in("password", tok, header, "header", name.strip())
            elif value:
                self.secret_in("bearer", value, header, "header", name.strip())
        elif _TOKEN_HEADER.match(lname) and value:
            self.secret_in("api_key", value, header, "header", name.strip())

    def url_creds(self, url: str) -> None:
        for m in _URL_CRED.finditer(url):
            self.secret_in("url_password", unquote(m.group(3)), url, "url")
            if m.group(3) != unquote(m.group(3)):
                self.secrets.setdefault(m.group(3), _fp(unquote(m.group(3))))
        if "?" in url:
            q = url.split("?", 1)[1].split("#", 1)[0]
            for k, v in parse_qsl(q, keep_blank_values=False):
                if _SECRET_PARAM.match(k):
                    self.secret_in("password" if "pass" in k.lower() or k.lower() == "pwd" else "api_key",
                                   v, url, "url")

    def scan_args(self, argv: list[str]) -> None:
        """Credentials any tool may carry: --token X, URLs with user:pass@, known token shapes."""
        for i, a in enumerate(argv[1:], 1):
            if a.startswith("--"):
                k, eq, v = a.partition("=")
                if _CRED_OPTS.match(k):
                    val = v if eq else (argv[i + 1] if i + 1 < len(argv) else "")
                    kind = "password" if "pass" in k else "api_key"
                    self.secret_in(kind, val, val, "arg")
            if "://" in a and "@" in a:
                self.url_creds(a)

    def scan_shapes(self, argv: list[str]) -> None:
        """Well-known token shapes no tool-specific parser claimed (after the handler ran)."""
        for a in argv[1:]:
            if len(a) >= 20:
                for m in _TOKEN_SHAPES.finditer(a):
                    tok = m.group(1)
                    kind = "aws_key" if tok.startswith(("AKIA", "ASIA")) else \
                        "bearer" if tok.startswith("eyJ") else "api_key"
                    if tok not in self.secrets:
                        self.cred(kind, tok, "arg")

    # -- scripts, pipelines, commands --------------------------------------------------

    def script(self, text: str, depth: int, stdin: str | None = None,
               positional: dict[str, str] | None = None, quiet: bool = False) -> str | None:
        """Analyse a shell script; returns what it statically prints (None = unknown)."""
        self.script_depth += 1
        try:
            return self._script(text, depth, stdin, positional, quiet)
        finally:
            self.script_depth -= 1

    def _script(self, text: str, depth: int, stdin: str | None, positional: dict[str, str] | None,
                quiet: bool) -> str | None:
        if depth > MAX_DEPTH or self.script_depth > MAX_SCRIPT_DEPTH:
            self.note("nesting too deep; rest scanned for keywords")
            self.keyword_scan(text, "nested")
            return None
        self.work += len(text)
        if self.work > MAX_WORK:
            self.note("analysis budget exhausted; rest scanned for keywords")
            self.keyword_scan(text[:MAX_ANALYSED], "budget")
            return None
        errors: list[str] = []
        toks, _ = _Lexer(text, errors).lex()
        if errors and not quiet:
            if depth == 0:
                self.errors.append(errors[0])
            else:
                self.note(f"nested parse error: {errors[0]}")
        saved = self.positional
        if positional is not None:
            self.positional = positional
        try:
            outs: list[str | None] = []
            for k, pipe in enumerate(_parse(toks)):
                outs.append(self.pipeline(pipe, depth, stdin if k == 0 else None))
        finally:
            self.positional = saved
        if any(o is None for o in outs):
            return None
        return "".join(o for o in outs if o is not None)[:MAX_VALUE]

    def pipeline(self, cmds: list[_Cmd], depth: int, stdin: str | None) -> str | None:
        data = stdin
        origin = "stdin" if stdin is not None else ""
        for c in cmds:
            data, origin = self.command(c, depth, data, origin)
        return data

    def command(self, c: _Cmd, depth: int, stdin: str | None, origin: str) -> tuple[str | None, str]:
        words = c.words
        i = 0
        while i < len(words):
            lit = _literal(words[i])
            if lit in _RESERVED:
                i += 1
                continue
            if lit in _HEADERS_ONLY:
                for w in words[i + 1:]:  # substitutions in a loop list still run
                    self.expand(w, depth)
                return "", ""
            break
        words = words[i:]
        assigns: list[str] = []
        while words and words[0].parts:
            first = words[0].parts[0]
            m = _ASSIGN.match(first[1]) if first[0] == "s" and not first[3] else None
            if m is None:
                break
            name = m.group(1)
            rest_parts: list[Part] = [("s", first[1][m.end():], None, False), *words[0].parts[1:]]
            value = self.expand(_Word(rest_parts, ""), depth, split=False)[0]
            if m.group(2):
                value = (self.known(name) or "") + value
            self.assign(name, value)
            assigns.append(value)
            words = words[1:]
        out_redirs: list[tuple[str, str]] = []
        for r in c.redirs:
            if r.op in ("<<", "<<-"):
                body = r.body or ""
                stdin = self.expand_text(body, depth) if r.expand else body
                origin = "heredoc"
            elif r.op == "<<<":
                stdin = (self.expand(r.target, depth, split=False)[0] if r.target else "") + "\n"
                origin = "herestring"
            elif r.op in ("<", "<>") and r.target is not None:
                path = self.expand(r.target, depth, split=False)[0]
                stdin = self.files.get(path)
                origin = "file:" + path
            elif r.op in (">", ">|", ">>", "&>", "&>>") and r.target is not None:
                path = self.expand(r.target, depth, split=False)[0]
                out_redirs.append((r.op, path))
                self.check_write(path, r.op)
            elif r.op == ">&" and r.target is not None:
                t = self.expand(r.target, depth, split=False)[0]
                if not t.isdigit() and t != "-":
                    out_redirs.append((r.op, t))
                    self.check_write(t, ">")
        argv: list[str] = []
        for w in words:
            argv.extend(self.expand(w, depth))
        if not argv:
            return "", ""
        self.hint_stack.append([*argv[1:], *assigns])
        try:
            out = self.dispatch(argv, stdin, origin, depth)
        finally:
            self.hint_stack.pop()
        for op, path in out_redirs:
            if out is not None and op in (">", ">|", "&>"):
                self.files[path] = out
            elif out is not None and op in (">>", "&>>"):
                self.files[path] = (self.files.get(path, "") + out)[:MAX_VALUE]
            out = ""
        return out, _basename(argv[0])

    def assign(self, name: str, value: str) -> None:
        value = value[:MAX_VALUE]
        self.vars[name] = value
        if name not in ("PWD", "OLDPWD") and _SECRET_NAME.search(name) and value and not value.startswith("$"):
            up = name.upper()
            kind = ("aws_key" if up.startswith("AWS_") else "password" if ("PASSW" in up or "PWD" in up)
                    else "bearer" if "TOKEN" in up else "api_key")
            self.cred(kind, value, "env", name)
        if "://" in value and "@" in value:
            self.url_creds(value)
        if name in _HINT_VARS:
            h = _env_of([value])
            if h:
                self.sticky = h

    def expand(self, w: _Word, depth: int, split: bool = True) -> list[str]:
        buf: list[str] = []
        tmpl: list[str] = []
        splittable = False
        has_ref = False
        for kind, text, default, quoted in w.parts:
            if kind == "s":
                buf.append(text)
                tmpl.append(text)
            elif kind == "v":
                val = self.known(text)
                if val and len(val) >= 6 and _SECRET_NAME.search(text) and text not in ("PWD", "OLDPWD"):
                    self.secrets.setdefault(val, _fp(val))  # never shown, wherever it lands
                if val is None:
                    if default is not None:
                        val = self.expand_text(default, depth) if "$" in default else default
                    else:
                        val = "$" + text
                buf.append(val)
                tmpl.append("${" + text + "}")
                has_ref = True
                splittable = splittable or not quoted
            elif kind == "c":
                out = self.script(text, depth + 1)
                buf.append(out.rstrip("\n") if out is not None else "$(" + text[:200] + ")")
                tmpl.append("$(" + text[:60] + ")")
                splittable = splittable or not quoted
            else:  # process substitution: a file whose content we may know
                out = self.script(text, depth + 1)
                path = f"/dev/fd/{63 + len(self.files)}"
                if out is not None:
                    self.files[path] = out
                buf.append(path)
                tmpl.append(path)
        value = "".join(buf)
        if len(value) > MAX_VALUE:
            value = value[:MAX_VALUE]
        if has_ref and len(self.templates) < 4096:
            self.templates[value] = "".join(tmpl)
        if split and splittable:
            return value.split()
        return [value]

    def expand_text(self, text: str, depth: int) -> str:
        """A heredoc body (or ${x:-default}) as the shell expands it: $x, ${x}, $( ), ` `."""
        if "$" not in text and "`" not in text:
            return text
        errors: list[str] = []
        lx = _Lexer(text, errors)
        parts: list[Part] = []
        lx.dquote(0, parts, heredoc=True)
        return self.expand(_Word(parts, ""), depth, split=False)[0]

    def check_write(self, path: str, op: str) -> None:
        if path in ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty") or path.startswith("/dev/fd/"):
            return
        if _DISK.match(path):
            self.add("write.block-device", f"output redirected onto block device {path}", (D,), path)
        elif re.match(r"^/etc/(sudoers(\.d/.*)?|passwd|shadow|group)$", path):
            self.add("write.privilege-file", f"writes {path}", (P,), path)
        elif op in (">", ">|", "&>"):
            if _LOG_PATH.search(path):
                self.add("write.truncate-log", f"truncates log {path}", (L,), path)
            elif _DATA_PATH.search(path):
                self.add("write.truncate-data", f"truncates data file {path}", (D,), path)

    # -- dispatch ---------------------------------------------------------------------

    def dispatch(self, argv: list[str], stdin: str | None, origin: str, depth: int) -> str | None:
        if not argv:
            return ""
        if depth > MAX_DEPTH:
            self.note("wrapper nesting too deep")
            self.keyword_scan(" ".join(argv)[:MAX_ANALYSED], "nested")
            return None
        raw = argv[0]
        name = _basename(raw)
        name = _CLI_ALIASES.get(raw, _CLI_ALIASES.get(name, name))
        self.scan_args(argv)
        if "--help" in argv[1:] or (len(argv) > 1 and argv[1] in ("help", "--version", "-V")):
            return None
        h = _HANDLERS.get(name)
        if h is None and name in _CLI:
            h = _Analyser.h_table
        out = h(self, _Call(name, argv, stdin, origin, depth)) if h is not None else None
        self.scan_shapes(argv)
        return out

    def run(self, c: _Call, argv: list[str], stdin: str | None = None) -> str | None:
        """Dispatch a wrapped command (wrapper's argv stays on the hint stack)."""
        if not argv:
            return None
        self.hint_stack.append(argv[1:])
        try:
            return self.dispatch(argv, stdin if stdin is not None else c.stdin,
                                 c.origin if stdin is None else "stdin", c.depth + 1)
        finally:
            self.hint_stack.pop()

    # -- wrappers --------------------------------------------------------------------------

    def h_wrapper(self, c: _Call) -> str | None:
        valued = _WRAPPER_VALUED.get(c.name, frozenset())
        i = _skip_opts(c.argv, 1, valued)
        if c.name == "timeout" and i < len(c.argv):
            i += 1  # the duration
        elif c.name == "command" and _has(c.argv[1:i], "-v", "-V"):
            return c.argv[i] + "\n" if i < len(c.argv) else None
        elif c.name == "flock" and i < len(c.argv):
            i += 1  # the lock file
        return self.run(c, c.argv[i:])

    def h_sudo(self, c: _Call) -> str | None:
        i = _skip_opts(c.argv, 1, frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-T", "-U",
                                             "--user", "--group", "--host", "--prompt", "--chdir"}))
        return self.run(c, c.argv[i:])

    def h_env(self, c: _Call) -> str | None:
        args = c.argv
        i = 1
        while i < len(args):
            a = args[i]
            if a in ("-u", "--unset", "-C", "--chdir"):
                i += 2
                continue
            if a in ("-S", "--split-string") and i + 1 < len(args):
                return self.run(c, args[i + 1].split() + args[i + 2:])
            if a.startswith("-S") and len(a) > 2:
                return self.run(c, a[2:].split() + args[i + 1:])
            if a == "--":
                i += 1
                continue
            if a.startswith("-"):
                i += 1
                continue
            m = _ASSIGN.match(a)
            if m:
                self.assign(m.group(1), a[m.end():])
                i += 1
                continue
            break
        return self.run(c, args[i:])

    def h_watch(self, c: _Call) -> str | None:
        i = _skip_opts(c.argv, 1, frozenset({"-n", "--interval", "-q", "--equexit"}))
        rest = c.argv[i:]
        if _has(c.argv[1:i], "-x", "--exec"):
            return self.run(c, rest)
        if rest:
            self.script(" ".join(rest), c.depth + 1)
        return None

    def h_xargs(self, c: _Call) -> str | None:
        args = c.argv
        valued = frozenset({"-I", "-n", "-L", "-l", "-P", "-d", "-E", "-e", "-s", "-a", "--max-args",
                            "--max-lines", "--max-procs", "--delimiter", "--eof", "--arg-file",
                            "--replace", "--max-chars", "--process-slot-var"})
        i = _skip_opts(args, 1, valued)
        rest = args[i:] or ["echo"]
        repl = _opt_value(args[1:i], "-I", "--replace")
        if repl is None and "-i" in args[1:i]:
            repl = "{}"
        if c.stdin is None:
            if c.origin:
                self.note(f"xargs arguments come from {c.origin} (unknown)")
            return self.run(c, rest, None)
        items = c.stdin.splitlines() if (repl or _opt_value(args[1:i], "-L", "-d")) else c.stdin.split()
        items = [x for x in items if x.strip()][:256]
        if repl:
            out: list[str | None] = []
            for item in items[:16]:
                out.append(self.run(c, [a.replace(repl, item) for a in rest], ""))
            return None if any(o is None for o in out) else "".join(o for o in out if o is not None)
        return self.run(c, rest + items, "")

    def h_su(self, c: _Call) -> str | None:
        cmd = _opt_value(c.argv[1:], "-c", "--command")
        if cmd is not None:
            return self.script(cmd, c.depth + 1, c.stdin)
        if c.stdin is not None:
            return self.script(c.stdin, c.depth + 1)
        return None

    def h_dashdash(self, c: _Call) -> str | None:
        """op run --, doppler run --, aws-vault exec p --, dotenv --, runuser -u x --."""
        if "--" in c.argv:
            return self.run(c, c.argv[c.argv.index("--") + 1:])
        cmd = _opt_value(c.argv[1:], "--command")
        if cmd is not None:
            return self.script(cmd, c.depth + 1, c.stdin)
        return None

    def h_runner(self, c: _Call) -> str | None:
        """npx / bunx / uv run / poetry run / bundle exec / yarn <bin> / pnpm exec ..."""
        args = c.argv
        i = 1
        if c.name in ("uv", "poetry", "pipenv", "pdm", "hatch", "rye", "bundle", "npm", "pnpm", "yarn", "bun",
                      "conda", "mamba", "nix", "devbox"):
            if len(args) > 1 and args[1] in ("run", "exec", "x", "dlx", "shell"):
                i = 2
            elif c.name in ("yarn", "pnpm", "bun") and len(args) > 1 and (args[1] in _HANDLERS or args[1] in _CLI):
                i = 1
            else:
                if c.name in ("npm", "yarn", "pnpm", "bun") and len(args) > 2 and args[1] == "run":
                    self.note(f"{c.name} run {args[2]} (package script not inspected)")
                return None
        cmd = _opt_value(args[1:], "-c", "--call") if c.name in ("npx", "npm") else None
        if cmd is not None:
            return self.script(cmd, c.depth + 1, c.stdin)
        j = _skip_opts(args, i, frozenset({"-p", "--package", "--with", "--python", "-n", "--name",
                                           "--env-file", "--directory", "--project", "-e", "--from"}))
        if c.name in ("npm", "pnpm", "yarn", "bun") and j < len(args) and args[j] in ("run", "exec", "x", "dlx"):
            j = _skip_opts(args, j + 1, frozenset())
        if c.name == "npx" and j < len(args) and args[j] == "--":
            j += 1
        rest = list(args[j:])
        if rest:
            pkg = rest[0].split("@")[0] if not rest[0].startswith("@") else "@" + rest[0][1:].split("@")[0]
            rest[0] = _NPM_BINS.get(pkg, pkg)
        return self.run(c, rest)

    def h_ssh(self, c: _Call) -> str | None:
        valued = frozenset({"-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O",
                            "-o", "-p", "-Q", "-R", "-S", "-W", "-w", "-B"})
        i = _skip_opts(c.argv, 1, valued)
        rest = c.argv[i + 1:]
        if rest:
            return self.script(" ".join(rest), c.depth + 1, c.stdin)
        if c.stdin is not None:
            return self.script(c.stdin, c.depth + 1)
        return None

    def h_shell(self, c: _Call) -> str | None:
        args = c.argv
        i = 1
        cmdstr: str | None = None
        script: str | None = None
        rest: list[str] = []
        while i < len(args):
            a = args[i]
            if a == "--":
                i += 1
                if i < len(args):
                    script, rest = args[i], args[i + 1:]
                break
            if a == "-":  # read the script from stdin
                break
            if a.startswith("--"):
                i += 2 if a in ("--rcfile", "--init-file") else 1
                continue
            if a.startswith(("-", "+")) and len(a) > 1:
                if "c" in a[1:] and a[0] == "-":
                    cmdstr = args[i + 1] if i + 1 < len(args) else ""
                    rest = args[i + 2:]
                    break
                i += 2 if a in ("-o", "+o", "-O", "+O") else 1
                continue
            script, rest = a, args[i + 1:]
            break
        if cmdstr is not None:
            self.remote_code(cmdstr, c.name)
            pos = {str(k): v for k, v in enumerate(rest)}
            pos.setdefault("0", c.name)
            return self.script(cmdstr, c.depth + 1, c.stdin, pos)
        if script is not None:
            body = self.files.get(script)
            if body is not None:
                return self.script(body, c.depth + 1, None, {str(k + 1): v for k, v in enumerate(rest)})
            self.note(f"{c.name} runs {script} (file not inspected)")
            return None
        if c.stdin is not None:
            return self.script(c.stdin, c.depth + 1)
        if c.origin in _REMOTE_TOOLS:
            self.add("exec.remote-script", f"output of {c.origin} piped into {c.name}", (X,))
        elif c.origin:
            self.note(f"{c.name} runs a script from {c.origin} (content unknown)")
        return None

    def h_eval(self, c: _Call) -> str | None:
        self.remote_code(" ".join(c.argv[1:]), "eval")
        return self.script(" ".join(c.argv[1:]), c.depth + 1, c.stdin)

    def remote_code(self, text: str, runner: str) -> None:
        """bash -c "$(curl ...)": code fetched at run time, unseen (its output stayed unknown)."""
        m = re.match(r"\s*\$\((?:\S*/)?(curl|wget|http|https|xh|fetch)\s[^)]*\)\s*$", text)
        if m:
            self.add("exec.remote-script", f"{runner} runs code fetched by {m.group(1)}", (X,))

    def h_source(self, c: _Call) -> str | None:
        if len(c.argv) > 1:
            body = self.files.get(c.argv[1])
            if body is not None:
                return self.script(body, c.depth + 1)
            self.note(f"sources {c.argv[1]} (file not inspected)")
        return None

    def h_builtin_quiet(self, c: _Call) -> str | None:
        if c.name == "cd" and len(c.argv) > 1:
            self.cwd = c.argv[-1]
            h = _env_of([c.argv[-1]])
            if h:
                self.sticky = h
        elif c.name in ("export", "declare", "typeset", "local", "readonly"):
            for a in c.argv[1:]:
                m = _ASSIGN.match(a)
                if m:
                    self.assign(m.group(1), a[m.end():])
        elif c.name == "unset":
            for a in c.argv[1:]:
                self.vars.pop(a, None)
        return ""

    # -- static output -----------------------------------------------------------------

    def h_echo(self, c: _Call) -> str | None:
        args = c.argv[1:]
        newline, interpret = True, False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            newline = newline and "n" not in args[0]
            interpret = interpret or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        return (_ansi_c(text) if interpret else text) + ("\n" if newline else "")

    def h_printf(self, c: _Call) -> str | None:
        args = c.argv[1:]
        if args[:1] == ["-v"] and len(args) > 2:
            var, args = args[1], args[2:]
        else:
            var = ""
        if not args:
            return ""
        fmt, vals = _ansi_c(args[0]), args[1:]
        spec = re.compile(r"%(-?\d*(?:\.\d+)?)([sbdqcxi%])")
        out: list[str] = []
        k = 0
        for _ in range(64):
            def rep(m: re.Match[str]) -> str:
                nonlocal k
                if m.group(2) == "%":
                    return "%"
                v = vals[k] if k < len(vals) else ""
                k += 1
                return _ansi_c(v) if m.group(2) == "b" else v
            out.append(spec.sub(rep, fmt))
            if k >= len(vals) or not spec.search(fmt):
                break
        text = "".join(out)[:MAX_VALUE]
        if var:
            self.assign(var, text)
            return ""
        return text

    def h_cat(self, c: _Call) -> str | None:
        files = [a for a in c.argv[1:] if not a.startswith("-") or a == "-"]
        if not files:
            return c.stdin
        out: list[str] = []
        for f in files:
            v = c.stdin if f == "-" else self.files.get(f)
            if v is None:
                return None
            out.append(v)
        return "".join(out)

    def h_tee(self, c: _Call) -> str | None:
        append = _short_flag(c.argv[1:], "a", ("--append",))
        for f in [a for a in c.argv[1:] if not a.startswith("-")]:
            self.check_write(f, ">>" if append else ">")
            if c.stdin is not None:
                self.files[f] = ((self.files.get(f, "") if append else "") + c.stdin)[:MAX_VALUE]
        return c.stdin

    def _input(self, c: _Call) -> str | None:
        files = [a for a in c.argv[1:] if not a.startswith("-")]
        if files and c.name not in ("openssl", "tr"):
            return self.files.get(files[0])
        return c.stdin

    def h_base64(self, c: _Call) -> str | None:
        args = c.argv[1:]
        decode = any(a in ("-d", "--decode", "-D") or re.fullmatch(r"-[a-zA-Z]*[dD][a-zA-Z]*", a) for a in args)
        data = self._input(c)
        if data is None:
            return None
        if decode:
            return _b64decode(data)
        return base64.b64encode(data.encode("utf-8", "surrogateescape")).decode() + "\n"

    def h_openssl(self, c: _Call) -> str | None:
        args = c.argv[1:]
        if args and (args[0] == "base64" or ("enc" in args[:1] and _has(args, "-base64", "-a"))) \
                and _has(args, "-d"):
            return _b64decode(c.stdin) if c.stdin is not None else None
        return None

    def h_xxd(self, c: _Call) -> str | None:
        args = c.argv[1:]
        if any(a.startswith("-r") for a in args) and c.stdin is not None:
            hexdigits = re.sub(r"[^0-9a-fA-F]", "", c.stdin)
            try:
                return bytes.fromhex(hexdigits[: len(hexdigits) // 2 * 2]).decode("utf-8", "surrogateescape")
            except ValueError:
                return None
        return None

    def h_rev(self, c: _Call) -> str | None:
        data = self._input(c)
        if data is None:
            return None
        return "\n".join(line[::-1] for line in data.split("\n"))

    def h_tr(self, c: _Call) -> str | None:
        if c.stdin is None:
            return None
        args = [a for a in c.argv[1:] if not a.startswith("-") or len(a) == 1]
        flags = [a for a in c.argv[1:] if a.startswith("-") and len(a) > 1]
        if any("d" in f for f in flags) and args:
            drop = set(_tr_set(args[0]))
            return "".join(ch for ch in c.stdin if ch not in drop)
        if len(args) >= 2:
            s1, s2 = _tr_set(args[0]), _tr_set(args[1])
            if not s2:
                return None
            s2 = s2 + s2[-1] * max(0, len(s1) - len(s2))
            return c.stdin.translate({ord(a): b for a, b in zip(s1, s2)})
        return None

    def h_gunzip(self, c: _Call) -> str | None:
        if c.name == "gzip" and not _short_flag(c.argv[1:], "d", ("--decompress",)):
            return None
        if c.stdin is None:
            return None
        try:
            d = zlib.decompressobj(wbits=47)
            raw = d.decompress(c.stdin.encode("utf-8", "surrogateescape"), 1 << 20)
        except (zlib.error, UnicodeEncodeError):
            return None
        return raw.decode("utf-8", "surrogateescape")

    def h_which(self, c: _Call) -> str | None:
        return "".join(a + "\n" for a in c.argv[1:] if not a.startswith("-"))

    # -- interpreters --------------------------------------------------------------------

    def h_python(self, c: _Call) -> str | None:
        args = c.argv[1:]
        i = 0
        while i < len(args):
            a = args[i]
            if a == "-c" or (a.startswith("-c") and len(a) > 2 and c.name == "python"):
                code = a[2:] if len(a) > 2 else (args[i + 1] if i + 1 < len(args) else "")
                self.code(code, c)
                return None
            if c.name in ("node", "nodejs", "deno", "bun") and a in ("-e", "--eval", "-p", "--print", "eval"):
                self.code(args[i + 1] if i + 1 < len(args) else "", c)
                return None
            if c.name in ("ruby", "perl", "php") and a in ("-e", "-E", "-r"):
                self.code(args[i + 1] if i + 1 < len(args) else "", c)
                return None
            if a == "-m":
                mod, rest = (args[i + 1] if i + 1 < len(args) else ""), args[i + 2:]
                if mod == "django" and rest[:1] and rest[0] in ("flush", "reset_db"):
                    self.add("django.flush", f"python -m django {rest[0]}", (D,))
                return None
            if a in ("-W", "-X", "-Q", "--require", "-r") and c.name != "php":
                i += 2
                continue
            if a == "-":
                break
            if a.startswith("-"):
                i += 1
                continue
            base = _basename(a)
            rest = args[i + 1:]
            if base == "manage.py" and rest[:1] and rest[0] in ("flush", "reset_db", "sqlflush"):
                if rest[0] != "sqlflush":
                    self.add("django." + rest[0], f"manage.py {rest[0]} empties the database", (D,))
                return None
            if base == "artisan":
                return self.h_table(_Call("artisan", ["artisan", *rest], c.stdin, c.origin, c.depth))
            body = self.files.get(a)
            if body is not None:
                self.code(body, c)
            return None
        if c.stdin is not None:
            self.code(c.stdin, c)
        return None

    def code(self, code: str, c: _Call) -> None:
        """Best effort inside python/node/ruby/perl code: strings that run, SQL, HTTP, deletes."""
        code = code[:MAX_ANALYSED]
        lits = _string_literals(code)
        if _EXEC_MARK.search(code):
            for lit in lits:
                if lit.strip() and len(lit) < 8192:
                    self.script(lit, c.depth + 1, quiet=True)
            for m in re.finditer(r"\[([^\[\]]{1,2000})\]", code):
                items = _string_literals(m.group(1), 32)
                if len(items) > 1:
                    self.run(c, items)
            for m in re.finditer(r"`([^`]{1,4000})`", code):
                if c.name in ("perl", "ruby", "php"):
                    self.script(m.group(1), c.depth + 1, quiet=True)
        if _DB_MARK.search(code):
            dialect = "mysql" if re.search(r"(?i)mysql|mariadb", code) else "postgres"
            for lit in lits:
                if _SQL_START.match(lit):
                    self.sql(lit, dialect, c.name)
        if re.search(r"(?i)dropDatabase|deleteMany|\.drop\s*\(", code) and re.search(r"(?i)mongo", code):
            self.mongo(code, c.name)
        urls = [lit for lit in lits if lit.startswith(("http://", "https://"))]
        if urls:
            if re.search(r"(?i)\.delete\s*\(|method\s*[:=]\s*['\"]DELETE|['\"]DELETE['\"]", code):
                method = "DELETE"
            elif re.search(r"(?i)\.post\s*\(|method\s*[:=]\s*['\"]POST|json\s*=|body\s*:|data\s*=", code):
                method = "POST"
            else:
                method = "GET"
            bodies = [lit for lit in lits if "mutation" in lit]
            for u in urls[:4]:
                headers = [f"Authorization: {lit}" for lit in lits if lit.lower().startswith("bearer ")]
                if bodies:
                    for b in bodies[:4]:
                        self.http(c.name, method, u, headers, json.dumps({"query": b}))
                else:
                    self.http(c.name, method, u, headers, None)
        for m in _FILE_REMOVAL.finditer(code):
            recursive = m.group(1) in ("shutil.rmtree", "fs.rmSync", "fs.rm", "rimraf", "rimraf.sync",
                                       "FileUtils.rm_rf", "fs.promises.rm")
            self.remove_path(m.group(3), recursive, f"{c.name} {m.group(1)}")

    # -- SQL clients -----------------------------------------------------------------------

    def sql(self, text: str, dialect: str, tool: str) -> None:
        if dialect == "postgres" and "\\" in text:
            gexec = "\\gexec" in text
            text = re.sub(r"(?m)(^|(?<=\s))\\[a-zA-Z?!][^\n]*", "", text)
            if gexec:
                for lit in re.findall(r"'((?:[^']|'')*)'", text)[:32]:
                    for v in classify(lit.replace("''", "'"), dialect):
                        if v.categories:
                            self.add(f"sql.gexec.{v.kind}", f"{tool}: \\gexec runs {v.redacted[:160]}",
                                     (*v.categories, X), ",".join(v.objects))
        if not text.strip():
            return
        for v in classify(text[:MAX_ANALYSED], dialect):
            if v.categories:
                self.add(f"sql.{v.kind}", f"{tool}: {v.redacted[:200]}", v.categories, ",".join(v.objects))

    def sql_inputs(self, c: _Call, dialect: str, actions: list[tuple[str, str]]) -> None:
        if not actions:
            if c.stdin is not None:
                self.sql(c.stdin, dialect, c.name)
            elif c.origin.startswith("file:"):
                self.note(f"{c.name} reads SQL from {c.origin[5:]} (file not inspected)")
            return
        for kind, val in actions:
            if kind == "sql":
                self.sql(val, dialect, c.name)
            elif val == "-" and c.stdin is not None:
                self.sql(c.stdin, dialect, c.name)
            elif val in self.files:
                self.sql(self.files[val], dialect, c.name)
            else:
                self.note(f"{c.name} runs SQL file {val} (file not inspected)")

    def h_psql(self, c: _Call) -> str | None:
        valued = {"-c": "sql", "--command": "sql", "-f": "file", "--file": "file", "-d": "", "--dbname": "",
                  "-h": "", "--host": "", "-p": "", "--port": "", "-U": "", "--username": "", "-v": "",
                  "--set": "", "--variable": "", "-o": "", "--output": "", "-L": "", "--log-file": "",
                  "-P": "", "--pset": "", "-F": "", "-R": "", "-T": "", "--field-separator": "",
                  "--record-separator": "", "--table-attr": ""}
        actions: list[tuple[str, str]] = []
        args = c.argv[1:]
        i = 0
        while i < len(args):
            a = args[i]
            if a.startswith("--") and "=" in a:
                k, v = a.split("=", 1)
                if valued.get(k):
                    actions.append((valued[k], v))
                elif k in ("--dbname",):
                    self.conninfo(v)
                i += 1
                continue
            if a in valued:
                v = args[i + 1] if i + 1 < len(args) else ""
                if valued[a]:
                    actions.append((valued[a], v))
                elif a in ("-d", "--dbname"):
                    self.conninfo(v)
                i += 2
                continue
            if len(a) > 2 and a[0] == "-" and a[1] != "-":
                # clustered short options: -Atc SQL, -cSQL, -qf file
                for j, ch in enumerate(a[1:], 1):
                    if ch in "cdfhpUvoLPFRT":
                        val = a[j + 1:]
                        if not val:
                            val = args[i + 1] if i + 1 < len(args) else ""
                            i += 1
                        if ch in "cf":
                            actions.append(("sql" if ch == "c" else "file", val))
                        elif ch == "d":
                            self.conninfo(val)
                        break
            elif not a.startswith("-"):
                self.conninfo(a)
            i += 1
        self.sql_inputs(c, "postgres", actions)
        return None

    def conninfo(self, s: str) -> None:
        if "://" in s:
            self.url_creds(s)
        m = _CONNINFO_PW.search(s)
        if m:
            self.secret_in("password", m.group(1).strip("'"), s, "arg")

    def h_mysql(self, c: _Call) -> str | None:
        args = c.argv[1:]
        actions: list[tuple[str, str]] = []
        valued = frozenset({"-u", "--user", "-h", "--host", "-P", "--port", "-D", "--database", "-S",
                            "--socket", "--defaults-file", "--defaults-extra-file", "--default-character-set"})
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-e", "--execute"):
                actions.append(("sql", args[i + 1] if i + 1 < len(args) else ""))
                i += 2
                continue
            if a.startswith(("--execute=", "--init-command=")):
                actions.append(("sql", a.split("=", 1)[1]))
            elif a.startswith("-e") and len(a) > 2:
                actions.append(("sql", a[2:]))
            elif a.startswith("--password="):
                self.secret_in("password", a.split("=", 1)[1], a, "arg")
            elif a.startswith("-p") and len(a) > 2:
                self.secret_in("password", a[2:], a, "arg")
            elif a in valued:
                i += 2
                continue
            i += 1
        self.sql_inputs(c, "mysql", actions)
        return None

    def h_sqlite(self, c: _Call) -> str | None:
        args = c.argv[1:]
        actions: list[tuple[str, str]] = []
        pos: list[str] = []
        i = 0
        while i < len(args):
            a = args[i]
            if a in ("-cmd", "--cmd"):
                actions.append(("sql", args[i + 1] if i + 1 < len(args) else ""))
                i += 2
                continue
            if a in ("-separator", "-newline", "-nullvalue", "-init", "-vfs", "-A", "--separator"):
                i += 2
                continue
            if not a.startswith("-"):
                pos.append(a)
            i += 1
        for s in pos[1:]:
            if not s.lstrip().startswith("."):
                actions.append(("sql", s))
        self.sql_inputs(c, "postgres", actions)
        return None

    def h_dropdb(self, c: _Call) -> str | None:
        pos = _positionals(c.argv[1:], frozenset({"-h", "--host", "-p", "--port", "-U", "--username",
                                                  "--maintenance-db"}))
        if c.name == "pg_dropcluster":
            self.add("postgres.dropcluster", "pg_dropcluster " + " ".join(pos), (D,), " ".join(pos[:2]))
            return None
        for db in pos[:4] or ["(default)"]:
            self.add("postgres.dropdb", f"dropdb {db}", (D,), db)
        return None

    def h_mysqladmin(self, c: _Call) -> str | None:
        for a in c.argv[1:]:
            if a.startswith("--password="):
                self.secret_in("password", a.split("=", 1)[1], a, "arg")
            elif a.startswith("-p") and len(a) > 2:
                self.secret_in("password", a[2:], a, "arg")
        pos = _positionals(c.argv[1:], frozenset({"-u", "--user", "-h", "--host", "-P", "--port", "-S",
                                                  "--socket"}))
        for k, w in enumerate(pos):
            if w.lower() == "drop" and k + 1 < len(pos):
                self.add("mysql.drop-database", f"mysqladmin drop {pos[k + 1]}", (D,), pos[k + 1])
        return None

    def h_sqlcli(self, c: _Call) -> str | None:
        """cockroach sql -e, clickhouse-client -q, duckdb db SQL, snowsql -q, bq query SQL."""
        args = c.argv[1:]
        if c.name == "cockroach":
            if args[:1] != ["sql"]:
                return None
            sql = _opt_value(args, "-e", "--execute")
            dialect = "postgres"
        elif c.name == "clickhouse-client" or c.name == "clickhouse":
            sql = _opt_value(args, "-q", "--query")
            dialect = "mysql"
        elif c.name == "snowsql":
            sql = _opt_value(args, "-q", "--query")
            dialect = "postgres"
        elif c.name == "bq":
            pos = _positionals(args, frozenset({"--project_id", "--location", "--format"}))
            if pos[:1] != ["query"]:
                return self.h_table(c)
            sql = pos[1] if len(pos) > 1 else c.stdin
            dialect = "postgres"
        else:  # duckdb [file] [SQL] / -c SQL
            sql = _opt_value(args, "-c")
            pos = _positionals(args, frozenset({"-c", "-cmd", "-s"}))
            if sql is None and len(pos) > 1:
                sql = pos[1]
            dialect = "postgres"
        if sql is None:
            sql = c.stdin
        if sql:
            self.sql(sql, dialect, c.name)
        return None

    def mongo(self, text: str, tool: str) -> None:
        m = _MONGO_DESTROY.search(text)
        if m:
            self.add("mongodb." + m.group().split("(")[0].strip(". "), f"{tool}: {m.group()}", (D,))

    def h_mongosh(self, c: _Call) -> str | None:
        ev = _opt_value(c.argv[1:], "--eval")
        if ev is not None:
            self.mongo(ev, c.name)
        elif c.stdin is not None:
            self.mongo(c.stdin, c.name)
        pw = _opt_value(c.argv[1:], "-p", "--password")
        if pw:
            self.secret_in("password", pw, pw, "arg")
        for a in c.argv[1:]:
            if "://" in a:
                self.url_creds(a)
        return None

    def h_redis(self, c: _Call) -> str | None:
        valued = frozenset({"-h", "-p", "-a", "-n", "-u", "--user", "--pass", "-s", "-r", "-i", "--cacert",
                            "--cert", "--key", "-d", "--askpass"})
        pw = _opt_value(c.argv[1:], "-a", "--pass")
        if pw:
            self.secret_in("password", pw, pw, "arg")
        pos = _positionals(c.argv[1:], valued)
        lines = [" ".join(pos)] if pos else (c.stdin or "").splitlines()
        for line in lines:
            w = line.strip().split()
            if w and w[0].upper() in ("FLUSHALL", "FLUSHDB"):
                self.add("redis." + w[0].lower(), f"redis-cli {w[0].upper()}", (D,))
        return None

    # -- HTTP -------------------------------------------------------------------------------

    def h_curl(self, c: _Call) -> str | None:
        valued_short = set("XHdFuoOwAeEbcKmrTxyYzUQCP")
        long_valued = {"--request", "--header", "--data", "--data-raw", "--data-binary", "--data-ascii",
                       "--data-urlencode", "--json", "--form", "--form-string", "--user", "--output",
                       "--write-out", "--user-agent", "--referer", "--cert", "--cookie", "--cookie-jar",
                       "--config", "--max-time", "--range", "--upload-file", "--proxy", "--url",
                       "--oauth2-bearer", "--connect-timeout", "--retry", "--retry-delay", "--retry-max-time",
                       "--resolve", "--cacert", "--capath", "--key", "--pass", "--proxy-user", "--limit-rate",
                       "--max-filesize", "--interface", "--dns-servers", "--variable", "--expand-data",
                       "--aws-sigv4", "--connect-to", "--unix-socket", "-K"}
        method: str | None = None
        headers: list[str] = []
        data: list[str] = []
        urls: list[str] = []
        get = head = upload = False
        args = c.argv[1:]
        i = 0

        def take(opt: str, val: str) -> None:
            nonlocal method, get, head, upload
            if opt in ("-X", "--request"):
                method = val.upper()
            elif opt in ("-H", "--header"):
                headers.append(val)
            elif opt in ("-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--data-urlencode",
                         "--json", "--form", "--form-string", "-F"):
                if val.startswith("@") and opt not in ("--data-raw",):
                    src = val[1:]
                    body = c.stdin if src == "-" else self.files.get(src)
                    if body is None:
                        self.note(f"curl body from {c.origin or 'stdin' if src == '-' else src} (not inspected)")
                        self.unknown_body = True
                        body = ""
                    val = body
                data.append(val)
                if opt == "--json":
                    headers.append("Content-Type: application/json")
            elif opt in ("-u", "--user"):
                _user, sep, pw = val.partition(":")
                if sep:
                    self.secret_in("password", pw, val, "arg")
            elif opt == "--oauth2-bearer":
                self.secret_in("bearer", val, val, "arg")
            elif opt == "--url":
                urls.append(val)
            elif opt in ("-T", "--upload-file"):
                upload = True

        while i < len(args):
            a = args[i]
            if a.startswith("--"):
                if "=" in a and a.split("=", 1)[0] in long_valued:
                    k, v = a.split("=", 1)
                    take(k, v)
                    i += 1
                    continue
                if a in long_valued:
                    take(a, args[i + 1] if i + 1 < len(args) else "")
                    i += 2
                    continue
                get = get or a == "--get"
                head = head or a == "--head"
                i += 1
                continue
            if a.startswith("-") and len(a) > 1:
                j = 1
                consumed_next = False
                while j < len(a):
                    ch = a[j]
                    if ch in valued_short:
                        val = a[j + 1:]
                        if not val:
                            val = args[i + 1] if i + 1 < len(args) else ""
                            consumed_next = True
                        take("-" + ch, val)
                        break
                    get = get or ch == "G"
                    head = head or ch == "I"
                    j += 1
                i += 2 if consumed_next else 1
                continue
            urls.append(a)
            i += 1
        body = "&".join(data) if data else None
        m = method or ("HEAD" if head else "GET" if get else "PUT" if upload else "POST" if data else "GET")
        for u in urls[:8]:
            if get and body:
                u = u + ("&" if "?" in u else "?") + body
                self.http("curl", m, u, headers, None)
            else:
                self.http("curl", m, u, headers, body)
        for h in headers:
            self.header_cred(h)
        return None

    def h_wget(self, c: _Call) -> str | None:
        args = c.argv[1:]
        method = (_opt_value(args, "--method") or "").upper() or None
        body = _opt_value(args, "--body-data", "--post-data")
        bf = _opt_value(args, "--body-file", "--post-file")
        if bf is not None:
            body = self.files.get(bf, "")
        headers = [a.split("=", 1)[1] for a in args if a.startswith("--header=")]
        headers += [args[k + 1] for k, a in enumerate(args[:-1]) if a == "--header"]
        pw = _opt_value(args, "--password", "--http-password")
        if pw:
            self.secret_in("password", pw, pw, "arg")
        valued = frozenset({"-O", "-o", "-a", "-e", "-t", "-T", "-w", "-P", "-U", "-i", "-B", "--header",
                            "--user", "--password", "--output-document", "-Q"})
        for u in _positionals(args, valued)[:8]:
            self.http("wget", method or ("POST" if body is not None else "GET"), u, headers, body)
        for h in headers:
            self.header_cred(h)
        return None

    def h_httpie(self, c: _Call) -> str | None:
        args = c.argv[1:]
        valued = frozenset({"-a", "--auth", "-A", "--auth-type", "-o", "--output", "--session", "-p", "--print",
                            "--timeout", "--verify", "--cert", "--cert-key", "--proxy", "--raw", "-h"})
        auth = _opt_value(args, "-a", "--auth")
        auth_type = (_opt_value(args, "-A", "--auth-type") or "basic").lower()
        if auth:
            if auth_type == "bearer":
                self.secret_in("bearer", auth, auth, "arg")
            elif ":" in auth:
                self.secret_in("password", auth.split(":", 1)[1], auth, "arg")
        pos = _positionals(args, valued)
        if not pos:
            return None
        method: str | None = None
        if re.fullmatch(r"[A-Za-z]+", pos[0]) and pos[0].upper() in ("GET", "POST", "PUT", "PATCH", "DELETE",
                                                                      "HEAD", "OPTIONS"):
            method, pos = pos[0].upper(), pos[1:]
        if not pos:
            return None
        url = pos[0]
        if url.startswith(":"):
            url = "localhost" + url
        headers: list[str] = []
        body: dict[str, Any] = {}
        query: list[str] = []
        for item in pos[1:]:
            m = re.match(r"^([^:=@]+?)(:=|==|=|:|@)(.*)$", item, re.DOTALL)
            if not m:
                continue
            k, sep, v = m.groups()
            if sep == ":":
                headers.append(f"{k}: {v}")
            elif sep == "==":
                query.append(f"{k}={v}")
            elif sep == "=":
                body[k] = v
            elif sep == ":=":
                try:
                    body[k] = json.loads(v)
                except ValueError:
                    body[k] = v
        raw = _opt_value(args, "--raw")
        text = raw if raw is not None else (json.dumps(body) if body else c.stdin)
        if query:
            url += ("&" if "?" in url else "?") + "&".join(query)
        self.http(c.name, method or ("POST" if text else "GET"), url, headers, text)
        for h in headers:
            self.header_cred(h)
        return None

    def h_gh(self, c: _Call) -> str | None:
        args = c.argv[1:]
        pos = _positionals(args, frozenset({"-X", "--method", "-f", "-F", "--field", "--raw-field", "-H",
                                            "--header", "--input", "-R", "--repo", "-q", "--jq", "-t"}))
        if pos[:1] == ["api"] and len(pos) > 1:
            endpoint = pos[1]
            fields = [args[k + 1] for k, a in enumerate(args[:-1]) if a in ("-f", "-F", "--field", "--raw-field")]
            method = (_opt_value(args, "-X", "--method") or ("POST" if fields else "GET")).upper()
            body: str | None = None
            if fields:
                body = json.dumps(dict(f.split("=", 1) for f in fields if "=" in f))
            url = endpoint if "://" in endpoint else "https://api.github.com/" + endpoint.lstrip("/")
            self.http("gh", method, url, [], body)
            return None
        return self.h_table(c)

    def http(self, tool: str, method: str, url: str, headers: list[str], body: str | None) -> None:
        self.url_creds(url)
        u = url if "://" in url else "http://" + url
        try:
            parts = urlsplit(u)
            host = (parts.hostname or "").lower()
            port = parts.port
        except ValueError:
            self.note(f"{tool}: unparsable URL")
            return
        path = re.sub(r"/{2,}", "/", parts.path).rstrip("/") or "/"
        if _LOCAL_HOST.match(host) or not host:
            return
        where = f"{host}{path}"
        docs: list[tuple[str, Any]] = []
        if body:
            try:
                obj = json.loads(body)
            except ValueError:
                obj = None
            items = obj if isinstance(obj, list) else [obj]
            for it in items[:16]:
                if isinstance(it, dict) and isinstance(it.get("query"), str):
                    docs.append((it["query"], it.get("variables")))
            if not docs and "mutation" in body:
                docs.append((body, None))
        if parts.query and "mutation" in unquote(parts.query):
            for k, v in parse_qsl(parts.query):
                if k == "query":
                    docs.append((v, None))
        for doc, variables in docs:
            self.graphql(tool, host, where, doc, variables)
        if not docs and self.unknown_body and method == "POST":
            # the body comes from somewhere we cannot read (jq, a file): judge a known GraphQL
            # endpoint by the mutation names the whole command spells out (conservative)
            text = " ".join([self.fulltext[:MAX_ANALYSED], *list(self.vars.values())[:64]])
            if "mutation" in text:
                self.graphql(tool, host, where, text, None, fallback_only=True)
        self.unknown_body = False
        matched = False
        for hre, m, pre, kind, cats in _HTTP_RULES:
            if m == method and hre.search(host) and pre.search(path):
                target = path.rsplit("/", 1)[-1]
                self.add(kind, f"{tool} {method} {where}", cats, target)
                matched = True
        es = port == 9200 or _ES_HOST.search(host) is not None
        if method == "DELETE" and not matched and path != "/" and (
                (es and not path.startswith("/_")) or path.startswith("/_all")):
            self.add("elasticsearch.index.delete", f"{tool} DELETE {where}", (D,), path.strip("/"))
            matched = True
        if method == "POST" and path.endswith("/_delete_by_query"):
            self.add("elasticsearch.delete-by-query", f"{tool} POST {where}", (D,), path.split("/")[1])
            matched = True
        if method == "DELETE" and not matched:
            self.add("http.delete", f"{tool} DELETE {where} (unrecognised API)", (), path)

    def graphql(self, tool: str, host: str, where: str, doc: str, variables: Any,
                fallback_only: bool = False) -> None:
        platform, table = "", {}
        for hre, plat, tab in _GQL_MUTATIONS:
            if hre.search(host):
                platform, table = plat, tab
                break
        fields = [] if fallback_only else _gql_mutation_fields(doc)
        if not fields and re.search(r"\bmutation\b", doc):
            # not parseable (truncated, templated): any known name present counts
            for name in table:
                if re.search(r"\b" + name + r"\b", doc):
                    fields.append((name, ""))
        for name, args in fields:
            target = ""
            m = re.search(r'(\w*[iI]d|name)\s*:\s*"([^"]*)"', args) or re.search(r'\w+\s*:\s*"([^"]*)"', args)
            if m:
                target = m.group(m.lastindex or 1)
            else:
                vm = re.search(r"\$(\w+)", args)
                if vm and isinstance(variables, dict):
                    v = variables.get(vm.group(1))
                    if isinstance(v, (str, int)):
                        target = str(v)
                    elif isinstance(v, dict):
                        target = str(next(iter(v.values()), ""))[:100]
            cats = table.get(name)
            if cats is not None:
                self.add(f"{platform}.graphql.{name}", f"{tool} POST {where}: GraphQL mutation {name}", cats, target)
            elif _GENERIC_DELETE_MUTATION.search(name):
                self.add(f"graphql.mutation.{name}", f"{tool} POST {where}: GraphQL mutation {name}", (D,), target)
            elif platform:
                self.add(f"{platform}.graphql.{name}", f"{tool} POST {where}: GraphQL mutation {name}", (),
                         target)

    # -- cloud CLIs -----------------------------------------------------------------------

    def h_table(self, c: _Call) -> str | None:
        tool = c.name
        args = c.argv[1:]
        pos = _positionals(args, _CLI_VALUED.get(tool, frozenset()))
        if tool == "gcloud":
            pos = [p for p in pos if p not in ("alpha", "beta")]
            if pos[:2] == ["compute", "ssh"]:
                cmd = _opt_value(args, "--command")
                if cmd:
                    return self.script(cmd, c.depth + 1, c.stdin)
            if pos[:2] == ["projects", "add-iam-policy-binding"]:
                role = _opt_value(args, "--role") or ""
                if re.search(r"roles/(owner|editor|iam\.|resourcemanager\.)", role):
                    self.add("gcloud.projects.add-iam-policy-binding", f"gcloud grants {role}", (P,),
                             pos[2] if len(pos) > 2 else "")
                return None
        if tool == "az" and pos[:3] == ["role", "assignment", "create"]:
            role = _opt_value(args, "--role") or ""
            if role.lower() in ("owner", "contributor", "user access administrator") or role.endswith(
                    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"):
                self.add("az.role.assignment.create", f"az role assignment create --role {role}", (P,))
            return None
        if tool == "az" and pos[:3] == ["backup", "protection", "disable"]:
            if (_opt_value(args, "--delete-backup-data") or "").lower() == "true":
                self.add("az.backup.protection.disable", "az backup protection disable --delete-backup-data",
                         (B,))
            return None
        if tool == "supabase" and pos[:2] == ["db", "reset"]:
            if _has(args, "--linked", "--db-url"):
                self.add("supabase.db.reset", "supabase db reset on a remote database", (D,))
            return None
        if tool == "prisma" and pos[:2] == ["db", "push"]:
            if _has(args, "--force-reset", "--accept-data-loss"):
                self.add("prisma.db.push", "prisma db push " + " ".join(a for a in args if a.startswith("--")),
                         (D,))
            return None
        if tool == "railway" and pos[:1] == ["run"]:
            i = _skip_opts(args, args.index("run") + 1 if "run" in args else 1,
                           _CLI_VALUED["railway"])
            return self.run(c, args[i:])
        if tool == "heroku" and pos[:1] == ["run"]:
            i = _skip_opts(args, args.index("run") + 1, frozenset({"-a", "--app", "-r", "--remote", "-s",
                                                                   "--size", "-e", "--env", "--type"}))
            if args[i:]:
                return self.script(" ".join(args[i:]), c.depth + 1, c.stdin)
            return None
        if tool == "heroku" and pos[:1] == ["pg:psql"]:
            sql = _opt_value(args, "-c", "--command")
            if sql:
                self.sql(sql, "postgres", "heroku pg:psql")
            elif c.stdin:
                self.sql(c.stdin, "postgres", "heroku pg:psql")
            return None
        if tool == "fly" and pos[:2] == ["ssh", "console"]:
            cmd = _opt_value(args, "-C", "--command")
            if cmd:
                return self.script(cmd, c.depth + 1, c.stdin)
            return None
        if tool == "alembic" and pos[:1] == ["downgrade"] and len(pos) > 1 and pos[1] != "base":
            return None
        table = _CLI.get(tool)
        if not table:
            return None
        low = [p.lower() for p in pos]
        for words, cats, kind in table:
            n = len(words)
            if len(low) >= n and all(low[k] in words[k] for k in range(n)):
                target = pos[n] if len(pos) > n else (_opt_value(args, "--app", "-a", "--project",
                                                                 "--name", "-n") or "")
                extra: tuple[str, ...] = ()
                if D in cats and _BACKUP_PATH.search(target) and tool in ("gsutil", "gcloud", "bq", "az"):
                    extra = (B,)
                self.add(f"{tool}.{kind}", f"{tool} {' '.join(pos[:n + 1])}", (*cats, *extra), target)
                return None
        return None

    def h_aws(self, c: _Call) -> str | None:
        args = c.argv[1:]
        pos = _positionals(args, _AWS_VALUED)
        if len(pos) < 2:
            return None
        service, op = pos[0].lower(), pos[1].lower()
        after = args[args.index(pos[1]) + 1:] if pos[1] in args else []
        params: dict[str, Any] = {}
        k = 0
        while k < len(after):
            a = after[k]
            if a.startswith("--"):
                key, eq, val = a[2:].partition("=")
                neg = key.startswith("no-")
                key = key[3:] if neg else key
                camel = re.sub(r"-([a-z0-9])", lambda m: m.group(1).upper(), key)
                if eq:
                    params[camel] = val
                    k += 1
                    continue
                vals: list[str] = []
                k += 1
                while k < len(after) and not after[k].startswith("--"):
                    vals.append(after[k])
                    k += 1
                params[camel] = "false" if neg else (" ".join(vals) if vals else True)
                continue
            k += 1
        for key, v in list(params.items()):
            if isinstance(v, str) and v.startswith("file://"):
                params[key] = self.files.get(v[7:], "")
            if key in ("eventSelectors", "lifecycleConfiguration", "advancedEventSelectors") and \
                    isinstance(params[key], str):
                try:
                    params[key] = _lower_keys(json.loads(params[key])) if key != "lifecycleConfiguration" \
                        else _lifecycle(json.loads(params[key]))
                except ValueError:
                    pass
        if params.get("dryRun") is True or params.get("dryrun") is True:
            self.note(f"aws {service} {op} --dry-run")
            return None
        target = ""
        for key, v in params.items():
            if isinstance(v, str) and re.search(r"(Identifier|Name|Id|Ids|Arn|^bucket|^keyId|^name)$", key):
                target = v
                break
        hint_s3 = " ".join(pos[2:])
        if service == "s3":
            if op == "rb":
                cats: tuple[str, ...] = (D, I) if _has(args, "--force") else (I,)
                if _BACKUP_PATH.search(hint_s3):
                    cats = (*cats, B)
                self.add("aws.s3.rb", f"aws s3 rb {hint_s3}", cats, hint_s3)
            elif op == "rm":
                cats = (D, B) if _BACKUP_PATH.search(hint_s3) else (D,)
                rec = " --recursive" if _has(args, "--recursive") else ""
                self.add("aws.s3.rm", f"aws s3 rm {hint_s3}{rec}", cats, hint_s3)
            elif op == "sync" and _has(args, "--delete"):
                self.note("aws s3 sync --delete removes destination files missing from the source")
            return None
        event = _CT_BY_OP.get(op.replace("-", ""))
        if event is not None:
            cats, _rtype, name = cloudtrail_categories(event, params)
            if cats:
                if event in ("DeleteBucket", "DeleteObject", "DeleteObjects") and \
                        _BACKUP_PATH.search(str(params.get("bucket", ""))):
                    cats = (*cats, B)
                self.add(f"aws.{service}.{op}", f"aws {service} {op} {target}".strip(), cats, name or target)
            return None
        extra = _AWS_EXTRA.get(f"{service} {op}")
        if extra is not None:
            cats = extra
            if service == "redshift" and op == "delete-cluster" and not params.get(
                    "finalClusterSnapshotIdentifier"):
                cats = (*cats, B)
            self.add(f"aws.{service}.{op}", f"aws {service} {op} {target}".strip(), cats, target)
            return None
        if re.match(r"^(delete|terminate|destroy|purge|remove)-", op) and not _AWS_BENIGN_DELETE.search(op):
            self.add(f"aws.{service}.{op}", f"aws {service} {op} {target} (generic delete)".strip(), (I,), target)
        return None

    def h_terraform(self, c: _Call) -> str | None:
        args = c.argv[1:]
        pos = [a for a in args if not a.startswith("-")]
        if not pos:
            return None
        sub = pos[0]
        if sub == "run-all" and len(pos) > 1:  # terragrunt
            sub = pos[1]
        chdir = _opt_value(args, "-chdir") or ""
        if sub == "destroy" or (sub == "apply" and _has(args, "-destroy", "--destroy")):
            targets = [a.split("=", 1)[1] for a in args if a.startswith("-target=")]
            self.add(f"{c.name}.destroy", f"{c.name} {sub}" + (" -destroy" if sub == "apply" else ""),
                     (D, I), ",".join(targets) or chdir)
        elif sub == "workspace" and len(pos) > 2 and pos[1] == "select":
            h = _env_of([pos[2]])
            if h:
                self.sticky = h
        return None

    def h_kubectl(self, c: _Call) -> str | None:
        args = c.argv[1:]
        pos = _positionals(args, _KUBE_VALUED)
        if not pos:
            return None
        verb = pos[0]
        if verb == "exec" or verb == "debug":
            if "--" in args:
                return self.run(c, args[args.index("--") + 1:])
            return None
        if verb == "config" and len(pos) > 2 and pos[1] == "use-context":
            h = _env_of([pos[2]])
            if h:
                self.sticky = h
            return None
        if verb == "create":
            if len(pos) > 1 and pos[1] in ("clusterrolebinding", "rolebinding") and \
                    re.search(r"cluster-admin|admin", _opt_value(args, "--clusterrole", "--role") or ""):
                self.add(f"kubectl.create.{pos[1]}", "kubectl binds an admin role", (P,), pos[2] if len(pos) > 2
                         else "")
            elif len(pos) > 1 and pos[1] == "token":
                self.add("kubectl.create.token", "kubectl create token", (C,), pos[2] if len(pos) > 2 else "")
            return None
        if verb != "delete":
            return None
        dry = _opt_value(args, "--dry-run")
        if dry is not None and dry != "none" or "--dry-run" in args:
            self.note("kubectl delete --dry-run")
            return None
        files = [v for k, v in enumerate(args[:-1]) if args[k] in ("-f", "--filename", "-k", "--kustomize")]
        files += [a.split("=", 1)[1] for a in args if a.startswith(("--filename=", "-f="))]
        for f in files:
            self.add("kubectl.delete.manifest", f"kubectl delete -f {f}", (I,), f)
        rest = pos[1:]
        if not rest:
            return None
        types: list[str] = []
        names: list[str] = []
        for r in rest:
            if "/" in r:
                t, _, nm = r.partition("/")
                types.append(t.lower())
                names.append(nm)
            elif not types:
                types.extend(x.lower() for x in r.split(","))
            else:
                names.append(r)
        everything = _has(args, "--all", "-A", "--all-namespaces")
        for t in types:
            base = t.split(".")[0]
            cats = _KUBE_TYPES.get(base)
            if cats is None:
                if everything and base not in ("pod", "pods", "po", "job", "jobs", "event", "events"):
                    cats = (I,)
                else:
                    continue
            target = ",".join(names) or ("--all" if everything else "")
            self.add(f"kubectl.delete.{base}", f"kubectl delete {t} {target}".strip(), cats, target)
        return None

    def h_docker(self, c: _Call) -> str | None:
        args = c.argv[1:]
        if c.name == "docker-compose":
            args = ["compose", *args]
        i = _skip_opts(args, 0, frozenset({"-H", "--host", "--context", "-c", "--config", "-l", "--log-level"}))
        if i >= len(args):
            return None
        sub = args[i]
        rest = args[i + 1:]
        if sub == "compose":
            j = _skip_opts(rest, 0, frozenset({"-f", "--file", "-p", "--project-name", "--env-file", "--profile",
                                               "--project-directory"}))
            if j >= len(rest):
                return None
            sub2, rest2 = rest[j], rest[j + 1:]
            if sub2 == "down" and _short_flag(rest2, "v", ("--volumes",)):
                self.add("docker.compose.down-volumes", "docker compose down --volumes deletes named volumes",
                         (D,), _opt_value(rest, "-p", "--project-name") or "")
            elif sub2 in ("exec", "run"):
                k = _skip_opts(rest2, 0, _DOCKER_RUN_VALUED | {"--index"})
                return self.run(c, rest2[k + 1:])
            return None
        if sub in ("volume", "container", "system", "image", "network"):
            sub2 = rest[0] if rest else ""
            names = [a for a in rest[1:] if not a.startswith("-")]
            if sub == "volume" and sub2 in ("rm", "remove"):
                for nm in names or [""]:
                    self.add("docker.volume.rm", f"docker volume rm {nm}", (D,), nm)
            elif sub == "volume" and sub2 == "prune":
                self.add("docker.volume.prune", "docker volume prune", (D,))
            elif sub == "system" and sub2 == "prune" and _has(rest, "--volumes"):
                self.add("docker.system.prune", "docker system prune --volumes", (D,))
            return None
        if sub == "exec":
            k = _skip_opts(rest, 0, frozenset({"-e", "--env", "-u", "--user", "-w", "--workdir", "--env-file",
                                               "--detach-keys"}))
            return self.run(c, rest[k + 1:])
        if sub == "run":
            k = _skip_opts(rest, 0, _DOCKER_RUN_VALUED)
            return self.run(c, rest[k + 1:])
        return None

    def h_rm(self, c: _Call) -> str | None:
        recursive = force = False
        targets: list[str] = []
        end = False
        for a in c.argv[1:]:
            if not end and a == "--":
                end = True
            elif not end and a.startswith("-") and len(a) > 1:
                if a.startswith("--"):
                    recursive = recursive or a == "--recursive"
                    force = force or a == "--force"
                else:
                    recursive = recursive or "r" in a or "R" in a
                    force = force or "f" in a
            else:
                targets.append(a)
        for t in targets[:64]:
            self.remove_path(t, recursive, c.name)
        if recursive and c.stdin is None and c.origin and not targets:
            self.add("rm.unknown-targets", f"{c.name} -r on names from {c.origin} (unknown)", ())
        return None

    def remove_path(self, path: str, recursive: bool, tool: str) -> None:
        p = path.strip()
        if not p:
            return
        home = self.known("HOME")
        norm = p if p == "/" else p.rstrip("/") or "/"
        cats: set[str] = set()
        scratch = self.cwd and (self.cwd.rstrip("/").rsplit("/", 1)[-1] in _SCRATCH_DIRS
                                or self.cwd.startswith("/tmp"))
        if recursive:
            if (norm in _CATASTROPHIC or p in _CATASTROPHIC or _HOME_DIR.match(norm)
                    or (home and norm.rstrip("*").rstrip("/") == home.rstrip("/"))) and not (
                    scratch and norm in (".", "./*", "*", "./")):
                cats.add(D)
            if re.search(r"(^|/)\.git$", norm):
                cats.add(D)
        if _LOG_PATH.search(norm) and (recursive or norm != "/var/log"):
            cats.add(L)
        if _DATA_PATH.search(norm):
            cats.add(D)
        if _BACKUP_FILE.search(norm) and not _NOT_BACKUP.search(norm):
            cats.add(B)
        if cats:
            self.add(f"{tool}.path", f"{tool}{' -r' if recursive else ''} {p}", cats, p)

    def h_find(self, c: _Call) -> str | None:
        args = c.argv[1:]
        paths: list[str] = []
        k = 0
        while k < len(args) and not args[k].startswith(("-", "(", "!")):
            paths.append(args[k])
            k += 1
        expr = args[k:]
        deleting = "-delete" in expr
        for j, a in enumerate(expr):
            if a in ("-exec", "-execdir", "-ok", "-okdir") and j + 1 < len(expr) and \
                    _basename(expr[j + 1]) in ("rm", "shred", "unlink"):
                deleting = True
        if not deleting:
            return None
        names = [expr[j + 1] for j, a in enumerate(expr[:-1]) if a in ("-name", "-iname", "-path", "-ipath",
                                                                         "-regex", "-iregex", "-wholename")]
        for p in paths or ["."]:
            if names:
                if _LOG_PATH.search(p) or _DATA_PATH.search(p) or _BACKUP_FILE.search(p):
                    self.remove_path(p, True, "find -delete")
            else:
                self.remove_path(p, True, "find -delete")
        for nm in names:
            self.remove_path(nm.strip("*") if nm.startswith("*") and nm.count("*") > 1 else nm, False,
                             "find -delete")
        return None

    def h_disk(self, c: _Call) -> str | None:
        args = c.argv[1:]
        if c.name == "dd":
            for a in args:
                if a.startswith("of="):
                    dst = a[3:]
                    if _DISK.match(dst):
                        self.add("dd.block-device", f"dd writes {dst}", (D,), dst)
                    elif _DATA_PATH.search(dst):
                        self.add("dd.data-file", f"dd overwrites {dst}", (D,), dst)
            return None
        if c.name == "truncate":
            if (_opt_value(args, "-s", "--size") or "").strip() in ("0", "0K", "0M"):
                for a in _positionals(args, frozenset({"-s", "--size", "-r", "--reference"})):
                    if _LOG_PATH.search(a):
                        self.add("truncate.log", f"truncate {a}", (L,), a)
                    elif _DATA_PATH.search(a):
                        self.add("truncate.data", f"truncate {a}", (D,), a)
            return None
        devices = [a for a in args if _DISK.match(a)]
        if c.name == "shred":
            for a in args:
                if not a.startswith("-") and (_DATA_PATH.search(a) or _BACKUP_FILE.search(a)):
                    self.remove_path(a, False, "shred")
        if c.name == "sgdisk" and not _has(args, "-Z", "--zap-all", "-o", "--clear"):
            return None
        if c.name == "wipefs" and not _short_flag(args, "a", ("--all",)):
            return None
        for dev in devices:
            self.add(f"{c.name}.block-device", f"{c.name} {dev}", (D,), dev)
        return None

    def h_git(self, c: _Call) -> str | None:
        args = c.argv[1:]
        pos = _positionals(args, frozenset({"-C", "-c", "--git-dir", "--work-tree", "-o", "--push-option",
                                            "--repo", "--receive-pack"}))
        if pos[:1] != ["push"]:
            return None
        force = _has(args, "--force", "-f", "--mirror") or any(p.startswith("+") for p in pos[2:])
        deleting = _has(args, "--delete", "-d") or any(p.startswith(":") for p in pos[2:])
        refs = pos[2:]
        protected = [r for r in refs if re.search(r"(^|[:+/])(main|master|trunk|prod|production|release)([^/]*)$",
                                                  r)]
        if (force or deleting) and (protected or _has(args, "--mirror")):
            self.add("git.push.force", f"git push {'--force' if force else '--delete'} {' '.join(refs)}", (D,),
                     ",".join(protected))
        return None

    def h_services(self, c: _Call) -> str | None:
        args = [a for a in c.argv[1:] if not a.startswith("-")]
        if c.name == "systemctl" and args and args[0] in ("stop", "disable", "mask", "kill"):
            for unit in args[1:]:
                if _LOG_UNITS.match(unit):
                    self.add("systemctl." + args[0], f"systemctl {args[0]} {unit}", (L,), unit)
        elif c.name == "service" and len(args) >= 2 and args[1] == "stop" and _LOG_UNITS.match(args[0]):
            self.add("service.stop", f"service {args[0]} stop", (L,), args[0])
        elif c.name == "auditctl":
            if _opt_value(c.argv[1:], "-e") == "0" or "-D" in c.argv[1:]:
                self.add("auditctl.disable", "auditctl disables or clears audit rules", (L,))
        elif c.name == "journalctl" and any(a.startswith(("--vacuum-", "--rotate")) for a in c.argv[1:]):
            if any(a.startswith("--vacuum-") for a in c.argv[1:]):
                self.add("journalctl.vacuum", "journalctl deletes journal files", (L,))
        elif c.name in ("usermod", "gpasswd", "adduser"):
            groups = _opt_value(c.argv[1:], "-G", "--groups", "-a") or ""
            gs = set(groups.split(",")) | set(args)
            if gs & _PRIV_GROUPS or _opt_value(c.argv[1:], "-u") == "0":
                self.add(f"{c.name}.privileged-group", f"{c.name} adds a user to {','.join(sorted(gs & _PRIV_GROUPS))}",
                         (P,), args[-1] if args else "")
        elif c.name == "chmod" and args and re.match(r"^([ugoa]*\+s|[4-7][0-7]{3})$", args[0]):
            self.add("chmod.setuid", f"chmod {args[0]} {' '.join(args[1:])}", (P,), " ".join(args[1:]))
        return None

    # -- keyword fallback ------------------------------------------------------------------

    def keyword_scan(self, text: str, why: str) -> None:
        for rx, cats, label in _KEYWORDS:
            if rx.search(text):
                self.add(f"keyword.{label}", f"'{label}' in text that was not analysed ({why})", cats)


def _lower_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {(k[:1].lower() + k[1:] if isinstance(k, str) else k): _lower_keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_lower_keys(v) for v in obj]
    return obj


def _lifecycle(obj: Any) -> Any:
    if isinstance(obj, dict) and "Rules" in obj:
        return {"Rule": obj["Rules"]}
    return obj


_KEYWORDS: tuple[tuple[re.Pattern[str], tuple[str, ...], str], ...] = (
    (re.compile(r"volumeDelete"), (D, B, I), "volumeDelete"),
    (re.compile(r"\b(projectDelete|environmentDelete)\b"), (D, B, I), "projectDelete"),
    (re.compile(r"\bserviceDelete\b"), (D, I), "serviceDelete"),
    (re.compile(r"(?i)\bdrop\s+(table|database|schema)\b"), (D,), "DROP"),
    (re.compile(r"(?i)\btruncate\s+table\b"), (D,), "TRUNCATE"),
    (re.compile(r"\bdropdb\b"), (D,), "dropdb"),
    (re.compile(r"\brm\s+-[a-zA-Z]*[rR][a-zA-Z]*\s+(/|~|\*|\.|\$HOME)(\s|$)"), (D,), "rm -r"),
    (re.compile(r"\b(terraform|tofu|pulumi|cdk)\s+destroy\b"), (D, I), "destroy"),
    (re.compile(r"\bdelete-db-(instance|cluster)\b"), (D, B, I), "delete-db-instance"),
    (re.compile(r"\bs3\s+(rb|rm)\b"), (D,), "s3 rm"),
    (re.compile(r"\b(stop-logging|delete-trail)\b"), (L,), "stop-logging"),
    (re.compile(r"\bschedule-key-deletion\b"), (K,), "schedule-key-deletion"),
    (re.compile(r"\bkubectl\s+delete\s+(ns|namespace|pvc|pv)\b"), (D, I), "kubectl delete"),
    (re.compile(r"\b(apps|volumes?)\s+destroy\b"), (D, I), "destroy"),
    (re.compile(r"\bmkfs(\.\w+)?\s|\bdd\s[^\n]*\bof=/dev/"), (D,), "mkfs"),
    (re.compile(r"(?i)\bflushall\b"), (D,), "FLUSHALL"),
)

_WRAPPER_VALUED: dict[str, frozenset[str]] = {
    "timeout": frozenset({"-s", "--signal", "-k", "--kill-after"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "ionice": frozenset({"-c", "--class", "-n", "--classdata", "-p", "-P", "-u"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "exec": frozenset({"-a"}),
    "runuser": frozenset({"-u", "-g", "-G", "--user", "--group"}),
    "doas": frozenset({"-u", "-C"}),
    "flock": frozenset({"-w", "--timeout", "-E", "--conflict-exit-code"}),
    "chroot": frozenset({"--userspec", "--groups"}),
    "taskset": frozenset({"-c", "-p"}),
}

_HANDLERS: dict[str, _Handler] = {}
for _names2, _h in (
    (("nohup", "time", "setsid", "chronic", "unbuffer", "caffeinate", "command", "builtin", "exec", "nice",
      "ionice", "stdbuf", "timeout", "doas", "flock", "taskset", "strace", "ltrace", "proxychains",
      "proxychains4", "torsocks", "tsp"), _Analyser.h_wrapper),
    (("sudo",), _Analyser.h_sudo),
    (("env",), _Analyser.h_env),
    (("watch",), _Analyser.h_watch),
    (("xargs", "parallel"), _Analyser.h_xargs),
    (("su",), _Analyser.h_su),
    (("runuser", "op", "doppler", "infisical", "aws-vault", "dotenv", "with-contenv", "envchain",
      "direnv", "sops", "chamber", "teller", "vault-exec", "gcloud-exec"), _Analyser.h_dashdash),
    (("npx", "bunx", "pnpx", "uv", "uvx", "poetry", "pipenv", "pdm", "hatch", "rye", "bundle", "npm", "pnpm",
      "yarn", "bun", "conda", "mamba", "nix", "devbox", "pipx"), _Analyser.h_runner),
    (("ssh", "mosh"), _Analyser.h_ssh),
    (("bash", "sh", "zsh", "dash", "ksh", "ash", "mksh", "fish", "busybox"), _Analyser.h_shell),
    (("eval",), _Analyser.h_eval),
    (("source", "."), _Analyser.h_source),
    (("cd", "pushd", "export", "declare", "typeset", "local", "readonly", "unset", "true", ":", "set",
      "shopt", "alias", "trap", "ulimit", "umask", "wait", "sleep", "mkdir", "touch"), _Analyser.h_builtin_quiet),
    (("echo",), _Analyser.h_echo),
    (("printf",), _Analyser.h_printf),
    (("cat",), _Analyser.h_cat),
    (("tee",), _Analyser.h_tee),
    (("base64", "base32"), _Analyser.h_base64),
    (("openssl",), _Analyser.h_openssl),
    (("xxd",), _Analyser.h_xxd),
    (("rev",), _Analyser.h_rev),
    (("tr",), _Analyser.h_tr),
    (("gunzip", "zcat", "gzip"), _Analyser.h_gunzip),
    (("which",), _Analyser.h_which),
    (("python", "python3", "pypy", "pypy3", "node", "nodejs", "deno", "ruby", "perl", "php", "bun"),
     _Analyser.h_python),
    (("psql",), _Analyser.h_psql),
    (("mysql",), _Analyser.h_mysql),
    (("sqlite3", "sqlite"), _Analyser.h_sqlite),
    (("dropdb", "pg_dropcluster"), _Analyser.h_dropdb),
    (("mysqladmin", "mariadb-admin"), _Analyser.h_mysqladmin),
    (("mongosh",), _Analyser.h_mongosh),
    (("cockroach", "clickhouse-client", "clickhouse", "snowsql", "bq", "duckdb"), _Analyser.h_sqlcli),
    (("redis-cli", "valkey-cli"), _Analyser.h_redis),
    (("curl",), _Analyser.h_curl),
    (("wget",), _Analyser.h_wget),
    (("http", "xh"), _Analyser.h_httpie),
    (("gh",), _Analyser.h_gh),
    (("aws", "awslocal"), _Analyser.h_aws),
    (("terraform",), _Analyser.h_terraform),
    (("kubectl",), _Analyser.h_kubectl),
    (("docker", "docker-compose"), _Analyser.h_docker),
    (("rm", "unlink", "srm", "Remove-Item"), _Analyser.h_rm),
    (("find",), _Analyser.h_find),
    (("dd", "mkfs", "wipefs", "shred", "sgdisk", "blkdiscard", "truncate"), _Analyser.h_disk),
    (("git",), _Analyser.h_git),
    (("systemctl", "service", "auditctl", "journalctl", "usermod", "gpasswd", "adduser", "chmod"),
     _Analyser.h_services),
):
    for _n2 in _names2:
        _HANDLERS[_n2] = _h
_HANDLERS["bun"] = _Analyser.h_runner


# --------------------------------------------------------------------------- entry point


def _redact(text: str, secrets: Mapping[str, str]) -> str:
    for s in sorted(secrets, key=len, reverse=True):
        if s not in text:
            continue
        label = f"<redacted:{secrets[s]}>"
        if len(s) >= 4:
            text = text.replace(s, label)
        else:
            text = re.sub(r"(?<![A-Za-z0-9])" + re.escape(s) + r"(?![A-Za-z0-9])", label, text)
    if _TOKEN_SHAPES.search(text):
        text = _TOKEN_SHAPES.sub(lambda m: f"<redacted:{_fp(m.group(1))}>", text)
    return text


def analyse_command(cmd: str, env: Mapping[str, str] | None = None) -> Intent:
    """The intent of one shell command line (or script) an agent is about to run.

    ``env`` is the environment the command would run with: variables it references
    (``$RAILWAY_TOKEN``) are resolved from it, so a token is fingerprinted by value.
    Never raises; never returns a secret.
    """
    if not isinstance(cmd, str):
        cmd = str(cmd)
    a = _Analyser(env if env is not None else {})
    truncated = len(cmd) > MAX_ANALYSED
    text = cmd[:MAX_ANALYSED] if truncated else cmd
    internal = ""
    try:
        a.fulltext = text
        a.script(text, 0)
    except Exception as e:  # noqa: BLE001 - a bug must not open the gate: keywords decide then
        internal = f"internal error: {type(e).__name__}"
        a.keyword_scan(text, "analysis failed")
    if truncated:
        a.note(f"command is {len(cmd)} characters; analysed the first {MAX_ANALYSED}, the rest scanned "
               "for keywords")
        a.keyword_scan(cmd[MAX_ANALYSED:], "truncated")
    secrets = a.secrets
    actions = [replace(f, summary=_redact(f.summary, secrets), target=_redact(f.target, secrets))
               for f in a.findings]
    cats = sorted({c for f in actions for c in f.categories})
    return Intent(
        categories=tuple(cats),
        actions=actions,
        credentials=list(a.creds.values()),
        redacted=_redact(cmd, secrets),
        parse_error=internal or (a.errors[0] if a.errors else ""),
        truncated=truncated,
        notes=[_redact(n, secrets) for n in a.notes],
    )
