"""Store and journey-worker activity tests (SQLite and PostgreSQL)."""
