"""Few-shot intent, sentiment and urgency classification.

The taxonomy (journeys/intents.yaml) is the single source of truth: marketers edit labelled
examples, and at start-up we embed them with MiniLM and fit one logistic regression per head.
Retraining takes well under a second, so there is no model artefact to version or ship.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sklearn.linear_model import LogisticRegression

from inference_worker.config_files import load_yaml_model
from inference_worker.contracts import IntentResult, Sentiment, Urgency

UNKNOWN = "unknown"
MODEL_ID = "all-MiniLM-L6-v2+logreg"
# Inverse regularisation strength. Embeddings are unit vectors and each label has ~15 examples, so
# the default C=1 gives flat probabilities (~0.3 for a clear case); C≈10 gives confident but still
# graded scores, which is what the `intent_min_confidence` threshold needs.
DEFAULT_C = 10.0

Embedder = Callable[[Sequence[str]], np.ndarray]
"""Turns texts into an (n, d) array of L2-normalised sentence embeddings, in one batch."""


class TaxonomyError(ValueError):
    """The taxonomy file is missing or malformed; the message says where and how to fix it."""


class LabelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1)
    examples: list[str] = Field(min_length=3)

    @field_validator("examples", mode="before")
    @classmethod
    def _explain_unquoted(cls, examples: Any) -> Any:
        for example in examples if isinstance(examples, list) else []:
            if isinstance(example, dict):
                raise ValueError(f"example {example!r} contains ': ' and must be put in quotes")
        return examples

    @field_validator("examples")
    @classmethod
    def _clean(cls, examples: list[str]) -> list[str]:
        cleaned = [str(e).strip() for e in examples]
        if any(not e for e in cleaned):
            raise ValueError("examples must not be empty strings")
        return cleaned


class Taxonomy(BaseModel):
    """The parsed intents.yaml: intent labels are free-form, sentiment/urgency match the contract."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    intents: dict[str, LabelSpec]
    sentiment: dict[str, LabelSpec]
    urgency: dict[str, LabelSpec]

    @field_validator("intents")
    @classmethod
    def _intent_labels(cls, intents: dict[str, LabelSpec]) -> dict[str, LabelSpec]:
        if len(intents) < 2:
            raise ValueError("define at least two intent labels")
        for label in intents:
            if label == UNKNOWN:
                raise ValueError(f"'{UNKNOWN}' is reserved for low-confidence results; remove it")
            if not label.isidentifier() or label != label.lower():
                raise ValueError(
                    f"intent label {label!r} must be lower_snake_case (used in journey conditions)"
                )
        return intents

    @model_validator(mode="after")
    def _fixed_heads(self) -> Taxonomy:
        for head, allowed in (("sentiment", get_args(Sentiment)), ("urgency", get_args(Urgency))):
            labels = set(getattr(self, head))
            if labels != set(allowed):
                missing = sorted(set(allowed) - labels)
                extra = sorted(labels - set(allowed))
                raise ValueError(
                    f"{head} must define exactly {', '.join(allowed)}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; unexpected {extra}" if extra else "")
                )
        return self


def load_taxonomy(path: Path) -> Taxonomy:
    """Parse and validate the taxonomy, turning pydantic errors into file-level messages."""
    return load_yaml_model(
        path,
        Taxonomy,
        TaxonomyError,
        "intent taxonomy",
        expected="a mapping with intents, sentiment and urgency sections",
    )


class _Head:
    """One logistic-regression head over shared embeddings (intent, sentiment or urgency)."""

    def __init__(self, labels: dict[str, LabelSpec], embed: Embedder, c: float) -> None:
        texts = [example for spec in labels.values() for example in spec.examples]
        targets = [label for label, spec in labels.items() for _ in spec.examples]
        self.model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        self.model.fit(embed(texts), targets)
        self.labels: list[str] = [str(label) for label in self.model.classes_]

    def predict(self, vectors: np.ndarray) -> list[dict[str, float]]:
        probabilities = self.model.predict_proba(vectors)
        return [
            {label: round(float(p), 4) for label, p in zip(self.labels, row, strict=True)}
            for row in probabilities
        ]


class IntentClassifier:
    """Intent + sentiment + urgency from one embedding per text."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        embed: Embedder,
        *,
        min_confidence: float,
        c: float = DEFAULT_C,
        backend: str = "local",
        model_id: str = MODEL_ID,
    ) -> None:
        self.taxonomy = taxonomy
        self.min_confidence = min_confidence
        self.backend = backend
        self.model_id = model_id
        self._embed = embed
        self._intent = _Head(taxonomy.intents, embed, c)
        self._sentiment = _Head(taxonomy.sentiment, embed, c)
        self._urgency = _Head(taxonomy.urgency, embed, c)

    @property
    def labels(self) -> list[str]:
        return list(self._intent.labels)

    def classify(self, text: str) -> IntentResult:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[IntentResult]:
        """Classify a batch with a single embedding call (the expensive part)."""
        if not texts:
            return []
        vectors = self._embed([t.strip() for t in texts])
        intents = self._intent.predict(vectors)
        sentiments = self._sentiment.predict(vectors)
        urgencies = self._urgency.predict(vectors)
        results = []
        for text, scores, sentiment, urgency in zip(texts, intents, sentiments, urgencies, strict=True):
            best = max(scores, key=scores.__getitem__)
            confidence = scores[best]
            label = best if text.strip() and confidence >= self.min_confidence else UNKNOWN
            results.append(
                IntentResult(
                    label=label,
                    confidence=confidence,
                    scores=scores,
                    sentiment=max(sentiment, key=sentiment.__getitem__),  # type: ignore[arg-type]
                    urgency=max(urgency, key=urgency.__getitem__),  # type: ignore[arg-type]
                    backend=self.backend,
                    model=self.model_id,
                )
            )
        return results
