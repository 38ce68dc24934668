"""``auditwatch guard``: the hook a coding agent calls before a tool runs.

Claude Code (``PreToolUse``) and Cursor (``beforeShellExecution``,
``beforeMCPExecution``) pipe the hook event as JSON on stdin; the guard answers
in that tool's own format — allow, deny with a reason the agent sees, or ask a
person — within milliseconds. It fails safe: if the policy cannot be evaluated,
a destructive-looking intent is denied and anything else allowed.

Every decision is also recorded for the monitor (a JSON line appended to the
spool file the monitor follows as the ``agent-hooks`` source, and/or a POST to
its ``/ingest``), so a denied attempt raises an alert, and a provider's audit
event using the same credential later is joined to this agent session.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DESTROY = {"data.destroy", "backup.destroy", "infra.destroy", "key.destroy", "logging.disable"}
ALWAYS_DENY = {"backup.destroy", "logging.disable", "key.destroy"}  # anywhere: nobody asked an agent to
ASK = {"privilege.escalate", "credential.create", "exec.dangerous"}
PROTECTED = {"prod", "production", "prd", "live"}
# fail-safe: if analysis breaks, these words mean "could be destructive"
_DANGER = re.compile(r"(?i)\b(drop|truncate|delete|destroy|rm\s+-[a-z]*r|volumeDelete|serviceDelete|"
                     r"environmentDelete|projectDelete|dropdb|rb\s+--force|terminate|uninstall|prune|mkfs)\b")


@dataclass
class GuardPolicy:
    agent_id: str = ""
    owner: str = ""
    protected_environments: set[str] = field(default_factory=lambda: set(PROTECTED))
    scope_environments: set[str] = field(default_factory=set)  # the task's environments ("" = any)
    allowed_credentials: set[str] = field(default_factory=set)  # fingerprints issued to this agent ("" = any)
    spool: str = ""
    monitor_url: str = ""

    @classmethod
    def from_config(cls, path: str | None) -> GuardPolicy:
        p = cls(agent_id=os.environ.get("AUDITWATCH_AGENT", ""), owner=os.environ.get("AUDITWATCH_AGENT_OWNER", ""),
                spool=os.environ.get("AUDITWATCH_GUARD_SPOOL", ""), monitor_url=os.environ.get("AUDITWATCH_MONITOR_URL", ""))
        if not path:
            return p
        import yaml

        doc = (yaml.safe_load(Path(path).read_text()) or {}).get("guard", {})
        if not isinstance(doc, dict):
            raise ValueError(f"{path}: 'guard' must be a mapping")
        p.agent_id = str(doc.get("agent", p.agent_id) or p.agent_id)
        p.owner = str(doc.get("owner", p.owner) or p.owner)
        p.protected_environments = set(doc.get("protected_environments", p.protected_environments))
        p.scope_environments = set(doc.get("scope_environments", []))
        p.allowed_credentials = set(doc.get("allowed_credentials", []))
        p.spool = str(doc.get("spool", p.spool) or "")
        p.monitor_url = str(doc.get("monitor_url", p.monitor_url) or "")
        return p


@dataclass
class Decision:
    decision: str  # allow | deny | ask
    reason: str
    categories: tuple[str, ...] = ()
    summary: str = ""
    credentials: list[dict[str, str]] = field(default_factory=list)
    environment: str = ""


def _to_analyse(event: dict[str, Any]) -> tuple[str, str]:
    """(kind, text) the hook asks about: a shell command, or SQL/arguments of an MCP tool."""
    tool = str(event.get("tool_name") or "")
    ti = event.get("tool_input") if isinstance(event.get("tool_input"), dict) else {}
    if event.get("command"):  # Cursor beforeShellExecution
        return "shell", str(event["command"])
    if tool in ("Bash", "shell", "run_terminal_cmd") or "command" in ti:
        return "shell", str(ti.get("command", ""))
    if tool.startswith("mcp__") or event.get("hook_event_name") == "beforeMCPExecution":
        args = ti or event.get("tool_input") or event.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {"input": args}
        for k in ("sql", "query", "statement"):
            if isinstance(args, dict) and isinstance(args.get(k), str):
                return "sql", args[k]
        return "shell", " ".join(str(v) for v in (args.values() if isinstance(args, dict) else [args])
                                 if isinstance(v, str))
    return "none", ""


def decide(event: dict[str, Any], policy: GuardPolicy, env: dict[str, str] | None = None) -> Decision:
    kind, text = _to_analyse(event)
    if kind == "none" or not text.strip():
        return Decision("allow", "nothing to judge in this tool call")
    try:
        if kind == "sql":
            from auditwatch.detectors.sql.classify import classify

            vs = classify(text)
            cats = tuple(sorted({c for v in vs for c in v.categories}))
            summary = "; ".join(v.redacted for v in vs)[:300]
            creds: list[dict[str, str]] = []
            env_hint = ""
        else:
            from auditwatch.detectors.intent.shell import analyse_command

            it = analyse_command(text, env if env is not None else dict(os.environ))
            cats = it.categories
            summary = "; ".join(f.summary for f in it.actions if f.categories)[:300] or it.redacted[:300]
            creds = [_cred(c, env) for c in it.credentials]
            env_hint = next((f.environment_hint for f in it.actions if f.environment_hint), "")
    except Exception as e:  # fail safe: destructive-looking is denied, the rest allowed
        if _DANGER.search(text):
            return Decision("deny", f"auditwatch could not evaluate this command ({type(e).__name__}); "
                                    "it looks destructive, so it is denied")
        return Decision("allow", f"auditwatch could not evaluate this command ({type(e).__name__}); "
                                 "nothing destructive in it")
    d = Decision("allow", "no destructive or sensitive intent", cats, summary, creds, env_hint)
    destroy = DESTROY.intersection(cats)
    foreign = [c for c in creds if policy.allowed_credentials and c["fingerprint"] not in policy.allowed_credentials]
    if foreign:
        d.decision, d.reason = "deny", (f"uses a credential not issued to this agent ({foreign[0]['name'] or foreign[0]['kind']}, "
                                        f"fingerprint {foreign[0]['fingerprint']})")
    elif env_hint and policy.scope_environments and env_hint not in policy.scope_environments:
        d.decision, d.reason = "deny", f"touches {env_hint}, outside this task's scope ({', '.join(sorted(policy.scope_environments))})"
    elif destroy & ALWAYS_DENY:
        d.decision, d.reason = "deny", f"would {', '.join(sorted(destroy))}: an agent may never do this"
    elif destroy and (not env_hint or env_hint in policy.protected_environments):
        where = env_hint or "an environment auditwatch cannot tell is not production"
        d.decision, d.reason = "deny", f"would {', '.join(sorted(destroy))} in {where}: {summary[:160]}"
    elif destroy:
        d.decision, d.reason = "ask", f"would {', '.join(sorted(destroy))} in {env_hint}: a person must approve"
    elif ASK.intersection(cats):
        d.decision, d.reason = "ask", f"{', '.join(sorted(ASK.intersection(cats)))}: a person must approve"
    return d


def _cred(c: Any, env: dict[str, str] | None) -> dict[str, str]:
    out = {"kind": c.kind, "fingerprint": c.fingerprint, "source": c.source, "name": c.name}
    e = env if env is not None else os.environ
    if c.name and c.name in e:  # also the form platforms log (GitHub: base64 of the token's SHA-256)
        out["sha256_b64"] = base64.b64encode(hashlib.sha256(e[c.name].encode()).digest()).decode()
    return out


def respond(event: dict[str, Any], d: Decision) -> tuple[str, int]:
    """The answer in the calling tool's own hook protocol: (stdout, exit code)."""
    hook = str(event.get("hook_event_name") or "")
    reason = f"auditwatch: {d.reason}"
    if hook in ("beforeShellExecution", "beforeMCPExecution", "beforeReadFile"):  # Cursor
        return json.dumps({"permission": d.decision, "userMessage": reason, "agentMessage": reason}), 0
    if hook == "PreToolUse" or "tool_name" in event:  # Claude Code
        return json.dumps({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": d.decision,
                                                  "permissionDecisionReason": reason}}), 0
    return json.dumps({"decision": d.decision, "reason": reason}), 0


