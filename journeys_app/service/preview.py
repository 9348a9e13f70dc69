"""`journeys preview`: a template rendered for one stored customer, as the send step would send it.

By default the slots hold the template's own sentences (what is sent when the model is down or
a reviewer's timeout falls back to the template); `--with-model` fills them with the CPU model,
through the same guardrails as a journey's `generate_copy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inference_worker.contracts import CopyRequest, CopyResult
from inference_worker.copy_generator import list_templates
from journeys_app.core.settings import Settings
from journeys_app.store.customers import to_profile
from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import Customer


class PreviewError(ValueError):
    """The preview cannot be made; the message says what to fix."""


def load_event(path: Path | None) -> dict[str, Any]:
    """The event's properties from a YAML or JSON file (`{text: …, subject: …}`), or none."""
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PreviewError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise PreviewError(f"{path}: not valid YAML or JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PreviewError(
            f"{path}: the event must be a mapping of properties, e.g. text: Where is my order?"
        )
    return data


async def preview(
    settings: Settings,
    sessionmaker: SessionMaker,
    template: str,
    customer_id: str,
    event: dict[str, Any],
    *,
    with_model: bool = False,
) -> CopyResult:
    known = list_templates(settings.templates_dir)
    if template not in known:
        raise PreviewError(f"no template {template!r}; known: {', '.join(known)}")
    async with sessionmaker() as session:
        row = await session.get(Customer, customer_id)
    if row is None:
        raise PreviewError(f"no customer {customer_id!r} in the store (journeys customers import …)")
    request = CopyRequest(
        template=template,
        channel=template.split("/", 1)[0],  # type: ignore[arg-type]
        context={"customer": to_profile(row).model_dump(mode="json"), "event": event, "steps": {}},
    )
    if with_model:
        from inference_worker.backends.local import LocalBackend

        async with LocalBackend(settings) as backend:
            return await backend.generate_copy(request)
    from inference_worker.rules import RulesBackend

    rules = RulesBackend(
        settings.journeys_dir, settings.templates_dir, min_confidence=settings.intent_min_confidence
    )
    await rules.load()
    result = await rules.generate_copy(request)
    return result.model_copy(update={"degraded": False})  # a preview of template copy, not a fallback
