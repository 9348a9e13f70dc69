"""Which language a customer wrote in, so copy and answers can follow it.

Chinese is told by its script (Han characters without Japanese kana): statistical identifiers
sometimes call short Chinese sentences Wu or Cantonese, which would miss the Chinese templates.
Other languages come from py3langid (a naive Bayes model over byte n-grams, numpy only), kept only
when it is sure: "Hi", "ok" or "STOP" say nothing about a language, and then the answer is None and
the customer's locale decides.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MIN_PROBABILITY = 0.5
MIN_HAN_SHARE = 0.3  # of the letters: a Chinese sentence with a product name in Latin letters is Chinese

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """An ISO 639-1 code ("en", "zh", "de"…), or None when the text does not say."""
    letters = len(_LETTER.findall(text))
    if not letters:
        return None
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if len(_HAN.findall(text)) / letters >= MIN_HAN_SHARE:
        return "zh"
    language, probability = _identifier().classify(text)
    return str(language) if probability >= MIN_PROBABILITY else None
