"""`journeys demo`: the sample journeys end to end on the embedded stack and the real CPU models.

The demo plays the MA system and the reviewer over the same doors they use: events go to the
gateway as Segment batches, and a simulated reviewer signs in to the review console and approves
there, through the same validated review update a person's click makes.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from journeys_app.core.settings import Settings
from journeys_app.devtools.mail_sink import local_mail_sink
from journeys_app.edges.gateway.protocol import IngestResponse
from journeys_app.edges.http_server import serve_console, serve_gateway
from journeys_app.runtime import Runtime, open_runtime
from journeys_app.service.report import JourneyReport, journey_report
from journeys_app.store import queries
from journeys_app.store.api_keys import create_key
from journeys_app.store.reviewers import add_reviewer, ensure_reviewer
from journeys_app.store.schema import utcnow
from workflows.journey import JourneyWorkflow
from workflows.models import RunState
from workflows.spec import JourneySpec
from workflows.steps.results import RunResults

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
        for key in ("ticket_id", "cart_id"):  # entry keys: a new demo run means new tickets and carts
            if key in e.properties:
                e.properties[key] = f"{e.properties[key]}-{tag}"
    return events


def segment_track(item: ScriptedEvent, tag: str) -> dict[str, Any]:
    """The event as a Segment `track` call, the way the MA system's Segment library sends it."""
    return {
        "type": "track",
        "userId": item.customer,
        "event": item.event,
        "properties": item.properties,
        "messageId": item.message_id or f"{item.event}-{item.customer}-{tag}",
        "timestamp": datetime.now(UTC).isoformat(),
        "context": {"library": {"name": "journeys-demo"}},
    }


class MAClient:
    """The demo's MA system: Segment calls to the gateway, authenticated by a write key."""

    def __init__(self, url: str, write_key: str) -> None:
        self._http = httpx.AsyncClient(base_url=url, auth=(write_key, ""), timeout=30)

    async def send(self, messages: list[dict[str, Any]]) -> IngestResponse:
        response = await self._http.post("/v1/batch", json={"batch": messages})
        if response.status_code != 200:
            raise RuntimeError(f"the gateway refused the demo's events: {response.text}")
        return IngestResponse.model_validate(response.json())

    async def aclose(self) -> None:
        await self._http.aclose()


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleReviewer:
    """A reviewer at the console: signs in, opens a review, approves variant 0 with the form."""

    def __init__(self, url: str, name: str, password: str) -> None:
        self.name, self._password = name, password
        self._http = httpx.AsyncClient(base_url=url, follow_redirects=True, timeout=60)
        self._csrf = ""

    async def sign_in(self) -> None:
        page = await self._http.get("/login")
        signed = await self._http.post(
            "/login", data={"name": self.name, "password": self._password, "csrf": _csrf_of(page)}
        )
        if signed.status_code != 200 or "/login" in str(signed.url):
            raise RuntimeError(f"the simulated reviewer could not sign in: HTTP {signed.status_code}")
        self._csrf = _csrf_of(signed)  # signing in starts a new session, with its own token

    async def approve(self, review_id: str) -> None:
        page = await self._http.get(f"/reviews/{review_id}")
        if page.status_code != 200:
            raise RuntimeError(f"review {review_id}: the console answered HTTP {page.status_code}")
        done = await self._http.post(
            f"/reviews/{review_id}/decision", data={"action": "approve", "variant": "0", "csrf": self._csrf}
        )
        if done.status_code != 200 or "Approved." not in done.text:
            raise RuntimeError(f"review {review_id}: the console refused it (HTTP {done.status_code})")

    async def aclose(self) -> None:
        await self._http.aclose()


def _csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    if found is None:
        raise RuntimeError(f"no console form at {page.url} (HTTP {page.status_code})")
    return found.group(1)


@dataclass
class PersonReview:
    """The review left to a person in the console, and how they sign in."""

    url: str
    name: str
    password: str
    review_id: str | None = None


