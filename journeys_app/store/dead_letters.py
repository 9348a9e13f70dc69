"""Reading dead letters for `journeys deadletters`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import DeadLetterRow


class DeadLetterRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    workflow_id: str
    step_id: str
    visit: int
    customer_id: str
    journey_id: str
    error: str
    status: str
    operator: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


async def list_dead_letters(sessionmaker: SessionMaker, *, only_open: bool = True) -> list[DeadLetterRecord]:
    stmt = select(DeadLetterRow).order_by(DeadLetterRow.created_at)
    if only_open:
        stmt = stmt.where(DeadLetterRow.status == "open")
    async with sessionmaker() as session:
        rows = (await session.scalars(stmt)).all()
    return [DeadLetterRecord.model_validate(r) for r in rows]
