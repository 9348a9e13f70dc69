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
    as_json: JsonOpt = False,
) -> None:
    """Run each case: the real journey on Temporal's time-skipping server, a throwaway store, the
    model's answers fixed by the case, nothing delivered. Exit code 1 if any case fails."""
    from journeys_app.journey_tests.cases import case_files, load_case
    from journeys_app.journey_tests.report import as_json as report_json
    from journeys_app.journey_tests.report import write_junit
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
        if as_json:
            out.print_json(data=report_json(outcomes))
    if junit_xml is not None:
        write_junit(outcomes, junit_xml)
    failed = sum(not o.passed for o in outcomes)
    if not as_json:
        for o in outcomes:
            mark = "[green]✓[/green]" if o.passed else "[red]✗[/red]"
            console.print(f"{mark} {o.case.journey}: {o.case.name} ({o.seconds:.1f}s)", highlight=False)
            for line in ([o.error] if o.error else []) + o.failures:
                console.print(f"    {line}", highlight=False, soft_wrap=True)
        console.print(
            f"{len(outcomes) - failed} of {len(outcomes)} case(s) passed"
            + (f", {broken} file(s) unreadable" if broken else "")
        )
    if failed or broken:
        raise typer.Exit(1)
