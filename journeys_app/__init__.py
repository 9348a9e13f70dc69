"""Application edges: CLI, client service, settings, database, embedded stack, telemetry."""
