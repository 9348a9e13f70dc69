"""Sandboxed Jinja2 expressions and text templates over a run's context.

Conditions (`intent.label == 'complaint'`) and text fields (`"{{ event.text }}"`) never reach Python
`eval`: they run in Jinja2's immutable sandbox with undefined names as errors, and validation
rejects any attempt to reach underscore attributes (the road to Python internals).

Expressions run inside the workflow, so they also get hard limits: loop iterations and calls per
evaluation, the size of every text or list they make, numbers, widths and ranges. The limits are
counts, not clocks, so an expression that goes over fails the same way on every replay, as an
`ExpressionError` that fails its step (never the workflow task). `lipsum`, `namespace` and the
`random` filter are not available: the first and last are random, the second lets a loop
accumulate without bound.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, wraps
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names every expression can see, besides the ids of the journey's steps.
CONTEXT_NAMES = frozenset({"event", "customer", "journey", "steps", "run"})

MAX_OPERATIONS = 10_000  # loop iterations plus calls in one evaluation
MAX_SIZE = 100_000  # characters of a text, or items of a list, made by an expression
MAX_RANGE = 10_000  # items of one range()
MAX_WIDTH = 10_000  # widths and counts given to center(), indent(), format specs and the like
MAX_INT_BITS = 256  # integers up to about 10**77
UNAVAILABLE = {
    "lipsum": "lipsum() makes random text, which would differ on replay; write the text",
    "namespace": "namespace() lets loops accumulate without bound; compute the value in the MA system",
}
_WIDTH_FILTERS = frozenset({"center", "indent", "wordwrap", "truncate", "batch", "slice"})
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_FORMAT_WIDTH = re.compile(r"%[-+ #0]*(\d*)(?:\.(\d+))?|\{[^{}]*:[^{}]*?(\d{5,})")
_budget: ContextVar[list[int] | None] = ContextVar("expression_budget", default=None)


class ExpressionError(ValueError):
    """An expression that cannot be parsed, references unknown names, or failed at run time."""

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message  # what went wrong, without the expression itself


class ExpressionLimit(ExpressionError):
    """An expression went over one of the hard limits."""


@contextmanager
def limits() -> Iterator[None]:
    """One evaluation's budget of operations; nested evaluations share the outer one."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set([MAX_OPERATIONS])
    try:
        yield
    finally:
        _budget.reset(token)


def _spend() -> None:
    budget = _budget.get()
    if budget is None:
        return  # constant folding at compile time: bounded by the checks on sizes and widths
    budget[0] -= 1
    if budget[0] < 0:
        raise ExpressionLimit(
            f"more than {MAX_OPERATIONS:,} loop iterations and calls", "it loops or calls too much"
        )


