"""Every step type is one module, registered once, documented with an example that validates."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from workflows.steps import KINDS, STEP_TYPES, Step

DOCS = Path(__file__).resolve().parents[2] / "docs" / "journeys.md"


def _section(doc: str, step_type: str) -> str:
    match = re.search(rf"^### {re.escape(step_type)}\n(.*?)(?=^#{{2,3}} )", doc, re.S | re.M)
    assert match, f"docs/journeys.md has no '### {step_type}' section"
    return match.group(1)


@pytest.mark.parametrize("step_type", STEP_TYPES)
def test_step_type_has_a_docs_section_whose_example_validates(step_type: str) -> None:
    doc = DOCS.read_text(encoding="utf-8")
    assert f"| [`{step_type}`](#{step_type}) |" in doc, f"{step_type} is missing from the table of step types"
    example = re.search(r"```yaml\n(.*?)```", _section(doc, step_type), re.S)
    assert example, f"the '{step_type}' section has no YAML example"
    items = yaml.safe_load(example.group(1))
    assert isinstance(items, list) and items, f"the '{step_type}' example is not a list of steps"
    step = TypeAdapter(Step).validate_python(items[0])
    assert step.type == step_type


@pytest.mark.parametrize("step_type", STEP_TYPES)
def test_registry_entry_matches_its_module(step_type: str) -> None:
    kind = KINDS[step_type]
    assert kind.type == step_type
    assert inspect.iscoroutinefunction(kind.handle)
    # The step type's model, handler and registry entry live in the module named after it.
    module = inspect.getmodule(kind.model)
    assert module is not None and module.__name__.rsplit(".", 1)[-1] == step_type
    assert inspect.getmodule(kind.handle) is module


def test_an_unknown_step_type_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError) as exc:
        TypeAdapter(Step).validate_python({"id": "x", "type": "sned"})
    for step_type in STEP_TYPES:
        assert step_type in str(exc.value)
