"""Few-shot intent, sentiment and urgency classification.

The taxonomy (journeys/intents.yaml) is the single source of truth: marketers edit labelled
examples, and at start-up we embed them with the multilingual encoder (inference_worker/encoder.py)
and fit one logistic regression per head. The encoder maps a Chinese and an English sentence that
mean the same close together, so English examples teach Chinese messages too.
Retraining takes well under a second, so there is no model artefact to version or ship; only the
examples' embeddings are cached, keyed by the taxonomy's content hash.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from inference_worker.contracts import IntentResult
from inference_worker.encoder import MODEL_ID as ENCODER_ID
from inference_worker.language import detect_language
from inference_worker.taxonomy import (
    UNKNOWN,
    LabelSpec,
    Taxonomy,
    TaxonomyError,
    load_taxonomy,
    taxonomy_hash,
)

__all__ = ["UNKNOWN", "IntentClassifier", "Taxonomy", "TaxonomyError", "load_taxonomy"]
MODEL_ID = f"{ENCODER_ID}+logreg"
# Inverse regularisation strength. Embeddings are unit vectors and each label has ~15 examples, so
# the default C=1 gives flat probabilities (~0.3 for a clear case); C≈10 gives confident but still
# graded scores, which is what the `intent_min_confidence` threshold needs.
DEFAULT_C = 10.0
CALIBRATION_FOLDS = 5

Embedder = Callable[[Sequence[str]], np.ndarray]
"""Turns texts into an (n, d) array of L2-normalised sentence embeddings, in one batch."""


class _Head:
    """One logistic-regression head over shared embeddings (intent, sentiment or urgency).

    Probabilities are temperature-scaled: a single temperature, fitted on cross-validated scores of
    the examples, so that a confidence of 0.8 is right about 80 % of the time. Few examples and a
    strong C make raw logistic regression badly calibrated in either direction.
    """

    def __init__(self, labels: dict[str, LabelSpec], vectors: np.ndarray, c: float) -> None:
        targets = np.array([label for label, spec in labels.items() for _ in spec.examples])
        self.model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        self.model.fit(vectors, targets)
        self.labels: list[str] = [str(label) for label in self.model.classes_]
        self.temperature = _fit_temperature(self.model, vectors, targets)

    def predict(self, vectors: np.ndarray) -> list[dict[str, float]]:
        probabilities = softmax(_logits(self.model, vectors) / self.temperature, axis=1)
        return [
            {label: round(float(p), 4) for label, p in zip(self.labels, row, strict=True)}
            for row in probabilities
        ]


def _example_vectors(
    taxonomy: Taxonomy, embed: Embedder, cache_dir: Path | None, model_id: str
) -> np.ndarray:
    """Embeddings of every example (intents, sentiment, urgency), cached by the taxonomy's hash.

    Training the heads takes well under a second; embedding thousands of examples would not.
    """
    texts = [
        e
        for head in (taxonomy.intents, taxonomy.sentiment, taxonomy.urgency)
        for s in head.values()
        for e in s.examples
    ]
    cache = None
    if cache_dir is not None:
        cache = cache_dir / f"intent-examples-{taxonomy_hash(taxonomy)}-{model_id.replace('/', '_')}.npy"
        try:
            cached = np.load(cache, allow_pickle=False)
            if cached.shape[0] == len(texts):
                return cached
        except (OSError, ValueError):
            pass  # missing or unreadable: embed again
    vectors = np.asarray(embed(texts))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        partial.replace(cache)  # atomic: a crash never leaves half a cache
    return vectors


def _logits(model: LogisticRegression, vectors: np.ndarray) -> np.ndarray:
    scores = model.decision_function(vectors)
    return np.column_stack([-scores, scores]) / 2 if scores.ndim == 1 else scores  # two classes: one column


def _fit_temperature(model: LogisticRegression, vectors: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the log-loss of out-of-fold scores (1.0 if too few examples)."""
    folds = min(CALIBRATION_FOLDS, int(np.unique(targets, return_counts=True)[1].min()))
    if folds < 2:
        return 1.0
    held_out = cross_val_predict(
        clone(model),
        vectors,
        targets,
        cv=StratifiedKFold(folds, shuffle=True, random_state=0),
        method="decision_function",
    )
    logits = np.column_stack([-held_out, held_out]) / 2 if held_out.ndim == 1 else held_out
    truth = np.searchsorted(model.classes_, targets)

    def loss(temperature: float) -> float:
        log_p = log_softmax(logits / temperature, axis=1)
        return float(-log_p[np.arange(len(truth)), truth].mean())

    return float(minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded").x)


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
        cache_dir: Path | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.min_confidence = min_confidence
        self.backend = backend
        self.model_id = model_id
        self._embed = embed
        heads = (taxonomy.intents, taxonomy.sentiment, taxonomy.urgency)
        vectors = _example_vectors(taxonomy, embed, cache_dir, model_id)
        sizes = np.cumsum([sum(len(spec.examples) for spec in head.values()) for head in heads])[:-1]
        intent, sentiment, urgency = np.split(vectors, sizes)
        self._intent = _Head(taxonomy.intents, intent, c)
        self._sentiment = _Head(taxonomy.sentiment, sentiment, c)
        self._urgency = _Head(taxonomy.urgency, urgency, c)

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
                    language=detect_language(text),
                )
            )
        return results
