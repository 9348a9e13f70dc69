"""A test run's results: one line per case for people, JSON for tools, JUnit XML for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from journeys_app.journey_tests.runner import CaseOutcome


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
