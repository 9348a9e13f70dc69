"""Transparent customer scores (customer_value, churn, lead) from journeys/scoring.yaml.

A weighted sum of normalised attributes squashed by the logistic curve: deterministic, pure
Python, and every score can be explained by its top contributions in plain words. Marketers own
the weights; there is no hidden model to retrain.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inference_worker.config_files import load_yaml_model
from inference_worker.contracts import IntentResult, ScoreKind, ScoreRequest, ScoreResult, Sentiment

log = logging.getLogger(__name__)

MAX_REASONS = 3
MIN_REASON_WEIGHT = 0.05  # contributions smaller than this explain nothing


class ScoringConfigError(ValueError):
    """scoring.yaml is missing or malformed; the message says where."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeatureSpec(_Spec):
    label: str = Field(min_length=1)  # "{value}" marks where the shown value goes
    attribute: str | None = None  # customer attribute name; default: the feature's key
    shown_as: Literal["euros", "count", "days_ago", "percent", "number"] = "number"
    transform: Literal["linear", "log10"] = "linear"
    center: float = 0.0
    scale: float = Field(default=1.0, gt=0)


class Band(_Spec):
    name: str = Field(min_length=1)
    min: float = Field(ge=0.0, le=1.0)


class KindSpec(_Spec):
    description: str = ""
    bias: float = 0.0
    weights: dict[str, float] = Field(default_factory=dict)
    tier: dict[str, float] = Field(default_factory=dict)
    intent: dict[str, float] = Field(default_factory=dict)
    sentiment: dict[Sentiment, float] = Field(default_factory=dict)
    bands: list[Band] = Field(min_length=1)

    @field_validator("bands")
    @classmethod
    def _descending(cls, bands: list[Band]) -> list[Band]:
        mins = [band.min for band in bands]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("bands must be listed from the highest min to the lowest, without ties")
        if mins[-1] != 0.0:
            raise ValueError("the last band must have min: 0 so every score gets a band")
        return bands


class ScoringConfig(_Spec):
    features: dict[str, FeatureSpec]
    kinds: dict[ScoreKind, KindSpec]

    @model_validator(mode="after")
    def _consistent(self) -> ScoringConfig:
        missing = sorted(set(get_args(ScoreKind)) - set(self.kinds))
        if missing:
            raise ValueError(f"kinds must define {', '.join(missing)}")
        for kind, spec in self.kinds.items():
            unknown = sorted(set(spec.weights) - set(self.features))
            if unknown:
                raise ValueError(
                    f"kinds.{kind}.weights uses undefined features {unknown}; add them under features"
                )
        return self


@dataclass(frozen=True)
class Contribution:
    """One term of the weighted sum, with the words that explain it."""

    name: str
    text: str
    value: float

    @property
    def reason(self) -> str:
        return f"{self.text} ({self.value:+.1f})"


def load_scoring(path: Path) -> ScoringConfig:
    return load_yaml_model(path, ScoringConfig, ScoringConfigError, "scoring config")


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _shown(value: float, shown_as: str) -> str:
    if shown_as == "euros":
        return f"€{value:,.0f}"
    if shown_as == "count":
        return f"{value:,.0f}"
    if shown_as == "days_ago":
        return "today" if value < 1 else f"{value:,.0f} day{'s' if round(value) != 1 else ''} ago"
    if shown_as == "percent":
        return f"{value:.0%}"
    return f"{value:g}"


def _describe(feature: FeatureSpec, value: float) -> str:
    label = feature.label if "{value}" in feature.label else feature.label + " {value}"
    label = label.replace("(s)", "" if value == 1 else "s")
    return label.replace("{value}", _shown(value, feature.shown_as))


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


class ScoreModel:
    """Scores customers with one ScoringConfig; stateless and safe to share between threads."""

    backend = "local"

    def __init__(self, config: ScoringConfig, model_id: str = "scoring.yaml") -> None:
        self.config = config
        self.model_id = model_id

    @classmethod
    def from_file(cls, path: Path) -> ScoreModel:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.exists() else "missing"
        return cls(load_scoring(path), model_id=f"{path.name}@{digest}")

    def contributions(
        self, kind: ScoreKind, customer: dict[str, Any], intent: IntentResult | None = None
    ) -> list[Contribution]:
        """Every non-zero term of the sum for this customer (bias excluded), in config order."""
        spec = self.config.kinds[kind]
        attributes = {**customer, **(customer.get("attributes") or {})}
        terms: list[Contribution] = []
        for name, weight in spec.weights.items():
            feature = self.config.features[name]
            raw = attributes.get(feature.attribute or name)
            value = _number(raw)
            if value is None:
                if raw is not None:
                    log.warning("score %s: ignoring %s=%r (not a number)", kind, name, raw)
                continue
            x = math.log10(max(value, 0.0) + 1.0) if feature.transform == "log10" else value
            contribution = weight * (x - feature.center) / feature.scale
            terms.append(Contribution(name, _describe(feature, value), contribution))
        tier = str(customer.get("tier") or attributes.get("tier") or "").lower()
        if spec.tier.get(tier):
            terms.append(
                Contribution("tier", f"{tier.upper() if tier == 'vip' else tier} tier", spec.tier[tier])
            )
        if intent is not None:
            if spec.intent.get(intent.label):
                terms.append(
                    Contribution(
                        "intent",
                        f"message intent {intent.label} at {intent.confidence:.0%}",
                        spec.intent[intent.label] * intent.confidence,
                    )
                )
            if spec.sentiment.get(intent.sentiment):
                terms.append(
                    Contribution("sentiment", f"{intent.sentiment} tone", spec.sentiment[intent.sentiment])
                )
        return terms

    def score(self, request: ScoreRequest) -> ScoreResult:
        spec = self.config.kinds[request.kind]
        terms = self.contributions(request.kind, request.customer, request.intent)
        value = round(sigmoid(spec.bias + sum(t.value for t in terms)), 4)
        band = next(b.name for b in spec.bands if value >= b.min)
        ranked = sorted(
            (t for t in terms if abs(t.value) >= MIN_REASON_WEIGHT), key=lambda t: abs(t.value), reverse=True
        )
        reasons = [t.reason for t in ranked[:MAX_REASONS]] or ["no customer attributes on record"]
        return ScoreResult(
            kind=request.kind,
            value=value,
            band=band,
            reasons=reasons,
            backend=self.backend,
            model=self.model_id,
        )
