"""The HTTP gateway: Segment's tracking API, the synchronous decide call, reads, reviews and the
Temporal codec endpoint.

Thin routes, one router per feature (`routes/`): authentication and limits in `auth.py`, body
decoding in `reading.py`, refusals in `errors.py`; the work is in `Ingest` and `JourneyService`.
Every refusal is a 4xx with a JSON body `{"code": …, "message": …, "detail": …}`.
"""

from __future__ import annotations

from fastapi import FastAPI

from journeys_app.core.settings import Settings
from journeys_app.edges.gateway.auth import Gate
from journeys_app.edges.gateway.errors import install_error_handlers
from journeys_app.edges.gateway.ingest import Ingest
from journeys_app.edges.gateway.limits import BodyLimit
from journeys_app.edges.gateway.openapi import documented_openapi
from journeys_app.edges.gateway.routes.codec import codec_routes
from journeys_app.edges.gateway.routes.journeys import journey_routes
from journeys_app.edges.gateway.routes.reads import read_routes
from journeys_app.edges.gateway.routes.reviews import review_routes
from journeys_app.edges.gateway.routes.segment import segment_routes
from journeys_app.edges.gateway.routes.unsubscribe import unsubscribe_routes
from journeys_app.service.journey_service import JourneyService


def create_gateway_app(service: JourneyService, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="ma-journeys gateway",
        description="Segment-compatible event ingestion, synchronous decisions and read access to runs.",
        version="1",
    )
    app.add_middleware(BodyLimit)
    app.openapi = lambda: documented_openapi(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    ingest = Ingest(service)
    gate = Gate(service, settings, ingest)
    app.include_router(segment_routes(gate, ingest))
    app.include_router(journey_routes(service, gate))
    app.include_router(read_routes(service, gate))
    app.include_router(review_routes(service, gate))
    app.include_router(unsubscribe_routes(service))
    app.include_router(codec_routes(service, gate))
    return app
