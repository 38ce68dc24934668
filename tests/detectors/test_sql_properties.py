"""Properties of the SQL analysis:

- the fast path (shape cache, own lexer, splitter) and the reference path
  (sqlparse parses every statement, same rules) give the same verdicts on
  generated statements of both dialects;
- on any text at all, the cached fast path gives exactly what a from-scratch
  analysis gives (the cache can never be poisoned into a wrong verdict);
- no input up to 1 MB raises, and every one finishes within the deadline.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auditwatch.detectors.sql import classify as full
from auditwatch.detectors.sql import fast, oracle


def key(vs: list[full.SqlVerdict]) -> list[tuple[object, ...]]:
    return [(v.kind, v.categories, tuple(v.objects), v.fingerprint) for v in vs]


# -- a small SQL grammar ---------------------------------------------------------
WORDS = ["orders", "customers", "backups", "archive", "users_bak", "t1", "Data", "sales_2024", "audit"]
COLS = ["id", "email", "status", "total", "created_at", "Name"]


@st.composite
def ident(draw: st.DrawFn, dialect: str) -> str:
    w = draw(st.sampled_from(WORDS + COLS))
    style = draw(st.sampled_from(["plain", "upper", "quoted"]))
    if style == "upper":
        return w.upper()
    if style == "quoted":
        return f'"{w}"' if dialect == "postgres" else f"`{w}`"
    return w


@st.composite
def table(draw: st.DrawFn, dialect: str) -> str:
    t = draw(ident(dialect))
    if draw(st.booleans()):
        return f"{draw(ident(dialect))}.{t}"
    return t


@st.composite
def literal(draw: st.DrawFn, dialect: str) -> str:
    kind = draw(st.sampled_from(["int", "dec", "str", "neg"]))
    if kind == "int":
        return str(draw(st.integers(0, 10**9)))
    if kind == "dec":
        return f"{draw(st.integers(0, 9999))}.{draw(st.integers(0, 99))}"
    if kind == "neg":
        return f"-{draw(st.integers(1, 999))}"
    body = draw(st.text(alphabet="abcXYZ 0189@._-'", max_size=12)).replace("'", "''")
    return f"'{body}'"


@st.composite
def condition(draw: st.DrawFn, dialect: str) -> str:
    c = draw(ident(dialect))
    choice = draw(st.sampled_from(["eq", "cmp", "taut", "and", "or", "null", "self"]))
    if choice == "eq":
        return f"{c} = {draw(literal(dialect))}"
    if choice == "cmp":
        return f"{c} {draw(st.sampled_from(['<', '>', '<=', '>=', '<>']))} {draw(literal(dialect))}"
    if choice == "taut":
        return draw(st.sampled_from(["1 = 1", "TRUE", "1", "'a' = 'a'", "2 > 1", "0 = 1", "'a' = 'b'"]))
    if choice == "self":
        return f"{c} = {c}"
    if choice == "null":
        return f"{c} IS NOT NULL"
    joiner = " AND " if choice == "and" else " OR "
    return joiner.join([f"{c} = {draw(literal(dialect))}", draw(condition(dialect))])


@st.composite
def statement(draw: st.DrawFn, dialect: str) -> str:
    t = draw(table(dialect))
    c = draw(ident(dialect))
    lit = draw(literal(dialect))
    where = f" WHERE {draw(condition(dialect))}" if draw(st.booleans()) else ""
    forms = [
        f"SELECT {c}, {draw(ident(dialect))} FROM {t}{where}",
        f"SELECT * FROM {t}{where} ORDER BY {c} DESC LIMIT {draw(st.integers(1, 99))}",
        f"SELECT {c} FROM {t} WHERE {c} = {lit} FOR UPDATE",
        f"INSERT INTO {t} ({c}) VALUES ({lit})",
        f"UPDATE {t} SET {c} = {lit}{where}",
        f"DELETE FROM {t}{where}",
        f"DROP TABLE {draw(st.sampled_from(['', 'IF EXISTS ']))}{t}{draw(st.sampled_from(['', ' CASCADE']))}",
        f"DROP SCHEMA {draw(ident(dialect))} CASCADE",
        f"TRUNCATE {t}, {draw(table(dialect))}",
        f"ALTER TABLE {t} DROP COLUMN {c}",
        f"ALTER TABLE {t} ADD COLUMN {c} int",
        f"ALTER TABLE {t} RENAME TO {draw(ident(dialect))}",
        f"GRANT SELECT ON {t} TO {draw(ident(dialect))}",
        f"GRANT ALL ON {t} TO {draw(ident(dialect))}",
        f"ALTER ROLE {draw(ident(dialect))} {draw(st.sampled_from(['SUPERUSER', 'NOSUPERUSER', 'LOGIN', 'BYPASSRLS']))}",
        f"CREATE ROLE {draw(ident(dialect))} LOGIN PASSWORD {lit}",
        f"SET {draw(st.sampled_from(['search_path', 'pgaudit.log', 'log_statement', 'sql_log_bin']))} = "
        f"{draw(st.sampled_from(['none', 0, 1, 'all', 'app']))}",
        f"ALTER SYSTEM SET log_statement = {draw(st.sampled_from(['none', 'all', 'ddl']))}",
        f"COPY {t} TO {draw(st.sampled_from(['PROGRAM', '']))} {lit}",
        f"WITH d AS (DELETE FROM {t}{where} RETURNING *) SELECT count(*) FROM d",
    ]
    if dialect == "postgres":
        forms.append(f"SELECT pg_drop_replication_slot({lit})")
        forms.append(f"INSERT INTO {t} ({c}) VALUES ({lit}) ON CONFLICT ({c}) DO UPDATE SET {c} = {lit}")
    else:
        forms.append(f"DELETE FROM {t} LIMIT {draw(st.integers(1, 999))}")
        forms.append(f"INSERT INTO {t} ({c}) VALUES ({lit}) ON DUPLICATE KEY UPDATE {c} = {lit}")
        forms.append(f"RENAME TABLE {t} TO {draw(ident(dialect))}")
    s = draw(st.sampled_from(forms))
    # spacing and comments between tokens, as people and tools write them
    parts = s.split(" ")
    seps = [draw(st.sampled_from([" ", "  ", "\n", "\t", " /* c */ ", " -- note\n"])) for _ in parts[1:]]
    out = parts[0] + "".join(sep + p for sep, p in zip(seps, parts[1:]))
    case = draw(st.sampled_from(["as-is", "lower", "mixed"]))
    if case == "lower":
        out = out.lower()
    elif case == "mixed":
        rnd = random.Random(draw(st.integers(0, 2**16)))
        out = "".join(ch.upper() if rnd.random() < 0.5 and ch.isalpha() else ch for ch in out)
    return out


@st.composite
def script(draw: st.DrawFn, dialect: str) -> str:
    return "; ".join(draw(st.lists(statement(dialect), min_size=1, max_size=3)))


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.sampled_from(["postgres", "mysql"]).flatmap(lambda d: st.tuples(st.just(d), script(d))))
def test_fast_path_agrees_with_the_sqlparse_oracle(case: tuple[str, str]) -> None:
    dialect, sql = case
    got = key(fast.classify(sql, dialect))
    assert got == key(oracle.classify(sql, dialect)), sql
    assert got == key(full.classify_full(sql, dialect)), sql


# The alphabet of everything the lexers treat specially, to hunt for a shape collision.
NASTY = "'\"`$-/*#;\\ \n\tdropDROPtableTABLE delete from where x 0189=()E&U.!"


@settings(max_examples=int(__import__("os").environ.get("AW_FUZZ_EXAMPLES", "1500")), deadline=None)
@given(st.sampled_from(["postgres", "mysql"]), st.text(alphabet=NASTY, max_size=50))
@example("postgres", "SELECT 'C:\\'; DROP TABLE x; --'")
@example("postgres", "/* a /* b */ it's */ DROP TABLE t; SELECT '1'")
@example("mysql", "SELECT 1 /*!50000 ; DROP TABLE t */")
@example("postgres", 'SELECT "it\'s" FROM t WHERE a = \'x\'; DROP TABLE u --\'')
def test_the_cache_never_changes_a_verdict(dialect: str, text: str) -> None:
    # warm the cache with a same-shape sibling first, then compare with a fresh analysis
    sibling = text.replace("0", "1").replace("8", "9")
    fast.classify(sibling, dialect)
    assert key(fast.classify(text, dialect)) == key(full.classify_full(text, dialect)), repr(text)


def test_known_evasions_are_caught() -> None:
    cases = [
        ("postgres", "SELECT 'C:\\'; DROP TABLE x; --'"),  # backslash is literal in standard strings
        ("postgres", "/* a /* nested */ still comment */ DROP TABLE t"),
        ("mysql", "SELECT 1; /*!50000 DROP TABLE t */"),
        ("postgres", "dRoP\n\t/**/TaBlE \"Users\""),
    ]
    for dialect, sql in cases:
        vs = fast.classify(sql, dialect)
        assert any("data.destroy" in v.categories for v in vs), (dialect, sql, [v.to_dict() for v in vs])


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.large_base_example])
@given(st.sampled_from(["postgres", "mysql"]),
       st.sampled_from(["(", "'", '"', "/*", "$$", "-- ", "DROP TABLE t; ", "x,", "\\", "`", "#", "\x00"]),
       st.integers(1, 1_000_000 // 2), st.text(max_size=200))
def test_hostile_input_up_to_1mb_is_bounded(dialect: str, unit: str, reps: int, tail: str) -> None:
    sql = (unit * reps)[:1_000_000] + tail
    vs = fast.classify(sql, dialect)
    assert isinstance(vs, list)
    if len(sql) > full.MAX_ANALYSED:
        assert all(v.truncated for v in vs)
    for v in vs:
        assert len(v.redacted) <= len(sql) * 2 + 16
