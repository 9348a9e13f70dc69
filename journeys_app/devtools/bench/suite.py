"""`journeys bench`: every benchmark in one run, and the README's figures section made from its report.

The figures in the README are never typed by hand: `journeys bench --readme README.md` replaces
what lies between the two `bench:` markers with tables built from this run, dated and with the
machine they were measured on.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import platform
import time
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console

from journeys_app.core.settings import Settings

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# Held-out evaluation sets per language, in journeys/samples.
INTENT_SETS = {"en": "intent_eval.csv", "zh": "intent_eval_zh.csv"}
SENTIMENT_SETS = {"en": "sentiment_eval.csv", "zh": "sentiment_eval_zh.csv"}
INFERENCE_HEADER = (
    "| raw batched /s | raw one at a time /s | no-op activity runs/s | batching on runs/s (p50 / p99 ms) "
    "| batching off runs/s (p50 / p99 ms) | limit /s | on ÷ limit | on ÷ off | copy tokens/s |\n"
    + "|---" * 9
    + "|"
)


class ReadmeError(ValueError):
    """The README has no place for the figures."""


def machine() -> str:
    """The machine in a few words: CPU model, cores, memory, OS."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()}, no GPU in use"


async def run_all_benches(
    settings: Settings,
    console: Console,
    *,
    as_json: bool = False,
    readme: Path | None = None,
    postgres: str | None = None,
) -> dict[str, Any]:
    """Engine, inference, gateway, enrolment, the journey report and intent accuracy, one after
    another, on default sizes; with `postgres`, the gateway and enrolment again on that server,
    under `postgres`, and the report on both stores."""
    from inference_worker.answer_evaluation import evaluate_answers
    from inference_worker.evaluation import evaluate_taxonomy, evaluate_taxonomy_sentiment
    from journeys_app.devtools.bench.engine import run_engine_bench
    from journeys_app.devtools.bench.enrollment import run_enrollment_bench
    from journeys_app.devtools.bench.gateway import run_gateway_bench
    from journeys_app.devtools.bench.inference import run_inference_bench
    from journeys_app.devtools.bench.report import run_report_bench

    if readme is not None:
        _markers(readme)  # refuse before minutes of benchmarks, not after
    progress = Console(stderr=True) if as_json else console
    quiet = Console(file=io.StringIO())  # each benchmark's own table: the summary comes at the end
    report: dict[str, Any] = {"date": date.today().isoformat(), "machine": machine()}
    benches = {
        "engine": lambda: run_engine_bench(settings, quiet),
        "inference": lambda: run_inference_bench(settings, quiet),
        "gateway": lambda: run_gateway_bench(settings, quiet),
        "enrollment": lambda: run_enrollment_bench(settings, quiet),
        "report": lambda: run_report_bench(settings, quiet, postgres=postgres),
    }
    if postgres is not None:
        benches["postgres.gateway"] = lambda: run_gateway_bench(settings, quiet, postgres=postgres)
        benches["postgres.enrollment"] = lambda: run_enrollment_bench(settings, quiet, postgres=postgres)
    for name, bench in benches.items():
        progress.print(f"bench {name}…")
        began = time.perf_counter()
        section, _, key = name.rpartition(".")
        (report.setdefault(section, {}) if section else report)[key] = await bench()
        progress.print(f"  done in {time.perf_counter() - began:.0f}s")
    taxonomy, samples = settings.journeys_dir / "intents.yaml", settings.journeys_dir / "samples"
    progress.print("eval intents…")
    for language, name in INTENT_SETS.items():
        evaluation = await asyncio.to_thread(
            evaluate_taxonomy,
            taxonomy,
            [samples / name],
            "text",
            "label",
            threads=settings.model_threads,
            min_confidence=settings.intent_min_confidence,
        )
        report.setdefault("intent_eval", {})[language] = evaluation.model_dump(
            include={"rows", "accuracy", "macro_f1", "calibration_error"}
        )
    progress.print("eval sentiment…")
    for language, name in SENTIMENT_SETS.items():
        sentiment = await asyncio.to_thread(
            evaluate_taxonomy_sentiment,
            taxonomy,
            [samples / name],
            "text",
            "label",
            threads=settings.model_threads,
        )
        report.setdefault("sentiment_eval", {})[language] = sentiment.model_dump(include={"rows", "accuracy"})
    progress.print("eval answers…")
    answers = await asyncio.to_thread(
        evaluate_answers,
        settings.journeys_dir,
        sorted(samples.glob("answer_eval*.csv")),
        threads=settings.model_threads,
        min_score=settings.knowledge_min_score,
    )
    report["answer_eval"] = answers.model_dump(
        include={"rows", "top1", "top3", "wrong_answer_rate", "routed_to_person", "product_accuracy"}
    )
    progress.print("eval copy…")
    report["copy_eval"] = (await run_copy_eval(settings)).model_dump(include={"model", "per_language"})
    if readme is not None:
        update_readme(readme, report)
        progress.print(f"figures written to {readme}")
    if as_json:
        console.print_json(json.dumps(report))
    else:
        console.print(figures_markdown(report), markup=False, highlight=False)
    return report


