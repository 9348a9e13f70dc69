"""What the store and Temporal can hold: text without NUL characters, valid UTF-8, shallow nesting.

PostgreSQL refuses NUL in text and JSONB, a lone surrogate (`"\\ud800"` in JSON) cannot be encoded
as UTF-8 anywhere, and very deep structures overflow recursive encoders. Data from outside is
checked with `storable_problems` before anything is written, so it is refused whole with the field
named instead of failing half-way through a write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 32


def text_problem(text: str) -> str | None:
    """Why this string cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (like \\ud800), which is not valid Unicode text"
    return None


def storable_problems(value: Any, path: str) -> list[tuple[str, str]]:
    """(field path, problem) for every string, key or nesting level here that cannot be stored."""
    problems: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            if problem := text_problem(item):
                problems.append((where, problem))
        elif isinstance(item, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                problems.append((where, f"nested more than {MAX_DEPTH} levels deep"))
                continue
            if isinstance(item, Mapping):
                for key, child in item.items():
                    child_path = f"{where}.{key}" if where else str(key)
                    if isinstance(key, str) and (problem := text_problem(key)):
                        problems.append((f"{where} key {key!r}", problem))
                        continue
                    stack.append((child, child_path, depth + 1))
            else:
                stack += [(child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item)]
    return sorted(problems)
