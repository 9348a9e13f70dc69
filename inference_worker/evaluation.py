"""`journeys eval intents` and `journeys eval sentiment`: how well a taxonomy's examples classify a
team's own labelled messages.

The classifier trains only on the taxonomy file's examples (as the inference worker does) and
is scored on every row of the CSV, so the numbers predict what journeys will see in production.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from inference_worker.contracts import IntentResult, Sentiment
from inference_worker.taxonomy import UNKNOWN, Taxonomy, load_taxonomy

if TYPE_CHECKING:
    from inference_worker.intent import Embedder

CALIBRATION_BINS = 10
SENTIMENTS = sorted(get_args(Sentiment))


class EvalDataError(ValueError):
    """The labelled CSV cannot be used; the message names the file, the line and the fix."""


class LabelScore(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class LanguageScore(BaseModel):
    """Rows whose language the classifier detected as this one ("unknown": none detected)."""

    rows: int
    accuracy: float


class EvalReport(BaseModel):
    rows: int
    accuracy: float
    macro_f1: float
    # Share of rows the classifier was too unsure about and answered `unknown` (counted as wrong).
    unknown_rate: float
    # Expected calibration error: mean |confidence - accuracy| over confidence bins, row-weighted.
    calibration_error: float
    per_label: dict[str, LabelScore]
    per_language: dict[str, LanguageScore]
    # confusion[expected][predicted] = rows
    confusion: dict[str, dict[str, int]]


def load_labelled(path: Path, text_column: str, label_column: str) -> list[tuple[str, str]]:
    """(text, label) rows; a missing column or an empty cell is an error with its line number."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column in (text_column, label_column):
            if column not in columns:
                raise EvalDataError(f"{path}:1: no column {column!r}; the header has {', '.join(columns)}")
        rows = []
        for row in reader:
            text, label = (row.get(text_column) or "").strip(), (row.get(label_column) or "").strip()
            if not text or not label:
                raise EvalDataError(
                    f"{path}:{reader.line_num}: empty {text_column if not text else label_column}"
                )
            rows.append((text, label))
    if not rows:
        raise EvalDataError(f"{path}: no rows under the header")
    return rows


class SentimentReport(BaseModel):
    rows: int
    accuracy: float
    macro_f1: float
    per_label: dict[str, LabelScore]
    per_language: dict[str, LanguageScore]
    # confusion[expected][predicted] = rows
    confusion: dict[str, dict[str, int]]


def _per_language(
    expected: Sequence[str], predicted: Sequence[str], results: Sequence[IntentResult]
) -> dict[str, LanguageScore]:
    by_language: dict[str, list[bool]] = {}
    for e, p, result in zip(expected, predicted, results, strict=True):
        by_language.setdefault(result.language or "unknown", []).append(e == p)
    return {
        language: LanguageScore(rows=len(hits), accuracy=round(float(np.mean(hits)), 4))
        for language, hits in sorted(by_language.items())
    }


