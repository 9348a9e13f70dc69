"""Interpreter semantics of every step type, on the time-skipping server (days pass in seconds)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities import contracts as ac
from inference_worker import contracts as ic
from tests.workflow.conftest import Fakes
from workflows.journey import JourneyWorkflow
from workflows.models import Carried, CustomerEvent, DecideRequest
from workflows.patches import BUNDLE_2026_12
from workflows.review import ReviewDecision

ROUTING = """
id: routing
version: 3
description: test routing
trigger: { event: message_received }
exit_on: [account_closed]
steps:
  - id: intent
    type: classify_intent
  - id: value
    type: score
  - id: route
    type: branch
    cases:
      - when: "intent.label == 'complaint' and value.band == 'vip'"
        goto: apology
      - when: "intent.label == 'unsubscribe'"
        goto: opt_out
    otherwise: answer
  - id: apology
    type: generate_copy
    template: email/apology
    variants: 2
  - id: review
    type: human_review
    group: vip-care
    deadline: 1h
    on_timeout: { escalate_to: leads, deadline: 1h, then: approve }
  - id: send_apology
    type: send
    channel: email
  - id: wait_reply
    type: wait_for_event
    event: customer_replied
    timeout: 2d
    on_event: { goto: replied }
    on_timeout: { goto: call }
  - id: call
    type: notify
    target: account-managers
    message: "call {{ customer.first_name }}"
    next: done
  - id: replied
    type: exit
    outcome: replied
  - id: opt_out
    type: update_profile
    add_tags: [opted_out]
    consent: { email: false }
    on_low_confidence: { goto: answer }
    next: done
  - id: answer
    type: generate_copy
    template: email/answer
  - id: send_answer
    type: send
    channel: email
  - id: done
    type: exit
    outcome: routed
