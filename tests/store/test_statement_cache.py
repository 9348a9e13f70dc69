"""The per-run writes reuse their compiled statements.

A list of rows written into an INSERT with `.values()` made a statement SQLAlchemy cannot cache, so
it compiled the audit and step-record INSERTs anew on every write (about 1.4 ms of the journey
worker's CPU each, several per run). Rows go as parameters of one cached statement instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.default import CACHE_HIT, CACHE_MISS, NO_CACHE_KEY

from journeys_app.store.audit import audit_entry, write_audit_rows
from journeys_app.store.schema import StepResult
from journeys_app.store.sql import insert_if_absent
from tests.store.conftest import Store


@contextmanager
def cache_outcomes(store: Store) -> Iterator[list[str]]:
    """How each statement executed meanwhile came by its compiled form ("cached", "generated"…)."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append(
                {CACHE_HIT: "cached", CACHE_MISS: "generated", NO_CACHE_KEY: "no cache key"}.get(
                    context.cache_hit, "other"
                )
            )

    event.listen(store.engine.sync_engine, "after_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(store.engine.sync_engine, "after_cursor_execute", note)


def _steps(workflow_id: str, count: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "workflow_id": workflow_id,
            "step_id": f"step{i}",
            "visit": 1,
            "step_type": "score",
            "status": "completed",
            "result": {"band": "vip", "reasons": ["recent order"]},
            "error": None,
            "started_at": now,
            "finished_at": now,
        }
        for i in range(count)
    ]


async def test_step_rows_of_any_count_share_one_compiled_insert(store: Store) -> None:
    table = StepResult.__table__
    key = ["workflow_id", "step_id", "visit"]
    returning = [table.c.workflow_id, table.c.step_id, table.c.visit]
    with cache_outcomes(store) as seen:
        for count in (3, 5, 2):
            async with store.sessionmaker() as session, session.begin():
                added = await insert_if_absent(
                    session, table, _steps(f"wf-{count}", count), key=key, returning=returning
                )
            assert len(added) == count
    assert "no cache key" not in seen
    assert seen[-1] == "cached", seen


async def test_a_repeated_row_comes_back_as_nothing(store: Store) -> None:
    table = StepResult.__table__
    key = ["workflow_id", "step_id", "visit"]
    async with store.sessionmaker() as session, session.begin():
        await insert_if_absent(session, table, _steps("wf", 2), key=key, returning=[table.c.step_id])
    async with store.sessionmaker() as session, session.begin():
        added = await insert_if_absent(session, table, _steps("wf", 3), key=key, returning=[table.c.step_id])
    assert [row.step_id for row in added] == ["step2"]


async def test_audit_rows_share_one_compiled_insert(store: Store) -> None:
    def entries(count: int) -> list[dict[str, Any]]:
        return [
            audit_entry("worker", "model_call", input={"n": i}, output_summary="ok", details={"i": i})
            for i in range(count)
        ]

    with cache_outcomes(store) as seen:
        for count in (2, 4, 1, 3):
            async with store.sessionmaker() as session, session.begin():
                await write_audit_rows(session, entries(count))
    assert "no cache key" not in seen
    assert seen[-1] == "cached", seen
