"""The last link of the degradation chain: rules and preset copy, no model at all.

Pure Python over the same config files the models use (the taxonomy's labelled examples,
scoring.yaml, the templates' human-written defaults), so it runs anywhere — in the inference
worker when every model backend is down, and in the journey worker when no inference worker
answers. Everything it returns is marked `degraded`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from pathlib import Path

from inference_worker.contracts import CopyRequest, CopyResult, IntentResult, ScoreRequest, ScoreResult
from inference_worker.copy_generator import CopyGenerator
from inference_worker.language import detect_language
from inference_worker.scoring import ScoreModel
from inference_worker.taxonomy import UNKNOWN, LabelSpec, Taxonomy, load_taxonomy

RULES_BACKEND = "rules"
PRESET_BACKEND = "preset"
RULES_MODEL = "tfidf-nearest-label"
PRESET_MODEL = "template-defaults"
# Word-overlap is far weaker than embeddings: its confidence is capped so journeys that route low
# confidence to a person do so, and scaled so a clear keyword match still names the label.
MAX_RULES_CONFIDENCE = 0.75
SHARPNESS = 12.0  # softmax temperature over cosine similarities in [0, 1]

_WORD = re.compile(r"[a-z0-9']+")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_STOP = frozenset(
    "a an the and or but if to of in on at for with from by is are was were be been am i me my we our "
    "you your it its this that these those do does did have has had so as not no can could would "
    "will just please hi hello thanks thank".split()
)


def _terms(text: str) -> list[str]:
    words = [w.strip("'") for w in _WORD.findall(text.lower())]
    stems = [w[:6] for w in words if w and w not in _STOP]  # crude stemming: refund/refunded/refunds
    # Chinese has no spaces: its words are one to four characters, so character pairs stand in.
    han = [run[i : i + 2] for run in _HAN_RUN.findall(text) for i in range(max(1, len(run) - 1))]
    return stems + [f"{a} {b}" for a, b in itertools.pairwise(stems)] + han


class _TfidfHead:
    """Cosine similarity of a text to each label's centroid of TF-IDF example vectors."""

    def __init__(self, labels: dict[str, LabelSpec]) -> None:
        docs = {label: [Counter(_terms(e)) for e in spec.examples] for label, spec in labels.items()}
        all_docs = [doc for group in docs.values() for doc in group]
        frequency = Counter(term for doc in all_docs for term in doc)
        self.idf = {term: math.log((1 + len(all_docs)) / (1 + n)) + 1 for term, n in frequency.items()}
        self.centroids = {label: self._centroid(group) for label, group in docs.items()}

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        vector = {t: c * self.idf[t] for t, c in counts.items() if t in self.idf}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {t: v / norm for t, v in vector.items()}

    def _centroid(self, group: list[Counter[str]]) -> dict[str, float]:
        total: Counter[str] = Counter()
        for doc in group:
            total.update(self._vector(doc))
        norm = math.sqrt(sum(v * v for v in total.values())) or 1.0
        return {t: v / norm for t, v in total.items()}

    def similarities(self, text: str) -> dict[str, float]:
        vector = self._vector(Counter(_terms(text)))
        return {
            label: sum(weight * centroid.get(term, 0.0) for term, weight in vector.items())
            for label, centroid in self.centroids.items()
        }

    def best(self, text: str, default: str) -> str:
        similarities = self.similarities(text)
        label = max(similarities, key=similarities.__getitem__)
        return label if similarities[label] > 0 else default


class RuleClassifier:
    """Intent, sentiment and urgency by word overlap with the taxonomy's examples."""

    def __init__(self, taxonomy: Taxonomy, *, min_confidence: float) -> None:
        self.min_confidence = min_confidence
        self._intent = _TfidfHead(taxonomy.intents)
        self._sentiment = _TfidfHead(taxonomy.sentiment)
        self._urgency = _TfidfHead(taxonomy.urgency)

    def classify(self, text: str) -> IntentResult:
        similarities = self._intent.similarities(text)
        # Softmax over cosine similarities: no overlap at all gives every label the same share.
        exps = {label: math.exp(SHARPNESS * s) for label, s in similarities.items()}
        total = sum(exps.values())
        scores = {label: round(min(e / total, MAX_RULES_CONFIDENCE), 4) for label, e in exps.items()}
        label = max(scores, key=scores.__getitem__)
        confidence = scores[label]
        return IntentResult(
            label=label if confidence >= self.min_confidence else UNKNOWN,
            confidence=confidence,
            scores=scores,
            sentiment=self._sentiment.best(text, "neutral"),  # type: ignore[arg-type]
            urgency=self._urgency.best(text, "normal"),  # type: ignore[arg-type]
            backend=RULES_BACKEND,
            model=RULES_MODEL,
            degraded=True,
            language=detect_language(text),
        )


class RulesBackend:
    """An InferenceBackend with no model: rules for intent, scoring.yaml for scores, preset copy."""

    name = RULES_BACKEND

    def __init__(self, journeys_dir: Path, templates_dir: Path, *, min_confidence: float) -> None:
        self.journeys_dir = journeys_dir
        self.templates_dir = templates_dir
        self.min_confidence = min_confidence
        self._classifier: RuleClassifier | None = None
        self._scorer: ScoreModel | None = None
        self._copy: CopyGenerator | None = None

    async def load(self) -> None:
        if self._copy is not None:
            return
        self._classifier = RuleClassifier(
            load_taxonomy(self.journeys_dir / "intents.yaml"), min_confidence=self.min_confidence
        )
        self._scorer = ScoreModel.from_file(self.journeys_dir / "scoring.yaml")
        self._copy = CopyGenerator.for_templates(
            self.templates_dir,
            None,
            max_tokens=0,
            backend=PRESET_BACKEND,
            model_id=PRESET_MODEL,
        )

    async def aclose(self) -> None:
        return None

    def _loaded(self) -> tuple[RuleClassifier, ScoreModel, CopyGenerator]:
        if self._classifier is None or self._scorer is None or self._copy is None:
            raise RuntimeError("RulesBackend is not loaded: call `await backend.load()` first")
        return self._classifier, self._scorer, self._copy

    async def classify(self, text: str) -> IntentResult:
        return self._loaded()[0].classify(text)

    async def classify_many(self, texts: list[str]) -> list[IntentResult]:
        classifier = self._loaded()[0]
        return [classifier.classify(text) for text in texts]

    async def score(self, request: ScoreRequest) -> ScoreResult:
        result = self._loaded()[1].score(request)
        return result.model_copy(update={"backend": RULES_BACKEND, "degraded": True})

    async def generate_copy(self, request: CopyRequest) -> CopyResult:
        result = self._loaded()[2].preset(request)
        return result.model_copy(update={"degraded": True})
