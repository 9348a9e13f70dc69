"""Measuring the models on labelled data: intents, sentiment, answers and copy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from journeys_app.edges.cli.common import (
    JsonOpt,
    T,
    app,
    command_settings,
    console,
    fail,
    print_json,
    run_command,
)

eval_app = typer.Typer(help="Measure the models on your own labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


TaxonomyOpt = Annotated[
    Path | None, typer.Option("--taxonomy", help="Taxonomy file (default: the journeys' intents.yaml).")
]
TextColumnOpt = Annotated[str, typer.Option("--text-column")]
LabelColumnOpt = Annotated[str, typer.Option("--label-column")]


def _evaluation(
    evaluate: Callable[..., T],
    taxonomy: Path | None,
    data: list[Path] | None,
    shipped: str,
    columns: tuple[str, str],
    as_json: bool,
    **options: Any,
) -> T | None:
    """The report to print as tables, or None when it went out as JSON; a bad CSV or taxonomy
    exits with code 1 and says where. Without --data, the shipped sets `shipped` (a glob in
    journeys/samples) of every language are scored together."""
    from inference_worker.evaluation import EvalDataError
    from inference_worker.taxonomy import TaxonomyError

    settings = command_settings()
    paths = data or sorted((settings.journeys_dir / "samples").glob(shipped))
    try:
        report = evaluate(
            taxonomy or settings.journeys_dir / "intents.yaml",
            paths,
            *columns,
            threads=settings.model_threads,
            **options,
        )
    except (EvalDataError, TaxonomyError) as exc:
        fail(str(exc))
    if as_json:
        print_json(report.model_dump())  # type: ignore[attr-defined]
        return None
    return report


@eval_app.command("intents")
def eval_intents(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="CSV of labelled customer messages; repeat for several "
            "(default: journeys/samples/intent_eval*.csv, English and Chinese).",
        ),
    ] = None,
    taxonomy: TaxonomyOpt = None,
    text_column: TextColumnOpt = "text",
    label_column: LabelColumnOpt = "label",
    as_json: JsonOpt = False,
) -> None:
    """Train the CPU intent classifier on the taxonomy's examples only and score every CSV row."""
    from inference_worker.evaluation import evaluate_taxonomy

    report = _evaluation(
        evaluate_taxonomy,
        taxonomy,
        data,
        "intent_eval*.csv",
        (text_column, label_column),
        as_json,
        min_confidence=command_settings().intent_min_confidence,
    )
    if report is None:
        return
    console.print(
        f"{report.rows} messages: accuracy {report.accuracy:.1%}, macro-F1 {report.macro_f1:.3f}, "
        f"unknown {report.unknown_rate:.1%}, calibration error {report.calibration_error:.3f}"
    )
    _print_label_scores(report)


@eval_app.command("sentiment")
def eval_sentiment(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="CSV of messages labelled negative, neutral or positive; repeat for several "
            "(default: journeys/samples/sentiment_eval*.csv, English and Chinese).",
        ),
    ] = None,
    taxonomy: TaxonomyOpt = None,
    text_column: TextColumnOpt = "text",
    label_column: LabelColumnOpt = "label",
    as_json: JsonOpt = False,
) -> None:
    """Train the CPU classifier on the taxonomy's sentiment examples only and score every CSV row."""
    from inference_worker.evaluation import evaluate_taxonomy_sentiment

    report = _evaluation(
        evaluate_taxonomy_sentiment,
        taxonomy,
        data,
        "sentiment_eval*.csv",
        (text_column, label_column),
        as_json,
    )
    if report is None:
        return
    console.print(f"{report.rows} messages: accuracy {report.accuracy:.1%}, macro-F1 {report.macro_f1:.3f}")
    _print_label_scores(report)


