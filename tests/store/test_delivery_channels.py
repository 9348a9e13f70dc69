"""Delivery through real providers on loopback, on SQLite and PostgreSQL: email to an SMTP server
(aiosmtpd) sent once, refused for good, deferred and retried, a crash between "the server accepted
it" and "we recorded it" that must not send a second copy; SMS to a signed HTTP provider."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import select
from temporalio.exceptions import ApplicationError

from activities.journey_activities import JourneyActivities
from journeys_app.core.settings import Settings
from journeys_app.store.schema import Message
from tests.store.conftest import Store
from tests.store.test_store import run, seed, send_req


class Sink:
    """An SMTP server that keeps what it accepts; `refuse` makes it answer RCPT with that reply."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.refuse: str | None = None

    async def handle_RCPT(
        self, server: object, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return f"250 OK queued as {len(self.messages)}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler, port = Sink(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def mailer(store: Store, tmp_path: Path, sink: tuple[Sink, int]) -> JourneyActivities:
    settings = Settings(
        _env_file=None, state_dir=tmp_path / "state", smtp_host="127.0.0.1", smtp_port=sink[1]
    )
    return JourneyActivities(store.sessionmaker, settings)


async def row(store: Store, key: str) -> Message:
    async with store.sessionmaker() as session:
        return (await session.scalars(select(Message).where(Message.idempotency_key == key))).one()


async def test_email_is_sent_once_with_its_key_as_message_id(
    store: Store, mailer: JourneyActivities, sink
) -> None:
    handler, _ = sink
    await seed(store)
    first = await run(mailer.send_message, send_req("wf-1/send/1"))
    again = await run(mailer.send_message, send_req("wf-1/send/1"))  # a Temporal retry
    assert (first.status, again.status, again.duplicate) == ("sent", "sent", True)
    [envelope] = handler.messages
    email = message_from_bytes(envelope.original_content, policy=policy.default)
    assert envelope.rcpt_tos == ["ava.lindqvist@example.com"] and email["Subject"] == "Hello"
    assert email["Message-ID"].startswith("<") and "Hi Ava" in email.get_body(("plain",)).get_content()
    assert "<p>Hi Ava</p>" in email.get_body(("html",)).get_content()  # text and HTML parts
    stored = await row(store, "wf-1/send/1")
    assert stored.status == "sent" and stored.provider_response.startswith("OK queued") and stored.sent_at


async def test_refused_for_good_is_failed_not_retried(store: Store, mailer: JourneyActivities, sink) -> None:
    handler, _ = sink
    await seed(store)
    handler.refuse = "550 5.1.1 mailbox unavailable"
    result = await run(mailer.send_message, send_req("wf-2/send/1"))
    assert result.status == "failed" and "mailbox unavailable" in result.reason
    assert handler.messages == []


async def test_deferred_is_retried_and_then_sent(store: Store, mailer: JourneyActivities, sink) -> None:
    handler, _ = sink
    await seed(store)
    handler.refuse = "451 4.3.0 try again later"
    with pytest.raises(ApplicationError, match="deferred"):
        await run(mailer.send_message, send_req("wf-3/send/1"))
    assert (await row(store, "wf-3/send/1")).status == "queued"  # certainly not sent: safe to retry
    handler.refuse = None
    assert (await run(mailer.send_message, send_req("wf-3/send/1"))).status == "sent"
    assert len(handler.messages) == 1


async def test_crash_after_the_server_accepted_does_not_send_twice(
    store: Store, mailer: JourneyActivities, sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, _ = sink
    await seed(store)
    original = mailer._finish_delivery

    async def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the worker died right after the server said 250")

    monkeypatch.setattr(mailer, "_finish_delivery", crash)
    with pytest.raises(RuntimeError, match="died"):
        await run(mailer.send_message, send_req("wf-4/send/1"))
    assert len(handler.messages) == 1 and (await row(store, "wf-4/send/1")).status == "sending"

    monkeypatch.setattr(mailer, "_finish_delivery", original)
    retried = await run(mailer.send_message, send_req("wf-4/send/1"))  # Temporal's retry
    assert retried.status == "unconfirmed" and "not sent again" in retried.reason
    assert len(handler.messages) == 1  # the customer got one email, not two


async def test_frequency_cap_suppresses_the_fourth_marketing_email_in_a_week(store: Store, acts) -> None:
    """Default cap: 3 marketing messages per channel in 7 days; transactional ones are exempt."""
    await seed(store)
    statuses = [(await run(acts.send_message, send_req(f"wf-cap/send/{i}"))).status for i in range(4)]
    assert statuses == ["queued", "queued", "queued", "suppressed"]
    capped = await row(store, "wf-cap/send/3")
    assert capped.reason.startswith("frequency cap: 3 marketing email messages in the last 7 days")
    receipt = await run(acts.send_message, send_req("wf-cap/receipt/1", category="transactional"))
    assert receipt.status == "queued"  # transactional: exempt
    assert (
        await run(acts.send_message, send_req("wf-cap/sms/1", channel="sms"))
    ).status == "queued"  # per channel
    assert (await run(acts.send_message, send_req("wf-cap/send/3"))).status == "suppressed"  # a retry agrees


async def test_frequency_cap_holds_for_concurrent_sends_to_one_customer(store: Store, acts) -> None:
    """Six journeys send to one customer at the same moment: three go out, three are capped."""
    await seed(store)
    results = await asyncio.gather(
        *(run(acts.send_message, send_req(f"wf-race-{i}/send/1")) for i in range(6))
    )
    assert sorted(r.status for r in results) == ["queued"] * 3 + ["suppressed"] * 3


async def test_sms_goes_to_its_http_provider_signed_and_keyed(store: Store, tmp_path: Path) -> None:
    import hashlib
    import hmac
    import json

    from tests.store.conftest import TinyHttpServer

    await seed(store)
    async with TinyHttpServer([503, 200, 400]) as provider:
        settings = Settings(
            _env_file=None,
            state_dir=tmp_path / "state",
            channel_urls={"sms": provider.url},
            channel_secret="provider-secret",
        )
        sms = JourneyActivities(store.sessionmaker, settings)
        request = send_req("wf-sms/send/1", channel="sms", subject=None, body="Hi Ava, 10% off this week")
        with pytest.raises(ApplicationError, match="503"):  # the provider is busy: retried
            await run(sms.send_message, request)
        assert (await row(store, "wf-sms/send/1")).status == "queued"
        assert (await run(sms.send_message, request)).status == "sent"
        refused = await run(sms.send_message, send_req("wf-sms/send/2", channel="sms", body="Hi"))
        assert refused.status == "failed" and "provider refused: 400" in refused.reason

    first, second, _ = provider.requests
    assert first.body == second.body and second.headers["idempotency-key"] == "wf-sms/send/1"
    payload = json.loads(second.body)
    assert payload["to"] == "+15555550101" and payload["body"] == "Hi Ava, 10% off this week"
    stamp, _, digest = second.headers["x-journeys-signature"].partition(",v1=")
    expected = hmac.new(
        b"provider-secret", f"{stamp.removeprefix('t=')}.".encode() + second.body, hashlib.sha256
    )
    assert hmac.compare_digest(digest, expected.hexdigest())  # the provider can check it came from us
    stored = await row(store, "wf-sms/send/1")
    assert stored.provider_response.startswith("200") and stored.sent_at
