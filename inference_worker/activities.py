"""Temporal activities of the inference worker: intent, score and copy, by the contract names.

The journey workflow calls these by name on the "inference" task queue and never imports this
module. Configuration mistakes (unknown template, broken taxonomy) fail fast as non-retryable
errors so the step's on_error path runs at once instead of after every retry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from inference_worker.backends import InferenceBackend
from inference_worker.contracts import (
    CLASSIFY_INTENT,
    GENERATE_COPY,
    SCORE_CUSTOMER,
    CopyRequest,
    CopyResult,
    IntentRequest,
    IntentResult,
    ScoreRequest,
    ScoreResult,
)
from inference_worker.copy import CopyTemplateError
from inference_worker.intent import TaxonomyError
from inference_worker.scoring import ScoringConfigError

log = logging.getLogger(__name__)

# Errors that retrying cannot fix: the journey or its config has to change.
_PERMANENT = (CopyTemplateError, TaxonomyError, ScoringConfigError)


def _permanent(exc: Exception) -> ApplicationError:
    return ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True)


class InferenceActivities:
    """Activity implementations bound to one loaded backend."""

    def __init__(self, backend: InferenceBackend) -> None:
        self.backend = backend

    def all(self) -> list[Callable[..., Any]]:
        return [self.classify_intent, self.score_customer, self.generate_copy]

    @activity.defn(name=CLASSIFY_INTENT)
    async def classify_intent(self, request: IntentRequest) -> IntentResult:
        started = time.perf_counter()
        try:
            result = await self.backend.classify(request.text)
        except _PERMANENT as exc:
            raise _permanent(exc) from exc
        log.debug("classify_intent %s %.0f%% in %.0f ms", result.label, result.confidence * 100, _ms(started))
        return result

    @activity.defn(name=SCORE_CUSTOMER)
    async def score_customer(self, request: ScoreRequest) -> ScoreResult:
        try:
            return await self.backend.score(request)
        except _PERMANENT as exc:
            raise _permanent(exc) from exc

    @activity.defn(name=GENERATE_COPY)
    async def generate_copy(self, request: CopyRequest) -> CopyResult:
        started = time.perf_counter()
        try:
            result = await self.backend.generate_copy(request)
        except _PERMANENT as exc:
            raise _permanent(exc) from exc
        log.info(
            "generate_copy %s: %d variant(s) %s in %.0f ms, %d tokens",
            request.template,
            len(result.variants),
            [v.source for v in result.variants],
            _ms(started),
            result.tokens,
        )
        return result


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