"""


async def pending_review_id(handle) -> str:
    for _ in range(200):
        state = await handle.query(JourneyWorkflow.state)
        if state.pending_review:
            return state.pending_review.review_id
        await asyncio.sleep(0.05)
    raise AssertionError("no review became pending")


async def approve_pending(handle) -> None:
    review_id = await pending_review_id(handle)
    await handle.execute_update(
        JourneyWorkflow.submit_review,
        ReviewDecision(review_id=review_id, decision="approve", reviewer="maria", variant=0),
    )


async def test_vip_complaint_review_send_and_event(harness):
    event = CustomerEvent(name="message_received", properties={"text": "My order arrived broken!"})
    handle = await harness.start(ROUTING, "c1", event)
    review_id = await pending_review_id(handle)
    state = await handle.query(JourneyWorkflow.state)
    assert state.pending_review.group == "vip-care" and len(state.pending_review.variants) == 2
    assert state.spec_hash and state.journey_version == 3

    ack = await handle.execute_update(
        JourneyWorkflow.submit_review,
        ReviewDecision(review_id=review_id, decision="edit", reviewer="maria", variant=1, body="Edited."),
    )
    assert ack.accepted
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="customer_replied"))
    result = await handle.result()
    assert result.outcome == "replied"
    assert result.path == [
        "intent",
        "value",
        "route",
        "apology",
        "review",
        "send_apology",
        "wait_reply",
        "replied",
    ]
    [sent] = harness.fakes.calls[ac.SEND_MESSAGE]
    assert sent.body == "Edited." and sent.subject == "Hi Ava #1" and sent.source == "reviewer_edit"
    assert sent.idempotency_key == f"{handle.id}:send_apology:1"
    statuses = [r.status for r in harness.fakes.calls[ac.RECORD_REVIEW]]
    assert statuses == ["pending", "edited"]
    assert harness.fakes.calls[ac.FINISH_RUN][-1].outcome == "replied"


async def test_a_new_run_records_one_patch_marker_for_all_its_patches(harness):
    """Each patch marker comes with an upsert the server indexes: a run begun now records the
    bundle's alone (the VIP path passes five patched behaviours: bookkeeping, classify with
    score, where it waits, the reviewer check, event dedupe)."""
    event = CustomerEvent(name="message_received", properties={"text": "My order arrived broken!"})
    handle = await harness.start(ROUTING, "c1", event)
    await approve_pending(handle)
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="customer_replied", message_id="m-1"))
    assert (await handle.result()).outcome == "replied"
    events = [e async for e in handle.fetch_history_events()]
    patches = [
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for e in events
        if e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert patches == [BUNDLE_2026_12]
    upserts = [e for e in events if e.HasField("upsert_workflow_search_attributes_event_attributes")]
    assert len(upserts) == 1


async def test_a_classification_and_the_score_after_it_are_one_inference_call(harness):
    event = CustomerEvent(name="message_received", properties={"text": "please unsubscribe me"})
    handle = await harness.start(ROUTING, "c1", event)
    await handle.result()
    [both] = harness.fakes.calls[ic.CLASSIFY_AND_SCORE]
    assert both.score.kind == "customer_value" and both.score.intent is None
    assert ic.CLASSIFY_INTENT in harness.fakes.calls  # answered inside the one call
    [scored] = harness.fakes.calls[ic.SCORE_CUSTOMER]  # the score step did not ask a second time
    state = await handle.query(JourneyWorkflow.state)
    assert scored.intent == ic.IntentResult.model_validate(state.results["intent"])
    assert state.results["value"]["band"] == "vip" and state.results["value"]["backend"] == "fake"
    recorded = {r.step_id: r for r in harness.fakes.calls[ac.RECORD_STEP]}
    assert recorded["value"].status == "completed" and recorded["value"].result == state.results["value"]


async def test_a_score_that_fails_beside_the_classification_is_asked_for_again(harness):
    harness.fakes.fail.add(ic.SCORE_CUSTOMER)
    event = CustomerEvent(name="message_received", properties={"text": "please unsubscribe me"})
    handle = await harness.start(ROUTING, "c1", event)
    await handle.result()
    state = await handle.query(JourneyWorkflow.state)
    assert state.results["intent"]["backend"] == "fake"  # the classification stands
    # once beside the classification, then the score step's own first try and 3 retries
    assert len(harness.fakes.calls[ic.SCORE_CUSTOMER]) == 5
    assert (state.results["value"]["backend"], state.results["value"]["degraded"]) == ("rules", True)


async def test_event_wait_times_out_after_two_days(harness):
    event = CustomerEvent(name="message_received", properties={"text": "It came broken"})
    handle = await harness.start(ROUTING, "c1", event)
    await approve_pending(handle)
    before = await harness.env.get_current_time()
    result = await handle.result()
    assert result.path[-3:] == ["wait_reply", "call", "done"]
    assert await harness.env.get_current_time() - before >= timedelta(days=2)
    assert harness.fakes.calls[ac.NOTIFY][0].message == "call Ava"


async def test_review_timeout_escalates_then_approves(harness):
    event = CustomerEvent(name="message_received", properties={"text": "broken again"})
    handle = await harness.start(ROUTING, "c1", event)
    await pending_review_id(handle)
    await harness.env.sleep(timedelta(minutes=61))
    state = await handle.query(JourneyWorkflow.state)
    assert state.pending_review.group == "leads" and state.pending_review.escalated
    await harness.env.sleep(timedelta(minutes=61))
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="customer_replied"))
    result = await handle.result()
    assert "send_apology" in result.path
    assert [r.status for r in harness.fakes.calls[ac.RECORD_REVIEW]] == ["pending", "escalated", "timed_out"]
    assert harness.fakes.calls[ac.SEND_MESSAGE][0].body == "Body 0 for Ava"


async def test_stale_and_double_review_decisions_are_rejected(harness):
    event = CustomerEvent(name="message_received", properties={"text": "broken"})
    handle = await harness.start(ROUTING, "c1", event)
    review_id = await pending_review_id(handle)

    async def rejected(decision: ReviewDecision) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as failure:
            await handle.execute_update(JourneyWorkflow.submit_review, decision)
        return str(failure.value.cause)

    assert "not pending" in await rejected(
        ReviewDecision(review_id="rv-stale", decision="approve", reviewer="x")
    )
    assert "variant 7" in await rejected(
        ReviewDecision(review_id=review_id, decision="approve", reviewer="x", variant=7)
    )
    ok = ReviewDecision(review_id=review_id, decision="approve", reviewer="x")
    await handle.execute_update(JourneyWorkflow.submit_review, ok)
    assert "already decided" in await rejected(ok)
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="customer_replied"))
    await handle.result()
    assert len(harness.fakes.calls[ac.SEND_MESSAGE]) == 1


async def test_a_decision_from_outside_the_group_is_rejected(harness):
    handle = await harness.start(
        ROUTING, "c1", CustomerEvent(name="message_received", properties={"text": "broken"})
    )
    review_id = await pending_review_id(handle)
    outsider = ReviewDecision(review_id=review_id, decision="approve", reviewer="sam", groups=["sales"])
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(JourneyWorkflow.submit_review, outsider)
    assert "sam does not review for group vip-care" in str(failure.value.cause)
    await handle.signal(JourneyWorkflow.review, outsider)  # the signal path drops it too
    state = await handle.query(JourneyWorkflow.state)
    assert state.pending_review and state.pending_review.review_id == review_id
    insider = ReviewDecision(review_id=review_id, decision="approve", reviewer="maria", groups=["vip-care"])
    assert (await handle.execute_update(JourneyWorkflow.submit_review, insider)).accepted


async def test_regenerate_opens_a_new_review_with_fresh_copy(harness):
    handle = await harness.start(
        ROUTING, "c1", CustomerEvent(name="message_received", properties={"text": "broken"})
    )
    first = await pending_review_id(handle)
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(
            JourneyWorkflow.submit_review,
            ReviewDecision(review_id=first, decision="regenerate", reviewer="maria"),
        )
    assert "needs a note" in str(failure.value.cause)
    await handle.execute_update(
        JourneyWorkflow.submit_review,
        ReviewDecision(
            review_id=first, decision="regenerate", reviewer="maria", reason="mention the free return"
        ),
    )
    for _ in range(200):
        second = await pending_review_id(handle)
        if second != first:
            break
        await asyncio.sleep(0.05)
    assert second != first
    [original, again] = harness.fakes.calls[ic.GENERATE_COPY]
    assert original.brief is None and "mention the free return" in again.brief
    await handle.execute_update(
        JourneyWorkflow.submit_review, ReviewDecision(review_id=second, decision="approve", reviewer="maria")
    )
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="customer_replied"))
    assert (await handle.result()).outcome == "replied"
    reviews = [(r.review_id, r.status) for r in harness.fakes.calls[ac.RECORD_REVIEW]]
    assert reviews == [(first, "pending"), (first, "regenerated"), (second, "pending"), (second, "approved")]


TEMPLATE_ON_TIMEOUT = """
id: template_on_timeout
version: 1
description: nobody reviews in time, so the template's own copy is sent
trigger: { event: go }
steps:
  - id: copy
    type: generate_copy
    template: email/apology
  - id: review
    type: human_review
    group: vip-care
    deadline: 1h
    on_timeout: { then: template }
  - id: send_it
    type: send
    channel: email
