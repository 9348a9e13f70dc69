"""Scoring maths, bands and reasons: pure Python, no models."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from inference_worker.contracts import IntentResult, ScoreRequest
from inference_worker.scoring import ScoreModel, ScoringConfig, ScoringConfigError, load_scoring, sigmoid
from journeys_app.core.settings import PROJECT_ROOT

SCORING_YAML = PROJECT_ROOT / "journeys" / "scoring.yaml"
CUSTOMERS = {
    c["id"]: c for c in yaml.safe_load((PROJECT_ROOT / "journeys/samples/customers.yaml").read_text())
}


@pytest.fixture(scope="module")
def model() -> ScoreModel:
    return ScoreModel.from_file(SCORING_YAML)


def intent(label: str, confidence: float = 1.0, sentiment: str = "neutral") -> IntentResult:
    return IntentResult(
        label=label,
        confidence=confidence,
        scores={label: confidence},
        sentiment=sentiment,  # type: ignore[arg-type]
        urgency="normal",
        backend="test",
        model="test",
    )


def tiny_config(**kind_overrides: Any) -> ScoringConfig:
    kind = {
        "bias": 0.0,
        "weights": {"spend": 1.0},
        "bands": [{"name": "high", "min": 0.7}, {"name": "mid", "min": 0.4}, {"name": "low", "min": 0.0}],
        **kind_overrides,
    }
    return ScoringConfig.model_validate(
        {
            "features": {
                "spend": {"label": "spend", "shown_as": "euros", "transform": "linear", "scale": 1.0}
            },
            "kinds": {"customer_value": kind, "churn": kind, "lead": kind},
        }
    )


def test_sigmoid_is_the_logistic_curve_and_stable() -> None:
    assert sigmoid(0) == 0.5
    assert sigmoid(2) == pytest.approx(1 / (1 + math.exp(-2)))
    assert sigmoid(-2) == pytest.approx(1 - sigmoid(2))
    assert sigmoid(-1000) == 0.0 and sigmoid(1000) == 1.0  # no OverflowError


def test_value_is_the_squashed_weighted_sum(model: ScoreModel) -> None:
    ava = CUSTOMERS["cust-ava"]
    spec = model.config.kinds["customer_value"]
    attrs = ava["attributes"]
    features = model.config.features
    expected = spec.bias + spec.tier["vip"]
    for name, weight in spec.weights.items():
        f = features[name]
        raw = attrs[name]
        x = math.log10(raw + 1) if f.transform == "log10" else raw
        expected += weight * (x - f.center) / f.scale
    result = model.score(ScoreRequest(kind="customer_value", customer=ava))
    assert result.value == pytest.approx(sigmoid(expected), abs=1e-4)


@pytest.mark.parametrize(
    ("customer_id", "kind", "band"),
    [
        ("cust-ava", "customer_value", "vip"),
        ("cust-emma", "customer_value", "vip"),
        ("cust-chloe", "customer_value", "medium"),
        ("cust-farid", "customer_value", "low"),
        ("cust-dev", "churn", "high"),
        ("cust-farid", "churn", "high"),
        ("cust-ava", "churn", "low"),
    ],
)
def test_sample_customers_land_in_sensible_bands(
    model: ScoreModel, customer_id: str, kind: str, band: str
) -> None:
    result = model.score(ScoreRequest(kind=kind, customer=CUSTOMERS[customer_id]))  # type: ignore[arg-type]
    assert result.band == band, result


def test_reasons_are_top_contributions_in_plain_words(model: ScoreModel) -> None:
    result = model.score(ScoreRequest(kind="customer_value", customer=CUSTOMERS["cust-ava"]))
    assert result.reasons[0] == "lifetime value €18,450 (+1.9)"
    assert result.reasons[1] == "VIP tier (+1.2)"
    assert len(result.reasons) == 3
    churn = model.score(ScoreRequest(kind="churn", customer=CUSTOMERS["cust-dev"]))
    assert churn.reasons[0] == "last order 154 days ago (+2.2)"
    farid = model.score(ScoreRequest(kind="customer_value", customer=CUSTOMERS["cust-farid"]))
    assert "1 order (-0.6)" in farid.reasons  # singular


def test_intent_and_sentiment_adjust_lead_and_churn(model: ScoreModel) -> None:
    chloe = CUSTOMERS["cust-chloe"]
    base = model.score(ScoreRequest(kind="lead", customer=chloe)).value
    hot = model.score(
        ScoreRequest(kind="lead", customer=chloe, intent=intent("opportunity", 0.9, "positive"))
    )
    assert hot.value > base and hot.band == "hot"
    assert hot.reasons[0] == "message intent opportunity at 90% (+1.8)"
    assert "positive tone (+0.3)" in hot.reasons
    leaving = model.score(
        ScoreRequest(kind="churn", customer=chloe, intent=intent("cancellation", 1.0, "negative"))
    )
    assert leaving.value > model.score(ScoreRequest(kind="churn", customer=chloe)).value


def test_intent_adjustment_scales_with_confidence_and_ignores_unknown(model: ScoreModel) -> None:
    ben = CUSTOMERS["cust-ben"]
    sure = model.contributions("lead", ben, intent("opportunity", 1.0))
    unsure = model.contributions("lead", ben, intent("opportunity", 0.5))
    by_name = {t.name: t.value for t in sure}
    assert {t.name: t.value for t in unsure}["intent"] == pytest.approx(by_name["intent"] / 2)
    assert "intent" not in {t.name for t in model.contributions("lead", ben, intent("unknown", 0.3))}


def test_missing_and_malformed_attributes_contribute_nothing(model: ScoreModel) -> None:
    spec = model.config.kinds["customer_value"]
    empty = model.score(ScoreRequest(kind="customer_value", customer={"id": "x"}))
    assert empty.value == pytest.approx(sigmoid(spec.bias), abs=1e-4)
    assert empty.reasons == ["no customer attributes on record"]
    odd = {
        "id": "y",
        "attributes": {"lifetime_value": "lots", "orders_count": True, "email_engagement": None},
    }
    assert model.score(ScoreRequest(kind="customer_value", customer=odd)).value == empty.value


def test_flat_attributes_and_string_numbers_are_accepted(model: ScoreModel) -> None:
    nested = model.score(ScoreRequest(kind="churn", customer=CUSTOMERS["cust-dev"]))
    flat = {"tier": "standard", **{k: str(v) for k, v in CUSTOMERS["cust-dev"]["attributes"].items()}}
    assert model.score(ScoreRequest(kind="churn", customer=flat)).value == nested.value


def test_scores_are_deterministic_and_name_the_config(model: ScoreModel) -> None:
    request = ScoreRequest(kind="customer_value", customer=CUSTOMERS["cust-emma"])
    assert model.score(request) == model.score(request)
    result = model.score(request)
    assert result.backend == "local"
    assert result.model.startswith("scoring.yaml@") and len(result.model) == len("scoring.yaml@") + 10


def test_band_thresholds_are_inclusive() -> None:
    model = ScoreModel(tiny_config())
    logit = math.log(0.7 / 0.3)  # spend = logit -> value exactly 0.7
    at = model.score(ScoreRequest(kind="customer_value", customer={"spend": logit}))
    below = model.score(ScoreRequest(kind="customer_value", customer={"spend": logit - 0.01}))
    assert at.value == pytest.approx(0.7) and at.band == "high"
    assert below.band == "mid"
    assert model.score(ScoreRequest(kind="customer_value", customer={"spend": -5})).band == "low"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"bands": [{"name": "a", "min": 0.2}, {"name": "b", "min": 0.5}, {"name": "c", "min": 0}]},
            "highest min",
        ),
        ({"bands": [{"name": "a", "min": 0.5}]}, "min: 0"),
        ({"weights": {"nope": 1.0}}, "undefined features"),
    ],
)
def test_config_errors_name_the_problem(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tiny_config(**override)


def test_load_scoring_reports_file_and_location(tmp_path: Path) -> None:
    broken = tmp_path / "scoring.yaml"
    broken.write_text("features: {}\nkinds:\n  churn: {bands: [{name: all, min: 0}]}\n")
    with pytest.raises(ScoringConfigError, match=r"scoring\.yaml.*customer_value"):
        load_scoring(broken)
    with pytest.raises(ScoringConfigError, match="not found"):
        load_scoring(tmp_path / "missing.yaml")
