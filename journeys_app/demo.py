"""`journeys demo`: the sample journeys end to end on the embedded stack and the real CPU models.

A simulated reviewer approves through the same validated review update a person uses.
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from journeys_app.db import queries
from journeys_app.db.reviewers import add_reviewer, ensure_reviewer
from journeys_app.http_server import serve_console
from journeys_app.mail_sink import local_mail_sink
from journeys_app.runtime import Runtime, open_runtime
from journeys_app.settings import Settings
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, ReviewDecision, RunState

SIMULATED_REVIEWER = "demo-reviewer (simulated)"
DEMO_TIMEOUT_S = 170.0
INTERACTIVE_TIMEOUT_S = 3600.0  # a person takes their time


class ScriptedEvent(BaseModel):
    customer: str
    event: str
    message_id: str | None = None
    follow_up: bool = False
    properties: dict[str, Any] = Field(default_factory=dict)


def load_script(settings: Settings, tag: str) -> list[ScriptedEvent]:
    """The sample events, with ids made unique per demo run so the demo can run again."""
    raw = yaml.safe_load((settings.journeys_dir / "samples" / "events.yaml").read_text())
    events = [ScriptedEvent.model_validate(item) for item in raw]
    for e in events:
        if e.message_id:
            e.message_id = f"{e.message_id}-{tag}"
        if "ticket_id" in e.properties:
            e.properties["ticket_id"] = f"{e.properties['ticket_id']}-{tag}"
    return events


async def _simulated_reviewer(
    runtime: Runtime, run_ids: set[str], console: Console, log: list[str], person: PersonReview | None = None
) -> None:
    """Approve each pending review of this demo's runs, the way `journeys review approve` does.

    With a person at the console (`--interactive`), the first review is left to them.
    """
    done: set[str] = set()
    while True:
        for review in await queries.pending_reviews(runtime.sessionmaker):
            if review.workflow_id not in run_ids or review.review_id in done:
                continue
            if person is not None and person.review_id in (None, review.review_id):
                if person.review_id is None:
                    person.review_id = review.review_id
                    console.print(
                        f"\n  [bold]Your turn:[/bold] review {review.review_id} (group {review.group}) "
                        f"waits at {person.url}/reviews/{review.review_id}\n"
                        f"  sign in as [bold]{person.name}[/bold] with password [bold]{person.password}"
                        "[/bold]; approve, edit, reject or regenerate it there.\n",
                        highlight=False,
                    )
                continue
            decision = ReviewDecision(
                review_id=review.review_id, decision="approve", reviewer=SIMULATED_REVIEWER, variant=0
            )
            await runtime.service.review(decision)
            done.add(review.review_id)
            line = (
                f"simulated reviewer approved {review.review_id} (group {review.group}, customer "
                f"{review.customer_id}) through the review update a person's approval uses"
            )
            log.append(line)
            console.print(f"  [cyan]{line}[/cyan]", highlight=False)
        await asyncio.sleep(0.3)


@dataclass
class PersonReview:
    """The review left to a person in the console, and how they sign in."""

    url: str
    name: str
    password: str
    review_id: str | None = None


async def _send_when_waiting(
    runtime: Runtime, workflow_ids: list[str], item: ScriptedEvent, console: Console
) -> None:
    """Send a follow-up event once one of the customer's runs waits for it (skip if none will)."""
    catalog = runtime.service.catalog
    while True:
        waiting, running = False, False
        for workflow_id in workflow_ids:
            state = await runtime.service.state(workflow_id)
            running |= state.status == "running"
            step = catalog[state.journey_id].spec.step_map().get(state.current_step or "")
            if step is not None and step.type == "wait_for_event" and step.event == item.event:
                waiting = waiting or state.waiting_for is not None
        if waiting:
            evt = CustomerEvent(name=item.event, properties=item.properties)
            await runtime.service.event(item.customer, evt)
            console.print(f"  → {item.customer} sent {item.event}", highlight=False)
            return
        if not running:
            return
        await asyncio.sleep(0.3)


def _summary(state: RunState, messages: list[Any]) -> dict[str, Any]:
    intent = next((r for r in state.results.values() if isinstance(r, dict) and "sentiment" in r), None)
    scores = [r for r in state.results.values() if isinstance(r, dict) and "band" in r and "kind" in r]
    reviews = [r for r in state.results.values() if isinstance(r, dict) and "decision" in r and "why" in r]
    routes = [
        state.results[s].get("goto")
        for s in state.path
        if isinstance(state.results.get(s), dict) and "goto" in state.results[s]
    ]
    return {
        "journey": state.journey_id,
        "customer": state.customer_id,
        "workflow_id": state.workflow_id,
        "status": state.status,
        "outcome": state.outcome,
        "path": state.path,
        "route": " → ".join(r for r in routes if r),
        "intent": intent
        and {k: intent[k] for k in ("label", "confidence", "sentiment", "urgency", "backend")},
        "scores": [{k: s[k] for k in ("kind", "value", "band")} for s in scores],
        "review": [r["decision"] + (f" by {r['reviewer']}" if r.get("reviewer") else "") for r in reviews],
        "messages": [
            {"channel": m.channel, "status": m.status, "subject": m.subject, "source": m.source}
            for m in messages
        ],
    }


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "journey", "customer", "path taken", "intent", "score", "review", "messages", show_lines=True
    )
    for r in rows:
        intent = r["intent"]
        table.add_row(
            r["journey"],
            r["customer"],
            f"{r['route'] or '-'}\n→ {r['outcome']}",
            f"{intent['label']} {intent['confidence']:.0%}\n{intent['sentiment']}/{intent['urgency']}"
            if intent
            else "-",
            "\n".join(f"{s['kind']}: {s['band']} {s['value']:.2f}" for s in r["scores"]) or "-",
            "\n".join(r["review"]) or "-",
            "\n".join(f"{m['channel']} {m['status']}: {m['subject'] or ''}"[:60] for m in r["messages"])
            or "-",
        )
    return table