"""


async def test_review_timeout_can_fall_back_to_template_copy(harness):
    handle = await harness.start(TEMPLATE_ON_TIMEOUT, "c1")
    await pending_review_id(handle)
    result = await handle.result()
    assert result.status == "completed"
    [sent] = harness.fakes.calls[ac.SEND_MESSAGE]
    assert sent.source == "template_default" and "Ava" in sent.body  # real preset copy of the template


async def test_review_reject_exits(harness):
    handle = await harness.start(
        ROUTING, "c1", CustomerEvent(name="message_received", properties={"text": "broken"})
    )
    review_id = await pending_review_id(handle)
    await handle.signal(
        JourneyWorkflow.review,
        ReviewDecision(review_id=review_id, decision="reject", reviewer="x", reason="tone is off"),
    )
    result = await handle.result()
    assert result.outcome == "rejected" and ac.SEND_MESSAGE not in harness.fakes.calls


async def test_otherwise_branch_and_profile_update(harness):
    handle = await harness.start(
        ROUTING, "c2", CustomerEvent(name="message_received", properties={"text": "how do I?"})
    )
    assert (await handle.result()).path[-3:] == ["answer", "send_answer", "done"]
    handle = await harness.start(
        ROUTING, "c2", CustomerEvent(name="message_received", properties={"text": "unsubscribe me"})
    )
    result = await handle.result()
    assert result.path[-2:] == ["opt_out", "done"]
    assert harness.fakes.customers["c2"].consent["email"] is False
    assert "opted_out" in harness.fakes.customers["c2"].tags


async def test_exit_on_event_ends_a_waiting_run(harness):
    handle = await harness.start(
        ROUTING, "c1", CustomerEvent(name="message_received", properties={"text": "broken"})
    )
    await pending_review_id(handle)
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="account_closed"))
    result = await handle.result()
    assert result.status == "exited" and result.outcome == "exit_on:account_closed"


async def test_decide_update_with_start_answers_while_run_continues(harness):
    from temporalio.client import WithStartWorkflowOperation
    from temporalio.common import WorkflowIDConflictPolicy

    from workflows.models import JourneyInput
    from workflows.validation import parse_journey

    spec = parse_journey(ROUTING)
    inp = JourneyInput(
        spec=spec,
        spec_hash="h",
        customer_id="c1",
        entry_key="m1",
        trigger=CustomerEvent(name="message_received", properties={"text": "broken!"}),
        inference_task_queue=f"{harness.task_queue}-inference",
    )
    op = WithStartWorkflowOperation(
        JourneyWorkflow.run,
        inp,
        id=f"decide-{harness.task_queue}",
        task_queue=harness.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    decision = await harness.client.execute_update_with_start_workflow(
        JourneyWorkflow.decide, DecideRequest(), start_workflow_operation=op
    )
    assert decision.ready and decision.route == "apology"
    assert decision.intent["label"] == "complaint" and decision.score["band"] == "vip"
    handle = await op.workflow_handle()
    harness.started.append(handle)
    state = await handle.query(JourneyWorkflow.state)
    assert state.status == "running"  # the journey goes on after answering
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="account_closed"))
    await handle.result()


async def test_same_workflow_id_starts_one_run(harness):
    event = CustomerEvent(name="message_received", properties={"text": "broken"})
    first = await harness.start(ROUTING, "c1", event, workflow_id=f"dup-{harness.task_queue}")
    with pytest.raises(WorkflowAlreadyStartedError):
        await harness.start(ROUTING, "c1", event, workflow_id=f"dup-{harness.task_queue}")
    await pending_review_id(first)
    assert len(harness.fakes.calls[ac.BEGIN_RUN]) == 1


FLOW = """
id: flow
version: 1
description: split, waits, errors
trigger: { event: go }
steps:
  - id: ab
    type: split
    paths:
      - { name: a, weight: 1, goto: wait_window }
      - { name: b, weight: 1, goto: wait_window }
  - id: wait_window
    type: wait
    duration: 1d
    window: { start: "09:00", end: "10:00" }
  - id: risky
    type: classify_intent
    on_error: { goto: fallback }
  - id: fine
    type: exit
    outcome: classified
  - id: fallback
    type: exit
    outcome: fell_back
