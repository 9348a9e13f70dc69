"""`journeys eval answers`: how well the knowledge base answers a team's own labelled questions.

Each row names the entry that answers the question (or `none`: a person should) and, optionally,
the product it is about. Retrieval indexes only the knowledge files, as the inference worker does.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from inference_worker.contracts import RetrieveRequest, RetrieveResult
from inference_worker.evaluation import EvalDataError
from inference_worker.knowledge import load_knowledge
from inference_worker.language import detect_language

NONE = "none"  # the label of a question the knowledge base should leave to a person
COLUMNS = ("text", "entry")


class AnswerRow(BaseModel):
    text: str
    entry: str
    product: str = ""


class LanguageAnswers(BaseModel):
    answerable: int
    top1: float
    unanswerable: int
    routed_to_person: float


class Miss(BaseModel):
    text: str
    expected: str
    answered: str  # the entry sent, or "person"
    score: float


class AnswerReport(BaseModel):
    rows: int
    answerable: int
    unanswerable: int
    min_score: float
    # Answerable questions answered with the right entry (the number a customer feels).
    top1: float
    # The right entry ranked first / among the first three, whatever the threshold.
    ranked_first: float
    top3: float
    # Answerable questions answered with a wrong entry (an approved answer to another question).
    wrong_answer_rate: float
    # Questions labelled `none` that went to a person.
    routed_to_person: float
    # Rows naming a product: share whose suggestion is that product.
    product_rows: int
    product_accuracy: float
    per_language: dict[str, LanguageAnswers]
    misses: list[Miss]


def load_answer_rows(path: Path, entries: set[str], products: set[str]) -> list[AnswerRow]:
    """The labelled questions; an unknown entry or product is an error with its line number."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise EvalDataError(f"{path}: cannot read ({exc.strerror})") from exc
    rows = []
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        for column in COLUMNS:
            if column not in header:
                raise EvalDataError(f"{path}:1: no column {column!r}; the header has {', '.join(header)}")
        for raw in reader:
            row = AnswerRow(**{k: (raw.get(k) or "").strip() for k in ("text", "entry", "product")})
            where = f"{path}:{reader.line_num}"
            if not row.text or not row.entry:
                raise EvalDataError(f"{where}: empty {'text' if not row.text else 'entry'}")
            if row.entry != NONE and row.entry not in entries:
                raise EvalDataError(
                    f"{where}: entry {row.entry!r} is not in the knowledge base (or write none)"
                )
            if row.product and row.product not in products:
                raise EvalDataError(f"{where}: product {row.product!r} is not in the catalogue")
            rows.append(row)
    if not rows:
        raise EvalDataError(f"{path}: no rows under the header")
    return rows


def evaluate_answers(
    journeys_dir: Path, data_paths: Sequence[Path], *, threads: int, min_score: float
) -> AnswerReport:
    """Index the knowledge base with the CPU encoder and answer every labelled question."""
    from inference_worker.encoder import load_encoder
    from inference_worker.retrieval import KnowledgeRetriever

    kb = load_knowledge(journeys_dir)
    entries = {e.id for e in kb.faq.entries}
    products = {p.id for p in kb.catalogue.products}
    rows = [row for path in data_paths for row in load_answer_rows(path, entries, products)]
    encoder = load_encoder(threads)
    retriever = KnowledgeRetriever(
        journeys_dir, encoder.query, encoder.passage, model_id=encoder.model_id, min_score=min_score
    )
    results = [retriever.retrieve_sync(RetrieveRequest(question=row.text)) for row in rows]
    return score_answers(rows, results, retriever.min_score)


def score_answers(
    rows: Sequence[AnswerRow], results: Sequence[RetrieveResult], min_score: float
) -> AnswerReport:
    answerable = [(r, res) for r, res in zip(rows, results, strict=True) if r.entry != NONE]
    unanswerable = [(r, res) for r, res in zip(rows, results, strict=True) if r.entry == NONE]
    with_product = [(r, res) for r, res in zip(rows, results, strict=True) if r.product]
    by_language: dict[str, list[tuple[AnswerRow, RetrieveResult]]] = {}
    for pair in zip(rows, results, strict=True):
        by_language.setdefault(detect_language(pair[0].text) or "unknown", []).append(pair)
    return AnswerReport(
        rows=len(rows),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        min_score=min_score,
        top1=_share(answerable, lambda r, res: res.found and res.entry_id == r.entry),
        ranked_first=_share(
            answerable, lambda r, res: bool(res.matches) and res.matches[0].entry_id == r.entry
        ),
        top3=_share(answerable, lambda r, res: r.entry in {m.entry_id for m in res.matches}),
        wrong_answer_rate=_share(answerable, lambda r, res: res.found and res.entry_id != r.entry),
        routed_to_person=_share(unanswerable, lambda r, res: not res.found),
        product_rows=len(with_product),
        product_accuracy=_share(
            with_product, lambda r, res: res.product is not None and res.product.id == r.product
        ),
        per_language={
            language: LanguageAnswers(
                answerable=sum(r.entry != NONE for r, _ in pairs),
                top1=_share(
                    [p for p in pairs if p[0].entry != NONE],
                    lambda r, res: res.found and res.entry_id == r.entry,
                ),
                unanswerable=sum(r.entry == NONE for r, _ in pairs),
                routed_to_person=_share(
                    [p for p in pairs if p[0].entry == NONE], lambda r, res: not res.found
                ),
            )
            for language, pairs in sorted(by_language.items())
        },
        misses=[
            Miss(text=r.text, expected=r.entry, answered=res.entry_id or "person", score=round(res.score, 3))
            for r, res in zip(rows, results, strict=True)
            if (res.entry_id or NONE) != r.entry
        ],
    )


def _share(
    pairs: Sequence[tuple[AnswerRow, RetrieveResult]], hit: Callable[[AnswerRow, RetrieveResult], object]
) -> float:
    if not pairs:
        return 0.0
    return round(sum(bool(hit(r, res)) for r, res in pairs) / len(pairs), 4)
