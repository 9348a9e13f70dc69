"""`journeys`: the command line for marketers, MA engineers, reviewers and operators."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from journeys_app.settings import Settings, get_settings
from journeys_app.telemetry import setup_logging

T = TypeVar("T")

app = typer.Typer(
    help="Durable customer journeys on Temporal: validate, run, watch and review them.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
review_app = typer.Typer(help="See and decide pending reviews of generated copy.", no_args_is_help=True)
bench_app = typer.Typer(
    help="Benchmarks; alone, runs them all. `--json` for machines.", invoke_without_command=True
)
app.add_typer(review_app, name="review")
keys_app = typer.Typer(help="API keys of the HTTP gateway.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
reviewers_app = typer.Typer(help="Reviewer accounts and the groups they decide for.", no_args_is_help=True)
app.add_typer(reviewers_app, name="reviewers")
customers_app = typer.Typer(help="The customer records journeys read.", no_args_is_help=True)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
deadletters_app = typer.Typer(
    help="Steps that failed for good: their runs wait for you to retry or discard.", no_args_is_help=True
)
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
app.add_typer(customers_app, name="customers")
audit_app = typer.Typer(help="The audit log: model calls, reviews, sends, consent.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
eval_app = typer.Typer(help="Measure the models on your own labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

console = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _settings() -> Settings:
    settings = get_settings()
    setup_logging(settings)
    return settings


def _run(coro: Awaitable[T]) -> T:
    """Run a command's coroutine; expected failures become one clear line and exit code 1."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    from journeys_app.db.api_keys import ApiKeyError
    from journeys_app.db.reviewers import ReviewerError
    from journeys_app.service import (
        EntryKeyError,
        JourneyNotFound,
        ReviewClosed,
        ReviewNotFound,
        ReviewRefused,
        TriggerFilterError,
    )
    from journeys_app.stack import StackError
    from journeys_app.temporal import TemporalUnreachable
    from workflows.validation import SpecError

    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except WorkflowUpdateFailedError as exc:  # e.g. a stale or duplicate review decision
        _fail(str(exc.cause).removeprefix("ValueError: ") if exc.cause else str(exc))
    except RPCError as exc:
        _fail(f"Temporal said: {exc.message} (is `journeys up` running, or TEMPORAL_ADDRESS set?)")
    except (
        EntryKeyError,
        TriggerFilterError,
        JourneyNotFound,
        ReviewClosed,
        ReviewNotFound,
        ReviewRefused,
        ReviewerError,
        ApiKeyError,
        SpecError,
        StackError,
        TemporalUnreachable,
    ) as exc:
        _fail(str(exc).strip("'\""))
    raise AssertionError("unreachable")


def _print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


@contextmanager
def _output(as_json: bool) -> Iterator[Console]:
    """The console a long command prints its result to. With --json, stdout must hold only the
    JSON, but Temporal's core writes its own warnings straight to file descriptor 1; so, while the
    command runs, fd 1 points at stderr and the JSON goes to the real stdout through this console."""
    if not as_json:
        yield console
        return
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        yield Console(file=real_stdout)
    finally:
        sys.stdout.flush()
        real_stdout.flush()
        os.dup2(real_stdout.fileno(), 1)
        real_stdout.close()


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


