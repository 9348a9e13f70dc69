"""The intent taxonomy (journeys/intents.yaml): labels, descriptions and labelled examples.

Pure pydantic, so the journey worker's rules fallback can read it without the model stack.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inference_worker.config_files import load_yaml_model
from inference_worker.contracts import Sentiment, Urgency

UNKNOWN = "unknown"
MIN_EXAMPLES = 8


class TaxonomyError(ValueError):
    """The taxonomy file is missing or malformed; the message says where and how to fix it."""


class LabelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1)
    # Fewer examples than this make the few-shot classifier guess; the message says how many more.
    examples: list[str] = Field(min_length=MIN_EXAMPLES)

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


def taxonomy_hash(taxonomy: Taxonomy) -> str:
    """A short digest of the taxonomy's content: trained heads are cached by it."""
    return hashlib.sha256(taxonomy.model_dump_json().encode()).hexdigest()[:12]
