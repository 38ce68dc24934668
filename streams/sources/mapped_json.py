"""Platform audit logs and any other JSON audit log, read through a declarative
mapping (YAML) instead of code.

A mapping file describes one source: its ``name`` (what ``--input-format``
takes), how its records are recognised (``match``), which envelopes hold them
(``envelopes``), where each event field sits in a record (``fields``: dotted
paths with list indexes, ``actor.type``, ``data.volume.name``,
``resources[0].name``, ``["key.with.dots"]``), extra actor tags, identity hints
by actor-type value, and the action table (``categories``: event type, exact
or glob such as ``*.delete``, to taxonomy categories, with conditions on the
record). Shipped mappings live in ``mappings/`` (Railway's workspace audit log,
GitHub's audit log); users add theirs with ``register_mappings(paths)``.

What is checked when a mapping loads (a ``ConfigError`` naming file, line,
mapping and key, never a silently empty value later):

* the YAML parses, has no duplicate keys and matches the schema (unknown keys
  are errors);
* every category is in the taxonomy's vocabulary;
* every field path the mapping references resolves in at least one of its
  ``examples`` (whole, realistic records the mapping ships with) -- a typo'd
  path cannot pass;
* every example satisfies ``match`` and normalises.

At run time a record that matches but lacks a required field (``time``,
``action``) or carries an unreadable time is a dead letter whose reason names
the path; optional fields may be absent.

Format facts that matter: JSON lines (GitHub's audit-log streaming writes
gzipped JSON lines; its REST API and exports return a JSON array), a bare
array of records (unwrapped by the generic JSON dispatch, record by record), or
an envelope declared by the mapping (Railway's GraphQL connection
``{"data": {"auditLogs": {"edges": [{"node": {...}}]}}}``). Times are ISO 8601
strings or epoch numbers (GitHub's ``@timestamp`` is epoch milliseconds).
"""

from __future__ import annotations

import fnmatch
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from auditwatch.detectors.taxonomy import CATEGORIES
from auditwatch.errors import ConfigError, ParseError
from auditwatch.model import Action, Actor, Event, Resource, SourceRef
from auditwatch.streams.sources.base import DeadLetter, Item, ParseContext, stable_id
from auditwatch.streams.sources.json_records import JsonLinesParser, dispatch
from auditwatch.streams.sources.registry import ALIASES, SOURCES, SourceSpec, register
from auditwatch.timeparse import parse_time

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
DEFAULT_PRIORITY = 90  # after the hand-written JSON sources (CloudTrail is 50)
ANY_VALUE = "*"  # identity-hint key: any present value
_STATEMENT_CAP = 300


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# --------------------------------------------------------------------------- field paths

