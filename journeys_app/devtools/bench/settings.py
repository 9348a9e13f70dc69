"""Settings of one benchmark run (kept out of the package's __init__: workflows import it)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from journeys_app.core.settings import Settings


@contextmanager
def bench_settings(
    settings: Settings, database_url: str | None = None, **overrides: Any
) -> Iterator[tuple[Settings, str]]:
    """Settings for one benchmark run: a temporary SQLite store, or `database_url` (a throwaway
    database, never the configured one), task queues of its own, no tracing. Yields them and the
    run's tag."""
    with tempfile.TemporaryDirectory() as tmp:
        tag = uuid.uuid4().hex[:8]
        yield (
            settings.model_copy(
                update={
                    "state_dir": Path(tmp),
                    "database_url": database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
                    "journey_task_queue": f"bench-journeys-{tag}",
                    "inference_task_queue": f"bench-inference-{tag}",
                    "tracing": "none",
                    **overrides,
                }
            ),
            tag,
        )
