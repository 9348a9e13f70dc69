"""The demo as a user runs it (`journeys demo`, its own dev server, SQLite): every run ends, and no
raw email address or phone number of a sample customer appears in its output, logs or audit table."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from journeys_app.settings import PROJECT_ROOT

pytestmark = [pytest.mark.models, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_runs_every_journey_and_leaks_no_contact_data(tmp_path: Path):
    env = {
        **os.environ,
        "JOURNEYS_STATE_DIR": str(tmp_path),
        "JOURNEYS_EMBEDDED_TEMPORAL_PORT": str(free_port()),
        "JOURNEYS_EMBEDDED_TEMPORAL_UI_PORT": str(free_port()),
        "JOURNEYS_LOG_LEVEL": "INFO",
    }
    for name in ("TEMPORAL_ADDRESS", "JOURNEYS_TEMPORAL_ADDRESS", "DATABASE_URL", "JOURNEYS_DATABASE_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "journeys_app.cli", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert len(report["runs"]) == 7 and all(r["status"] != "running" for r in report["runs"])
    assert any("simulated reviewer approved" in line for line in report["reviews"])

    customers = yaml.safe_load((PROJECT_ROOT / "journeys" / "samples" / "customers.yaml").read_text())
    secrets = (
        [c["email"] for c in customers]
        + [c["phone"] for c in customers]
        + [c["phone"].lstrip("+") for c in customers]
    )
    with sqlite3.connect(tmp_path / "journeys.db") as db:
        audit = "\n".join(" ".join(map(str, row)) for row in db.execute("select * from audit_log"))
    assert "journey_started" in audit and "model_call" in audit and "send" in audit
    logs = done.stdout + done.stderr + (tmp_path / "temporal.log").read_text(errors="replace")
    for secret in secrets:
        assert secret not in audit, f"{secret} in the audit table"
        assert secret not in logs, f"{secret} in the output or logs"
    assert re.search(r"[a-z]\*\*\*@example\.com", audit)  # what is there is masked
