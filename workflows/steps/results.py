"""A run's step results, read by step type: the one way to find "this run's intent, score, route".

Used by the steps themselves, the decide answer, the review context (console and CLI) and the
demo, so they all agree. A step is recognised by its type in the spec, never by the shape of its result;
a failed step (`{"error": …}`) counts as no result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from inference_worker.contracts import IntentResult, ScoreResult

if TYPE_CHECKING:
    from workflows.spec import JourneySpec
    from workflows.steps.base import Run


COPY_STEPS = ("human_review", "generate_copy")  # the step types a message's copy comes from


class _Result(BaseModel):
    # Results are stored as they were recorded; fields added later are simply absent in old runs.
    model_config = ConfigDict(extra="allow", frozen=True)


class ChosenCopy(_Result):
    """A message's copy as a send step sends it: a variant that passed its guardrails, or a
    reviewer's edit."""

    subject: str | None = None
    body: str | None = None
    channel: str | None = None
    source: str = "model"


class ReviewResult(_Result):
    decision: str  # approved, edited, rejected, timed_out(_approved, _template), not_reviewed
    review_id: str | None = None  # none when the run was not sampled for review
    group: str | None = None
    reviewer: str | None = None
    reason: str | None = None
    escalated: bool = False
    regenerated: int = 0
    variant: int | None = None
    approved: ChosenCopy | None = None


def first_passing(variants: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The first variant that passed every guardrail: copy that failed one is never sent unseen."""
    return next((dict(v) for v in variants if all(g["passed"] for g in v.get("guardrails", []))), None)


class RunResults:
    def __init__(self, path: Sequence[str], results: Mapping[str, Any], step_types: Mapping[str, str]):
        self._path, self._results, self._types = path, results, step_types

    @classmethod
    def of_spec(cls, spec: JourneySpec | None, path: Sequence[str], results: Mapping[str, Any]) -> RunResults:
        """`spec` None (a journey no longer in the catalog): nothing is recognised."""
        return cls(path, results, {s.id: s.type for s in spec.steps} if spec else {})

    @classmethod
    def of_run(cls, run: Run) -> RunResults:
        return cls.of_spec(run.spec, run.path, run.results)

    def _newest_first(self, *step_types: str) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for step_id in reversed(self._path):
            if step_id in seen:
                continue  # a step visited again: its result is the latest visit's
            seen.add(step_id)
            result = self._results.get(step_id)
            if self._types.get(step_id) in step_types and isinstance(result, dict) and "error" not in result:
                yield result

    def latest(self, *step_types: str) -> dict[str, Any] | None:
        """The newest result of a step of one of these types, as recorded."""
        return next(self._newest_first(*step_types), None)

    def every(self, *step_types: str) -> list[dict[str, Any]]:
        """Every result of steps of these types, oldest first."""
        return list(self._newest_first(*step_types))[::-1]

    @property
    def intent(self) -> IntentResult | None:
        found = self.latest("classify_intent")
        return IntentResult.model_validate(found) if found else None

    @property
    def scores(self) -> list[ScoreResult]:
        return [ScoreResult.model_validate(found) for found in self.every("score")]

    @property
    def route(self) -> str | None:
        """Where the newest branch or split sent the run."""
        found = self.latest("branch", "split")
        return found.get("goto") if found else None

    @property
    def reviews(self) -> list[ReviewResult]:
        return [ReviewResult.model_validate(found) for found in self.every("human_review")]

    def copy_source(self, step_id: str | None = None) -> tuple[str, str, dict[str, Any]] | None:
        """(step id, step type, result) the run's copy comes from: `step_id`, or the newest
        human_review or generate_copy step with a result."""
        for candidate in [step_id] if step_id else dict.fromkeys(reversed(self._path)):
            kind, result = self._types.get(candidate), self._results.get(candidate)
            if (
                kind in ("human_review", "generate_copy")
                and isinstance(result, dict)
                and "error" not in result
            ):
                return candidate, kind, result
        return None

    @property
    def copy(self) -> ChosenCopy | None:
        """This run's chosen copy: what the newest review approved, else the newest generated
        copy's first variant that passed its guardrails."""
        source = self.copy_source()
        if source is None:
            return None
        _, kind, result = source
        chosen = (
            result.get("approved") if kind == "human_review" else first_passing(result.get("variants", []))
        )
        return ChosenCopy.model_validate(chosen) if chosen else None


def latest_intent(run: Run) -> IntentResult | None:
    return RunResults.of_run(run).intent
