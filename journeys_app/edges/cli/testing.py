"""`journeys test`: run journeys' test cases on the time-skipping server, as CI runs code tests."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    console,
    err,
    fail,
    json_output,
)


@app.command("test")
def test_journeys(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Case files or folders (default: journeys/tests/, one folder per journey)."),
    ] = None,
    junit_xml: Annotated[Path | None, typer.Option("--junit-xml", help="Also write JUnit XML here.")] = None,
    coverage: Annotated[
        bool, typer.Option("--coverage", help="List the steps and branches of each journey no case takes.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run each case: the real journey on Temporal's time-skipping server, a throwaway store, the
    model's answers fixed by the case, nothing delivered. Exit code 1 if any case fails."""
    from journeys_app.journey_tests.cases import case_files, load_case
    from journeys_app.journey_tests.report import as_json as report_json
    from journeys_app.journey_tests.report import case_lines, coverage_by_journey, coverage_lines, write_junit
    from journeys_app.journey_tests.runner import CaseOutcome, run_case
    from journeys_app.service.catalog import load_catalog
    from workflows.validation import SpecError

    settings = command_settings()
    files = case_files(paths or [settings.journeys_dir])
    if not files:
        fail(f"no test cases found (write them in {settings.journeys_dir / 'tests' / '<journey>'}/*.yaml)")
    cases, broken = [], 0
    for path in files:
        try:
            cases.append(load_case(path))
        except SpecError as exc:
            broken += 1
            for problem in exc.problems:
                err.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)
    try:
        catalog = load_catalog(settings)
    except SpecError as exc:
        for problem in exc.problems:
            err.print(f"[red]✗[/red] {problem}", highlight=False, soft_wrap=True)
        fail("the journeys themselves have problems: fix them first (`journeys validate`)")
    logging.getLogger().setLevel(logging.ERROR)  # the cases' own failures are the report

    async def run_all() -> list[CaseOutcome]:
        return [await run_case(case, settings, catalog) for case in cases]

    with json_output(as_json) as out:
        outcomes = asyncio.run(run_all())
        covered = coverage_by_journey(outcomes, catalog) if coverage else []
        if as_json:
            report = {"cases": report_json(outcomes)}
            if coverage:
                report["coverage"] = [c.__dict__ | {"complete": c.complete} for c in covered]
            out.print_json(data=report)
    if junit_xml is not None:
        write_junit(outcomes, junit_xml)
    failed = sum(not o.passed for o in outcomes)
    if not as_json:
        for line in case_lines(outcomes) + coverage_lines(covered):
            console.print(line, highlight=False, soft_wrap=True)
        unreadable = f", {broken} file(s) unreadable" if broken else ""
        console.print(f"{len(outcomes) - failed} of {len(outcomes)} case(s) passed{unreadable}")
    if failed or broken:
        raise typer.Exit(1)


@app.command("simulate")
def simulate(
    journey: Annotated[str, typer.Argument(help="The journey's id.")],
    customer: Annotated[str, typer.Option(help="A sample customer's id (journeys/samples/customers.yaml).")],
    event: Annotated[str | None, typer.Option(help="The trigger event (default: the journey's).")] = None,
    text: Annotated[str | None, typer.Option(help="The event's text property (a message).")] = None,
    prop: Annotated[
        list[str] | None, typer.Option("--prop", "-p", help="An event property key=value.")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="When the event arrives: HH:MM in the customer's zone.")
    ] = None,
    intent: Annotated[
        str | None, typer.Option(help="The model's intent label (default: the rules').")
    ] = None,
    score: Annotated[
        float | None, typer.Option(help="Every score's value, 0-1 (default: the rules').")
    ] = None,
) -> None:
    """One dry run of a journey for a customer, printed as a timeline: each step, when, what it did
    and what would be sent. Nothing is sent; days of waiting pass at once."""
    from journeys_app.edges.cli.common import parse_properties
    from journeys_app.journey_tests.runner import run_case
    from journeys_app.journey_tests.simulate import dry_run_case, timeline_lines
    from journeys_app.service.catalog import load_catalog

    settings = command_settings()
    catalog = load_catalog(settings)
    if journey not in catalog:
        fail(f"no journey '{journey}' (known: {', '.join(sorted(catalog))})")
    spec = catalog[journey].spec
    inference: dict[str, object] = {}
    if intent:
        inference["intent"] = {"label": intent}
    if score is not None:
        inference["score"] = score
    try:
        case = dry_run_case(
            journey, customer, event or spec.trigger.event, parse_properties(prop or [], text), at, inference
        )
    except ValueError as exc:
        fail(str(exc).splitlines()[0])
    logging.getLogger().setLevel(logging.ERROR)
    outcome = asyncio.run(run_case(case, settings, catalog))
    for line in timeline_lines(outcome, spec):
        console.print(line, highlight=False, soft_wrap=True)
    if outcome.error:
        raise typer.Exit(1)
