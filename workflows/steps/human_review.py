"""human_review: wait for a reviewer to approve, edit or reject copy, with deadline and escalation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from activities.contracts import RECORD_REVIEW, RecordReviewRequest
from inference_worker.contracts import FALLBACK_ACTIVITIES, GENERATE_COPY, CopyResult
from workflows.durations import Duration
from workflows.expressions import evaluate
from workflows.language import Condition, Goto, SpecModel, StepBase, StepId
from workflows.patches import BATCHED_BOOKKEEPING
from workflows.review import PendingReview, ReviewDecision, review_id_for
from workflows.steps.base import (
    COPY_TIMEOUT,
    CheckContext,
    Expression,
    Jump,
    Outcome,
    Problem,
    Run,
    StepKind,
)
from workflows.steps.generate_copy import GenerateCopyStep, copy_request
from workflows.steps.results import first_passing
from workflows.steps.send import check_copy_from
from workflows.steps.split import bucket


class ReviewTimeout(SpecModel):
    escalate_to: str | None = None  # another reviewer group, with a fresh deadline
    deadline: Duration | None = None
    # After the (escalated) deadline: send the first passing variant, send the template's own
    # human-written copy, end the run, or go to a step.
    then: Literal["approve", "template", "exit"] | Goto = "exit"

    @model_validator(mode="after")
    def _escalation_needs_deadline(self) -> ReviewTimeout:
        if self.escalate_to and self.deadline is None:
            raise ValueError("escalate_to needs a deadline for the escalated review, e.g. deadline: 1h")
        if self.deadline is not None and not self.escalate_to:
            raise ValueError("deadline here is the escalated review's; add escalate_to: <group> or remove it")
        return self


class HumanReviewStep(StepBase):
    type: Literal["human_review"]
    group: str = Field(min_length=1)
    copy_from: StepId | None = Field(default=None, alias="copy")  # default: latest generate_copy
    deadline: Duration
    on_timeout: ReviewTimeout = ReviewTimeout()
    on_reject: Goto | Literal["exit"] = "exit"
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    always_when: list[Condition] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def copy_source(step: HumanReviewStep, run: Run) -> tuple[str | None, list[dict[str, Any]]]:
    """The step whose variants are reviewed, and those variants."""
    candidates = [step.copy_from] if step.copy_from else list(reversed(run.path))
    for step_id in candidates:
        variants = (run.results.get(step_id) or {}).get("variants")
        if variants:
            return step_id, variants
    return None, []


async def _new_copy(
    run: Run, source: str | None, note: str | None, *, preset: bool
) -> list[dict[str, Any]] | None:
    """Fresh variants from the copy step's template: the model (with the note) or its preset copy."""
    copy_step = next((s for s in run.spec.steps if s.id == source), None)
    if not isinstance(copy_step, GenerateCopyStep):
        return None
    request = copy_request(copy_step, run, note)
    if preset:
        result = await run.effect(FALLBACK_ACTIVITIES[GENERATE_COPY], request, CopyResult)
    else:
        result = await run.inference(GENERATE_COPY, request, CopyResult, COPY_TIMEOUT)
    return [v.model_dump(mode="json") for v in result.variants]


def review_needed(step: HumanReviewStep, run: Run) -> tuple[bool, str]:
    context = run.context()
    for condition in step.always_when:
        if evaluate(condition, context):
            return True, f"always_when: {condition}"
    if step.sample_rate >= 1.0:
        # Every run here is reviewed: say which branch case sent it here (e.g. a VIP rule).
        for step_id in reversed(run.path):
            result = run.results.get(step_id)
            if isinstance(result, dict) and result.get("when"):
                return True, f"every run is reviewed; routed here by {step_id}: {result['when']}"
        return True, "every run is reviewed"
    if bucket(run.workflow_id, step.id, "review") < step.sample_rate:
        return True, f"sampled at {step.sample_rate:.0%}"
    return False, f"not sampled (rate {step.sample_rate:.0%})"


SNIPPET_CHARS = 160


def snippet(run: Run, variants: list[dict[str, Any]]) -> str:
    """What the queue shows of a review: the customer's own words if the trigger has them, else
    the start of the first draft."""
    event = run.context()["event"]
    words = " — ".join(str(event[k]) for k in ("subject", "text") if event.get(k))
    if not words and variants:
        words = str(variants[0].get("subject") or variants[0].get("body") or "")
    words = " ".join(words.split())
    return words if len(words) <= SNIPPET_CHARS else words[: SNIPPET_CHARS - 1] + "…"


