"""Load journey files and check them like code: schema, graph and expressions.

Every problem names the file, the line, the step and how to fix it, because the reader is a
marketer with an editor, not a Python traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from workflows.expressions import CONTEXT_NAMES, ExpressionError, condition_names, template_names
from workflows.spec import STEP_TYPES, JourneySpec

# Files in a journeys folder that are data, not journeys.
DATA_FILES = frozenset({"intents.yaml", "scoring.yaml"})
SAMPLES_DIR = "samples"
# Step types after which a loop may come back without spinning: they wait for time or people.
WAITING_TYPES = frozenset({"wait", "wait_for_event", "human_review"})


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int
    step: str | None
    message: str

    def __str__(self) -> str:
        where = f"step '{self.step}': " if self.step else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class SpecError(ValueError):
    def __init__(self, problems: list[SpecProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class LoadedJourney:
    spec: JourneySpec
    path: Path
    spec_hash: str


class _Lines:
    """Line numbers of every mapping key and sequence item in a YAML document."""

    def __init__(self, root: yaml.Node | None):
        self.lines: dict[tuple[Any, ...], int] = {}
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[(*path, key.value)] = key.start_mark.line + 1
                self._walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, (*path, index))

    def line(self, loc: Iterable[Any]) -> int:
        found: tuple[Any, ...] = ()
        for part in loc:
            if (*found, part) in self.lines:
                found = (*found, part)
            # else: a pydantic-only segment (the union tag, "function-after"): skip it
        return self.lines.get(found, 1)


def _step_of(data: Any, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        try:
            return str(data["steps"][loc[1]]["id"])
        except (KeyError, IndexError, TypeError):
            return f"#{loc[1] + 1}"
    return None


def _friendly(error: dict[str, Any], data: Any) -> str:
    kind, loc = error["type"], error["loc"]
    field = str(loc[-1]) if loc else "journey"
    if kind == "missing":
        return f"'{field}' is missing; add it"
    if kind == "union_tag_invalid":
        given = error.get("input", {}).get("type") if isinstance(error.get("input"), dict) else None
        close = difflib.get_close_matches(str(given), STEP_TYPES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown step type '{given}'{hint}; known types: {', '.join(STEP_TYPES)}"
    if kind == "union_tag_not_found":
        return f"the step has no 'type'; use one of: {', '.join(STEP_TYPES)}"
    if kind == "extra_forbidden":
        return f"unknown field '{field}'; remove it or check its spelling"
    if kind == "string_pattern_mismatch" and field in {"id", "goto", "next", "otherwise"}:
        return f"'{field}' must be a lower-case name like send_apology (letters, digits, _)"
    message = error["msg"].removeprefix("Value error, ")
    return f"'{field}': {message}"


def _schema_problems(exc: ValidationError, data: Any, lines: _Lines, file: str) -> list[SpecProblem]:
    return [
        SpecProblem(file, lines.line(e["loc"]), _step_of(data, e["loc"]), _friendly(e, data))
        for e in exc.errors()
    ]


def _targets(step: Any) -> list[tuple[str, str]]:
    """(field, step id) pairs a step can jump to, besides falling through."""
    out: list[tuple[str, str]] = []
    if step.next:
        out.append(("next", step.next))
    if hasattr(step.on_error, "goto"):
        out.append(("on_error", step.on_error.goto))
    match step.type:
        case "branch":
            out += [("cases", c.goto) for c in step.cases] + [("otherwise", step.otherwise)]
        case "split":
            out += [("paths", p.goto) for p in step.paths]
        case "wait_for_event":
            if step.on_event:
                out.append(("on_event", step.on_event.goto))
            if hasattr(step.on_timeout, "goto"):
                out.append(("on_timeout", step.on_timeout.goto))
        case "human_review":
            if hasattr(step.on_reject, "goto"):
                out.append(("on_reject", step.on_reject.goto))
            if hasattr(step.on_timeout.then, "goto"):
                out.append(("on_timeout", step.on_timeout.then.goto))
    return out


def successors(spec: JourneySpec) -> dict[str, list[str]]:
    """Every step's possible next steps, including falling through to the step below."""
    ids = [s.id for s in spec.steps]
    graph: dict[str, list[str]] = {}
    for index, step in enumerate(spec.steps):
        nexts = [target for _, target in _targets(step)]
        falls_through = step.type not in {"exit", "branch", "split"} and not step.next
        if falls_through and index + 1 < len(ids):
            nexts.append(ids[index + 1])
        graph[step.id] = nexts
    return graph


def _expressions(step: Any) -> list[tuple[str, str, bool]]:
    """(field, source, is_condition) for every expression or text template in a step."""
    out: list[tuple[str, str, bool]] = []
    match step.type:
        case "classify_intent":
            out.append(("text", step.text, False))
        case "generate_copy" if step.brief:
            out.append(("brief", step.brief, False))
        case "human_review":
            out += [("always_when", c, True) for c in step.always_when]
        case "branch":
            out += [("cases", c.when, True) for c in step.cases]
        case "notify":
            out.append(("message", step.message, False))
        case "wait_for_event" if step.where:
            out.append(("where", step.where, True))
        case "update_profile":
            out += [("attributes", v, False) for v in step.attributes.values() if isinstance(v, str)]
    return out


