"""The circuit breaker and the degradation chain, around stand-in backends (the chain is the subject)."""

from __future__ import annotations

import asyncio

import pytest

from inference_worker.contracts import CopyRequest, IntentResult, ScoreRequest
from inference_worker.degradation import (
    BackendChainExhausted,
    BreakerSettings,
    CircuitBreaker,
    DegradingBackend,
    Stage,
    build_chain,
)
from inference_worker.message_templates import CopyTemplateError
from inference_worker.rules import RulesBackend
from journeys_app.core.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SETTINGS = BreakerSettings(error_rate=0.3, window_s=120, min_calls=5, cooldown_s=30)


def test_breaker_opens_above_the_error_rate_and_probes_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker("primary", SETTINGS, clock)
    for ok in (True, True, True, False):
        breaker.record(ok)
    assert breaker.state == "closed"  # 1 of 4: too few calls, and 25 % anyway
    breaker.record(False)  # 2 of 5 = 40 % > 30 %
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 29
    assert not breaker.allow()
    clock.now += 2
    assert breaker.state == "half_open"
    assert breaker.allow()  # one probe…
    assert not breaker.allow()  # …at a time
    breaker.record(False)  # the probe failed: a fresh cool-down
    assert breaker.state == "open"
    clock.now += 31
    assert breaker.allow()
    breaker.record(True)
    assert breaker.state == "closed"
    assert breaker.allow()


def test_breaker_forgets_failures_older_than_its_window() -> None:
    clock = Clock()
    breaker = CircuitBreaker("primary", SETTINGS, clock)
    for _ in range(2):
        breaker.record(False)
    clock.now += 121
    for _ in range(4):
        breaker.record(True)
    breaker.record(False)  # 1 of 5 inside the window
    assert breaker.state == "closed"


def _intent(backend: str) -> IntentResult:
    return IntentResult(
        label="inquiry",
        confidence=0.9,
        scores={"inquiry": 0.9},
        sentiment="neutral",
        urgency="normal",
        backend=backend,
        model=f"{backend}-model",
    )


class StandIn:
    """A backend whose classify answers, fails or stalls on demand."""

    def __init__(self, name: str, behaviour: str = "ok") -> None:
        self.name = name
        self.behaviour = behaviour
        self.calls = 0

    async def load(self) -> None: ...

    async def aclose(self) -> None: ...

    async def classify(self, text: str) -> IntentResult:
        self.calls += 1
        if self.behaviour == "fail":
            raise ConnectionError("connection refused")
        if self.behaviour == "slow":
            await asyncio.sleep(5)
        if self.behaviour == "config":
            raise CopyTemplateError("template email/nope does not exist")
        return _intent(self.name)


def _chain(*backends: StandIn, budget: float | None = None) -> DegradingBackend:
    stages = [
        Stage(b, CircuitBreaker(b.name, SETTINGS), fast_budget_s=budget if i < len(backends) - 1 else None)
        for i, b in enumerate(backends)
    ]
    return DegradingBackend(stages)


async def test_the_primary_answers_undegraded() -> None:
    result = await _chain(StandIn("primary"), StandIn("fallback")).classify("hello")
    assert (result.backend, result.degraded) == ("primary", False)


async def test_a_failing_primary_degrades_to_the_fallback_and_its_breaker_opens() -> None:
    primary, fallback = StandIn("primary", "fail"), StandIn("fallback")
    chain = _chain(primary, fallback)
    for _ in range(5):
        result = await chain.classify("hello")
        assert (result.backend, result.model, result.degraded) == ("fallback", "fallback-model", True)
    assert chain.breaker_states() == {"primary": "open", "fallback": "closed"}
    await chain.classify("hello")
    assert primary.calls == 5  # the open circuit spares the dead backend


async def test_a_slow_primary_counts_as_failed() -> None:
    result = await _chain(StandIn("primary", "slow"), StandIn("fallback"), budget=0.05).classify("hello")
    assert (result.backend, result.degraded) == ("fallback", True)


async def test_config_errors_are_not_degradation() -> None:
    fallback = StandIn("fallback")
    with pytest.raises(CopyTemplateError):
        await _chain(StandIn("primary", "config"), fallback).classify("hello")
    assert fallback.calls == 0


async def test_every_stage_failing_raises_with_each_reason() -> None:
    with pytest.raises(BackendChainExhausted, match=r"primary: ConnectionError.*fallback: ConnectionError"):
        await _chain(StandIn("primary", "fail"), StandIn("fallback", "fail")).classify("hello")


async def test_the_built_chain_ends_in_rules_that_need_no_model(tmp_path) -> None:
    settings = Settings(state_dir=tmp_path)
    chain = build_chain(settings, lambda s, name: StandIn(name, "fail"))  # type: ignore[arg-type, return-value]
    assert [s.backend.name for s in chain.stages] == ["local", "rules"]
    await chain.load()
    intent = await chain.classify("Where is my parcel? It has not arrived and I want a refund now.")
    assert (intent.backend, intent.degraded) == ("rules", True)
    score = await chain.score(ScoreRequest(customer={"id": "c1", "tier": "vip", "orders_count": 12}))
    assert (score.backend, score.degraded) == ("rules", True)
    copy = await chain.generate_copy(
        CopyRequest(
            template="email/apology",
            channel="email",
            context={"customer": {"id": "c1", "first_name": "Ava"}, "event": {"text": "Late again."}},
        )
    )
    assert (copy.backend, copy.degraded) == ("preset", True)
    assert copy.variants[0].source == "template_default"
    assert "Ava" in copy.variants[0].body


def test_the_chain_lists_primary_then_fallback_then_rules(tmp_path) -> None:
    settings = Settings(state_dir=tmp_path, inference_backend="openai", inference_fallback="local")
    chain = build_chain(settings, lambda s, name: StandIn(name))  # type: ignore[arg-type, return-value]
    assert [s.backend.name for s in chain.stages] == ["openai", "local", "rules"]
    assert chain.stages[0].fast_budget_s == 0.5  # only a backend with a lighter one behind it
    assert chain.stages[1].fast_budget_s is None
    assert isinstance(chain.stages[2].backend, RulesBackend)
