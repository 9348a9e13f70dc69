"""The demo and the benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    fail,
    json_output,
    run_command,
)

bench_app = typer.Typer(
    help="Benchmarks; alone, runs them all. `--json` for machines.", invoke_without_command=True
)
app.add_typer(bench_app, name="bench")


@app.command()
def demo(
    as_json: JsonOpt = False,
    interactive: Annotated[
        bool, typer.Option("--interactive", help="Leave one review to you in the review console.")
    ] = False,
) -> None:
    """Run the four sample journeys for the sample customers, end to end, on this machine; end
    with each journey's results."""
    from journeys_app.devtools.demo import run_demo

    settings = command_settings()
    with json_output(as_json) as out:
        run_command(run_demo(settings, out, as_json=as_json, interactive=interactive))


PostgresOpt = Annotated[
    str | None,
    typer.Option(
        "--postgres",
        help="Also measure on a throwaway database of this PostgreSQL server "
        "(default: DATABASE_URL when it is PostgreSQL).",
    ),
]


# A sub-bench measures on PostgreSQL only when asked; the whole suite also when DATABASE_URL is.
OnlyPostgresOpt = Annotated[
    str | None,
    typer.Option("--postgres", help="Measure on a throwaway database of this PostgreSQL server."),
]


def _bench_postgres(postgres: str | None, *, or_database_url: bool = False) -> str | None:
    from journeys_app.devtools.bench.postgres import is_postgres

    if postgres and not is_postgres(postgres):
        fail(f"--postgres {postgres!r} is not a postgresql:// URL")
    url = postgres or (command_settings().database_url if or_database_url else None)
    return url if url and is_postgres(url) else None


@bench_app.callback()
def bench_all(
    ctx: typer.Context,
    as_json: JsonOpt = False,
    readme: Annotated[
        Path | None,
        typer.Option("--readme", help="Rewrite this README's figures section from the results."),
    ] = None,
    postgres: PostgresOpt = None,
) -> None:
    """Every benchmark (engine, inference, gateway, enrolment) and intent accuracy, in one run (~20 min)."""
    if ctx.invoked_subcommand is not None:
        return
    from journeys_app.devtools.bench.suite import ReadmeError, run_all_benches

    try:
        with json_output(as_json) as out:
            run_command(
                run_all_benches(
                    command_settings(),
                    out,
                    as_json=as_json,
                    readme=readme,
                    postgres=_bench_postgres(postgres, or_database_url=True),
                )
            )
    except ReadmeError as exc:
        fail(str(exc))


@bench_app.command("engine")
def bench_engine(
    runs_: Annotated[int, typer.Option("--runs", help="Complaint-routing runs per system and round.")] = 200,
    concurrency: Annotated[int, typer.Option(help="Runs in flight at once.")] = 50,
    rounds: Annotated[
        int, typer.Option(min=1, help="Rounds of the three systems, the order turning each round.")
    ] = 3,
    models: Annotated[
        str, typer.Option(help="instant (engine alone) or real (CPU models in the path).")
    ] = "instant",
    as_json: JsonOpt = False,
) -> None:
    """Interpreter overhead: complaint routing through JourneyWorkflow vs a hand-written workflow
    and a ceiling of three no-op activities."""
    from journeys_app.devtools.bench.engine import run_engine_bench

    if models not in ("instant", "real"):
        fail("--models is instant or real")
    settings = command_settings()
    with json_output(as_json) as out:
        run_command(
            run_engine_bench(
                settings,
                out,
                runs=runs_,
                concurrency=concurrency,
                rounds=rounds,
                models=models,  # type: ignore[arg-type]
                as_json=as_json,
            )
        )


@bench_app.command("inference")
def bench_inference(
    runs_: Annotated[int, typer.Option("--runs", min=10, help="Classifications per measured path.")] = 400,
    concurrency: Annotated[int, typer.Option(min=1, help="Workflows in flight at once.")] = 64,
    as_json: JsonOpt = False,
) -> None:
    """CPU models alone and through Temporal: batched vs one at a time, no-op ceiling, tokens/s."""
    from journeys_app.devtools.bench.inference import run_inference_bench

    with json_output(as_json) as out:
        run_command(
            run_inference_bench(command_settings(), out, runs=runs_, concurrency=concurrency, as_json=as_json)
        )


@bench_app.command("gateway")
def bench_gateway(
    events: Annotated[
        int, typer.Option(min=100, help="Track events in batches of 100; a quarter as many one by one.")
    ] = 10_000,
    decides: Annotated[int, typer.Option(min=5, help="Sequential decide calls for the latency figure.")] = 40,
    load_rate: Annotated[float, typer.Option(min=0.1, help="Decide calls per second under load.")] = 10.0,
    load_seconds: Annotated[float, typer.Option(min=1, help="How long the decide load lasts.")] = 60.0,
    load_timeout_ms: Annotated[
        int, typer.Option(min=10, max=30_000, help="The timeoutMs each call under load sends.")
    ] = 300,
    postgres: OnlyPostgresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Segment ingest events/s, and decide p50/p99 one at a time and under an open-loop load."""
    from journeys_app.devtools.bench.gateway import run_gateway_bench

    with json_output(as_json) as out:
        run_command(
            run_gateway_bench(
                command_settings(),
                out,
                events=events,
                decides=decides,
                load_rate=load_rate,
                load_seconds=load_seconds,
                load_timeout_ms=load_timeout_ms,
                postgres=_bench_postgres(postgres),
                as_json=as_json,
            )
        )


@bench_app.command("enrollment")
def bench_enrollment(
    customers: Annotated[int, typer.Option(min=100, help="Customers in the enrolled segment.")] = 10_000,
    postgres: OnlyPostgresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bulk enrolment of a segment: journey starts per second, stored and recorded."""
    from journeys_app.devtools.bench.enrollment import run_enrollment_bench

    store = _bench_postgres(postgres)
    with json_output(as_json) as out:
        run_command(
            run_enrollment_bench(
                command_settings(), out, customers=customers, postgres=store, as_json=as_json
            )
        )


@bench_app.command("report")
def bench_report(
    runs_: Annotated[
        int, typer.Option("--runs", min=100, help="Runs of abandoned_cart in the store.")
    ] = 100_000,
    postgres: PostgresOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The journey report over many runs (target: under 2 s for 100,000), on SQLite and, with
    --postgres or a PostgreSQL DATABASE_URL, on PostgreSQL."""
    from journeys_app.devtools.bench.report import run_report_bench

    store = _bench_postgres(postgres, or_database_url=True)
    with json_output(as_json) as out:
        run_command(run_report_bench(command_settings(), out, runs=runs_, postgres=store, as_json=as_json))
