"""Block Kit cards for incidents, readable in five seconds.

Who acted (identity, kind and confidence, owner), what they did (action, the
redacted SQL or API summary, resources, environment), when (event time, shown
in the reader's time zone), why it alerted (rule, ATT&CK, reason) and what
auditwatch did about it (revoked, or the policy reason it did not) — then
Acknowledge / Revoke now / Dismiss.

Everything that came from a log is untrusted. Slack's mrkdwn has no escape
character, so two renderings are used:

* ``code(s)``: identifiers, resources and SQL go into inline code spans, where
  Slack applies no formatting and no auto-linking; backticks in the value are
  replaced so the span cannot be closed early.
* ``prose(s)``: free text (reasons, owners) keeps its words but loses
  formatting: ``*``, ``~`` and backticks become look-alikes, an ``_`` that could
  open or close italics becomes a full-width low line (``snake_case`` stays).

Both escape ``&``, ``<`` and ``>`` as Slack requires, so ``<!channel>``,
``<@U123>`` or ``<http://evil|click>`` in a log render as text and notify no
one; control and bidi-override characters are shown as ``\\xNN`` / ``\\uNNNN``;
every text object is ``verbatim`` (no auto-linking of bare URLs or names).
Lengths are capped after escaping, so a long value is truncated with ``…``
instead of making Slack reject the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

MAX_BLOCKS = 50
MAX_ALERTS_SHOWN = 8  # 3 blocks + a divider each, plus the frame: well under 50
MAX_EVIDENCE_SHOWN = 3
FIELD_LIMIT = 1900  # Slack: 2000 per section field
SECTION_LIMIT = 2900  # Slack: 3000 per section text
CONTEXT_LIMIT = 1900
HEADER_LIMIT = 150
FALLBACK_LIMIT = 3000  # notifications show a line or two; Slack truncates at 40,000

ACTION_ACK = "aw_ack"
ACTION_REVOKE = "aw_revoke"
ACTION_DISMISS = "aw_dismiss"
ACTION_IDS = (ACTION_ACK, ACTION_REVOKE, ACTION_DISMISS)

SEVERITY_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
STATUS_MARK = {
    "open": "open",
    "acknowledged": "acknowledged ✋",
    "resolved": "resolved ✅",
    "dismissed": "dismissed 🚫",
}
_ATTACK_ID = re.compile(r"^(?:T[AS]?\d{4}(?:\.\d{3})?)$")

# C0/C1 controls (except tab/newline, which whitespace handling folds), zero-width and
# bidi-override characters (they make "DROP" look like something else)
_INVISIBLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_WS = re.compile(r"\s+")
# an underscore that could open or close italics: not between two word characters
_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


# -- escaping -----------------------------------------------------------------
def escape(text: object) -> str:
    """Slack's three entities, applied to any string that ends up in mrkdwn."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _visible(text: object) -> str:
    def show(m: re.Match[str]) -> str:
        c = ord(m.group())
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _WS.sub(" ", _INVISIBLE.sub(show, "" if text is None else str(text))).strip()


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(n - 1, 0)] + "…"


