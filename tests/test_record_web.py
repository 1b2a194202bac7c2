"""Record a booking on Rail&Go (Chromium, accessibility tree) and replay it where a macro recorder fails.

A person (xdotool, about an action a second) books Paris Nord → Brussels Midi on 15 December 2026,
2 passengers, the 14:00 train, while ``agent record`` runs. The recording is replayed

* (a) in the same window,
* (b) after the window moved and was resized to 1100x720 (the page reflows),
* (c) with the site's "today" in November — the calendar opens on another month, which the replay
  must page to December — and the results in another order (the 14:00 row last, not fourth),

and each time the site's sqlite file must hold exactly the recorded booking. With ``--var
departure=23:59`` (a train that does not run) the replay must stop at the Select step with the reason
and a screenshot, nothing booked. Then the recording is exported with ``--vars`` and ``agent fill``
books three new rows (other stations, dates — one in another month —, trains, passengers), each
checked in sqlite. One recording is shared by all (a module fixture); each replay gets a fresh site.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tasks.apps.web.launch import start_site
from tests.conftest import HANG_S
from tests.record_web import CARD, Booking, WebPerson, stored

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-12-01"
pytestmark = [pytest.mark.display,
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")]


def agent(env: dict, *args: str) -> subprocess.CompletedProcess:
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "CARD_NUMBER": CARD, "AGENT_CONFIG": "/nonexistent/agent.toml"}
    env = {k: v for k, v in env.items() if not k.startswith("AGENT_MODEL")}
    return subprocess.run([sys.executable, "-m", "agent", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=HANG_S, cwd=ROOT)


@pytest.fixture(scope="module")
def recording(a11y_display, tmp_path_factory):
    """The person's booking, recorded; (recording folder, the booking)."""
    from tests.test_record_replay import start_recorder

    tmp = tmp_path_factory.mktemp("web-record")
    site = start_site(tmp / "site", today=TODAY, env=a11y_display.env)
    rec = tmp / "booking"
    recorder, log = start_recorder(a11y_display.env, rec, "--secret", "Card number")
    try:
        b = Booking()
        WebPerson(site, a11y_display.env).book(b)
        assert stored(site.db_path) == [b.row()]
        subprocess.run(["xdotool", "key", "ctrl+alt+s"], env=a11y_display.env, check=True)
        assert recorder.wait(timeout=120) == 0, log.read_text()
    finally:
        if recorder.poll() is None:
            recorder.kill()
        site.stop()
    assert CARD not in (rec / "steps.jsonl").read_text() and CARD.replace(" ", "") not in log.read_text()
    yield rec, b


def replay_on(env: dict, tmp: Path, rec: Path, *extra: str, **site_kw):
    site = start_site(tmp / "site", env=env, **{"today": TODAY, **site_kw})
    try:
        r = agent(env, "replay", str(rec), "--out", str(tmp / "replay"), "--yes", "--no-kill-hotkey", *extra)
        return r, stored(site.db_path)
    finally:
        site.stop()


def test_the_recording_names_elements_choices_and_effects(recording):
    from agent.trajectory import read_trajectory

    rec, _ = recording
    steps = read_trajectory(rec).steps
    els = [(s.get("anchor") or {}).get("element") or {} for s in steps]
    assert all(e.get("source") == "a11y" for e, s in zip(els, steps) if s["action"]["type"] == "click")
    select = next(e for e in els if e.get("name") == "Select")
    assert select["role"] == "button" and select["row"].startswith("14:00 |") and select["column"] == "Departure"
    choices = {s["choice"]["var"]: s["choice"]["value"] for s in steps if s.get("choice")}
    assert choices == {"from": "Paris Nord", "to": "Brussels Midi", "travel_date": "2026-12-15",
                       "passengers": "2 passengers", "departure": "14:00", "seat": "Window",
                       "travel_insurance": "yes"}, choices
    assert [s["var"] for s in steps if s.get("var")] == ["from", "to", "passengers", "full_name", "email"]
    opened = next(s for s in steps if (s.get("effect") or {}).get("month"))
    assert opened["effect"]["month"] == "December 2026" and els[steps.index(opened)]["name"] == "Select a date"
    assert [s["effect"].get("heading") for s in steps if (s.get("effect") or {}).get("heading")] == [
        "Paris Nord → Brussels Midi", "Passenger details", "Payment", "Booking confirmed", "Where are you going?"]
    assert steps[-3]["secret"] == "CARD_NUMBER"


