"""Journeys written to hurt: expressions that loop, allocate or recurse, files that expand or nest.

Each case passed `journeys validate` or wedged it before: now validation names the problem, and
whatever validation cannot see fails the expression (and so its step) within the hard limits.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workflows.expressions import MAX_OPERATIONS, ExpressionError, ExpressionLimit, evaluate, render
from workflows.validation import MAX_STEPS, SpecError, load_journey, parse_journey

RUNAWAY_EXPRESSIONS = [
    ("a huge range", "{% for i in range(10**9) %}{% endfor %}", {}),
    ("nested loops", "{% for i in range(event.n) %}{% for j in range(event.n) %}.{% endfor %}{% endfor %}",
     {"event": {"n": 5000}}),
    ("a huge string", "{{ ('x' * 10**9)|length }}", {}),
    ("a huge number", "{{ 10**10**10 }}", {}),
    ("a huge width", "{{ 'x'|center(1000000000) }}", {}),
    ("a huge method width", "{{ 'x'.ljust(1000000000) }}", {}),
    ("a huge format width", "{{ '%999999999s' % 'x' }}", {}),
    ("a huge format spec", "{{ '{:>999999999}'.format('x') }}", {}),
    ("endless recursion", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", {}),
    ("tree recursion", "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}", {}),
    ("doubling through calls", "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('xxxxxxxx') }}", {}),
    ("a huge output", "{% for i in range(10000) %}{{ event.t }}{% endfor %}", {"event": {"t": "y" * 1000}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "source", "context"), RUNAWAY_EXPRESSIONS, ids=[c[0] for c in RUNAWAY_EXPRESSIONS]
)
def test_runaway_expressions_fail_fast_as_expression_errors(why: str, source: str, context: dict) -> None:
    started = time.perf_counter()
    with pytest.raises(ExpressionError):
        render(source, context)
    assert time.perf_counter() - started < 2, "a limit must stop it long before the workflow task times out"


def test_limits_leave_ordinary_journeys_alone() -> None:
    items = [{"name": f"item {i}", "price": i} for i in range(200)]
    text = render(
        "{% for i in event.items %}{{ i.name }}: {{ '%.2f' % i.price }}; {% endfor %}",
        {"event": {"items": items}},
    )
    assert text.count(";") == 200
    assert evaluate("event.items|map(attribute='price')|sum > 100", {"event": {"items": items}}) is True
    assert render("{{ 'Hi'|center(10) }}|{{ '{:>6}'.format('x') }}", {}) == "    Hi    |     x"


def test_the_operation_budget_is_per_evaluation() -> None:
    loop = "{% for i in range(" + str(MAX_OPERATIONS // 2) + ") %}{% endfor %}"
    for _ in range(3):  # each evaluation gets a fresh budget
        render(loop, {})
    with pytest.raises(ExpressionLimit, match="loop iterations and calls"):
        render(loop + loop + loop, {})


JOURNEY = """\
id: hostile
version: 1
description: d
trigger: {{ event: go }}
steps:
{steps}
"""


def journey(steps: str) -> str:
    return JOURNEY.format(steps=steps)


def problems(text: str) -> list[str]:
    started = time.perf_counter()
    with pytest.raises(SpecError) as failure:
        parse_journey(text, "journeys/hostile.yaml")
    assert time.perf_counter() - started < 5
    return [str(p) for p in failure.value.problems]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("{{ ('x' * 10**9)|length }}", "repeats a value"),
        ("{{ lipsum() }}", "lipsum() makes random text"),
        ("{% set ns = namespace(n=0) %}{{ ns.n }}", "namespace() lets loops accumulate"),
        ("{{ [1, 2]|random }}", "random filter"),
        ("{% for i in range(10**9) %}x{% endfor %}", "range of 1,000,000,000 numbers"),
        ("{{ event.text|no_such_filter }}", "No filter named 'no_such_filter'"),
    ],
)
def test_validation_refuses_what_would_misbehave_at_run_time(message: str, expected: str) -> None:
    steps = f'  - id: tell\n    type: notify\n    target: sales\n    message: "{message}"\n'
    [problem] = problems(journey(steps))
    assert "step 'tell'" in problem and expected in problem, problem


@pytest.mark.parametrize(
    ("waiting_step", "why"),
    [
        ("    type: human_review\n    group: g\n    deadline: 1h\n    sample_rate: 0\n", "samples 0%"),
        ("    type: wait\n    window: { start: '08:00', end: '20:00' }\n", "has only a window"),
    ],
)
def test_a_loop_through_a_wait_that_can_be_zero_is_refused(waiting_step: str, why: str) -> None:
    steps = (
        "  - id: copy\n    type: generate_copy\n    template: email/apology\n"
        f"  - id: pause\n{waiting_step}"
        "  - id: again\n    type: branch\n"
        "    cases:\n      - { when: 'true', goto: copy }\n    otherwise: copy\n"
    )
    [problem] = problems(journey(steps))
    assert "can run without waiting" in problem and why in problem, problem


def test_a_loop_through_a_real_wait_is_fine() -> None:
    steps = (
        "  - id: pause\n    type: wait\n    duration: 1d\n"
        "  - id: again\n    type: branch\n"
        "    cases:\n      - { when: 'true', goto: pause }\n    otherwise: pause\n"
    )
    assert parse_journey(journey(steps)).id == "hostile"


def test_a_long_chain_is_checked_without_recursion() -> None:
    chain = "".join(f"  - id: s{i}\n    type: wait\n    duration: 1m\n" for i in range(MAX_STEPS))
    assert len(parse_journey(journey(chain)).steps) == MAX_STEPS
    [problem] = problems(
        journey("".join(f"  - id: s{i}\n    type: wait\n    duration: 1m\n" for i in range(3000)))
    )
    assert f"3000 steps; a journey has at most {MAX_STEPS}" in problem


HOSTILE_YAML = [
    ("recursive anchor", "id: &a [*a]\n", "refers to a value that contains it"),
    ("billion laughs", "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
    ), "expands to more than"),
    ("deep nesting", "steps: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested more than 32 levels deep"),
    ("deep through an alias", "a: &a " + "[" * 30 + "]" * 30 + "\nb: " + "[" * 10 + "*a" + "]" * 10 + "\n",
     "nests the document"),
]  # fmt: skip


@pytest.mark.parametrize(("why", "text", "expected"), HOSTILE_YAML, ids=[c[0] for c in HOSTILE_YAML])
def test_hostile_yaml_is_a_clear_error(why: str, text: str, expected: str) -> None:
    [problem] = problems(text)
    assert problem.startswith("journeys/hostile.yaml:") and expected in problem, problem


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(journey("  - id: s\n    type: wait\n    duration: 1m\n") + "#" * (600 * 1024))
    with pytest.raises(SpecError, match="larger than 512 KB"):
        load_journey(path)


def test_durations_are_bounded() -> None:
    [problem] = problems(journey("  - id: s\n    type: wait\n    duration: 99999999999d\n"))
    assert "journeys wait at most ten years" in problem