"""


async def test_split_is_stable_and_wait_lands_in_the_window(harness):
    from zoneinfo import ZoneInfo

    first = await harness.start(FLOW, "c1", workflow_id=f"split-{harness.task_queue}")
    result = await first.result()
    state = await first.query(JourneyWorkflow.state)
    [waited] = [c for c in harness.fakes.calls[ac.RECORD_STEP] if c.step_id == "wait_window"]
    assert waited.finished_at - waited.started_at >= timedelta(days=1)
    assert waited.finished_at.astimezone(ZoneInfo("Europe/Berlin")).hour == 9  # in the 09:00-10:00 window
    assert result.outcome == "classified"
    path_a = state.results["ab"]["path"]
    # The same run id picks the same path again (deterministic, not random per replay).
    from workflows.steps.split import bucket

    assert (bucket(first.id, "ab") < 0.5) == (path_a == "a")


async def test_failed_inference_is_answered_by_rules_after_retries(harness):
    harness.fakes.fail.add(ic.CLASSIFY_INTENT)
    handle = await harness.start(
        FLOW, "c1", event=CustomerEvent(name="go", properties={"text": "unsubscribe me"})
    )
    result = await handle.result()
    assert result.outcome == "classified"  # the journey went on, degraded
    assert len(harness.fakes.calls[ic.CLASSIFY_INTENT]) == 4  # first try + 3 retries (now, +10 s, +60 s)
    state = await handle.query(JourneyWorkflow.state)
    assert (state.results["risky"]["backend"], state.results["risky"]["degraded"]) == ("rules", True)


async def test_inference_nobody_picks_up_is_answered_by_rules(harness):
    # No inference worker polls this queue: after the pickup timeout the journey worker answers.
    handle = await harness.start(
        FLOW, "c1", inference_task_queue="nobody-polls-this", inference_pickup_timeout_s=5
    )
    result = await handle.result()
    assert result.outcome == "classified"
    state = await handle.query(JourneyWorkflow.state)
    assert (state.results["risky"]["backend"], state.results["risky"]["degraded"]) == ("rules", True)
    assert ic.CLASSIFY_INTENT not in harness.fakes.calls


async def test_a_config_error_takes_on_error_without_rules(harness):
    handle = await harness.start(BROKEN_COPY, "c1")
    result = await handle.result()
    assert result.outcome == "fell_back"
    state = await handle.query(JourneyWorkflow.state)
    assert "CopyTemplateError" in state.results["copy"]["error"]
    assert len(harness.fakes.calls[ic.GENERATE_COPY]) == 1  # not retried, and no preset copy either


BROKEN_COPY = """
id: broken_copy
version: 1
description: a template the generator rejects at once
trigger: { event: go }
steps:
  - id: copy
    type: generate_copy
    template: email/broken
    on_error: { goto: fallback }
  - id: fine
    type: exit
    outcome: written
  - id: fallback
    type: exit
    outcome: fell_back
