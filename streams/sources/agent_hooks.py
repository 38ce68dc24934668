"""The agent's own trail: decisions of ``auditwatch guard`` (and raw hook events of
Claude Code, Cursor or any framework using the generic shape) as events.

Generic shape, for LangChain/LangGraph callbacks, the OpenAI Agents SDK, MCP proxies:
``{"agent": {"id", "owner", "session", "tool", "cwd"}, "time": epoch seconds,
"command" | "sql" | "summary": what it runs, "categories": [...] (optional),
"credentials": [{"fingerprint", "sha256_b64"?, "name"?}] (optional)}``.

These events are the agent's own word about itself: attribution takes them as an
agent (the platform-declared marker), with its owner. A guard decision of
``deny`` is recorded as a failed action (it did not run) whose error says the
guard denied it: the rule agent-guard-denied alerts on it.
"""

from __future__ import annotations

import time
from typing import Any

from auditwatch.errors import ParseError
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.streams.sources.base import Item, ParseContext, stable_id
from auditwatch.streams.sources.json_records import JsonLinesParser
from auditwatch.streams.sources.registry import SourceSpec, register

TYPE = "agent-hooks"
DENIED = "denied by auditwatch guard"


def is_record(obj: Any) -> bool:
    return isinstance(obj, dict) and (obj.get("auditwatch_guard") == 1 or (
        isinstance(obj.get("agent"), dict) and any(k in obj for k in ("command", "sql", "summary"))) or (
        "hook_event_name" in obj and ("tool_name" in obj or "command" in obj)))


def normalise(obj: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
    if not isinstance(obj, dict):
        raise ParseError("not an agent hook record")
    if "hook_event_name" in obj and obj.get("auditwatch_guard") != 1:
        obj = _from_raw_hook(obj)
    agent = obj.get("agent") if isinstance(obj.get("agent"), dict) else {}
    try:
        t = float(obj.get("time") or ctx.observed or time.time())
    except (TypeError, ValueError):
        raise ParseError("time is not epoch seconds") from None
    decision = str(obj.get("decision") or "observed")
    creds = [c for c in obj.get("credentials") or [] if isinstance(c, dict)]
    actor = Actor(principal=str(agent.get("id") or "agent:unknown"), principal_type="agent-session",
                  session_id=str(agent.get("session") or ""),
                  credential_id=f"fp:{creds[0]['fingerprint']}" if creds and creds[0].get("fingerprint") else "")
    actor.tags["actor_kind"] = "agent"
    if agent.get("owner"):
        actor.tags["on-behalf-of"] = str(agent["owner"])
    for i, c in enumerate(creds[:4]):
        actor.tags[f"token_fp{i or ''}"] = str(c.get("fingerprint", ""))
        if c.get("sha256_b64"):
            actor.tags[f"token_sha256{i or ''}"] = str(c["sha256_b64"])
    summary = str(obj.get("summary") or obj.get("command") or obj.get("sql") or "")[:500]
    cats = tuple(sorted(str(c) for c in obj.get("categories") or []))
    action = Action(name=f"{agent.get('tool') or 'tool'}:{decision}", service="agent",
                    outcome="failure" if decision == "deny" else ("unknown" if decision == "ask" else "success"),
                    error=f"{DENIED}: {obj.get('reason', '')}"[:300] if decision == "deny" else "",
                    categories=cats, statement=summary, fingerprint=decision)
    ev = Event(event_id=stable_id("agent", agent.get("session"), t, summary, decision),
               time=t, observed_time=ctx.observed or time.time(), source=ref, actor=actor, action=action,
               resource=Resource(type="workspace", name=str(agent.get("cwd") or ""),
                                 environment=str(obj.get("environment") or ctx.environment)),
               activity="api", raw=obj)
    return [ev]


def _from_raw_hook(h: dict[str, Any]) -> dict[str, Any]:
    """A raw Claude Code / Cursor hook event: the intent is analysed here."""
    from auditwatch.guard import GuardPolicy, decide, record

    d = decide(h, GuardPolicy(), env={})
    rec = record(h, d, GuardPolicy(), time.time())
    rec["decision"] = "observed"  # the monitor saw it; the guard (if any) decided
    return rec


SPEC = register(SourceSpec(
    name=TYPE, aliases=("guard", "claude-code-hooks", "cursor-hooks"),
    sniff=lambda head: head.lstrip()[:1] == b"{" and (b'"auditwatch_guard"' in head[:2000]
                                                      or b'"hook_event_name"' in head[:2000]),
    line_parser=lambda ctx: JsonLinesParser(ctx, only=SPEC),
    is_record=is_record, normalise=normalise, priority=30,
))
