"""`journeys bench report`: how long the journey report takes over 100,000 runs.

The runs (`devtools.report_seed`: the shape abandoned_cart writes, about seven rows per run) go
into a temporary SQLite store, or a throwaway PostgreSQL database (analysed after loading, as
autovacuum would have done for a live store). The figure is the report alone, median of five.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from rich.console import Console
from sqlalchemy import text

from journeys_app.core.settings import Settings
from journeys_app.devtools.bench.postgres import bench_database
from journeys_app.devtools.bench.settings import bench_settings
from journeys_app.devtools.report_seed import ArmPlan, CartPlan, seed
from journeys_app.service.catalog import load_catalog
from journeys_app.service.report import journey_report
from journeys_app.store.engine import open_database

REPEATS = 5
TARGET_S = 2.0


def plan_for(runs: int) -> CartPlan:
    """`runs` runs: a tenth buy before the reminder, the rest split evenly between the two arms."""
    bought = runs // 10
    arm = (runs - bought) // 2

    def arm_plan(rate: float) -> ArmPlan:
        return ArmPlan(
            entered=arm,
            converted=int(arm * rate),
            waiting=arm // 30,
            late_orders=arm // 50,
            suppressed=arm // 25,
            capped=arm // 90,
            degraded=arm // 40,
            held=arm // 15,
        )

    return CartPlan(
        arms={"items_waiting": arm_plan(0.10), "question": arm_plan(0.12)},
        bought_first=runs - 2 * arm,
        reviews=[("approved", 20 + i % 90) for i in range(runs // 100)],
    )


async def _measure(settings: Settings, runs: int) -> dict[str, Any]:
    spec = load_catalog(settings)["abandoned_cart"].spec
    async with open_database(settings) as (engine, sessionmaker):
        began = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            written = await seed(session, plan_for(runs))
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        loaded = time.perf_counter() - began
        seconds = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            result = await journey_report(sessionmaker, "abandoned_cart", spec)
            seconds.append(time.perf_counter() - began)
    [version] = result.versions
    if version.entered != written:
        raise RuntimeError(f"the report counted {version.entered} runs of {written} written")
    median = statistics.median(seconds)
    return {
        "runs": written,
        "load_seconds": round(loaded, 1),
        "seconds": [round(s, 3) for s in seconds],
        "median_s": round(median, 3),
        "within_target": median < TARGET_S,
    }


async def run_report_bench(
    settings: Settings,
    console: Console,
    *,
    runs: int = 100_000,
    postgres: str | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    """The report over `runs` runs on SQLite, and on PostgreSQL too with `postgres`."""
    report: dict[str, Any] = {"benchmark": "report", "journey": "abandoned_cart", "target_s": TARGET_S}
    stores = {"sqlite": None, **({"postgresql": postgres} if postgres else {})}
    for store, server in stores.items():
        async with bench_database(server) as database_url:
            with bench_settings(settings, database_url) as (local, _):
                report[store] = await _measure(local, runs)
        if not as_json:
            figures = report[store]
            console.print(
                f"{store}: report of {figures['runs']:,} runs in {figures['median_s']:.2f} s "
                f"(median of {REPEATS}; target < {TARGET_S:g} s; "
                f"loading took {figures['load_seconds']:.0f} s)"
            )
    if as_json:
        console.print_json(json.dumps(report))
    return report