_KEY = re.compile(r'[^.\[\]"]+')
_INDEX = re.compile(r"\[(-?\d+)\]")


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A compiled path into a decoded JSON record: keys and list indexes."""

    text: str
    steps: tuple[str | int, ...]

    def get(self, obj: Any) -> Any:
        """The value at this path, or ``MISSING`` (absent, wrong shape or null)."""
        cur = obj
        for s in self.steps:
            if isinstance(s, int):
                if isinstance(cur, list) and -len(cur) <= s < len(cur):
                    cur = cur[s]
                else:
                    return MISSING
            elif isinstance(cur, Mapping) and s in cur:
                cur = cur[s]
            else:
                return MISSING
        return MISSING if cur is None else cur


def parse_path(text: str) -> FieldPath:
    """``a.b[0].c``, ``["@odd.key"].x``; raises ValueError on bad syntax."""
    if not isinstance(text, str) or not text:
        raise ValueError("a path is a non-empty string")
    steps: list[str | int] = []
    i = 0
    while i < len(text):
        if text.startswith('["', i):
            j = text.find('"]', i + 2)
            if j < 0:
                raise ValueError(f"unclosed [\" in path {text!r}")
            steps.append(text[i + 2:j])
            i = j + 2
        elif text[i] == "[":
            m = _INDEX.match(text, i)
            if m is None or not steps:
                raise ValueError(f"bad index at {text[i:]!r} in path {text!r}")
            steps.append(int(m.group(1)))
            i = m.end()
        else:
            if steps:
                if text[i] != ".":
                    raise ValueError(f"expected '.' or '[' at {text[i:]!r} in path {text!r}")
                i += 1
            m = _KEY.match(text, i)
            if m is None:
                raise ValueError(f"empty key at position {i} in path {text!r}")
            steps.append(m.group())
            i = m.end()
    return FieldPath(text, tuple(steps))


@dataclass(frozen=True, slots=True)
class Paths:
    """Alternatives for one field: the first present (non-null, non-empty) value wins."""

    alternatives: tuple[FieldPath, ...]

    def first(self, obj: Any) -> tuple[Any, FieldPath | None]:
        for p in self.alternatives:
            v = p.get(obj)
            if v is not MISSING and v != "":
                return v, p
        return MISSING, None

    def text(self, obj: Any) -> str:
        v, _ = self.first(obj)
        return "" if v is MISSING else as_text(v)

    def describe(self) -> str:
        return " | ".join(repr(p.text) for p in self.alternatives)


def as_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return str(v)
    try:
        return orjson.dumps(v, option=orjson.OPT_SORT_KEYS, default=str).decode()
    except TypeError:
        return str(v)


def same(a: Any, b: Any) -> bool:
    """Equality across YAML and JSON spellings: 1 == "1", but true != 1."""
    if isinstance(a, bool) != isinstance(b, bool):
        return as_text(a) == as_text(b)
    return bool(a == b) or as_text(a) == as_text(b)


def loose(v: str) -> str:
    """Identity-hint key comparison: ``Railway Staff`` == ``RAILWAY_STAFF`` == ``railwayStaff``."""
    return re.sub(r"[^0-9a-z]", "", v.casefold())


# --------------------------------------------------------------------------- the YAML schema

def _one_or_many(v: Any) -> Any:
    return [v] if isinstance(v, (str, dict)) else v


Scalar = str | int | float | bool
# one path, or alternatives (first present wins); always a list once validated
PathSpec = Annotated[list[str], BeforeValidator(_one_or_many)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Model):
    """One test on a record: exactly one of exists / equals / in / regex (with a
    ``path``), or all / any / not over nested conditions."""

    path: str | None = None
    exists: bool | None = None
    equals: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    regex: str | None = None
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_operator(self) -> Condition:
        ops = [a for n, a in (("exists", "exists"), ("equals", "equals"), ("in_", "in"), ("regex", "regex"),
                              ("all_", "all"), ("any_", "any"), ("not_", "not")) if getattr(self, n) is not None]
        if len(ops) != 1:
            raise ValueError("a condition has exactly one of: exists, equals, in, regex, all, any, not"
                             f" (found {', '.join(ops) or 'none'})")
        op = ops[0]
        if op in ("exists", "equals", "in", "regex") and self.path is None:
            raise ValueError(f"'{op}' needs a 'path'")
        if op in ("all", "any", "not") and self.path is not None:
            raise ValueError(f"'{op}' takes nested conditions; put 'path' inside them")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"bad regex {self.regex!r}: {e}") from None
        return self


class Envelope(_Model):
    path: str  # where the list of records sits in a document
    item: str | None = None  # path from each list item to the record (GraphQL edges: node)


class Outcome(_Model):
    path: str
    success: list[Scalar] = []
    success_regex: str | None = None
    error: PathSpec | None = None  # the error message, when the outcome is a failure
    default: Literal["success", "failure", "unknown"] = "success"  # when the path is absent

    @model_validator(mode="after")
    def _some_success(self) -> Outcome:
        if not self.success and self.success_regex is None:
            raise ValueError("give 'success' values and/or a 'success_regex'")
        if self.success_regex is not None:
            try:
                re.compile(self.success_regex)
            except re.error as e:
                raise ValueError(f"bad regex {self.success_regex!r}: {e}") from None
        return self


class Fields(_Model):
    time: PathSpec
    time_format: Literal["iso8601", "epoch_ms", "epoch_s"] = "iso8601"
    action: PathSpec
    event_id: PathSpec | None = None
    outcome: Outcome | None = None
    principal: PathSpec | None = None
    principal_type: PathSpec | None = None
    credential: PathSpec | None = None
    user_agent: PathSpec | None = None
    client_ip: PathSpec | None = None
    session_id: PathSpec | None = None
    resource_type: PathSpec | None = None
    resource_name: PathSpec | None = None
    environment: PathSpec | None = None
    account: PathSpec | None = None
    region: PathSpec | None = None


def _scalar_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {as_text(k) if isinstance(k, (bool, int, float)) else k: x for k, x in v.items()}
    return v


class IdentityHint(_Model):
    path: str
    values: dict[str, dict[str, str]]  # actor-type value (or "*") -> tags

    @field_validator("values", mode="before")
    @classmethod
    def _keys(cls, v: Any) -> Any:
        return _scalar_keys(v)


class Conditional(_Model):
    if_: Condition = Field(alias="if")
    add: list[str]


class CategoryRule(_Model):
    categories: list[str] = []
    resource_type: str | None = None
    resource_name: PathSpec | None = None
    when: list[Conditional] = []


class MappingDoc(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""
    service: str = ""  # Action.service for every event
    id_prefix: str | None = None
    priority: int = DEFAULT_PRIORITY
    aliases: list[str] = []
    # all must hold; never empty (a mapping claiming every JSON record would swallow other sources)
    match: Annotated[list[Condition], BeforeValidator(_one_or_many), Field(min_length=1)]
    envelopes: list[Envelope] = []
    fields: Fields
    tags: dict[str, PathSpec] = {}
    identity_hints: list[IdentityHint] = []
    summary: dict[str, PathSpec] = {}
    categories: dict[str, CategoryRule] = {}
    examples: list[dict[str, Any]] = Field(min_length=1)

    @field_validator("categories", mode="before")
    @classmethod
    def _short_form(cls, v: Any) -> Any:
        # `volume.deleted: [data.destroy, infra.destroy]` is CategoryRule(categories=[...])
        if isinstance(v, dict):
            return {as_text(k) if not isinstance(k, str) else k: ({"categories": x} if isinstance(x, list) else x)
                    for k, x in v.items()}
        return v


# --------------------------------------------------------------------------- compiled form

Loc = tuple[str | int, ...]
Test = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class _Cond:
    test: Test
    explain: Callable[[Any], str]


@dataclass(frozen=True, slots=True)
class _Rule:
    categories: tuple[str, ...]
    resource_type: str
    resource_name: Paths | None
    when: tuple[tuple[Test, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class _Hint:
    path: FieldPath
    values: dict[str, dict[str, str]]  # loose key -> tags
    any_value: dict[str, str] | None


class MappedSource:
    """One loaded mapping: recognises, unwraps and normalises its records."""

    def __init__(self, doc: MappingDoc, file: Path, where: Callable[[Loc], str]) -> None:
        self.doc = doc
        self.file = file
        self.name = doc.name
        self.id_prefix = doc.id_prefix or doc.name
        self._where = where
        self._refs: list[tuple[Loc, FieldPath]] = []  # every record path referenced, and where
        f = doc.fields
        self.match = self._conds(doc.match, ("match",))
        self.envelopes = tuple(
            (self._path(e.path, ("envelopes", i, "path"), record=False),
             self._path(e.item, ("envelopes", i, "item"), record=False) if e.item else None)
            for i, e in enumerate(doc.envelopes))
        self.time = self._paths(f.time, ("fields", "time"))
        self.action = self._paths(f.action, ("fields", "action"))
        opt = ("event_id", "principal", "principal_type", "credential", "user_agent", "client_ip",
               "session_id", "resource_type", "resource_name", "environment", "account", "region")
        self.opt: dict[str, Paths | None] = {
            k: self._paths(getattr(f, k), ("fields", k)) if getattr(f, k) is not None else None for k in opt}
        self.outcome = f.outcome
        self.outcome_path = self._path(f.outcome.path, ("fields", "outcome", "path")) if f.outcome else None
        self.outcome_error = (self._paths(f.outcome.error, ("fields", "outcome", "error"))
                              if f.outcome and f.outcome.error is not None else None)
        self.outcome_rx = re.compile(f.outcome.success_regex) if f.outcome and f.outcome.success_regex else None
        self.tags = {k: self._paths(v, ("tags", k)) for k, v in doc.tags.items()}
        self.summary = {k: self._paths(v, ("summary", k)) for k, v in doc.summary.items()}
        self.hints = tuple(self._hint(h, i) for i, h in enumerate(doc.identity_hints))
        self.exact: dict[str, _Rule] = {}
        self.globs: list[tuple[str, _Rule]] = []
        for name, rule in doc.categories.items():
            r = self._rule(name, rule)
            if any(c in name for c in "*?["):
                self.globs.append((name, r))
            else:
                self.exact[name] = r
        self._check_refs()
        self._check_examples()

    # -- compilation -----------------------------------------------------------------------
    def _fail(self, loc: Loc, msg: str) -> ConfigError:
        return ConfigError(f"{self._where(loc)}: {msg}")

    def _path(self, text: str, loc: Loc, record: bool = True) -> FieldPath:
        try:
            p = parse_path(text)
        except ValueError as e:
            raise self._fail(loc, str(e)) from None
        if record:
            self._refs.append((loc, p))
        return p

    def _paths(self, spec: list[str], loc: Loc) -> Paths:
        if not spec:
            raise self._fail(loc, "an empty list of paths")
        return Paths(tuple(self._path(s, (*loc, i)) for i, s in enumerate(spec)))

    def _conds(self, conds: Sequence[Condition], loc: Loc, negated: bool = False) -> _Cond:
        parts = [self._cond(c, (*loc, i), negated) for i, c in enumerate(conds)]

        def test(o: Any) -> bool:
            return all(p.test(o) for p in parts)

        def explain(o: Any) -> str:
            return next((p.explain(o) for p in parts if not p.test(o)), "")
        return _Cond(test, explain)

    def _cond(self, c: Condition, loc: Loc, negated: bool = False) -> _Cond:
        if c.all_ is not None:
            return self._conds(c.all_, (*loc, "all"), negated)
        if c.any_ is not None:
            parts = [self._cond(x, (*loc, "any", i), negated) for i, x in enumerate(c.any_)]
            return _Cond(lambda o: any(p.test(o) for p in parts),
                         lambda o: " and ".join(p.explain(o) for p in parts))
        if c.not_ is not None:
            inner = self._cond(c.not_, (*loc, "not"), not negated)
            shown = _describe(c.not_)
            return _Cond(lambda o: not inner.test(o), lambda o: f"not expected: {shown}")
        assert c.path is not None
        # a path that must be absent need not be in any example
        expect_absent = (c.exists is False) != negated
        p = self._path(c.path, (*loc, "path"), record=not expect_absent)
        if c.exists is not None:
            want = c.exists
            return _Cond(lambda o: (p.get(o) is not MISSING) == want,
                         lambda o: f"{p.text!r} is {'missing' if want else 'present'}")
        if c.equals is not None:
            eq = c.equals
            return _Cond(lambda o: _present(p.get(o)) and same(p.get(o), eq),
                         lambda o: f"{p.text!r} is {_shown(p.get(o))}, expected {eq!r}")
        if c.in_ is not None:
            ws = tuple(c.in_)
            return _Cond(lambda o: _present(p.get(o)) and any(same(p.get(o), w) for w in ws),
                         lambda o: f"{p.text!r} is {_shown(p.get(o))}, expected one of {list(ws)!r}")
        assert c.regex is not None
        rx = re.compile(c.regex)
        return _Cond(lambda o: _scalar(p.get(o)) and rx.search(as_text(p.get(o))) is not None,
                     lambda o: f"{p.text!r} is {_shown(p.get(o))}, expected /{rx.pattern}/")

    def _hint(self, h: IdentityHint, i: int) -> _Hint:
        loc: Loc = ("identity_hints", i)
        values: dict[str, dict[str, str]] = {}
        any_value = None
        for k, tags in h.values.items():
            if k == ANY_VALUE:
                any_value = tags
                continue
            key = loose(k)
            if not key:
                raise self._fail((*loc, "values", k), f"identity hint value {k!r} has no letters or digits")
            if key in values:
                raise self._fail((*loc, "values", k),
                                 f"identity hint value {k!r} repeats another (compared ignoring case, spaces, '_', '-')")
            values[key] = tags
        return _Hint(self._path(h.path, (*loc, "path")), values, any_value)

    def _rule(self, name: str, rule: CategoryRule) -> _Rule:
        loc: Loc = ("categories", name)
        self._vocabulary(rule.categories, (*loc, "categories"))
        when = []
        for i, w in enumerate(rule.when):
            self._vocabulary(w.add, (*loc, "when", i, "add"))
            cond = self._cond(w.if_, (*loc, "when", i, "if"))
            when.append((cond.test, tuple(w.add)))
        name_paths = (self._paths(rule.resource_name, (*loc, "resource_name"))
                      if rule.resource_name is not None else None)
        return _Rule(tuple(dict.fromkeys(rule.categories)), rule.resource_type or "", name_paths, tuple(when))

    def _vocabulary(self, cats: Sequence[str], loc: Loc) -> None:
        for i, c in enumerate(cats):
            if c not in CATEGORIES:
                raise self._fail((*loc, i), f"unknown category {c!r}; the vocabulary is: {', '.join(CATEGORIES)}")

    def _check_refs(self) -> None:
        examples = self.doc.examples
        problems = []
        for loc, p in self._refs:
            if not any(p.get(ex) is not MISSING for ex in examples):
                problems.append(f"{self._where(loc)}: path {p.text!r} is not found in any of the "
                                f"{len(examples)} example record(s); fix the path or add an example that has it")
        if problems:
            raise ConfigError("\n".join(problems))

    def _check_examples(self) -> None:
        for i, ex in enumerate(self.doc.examples):
            if not self.is_record(ex):
                raise self._fail(("examples", i), f"example {i} does not satisfy 'match': {self.match.explain(ex)}")
            try:
                self.normalise(ex, SourceRef(self.name, str(self.file), index=i), ParseContext(str(self.file)))
            except ParseError as e:
                raise self._fail(("examples", i), f"example {i} does not normalise: {e.reason}") from None

    # -- run time --------------------------------------------------------------------------
    def is_record(self, obj: Any) -> bool:
        return isinstance(obj, Mapping) and self.match.test(obj)

    def categories_for(self, action: str, rec: Any) -> tuple[tuple[str, ...], _Rule | None]:
        """Exact event type first, else the first glob (in file order) that matches."""
        rule = self.exact.get(action)
        if rule is None:
            rule = next((r for pat, r in self.globs if fnmatch.fnmatchcase(action, pat)), None)
        if rule is None:
            return (), None
        cats = list(rule.categories)
        for test, add in rule.when:
            if test(rec):
                cats += add
        return tuple(dict.fromkeys(cats)), rule

    def normalise(self, rec: Any, ref: SourceRef, ctx: ParseContext) -> list[Item]:
        if not isinstance(rec, Mapping):
            raise ParseError(f"{self.name}: a record is a JSON object, got {type(rec).__name__}")
        if not self.match.test(rec):
            raise ParseError(f"not a {self.name} record: {self.match.explain(rec)}")
        t = self._time(rec)
        action_v, _ = self.action.first(rec)
        if action_v is MISSING or not _scalar(action_v):
            raise ParseError(f"{self.name}: required field 'action' is missing or not a value "
                             f"(path {self.action.describe()})")
        action = as_text(action_v)
        o = self.opt

        def text(k: str) -> str:
            p = o[k]
            return p.text(rec) if p is not None else ""

        cats, rule = self.categories_for(action, rec)
        tags: dict[str, str] = {}
        for k, paths in self.tags.items():
            v = paths.text(rec)
            if v:
                tags[k] = v
        for h in self.hints:
            hv = h.path.get(rec)
            if hv is MISSING or hv == "":
                continue
            if h.any_value is not None:
                tags.update(h.any_value)
            hit = h.values.get(loose(as_text(hv))) if _scalar(hv) else None
            if hit:
                tags.update(hit)
        actor = Actor(
            principal=text("principal"),
            principal_type=text("principal_type"),
            account=text("account"),
            credential_id=text("credential"),
            user_agent=text("user_agent"),
            client_addr=text("client_ip"),
            session_id=text("session_id"),
            tags=tags,
        )
        outcome, error = self._outcome(rec)
        rtype = (rule.resource_type if rule and rule.resource_type else "") or text("resource_type")
        rname = (rule.resource_name.text(rec) if rule and rule.resource_name else "") or text("resource_name")
        env = text("environment") or ctx.environment
        resource = Resource(type=rtype, name=rname, environment=env, region=text("region"))
        eid = o["event_id"].text(rec) if o["event_id"] is not None else ""
        event_id = f"{self.id_prefix}-{eid}" if eid else stable_id(self.id_prefix, ref.name, ref.offset,
                                                                     ref.index, ref.line)
        return [Event(
            event_id=event_id,
            time=t,
            observed_time=ctx.observed or time.time(),
            source=ref,
            actor=actor,
            action=Action(name=action, service=self.doc.service, outcome=outcome,  # type: ignore[arg-type]
                          error=error, categories=cats, statement=self._statement(action, resource, rec),
                          fingerprint=action),
            resource=resource,
            activity="api",
            raw=rec,
        )]

    def _time(self, rec: Mapping[str, Any]) -> float:
        v, p = self.time.first(rec)
        if v is MISSING or p is None:
            raise ParseError(f"{self.name}: required field 'time' is missing (path {self.time.describe()})")
        fmt = self.doc.fields.time_format
        t, why = _to_epoch(v, fmt)
        if t is None:
            raise ParseError(f"{self.name}: bad time at path {p.text!r} ({fmt}): {_shown(v)}: {why}")
        return t

    def _outcome(self, rec: Mapping[str, Any]) -> tuple[str, str]:
        spec, p = self.outcome, self.outcome_path
        if spec is None or p is None:
            return "success", ""
        v = p.get(rec)
        if v is MISSING:
            return spec.default, ""
        if any(same(v, s) for s in spec.success) or (
                self.outcome_rx is not None and _scalar(v) and self.outcome_rx.search(as_text(v))):
            return "success", ""
        msg = self.outcome_error.text(rec) if self.outcome_error is not None else ""
        return "failure", (msg or f"{p.text}={as_text(v)}")[:_STATEMENT_CAP]

    def _statement(self, action: str, res: Resource, rec: Mapping[str, Any]) -> str:
        bits = []
        if res.name:
            bits.append(f"{res.type or 'resource'}={res.name}")
        if res.environment and not (res.type == "environment" and res.name == res.environment):
            bits.append(f"environment={res.environment}")
        for label, paths in self.summary.items():
            v = paths.text(rec)
            if v:
                bits.append(f"{label}={v}")
        s = f"{action}({', '.join(bits)})" if bits else action
        return s[:_STATEMENT_CAP]

    def document(self, doc: Any, ref: SourceRef, ctx: ParseContext) -> list[Item] | None:
        """Records inside an envelope this mapping declares; None when the shape is not ours."""
        if not isinstance(doc, Mapping):
            return None
        for path, item in self.envelopes:
            items = path.get(doc)
            if not isinstance(items, list):
                continue
            out: list[Item] = []
            for i, it in enumerate(items):
                r = SourceRef(self.name, ref.name, line=ref.line, offset=ref.offset, index=i)
                rec = item.get(it) if item is not None else it
                if rec is MISSING and item is not None:
                    out.append(DeadLetter(f"{self.name}: envelope item has no {item.text!r}", r, as_text(it)))
                elif self.is_record(rec):
                    try:
                        out += self.normalise(rec, r, ctx)
                    except ParseError as e:
                        out.append(DeadLetter(e.reason, r, as_text(rec)))
                else:  # not ours: another source may know it
                    out += dispatch(rec, r, ctx)
            return out
        return None

    def sniff(self, head: bytes) -> bool:
        s = head.lstrip()
        if s[:1] not in (b"{", b"["):
            return False
        for ln in s.split(b"\n", 5)[:5]:
            ln = ln.strip()
            if not ln:
                continue
            try:
                return self._claims(orjson.loads(ln))
            except orjson.JSONDecodeError:
                continue
        try:
            return self._claims(orjson.loads(s))
        except orjson.JSONDecodeError:
            return False

    def _claims(self, obj: Any) -> bool:
        if isinstance(obj, list):
            return bool(obj) and self.is_record(obj[0])
        if self.is_record(obj):
            return True
        return isinstance(obj, Mapping) and any(isinstance(p.get(obj), list) for p, _ in self.envelopes)

    def spec(self) -> SourceSpec:
        made: list[SourceSpec] = []

        def line_parser(ctx: ParseContext) -> JsonLinesParser:
            return JsonLinesParser(ctx, only=made[0])

        spec = SourceSpec(
            name=self.name,
            sniff=self.sniff,
            line_parser=line_parser,
            is_record=self.is_record,
            normalise=self.normalise,
            document=self.document,
            priority=self.doc.priority,
            aliases=tuple(self.doc.aliases),
        )
        made.append(spec)
        return spec


def _to_epoch(v: Any, fmt: str) -> tuple[float | None, str]:
    """Epoch seconds from an ISO 8601 string or an epoch number (or numeric string)."""
    if fmt == "iso8601":
        if not isinstance(v, str):
            return None, "not an ISO 8601 string"
        try:
            return parse_time(v), ""
        except ValueError as e:
            return None, str(e)
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return None, "not a number"
    try:
        n = float(v)
    except ValueError:
        return None, "not a number"
    if not math.isfinite(n):
        return None, "not a finite number"
    return (n / 1000.0 if fmt == "epoch_ms" else n), ""


def _present(v: Any) -> bool:
    return v is not MISSING


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool))


def _shown(v: Any) -> str:
    return "missing" if v is MISSING else repr(v if _scalar(v) else as_text(v))[:80]


def _describe(c: Condition) -> str:
    return as_text(c.model_dump(by_alias=True, exclude_none=True))


# --------------------------------------------------------------------------- loading


class _Located:
    """Line numbers of every key and list item of a YAML file, for error messages."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.lines: dict[Loc, int] = {(): 1}
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data: Any = yaml.safe_load(text)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else 1
            raise ConfigError(f"{file}:{line}: invalid YAML: {e.problem or e.context or e}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{file}: invalid YAML: {e}") from None
        if node is not None:
            self._index(node, ())
        name = self.data.get("name") if isinstance(self.data, dict) else None
        self.mapping = name if isinstance(name, str) else "?"

    def _index(self, node: yaml.Node, loc: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                key = str(k.value)
                sub = (*loc, key)
                if key in seen:
                    raise ConfigError(f"{self.file}:{k.start_mark.line + 1}: duplicate key {_keypath(sub)}")
                seen.add(key)
                self.lines[sub] = k.start_mark.line + 1
                self._index(v, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self.lines[(*loc, i)] = v.start_mark.line + 1
                self._index(v, (*loc, i))

    def clean(self, loc: Sequence[Any]) -> Loc:
        """A pydantic/our location reduced to the keys that exist in the file (drops union tags)."""
        out: list[str | int] = []
        cur = self.data
        for el in loc:
            if isinstance(cur, dict):
                key = next((k for k in cur if str(k) == str(el)), MISSING)
                if key is MISSING:
                    continue
                out.append(str(key))
                cur = cur[key]
            elif isinstance(cur, list) and isinstance(el, int) and 0 <= el < len(cur):
                out.append(el)
                cur = cur[el]
        return tuple(out)

    def where(self, loc: Sequence[Any], missing: str | None = None) -> str:
        """``file:line: mapping 'name': key.path``; ``missing`` names a required key not written."""
        cl = self.clean(loc)
        probe = cl
        while probe not in self.lines:
            probe = probe[:-1]
        shown = _keypath((*cl, missing) if missing else cl) or "(top level)"
        return f"{self.file}:{self.lines[probe]}: mapping {self.mapping!r}: {shown}"


def _keypath(loc: Sequence[Any]) -> str:
    out = ""
    for el in loc:
        if isinstance(el, int):
            out += f"[{el}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(el)):
            out += f".{el}" if out else str(el)
        else:
            out += f"[{str(el)!r}]"
    return out


def load_mapping(path: str | Path) -> MappedSource:
    """Load, validate and compile one mapping file (raises ConfigError)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: cannot read mapping: {e}") from None
    located = _Located(file, text)
    if not isinstance(located.data, dict):
        raise ConfigError(f"{file}:1: a mapping file holds one YAML mapping (name, match, fields, categories, "
                          f"examples, ...), not {type(located.data).__name__}")
    try:
        doc = MappingDoc.model_validate(located.data)
    except ValidationError as e:
        msgs = [f"{located.where(err['loc'][:-1], str(err['loc'][-1]))}: {err['msg']}"
                if err["type"] == "missing" and err["loc"] else f"{located.where(err['loc'])}: {err['msg']}"
                for err in e.errors()[:10]]
        raise ConfigError("\n".join(msgs)) from None
    return MappedSource(doc, file, located.where)


def load_mappings(paths: Iterable[str | Path]) -> list[SourceSpec]:
    """Source specs for mapping files (not registered; see ``register_mappings``)."""
    return [m.spec() for m in _load_all(paths)]


def _load_all(paths: Iterable[str | Path]) -> list[MappedSource]:
    out: list[MappedSource] = []
    names: dict[str, Path] = {}
    for p in paths:
        m = load_mapping(p)
        if m.name in names:
            raise ConfigError(f"{m.file}: mapping name {m.name!r} is also used by {names[m.name]}")
        names[m.name] = m.file
        out.append(m)
    return out


def register_mappings(paths: Iterable[str | Path]) -> list[SourceSpec]:
    """Load mapping files and register each as a source (a name clash is a ConfigError)."""
    specs = []
    for m in _load_all(paths):
        for n in (m.name, *m.doc.aliases):
            if n in SOURCES or n in ALIASES:
                raise ConfigError(f"{m.file}: mapping {m.name!r}: {n!r} is already a registered source")
        specs.append(register(m.spec()))
    return specs


_REGISTERED_FILES: set[str] = set()


def ensure_registered(paths: Iterable[str | Path]) -> list[SourceSpec]:
    """Register the mapping files a configuration names, once per file per process."""
    new = [p for p in paths if str(Path(p).resolve()) not in _REGISTERED_FILES]
    specs = register_mappings(new)
    _REGISTERED_FILES.update(str(Path(p).resolve()) for p in new)
    return specs


def shipped_mapping_files() -> list[Path]:
    return sorted(MAPPINGS_DIR.glob("*.yaml"))


SHIPPED: list[SourceSpec] = ensure_registered(shipped_mapping_files())
