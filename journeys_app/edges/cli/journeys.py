"""Journeys: validate, start, enrol a segment, preview copy, send events, follow runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from journeys_app.core.settings import get_settings
from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    console,
    err,
    fail,
    new_message_id,
    parse_properties,
    print_json,
    run_command,
    with_db,
    with_service,
)


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Journey files or folders (default: journeys/).")
    ] = None,
) -> None:
    """Check journey files like code: schema, steps, links, loops, expressions and templates, and
    the knowledge base (journeys/knowledge/) they answer from."""
    from inference_worker.knowledge import knowledge_problems
    from journeys_app.service.catalog import template_checker
    from workflows.validation import SpecError, journey_files, load_journey

    settings = get_settings()
    files = journey_files(paths or [settings.journeys_dir])
    if not files:
        fail("no journey files found")
    failed = 0
    for problem in knowledge_problems(settings.journeys_dir):
        failed += 1
        err.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)
    seen: dict[str, Path] = {}
    for path in files:
        try:
            loaded = load_journey(path, template_checker(settings.templates_dir))
        except SpecError as exc:
            failed += 1
            for problem in exc.problems:
                err.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)
            continue
        spec = loaded.spec
        if spec.id in seen:
            failed += 1
            err.print(
                f"[red]✗[/red] {path}:1: journey id '{spec.id}' is also used by {seen[spec.id]}; "
                "ids must be unique",
                highlight=False,
                soft_wrap=True,
            )
            continue
        seen[spec.id] = path
        console.print(
            f"[green]✓[/green] {path}: {spec.id} v{spec.version}, {len(spec.steps)} steps, "
            f"hash {loaded.spec_hash}",
            highlight=False,
        )
    if failed:
        err.print(f"{failed} of {len(files)} file(s) have problems")
        raise typer.Exit(1)


@app.command()
def start(
    journey: Annotated[str, typer.Argument(help="Journey id, e.g. complaint_routing.")],
    customer: Annotated[str, typer.Option("--customer", "-c", help="Customer id.")],
    event: Annotated[
        str | None, typer.Option(help="Event name (default: the journey's trigger event).")
    ] = None,
    text: Annotated[str | None, typer.Option(help="The customer's message, as event.text.")] = None,
    prop: Annotated[list[str] | None, typer.Option("--prop", "-p", help="Event property key=value.")] = None,
    message_id: Annotated[str | None, typer.Option(help="The MA's message id (entry key, dedupe).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a journey for one customer. The same entry key twice starts one run."""
    from workflows.models import CustomerEvent

    settings = command_settings()

    async def action(runtime: Any) -> Any:
        spec = runtime.service.journey(journey).spec
        evt = CustomerEvent(
            name=event or spec.trigger.event,
            properties=parse_properties(prop or [], text),
            message_id=new_message_id(message_id),
        )
        return await runtime.service.trigger(journey, customer, evt)

    result = run_command(with_service(settings, action))
    if as_json:
        print_json(result.__dict__)
    else:
        verb = "started" if result.started else "already exists (duplicate trigger)"
        console.print(f"{result.workflow_id}: {verb}")


@app.command()
def enroll(
    journey_id: Annotated[str, typer.Argument(help="The journey to start for every member.")],
    segment: Annotated[
        str,
        typer.Option(help="A file of customer ids (CSV with an id column, or one per line), or a condition."),
    ],
    window: Annotated[int, typer.Option(min=1, max=1000, help="Journey starts in flight at once.")] = 50,
    page_size: Annotated[int, typer.Option(min=1, max=5000, help="Members per batch activity.")] = 500,
    wait: Annotated[bool, typer.Option(help="Follow the progress until it finishes.")] = True,
) -> None:
    """Start JOURNEY for every customer of a segment, through a resumable batch workflow.

    Running the same command again follows (or resumes) the same enrolment; nobody is started twice.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from journeys_app.service.bulk_enrollment import SegmentError, start_enrollment
    from workflows.bulk_enrollment import EnrollmentWorkflow

    async def main(runtime: Any) -> Any:
        try:
            handle, total = await start_enrollment(
                runtime.service, journey_id, segment, window=window, page_size=page_size
            )
        except SegmentError as exc:
            fail(str(exc))
        console.print(f"enrolment {handle.id}: {total} customers into {journey_id}")
        if not wait:
            return None
        columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress("[progress.description]{task.description}", *columns, console=console) as bar:
            task = bar.add_task("starting journeys", total=total)
            while True:
                try:
                    progress = await handle.query(EnrollmentWorkflow.progress)
                except RPCError:  # between continue-as-new runs
                    progress = None
                if progress is not None:
                    bar.update(task, completed=progress.done)
                    if progress.finished:
                        break
                await asyncio.sleep(0.5)
        return await handle.result()

    from temporalio.service import RPCError

    result = run_command(with_service(command_settings(), main))
    if result is not None:
        console.print(
            f"done: {result.started} started, {result.existing} already running or done, "
            f"{result.failed} failed"
        )
        for failure in result.failures:
            console.print(f"  {failure}", highlight=False)


@app.command()
def preview(
    template: Annotated[str, typer.Argument(help="e.g. email/apology (see templates/messages/).")],
    customer: Annotated[str, typer.Option(help="A stored customer id.")],
    event_file: Annotated[
        Path | None, typer.Option("--event", help="YAML/JSON file of event properties, e.g. text: …")
    ] = None,
    with_model: Annotated[bool, typer.Option(help="Fill the slots with the CPU model (slower).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Render TEMPLATE for a customer exactly as a send step would send it, with guardrail verdicts."""
    from journeys_app.service.preview import PreviewError, load_event
    from journeys_app.service.preview import preview as make_preview

    settings = command_settings()
    try:
        properties = load_event(event_file)
        result = run_command(
            with_db(
                settings,
                lambda sm: make_preview(settings, sm, template, customer, properties, with_model=with_model),
            )
        )
    except PreviewError as exc:
        fail(str(exc))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    for variant in result.variants:
        console.print(f"[bold]{variant.channel}[/bold] ({variant.source}, {result.backend})", highlight=False)
        if variant.subject is not None:
            console.print(f"Subject: {variant.subject}", highlight=False, markup=False)
        console.print(variant.body, highlight=False, markup=False)
        verdicts = ", ".join(
            f"{g.name} {'ok' if g.passed else 'FAILED: ' + g.detail}" for g in variant.guardrails
        )
        console.print(f"\nguardrails: {verdicts}", highlight=False, markup=False)


