"""The fast path of SQL analysis: verdicts cached by statement shape.

An application sends a few hundred statement shapes with varying literals, so
the shape (the text with every string and number literal replaced) is computed
by one C-level regex substitution and looked up in a bounded dict; only a new
shape is lexed and analysed.

Why this cannot be fooled into a wrong verdict: the shape regex replaces a span
only where the full lexer would see a literal. Statements whose lexing the regex
cannot mirror exactly (comments, dollar quotes, backslashes in PostgreSQL,
non-ASCII text, oversize input) bypass the cache. A verdict that depended on a
literal's value (``SET pgaudit.log = 'none'``, ``WHERE 1 = 1``, dynamic SQL) is
flagged ``sensitive`` by the analysis and never cached. The property tests
check fast path and full parse agree.
"""

from __future__ import annotations

import re

from auditwatch.detectors.sql import classify as _c
from auditwatch.detectors.sql.lexer import NUM

CACHE_MAX = 65_536

_NUM = NUM
# literals only: strings and numbers become "?"
_SHAPE = {
    "postgres": re.compile(r"'(?:[^']|'')*'|" + _NUM),
    "mysql": re.compile(r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|" + _NUM),
}
# Quoted identifiers the shape regex may pass over: plain names. A quote character or a
# number-looking part inside an identifier would be mistaken for a literal, so any
# other quoted identifier sends the statement down the full path.
_IDENT_QUOTE = {"postgres": '"', "mysql": "`"}
_SIMPLE_IDENT = {
    "postgres": re.compile(r'"[A-Za-z_][A-Za-z_0-9$ ]*"'),
    "mysql": re.compile(r"`[A-Za-z_][A-Za-z_0-9$ ]*`"),
}

_cache: dict[tuple[str, str], list[_c.SqlVerdict]] = {}
stats = {"hits": 0, "misses": 0, "bypass": 0}


def _cacheable(sql: str, dialect: str) -> bool:
    """True when the shape regex sees literals exactly where the full lexer does."""
    if len(sql) > _c.MAX_ANALYSED or not sql.isascii() or "/*" in sql or "--" in sql:
        return False
    if dialect == "postgres":
        if "\\" in sql or ("$" in sql and _DOLLAR.search(sql)):
            return False
    elif "#" in sql or "$" in sql:
        return False
    q = _IDENT_QUOTE[dialect]
    n = sql.count(q)
    return n == 0 or n == 2 * len(_SIMPLE_IDENT[dialect].findall(sql))


_DOLLAR = re.compile(r"\$(?!\d)|[A-Za-z_0-9]\$")


def classify(sql: str, dialect: str = "postgres") -> list[_c.SqlVerdict]:
    shape_re = _SHAPE.get(dialect)
    if shape_re is None:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    if not _cacheable(sql, dialect):
        stats["bypass"] += 1
        return _c.classify_full(sql, dialect)
    shape = shape_re.sub("?", sql)
    if "'" in shape or (dialect == "mysql" and '"' in shape):
        # an unterminated string: the lexer reads it to the end, the shape regex cannot
        stats["bypass"] += 1
        return _c.classify_full(sql, dialect)
    key = (dialect, shape)
    hit = _cache.get(key)
    if hit is not None:
        stats["hits"] += 1
        return hit
    stats["misses"] += 1
    out = _c.classify_full(sql, dialect)
    if not any(v.sensitive for v in out):
        if len(_cache) >= CACHE_MAX:
            # drop the oldest quarter (dicts keep insertion order): amortised O(1)
            for k in list(_cache)[: CACHE_MAX // 4]:
                del _cache[k]
        _cache[key] = out
    return out


def clear() -> None:
    _cache.clear()
    for k in stats:
        stats[k] = 0
