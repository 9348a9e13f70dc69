"""The smallest workflow around one activity: what a classification costs through Temporal."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

NOOP_ACTIVITY = "bench_noop"


class RoundTripInput(BaseModel):
    activity: str
    task_queue: str
    text: str


@workflow.defn(name="BenchActivityRoundTrip")
class ActivityRoundTrip:
    @workflow.run
    async def run(self, inp: RoundTripInput) -> None:
        await workflow.execute_activity(
            inp.activity,
            {"text": inp.text},
            task_queue=inp.task_queue,
            start_to_close_timeout=timedelta(seconds=60),
        )


@activity.defn(name=NOOP_ACTIVITY)
async def noop(request: dict[str, str]) -> None:
    """Does nothing: the Temporal cost of a classification without the model."""
