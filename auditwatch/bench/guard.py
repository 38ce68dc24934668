"""``auditwatch bench guard``: the pre-tool guard's decisions on the labelled corpus of
agent commands (tests/intent/commands.yaml): destructive recall (destructive commands
not allowed to run: denied, or held for a person), harmless false-deny rate, and the
decision time (analysis + policy, in process; the hook process start is extra)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from auditwatch.guard import GuardPolicy, decide


def corpus_path() -> Path:
    return Path(__file__).resolve().parents[2] / "tests" / "intent" / "commands.yaml"


def run_bench(repeat: int = 20) -> dict[str, Any]:
    cases = yaml.safe_load(corpus_path().read_text())
    policy = GuardPolicy()
    env: dict[str, str] = {"RAILWAY_TOKEN": "t-0000", "AWS_PROFILE": "default"}
    verdicts = []
    times: list[float] = []
    for c in cases:
        ev = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": c["cmd"]}}
        d = decide(ev, policy, env)
        verdicts.append((c, d))
        for _ in range(repeat):
            t0 = time.perf_counter()
            decide(ev, policy, env)
            times.append((time.perf_counter() - t0) * 1000)
    destructive = [(c, d) for c, d in verdicts if c.get("destructive")]
    harmless = [(c, d) for c, d in verdicts if not c.get("destructive") and not c.get("categories")]
    stopped = [d for _, d in destructive if d.decision != "allow"]
    false_deny = [(c, d) for c, d in harmless if d.decision == "deny"]
    q = statistics.quantiles(times, n=100)
    return {
        "commands": len(cases),
        "destructive": len(destructive),
        "harmless": len(harmless),
        "destructive_recall": round(len(stopped) / len(destructive), 4) if destructive else None,
        "destructive_denied": round(sum(d.decision == "deny" for _, d in destructive) / len(destructive), 4),
        "false_deny_rate": round(len(false_deny) / len(harmless), 4) if harmless else None,
        "p50_ms": round(q[49], 3),
        "p99_ms": round(q[98], 3),
        "missed": [c["cmd"][:120] for c, d in destructive if d.decision == "allow"][:10],
        "false_denies": [c["cmd"][:120] for c, _ in false_deny][:10],
    }


def render(r: dict[str, Any]) -> str:
    lines = [f"guard on {r['commands']} agent commands: destructive recall {r['destructive_recall']:.3f} "
             f"(denied {r['destructive_denied']:.3f}), harmless false-deny {r['false_deny_rate']:.3f}, "
             f"decision p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"]
    lines += [f"  missed: {m}" for m in r["missed"]]
    lines += [f"  false deny: {m}" for m in r["false_denies"]]
    return "\n".join(lines)
