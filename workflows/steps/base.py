"""What a step type is made of, what its handler gets (the run) and returns (an outcome)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, get_args

from workflows.language import StepBase

if TYPE_CHECKING:
    from activities.contracts import CustomerProfile
    from inference_worker.contracts import ScoreRequest, ScoreResult
    from workflows.models import CustomerEvent
    from workflows.review import PendingReview, ReviewDecision
    from workflows.spec import JourneySpec

T = TypeVar("T")
S = TypeVar("S", bound=StepBase)

COPY_TIMEOUT = timedelta(minutes=3)
MODEL_TIMEOUT = timedelta(seconds=30)


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
    visits: dict[str, int]  # how often each step was entered, this visit included
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

    def has(self, patch: str) -> bool: ...

    async def inference(self, name: str, request: Any, result_type: type[T], timeout: timedelta) -> T: ...

    async def effect(self, name: str, request: Any, result_type: type[T]) -> T: ...

    async def flush_steps(self) -> None: ...

    async def wait(
        self, ready: Callable[[], bool], timeout: timedelta | None, *, quiet_hours: bool = False
    ) -> bool: ...


class TemplateChecker(Protocol):
    """What is wrong with a message template; `knowledge`: the step gives it a retrieve result."""

    def __call__(self, name: str, *, knowledge: bool = False) -> list[str]: ...


@dataclass(frozen=True)
class CheckContext:
    """What a step type's own validation may look at beyond the step."""

    steps: Mapping[str, Any]  # the journey's steps by id
    template_problems: TemplateChecker | None = None


Jump = tuple[str, str]  # (field, step id)
Expression = tuple[str, str, bool]  # (field, source, is a condition)
Problem = tuple[str, str]  # (field, message)


def _none(step: Any) -> list[Any]:
    return []


def _check_none(step: Any, context: CheckContext) -> list[Problem]:
    return []


@dataclass(frozen=True)
class StepKind(Generic[S]):
    """One step type: everything the language, validation and the interpreter need to know of it.

    `waits` says why a step of this type may not wait (None: it always waits); leave it out for
    a type that never waits. A loop in a journey must pass a step that always waits.
    """

    model: type[S]
    handle: Callable[[S, Run], Awaitable[Outcome]]
    targets: Callable[[S], Iterable[Jump]] = _none  # where it may jump, besides next and on_error
    expressions: Callable[[S], Iterable[Expression]] = _none
    check: Callable[[S, CheckContext], Iterable[Problem]] = _check_none  # rules beyond its fields
    waits: Callable[[S], str | None] | None = None
    listens: Callable[[S], Iterable[str]] = _none  # events a run at this step reacts to
    falls_through: bool = True  # after it, the step below runs unless it says next
    # A step that asks a model: one line about the answer, for the audit log of model calls.
    describe: Callable[[dict[str, Any]], str] | None = None
    sees_received: bool = False  # its expressions may read `received`, the event it waited for

    @property
    def type(self) -> str:
        (name,) = get_args(self.model.model_fields["type"].annotation)  # the Literal of the model
        return str(name)

    def why_it_may_not_wait(self, step: S) -> str | None:
        """Why a step of a waiting type may pass straight on; None when it always waits or never does."""
        return self.waits(step) if self.waits is not None else None

    def always_waits(self, step: S) -> bool:
        """Whether the step always waits for time, an event or a person."""
        return self.waits is not None and self.waits(step) is None
