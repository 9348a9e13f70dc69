"""What `journeys test` says when a run did not do what its case expected: one line per
difference, naming the step, the message or the field."""

from __future__ import annotations

from datetime import UTC, datetime

from journeys_app.journey_tests.cases import Expect
from journeys_app.journey_tests.checks import Actual, SentMessage, failures_of

AT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def _actual(**changes: object) -> Actual:
    values: dict[str, object] = {
        "path": ["a", "b", "c"],
        "status": "completed",
        "outcome": "done",
        "goal_reached": False,
        "messages": [SentMessage("b", "email", "queued", "Hello", "Hi Ava", AT)],
        "notifications": [("sales", "Hot lead: Ava")],
        "reviews": {},
        "began": AT,
        "profile": {"tags": ["vip"], "consent": {"email": True}, "attributes": {}},
    }
    return Actual(**(values | changes))  # type: ignore[arg-type]


def _failures(expect: dict[str, object], **actual: object) -> list[str]:
    return failures_of(Expect.model_validate(expect), _actual(**actual))


def test_a_run_that_did_what_was_expected_has_no_failures():
    expect = {
        "path": ["a", "b", "c"],
        "outcome": "done",
        "messages": [{"channel": "email", "subject_contains": "hello"}],
        "notifications": [{"target": "sales", "contains": "hot"}],
        "profile": {"tags_include": ["vip"], "consent": {"email": True}},
    }
    assert _failures(expect) == []


def test_each_difference_is_one_line_that_names_it():
    assert _failures({"path": ["a", "x", "c"]}) == [
        "path differs at step 2: expected 'x', the run went to 'b'"
    ]
    assert _failures({"path": ["a", "b"]}) == ["path goes on after 'b': c"]
    assert _failures({"never_visits": ["b"]}) == ["visited step 'b', which it should not (path: a → b → c)"]
    assert _failures({"messages": []}) == ["expected no messages, found: email from step b"]
    assert _failures({"messages": [{"channel": "email", "not_before": "08:00"}]}) == [
        "email from step b went out at 02:00 UTC, outside 08:00-24:00"
    ]
    assert _failures({"profile": {"consent": {"email": False}, "tags_exclude": ["vip"]}}) == [
        "tag 'vip' present, which it should not be",
        "consent for email: expected false, is true",
    ]
    assert _failures({"messages": [{"body_matches": "^Hi (Ava|Ben)$"}]}) == []
    assert _failures({"messages": [{"subject_matches": "^Bye"}]}) == [
        "expected 1 email messages with subject matching /^Bye/, found 0: 'Hello' from step b (queued)"
    ]
    assert _failures({"runs": 2}) == ["runs: expected 2 run(s) of the journey for the customer, there were 1"]
    assert _failures({"notifications": [{"target": "support-queue"}]}) == [
        "expected an alert to support-queue, found: sales: Hot lead: Ava"
    ]


def test_the_same_message_twice_fails_unless_the_case_allows_it():
    twice = [
        SentMessage("b", "email", "queued", "Hello", "Hi Ava", AT),
        SentMessage("c", "email", "queued", "Hello", "Hi Ava", AT),
    ]
    assert _failures({}, messages=twice) == ["the same email went out 2 times (steps b, c): 'Hello'"]
    assert _failures({"sent_once": False}, messages=twice) == []
