"""Match conditions, compiled once into plain predicates.

Syntax (a mapping; every entry must hold)::

    identity.kind: agent                 # equals
    outcome: [success]                   # in
    categories: {any: [data.destroy, backup.destroy]}   # list fields: any / all / none
    resource.name: {regex: '(^|-)prod(-|$)'}
    actor.user_agent: {contains: cursor}  # also prefix, suffix (case-insensitive: icontains ...)
    identity.confidence: {gte: 0.9}      # gt gte lt lte eq ne in not_in exists
    any: [{...}, {...}]                  # or; all: [...]; not: {...}

Errors raise ``RuleSyntaxError`` with the path of the offending key; the loader
turns that into file:line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from auditwatch.detectors.rules.fields import Getter
from auditwatch.model import Event

Pred = Callable[[Event], bool]
LIST_FIELDS = {"categories", "identity.environments"}
SCALAR_OPS = {"eq", "ne", "in", "not_in", "prefix", "suffix", "contains", "iprefix", "isuffix", "icontains",
              "regex", "gt", "gte", "lt", "lte", "exists"}
LIST_OPS = {"any", "all", "none", "exists", "empty"}


class RuleSyntaxError(ValueError):
    def __init__(self, message: str, path: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass
class Hints:
    """What an event must have for the condition to possibly hold (for indexing)."""

    categories: set[str] | None = None  # at least one of these
    kinds: set[str] | None = None
    needs: list[str] = field(default_factory=list)


def compile_match(spec: Any, fields: dict[str, Getter], path: tuple[Any, ...] = ("match",),
                  hints: Hints | None = None) -> Pred:
    if not isinstance(spec, dict) or not spec:
        raise RuleSyntaxError("a match must be a non-empty mapping of field: condition", path)
    preds: list[Pred] = []
    for key, cond in spec.items():
        p = path + (key,)
        if key in ("all", "any"):
            if not isinstance(cond, list) or not cond:
                raise RuleSyntaxError(f"'{key}' takes a non-empty list of matches", p)
            subs = [compile_match(c, fields, p + (i,)) for i, c in enumerate(cond)]
            preds.append(_all(subs) if key == "all" else _any(subs))
            continue
        if key == "not":
            sub = compile_match(cond, fields, p)
            preds.append(lambda ev, sub=sub: not sub(ev))
            continue
        getter = fields.get(key)
        if getter is None:
            near = [f for f in fields if f.split(".")[-1] == str(key).split(".")[-1]]
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise RuleSyntaxError(f"unknown field {key!r}{hint}", p)
        preds.append(_field_pred(key, getter, cond, p, hints))
    return preds[0] if len(preds) == 1 else _all(preds)


def _all(ps: list[Pred]) -> Pred:
    return lambda ev: all(p(ev) for p in ps)


def _any(ps: list[Pred]) -> Pred:
    return lambda ev: any(p(ev) for p in ps)


def _field_pred(name: str, get: Getter, cond: Any, path: tuple[Any, ...], hints: Hints | None) -> Pred:
    is_list = name in LIST_FIELDS
    if not isinstance(cond, dict):
        if is_list:
            vals = set(_as_list(cond))
            if hints is not None and name == "categories":
                hints.categories = vals
            return lambda ev: not vals.isdisjoint(get(ev))
        if isinstance(cond, list):
            vals = set(cond)
            if hints is not None and name == "identity.kind":
                hints.kinds = set(vals)
            return lambda ev: get(ev) in vals
        if hints is not None and name == "identity.kind":
            hints.kinds = {cond}
        return lambda ev: get(ev) == cond
    preds: list[Pred] = []
    for op, val in cond.items():
        p = path + (op,)
        allowed = LIST_OPS if is_list else SCALAR_OPS
        if op not in allowed:
            raise RuleSyntaxError(f"unknown operator {op!r} for {name} (one of {', '.join(sorted(allowed))})", p)
        preds.append(_op(name, get, op, val, p, hints, is_list))
    return preds[0] if len(preds) == 1 else _all(preds)


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, (list, tuple, set)) else [v]


def _op(name: str, get: Getter, op: str, val: Any, path: tuple[Any, ...], hints: Hints | None,
        is_list: bool) -> Pred:
    if is_list:
        if op == "exists" or op == "empty":
            want = bool(val) if op == "exists" else not bool(val)
            return lambda ev: bool(get(ev)) == want
        vals = set(_as_list(val))
        if op == "any":
            if hints is not None and name == "categories":
                hints.categories = vals
            return lambda ev: not vals.isdisjoint(get(ev))
        if op == "all":
            if hints is not None and name == "categories":
                hints.categories = vals
            return lambda ev: vals.issubset(get(ev))
        return lambda ev: vals.isdisjoint(get(ev))  # none
    if op == "eq":
        return lambda ev: get(ev) == val
    if op == "ne":
        return lambda ev: get(ev) != val
    if op in ("in", "not_in"):
        if not isinstance(val, list):
            raise RuleSyntaxError(f"'{op}' takes a list", path)
        s = set(val)
        if op == "in" and hints is not None and name == "identity.kind":
            hints.kinds = set(s)
        return (lambda ev: get(ev) in s) if op == "in" else (lambda ev: get(ev) not in s)
    if op in ("prefix", "suffix", "contains", "iprefix", "isuffix", "icontains"):
        if not isinstance(val, (str, list)):
            raise RuleSyntaxError(f"'{op}' takes a string or a list of strings", path)
        needles = tuple(_as_list(val))
        if op.startswith("i"):
            needles = tuple(n.lower() for n in needles)
            base = op[1:]
            lower: Callable[[Any], str] = lambda x: str(x).lower()  # noqa: E731
        else:
            base = op
            lower = str
        if base == "prefix":
            return lambda ev: lower(get(ev)).startswith(needles)
        if base == "suffix":
            return lambda ev: lower(get(ev)).endswith(needles)
        return lambda ev: any(n in lower(get(ev)) for n in needles)
    if op == "regex":
        try:
            rx = re.compile(val)
        except (re.error, TypeError) as e:
            raise RuleSyntaxError(f"bad regex {val!r}: {e}", path) from None
        return lambda ev: bool(rx.search(str(get(ev))))
    if op in ("gt", "gte", "lt", "lte"):
        if not isinstance(val, (int, float)) or isinstance(val, bool):
            raise RuleSyntaxError(f"'{op}' takes a number", path)
        cmp = {"gt": float.__gt__, "gte": float.__ge__, "lt": float.__lt__, "lte": float.__le__}[op]

        def num(ev: Event) -> bool:
            try:
                return cmp(float(get(ev)), float(val))
            except (TypeError, ValueError):
                return False
        return num
    if op == "exists":
        want = bool(val)
        return lambda ev: (get(ev) not in (None, "", (), [])) == want
    raise RuleSyntaxError(f"unknown operator {op!r}", path)  # pragma: no cover
