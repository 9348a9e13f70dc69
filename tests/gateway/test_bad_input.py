"""Bad input at the gateway: a clear 4xx naming the message and the field, and nothing applied.

Each case was a 500 (or a silently wrong write) before; every refused batch is sent twice, so a
resend after a fix of one message cannot find the rest half-applied.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from journeys_app.store import queries
from journeys_app.store.schema import Customer
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.slow


def new_id(prefix: str = "c") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def identify(user: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": traits, "messageId": new_id("m")}


def track(user: str, event: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": user,
        "event": event,
        "properties": properties,
        "messageId": new_id("m"),
    }


async def customer(gw: Gateway, customer_id: str) -> Customer | None:
    async with gw.sessionmaker() as session:
        return await session.get(Customer, customer_id)


async def test_consent_false_is_stored_as_false(gw: Gateway) -> None:
    user = new_id()
    async with gw.http() as web:
        answer = await web.post(
            "/v1/identify",
            json={"userId": user, "traits": {"consent": {"email": "false", "sms": "no", "push": "opted_in"}}},
        )
        assert answer.status_code == 200, answer.text
        row = await customer(gw, user)
        assert row is not None and row.consent == {"email": False, "sms": False, "push": True}

        vague = await web.post(
            "/v1/identify", json={"userId": new_id(), "traits": {"consent": {"email": "maybe"}}}
        )
    assert vague.status_code == 400
    assert "traits.consent.email" in vague.text and "maybe" in vague.text


# (what is wrong, the bad message at index 1, the field the answer must name)
BAD_MESSAGES: list[tuple[str, dict[str, Any], str]] = [
    ("entry key property missing", track("cust-ben", "order_placed", total=500), "order_id"),
    ("entry key too long", track("cust-ben", "ticket_opened", ticket_id="t" * 2000, text="hi"), "ticket_id"),
    ("lone surrogate", track("cust-ben", "page_viewed", note="\ud800"), "properties.note"),
    ("tags not a list", identify("cust-ben", tags="x"), "traits.tags"),
    ("firstName a list", identify("cust-ben", firstName=["a"]), "traits.firstName"),
    ("firstName null", identify("cust-ben", firstName=None), "traits.firstName"),
    ("firstName a number", identify("cust-ben", firstName=7), "traits.firstName"),
    ("tier an object", identify("cust-ben", tier={"a": 1}), "traits.tier"),
    ("tier a number", identify("cust-ben", tier=3), "traits.tier"),
    ("trigger filter reads a missing property", track("cust-ben", "order_placed", order_id="o-1"), "total"),
    ("NUL in userId", track("cust-\x00ben", "page_viewed"), "userId"),
    ("NUL in an event name", track("cust-ben", "page\x00viewed"), "event"),
    ("NUL in a property", track("cust-ben", "page_viewed", path="/a\x00b"), "properties.path"),
    ("NUL in a trait", identify("cust-ben", firstName="B\x00en"), "traits.firstName"),
    ("bad time zone", identify("cust-ben", timezone="Mars/Olympus"), "traits.timezone"),
]


@pytest.mark.parametrize(("why", "bad", "field"), BAD_MESSAGES, ids=[b[0] for b in BAD_MESSAGES])
async def test_a_bad_message_refuses_the_whole_batch(
    gw: Gateway, why: str, bad: dict[str, Any], field: str
) -> None:
    first, last = new_id(), new_id()
    batch = [identify(first, firstName="First"), bad, identify(last, firstName="Last")]
    raw = json.dumps({"batch": batch})  # ASCII, so a lone surrogate travels as the escape \ud800
    async with gw.http(headers={"Content-Type": "application/json"}) as web:
        for _ in range(2):
            answer = await web.post("/v1/batch", content=raw)
            assert answer.status_code == 400, answer.text
            body = answer.json()
            assert body["code"] == "invalid_request"
            assert "message 1" in answer.text and field in answer.text, answer.text
    assert await customer(gw, first) is None and await customer(gw, last) is None


async def test_deep_json_and_bad_unicode_are_400(gw: Gateway) -> None:
    deep = (
        '{"batch": [{"type": "track", "userId": "u", "event": "e", "properties": {"x": '
        + "[" * 5000
        + "]" * 5000
        + "}}]}"
    )
    surrogate = '{"userId": "cust-ben", "event": "page_viewed", "properties": {"note": "\\ud800"}}'
    async with gw.http() as web:
        nested = await web.post("/v1/batch", content=deep, headers={"Content-Type": "application/json"})
        lone = await web.post("/v1/track", content=surrogate, headers={"Content-Type": "application/json"})
    assert nested.status_code == 400 and "deep" in nested.text, nested.text
    assert lone.status_code == 400 and "properties.note" in lone.text, lone.text


async def test_the_entry_key_hint_names_the_property_the_key_is_made_of(gw: Gateway) -> None:
    async with gw.http() as web:
        answer = await web.post("/v1/journeys/big_orders/runs", json={"userId": "cust-ben", "properties": {}})
    assert answer.status_code == 400
    assert "order_id" in answer.text and "message id" not in answer.text, answer.text


@pytest.mark.parametrize(
    "route",
    [
        "/v1/track",
        "/v1/identify",
        "/v1/batch",
        "/v1/decide/complaint_routing",
        "/v1/journeys/complaint_routing/runs",
    ],
)
async def test_oversized_bodies_are_413_on_every_route(gw: Gateway, route: str) -> None:
    limit = 500 * 1024 if route == "/v1/batch" else 32 * 1024
    body = b'{"userId": "cust-ben", "properties": {"x": "' + b"y" * limit + b'"}}'

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while it streams
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    async with gw.http(headers={"Content-Type": "application/json"}) as web:
        answer = await web.post(route, content=body)
        streamed = await web.post(route, content=chunks())
    assert answer.status_code == 413 and answer.json()["code"] == "too_large", answer.text
    assert streamed.status_code == 413, streamed.text


async def test_runs_started_by_a_refused_batch_do_not_exist(gw: Gateway) -> None:
    user = new_id()
    batch = [
        identify(user, firstName="Ines"),
        track(user, "ticket_opened", ticket_id=new_id("t"), text="Broken!"),
        identify(user, tags="vip"),
    ]
    async with gw.http() as web:
        answer = await web.post("/v1/batch", json={"batch": batch})
    assert answer.status_code == 400
    assert await queries.list_runs(gw.sessionmaker, customer_id=user) == []
