"""The workflow sandbox for JourneyWorkflow.

Jinja2 imports parts of itself lazily (and makes locks at import), so it and its helpers are passed
through: they are deterministic, and expressions are compiled the same on every replay.
"""

from __future__ import annotations

from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH = ("jinja2", "markupsafe", "pydantic", "pydantic_core", "yaml")


def journey_workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    )
