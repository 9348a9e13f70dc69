"""The knowledge base marketers maintain (journeys/knowledge/): approved FAQ answers and products.

Pure pydantic, like the taxonomy, so `journeys validate` and the journey worker's fallback read it
without the model stack. Retrieval over it lives in `inference_worker.retrieval`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inference_worker.config_files import load_yaml_model

KNOWLEDGE_DIR = "knowledge"
FAQ_FILE = "faq.yaml"
PRODUCTS_FILE = "products.yaml"
DEFAULT_LANGUAGE = "en"

Id = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
_LANGUAGE = re.compile(r"^[a-z]{2}$")


class KnowledgeError(ValueError):
    """A knowledge file is missing or malformed; the message says where and how to fix it."""


def _languages(texts: dict[str, object], what: str) -> None:
    bad = [code for code in texts if not _LANGUAGE.match(code)]
    if bad:
        raise ValueError(f"{what}: {', '.join(map(repr, bad))} is not a two-letter language code (en, zh…)")
    if DEFAULT_LANGUAGE not in texts:
        raise ValueError(f"{what} needs an '{DEFAULT_LANGUAGE}' text: it is sent when no other language fits")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Text = Annotated[str, Field(min_length=1, max_length=1000)]


class FaqEntry(_Model):
    id: Id
    title: Text
    questions: dict[str, list[Text]]
    answer: dict[str, Text]

    @field_validator("questions")
    @classmethod
    def _questions(cls, questions: dict[str, list[str]]) -> dict[str, list[str]]:
        _languages(questions, "questions")
        if sum(len(q) for q in questions.values()) < 2:
            raise ValueError("give at least two example questions: they teach retrieval what this answers")
        return questions

    @field_validator("answer")
    @classmethod
    def _answer(cls, answer: dict[str, str]) -> dict[str, str]:
        _languages(answer, "answer")
        return {code: " ".join(text.split()) for code, text in answer.items()}

    def answer_in(self, language: str | None) -> tuple[str, str]:
        """(language, answer): the customer's language where the entry has it, else English."""
        code = language if language in self.answer else DEFAULT_LANGUAGE
        return code, self.answer[code]  # type: ignore[index]


class Product(_Model):
    id: Id
    category: Id
    featured: bool = False
    tags: list[Text] = Field(default_factory=list)
    name: dict[str, Text]
    description: dict[str, Text]

    @model_validator(mode="after")
    def _texts(self) -> Product:
        _languages(self.name, "name")
        _languages(self.description, "description")
        return self

    def text(self, language: str) -> str:
        """What retrieval compares questions with: name, tags and description in one language."""
        code = language if language in self.name else DEFAULT_LANGUAGE
        description = self.description.get(code, self.description[DEFAULT_LANGUAGE])
        return f"{self.name[code]}: {description}. {', '.join(self.tags)}"


def _unique(items: list, what: str) -> list:  # type: ignore[type-arg]
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValueError(f"{what} id {item.id!r} is used twice")
        seen.add(item.id)
    return items


class Faq(_Model):
    version: int = 1
    entries: list[FaqEntry] = Field(min_length=1)
    # Questions a person answers however close they come to an entry, by language.
    route_to_person: dict[str, list[Text]] = Field(default_factory=dict)

    @field_validator("entries")
    @classmethod
    def _unique_ids(cls, entries: list[FaqEntry]) -> list[FaqEntry]:
        return _unique(entries, "entry")


class Catalogue(_Model):
    version: int = 1
    products: list[Product] = Field(min_length=1)

    @field_validator("products")
    @classmethod
    def _unique_ids(cls, products: list[Product]) -> list[Product]:
        return _unique(products, "product")


class KnowledgeBase(_Model):
    faq: Faq
    catalogue: Catalogue

    def languages(self) -> frozenset[str]:
        """The languages answers are written in."""
        return frozenset(code for entry in self.faq.entries for code in entry.answer)

    def entry(self, entry_id: str) -> FaqEntry:
        return next(e for e in self.faq.entries if e.id == entry_id)


def knowledge_dir(journeys_dir: Path) -> Path:
    return journeys_dir / KNOWLEDGE_DIR


def load_knowledge(journeys_dir: Path) -> KnowledgeBase:
    """Both files, validated; a KnowledgeError names the file and the field to fix."""
    folder = knowledge_dir(journeys_dir)
    faq = load_yaml_model(folder / FAQ_FILE, Faq, KnowledgeError, "FAQ", expected="a mapping with entries")
    catalogue = load_yaml_model(
        folder / PRODUCTS_FILE,
        Catalogue,
        KnowledgeError,
        "product catalogue",
        expected="a mapping with products",
    )
    return KnowledgeBase(faq=faq, catalogue=catalogue)


def knowledge_problems(journeys_dir: Path) -> list[str]:
    """What `journeys validate` reports about the knowledge base (empty: fine, or none kept)."""
    if not knowledge_dir(journeys_dir).is_dir():
        return []
    try:
        load_knowledge(journeys_dir)
    except KnowledgeError as exc:
        return [str(exc)]
    return []
