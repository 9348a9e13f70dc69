"""What every command shares: settings, running a coroutine with clear errors, JSON output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from journeys_app.core.heap import freeze_startup_heap
from journeys_app.core.settings import Settings, get_settings
from journeys_app.core.telemetry import setup_logging

T = TypeVar("T")

app = typer.Typer(
    help="Durable customer journeys on Temporal: validate, run, watch and review them.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()
err = Console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def command_settings() -> Settings:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    try:
        settings = get_settings()
    except SettingsError as exc:  # a value the environment holds is not JSON where JSON is needed
        fail(f"{exc}: check that environment variable (docs/operations.md, Settings)")
    except ValidationError as exc:
        problems = "; ".join(f"JOURNEYS_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        fail(f"invalid settings: {problems}")
    setup_logging(settings)
    return settings


def run_command(coro: Awaitable[T]) -> T:
    """Run a command's coroutine; expected failures become one clear line and exit code 1."""
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    from journeys_app.core.payload_keys import PayloadKeyError
    from journeys_app.core.temporal import TemporalSettingsError, TemporalUnreachable
    from journeys_app.devtools.stack import StackError
    from journeys_app.service.journey_service import (
        EntryKeyError,
        JourneyNotFound,
        ReviewClosed,
        ReviewNotFound,
        ReviewRefused,
        TriggerFilterError,
    )
    from journeys_app.store.api_keys import ApiKeyError
    from journeys_app.store.reviewers import ReviewerError
    from workflows.validation import SpecError

    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except WorkflowUpdateFailedError as exc:  # e.g. a stale or duplicate review decision
        fail(str(exc.cause).removeprefix("ValueError: ") if exc.cause else str(exc))
    except RPCError as exc:
        fail(f"Temporal said: {exc.message} (is `journeys up` running, or TEMPORAL_ADDRESS set?)")
    except (
        EntryKeyError,
        TriggerFilterError,
        JourneyNotFound,
        ReviewClosed,
        ReviewNotFound,
        ReviewRefused,
        ReviewerError,
        ApiKeyError,
        SpecError,
        StackError,
        TemporalUnreachable,
        TemporalSettingsError,
        PayloadKeyError,
    ) as exc:
        fail(str(exc).strip("'\""))
    raise AssertionError("unreachable")


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


@contextmanager
def json_output(as_json: bool) -> Iterator[Console]:
    """The console a long command prints its result to. With --json, stdout must hold only the
    JSON, but Temporal's core writes its own warnings straight to file descriptor 1; so, while the
    command runs, fd 1 points at stderr and the JSON goes to the real stdout through this console."""
    if not as_json:
        yield console
        return
    sys.stdout.flush()
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        yield Console(file=real_stdout)
    finally:
        sys.stdout.flush()
        real_stdout.flush()
        os.dup2(real_stdout.fileno(), 1)
        real_stdout.close()


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


async def until_stopped() -> None:
    """Wait for Ctrl-C or SIGTERM, so `up` and the workers shut down cleanly."""
    freeze_startup_heap()  # started: what is allocated now lives as long as the process
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:  # a second Ctrl-C interrupts a shutdown that hangs
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def with_service(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from journeys_app.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        return await action(runtime)


def new_message_id(given: str | None) -> str:
    """A person typing the command twice means two messages; the MA passes its own id to dedupe."""
    return given or f"cli-{uuid.uuid4().hex[:12]}"


def parse_properties(props: list[str], text: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in props:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--prop takes key=value, got {item!r}")
        out[key] = value
    if text is not None:
        out["text"] = text
    return out


async def with_db(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from journeys_app.store.engine import open_database

    async with open_database(settings) as (_, sessionmaker):
        return await action(sessionmaker)
