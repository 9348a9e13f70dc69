"""The state of a journey run and the services its steps use: Temporal calls with their timeouts,
retries and fallbacks, waiting, and the run's bookkeeping in the store.

`JourneyWorkflow` (workflows/journey.py) is the interpreter built on it; step handlers see it
through the `Run` protocol (workflows/steps/base.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        BEGIN_RUN,
        FINISH_RUN,
        LOAD_CUSTOMER,
        RECORD_RUN,
        RECORD_STEP,
        RECORD_STEPS,
        CustomerProfile,
        FinishRunRequest,
        LoadCustomerRequest,
        LoadCustomerResult,
        RecordStepRequest,
        RecordStepsRequest,
    )
    from inference_worker.contracts import FALLBACK_ACTIVITIES, GENERATE_COPY, ScoreRequest, ScoreResult
    from workflows.models import (
        Carried,
        CustomerEvent,
        DeadLetter,
        DeadLetterAction,
        JourneyInput,
        JourneyResult,
    )
    from workflows.patches import IN_BUNDLE_2026_12, INFERENCE_FALLBACK, WAIT_POSITION
    from workflows.review import PendingReview, ReviewDecision
    from workflows.search_attributes import STEP
    from workflows.spec import JourneySpec

T = TypeVar("T")

# Immediate retry, then +10 s, then +60 s; after that the step's on_error path.
STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=100),
    backoff_coefficient=100.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=4,
)
# Bookkeeping must not be lost: retry until the store is back.
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=60))
RECORD_TIMEOUT = timedelta(seconds=30)
# Inference activities heartbeat every few seconds; a worker killed mid-generation is noticed here.
INFERENCE_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
MAX_UNRECORDED_STEPS = 100  # step records kept before a write, so one write's payload stays small


class RunExited(Exception):
    """An exit_on event arrived: the run ends at the next safe point."""


class RunServices:
    """A run's state, and what its steps and the interpreter ask of Temporal and the store."""

    def __init__(self) -> None:
        self.spec: JourneySpec | None = None
        self.customer = CustomerProfile(id="")
        self.results: dict[str, Any] = {}
        self.path: list[str] = []
        self.visits: dict[str, int] = {}
        self.inbox: list[CustomerEvent] = []
        self._seen_events: list[str] = []  # message ids of events already received, oldest first
        self.pending_review: PendingReview | None = None
        self.review_decision: ReviewDecision | None = None
        self._input: JourneyInput | None = None
        self._current: str | None = None
        self._waiting_for: str | None = None  # what the run waits for, in words
        self._shown_step: str | None = None  # the Step search attribute's value
        self._waiting_until: datetime | None = None  # when the wait times out, if it does
        self._deferred_until: datetime | None = None  # a send held by quiet hours
        self._exit_event: str | None = None
        self._decision_ready = False
        self._goal_reached_at: datetime | None = None
        self._started_at: datetime | None = None
        self._status = "running"
        self._outcome: str | None = None
        self._steps_this_run = 0
        self._steps_total = 0
        self._step_budget: int | None = None
        self._decided_reviews: set[str] = set()
        self.dead_letter: DeadLetter | None = None
        self._dead_letter_action: DeadLetterAction | None = None
        self._retry_visit: int | None = None
        self._bundled = False  # patches.BUNDLE_2026_12: set in the first workflow task
        self._batched = False  # patches.BATCHED_BOOKKEEPING
        self._unrecorded: list[RecordStepRequest] = []  # step records not yet in the store
        self._written_step: str | None = None  # the current step as the store last heard it
        # Scores asked for with a classification, by score step id (not carried over continue-as-new:
        # a score step without one asks the inference worker itself).
        self.prefetched: dict[str, tuple[ScoreRequest, ScoreResult]] = {}

    # ----------------------------------------------------------------- services for steps
    @property
    def workflow_id(self) -> str:
        return workflow.info().workflow_id

    @property
    def consent_min_confidence(self) -> float:
        assert self._input is not None
        return self._input.consent_min_confidence

    def now(self) -> datetime:
        return workflow.now()

    def has(self, patch: str) -> bool:
        """Whether this run takes the behaviour that `patch` brought (workflows/patches.py): all
        of a bundle's at once for runs begun with it, each on its own for runs begun before."""
        return (self._bundled and patch in IN_BUNDLE_2026_12) or workflow.patched(patch)

    def context(self) -> dict[str, Any]:
        assert self._input is not None and self.spec is not None
        return {
            **self.results,
            "event": self._input.trigger.as_context(),
            "customer": self.customer.model_dump(mode="json"),
            "journey": {"id": self.spec.id, "version": self.spec.version},
            "steps": dict(self.results),
            "run": {"workflow_id": self.workflow_id, "path": list(self.path)},
        }

    def effect_key(self, step_id: str) -> str:
        return f"{self.workflow_id}:{step_id}:{self.visits.get(step_id, 1)}"

    async def inference(self, name: str, request: Any, result_type: type[T], timeout: timedelta) -> T:
        """The inference worker's answer, or rules / preset copy from this worker when it is gone."""
        assert self._input is not None
        pickup, queue = self._input.inference_pickup_timeout_s, self._input.inference_task_queue
        if name == GENERATE_COPY:
            pickup = self._input.inference_copy_pickup_timeout_s or pickup
            queue = self._input.inference_copy_task_queue or queue
        try:
            return await workflow.execute_activity(
                name,
                request,
                result_type=result_type,
                task_queue=queue,
                start_to_close_timeout=timeout,
                # Not picked up in time (no inference worker): a timeout that is never retried.
                schedule_to_start_timeout=timedelta(seconds=pickup),
                heartbeat_timeout=INFERENCE_HEARTBEAT_TIMEOUT,
                retry_policy=STEP_RETRY,
                summary=self._current,
            )
        except ActivityError as exc:
            if is_permanent(exc) or not self.has(INFERENCE_FALLBACK):
                raise
            workflow.logger.warning(
                "%s failed (%s); answering with rules / preset copy", name, describe_error(exc)
            )
        return await workflow.execute_activity(
            FALLBACK_ACTIVITIES[name],
            request,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STEP_RETRY,
            summary=f"{self._current} (rules: no inference worker)",
        )

    async def effect(self, name: str, request: Any, result_type: type[T]) -> T:
        return await workflow.execute_activity(
            name,
            request,
            result_type=result_type,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STEP_RETRY,
            summary=self._current,
        )

    async def wait(
        self, ready: Any, timeout: timedelta | None, *, what: str, quiet_hours: bool = False
    ) -> bool:
        """Wait until `ready()` or the timeout; `what` tells operators (state query, Temporal UI's
        timer summary) what the run waits for."""
        await self.flush_steps(at_wait=True)  # what a waiting run has done, and where it waits
        self.show_step_waited_at()
        self._waiting_for = what
        self._waiting_until = self.now() + timeout if timeout is not None else None
        if quiet_hours:
            self._deferred_until = self._waiting_until
        try:
            await workflow.wait_condition(
                lambda: self._exit_event is not None or ready(),
                timeout=timeout,
                timeout_summary=f"{self._current}: {what}" if timeout is not None else None,
            )
        except TimeoutError:
            return False
        finally:
            self._waiting_for = self._waiting_until = self._deferred_until = None
        if self._exit_event is not None:
            raise RunExited(self._exit_event)
        return True

    def show_step_waited_at(self) -> None:
        """The `Step` search attribute: where the run waits, for operators' queries."""
        if self._input is None or not self._input.search_attributes or self._shown_step == self._current:
            return
        workflow.upsert_search_attributes([STEP.value_set(self._current or "")])
        self._shown_step = self._current

    # ----------------------------------------------------------------- bookkeeping
    async def _start_run(self, inp: JourneyInput) -> None:
        if self._batched:
            begun = await workflow.execute_local_activity(
                BEGIN_RUN,
                inp.run_record(self.workflow_id),
                result_type=LoadCustomerResult,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary="begin run: record it, load the customer",
            )
            self.customer = begun.customer
            return
        loaded = await workflow.execute_activity(
            LOAD_CUSTOMER,
            LoadCustomerRequest(customer_id=inp.customer_id),
            result_type=LoadCustomerResult,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        self.customer = loaded.customer
        await workflow.execute_activity(
            RECORD_RUN,
            inp.run_record(self.workflow_id),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    async def _record_step(
        self, step: Any, visit: int, status: str, result: dict[str, Any], error: str | None, started: datetime
    ) -> None:
        record = RecordStepRequest(
            workflow_id=self.workflow_id,
            step_id=step.id,
            step_type=step.type,
            visit=visit,
            status=status,
            result=result,
            error=error,
            started_at=started,
            finished_at=workflow.now(),
        )
        if self._batched:
            self._unrecorded.append(record)
            if len(self._unrecorded) >= MAX_UNRECORDED_STEPS:  # a long stretch without a wait
                await self.flush_steps()
            return
        await workflow.execute_local_activity(
            RECORD_STEP,
            record,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary=f"record step {record.step_id}",
        )

    async def flush_steps(self, *, at_wait: bool = False) -> None:
        """Write the step records gathered since the last wait, and the step the run is at, in one
        transaction. At a wait a move alone is written too (a run whose first step waits)."""
        moved = at_wait and self._batched and self._written_step != self._current and self.has(WAIT_POSITION)
        if not self._unrecorded and not moved:
            return
        records, self._unrecorded = self._unrecorded, []
        self._written_step = self._current
        await workflow.execute_local_activity(
            RECORD_STEPS,
            RecordStepsRequest(steps=records, workflow_id=self.workflow_id, current_step=self._current),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
            summary="record steps " + ", ".join(dict.fromkeys(r.step_id for r in records))
            if records
            else f"at {self._current}",
        )

    async def _finish(self, status: str, outcome: str) -> JourneyResult:
        self._status, self._outcome, self._current = status, outcome, None
        finish = FinishRunRequest(
            workflow_id=self.workflow_id, status=status, outcome=outcome, path=self.path
        )
        if self._batched:
            finish.steps, self._unrecorded = self._unrecorded, []
            await workflow.execute_local_activity(
                FINISH_RUN,
                finish,
                start_to_close_timeout=RECORD_TIMEOUT,
                retry_policy=RECORD_RETRY,
                summary=f"finish: {outcome}",
            )
        else:
            await workflow.execute_activity(
                FINISH_RUN, finish, start_to_close_timeout=RECORD_TIMEOUT, retry_policy=RECORD_RETRY
            )
        return JourneyResult(status=status, outcome=outcome, path=self.path)

    def _carry(self) -> Carried:
        assert self._started_at is not None
        return Carried(
            customer=self.customer,
            current=self._current,
            results=self.results,
            path=self.path,
            visits=self.visits,
            inbox=self.inbox,
            decision_ready=self._decision_ready,
            goal_reached_at=self._goal_reached_at,
            started_at=self._started_at,
            retry_visit=self._retry_visit,
            seen_events=self._seen_events,
            steps_total=self._steps_total,
            step_budget=self._step_budget,
        )

    def _restore(self, carried: Carried) -> None:
        self.customer, self._current = carried.customer, carried.current
        self.results, self.path, self.visits = carried.results, carried.path, carried.visits
        self.inbox, self._decision_ready = carried.inbox, carried.decision_ready
        self._goal_reached_at, self._started_at = carried.goal_reached_at, carried.started_at
        self._retry_visit = carried.retry_visit
        self._seen_events = list(carried.seen_events)
        self._steps_total, self._step_budget = carried.steps_total, carried.step_budget


def is_permanent(exc: ActivityError) -> bool:
    """A non-retryable application error (a config mistake): rules would not fix it."""
    return isinstance(exc.cause, ApplicationError) and exc.cause.non_retryable


def describe_error(exc: BaseException) -> str:
    cause = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause) or type(cause).__name__
