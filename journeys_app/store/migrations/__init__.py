"""Alembic migration environment of the journey store (run through `journeys_app.store.migrate`)."""
