"""Where a decision's time went, read from the runs' Temporal histories: the waits in the task
queues and the run times of the workflow tasks and activities before the decide call's update
completed. The queue waits are Temporal's schedule-to-start latencies: a busy worker shows there."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from statistics import fmean

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

PHASES = ("workflow_task_queue_ms", "workflow_task_run_ms", "activity_queue_ms", "activity_run_ms")


def _ms(event: HistoryEvent) -> float:
    return event.event_time.ToMicroseconds() / 1000


def decision_phases(events: Iterable[HistoryEvent]) -> dict[str, float] | None:
    """Milliseconds per phase from the run's start to its decision; None if it never decided."""
    phases = dict.fromkeys(PHASES, 0.0)
    began = task_scheduled = task_started = 0.0
    activity_scheduled: dict[int, float] = {}
    activity_started: dict[int, float] = {}
    for event in events:
        at, kind = _ms(event), event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            began = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            task_scheduled = at
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_started = at
            phases["workflow_task_queue_ms"] += at - task_scheduled
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            phases["workflow_task_run_ms"] += at - task_started
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            activity_scheduled[event.event_id] = at
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            scheduled = event.activity_task_started_event_attributes.scheduled_event_id
            activity_started[scheduled] = at
            phases["activity_queue_ms"] += at - activity_scheduled[scheduled]
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
            phases["activity_run_ms"] += at - activity_started[scheduled]
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            return {**phases, "total_ms": at - began}
    return None


async def mean_decision_phases(client: Client, workflow_ids: list[str], sample: int = 60) -> dict[str, float]:
    """The mean of each phase over up to `sample` runs spread over the load."""
    step = max(1, len(workflow_ids) // sample)
    histories = await asyncio.gather(
        *(client.get_workflow_handle(w).fetch_history() for w in workflow_ids[::step][:sample])
    )
    measured = [p for h in histories if (p := decision_phases(h.events)) is not None]
    if not measured:
        return {}
    return {name: round(fmean(p[name] for p in measured), 1) for name in (*PHASES, "total_ms")}
