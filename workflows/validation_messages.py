"""Schema errors in words a marketer can act on: what is wrong, what is allowed, what was written.

Pydantic reports a union field once per alternative, under type names (`Goto`,
`literal['next','exit']`) and with its own phrasing ("Input should be a valid string"); none of that
reaches the reader. Each field gets one message that names the field as the file does (`window.start`,
`paths[1].weight`) and the values or shape it takes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from workflows.language import STEP_ID
from workflows.steps import STEP_TYPES

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")
_BARE_TYPES = {"str", "int", "float", "bool", "list", "dict", "none"}

# What a pattern asks for, in words.
_PATTERNS = {
    STEP_ID: "a lower-case name like send_apology (letters, digits and _, starting with a letter)",
    r"^([01]\d|2[0-3]):[0-5]\d$": "a time of day like 08:00 (24-hour HH:MM)",
    r"^[a-z_]+/[a-z0-9_]+$": "a template name like email/apology (folder/name)",
}
# The shape of a union alternative, by pydantic's name for it.
_ALTERNATIVES = {"Goto": "{ goto: <step id> }"}
_MAPPING_TYPES = {"dict_type", "model_type", "model_attributes_type"}
_STEP_EXAMPLE = "- { id: done, type: exit }"


def _is_tag(part: Any) -> bool:
    """A pydantic-only segment of an error's location: a union member's type, not a field."""
    if isinstance(part, int):
        return False
    return not _FIELD.fullmatch(part) or part in _BARE_TYPES


def _where(loc: tuple[Any, ...]) -> str:
    """`window.start`, `paths[1].weight`: the field as the file spells it, within its step."""
    parts = list(loc[2:] if loc[:1] == ("steps",) and len(loc) > 2 else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "journey"


def _value_at(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _got(value: Any) -> str:
    if isinstance(value, bool):
        return f" (got {str(value).lower()})"
    if isinstance(value, dict):
        return " (got a mapping)"
    if isinstance(value, list):
        return " (got a list)"
    if value is None:
        return ""
    return f" (got {value!r})" if isinstance(value, str) else f" (got {value})"


def _choices(expected: str) -> str:
    """ "'email', 'sms' or 'push'" -> "email, sms or push"."""
    return expected.replace("'", "")


def _one(error: dict[str, Any], where: str) -> str:
    """One error of a plain (non-union) field."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    field = f"'{where}'"
    match kind:
        case "missing":
            return f"{field} is missing; add it"
        case "extra_forbidden":
            return f"unknown field {field}; remove it or check its spelling"
        case "literal_error":
            return f"{field} must be one of: {_choices(str(ctx.get('expected', '')))}{_got(value)}"
        case "string_type":
            hint = "; to wait for several events, write events: [a, b]" if where == "event" else ""
            return f"{field} must be text{_got(value)}{hint}"
        case "int_type" | "int_parsing" | "int_from_float":
            return f"{field} must be a whole number, like 2{_got(value)}"
        case "float_type" | "float_parsing":
            return f"{field} must be a number, like 0.5{_got(value)}"
        case "bool_type" | "bool_parsing":
            return f"{field} must be true or false{_got(value)}"
        case "list_type":
            return f"{field} must be a list, like [a, b] or one '- ' line per item{_got(value)}"
        case "model_type" if ctx.get("class_name") in _ALTERNATIVES:
            return f"{field} must be {_ALTERNATIVES[ctx['class_name']]}{_got(value)}"
        case _ if kind in _MAPPING_TYPES:
            return f"{field} must be a mapping of field: value{_got(value)}"
        case "string_too_short":
            return f"{field} must not be empty"
        case "too_short":
            return f"{field} needs at least {ctx.get('min_length', 1)} item(s)"
        case "string_too_long":
            return f"{field} is too long: at most {ctx.get('max_length')} characters"
        case "too_long":
            return f"{field} has too many items: at most {ctx.get('max_length')}"
        case "less_than_equal" | "less_than" | "greater_than_equal" | "greater_than":
            bound = {"less_than_equal": "at most", "less_than": "less than"}.get(kind)
            bound = bound or {"greater_than_equal": "at least", "greater_than": "more than"}[kind]
            limit = next(iter(ctx.values()), "")
            return f"{field} must be {bound} {limit}{_got(value)}"
        case "string_pattern_mismatch":
            wanted = _PATTERNS.get(str(ctx.get("pattern")), "in the documented form (docs/journeys.md)")
            return f"{field} must be {wanted}{_got(value)}"
        case "value_error" | "assertion_error":
            return f"{field}: {error['msg'].removeprefix('Value error, ').removeprefix('Assertion failed, ')}"
    return f"{field} is not valid{_got(value)}; see its row in docs/journeys.md"


