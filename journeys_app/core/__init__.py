"""Core: settings, masking, telemetry and the Temporal connection, which every layer above uses."""
