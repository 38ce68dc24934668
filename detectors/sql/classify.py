"""What a logged SQL string does: statement kind, objects touched, taxonomy categories.

Threat: a destructive statement (DROP, TRUNCATE, DELETE/UPDATE of a whole table,
turning audit logging off, minting a superuser) hidden among thousands of
ordinary queries, possibly dressed up with comments, odd case, quoting or
wrapped in a CTE or a DO block.

Evidence: the statement text only. A single-pass tokenizer (one compiled regex)
strips comments and literals, then a small keyword walk decides. Literals never
leave this module un-redacted: ``redacted`` replaces every string and number
with ``?`` and ``fingerprint`` hashes that shape.

Dialects: PostgreSQL (dollar quotes, ``E''`` strings, nested block comments) and
MySQL/MariaDB (backticks, ``#`` comments, ``DELETE ... LIMIT``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from auditwatch.detectors.taxonomy import (
    BACKUP_DESTROY,
    CREDENTIAL_CREATE,
    DANGEROUS_EXEC,
    DATA_DESTROY,
    LOGGING_DISABLE,
    PRIVILEGE_ESCALATE,
)
from auditwatch.detectors.sql.lexer import Tok, fingerprint_of, redact, split_statements, tokenize

# Larger statements are analysed on their first MAX_ANALYSED characters and
# flagged truncated: bounded time on hostile input, never a drop.
MAX_ANALYSED = 64 * 1024


@dataclass(slots=True)
class SqlVerdict:
    kind: str  # command tag: "SELECT", "DROP TABLE", "ALTER ROLE" ...
    family: str  # dml | ddl | dcl | session | utility | other
    objects: list[str] = field(default_factory=list)
    categories: tuple[str, ...] = ()
    fingerprint: str = ""
    redacted: str = ""
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    # the verdict depended on a literal's value (SET x = 'none', WHERE 1 = 1, dynamic
    # SQL): statements of the same shape may differ, so it is never cached by shape
    sensitive: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "family": self.family,
            "objects": self.objects,
            "categories": list(self.categories),
            "fingerprint": self.fingerprint,
            "redacted": self.redacted,
            "truncated": self.truncated,
            "notes": self.notes,
        }


_BACKUPISH = re.compile(r"(^|[._])(backups?|archives?|bak|snapshots?)($|[._0-9])|_(backup|bak|archive)s?\b", re.I)
_WEAK_LOGGING = {
    "LOG_STATEMENT": {"NONE"},
    "PGAUDIT.LOG": {"NONE", ""},
    "LOG_MIN_DURATION_STATEMENT": {"-1"},
    "LOG_CONNECTIONS": {"OFF", "FALSE", "0"},
    "LOG_DISCONNECTIONS": {"OFF", "FALSE", "0"},
    "SESSION_REPLICATION_ROLE": {"REPLICA"},
    "SERVER_AUDIT_LOGGING": {"OFF", "0", "FALSE"},
    "SQL_LOG_BIN": {"0", "OFF", "FALSE"},
    "GENERAL_LOG": {"0", "OFF", "FALSE"},
    "AUDIT_LOG_DISABLE": {"1", "ON", "TRUE"},
    "PGAUDIT.LOG_LEVEL": set(),
}
_DROP_DATA = {"TABLE", "DATABASE", "SCHEMA", "INDEX", "VIEW", "FUNCTION", "PROCEDURE",
              "SEQUENCE", "OWNED", "TYPE", "DOMAIN", "TRIGGER", "EXTENSION", "COLLECTION"}
_DROP_BACKUP = {"PUBLICATION", "SUBSCRIPTION"}
_FAMILY = {
    "SELECT": "dml", "INSERT": "dml", "UPDATE": "dml", "DELETE": "dml", "MERGE": "dml",
    "COPY": "utility", "WITH": "dml", "VALUES": "dml", "TABLE": "dml", "REPLACE": "dml",
    "CREATE": "ddl", "DROP": "ddl", "ALTER": "ddl", "TRUNCATE": "ddl", "COMMENT": "ddl",
    "RENAME": "ddl", "GRANT": "dcl", "REVOKE": "dcl", "SET": "session", "RESET": "session",
    "SHOW": "session", "BEGIN": "session", "START": "session", "COMMIT": "session",
    "ROLLBACK": "session", "SAVEPOINT": "session", "RELEASE": "session", "USE": "session",
    "DO": "utility", "CALL": "utility", "EXECUTE": "utility", "PREPARE": "utility",
    "VACUUM": "utility", "ANALYZE": "utility", "EXPLAIN": "utility", "LOCK": "utility",
    "DISCARD": "session", "DEALLOCATE": "utility", "LISTEN": "utility", "NOTIFY": "utility",
    "REFRESH": "utility", "REINDEX": "utility", "CLUSTER": "utility", "CHECKPOINT": "utility",
    "LOAD": "utility", "FLUSH": "utility", "KILL": "utility", "DECLARE": "utility",
    "FETCH": "utility", "CLOSE": "utility", "MOVE": "utility", "SECURITY": "ddl",
    "IMPORT": "ddl", "REASSIGN": "dcl",
}
_NAME_KINDS = ("word", "qid")


# Marks, inside the category set during analysis, that a literal's value was read.
_LITERAL = "\x00literal"


def classify(sql: str, dialect: str = "postgres") -> list[SqlVerdict]:
    """Every statement of a logged query string, classified (the fast path).

    Statements that differ only in literal values share a shape; the verdicts of a
    shape are cached, so the common case (an application's few hundred statement
    shapes) costs one regex substitution and a dict look-up. Returned verdicts may
    be shared: treat them as read-only.
    """
    return _fast.classify(sql, dialect)


def classify_full(sql: str, dialect: str = "postgres") -> list[SqlVerdict]:
    """Every statement, analysed from scratch (no cache)."""
    truncated = len(sql) > MAX_ANALYSED
    text = sql[:MAX_ANALYSED] if truncated else sql
    stmts = split_statements(text, dialect) or ([text.strip()] if text.strip() else [])
    out = [classify_one(s, dialect) for s in stmts]
    if truncated and out:
        for v in out:
            v.truncated = True
    return out


def classify_one(stmt: str, dialect: str = "postgres", _nest: int = 0) -> SqlVerdict:
    truncated = len(stmt) > MAX_ANALYSED
    return verdict_of(tokenize(stmt[:MAX_ANALYSED] if truncated else stmt, dialect), dialect, truncated, _nest)


def verdict_of(toks: list[Tok], dialect: str = "postgres", truncated: bool = False, _nest: int = 0) -> SqlVerdict:
    """The verdict for one statement's tokens (whoever lexed them)."""
    red = redact(toks)
    v = SqlVerdict(kind="UNKNOWN", family="other", fingerprint=fingerprint_of(red.lower()),
                   redacted=red, truncated=truncated)
    if not toks:
        v.kind = "EMPTY"
        return v
    cats: set[str] = set()
    _analyse(toks, v, cats, dialect, _nest)
    if _LITERAL in cats:
        cats.discard(_LITERAL)
        v.sensitive = True
    v.categories = tuple(sorted(cats))
    return v


