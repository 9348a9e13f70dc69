"""Content guardrails for generated copy.

A small model writes fluent nonsense now and then; these checks decide whether its text may
reach a customer. Each check returns a reason string when the text fails (None when it passes),
so the copy generator can retry a slot, fall back to the template default, and report verdicts.
Pure functions, no model: unit-testable and cheap.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from inference_worker.language import detect_language

# Hard limits per channel (characters). SMS: two concatenated segments; email subject: what inbox
# previews show before truncating; push: what iOS/Android show without expanding.
BODY_LIMITS = {"email": 5000, "sms": 320, "push": 240, "webhook": 5000}
SUBJECT_LIMITS = {"email": 90, "push": 65}
SLOT_MAX_CHARS = 280  # one or two sentences
SLOT_MIN_WORDS = 3
ECHO_WORDS = 6  # this many consecutive words copied from the customer's message = echo

_PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{%|%\}|\{[A-Za-z_ ]{1,30}\}"  # Jinja or format-string leftovers
    r"|\[[A-Za-z][A-Za-z _'.-]{0,30}\]|<[A-Za-z][A-Za-z _]{0,30}>|\bX{3,}\b"  # [Name], <First name>, XXX
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+|\b)\d[\d\s().-]{5,}\d\b")
# Any domain-shaped word: a label, a dot, letters (evil.example, shop.co.uk, xn--…), or a scheme.
_URL = re.compile(
    r"\b(?:https?|hxxps?|ftp)://|\bwww\.|\b[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9-]{1,63})*\.(?:[a-z]{2,63}|xn--[a-z0-9-]+)\b",
    re.IGNORECASE,
)
# Ways links are written to slip past a filter: evil[.]example, evil(.)example, evil dot example.
_DEFANGED_DOT = re.compile(r"\s*(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\s+dot\s+)\s*", re.IGNORECASE)
# Offers too good to be true: prizes, free devices, gift cards (what phishing and spam promise).
_PRIZE = re.compile(
    r"\bfree\s+(?:i?phones?|ipads?|iphone\s*\d+|tablets?|laptops?|tvs?|cars?|cash|money|vacations?|trips?|cruises?)\b"
    r"|\b(?:free|win|won)\s+(?:an?\s+)?(?:[$€£]?\d+\s+)?gift\s*cards?\b|\byou(?:'ve|\s+have)?\s+(?:won|been\s+selected)\b|\bclaim\s+your\s+(?:prize|reward|gift)\b"
    r"|\b(?:lottery|jackpot|sweepstakes)\b|\bwinner\b"
    r"|中奖|抽奖|大奖|免费(?:送|领取?)",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instruction|prompt|rule|above|previous|prior)s?\b"
    r"|\b(?:system|developer)\s+(?:prompt|message|mode)\b"
    r"|\byou\s+are\s+now\b|\bact\s+as\b|\bpretend\s+(?:to\s+be|you)\b|\bjailbreak\b"
    r"|\b(?:new|real|actual)\s+instructions?\b|\breveal\b[^.!?\n]{0,30}\b(?:prompt|instructions?)\b",
    re.IGNORECASE,
)
_PROMISE = re.compile(
    r"\brefund|\bmoney\s+back\b|\breimburse|\bcompensat|\bcomplimentary\b|\bfree\s+(?:of\s+charge|replacement|upgrade)\b"
    r"|\bwe\s+(?:will|'ll)\s+(?:pay|cover)\b"
    r"|退款|退钱|赔偿|补偿|免费(?:更换|换新|升级|维修)"
    # admissions and claims only a person may make: fault, or an action already taken
    r"|\b(?:our|the) (?:product|item|order)s? (?:is|was|were|are) (?:faulty|defective)\b"
    r"|\bwe(?:'ve| have) (?:already )?(?:taken action|fixed|resolved|refunded|sent|shipped|replaced)\b"
    r"|确实存在(?:质量)?问题|是我们的(?:错|责任|问题)|已经(?:采取了?(?:行动|措施)|解决|处理好|寄出|发出|退)",
    re.IGNORECASE,
)
_DISCOUNT = re.compile(
    r"\bdiscount|\bcoupon|\bvoucher|\bpromo(?:tion(?:al)?)?\s*code|\b\d+\s*%|\bpercent\b|\b\d+\s*(?:€|eur|euros?)\b"
    r"|€\s*\d|\$\s*\d|\boff\s+your\b|\bfree\s+(?:shipping|delivery|gifts?|samples?|trials?)\b|\bsale\b|\bcheaper\b"
    r"|折扣|打折|优惠|\d+(?:\.\d+)?\s*折|代金券|包邮|免运费|减价|促销|便宜|赠品|试用装",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"\d+(?:[.,]\d+)?\s*%|[€$£]\s*\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s*(?:€|eur\b|euros?\b|欧元|折)",
    re.IGNORECASE,
)
_OFF_BRAND = re.compile(
    r"\bas an ai\b|\blanguage model\b|\bI(?:'m| am) (?:just )?an? (?:AI|assistant|bot)\b"
    r"|\bI (?:cannot|can't|can not) (?:help|assist|write|do)\b|\bsorry, but I\b"
    r"|^\s*(?:dear|hi|hello|hey)\b|\b(?:best regards|kind regards|sincerely|yours truly)\b"
    r"|\bsubject:|#\w|[\U0001F300-\U0001FAFF\u2600-\u27BF]"
    # the model talking about its task instead of doing it, or about the customer in the third person
    r"|\b(?:re-?phrase|re-?word(?:ing)?|re-?write|different words|wording|my version|(?:this|the|a) sentence"
    r"|the example|(?:this|my|the) version|chatbot|the customer(?:'s)?|the recipient)\b"
    # we write to consumers about their home, not about "your company"; quotes mean the model is quoting
    r"|\b(?:a|your|our|my) (?:company|business|customers|customer service)\b|\byour team\b|\bwe love you\b"
    r"|\bsorry for your (?:mistake|patience)\b"
    r"|[\"“”]"
    # the same in Chinese: "as an AI", "dear …" openings, letter sign-offs, "this customer"
    r"|作为(?:一个|一名)?(?:AI|人工智能|语言模型|助手)|语言模型|^\s*(?:亲爱的|你好|您好)|此致|敬礼"
    r"|(?:该|这位)(?:顾客|客户|用户)|他们|她们|(?<![其吉])[他她]|我(?:无法|不能)(?:提供|帮助|回答|完成)"
    # we address a Chinese customer as 您: 你 is too familiar for the brand
    r"|你",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_CODE = re.compile(r"\b[A-Z]{3,}\d+[A-Z\d]*\b")
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")  # all-caps words: codes, acronyms, shouting
# A capitalised word that does not start a sentence (names of people, places, products, shows).
_PROPER_NOUN = re.compile(r"(?<![.!?:]\s)(?<!^)(?<![.!?:\"“])\b(?!I\b|I'|I’)([A-Z][a-zà-ÿ]+)\b")


@dataclass(frozen=True)
class SlotCheckContext:
    """What a slot check needs to know besides the text itself."""

    sensitive_words: tuple[str, ...] = ()
    customer_texts: tuple[str, ...] = ()  # the customer's own words (data, never instructions)
    offer: str | None = None  # the template's offer; None = no discounts allowed
    max_chars: int = SLOT_MAX_CHARS
    prompt_texts: tuple[str, ...] = ()  # the system prompt: must not leak into the copy
    instruction_texts: tuple[str, ...] = ()  # the slot's instruction: must not be repeated
    given_facts: str = ""  # everything the model was told (prompt, instruction, example, offer)
    customer_name: str = ""
    we_voice: bool = False  # the template speaks as "we" only: "I"/"my" would be off-voice
    language: str = "en"  # of the template's fixed copy
    fixed_copy: str = ""  # the template's own text around the slots (names, brand, products)


@dataclass
class Finding:
    check: str
    problem: str


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        return "; ".join(f"{f.check}: {f.problem}" for f in self.findings)


@lru_cache(maxsize=8)
def load_sensitive_words(path: Path) -> tuple[str, ...]:
    """Entries of the sensitive-word file, lower-cased, comments and blanks skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip().lower() for line in lines if line.strip() and not line.lstrip().startswith("#"))


