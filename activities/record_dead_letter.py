"""The dead-letter record of a step that failed for good and waits for an operator."""

from __future__ import annotations

from temporalio import activity

from activities.base import StoreActivityBase
from activities.contracts import RECORD_DEAD_LETTER, RecordDeadLetterRequest
from journeys_app.store.schema import DeadLetterRow, utcnow
from journeys_app.store.sql import insert_for


class DeadLetterActivities(StoreActivityBase):
    @activity.defn(name=RECORD_DEAD_LETTER)
    async def record_dead_letter(self, req: RecordDeadLetterRequest) -> None:
        """Upsert on (workflow, step, visit): parked again after a retry, the same row reopens."""
        now = utcnow()
        resolved = req.status != "open"
        async with self.sessionmaker() as session, session.begin():
            stmt = insert_for(session, DeadLetterRow).values(
                **req.model_dump(), created_at=now, updated_at=now, resolved_at=now if resolved else None
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["workflow_id", "step_id", "visit"],
                    set_={
                        "status": stmt.excluded.status,
                        "operator": stmt.excluded.operator,
                        "error": stmt.excluded.error,
                        "updated_at": now,
                        "resolved_at": stmt.excluded.resolved_at,
                    },
                )
            )
