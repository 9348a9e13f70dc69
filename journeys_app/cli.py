"""`journeys`: the command line for marketers, MA engineers, reviewers and operators."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
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
bench_app = typer.Typer(help="Benchmarks; `--json` for machines.", no_args_is_help=True)
app.add_typer(review_app, name="review")
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

    from journeys_app.service import EntryKeyError, JourneyNotFound, ReviewNotFound
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
        JourneyNotFound,
        ReviewNotFound,
        SpecError,
        StackError,
        TemporalUnreachable,
    ) as exc:
        _fail(str(exc).strip("'\""))
    raise AssertionError("unreachable")


def _print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


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
        from journeys_app.runtime import open_runtime

        async with open_runtime(
            settings, embedded=True, journey_workers=True, inference_workers=True, seed_customers=True
        ) as runtime:
            console.print(
                f"Temporal at [bold]{runtime.temporal_address}[/bold]; "
                f"UI http://127.0.0.1:{settings.embedded_temporal_ui_port}. Ctrl-C stops."
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
            await _until_stopped()

    _run(main())


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
    """Check journey files like code: schema, steps, links, loops, expressions and templates."""
    from journeys_app.catalog import template_checker
    from workflows.validation import SpecError, journey_files, load_journey

    settings = get_settings()
    files = journey_files(paths or [settings.journeys_dir])
    if not files:
        _fail("no journey files found")
    failed = 0
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
        )
    table = Table("step", "result")
    for step_id in dict.fromkeys(state.path):
        table.add_row(step_id, json.dumps(state.results.get(step_id), default=str)[:160])
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
    as_json: JsonOpt = False,
) -> None:
    """Pending reviews, earliest deadline first."""
    from journeys_app.db import queries

    settings = _settings()
    rows = _run(_with_db(settings, lambda sm: queries.pending_reviews(sm, group)))
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
    from workflows.models import ReviewDecision

    _decide(ReviewDecision(review_id=review_id, decision="approve", reviewer=reviewer, variant=variant))


@review_app.command("reject")
def review_reject(
    review_id: str,
    reviewer: Annotated[str, typer.Option(help="Your name, for the audit trail.")],
    reason: Annotated[str, typer.Option(help="Why; the journey records it.")],
) -> None:
    """Reject the copy; the journey takes its on_reject path."""
    from workflows.models import ReviewDecision

    _decide(ReviewDecision(review_id=review_id, decision="reject", reviewer=reviewer, reason=reason))


# --------------------------------------------------------------------------- demo and bench
@app.command()
def demo(
    as_json: JsonOpt = False,
) -> None:
    """Run the three sample journeys for the sample customers, end to end, on this machine."""
    from journeys_app.demo import run_demo

    settings = _settings()
    _run(run_demo(settings, console, as_json=as_json))


@bench_app.command("engine")
def bench_engine(
    runs_: Annotated[int, typer.Option("--runs", help="Complaint-routing runs per system.")] = 200,
    concurrency: Annotated[int, typer.Option(help="Runs in flight at once.")] = 50,
    models: Annotated[
        str, typer.Option(help="instant (engine alone) or real (CPU models in the path).")
    ] = "instant",
    as_json: JsonOpt = False,
) -> None:
    """Interpreter overhead: complaint routing through JourneyWorkflow vs a hand-written workflow."""
    from journeys_app.bench.engine import run_engine_bench

    if models not in ("instant", "real"):
        _fail("--models is instant or real")
    settings = _settings()
    _run(
        run_engine_bench(
            settings,
            console,
            runs=runs_,
            concurrency=concurrency,
            models=models,  # type: ignore[arg-type]
            as_json=as_json,
        )
    )


if __name__ == "__main__":
    app()
