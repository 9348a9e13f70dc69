"""The store, dead letters, customer records, the audit log and payload keys, for operators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    console,
    err,
    fail,
    print_json,
    run_command,
    with_db,
    with_service,
)

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
deadletters_app = typer.Typer(
    help="Steps that failed for good: their runs wait for you to retry or discard.", no_args_is_help=True
)
app.add_typer(deadletters_app, name="deadletters")
customers_app = typer.Typer(help="The customer records journeys read.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")
audit_app = typer.Typer(help="The audit log: model calls, reviews, sends, consent.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
payload_keys_app = typer.Typer(help="The keys that encrypt payloads in Temporal.", no_args_is_help=True)
app.add_typer(payload_keys_app, name="payload-keys")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: the newest).")] = "head",
) -> None:
    """Bring the store (DATABASE_URL, else the SQLite file in the state folder) to a schema revision."""
    from journeys_app.store.migrate import current_revision, upgrade_database

    settings = command_settings()
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    before = current_revision(url)
    upgrade_database(url, revision)
    console.print(f"store at revision {current_revision(url)} (was {before or 'empty'})")


@deadletters_app.command("list")
def deadletters_list(
    all_: Annotated[bool, typer.Option("--all", help="Include retried and discarded ones.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Parked steps, oldest first."""
    from journeys_app.store.dead_letters import list_dead_letters

    rows = run_command(with_db(command_settings(), lambda sm: list_dead_letters(sm, only_open=not all_)))
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
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
    run_command(
        with_service(command_settings(), lambda rt: rt.service.resolve_dead_letter(workflow_id, request))
    )
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


@customers_app.command("import")
def customers_import(
    file: Annotated[
        Path, typer.Argument(help="A .csv (header with an id column) or .jsonl file.", exists=True)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import or update customers. Bad rows are listed by line and the command exits 1; good rows are kept."""
    from journeys_app.store.customer_import import read_customer_file
    from journeys_app.store.customers import upsert_customers

    settings = command_settings()
    report = read_customer_file(file)
    written = (
        run_command(with_db(settings, lambda sm: upsert_customers(sm, report.rows))) if report.rows else 0
    )
    if as_json:
        print_json({"imported": written, "rejected": [{"line": n, "error": m} for n, m in report.errors]})
    else:
        for line, message in report.errors:
            err.print(f"[red]✗[/red] {file}:{line}: {message}", highlight=False, soft_wrap=True)
        console.print(f"imported {written} customer(s), rejected {len(report.errors)} row(s)")
    if report.errors:
        raise typer.Exit(1)


@audit_app.command("show")
def audit_show(
    customer: Annotated[str, typer.Option("--customer", "-c", help="Customer id.")],
    limit: Annotated[int, typer.Option(help="At most this many entries, newest first.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """The customer's audit entries, newest first (summaries are masked)."""
    from journeys_app.store.audit import audit_for_customer

    settings = command_settings()
    rows = run_command(with_db(settings, lambda sm: audit_for_customer(sm, customer, limit)))
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
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

    from journeys_app.store.audit import purge_audit

    settings = command_settings()
    days = settings.audit_retention_days if older_than_days is None else older_than_days
    if days < 0:
        fail("--older-than-days must be 0 or more")
    deleted = run_command(with_db(settings, lambda sm: purge_audit(sm, timedelta(days=days))))
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
    report = run_command(
        with_service(command_settings(), lambda rt: rt.service.erase_customer(customer_id, operator))
    )
    if as_json:
        print_json(report.__dict__)
        return
    if not report.customer_found:
        err.print(f"no customer record for {customer_id}; their journey data was erased all the same")
    console.print(
        f"{customer_id} erased: {report.runs} runs, {report.messages} messages, "
        f"{report.reviews} reviews, {report.notifications} notifications, "
        f"{report.audit_entries} audit entries (an audit entry records the erasure)"
    )


@payload_keys_app.command("rotate")
def payload_keys_rotate() -> None:
    """Encrypt new payloads with a new key; the old keys stay, so every run still reads."""
    from journeys_app.core.payload_keys import PayloadKeyError, key_file, rotate_key_file

    settings = command_settings()
    try:
        key_id = rotate_key_file(settings)
    except PayloadKeyError as exc:
        fail(str(exc))
    console.print(
        f"new payload key {key_id} in {key_file(settings)}; restart every worker, gateway and console "
        "so they encrypt with it (all of them must share that file)"
    )
