"""Message copy: brand templates whose slots a small LLM fills, behind guardrails.

Templates are fixed brand copy with named slots (format: see message_templates.py). The model
writes only the slots, one or two sentences each; everything a customer could hold us to (facts,
promises, offers, contacts) is fixed copy a human wrote. A slot whose text fails a
guardrail is retried once, then replaced by its default, so a template always yields sendable
copy even when the model talks nonsense or is steered by a hostile customer message.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from inference_worker import guardrails
from inference_worker.contracts import CopyRequest, CopyResult, CopyVariant, GuardrailVerdict
from inference_worker.message_templates import (
    CopyTemplateError,
    MessageTemplate,
    TemplateLibrary,
    list_templates,
    template_exists,
    template_problems,
)

__all__ = [
    "Completion",
    "CopyGenerator",
    "CopyTemplateError",
    "SlotFiller",
    "SlotOutcome",
    "TemplateLibrary",
    "list_templates",
    "postprocess",
    "template_exists",
    "template_problems",
]

ATTEMPTS_PER_SLOT = 2  # first try + one retry, then the default
BASE_TEMPERATURE = 0.5
CLOSE_COPY = 0.8  # similarity (difflib ratio) to the default above which a slot counts as the default
# Cosine similarity (multilingual e5, `query:` prefix) a slot text needs to its default sentence or
# to its instruction (which quotes the customer's message): below this it is off-topic. e5 puts
# unrelated sentences at 0.74-0.82 and a fitting one, generic or specific, English or Chinese,
# at 0.86-0.91 (operations.md, "Copy guardrails").
MIN_RELEVANCE = 0.84


@dataclass(frozen=True)
class Completion:
    text: str
    tokens: int = 0


class SlotFiller(Protocol):
    """The LLM call: chat messages in, one completion out. Backends implement it."""

    async def __call__(
        self, messages: list[dict[str, str]], *, seed: int, temperature: float, max_tokens: int
    ) -> Completion: ...


# ----------------------------------------------------------------------------- post-processing

_PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|okay|ok)\s*[!,.:]\s*)+"
    r"|^\s*(?:here(?:'s| is| are)|this is)\b[^:\n]{0,80}:\s*",
    re.IGNORECASE,
)
_SALUTATION = re.compile(r"^\s*(?:dear|hi|hello|hey)\b[^,.!?\n]{0,40}[,.!]\s*", re.IGNORECASE)
_LABEL = re.compile(
    r"^\s*(?:sentence|answer|response|version|reply|email|message|text|output)\s*\d*\s*:\s*", re.I
)
# A sentence ends at . ! ? and a space, or at Chinese/Japanese 。！？ (no space follows them).
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=[。！？])[”’」』）]*\s*")
_ENDINGS = (".", "!", "?", "。", "！", "？")  # "。" needs no space after it: Chinese joins without one
_QUOTES = "\"'“”‘’«»`"


def _strip_lead_in(text: str) -> str:
    for _ in range(3):
        before = text
        text = _PREAMBLE.sub("", text)
        text = _LABEL.sub("", text)
        text = _SALUTATION.sub("", text)
        text = text.strip().strip(_QUOTES).strip()
        if text == before:
            break
    return text


def postprocess(
    raw: str, max_sentences: int = 2, max_chars: int = guardrails.SLOT_MAX_CHARS, name: str = ""
) -> str:
    """Turn a raw completion into at most `max_sentences` clean, complete sentences.

    `name` is the customer's first name: a leading "Ava, …" is dropped because the body greets them.
    """
    cleaned = re.sub(r"[*_#`>]+", "", raw.replace("\r", ""))  # markdown emphasis, headings, quotes
    text = ""
    for paragraph in re.split(r"\n\s*\n", cleaned):
        text = _strip_lead_in(" ".join(paragraph.split()))
        # Skip a paragraph that is only "Dear Ava," or a lead-in such as "Here is a new version:".
        if text and not text.endswith(":"):
            break
    if name.strip():
        text = re.sub(rf"^{re.escape(name.strip())}\s*[,:!，：！]\s*", "", text, flags=re.IGNORECASE)
    sentences = [s.strip().strip(_QUOTES).strip() for s in _SENTENCE_END.split(text) if s.strip()]
    result = ""
    for sentence in sentences[:max_sentences]:
        if not sentence.endswith(_ENDINGS):
            break  # cut off by max_tokens
        joined = f"{result} {sentence}" if result.endswith((".", "!", "?")) else result + sentence
        if len(joined) > max_chars:
            break
        result = joined
    if not result:
        return sentences[0] if sentences else ""  # let the guardrails say what is wrong with it
    return result[0].upper() + result[1:]


# ----------------------------------------------------------------------------- generation


def _seed(*parts: object) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _customer_texts(event: Any) -> tuple[str, ...]:
    """The customer's own words in the event (message text, subject…): data for the echo check."""
    if not isinstance(event, dict):
        return ()
    return tuple(v for v in event.values() if isinstance(v, str) and len(v.split()) >= 3)


