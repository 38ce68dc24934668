"""Rule files: YAML in, validated ``Rule`` objects out, every error with file:line.

One rule per file, named after its id (``agent-destroys-protected.yaml``). The
format stays close to what detection engineers know: Sigma-style field
conditions, and EQL's ``sequence by ... with maxspan`` for ordered steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from auditwatch.detectors.base import ATTACK_ID
from auditwatch.detectors.rules import yamlines
from auditwatch.detectors.rules.conditions import Hints, Pred, RuleSyntaxError, compile_match
from auditwatch.detectors.rules.fields import Getter, make_fields
from auditwatch.errors import AuditwatchError

PACK_DIR = Path(__file__).parent / "pack"
SEVERITIES = ("info", "low", "medium", "high", "critical")
RESPONSES = ("alert", "page", "revoke")
KINDS = ("single", "threshold", "sequence")
TOP_KEYS = {"id", "title", "description", "severity", "attack", "response", "kind", "maturity", "enabled",
            "match", "by", "window", "count", "distinct", "steps", "maxspan", "order", "until", "suppress",
            "samples", "references", "runbook", "false_positives"}


class RuleError(AuditwatchError):
    def __init__(self, file: str, line: int, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}")


@dataclass
class Step:
    pred: Pred
    hints: Hints
    name: str


@dataclass
class Rule:
    id: str
    title: str
    description: str
    severity: Literal["info", "low", "medium", "high", "critical"]
    attack: tuple[str, ...]
    response: Literal["alert", "page", "revoke"]
    kind: Literal["single", "threshold", "sequence"]
    file: str
    line: int
    maturity: str = "stable"
    enabled: bool = True
    match: Pred | None = None
    hints: Hints = field(default_factory=Hints)
    by: tuple[Getter, ...] = ()
    by_names: tuple[str, ...] = ()
    window: float = 0.0
    count: int = 0
    distinct: Getter | None = None
    distinct_name: str = ""
    steps: list[Step] = field(default_factory=list)
    maxspan: float = 0.0
    order: Literal["strict", "any"] = "strict"
    until: Pred | None = None
    until_hints: Hints = field(default_factory=Hints)
    suppress_by: tuple[Getter, ...] = ()
    suppress_window: float = 0.0
    samples: list[Any] = field(default_factory=list)
    runbook: str = ""


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def duration(v: Any, path: tuple[Any, ...] = ()) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    m = _DURATION.match(str(v).strip())
    if not m:
        raise RuleSyntaxError(f"bad duration {v!r} (e.g. 30s, 10m, 1h)", path)
    return float(m.group(1)) * _UNITS[m.group(2)]


def load_rule(path: Path, protected: frozenset[str] = frozenset({"prod", "production"})) -> Rule:
    text = path.read_text()
    try:
        doc = yamlines.load(text)
    except yaml.MarkedYAMLError as e:
        line = (e.problem_mark.line + 1) if e.problem_mark else 0
        raise RuleError(str(path), line, f"invalid YAML: {e.problem}") from None
    except yaml.YAMLError as e:
        raise RuleError(str(path), 0, f"invalid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise RuleError(str(path), 1, "a rule file holds one mapping (id, title, severity, match, ...)")
    fields = make_fields(protected)
    try:
        return _build(doc, path, fields)
    except RuleSyntaxError as e:
        raise RuleError(str(path), _line_for(doc, e.path), e.message) from None


def _line_for(doc: Any, path: tuple[Any, ...]) -> int:
    node, line = doc, yamlines.line_of(doc)
    for key in path:
        line = yamlines.line_of(node, key, line)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    return line


def _req(doc: dict[str, Any], key: str, typ: type | tuple[type, ...]) -> Any:
    if key not in doc:
        raise RuleSyntaxError(f"missing required key {key!r}", ())
    v = doc[key]
    if not isinstance(v, typ):
        raise RuleSyntaxError(f"{key!r} must be a {getattr(typ, '__name__', typ)}", (key,))
    return v


def _build(doc: dict[str, Any], path: Path, fields: dict[str, Getter]) -> Rule:
    for k in doc:
        if k not in TOP_KEYS:
            raise RuleSyntaxError(f"unknown key {k!r} (one of {', '.join(sorted(TOP_KEYS))})", (k,))
    rid = _req(doc, "id", str)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", rid):
        raise RuleSyntaxError("id must be lower-case words joined by '-'", ("id",))
    if path.stem != rid and path.parent == PACK_DIR:
        raise RuleSyntaxError(f"built-in rule file must be named {rid}.yaml", ("id",))
    sev = _req(doc, "severity", str)
    if sev not in SEVERITIES:
        raise RuleSyntaxError(f"severity must be one of {', '.join(SEVERITIES)}", ("severity",))
    attack = doc.get("attack", [])
    if not isinstance(attack, list) or not attack:
        raise RuleSyntaxError("attack: list at least one ATT&CK technique id (e.g. T1485)", ("attack",))
    for i, t in enumerate(attack):
        if not isinstance(t, str) or not ATTACK_ID.match(t):
            raise RuleSyntaxError(f"bad ATT&CK technique id {t!r} (expected like T1485 or T1562.008)", ("attack", i))
    resp = doc.get("response", "alert")
    if resp not in RESPONSES:
        raise RuleSyntaxError(f"response must be one of {', '.join(RESPONSES)}", ("response",))
    kind = doc.get("kind", "single")
    if kind not in KINDS:
        raise RuleSyntaxError(f"kind must be one of {', '.join(KINDS)}", ("kind",))
    rule = Rule(id=rid, title=_req(doc, "title", str), description=_req(doc, "description", str).strip(),
                severity=sev, attack=tuple(attack), response=resp, kind=kind, file=str(path),
                line=yamlines.line_of(doc), maturity=str(doc.get("maturity", "stable")),
                enabled=bool(doc.get("enabled", True)), samples=list(doc.get("samples", [])),
                runbook=str(doc.get("runbook", "")).strip())

    def getters(key: str) -> tuple[tuple[Getter, ...], tuple[str, ...]]:
        names = doc.get(key, ["identity.id"])
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise RuleSyntaxError(f"'{key}' takes a field or a list of fields", (key,))
        gs = []
        for i, n in enumerate(names):
            if n not in fields:
                raise RuleSyntaxError(f"unknown field {n!r}", (key, i))
            gs.append(fields[n])
        return tuple(gs), tuple(names)

    if kind in ("single", "threshold"):
        if "match" not in doc:
            raise RuleSyntaxError(f"a {kind} rule needs 'match'", ())
        rule.match = compile_match(doc["match"], fields, ("match",), rule.hints)
    if kind == "threshold":
        rule.by, rule.by_names = getters("by")
        rule.window = duration(_req(doc, "window", (str, int, float)), ("window",))
        rule.count = int(_req(doc, "count", int))
        if rule.count < 2:
            raise RuleSyntaxError("count must be at least 2", ("count",))
        if "distinct" in doc:
            d = doc["distinct"]
            if d not in fields:
                raise RuleSyntaxError(f"unknown field {d!r}", ("distinct",))
            rule.distinct, rule.distinct_name = fields[d], d
    if kind == "sequence":
        rule.by, rule.by_names = getters("by")
        rule.maxspan = duration(_req(doc, "maxspan", (str, int, float)), ("maxspan",))
        steps = _req(doc, "steps", list)
        if len(steps) < 2:
            raise RuleSyntaxError("a sequence needs at least two steps", ("steps",))
        for i, st in enumerate(steps):
            if not isinstance(st, dict) or "match" not in st:
                raise RuleSyntaxError("each step is a mapping with 'match' (and optional 'name')", ("steps", i))
            h = Hints()
            rule.steps.append(Step(compile_match(st["match"], fields, ("steps", i, "match"), h), h,
                                   str(st.get("name", f"step {i + 1}"))))
        order = doc.get("order", "strict")
        if order not in ("strict", "any"):
            raise RuleSyntaxError("order must be 'strict' or 'any'", ("order",))
        rule.order = order
        if "until" in doc:
            u = doc["until"]
            if not isinstance(u, dict) or "match" not in u:
                raise RuleSyntaxError("'until' is a mapping with 'match'", ("until",))
            rule.until = compile_match(u["match"], fields, ("until", "match"), rule.until_hints)
    sup = doc.get("suppress", {})
    if not isinstance(sup, dict):
        raise RuleSyntaxError("'suppress' is a mapping with 'by' and 'window'", ("suppress",))
    if sup:
        names = sup.get("by", ["identity.id"])
        names = [names] if isinstance(names, str) else names
        for i, n in enumerate(names):
            if n not in fields:
                raise RuleSyntaxError(f"unknown field {n!r}", ("suppress", "by", i))
        rule.suppress_by = tuple(fields[n] for n in names)
        rule.suppress_window = duration(sup.get("window", "30m"), ("suppress", "window"))
    else:
        rule.suppress_by = (fields["identity.id"],)
        rule.suppress_window = 1800.0
    if not isinstance(rule.samples, list):
        raise RuleSyntaxError("'samples' is a list", ("samples",))
    return rule


def load_dir(path: Path | str | None = None, protected: frozenset[str] = frozenset({"prod", "production"})
             ) -> tuple[list[Rule], list[RuleError]]:
    """Every rule under a directory (or one file); errors are collected, not raised."""
    p = Path(path) if path else PACK_DIR
    files = [p] if p.is_file() else sorted(p.rglob("*.yaml")) + sorted(p.rglob("*.yml"))
    rules, errors = [], []
    seen: dict[str, str] = {}
    for f in files:
        try:
            r = load_rule(f, protected)
        except RuleError as e:
            errors.append(e)
            continue
        if r.id in seen:
            errors.append(RuleError(str(f), r.line, f"duplicate rule id {r.id!r} (also in {seen[r.id]})"))
            continue
        seen[r.id] = str(f)
        rules.append(r)
    return rules, errors
