"""Run the `journeys` command as a user does, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys


def journeys(
    *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journeys_app.edges.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "400", **(env or {})},  # one message per line, unwrapped
    )
