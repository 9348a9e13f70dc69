"""`journeys test`: the shipped journeys' cases pass, a broken journey fails the case that covers
it with a message naming the step, a broken case file is a clear error, and the JUnit XML parses."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from journeys_app.core.settings import PROJECT_ROOT
from tests.cli import journeys

pytestmark = pytest.mark.slow


def _journeys_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "journeys"
    shutil.copytree(PROJECT_ROOT / "journeys", folder)
    return folder


def test_the_shipped_cases_pass_cover_every_branch_and_write_junit_xml(tmp_path: Path):
    report = tmp_path / "junit.xml"
    done = journeys(
        "test",
        str(PROJECT_ROOT / "journeys"),
        "--coverage",
        "--json",
        "--junit-xml",
        str(report),
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert all(case["passed"] for case in result["cases"])
    for journey in result["coverage"]:
        assert journey["complete"], journey  # every step, branch case, split arm and wait outcome
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests", "0")) == len(result["cases"]) >= 29
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    journeys_covered = {case.get("classname") for case in suite.iter("testcase")}
    assert journeys_covered == {
        "abandoned_cart",
        "complaint_routing",
        "dormant_reengagement",
        "vip_escalation",
    }


@pytest.mark.parametrize(
    ("journey", "old", "new", "case", "message"),
    [
        (  # a wrong branch target: a resolved ticket is escalated anyway
            "vip_escalation",
            "on_event: { goto: resolved }",
            "on_event: { goto: escalate_to_leads }",
            "unreviewed_ack_escalates_then_goes_out",
            "path differs at step 10: expected 'resolved', the run went to 'escalate_to_leads'",
        ),
        (  # a changed delay: the reply now comes after the wait timed out
            "complaint_routing",
            "timeout: 48h",
            "timeout: 4h",
            "vip_complaint_approved_and_answered",
            "path differs at step 9: expected 'resolved', the run went to 'follow_up_call'",
        ),
    ],
)
def test_a_broken_journey_fails_its_case_naming_the_step(
    tmp_path: Path, journey: str, old: str, new: str, case: str, message: str
):
    folder = _journeys_copy(tmp_path)
    path = folder / f"{journey}.yaml"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    done = journeys(
        "test",
        str(folder / "tests" / journey / f"{case}.yaml"),
        env={"JOURNEYS_JOURNEYS_DIR": str(folder)},
        timeout=120,
    )
    assert done.returncode == 1 and "✗" in done.stdout
    assert message in done.stdout, done.stdout


def test_a_removed_review_fails_the_case_that_expects_it(tmp_path: Path):
    folder = _journeys_copy(tmp_path)
    journey = folder / "vip_escalation.yaml"
    text = journey.read_text()
    start, end = text.index("  - id: review\n"), text.index("  - id: send_acknowledgement\n")
    journey.write_text(text[:start] + text[end:])
    done = journeys(
        "test",
        str(folder / "tests" / "vip_escalation" / "unreviewed_ack_escalates_then_goes_out.yaml"),
        env={"JOURNEYS_JOURNEYS_DIR": str(folder)},
        timeout=120,
    )
    assert done.returncode == 1
    assert "no review at step 'review'" in done.stdout, done.stdout


def test_a_case_file_with_mistakes_says_where_and_how_to_fix_them(tmp_path: Path):
    case = tmp_path / "complaint_routing" / "bad.yaml"
    case.parent.mkdir()
    case.write_text(
        "customer: cust-ava\n"
        "trigger: { event: message_received }\n"
        "timeline:\n"
        "  - { after: soon, event: customer_replied }\n"
        "expect: { outcome: routed, mesages: [] }\n"
    )
    done = journeys("test", str(tmp_path), timeout=60)
    assert done.returncode == 1
    lines = done.stderr.replace("\n    ", " ")
    assert f"{case}:4: 'timeline[0].after': 'soon' is not a duration" in lines, done.stderr
    assert f"{case}:5: unknown field 'expect.mesages'; remove it or check its spelling" in lines, done.stderr


def test_simulate_prints_one_dry_run_as_a_timeline():
    done = journeys(
        "simulate",
        "abandoned_cart",
        "--customer",
        "cust-chloe",
        "-p",
        "cart_id=c-9",
        "--at",
        "19:00",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("trigger at ") and "19:00 (Europe/Paris): cart_abandoned" in lines[0]
    assert any("wait_purchase" in line and "no event; gave up after 4h" in line for line in lines), (
        done.stdout
    )
    held = [line for line in lines if "send_reminder" in line and "held by quiet hours until 08:00" in line]
    assert held, done.stdout
    assert any(line.startswith("  would send email") for line in lines)
    unknown = journeys("simulate", "no_such_journey", "--customer", "cust-ava", timeout=60)
    assert unknown.returncode == 1 and "no journey 'no_such_journey'" in unknown.stderr
