"""Reviews of generated copy, and the reviewer accounts that decide them."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    console,
    fail,
    print_json,
    run_command,
    with_db,
    with_service,
)

review_app = typer.Typer(help="See and decide pending reviews of generated copy.", no_args_is_help=True)
app.add_typer(review_app, name="review")
reviewers_app = typer.Typer(help="Reviewer accounts and the groups they decide for.", no_args_is_help=True)
app.add_typer(reviewers_app, name="reviewers")


@review_app.command("list")
def review_list(
    group: Annotated[str | None, typer.Option(help="Only this reviewer group.")] = None,
    reviewer: Annotated[str | None, typer.Option(help="Only the groups this reviewer decides for.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pending reviews, earliest deadline first."""
    from journeys_app.store import queries
    from journeys_app.store.reviewers import ReviewerError, get_reviewer

    async def pending(sm: Any) -> list[Any]:
        if reviewer is None:
            return await queries.pending_reviews(sm, group)
        account = await get_reviewer(sm, reviewer)
        if account is None:
            raise ReviewerError(f"no reviewer account {reviewer!r}")
        return await queries.pending_reviews(sm, group, within=account.groups)

    rows = run_command(with_db(command_settings(), pending))
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
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
    from journeys_app.service.review_context import load_review_context

    context = run_command(
        with_service(command_settings(), lambda rt: load_review_context(rt.service, review_id))
    )
    if as_json:
        print_json(context.model_dump(mode="json"))
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
    ack = run_command(with_service(command_settings(), lambda rt: rt.service.review(decision)))
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
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A group this reviewer decides for (repeat).")
    ] = None,
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="reports: may read journey reports in the console (repeat for more)."),
    ] = None,
) -> None:
    """Create a console account (a reviewer, a report reader, or both); prints its password once
    (only a hash is stored)."""
    from journeys_app.store.reviewers import add_reviewer

    groups, roles = group or [], role or []
    password = run_command(with_db(command_settings(), lambda sm: add_reviewer(sm, name, groups, roles)))
    can = [f"decide for {', '.join(sorted(set(groups)))}"] if groups else []
    can += ["read journey reports"] if "reports" in roles else []
    console.print(f"reviewer {name!r} can {' and '.join(can)}.")
    console.print(f"password (shown once, pass it on privately): {password}", highlight=False)


@reviewers_app.command("list")
def reviewers_list(as_json: JsonOpt = False) -> None:
    """Reviewer accounts and their groups."""
    from journeys_app.store.reviewers import list_reviewers

    accounts = run_command(with_db(command_settings(), list_reviewers))
    if as_json:
        print_json([a.model_dump() for a in accounts])
        return
    table = Table("reviewer", "groups", "roles")
    for account in accounts:
        table.add_row(account.name, ", ".join(account.groups), ", ".join(account.roles))
    console.print(table)


@reviewers_app.command("remove")
def reviewers_remove(name: str) -> None:
    """Delete a reviewer account; their past decisions stay in the audit trail."""
    from journeys_app.store.reviewers import remove_reviewer

    if not run_command(with_db(command_settings(), lambda sm: remove_reviewer(sm, name))):
        fail(f"no reviewer account {name!r}")
    console.print(f"reviewer {name!r} removed")