def _words(toks: list[Tok], start: int, count: int) -> list[str]:
    return [t.text for t in toks[start : start + count] if t.kind == "word"]


def _qualified_name(toks: list[Tok], i: int) -> tuple[str, int]:
    """Read ``a.b.c`` starting at i; returns (name, next index)."""
    parts: list[str] = []
    n = len(toks)
    while i < n and toks[i].kind in _NAME_KINDS:
        t = toks[i]
        parts.append(t.text.lower() if t.kind == "word" else t.text)
        if i + 2 < n and toks[i + 1].kind == "op" and toks[i + 1].text == "." and toks[i + 2].kind in _NAME_KINDS:
            i += 2
            continue
        i += 1
        break
    return ".".join(parts), i


def _name_list(toks: list[Tok], i: int, stop: set[str]) -> tuple[list[str], int]:
    names: list[str] = []
    n = len(toks)
    while i < n:
        t = toks[i]
        if t.kind == "word" and t.text in stop:
            break
        if t.kind in _NAME_KINDS:
            name, i = _qualified_name(toks, i)
            if name and name not in ("only",):
                names.append(name)
            continue
        if t.kind == "op" and t.text in (",", "*"):
            i += 1
            continue
        break
    return names, i


def _is_backupish(name: str) -> bool:
    return bool(_BACKUPISH.search(name))


