"""The journeys a deployment serves: every valid file in the journeys folder, pinned by hash."""

from __future__ import annotations

from pathlib import Path

from journeys_app.core.settings import Settings
from workflows.steps.base import TemplateChecker
from workflows.validation import LoadedJourney, load_journeys


def template_checker(templates_dir: Path) -> TemplateChecker:
    """What is wrong with a message template (missing, broken, slots without defaults…)."""
    from inference_worker.message_templates import TemplateLibrary

    return TemplateLibrary(templates_dir).problems


def load_catalog(settings: Settings) -> dict[str, LoadedJourney]:
    """Raises SpecError listing every problem, so a broken file never half-loads."""
    return load_journeys(settings.journeys_dir, template_checker(settings.templates_dir))
