"""`journeys bench enrollment --json` runs end to end and reports its figure (tiny run: no speed claims)."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from tests.cli import journeys
from tests.pg import fresh_database
from tests.store.conftest import PG_DSN


def bench_databases() -> set[str]:
    async def names() -> set[str]:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'journeys_bench_%'")
        finally:
            await conn.close()
        return {r["datname"] for r in rows}

    return asyncio.run(names())


pytestmark = [pytest.mark.slow]


def test_bench_enrollment_reports_starts_per_second() -> None:
    done = journeys("bench", "enrollment", "--customers", "300", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["customers"] == 300 and report["journey"] == "dormant_reengagement"
    assert report["seconds"] > 0 and report["starts_per_s"] > 0  # it fails unless all 300 ran once


def test_bench_enrollment_refuses_a_segment_too_small_to_measure() -> None:
    done = journeys("bench", "enrollment", "--customers", "5")
    assert done.returncode == 2 and "--customers" in done.stderr


# Both tests that compare the server's bench databases before and after run on one worker.
BENCH_DATABASES = pytest.mark.xdist_group("bench_databases")


@pytest.mark.postgres
@BENCH_DATABASES
def test_bench_enrollment_on_postgres_uses_a_throwaway_database_and_drops_it() -> None:
    with fresh_database() as server:  # the bench makes its own database next to this one
        before = bench_databases()
        done = journeys("bench", "enrollment", "--customers", "200", "--postgres", server, "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout)["store"] == "postgresql"
        assert bench_databases() == before
        left = journeys("bench", "enrollment", "--customers", "100", "--postgres", "sqlite:///x.db")
        assert left.returncode == 1 and "is not a postgresql:// URL" in left.stderr
