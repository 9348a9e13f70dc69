"""Any OpenAI-compatible chat server: `vllm serve`, DeepSeek's API, llama.cpp's server.

JSON output goes through `response_format` in the dialect the server speaks: `json_schema`
(OpenAI, vLLM) or `json_object` with a `schema` (llama.cpp's server). Concurrent activities send
concurrent requests; a server with continuous batching batches them itself.
"""

from __future__ import annotations

from typing import Any

import openai

from inference_worker.backends.errors import BackendResponseError, BackendUnavailable
from inference_worker.backends.llm import ChatOutput, LLMBackend, TokenLogprob
from journeys_app.core.settings import Settings


def response_format(schema: dict[str, Any], dialect: str) -> dict[str, Any]:
    if dialect == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}


def chat_request(
    model: str,
    messages: list[dict[str, str]],
    *,
    schema: dict[str, Any] | None,
    dialect: str,
    temperature: float,
    seed: int,
    max_tokens: int,
    logprobs: bool,
) -> dict[str, Any]:
    """Keyword arguments for `client.chat.completions.create` (pure, so it is unit-tested)."""
    request: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "seed": seed,
        "max_tokens": max_tokens,
    }
    if schema is not None:
        request["response_format"] = response_format(schema, dialect)
    if logprobs:
        request["logprobs"] = True
        request["top_logprobs"] = 1  # llama.cpp's server returns none without it
    return request


def chat_output(completion: Any) -> ChatOutput:
    """Text, token count and per-token logprobs from a ChatCompletion."""
    if not completion.choices:
        raise BackendResponseError("the server returned no choices")
    choice = completion.choices[0]
    text = choice.message.content or ""
    tokens = completion.usage.total_tokens if completion.usage else 0
    content = choice.logprobs.content if choice.logprobs and choice.logprobs.content else []
    return ChatOutput(
        text=text,
        tokens=tokens,
        logprobs=tuple(TokenLogprob(t.token, t.logprob) for t in content),
    )


class OpenAIBackend(LLMBackend):
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, model_id=settings.openai_model)
        self._client: openai.AsyncOpenAI | None = None

    async def load(self) -> None:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.settings.openai_base_url,
                api_key=self.settings.openai_api_key or "unused",  # local servers ignore it
                timeout=self.settings.openai_timeout_s,
                max_retries=0,  # Temporal retries the activity; the breaker counts failures
            )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

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
        if self._client is None:
            raise RuntimeError("OpenAIBackend is not loaded: call `await backend.load()` first")
        request = chat_request(
            self.model_id,
            messages,
            schema=schema,
            dialect=self.settings.openai_response_format,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
            logprobs=logprobs,
        )
        try:
            completion = await self._client.chat.completions.create(**request)
        except (openai.APIConnectionError, openai.APITimeoutError, openai.RateLimitError) as exc:
            raise BackendUnavailable(f"{self.settings.openai_base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise BackendUnavailable(f"{self.settings.openai_base_url}: {exc}") from exc
            raise BackendResponseError(f"{self.settings.openai_base_url} refused the request: {exc}") from exc
        return chat_output(completion)
