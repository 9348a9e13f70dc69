"""JourneyService: what the CLI, the gateway, the console, the SDK and the demo do with journeys.

Triggers are idempotent by design: the workflow id is derived from (journey, customer, entry key)
and the id-reuse policy comes from the journey's re-entry rule, so a retried trigger never starts
a second run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities.contracts import RecordRunRequest
from inference_worker.guardrails import brand_sensitive_words, check_message
from journeys_app.core.masking import mask_values
from journeys_app.core.settings import Settings
from journeys_app.core.unsubscribe import UNSUBSCRIBED_EVENT, read_token
from journeys_app.store import queries
from journeys_app.store.audit import audit_entry, write_audit
from journeys_app.store.erasure import ErasureReport, erase_customer_data
from journeys_app.store.goal_events import record_goal_events
from journeys_app.store.reviewers import get_reviewer
from journeys_app.store.schema import Customer
from workflows import search_attributes
from workflows.expressions import ExpressionError, evaluate, fields_read, render
from workflows.journey import JourneyWorkflow
from workflows.models import (
    CustomerEvent,
    DeadLetterAction,
    DecideRequest,
    DecisionResult,
    JourneyInput,
    RunState,
)
from workflows.review import ReviewAck, ReviewDecision
from workflows.validation import LoadedJourney

log = logging.getLogger(__name__)

_REUSE = {
    "always": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    "once": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    "if_not_running": WorkflowIDReusePolicy.ALLOW_DUPLICATE,
}


class JourneyNotFound(LookupError):
    pass


class ReviewNotFound(LookupError):
    pass


class ReviewRefused(PermissionError):
    """The reviewer may not make this decision (no account, wrong group, an edit failing guardrails)."""


class ReviewClosed(LookupError):
    """The review's run has ended: no decision can reach it any more."""


class EntryKeyError(ValueError):
    """The event lacks what the journey's entry key is made from, or the key is unusable."""

    def __init__(self, message: str, fields: list[str]):
        super().__init__(message)
        self.fields = fields  # the event fields the key is made of, as the MA names them


class TriggerFilterError(ValueError):
    """A journey's trigger filter cannot be evaluated for this event (it reads a missing property)."""

    def __init__(self, message: str, fields: list[str]):
        super().__init__(message)
        self.fields = fields


# Workflow ids are journey:customer:key; Temporal refuses ids over 1,000 bytes, and a key this long
# is a mistake (a message body, not an id).
MAX_ENTRY_KEY = 200
LIVE_STATE_TIMEOUT_S = 1.0
R = TypeVar("R", bound=queries.RunSummary)


def _event_field(name: str) -> str:
    """How the MA names an event field: the message id is Segment's messageId, the rest properties."""
    return "messageId" if name == "message_id" else f"properties.{name}"


@dataclass
class TriggerResult:
    journey_id: str
    workflow_id: str
    started: bool  # False: a run with this entry key exists already (a duplicate trigger)
    run_id: str | None = None


@dataclass
class EventResult:
    signalled: list[str] = field(default_factory=list)
    triggered: list[TriggerResult] = field(default_factory=list)