def brand_sensitive_words(templates_dir: Path) -> tuple[str, ...]:
    """The brand's blocked words, from `templates/prompts/sensitive_words.txt`."""
    return load_sensitive_words(templates_dir / "prompts" / "sensitive_words.txt")


def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = sorted((re.escape(w) for w in words), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


_compiled_words = lru_cache(maxsize=8)(_words_pattern)


def sensitive_word(text: str, words: tuple[str, ...]) -> str | None:
    pattern = _compiled_words(words)
    match = pattern.search(text) if pattern else None
    return f"contains sensitive word {match.group(0).lower()!r}" if match else None


def placeholder(text: str) -> str | None:
    match = _PLACEHOLDER.search(text)
    return f"leftover placeholder {match.group(0)!r}" if match else None


def normalised(text: str) -> str:
    """Text as a filter should read it: full-width and other compatibility forms folded (NFKC), and
    defanged dots (`evil[.]example`) put back."""
    return _DEFANGED_DOT.sub(".", unicodedata.normalize("NFKC", text))


def link(text: str, allowed_domains: Iterable[str] = ()) -> str | None:
    """A link or domain name in the text, other than the brand's own domains."""
    allowed = {d.lower().strip(".") for d in allowed_domains if d}
    for match in _URL.finditer(normalised(text)):
        found = match.group(0).lower().strip(".")
        if "://" in found or found.startswith("www."):
            return f"contains a link ({match.group(0)!r})"
        if not any(found == d or found.endswith("." + d) for d in allowed):
            return f"contains a link ({match.group(0)!r})"
    return None


def contact_details(text: str, allowed_domains: Iterable[str] = ()) -> str | None:
    plain = normalised(text)
    if _EMAIL.search(plain):
        return "contains an email address"
    for match in _PHONE.finditer(plain):
        if sum(ch.isdigit() for ch in match.group(0)) >= 7:
            return "contains a phone number"
    return link(plain, allowed_domains)


def prize(text: str) -> str | None:
    match = _PRIZE.search(normalised(text))
    return f"an offer too good to be true ({match.group(0)!r}), as spam and phishing make" if match else None


def looks_like_injection(text: str) -> bool:
    """True when text tries to give the writer instructions ("ignore previous instructions" …)."""
    return bool(_INJECTION.search(text))


# Chinese and Japanese put no spaces between words: each of their characters is a token of its own.
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9'\uac00-\ud7af]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_CHARS_PER_WORD = 2  # about two characters make a word, for the length check
_SENTENCE_END = (".", "!", "?", "。", "！", "？")
_SENTENCE = re.compile(r"[^.!?。！？]+")


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _weight(token: str) -> float:
    """How much of a word a token is."""
    return 1 / CJK_CHARS_PER_WORD if _CJK.fullmatch(token) else 1.0


def _word_count(text: str) -> float:
    return sum(map(_weight, _words(text)))


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    """Every run of tokens worth n words, from each token on (two CJK characters make a word)."""
    tokens = _words(text)
    weights = [_weight(t) for t in tokens]
    grams = set()
    for start in range(len(tokens)):
        end, total = start, 0.0
        while end < len(tokens) and total < n:
            total, end = total + weights[end], end + 1
        if total >= n:
            grams.add(tuple(tokens[start:end]))
    return grams


def echoes(text: str, sources: Iterable[str], n: int = ECHO_WORDS) -> bool:
    """True when text copies n consecutive words from any source (the customer's message)."""
    grams = _grams(text, n)
    return any(grams & _grams(source, n) for source in sources)


def injection(text: str, customer_texts: Iterable[str]) -> str | None:
    if looks_like_injection(text):
        return "repeats instructions aimed at the writer"
    if echoes(text, customer_texts):
        return "copies the customer's message"
    return None


def prompt_leak(text: str, prompts: Iterable[str]) -> str | None:
    return "repeats the writing instructions" if echoes(text, prompts, n=6) else None


INSTRUCTION_OPENING_WORDS = 3


def _openings(text: str) -> set[tuple[str, ...]]:
    """The first words of every sentence."""
    openings = set()
    for sentence in _SENTENCE.findall(text):
        words = _words(sentence)[:INSTRUCTION_OPENING_WORDS]
        if len(words) == INSTRUCTION_OPENING_WORDS:
            openings.add(tuple(words))
    return openings


def instruction_echo(text: str, instructions: Iterable[str]) -> str | None:
    """A sentence that opens as one of the slot instruction's sentences ("Write one sentence…",
    "Do not promise…") repeats the instruction; its other words may well be good copy."""
    given = set().union(*(_openings(i) for i in instructions))
    return "repeats the slot's instruction" if _openings(text) & given else None


def invented_facts(text: str, given: str) -> str | None:
    """Numbers, codes and names the model was not given are made up (prices, dates, people, places)."""
    given_numbers = set(_NUMBER.findall(given))
    for number in _NUMBER.findall(text):
        if number not in given_numbers:
            return f"mentions {number!r}, which the template did not provide"
    for code in _CODE.findall(text):
        if code not in given:
            return f"mentions code {code!r}, which the template did not provide"
    given_words = {w.lower() for w in re.findall(r"[^\W\d_]+", given)}
    for match in _PROPER_NOUN.finditer(text):
        if match.group(1).lower() not in given_words:
            return f"mentions {match.group(1)!r}, a name the template did not provide"
    for word in _SHOUT.findall(text):
        if word.lower() not in given_words:
            return f"mentions {word!r}, which the template did not provide"
    return None


def third_person(text: str, name: str) -> str | None:
    """Copy speaks to the customer ("you"), never about them ("Ava is …", "thanks to Ava")."""
    if not name.strip():
        return None
    n = re.escape(name.strip())
    about = re.compile(
        rf"\b{n}(?:'s|’s|\s+(?:is|was|has|had|will|would|can|could|does|did|[a-z]+s)\b)"
        rf"|{n}(?:的|很|非常|十分|会|想|喜欢|需要|一定|可能|是|对|将|感激|希望|先生|女士|小姐)"
        rf"|\b(?:to|for|of|about|with|from|at|by|and|that|when|because|dear)\s+{n}\b"
        r"|\bthey(?:'re| are) (?:happy|glad)\b|\bthey (?:might|would|will|may) (?:like|love|enjoy)\b",
        re.IGNORECASE,
    )
    match = about.search(text)
    return f"talks about the customer instead of to them ({match.group(0)!r})" if match else None


def promise(text: str) -> str | None:
    match = _PROMISE.search(text)
    return f"promises something we cannot ({match.group(0)!r})" if match else None


def offer_terms(text: str, offer: str | None) -> str | None:
    """No discounts unless the template has an offer; then only the offer's own amounts."""
    if offer is None:
        match = _DISCOUNT.search(text)
        return (
            f"mentions a discount ({match.group(0).strip()!r}) but the template has no offer"
            if match
            else None
        )
    allowed = {re.sub(r"\s", "", a).lower() for a in _AMOUNT.findall(offer)}
    for amount in _AMOUNT.findall(text):
        if re.sub(r"\s", "", amount).lower() not in allowed:
            return f"mentions {amount.strip()!r}, which is not the template's offer"
    return None


def off_brand(text: str) -> str | None:
    match = _OFF_BRAND.search(text)
    return f"off-brand phrasing {match.group(0).strip()!r}" if match else None


_FIRST_PERSON = re.compile(r"\bI(?:['’](?:m|ve|d|ll))?\b|\b(?i:me|my|mine|myself)\b")


def voice(text: str, we_voice: bool) -> str | None:
    """Team-signed templates speak as "we"; a model text in the first person singular is off-voice."""
    match = _FIRST_PERSON.search(text) if we_voice else None
    return f"speaks as {match.group(0)!r} but this message speaks as 'we'" if match else None


def uses_first_person(text: str) -> bool:
    return bool(_FIRST_PERSON.search(text))


# Languages told apart by their script, reliably even in one short sentence.
_SCRIPT_LANGUAGES = frozenset({"zh", "ja", "ko"})


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def wrong_language(text: str, language: str, given: str = "") -> str | None:
    """Text in another language than the message around it: a model that cannot write Chinese
    answers a Chinese slot in English. Between languages written in Latin letters only a script
    change counts: a short English sentence with a French name is not French."""
    found = detect_language(text)
    if language in _SCRIPT_LANGUAGES:
        wrong = found != language
    else:
        wrong = found in _SCRIPT_LANGUAGES
    if wrong:
        return f"written in {found or 'an unknown language'}, the message is in {language}"
    if language in _SCRIPT_LANGUAGES:  # English words in a Chinese sentence ("我们 misses 你")
        allowed = {w.lower() for w in _LATIN_WORD.findall(given)}
        stray = [w for w in _LATIN_WORD.findall(text) if w.lower() not in allowed]
        if stray:
            return f"mixes in {stray[0]!r}, a word of another language"
    return None


def complete(text: str) -> str | None:
    if _word_count(text) < SLOT_MIN_WORDS:
        return "too short"
    if not text.rstrip().endswith(_SENTENCE_END):
        return "unfinished sentence"
    return None


def check_slot(text: str, ctx: SlotCheckContext) -> Report:
    """All checks for one model-written slot text; every failing check is reported."""
    checks: list[tuple[str, Callable[[], str | None]]] = [
        ("complete", lambda: complete(text)),
        ("language", lambda: wrong_language(text, ctx.language, f"{ctx.fixed_copy} {ctx.offer or ''}")),
        ("length", lambda: f"{len(text)} chars > {ctx.max_chars}" if len(text) > ctx.max_chars else None),
        ("placeholders", lambda: placeholder(text)),
        ("sensitive_words", lambda: sensitive_word(normalised(text), ctx.sensitive_words)),
        ("contact_details", lambda: contact_details(text)),
        (
            "injection",
            lambda: (
                injection(text, ctx.customer_texts)
                or prompt_leak(text, ctx.prompt_texts)
                or instruction_echo(text, ctx.instruction_texts)
            ),
        ),
        ("facts", lambda: invented_facts(text, ctx.given_facts)),
        ("promises", lambda: promise(text)),
        ("offers", lambda: offer_terms(text, ctx.offer) or prize(text)),
        (
            "on_brand",
            lambda: off_brand(text) or third_person(text, ctx.customer_name) or voice(text, ctx.we_voice),
        ),
    ]
    report = Report()
    for name, check in checks:
        problem = check()
        if problem:
            report.findings.append(Finding(name, problem))
    return report


def check_message(
    channel: str, subject: str | None, body: str, words: tuple[str, ...], allowed_domains: Iterable[str] = ()
) -> Report:
    """Checks on the assembled message (fixed brand copy included) and on a reviewer's edit: limits,
    placeholders, sensitive words, links (other than the brand's own domains) and prize offers."""
    report = Report()
    body_limit = BODY_LIMITS.get(channel, BODY_LIMITS["email"])
    if len(body) > body_limit:
        report.findings.append(Finding("length", f"{channel} body is {len(body)} chars > {body_limit}"))
    subject_limit = SUBJECT_LIMITS.get(channel)
    if subject is not None and subject_limit and len(subject) > subject_limit:
        report.findings.append(Finding("length", f"subject is {len(subject)} chars > {subject_limit}"))
    if channel == "email" and not (subject or "").strip():
        report.findings.append(Finding("length", "email needs a subject"))
    if not body.strip():
        report.findings.append(Finding("length", "empty body"))
    for part in (subject or "", body):
        if problem := placeholder(part):
            report.findings.append(Finding("placeholders", problem))
        if problem := sensitive_word(normalised(part), words):
            report.findings.append(Finding("sensitive_words", problem))
        if problem := link(part, allowed_domains):
            report.findings.append(Finding("contact_details", problem))
        if problem := prize(part):
            report.findings.append(Finding("offers", problem))
    return report


SLOT_CHECKS = (
    "complete",
    "language",
    "length",
    "placeholders",
    "sensitive_words",
    "contact_details",
    "injection",
    "facts",
    "promises",
    "offers",
    "on_brand",
    "relevance",  # semantic, computed by the copy generator with the embedding model
)
