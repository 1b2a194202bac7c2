"""`agent fill` on the bundled web site Rail&Go in Chromium, through its accessibility tree (AT-SPI):
the station autocomplete (typed, the suggestion clicked), the calendar (a month ahead, the day by its
accessible name), the native passengers drop-down, the per-row Select button of the results table, the
details form's radio group, tick box and two-line notes, and Pay — stopped by the risky-action gate
unless approved, here with ``--yes``. One browser, one booking, checked in the site's own sqlite."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import HANG_S

pytestmark = pytest.mark.display

ROOT = Path(__file__).resolve().parents[1]
ROW = {"origin": "Paris Nord", "destination": "Brussels Midi", "date": "2027-01-15", "passengers": "2 passengers",
       "departure": "14:00", "passenger": "Ada Lovelace", "email": "ada@example.org", "seat": "Window",
       "insurance": "yes", "notes": "Two bikes.\nQuiet coach please.", "card": "4111 1111 1111 1111"}


def test_a_booking_filled_through_the_accessibility_tree_and_paid_with_yes(a11y_display, tmp_path):
    from tasks.apps.web.launch import start_site

    site = start_site(tmp_path / "site", today="2026-12-01", env=a11y_display.env)
    try:
        data = tmp_path / "row.csv"
        with data.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(ROW))
            w.writeheader()
            w.writerow(ROW)
        out = tmp_path / "run"
        env = {k: v for k, v in a11y_display.env.items() if not k.startswith("AGENT_")}
        env["AGENT_CONFIG"] = "/nonexistent/agent.toml"
        r = subprocess.run([sys.executable, "-m", "agent", "fill", str(ROOT / "examples" / "web" / "fill.yaml"),
                            "--data", str(data), "--out", str(out), "--yes", "--no-kill-hotkey", "--settle-ms", "70"],
                           capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=HANG_S, cwd=ROOT)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        con = sqlite3.connect(site.db_path)
        con.row_factory = sqlite3.Row
        booked = [dict(b) for b in con.execute("SELECT * FROM bookings")]
        con.close()
        assert len(booked) == 1
        b = booked[0]
        assert (b["origin"], b["destination"], b["date"], b["departure"], b["passengers"]) == (
            "Paris Nord", "Brussels Midi", "2027-01-15", "14:00", 2)
        assert (b["passenger"], b["email"], b["seat"], b["insurance"], b["notes"], b["card_last4"], b["status"]) == (
            "Ada Lovelace", "ada@example.org", "Window", 1, "Two bikes.\nQuiet coach please.", "1111", "paid")

        steps = [json.loads(line) for line in (out / "trajectory" / "steps.jsonl").read_text().splitlines()]
        clicked = [(s["match"]["element"]["role"], s["match"]["element"]["name"]) for s in steps
                   if (s.get("match") or {}).get("element")]
        assert {s["match"]["method"] for s in steps if s.get("match")} == {"element:a11y"}
        assert ("listitem", "Paris Nord") in clicked and ("listitem", "Brussels Midi") in clicked  # suggestions
        assert ("button", "Next month") in clicked and ("toggle", "Friday 15 January 2027") in clicked
        select = next(s for s in steps if (s.get("match") or {}).get("element", {}).get("name") == "Select")
        assert select["step"] == 6 and select["match"]["element"]["row"].startswith("14:00 |")  # told apart by its row
        pay = [s for s in steps if s["step"] == 14]
        assert len(pay) == 1 and pay[0]["match"]["element"]["name"].startswith("Pay €")
        assert "risky word 'pay'" in (pay[0]["approved_risky"] or "")  # the gate asked; --yes approved
        assert not any(s["approved_risky"] for s in steps if s["step"] != 14)
        assert site.state()["page"] == "search"  # "New search": ready for the next row
    finally:
        site.stop()