def _fit(raw: str, limit: int, render: Callable[[str], str]) -> str:
    """render(raw), truncating raw until the rendered form is at most limit characters."""
    out = render(raw)
    n = len(raw)
    while len(out) > limit and n > 0:
        n = max(0, min(n - 1, n * limit // len(out)))
        out = render(_clip(raw, n))
    return out


def _neutralise(text: str) -> str:
    text = text.replace("*", "∗").replace("~", "∼").replace("`", "ˋ")
    return _EDGE_UNDERSCORE.sub("＿", text)


def prose(text: object, limit: int = 600) -> str:
    """Untrusted free text as mrkdwn: escaped, formatting neutralised, one line, capped."""
    return _fit(_visible(text), limit, lambda s: escape(_neutralise(s)))


def code(text: object, limit: int = 300) -> str:
    """Untrusted identifier or SQL as an inline code span (no formatting, no links inside)."""
    raw = _visible(text).replace("`", "ˋ")
    if not raw:
        return "—"
    return _fit(raw, limit, lambda s: f"`{escape(s)}`")


def plain(text: object, limit: int) -> str:
    """Text for plain_text objects (no mrkdwn parsing): visible characters, capped."""
    return _clip(_visible(text), limit)


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text, verbatim=True)


# -- fields -------------------------------------------------------------------
def _when(iso_time: object) -> str:
    """Event time in each reader's own time zone, with the UTC string as fallback."""
    s = _visible(iso_time)
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return prose(s, 100) or "unknown"
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    fallback = escape(t.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return f"<!date^{int(t.timestamp())}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def who(identity: dict[str, Any]) -> str:
    conf = identity.get("confidence")
    try:
        sure = f" ({float(conf):.0%} sure)" if conf is not None else ""
    except (TypeError, ValueError):
        sure = ""
    owner = identity.get("owner")
    owner_txt = f"owner {prose(owner, 300)}" if owner else "no owner on record"
    return (
        f"*Who*\n{code(identity.get('id'), 700)}\n"
        f"{prose(identity.get('kind') or 'unknown', 40)}{sure} · {owner_txt}"
    )


def _dict(o: object) -> dict[str, Any]:
    return o if isinstance(o, dict) else {}


def _resource(r: dict[str, Any]) -> str:
    name = r.get("name") or ""
    db = r.get("database") or ""
    label = f"{db}.{name}" if db and name and not name.startswith(db + ".") else (name or db)
    if label:
        return code(label, 200)
    return prose(r.get("type") or "unknown resource", 60)


def what(alert: dict[str, Any]) -> str:
    ev = [e for e in (alert.get("evidence") or []) if isinstance(e, dict)]
    lines = []
    for e in ev[:MAX_EVIDENCE_SHOWN]:
        res = _dict(e.get("resource"))
        failed = " (failed)" if e.get("outcome") == "failure" else ""
        lines.append(f"{code(e.get('action'), 120)} on {_resource(res)}{failed}")
    if len(ev) > MAX_EVIDENCE_SHOWN:
        lines.append(f"+{len(ev) - MAX_EVIDENCE_SHOWN} more")
    return "*What*\n" + ("\n".join(lines) or "no evidence attached")


def where(alert: dict[str, Any]) -> str:
    envs: list[str] = []
    regions: list[str] = []
    for e in alert.get("evidence") or []:
        r = _dict(e.get("resource")) if isinstance(e, dict) else {}
        for val, acc in ((r.get("environment"), envs), (r.get("region"), regions)):
            if val and val not in acc:
                acc.append(str(val))
    env = ", ".join(code(x, 60) for x in envs[:5]) or "environment unknown"
    reg = (" · " + ", ".join(code(x, 40) for x in regions[:3])) if regions else ""
    return f"*Environment*\n{env}{reg}"


def statements(alert: dict[str, Any]) -> str | None:
    out = []
    for e in (alert.get("evidence") or [])[:MAX_EVIDENCE_SHOWN]:
        if isinstance(e, dict) and e.get("statement"):
            out.append(code(e["statement"], 700))
    return ("*SQL / API*\n" + "\n".join(out)) if out else None


def why(alert: dict[str, Any]) -> str:
    attack = [str(a) for a in alert.get("attack") or []]
    att = ", ".join(
        f"<https://attack.mitre.org/techniques/{a.replace('.', '/')}/|{a}>"
        if _ATTACK_ID.match(a)
        else code(a, 30)
        for a in attack[:6]
    )
    parts = [
        f"*Why*  {prose(alert.get('title') or 'alert', 200)} ({code(alert.get('rule_id'), 120)})"
    ]
    if att:
        parts.append(f"ATT&amp;CK {att}")
    if alert.get("reason"):
        parts.append(prose(alert["reason"], 800))
    return "\n".join(parts)


def _credentials(creds: Sequence[Any]) -> str:
    out = []
    for c in creds[:5]:
        if isinstance(c, dict):
            out.append(f"{prose(c.get('type') or 'credential', 30)} {code(c.get('id'), 200)}")
        else:
            out.append(code(c, 200))
    more = f" +{len(creds) - 5} more" if len(creds) > 5 else ""
    return ", ".join(out) + more


def response(payload: dict[str, Any]) -> str:
    """What auditwatch did: revoked (which credentials), dry run, or why not."""
    inc = payload.get("incident") or {}
    alerts = [a for a in payload.get("alerts") or [] if isinstance(a, dict)]
    decisions = [a.get("decision") or {} for a in alerts]
    creds = payload.get("credentials") or inc.get("credentials") or []
    cred_txt = (
        _credentials(creds) if creds else (f"of {code((inc.get('identity') or {}).get('id'), 300)}")
    )
    if any(d.get("action") == "revoke" and d.get("dry_run") for d in decisions):
        return f"*auditwatch*  🧪 Dry run: would have revoked (credentials {cred_txt}); nothing was sent"
    if inc.get("revoked"):
        return f"*auditwatch*  🔒 Revoked (credentials {cred_txt})"
    reason = next((d.get("reason") for d in reversed(decisions) if d.get("reason")), None)
    return f"*auditwatch*  ⚠️ Not revoked: {prose(reason or 'no decision recorded', 800)}"


def _alert_blocks(alert: dict[str, Any]) -> list[Block]:
    fields = [
        _md(_fit_rendered(what(alert))),
        _md(_fit_rendered(where(alert))),
        _md("*When*\n" + _when(alert.get("time"))),
    ]
    blocks: list[Block] = [SectionBlock(fields=fields)]
    sql = statements(alert)
    if sql:
        blocks.append(SectionBlock(text=_md(_fit_rendered(sql, SECTION_LIMIT))))
    blocks.append(SectionBlock(text=_md(_fit_rendered(why(alert), SECTION_LIMIT))))
    return blocks


def _fit_rendered(text: str, limit: int = FIELD_LIMIT) -> str:
    """Last line of defence for composed text: cut at a line boundary, never mid-span."""
    if len(text) <= limit:
        return text
    lines, out, used = text.split("\n"), [], 0
    for ln in lines:
        if used + len(ln) + 1 > limit - 2:
            break
        out.append(ln)
        used += len(ln) + 1
    return "\n".join(out + ["…"])


def _latest(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return alerts[-1] if alerts else {}


def _header(inc: dict[str, Any], alert: dict[str, Any]) -> HeaderBlock:
    sev = str(inc.get("severity") or alert.get("severity") or "info")
    title = alert.get("title") or "auditwatch incident"
    return HeaderBlock(
        text=PlainTextObject(
            text=plain(f"{SEVERITY_MARK.get(sev, '⚪')} {sev.upper()} · {title}", HEADER_LIMIT),
            emoji=True,
        )
    )


def _context(inc: dict[str, Any], n_alerts: int, shown: int, note: str = "") -> ContextBlock:
    rules = ", ".join(code(r, 80) for r in (inc.get("rule_ids") or [])[:6])
    status = STATUS_MARK.get(str(inc.get("status") or "open"), prose(inc.get("status"), 30))
    parts = [f"incident {code(inc.get('incident_id'), 120)}", f"status {status}"]
    if rules:
        parts.append(f"rules {rules}")
    if inc.get("updated"):
        parts.append(f"updated {_when(inc['updated'])}")
    if n_alerts > shown:
        parts.append(f"{n_alerts - shown} more alert(s) not shown")
    if note:
        parts.append(note)
    return ContextBlock(elements=[_md(_fit_rendered(" · ".join(parts), CONTEXT_LIMIT))])


def _buttons(inc: dict[str, Any]) -> ActionsBlock:
    iid = plain(inc.get("incident_id") or "", 200)
    ident = (inc.get("identity") or {}).get("id")
    return ActionsBlock(
        block_id="aw_incident_actions",
        elements=[
            ButtonElement(text="Acknowledge", action_id=ACTION_ACK, value=iid, style="primary"),
            ButtonElement(
                text="Revoke now",
                action_id=ACTION_REVOKE,
                value=iid,
                style="danger",
                confirm=ConfirmObject(
                    title="Revoke now?",
                    text=_md(
                        _fit_rendered(
                            f"Revoke every credential auditwatch attributes to {code(ident, 200)}?",
                            290,
                        )
                    ),
                    confirm="Revoke",
                    deny="Cancel",
                    style="danger",
                ),
            ),
            ButtonElement(text="Dismiss", action_id=ACTION_DISMISS, value=iid),
        ],
    )


def _assemble(blocks: list[Block]) -> list[dict[str, Any]]:
    out = [b.to_dict() for b in blocks]  # to_dict() runs slack_sdk's own validators
    assert len(out) <= MAX_BLOCKS, len(out)
    return out


def _alerts(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in payload.get("alerts") or [] if isinstance(a, dict)]


def parent_message(
    payload: dict[str, Any], *, updated: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """The channel message that heads an incident's thread: (fallback text, blocks)."""
    inc = payload.get("incident") or {}
    alerts = _alerts(payload)
    shown = alerts[-MAX_ALERTS_SHOWN:]
    latest = _latest(alerts)
    blocks: list[Block] = [
        _header(inc, latest),
        SectionBlock(text=_md(_fit_rendered(who(inc.get("identity") or {}), SECTION_LIMIT))),
    ]
    for i, a in enumerate(shown):
        if i:
            blocks.append(DividerBlock())
        blocks.extend(_alert_blocks(a))
    blocks.append(SectionBlock(text=_md(_fit_rendered(response(payload), SECTION_LIMIT))))
    blocks.append(
        _context(
            inc,
            len(alerts),
            len(shown),
            "latest status; every alert is in the thread" if updated else "",
        )
    )
    blocks.append(_buttons(inc))
    return fallback_text(payload), _assemble(blocks)


def reply_message(payload: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A thread reply for alerts that joined an open incident: (fallback text, blocks)."""
    inc = payload.get("incident") or {}
    alerts = _alerts(payload)
    shown = alerts[-MAX_ALERTS_SHOWN:]
    latest = _latest(alerts)
    sev = str(latest.get("severity") or inc.get("severity") or "info")
    blocks: list[Block] = [
        SectionBlock(
            text=_md(
                f"{SEVERITY_MARK.get(sev, '⚪')} *{escape(sev.upper())}* · new alert on this incident"
            )
        )
    ]
    for i, a in enumerate(shown):
        if i:
            blocks.append(DividerBlock())
        blocks.extend(_alert_blocks(a))
    blocks.append(SectionBlock(text=_md(_fit_rendered(response(payload), SECTION_LIMIT))))
    blocks.append(_context(inc, len(alerts), len(shown)))
    return fallback_text(payload), _assemble(blocks)


def fallback_text(payload: dict[str, Any]) -> str:
    """Top-level ``text``: what notifications and screen readers show."""
    inc = payload.get("incident") or {}
    latest = _latest(_alerts(payload))
    ident = inc.get("identity") or latest.get("identity") or {}
    sev = str(inc.get("severity") or latest.get("severity") or "info").upper()
    did = "revoked" if inc.get("revoked") else "not revoked"
    first = latest.get("evidence", [{}])[0] if latest.get("evidence") else {}
    action = (
        code(first.get("action"), 120) if isinstance(first, dict) and first.get("action") else ""
    )
    text = (
        f"[{escape(sev)}] {prose(latest.get('title') or 'auditwatch incident', 200)}: "
        f"{prose(ident.get('kind') or 'unknown', 40)} {code(ident.get('id'), 300)}"
        f"{' ran ' + action if action else ''} — {did}"
    )
    return _fit_rendered(text, FALLBACK_LIMIT)
