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
from workflows.language import Goto
from workflows.spec import JourneySpec
from workflows.steps import kind_of
from workflows.steps.base import CheckContext, TemplateChecker
from workflows.validation_messages import friendly_messages

# Files in a journeys folder that are data, not journeys.
DATA_FILES = frozenset({"intents.yaml", "scoring.yaml"})
SAMPLES_DIR = "samples"
KNOWLEDGE_DIR = "knowledge"  # the FAQ and product catalogue (inference_worker.knowledge)
TESTS_DIR = "tests"  # test cases of the journeys (`journeys test`)
DATA_DIRS = frozenset({SAMPLES_DIR, KNOWLEDGE_DIR, TESTS_DIR})
# Limits on a journey file, so a hostile or broken one is a clear error, not a hang or a crash.
MAX_FILE_BYTES = 512 * 1024
MAX_YAML_DEPTH = 32  # nested mappings and lists, aliases included
MAX_YAML_NODES = 50_000  # values in the document once aliases are expanded
MAX_STEPS = 500


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


def line_finder(text: str) -> Callable[[Iterable[Any]], int]:
    """For a YAML document: the line where the value at a location is written (1 if not found)."""
    try:
        return _Lines(yaml.compose(text, Loader=yaml.SafeLoader)).line
    except yaml.YAMLError:
        return lambda _loc: 1


