"""Search attributes that make runs findable in Temporal's UI and CLI, and carry no personal data:
the customer's id (never a name or address), the journey and its version, the step a run waits at.

    temporal workflow list --query 'JourneyId = "complaint_routing" AND Step = "review"'
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
JOURNEY_ID = SearchAttributeKey.for_keyword("JourneyId")
JOURNEY_VERSION = SearchAttributeKey.for_int("JourneyVersion")
STEP = SearchAttributeKey.for_keyword("Step")
KEYS: tuple[SearchAttributeKey, ...] = (CUSTOMER_ID, JOURNEY_ID, JOURNEY_VERSION, STEP)


def at_start(journey_id: str, version: int, customer_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(CUSTOMER_ID, customer_id),
            SearchAttributePair(JOURNEY_ID, journey_id),
            SearchAttributePair(JOURNEY_VERSION, version),
        ]
    )


def declared(key: SearchAttributeKey) -> str:
    """`CustomerId=Keyword`: as Temporal's CLI declares it."""
    return f"{key.name}={key.indexed_value_type.name.title()}"