@app.command()
def event(
    customer: Annotated[str, typer.Argument(help="Customer id.")],
    name: Annotated[str, typer.Argument(help="Event name, e.g. customer_replied.")],
    text: Annotated[str | None, typer.Option(help="Message text, as event.text.")] = None,
    prop: Annotated[list[str] | None, typer.Option("--prop", "-p", help="Event property key=value.")] = None,
    message_id: Annotated[str | None, typer.Option(help="The MA's message id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Report a customer event: running journeys hear it, matching journeys start."""
    from workflows.models import CustomerEvent

    settings = command_settings()
    evt = CustomerEvent(
        name=name, properties=parse_properties(prop or [], text), message_id=new_message_id(message_id)
    )
    result = run_command(with_service(settings, lambda rt: rt.service.event(customer, evt)))
    if as_json:
        print_json({"signalled": result.signalled, "triggered": [t.__dict__ for t in result.triggered]})
        return
    console.print(f"delivered to {len(result.signalled)} running journey(s)")
    for t in result.triggered:
        console.print(f"{t.workflow_id}: {'started' if t.started else 'duplicate'}")


@app.command()
def status(
    workflow_id: Annotated[str, typer.Argument(help="The run's workflow id (see `journeys runs`).")],
    as_json: JsonOpt = False,
) -> None:
    """Show one run: where it is, the path so far, each step's result, any pending review."""
    settings = command_settings()
    state = run_command(with_service(settings, lambda rt: rt.service.state(workflow_id)))
    if as_json:
        print_json(state.model_dump(mode="json"))
        return
    console.print(
        f"[bold]{state.workflow_id}[/bold] {state.journey_id} v{state.journey_version} "
        f"({state.spec_hash}) customer {state.customer_id}: [bold]{state.status}[/bold]"
        + (f" → {state.outcome}" if state.outcome else ""),
        highlight=False,
    )
    if state.current_step:
        waiting = state.wait_description()
        console.print(f"at step {state.current_step}" + (f", {waiting}" if waiting else ""), highlight=False)
    table = Table("step", "answered by", "result")
    for step_id in dict.fromkeys(state.path):
        result = state.results.get(step_id)
        table.add_row(step_id, answered_by(result), json.dumps(result, default=str)[:160])
    console.print(table)
    if state.dead_letter:
        d = state.dead_letter
        console.print(
            f"[red]step {d.step_id} is in dead letters[/red] since {d.since:%Y-%m-%d %H:%M} UTC: "
            f"{d.error} (journeys deadletters retry|discard {state.workflow_id})",
            highlight=False,
        )
    if state.goal_reached_at:
        console.print(f"goal reached at {state.goal_reached_at:%Y-%m-%d %H:%M} UTC")
    if state.pending_review:
        r = state.pending_review
        console.print(
            f"pending review {r.review_id} for group {r.group}, deadline {r.deadline:%Y-%m-%d %H:%M} UTC"
        )


def answered_by(result: Any) -> str:
    """`local`, or `rules (degraded)` in red: which backend produced a model step's result."""
    if not isinstance(result, dict) or "backend" not in result:
        return ""
    if result.get("degraded"):
        return f"[red]{result['backend']} (degraded)[/red]"
    return str(result["backend"])


@app.command()
def runs(
    journey: Annotated[str | None, typer.Option(help="Only this journey.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer.")] = None,
    status_: Annotated[
        str | None, typer.Option("--status", help="running, completed, exited, failed.")
    ] = None,
    limit: int = 50,
    as_json: JsonOpt = False,
) -> None:
    """List journey runs, newest first; running ones show where they are now."""
    from journeys_app.store import queries

    settings = command_settings()

    async def stored(sessionmaker: Any) -> list[queries.RunSummary]:
        return await queries.list_runs(sessionmaker, journey, customer, status_, limit)

    async def live(runtime: Any) -> list[queries.RunSummary]:
        return await runtime.service.live(await stored(runtime.sessionmaker))

    async def listed() -> list[queries.RunSummary]:
        from journeys_app.core.temporal import TemporalUnreachable

        try:
            return await with_service(settings, live)
        except TemporalUnreachable as exc:
            err.print(f"{exc}; showing runs as the store has them")
            return await with_db(settings, stored)

    rows = run_command(listed())
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("journey", "customer", "status", "now / outcome", "started", "workflow id")
    table.columns[-1].overflow = "fold"  # ids wrap, never cut: `journeys status` takes them whole
    for r in rows:
        now = f"at {r.current_step}" + (f", waiting for {r.waiting_for}" if r.waiting_for else "")
        table.add_row(
            f"{r.journey_id} v{r.journey_version}",
            r.customer_id,
            r.status,
            r.outcome or (now if r.current_step else ""),
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.workflow_id,
        )
    console.print(table)