def review_groups(catalog: dict[str, Any]) -> set[str]:
    """Every group a human_review step of these journeys asks, escalation groups included."""
    groups: set[str] = set()
    for journey in catalog.values():
        for step in journey.spec.steps:
            if step.type == "human_review":
                groups |= {
                    step.group,
                    *([step.on_timeout.escalate_to] if step.on_timeout.escalate_to else []),
                }
    return groups


async def run_demo(
    settings: Settings, console: Console, *, as_json: bool = False, interactive: bool = False
) -> list[dict[str, Any]]:
    began = time.monotonic()
    tag = time.strftime("%H%M%S")
    final, console = console, Console(stderr=True) if as_json else console  # --json: progress to stderr
    console.print("Starting the embedded stack (Temporal dev server, SQLite, CPU models)…")
    mail_dir = settings.state_dir / "mail" / tag
    async with AsyncExitStack() as stack:
        if not settings.smtp_host:  # no mail server configured: deliver to a local sink, as files
            port = stack.enter_context(local_mail_sink(mail_dir))
            settings = settings.model_copy(
                update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
            )
        else:
            mail_dir = None
        runtime = await stack.enter_async_context(
            open_runtime(
                settings, embedded=True, journey_workers=True, inference_workers=True, seed_customers=True
            )
        )
        console.print(f"ready in {time.monotonic() - began:.1f}s; Temporal at {runtime.temporal_address}")
        groups = sorted(review_groups(runtime.service.catalog))
        await ensure_reviewer(runtime.sessionmaker, SIMULATED_REVIEWER, groups)
        person: PersonReview | None = None
        if interactive:
            url = await stack.enter_async_context(serve_console(runtime.service, settings))
            name = f"you-{tag}"
            person = PersonReview(url, name, await add_reviewer(runtime.sessionmaker, name, groups))
            console.print(f"review console at {url}")
        script = load_script(settings, tag)
        runs: dict[str, list[str]] = {}  # customer -> workflow ids started by this demo
        for item in (e for e in script if not e.follow_up):
            evt = CustomerEvent(name=item.event, properties=item.properties, message_id=item.message_id)
            result = await runtime.service.event(item.customer, evt)
            for t in result.triggered:
                runs.setdefault(item.customer, []).append(t.workflow_id)
                note = "" if t.started else " (already running)"
                console.print(f"  {item.customer}: {item.event} → {t.workflow_id}{note}", highlight=False)
        all_ids = {w for ids in runs.values() for w in ids}
        review_log: list[str] = []
        reviewer = asyncio.create_task(_simulated_reviewer(runtime, all_ids, console, review_log, person))
        try:
            async with asyncio.timeout(INTERACTIVE_TIMEOUT_S if interactive else DEMO_TIMEOUT_S):
                await asyncio.gather(
                    *(
                        _send_when_waiting(runtime, runs.get(item.customer, []), item, console)
                        for item in script
                        if item.follow_up
                    )
                )
                await asyncio.gather(
                    *(
                        runtime.client.get_workflow_handle_for(JourneyWorkflow.run, w).result()
                        for w in all_ids
                    )
                )
        finally:
            reviewer.cancel()
        rows = []
        for workflow_id in sorted(all_ids):
            state = await runtime.service.state(workflow_id)
            rows.append(_summary(state, await queries.messages_for_run(runtime.sessionmaker, workflow_id)))
    ui = f"http://127.0.0.1:{settings.embedded_temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    if as_json:
        report = {"runs": rows, "reviews": review_log, "temporal_ui": ui, "mail_dir": mail_dir}
        final.print_json(json.dumps(report, default=str))
    else:
        Console(file=console.file, width=max(console.width, 150)).print(_table(rows))
        console.print(
            f"{len(rows)} runs in {time.monotonic() - began:.1f}s. Every run is in the Temporal UI: {ui}"
            " (while `journeys up` runs)."
        )
        if mail_dir is not None:
            sent = sorted(mail_dir.glob("*.eml"))
            console.print(
                f"{len(sent)} emails were delivered over SMTP to the local sink; read them in {mail_dir}/"
            )
    return rows
