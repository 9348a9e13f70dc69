"""The operator's path (docs/operations.md): the journey worker, the inference worker and the gateway
as separate processes against one Temporal server and PostgreSQL, with console traces and
Prometheus metrics, an event in through the gateway, and a clean stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.test_demo import free_port
from tests.pg import fresh_database
from workflows.journey import JourneyWorkflow

pytestmark = [pytest.mark.models, pytest.mark.slow, pytest.mark.postgres]


@dataclass
class Process:
    """A `journeys` command running in the background, its output collected line by line."""

    name: str
    popen: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:  # type: ignore[union-attr]
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.popen.poll() is not None:
                    break
                continue
            self.output.append(line)
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"{self.name}: no {pattern!r} in:\n{''.join(self.output)[-3000:]}")

    def stop(self) -> int:
        """Ctrl-C, as an operator stops it; the rest of its output is kept."""
        self.popen.send_signal(signal.SIGINT)
        code = self.popen.wait(timeout=60)
        time.sleep(0.2)  # let the reader thread drain the pipe
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return code


@pytest.fixture
def processes(dev_server: WorkflowEnvironment, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with fresh_database() as url:
        tag = tmp_path.name[-8:]
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": dev_server.client.service_client.config.target_host,
            "DATABASE_URL": url,
            "JOURNEYS_STATE_DIR": str(tmp_path),
            "JOURNEYS_JOURNEY_TASK_QUEUE": f"ops-journeys-{tag}",
            "JOURNEYS_INFERENCE_TASK_QUEUE": f"ops-inference-{tag}",
            "JOURNEYS_TRACING": "console",
            "COLUMNS": "400",
        }
        started: list[Process] = []

        def start(name: str, *args: str, **extra: str) -> Process:
            popen = subprocess.Popen(
                [sys.executable, "-m", "journeys_app.edges.cli", *args],
                env={**env, **extra},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            started.append(Process(name, popen))
            return started[-1]

        try:
            yield {"start": start, "env": env}
        finally:
            for process in started:
                if process.popen.poll() is None:
                    process.popen.kill()
                    process.popen.wait()


async def test_workers_and_gateway_as_separate_processes_on_postgresql(
    processes: dict[str, Any], dev_server: WorkflowEnvironment
) -> None:
    start, env = processes["start"], processes["env"]
    created_key = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "journeys_app.edges.cli",
            "keys",
            "create",
            "--name",
            "ops",
            "--scopes",
            "ingest",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    key = created_key.stdout.split()[-1]

    metrics = f"127.0.0.1:{free_port()}"
    journey_worker = start("worker", "worker")
    inference = start("inference-worker", "inference-worker", JOURNEYS_METRICS_BIND=metrics)
    gateway = start("gateway", "gateway", JOURNEYS_GATEWAY_PORT=str(free_port()))
    await asyncio.to_thread(journey_worker.wait_for, r"journey worker on queue")
    await asyncio.to_thread(inference.wait_for, r"inference worker on queue")
    url = (await asyncio.to_thread(gateway.wait_for, r"gateway at (http://\S+) ")).group(1)

    async with httpx.AsyncClient(base_url=url, auth=(key, ""), timeout=60) as ma:
        created = await ma.post(
            "/v1/identify",
            json={"userId": "ops-1", "traits": {"firstName": "Olga", "email": "olga@example.com"}},
        )
        assert created.status_code == 200, created.text
        sent = await ma.post(
            "/v1/track",
            json={
                "userId": "ops-1",
                "event": "message_received",
                "messageId": "ops-msg-1",
                "properties": {"text": "Do you ship to Norway, and how long does it take?"},
            },
        )
        assert sent.status_code == 200, sent.text
    (workflow_id,) = sent.json()["results"][0]["started"]
    handle = dev_server.client.get_workflow_handle_for(JourneyWorkflow.run, workflow_id)
    async with asyncio.timeout(120):
        result = await handle.result()
    assert result.status == "completed", result

    # Metrics: Temporal's worker metrics and our own, on the port the operator chose.
    async with httpx.AsyncClient(timeout=10) as web:
        scraped = (await web.get(f"http://{metrics}/metrics")).text
    assert "journeys_inference_results" in scraped and "temporal_activity_execution_latency" in scraped

    for process in (gateway, inference, journey_worker):
        assert await asyncio.to_thread(process.stop) == 0, "".join(process.output)[-2000:]
    # Traces: spans of the workflow in the journey worker, of the model calls in the inference worker.
    assert '"name": "RunWorkflow:JourneyWorkflow"' in "".join(journey_worker.output)
    # complaint routing reads and scores the message in one call
    assert '"name": "RunActivity:classify_intent_and_score"' in "".join(inference.output)
