"""The workflow sandbox for JourneyWorkflow.

Jinja2 imports parts of itself lazily (and makes locks at import), so it and its helpers are passed
through: they are deterministic, and expressions are compiled the same on every replay.

The sandbox executes the workflow modules anew for every run it starts. Under
PYTHONDONTWRITEBYTECODE (common in container images) Python would compile them from source each
time, so the runner writes their bytecode once, at worker start.
"""

from __future__ import annotations

import functools
import py_compile
import sys
from pathlib import Path

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH = ("jinja2", "markupsafe", "pydantic", "pydantic_core", "yaml")


def precompile(*sources: Path) -> None:
    """Write the bytecode of these modules if Python would not (a read-only tree is left as it is)."""
    if not sys.dont_write_bytecode:
        return
    for source in sources:
        try:
            py_compile.compile(str(source), doraise=True)
        except (OSError, py_compile.PyCompileError):
            continue


@functools.cache
def _precompile_workflows() -> None:
    precompile(*Path(__file__).parent.glob("*.py"))


def journey_workflow_runner() -> SandboxedWorkflowRunner:
    _precompile_workflows()  # once per process, however many workers it starts
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
