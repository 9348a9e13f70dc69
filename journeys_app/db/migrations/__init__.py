"""Alembic migration environment of the journey store (run through `journeys_app.db.migrate`)."""
