"""In-process vLLM on a GPU: `AsyncLLM` batches concurrent activities continuously.

vLLM pins its own CUDA build of torch, so it is not part of the CPU install: on a GPU host,
`pip install vllm` into the inference worker's environment and set JOURNEYS_INFERENCE_BACKEND=vllm.
Structured output uses `SamplingParams(structured_outputs=StructuredOutputsParams(json=...))`;
automatic prefix caching keeps the fixed taxonomy / brand system prompts in the KV cache.
Request building is pure and unit-tested without vLLM installed.
"""

from __future__ import annotations

import uuid
from typing import Any

from inference_worker.backends.errors import BackendResponseError, BackendUnavailable
from inference_worker.backends.llm import ChatOutput, LLMBackend, TokenLogprob
from journeys_app.core.settings import Settings


def engine_args(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `AsyncEngineArgs`."""
    return {
        "model": settings.vllm_model,
        "gpu_memory_utilization": settings.vllm_gpu_memory_utilization,
        "max_model_len": settings.vllm_max_model_len,
        "enable_prefix_caching": True,
    }


def sampling_kwargs(
    *, schema: dict[str, Any] | None, temperature: float, seed: int, max_tokens: int, logprobs: bool
) -> dict[str, Any]:
    """Keyword arguments for `SamplingParams`; `structured_outputs` holds StructuredOutputsParams'."""
    kwargs: dict[str, Any] = {"temperature": temperature, "seed": seed, "max_tokens": max_tokens}
    if schema is not None:
        kwargs["structured_outputs"] = {"json": schema}
    if logprobs:
        kwargs["logprobs"] = 1  # the sampled token's own logprob (plus its top-1)
    return kwargs


def chat_output(request_output: Any) -> ChatOutput:
    """Text, tokens and the sampled tokens' logprobs from a finished `RequestOutput`."""
    if not request_output.outputs:
        raise BackendResponseError("vLLM returned no completion")
    completion = request_output.outputs[0]
    logprobs: list[TokenLogprob] = []
    for token_id, alternatives in zip(completion.token_ids, completion.logprobs or [], strict=False):
        chosen = alternatives.get(token_id)
        if chosen is not None:
            logprobs.append(TokenLogprob(chosen.decoded_token or "", chosen.logprob))
    prompt_tokens = len(request_output.prompt_token_ids or [])
    return ChatOutput(
        text=completion.text, tokens=prompt_tokens + len(completion.token_ids), logprobs=tuple(logprobs)
    )


class VLLMBackend(LLMBackend):
    name = "vllm"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, model_id=settings.vllm_model)
        self._engine: Any = None
        self._tokenizer: Any = None

    async def load(self) -> None:
        if self._engine is not None:
            return
        try:
            from vllm.engine.arg_utils import AsyncEngineArgs
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError as exc:
            raise RuntimeError(
                "JOURNEYS_INFERENCE_BACKEND=vllm needs vLLM on a GPU host: pip install vllm"
            ) from exc
        self._engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**engine_args(self.settings)))
        self._tokenizer = await self._engine.get_tokenizer()

    async def aclose(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        max_tokens: int = 256,
        logprobs: bool = False,
    ) -> ChatOutput:
        if self._engine is None:
            raise RuntimeError("VLLMBackend is not loaded: call `await backend.load()` first")
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind, StructuredOutputsParams

        kwargs = sampling_kwargs(
            schema=schema, temperature=temperature, seed=seed, max_tokens=max_tokens, logprobs=logprobs
        )
        if "structured_outputs" in kwargs:
            kwargs["structured_outputs"] = StructuredOutputsParams(**kwargs["structured_outputs"])
        params = SamplingParams(**kwargs, output_kind=RequestOutputKind.FINAL_ONLY)
        prompt = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        final = None
        try:
            async for output in self._engine.generate(prompt, params, request_id=uuid.uuid4().hex):
                final = output
        except Exception as exc:  # EngineDeadError, EngineGenerateError: the GPU side is gone
            raise BackendUnavailable(f"vLLM: {exc}") from exc
        if final is None:
            raise BackendResponseError("vLLM finished without output")
        return chat_output(final)
