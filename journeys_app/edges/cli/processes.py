"""The long-running processes (the local stack, workers, console, gateway) and the gateway's API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from journeys_app.edges.cli.common import (
    JsonOpt,
    app,
    command_settings,
    console,
    fail,
    print_json,
    run_command,
    until_stopped,
    with_db,
)

keys_app = typer.Typer(help="API keys of the HTTP gateway.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@app.command()
def up() -> None:
    """Start everything here: the Temporal dev server (with its web UI), both workers, the store."""
    from journeys_app.devtools.stack import ui_reads_payloads

    settings = ui_reads_payloads(command_settings())

    async def main() -> None:
        from journeys_app.edges.http_server import serve_console, serve_gateway
        from journeys_app.runtime import open_runtime

        async with (
            open_runtime(
                settings, embedded=True, journey_workers=True, inference_workers=True, seed_customers=True
            ) as runtime,
            serve_console(runtime.service, settings) as url,
            serve_gateway(runtime.service, settings) as gateway,
        ):
            console.print(
                f"Temporal at [bold]{runtime.temporal_address}[/bold]; "
                f"UI http://127.0.0.1:{settings.embedded_temporal_ui_port}; "
                f"review console {url}; gateway {gateway}. Ctrl-C stops."
            )
            await until_stopped()
        console.print("stopped cleanly")

    run_command(main())


@app.command()
def worker() -> None:
    """Run the journey worker (interpreter + store/delivery activities) against TEMPORAL_ADDRESS."""
    settings = command_settings()

    async def main() -> None:
        from journeys_app.runtime import open_runtime

        async with open_runtime(settings, journey_workers=True):
            console.print(f"journey worker on queue {settings.journey_task_queue!r}. Ctrl-C stops.")
            ready = settings.ready_file
            if ready is not None:
                ready.parent.mkdir(parents=True, exist_ok=True)
                ready.write_text(f"{settings.journey_task_queue}\n")
            try:
                await until_stopped()
            finally:
                if ready is not None:
                    ready.unlink(missing_ok=True)

    run_command(main())


def _serve_http(part: str, banner: str) -> None:
    """Run one HTTP part of the product (see journeys_app.edges.http_server.PARTS) until Ctrl-C."""
    settings = command_settings()

    async def main() -> None:
        from journeys_app.edges.http_server import serve_part
        from journeys_app.runtime import open_runtime

        async with open_runtime(settings) as runtime, serve_part(part, runtime.service, settings) as url:
            console.print(banner.format(url=url))
            await until_stopped()

    run_command(main())


@app.command("console")
def console_cmd() -> None:
    """Serve the review console (sign-in, queue, decisions) against TEMPORAL_ADDRESS and the store."""
    _serve_http("console", "review console at {url}. Ctrl-C stops.")


@app.command("gateway")
def gateway_cmd() -> None:
    """Serve the HTTP gateway (Segment tracking API, decide, reads) against TEMPORAL_ADDRESS."""
    _serve_http("gateway", "gateway at {url} (OpenAPI docs at {url}/docs). Ctrl-C stops.")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. braze-prod.")],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated: ingest, decide, read, review, codec.")
    ] = "ingest",
    reviewer: Annotated[
        str | None, typer.Option(help="With the review scope: the reviewer account the key decides as.")
    ] = None,
) -> None:
    """Create an API key; prints it once (only a hash is stored)."""
    from journeys_app.store.api_keys import create_key

    wanted = [s.strip() for s in scopes.split(",") if s.strip()]
    key = run_command(with_db(command_settings(), lambda sm: create_key(sm, name, wanted, reviewer)))
    as_whom = f", deciding reviews as {reviewer!r}" if reviewer else ""
    console.print(f"key for {name!r} with scopes {', '.join(sorted(set(wanted)))}{as_whom} (shown once):")
    console.print(key, highlight=False, soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="The key, or its id (jk_<id>).")]) -> None:
    """Revoke a key at once; requests with it get 401."""
    from journeys_app.store.api_keys import revoke_key

    if not run_command(with_db(command_settings(), lambda sm: revoke_key(sm, key))):
        fail(f"no active key {key!r}")
    console.print("revoked")


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """Keys by id, name and scopes (never the secret)."""
    from journeys_app.store.api_keys import list_keys

    rows = run_command(with_db(command_settings(), list_keys))
    if as_json:
        print_json([{**info.model_dump(), "active": active} for info, active in rows])
        return
    table = Table("id", "name", "scopes", "reviewer", "active")
    for info, active in rows:
        table.add_row(
            f"jk_{info.key_id}",
            info.name,
            ", ".join(info.scopes),
            info.reviewer or "",
            "yes" if active else "revoked",
        )
    console.print(table)


@app.command("inference-worker")
def inference_worker_cmd() -> None:
    """Run the inference worker (intent, score, copy on the CPU models) against TEMPORAL_ADDRESS."""
    settings = command_settings()

    async def main() -> None:
        from inference_worker.worker import inference_worker
        from journeys_app.core.temporal import connect

        client = await connect(settings)
        async with inference_worker(client, settings):
            console.print(f"inference worker on queue {settings.inference_task_queue!r}. Ctrl-C stops.")
            await until_stopped()

    run_command(main())
