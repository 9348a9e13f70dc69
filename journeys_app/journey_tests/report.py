"""A test run's results: one line per case for people, JSON for tools, JUnit XML for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from journeys_app.journey_tests.coverage import Coverage, coverage_of
from journeys_app.journey_tests.runner import CaseOutcome
from workflows.validation import LoadedJourney


def as_json(outcomes: list[CaseOutcome]) -> list[dict[str, Any]]:
    return [
        {
            "case": o.case.name,
            "journey": o.case.journey,
            "file": str(o.case.file),
            "passed": o.passed,
            "failures": o.failures,
            "error": o.error,
            "path": o.actual.path if o.actual else None,
            "status": o.actual.status if o.actual else None,
            "outcome": o.actual.outcome if o.actual else None,
            "seconds": round(o.seconds, 2),
        }
        for o in outcomes
    ]


def write_junit(outcomes: list[CaseOutcome], path: Path) -> None:
    failed = sum(1 for o in outcomes if o.failures and o.error is None)
    errors = sum(1 for o in outcomes if o.error is not None)
    suite = ET.Element(
        "testsuite",
        name="journeys",
        tests=str(len(outcomes)),
        failures=str(failed),
        errors=str(errors),
        time=f"{sum(o.seconds for o in outcomes):.3f}",
    )
    for o in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=o.case.journey,
            name=o.case.name,
            file=str(o.case.file),
            time=f"{o.seconds:.3f}",
        )
        if o.error is not None:
            ET.SubElement(case, "error", message=o.error).text = o.error
        elif o.failures:
            ET.SubElement(case, "failure", message=o.failures[0]).text = "\n".join(o.failures)
    root = ET.Element("testsuites")
    root.append(suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def case_lines(outcomes: list[CaseOutcome]) -> list[str]:
    lines = []
    for o in outcomes:
        mark = "[green]✓[/green]" if o.passed else "[red]✗[/red]"
        lines.append(f"{mark} {o.case.journey}: {o.case.name} ({o.seconds:.1f}s)")
        lines += [f"    {line}" for line in ([o.error] if o.error else []) + o.failures]
    return lines


def coverage_by_journey(outcomes: list[CaseOutcome], catalog: dict[str, LoadedJourney]) -> list[Coverage]:
    tested = sorted({o.case.journey for o in outcomes} & set(catalog))
    return [
        coverage_of(catalog[j].spec, (o.actual.visits for o in outcomes if o.case.journey == j and o.actual))
        for j in tested
    ]


def coverage_lines(covered: list[Coverage]) -> list[str]:
    lines = []
    for c in covered:
        steps = f"{len(c.steps) - len(c.missing_steps)} of {len(c.steps)} steps"
        branches = f"{len(c.branches) - len(c.missing_branches)} of {len(c.branches)} branches"
        lines.append(
            f"{'[green]✓[/green]' if c.complete else '[yellow]![/yellow]'} {c.journey}: {steps}, {branches}"
        )
        lines += [f"    no case takes step {s}" for s in c.missing_steps]
        lines += [f"    no case takes {b}" for b in c.missing_branches]
    return lines