def _step_of(data: Any, loc: tuple[Any, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        try:
            return str(data["steps"][loc[1]]["id"])
        except (KeyError, IndexError, TypeError):
            return f"#{loc[1] + 1}"
    return None


def _schema_problems(exc: ValidationError, data: Any, lines: _Lines, file: str) -> list[SpecProblem]:
    return [
        SpecProblem(file, lines.line(loc), _step_of(data, loc), message)
        for loc, message in friendly_messages(exc.errors(), data)
    ]


def _targets(step: Any) -> list[tuple[str, str]]:
    """(field, step id) pairs a step can jump to, besides falling through."""
    out: list[tuple[str, str]] = []
    if step.next:
        out.append(("next", step.next))
    if isinstance(step.on_error, Goto):
        out.append(("on_error", step.on_error.goto))
    return out + list(kind_of(step).targets(step))


def successors(spec: JourneySpec) -> dict[str, list[str]]:
    """Every step's possible next steps, including falling through to the step below."""
    ids = [s.id for s in spec.steps]
    graph: dict[str, list[str]] = {}
    for index, step in enumerate(spec.steps):
        nexts = [target for _, target in _targets(step)]
        falls_through = kind_of(step).falls_through and not step.next
        if falls_through and index + 1 < len(ids):
            nexts.append(ids[index + 1])
        graph[step.id] = nexts
    return graph


def check_graph(
    spec: JourneySpec,
    template_problems: TemplateChecker | None = None,
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
    context = CheckContext(steps=steps, template_problems=template_problems)
    for step in spec.steps:
        kind = kind_of(step)
        visible = known | {"received"} if kind.sees_received else known
        for field, source, is_condition in kind.expressions(step):
            try:
                names = condition_names(source) if is_condition else template_names(source)
            except ExpressionError as exc:
                problems.append((step.id, field, str(exc)))
                continue
            for name in sorted(names - visible):
                close = difflib.get_close_matches(name, sorted(visible), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                problems.append((step.id, field, f"unknown name '{name}' in {source!r}{hint}"))
        problems += [(step.id, field, message) for field, message in kind.check(step, context)]
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
    """A loop must pass a step that always waits, or the run would spin without end.

    Depth-first with an explicit stack, so a journey of any length is checked without recursion.
    """
    steps = spec.step_map()
    waits = {step_id for step_id, step in steps.items() if kind_of(step).always_waits(step)}
    problems: list[tuple[str | None, str, str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in graph:
        if root in state:
            continue
        state[root] = 1
        path, stack = [root], [iter(graph[root])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = 2
                continue
            if nxt in waits:
                continue  # edges into a step that always waits can't form a spinning loop
            if state.get(nxt) == 1:
                loop = path[path.index(nxt) :]
                maybe = [why for s in loop if (why := kind_of(steps[s]).why_it_may_not_wait(steps[s]))]
                because = f" ({'; '.join(maybe)})" if maybe else ""
                problems.append(
                    (
                        nxt,
                        "next",
                        f"loop {' -> '.join([*loop, nxt])} can run without waiting{because}; add a "
                        "wait with a duration, a wait_for_event, or a human_review of every run inside it",
                    )
                )
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(graph[nxt]))
    return list(dict.fromkeys(problems))  # a branch with two edges to one step finds its loop twice


def _yaml_limits(text: str, file: str) -> None:
    """Refuse deep nesting, recursive aliases and alias bombs before the YAML is built.

    Reads the event stream (no recursion, no objects built) and counts what the document would
    expand to, so a billion-laughs file is refused in milliseconds.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise SpecError([SpecProblem(file, 1, None, f"the file is larger than {MAX_FILE_BYTES // 1024} KB")])
    open_: list[list[Any]] = []  # [anchor, values inside, deepest nesting inside]
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, nesting)
    total = 0

    def fail(event: Any, message: str) -> None:
        raise SpecError([SpecProblem(file, event.start_mark.line + 1, None, message)])

    def add(values: int, depth: int) -> None:
        if open_:
            open_[-1][1] += values
            open_[-1][2] = max(open_[-1][2], depth)

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(open_) >= MAX_YAML_DEPTH:
                fail(event, f"nested more than {MAX_YAML_DEPTH} levels deep")
            open_.append([event.anchor, 1, 1])
            total += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, values, depth = open_.pop()
            if anchor:
                anchors[anchor] = (values, depth)
            add(values, depth + 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                anchors[event.anchor] = (1, 0)
            add(1, 1)
        elif isinstance(event, yaml.AliasEvent):
            if any(entry[0] == event.anchor for entry in open_):
                fail(event, f"the alias *{event.anchor} refers to a value that contains it (a loop)")
            values, depth = anchors.get(event.anchor, (1, 0))
            if len(open_) + depth > MAX_YAML_DEPTH:
                fail(
                    event,
                    f"the alias *{event.anchor} nests the document more than {MAX_YAML_DEPTH} levels deep",
                )
            total += values
            add(values, depth + 1)
        if total > MAX_YAML_NODES:
            fail(event, f"the document expands to more than {MAX_YAML_NODES:,} values (aliases included)")


def parse_journey(
    text: str, file: str = "<journey>", template_problems: TemplateChecker | None = None
) -> JourneySpec:
    """Parse and check one journey; raises SpecError with every problem found."""
    try:
        _yaml_limits(text, file)
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
    if isinstance(data.get("steps"), list) and len(data["steps"]) > MAX_STEPS:
        raise SpecError(
            [
                SpecProblem(
                    file,
                    lines.line(("steps",)),
                    None,
                    f"{len(data['steps'])} steps; a journey has at most {MAX_STEPS}: split it into journeys "
                    "that start each other with events",
                )
            ]
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


def load_journey(path: Path, template_problems: TemplateChecker | None = None) -> LoadedJourney:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SpecError(
            [SpecProblem(str(path), 1, None, f"the file is larger than {MAX_FILE_BYTES // 1024} KB")]
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([SpecProblem(str(path), 1, None, f"not UTF-8 text ({exc.reason})")]) from None
    spec = parse_journey(text, str(path), template_problems)
    return LoadedJourney(spec=spec, path=path, spec_hash=spec.content_hash())


def journey_files(paths: Iterable[Path]) -> list[Path]:
    """Journey files under the given files or folders (data files and samples left out)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*.y*ml")
                if p.name not in DATA_FILES and not DATA_DIRS & set(p.relative_to(path).parts)
            )
        else:
            found.append(path)
    return found


def load_journeys(folder: Path, template_problems: TemplateChecker | None = None) -> dict[str, LoadedJourney]:
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
