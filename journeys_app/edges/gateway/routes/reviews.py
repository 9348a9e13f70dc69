"""Reviews for other tools: the pending queue, and decisions made as the key's reviewer account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from temporalio.client import WorkflowUpdateFailedError

from journeys_app.edges.gateway.auth import Gate
from journeys_app.edges.gateway.errors import GatewayError
from journeys_app.edges.gateway.openapi import request_body
from journeys_app.edges.gateway.protocol import ReviewRequest
from journeys_app.edges.gateway.reading import read_model
from journeys_app.service.journey_service import JourneyService, ReviewClosed, ReviewNotFound, ReviewRefused
from journeys_app.store import queries
from journeys_app.store.api_keys import KeyInfo
from workflows.review import ReviewAck, ReviewDecision


def review_routes(service: JourneyService, gate: Gate) -> APIRouter:
    router = APIRouter(tags=["review"])

    @router.get("/v1/reviews")
    async def reviews(key: KeyInfo = gate.review_key, group: str | None = None) -> list[queries.ReviewRecord]:
        """Pending reviews, earliest deadline first."""
        return await queries.pending_reviews(service.sessionmaker, group)

    @router.post("/v1/reviews/{review_id}", openapi_extra=request_body(ReviewRequest))
    async def decide_review(review_id: str, request: Request, key: KeyInfo = gate.review_key) -> ReviewAck:
        """A reviewer's decision from another tool, made as the key's reviewer account (its groups apply)."""
        body = await read_model(request, ReviewRequest)
        if key.reviewer is None:
            raise GatewayError(
                403,
                f"key {key.name!r} is bound to no reviewer account; make one with "
                "`journeys keys create --scopes review --reviewer NAME`",
            )
        if body.reviewer not in (None, key.reviewer):
            raise GatewayError(
                403,
                f"this key decides as {key.reviewer!r}, not as {body.reviewer!r}",
                {"reviewer": key.reviewer},
            )
        decision = ReviewDecision(review_id=review_id, **{**body.model_dump(), "reviewer": key.reviewer})
        try:
            return await service.review(decision)
        except ReviewNotFound as exc:
            raise GatewayError(404, str(exc).strip("'\"")) from exc
        except ReviewRefused as exc:
            raise GatewayError(403, str(exc)) from exc
        except ReviewClosed as exc:
            raise GatewayError(409, str(exc)) from exc
        except WorkflowUpdateFailedError as exc:
            raise GatewayError(
                409, str(exc.cause).removeprefix("ValueError: ") if exc.cause else str(exc)
            ) from exc

    return router
