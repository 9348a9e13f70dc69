"""The model's answers a test case fixes, served on the inference task queues as the inference
worker would serve them; what the case leaves out comes from the rules and the templates' own
copy, so a case runs in milliseconds and always the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.inference_fallback import InferenceFallbackActivities
from inference_worker.activities import classify_then_score
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
from inference_worker.scoring import ScoringConfig
from journeys_app.journey_tests.cases import Inference

BACKEND = "case"


class FixedInference:
    def __init__(self, fixed: Inference, rules: InferenceFallbackActivities, scoring: ScoringConfig) -> None:
        self.fixed, self.rules, self.scoring = fixed, rules, scoring

    def all(self) -> list[Callable[..., Any]]:
        return [self.classify_intent, self.score_customer, self.classify_and_score, self.retrieve_knowledge]

    @activity.defn(name=CLASSIFY_INTENT)
    async def classify_intent(self, request: IntentRequest) -> IntentResult:
        intent = self.fixed.intent
        if intent is None:
            return await self.rules.classify_intent_rules(request)
        return IntentResult(
            label=intent.label,
            confidence=intent.confidence,
            scores={intent.label: intent.confidence},
            sentiment=intent.sentiment,
            urgency=intent.urgency,
            language=intent.language,
            backend=BACKEND,
            model=BACKEND,
        )

    @activity.defn(name=SCORE_CUSTOMER)
    async def score_customer(self, request: ScoreRequest) -> ScoreResult:
        scored = await self.rules.score_customer_rules(request)
        value = self.fixed.score_for(request.kind)
        if value is None:
            return scored
        band = next(b.name for b in self.scoring.kinds[request.kind].bands if value >= b.min)
        return scored.model_copy(
            update={"value": value, "band": band, "reasons": ["fixed by the test case"]}
            | {"backend": BACKEND, "model": BACKEND, "degraded": False}
        )

    @activity.defn(name=CLASSIFY_AND_SCORE)
    async def classify_and_score(self, request: IntentAndScoreRequest) -> IntentAndScoreResult:
        return await classify_then_score(self.classify_intent, self.score_customer, request)

    @activity.defn(name=RETRIEVE_KNOWLEDGE)
    async def retrieve_knowledge(self, request: RetrieveRequest) -> RetrieveResult:
        answered = await self.rules.retrieve_knowledge_rules(request)
        knowledge = self.fixed.knowledge
        if knowledge is None:
            return answered
        return answered.model_copy(
            update={
                "found": knowledge.found,
                "score": 1.0 if knowledge.found else 0.0,
                "entry_id": knowledge.entry_id,
                "answer": knowledge.answer,
                "backend": BACKEND,
                "model": BACKEND,
                "degraded": False,
            }
        )


class TemplateCopy:
    """Copy on the copy queue: the template's own sentences, as when no model writes it."""

    def __init__(self, rules: InferenceFallbackActivities) -> None:
        self.rules = rules

    @activity.defn(name=GENERATE_COPY)
    async def generate_copy(self, request: CopyRequest) -> CopyResult:
        return await self.rules.generate_copy_preset(request)
