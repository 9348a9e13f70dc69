"""`journeys test --coverage`: every step, branch case, split arm and wait outcome no case takes."""

from __future__ import annotations

from journeys_app.journey_tests.coverage import coverage_of
from workflows.validation import parse_journey

SPEC = parse_journey(
    """
id: j
version: 1
description: d
trigger: { event: go }
steps:
  - id: route
    type: branch
    cases: [ { when: "event.vip", goto: wait } ]
    otherwise: test
  - id: test
    type: split
    paths: [ { name: a, weight: 1, goto: done }, { name: b, weight: 1, goto: done } ]
  - id: wait
    type: wait_for_event
    event: reply
    timeout: 1d
  - { id: done, type: exit }
"""
)


def test_what_no_case_takes_is_listed():
    vip = [("route", {"matched": 0, "goto": "wait"}), ("wait", {"received": False}), ("done", {})]
    plain = [("route", {"matched": None, "goto": "test"}), ("test", {"path": "a"}), ("done", {})]
    coverage = coverage_of(SPEC, [vip, plain])
    assert coverage.missing_steps == []
    assert coverage.missing_branches == ["test → b", "wait → event"]
    assert not coverage.complete
    ended_while_waiting = [("route", {"matched": 0, "goto": "wait"}), ("wait", {})]
    only = coverage_of(SPEC, [ended_while_waiting])
    assert only.missing_steps == ["test", "done"]
    assert "wait → timeout" in only.missing_branches and "wait → event" in only.missing_branches
