"""`journeys report`: how a journey performs, for marketers: funnel, goal, messages, reviews and
the result of every split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    console,
    fail,
    print_json,
    run_command,
    with_db,
)
from journeys_app.service.experiments import ArmResult, Comparison, chance
from journeys_app.service.report import (
    JourneyReport,
    VersionReport,
    WindowError,
    journey_report,
    parse_moment,
)
from journeys_app.store.schema import utcnow


@app.command("report")
def report(
    journey: Annotated[str, typer.Argument(help="The journey's id, e.g. abandoned_cart.")],
    since: Annotated[
        str, typer.Option(help="Runs started since: a duration before now (30d, 12h), a date, or all.")
    ] = "30d",
    until: Annotated[str | None, typer.Option(help="Runs started before this time (default: now).")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Also draw the funnel and the splits' results: a .png or .svg file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """A journey's results: entered, per-step funnel, exits, goal conversions, messages, reviews,
    degraded model calls, and each split's arms with 95 % intervals and a verdict."""
    from journeys_app.service.catalog import load_catalog

    settings = command_settings()
    if chart is not None and chart.suffix.lower() not in (".png", ".svg"):
        fail(f"--chart {chart}: the file must end in .png or .svg")
    now = utcnow()
    try:
        start, end = parse_moment(since, now), parse_moment(until, now) if until else None
    except WindowError as exc:
        fail(str(exc))
    catalog = load_catalog(settings)
    loaded = catalog.get(journey)
    spec = loaded.spec if loaded else None
    result = run_command(
        with_db(settings, lambda sm: journey_report(sm, journey, spec, since=start, until=end))
    )
    if loaded is None and not result.versions:
        known = ", ".join(sorted(catalog))
        fail(f"no journey '{journey}' here and no runs of it in the store; the journeys are: {known}")
    if chart is not None:
        from journeys_app.service.funnel_chart import chart as draw

        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_bytes(draw(result, "svg" if chart.suffix.lower() == ".svg" else "png"))
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    _print(result)
    if chart is not None:
        console.print(f"chart: {chart}")


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{100 * low:.1f}–{100 * high:.1f}"


def _print(result: JourneyReport) -> None:
    window = f"{result.since:%Y-%m-%d %H:%M}" if result.since else "the first run"
    console.print(
        f"[bold]{result.journey_id}[/bold]: runs started from {window} to {result.until:%Y-%m-%d %H:%M} UTC"
    )
    if not result.versions:
        console.print("no runs in this window")
        return
    for version in result.versions:
        _print_version(version)


def _print_version(v: VersionReport) -> None:
    console.print(
        f"\n[bold]version {v.version}[/bold]: {v.entered} entered · {v.running} running · "
        f"{v.completed} completed · {v.exited} exited · {v.failed} failed"
    )
    if v.goal is not None:
        console.print(
            f"goal {v.goal.event} within {v.goal.within}: {v.goal.converted} of {v.goal.runs} converted "
            f"({_pct(v.goal.rate)}, 95 % {_interval(v.goal.rate_low, v.goal.rate_high)} %)"
        )
    funnel = Table(
        "step", "type", "reached", "of entered", "completed", "failed", "waiting now", title="Funnel"
    )
    for s in v.steps:
        share = _pct(s.reached / v.entered, 0) if v.entered else "–"
        funnel.add_row(
            s.step_id, s.type, str(s.reached), share, str(s.completed), str(s.failed), str(s.waiting)
        )
    console.print(funnel)
    if v.outcomes:
        outcomes = Table("outcome", "runs", title="Exits")
        for name, n in v.outcomes.items():
            outcomes.add_row(name, str(n))
        console.print(outcomes)
    sent = {k: n for k, n in v.messages.items() if n}
    console.print("messages: " + (", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sent.items()) or "none"))
    if v.reviews:
        reviews = Table("review status", "count", "mean minutes to decision", title="Reviews")
        for r in v.reviews:
            mean = "–" if r.mean_minutes_to_decision is None else f"{r.mean_minutes_to_decision:.1f}"
            reviews.add_row(r.status, str(r.count), mean)
        console.print(reviews)
    if v.model_calls:
        console.print(
            f"model calls: {v.model_calls}, answered by rules or preset copy: {v.degraded_calls} "
            f"({_pct(v.degraded_share)})"
        )
    for comparison in v.experiments:
        _print_experiment(comparison)


def _arm_row(arm: ArmResult, holdout: bool) -> list[str]:
    role = " (holdout)" if arm.control and holdout else " (control)" if arm.control else ""
    versus = (
        ""
        if arm.difference is None
        else f"{100 * arm.difference:+.1f} ({_interval(arm.difference_low, arm.difference_high)})"
    )
    return [
        arm.name + role,
        str(arm.entered),
        str(arm.converted),
        f"{_pct(arm.rate)} ({_interval(arm.rate_low, arm.rate_high)})",
        versus,
        "" if arm.p_value is None else f"{arm.p_value:.3g}",
        "" if arm.probability_to_beat_control is None else chance(arm.probability_to_beat_control),
    ]


def _print_experiment(c: Comparison) -> None:
    table = Table(
        Column("arm", no_wrap=True),
        "entered",
        "converted",
        "rate (95 %)",
        "points vs control (95 %)",
        "p",
        "P(beats control)",
        title=f"Split {c.step_id}",
    )
    for arm in c.arms:
        table.add_row(*_arm_row(arm, c.holdout))
    if c.uplift is not None:
        table.add_row(*_arm_row(c.uplift, c.holdout), style="bold")
    console.print(table)
    console.print(f"verdict: {c.verdict}")