def check_graph(
    spec: JourneySpec,
    template_problems: Callable[[str], list[str]] | None = None,
) -> list[tuple[str | None, str, str]]:
    """Graph, name and template problems as (step id, field, message)."""
    problems: list[tuple[str | None, str, str]] = []
    ids = [s.id for s in spec.steps]
    seen: set[str] = set()
    for step_id in ids:
        if step_id in seen:
            problems.append((step_id, "id", f"the id '{step_id}' is used twice; step ids must be unique"))
        if step_id in CONTEXT_NAMES:
            problems.append((step_id, "id", f"'{step_id}' is a reserved name; pick another step id"))
        seen.add(step_id)
    steps = spec.step_map()
    for step in spec.steps:
        for field, target in _targets(step):
            if target not in steps:
                close = difflib.get_close_matches(target, ids, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append((step.id, field, f"goes to '{target}', which is not a step{hint}"))
    if problems:
        return problems

    graph = successors(spec)
    reachable: set[str] = set()
    frontier = [ids[0]]
    while frontier:
        current = frontier.pop()
        if current not in reachable:
            reachable.add(current)
            frontier += graph[current]
    for step_id in ids:
        if step_id not in reachable:
            problems.append((step_id, "id", "no step leads here; link it with next/goto or remove it"))

    problems += _cycle_problems(spec, graph)

    known = CONTEXT_NAMES | set(ids)
    for step in spec.steps:
        visible = known | {"received"} if step.type == "wait_for_event" else known
        for field, source, is_condition in _expressions(step):
            try:
                names = condition_names(source) if is_condition else template_names(source)
            except ExpressionError as exc:
                problems.append((step.id, field, str(exc)))
                continue
            for name in sorted(names - visible):
                close = difflib.get_close_matches(name, sorted(visible), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append((step.id, field, f"unknown name '{name}' in {source!r}{hint}"))
        if step.type == "generate_copy" and template_problems:
            problems += [(step.id, "template", problem) for problem in template_problems(step.template)]
        copy_from = getattr(step, "copy_from", None)
        if copy_from and (
            copy_from not in steps or steps[copy_from].type not in {"generate_copy", "human_review"}
        ):
            problems.append(
                (step.id, "copy", f"copy: '{copy_from}' must name a generate_copy or human_review step")
            )
    # A trigger filter may read the customer; the entry key is made before the customer is loaded.
    for where, source, allowed in (
        ("trigger", spec.trigger.where, {"event", "customer"}),
        ("entry", spec.entry.key, {"event"}),
    ):
        if not source:
            continue
        try:
            names = condition_names(source) if where == "trigger" else template_names(source)
        except ExpressionError as exc:
            problems.append((None, where, str(exc)))
            continue
        if names - allowed:
            problems.append(
                (
                    None,
                    where,
                    f"{where} can only use {' and '.join(sorted(allowed))}, not "
                    f"{', '.join(sorted(names - allowed))}",
                )
            )
    if spec.decision and spec.decision.after not in steps:
        problems.append(
            (None, "decision", f"decision.after names '{spec.decision.after}', which is not a step")
        )
    return problems


def _cycle_problems(spec: JourneySpec, graph: dict[str, list[str]]) -> list[tuple[str | None, str, str]]:
    """A loop must pass a waiting step, or the run would spin without end."""
    kinds = {s.id: s.type for s in spec.steps}
    problems: list[tuple[str | None, str, str]] = []
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if kinds[nxt] in WAITING_TYPES:
                continue  # edges into a waiting step can't form a spinning loop
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt) :]
                if not any(kinds[s] in WAITING_TYPES for s in loop):
                    problems.append(
                        (
                            nxt,
                            "next",
                            f"loop {' -> '.join([*loop, nxt])} never waits; "
                            "add a wait, wait_for_event or human_review step inside it",
                        )
                    )
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for step_id in graph:
        if step_id not in state:
            visit(step_id)
    return problems


def parse_journey(
    text: str, file: str = "<journey>", template_problems: Callable[[str], list[str]] | None = None
) -> JourneySpec:
    """Parse and check one journey; raises SpecError with every problem found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise SpecError(
            [SpecProblem(file, line, None, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    lines = _Lines(root)
    if not isinstance(data, dict):
        raise SpecError(
            [SpecProblem(file, 1, None, "a journey file is a mapping with id, version, trigger and steps")]
        )
    try:
        spec = JourneySpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_schema_problems(exc, data, lines, file)) from None

    index = {step.id: i for i, step in enumerate(spec.steps)}
    problems = []
    for step_id, field, message in check_graph(spec, template_problems):
        loc: tuple[Any, ...] = ("steps", index[step_id], field) if step_id in index else (field,)
        problems.append(SpecProblem(file, lines.line(loc), step_id, message))
    if problems:
        raise SpecError(problems)
    return spec


def load_journey(path: Path, template_problems: Callable[[str], list[str]] | None = None) -> LoadedJourney:
    spec = parse_journey(path.read_text(encoding="utf-8"), str(path), template_problems)
    return LoadedJourney(spec=spec, path=path, spec_hash=spec.content_hash())


def journey_files(paths: Iterable[Path]) -> list[Path]:
    """Journey files under the given files or folders (data files and samples left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*.y*ml")
                if p.name not in DATA_FILES and SAMPLES_DIR not in p.relative_to(path).parts
            )
        else:
            found.append(path)
    return found


def load_journeys(
    folder: Path, template_problems: Callable[[str], list[str]] | None = None
) -> dict[str, LoadedJourney]:
    """Every journey in a folder, keyed by id; raises SpecError listing every problem."""
    loaded: dict[str, LoadedJourney] = {}
    problems: list[SpecProblem] = []
    for path in journey_files([folder]):
        try:
            journey = load_journey(path, template_problems)
        except SpecError as exc:
            problems += exc.problems
            continue
        if journey.spec.id in loaded:
            problems.append(
                SpecProblem(
                    str(path),
                    1,
                    None,
                    f"journey id '{journey.spec.id}' is also used by {loaded[journey.spec.id].path}",
                )
            )
        loaded[journey.spec.id] = journey
    if problems:
        raise SpecError(problems)
    return loaded
