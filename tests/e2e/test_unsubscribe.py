"""A marketing email's unsubscribe link, end to end: the email leaves over SMTP with the link and
one-click headers, following the link withdraws consent, ends the customer's marketing journey
through its exit event, and is audited (on the e2e stack's SQLite store)."""

from __future__ import annotations

import socket
import uuid
from email import message_from_bytes, policy

import httpx
from aiosmtpd.controller import Controller
from temporalio.testing import ActivityEnvironment

from activities.contracts import SendRequest
from activities.journey_activities import JourneyActivities
from journeys_app.edges.http_server import serve_gateway
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.audit import audit_for_customer
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.schema import Customer
from tests.store.test_delivery_channels import Sink
from workflows.models import CustomerEvent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unsubscribe_link_withdraws_consent_and_ends_marketing_journeys(stack) -> None:
    customer = f"cust-{uuid.uuid4().hex[:6]}"
    dev = next(
        c
        for c in load_customers_file(stack.settings.journeys_dir / "samples" / "customers.yaml")
        if c["id"] == "cust-dev"
    )
    # Dev's history makes the journey take its long path: an email, then a week's wait for an order.
    await upsert_customers(
        stack.sessionmaker,
        [
            {
                **dev,
                "id": customer,
                "first_name": "Uma",
                "email": "uma@example.com",
                "consent": {"email": True},
            }
        ],
    )
    [run] = (await stack.service.event(customer, CustomerEvent(name="customer_dormant"))).triggered
    await stack.wait_for(run.workflow_id, lambda s: s.waiting_for is not None, timeout=120)

    sink, smtp_port, gateway_port = Sink(), _free_port(), _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = stack.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "gateway_port": gateway_port,
            "public_url": f"http://127.0.0.1:{gateway_port}",
            "link_secret": "test-link-secret",
        }
    )
    try:
        sender = JourneyActivities(stack.sessionmaker, settings)
        request = SendRequest(
            idempotency_key=f"{run.workflow_id}:promo:1",
            workflow_id=run.workflow_id,
            step_id="promo",
            customer_id=customer,
            channel="email",
            subject="We miss you",
            body="Hi Uma, here is what is new.",
        )
        assert (await ActivityEnvironment().run(sender.send_message, request)).status == "sent"
    finally:
        controller.stop()
    email = message_from_bytes(sink.messages[0].original_content, policy=policy.default)
    link = email["List-Unsubscribe"].strip("<>")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {link}" in email.get_body(("plain",)).get_content()
    assert f'<a href="{link}">' in email.get_body(("html",)).get_content()

    service = JourneyService(stack.client, settings, stack.service.catalog, stack.sessionmaker)
    async with serve_gateway(service, settings), httpx.AsyncClient() as web:
        page = await web.get(link)
        assert (
            page.status_code == 200 and "Unsubscribe</button>" in page.text
        )  # a scanner's GET changes nothing
        async with stack.sessionmaker() as session:
            assert (await session.get(Customer, customer)).consent == {"email": True}
        done = await web.post(link, data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "unsubscribed from marketing by email" in done.text
        forged = await web.post(link[:-3] + "abc")
        assert forged.status_code == 400 and "not valid" in forged.text

    async with stack.sessionmaker() as session:
        assert (await session.get(Customer, customer)).consent == {"email": False}
    state = await stack.wait_for(run.workflow_id, lambda s: s.status != "running", timeout=60)
    assert state.status == "exited"  # dormant re-engagement lists `unsubscribed` in exit_on
    audit = await audit_for_customer(stack.sessionmaker, customer)
    assert any(a.action == "unsubscribed" for a in audit)
