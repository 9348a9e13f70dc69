"""The degradation chain: primary backend → fallback backend → rules / preset copy.

Each model backend sits behind its own circuit breaker, so a dead or slow backend is skipped at
once instead of costing every request a timeout. A result from anything but the first backend is
marked `degraded`, naming the backend and model that produced it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from inference_worker.backends import InferenceBackend
from inference_worker.contracts import CopyRequest, CopyResult, IntentResult, ScoreRequest, ScoreResult
from inference_worker.knowledge import KnowledgeError
from inference_worker.message_templates import CopyTemplateError
from inference_worker.rules import RulesBackend
from inference_worker.scoring import ScoringConfigError
from inference_worker.taxonomy import TaxonomyError
from journeys_app.core.settings import Settings

log = logging.getLogger(__name__)

R = TypeVar("R", IntentResult, ScoreResult, CopyResult, list[IntentResult])

# Mistakes in config files: every backend would fail the same way, so they are not degradation.
CONFIG_ERRORS = (CopyTemplateError, TaxonomyError, ScoringConfigError, KnowledgeError)

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerSettings:
    error_rate: float = 0.30  # open above this share of failed calls…
    window_s: float = 120.0  # …over this window…
    min_calls: int = 5  # …once the window holds at least this many calls
    cooldown_s: float = 30.0  # then refuse calls this long before one half-open probe


class CircuitBreaker:
    """Counts outcomes over a sliding window; open stops calls, half-open lets one probe through."""

    def __init__(self, name: str, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.settings = settings
        self._clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self.settings.cooldown_s:
            return "open"
        return "half_open"

    def allow(self) -> bool:
        """May a call go to this backend now? In half-open, only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def record(self, ok: bool) -> None:
        now = self._clock()
        if self._opened_at is not None:
            self._probing = False
            if ok:
                log.info("circuit %s closed: the probe succeeded", self.name)
                self._opened_at = None
                self._outcomes.clear()
            else:
                self._opened_at = now  # the probe failed: another full cool-down
            return
        self._outcomes.append((now, ok))
        while self._outcomes and self._outcomes[0][0] < now - self.settings.window_s:
            self._outcomes.popleft()
        failures = sum(1 for _, good in self._outcomes if not good)
        calls = len(self._outcomes)
        if calls >= self.settings.min_calls and failures / calls > self.settings.error_rate:
            log.warning(
                "circuit %s open for %.0fs: %d of %d calls failed in %.0fs",
                self.name,
                self.settings.cooldown_s,
                failures,
                calls,
                self.settings.window_s,
            )
            self._opened_at = now


@dataclass
class Stage:
    backend: InferenceBackend
    breaker: CircuitBreaker | None  # None for the rules backend: it is the floor and never skipped
    # Seconds a call may take before it counts as failed and the next stage answers; None = no limit.
    fast_budget_s: float | None = None
    copy_budget_s: float | None = None


class DegradingBackend:
    """An InferenceBackend that tries its stages in order and marks later answers degraded."""

    name = "chain"

    def __init__(self, stages: Sequence[Stage]) -> None:
        if not stages:
            raise ValueError("a degradation chain needs at least one stage")
        self.stages = list(stages)

    @property
    def primary(self) -> InferenceBackend:
        return self.stages[0].backend

    def breaker_states(self) -> dict[str, BreakerState]:
        return {s.backend.name: s.breaker.state for s in self.stages if s.breaker is not None}

    async def load(self) -> None:
        for stage in self.stages:
            await stage.backend.load()

    async def aclose(self) -> None:
        for stage in self.stages:
            await stage.backend.aclose()

    async def classify(self, text: str) -> IntentResult:
        return await self._call("classify", lambda b: b.classify(text), fast=True)

    async def classify_many(self, texts: list[str]) -> list[IntentResult]:
        return await self._call("classify_many", lambda b: b.classify_many(texts), fast=True)

    async def score(self, request: ScoreRequest) -> ScoreResult:
        return await self._call("score", lambda b: b.score(request), fast=True)

    async def generate_copy(self, request: CopyRequest) -> CopyResult:
        return await self._call("generate_copy", lambda b: b.generate_copy(request), fast=False)

    async def _call(self, what: str, call: Callable[[InferenceBackend], Awaitable[R]], *, fast: bool) -> R:
        errors: list[str] = []
        for index, stage in enumerate(self.stages):
            if stage.breaker is not None and not stage.breaker.allow():
                errors.append(f"{stage.backend.name}: circuit open")
                continue
            budget = stage.fast_budget_s if fast else stage.copy_budget_s
            try:
                async with asyncio.timeout(budget):
                    result = await call(stage.backend)
            except CONFIG_ERRORS:
                if stage.breaker is not None:
                    stage.breaker.record(True)  # the backend answered; the config is wrong
                raise
            except Exception as exc:  # any backend failure degrades to the next stage
                problem = "too slow" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                errors.append(f"{stage.backend.name}: {problem}")
                log.warning("%s on %s failed (%s); degrading", what, stage.backend.name, problem)
                if stage.breaker is not None:
                    stage.breaker.record(False)
                continue
            if stage.breaker is not None:
                stage.breaker.record(True)
            return _mark(result, degraded=index > 0)
        raise BackendChainExhausted(f"{what}: every backend failed ({'; '.join(errors)})")


class BackendChainExhausted(RuntimeError):
    """No stage could answer; the activity fails and Temporal retries it."""


def _mark(result: R, *, degraded: bool) -> R:
    if not degraded:
        return result
    if isinstance(result, list):
        return [r.model_copy(update={"degraded": True}) for r in result]  # type: ignore[return-value]
    return result.model_copy(update={"degraded": True})  # type: ignore[return-value]


def build_chain(
    settings: Settings,
    make: Callable[[Settings, str], InferenceBackend],
    *,
    primary: InferenceBackend | None = None,
) -> DegradingBackend:
    """settings.inference_backend (or `primary`), then settings.inference_fallback, then rules.

    Only a backend with a lighter one behind it has a latency budget: the last model backend is
    given its full activity timeout, and only its failures fall through to rules.
    """
    breaker_settings = BreakerSettings(
        error_rate=settings.breaker_error_rate,
        window_s=settings.breaker_window_s,
        min_calls=settings.breaker_min_calls,
        cooldown_s=settings.breaker_cooldown_s,
    )
    names = [settings.inference_backend]
    if settings.inference_fallback not in ("none", settings.inference_backend):
        names.append(settings.inference_fallback)
    stages = []
    for position, name in enumerate(names):
        has_lighter = position < len(names) - 1
        stages.append(
            Stage(
                backend=primary if primary is not None and position == 0 else make(settings, name),
                breaker=CircuitBreaker(name, breaker_settings),
                fast_budget_s=settings.degrade_latency_ms / 1000 if has_lighter else None,
                copy_budget_s=settings.degrade_copy_latency_s if has_lighter else None,
            )
        )
    rules = RulesBackend(
        settings.journeys_dir, settings.templates_dir, min_confidence=settings.intent_min_confidence
    )
    stages.append(Stage(backend=rules, breaker=None))
    return DegradingBackend(stages)
