"""The gateway answers as its OpenAPI document says: schemathesis fuzzes the live gateway, with a
valid key, from the document the gateway serves. No 5xx, and every answer (status, content type,
headers, body) is one the document lists.

Path ids and customers are drawn, most of the time, from real journeys, runs, reviews and
customers, so the cases reach the routes' logic instead of stopping at a 404.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from journeys_app.edges.http_server import serve_gateway
from journeys_app.store.api_keys import create_key
from journeys_app.store.reviewers import add_reviewer
from tests.gateway.conftest import Gateway, pending_review

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def config(**dictionaries: list[str]) -> str:
    """schemathesis.toml: real identifiers for 80 % of the path ids and half the user ids."""
    lines = []
    for name, values in dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += [
        "[parameters]",
        '"path.journey_id" = { dictionary = "journeys", probability = 0.8 }',
        '"path.workflow_id" = { dictionary = "runs", probability = 0.8 }',
        '"path.review_id" = { dictionary = "reviews", probability = 0.8 }',
        '"body.userId" = { dictionary = "customers", probability = 0.5 }',
    ]
    return "\n".join(lines) + "\n"


async def test_gateway_answers_as_its_openapi_document_says(gw: Gateway, tmp_path: Path) -> None:
    await add_reviewer(gw.sessionmaker, "fuzz-desk", ["vip-care", "support"])
    key = await create_key(gw.sessionmaker, "fuzz", ["ingest", "decide", "read", "review"], "fuzz-desk")
    reviews = [await pending_review(gw) for _ in range(2)]
    (tmp_path / "schemathesis.toml").write_text(
        config(
            journeys=sorted(gw.service.catalog),
            runs=[workflow_id for workflow_id, _ in reviews],
            reviews=[review_id for _, review_id in reviews],
            customers=["cust-ava", "cust-ben"],
        )
    )
    # The fuzzer sends hundreds of requests a minute: the rate limit has its own tests.
    settings = gw.settings.model_copy(update={"gateway_port": 0, "gateway_rate_per_minute": 1_000_000})
    async with serve_gateway(gw.service, settings) as url:
        fuzz = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("schemathesis")),
            "--no-color",
            "run",
            f"{url}/openapi.json",
            f"--header=Authorization: Bearer {key}",
            f"--checks={CHECKS}",
            "--phases=examples,coverage,fuzzing",
            "--max-examples=30",
            "--seed=12",  # the same cases on every run, so a failure reproduces
            "--workers=1",
            "--request-timeout=40",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        output, _ = await asyncio.wait_for(fuzz.communicate(), timeout=600)
    report = output.decode(errors="replace")
    assert fuzz.returncode == 0, report[-8000:]
    assert "12 passed" in report and "generated" in report, report[-3000:]