async def run_copy_eval(
    settings: Settings, cases: Path | None = None, out: Path | None = None, variants: int = 2
) -> Any:
    """`journeys eval copy` with the deployment's copy model: the shipped cases and the state
    folder's copy_eval.md unless told otherwise."""
    from inference_worker.backends.local import LocalBackend
    from inference_worker.copy_evaluation import evaluate_copy, load_cases
    from journeys_app.store.customers import load_customers_file

    samples = settings.journeys_dir / "samples"
    customers = {c["id"]: c for c in load_customers_file(samples / "customers.yaml")}
    async with LocalBackend(settings) as backend:
        return await evaluate_copy(
            backend.copy_generator,
            load_cases(cases or samples / "copy_eval.yaml"),
            customers,
            settings.journeys_dir,
            out or settings.state_dir / "copy_eval.md",
            variants=variants,
        )


def figures_markdown(report: dict[str, Any]) -> str:
    """The README's figures section for this report."""
    engine, inference = report["engine"], report["inference"]
    interp, bare, ceiling = engine["interpreter"], engine["hand_written"], engine["noop_three_activities"]
    on, off, noop = (
        inference["classify_batching_on"],
        inference["classify_batching_off"],
        inference["noop_activity"],
    )
    wait = inference["batch_max_wait_ms"]
    batches = f"{inference['batch_max_size']} texts" + (f" or {wait:g} ms" if wait else ", waiting for none")
    return f"""Measured by `journeys bench --json` on {report["date"]}: {report["machine"]}.
Temporal dev server in memory, SQLite store (PostgreSQL where a row says so), the CPU models.
Regenerate with `journeys bench --readme README.md`.

**Engine** — complaint routing through the interpreter and through a hand-written Temporal
workflow calling the same activities, in alternating blocks ({engine["rounds"]} rounds, the order
turning), inference answering instantly so the figures are the engine's own (store writes, step
bookkeeping, Temporal round trips); the ceiling is a workflow of three no-op activities on the same
server and worker:

| runs × concurrency | interpreter runs/s | hand-written runs/s | ceiling runs/s | ÷ hand-written \
| ÷ ceiling | decision p50 (interp. / hand) |
|---|---|---|---|---|---|---|
| {interp["runs"]} × {engine["concurrency"]} | {interp["runs_per_s"]:.1f} | {bare["runs_per_s"]:.1f} | \
{ceiling["runs_per_s"]:.1f} | {engine["throughput_ratio"]:.2f} | {engine["ceiling_ratio"]:.2f} | \
{interp["decision_p50_ms"]:.0f} / {bare["decision_p50_ms"]:.0f} ms |

**Inference** — classification through Temporal, {on["runs"]} classifications, \
{inference["concurrency"]} in flight, batches of up to {batches}:

{INFERENCE_HEADER}
| {inference["raw_batched_per_s"]:.0f} | {inference["raw_unbatched_per_s"]:.0f} | {noop["runs_per_s"]:.1f} | \
{on["runs_per_s"]:.1f} ({on["p50_ms"]:.0f} / {on["p99_ms"]:.0f}) | \
{off["runs_per_s"]:.1f} ({off["p50_ms"]:.0f} / {off["p99_ms"]:.0f}) | {inference["limit_per_s"]:.1f} | \
{inference["on_vs_limit"]:.2f} | {inference["on_vs_off"]:.2f} | {inference["copy_tokens_per_s"]:.0f} |

The limit is `1 / (1/no-op + 1/raw batched)`: on a small machine Temporal's own cost per
activity is of the same order as the model's, so no classification through Temporal can beat it.
{_accuracy_lines(report)}

**Gateway and enrolment** — the journey worker, the inference worker with the CPU models and
the loads each in a process of their own, loopback HTTP: Segment ingest of `track` events that
start no journey; `decide` on complaint routing one call at a time, and arriving at a fixed
rate while the runs' copy generation goes on behind them; bulk enrolment of a new segment:

{_gateway_table(report)}
{_report_line(report)}"""


