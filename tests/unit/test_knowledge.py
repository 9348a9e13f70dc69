"""The knowledge base files: a mistake is one clear error naming the file and the field to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from inference_worker.knowledge import KnowledgeError, knowledge_problems, load_knowledge
from journeys_app.core.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "journeys"


def test_shipped_knowledge_base_is_valid_and_bilingual() -> None:
    kb = load_knowledge(SHIPPED)
    assert knowledge_problems(SHIPPED) == []
    for entry in kb.faq.entries:
        assert set(entry.answer) == {"en", "zh"}, entry.id
        assert set(entry.questions) == {"en", "zh"}, entry.id
    canada = kb.entry("shipping_countries")
    assert "Canada" in canada.answer["en"] and "加拿大" in canada.answer["zh"]
    assert canada.answer_in("zh")[0] == "zh" and canada.answer_in("fr")[0] == "en"  # English when absent
    assert all(set(p.name) == {"en", "zh"} for p in kb.catalogue.products)
    assert any(p.featured for p in kb.catalogue.products)


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(SHIPPED / "knowledge", tmp_path / "knowledge")
    return tmp_path


def _edit(folder: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    path = folder / "knowledge" / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("faq.yaml", lambda d: d["entries"][0]["answer"].pop("en"), "answer needs an 'en' text"),
        (
            "faq.yaml",
            lambda d: d["entries"][1].update(id=d["entries"][0]["id"]),
            "entry id 'delivery_times' is used twice",
        ),
        (
            "faq.yaml",
            lambda d: d["entries"][0]["questions"].update(english=["Hi?"]),
            "'english' is not a two-letter",
        ),
        (
            "faq.yaml",
            lambda d: d["entries"][0].update(questions={"en": ["Only one?"]}),
            "at least two example questions",
        ),
        (
            "faq.yaml",
            lambda d: d["entries"][0].update(answers=d["entries"][0].pop("answer")),
            "entries.0.answers",
        ),
        ("products.yaml", lambda d: d["products"][0].update(id="Linnea Sofa"), "products.0.id"),
        ("products.yaml", lambda d: d["products"][0]["name"].pop("en"), "name needs an 'en' text"),
    ],
)
def test_mistakes_name_the_file_and_the_fix(tmp_path: Path, name: str, change, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = _copy(tmp_path)
    _edit(folder, name, change)
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(folder)
    assert str(raised.value).startswith(str(folder / "knowledge" / name)), raised.value
    assert message in str(raised.value)
    assert knowledge_problems(folder) == [str(raised.value)]


def test_missing_or_broken_files(tmp_path: Path) -> None:
    assert knowledge_problems(tmp_path) == []  # no knowledge folder: nothing to check
    folder = _copy(tmp_path)
    (folder / "knowledge" / "products.yaml").unlink()
    assert "catalogue not found" in knowledge_problems(folder)[0]
    (folder / "knowledge" / "products.yaml").write_text("products: [unclosed\n")
    assert "not valid YAML" in knowledge_problems(folder)[0]