def _alternative(error: dict[str, Any], tag: str) -> str | None:
    if tag in _ALTERNATIVES:
        return _ALTERNATIVES[tag]
    if tag.startswith("literal["):
        return _choices(str((error.get("ctx") or {}).get("expected", ""))) or None
    if tag.startswith("dict["):
        return "a mapping of name to { goto: <step id> }"
    if tag.startswith("list["):
        return "a list"
    return {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false"}.get(tag)


def friendly_messages(errors: list[dict[str, Any]], data: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(location in the file, message) for each field pydantic rejected; a union field once."""
    unions: dict[tuple[Any, ...], list[tuple[dict[str, Any], str, tuple[Any, ...]]]] = {}
    for error in errors:
        loc, kind = tuple(error["loc"]), error["type"]
        if kind == "union_tag_invalid":
            given = error.get("input", {}).get("type") if isinstance(error.get("input"), dict) else None
            close = difflib.get_close_matches(str(given), STEP_TYPES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield loc, f"unknown step type '{given}'{hint}; known types: {', '.join(STEP_TYPES)}"
            continue
        if kind == "union_tag_not_found":
            yield loc, f"the step has no 'type'; use one of: {', '.join(STEP_TYPES)}"
            continue
        if len(loc) > 2 and loc[0] == "steps" and loc[2] in STEP_TYPES:
            loc = loc[:2] + loc[3:]  # the step's type, by which pydantic chose its model
        fields = tuple(part for part in loc if not _is_tag(part))
        tag_at = next((i for i, part in enumerate(loc) if _is_tag(part)), None)
        if tag_at is None:
            if len(fields) == 2 and fields[0] == "steps" and kind in _MAPPING_TYPES:
                yield fields, f"each step is a mapping with at least id and type, like {_STEP_EXAMPLE}"
                continue
            if len(fields) == 2 and fields[0] == "steps" and kind == "value_error":
                yield fields, _one(error, "step").removeprefix("'step': ")  # a rule across fields
                continue
            yield fields, _one(error, _where(fields))
            continue
        union = tuple(part for part in loc[:tag_at] if not _is_tag(part))
        unions.setdefault(union, []).append((error, str(loc[tag_at]), fields))
    for union, branches in unions.items():
        value = _value_at(data, union)
        nested: dict[str, list[tuple[dict[str, Any], tuple[Any, ...]]]] = {}
        for error, tag, fields in branches:
            if len(fields) > len(union):
                nested.setdefault(tag, []).append((error, fields))
        if isinstance(value, dict) and nested:
            # A mapping was meant: what is wrong inside it, by the alternative it comes closest to.
            for error, fields in min(nested.values(), key=len):
                yield fields, _one(error, _where(fields))
            continue
        shapes = list(dict.fromkeys(filter(None, (_alternative(e, tag) for e, tag, _ in branches))))
        shapes.sort(key=lambda shape: 1 if shape.startswith("{") else 2 if shape.startswith("a ") else 0)
        allowed = ", or ".join(shapes) if shapes else "in the documented form (docs/journeys.md)"
        yield union, f"'{_where(union)}' must be {allowed}{_got(value)}"
