"""``auditwatch bench sql``: the fast path against parse-every-statement.

The mix imitates a busy database's log: a few hundred statement shapes of
parameterised SELECT/INSERT/UPDATE/DELETE (plain and ORM-quoted, PostgreSQL and
MySQL) with varying literals, and about 1% destructive statements. The naive
baseline is the oracle: sqlparse parses every statement and the same rules
judge it. Both run in the same process on the same statements; agreement is
the fraction of statements with identical verdicts (kind, categories, objects,
fingerprint).
"""

from __future__ import annotations

import random
import resource
import time
from typing import Any

from auditwatch.detectors.sql import classify as full
from auditwatch.detectors.sql import fast, oracle

TABLES = ["orders", "customers", "invoices", "line_items", "sessions", "events", "users", "payments",
          "shipments", "products", "carts", "coupons", "audit_trail", "accounts", "tickets"]
COLUMNS = ["id", "status", "email", "total", "created_at", "customer_id", "name", "amount", "kind", "note"]
DESTRUCTIVE = [
    "DROP TABLE {t}", "TRUNCATE {t}", "DELETE FROM {t}", "UPDATE {t} SET {c} = {v}",
    "DROP SCHEMA backups CASCADE", "ALTER TABLE {t} DROP COLUMN {c}", "DELETE FROM {t} WHERE 1 = 1",
    "ALTER SYSTEM SET log_statement = 'none'", "DROP TABLE IF EXISTS {t}_archive", "TRUNCATE TABLE {t}",
]


NAMES = ["alice", "bob", "o''brien", "dana"]  # o''brien: a quote, escaped as SQL does
WORDS = ["shipped", "pending", "new", "o''brien", "2026-04-24 09:00:00"]


def _lit(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.45:
        return str(rng.randrange(1, 10**7))
    if r < 0.55:
        return f"{rng.randrange(10**4)}.{rng.randrange(100):02d}"
    if r < 0.7:
        return f"'{rng.choice(NAMES)}{rng.randrange(10**5)}@example.com'"
    return f"'{rng.choice(WORDS)}'"


def _shapes(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """(dialect, template with {v} placeholders for literals)."""
    out = []
    for _ in range(n):
        t = rng.choice(TABLES)
        cs = rng.sample(COLUMNS, 3)
        orm = rng.random() < 0.4
        dialect = "mysql" if rng.random() < 0.25 else "postgres"
        q = ('`{}`' if dialect == "mysql" else '"{}"') if orm else "{}"
        T, C = q.format(t), [q.format(c) for c in cs]
        kind = rng.random()
        if kind < 0.5:
            where = f"{C[0]} = {{v}}" + (f" AND {C[1]} > {{v}}" if rng.random() < 0.5 else "")
            tail = f" ORDER BY {C[2]} DESC LIMIT {{v}}" if rng.random() < 0.4 else ""
            s = f"SELECT {', '.join(C)} FROM {T} WHERE {where}{tail}"
        elif kind < 0.75:
            s = f"INSERT INTO {T} ({', '.join(C)}) VALUES ({{v}}, {{v}}, {{v}})"
        elif kind < 0.95:
            s = f"UPDATE {T} SET {C[0]} = {{v}}, {C[1]} = {{v}} WHERE {C[2]} = {{v}}"
        else:
            s = f"DELETE FROM {T} WHERE {C[0]} = {{v}}"
        if dialect == "postgres" and rng.random() < 0.2:
            s = s.replace("{v}", "$1", 1)
        out.append((dialect, s))
    return out


def workload(n: int, shapes: int = 300, seed: int = 11) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    sh = _shapes(rng, shapes)
    out = []
    for _ in range(n):
        if rng.random() < 0.01:
            tmpl = rng.choice(DESTRUCTIVE).format(t=rng.choice(TABLES), c=rng.choice(COLUMNS), v="{v}")
            dialect = rng.choice(["postgres", "mysql"])
        else:
            dialect, tmpl = rng.choice(sh)
        while "{v}" in tmpl:
            tmpl = tmpl.replace("{v}", _lit(rng), 1)
        out.append((dialect, tmpl))
    return out


def _key(vs: list[full.SqlVerdict]) -> list[tuple[Any, ...]]:
    return [(v.kind, v.categories, tuple(v.objects), v.fingerprint) for v in vs]


def run_bench(n: int = 50_000) -> dict[str, Any]:
    stmts = workload(n)
    # warm the code (lazy regex compiles, allocator) on other statements, then start cold
    for d, s in workload(500, seed=99):
        fast.classify(s, d)
    fast.clear()
    t0 = time.perf_counter()
    fast_out = [fast.classify(s, d) for d, s in stmts]
    t_fast = time.perf_counter() - t0
    hits, misses, bypass = fast.stats["hits"], fast.stats["misses"], fast.stats["bypass"]
    t0 = time.perf_counter()
    full_out = [full.classify_full(s, d) for d, s in stmts[: n // 4]]
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    oracle_out = [oracle.classify(s, d) for d, s in stmts]
    t_oracle = time.perf_counter() - t0
    agree = sum(_key(a) == _key(b) for a, b in zip(fast_out, oracle_out))
    disagreements = [s for (d, s), a, b in zip(stmts, fast_out, oracle_out) if _key(a) != _key(b)][:5]
    destructive = sum(1 for vs in fast_out if any(v.categories for v in vs))
    fast_ps, oracle_ps = n / t_fast, n / t_oracle
    return {
        "statements": n,
        "destructive": destructive,
        "fast_per_s": round(fast_ps, 1),
        "full_lexer_per_s": round(len(full_out) / t_full, 1),
        "oracle_per_s": round(oracle_ps, 1),
        "speedup": round(fast_ps / oracle_ps, 1),
        "agreement": agree / n,
        "cache": {"hits": hits, "misses": misses, "bypass": bypass},
        "disagreements": disagreements,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def render(r: dict[str, Any]) -> str:
    c = r["cache"]
    return (f"SQL analysis on {r['statements']} statements ({r['destructive']} destructive):\n"
            f"  fast path   {r['fast_per_s']:>12,.0f} statements/s  (cache hits {c['hits']}, misses {c['misses']}, "
            f"bypass {c['bypass']})\n"
            f"  full lexer  {r['full_lexer_per_s']:>12,.0f} statements/s  (no cache)\n"
            f"  sqlparse    {r['oracle_per_s']:>12,.0f} statements/s  (parse every statement: the naive baseline)\n"
            f"  speedup {r['speedup']}x, agreement {r['agreement']:.4f}, peak RSS {r['peak_rss_mb']} MB")