def record(event: dict[str, Any], d: Decision, policy: GuardPolicy, now: float) -> dict[str, Any]:
    """What the monitor receives: the decision, never a secret or the raw command."""
    return {
        "auditwatch_guard": 1,
        "time": now,
        "agent": {"id": policy.agent_id or _agent_from(event), "owner": policy.owner or os.environ.get("USER", ""),
                  "session": str(event.get("session_id") or event.get("conversation_id") or ""),
                  "tool": str(event.get("tool_name") or event.get("hook_event_name") or ""),
                  "cwd": str(event.get("cwd") or (event.get("workspace_roots") or [""])[0] or "")},
        "decision": d.decision,
        "reason": d.reason,
        "categories": list(d.categories),
        "summary": d.summary,
        "environment": d.environment,
        "credentials": d.credentials,
    }


def _agent_from(event: dict[str, Any]) -> str:
    if "conversation_id" in event or str(event.get("hook_event_name", "")).startswith("before"):
        return "agent:cursor"
    if "tool_name" in event:
        return "agent:claude-code"
    return "agent:unknown"


def ship(rec: dict[str, Any], policy: GuardPolicy) -> None:
    """Best effort, bounded: a monitor that is down must not slow the agent's hook."""
    line = json.dumps(rec) + "\n"
    if policy.spool:
        try:
            with open(policy.spool, "a") as f:
                f.write(line)
        except OSError as e:
            print(f"auditwatch guard: cannot write the spool {policy.spool}: {e}", file=sys.stderr)
    if policy.monitor_url:
        import urllib.request

        try:
            req = urllib.request.Request(policy.monitor_url.rstrip("/") + "/ingest?format=agent-hooks",
                                         data=line.encode(), method="POST",
                                         headers={"content-type": "application/json", **(
                                             {"authorization": f"Bearer {os.environ['AUDITWATCH_INGEST_TOKEN']}"}
                                             if os.environ.get("AUDITWATCH_INGEST_TOKEN") else {})})
            urllib.request.urlopen(req, timeout=0.3).read()  # noqa: S310 - a configured local monitor
        except Exception as e:
            print(f"auditwatch guard: monitor not reached ({type(e).__name__})", file=sys.stderr)


def main(config: str | None, raw: str) -> int:
    t0 = time.perf_counter()
    try:
        event = json.loads(raw) if raw.strip() else {}
        if not isinstance(event, dict):
            raise ValueError("the hook event is not a JSON object")
    except ValueError as e:
        # not even the event could be read: deny only if the text looks destructive
        d = Decision("deny" if _DANGER.search(raw) else "allow", f"unreadable hook event ({e})")
        out, code = respond({}, d)
        print(out)
        return code
    try:
        policy = GuardPolicy.from_config(config)
    except Exception as e:
        policy = GuardPolicy()
        print(f"auditwatch guard: policy not loaded ({e}); using the defaults", file=sys.stderr)
    d = decide(event, policy)
    out, code = respond(event, d)
    print(out, flush=True)
    rec = record(event, d, policy, time.time())
    rec["decision_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    ship(rec, policy)
    return code
