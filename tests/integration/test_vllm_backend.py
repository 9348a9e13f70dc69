"""The vllm backend on a real GPU: intent, score and copy through vLLM's AsyncLLM.

Runs only where vLLM imports and CUDA is available (`make gpu-check` on a GPU host); the model is
JOURNEYS_VLLM_MODEL, a Hugging Face id in the local cache or a local folder (GPU hosts here have no
internet). Everywhere else it skips and says why.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from inference_worker.contracts import CopyRequest, ScoreRequest
from journeys_app.core.settings import Settings

pytestmark = pytest.mark.models


def _gpu_ready() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (a GPU host: pip install vllm)"
    import torch

    return None if torch.cuda.is_available() else "no CUDA device"


@pytest.fixture(scope="module")
async def vllm_backend() -> Any:
    if (why := _gpu_ready()) is not None:
        pytest.skip(why)
    from inference_worker.backends.vllm import VLLMBackend

    backend = VLLMBackend(Settings(inference_backend="vllm"))
    await backend.load()
    yield backend
    await backend.aclose()


async def test_intent_score_and_copy_on_the_gpu(vllm_backend: Any) -> None:
    messages = {
        "My parcel arrived broken, third time! I'm furious.": "complaint",
        "Please unsubscribe me from all your emails.": "unsubscribe",
        "我想取消订阅你们的邮件。": "unsubscribe",
    }
    results = await vllm_backend.classify_many(list(messages))
    assert [r.label for r in results] == list(messages.values()), results
    assert all(r.backend == "vllm" for r in results)
    score = await vllm_backend.score(
        ScoreRequest(customer={"tier": "vip", "attributes": {"lifetime_value": 9000}})
    )
    assert score.backend == "vllm" and 0 <= score.value <= 1
    copy = await vllm_backend.generate_copy(
        CopyRequest(
            template="email/apology",
            channel="email",
            context={"customer": {"first_name": "Ava"}, "event": {"text": "The vase arrived smashed."}},
        )
    )
    assert copy.backend == "vllm" and copy.variants[0].body.startswith("Hi Ava")
