"""``auditwatch bench guard``: intent analysis against the labelled agent-command corpus.

The corpus (tests/intent/commands.yaml) holds commands a coding agent might run, each
labelled by hand: destructive or not, and the taxonomy categories it should be reported
with. Reported: destructive recall (destructive commands judged destructive), the false
deny rate (commands labelled not destructive but judged destructive, over all of those),
exact category agreement, and the latency of :func:`analyse_command` per command (p50,
p99, max over several passes, after one warm-up pass: the guard runs in a long-lived
hook process, so the SQL classifier's shape cache is warm in practice).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from auditwatch.detectors.intent.shell import analyse_command

RECALL_TARGET = 0.98
FALSE_DENY_TARGET = 0.01
LATENCY_P99_BUDGET_MS = 50.0


def corpus_path() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "intent" / "commands.yaml"


def load_corpus(path: Path | None = None) -> list[dict[str, Any]]:
    p = path or corpus_path()
    if not p.exists():
        raise FileNotFoundError(f"guard corpus not found at {p} (it lives in the source tree's tests/)")
    cases = yaml.safe_load(p.read_text())
    if not isinstance(cases, list):
        raise TypeError(f"{p}: expected a list of commands")
    return cases


def _pct(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return 0.0
    k = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[k]


def evaluate(path: Path | None = None, repeat: int = 20) -> dict[str, Any]:
    """Verdicts and timings of analyse_command over the corpus."""
    cases = load_corpus(path)
    destructive = [c for c in cases if c["destructive"]]
    harmless = [c for c in cases if not c["destructive"]]
    misses: list[dict[str, Any]] = []
    false_denies: list[dict[str, Any]] = []
    category_mismatches: list[dict[str, Any]] = []
    caught = denied = agree = 0
    for c in cases:
        intent = analyse_command(c["cmd"])
        expected = tuple(sorted(c.get("categories") or []))
        row = {"cmd": c["cmd"][:160], "note": c.get("note", ""), "expected": list(expected),
               "got": list(intent.categories)}
        if c["destructive"]:
            if intent.destructive:
                caught += 1
            else:
                misses.append(row)
        elif intent.destructive:
            denied += 1
            false_denies.append(row)
        if intent.categories == expected:
            agree += 1
        else:
            category_mismatches.append(row)
    timings: list[float] = []
    for _ in range(max(1, repeat)):
        for c in cases:
            t0 = time.perf_counter_ns()
            analyse_command(c["cmd"])
            timings.append((time.perf_counter_ns() - t0) / 1e6)
    timings.sort()
    recall = caught / len(destructive) if destructive else 1.0
    false_deny = denied / len(harmless) if harmless else 0.0
    p99 = _pct(timings, 0.99)
    return {
        "commands": len(cases),
        "destructive": len(destructive),
        "harmless": len(harmless),
        "destructive_recall": round(recall, 4),
        "false_deny_rate": round(false_deny, 4),
        "category_agreement": round(agree / len(cases), 4) if cases else 1.0,
        "p50_ms": round(_pct(timings, 0.50), 3),
        "p99_ms": round(p99, 3),
        "max_ms": round(timings[-1], 3) if timings else 0.0,
        "mean_ms": round(statistics.fmean(timings), 3) if timings else 0.0,
        "timed_runs": len(timings),
        "misses": misses,
        "false_denies": false_denies,
        "category_mismatches": category_mismatches,
        "targets_met": recall >= RECALL_TARGET and false_deny <= FALSE_DENY_TARGET
        and p99 < LATENCY_P99_BUDGET_MS,
    }


def render(r: dict[str, Any]) -> str:
    lines = [
        f"guard corpus: {r['commands']} commands ({r['destructive']} destructive, {r['harmless']} not)",
        f"  destructive recall  {r['destructive_recall']:.4f}  (target >= {RECALL_TARGET})",
        f"  false deny rate     {r['false_deny_rate']:.4f}  (target <= {FALSE_DENY_TARGET})",
        f"  category agreement  {r['category_agreement']:.4f}",
        (f"  analyse_command     p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  max {r['max_ms']:.3f} ms"
         f"  ({r['timed_runs']} runs; budget p99 < {LATENCY_P99_BUDGET_MS:.0f} ms)"),
    ]
    for title, key in (("missed", "misses"), ("false deny", "false_denies"),
                       ("category mismatch", "category_mismatches")):
        for row in r[key]:
            lines.append(f"  {title}: {row['cmd']!r} expected {row['expected']} got {row['got']}")
    lines.append("  targets met" if r["targets_met"] else "  TARGETS NOT MET")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m auditwatch.bench.guard_corpus
    print(render(evaluate()))