"""


LOOP = """
id: loop
version: 1
description: a reminder loop long enough to continue-as-new
trigger: { event: go }
steps:
  - id: remind
    type: wait
    duration: 1d
  - id: count
    type: update_profile
    add_tags: [reminded]
  - id: again
    type: branch
    cases:
      - when: "run.path | length < 12"
        goto: remind
    otherwise: done
  - id: done
    type: exit
"""


async def test_continue_as_new_carries_state(harness):
    handle = await harness.start(LOOP, "c1", max_steps_per_run=4)
    result = await handle.result()
    assert result.outcome == "completed"
    assert len(result.path) == 13  # the path survived every continue-as-new
    assert len(harness.fakes.calls[ac.BEGIN_RUN]) == 1  # set up once, not per run
    keys = [c.idempotency_key for c in harness.fakes.calls[ac.UPDATE_PROFILE]]
    assert len(keys) == len(set(keys)) == 4


PARKED = """
id: parked
version: 1
description: a send that fails for good waits for an operator
trigger: { event: go }
steps:
  - id: copy
    type: generate_copy
    template: email/answer
  - id: send_it
    type: send
    channel: email
"""


async def parked_state(harness, handle):
    await harness.env.sleep(timedelta(minutes=2))  # past the retries (now, +10 s, +60 s)
    for _ in range(400):
        state = await handle.query(JourneyWorkflow.state)
        if state.dead_letter:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the step was not dead-lettered")


async def test_failed_step_waits_in_dead_letters_then_retries_with_the_same_key(harness):
    from workflows.models import DeadLetterAction

    harness.fakes.fail.add(ac.SEND_MESSAGE)
    handle = await harness.start(PARKED, "c1")
    state = await parked_state(harness, handle)
    assert state.status == "running" and state.dead_letter.step_id == "send_it"
    assert "is down" in state.dead_letter.error
    [opened] = harness.fakes.calls[ac.RECORD_DEAD_LETTER]
    assert opened.status == "open" and opened.journey_id == "parked"
    with pytest.raises(WorkflowUpdateFailedError):  # nothing else is parked
        await handle.execute_update(JourneyWorkflow.resolve_dead_letter, {"action": "bogus", "operator": "x"})

    harness.fakes.fail.discard(ac.SEND_MESSAGE)  # the provider is back
    await handle.execute_update(
        JourneyWorkflow.resolve_dead_letter, DeadLetterAction(action="retry", operator="ops-anna")
    )
    result = await handle.result()
    assert result.status == "completed"
    keys = {c.idempotency_key for c in harness.fakes.calls[ac.SEND_MESSAGE]}
    assert keys == {f"{handle.id}:send_it:1"}  # the retry reuses the effect key: never a second send
    assert [c.status for c in harness.fakes.calls[ac.RECORD_DEAD_LETTER]] == ["open", "retried"]
    assert harness.fakes.calls[ac.RECORD_DEAD_LETTER][-1].operator == "ops-anna"


async def test_discarded_dead_letter_fails_the_run(harness):
    from workflows.models import DeadLetterAction

    harness.fakes.fail.add(ac.SEND_MESSAGE)
    handle = await harness.start(PARKED, "c1")
    await parked_state(harness, handle)
    await handle.execute_update(
        JourneyWorkflow.resolve_dead_letter, DeadLetterAction(action="discard", operator="ops-anna")
    )
    result = await handle.result()
    assert result.status == "failed" and result.outcome == "step_failed:send_it"
    with pytest.raises(RPCError, match="not found"):  # the run is over: nothing left to resolve
        await handle.execute_update(
            JourneyWorkflow.resolve_dead_letter, DeadLetterAction(action="retry", operator="x")
        )


QUIET = """
id: quiet
version: 1
description: a marketing email that falls at 02:00 waits for the end of quiet hours
trigger: { event: go }
quiet_hours: { start: "21:00", end: "08:00" }
steps:
  - id: night
    type: wait
    window: { start: "02:00", end: "02:30" }
  - id: copy
    type: generate_copy
    template: email/answer
  - id: promo
    type: send
    channel: email
  - id: receipt
    type: send
    channel: email
    category: transactional
