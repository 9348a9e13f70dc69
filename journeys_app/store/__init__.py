"""The journey store: SQLAlchemy models, engine set-up, customer import and read helpers."""

from journeys_app.store.engine import create_engine, init_db, open_database, session_factory
from journeys_app.store.schema import (
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