class JourneyService:
    def __init__(
        self,
        client: Client,
        settings: Settings,
        catalog: dict[str, LoadedJourney],
        sessionmaker: async_sessionmaker[AsyncSession],
    ):
        self.client = client
        self.settings = settings
        self.catalog = catalog
        self.sessionmaker = sessionmaker
        self._deciding: set[asyncio.Future[DecisionResult]] = set()  # past their deadline, still running
        # Event properties that entry keys are made of stay as sent (they are ids); every other
        # text has the phone numbers and emails customers type masked before it enters Temporal.
        self._id_properties = frozenset(
            name
            for j in catalog.values()
            if j.spec.entry.key
            for name in fields_read(j.spec.entry.key, "event")
        )
        self._listened = {j.spec.id: (j.spec_hash, j.spec.listened_events()) for j in catalog.values()}
        self.goal_events = frozenset(j.spec.goal.event for j in catalog.values() if j.spec.goal)
        self._searchable: bool | None = None  # the namespace has the search attributes: asked once

    async def searchable(self) -> bool:
        """Whether runs start with their search attributes: the namespace must have them, or every
        start would fail; without them runs start all the same (and a warning says how to add them)."""
        if self._searchable is None:
            self._searchable = await self._namespace_has_search_attributes()
        return self._searchable

    async def _namespace_has_search_attributes(self) -> bool:
        if not self.settings.temporal_search_attributes:
            return False
        try:
            listed = await self.client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=self.client.namespace)
            )
        except RPCError as exc:
            log.warning(
                "cannot read the namespace's search attributes (%s): runs start without them", exc.message
            )
            return False
        known = {*listed.custom_attributes, *listed.system_attributes}
        missing = [key for key in search_attributes.KEYS if key.name not in known]
        if missing:
            create = " ".join(
                "--name {} --type {}".format(*search_attributes.declared(key).split("=")) for key in missing
            )
            log.warning(
                "namespace %r lacks the search attributes %s: runs start without them; add them with "
                "`temporal operator search-attribute create %s`",
                self.client.namespace,
                ", ".join(key.name for key in missing),
                create,
            )
        return not missing

    def masked(self, event: CustomerEvent) -> CustomerEvent:
        """The event as journeys see it: contact details in its texts masked (`138****5678`)."""
        return event.model_copy(
            update={"properties": mask_values(event.properties, keep=self._id_properties)}
        )

    def journey(self, journey_id: str) -> LoadedJourney:
        try:
            return self.catalog[journey_id]
        except KeyError:
            known = ", ".join(sorted(self.catalog)) or "none"
            raise JourneyNotFound(f"no journey '{journey_id}' (known: {known})") from None

    def workflow_id(self, journey: LoadedJourney, customer_id: str, event: CustomerEvent) -> tuple[str, str]:
        entry = journey.spec.entry
        if not entry.key:
            return f"{journey.spec.id}:{customer_id}", ""
        fields = sorted(_event_field(f) for f in fields_read(entry.key, "event"))
        wanted = " and ".join(f"`{f}`" for f in fields) or "the fields it reads"
        try:
            key = render(entry.key, {"event": event.as_context()}).strip()
        except ExpressionError:
            raise EntryKeyError(
                f"journey '{journey.spec.id}' makes its entry key from {entry.key!r}, which this "
                f"{event.name} event lacks; send the event with {wanted}",
                fields,
            ) from None
        if not key:
            raise EntryKeyError(
                f"journey '{journey.spec.id}' makes its entry key from {entry.key!r}, which is empty "
                f"for this {event.name} event; send it with a non-empty {wanted}",
                fields,
            )
        if len(key) > MAX_ENTRY_KEY:
            raise EntryKeyError(
                f"journey '{journey.spec.id}' makes its entry key from {entry.key!r}, which is "
                f"{len(key)} characters long for this event; at most {MAX_ENTRY_KEY} (an id, not a text)",
                fields,
            )
        return f"{journey.spec.id}:{customer_id}:{key}", key

    async def _start_args(
        self, journey: LoadedJourney, customer_id: str, event: CustomerEvent
    ) -> dict[str, Any]:
        workflow_id, key = self.workflow_id(journey, customer_id, event)
        spec = journey.spec
        searchable = await self.searchable()
        found_by = search_attributes.at_start(spec.id, spec.version, customer_id) if searchable else None
        return {
            "arg": JourneyInput(
                spec=spec,
                spec_hash=journey.spec_hash,
                customer_id=customer_id,
                entry_key=key,
                trigger=self.masked(event),
                inference_task_queue=self.settings.inference_task_queue,
                inference_copy_task_queue=self.settings.copy_task_queue,
                inference_pickup_timeout_s=self.settings.inference_pickup_timeout_s,
                inference_copy_pickup_timeout_s=self.settings.inference_copy_pickup_timeout_s,
                step_budget=self.settings.run_step_budget,
                consent_min_confidence=self.settings.consent_min_confidence,
                search_attributes=searchable,
            ),
            "id": workflow_id,
            "search_attributes": found_by,
            "task_queue": self.settings.journey_task_queue,
            "id_reuse_policy": _REUSE[spec.entry.reentry],
            "memo": {
                "journey": spec.id,
                "version": spec.version,
                "spec_hash": journey.spec_hash,
                "customer_id": customer_id,
            },
        }

    async def trigger(self, journey_id: str, customer_id: str, event: CustomerEvent) -> TriggerResult:
        """Start a journey for a customer; a duplicate (same entry key) returns the existing run."""
        result, record = await self.start(journey_id, customer_id, event)
        # A caller that started it may have stopped before recording it (a crashed batch page).
        await queries.insert_runs_if_absent(self.sessionmaker, [record])
        return result

    async def start(
        self, journey_id: str, customer_id: str, event: CustomerEvent
    ) -> tuple[TriggerResult, RecordRunRequest]:
        """`trigger` without recording the run: the caller records many at once
        (`queries.insert_runs_if_absent`), as soon as it can, so events find them."""
        journey = self.journey(journey_id)
        args = await self._start_args(journey, customer_id, event)
        record = args["arg"].run_record(args["id"])
        try:
            handle = await self.client.start_workflow(JourneyWorkflow.run, **args)
        except WorkflowAlreadyStartedError as exc:
            return TriggerResult(journey_id, args["id"], started=False, run_id=exc.run_id), record
        return TriggerResult(journey_id, args["id"], started=True, run_id=handle.result_run_id), record

    async def event(self, customer_id: str, event: CustomerEvent) -> EventResult:
        """Feed an event to the customer's running journeys and start journeys it triggers."""
        customer = await queries.customer_context(self.sessionmaker, customer_id)
        journeys = self.triggered_by(customer_id, event, customer)
        if event.name in self.goal_events:  # counted before routing: a retry is recorded once
            async with self.sessionmaker() as session, session.begin():
                await record_goal_events(session, [(customer_id, *event.occurrence())])
        return await self.route(customer_id, event, journeys)

    def triggered_by(
        self, customer_id: str, event: CustomerEvent, customer: dict[str, Any]
    ) -> list[LoadedJourney]:
        """The journeys this event starts for this customer, every one with a usable entry key.

        Raises TriggerFilterError or EntryKeyError before anything happens, so a caller can refuse
        the event instead of acting on part of it.
        """
        started = []
        for journey in self.catalog.values():
            trigger = journey.spec.trigger
            if trigger.event != event.name:
                continue
            if trigger.where:
                try:
                    matches = evaluate(trigger.where, {"event": event.as_context(), "customer": customer})
                except ExpressionError as exc:
                    fields = sorted(
                        _event_field(f) for f in fields_read(trigger.where, "event", condition=True)
                    )
                    raise TriggerFilterError(
                        f"journey '{journey.spec.id}' starts on {event.name} events where "
                        f"{trigger.where!r}, which cannot be evaluated for this event ({exc.reason}); "
                        f"send {' and '.join(f'`{f}`' for f in fields) or 'the fields it reads'}",
                        fields,
                    ) from None
                if not matches:
                    continue
            self.workflow_id(journey, customer_id, event)  # raises EntryKeyError
            started.append(journey)
        return started

    async def route(
        self,
        customer_id: str,
        event: CustomerEvent,
        journeys: list[LoadedJourney],
        runs: list[queries.ActiveRun] | None = None,
    ) -> EventResult:
        """Signal the event to the customer's running journeys that react to it, then start
        `journeys` with it. `runs`: the customer's active runs, when the caller has read them."""
        if runs is None:
            runs = (await queries.active_runs_for_customers(self.sessionmaker, {customer_id}))[customer_id]
        result = EventResult()
        masked = self.masked(event)
        for run in runs:
            if not self.listens(run, event.name):
                continue
            try:
                await self.client.get_workflow_handle(run.workflow_id).signal(JourneyWorkflow.event, masked)
                result.signalled.append(run.workflow_id)
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        for journey in journeys:
            result.triggered.append(await self.trigger(journey.spec.id, customer_id, event))
        return result

    def listens(self, run: queries.ActiveRun, event_name: str) -> bool:
        """Whether the run reacts to this event. A run of a spec this catalog no longer holds (the
        file changed since it started) is told every event, as it may wait for any of them."""
        spec_hash, listened = self._listened.get(run.journey_id, (None, frozenset()))
        return spec_hash != run.spec_hash or event_name in listened

    async def decide(self, journey_id: str, customer_id: str, event: CustomerEvent) -> DecisionResult:
        """Start (or join) the run and return its routing decision; the run goes on durably."""
        journey = self.journey(journey_id)
        args = await self._start_args(journey, customer_id, event)
        inp = args.pop("arg")
        operation = WithStartWorkflowOperation(
            JourneyWorkflow.run,
            inp,
            **args,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        try:
            decision = await self.client.execute_update_with_start_workflow(
                JourneyWorkflow.decide, DecideRequest(), start_workflow_operation=operation
            )
        except WorkflowAlreadyStartedError:
            # The run with this entry key has finished: answer with the decision it made.
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await operation.workflow_handle()
            return await self.handle(args["id"]).query(JourneyWorkflow.decision)
        # No run row to write here: the run records itself (begin_run) before it decides, so
        # events sent right after the decision find it.
        return decision

    async def decide_within(
        self, journey_id: str, customer_id: str, event: CustomerEvent, timeout_s: float
    ) -> tuple[str, DecisionResult | None]:
        """`decide` with the caller's deadline: (workflow id, the decision or None when it is late).

        A late decision's run goes on and decides anyway; its call is kept alive until it does.
        Raises JourneyNotFound and EntryKeyError before anything starts.
        """
        workflow_id, _ = self.workflow_id(self.journey(journey_id), customer_id, event)
        task = asyncio.ensure_future(self.decide(journey_id, customer_id, event))
        self._deciding.add(task)
        task.add_done_callback(self._deciding.discard)
        try:
            return workflow_id, await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            return workflow_id, None

    def handle(self, workflow_id: str) -> WorkflowHandle[JourneyWorkflow, Any]:
        return self.client.get_workflow_handle_for(JourneyWorkflow.run, workflow_id)

    async def state(self, workflow_id: str) -> RunState:
        return await self.handle(workflow_id).query(JourneyWorkflow.state)

    async def live(self, runs: Sequence[R]) -> list[R]:
        """Runs as the store has them, the running ones brought up to date from the workflow's own
        state: path, current step, what it waits for and until when. A run that does not answer
        within a second keeps the store's view."""

        async def one(run: R) -> R:
            if run.status != "running":
                return run
            try:
                state = await asyncio.wait_for(self.state(run.workflow_id), LIVE_STATE_TIMEOUT_S)
            except (RPCError, WorkflowQueryFailedError, TimeoutError):
                return run
            return run.model_copy(
                update={
                    "path": state.path,
                    "current_step": state.current_step,
                    "waiting_for": state.waiting_for,
                    "waiting_until": state.waiting_until,
                }
            )

        return list(await asyncio.gather(*(one(run) for run in runs)))

    async def resolve_dead_letter(self, workflow_id: str, action: DeadLetterAction) -> str:
        """Retry the run's parked step (same effect key, so nothing is sent twice) or discard it."""
        return await self.handle(workflow_id).execute_update(JourneyWorkflow.resolve_dead_letter, action)

    async def erase_customer(self, customer_id: str, operator: str) -> ErasureReport:
        """Right to erasure: end the customer's journeys, anonymise the store, delete their histories.

        Runs are ended first so no activity writes personal data after the store is cleaned; the
        Temporal histories go last, as they hold the triggering messages.
        """
        runs = await queries.list_runs(self.sessionmaker, customer_id=customer_id, limit=100_000)
        for run in runs:
            if run.status in ("starting", "running"):
                with contextlib.suppress(RPCError):  # already ended
                    await self.client.get_workflow_handle(run.workflow_id).terminate("customer erased")
        report = await erase_customer_data(self.sessionmaker, customer_id, operator)
        for run in runs:
            with contextlib.suppress(RPCError):  # not found: retention already removed it
                await self.client.workflow_service.delete_workflow_execution(
                    DeleteWorkflowExecutionRequest(
                        namespace=self.client.namespace,
                        workflow_execution=WorkflowExecution(workflow_id=run.workflow_id),
                    )
                )
        return report

    async def unsubscribe(self, token: str) -> tuple[str, str, list[str]]:
        """Withdraw consent from an unsubscribe link and tell the customer's running journeys;
        returns (customer, channel, journeys told). Raises BadLink for a link we did not sign."""
        customer_id, channel = read_token(self.settings, token)
        async with self.sessionmaker() as session, session.begin():
            row = (await session.scalars(select(Customer).where(Customer.id == customer_id))).one_or_none()
            if row is not None:
                row.consent = {**(row.consent or {}), channel: False}
            await write_audit(
                session,
                **audit_entry(
                    "customer",
                    "unsubscribed",
                    input={"customer_id": customer_id, "channel": channel},
                    output_summary=f"{channel} marketing consent withdrawn through the unsubscribe link",
                    customer_id=customer_id,
                    details={"channel": channel, "known_customer": row is not None},
                ),
            )
        unsubscribed = CustomerEvent(name=UNSUBSCRIBED_EVENT, properties={"channel": channel})
        told = await self.event(customer_id, unsubscribed)
        return customer_id, channel, told.signalled

    async def review(self, decision: ReviewDecision) -> ReviewAck:
        """Submit a decision through the validated update: stale or duplicate ones are refused.

        The reviewer must have an account in the review's current group; an edit must pass the
        same message guardrails as generated copy. Refused decisions never reach the run.
        """
        review = await queries.get_review(self.sessionmaker, decision.review_id)
        if review is None:
            raise ReviewNotFound(f"no review '{decision.review_id}'")
        account = await get_reviewer(self.sessionmaker, decision.reviewer)
        if account is None:
            raise ReviewRefused(
                f"no reviewer account {decision.reviewer!r}: create one with "
                f"`journeys reviewers add {decision.reviewer!r} --group {review.group}`"
            )
        if review.group not in account.groups:
            raise ReviewRefused(
                f"{account.name} reviews for {', '.join(account.groups)}, not for {review.group}"
            )
        if decision.decision == "edit":
            self._check_edit(review, decision)
        decision = decision.model_copy(update={"groups": account.groups})
        try:
            return await self.handle(review.workflow_id).execute_update(
                JourneyWorkflow.submit_review, decision
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            raise ReviewClosed(
                f"review {review.review_id} is closed ({review.status}): its run has ended"
            ) from exc

    async def wait_until_recorded(self, review_id: str, timeout: float = 5.0) -> queries.ReviewRecord | None:
        """The review once the run has stored its decision (an activity, right after the update)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            review = await queries.get_review(self.sessionmaker, review_id)
            if review is None or review.status not in queries.OPEN_REVIEW_STATUSES:
                return review
            if asyncio.get_running_loop().time() >= deadline:
                return review
            await asyncio.sleep(0.1)

    def _check_edit(self, review: queries.ReviewRecord, decision: ReviewDecision) -> None:
        variants = review.variants or [{}]
        variant = variants[decision.variant] if 0 <= decision.variant < len(variants) else variants[0]
        channel = str(variant.get("channel") or "email")
        subject = decision.subject or variant.get("subject")
        words = brand_sensitive_words(self.settings.templates_dir)
        brand = urlsplit(self.settings.public_url).hostname or ""
        report = check_message(channel, subject, decision.body or "", words, allowed_domains=[brand])
        if not report.passed:
            raise ReviewRefused(f"the edited text fails the guardrails ({report.summary()})")
