"""With --json, stdout holds only the JSON, even when native code (Temporal's core) writes to fd 1."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import os
from journeys_app.edges.cli.common import json_output
with json_output(True) as out:
    os.write(1, b"2026-11-30T03:55:15Z WARN temporalio_sdk_core: Workflow task duration exceeded\\n")
    print("a stray print")
    out.print_json('{"runs": 3}')
print("after the command")
"""


def test_only_the_json_reaches_stdout_and_the_rest_goes_to_stderr() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("}")
    assert json.loads(first + "}") == {"runs": 3} and rest.strip() == "after the command"
    assert "WARN temporalio_sdk_core" in done.stderr and "a stray print" in done.stderr
