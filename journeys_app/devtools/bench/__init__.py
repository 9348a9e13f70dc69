"""Benchmarks behind `journeys bench …`; each reports figures measured side by side in one run."""
