"""The language of a message: Chinese by its script, others only when the identifier is sure."""

from __future__ import annotations

import pytest

from inference_worker.language import detect_language
from inference_worker.rules import RulesBackend
from journeys_app.core.settings import PROJECT_ROOT


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("My parcel arrived broken, third time!", "en"),
        ("Do you ship to Canada?", "en"),
        ("包裹又是破的，已经第三次了！", "zh"),
        ("退订", "zh"),
        ("我买的 Aspen 毯子什么时候到？", "zh"),  # a product name in Latin letters stays Chinese
        ("Danke, das Paket ist heute angekommen.", "de"),
        ("荷物が届きません。", "ja"),
        ("배송이 너무 늦어요", "ko"),
    ],
)
def test_language_of_a_message(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["Hi", "ok", "STOP", "", "12345", "!!!"])
def test_texts_that_say_nothing_about_a_language_are_none(text: str) -> None:
    assert detect_language(text) is None


async def test_rules_fallback_reads_chinese_and_names_its_language() -> None:
    rules = RulesBackend(PROJECT_ROOT / "journeys", PROJECT_ROOT / "templates", min_confidence=0.3)
    await rules.load()
    result = await rules.classify("以后别再给我发促销邮件了。")
    assert result.language == "zh" and result.degraded
    assert result.label == "unsubscribe", result.scores


def test_the_language_of_a_locale() -> None:
    from inference_worker.contracts import locale_language

    assert [locale_language(x) for x in ("zh-CN", "zh_Hans", "EN", "en-GB")] == ["zh", "zh", "en", "en"]
    assert locale_language("") is None and locale_language("C.UTF-8") is None
