"""`journeys bench engine`: the interpreter's overhead, measured against a hand-written workflow.

Both systems run complaint routing in the same process, against the same dev server, store and
activities, in alternating blocks; the ratio of their throughputs is the interpreter's cost. A
third, a workflow of three no-op activities, is the ceiling: what Temporal alone allows on this
machine.
By default the inference activities answer instantly (keyword intent, fixed score, template copy)
so the figure is the engine's alone; `--models real` puts the CPU models in the path as well.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from activities.journey_activities import JourneyActivities
from inference_worker import contracts as ic
from inference_worker.activities import classify_then_score
from journeys_app.core.settings import Settings
from journeys_app.devtools.bench import bare_workflow
from journeys_app.devtools.bench.bare_workflow import BareComplaintRouting, NoopThree, noop
from journeys_app.devtools.bench.settings import bench_settings
from journeys_app.devtools.bench.stats import percentile
from journeys_app.devtools.stack import throwaway_dev_server
from journeys_app.service.catalog import load_catalog
from journeys_app.store.customers import upsert_customers
from journeys_app.store.engine import open_database
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, DecideRequest, JourneyInput
from workflows.sandbox import journey_workflow_runner

MESSAGES = (
    ("inquiry", "Do you ship to Canada, and how long does delivery take?"),
    ("opportunity", "We'd like a quote for 40 standing desks for our new office."),
    ("unsubscribe", "Please unsubscribe me from your newsletter."),
)


class InstantInference:
    """Inference activities that answer at once, so the benchmark measures the engine alone."""

    @activity.defn(name=ic.CLASSIFY_INTENT)
    async def classify_intent(self, req: ic.IntentRequest) -> ic.IntentResult:
        label = next((lab for lab, text in MESSAGES if text == req.text), "inquiry")
        return ic.IntentResult(
            label=label,
            confidence=0.95,
            scores={label: 0.95},
            sentiment="neutral",
            urgency="normal",
            backend="instant",
            model="bench",
        )

    @activity.defn(name=ic.SCORE_CUSTOMER)
    async def score_customer(self, req: ic.ScoreRequest) -> ic.ScoreResult:
        return ic.ScoreResult(
            kind=req.kind, value=0.4, band="medium", reasons=["bench"], backend="instant", model="bench"
        )

    @activity.defn(name=ic.CLASSIFY_AND_SCORE)
    async def classify_intent_and_score(self, req: ic.IntentAndScoreRequest) -> ic.IntentAndScoreResult:
        return await classify_then_score(self.classify_intent, self.score_customer, req)

    @activity.defn(name=ic.RETRIEVE_KNOWLEDGE)
    async def retrieve_knowledge(self, req: ic.RetrieveRequest) -> ic.RetrieveResult:
        return ic.RetrieveResult(
            found=True,
            score=0.9,
            language="en",
            entry_id="shipping_countries",
            answer="We deliver across Europe.",
            backend="instant",
            model="bench",
        )

    @activity.defn(name=ic.GENERATE_COPY)
    async def generate_copy(self, req: ic.CopyRequest) -> ic.CopyResult:
        variant = ic.CopyVariant(
            subject="Your question",
            body="Thanks for writing to us.",
            channel=req.channel,
            source="template_default",
        )
        return ic.CopyResult(template=req.template, variants=[variant], backend="instant", model="bench")

    def all(self) -> list[Any]:
        return [
            self.classify_intent,
            self.score_customer,
            self.classify_intent_and_score,
            self.retrieve_knowledge,
            self.generate_copy,
        ]


@dataclass
class _Blocks:
    """One system's measured blocks: their durations and every decision's latency."""

    seconds: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def figures(self, runs_per_block: int) -> dict[str, Any]:
        runs, elapsed = runs_per_block * len(self.seconds), sum(self.seconds)
        return {
            "runs": runs,
            "seconds": round(elapsed, 3),
            "runs_per_s": round(runs / elapsed, 2),
            "rounds_runs_per_s": [round(runs_per_block / s, 2) for s in self.seconds],
            "decision_p50_ms": round(percentile(self.latencies, 0.50) * 1000, 1),
            "decision_p99_ms": round(percentile(self.latencies, 0.99) * 1000, 1),
        }


async def _measure(
    client: Client, workflow: Any, inputs: list[tuple[str, JourneyInput]], task_queue: str, concurrency: int
) -> tuple[float, list[float]]:
    """Start every run with update-with-start `decide`; the whole block's seconds and each
    decision's latency."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(workflow_id: str, inp: JourneyInput) -> None:
        async with gate:
            op = WithStartWorkflowOperation(
                workflow.run,
                inp,
                id=workflow_id,
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
            began = time.perf_counter()
            await client.execute_update_with_start_workflow(
                workflow.decide, DecideRequest(), start_workflow_operation=op
            )
            latencies.append(time.perf_counter() - began)
            await (await op.workflow_handle()).result()

    began = time.perf_counter()
    await asyncio.gather(*(one(w, i) for w, i in inputs))
    return time.perf_counter() - began, latencies


@asynccontextmanager
async def _bench_stack(settings: Settings, models: str, task_queue: str) -> AsyncIterator[Client]:
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(throwaway_dev_server(settings))
        _, sessionmaker = await stack.enter_async_context(open_database(settings))
        journey_acts = JourneyActivities(sessionmaker, settings)
        await stack.enter_async_context(
            Worker(
                env.client,
                task_queue=task_queue,
                workflows=[JourneyWorkflow, BareComplaintRouting, NoopThree],
                activities=[*journey_acts.all(), noop],
                workflow_runner=journey_workflow_runner(bare_workflow.__name__),
                max_concurrent_workflow_tasks=100,
                max_concurrent_activities=100,
            )
        )
        if models == "real":
            from inference_worker.worker import inference_worker

            await stack.enter_async_context(inference_worker(env.client, settings))
        else:
            await stack.enter_async_context(
                Worker(
                    env.client,
                    task_queue=settings.inference_task_queue,
                    activities=InstantInference().all(),
                    max_concurrent_activities=100,
                )
            )
        yield env.client


async def run_engine_bench(
    settings: Settings,
    console: Console,
    *,
    runs: int = 200,
    concurrency: int = 50,
    rounds: int = 3,
    models: Literal["instant", "real"] = "instant",
    as_json: bool = False,
) -> dict[str, Any]:
    with bench_settings(settings) as (settings, tag):
        task_queue = settings.journey_task_queue
        journey = load_catalog(settings)["complaint_routing"]
        async with _bench_stack(settings, models, task_queue) as client:
            customers = [
                {"id": f"bench-{i}", "first_name": f"Bench{i}", "tier": "standard"} for i in range(runs)
            ]
            async with open_database(settings) as (_, sessionmaker):
                await upsert_customers(sessionmaker, customers)

            def inputs(system: str) -> list[tuple[str, JourneyInput]]:
                out = []
                for i in range(runs):
                    _, text = MESSAGES[i % len(MESSAGES)]
                    event = CustomerEvent(
                        name="message_received", properties={"text": text}, message_id=f"{system}-{i}"
                    )
                    out.append(
                        (
                            f"bench-{system}-{tag}-{i}",
                            JourneyInput(
                                spec=journey.spec,
                                spec_hash=journey.spec_hash,
                                customer_id=f"bench-{i}",
                                entry_key=f"{system}-{i}",
                                trigger=event,
                                inference_task_queue=settings.inference_task_queue,
                            ),
                        )
                    )
                return out

            systems = {
                "hand_written": BareComplaintRouting,
                "interpreter": JourneyWorkflow,
                "noop": NoopThree,
            }
            # A short warm-up of each, so none pays for cold caches.
            warm = max(3, runs // 20)
            for name, workflow in systems.items():
                await _measure(client, workflow, inputs(f"warm-{name}")[:warm], task_queue, concurrency)
            # Rounds, each system once per round and the order turning: the machine's drift between
            # blocks (±20 % on a shared VM) falls on all three, not on whichever went last.
            blocks = {name: _Blocks() for name in systems}
            order = list(systems)
            for r in range(rounds):
                turn = r % len(order)
                for name in order[turn:] + order[:turn]:
                    seconds, latencies = await _measure(
                        client, systems[name], inputs(f"{name}-{r}"), task_queue, concurrency
                    )
                    blocks[name].seconds.append(seconds)
                    blocks[name].latencies += latencies
    interpreter, bare, ceiling = (blocks[n].figures(runs) for n in ("interpreter", "hand_written", "noop"))
    report = {
        "benchmark": "engine",
        "journey": "complaint_routing",
        "models": models,
        "concurrency": concurrency,
        "rounds": rounds,
        "interpreter": interpreter,
        "hand_written": bare,
        "noop_three_activities": ceiling,
        "throughput_ratio": round(interpreter["runs_per_s"] / bare["runs_per_s"], 3),
        "ceiling_ratio": round(interpreter["runs_per_s"] / ceiling["runs_per_s"], 3),
        "decision_p50_ratio": round(interpreter["decision_p50_ms"] / bare["decision_p50_ms"], 3),
    }
    if as_json:
        console.print_json(json.dumps(report))
    else:
        table = Table("system", "runs", "runs/s", "decision p50 ms", "decision p99 ms")
        for name, row in (
            ("JourneyWorkflow (interpreter)", interpreter),
            ("hand-written workflow", bare),
            ("3 no-op activities (ceiling)", ceiling),
        ):
            table.add_row(
                name,
                str(row["runs"]),
                f"{row['runs_per_s']:.1f}",
                f"{row['decision_p50_ms']:.1f}",
                f"{row['decision_p99_ms']:.1f}",
            )
        console.print(table)
        console.print(
            f"interpreter / hand-written throughput: {report['throughput_ratio']:.2f}x, interpreter / "
            f"ceiling: {report['ceiling_ratio']:.2f}x (inference: {models})"
        )
    return report
