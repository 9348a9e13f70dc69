"""`journeys status` shows which backend answered each model step, degraded ones in red."""

from __future__ import annotations

from journeys_app.edges.cli.journeys import answered_by


def test_model_steps_name_their_backend_and_degraded_ones_say_so() -> None:
    assert answered_by({"label": "inquiry", "backend": "local", "degraded": False}) == "local"
    assert answered_by({"value": 0.4, "backend": "rules", "degraded": True}) == "[red]rules (degraded)[/red]"
    assert answered_by({"sent": True}) == ""  # not a model step
    assert answered_by(None) == ""
