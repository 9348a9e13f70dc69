"""Typed backend failures: the degradation chain treats both as "try the next stage"."""

from __future__ import annotations


class BackendUnavailable(RuntimeError):
    """The model server cannot be reached, timed out, or refused the request (5xx, 429)."""


class BackendResponseError(RuntimeError):
    """The model answered, but not in the shape asked for (bad JSON, missing fields)."""
