"""Customer files from the MA system: every bad row named by line, every good row kept."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from journeys_app.core.settings import get_settings
from journeys_app.edges.cli import app
from journeys_app.store.customer_import import read_customer_file

CSV = """id,first_name,email,phone,tier,timezone,consent_email,consent_sms,tags,lifetime_value,segment
c-1,Ava,ava@example.com,+1 555 0101,vip,Europe/Stockholm,yes,no,vip;newsletter,18450,north
c-2,Ben,not-an-email,,standard,UTC,true,,,240.5,
c-3,Chloé,chloe@example.com,,gold,Europe/Paris,true,,,10,
c-4,Dev,dev@example.com,,standard,Mars/Olympus,true,,,10,
,Nameless,x@example.com,,standard,UTC,true,,,1,
c-1,Ava again,ava@example.com,,vip,UTC,true,,,1,
c-5,Emma,emma@example.com,,standard,UTC,maybe,,,1,
c-6,Farid,farid@example.com,,standard,UTC,false,false,,3,
"""


def test_csv_rows_are_checked_one_by_one(tmp_path: Path):
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    report = read_customer_file(path)
    assert [r["id"] for r in report.rows] == ["c-1", "c-6"]
    ava = report.rows[0]
    assert ava["consent"] == {"email": True, "sms": False} and ava["tags"] == ["vip", "newsletter"]
    assert ava["attributes"] == {"lifetime_value": 18450, "segment": "north"} and ava["tier"] == "vip"
    errors = dict(report.errors)
    assert "not an email address" in errors[3]
    assert "tier" in errors[4]
    assert "unknown time zone 'Mars/Olympus'" in errors[5]
    assert "id" in errors[6]
    assert "already appears on line 2" in errors[7]
    assert "consent_email: 'maybe' is not a consent answer" in errors[8]


def test_jsonl_and_unsupported_files(tmp_path: Path):
    path = tmp_path / "customers.jsonl"
    good = {"id": "j-1", "first_name": "Ana", "consent": {"email": True}, "attributes": {"orders_count": 2}}
    path.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"id": "j-2", "colour": "red"}) + "\n")
    report = read_customer_file(path)
    assert [r["id"] for r in report.rows] == ["j-1"]
    assert [line for line, _ in report.errors] == [2, 3]
    assert "colour" in dict(report.errors)[3]


def test_jsonl_consent_is_read_strictly_and_text_must_be_storable(tmp_path: Path):
    rows = [
        {"id": "j-1", "consent": {"email": "false", "sms": "no", "push": "opted_in"}},
        {"id": "j-2", "consent": {"email": "maybe"}},
        {"id": "j-3", "first_name": "A\u0000"},
        {"id": "j-4", "attributes": {"note": "\ud800"}},
    ]
    path = tmp_path / "customers.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    report = read_customer_file(path)
    assert [r["consent"] for r in report.rows] == [{"email": False, "sms": False, "push": True}]
    errors = dict(report.errors)
    assert "consent.email" in errors[2] and "'maybe' is not a consent answer" in errors[2]
    assert "first_name" in errors[3] and "NUL" in errors[3]
    assert "attributes.note" in errors[4] and "surrogate" in errors[4]
    sheet = tmp_path / "customers.xlsx"
    sheet.write_text("")
    [(_, message)] = read_customer_file(sheet).errors
    assert "use a .csv or .jsonl file" in message


def test_cli_import_keeps_good_rows_and_exits_1_on_bad_ones(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/store.db")
    get_settings.cache_clear()
    path = tmp_path / "customers.csv"
    path.write_text(CSV)
    try:
        result = CliRunner().invoke(app, ["customers", "import", str(path), "--json"])
        again = CliRunner().invoke(app, ["customers", "import", str(path), "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["imported"] == 2 and [r["line"] for r in out["rejected"]] == [3, 4, 5, 6, 7, 8]
    assert json.loads(again.stdout)["imported"] == 2  # idempotent: the same two rows, updated
