"""Bulk enrolment: start one journey for every customer of a segment, a page at a time.

The members are materialised in the store (`enrollment_members`), so the workflow carries only
a cursor. Each page is one activity that starts its runs with a bounded number in flight (the
sliding window); a few pages run at once, so one page's slowest starts do not idle the rest.
Journey workflow ids make every start idempotent, so a page retried after a crash starts nothing
twice. Progress is a query; the history stays small by continuing as new.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.contracts import ENROLL_PAGE, EnrollPageRequest, EnrollPageResult

PAGES_PER_RUN = 20  # then continue-as-new with the progress so far
PARALLEL_PAGES = 4
PARALLEL_PAGES_PATCH = "parallel-enrolment-pages"  # runs begun before it take one page at a time


class EnrollmentProgress(BaseModel):
    total: int
    done: int = 0  # members handled (started, already running, or failed)
    started: int = 0
    existing: int = 0
    failed: int = 0
    failures: list[str] = Field(default_factory=list)  # the first few, for the operator
    finished: bool = False


class EnrollmentInput(BaseModel):
    enrollment_id: str
    journey_id: str
    total: int = Field(ge=0)
    page_size: int = Field(default=500, ge=1, le=5000)
    window: int = Field(default=50, ge=1, le=1000)
    progress: EnrollmentProgress | None = None  # carried over continue-as-new


@workflow.defn
class EnrollmentWorkflow:
    def __init__(self) -> None:
        self._progress = EnrollmentProgress(total=0)

    @workflow.run
    async def run(self, inp: EnrollmentInput) -> EnrollmentProgress:
        self._progress = inp.progress or EnrollmentProgress(total=inp.total)
        parallel = PARALLEL_PAGES if workflow.patched(PARALLEL_PAGES_PATCH) else 1
        for _ in range(PAGES_PER_RUN // parallel):
            if self._progress.done >= inp.total:
                self._progress.finished = True
                return self._progress
            starts = range(self._progress.done, inp.total, inp.page_size)[:parallel]
            pages = await asyncio.gather(*(self._page(inp, start) for start in starts))
            for page in pages:
                self._add(inp, page)
        workflow.continue_as_new(inp.model_copy(update={"progress": self._progress}))

    async def _page(self, inp: EnrollmentInput, start: int) -> EnrollPageResult:
        return await workflow.execute_activity(
            ENROLL_PAGE,
            EnrollPageRequest(
                enrollment_id=inp.enrollment_id,
                journey_id=inp.journey_id,
                start=start,
                size=inp.page_size,
                window=inp.window,
            ),
            result_type=EnrollPageResult,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )

    def _add(self, inp: EnrollmentInput, page: EnrollPageResult) -> None:
        # A page with no members lies past the stored segment: nothing is left to do.
        self._progress.done = (
            min(inp.total, self._progress.done + page.members) if page.members else inp.total
        )
        self._progress.started += page.started
        self._progress.existing += page.existing
        self._progress.failed += len(page.failed)
        self._progress.failures = (self._progress.failures + page.failed)[:20]

    @workflow.query
    def progress(self) -> EnrollmentProgress:
        return self._progress
