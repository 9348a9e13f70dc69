"""Copy generation runs below everything else on the host, so a decision never waits for it."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from inference_worker.backends.local import _lower_priority

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="thread policies and nice are Linux's")


def _policy_and_nice(idle: bool) -> tuple[int, int]:
    def read() -> tuple[int, int]:
        tid = threading.get_native_id()
        return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)

    with ThreadPoolExecutor(max_workers=1, initializer=_lower_priority(7, idle)) as pool:
        return pool.submit(read).result()


def test_a_generation_thread_runs_only_on_idle_cpu_time():
    assert _policy_and_nice(idle=True) == (os.SCHED_IDLE, 7)


def test_without_the_idle_policy_it_is_only_niced():
    assert _policy_and_nice(idle=False) == (os.SCHED_OTHER, 7)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the rest of the process is untouched