"""


async def test_a_send_at_two_am_goes_out_when_quiet_hours_end_once(harness):
    from zoneinfo import ZoneInfo

    handle = await harness.start(QUIET, "c1")  # Ava lives in Europe/Berlin
    result = await handle.result()
    assert result.status == "completed"
    steps = {c.step_id: c for c in harness.fakes.calls[ac.RECORD_STEP]}
    berlin = ZoneInfo("Europe/Berlin")
    assert steps["night"].finished_at.astimezone(berlin).hour == 2
    promo = steps["promo"]
    assert promo.finished_at.astimezone(berlin).strftime("%H:%M") == "08:00"  # the window's start
    assert promo.result["deferred_seconds"] >= 5 * 3600 and promo.result["deferred_until"]
    assert "deferred_seconds" not in steps["receipt"].result  # transactional: not held back
    sends = [c.step_id for c in harness.fakes.calls[ac.SEND_MESSAGE]]
    assert sends == ["promo", "receipt"]  # each once


async def test_a_send_held_by_quiet_hours_shows_when_it_goes_out(harness):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    handle = await harness.start(QUIET, "c1")
    for _ in range(30):  # an hour at a time, until the send waits for the morning
        state = await handle.query(JourneyWorkflow.state)
        if state.deferred_until is not None:
            break
        await harness.env.sleep(timedelta(hours=1))
    assert state.current_step == "promo" and state.waiting_for == "quiet hours to end"
    assert state.deferred_until.astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M") == "08:00"
    assert state.waiting_until == state.deferred_until and state.customer_timezone == "Europe/Berlin"
    released = f"{state.deferred_until.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC"
    assert state.wait_description().endswith(f" 08:00 Europe/Berlin ({released})"), state.wait_description()
    await handle.result()
    assert (await handle.query(JourneyWorkflow.state)).deferred_until is None


# A long stretch of steps without a wait: 250 profile updates in a row, then the end.
BUSY = (
    "id: busy\nversion: 1\ndescription: many steps without a wait\ntrigger: { event: go }\nsteps:\n"
    + "".join(f"  - {{ id: tag{i}, type: update_profile, add_tags: [t{i}] }}\n" for i in range(250))
    + "  - { id: done, type: exit }\n"
)


async def test_step_records_are_written_in_batches_of_at_most_a_hundred(harness):
    handle = await harness.start(BUSY, "c1")
    result = await handle.result()
    assert len(result.path) == 251
    batches = [len(c.steps) for c in harness.fakes.calls[ac.RECORD_STEPS]]
    assert batches == [100, 100]  # no wait in between: written whenever 100 are kept
    assert len(harness.fakes.calls[ac.FINISH_RUN][-1].steps) == 51  # the rest with the finish
    assert len(harness.fakes.calls[ac.RECORD_STEP]) == 251  # every step visit, once


async def test_copy_goes_to_its_own_queue_and_classification_stays_on_the_inference_queue(harness):
    """A generation backlog must never hold the slots of a classification a decide call waits for."""
    copy_fakes = Fakes(customers={})
    queue = f"{harness.task_queue}-copy"
    async with Worker(harness.client, task_queue=queue, activities=[copy_fakes.generate_copy]):
        event = CustomerEvent(name="message_received", properties={"text": "how do I return it?"})
        handle = await harness.start(ROUTING, "c2", event, inference_copy_task_queue=queue)
        result = await handle.result()
    assert result.path[-3:] == ["answer", "send_answer", "done"]
    assert [r.template for r in copy_fakes.calls[ic.GENERATE_COPY]] == ["email/answer"]
    assert ic.GENERATE_COPY not in harness.fakes.calls
    assert len(harness.fakes.calls[ic.CLASSIFY_INTENT]) == 1


async def test_runs_started_without_a_copy_queue_send_copy_to_the_inference_queue(harness):
    event = CustomerEvent(name="message_received", properties={"text": "how do I return it?"})
    result = await (await harness.start(ROUTING, "c2", event)).result()
    assert result.outcome == "routed"
    assert [r.template for r in harness.fakes.calls[ic.GENERATE_COPY]] == ["email/answer"]


# A conversion is not an exit: the first of two events takes its own path.
EITHER = """
id: either
version: 1
description: thank a buyer or a reviewer, whichever comes first
trigger: { event: go }
steps:
  - id: wait_outcome
    type: wait_for_event
    events: [order_placed, review_submitted]
    timeout: 14d
    on_event:
      order_placed: { goto: bought }
      review_submitted: { goto: reviewed }
    on_timeout: exit
  - { id: bought, type: exit, outcome: bought }
  - { id: reviewed, type: exit, outcome: reviewed }
