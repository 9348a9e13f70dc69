"""One reader of a run's results, by step type: the chosen copy, reviews, intent and route agree
for every consumer (send, decide, review context, demo)."""

from __future__ import annotations

from workflows.steps.results import RunResults

TYPES = {
    "intent": "classify_intent",
    "draft": "generate_copy",
    "review": "human_review",
    "route": "branch",
    "redraft": "generate_copy",
}
FAILED = {"guardrails": [{"name": "brand", "passed": False}]}
PASSED = {"guardrails": [{"name": "brand", "passed": True}]}


def _variant(body: str, **extra: object) -> dict[str, object]:
    return {"subject": "S", "body": body, "channel": "email", "source": "model", **extra}


def test_the_chosen_copy_is_the_newest_reviews_else_the_newest_passing_variant():
    draft = {"variants": [_variant("first", **FAILED), _variant("second", **PASSED)]}
    review = {"review_id": "rv-1", "group": "vip", "decision": "edited", "reviewer": "maria"}
    review["approved"] = _variant("edited by maria", source="reviewer_edit")
    results = {"draft": draft, "review": review}

    found = RunResults(["draft", "review"], results, TYPES)
    assert found.copy is not None and found.copy.body == "edited by maria"
    assert found.copy.source == "reviewer_edit"
    [typed] = found.reviews
    assert typed.decision == "edited" and typed.reviewer == "maria" and typed.approved is not None

    before_review = RunResults(["draft"], results, TYPES)
    assert before_review.copy is not None and before_review.copy.body == "second"  # the first failed
    assert before_review.copy_source("draft") == ("draft", "generate_copy", draft)


def test_failed_steps_and_steps_of_other_types_are_not_copy():
    results = {
        "route": {"variants": [_variant("not copy", **PASSED)], "goto": "x"},  # a branch, whatever its shape
        "redraft": {"error": "model down"},
    }
    found = RunResults(["route", "redraft"], results, TYPES)
    assert found.copy is None and found.copy_source() is None
    assert found.route == "x"


def test_a_rejected_review_chose_no_copy():
    review = {"review_id": "rv-2", "group": "vip", "decision": "rejected", "approved": None}
    found = RunResults(
        ["draft", "review"], {"draft": {"variants": [_variant("b", **PASSED)]}, "review": review}, TYPES
    )
    assert found.copy is None  # the review decides, whatever it decided


def test_an_unsampled_review_passes_the_draft_on():
    draft = {"variants": [_variant("draft", **PASSED)]}
    unsampled = {"decision": "not_reviewed", "why": "not sampled (rate 10%)", "approved": _variant("draft")}
    found = RunResults(["draft", "review"], {"draft": draft, "review": unsampled}, TYPES)
    assert found.copy is not None and found.copy.body == "draft"
    assert found.reviews[0].decision == "not_reviewed" and found.reviews[0].review_id is None
