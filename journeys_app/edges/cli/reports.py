"""`journeys report`: how a journey performs, for marketers: funnel, goal, messages, reviews and
the result of every split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
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
    parse_window,
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
        start, end = parse_window(since, until, now)
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


TABLE_WIDTH = 130  # step ids and intervals are never cut; a narrow terminal wraps the lines


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else f"{100 * low:.1f}–{100 * high:.1f}"


def _rate(rate: float | None, low: float | None, high: float | None) -> str:
    return "–" if rate is None else f"{_pct(rate)} ({_interval(low, high)})"


def _print(result: JourneyReport) -> None:
    window = f"{result.since:%Y-%m-%d %H:%M}" if result.since else "the first run"
    console.print(
        f"[bold]{result.journey_id}[/bold]: runs started from {window} to {result.until:%Y-%m-%d %H:%M} UTC"
    )
    if not result.versions:
        console.print("no runs in this window (--since all: every run)")
        return
    out = Console(file=console.file, width=max(console.width, TABLE_WIDTH))
    for version in result.versions:
        _print_version(out, version)


def _print_version(out: Console, v: VersionReport) -> None:
    out.print(
        f"\n[bold]version {v.version}[/bold]: {v.entered} entered · {v.running} running · "
        f"{v.completed} completed · {v.exited} exited · {v.failed} failed"
    )
    if v.goal is None:
        out.print("goal: none (a journey's `goal:` makes conversions count, docs/journeys.md §8)")
    else:
        holdout = " (holdout customers included)" if any(e.holdout for e in v.experiments) else ""
        out.print(
            f"goal {v.goal.event} within {v.goal.within}: {v.goal.converted} of {v.goal.runs} converted"
            f"{holdout}: {_rate(v.goal.rate, v.goal.rate_low, v.goal.rate_high)}"
        )
    funnel = Table(
        Column("step", no_wrap=True),
        "type",
        "reached",
        "of entered",
        "completed",
        "failed",
        "waiting now",
        title="Funnel",
    )
    for s in v.steps:
        share = _pct(s.reached / v.entered, 0) if v.entered else "–"
        funnel.add_row(
            s.step_id, s.type, str(s.reached), share, str(s.completed), str(s.failed), str(s.waiting)
        )
    out.print(funnel)
    if v.outcomes:
        outcomes = Table(Column("outcome", no_wrap=True), "runs", title="Exits")
        for name, n in v.outcomes.items():
            outcomes.add_row(name, str(n))
        out.print(outcomes)
    sent = {k: n for k, n in v.messages.items() if n}
    out.print("messages: " + (", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sent.items()) or "none"))
    if v.reviews:
        reviews = Table("review status", "count", "mean minutes to decision", title="Reviews")
        for r in v.reviews:
            mean = "–" if r.mean_minutes_to_decision is None else f"{r.mean_minutes_to_decision:.1f}"
            reviews.add_row(r.status, str(r.count), mean)
        out.print(reviews)
    else:
        out.print("reviews: none")
    out.print(
        f"model calls: {v.model_calls}, answered by rules or preset copy: {v.degraded_calls} "
        f"({_pct(v.degraded_share)})"
        if v.model_calls
        else "model calls: none"
    )
    for comparison in v.experiments:
        _print_experiment(out, comparison)


def _arm_row(arm: ArmResult, holdout: bool) -> list[str]:
    role = " (holdout)" if arm.control and holdout else " (control)" if arm.control else ""
    versus = (
        ""
        if arm.difference is None
        else f"{100 * arm.difference:+.1f} ({_interval(arm.difference_low, arm.difference_high)})"
    )
    return [
        arm.name + ("" if arm.name == "holdout" and role == " (holdout)" else role),
        str(arm.entered),
        str(arm.converted),
        _rate(arm.rate, arm.rate_low, arm.rate_high),
        versus,
        "" if arm.p_value is None else f"{arm.p_value:.3g}",
        "" if arm.probability_to_beat_control is None else chance(arm.probability_to_beat_control),
    ]


def _print_experiment(out: Console, c: Comparison) -> None:
    table = Table(
        Column("arm", no_wrap=True),
        "entered",
        "converted",
        "rate (95 %)",
        f"points vs {'holdout' if c.holdout else 'control'} (95 %)",
        "p",
        "P(beats control)",
        title=f"Split {c.step_id}",
    )
    for arm in c.arms:
        table.add_row(*_arm_row(arm, c.holdout))
    if c.uplift is not None:
        table.add_row(*_arm_row(c.uplift, c.holdout), style="bold")
    out.print(table)
    out.print(f"verdict: {c.verdict}")
