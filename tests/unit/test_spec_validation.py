"""Journey files are checked like code: every problem names file, line, step and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from journeys_app.core.settings import PROJECT_ROOT
from journeys_app.edges.cli import app
from journeys_app.service.catalog import template_checker
from workflows.validation import SpecError, journey_files, load_journeys, parse_journey

JOURNEYS = PROJECT_ROOT / "journeys"
SOURCE = (JOURNEYS / "complaint_routing.yaml").read_text()
templates = template_checker(PROJECT_ROOT / "templates")


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as failure:
        parse_journey(text, "journeys/complaint_routing.yaml", templates)
    return [str(p) for p in failure.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_journeys_are_valid():
    loaded = load_journeys(JOURNEYS, templates)
    assert set(loaded) == {"complaint_routing", "vip_escalation", "dormant_reengagement", "abandoned_cart"}
    assert all(len(j.spec_hash) == 16 for j in loaded.values())


def test_data_files_and_samples_are_not_journeys():
    names = {p.name for p in journey_files([JOURNEYS])}
    assert "intents.yaml" not in names and "customers.yaml" not in names


def test_missing_otherwise():
    broken = SOURCE.replace("    otherwise: to_support_queue\n", "")
    [problem] = problems(broken)
    assert problem.startswith(
        f"journeys/complaint_routing.yaml:{line_of(broken, 'id: route')}: step 'route':"
    )
    assert "'otherwise' is missing" in problem


def test_unknown_step_type_suggests_the_right_one():
    broken = SOURCE.replace("type: notify\n    target: sales", "type: notfy\n    target: sales")
    [problem] = problems(broken)
    assert f":{line_of(broken, 'id: tell_sales')}: step 'tell_sales'" in problem
    assert "did you mean 'notify'" in problem


def test_goto_to_a_missing_step():
    [problem] = problems(SOURCE.replace("goto: lookup", "goto: lookups"))
    assert "step 'route'" in problem and "'lookups', which is not a step (did you mean 'lookup'?)" in problem


def test_unknown_field_and_bad_duration():
    found = problems(
        SOURCE.replace("deadline: 4h", "deadline: 4 hours").replace(
            "    group: vip-care\n", "    group: vip-care\n    colour: red\n"
        )
    )
    assert any("step 'review': unknown field 'colour'" in p for p in found)
    assert any("step 'review_sampled': 'deadline': '4 hours' is not a duration" in p for p in found)


def test_undefined_name_in_a_condition():
    [problem] = problems(SOURCE.replace("intent.label == 'inquiry'", "intnt.label == 'inquiry'"))
    assert "unknown name 'intnt'" in problem and "did you mean 'intent'" in problem


@pytest.mark.parametrize(
    "escape",
    [
        "intent.__class__",
        "customer['__class__']",
        "event.text.__init__.__globals__",
    ],
)
def test_conditions_cannot_reach_python_internals(escape):
    [problem] = problems(SOURCE.replace("intent.label == 'inquiry'", escape))
    assert "names starting with _ are not allowed" in problem


def test_unreachable_step_and_spinning_loop():
    unreachable = SOURCE.replace("        goto: lookup\n", "        goto: to_support_queue\n")
    assert any("step 'lookup': no step leads here" in p for p in problems(unreachable))
    loop = SOURCE.replace(
        "on_low_confidence: { goto: to_support_queue }\n    next: done",
        "on_low_confidence: { goto: to_support_queue }\n    next: opt_out",
    )
    assert any("can run without waiting" in p for p in problems(loop))


def test_knowledge_base_answers_need_a_retrieve_step():
    [problem] = problems(SOURCE.replace("    knowledge: lookup\n", ""))
    assert "step 'answer'" in problem
    assert "answers from the knowledge base: give the step knowledge: <the id of a retrieve step>" in problem
    [problem] = problems(SOURCE.replace("knowledge: lookup", "knowledge: intent"))
    assert "knowledge: 'intent' must name a retrieve step" in problem
    [problem] = problems(SOURCE.replace("    on_no_answer: { goto: question_for_a_person }\n", ""))
    assert "step 'lookup'" in problem and "on_no_answer" in problem
    [problem] = problems(
        SOURCE.replace("on_no_answer: { goto: question_for_a_person }", "on_no_answer: { goto: nobody }")
    )
    assert "step 'lookup': goes to 'nobody', which is not a step" in problem
    [problem] = problems(
        SOURCE.replace('question: "{{ event.text }}"', 'question: "{{ event.txt }} {{ lookupp }}"')
    )
    assert "unknown name 'lookupp'" in problem


def test_missing_template():
    [problem] = problems(SOURCE.replace("template: email/answer", "template: email/answerz"))
    assert "step 'answer'" in problem
    assert "template 'email/answerz' not found; available: email/answer" in problem


def test_yaml_syntax_error_has_a_line():
    [problem] = problems(SOURCE.replace("  - id: value\n", "  - id: value\n   bad: [\n"))
    assert problem.startswith("journeys/complaint_routing.yaml:") and "not valid YAML" in problem


def test_cli_validate_passes_and_fails_with_file_line_and_step(tmp_path: Path):
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(JOURNEYS)])
    assert ok.exit_code == 0, ok.output
    broken = tmp_path / "complaint_routing.yaml"
    broken.write_text(SOURCE.replace("    otherwise: to_support_queue\n", ""))
    result = runner.invoke(app, ["validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken}:{line_of(broken.read_text(), 'id: route')}: step 'route'" in result.output