async def _until_stopped() -> None:
    """Wait for Ctrl-C or SIGTERM, so `up` and the workers shut down cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _with_service(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from journeys_app.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        return await action(runtime)


def _message_id(given: str | None) -> str:
    """A person typing the command twice means two messages; the MA passes its own id to dedupe."""
    return given or f"cli-{uuid.uuid4().hex[:12]}"


def _properties(props: list[str], text: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in props:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--prop takes key=value, got {item!r}")
        out[key] = value
    if text is not None:
        out["text"] = text
    return out


# --------------------------------------------------------------------------- processes
@app.command()
def up() -> None:
    """Start everything here: the Temporal dev server (with its web UI), both workers, the store."""
    settings = _settings()

    async def main() -> None:
        from journeys_app.http_server import serve_console, serve_gateway
        from journeys_app.runtime import open_runtime

        async with (
            open_runtime(
                settings, embedded=True, journey_workers=True, inference_workers=True, seed_customers=True
            ) as runtime,
            serve_console(runtime.service, settings) as url,
            serve_gateway(runtime.service, settings) as gateway,
        ):
            console.print(
                f"Temporal at [bold]{runtime.temporal_address}[/bold]; "
                f"UI http://127.0.0.1:{settings.embedded_temporal_ui_port}; "
                f"review console {url}; gateway {gateway}. Ctrl-C stops."
            )
            await _until_stopped()
        console.print("stopped cleanly")

    _run(main())


@app.command()
def worker() -> None:
    """Run the journey worker (interpreter + store/delivery activities) against TEMPORAL_ADDRESS."""
    settings = _settings()

    async def main() -> None:
        from journeys_app.runtime import open_runtime

        async with open_runtime(settings, journey_workers=True):
            console.print(f"journey worker on queue {settings.journey_task_queue!r}. Ctrl-C stops.")
            ready = settings.ready_file
            if ready is not None:
                ready.parent.mkdir(parents=True, exist_ok=True)
                ready.write_text(f"{settings.journey_task_queue}\n")
            try:
                await _until_stopped()
            finally:
                if ready is not None:
                    ready.unlink(missing_ok=True)

    _run(main())


def _serve_http(part: str, banner: str) -> None:
    """Run one HTTP part of the product (see journeys_app.http_server.PARTS) until Ctrl-C."""
    settings = _settings()

    async def main() -> None:
        from journeys_app.http_server import serve_part
        from journeys_app.runtime import open_runtime

        async with open_runtime(settings) as runtime, serve_part(part, runtime.service, settings) as url:
            console.print(banner.format(url=url))
            await _until_stopped()

    _run(main())


@app.command("console")
def console_cmd() -> None:
    """Serve the review console (sign-in, queue, decisions) against TEMPORAL_ADDRESS and the store."""
    _serve_http("console", "review console at {url}. Ctrl-C stops.")


@app.command("gateway")
def gateway_cmd() -> None:
    """Serve the HTTP gateway (Segment tracking API, decide, reads) against TEMPORAL_ADDRESS."""
    _serve_http("gateway", "gateway at {url} (OpenAPI docs at {url}/docs). Ctrl-C stops.")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. braze-prod.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: ingest, decide, read, review.")] = "ingest",
    reviewer: Annotated[
        str | None, typer.Option(help="With the review scope: the reviewer account the key decides as.")
    ] = None,
) -> None:
    """Create an API key; prints it once (only a hash is stored)."""
    from journeys_app.db.api_keys import create_key

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    key = _run(_with_db(_settings(), lambda sm: create_key(sm, name, wanted, reviewer)))
    as_whom = f", deciding reviews as {reviewer!r}" if reviewer else ""
    console.print(f"key for {name!r} with scopes {', '.join(sorted(set(wanted)))}{as_whom} (shown once):")
    console.print(key, highlight=False, soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key, or its id (jk_<id>).")]) -> None:
    """Revoke a key at once; requests with it get 401."""
    from journeys_app.db.api_keys import revoke_key

    if not _run(_with_db(_settings(), lambda sm: revoke_key(sm, key))):
        _fail(f"no active key {key!r}")
    console.print("revoked")


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Keys by id, name and scopes (never the secret)."""
    from journeys_app.db.api_keys import list_keys

    rows = _run(_with_db(_settings(), list_keys))
    if as_json:
        _print_json([{**info.model_dump(), "active": active} for info, active in rows])
        return
    table = Table("id", "name", "scopes", "reviewer", "active")
    for info, active in rows:
        table.add_row(
            f"jk_{info.key_id}",
            info.name,
            ", ".join(info.scopes),
            info.reviewer or "",
            "yes" if active else "revoked",
        )
    console.print(table)


@app.command("inference-worker")
def inference_worker_cmd() -> None:
    """Run the inference worker (intent, score, copy on the CPU models) against TEMPORAL_ADDRESS."""
    settings = _settings()

    async def main() -> None:
        from inference_worker.worker import inference_worker
        from journeys_app.temporal import connect

        client = await connect(settings)
        async with inference_worker(client, settings):
            console.print(f"inference worker on queue {settings.inference_task_queue!r}. Ctrl-C stops.")
            await _until_stopped()

    _run(main())


