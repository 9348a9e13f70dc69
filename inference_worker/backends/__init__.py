"""Inference backends: where intent, score and copy are computed (local CPU models by default)."""

from __future__ import annotations

from typing import Protocol

from inference_worker.contracts import CopyRequest, CopyResult, IntentResult, ScoreRequest, ScoreResult


class InferenceBackend(Protocol):
    """What the activities need from a backend; vLLM / OpenAI-compatible backends implement the same."""

    name: str

    async def load(self) -> None:
        """Load models once; idempotent."""
        ...

    async def aclose(self) -> None: ...

    async def classify(self, text: str) -> IntentResult: ...

    async def classify_many(self, texts: list[str]) -> list[IntentResult]: ...

    async def score(self, request: ScoreRequest) -> ScoreResult: ...

    async def generate_copy(self, request: CopyRequest) -> CopyResult: ...