@eval_app.command("answers")
def eval_answers(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="CSV of questions (text) with the entry id that answers each, or none (entry), and "
            "optionally the product it is about (product); repeat for several "
            "(default: journeys/samples/answer_eval*.csv, English and Chinese).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Index the knowledge base (journeys/knowledge/) and answer every labelled question, with the
    deployment's JOURNEYS_KNOWLEDGE_MIN_SCORE."""
    from inference_worker.answer_evaluation import evaluate_answers
    from inference_worker.evaluation import EvalDataError
    from inference_worker.knowledge import KnowledgeError

    settings = command_settings()
    paths = data or sorted((settings.journeys_dir / "samples").glob("answer_eval*.csv"))
    try:
        report = evaluate_answers(
            settings.journeys_dir,
            paths,
            threads=settings.model_threads,
            min_score=settings.knowledge_min_score,
        )
    except (EvalDataError, KnowledgeError) as exc:
        fail(str(exc))
    if as_json:
        print_json(report.model_dump())
        return
    console.print(
        f"{report.rows} questions ({report.answerable} answerable, {report.unanswerable} for a person): "
        f"answered right {report.top1:.1%} (ranked first {report.ranked_first:.1%}, in the top three "
        f"{report.top3:.1%}), answered wrong {report.wrong_answer_rate:.1%}; "
        f"{report.routed_to_person:.1%} of the questions for a person reached one; "
        f"product suggested right {report.product_accuracy:.1%} of {report.product_rows}. "
        f"Min score {report.min_score:.2f}."
    )
    languages = Table("language (detected)", "answerable", "answered right", "for a person", "reached one")
    for language, score in report.per_language.items():
        languages.add_row(
            language,
            str(score.answerable),
            f"{score.top1:.1%}",
            str(score.unanswerable),
            f"{score.routed_to_person:.1%}",
        )
    console.print(languages)
    misses = Table("question", "expected", "answered", "score", title="misses")
    for miss in report.misses:
        misses.add_row(miss.text, miss.expected, miss.answered, f"{miss.score:.2f}")
    console.print(misses)


@eval_app.command("copy")
def eval_copy(
    cases: Annotated[
        Path | None,
        typer.Option("--cases", help="Cases to write (default: journeys/samples/copy_eval.yaml)."),
    ] = None,
    variants: Annotated[int, typer.Option(min=1, max=5, help="Variants per case.")] = 2,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where every variant is written for a person to read (default: <state dir>/copy_eval.md).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write every case's copy with the CPU copy model; report how much model text survives."""
    from inference_worker.evaluation import EvalDataError
    from journeys_app.devtools.bench.suite import run_copy_eval

    try:
        report = run_command(run_copy_eval(command_settings(), cases, out, variants))
    except EvalDataError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.model_dump())
        return
    shares = ", ".join(f"{language} {share:.0%}" for language, share in report.per_language.items())
    console.print(
        f"model text that survived the guardrails ({report.model}, {report.seconds:.0f} s): {shares}"
    )
    table = Table("template", "language", "slots", "model text", "rejected by (attempts)")
    for row in report.per_template:
        reasons = ", ".join(f"{name} {count}" for name, count in row.rejections.items())
        table.add_row(row.template, row.language, str(row.slots), f"{row.model_share:.0%}", reasons)
    console.print(table)
    console.print(f"every variant: {report.samples_file}")


def _print_label_scores(report: Any) -> None:
    """Per-language accuracy, per-label precision/recall/F1 and the confusion matrix of a report."""
    languages = Table("language (detected)", "messages", "accuracy")
    for language, score in report.per_language.items():
        languages.add_row(language, str(score.rows), f"{score.accuracy:.1%}")
    console.print(languages)
    table = Table("label", "precision", "recall", "F1", "support")
    for label, score in report.per_label.items():
        table.add_row(
            label, f"{score.precision:.2f}", f"{score.recall:.2f}", f"{score.f1:.2f}", str(score.support)
        )
    console.print(table)
    predicted = sorted({p for row in report.confusion.values() for p in row})
    matrix = Table("expected \\ predicted", *predicted, title="confusion matrix")
    for expected, row in report.confusion.items():
        matrix.add_row(expected, *(str(row.get(p, "")) for p in predicted))
    console.print(matrix)