"""


@pytest.mark.parametrize(
    ("first", "then", "outcome"),
    [("review_submitted", "order_placed", "reviewed"), ("order_placed", "review_submitted", "bought")],
)
async def test_a_wait_for_either_of_two_events_takes_the_path_of_the_first(harness, first, then, outcome):
    handle = await harness.start(EITHER, "c1")
    await harness.env.sleep(timedelta(days=1))
    state = await handle.query(JourneyWorkflow.state)
    assert state.waiting_for == "event order_placed or review_submitted"
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name=first, properties={"n": 1}))
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name=then))
    result = await handle.result()
    assert result.outcome == outcome and result.path == ["wait_outcome", outcome]
    recorded = {c.step_id: c for c in harness.fakes.calls[ac.RECORD_STEP]}
    assert recorded["wait_outcome"].result == {"received": True, "event": first, "properties": {"n": 1}}


REPLY = """
id: reply
version: 1
description: a conversation that waits for the customer's reply
trigger: { event: conversation_started }
steps:
  - id: first_reply
    type: wait_for_event
    event: customer_replied
    timeout: 1h
    on_timeout: { goto: silent }
  - { id: replied, type: exit, outcome: replied }
  - { id: silent, type: exit, outcome: silent }
"""


@pytest.mark.parametrize("continued", [False, True], ids=["new", "continued-as-new"])
async def test_an_event_that_arrives_with_the_start_reaches_the_run(harness, continued):
    """A batch that starts a run and then sends it an event can deliver both in the run's first
    workflow task, where the signal handler runs before the run method: the handler met a run
    without its journey (here the run failed; a production worker retried the task forever)."""
    carried = Carried(
        customer=harness.fakes.customers["c1"],
        current="first_reply",
        results={},
        path=[],
        visits={},
        inbox=[],
        decision_ready=False,
        goal_reached_at=None,
        started_at=await harness.env.get_current_time(),
    )
    queue = f"{harness.task_queue}-idle"  # nobody polls it until the event is in the history
    handle = await harness.start(REPLY, "c1", task_queue=queue, carried=carried if continued else None)
    await handle.signal(JourneyWorkflow.event, CustomerEvent(name="customer_replied", message_id="m-2"))
    async with harness.worker(queue):
        result = await handle.result()
    assert result.outcome == "replied" and result.path == ["first_reply", "replied"]