async def _simulated_reviewer(
    runtime: Runtime,
    run_ids: set[str],
    reviewer: ConsoleReviewer,
    console: Console,
    log: list[str],
    person: PersonReview | None = None,
) -> None:
    """Approve each pending review of this demo's runs in the console.

    With a person at the console (`--interactive`), the first review is left to them.
    """
    done: set[str] = set()
    await reviewer.sign_in()
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
            await reviewer.approve(review.review_id)
            done.add(review.review_id)
            line = (
                f"simulated reviewer approved {review.review_id} (group {review.group}, customer "
                f"{review.customer_id}) in the review console"
            )
            log.append(line)
            console.print(f"  [cyan]{line}[/cyan]", highlight=False)
        await asyncio.sleep(0.3)


async def _send_when_waiting(
    runtime: Runtime, ma: MAClient, tag: str, workflow_ids: list[str], item: ScriptedEvent, console: Console
) -> None:
    """Send a follow-up event once one of the customer's runs waits for it (skip if none will)."""
    catalog = runtime.service.catalog
    while True:
        waiting, running = False, False
        for workflow_id in workflow_ids:
            state = await runtime.service.state(workflow_id)
            running |= state.status == "running"
            step = catalog[state.journey_id].spec.step_map().get(state.current_step or "")
            if step is not None and step.type == "wait_for_event" and item.event in step.names:
                waiting = waiting or state.waiting_for is not None
        if waiting:
            await ma.send([segment_track(item, tag)])
            console.print(f"  → {item.customer} sent {item.event} to the gateway", highlight=False)
            return
        if not running:
            return
        await asyncio.sleep(0.3)


_INTENT_SHOWN = {"label", "confidence", "sentiment", "urgency", "backend"}