# --------------------------------------------------------------------------- journeys
@app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Journey files or folders (default: journeys/).")
    ] = None,
) -> None:
    """Check journey files like code: schema, steps, links, loops, expressions and templates, and
    the knowledge base (journeys/knowledge/) they answer from."""
    from inference_worker.knowledge import knowledge_problems
    from journeys_app.catalog import template_checker
    from workflows.validation import SpecError, journey_files, load_journey

    settings = get_settings()
    files = journey_files(paths or [settings.journeys_dir])
    if not files:
        _fail("no journey files found")
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

    settings = _settings()

    async def action(runtime: Any) -> Any:
        spec = runtime.service.journey(journey).spec
        evt = CustomerEvent(
            name=event or spec.trigger.event,
            properties=_properties(prop or [], text),
            message_id=_message_id(message_id),
        )
        return await runtime.service.trigger(journey, customer, evt)

    result = _run(_with_service(settings, action))
    if as_json:
        _print_json(result.__dict__)
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

    from journeys_app.bulk_enrollment import SegmentError, start_enrollment
    from workflows.bulk_enrollment import EnrollmentWorkflow

    async def main(runtime: Any) -> Any:
        try:
            handle, total = await start_enrollment(
                runtime.service, journey_id, segment, window=window, page_size=page_size
            )
        except SegmentError as exc:
            _fail(str(exc))
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

    result = _run(_with_service(_settings(), main))
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
    from journeys_app.preview import PreviewError, load_event
    from journeys_app.preview import preview as make_preview

    settings = _settings()
    try:
        properties = load_event(event_file)
        result = _run(
            _with_db(
                settings,
                lambda sm: make_preview(settings, sm, template, customer, properties, with_model=with_model),
            )
        )
    except PreviewError as exc:
        _fail(str(exc))
    if as_json:
        _print_json(result.model_dump(mode="json"))
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

    settings = _settings()
    evt = CustomerEvent(
        name=name, properties=_properties(prop or [], text), message_id=_message_id(message_id)
    )
    result = _run(_with_service(settings, lambda rt: rt.service.event(customer, evt)))
    if as_json:
        _print_json({"signalled": result.signalled, "triggered": [t.__dict__ for t in result.triggered]})
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
    settings = _settings()
    state = _run(_with_service(settings, lambda rt: rt.service.state(workflow_id)))
    if as_json:
        _print_json(state.model_dump(mode="json"))
        return
    console.print(
        f"[bold]{state.workflow_id}[/bold] {state.journey_id} v{state.journey_version} "
        f"({state.spec_hash}) customer {state.customer_id}: [bold]{state.status}[/bold]"
        + (f" → {state.outcome}" if state.outcome else ""),
        highlight=False,
    )
    if state.current_step:
        console.print(
            f"at step {state.current_step}"
            + (f", waiting for {state.waiting_for}" if state.waiting_for else "")
            + (
                f" (quiet hours: the message goes out at {state.deferred_until:%Y-%m-%d %H:%M} UTC)"
                if state.deferred_until
                else ""
            )
        )
    table = Table("step", "answered by", "result")
    for step_id in dict.fromkeys(state.path):
        result = state.results.get(step_id)
        table.add_row(step_id, _answered_by(result), json.dumps(result, default=str)[:160])
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


def _answered_by(result: Any) -> str:
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
    """List journey runs recorded in the store, newest first."""
    from journeys_app.db import queries

    settings = _settings()
    rows = _run(_with_db(settings, lambda sm: queries.list_runs(sm, journey, customer, status_, limit)))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("workflow id", "journey", "customer", "status", "outcome", "started")
    for r in rows:
        table.add_row(
            r.workflow_id,
            f"{r.journey_id} v{r.journey_version}",
            r.customer_id,
            r.status,
            r.outcome or "",
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


async def _with_db(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from journeys_app.db.engine import open_database

    async with open_database(settings) as (_, sessionmaker):
        return await action(sessionmaker)


# --------------------------------------------------------------------------- store
@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: the newest).")] = "head",
) -> None:
    """Bring the store (DATABASE_URL, else the SQLite file in the state folder) to a schema revision."""
    from journeys_app.db.migrate import current_revision, upgrade_database

    settings = _settings()
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    before = current_revision(url)
    upgrade_database(url, revision)
    console.print(f"store at revision {current_revision(url)} (was {before or 'empty'})")


