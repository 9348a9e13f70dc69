"""Runaway journeys: an expression over its limits fails its step, and a looping run is parked.

Before, such an expression failed the workflow task on every retry (the run wedged, never failed
nor dead-lettered), and a loop whose waits could be zero spun without end.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from activities import contracts as ac
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, DeadLetterAction

NESTED = """
id: nested
version: 1
description: a notify whose message loops event.n squared times
trigger: { event: go }
steps:
  - id: tell
    type: notify
    target: sales
    message: "{% for i in range(event.n) %}{% for j in range(event.n) %}.{% endfor %}{% endfor %}"
    on_error: { goto: rescue }
  - id: fine
    type: exit
    outcome: done
  - id: rescue
    type: exit
    outcome: rescued
"""


async def test_an_expression_over_its_limits_takes_the_steps_error_path(harness):
    handle = await harness.start(NESTED, event=CustomerEvent(name="go", properties={"n": 5000}))
    result = await handle.result()
    assert result.outcome == "rescued" and result.path == ["tell", "rescue"]
    [failed] = [c for c in harness.fakes.calls[ac.RECORD_STEP] if c.step_id == "tell"]
    assert failed.status == "failed" and "loop iterations and calls" in failed.error


async def test_an_expression_over_its_limits_without_an_error_path_is_dead_lettered(harness):
    no_error_path = NESTED.replace("    on_error: { goto: rescue }\n", "").split("  - id: rescue")[0]
    handle = await harness.start(no_error_path, event=CustomerEvent(name="go", properties={"n": 5000}))
    state = await parked(harness, handle)
    assert state.dead_letter.step_id == "tell" and "loop iterations" in state.dead_letter.error


RUNAWAY = """
id: runaway
version: 1
description: loops through a one-minute wait for ever
trigger: { event: go }
steps:
  - id: pause
    type: wait
    duration: 1m
  - id: again
    type: branch
    cases:
      - { when: "true", goto: pause }
    otherwise: pause
"""


async def parked(harness, handle, *, after: int = 0):
    """The run's state once it waits in dead letters (with more than `after` steps run)."""
    async with asyncio.timeout(60):
        while True:
            state = await handle.query(JourneyWorkflow.state)
            if state.dead_letter and len(state.path) > after:
                return state
            await harness.env.sleep(timedelta(minutes=5))  # the runaway's one-minute waits


async def test_a_run_that_spends_its_step_budget_is_parked_and_retry_grants_more(harness):
    handle = await harness.start(RUNAWAY, step_budget=20)
    state = await parked(harness, handle)
    assert len(state.path) == 20 and state.status == "running"
    assert state.dead_letter.error.startswith("StepBudgetSpent: the run took 20 steps (budget 20)")
    assert "pause, again" in state.dead_letter.error
    [opened] = harness.fakes.calls[ac.RECORD_DEAD_LETTER]
    assert opened.status == "open"

    await handle.execute_update(
        JourneyWorkflow.resolve_dead_letter, DeadLetterAction(action="retry", operator="ops")
    )
    state = await parked(harness, handle, after=20)
    assert len(state.path) == 40
    await handle.execute_update(
        JourneyWorkflow.resolve_dead_letter, DeadLetterAction(action="discard", operator="ops")
    )
    result = await handle.result()
    assert result.status == "failed" and result.outcome == "step_budget_spent"


async def test_the_step_budget_holds_across_continue_as_new(harness):
    handle = await harness.start(RUNAWAY, step_budget=30, max_steps_per_run=8)
    state = await parked(harness, handle)
    assert "took 30 steps" in state.dead_letter.error
    assert handle.first_execution_run_id != (await handle.describe()).run_id  # it continued as new
    await harness.env.sleep(timedelta(minutes=10))
    assert len((await handle.query(JourneyWorkflow.state)).path) <= 30