def _report_line(report: dict[str, Any]) -> str:
    """The journey report's time over many runs, per store (absent from older reports)."""
    figures = report.get("report")
    if not figures:
        return ""
    stores = [
        f"{name} {figures[key]['median_s']:.2f} s"
        for key, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))
        if key in figures
    ]
    runs = figures[next(k for k in ("sqlite", "postgresql") if k in figures)]["runs"]
    return (
        f"\n**Journey report** — `journeys report` over {runs:,} runs of abandoned_cart (median of five): "
        f"{', '.join(stores)} (target < {figures['target_s']:g} s).\n"
    )


def _accuracy_lines(report: dict[str, Any]) -> str:
    """Intent and sentiment accuracy per language on the held-out sets."""
    intents = report["intent_eval"]
    if "rows" in intents:  # a report from before intents were measured per language
        intents = {"en": intents}
    parts = [
        f"{language} {e['accuracy']:.2f} (macro-F1 {e['macro_f1']:.2f}, calibration error "
        f"{e['calibration_error']:.2f}, {e['rows']} messages)"
        for language, e in intents.items()
    ]
    lines = f"Intent accuracy on held-out messages (`journeys/samples/intent_eval*.csv`): {', '.join(parts)}."
    sentiment = report.get("sentiment_eval")
    if sentiment:
        parts = [
            f"{language} {e['accuracy']:.2f} ({e['rows']} messages)" for language, e in sentiment.items()
        ]
        sets = "`journeys/samples/sentiment_eval*.csv`"
        lines += (
            f"\nSentiment accuracy on clearly negative or positive messages ({sets}): {', '.join(parts)}."
        )
    answers = report.get("answer_eval")
    if answers:
        lines += (
            f"\nKnowledge-base answers to {answers['rows']} held-out questions, English and Chinese "
            f"(`journeys/samples/answer_eval.csv`): right entry {answers['top1']:.2f} (top three "
            f"{answers['top3']:.2f}), wrong entry {answers['wrong_answer_rate']:.2f}, unanswerable ones "
            f"routed to a person {answers['routed_to_person']:.2f}, "
            f"product suggested {answers['product_accuracy']:.2f}."
        )
    copy = report.get("copy_eval")
    if copy:
        shares = ", ".join(f"{language} {share:.2f}" for language, share in copy["per_language"].items())
        lines += (
            f"\nCopy slots whose model text survived the guardrails (`journeys eval copy`, "
            f"{copy['model']}): {shares}."
        )
    return lines


def _gateway_table(report: dict[str, Any]) -> str:
    rows = [("SQLite", report["gateway"], report["enrollment"])]
    if "postgres" in report:
        rows.append(("PostgreSQL", report["postgres"]["gateway"], report["postgres"]["enrollment"]))
    head = (
        "| store | ingest, `/v1/batch` of 100 | ingest, `/v1/track` one by one | decide p50 / p99 "
        "| decide under load: rate, p50 / p99, timeouts, errors | copy backlog drained | enrolment |\n"
        + "|---" * 7
        + "|"
    )
    lines = [head]
    for store, gateway, enrollment in rows:
        light, load = gateway["decide_light_load"], gateway["decide_under_load"]
        lines.append(
            f"| {store} | {gateway['ingest_batched_events_per_s']:,.0f} events/s "
            f"| {gateway['ingest_single_events_per_s']:,.0f} events/s "
            f"| {light['p50_ms']:.0f} / {light['p99_ms']:.0f} ms "
            f"| {load['rate_per_s']:g}/s for {load['calls']} calls, {load['p50_ms']:,.0f} / "
            f"{load['p99_ms']:,.0f} ms, {load['timeouts']} past {load['timeout_ms']} ms, {load['errors']} "
            f"| {load['backlog_drain_s']:.0f} s "
            f"| {enrollment['customers']:,} customers, {enrollment['starts_per_s']:.0f} starts/s"
            f"{_bare_starts(enrollment)} |"
        )
    return "\n".join(lines)


def _bare_starts(enrollment: dict[str, Any]) -> str:
    """The server's own start rate beside enrolment's (absent from older reports)."""
    if "bare_starts_per_s" not in enrollment:
        return ""
    return f" (bare starts on the same server {enrollment['bare_starts_per_s']:.0f}/s)"


def _markers(readme: Path) -> tuple[str, int, int]:
    try:
        text = readme.read_text()
    except OSError as exc:
        raise ReadmeError(f"cannot read {readme}: {exc.strerror}") from exc
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        raise ReadmeError(f"{readme} has no {BEGIN} … {END} section for the figures")
    return text, begin + len(BEGIN), end


def update_readme(readme: Path, report: dict[str, Any]) -> None:
    """Replace the figures between the markers; everything else in the file stays as it is."""
    text, begin, end = _markers(readme)
    readme.write_text(text[:begin] + "\n" + figures_markdown(report) + text[end:])
