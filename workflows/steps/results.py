"""A run's step results, read by step type: the one way to find "this run's intent, score, route".

Used by the steps themselves, the decide answer, the review context (console and CLI) and the
demo, so they all agree. A step is recognised by its type in the spec, never by the shape of its result;
a failed step (`{"error": …}`) counts as no result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from inference_worker.contracts import IntentResult, ScoreResult

if TYPE_CHECKING:
    from workflows.spec import JourneySpec
    from workflows.steps.base import Run


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
    def reviews(self) -> list[dict[str, Any]]:
        return self.every("human_review")


def latest_intent(run: Run) -> IntentResult | None:
    return RunResults.of_run(run).intent
