"""Temporal activities of the inference worker: intent, score, knowledge and copy, by contract name.

The journey workflow calls these by name on the "inference" task queue and never imports this
module. Configuration mistakes (unknown template, broken taxonomy) fail fast as non-retryable
errors so the step's on_error path runs at once instead of after every retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from inference_worker.backends import InferenceBackend
from inference_worker.contracts import (
    CLASSIFY_AND_SCORE,
    CLASSIFY_INTENT,
    GENERATE_COPY,
    RETRIEVE_KNOWLEDGE,
    SCORE_CUSTOMER,
    CopyRequest,
    CopyResult,
    IntentAndScoreRequest,
    IntentAndScoreResult,
    IntentRequest,
    IntentResult,
    RetrieveRequest,
    RetrieveResult,
    ScoreRequest,
    ScoreResult,
)
from inference_worker.degradation import CONFIG_ERRORS
from inference_worker.retrieval import KnowledgeRetriever

log = logging.getLogger(__name__)

R = TypeVar("R", IntentResult, ScoreResult, CopyResult, RetrieveResult)

# Errors that retrying cannot fix: the journey or its config has to change.
_PERMANENT = CONFIG_ERRORS


def _permanent_error(exc: Exception) -> ApplicationError:
    """A config mistake as a non-retryable failure: the step's on_error runs at once."""
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


class InferenceActivities:
    """Activity implementations bound to one loaded backend (normally the degradation chain)."""

    def __init__(
        self,
        backend: InferenceBackend,
        retriever: KnowledgeRetriever | None = None,
        *,
        heartbeat_s: float = 5.0,
    ) -> None:
        self.backend = backend
        self.retriever = retriever
        self.heartbeat_s = heartbeat_s

    def all(self) -> list[Callable[..., Any]]:
        fast = [self.classify_intent, self.score_customer, self.classify_intent_and_score]
        return [*fast, *([self.retrieve_knowledge] if self.retriever else []), self.generate_copy]

    @activity.defn(name=CLASSIFY_INTENT)
    async def classify_intent(self, request: IntentRequest) -> IntentResult:
        started = time.perf_counter()
        result = await self._run(CLASSIFY_INTENT, self.backend.classify(request.text))
        log.debug("classify_intent %s %.0f%% in %.0f ms", result.label, result.confidence * 100, _ms(started))
        return result

    @activity.defn(name=SCORE_CUSTOMER)
    async def score_customer(self, request: ScoreRequest) -> ScoreResult:
        return await self._run(SCORE_CUSTOMER, self.backend.score(request))

    @activity.defn(name=CLASSIFY_AND_SCORE)
    async def classify_intent_and_score(self, request: IntentAndScoreRequest) -> IntentAndScoreResult:
        return await classify_then_score(self.classify_intent, self.score_customer, request)

    @activity.defn(name=RETRIEVE_KNOWLEDGE)
    async def retrieve_knowledge(self, request: RetrieveRequest) -> RetrieveResult:
        assert self.retriever is not None  # registered only with one
        result = await self._run(RETRIEVE_KNOWLEDGE, self.retriever.retrieve(request))
        log.debug("retrieve_knowledge %s %.2f", result.entry_id or "-> person", result.score)
        return result

    @activity.defn(name=GENERATE_COPY)
    async def generate_copy(self, request: CopyRequest) -> CopyResult:
        started = time.perf_counter()
        result = await self._run(GENERATE_COPY, self.backend.generate_copy(request))
        log.info(
            "generate_copy %s: %d variant(s) %s in %.0f ms, %d tokens (%s)",
            request.template,
            len(result.variants),
            [v.source for v in result.variants],
            _ms(started),
            result.tokens,
            result.backend,
        )
        return result

    async def _run(self, name: str, call: Awaitable[R]) -> R:
        return await answer(name, call, heartbeat_s=self.heartbeat_s)


async def answer(name: str, call: Awaitable[R], *, heartbeat_s: float | None = None) -> R:
    """One inference activity's answer, whoever computes it: heartbeats while it works (when
    asked), config errors as non-retryable failures, every result counted in the metrics."""
    beats = asyncio.create_task(_heartbeat(heartbeat_s), name=f"{name}-heartbeat") if heartbeat_s else None
    try:
        result = await call
    except _PERMANENT as exc:
        raise _permanent_error(exc) from exc
    finally:
        if beats is not None:
            beats.cancel()
    _count_result(name, result)
    return result


async def classify_then_score(
    classify: Callable[[IntentRequest], Awaitable[IntentResult]],
    score: Callable[[ScoreRequest], Awaitable[ScoreResult]],
    request: IntentAndScoreRequest,
) -> IntentAndScoreResult:
    """The classification, then the score with its intent. A classification error fails the call
    as the classify step's own would; a scoring error only drops the score, so the score step
    asks again with its own retries and on_error."""
    intent = await classify(request.intent)
    try:
        scored: ScoreResult | None = await score(request.score.model_copy(update={"intent": intent}))
    except Exception as exc:  # the score step asks again and meets the error on its own terms
        log.warning("score_customer after classify_intent failed (%s); the score step asks again", exc)
        scored = None
    return IntentAndScoreResult(intent=intent, score=scored)


async def _heartbeat(every_s: float) -> None:
    """Tell the server this attempt is alive, so a killed worker is noticed within the heartbeat timeout."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(every_s)


def _count_result(name: str, result: IntentResult | ScoreResult | CopyResult | RetrieveResult) -> None:
    """Log degraded results and count every result in the `journeys_inference_results` metric."""
    if result.degraded:
        log.warning("%s answered degraded by %s (%s)", name, result.backend, result.model)
    activity.metric_meter().create_counter(
        "journeys_inference_results", "Inference results by backend; degraded ones are fallbacks."
    ).add(1, {"activity": name, "backend": result.backend, "degraded": str(result.degraded).lower()})


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
