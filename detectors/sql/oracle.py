"""The reference path: every statement fully parsed by sqlparse, then judged by
the same rules (``classify.verdict_of``).

It is slow (sqlparse costs about half a millisecond a statement) and is not
used on the stream. It exists to keep the fast path honest: the property tests
and ``auditwatch bench sql`` compare its verdicts with the fast path's, so
neither the shape cache, the hand-written lexer nor the splitter can change a
verdict unnoticed. Input is capped like the fast path's (sqlparse has had
recursion and ReDoS CVEs on huge or deeply nested input: CVE-2023-30608,
CVE-2024-4340).
"""

from __future__ import annotations

import sqlparse
from sqlparse import tokens as T

from auditwatch.detectors.sql.classify import MAX_ANALYSED, SqlVerdict, verdict_of
from auditwatch.detectors.sql.lexer import Tok


def classify(sql: str, dialect: str = "postgres") -> list[SqlVerdict]:
    truncated = len(sql) > MAX_ANALYSED
    text = sql[:MAX_ANALYSED] if truncated else sql
    out = []
    for stmt in sqlparse.parse(text):
        toks = _tokens(stmt, dialect)
        while toks and toks[-1].kind == "op" and toks[-1].text == ";":
            toks.pop()
        if not toks:
            continue
        v = verdict_of(toks, dialect, truncated)
        out.append(v)
    return out


def _tokens(stmt: sqlparse.sql.Statement, dialect: str) -> list[Tok]:
    out: list[Tok] = []
    depth = 0

    def op(ch: str) -> None:
        nonlocal depth
        if ch == "(":
            out.append(Tok("op", ch, depth))
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
            out.append(Tok("op", ch, depth))
        else:
            out.append(Tok("op", ch, depth))

    for tok in stmt.flatten():
        tt, val = tok.ttype, tok.value
        if tt in T.Whitespace or tt in T.Comment or tt is T.Newline:
            continue
        if tt in T.Literal.String.Single:
            q = val[0]
            body = val[1:-1] if len(val) > 1 and val.endswith(q) else val[1:]
            body = body.replace(q + q, q)
            if dialect == "mysql":
                body = _unescape(body)
            out.append(Tok("str", body, depth))
        elif tt in T.Literal.String.Symbol:  # "..."
            body = val[1:-1].replace('""', '"')
            out.append(Tok("str" if dialect == "mysql" else "qid", _unescape(body) if dialect == "mysql" else body, depth))
        elif tt in T.Literal.Number:
            if val.startswith("-"):
                op("-")
                val = val[1:]
            out.append(Tok("num", val, depth))
        elif tt is T.Literal:  # dollar-quoted body
            tag_end = val.index("$", 1) + 1
            out.append(Tok("dollar", val[tag_end : len(val) - tag_end], depth))
        elif tt in T.Name.Placeholder:
            if val.startswith("%"):
                op("%")
                out.append(Tok("word", val[1:].upper(), depth, val[1:]))
            else:
                out.append(Tok("param", val, depth))
        elif tt in T.Name and val.startswith("`"):
            out.append(Tok("qid", val[1:-1].replace("``", "`"), depth))
        elif tt in T.Keyword or tt in T.Name or tt in T.Name.Builtin:
            for w in val.split():  # "ORDER BY", "NOT NULL", "CREATE OR REPLACE" ...
                out.append(Tok("word", w.upper(), depth, w))
        else:  # punctuation, operators, errors: one op per character, as the fast lexer
            for ch in val:
                if not ch.isspace():
                    op(ch)
    return out


def _unescape(body: str) -> str:
    import re

    return re.sub(r"\\(.)", r"\1", body)
