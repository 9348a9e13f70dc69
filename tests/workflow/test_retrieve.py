"""The retrieve step: an answer found goes on to the copy that sends it; none goes to a person."""

from __future__ import annotations

from activities import contracts as ac
from inference_worker import contracts as ic
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent

INQUIRY = """
id: inquiry
version: 1
description: answer a question from the knowledge base, or pass it to a person
trigger: { event: message_received }
steps:
  - id: intent
    type: classify_intent
  - id: lookup
    type: retrieve
    on_no_answer: { goto: person }
  - id: answer
    type: generate_copy
    template: email/answer
    knowledge: lookup
    next: done
  - id: person
    type: notify
    target: support-queue
    message: "{{ lookup.reason }}: {{ event.text }}"
  - id: done
    type: exit
"""


def _asked(text: str) -> CustomerEvent:
    return CustomerEvent(name="message_received", properties={"text": text})


async def test_an_answer_found_reaches_the_copy_step(harness) -> None:  # type: ignore[no-untyped-def]
    harness.fakes.customers["c1"] = harness.fakes.customers["c1"].model_copy(
        update={"locale": "zh-CN", "attributes": {"interests": "Kitchen; decor"}}
    )
    result = await (await harness.start(INQUIRY, "c1", _asked("how do you ship to Canada?"))).result()
    assert result.path == ["intent", "lookup", "answer", "done"]
    [asked] = harness.fakes.calls[ic.RETRIEVE_KNOWLEDGE]
    assert asked.question == "how do you ship to Canada?" and asked.interests == ["kitchen", "decor"]
    assert asked.language is None and asked.locale == "zh-CN"  # the fake intent names no language
    [copy] = harness.fakes.calls[ic.GENERATE_COPY]
    assert copy.context["knowledge"]["entry_id"] == "shipping_countries"
    assert copy.language == "zh"  # from the locale: the message's language was not known


async def test_no_answer_goes_to_a_person(harness) -> None:  # type: ignore[no-untyped-def]
    result = await (await harness.start(INQUIRY, "c2", _asked("how old is your CEO?"))).result()
    assert result.path == ["intent", "lookup", "person", "done"]
    [alert] = harness.fakes.calls[ac.NOTIFY]
    assert alert.message == "no entry is close enough: how old is your CEO?"
    assert ic.GENERATE_COPY not in harness.fakes.calls


async def test_without_an_inference_worker_a_person_answers(harness) -> None:  # type: ignore[no-untyped-def]
    harness.fakes.fail.add(ic.RETRIEVE_KNOWLEDGE)
    handle = await harness.start(INQUIRY, "c2", _asked("do you ship to Canada?"))
    result = await handle.result()
    assert result.path == ["intent", "lookup", "person", "done"]
    [alert] = harness.fakes.calls[ac.NOTIFY]
    assert alert.message.startswith("the inference worker did not answer: a person answers instead")
    state = await handle.query(JourneyWorkflow.state)
    lookup = state.results["lookup"]
    assert (lookup["found"], lookup["degraded"], lookup["backend"]) == (False, True, "rules")
    assert lookup["product"]["reason"] == "featured"  # from the catalogue, no model needed
