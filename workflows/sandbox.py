"""The workflow sandbox for JourneyWorkflow.

Jinja2 imports parts of itself lazily (and makes locks at import), so it and its helpers are passed
through: they are deterministic, and expressions are compiled the same on every replay.

The interpreter's own module is passed through too (its imports already are): the sandbox would
execute it anew at every run's start, its decorators reading every handler's type hints, ~8 ms of
the worker's CPU per run on a 2-core VM. It keeps no state between runs; a run's state is the
workflow instance's. Modules the sandbox does execute anew (another workflow's, such as bulk
enrolment's) would be compiled from source each time under PYTHONDONTWRITEBYTECODE (common in
container images), so the runner writes their bytecode once, at worker start.
"""

from __future__ import annotations

import functools
import py_compile
import sys
from pathlib import Path

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH = ("jinja2", "markupsafe", "pydantic", "pydantic_core", "yaml", "workflows.journey")


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


def journey_workflow_runner(*also: str) -> SandboxedWorkflowRunner:
    """`also`: more workflow modules to pass through (the engine bench's hand-written baseline,
    treated as the interpreter is)."""
    _precompile_workflows()  # once per process, however many workers it starts
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH, *also)
    )
