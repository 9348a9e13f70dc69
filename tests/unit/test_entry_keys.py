"""Workflow ids come from (journey, customer, entry key): the dedupe MA systems rely on."""

from __future__ import annotations

import pytest

from journeys_app.core.settings import Settings
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import EntryKeyError, JourneyService
from workflows.models import CustomerEvent


@pytest.fixture(scope="module")
def service() -> JourneyService:
    settings = Settings()
    return JourneyService(client=None, settings=settings, catalog=load_catalog(settings), sessionmaker=None)  # type: ignore[arg-type]


def test_keyed_and_unkeyed_workflow_ids(service):
    routing, dormant = service.journey("complaint_routing"), service.journey("dormant_reengagement")
    event = CustomerEvent(name="message_received", message_id="m-1", properties={"text": "hi"})
    assert service.workflow_id(routing, "cust-ava", event) == ("complaint_routing:cust-ava:m-1", "m-1")
    assert service.workflow_id(dormant, "cust-ava", CustomerEvent(name="customer_dormant")) == (
        "dormant_reengagement:cust-ava",
        "",
    )


def test_a_missing_message_id_is_a_clear_error_not_a_shared_run(service):
    event = CustomerEvent(name="message_received", properties={"text": "hi"})
    with pytest.raises(EntryKeyError, match="send the event with `messageId`"):
        service.workflow_id(service.journey("complaint_routing"), "cust-ava", event)


def test_the_hint_names_the_property_the_key_is_made_of_and_keys_stay_ids(service):
    carts = service.journey("abandoned_cart")
    with pytest.raises(EntryKeyError, match=r"send the event with `properties\.cart_id`") as missing:
        service.workflow_id(carts, "cust-ava", CustomerEvent(name="cart_abandoned"))
    assert "message id" not in str(missing.value) and missing.value.fields == ["properties.cart_id"]
    long_key = CustomerEvent(name="cart_abandoned", properties={"cart_id": "c" * 201})
    with pytest.raises(EntryKeyError, match="201 characters long"):
        service.workflow_id(carts, "cust-ava", long_key)