def _close_copy(text: str, default: str, offer: str | None) -> bool:
    """Text that is the default sentence with a word or two changed counts as the default: a model
    shown the default tends to copy it, and that is not model writing. The offer, which both may
    quote, is left out of the comparison."""
    if offer:
        text, default = text.replace(offer, ""), default.replace(offer, "")
    return difflib.SequenceMatcher(None, _normal(text), _normal(default)).ratio() >= CLOSE_COPY


def _normal(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass
class SlotOutcome:
    """What filled one slot of one variant, and what each guardrail rejected on the way."""

    text: str
    from_model: bool
    notes: dict[str, list[str]] = field(default_factory=dict)  # guardrail -> what it rejected


@dataclass(frozen=True)
class SlotJob:
    """Everything needed to fill one slot: the chat messages, the fallback and the checks."""

    name: str
    messages: list[dict[str, str]]
    default: str
    instruction: str
    check: guardrails.SlotCheckContext


@dataclass(frozen=True)
class PreparedCopy:
    template: MessageTemplate
    context: dict[str, Any]
    jobs: tuple[SlotJob, ...]


Relevance = Callable[[str, Sequence[str]], Awaitable[float]]
"""Semantic similarity in [-1, 1] between a candidate and the closest of some reference texts."""


class CopyGenerator:
    """Renders a template and fills its slots with a SlotFiller, N variants per request."""

    def __init__(
        self,
        library: TemplateLibrary,
        filler: SlotFiller | None,
        *,
        max_tokens: int,
        sensitive_words: Iterable[str] = (),
        relevance: Relevance | None = None,
        min_relevance: float = MIN_RELEVANCE,
        backend: str = "local",
        model_id: str = "smollm2-135m-instruct-q4_1",
        languages: frozenset[str] | None = None,
        show_example: bool = True,
    ) -> None:
        self.library = library
        self.filler = filler
        self.max_tokens = max_tokens
        self.sensitive_words = tuple(w.lower() for w in sensitive_words)
        self.relevance = relevance
        self.min_relevance = min_relevance
        self.backend = backend
        self.model_id = model_id
        self.languages = languages  # the filler writes only these; None: any
        # Show the default sentence as an example: a 135M model needs it to stay on task, a 1.5B
        # model copies it instead of writing (operations.md, "Copy models").
        self.show_example = show_example

    @classmethod
    def for_templates(cls, templates_dir: Path, filler: SlotFiller | None, **options: Any) -> CopyGenerator:
        """A generator over the templates folder, with the brand's sensitive-word list."""
        return cls(
            TemplateLibrary(templates_dir),
            filler,
            sensitive_words=guardrails.brand_sensitive_words(templates_dir),
            **options,
        )

    def prepare(self, request: CopyRequest) -> PreparedCopy:
        """Render prompts, defaults and guardrail context once per request (no model calls)."""
        template = self.library.get(request.template, request.language)
        if template.channel != request.channel:
            raise CopyTemplateError(
                f"template {request.template!r} is for {template.channel}, "
                f"but the step sends {request.channel}"
            )
        context: dict[str, Any] = {
            **request.context,
            "customer": request.context.get("customer") or {},
            "event": request.context.get("event") or {},
            "steps": request.context.get("steps") or {},
            "brief": request.brief or "",
            "channel": request.channel,
        }
        offer = template.render_block("offer", context) if template.has_offer else None
        system = self.library.render_prompt(
            "system.j2", {**context, "offer": offer, "language": template.language}
        )
        base = guardrails.SlotCheckContext(
            sensitive_words=self.sensitive_words,
            customer_texts=_customer_texts(context["event"]),
            offer=offer,
            max_chars=self._slot_budget(template, context),
            fixed_copy=template.render_block("body", {**context, "slots": dict.fromkeys(template.slots, "")}),
            # The offer is the one thing a slot may repeat word for word: not an echo of the prompt.
            prompt_texts=(system.replace(offer, "") if offer else system,),
            customer_name=str(context["customer"].get("first_name") or ""),
            language=template.language,
        )
        jobs = []
        for slot in template.slots:
            instruction = template.render_block(f"slot_{slot}", context)
            template_words = template.render_block(f"slot_{slot}", {**context, "_hide_data": True})
            default = template.render_block(f"default_{slot}", context)
            example = default if self.show_example else ""
            user = self.library.render_prompt("slot.j2", {"instruction": instruction, "example": example})
            jobs.append(
                SlotJob(
                    name=slot,
                    messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                    default=default,
                    instruction=instruction,
                    check=dataclasses.replace(
                        base,
                        given_facts=" ".join((system, template_words, default, offer or "")),
                        instruction_texts=(template_words.replace(offer, "") if offer else template_words,),
                        we_voice=not guardrails.uses_first_person(default),
                    ),
                )
            )
        return PreparedCopy(template=template, context=context, jobs=tuple(jobs))

    async def generate(self, request: CopyRequest) -> CopyResult:
        return (await self.write(request))[0]

    async def write(self, request: CopyRequest) -> tuple[CopyResult, list[dict[str, SlotOutcome]]]:
        """The copy, and per variant how each slot was filled (`journeys eval copy` counts them)."""
        prepared = self.prepare(request)
        identity = (
            request.template,
            prepared.context["customer"].get("id", ""),
            prepared.context["event"].get("message_id", ""),
        )
        tokens = 0
        variants: list[CopyVariant] = []
        filled: list[dict[str, SlotOutcome]] = []
        for index in range(request.variants):
            outcomes: dict[str, SlotOutcome] = {}
            for job in prepared.jobs:
                outcomes[job.name], used = await self.fill(job, variant=index, identity=identity)
                tokens += used
            variants.append(self.assemble(prepared, outcomes))
            filled.append(outcomes)
        result = CopyResult(
            template=request.template,
            variants=variants,
            backend=self.backend,
            model=self.model_id,
            tokens=tokens,
        )
        return result, filled

    def _slot_budget(self, template: MessageTemplate, context: dict[str, Any]) -> int:
        """Characters each slot may use so the whole message stays within the channel's limit."""
        if not template.slots:
            return guardrails.SLOT_MAX_CHARS
        skeleton = template.render_block("body", {**context, "slots": dict.fromkeys(template.slots, "")})
        room = guardrails.BODY_LIMITS.get(template.channel, guardrails.BODY_LIMITS["email"]) - len(skeleton)
        return max(0, min(guardrails.SLOT_MAX_CHARS, room // len(template.slots)))

    async def check(self, text: str, job: SlotJob) -> guardrails.Report:
        """All slot guardrails, plus semantic relevance when an encoder is wired in: close to the
        default sentence, or to the instruction and the customer's message it quotes, so a specific
        paraphrase ("your ceramic lamp arrived smashed") passes as well as a generic one."""
        report = guardrails.check_slot(text, job.check)
        if report.passed and self.relevance is not None:
            similarity = await self.relevance(text, (job.default, job.instruction))
            if similarity < self.min_relevance:
                report.findings.append(
                    guardrails.Finding(
                        "relevance",
                        f"off-topic (similarity {similarity:.2f} to the slot's sentence and brief)",
                    )
                )
        return report

    async def fill(
        self, job: SlotJob, *, variant: int = 0, identity: tuple[object, ...] = ()
    ) -> tuple[SlotOutcome, int]:
        """Model text for one slot: first try, one retry, then the template default."""
        notes: dict[str, list[str]] = {}
        tokens = 0
        if self.filler is None:  # a preset-only generator (the rules backend)
            return SlotOutcome(job.default, False), 0
        if self.languages is not None and job.check.language not in self.languages:
            skipped = f"not asked: {self.model_id} does not write {job.check.language}"
            return SlotOutcome(job.default, False, {"language": [skipped]}), 0
        for attempt in range(ATTEMPTS_PER_SLOT):
            temperature = min(0.9, BASE_TEMPERATURE + 0.15 * variant + 0.1 * attempt)
            completion = await self.filler(
                job.messages,
                seed=_seed(*identity, job.name, variant, attempt),
                temperature=temperature,
                max_tokens=self.max_tokens,
            )
            tokens += completion.tokens
            text = postprocess(
                completion.text, max_chars=max(job.check.max_chars, 1), name=job.check.customer_name
            )
            report = await self.check(text, job)
            if report.passed:
                # A verbatim copy of the default is the default: report it honestly as template copy.
                return SlotOutcome(text, not _close_copy(text, job.default, job.check.offer), notes), tokens
            for finding in report.findings:
                notes.setdefault(finding.check, []).append(f"attempt {attempt + 1}: {finding.problem}")
        return SlotOutcome(job.default, False, notes), tokens

    def preset(self, request: CopyRequest) -> CopyResult:
        """The template's human-written defaults in every slot: copy that needs no model at all."""
        prepared = self.prepare(request)
        outcomes = {job.name: SlotOutcome(job.default, False) for job in prepared.jobs}
        variant = self.assemble(prepared, outcomes)
        return CopyResult(
            template=request.template, variants=[variant], backend=self.backend, model=self.model_id
        )

    def assemble(self, prepared: PreparedCopy, outcomes: dict[str, SlotOutcome]) -> CopyVariant:
        template = prepared.template
        render_ctx = {**prepared.context, "slots": {name: o.text for name, o in outcomes.items()}}
        has_subject = "subject" in template.template.blocks and template.channel != "sms"
        subject = " ".join(template.render_block("subject", render_ctx).split()) if has_subject else None
        body = _tidy(template.render_block("body", render_ctx))
        final = guardrails.check_message(template.channel, subject, body, self.sensitive_words)
        verdicts = []
        for name in guardrails.SLOT_CHECKS:
            problems = [f.problem for f in final.findings if f.check == name]
            history = [
                f"{slot} ({'retried' if o.from_model else 'used the default'}): {'; '.join(o.notes[name])}"
                for slot, o in outcomes.items()
                if name in o.notes
            ]
            verdicts.append(
                GuardrailVerdict(name=name, passed=not problems, detail=" | ".join(problems + history))
            )
        from_model = any(o.from_model for o in outcomes.values())
        return CopyVariant(
            subject=subject,
            body=body,
            channel=template.channel,  # type: ignore[arg-type]
            source="model" if from_model else "template_default",
            guardrails=verdicts,
        )
