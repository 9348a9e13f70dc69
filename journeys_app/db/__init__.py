"""The journey store: SQLAlchemy models, engine set-up, customer import and read helpers."""

from journeys_app.db.engine import create_engine, init_db, open_database, session_factory
from journeys_app.db.schema import (
    AppliedEffect,
    Base,
    Customer,
    JourneyRun,
    Message,
    Notification,
    Review,
    StepResult,
)

__all__ = [
    "AppliedEffect",
    "Base",
    "Customer",
    "JourneyRun",
    "Message",
    "Notification",
    "Review",
    "StepResult",
    "create_engine",
    "init_db",
    "open_database",
    "session_factory",
]
