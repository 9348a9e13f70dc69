"""Customer data stays out of Temporal: payloads are encrypted, and phone numbers and emails that
customers type into messages are masked in history and alerts.

Before, they appeared in clear in the run's history (its input, step results and every signal), in
notifications and in the webhooks that carry them. Operators read payloads through the gateway's
codec endpoint, with a key of the `codec` scope.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from sqlalchemy import select

from journeys_app.core.payload_codec import ENCODING
from journeys_app.devtools.stack import find_binary
from journeys_app.edges.gateway.app import create_gateway_app
from journeys_app.store.api_keys import create_key
from journeys_app.store.schema import Notification
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.slow

PHONE, EMAIL = "+49 176 12345678", "ines.k@example.com"
ENCRYPTED = base64.b64encode(ENCODING).decode()  # as payload metadata reads in JSON


async def test_contact_details_typed_in_a_message_are_masked_in_history_and_alerts(gw: Gateway) -> None:
    ticket = f"4915{uuid.uuid4().int % 10**9:09d}"  # an id that looks like a phone number stays as sent
    text = f"Please call me on {PHONE} or write to {EMAIL}."
    async with gw.http() as web:
        answer = await web.post(
            "/v1/track",
            json={
                "userId": "cust-ben",
                "event": "ticket_note",
                "properties": {"ticket_id": ticket, "text": text},
            },
        )
    [workflow_id] = answer.json()["results"][0]["started"]
    assert workflow_id == f"note_to_support:cust-ben:{ticket}"
    handle = gw.client.get_workflow_handle(workflow_id)
    await handle.result()
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    async with gw.sessionmaker() as session:
        [alert] = (
            await session.scalars(select(Notification).where(Notification.workflow_id == workflow_id))
        ).all()
    for where in (history, alert.message):
        assert "12345678" not in where and "ines.k@" not in where
    assert "i***@example.com" in alert.message  # (a phone-like ticket number in the alert is masked too)


def _payloads(value: Any) -> list[dict[str, Any]]:
    """Every payload in a history as JSON (the dicts with metadata and data)."""
    if isinstance(value, dict):
        if "metadata" in value and "data" in value:
            return [value]
        return [p for item in value.values() for p in _payloads(item)]
    if isinstance(value, list):
        return [p for item in value for p in _payloads(item)]
    return []


def _data(payloads: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(p.get("data", "")) for p in payloads)


def _clear(history: Any) -> list[str]:
    """What a person reads in a history's payloads."""
    return [_data([p]).decode(errors="replace") for p in _payloads(history)]


async def test_history_holds_only_sealed_payloads_and_the_codec_endpoint_opens_them(gw: Gateway) -> None:
    secret = f"my sofa arrived torn, order {uuid.uuid4().hex[:6]}"
    async with gw.http() as web:
        answer = await web.post(
            "/v1/track",
            json={
                "userId": "cust-ava",
                "event": "ticket_note",
                "properties": {"ticket_id": uuid.uuid4().hex[:8], "text": secret},
            },
        )
    [workflow_id] = answer.json()["results"][0]["started"]
    handle = gw.client.get_workflow_handle(workflow_id)
    await handle.result()
    history = await handle.fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    assert secret.encode() not in raw and b"Ava" not in raw
    sealed = [p for p in _payloads(history.to_json_dict()) if p["metadata"]["encoding"] == ENCRYPTED]
    assert sealed and secret.encode() not in _data(sealed)

    codec_key = await create_key(gw.sessionmaker, "operator", ["codec"])
    async with gw.http(auth=None) as web:
        refused = await web.post("/codec/decode", json={"payloads": sealed})
        wrong_scope = await web.post("/codec/decode", json={"payloads": sealed}, auth=(gw.key, ""))
        opened = await web.post(
            "/codec/decode",
            json={"payloads": sealed},
            headers={"Authorization": f"Bearer {codec_key}", "X-Namespace": "default"},
        )
    assert refused.status_code == 401 and wrong_scope.status_code == 403
    assert opened.status_code == 200, opened.text
    assert secret.encode() in _data(opened.json()["payloads"])
    assert b"Ava" in _data(opened.json()["payloads"])

    # Temporal's CLI, as an operator runs it: sealed, and in clear through the codec endpoint.
    async def show(*options: str) -> str:
        process = await asyncio.create_subprocess_exec(
            *(find_binary("temporal") or "temporal", "workflow", "show", "-w", workflow_id, "-o", "json"),
            *("--address", gw.client.service_client.config.target_host, *options),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0
        return out.decode()

    assert secret not in json.dumps(_clear(json.loads(await show())))
    decoded = await show("--codec-endpoint", f"{gw.url}/codec", "--codec-auth", f"Bearer {codec_key}")
    assert secret in json.dumps(_clear(json.loads(decoded)))


async def test_the_embedded_ui_reads_payloads_from_its_own_origin_only(gw: Gateway) -> None:
    [sealed] = await gw.client.data_converter.encode(["Ava"])
    body = {"payloads": [json_format.MessageToDict(sealed)]}
    ui = "http://127.0.0.1:8233"
    settings = gw.settings.model_copy(update={"codec_ui_origins": [ui], "codec_ui_without_key": True})
    app = create_gateway_app(gw.service, settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as web:
        preflight = await web.options("/codec/decode", headers={"Origin": ui})
        assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == ui
        opened = await web.post("/codec/decode", json=body, headers={"Origin": ui})
        assert opened.status_code == 200 and opened.headers["access-control-allow-origin"] == ui
        assert _data(opened.json()["payloads"]) == b'"Ava"'
        elsewhere = await web.post("/codec/decode", json=body, headers={"Origin": "http://evil.example"})
        assert elsewhere.status_code == 401 and "access-control-allow-origin" not in elsewhere.headers
        assert (
            await web.options("/codec/decode", headers={"Origin": "http://evil.example"})
        ).status_code == 403
        # Bad input is a 400 that says what was expected, never a 500.
        for bad, expected in (
            ({"content": b"[1, 2"}, "must be Temporal payloads"),
            ({"json": {"payloads": "x"}}, "must be Temporal payloads"),
            ({"json": body, "headers": {"Origin": ui, "X-Namespace": "other"}}, "serves namespace 'default'"),
            (
                {
                    "json": {
                        "payloads": [
                            {
                                **body["payloads"][0],
                                "metadata": {
                                    **body["payloads"][0]["metadata"],
                                    "encryption-key-id": base64.b64encode(b"k-gone").decode(),
                                },
                            }
                        ]
                    }
                },
                "does not hold",
            ),
        ):
            answer = await web.post("/codec/decode", **{"headers": {"Origin": ui}, **bad})
            assert answer.status_code == 400 and expected in answer.text, answer.text
    keyed = gw.settings.model_copy(update={"codec_ui_origins": [ui]})  # the default: a key is needed
    app = create_gateway_app(gw.service, keyed)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as web:
        assert (await web.post("/codec/decode", json=body, headers={"Origin": ui})).status_code == 401
