"""`journeys eval copy`: how often the copy model's text survives the guardrails, per template and
language, why the rest was rejected, and every variant written out for a person to read.

The cases (journeys/samples/copy_eval.yaml) are generate_copy requests as journeys make them: a
sample customer, the triggering event, earlier results and, for answers, the knowledge a retrieve
step found. Each slot counts once per variant: model text that passed, or the template's default.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from inference_worker.config_files import load_yaml_model
from inference_worker.contracts import CopyRequest
from inference_worker.copy_generator import CopyGenerator, SlotOutcome
from inference_worker.evaluation import EvalDataError
from inference_worker.knowledge import KnowledgeBase, load_knowledge
from inference_worker.retrieval import suggestion


class KnowledgeCase(BaseModel):
    entry: str
    product: str | None = None


class CopyCase(BaseModel):
    template: str
    customer: str
    language: str = "en"
    event: dict[str, Any] = Field(default_factory=dict)
    steps: dict[str, Any] = Field(default_factory=dict)
    knowledge: KnowledgeCase | None = None


class CopyCases(BaseModel):
    cases: list[CopyCase] = Field(min_length=1)


class TemplateCopy(BaseModel):
    template: str
    language: str
    slots: int  # slot fills: slots x variants x cases
    model: int  # of them, model text that passed every guardrail
    model_share: float
    rejections: dict[str, int]  # guardrail -> attempts it rejected


class CopyReport(BaseModel):
    model: str
    variants_per_case: int
    per_language: dict[str, float]  # share of slots with model text
    per_template: list[TemplateCopy]
    samples_file: str
    seconds: float  # wall time of the whole evaluation, models loaded


def load_cases(path: Path) -> CopyCases:
    return load_yaml_model(path, CopyCases, EvalDataError, "copy cases", expected="a mapping with cases")


def case_request(
    case: CopyCase, customers: dict[str, dict[str, Any]], kb: KnowledgeBase | None
) -> CopyRequest:
    """The request a journey would make for this case (customers: the sample profiles by id; kb:
    the knowledge base, for cases that name an entry)."""
    if case.customer not in customers:
        raise EvalDataError(f"customer {case.customer!r} is not a sample customer")
    profile = {k: v for k, v in customers[case.customer].items() if k not in ("email", "phone")}
    context: dict[str, Any] = {"customer": profile, "event": case.event, "steps": case.steps}
    if case.knowledge is not None and kb is not None:
        entries = {e.id: e for e in kb.faq.entries}
        products = {p.id: p for p in kb.catalogue.products}
        if case.knowledge.entry not in entries or (case.knowledge.product or "") not in {"", *products}:
            raise EvalDataError(f"{case.template}: unknown knowledge entry or product in {case.knowledge}")
        language, answer = entries[case.knowledge.entry].answer_in(case.language)
        product = products.get(case.knowledge.product or "")
        context["knowledge"] = {
            "found": True,
            "entry_id": case.knowledge.entry,
            "answer": answer,
            "language": language,
            "product": suggestion(product, language, "question").model_dump() if product else None,
        }
    return CopyRequest(
        template=case.template,
        channel=case.template.split("/", 1)[0],  # type: ignore[arg-type]
        context=context,
        language=case.language,
    )


async def evaluate_copy(
    generator: CopyGenerator,
    cases: CopyCases,
    customers: dict[str, dict[str, Any]],
    journeys_dir: Path,
    samples_file: Path,
    *,
    variants: int = 2,
) -> CopyReport:
    """Write `variants` variants of every case; count slots and rejections; write the samples file."""
    began = time.perf_counter()
    tallies: dict[tuple[str, str], tuple[int, int, Counter[str]]] = {}
    lines = [f"# Copy samples: {generator.model_id}, {variants} variant(s) per case", ""]
    kb = load_knowledge(journeys_dir) if any(c.knowledge for c in cases.cases) else None
    for case in cases.cases:
        request = case_request(case, customers, kb)
        written, outcomes = await generator.write(request.model_copy(update={"variants": variants}))
        slots, model, rejected = tallies.get((case.template, case.language), (0, 0, Counter()))
        for index, (variant, by_slot) in enumerate(zip(written.variants, outcomes, strict=True)):
            slots += len(by_slot)
            model += sum(o.from_model for o in by_slot.values())
            for outcome in by_slot.values():
                rejected.update({check: len(notes) for check, notes in outcome.notes.items()})
            lines += _sample(case, index, variant.subject, variant.body, by_slot)
        tallies[(case.template, case.language)] = (slots, model, rejected)
    await asyncio.to_thread(_write, samples_file, "\n".join(lines))
    per_template = [
        TemplateCopy(
            template=template,
            language=language,
            slots=slots,
            model=model,
            model_share=round(model / slots, 4) if slots else 0.0,
            rejections=dict(rejected.most_common()),
        )
        for (template, language), (slots, model, rejected) in sorted(tallies.items())
    ]
    per_language: dict[str, float] = {}
    for language in sorted({t.language for t in per_template}):
        rows = [t for t in per_template if t.language == language]
        total = sum(t.slots for t in rows)
        per_language[language] = round(sum(t.model for t in rows) / total, 4) if total else 0.0
    return CopyReport(
        model=generator.model_id,
        variants_per_case=variants,
        per_language=per_language,
        per_template=per_template,
        samples_file=str(samples_file),
        seconds=round(time.perf_counter() - began, 1),
    )


def _sample(
    case: CopyCase, index: int, subject: str | None, body: str, by_slot: dict[str, SlotOutcome]
) -> list[str]:
    head = f"## {case.template} ({case.language}), {case.customer}, variant {index + 1}"
    slots = [
        f"- `{name}` ({'model' if o.from_model else 'default'}): {o.text}"
        + (
            f" — rejected before: {'; '.join(n for notes in o.notes.values() for n in notes)}"
            if o.notes
            else ""
        )
        for name, o in by_slot.items()
    ]
    quoted = [f"> {line}" if line else ">" for line in body.splitlines()]
    return [head, "", *slots, "", f"**{subject}**" if subject else "", "", *quoted, ""]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