def _scores(
    expected: Sequence[str], predicted: Sequence[str], labels: Sequence[str], shown: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 over the labels present, per-label scores and the confusion matrix."""
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, predicted, labels=list(labels), zero_division=0
    )
    present = [i for i, label in enumerate(labels) if label in set(expected)]
    matrix = confusion_matrix(expected, predicted, labels=list(shown))
    return {
        "rows": len(expected),
        "accuracy": round(float(np.mean([e == p for e, p in zip(expected, predicted, strict=True)])), 4),
        "macro_f1": round(float(np.mean([f1[i] for i in present])), 4),
        "per_label": {
            label: LabelScore(
                precision=round(float(precision[i]), 4),
                recall=round(float(recall[i]), 4),
                f1=round(float(f1[i]), 4),
                support=int(support[i]),
            )
            for i, label in enumerate(labels)
        },
        "confusion": {
            e: {p: int(matrix[i][j]) for j, p in enumerate(shown) if matrix[i][j]}
            for i, e in enumerate(shown)
            if e in set(expected)
        },
    }


def evaluate(
    expected: Sequence[str], results: Sequence[IntentResult], taxonomy_labels: Sequence[str]
) -> EvalReport:
    predicted = [r.label for r in results]
    labels = sorted(set(taxonomy_labels) | set(expected))
    shown = [*labels, UNKNOWN] if UNKNOWN in predicted and UNKNOWN not in labels else labels
    correct = np.array([e == p for e, p in zip(expected, predicted, strict=True)])
    return EvalReport(
        **_scores(expected, predicted, labels, shown),
        per_language=_per_language(expected, predicted, results),
        unknown_rate=round(predicted.count(UNKNOWN) / len(predicted), 4),
        calibration_error=round(_calibration_error([r.confidence for r in results], correct), 4),
    )


def evaluate_sentiment(expected: Sequence[str], results: Sequence[IntentResult]) -> SentimentReport:
    predicted = [r.sentiment for r in results]
    return SentimentReport(
        **_scores(expected, predicted, SENTIMENTS, SENTIMENTS),
        per_language=_per_language(expected, predicted, results),
    )


def _calibration_error(confidences: Sequence[float], correct: np.ndarray) -> float:
    scores = np.asarray(confidences, dtype=float)
    bins = np.minimum((scores * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    error = 0.0
    for b in np.unique(bins):
        mask = bins == b
        error += mask.sum() / len(scores) * abs(scores[mask].mean() - correct[mask].mean())
    return float(error)


def evaluate_taxonomy(
    taxonomy_path: Path,
    data_paths: Sequence[Path],
    text_column: str,
    label_column: str,
    *,
    threads: int,
    min_confidence: float,
) -> EvalReport:
    """Train the CPU classifier (encoder + logistic regression) on the taxonomy, score the CSVs."""
    taxonomy, rows = _load(taxonomy_path, data_paths, text_column, label_column)
    for path, labels in _labels_by_file(data_paths, rows):
        unknown = sorted(labels - set(taxonomy.intents) - {UNKNOWN})
        if unknown:
            raise EvalDataError(
                f"{path}: labels {', '.join(unknown)} are not intents of {taxonomy_path} "
                f"({', '.join(sorted(taxonomy.intents))})"
            )
    results = _classify(taxonomy, rows, threads, min_confidence)
    return evaluate([label for _, _, label in rows], results, list(taxonomy.intents))


def evaluate_taxonomy_sentiment(
    taxonomy_path: Path, data_paths: Sequence[Path], text_column: str, label_column: str, *, threads: int
) -> SentimentReport:
    """Train the CPU classifier on the taxonomy, score the sentiment of every CSV row."""
    taxonomy, rows = _load(taxonomy_path, data_paths, text_column, label_column)
    for path, labels in _labels_by_file(data_paths, rows):
        unknown = sorted(labels - set(SENTIMENTS))
        if unknown:
            raise EvalDataError(
                f"{path}: labels {', '.join(unknown)} are not sentiments ({', '.join(SENTIMENTS)})"
            )
    results = _classify(taxonomy, rows, threads, min_confidence=0.0)
    return evaluate_sentiment([label for _, _, label in rows], results)


_Rows = list[tuple[Path, str, str]]  # (file, text, label)


def _load(
    taxonomy_path: Path, data_paths: Sequence[Path], text_column: str, label_column: str
) -> tuple[Taxonomy, _Rows]:
    taxonomy = load_taxonomy(taxonomy_path)
    rows = [
        (path, text, label)
        for path in data_paths
        for text, label in load_labelled(path, text_column, label_column)
    ]
    return taxonomy, rows


def _labels_by_file(data_paths: Sequence[Path], rows: _Rows) -> list[tuple[Path, set[str]]]:
    return [(path, {label for p, _, label in rows if p == path}) for path in data_paths]


def _encoder(threads: int) -> Embedder:
    """The worker's encoder, loaded once per process however many evaluations `journeys bench` runs."""
    from inference_worker.encoder import load_encoder

    return load_encoder(threads).query


def _classify(taxonomy: Taxonomy, rows: _Rows, threads: int, min_confidence: float) -> list[IntentResult]:
    from inference_worker.intent import IntentClassifier

    classifier = IntentClassifier(taxonomy, _encoder(threads), min_confidence=min_confidence)
    return classifier.classify_many([text for _, text, _ in rows])
