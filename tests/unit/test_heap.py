"""A long-running process freezes its start-up heap once it serves (journeys_app/core/heap.py)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal

from journeys_app.edges.cli.common import until_stopped


async def test_a_serving_process_has_frozen_its_start_up_heap_and_still_stops_on_sigterm() -> None:
    gc.unfreeze()
    serving = asyncio.create_task(until_stopped())
    try:
        await asyncio.sleep(0.05)
        assert gc.get_freeze_count() > 0  # what start-up allocated is out of the collector's reach
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving, 5)
    finally:
        serving.cancel()
        gc.unfreeze()