def _summary(state: RunState, spec: JourneySpec | None, messages: list[Any]) -> dict[str, Any]:
    found = RunResults.of_spec(spec, state.path, state.results)
    intent = found.intent
    routes = [r.get("goto") for r in found.every("branch", "split")]
    return {
        "journey": state.journey_id,
        "customer": state.customer_id,
        "workflow_id": state.workflow_id,
        "status": state.status,
        "outcome": state.outcome,
        "path": state.path,
        "route": " → ".join(r for r in routes if r),
        "intent": intent and intent.model_dump(include=_INTENT_SHOWN),
        "scores": [s.model_dump(include={"kind", "value", "band"}) for s in found.scores],
        "review": [r.decision + (f" by {r.reviewer}" if r.reviewer else "") for r in found.reviews],
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


def _report_line(result: JourneyReport) -> str:
    """One journey's report in a line: entered, how the runs ended, goal, messages, splits."""
    if not result.versions:
        return f"{result.journey_id}: no runs"
    v = result.versions[0]
    parts = [f"{v.entered} entered", ", ".join(f"{n} {outcome}" for outcome, n in v.outcomes.items())]
    if v.goal is not None:
        parts.append(f"{v.goal.converted} reached {v.goal.event}")
    sent = v.messages.get("sent", 0)
    parts.append(f"{sent} message{'s' if sent != 1 else ''} sent")
    parts += [f"split {e.step_id}: {e.verdict}" for e in v.experiments]
    return f"{result.journey_id}: " + "; ".join(p for p in parts if p)


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


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


async def run_demo(
    settings: Settings, console: Console, *, as_json: bool = False, interactive: bool = False
) -> list[dict[str, Any]]:
    began, started = time.monotonic(), utcnow()
    tag = time.strftime("%H%M%S")
    console_port = settings.console_port  # where `journeys up` serves the console
    final, console = console, Console(stderr=True) if as_json else console  # --json: progress to stderr
    console.print("Starting the embedded stack (Temporal dev server, CPU models)…")
    mail_dir = settings.state_dir / "mail" / tag
    # Free ports, so the demo runs beside `journeys up`; unsubscribe links point at this gateway.
    gateway_port = _free_port(settings.gateway_host)
    settings = settings.model_copy(
        update={
            "gateway_port": gateway_port,
            "public_url": f"http://{settings.gateway_host}:{gateway_port}",
            "console_port": settings.console_port if interactive else 0,
        }
    )
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
        database = "PostgreSQL" if settings.resolved_database_url.startswith("postgres") else "SQLite"
        console.print(f"ready in {time.monotonic() - began:.1f}s; Temporal at {runtime.temporal_address}")
        console.print(f"store on {database}")
        gateway_url = await stack.enter_async_context(serve_gateway(runtime.service, settings))
        console_url = await stack.enter_async_context(serve_console(runtime.service, settings))
        write_key = await create_key(runtime.sessionmaker, f"demo-{tag}", ["ingest"])
        ma = MAClient(gateway_url, write_key)
        stack.push_async_callback(ma.aclose)
        console.print(f"gateway (Segment API) at {gateway_url}")
        console.print(f"review console at {console_url}")
        groups = sorted(review_groups(runtime.service.catalog))
        reviewer = ConsoleReviewer(
            console_url,
            SIMULATED_REVIEWER,
            await ensure_reviewer(runtime.sessionmaker, SIMULATED_REVIEWER, groups),
        )
        stack.push_async_callback(reviewer.aclose)
        person: PersonReview | None = None
        if interactive:
            name = f"you-{tag}"
            person = PersonReview(console_url, name, await add_reviewer(runtime.sessionmaker, name, groups))
        script = load_script(settings, tag)
        first = [e for e in script if not e.follow_up]
        ingested = await ma.send([segment_track(item, tag) for item in first])
        runs: dict[str, list[str]] = {}  # customer -> workflow ids started by this demo
        for item, outcome in zip(first, ingested.results, strict=True):
            for workflow_id in outcome.started:
                runs.setdefault(item.customer, []).append(workflow_id)
                console.print(f"  {item.customer}: {item.event} → {workflow_id}", highlight=False)
        console.print(f"the MA system sent {len(first)} events to the gateway in one Segment batch")
        all_ids = {w for ids in runs.values() for w in ids}
        review_log: list[str] = []
        approver = asyncio.create_task(
            _simulated_reviewer(runtime, all_ids, reviewer, console, review_log, person)
        )
        try:
            async with asyncio.timeout(INTERACTIVE_TIMEOUT_S if interactive else DEMO_TIMEOUT_S):
                await asyncio.gather(
                    *(
                        _send_when_waiting(runtime, ma, tag, runs.get(item.customer, []), item, console)
                        for item in script
                        if item.follow_up
                    )
                )
                finished = asyncio.gather(
                    *(
                        runtime.client.get_workflow_handle_for(JourneyWorkflow.run, w).result()
                        for w in all_ids
                    )
                )
                await asyncio.wait([finished, approver], return_when=asyncio.FIRST_COMPLETED)
                if approver.done():  # the simulated reviewer failed: say why
                    finished.cancel()
                    approver.result()
                await finished
        finally:
            approver.cancel()
        rows = []
        for workflow_id in sorted(all_ids):
            state = await runtime.service.state(workflow_id)
            journey = runtime.service.catalog.get(state.journey_id)
            messages = await queries.messages_for_run(runtime.sessionmaker, workflow_id)
            rows.append(_summary(state, journey.spec if journey else None, messages))
        reports = [
            await journey_report(
                runtime.sessionmaker, journey_id, runtime.service.catalog[journey_id].spec, since=started
            )
            for journey_id in sorted({row["journey"] for row in rows})
        ]
    funnels = {
        r.journey_id: f"http://{settings.console_host}:{console_port}/journeys/{r.journey_id}"
        for r in reports
    }
    ui = f"http://127.0.0.1:{settings.embedded_temporal_ui_port}/namespaces/{settings.temporal_namespace}/workflows"
    if as_json:
        report = {
            "runs": rows,
            "reviews": review_log,
            "temporal_ui": ui,
            "mail_dir": mail_dir,
            "reports": [r.model_dump(mode="json") for r in reports],
            "funnels": funnels,
        }
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
        console.print("\nWhat the journeys did (`journeys report JOURNEY` for the whole report):")
        for result in reports:
            console.print(f"  {_report_line(result)}", highlight=False)
        console.print(
            "Their funnels in the review console, while `journeys up` runs (sign in with an account "
            "that has the reports role, docs/review.md):"
        )
        for url in funnels.values():
            console.print(f"  {url}", highlight=False, soft_wrap=True)
    return rows
