"""Sandboxed Jinja2 expressions and text templates over a run's context.

Conditions (`intent.label == 'complaint'`) and text fields (`"{{ event.text }}"`) never reach Python
`eval`: they run in Jinja2's immutable sandbox with undefined names as errors, and validation
rejects any attempt to reach underscore attributes (the road to Python internals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names every expression can see, besides the ids of the journey's steps.
CONTEXT_NAMES = frozenset({"event", "customer", "journey", "steps", "run"})


class DataSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox where `a.b` on a mapping means its key `b` and nothing else.

    Plain Jinja2 tries attributes first, so `event.items` or `customer.attributes.values` would be
    dict methods, not the `items` property a marketer means, and a missing key would quietly be a
    method. Journey data is plain mappings: here `.b` is the key, or undefined (an error).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_env = DataSandbox(undefined=StrictUndefined, autoescape=False)


class ExpressionError(ValueError):
    """An expression that cannot be parsed, references unknown names, or failed at run time."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message  # what went wrong, without the expression itself


def _check_ast(tree: nodes.Node, source: str) -> None:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(key, str) and key.startswith("_"):
            raise ExpressionError(f"{source!r} reaches for {key!r}: names starting with _ are not allowed")


def _parse(source: str, shown: str) -> nodes.Template:
    try:
        tree = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"{shown!r} is not a valid expression: {exc.message}") from None
    _check_ast(tree, shown)
    return tree


def condition_names(source: str) -> set[str]:
    """Root names a condition reads; raises ExpressionError on bad syntax or escapes."""
    return meta.find_undeclared_variables(_parse("{{ (" + source + ") }}", source))


def fields_read(source: str, root: str, *, condition: bool = False) -> set[str]:
    """Keys read directly off `root` (`event.order_id` → order_id), for hints in error messages."""
    tree = _parse("{{ (" + source + ") }}" if condition else source, source)
    found: set[str] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node.node, nodes.Name) and node.node.name == root:
            key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
            if isinstance(key, str):
                found.add(key)
    return found


def template_names(source: str) -> set[str]:
    """Root names a text template reads; raises ExpressionError on bad syntax or escapes."""
    return meta.find_undeclared_variables(_parse(source, source))


@lru_cache(maxsize=1024)
def _compiled_condition(source: str) -> Any:
    condition_names(source)
    return _env.compile_expression(source, undefined_to_none=False)


@lru_cache(maxsize=1024)
def _compiled_template(source: str) -> Any:
    template_names(source)
    return _env.from_string(source)


def evaluate(source: str, context: dict[str, Any]) -> Any:
    """Evaluate a condition; a missing name or a sandbox violation is an ExpressionError."""
    try:
        return _compiled_condition(source)(**context)
    except (UndefinedError, SecurityError, TypeError, ZeroDivisionError) as exc:
        raise ExpressionError(f"{source!r} failed: {exc}", _reason(exc)) from None


def render(source: str, context: dict[str, Any]) -> str:
    """Render a text template; a missing name or a sandbox violation is an ExpressionError."""
    try:
        return _compiled_template(source).render(**context)
    except (UndefinedError, SecurityError, TypeError, ZeroDivisionError) as exc:
        raise ExpressionError(f"{source!r} failed: {exc}", _reason(exc)) from None


def _reason(exc: Exception) -> str:
    """Jinja's words for a missing key ("'dict object' has no attribute 'total'"), made plain."""
    match = re.match(r"'[\w ]+' has no attribute '(.+)'$", str(exc))
    return f"'{match.group(1)}' is missing" if match else str(exc)