def _sized(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_SIZE:
        raise ExpressionLimit(f"made a value of {len(value):,} items or characters; at most {MAX_SIZE:,}")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise ExpressionLimit(f"made a number of {value.bit_length():,} bits; at most {MAX_INT_BITS}")
    return value


def _width(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_WIDTH:
        raise ExpressionLimit(f"{what} of {value:,}; at most {MAX_WIDTH:,}")


def _format_widths(text: Any) -> None:
    if isinstance(text, str):
        for match in _FORMAT_WIDTH.finditer(text):
            for digits in filter(None, match.groups()):
                _width(int(digits), "a format width")


def _limited_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise ExpressionLimit(f"range of {len(numbers):,} numbers; at most {MAX_RANGE:,}")
    return numbers


def _counted(items: Iterable[Any]) -> Iterator[Any]:
    """What every for loop iterates over: each iteration spends one operation."""
    for item in items:
        _spend()
        yield item


def _guarded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    skip = 2 if getattr(fn, "jinja_pass_arg", None) else 1  # the context or environment, the value

    @wraps(fn)  # keeps Jinja's pass_context / pass_environment markers
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend()
        if name in _WIDTH_FILTERS:
            for value in [*args[skip:], *kwargs.values()]:
                _width(value, f"{name}() width")
        if name == "format":
            _format_widths(args[0] if args else None)
        return _sized(fn(*args, **kwargs))

    return guarded


class DataSandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox where `a.b` on a mapping means its key `b` and nothing else, with
    the hard limits of this module.

    Plain Jinja2 tries attributes first, so `event.items` or `customer.attributes.values` would be
    dict methods, not the `items` property a marketer means, and a missing key would quietly be a
    method. Journey data is plain mappings: here `.b` is the key, or undefined (an error).
    """

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in UNAVAILABLE:
            self.globals.pop(name, None)
        self.globals["range"] = _limited_range
        self.filters.pop("random", None)
        self.filters = {name: _guarded_filter(name, fn) for name, fn in self.filters.items()}
        self.filters["_counted"] = _counted

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(left, int) and isinstance(right, int):
            if right > 0 and abs(left) > 1 and right * math.log2(abs(left)) > MAX_INT_BITS:
                raise ExpressionLimit(f"{left} ** {right} is too large a number")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_SIZE
                ):
                    raise ExpressionLimit(
                        f"repeats a value {times:,} times; at most {MAX_SIZE:,} items result"
                    )
        if operator == "%":
            _format_widths(left)
        return _sized(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _spend()
        method = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        name = getattr(method, "__name__", "")
        if isinstance(getattr(method, "__self__", None), str):
            if name in _WIDTH_METHODS:
                for value in [*args, *kwargs.values()]:
                    _width(value, f"{name}() width")
            if name in ("format", "format_map"):
                _format_widths(method.__self__)
        for value in [*args, *kwargs.values()]:
            _sized(value)
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Parse, then make every for loop iterate through `_counted` (one operation per item)."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_counted", [], [], None, None, lineno=loop.lineno)
        return tree


_env = DataSandbox(undefined=StrictUndefined, autoescape=False)


def _check_ast(tree: nodes.Node, source: str) -> None:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if isinstance(key, str) and key.startswith("_"):
            raise ExpressionError(f"{source!r} reaches for {key!r}: names starting with _ are not allowed")
    for node in tree.find_all(nodes.Name):
        if node.name in UNAVAILABLE:
            raise ExpressionError(f"{source!r} uses {node.name}: {UNAVAILABLE[node.name]}")
    for node in tree.find_all(nodes.Filter):
        if node.name == "random":
            raise ExpressionError(f"{source!r} uses the random filter, which would differ on replay")
    try:  # what can be computed now (constants) is held to the limits now
        for node in tree.find_all(nodes.BinExpr):
            _constant(node)
        for node in tree.find_all(nodes.Call):
            if isinstance(node.node, nodes.Name) and node.node.name == "range":
                _limited_range(*(_constant(arg) for arg in node.args))
    except ExpressionLimit as exc:
        raise ExpressionError(f"{source!r}: {exc}") from None
    except (nodes.Impossible, ArithmeticError, TypeError, ValueError):
        pass  # not constant: held to the limits when it runs


def _constant(node: nodes.Node) -> Any:
    """The value of a constant sub-expression, computed within the limits; Impossible if not constant."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.BinExpr):
        return _env.call_binop(None, node.operator, _constant(node.left), _constant(node.right))
    raise nodes.Impossible()


def _parse(source: str, shown: str) -> nodes.Template:
    try:
        tree = _env.parse(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"{shown!r} is not a valid expression: {exc.message}") from None
    _check_ast(tree, shown)
    return tree


def condition_names(source: str) -> set[str]:
    """Root names a condition reads; raises ExpressionError on bad syntax, escapes or limits."""
    return set(_compiled_condition(source)[0])


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
    """Root names a text template reads; raises ExpressionError on bad syntax, escapes or limits."""
    return set(_compiled_template(source)[0])


@lru_cache(maxsize=1024)
def _compiled_condition(source: str) -> tuple[frozenset[str], Any]:
    tree = _parse("{{ (" + source + ") }}", source)
    try:
        names = frozenset(meta.find_undeclared_variables(tree))
        return names, _env.compile_expression(source, undefined_to_none=False)
    except TemplateError as exc:  # an unknown filter or test
        raise ExpressionError(f"{source!r} is not a valid expression: {exc.message}") from None


@lru_cache(maxsize=1024)
def _compiled_template(source: str) -> tuple[frozenset[str], Any]:
    tree = _parse(source, source)
    try:
        return frozenset(meta.find_undeclared_variables(tree)), _env.from_string(source)
    except TemplateError as exc:
        raise ExpressionError(f"{source!r} is not a valid template: {exc.message}") from None


def evaluate(source: str, context: dict[str, Any]) -> Any:
    """Evaluate a condition; a missing name, a sandbox violation or a limit is an ExpressionError."""
    try:
        with limits():
            return _sized(_compiled_condition(source)[1](**context))
    except ExpressionError as exc:
        raise type(exc)(f"{source!r} failed: {exc}", exc.reason) from None
    except Exception as exc:  # whatever a marketer's expression does, it fails its step only
        raise ExpressionError(f"{source!r} failed: {exc}", _reason(exc)) from None


def render(source: str, context: dict[str, Any]) -> str:
    """Render a text template; a missing name, a sandbox violation or a limit is an ExpressionError."""
    try:
        with limits():
            size, parts = 0, []
            for part in _compiled_template(source)[1].generate(**context):
                size += len(part)
                if size > MAX_SIZE:
                    raise ExpressionLimit(f"rendered more than {MAX_SIZE:,} characters")
                parts.append(part)
            return "".join(parts)
    except ExpressionError as exc:
        raise type(exc)(f"{source!r} failed: {exc}", exc.reason) from None
    except Exception as exc:
        raise ExpressionError(f"{source!r} failed: {exc}", _reason(exc)) from None


def _reason(exc: Exception) -> str:
    """Jinja's words for a missing key ("'dict object' has no attribute 'total'"), made plain."""
    match = re.match(r"'[\w ]+' has no attribute '(.+)'$", str(exc))
    return f"'{match.group(1)}' is missing" if match else str(exc)