def test_a_same_window(recording, a11y_display, tmp_path):
    from agent.trajectory import read_trajectory
    from tests.canary import assert_absent, assert_not_in_pictures

    rec, b = recording
    r, booked = replay_on(a11y_display.env, tmp_path, rec)
    assert r.returncode == 0, r.stdout + r.stderr
    assert booked == [b.row()]
    # the card number, typed into a field that shows it, is in no file and no saved picture (OCR)
    card_at = next(i for i, s in enumerate(read_trajectory(rec).steps) if s.get("secret"))
    assert_absent(CARD, rec, tmp_path / "replay", *tmp_path.glob("*report*.html"))
    digits = CARD.replace(" ", "")[4:12]
    assert assert_not_in_pictures(digits, rec, card_at) >= 2 and assert_not_in_pictures(digits, tmp_path / "replay", card_at) >= 2


def test_b_window_moved_and_resized(recording, a11y_display, tmp_path):
    rec, b = recording
    r, booked = replay_on(a11y_display.env, tmp_path, rec, geometry="1100x720+150+60")
    assert r.returncode == 0, r.stdout + r.stderr
    assert booked == [b.row()]


def test_c_calendar_on_another_month_and_rows_in_another_order(recording, a11y_display, tmp_path):
    from agent.trajectory import read_trajectory

    rec, b = recording
    r, booked = replay_on(a11y_display.env, tmp_path, rec, today="2026-11-10", order="shuffle:2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert booked == [b.row()]
    steps = read_trajectory(tmp_path / "replay").steps
    paged = [s for s in steps if s.get("repair") == "calendar month"]
    assert [s["element"]["name"] for s in paged] == ["Next month"], paged
    assert "repaired" in r.stdout


def test_a_train_that_does_not_run_stops_cleanly_nothing_booked(recording, a11y_display, tmp_path):
    from agent.trajectory import read_trajectory

    rec, _ = recording
    select = next(i for i, s in enumerate(read_trajectory(rec).steps) if (s.get("choice") or {}).get("var") == "departure")
    r, booked = replay_on(a11y_display.env, tmp_path, rec, "--var", "departure=23:59", "--find-timeout", "3")
    assert r.returncode == 1, r.stdout + r.stderr
    assert booked == []
    assert f"replay stopped at step {select}" in r.stderr and "23:59" in r.stderr, r.stderr
    last = read_trajectory(tmp_path / "replay").steps[-1]
    assert last["ok"] is False and last["replay_of"] == select and (tmp_path / "replay" / last["screenshot"]).is_file()


NEW = [Booking("Berlin Hbf", "Hamburg Hbf", "2026-12-20", 1, "11:15", "Grace Hopper", "grace@example.com", "Aisle", False),
       Booking("Zurich HB", "Milan Centrale", "2027-01-13", 3, "16:00", "Alan Turing", "alan@example.org",
               "No preference", True),
       Booking("Lyon Part-Dieu", "Marseille St-Charles", "2026-12-03", 2, "15:00", "Ada Byron", "byron@example.net",
               "Window", False)]


def test_export_with_vars_fills_three_new_bookings(recording, a11y_display, tmp_path):
    from agent.fill.script import ACTIONS

    if "date" not in ACTIONS:
        pytest.skip("needs the fill runner on elements (branch fill: the `date` step); merge it first")
    rec, _ = recording
    script = tmp_path / "fill" / "booking.yaml"
    ex = agent(a11y_display.env, "export", str(rec), "--vars", "--out", str(script))
    assert ex.returncode == 0, ex.stdout + ex.stderr
    text = script.read_text()
    columns = next(line for line in text.splitlines() if line.startswith("# data file header (CSV): ")).split(": ", 1)[1]
    assert columns.split(",") == ["from", "to", "travel_date", "passengers", "departure", "full_name", "email", "seat",
                                  "travel_insurance"], text
    steps = yaml.safe_load(text)["steps"]
    assert {"date": {"field": {"name": "Select a date", "role": "button"}, "value": "{travel_date}"}} in steps, text
    assert {"click": {"name": "Select", "role": "button", "row": "{departure}"}} in steps, text
    assert {"choose": {"group": "Seat", "option": "{seat}"}} in steps, text
    assert {"select": {"field": {"name": "Passengers", "role": "combobox"}, "option": "{passengers}"}} in steps, text
    assert {"click": {"name": "Pay", "role": "button"}} in steps and "{{secret:CARD_NUMBER}}" in text, text
    data = tmp_path / "rows.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns.split(","))
        for b in NEW:
            w.writerow([b.origin, b.destination, b.date, f"{b.passengers} passenger{'s' if b.passengers > 1 else ''}",
                        b.departure, b.passenger, b.email, b.seat, "yes" if b.insurance else "no"])
    site = start_site(tmp_path / "site", today=TODAY, env=a11y_display.env)
    try:
        r = agent(a11y_display.env, "fill", str(script), "--data", str(data), "--yes", "--out", str(tmp_path / "run"),
                  "--no-kill-hotkey")
        booked = stored(site.db_path)
    finally:
        site.stop()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = json.loads((tmp_path / "run" / "results.json").read_text())["rows"]
    assert [x["status"] for x in rows] == ["ok"] * 3, rows
    assert booked == [b.row() for b in NEW]
