"""What every step handler gets (the run) and returns (an outcome)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from activities.contracts import CustomerProfile
from inference_worker.contracts import ScoreRequest, ScoreResult
from workflows.models import CustomerEvent, PendingReview, ReviewDecision
from workflows.spec import JourneySpec

T = TypeVar("T")

# A run's start is one local activity, its step records are written together at each wait and at
# the end, and its finish is a local activity: fewer Temporal round trips and store transactions.
# A review shows as pending (state query, decisions accepted) only once it is in the store.
BATCHED_BOOKKEEPING_PATCH = "batched-bookkeeping"


@dataclass
class Outcome:
    result: dict[str, Any] = field(default_factory=dict)
    goto: str | None = None  # None: the step's `next`, else the step below
    end: str | None = None  # end the run with this outcome


class Run(Protocol):
    """The interpreter's services, as step handlers see them."""

    spec: JourneySpec
    customer: CustomerProfile
    results: dict[str, Any]
    path: list[str]
    inbox: list[CustomerEvent]
    pending_review: PendingReview | None
    review_decision: ReviewDecision | None
    consent_min_confidence: float
    prefetched: dict[str, tuple[ScoreRequest, ScoreResult]]

    @property
    def workflow_id(self) -> str: ...

    def now(self) -> datetime: ...

    def context(self) -> dict[str, Any]: ...

    def step_after(self, step: Any) -> Any | None: ...

    def effect_key(self, step_id: str) -> str: ...

    async def inference(self, name: str, request: Any, result_type: type[T], timeout: timedelta) -> T: ...

    async def effect(self, name: str, request: Any, result_type: type[T]) -> T: ...

    async def flush_steps(self) -> None: ...

    async def wait(
        self, ready: Callable[[], bool], timeout: timedelta | None, *, quiet_hours: bool = False
    ) -> bool: ...
