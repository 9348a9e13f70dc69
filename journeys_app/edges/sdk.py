"""The Python SDK for MA engineers: one interface over the HTTP gateway or over Temporal directly.

    async with JourneysClient.over_gateway("http://journeys:8400", api_key) as journeys:
        run = await journeys.trigger("complaint_routing", "cust-ava", Event(message_id="m-1"))
        decision = await journeys.decide("complaint_routing", "cust-ava", Event(...), timeout_ms=300)
        status = await journeys.status(run.workflow_id)

`JourneysClient.over_temporal(settings)` gives the same methods from inside the trust boundary
(no gateway, no key): it talks to Temporal and the store with the product's own service.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import BaseModel, Field

from journeys_app.core.settings import Settings
from journeys_app.edges.gateway.protocol import DecideResponse, MessageOutcome, TriggerResponse
from journeys_app.store import queries

Decision = DecideResponse
RunStatus = queries.RunDetail
TriggerOutcome = TriggerResponse


class Event(BaseModel):
    """An event about one customer; `name` defaults to the journey's trigger event where one applies."""

    name: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    message_id: str | None = None


class EventOutcome(BaseModel):
    started: list[str] = Field(default_factory=list)
    signalled: list[str] = Field(default_factory=list)
    duplicate: bool = False


class JourneysError(RuntimeError):
    """A refused call: `status` is the HTTP status (or the closest one), `message` says why."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(f"{status}: {message}" + (f" ({detail})" if detail else ""))
        self.status, self.message, self.detail = status, message, detail


class JourneysClient(abc.ABC):
    @abc.abstractmethod
    async def trigger(
        self, journey_id: str, customer_id: str, event: Event | None = None
    ) -> TriggerOutcome: ...

    @abc.abstractmethod
    async def send_event(self, customer_id: str, event: Event) -> EventOutcome: ...

    @abc.abstractmethod
    async def decide(
        self, journey_id: str, customer_id: str, event: Event | None = None, *, timeout_ms: int = 300
    ) -> Decision: ...

    @abc.abstractmethod
    async def status(self, workflow_id: str) -> RunStatus: ...

    @staticmethod
    @asynccontextmanager
    async def over_gateway(
        base_url: str, api_key: str, *, timeout_s: float = 30.0
    ) -> AsyncIterator[JourneysClient]:
        async with httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout_s
        ) as http:
            yield _GatewayClient(http)

    @staticmethod
    @asynccontextmanager
    async def over_temporal(settings: Settings) -> AsyncIterator[JourneysClient]:
        from journeys_app.runtime import open_runtime

        async with open_runtime(settings) as runtime:
            yield _TemporalClient(runtime.service)


class _GatewayClient(JourneysClient):
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.http.request(method, path, json=json)
        if response.is_error:
            try:
                body = response.json()
            except ValueError:
                body = {"message": response.text}
            raise JourneysError(
                response.status_code, body.get("message", response.reason_phrase), body.get("detail")
            )
        return response.json()

    async def trigger(self, journey_id: str, customer_id: str, event: Event | None = None) -> TriggerOutcome:
        body = _segment_body(customer_id, event or Event())
        return TriggerOutcome.model_validate(
            await self._call("POST", f"/v1/journeys/{journey_id}/runs", body)
        )

    async def send_event(self, customer_id: str, event: Event) -> EventOutcome:
        if not event.name:
            raise JourneysError(400, "an event sent to running journeys needs a name")
        [result] = (await self._call("POST", "/v1/track", _segment_body(customer_id, event)))["results"]
        outcome = MessageOutcome.model_validate(result)
        return EventOutcome(
            started=outcome.started, signalled=outcome.signalled, duplicate=outcome.outcome == "duplicate"
        )

    async def decide(
        self, journey_id: str, customer_id: str, event: Event | None = None, *, timeout_ms: int = 300
    ) -> Decision:
        body = {**_segment_body(customer_id, event or Event()), "timeoutMs": timeout_ms}
        return Decision.model_validate(await self._call("POST", f"/v1/decide/{journey_id}", body))

    async def status(self, workflow_id: str) -> RunStatus:
        return RunStatus.model_validate(await self._call("GET", f"/v1/runs/{workflow_id}"))


def _segment_body(customer_id: str, event: Event) -> dict[str, Any]:
    return {
        "userId": customer_id,
        "event": event.name,
        "properties": event.properties,
        "messageId": event.message_id,
    }


class _TemporalClient(JourneysClient):
    def __init__(self, service: Any) -> None:
        self.service = service

    def _event(self, journey_id: str | None, event: Event | None) -> Any:
        from workflows.models import CustomerEvent

        event = event or Event()
        name = event.name or (self.service.journey(journey_id).spec.trigger.event if journey_id else None)
        if not name:
            raise JourneysError(400, "an event sent to running journeys needs a name")
        return CustomerEvent(name=name, properties=event.properties, message_id=event.message_id)

    async def trigger(self, journey_id: str, customer_id: str, event: Event | None = None) -> TriggerOutcome:
        with _as_journeys_errors():
            result = await self.service.trigger(journey_id, customer_id, self._event(journey_id, event))
        return TriggerOutcome(journey_id=journey_id, workflow_id=result.workflow_id, started=result.started)

    async def send_event(self, customer_id: str, event: Event) -> EventOutcome:
        with _as_journeys_errors():
            result = await self.service.event(customer_id, self._event(None, event))
        return EventOutcome(
            started=[t.workflow_id for t in result.triggered if t.started], signalled=result.signalled
        )

    async def decide(
        self, journey_id: str, customer_id: str, event: Event | None = None, *, timeout_ms: int = 300
    ) -> Decision:
        with _as_journeys_errors():
            workflow_id, decision = await self.service.decide_within(
                journey_id, customer_id, self._event(journey_id, event), timeout_ms / 1000
            )
        if decision is None:  # the run goes on and decides anyway
            return Decision(workflow_id=workflow_id, journey_id=journey_id, ready=False, timed_out=True)
        return Decision(**decision.model_dump())

    async def status(self, workflow_id: str) -> RunStatus:
        detail = await queries.get_run(self.service.sessionmaker, workflow_id)
        if detail is None:
            raise JourneysError(404, f"no run {workflow_id!r}")
        [live] = await self.service.live([detail])
        return live


@contextlib.contextmanager
def _as_journeys_errors() -> Any:
    from journeys_app.service.journey_service import EntryKeyError, JourneyNotFound

    try:
        yield
    except JourneyNotFound as exc:
        raise JourneysError(404, str(exc).strip("'\"")) from exc
    except EntryKeyError as exc:
        raise JourneysError(400, str(exc)) from exc