def _analyse(toks: list[Tok], v: SqlVerdict, cats: set[str], dialect: str, nest: int) -> None:
    first = toks[0].text if toks[0].kind == "word" else ""
    v.family = _FAMILY.get(first, "other")
    if first == "DROP":
        _drop(toks, v, cats)
    elif first == "TRUNCATE":
        v.kind = "TRUNCATE"
        i = 1
        if i < len(toks) and toks[i].kind == "word" and toks[i].text == "TABLE":
            i += 1
        names, _ = _name_list(toks, i, {"CASCADE", "RESTRICT", "RESTART", "CONTINUE"})
        v.objects = names
        cats.add(DATA_DESTROY)
        if any(_is_backupish(nm) for nm in names):
            cats.add(BACKUP_DESTROY)
        if _has_word(toks, "CASCADE"):
            v.notes.append("cascade")
    elif first in ("DELETE", "UPDATE", "WITH", "MERGE", "INSERT", "SELECT", "REPLACE"):
        v.kind = _dml_kind(toks)
        _dml(toks, v, cats, dialect)
    elif first == "ALTER":
        _alter(toks, v, cats, dialect)
    elif first in ("CREATE",):
        _create(toks, v, cats)
    elif first == "GRANT":
        v.kind = "GRANT"
        _grant(toks, v, cats)
    elif first == "REVOKE":
        v.kind = "REVOKE"
    elif first == "SET":
        v.kind = "SET"
        _set(toks, 1, cats)
    elif first == "COPY":
        v.kind = "COPY"
        if any(t.kind == "word" and t.text == "PROGRAM" and i and toks[i - 1].text in ("TO", "FROM")
               for i, t in enumerate(toks)):
            cats.add(DANGEROUS_EXEC)
        name, _ = _qualified_name(toks, 1)
        if name:
            v.objects = [name]
    elif first in ("EXPLAIN", "DESCRIBE", "DESC") and _explain_runs(toks):
        v.kind = "EXPLAIN"
        # EXPLAIN ANALYZE executes its statement: judge that statement
        for k, t in enumerate(toks[1:], 1):
            if t.depth == 0 and t.kind == "word" and t.text in (
                    "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "TABLE", "VALUES", "CREATE", "EXECUTE"):
                inner = SqlVerdict(kind="UNKNOWN", family="other")
                _analyse(toks[k:], inner, cats, dialect, nest)
                v.objects = inner.objects
                v.notes += inner.notes
                break
    elif first == "DO":
        v.kind = "DO"
        v.family = "utility"
    elif first == "RENAME":  # MySQL RENAME TABLE a TO b
        v.kind = "RENAME TABLE"
        names, _ = _name_list(toks, 2, {"TO"})
        v.objects = names
        cats.add(DATA_DESTROY)
    else:
        v.kind = first or "UNKNOWN"
    if first in ("SELECT", "WITH", "CALL", "PERFORM") or v.kind == "SELECT":
        # functions that destroy replication/backups or reconfigure logging
        for t in toks:
            fn = t.text.upper() if t.kind in _NAME_KINDS else ""
            if fn == "PG_DROP_REPLICATION_SLOT":
                cats.add(BACKUP_DESTROY)
                v.notes.append("drops replication slot")
            elif fn == "SET_CONFIG":
                _set_config_call(toks, cats)
    # Look inside code that runs now: a DO block's body, and strings handed to
    # EXECUTE / PREPARE (dynamic SQL). A string in an INSERT is data, not code.
    if first in ("DO", "EXECUTE", "PREPARE", "CALL") or _has_word(toks, "EXECUTE") or _has_word(toks, "PREPARE"):
        cats.add(_LITERAL)  # code inside strings decides
    if nest < 3:
        bodies = [t.text for t in toks if t.kind in ("dollar", "str")] if first == "DO" else []
        bodies += _dynamic_sql(toks)
        for body in bodies:
            inner = _inner_categories(body, dialect, nest + 1)
            if inner:
                cats.update(inner)
                v.notes.append("dynamic sql")
                if _destroys(inner):
                    cats.add(DANGEROUS_EXEC)


def _dynamic_sql(toks: list[Tok]) -> list[str]:
    out: list[str] = []
    n = len(toks)
    for i, t in enumerate(toks):
        if t.kind != "word" or t.text not in ("EXECUTE", "FROM", "IMMEDIATE"):
            continue
        if t.text == "FROM" and not (i >= 2 and toks[i - 2].kind == "word" and toks[i - 2].text == "PREPARE"):
            continue
        j = i + 1
        # EXECUTE format('DROP TABLE %I', x) / EXECUTE 'DROP ' || x
        while j < n and ((toks[j].kind == "word" and toks[j].text in ("FORMAT", "IMMEDIATE", "CONCAT")) or (toks[j].kind == "op" and toks[j].text == "(")):
            j += 1
        pieces: list[str] = []
        while j < n and toks[j].kind in ("str", "dollar", "op", "word", "qid") and len(pieces) < 16:
            tk = toks[j]
            if tk.kind in ("str", "dollar"):
                pieces.append(tk.text)
            elif tk.kind == "op" and tk.text == "|":
                pieces.append("")  # 'DR' || 'OP TABLE t' spells DROP TABLE t
            elif tk.kind == "op" and tk.text == ",":
                pieces.append(" ")
            elif tk.kind == "word" and not pieces:
                break
            elif tk.kind == "op" and tk.text in (";", ")"):
                break
            j += 1
        if pieces:
            out.append("".join(pieces))
    return out


def _destroys(cats: set[str]) -> bool:
    return bool(cats & {DATA_DESTROY, BACKUP_DESTROY})


def _inner_categories(body: str, dialect: str, nest: int) -> set[str]:
    out: set[str] = set()
    # a plpgsql body is statements between BEGIN/END; splitting on ';' still finds them
    for piece in split_statements(body, dialect):
        toks = tokenize(piece, dialect)
        # skip plpgsql block keywords so "BEGIN DROP TABLE x" is seen as DROP TABLE x
        while toks and toks[0].kind == "word" and toks[0].text in ("BEGIN", "DECLARE", "END", "LOOP", "THEN", "ELSE", "PERFORM"):
            toks = toks[1:]
        if not toks:
            continue
        v = SqlVerdict(kind="UNKNOWN", family="other")
        cats: set[str] = set()
        _analyse(toks, v, cats, dialect, nest)
        out |= cats
    return out


def _has_word(toks: list[Tok], word: str) -> bool:
    return any(t.kind == "word" and t.text == word for t in toks)


def _drop(toks: list[Tok], v: SqlVerdict, cats: set[str]) -> None:
    i = 1
    words = []
    while i < len(toks) and toks[i].kind == "word" and toks[i].text in (
        "TABLE", "DATABASE", "SCHEMA", "INDEX", "VIEW", "FUNCTION", "PROCEDURE", "SEQUENCE",
        "OWNED", "MATERIALIZED", "FOREIGN", "TEMPORARY", "TEMP", "PUBLICATION", "SUBSCRIPTION",
        "ROLE", "USER", "TYPE", "DOMAIN", "TRIGGER", "EXTENSION", "CONCURRENTLY", "AGGREGATE",
        "RULE", "POLICY", "SERVER", "EVENT", "TABLESPACE", "GROUP", "CAST", "COLLATION",
        "OPERATOR", "STATISTICS", "PROCEDURAL", "LANGUAGE", "ROUTINE", "CONVERSION", "ACCESS",
        "METHOD", "TRANSFORM", "TEXT", "SEARCH", "CONFIGURATION", "DICTIONARY", "PARSER",
        "TEMPLATE", "DATA", "WRAPPER", "MAPPING", "FOR", "UNIQUE", "ONLINE", "OFFLINE", "BY",
    ):
        if toks[i].text not in ("CONCURRENTLY", "TEMPORARY", "TEMP", "ONLINE", "OFFLINE"):
            words.append(toks[i].text)
        i += 1
        if words and words[-1] in ("OWNED",) :
            # DROP OWNED BY role
            if i < len(toks) and toks[i].kind == "word" and toks[i].text == "BY":
                i += 1
            break
    obj = words[0] if words else ""
    if words[:2] == ["MATERIALIZED", "VIEW"]:
        obj = "VIEW"
    if words[:2] == ["FOREIGN", "TABLE"]:
        obj = "TABLE"
    v.kind = "DROP " + " ".join(words) if words else "DROP"
    if i + 1 < len(toks) and toks[i].kind == "word" and toks[i].text == "IF" and toks[i + 1].text == "EXISTS":
        i += 2
    names, _ = _name_list(toks, i, {"CASCADE", "RESTRICT", "ON", "FROM", "WITH", "FORCE"})
    v.objects = names
    if _has_word(toks, "CASCADE"):
        v.notes.append("cascade")
    if obj in _DROP_DATA:
        cats.add(DATA_DESTROY)
        if obj in ("TABLE", "SCHEMA", "DATABASE", "VIEW") and any(_is_backupish(n) for n in names):
            cats.add(BACKUP_DESTROY)
    elif obj in _DROP_BACKUP:
        cats.add(BACKUP_DESTROY)


def _dml_kind(toks: list[Tok]) -> str:
    first = toks[0].text
    if first != "WITH":
        return first
    # the main statement follows the CTE list at depth 0
    for t in toks[1:]:
        if t.depth == 0 and t.kind == "word" and t.text in ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"):
            return t.text
    return "SELECT"



def _dml(toks: list[Tok], v: SqlVerdict, cats: set[str], dialect: str) -> None:
    n = len(toks)
    objects: list[str] = []
    for i, t in enumerate(toks):
        if t.kind != "word" or t.text not in ("DELETE", "UPDATE", "INSERT", "MERGE", "FROM", "INTO", "JOIN"):
            continue
        if t.text in ("DELETE", "UPDATE"):
            prev = toks[i - 1].text if i and toks[i - 1].kind == "word" else ""
            if (t.text == "UPDATE" and prev in ("FOR", "KEY", "DO")) or prev == "THEN":
                # row locks (FOR [NO KEY] UPDATE), upserts (DO UPDATE, ON DUPLICATE KEY
                # UPDATE) and MERGE branches (WHEN MATCHED THEN UPDATE/DELETE) touch matched rows
                continue
            j = i + 1
            if t.text == "DELETE":
                # DELETE [LOW_PRIORITY|QUICK|IGNORE] FROM [ONLY] t
                while j < n and toks[j].kind == "word" and toks[j].text in ("LOW_PRIORITY", "QUICK", "IGNORE", "FROM", "ONLY"):
                    j += 1
            else:
                while j < n and toks[j].kind == "word" and toks[j].text in ("LOW_PRIORITY", "IGNORE", "ONLY"):
                    j += 1
            name, _ = _qualified_name(toks, j)
            if name:
                objects.append(name)
            where = _clause_at_depth(toks, i, t.depth, "WHERE")
            if where is None:
                cats.add(DATA_DESTROY)
                v.notes.append(f"{t.text.lower()} without where")
            elif _always_true(toks, where, t.depth, cats):
                cats.add(DATA_DESTROY)
                v.notes.append(f"{t.text.lower()} with always-true where")
            if name and _is_backupish(name) and DATA_DESTROY in cats:
                cats.add(BACKUP_DESTROY)
        elif t.text in ("FROM", "INTO", "JOIN") and i + 1 < n and toks[i + 1].kind in _NAME_KINDS:
            name, _ = _qualified_name(toks, i + 1)
            if name and name not in objects and name.upper() not in _FAMILY:
                objects.append(name)
    v.objects = objects


def _clause_at_depth(toks: list[Tok], start: int, depth: int, word: str) -> int | None:
    for j in range(start + 1, len(toks)):
        t = toks[j]
        if t.depth < depth:
            return None
        if t.depth == depth and t.kind == "word":
            if t.text == word:
                return j
            if t.text in ("RETURNING",) or (t.text in ("SELECT", "INSERT", "UPDATE", "DELETE") and j > start + 1 and toks[j - 1].kind == "op" and toks[j - 1].text == ")"):
                return None
    return None


_CMP = {"=", "<>", "!=", "<", ">", "<=", ">=", "=="}
_TRUTHY_STR = {"1", "T", "TRUE", "Y", "YES", "ON"}


def _always_true(toks: list[Tok], where: int, depth: int, cats: set[str]) -> bool:
    """Is the WHERE clause starting at ``where`` true for every row? Catches the common
    tautologies (empty, TRUE, 1, 1=1, 'a'='a', x = x, x IS NULL OR x IS NOT NULL, and any
    of these OR-ed with a real condition); not a theorem prover."""
    cond: list[Tok] = []
    for t in toks[where + 1 :]:
        if t.depth < depth:
            break
        if t.depth == depth and ((t.kind == "word" and t.text in (
                "RETURNING", "ORDER", "LIMIT", "GROUP", "HAVING", "WINDOW", "FOR")) or (t.kind == "op" and t.text == ";")):
            break
        cond.append(t)
    return _tautology(cond, cats)


def _strip_parens(c: list[Tok]) -> list[Tok]:
    while len(c) >= 2 and c[0].text == "(" and c[-1].text == ")" and c[0].kind == "op" and \
            all(t.depth > c[0].depth for t in c[1:-1]):
        c = c[1:-1]
    return c


def _split_top(c: list[Tok], word: str) -> list[list[Tok]]:
    if not c:
        return [c]
    base = min(t.depth for t in c)
    parts: list[list[Tok]] = [[]]
    for t in c:
        if t.kind == "word" and t.text == word and t.depth == base:
            parts.append([])
        else:
            parts[-1].append(t)
    return parts


def _tautology(cond: list[Tok], cats: set[str]) -> bool:
    cond = _strip_parens(cond)
    if not cond:
        return True
    disjuncts = [_strip_parens(d) for d in _split_top(cond, "OR")]
    if len(disjuncts) > 1:
        nulls = {(_ident(d[:-2]), "NULL") for d in disjuncts if len(d) >= 3 and [t.text for t in d[-2:]] == ["IS", "NULL"]}
        notnulls = {(_ident(d[:-3]), "NULL") for d in disjuncts if len(d) >= 4 and [t.text for t in d[-3:]] == ["IS", "NOT", "NULL"]}
        if nulls & notnulls:
            return True
        return any(_tautology(d, cats) for d in disjuncts)
    conjuncts = _split_top(cond, "AND")
    if len(conjuncts) > 1:
        return all(_tautology(c, cats) for c in conjuncts)
    return _atom_true(cond, cats)


def _ident(ts: list[Tok]) -> str:
    return ".".join(t.text.lower() if t.kind == "word" else t.text for t in ts if t.kind in _NAME_KINDS) \
        if ts and all(t.kind in _NAME_KINDS or t.text == "." for t in ts) else "\x00"


def _atom_true(c: list[Tok], cats: set[str]) -> bool:
    lits = [t for t in c if t.kind in ("str", "num")]
    names = [t for t in c if t.kind in _NAME_KINDS and t.text not in ("TRUE", "FALSE", "NOT", "NULL", "IS")]
    if lits and not names:
        cats.add(_LITERAL)  # the values decide: never share this verdict by shape
    texts = [t.text for t in c]
    if len(c) == 1:
        t = c[0]
        return (t.kind == "word" and t.text == "TRUE") or (t.kind == "num" and _num(t.text) not in (0, None)) \
            or (t.kind == "str" and t.text.upper() in _TRUTHY_STR)
    if texts == ["NOT", "FALSE"] or texts == ["NOT", "0"]:
        return True
    # a op b, where op may be two op tokens (<>, >=, !=)
    for i in range(1, len(c) - 1):
        op = c[i].text
        j = i + 1
        if c[i].kind == "op" and j < len(c) and c[j].kind == "op" and c[j].text in "=>":
            op += c[j].text
            j += 1
        if c[i].kind != "op" or op not in _CMP:
            continue
        left, right = c[:i], c[j:]
        if len(left) == 1 and len(right) == 1 and left[0].kind in ("str", "num", "word") and right[0].kind in ("str", "num", "word") \
                and (left[0].kind != "word" or left[0].text in ("TRUE", "FALSE")) \
                and (right[0].kind != "word" or right[0].text in ("TRUE", "FALSE")):
            return _compare(left[0], right[0], op)
        li, ri = _ident(left), _ident(right)
        if li != "\x00" and li == ri:
            return op in ("=", "<=", ">=", "==")
        return False
    return False


def _num(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


def _compare(a: Tok, b: Tok, op: str) -> bool:
    x: object = _num(a.text) if a.kind == "num" else a.text
    y: object = _num(b.text) if b.kind == "num" else b.text
    if type(x) is not type(y):
        x, y = str(a.text), str(b.text)
    try:
        return {"=": x == y, "==": x == y, "<>": x != y, "!=": x != y, "<": x < y, ">": x > y,  # type: ignore[operator]
                "<=": x <= y, ">=": x >= y}[op]  # type: ignore[operator]
    except TypeError:
        return False


def _alter(toks: list[Tok], v: SqlVerdict, cats: set[str], dialect: str = "postgres") -> None:
    w = [t.text for t in toks[:3] if t.kind == "word"]
    target = w[1] if len(w) > 1 else ""
    v.kind = "ALTER " + target if target else "ALTER"
    if target == "SYSTEM":
        # ALTER SYSTEM SET name = value | ALTER SYSTEM RESET name
        i = 2
        if i < len(toks) and toks[i].text == "SET":
            _set(toks, i + 1, cats)
        elif i < len(toks) and toks[i].text in ("RESET",):
            pass
        return
    if target in ("ROLE", "USER", "GROUP"):
        name, i = _qualified_name(toks, 2)
        v.objects = [name] if name else []
        words = {t.text for t in toks[i:] if t.kind == "word"}
        if words & {"SUPERUSER", "BYPASSRLS", "CREATEROLE", "REPLICATION"}:
            cats.add(PRIVILEGE_ESCALATE)
        if "PASSWORD" in words or "IDENTIFIED" in words:
            cats.add(CREDENTIAL_CREATE)
        if "SET" in words:
            j = next((k for k in range(i, len(toks)) if toks[k].kind == "word" and toks[k].text == "SET"), None)
            if j is not None:
                _set(toks, j + 1, cats)
        return
    if target in ("TABLE", "FOREIGN"):
        i = 2
        while i < len(toks) and toks[i].kind == "word" and toks[i].text in ("TABLE", "IF", "EXISTS", "ONLY"):
            i += 1
        name, i = _qualified_name(toks, i)
        v.objects = [name] if name else []
        rest = [(t.text, t.kind) for t in toks[i:]]
        words = [t for t, k in rest if k == "word"]
        for a, b in zip(words, words[1:] + [""]):
            if a == "DROP" and b not in ("CONSTRAINT", "DEFAULT", "NOT", "IDENTITY", "EXPRESSION", "INDEX", "PRIMARY", "FOREIGN", "CHECK", "KEY", "PARTITION"):
                cats.add(DATA_DESTROY)
                v.notes.append("drop column")
                break
            if a == "DROP" and b == "PARTITION":  # MySQL: drops the partition's rows
                cats.add(DATA_DESTROY)
                v.notes.append("drop partition")
                break
        if _renames_table(words, dialect):
            cats.add(DATA_DESTROY)
            v.notes.append("rename table")
        if "DISABLE" in words and "TRIGGER" in words:
            v.notes.append("disable trigger")
        if name and _is_backupish(name) and DATA_DESTROY in cats:
            cats.add(BACKUP_DESTROY)
        return
    if target == "DATABASE":
        name, i = _qualified_name(toks, 2)
        v.objects = [name] if name else []
        if i < len(toks) and toks[i].text == "SET":
            _set(toks, i + 1, cats)
        return
    if target in ("DEFAULT",):
        return


def _explain_runs(toks: list[Tok]) -> bool:
    """EXPLAIN ANALYZE (but not ANALYZE false/off/0) executes the statement it explains."""
    for i, t in enumerate(toks):
        if t.kind == "word" and t.text == "ANALYZE":
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            return not (nxt is not None and nxt.text.upper() in ("FALSE", "OFF", "0"))
    return False


def _renames_table(words: list[str], dialect: str) -> bool:
    """ALTER TABLE t RENAME TO n (PostgreSQL; ``RENAME a TO b`` renames a column there);
    MySQL also ``RENAME AS n`` and ``RENAME n``, but not RENAME COLUMN/INDEX/KEY."""
    for i, w in enumerate(words):
        if w != "RENAME":
            continue
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if nxt in ("TO", "AS") and (dialect == "mysql" or nxt == "TO"):
            return True
        if dialect == "mysql" and nxt and nxt not in ("COLUMN", "INDEX", "KEY", "CONSTRAINT"):
            return True
    return False


def _create(toks: list[Tok], v: SqlVerdict, cats: set[str]) -> None:
    words = [t.text for t in toks[:6] if t.kind == "word"]
    i = 1
    while i < len(words) and words[i] in ("OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "UNIQUE", "MATERIALIZED", "GLOBAL", "LOCAL", "DEFINER"):
        i += 1
    what = words[i] if i < len(words) else ""
    v.kind = f"CREATE {what}".strip()
    if what in ("ROLE", "USER"):
        allw = {t.text for t in toks if t.kind == "word"}
        name, _ = _qualified_name(toks, 2 if toks[1].kind != "word" or toks[1].text in ("ROLE", "USER") else 3)
        v.objects = [name] if name else []
        if allw & {"SUPERUSER", "BYPASSRLS", "CREATEROLE", "REPLICATION"}:
            cats.add(PRIVILEGE_ESCALATE)
        if "PASSWORD" in allw or "IDENTIFIED" in allw:
            cats.add(CREDENTIAL_CREATE)
        return
    if what in ("TABLE", "VIEW", "INDEX", "SCHEMA", "DATABASE", "FUNCTION", "SEQUENCE"):
        j = 1
        while j < len(toks) and toks[j].kind == "word" and toks[j].text in (
            "OR", "REPLACE", "TEMP", "TEMPORARY", "UNLOGGED", "UNIQUE", "MATERIALIZED", "GLOBAL",
            "LOCAL", what, "IF", "NOT", "EXISTS", "CONCURRENTLY"):
            j += 1
        name, _ = _qualified_name(toks, j)
        if name:
            v.objects = [name]


_PG_ROLE = re.compile(r"^pg_(read_all|write_all|read_server|write_server|execute_server|signal|monitor|checkpoint|create_subscription|database_owner|maintain|use_reserved)", re.I)


def _grant(toks: list[Tok], v: SqlVerdict, cats: set[str]) -> None:
    words = [t.text for t in toks if t.kind == "word"]
    idents = [t.text.lower() if t.kind == "word" else t.text for t in toks if t.kind in _NAME_KINDS]
    on = "ON" in words
    if len(words) > 1 and words[1] == "ALL":
        cats.add(PRIVILEGE_ESCALATE)
    if not on:
        # GRANT role TO user: role membership
        granted = idents[1 : idents.index("to")] if "to" in idents else idents[1:2]
        if any(_PG_ROLE.match(g) or g in ("postgres", "rds_superuser", "cloudsqlsuperuser", "azure_pg_admin", "admin") for g in granted):
            cats.add(PRIVILEGE_ESCALATE)
        v.objects = granted
    elif "SUPER" in words or ("WITH" in words and "GRANT" in words[1:] and "OPTION" in words and words[1] == "ALL"):
        cats.add(PRIVILEGE_ESCALATE)


_SCOPES = ("GLOBAL", "SESSION", "LOCAL", "PERSIST", "PERSIST_ONLY", "SYSTEM")


def _set(toks: list[Tok], i: int, cats: set[str]) -> None:
    """SET [GLOBAL|SESSION|LOCAL] name {=|TO} value [, ...]; flags weaker logging."""
    cats.add(_LITERAL)
    n = len(toks)
    while i < n:
        while i < n and ((toks[i].kind == "word" and toks[i].text in _SCOPES) or toks[i].text in ("@", ".")):
            i += 1  # SET GLOBAL x / SET @@session.x
        name_parts: list[str] = []
        while i < n and toks[i].kind in _NAME_KINDS:
            name_parts.append(toks[i].text.upper())
            if i + 1 < n and toks[i + 1].kind == "op" and toks[i + 1].text == ".":
                i += 2
                continue
            i += 1
            break
        while name_parts and name_parts[0] in _SCOPES:
            name_parts.pop(0)
        name = ".".join(name_parts)
        if i < n and ((toks[i].kind == "op" and toks[i].text in ("=", ":")) or (toks[i].kind == "word" and toks[i].text == "TO")):
            i += 1
            if i < n and toks[i].text == "=":  # :=
                i += 1
        vals: list[str] = []
        depth = toks[i].depth if i < n else 0
        while i < n and not (toks[i].kind == "op" and toks[i].text in (";",)):
            t = toks[i]
            if t.kind == "op" and t.text == "," and t.depth == depth and not name.startswith("PGAUDIT."):
                i += 1
                break  # next assignment (pgaudit.log values are themselves comma lists in one string)
            if t.kind == "op" and t.text == "-" and i + 1 < n and toks[i + 1].kind == "num":
                vals.append("-" + toks[i + 1].text)
                i += 2
                continue
            if t.kind in ("str", "word", "num", "qid"):
                vals.append(t.text.upper().strip())
            i += 1
        if name:
            _weak_logging(name, vals, cats)
        if not name:
            break


def _weak_logging(name: str, vals: list[str], cats: set[str]) -> None:
    weak = _WEAK_LOGGING.get(name)
    if weak is None:
        return
    val = vals[0] if vals else ""
    if name == "PGAUDIT.LOG":
        classes = {c.strip() for c in val.split(",")}
        if classes <= {"NONE", "", "-ALL"} or val.startswith("-"):
            cats.add(LOGGING_DISABLE)
        return
    if name == "LOG_MIN_DURATION_STATEMENT":
        if val in weak:
            cats.add(LOGGING_DISABLE)
        return
    if val in weak:
        cats.add(LOGGING_DISABLE)


def _set_config_call(toks: list[Tok], cats: set[str]) -> None:
    # SELECT set_config('pgaudit.log', 'none', false)
    cats.add(_LITERAL)
    strs = [t.text for t in toks if t.kind == "str"]
    if len(strs) >= 2:
        _weak_logging(strs[0].upper(), [strs[1].upper()], cats)


from auditwatch.detectors.sql import fast as _fast  # noqa: E402  (fast path uses classify_full)
