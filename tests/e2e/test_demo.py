"""The demo as a user runs it (`journeys demo`, its own dev server; SQLite, or PostgreSQL when
DATABASE_URL says so): every run ends, events arrive through the gateway, reviews are approved in
the console, and no raw email address or phone number of a sample customer appears in its output,
logs or audit table."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import yaml

from journeys_app.core.settings import PROJECT_ROOT
from tests.pg import fresh_database

pytestmark = [pytest.mark.models, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The demo as on a fresh machine: its own state folder, free ports, no external Temporal, and no
    external database unless `extra` names one."""
    env = dict(os.environ)
    for name in (
        "TEMPORAL_ADDRESS",
        "JOURNEYS_TEMPORAL_ADDRESS",
        "DATABASE_URL",
        "JOURNEYS_DATABASE_URL",
        "JOURNEYS_PAYLOAD_KEYS",
    ):
        env.pop(name, None)
    env.update(
        JOURNEYS_STATE_DIR=str(tmp_path),
        JOURNEYS_EMBEDDED_TEMPORAL_PORT=str(free_port()),
        JOURNEYS_EMBEDDED_TEMPORAL_UI_PORT=str(free_port()),
        **extra,
    )
    return env


def audit_rows(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "journeys.db") as db:
        return "\n".join(" ".join(map(str, row)) for row in db.execute("select * from audit_log"))


def test_demo_runs_every_journey_and_leaks_no_contact_data(tmp_path: Path):
    env = demo_env(tmp_path, JOURNEYS_LOG_LEVEL="INFO")
    done = subprocess.run(
        [sys.executable, "-m", "journeys_app.edges.cli", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "store on SQLite" in done.stderr
    report = json.loads(done.stdout)
    runs = {r["journey"]: r for r in report["runs"]}
    assert len(report["runs"]) == 9 and all(r["status"] != "running" for r in report["runs"])
    assert set(runs) == {"complaint_routing", "vip_escalation", "dormant_reengagement", "abandoned_cart"}
    assert runs["abandoned_cart"]["outcome"] == "purchased_without_reminder"  # the order came in time
    # The events came through the gateway as one Segment batch, the approvals through the console.
    assert "in one Segment batch" in done.stderr and "to the gateway" in done.stderr
    assert any(line.endswith("in the review console") for line in report["reviews"])
    # It ends with each journey's report and where its funnel is in the console.
    reported = {r["journey_id"]: r["versions"][0] for r in report["reports"]}
    assert set(reported) == set(runs)
    assert sum(v["entered"] for v in reported.values()) == 9
    assert reported["abandoned_cart"]["goal"]["converted"] == 1  # the order that came in time
    assert report["funnels"]["abandoned_cart"].endswith(":8300/journeys/abandoned_cart")

    customers = yaml.safe_load((PROJECT_ROOT / "journeys" / "samples" / "customers.yaml").read_text())
    secrets = (
        [c["email"] for c in customers]
        + [c["phone"] for c in customers]
        + [c["phone"].lstrip("+") for c in customers]
    )
    audit = audit_rows(tmp_path)
    assert "journey_started" in audit and "model_call" in audit and "send" in audit
    logs = done.stdout + done.stderr + (tmp_path / "temporal.log").read_text(errors="replace")
    for secret in secrets:
        assert secret not in audit, f"{secret} in the audit table"
        assert secret not in logs, f"{secret} in the output or logs"
    assert re.search(r"[a-z]\*\*\*@example\.com", audit)  # what is there is masked

    # The emails really left over SMTP, to the sink the demo started, as files a person can read.
    mails = sorted(Path(report["mail_dir"]).glob("*.eml"))
    assert mails and all(m.read_bytes().startswith(b"From: ") or b"\nTo: " in m.read_bytes() for m in mails)
    assert "delivered" in audit
    # Marketing emails carry an unsubscribe link to the demo's own gateway.
    marketing = [m.read_text() for m in mails if "List-Unsubscribe" in m.read_text()]
    assert marketing and all(re.search(r"http://127\.0\.0\.1:\d+/u/", m) for m in marketing)

    # Temporal's own store holds every run's history: names, message texts and drafted copy are
    # encrypted there (the key stays in the state folder), while the report above read them in clear.
    events = yaml.safe_load((PROJECT_ROOT / "journeys" / "samples" / "events.yaml").read_text())
    drafted = [
        line
        for mail in mails
        for line in message_from_bytes(mail.read_bytes(), policy=policy.default)
        .get_body(("plain",))
        .get_content()
        .splitlines()
        if len(line) > 40 and "http" not in line
    ]
    names = [c["first_name"] for c in customers if len(c["first_name"].encode()) >= 5]  # not by chance
    texts = [e["properties"]["text"] for e in events if "text" in e.get("properties", {})]
    in_clear = names + texts + drafted
    temporal_files = b"".join(f.read_bytes() for f in tmp_path.glob("temporal.db*"))
    assert drafted
    for text in in_clear:
        assert text.encode() not in temporal_files, f"{text!r} in clear in Temporal's history"
    assert (tmp_path / "payload_keys.json").exists()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.mark.postgres
def test_interactive_demo_on_postgresql_waits_for_a_person_in_the_console(tmp_path: Path, postgres_url: str):
    """`journeys demo --interactive` with DATABASE_URL set: the store is PostgreSQL, one review is
    left to a person, and their approval in the console ends the demo."""
    import httpx

    console_port = free_port()
    env = demo_env(
        tmp_path, JOURNEYS_CONSOLE_PORT=str(console_port), COLUMNS="300", DATABASE_URL=postgres_url
    )
    demo = subprocess.Popen(
        [sys.executable, "-m", "journeys_app.edges.cli", "demo", "--interactive"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = []
        for line in demo.stdout:  # type: ignore[union-attr]
            output.append(line)
            found = re.search(r"sign in as (\S+) with password (\S+);", line)
            if found:
                break
        else:
            raise AssertionError("".join(output)[-3000:])
        name, password = found.groups()
        review_url = re.search(r"waits at (http://\S+/reviews/(rv-\w+))", "".join(output)).group(1)  # type: ignore[union-attr]

        with httpx.Client(base_url=f"http://127.0.0.1:{console_port}", follow_redirects=True) as browser:
            csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text).group(1)  # type: ignore[union-attr]
            signed_in = browser.post("/login", data={"name": name, "password": password, "csrf": csrf})
            assert signed_in.status_code == 200
            # Signing in starts a new session, with its own form token.
            csrf = re.search(r'name="csrf" value="([^"]+)"', signed_in.text).group(1)  # type: ignore[union-attr]
            page = browser.get(review_url)
            assert page.status_code == 200 and "Variant 0" in page.text
            decided = browser.post(
                f"{review_url}/decision", data={"action": "approve", "variant": "0", "csrf": csrf}
            )
            assert decided.status_code == 200 and "Approved." in decided.text
        rest, _ = demo.communicate(timeout=240)
    finally:
        demo.kill()
    assert demo.returncode == 0, rest[-3000:]
    assert "9 runs in" in rest and "store on PostgreSQL" in "".join(output)
