"""Request/result models shared by the journey workflow and the inference worker.

The workflow imports only this module (never the backends), so it stays light inside the sandbox.
Every result names the backend and model that produced it, so degraded results are visible.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

INFERENCE_TASK_QUEUE = "inference"

# Activity names: the workflow calls activities by name so it never imports their code.
CLASSIFY_INTENT = "classify_intent"
SCORE_CUSTOMER = "score_customer"
GENERATE_COPY = "generate_copy"
# A classification and the score of the step right after it, in one round trip (see
# IntentAndScoreRequest).
CLASSIFY_AND_SCORE = "classify_intent_and_score"
RETRIEVE_KNOWLEDGE = "retrieve_knowledge"
# Answered on the journeys queue by the journey worker (rules / preset copy, marked degraded) when
# no inference worker picks a step up in time.
FALLBACK_ACTIVITIES = {
    CLASSIFY_INTENT: "classify_intent_rules",
    SCORE_CUSTOMER: "score_customer_rules",
    GENERATE_COPY: "generate_copy_preset",
    CLASSIFY_AND_SCORE: "classify_intent_and_score_rules",
    RETRIEVE_KNOWLEDGE: "retrieve_knowledge_rules",
}

Sentiment = Literal["negative", "neutral", "positive"]
Urgency = Literal["low", "normal", "high"]
ScoreKind = Literal["customer_value", "churn", "lead"]
Channel = Literal["email", "sms", "push", "webhook"]


def locale_language(locale: str) -> str | None:
    """The language of a customer's locale: "zh-CN" and "zh_Hans" -> "zh"; None when it names none."""
    code = locale.replace("_", "-").split("-", 1)[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


class _Contract(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), extra="forbid")


class IntentRequest(_Contract):
    text: str = Field(max_length=8000)
    customer_id: str | None = None


class IntentResult(_Contract):
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    scores: dict[str, float]
    sentiment: Sentiment
    urgency: Urgency
    backend: str
    model: str
    degraded: bool = False
    # ISO 639-1 code of the message ("en", "zh"…), None when the text does not say; copy and
    # answers follow it. Results recorded before it existed read as None.
    language: str | None = None


class ScoreRequest(_Contract):
    kind: ScoreKind = "customer_value"
    customer: dict[str, Any]
    intent: IntentResult | None = None


class ScoreResult(_Contract):
    kind: ScoreKind
    value: float = Field(ge=0.0, le=1.0)
    band: str
    reasons: list[str]
    backend: str
    model: str
    degraded: bool = False


class IntentAndScoreRequest(_Contract):
    """A classify step followed by a score step: the score is asked for with the intent just
    classified, exactly as the score step would ask, so a decision waits for one inference round
    trip instead of two."""

    intent: IntentRequest
    score: ScoreRequest  # without its intent: the classification fills it in


class IntentAndScoreResult(_Contract):
    intent: IntentResult
    score: ScoreResult | None = None  # None: scoring failed, and the score step asks on its own


class CopyRequest(_Contract):
    template: str  # e.g. "email/apology" -> templates/messages/email/apology.j2
    channel: Channel
    variants: int = Field(default=1, ge=1, le=5)
    brief: str | None = None
    # Render context: customer profile, triggering event, earlier step results, and `knowledge`
    # (a RetrieveResult) when the step names a retrieve step.
    context: dict[str, Any] = Field(default_factory=dict)
    # The customer's language ("zh"…): `<template>.<language>.j2` is used where it exists.
    language: str | None = None


class RetrieveRequest(_Contract):
    question: str = Field(max_length=8000)
    language: str | None = None  # of the question where known (the intent's); else detected
    locale: str = "en"  # the customer's, for a question whose language cannot be told
    interests: list[str] = Field(default_factory=list)  # product categories from the profile
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)  # None: the deployment's


class KnowledgeMatch(_Contract):
    entry_id: str
    title: str
    score: float


class ProductSuggestion(_Contract):
    id: str
    name: str
    description: str
    category: str
    reason: Literal["question", "interests", "featured"]


class RetrieveResult(_Contract):
    """An approved answer to a question, or `found: false` (a person answers it)."""

    found: bool
    score: float = Field(ge=0.0, le=1.0)  # the best entry's; found when it reaches min_score
    language: str  # of `answer` and `product`
    entry_id: str | None = None
    title: str | None = None
    answer: str | None = None  # verbatim from the knowledge base
    matches: list[KnowledgeMatch] = Field(default_factory=list)  # the best three, best first
    product: ProductSuggestion | None = None
    reason: str = ""  # why nothing was found
    backend: str
    model: str
    degraded: bool = False


class GuardrailVerdict(_Contract):
    name: str
    passed: bool
    detail: str = ""


class CopyVariant(_Contract):
    subject: str | None = None
    body: str
    channel: Channel
    source: Literal["model", "template_default"]
    guardrails: list[GuardrailVerdict] = Field(default_factory=list)


class CopyResult(_Contract):
    template: str
    variants: list[CopyVariant]
    backend: str
    model: str
    tokens: int = 0
    degraded: bool = False