async def _record(
    run: Run, pending: PendingReview, status: str, decision: ReviewDecision | None = None, why: str = ""
) -> None:
    await run.flush_steps()  # the reviewer's context shows the steps before the review
    await run.effect(
        RECORD_REVIEW,
        RecordReviewRequest(
            review_id=pending.review_id,
            workflow_id=run.workflow_id,
            step_id=pending.step_id,
            customer_id=run.customer.id,
            group=pending.group,
            deadline=pending.deadline,
            status=status,
            variants=pending.variants,
            reviewer=decision.reviewer if decision else None,
            chosen_variant=decision.variant if decision else None,
            edited_body=decision.body if decision and decision.decision == "edit" else None,
            reason=decision.reason if decision else None,
            journey_id=run.spec.id,
            why=why,
            snippet=snippet(run, pending.variants),
        ),
        type(None),
    )


async def human_review(step: HumanReviewStep, run: Run) -> Outcome:
    visit = run.visits[step.id]
    source, variants = copy_source(step, run)
    needed, why = review_needed(step, run)
    if not needed:
        return Outcome(
            {"decision": "not_reviewed", "why": why, "approved": variants[0] if variants else None}
        )

    regenerated = 0
    while True:
        pending = PendingReview(
            review_id=review_id_for(run.workflow_id, step.id, visit, regenerated),
            step_id=step.id,
            group=step.group,
            deadline=run.now() + step.deadline,
            variants=variants,
            regenerations=regenerated,
        )
        run.review_decision = None
        if run.has(BATCHED_BOOKKEEPING):  # pending once a reviewer can find it
            await _record(run, pending, "pending", why=why)
            run.pending_review = pending
        else:
            run.pending_review = pending
            await _record(run, pending, "pending", why=why)
        decided = await run.wait(
            lambda: run.review_decision is not None,
            step.deadline,
            what=f"review {pending.review_id} ({pending.group})",
        )
        if not decided and step.on_timeout.escalate_to:
            pending = pending.model_copy(
                update={
                    "group": step.on_timeout.escalate_to,
                    "deadline": run.now() + (step.on_timeout.deadline or timedelta(hours=1)),
                    "escalated": True,
                }
            )
            run.pending_review = pending
            await _record(run, pending, "escalated", why=why)
            decided = await run.wait(
                lambda: run.review_decision is not None,
                step.on_timeout.deadline,
                what=f"review {pending.review_id} (escalated to {pending.group})",
            )
        run.pending_review = None
        decision = run.review_decision if decided else None
        if decision is None or decision.decision != "regenerate":
            break
        await _record(run, pending, "regenerated", decision, why)
        fresh = await _new_copy(run, source, decision.reason, preset=False)
        variants = fresh or variants
        regenerated += 1

    base = {
        "review_id": pending.review_id,
        "group": pending.group,
        "why": why,
        "escalated": pending.escalated,
        **({"regenerated": regenerated} if regenerated else {}),
    }
    if decision is None:
        await _record(run, pending, "timed_out", why=why)
        then = step.on_timeout.then
        if then == "approve":
            return Outcome({**base, "decision": "timed_out_approved", "approved": first_passing(variants)})
        if then == "template":
            preset = await _new_copy(run, source, None, preset=True)
            return Outcome({**base, "decision": "timed_out_template", "approved": (preset or variants)[0]})
        if then == "exit":
            return Outcome({**base, "decision": "timed_out", "approved": None}, end="review_timed_out")
        return Outcome({**base, "decision": "timed_out", "approved": None}, goto=then.goto)

    status = {"approve": "approved", "edit": "edited", "reject": "rejected"}[decision.decision]
    await _record(run, pending, status, decision, why)
    base |= {"decision": status, "reviewer": decision.reviewer, "reason": decision.reason}
    if decision.decision == "reject":
        if step.on_reject == "exit":
            return Outcome({**base, "approved": None}, end="rejected")
        return Outcome({**base, "approved": None}, goto=step.on_reject.goto)
    chosen = dict(variants[decision.variant]) if variants else {"subject": None, "source": "reviewer_edit"}
    if decision.decision == "edit":
        chosen |= {"body": decision.body, "source": "reviewer_edit"}
        if decision.subject:
            chosen["subject"] = decision.subject
    return Outcome({**base, "variant": decision.variant, "approved": chosen})


def _targets(step: HumanReviewStep) -> list[Jump]:
    out: list[Jump] = []
    if isinstance(step.on_reject, Goto):
        out.append(("on_reject", step.on_reject.goto))
    if isinstance(step.on_timeout.then, Goto):
        out.append(("on_timeout", step.on_timeout.then.goto))
    return out


def _expressions(step: HumanReviewStep) -> list[Expression]:
    return [("always_when", condition, True) for condition in step.always_when]


def _check(step: HumanReviewStep, context: CheckContext) -> list[Problem]:
    return check_copy_from(step.copy_from, context)


def _waits(step: HumanReviewStep) -> str | None:
    if step.sample_rate >= 1.0:
        return None
    return f"human_review '{step.id}' samples {step.sample_rate:.0%}, so unsampled runs pass straight on"


KIND = StepKind(
    model=HumanReviewStep,
    handle=human_review,
    targets=_targets,
    expressions=_expressions,
    check=_check,
    waits=_waits,
)
