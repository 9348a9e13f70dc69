"""JourneyWorkflow: the one deterministic interpreter that runs every journey spec.

A run pins the spec it started with (content and hash travel in its input), so editing a YAML
file never changes a run in flight. Step handlers live in `workflows.steps`, one per type; the
run's state, its Temporal calls and its bookkeeping in `workflows.run_services`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        CHECK_REVIEWER,
        RECORD_DEAD_LETTER,
        CheckReviewerRequest,
        CheckReviewerResult,
        RecordDeadLetterRequest,
    )
    from workflows.expressions import ExpressionError
    from workflows.models import (
        CustomerEvent,
        DeadLetter,
        DeadLetterAction,
        DecideRequest,
        DecisionResult,
        JourneyInput,
        JourneyResult,
        RunState,
    )
    from workflows.patches import (
        BATCHED_BOOKKEEPING,
        BUNDLE_2026_12,
        EVENT_DEDUPE,
        STEP_BUDGET,
        VERIFY_REVIEWER,
    )
    from workflows.review import ReviewAck, ReviewDecision, validate_decision
    from workflows.run_services import (
        RECORD_RETRY,
        RECORD_TIMEOUT,
        RunExited,
        RunServices,
        describe_error,
    )
    from workflows.steps import kind_of
    from workflows.steps.base import Outcome
    from workflows.steps.results import RunResults

T = TypeVar("T")
MAX_INBOX = 100
MAX_SEEN_EVENTS = 1000  # event ids a run remembers, to ignore a redelivered event


@workflow.defn(name="JourneyWorkflow")
class JourneyWorkflow(RunServices):
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        """The journey and the carried state are in place before any handler runs: an event sent
        right after the start can arrive in the run's first workflow task, where signal handlers
        run before the run method."""
        super().__init__()
        self._input, self.spec = inp, inp.spec
        # In the first workflow task, before any handler: the whole run knows which code it runs.
        self._bundled = workflow.patched(BUNDLE_2026_12)
        if inp.carried:
            self._restore(inp.carried)
        elif inp.trigger.message_id:
            self._seen_events.append(inp.trigger.message_id)

    # ----------------------------------------------------------------- the interpreter
    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyResult:
        self._batched = self.has(BATCHED_BOOKKEEPING)
        steps = inp.spec.step_map()
        order = [s.id for s in inp.spec.steps]
        if not inp.carried:
            self._started_at = workflow.now()
            await self._start_run(inp)
            self._current = order[0]

        while self._current is not None:
            if self._exit_event:
                return await self._finish("exited", f"exit_on:{self._exit_event}")
            if (
                workflow.info().is_continue_as_new_suggested()
                or self._steps_this_run >= inp.max_steps_per_run
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self.flush_steps()
                workflow.continue_as_new(inp.model_copy(update={"carried": self._carry()}))
            step = steps[self._current]
            if self._steps_total >= (self._step_budget or inp.step_budget) and self.has(STEP_BUDGET):
                try:
                    action = await self._park_runaway(step, inp.step_budget)
                except RunExited:
                    return await self._finish("exited", f"exit_on:{self._exit_event}")
                if action == "discard":
                    return await self._finish("failed", "step_budget_spent")
                continue
            try:
                outcome = await self._run_step(step)
            except RunExited:
                return await self._finish("exited", f"exit_on:{self._exit_event}")
            if outcome is None:  # failed for good with on_error: fail -> an operator decides
                try:
                    action = await self._park(step)
                except RunExited:
                    return await self._finish("exited", f"exit_on:{self._exit_event}")
                if action == "discard":
                    return await self._finish("failed", f"step_failed:{step.id}")
                continue  # retry the same step, with the same visit (and so the same effect key)
            if self._is_decision_step(step):
                self._decision_ready = True
            if outcome.end:
                return await self._finish("completed", outcome.end)
            self._current = outcome.goto or self._next_of(step, order)
        return await self._finish("completed", "completed")

    async def _run_step(self, step: Any) -> Outcome | None:
        """Run one step; None when it failed and its on_error says fail."""
        visit = self._retry_visit or self.visits.get(step.id, 0) + 1
        self._retry_visit = None
        self.visits[step.id] = visit
        self.path.append(step.id)
        self._steps_this_run += 1
        self._steps_total += 1
        started = workflow.now()
        try:
            outcome = await kind_of(step).handle(step, self)
        except (ActivityError, ExpressionError, ValueError) as exc:
            error = describe_error(exc)
            workflow.logger.warning("step %s failed: %s", step.id, error)
            self.results[step.id] = {"error": error}
            await self._record_step(step, visit, "failed", {}, error, started)
            if step.on_error == "skip":
                return Outcome()
            if step.on_error == "fail":
                self.dead_letter = DeadLetter(step_id=step.id, visit=visit, error=error, since=workflow.now())
                return None
            return Outcome(goto=step.on_error.goto)
        self.results[step.id] = outcome.result
        await self._record_step(step, visit, "completed", outcome.result, None, started)
        return outcome

    def step_after(self, step: Any) -> Any | None:
        """The step the run goes to when `step` completes without a goto."""
        assert self.spec is not None
        following = self._next_of(step, [s.id for s in self.spec.steps])
        return self.spec.step_map()[following] if following else None

    def _next_of(self, step: Any, order: list[str]) -> str | None:
        if step.next:
            return step.next
        index = order.index(step.id) + 1
        return order[index] if index < len(order) else None

    def _is_decision_step(self, step: Any) -> bool:
        assert self.spec is not None
        if self.spec.decision:
            return step.id == self.spec.decision.after
        first_branch = next((s.id for s in self.spec.steps if s.type == "branch"), None)
        return step.id == first_branch

    async def _park(self, step: Any) -> str:
        """Dead-letter the step: record it, then wait for an operator to retry or discard it."""
        assert self.dead_letter is not None and self._input is not None
        self._dead_letter_action = None
        await self.flush_steps()
        await self._record_dead_letter("open", None)
        self.show_step_waited_at()
        self._waiting_for = f"dead letter {step.id}"
        await workflow.wait_condition(
            lambda: self._dead_letter_action is not None or self._exit_event is not None
        )
        self._waiting_for = None
        if self._dead_letter_action is None:
            raise RunExited(self._exit_event)
        action = self._dead_letter_action
        await self._record_dead_letter(
            "retried" if action.action == "retry" else "discarded", action.operator
        )
        self._retry_visit = self.dead_letter.visit if action.action == "retry" else None
        self.dead_letter = None
        return action.action

    async def _park_runaway(self, step: Any, budget: int) -> str:
        """A run that spent its step budget loops: park it for an operator, who may grant another."""
        spent = self._steps_total
        self.dead_letter = DeadLetter(
            step_id=step.id,
            visit=self.visits.get(step.id, 0) + 1,
            error=f"StepBudgetSpent: the run took {spent} steps (budget {budget}) and is still going; it "
            f"loops through {', '.join(dict.fromkeys(self.path[-20:]))}. Retry grants {budget} more steps.",
            since=workflow.now(),
        )
        action = await self._park(step)
        if action == "retry":
            self._step_budget = spent + budget
        return action

    async def _record_dead_letter(self, status: str, operator: str | None) -> None:
        assert self.dead_letter is not None and self._input is not None
        await workflow.execute_activity(
            RECORD_DEAD_LETTER,
            RecordDeadLetterRequest(
                workflow_id=self.workflow_id,
                step_id=self.dead_letter.step_id,
                visit=self.dead_letter.visit,
                customer_id=self._input.customer_id,
                journey_id=self._input.spec.id,
                error=self.dead_letter.error,
                status=status,
                operator=operator,
            ),
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    # ----------------------------------------------------------------- signals, updates, queries
    @workflow.signal
    def event(self, event: CustomerEvent) -> None:
        """A customer event for this run: ends it (exit_on), marks the goal, or feeds a wait.

        An event whose message id the run has already received is a redelivery and is ignored.
        """
        assert self.spec is not None
        if event.message_id and self.has(EVENT_DEDUPE):
            if event.message_id in self._seen_events:
                workflow.logger.info("event %s (%s) received before; ignored", event.name, event.message_id)
                return
            self._seen_events.append(event.message_id)
            del self._seen_events[:-MAX_SEEN_EVENTS]
        if event.name in self.spec.exit_on:
            self._exit_event = event.name
        if self.spec.goal and event.name == self.spec.goal.event and self._goal_reached_at is None:
            started = self._started_at or workflow.now()
            if workflow.now() - started <= self.spec.goal.within:
                self._goal_reached_at = workflow.now()
        self.inbox.append(event)
        del self.inbox[:-MAX_INBOX]  # keep the newest; waits only look for what is still to come

    @workflow.signal
    async def review(self, decision: ReviewDecision) -> None:
        """For tools that only send signals; an invalid or unauthorised decision is dropped (and a
        refused reviewer is recorded in the audit log)."""
        try:
            self._validate_review(decision)
            decision = await self._verified(decision, "signal")
        except (ValueError, ApplicationError) as exc:
            workflow.logger.warning("review signal ignored: %s", exc)
            return
        self._accept_review(decision)

    @workflow.update
    async def submit_review(self, decision: ReviewDecision) -> ReviewAck:
        try:
            decision = await self._verified(decision, "update")
        except ValueError as exc:
            raise ApplicationError(str(exc), type="ReviewRefused", non_retryable=True) from None
        self._accept_review(decision)
        return ReviewAck(review_id=decision.review_id, accepted=True, decision=decision.decision)

    @submit_review.validator
    def _validate_review(self, decision: ReviewDecision) -> None:
        validate_decision(self.pending_review, decision, decision.review_id in self._decided_reviews)

    async def _verified(self, decision: ReviewDecision, via: str) -> ReviewDecision:
        """The decision with the groups of the reviewer's account, as the store has them.

        Whoever sends a signal or update names the reviewer and may claim any groups; only an
        existing account allowed for the review's group may decide. Raises ApplicationError if not.
        """
        if not self.has(VERIFY_REVIEWER):
            return decision
        assert self.pending_review is not None and self._input is not None
        verdict = await workflow.execute_local_activity(
            CHECK_REVIEWER,
            CheckReviewerRequest(
                review_id=decision.review_id,
                workflow_id=self.workflow_id,
                customer_id=self._input.customer_id,
                reviewer=decision.reviewer,
                group=self.pending_review.group,
                decision=decision.decision,
                via=via,
            ),
            result_type=CheckReviewerResult,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        if not verdict.allowed:
            raise ApplicationError(
                f"{decision.reviewer} may not decide: {verdict.reason}", type="ReviewRefused"
            )
        decision = decision.model_copy(update={"groups": verdict.groups})
        self._validate_review(decision)  # still pending while the store was asked?
        return decision

    def _accept_review(self, decision: ReviewDecision) -> None:
        self.review_decision = decision
        self._decided_reviews.add(decision.review_id)

    @workflow.update
    def resolve_dead_letter(self, action: DeadLetterAction) -> str:
        """An operator's retry or discard of the parked step."""
        self._dead_letter_action = action
        return action.action

    @resolve_dead_letter.validator
    def _validate_dead_letter(self, action: DeadLetterAction) -> None:
        if self.dead_letter is None or self._dead_letter_action is not None:
            raise ValueError("this run has no step waiting in dead letters")

    @workflow.update
    async def decide(self, _request: DecideRequest) -> DecisionResult:
        """Answers once the decision step has run (or the run ended); the run goes on."""
        await workflow.wait_condition(lambda: self._decision_ready or self._status != "running")
        return self.decision()

    @workflow.query
    def state(self) -> RunState:
        assert self.spec is not None and self._input is not None
        return RunState(
            workflow_id=self.workflow_id,
            journey_id=self.spec.id,
            journey_version=self.spec.version,
            spec_hash=self._input.spec_hash,
            customer_id=self._input.customer_id,
            status=self._status,
            current_step=self._current,
            waiting_for=self._waiting_for,
            waiting_until=self._waiting_until,
            deferred_until=self._deferred_until,
            customer_timezone=self.customer.timezone,
            path=self.path,
            results=self.results,
            pending_review=self.pending_review,
            dead_letter=self.dead_letter,
            goal_reached_at=self._goal_reached_at,
            outcome=self._outcome,
            trigger=self._input.trigger,
        )

    @workflow.query
    def decision(self) -> DecisionResult:
        assert self.spec is not None
        found = RunResults.of_spec(self.spec, self.path, self.results)
        return DecisionResult(
            workflow_id=self.workflow_id,
            journey_id=self.spec.id,
            ready=self._decision_ready or self._status != "running",
            route=found.route,
            path=list(self.path),
            intent=found.latest("classify_intent"),
            score=found.latest("score"),
        )
