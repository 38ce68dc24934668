"""SQL lexing for PostgreSQL and MySQL/MariaDB: tokens, statement splitting,
redaction and fingerprints.

One compiled regex per dialect does the scanning; the Python loop only
handles what a regex cannot (nested block comments, dollar-quote bodies,
MySQL's executable ``/*! ... */`` comments, whose content the server runs).

Dialect differences that matter for evasion:
- PostgreSQL standard strings ``'...'`` take backslashes literally (``'C:\\'`` ends
  there); only ``E'...'`` strings have backslash escapes. ``"x"`` is an identifier.
  Block comments nest.
- MySQL strings take backslash escapes, ``"x"`` is a string, identifiers are
  ``backticked``, ``#`` starts a comment, ``/*! ... */`` is code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

# Numbers, shared with the fast path's shape regex (both must see the same literals):
# hex and binary literals first, so 0xDEADBEEF never leaves as "? xDEADBEEF".
NUM = r"(?<![A-Za-z_0-9$])(?:0[xX][0-9A-Fa-f]+(?![A-Za-z_0-9$])|0[bB][01]+(?![A-Za-z_0-9$])|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"

_COMMON_TAIL = r"""
  | (?P<num>""" + NUM + r""")
  | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9$\x80-\U0010ffff]*)
  | (?P<param>\$\d+|\?|(?<!:):[A-Za-z_]\w*)
  | (?P<op>[^\sA-Za-z_0-9'"`$])
"""

_PG = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lc>--[^\n]*)
  | (?P<bc>/\*)
  | (?P<dq>\$(?P<tag>[A-Za-z_][A-Za-z_0-9]*)?\$)
  | (?P<str>[Ee]'(?:[^'\\]|''|\\.)*(?:'|$)|(?:[BbXxNn]|[Uu]&)?'(?:[^']|'')*(?:'|$))
  | (?P<qid>(?:[Uu]&)?"(?:[^"]|"")*(?:"|$))
    """ + _COMMON_TAIL,
    re.VERBOSE,
)

_MY = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lc>(?:--(?=\s|$)|\#)[^\n]*)
  | (?P<bc>/\*)
  | (?P<str>(?:_[A-Za-z0-9]+)?[BbXxNn]?'(?:[^'\\]|''|\\.)*(?:'|$)|"(?:[^"\\]|""|\\.)*(?:"|$))
  | (?P<qid>`(?:[^`]|``)*(?:`|$))
    """ + _COMMON_TAIL,
    re.VERBOSE,
)

DIALECTS = ("postgres", "mysql")


@dataclass(slots=True)
class Tok:
    kind: str  # word | qid | str | dollar | num | op | param
    text: str  # words: upper-cased; qid: unquoted; str/dollar: the content
    depth: int  # parenthesis depth
    orig: str = ""  # words as written, for the redacted text humans read


def _regex(dialect: str) -> re.Pattern[str]:
    if dialect == "mysql":
        return _MY
    if dialect == "postgres":
        return _PG
    raise ValueError(f"unknown SQL dialect {dialect!r}; one of {', '.join(DIALECTS)}")


def lex(sql: str, dialect: str = "postgres") -> Iterator[tuple[str, str, int, int]]:
    """(kind, text, start, end) for every lexeme; block comments and dollar-quoted
    bodies (text = the body) come whole, whatever they contain."""
    match = _regex(dialect).match
    mysql = dialect == "mysql"
    pos = 0
    n = len(sql)
    exec_comments = 0  # open MySQL /*! ... */ comments: their content is code
    while pos < n:
        if exec_comments and sql.startswith("*/", pos):
            exec_comments -= 1
            yield "ws", "", pos, pos + 2
            pos += 2
            continue
        m = match(sql, pos)
        if m is None:  # pragma: no cover - the op alternative matches any char
            pos += 1
            continue
        kind = m.lastgroup or "op"
        end = m.end()
        if kind == "bc":
            if mysql and (sql.startswith("/*!", pos) or sql.startswith("/*M!", pos)):
                # executable comment: "/*!50001 DROP TABLE t */" runs DROP TABLE t (MariaDB: /*M!)
                end = pos + (3 if sql[pos + 2] == "!" else 4)
                while end < n and sql[end].isdigit():
                    end += 1
                exec_comments += 1
                yield "ws", "", pos, end
            else:
                end = _skip_block_comment(sql, pos, nested=not mysql)
                yield "bc", "", pos, end
        elif kind in ("dq", "tag"):
            delim = m.group("dq")
            close = sql.find(delim, end)
            stop = n if close < 0 else close + len(delim)
            yield "dollar", sql[end : n if close < 0 else close], pos, stop
            end = stop
        else:
            yield kind, m.group(), pos, end
        pos = end


def _skip_block_comment(sql: str, pos: int, nested: bool = True) -> int:
    if not nested:
        close = sql.find("*/", pos + 2)
        return len(sql) if close < 0 else close + 2
    depth = 0
    n = len(sql)
    i = pos
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            j = sql.find("*", i)
            k = sql.find("/", i)
            cand = [x for x in (j, k) if x >= 0]
            if not cand:
                return n
            i = max(min(cand), i + 1) if min(cand) == i else min(cand)
    return n


def tokenize(sql: str, dialect: str = "postgres") -> list[Tok]:
    """Tokens with comments and whitespace removed; dollar bodies kept as one token."""
    out: list[Tok] = []
    depth = 0
    for kind, text, _start, _end in lex(sql, dialect):
        if kind in ("ws", "lc", "bc"):
            continue
        if kind == "dollar":
            out.append(Tok("dollar", text, depth))
        elif kind == "word":
            out.append(Tok("word", text.upper(), depth, text))
        elif kind == "qid":
            out.append(Tok("qid", _unquote_ident(text), depth))
        elif kind == "str":
            out.append(Tok("str", _unquote_string(text, dialect), depth))
        elif kind in ("num", "param"):
            out.append(Tok(kind, text, depth))
        elif text == "(":
            out.append(Tok("op", text, depth))
            depth += 1
        elif text == ")":
            depth = max(0, depth - 1)
            out.append(Tok("op", text, depth))
        else:
            out.append(Tok("op", text, depth))
    return out


def _unquote_ident(text: str) -> str:
    if text[:2] in ('U&', 'u&'):
        text = text[2:]
    q = text[0]
    body = text[1:-1] if len(text) > 1 and text.endswith(q) else text[1:]
    return body.replace(q + q, q)


def _unquote_string(text: str, dialect: str) -> str:
    i = text.find("'")
    if i < 0:  # MySQL "double quoted" string
        i = text.find('"')
    q = text[i]
    body = text[i + 1 :]
    if body.endswith(q):
        body = body[:-1]
    body = body.replace(q + q, q)
    if dialect == "mysql" or text[:1] in "Ee":
        body = re.sub(r"\\(.)", r"\1", body)
    return body


def split_statements(sql: str, dialect: str = "postgres") -> list[str]:
    """Split on top-level semicolons, respecting quotes, dollar quotes and comments."""
    if ";" not in sql:
        # one statement (almost every audit record): without a ';' or a comment marker
        # there is nothing to split and nothing that could be only a comment
        piece = sql.strip()
        if not piece:
            return []
        if "--" not in piece and "/*" not in piece and (dialect != "mysql" or "#" not in piece):
            return [piece]
    parts: list[str] = []
    start = 0
    for kind, text, pos, end in lex(sql, dialect):
        if kind == "op" and text == ";":
            piece = sql[start:pos].strip()
            if piece and has_code(piece, dialect):
                parts.append(piece)
            start = end
    tail = sql[start:].strip()
    if tail and has_code(tail, dialect):
        parts.append(tail)
    return parts


def has_code(piece: str, dialect: str = "postgres") -> bool:
    return any(kind not in ("ws", "lc", "bc") and text != ";" for kind, text, _s, _e in lex(piece, dialect))


def redact(toks: list[Tok]) -> str:
    """The statement with every literal replaced by ``?``; identifiers kept."""
    out: list[str] = []
    for t in toks:
        if t.kind == "word":
            out.append(t.orig or t.text)
        elif t.kind == "qid":
            out.append('"' + t.text.replace('"', '""') + '"')
        elif t.kind in ("str", "num", "dollar", "param"):
            out.append("?")
        else:
            out.append(t.text)
    s = " ".join(out)
    # tidy the common punctuation so humans can read it
    s = s.replace(" ,", ",").replace("( ", "(").replace(" )", ")").replace(" .", ".").replace(". ", ".")
    return _LONG_LISTS.sub("?, ...", s) if len(s) > 200 else s


_LONG_LISTS = re.compile(r"\?(?:, \?)+")


def fingerprint_of(redacted: str) -> str:
    return hashlib.blake2b(redacted.encode(), digest_size=8).hexdigest()
