"""Inference answered by the journey worker itself when no inference worker picks a step up.

The workflow schedules these on the journeys queue after an inference activity was not picked up
in time (the inference worker is stopped or unreachable), so journeys go on with rules and preset
copy instead of stalling; every result says `degraded` and names the rules or preset backend. A
question for the knowledge base goes to a person: without the encoder no answer is sure enough.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio import activity

from inference_worker.activities import answer, classify_then_score
from inference_worker.contracts import (
    CLASSIFY_AND_SCORE,
    CLASSIFY_INTENT,
    FALLBACK_ACTIVITIES,
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
from inference_worker.knowledge import load_knowledge
from inference_worker.retrieval import question_language, suggest_without_model
from inference_worker.rules import RulesBackend
from journeys_app.core.settings import Settings

R = TypeVar("R", IntentResult, ScoreResult, CopyResult, RetrieveResult)


class InferenceFallbackActivities:
    """Rules and preset copy on the journeys queue; the config files load on first use."""

    def __init__(self, settings: Settings) -> None:
        self.rules = RulesBackend(
            settings.journeys_dir, settings.templates_dir, min_confidence=settings.intent_min_confidence
        )
        self.journeys_dir = settings.journeys_dir

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.classify_intent_rules,
            self.score_customer_rules,
            self.classify_intent_and_score_rules,
            self.retrieve_knowledge_rules,
            self.generate_copy_preset,
        ]

    @activity.defn(name=FALLBACK_ACTIVITIES[CLASSIFY_INTENT])
    async def classify_intent_rules(self, request: IntentRequest) -> IntentResult:
        return await self._answer(CLASSIFY_INTENT, lambda rules: rules.classify(request.text))

    @activity.defn(name=FALLBACK_ACTIVITIES[SCORE_CUSTOMER])
    async def score_customer_rules(self, request: ScoreRequest) -> ScoreResult:
        return await self._answer(SCORE_CUSTOMER, lambda rules: rules.score(request))

    @activity.defn(name=FALLBACK_ACTIVITIES[CLASSIFY_AND_SCORE])
    async def classify_intent_and_score_rules(self, request: IntentAndScoreRequest) -> IntentAndScoreResult:
        return await classify_then_score(self.classify_intent_rules, self.score_customer_rules, request)

    @activity.defn(name=FALLBACK_ACTIVITIES[RETRIEVE_KNOWLEDGE])
    async def retrieve_knowledge_rules(self, request: RetrieveRequest) -> RetrieveResult:
        async def to_a_person(_: RulesBackend) -> RetrieveResult:
            kb = load_knowledge(self.journeys_dir)
            language = question_language(request, kb.languages())
            return RetrieveResult(
                found=False,
                score=0.0,
                language=language,
                product=suggest_without_model(kb, language, request.interests),
                reason="the inference worker did not answer: a person answers instead",
                backend="rules",
                model="none",
                degraded=True,
            )

        return await self._answer(RETRIEVE_KNOWLEDGE, to_a_person)

    @activity.defn(name=FALLBACK_ACTIVITIES[GENERATE_COPY])
    async def generate_copy_preset(self, request: CopyRequest) -> CopyResult:
        return await self._answer(GENERATE_COPY, lambda rules: rules.generate_copy(request))

    async def _answer(self, name: str, call: Callable[[RulesBackend], Awaitable[R]]) -> R:
        async def with_rules() -> R:
            await self.rules.load()
            return await call(self.rules)

        return await answer(name, with_rules())
