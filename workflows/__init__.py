"""Deterministic orchestration: the journey spec, its validation, and the interpreter workflow."""
