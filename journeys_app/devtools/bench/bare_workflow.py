"""The baseline for the engine benchmark: complaint routing written by hand as a Temporal workflow.

It calls the same activities as the interpreter running journeys/complaint_routing.yaml does on the
inquiry (knowledge retrieval included), opportunity and opt-out paths (the run's start and finish as
local activities), but keeps no step records: the difference is the interpreter's own cost, its
bookkeeping included.

`NoopThree` is the ceiling: a workflow that calls a no-op activity three times and touches no
store, what Temporal alone costs per run on this machine.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from activities import contracts as ac
    from inference_worker import contracts as ic
    from workflows.models import DecideRequest, JourneyInput, JourneyResult
    from workflows.run_services import RECORD_RETRY, STEP_RETRY

TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="BareComplaintRouting")
class BareComplaintRouting:
    def __init__(self) -> None:
        self.route: str | None = None

    @workflow.update
    async def decide(self, _request: DecideRequest) -> str:
        await workflow.wait_condition(lambda: self.route is not None)
        assert self.route is not None
        return self.route

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyResult:
        wid = workflow.info().workflow_id
        iq = inp.inference_task_queue
        customer = (
            await workflow.execute_local_activity(
                ac.BEGIN_RUN,
                ac.RecordRunRequest(
                    workflow_id=wid,
                    journey_id="bare",
                    journey_version=1,
                    spec_hash="bare",
                    customer_id=inp.customer_id,
                    entry_key=inp.entry_key,
                    trigger_event=inp.trigger.name,
                ),
                result_type=ac.LoadCustomerResult,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        ).customer
        intent = (
            await workflow.execute_activity(
                ic.CLASSIFY_AND_SCORE,
                ic.IntentAndScoreRequest(
                    intent=ic.IntentRequest(text=inp.trigger.properties["text"], customer_id=customer.id),
                    score=ic.ScoreRequest(customer=customer.model_dump(mode="json")),
                ),
                result_type=ic.IntentAndScoreResult,
                task_queue=iq,
                start_to_close_timeout=TIMEOUT,
                retry_policy=STEP_RETRY,
            )
        ).intent
        path = ["intent", "value", "route"]
        if intent.label in ("unsubscribe", "cancellation"):
            self.route = "opt_out"
            await workflow.execute_activity(
                ac.UPDATE_PROFILE,
                ac.UpdateProfileRequest(
                    idempotency_key=f"{wid}:opt_out:1",
                    customer_id=customer.id,
                    add_tags=["opted_out_by_message"],
                    consent={"email": False, "sms": False},
                ),
                result_type=ac.UpdateProfileResult,
                start_to_close_timeout=TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            path.append("opt_out")
        else:
            template = "email/answer"
            self.route = "lookup"
            knowledge: dict[str, object] = {}
            if intent.label != "opportunity":
                found = await workflow.execute_activity(
                    ic.RETRIEVE_KNOWLEDGE,
                    ic.RetrieveRequest(question=inp.trigger.properties["text"], locale=customer.locale),
                    result_type=ic.RetrieveResult,
                    task_queue=iq,
                    start_to_close_timeout=TIMEOUT,
                    retry_policy=STEP_RETRY,
                )
                knowledge = {"knowledge": found.model_dump(mode="json")}
                path.append("lookup")
            else:
                self.route, template = "lead", "email/sales_followup"
                await workflow.execute_activity(
                    ic.SCORE_CUSTOMER,
                    ic.ScoreRequest(kind="lead", customer=customer.model_dump(mode="json"), intent=intent),
                    result_type=ic.ScoreResult,
                    task_queue=iq,
                    start_to_close_timeout=TIMEOUT,
                    retry_policy=STEP_RETRY,
                )
                await workflow.execute_activity(
                    ac.NOTIFY,
                    ac.NotifyRequest(
                        idempotency_key=f"{wid}:tell_sales:1",
                        workflow_id=wid,
                        customer_id=customer.id,
                        target="sales",
                        message=f"lead: {inp.trigger.properties['text'][:160]}",
                    ),
                    result_type=ac.NotifyResult,
                    start_to_close_timeout=TIMEOUT,
                    retry_policy=STEP_RETRY,
                )
                path += ["lead", "tell_sales"]
            copy = await workflow.execute_activity(
                ic.GENERATE_COPY,
                ic.CopyRequest(
                    template=template,
                    channel="email",
                    context={
                        "customer": customer.model_dump(mode="json"),
                        "event": inp.trigger.properties,
                        **knowledge,
                    },
                ),
                result_type=ic.CopyResult,
                task_queue=iq,
                start_to_close_timeout=TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            variant = copy.variants[0]
            await workflow.execute_activity(
                ac.SEND_MESSAGE,
                ac.SendRequest(
                    idempotency_key=f"{wid}:send:1",
                    workflow_id=wid,
                    step_id="send",
                    customer_id=customer.id,
                    channel="email",
                    subject=variant.subject,
                    body=variant.body,
                ),
                result_type=ac.SendResult,
                start_to_close_timeout=TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            path += ["copy", "send"]
        await workflow.execute_local_activity(
            ac.FINISH_RUN,
            ac.FinishRunRequest(workflow_id=wid, status="completed", outcome="routed", path=path),
            start_to_close_timeout=TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        return JourneyResult(status="completed", outcome="routed", path=path)


NOOP = "bench_noop"


@activity.defn(name=NOOP)
async def noop() -> None:
    """Does nothing: the activity round trip alone."""


@workflow.defn(name="BenchNoopThree")
class NoopThree:
    def __init__(self) -> None:
        self.done = False

    @workflow.update
    async def decide(self, _request: DecideRequest) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "done"

    @workflow.run
    async def run(self, _inp: JourneyInput) -> JourneyResult:
        for _ in range(3):
            await workflow.execute_activity(NOOP, start_to_close_timeout=TIMEOUT)
        self.done = True
        return JourneyResult(status="completed", outcome="done", path=[])