# --------------------------------------------------------------------------- dead letters
@deadletters_app.command("list")
def deadletters_list(
    all_: Annotated[bool, typer.Option("--all", help="Include retried and discarded ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Parked steps, oldest first."""
    from journeys_app.db.dead_letters import list_dead_letters

    rows = _run(_with_db(_settings(), lambda sm: list_dead_letters(sm, only_open=not all_)))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("workflow id", "step", "customer", "status", "since (UTC)", "error")
    for r in rows:
        table.add_row(
            r.workflow_id, r.step_id, r.customer_id, r.status, f"{r.created_at:%Y-%m-%d %H:%M}", r.error[:80]
        )
    console.print(table)


def _resolve(workflow_id: str, action: str, operator: str) -> None:
    from workflows.models import DeadLetterAction

    request = DeadLetterAction(action=action, operator=operator)  # type: ignore[arg-type]
    _run(_with_service(_settings(), lambda rt: rt.service.resolve_dead_letter(workflow_id, request)))
    console.print(f"{workflow_id}: {action} sent")


@deadletters_app.command("retry")
def deadletters_retry(
    workflow_id: str, operator: Annotated[str, typer.Option(help="Your name, for the audit trail.")]
) -> None:
    """Run the parked step again (with the same effect key: a message is never sent twice)."""
    _resolve(workflow_id, "retry", operator)


@deadletters_app.command("discard")
def deadletters_discard(
    workflow_id: str, operator: Annotated[str, typer.Option(help="Your name, for the audit trail.")]
) -> None:
    """Give up on the parked step; the run ends as failed."""
    _resolve(workflow_id, "discard", operator)


# --------------------------------------------------------------------------- customers
@customers_app.command("import")
def customers_import(
    file: Annotated[
        Path, typer.Argument(help="A .csv (header with an id column) or .jsonl file.", exists=True)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import or update customers. Bad rows are listed by line and the command exits 1; good rows are kept."""
    from journeys_app.db.customer_import import read_customer_file
    from journeys_app.db.customers import upsert_customers

    settings = _settings()
    report = read_customer_file(file)
    written = _run(_with_db(settings, lambda sm: upsert_customers(sm, report.rows))) if report.rows else 0
    if as_json:
        _print_json({"imported": written, "rejected": [{"line": n, "error": m} for n, m in report.errors]})
    else:
        for line, message in report.errors:
            err.print(f"[red]✗[/red] {file}:{line}: {message}", highlight=False, soft_wrap=True)
        console.print(f"imported {written} customer(s), rejected {len(report.errors)} row(s)")
    if report.errors:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- audit
@audit_app.command("show")
def audit_show(
    customer: Annotated[str, typer.Option("--customer", "-c", help="Customer id.")],
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """The customer's audit entries, newest first (summaries are masked)."""
    from journeys_app.db.audit import audit_for_customer

    settings = _settings()
    rows = _run(_with_db(settings, lambda sm: audit_for_customer(sm, customer, limit)))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("time (UTC)", "actor", "action", "subject", "summary")
    for r in rows:
        table.add_row(f"{r.at:%Y-%m-%d %H:%M:%S}", r.actor, r.action, r.subject or "", r.output_summary)
    console.print(table)


@audit_app.command("purge")
def audit_purge(
    older_than_days: Annotated[
        int | None,
        typer.Option(help="Delete entries older than this (default: JOURNEYS_AUDIT_RETENTION_DAYS)."),
    ] = None,
) -> None:
    """Delete audit entries older than the retention period."""
    from datetime import timedelta

    from journeys_app.db.audit import purge_audit

    settings = _settings()
    days = settings.audit_retention_days if older_than_days is None else older_than_days
    if days < 0:
        _fail("--older-than-days must be 0 or more")
    deleted = _run(_with_db(settings, lambda sm: purge_audit(sm, timedelta(days=days))))
    console.print(f"purged {deleted} audit entr{'y' if deleted == 1 else 'ies'} older than {days} day(s)")


@customers_app.command("erase")
def customers_erase(
    customer_id: str,
    operator: Annotated[str, typer.Option(help="Your name, for the audit trail.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Right to erasure: end the customer's journeys, anonymise their data, delete their run histories."""
    if not yes:
        typer.confirm(f"Erase every personal detail of {customer_id}? This cannot be undone", abort=True)
    report = _run(_with_service(_settings(), lambda rt: rt.service.erase_customer(customer_id, operator)))
    if as_json:
        _print_json(report.__dict__)
        return
    if not report.customer_found:
        err.print(f"no customer record for {customer_id}; their journey data was erased all the same")
    console.print(
        f"{customer_id} erased: {report.runs} runs, {report.messages} messages, "
        f"{report.reviews} reviews, {report.notifications} notifications, "
        f"{report.audit_entries} audit entries (an audit entry records the erasure)"
    )


# --------------------------------------------------------------------------- reviews
@review_app.command("list")
def review_list(
    group: Annotated[str | None, typer.Option(help="Only this reviewer group.")] = None,
    reviewer: Annotated[str | None, typer.Option(help="Only the groups this reviewer decides for.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pending reviews, earliest deadline first."""
    from journeys_app.db import queries
    from journeys_app.db.reviewers import ReviewerError, get_reviewer

    async def pending(sm: Any) -> list[Any]:
        if reviewer is None:
            return await queries.pending_reviews(sm, group)
        account = await get_reviewer(sm, reviewer)
        if account is None:
            raise ReviewerError(f"no reviewer account {reviewer!r}")
        return await queries.pending_reviews(sm, group, within=account.groups)

    rows = _run(_with_db(_settings(), pending))
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("review", "group", "customer", "deadline (UTC)", "variants", "first variant")
    for r in rows:
        first = (r.variants[0].get("subject") or r.variants[0].get("body", "")) if r.variants else ""
        table.add_row(
            r.review_id,
            r.group,
            r.customer_id,
            f"{r.deadline:%Y-%m-%d %H:%M}",
            str(len(r.variants)),
            first[:60],
        )
    console.print(table)


@review_app.command("show")
def review_show(review_id: str, as_json: JsonOpt = False) -> None:
    """One review in full: the run's context, every variant with its guardrail verdicts."""
    from journeys_app.review_context import load_review_context

    context = _run(_with_service(_settings(), lambda rt: load_review_context(rt.service, review_id)))
    if as_json:
        _print_json(context.model_dump(mode="json"))
        return
    r = context.review
    console.print(
        f"[bold]{r.review_id}[/bold] {r.status}, group {r.group}, deadline {r.deadline:%Y-%m-%d %H:%M} UTC "
        f"({context.time_left}); journey {context.journey_id}, customer {r.customer_id}",
        highlight=False,
    )
    if context.message:
        console.print(f"message: {context.message}", highlight=False)
    for line in context.facts:
        console.print(f"  {line}", highlight=False)
    for line in context.refused:
        console.print(f"[red]refused[/red] {line}", highlight=False)
    for index, variant in enumerate(r.variants):
        verdicts = ", ".join(
            f"{v['name']} {'ok' if v['passed'] else 'FAILED'}" for v in variant.get("guardrails") or []
        )
        console.print(
            f"\n[bold]variant {index}[/bold] ({variant.get('source')}; {verdicts})", highlight=False
        )
        if variant.get("subject"):
            console.print(f"subject: {variant['subject']}", highlight=False)
        console.print(variant.get("body", ""), highlight=False, markup=False)


def _decide(decision: Any) -> None:
    ack = _run(_with_service(_settings(), lambda rt: rt.service.review(decision)))
    console.print(f"{ack.review_id}: {ack.decision} recorded")


@review_app.command("approve")
def review_approve(
    review_id: str,
    reviewer: Annotated[str, typer.Option(help="Your name, for the audit trail.")],
    variant: Annotated[int, typer.Option(help="Which variant to send (0-based).")] = 0,
) -> None:
    """Approve a variant; the journey sends it."""
    from workflows.review import ReviewDecision

    _decide(ReviewDecision(review_id=review_id, decision="approve", reviewer=reviewer, variant=variant))


@review_app.command("reject")
def review_reject(
    review_id: str,
    reviewer: Annotated[str, typer.Option(help="Your name, for the audit trail.")],
    reason: Annotated[str, typer.Option(help="Why; the journey records it.")],
) -> None:
    """Reject the copy; the journey takes its on_reject path."""
    from workflows.review import ReviewDecision

    _decide(ReviewDecision(review_id=review_id, decision="reject", reviewer=reviewer, reason=reason))


@review_app.command("edit")
def review_edit(
    review_id: str,
    reviewer: Annotated[str, typer.Option(help="Your reviewer account.")],
    body: Annotated[str, typer.Option(help="The text to send instead of the draft.")],
    subject: Annotated[str | None, typer.Option(help="A new subject (email).")] = None,
    variant: Annotated[int, typer.Option(help="The variant you edited (0-based).")] = 0,
) -> None:
    """Send your own text; it must pass the same guardrails as generated copy."""
    from workflows.review import ReviewDecision

    _decide(
        ReviewDecision(
            review_id=review_id,
            decision="edit",
            reviewer=reviewer,
            variant=variant,
            body=body,
            subject=subject,
        )
    )


@review_app.command("regenerate")
def review_regenerate(
    review_id: str,
    reviewer: Annotated[str, typer.Option(help="Your reviewer account.")],
    note: Annotated[
        str, typer.Option(help="What the model should change, e.g. 'shorter, mention the refund'.")
    ],
) -> None:
    """Ask the model for new variants with your note; a new review opens for them."""
    from workflows.review import ReviewDecision

    _decide(ReviewDecision(review_id=review_id, decision="regenerate", reviewer=reviewer, reason=note))


@reviewers_app.command("add")
def reviewers_add(
    name: str,
    group: Annotated[list[str], typer.Option("--group", help="A group this reviewer decides for (repeat).")],
) -> None:
    """Create a reviewer account; prints its password once (only a hash is stored)."""
    from journeys_app.db.reviewers import add_reviewer

    password = _run(_with_db(_settings(), lambda sm: add_reviewer(sm, name, group)))
    console.print(f"reviewer {name!r} can decide for {', '.join(sorted(set(group)))}.")
    console.print(f"password (shown once, pass it on privately): {password}", highlight=False)


@reviewers_app.command("list")
def reviewers_list(as_json: JsonOpt = False) -> None:
    """Reviewer accounts and their groups."""
    from journeys_app.db.reviewers import list_reviewers

    accounts = _run(_with_db(_settings(), list_reviewers))
    if as_json:
        _print_json([a.model_dump() for a in accounts])
        return
    table = Table("reviewer", "groups")
    for account in accounts:
        table.add_row(account.name, ", ".join(account.groups))
    console.print(table)


@reviewers_app.command("remove")
def reviewers_remove(name: str) -> None:
    """Delete a reviewer account; their past decisions stay in the audit trail."""
    from journeys_app.db.reviewers import remove_reviewer

    if not _run(_with_db(_settings(), lambda sm: remove_reviewer(sm, name))):
        _fail(f"no reviewer account {name!r}")
    console.print(f"reviewer {name!r} removed")


# --------------------------------------------------------------------------- demo and bench
@app.command()
def demo(
    as_json: JsonOpt = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", help="Leave one review to you in the review console.")
    ] = False,
) -> None:
    """Run the three sample journeys for the sample customers, end to end, on this machine."""
    from journeys_app.demo import run_demo

    settings = _settings()
    with _output(as_json) as out:
        _run(run_demo(settings, out, as_json=as_json, interactive=interactive))


PostgresOpt = Annotated[
    str | None,
    typer.Option(
        "--postgres",
        help="Also measure on a throwaway database of this PostgreSQL server "
        "(default: DATABASE_URL when it is PostgreSQL).",
    ),
]


# A sub-bench measures on PostgreSQL only when asked; the whole suite also when DATABASE_URL is.
OnlyPostgresOpt = Annotated[
    str | None,
    typer.Option("--postgres", help="Measure on a throwaway database of this PostgreSQL server."),
]


def _bench_postgres(postgres: str | None, *, or_database_url: bool = False) -> str | None:
    from journeys_app.bench.postgres import is_postgres

    if postgres and not is_postgres(postgres):
        _fail(f"--postgres {postgres!r} is not a postgresql:// URL")
    url = postgres or (_settings().database_url if or_database_url else None)
    return url if url and is_postgres(url) else None


@bench_app.callback()
def bench_all(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    readme: Annotated[
        Path | None,
        typer.Option("--readme", help="Rewrite this README's figures section from the results."),
    ] = None,
    postgres: PostgresOpt = None,
) -> None:
    """Every benchmark (engine, inference, gateway, enrolment) and intent accuracy, in one run (~20 min)."""
    if ctx.invoked_subcommand is not None:
        return
    from journeys_app.bench.suite import ReadmeError, run_all_benches

    try:
        with _output(as_json) as out:
            _run(
                run_all_benches(
                    _settings(),
                    out,
                    as_json=as_json,
                    readme=readme,
                    postgres=_bench_postgres(postgres, or_database_url=True),
                )
            )
    except ReadmeError as exc:
        _fail(str(exc))


@bench_app.command("engine")
def bench_engine(
    runs_: Annotated[int, typer.Option("--runs", help="Complaint-routing runs per system.")] = 200,
    concurrency: Annotated[int, typer.Option(help="Runs in flight at once.")] = 50,
    models: Annotated[
        str, typer.Option(help="instant (engine alone) or real (CPU models in the path).")
    ] = "instant",
    as_json: JsonOpt = False,
) -> None:
    """Interpreter overhead: complaint routing through JourneyWorkflow vs a hand-written workflow
    and a ceiling of three no-op activities."""
    from journeys_app.bench.engine import run_engine_bench

    if models not in ("instant", "real"):
        _fail("--models is instant or real")
    settings = _settings()
    with _output(as_json) as out:
        _run(
            run_engine_bench(
                settings,
                out,
                runs=runs_,
                concurrency=concurrency,
                models=models,  # type: ignore[arg-type]
                as_json=as_json,
            )
        )


@bench_app.command("inference")
def bench_inference(
    runs_: Annotated[int, typer.Option("--runs", min=10, help="Classifications per measured path.")] = 400,
    concurrency: Annotated[int, typer.Option(min=1, help="Workflows in flight at once.")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """CPU models alone and through Temporal: batched vs one at a time, no-op ceiling, tokens/s."""
    from journeys_app.bench.inference import run_inference_bench

    with _output(as_json) as out:
        _run(run_inference_bench(_settings(), out, runs=runs_, concurrency=concurrency, as_json=as_json))


@bench_app.command("gateway")
def bench_gateway(
    events: Annotated[int, typer.Option(min=100, help="Track events for the ingest figure.")] = 2000,
    decides: Annotated[int, typer.Option(min=5, help="Sequential decide calls for the latency figure.")] = 40,
    load_rate: Annotated[float, typer.Option(min=0.1, help="Decide calls per second under load.")] = 10.0,
    load_seconds: Annotated[float, typer.Option(min=1, help="How long the decide load lasts.")] = 60.0,
    load_timeout_ms: Annotated[
        int, typer.Option(min=10, max=30_000, help="The timeoutMs each call under load sends.")
    ] = 300,
    postgres: OnlyPostgresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Segment ingest events/s, and decide p50/p99 one at a time and under an open-loop load."""
    from journeys_app.bench.gateway import run_gateway_bench

    with _output(as_json) as out:
        _run(
            run_gateway_bench(
                _settings(),
                out,
                events=events,
                decides=decides,
                load_rate=load_rate,
                load_seconds=load_seconds,
                load_timeout_ms=load_timeout_ms,
                postgres=_bench_postgres(postgres),
                as_json=as_json,
            )
        )


@bench_app.command("enrollment")
def bench_enrollment(
    customers: Annotated[int, typer.Option(min=100, help="Customers in the enrolled segment.")] = 10_000,
    postgres: OnlyPostgresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bulk enrolment of a segment: journey starts per second, stored and recorded."""
    from journeys_app.bench.enrollment import run_enrollment_bench

    store = _bench_postgres(postgres)
    with _output(as_json) as out:
        _run(run_enrollment_bench(_settings(), out, customers=customers, postgres=store, as_json=as_json))


TaxonomyOpt = Annotated[
    Path | None, typer.Option("--taxonomy", help="Taxonomy file (default: the journeys' intents.yaml).")
]
TextColumnOpt = Annotated[str, typer.Option("--text-column")]
LabelColumnOpt = Annotated[str, typer.Option("--label-column")]


def _evaluation(
    evaluate: Callable[..., T],
    taxonomy: Path | None,
    data: list[Path] | None,
    shipped: str,
    columns: tuple[str, str],
    as_json: bool,
    **options: Any,
) -> T | None:
    """The report to print as tables, or None when it went out as JSON; a bad CSV or taxonomy
    exits with code 1 and says where. Without --data, the shipped sets `shipped` (a glob in
    journeys/samples) of every language are scored together."""
    from inference_worker.evaluation import EvalDataError
    from inference_worker.taxonomy import TaxonomyError

    settings = _settings()
    paths = data or sorted((settings.journeys_dir / "samples").glob(shipped))
    try:
        report = evaluate(
            taxonomy or settings.journeys_dir / "intents.yaml",
            paths,
            *columns,
            threads=settings.model_threads,
            **options,
        )
    except (EvalDataError, TaxonomyError) as exc:
        _fail(str(exc))
    if as_json:
        _print_json(report.model_dump())  # type: ignore[attr-defined]
        return None
    return report


@eval_app.command("intents")
def eval_intents(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="CSV of labelled customer messages; repeat for several "
            "(default: journeys/samples/intent_eval*.csv, English and Chinese).",
        ),
    ] = None,
    taxonomy: TaxonomyOpt = None,
    text_column: TextColumnOpt = "text",
    label_column: LabelColumnOpt = "label",
    as_json: JsonOpt = False,
) -> None:
    """Train the CPU intent classifier on the taxonomy's examples only and score every CSV row."""
    from inference_worker.evaluation import evaluate_taxonomy

    report = _evaluation(
        evaluate_taxonomy,
        taxonomy,
        data,
        "intent_eval*.csv",
        (text_column, label_column),
        as_json,
        min_confidence=_settings().intent_min_confidence,
    )
    if report is None:
        return
    console.print(
        f"{report.rows} messages: accuracy {report.accuracy:.1%}, macro-F1 {report.macro_f1:.3f}, "
        f"unknown {report.unknown_rate:.1%}, calibration error {report.calibration_error:.3f}"
    )
    _print_label_scores(report)


@eval_app.command("sentiment")
def eval_sentiment(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="CSV of messages labelled negative, neutral or positive; repeat for several "
            "(default: journeys/samples/sentiment_eval*.csv, English and Chinese).",
        ),
    ] = None,
    taxonomy: TaxonomyOpt = None,
    text_column: TextColumnOpt = "text",
    label_column: LabelColumnOpt = "label",
    as_json: JsonOpt = False,
) -> None:
    """Train the CPU classifier on the taxonomy's sentiment examples only and score every CSV row."""
    from inference_worker.evaluation import evaluate_taxonomy_sentiment

    report = _evaluation(
        evaluate_taxonomy_sentiment,
        taxonomy,
        data,
        "sentiment_eval*.csv",
        (text_column, label_column),
        as_json,
    )
    if report is None:
        return
    console.print(f"{report.rows} messages: accuracy {report.accuracy:.1%}, macro-F1 {report.macro_f1:.3f}")
    _print_label_scores(report)


@eval_app.command("answers")
def eval_answers(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="CSV of questions (text) with the entry id that answers each, or none (entry), and "
            "optionally the product it is about (product); repeat for several "
            "(default: journeys/samples/answer_eval*.csv, English and Chinese).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Index the knowledge base (journeys/knowledge/) and answer every labelled question, with the
    deployment's JOURNEYS_KNOWLEDGE_MIN_SCORE."""
    from inference_worker.answer_evaluation import evaluate_answers
    from inference_worker.evaluation import EvalDataError
    from inference_worker.knowledge import KnowledgeError

    settings = _settings()
    paths = data or sorted((settings.journeys_dir / "samples").glob("answer_eval*.csv"))
    try:
        report = evaluate_answers(
            settings.journeys_dir,
            paths,
            threads=settings.model_threads,
            min_score=settings.knowledge_min_score,
        )
    except (EvalDataError, KnowledgeError) as exc:
        _fail(str(exc))
    if as_json:
        _print_json(report.model_dump())
        return
    console.print(
        f"{report.rows} questions ({report.answerable} answerable, {report.unanswerable} for a person): "
        f"answered right {report.top1:.1%} (ranked first {report.ranked_first:.1%}, in the top three "
        f"{report.top3:.1%}), answered wrong {report.wrong_answer_rate:.1%}; "
        f"{report.routed_to_person:.1%} of the questions for a person reached one; "
        f"product suggested right {report.product_accuracy:.1%} of {report.product_rows}. "
        f"Min score {report.min_score:.2f}."
    )
    languages = Table("language (detected)", "answerable", "answered right", "for a person", "reached one")
    for language, score in report.per_language.items():
        languages.add_row(
            language,
            str(score.answerable),
            f"{score.top1:.1%}",
            str(score.unanswerable),
            f"{score.routed_to_person:.1%}",
        )
    console.print(languages)
    misses = Table("question", "expected", "answered", "score", title="misses")
    for miss in report.misses:
        misses.add_row(miss.text, miss.expected, miss.answered, f"{miss.score:.2f}")
    console.print(misses)


@eval_app.command("copy")
def eval_copy(
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="Cases to write (default: journeys/samples/copy_eval.yaml)."),
    ] = None,
    variants: Annotated[int, typer.Option(min=1, max=5, help="Variants per case.")] = 2,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where every variant is written for a person to read (default: <state dir>/copy_eval.md).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write every case's copy with the CPU copy model; report how much model text survives."""
    from inference_worker.evaluation import EvalDataError
    from journeys_app.bench.suite import run_copy_eval

    try:
        report = _run(run_copy_eval(_settings(), cases, out, variants))
    except EvalDataError as exc:
        _fail(str(exc))
    if as_json:
        _print_json(report.model_dump())
        return
    shares = ", ".join(f"{language} {share:.0%}" for language, share in report.per_language.items())
    console.print(
        f"model text that survived the guardrails ({report.model}, {report.seconds:.0f} s): {shares}"
    )
    table = Table("template", "language", "slots", "model text", "rejected by (attempts)")
    for row in report.per_template:
        reasons = ", ".join(f"{name} {count}" for name, count in row.rejections.items())
        table.add_row(row.template, row.language, str(row.slots), f"{row.model_share:.0%}", reasons)
    console.print(table)
    console.print(f"every variant: {report.samples_file}")


def _print_label_scores(report: Any) -> None:
    """Per-language accuracy, per-label precision/recall/F1 and the confusion matrix of a report."""
    languages = Table("language (detected)", "messages", "accuracy")
    for language, score in report.per_language.items():
        languages.add_row(language, str(score.rows), f"{score.accuracy:.1%}")
    console.print(languages)
    table = Table("label", "precision", "recall", "F1", "support")
    for label, score in report.per_label.items():
        table.add_row(
            label, f"{score.precision:.2f}", f"{score.recall:.2f}", f"{score.f1:.2f}", str(score.support)
        )
    console.print(table)
    predicted = sorted({p for row in report.confusion.values() for p in row})
    matrix = Table("expected \\ predicted", *predicted, title="confusion matrix")
    for expected, row in report.confusion.items():
        matrix.add_row(expected, *(str(row.get(p, "")) for p in predicted))
    console.print(matrix)


if __name__ == "__main__":
    app()
