"""Every schema error says what is wrong, what is allowed and what was written, in the file's own
words: never pydantic's type names (`Goto`, `literal['exit']`), patterns (`'^[a-z]…$'`) or phrasing
("Input should be a valid string")."""

from __future__ import annotations

import re

import pytest

from workflows.validation import SpecError, parse_journey

HEAD = "id: j\nversion: 1\ndescription: d\ntrigger: { event: go }\nsteps:\n"
END = "  - { id: e, type: exit }\n"
LEAKS = re.compile(r"Input should|Goto'|literal\[|\^\[|\$'|function-after|dict\[|model_type|Value error")

CASES = [
    (
        "  - { id: w, type: wait_for_event, event: x, timeout: 1h, on_timeout: somewhere }\n" + END,
        ["step 'w': 'on_timeout' must be next or exit, or { goto: <step id> } (got 'somewhere')"],
    ),
    (
        "  - { id: w, type: wait_for_event, event: x, timeout: 1h, on_timeout: true }\n" + END,
        ["step 'w': 'on_timeout' must be next or exit, or { goto: <step id> } (got true)"],
    ),
    (
        "  - { id: w, type: wait_for_event, event: x, timeout: 1h, on_timeout: { go: e } }\n" + END,
        [
            "step 'w': 'on_timeout.goto' is missing; add it",
            "step 'w': unknown field 'on_timeout.go'; remove it or check its spelling",
        ],
    ),
    (
        "  - { id: w, type: wait_for_event, event: [a, b], timeout: 1h }\n",
        ["step 'w': 'event' must be text (got a list); to wait for several events, write events: [a, b]"],
    ),
    (
        "  - { id: w, type: wait_for_event, event: a, events: [b], timeout: 1h }\n",
        ["step 'w': give either 'event: <name>' or 'events: [<name>, <name>]' (the first to arrive wins)"],
    ),
    (
        "  - { id: w, type: wait_for_event, events: [a, b], timeout: 1h, on_event: { c: { goto: e } } }\n"
        + END,
        ["step 'w': on_event names c, which this step does not wait for (a, b)"],
    ),
    (
        "  - { id: w, type: wait_for_event, events: [a, b], timeout: 1h, on_event: e }\n" + END,
        [
            "step 'w': 'on_event' must be { goto: <step id> }, or a mapping of name to { goto: <step id> } "
            "(got 'e')"
        ],
    ),
    (
        "  - { id: w, type: wait_for_event, events: [a, b], timeout: 1h, on_event: { a: e } }\n" + END,
        ["step 'w': 'on_event.a' must be { goto: <step id> } (got 'e')"],
    ),
    (
        "  - { id: w, type: wait_for_event, event: '', timeout: 1h }\n",
        ["step 'w': 'event' must not be empty"],
    ),
    (
        "  - { id: e, type: exit, outcome: 'Bad Outcome' }\n",
        [
            "step 'e': 'outcome' must be a lower-case name like send_apology (letters, digits and _, "
            "starting with a letter) (got 'Bad Outcome')"
        ],
    ),
    (
        "  - { id: w, type: wait, window: { start: '25:00', end: '08:00' } }\n",
        ["step 'w': 'window.start' must be a time of day like 08:00 (24-hour HH:MM) (got '25:00')"],
    ),
    (
        "  - { id: s, type: send, channel: fax }\n",
        ["step 's': 'channel' must be one of: email, sms, push or webhook (got 'fax')"],
    ),
    (
        "  - { id: b, type: branch, cases: x, otherwise: e }\n" + END,
        ["step 'b': 'cases' must be a list, like [a, b] or one '- ' line per item (got 'x')"],
    ),
    (
        "  - { id: s, type: split, paths: [ { name: a, weight: x, goto: e } ] }\n" + END,
        ["step 's': 'paths[0].weight' must be a number, like 0.5 (got 'x')"],
    ),
    (
        "  - { id: r, type: human_review, group: g, deadline: 1h, sample_rate: 2 }\n",
        ["step 'r': 'sample_rate' must be at most 1.0 (got 2)"],
    ),
    (
        "  - hello\n",
        ["step '#1': each step is a mapping with at least id and type, like - { id: done, type: exit }"],
    ),
]


@pytest.mark.parametrize(("steps", "expected"), CASES)
def test_each_schema_error_reads_as_a_fix(steps: str, expected: list[str]):
    with pytest.raises(SpecError) as failure:
        parse_journey(HEAD + steps, "f.yaml")
    messages = [str(p).split(": ", 1)[1] for p in failure.value.problems]
    for message in messages:
        assert not LEAKS.search(message), message
    for line in expected:
        assert line in messages, messages


def test_a_version_that_is_not_a_number_and_steps_that_are_not_a_list():
    text = "id: j\nversion: one\ndescription: d\ntrigger: { event: go }\nsteps: hello\n"
    with pytest.raises(SpecError) as failure:
        parse_journey(text, "f.yaml")
    assert [str(p) for p in failure.value.problems] == [
        "f.yaml:2: 'version' must be a whole number, like 2 (got 'one')",
        "f.yaml:5: 'steps' must be a list, like [a, b] or one '- ' line per item (got 'hello')",
    ]
